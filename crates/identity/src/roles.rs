//! Effective roles: what a user holds on a target, directly or through a
//! group, with implied roles followed (admin ⇒ member ⇒ reader).

use std::collections::{HashMap, HashSet};

use rustack_common::Error;

use crate::model::{AssignmentKind, Role, TargetKind};
use crate::store::assignments::AssignmentFilter;
use crate::Identity;

impl Identity {
    /// The roles `user_id` holds on one target, implied roles included and
    /// domain-specific roles left out (they only imply others, as in Keystone).
    pub async fn effective_roles(&self, user_id: &str, target: TargetKind, target_id: &str) -> Result<Vec<Role>, Error> {
        let store = self.store();
        let mut actors = vec![user_id.to_string()];
        actors.extend(store.groups_of_user(user_id).await?.into_iter().map(|g| g.id));
        let filter = AssignmentFilter {
            kinds: Some(vec![AssignmentKind::of(false, target), AssignmentKind::of(true, target)]),
            actor_ids: Some(actors),
            target_id: Some(target_id.to_string()),
            role_id: None,
        };
        let direct: Vec<String> = store
            .list_assignments(&filter)
            .await?
            .into_iter()
            .filter(|a| !a.inherited)
            .map(|a| a.role_id)
            .collect();
        self.expand_implied(&direct).await
    }

    /// Follows implied roles from `role_ids`; returns global roles only.
    pub async fn expand_implied(&self, role_ids: &[String]) -> Result<Vec<Role>, Error> {
        let store = self.store();
        let rules = store.implied_roles().await?;
        let mut implies: HashMap<&str, Vec<&str>> = HashMap::new();
        for (p, i) in &rules {
            implies.entry(p.as_str()).or_default().push(i.as_str());
        }
        let mut seen: HashSet<String> = HashSet::new();
        let mut stack: Vec<String> = role_ids.to_vec();
        while let Some(r) = stack.pop() {
            if seen.insert(r.clone()) {
                if let Some(next) = implies.get(r.as_str()) {
                    stack.extend(next.iter().map(|s| s.to_string()));
                }
            }
        }
        let mut roles: Vec<Role> = store
            .all_roles()
            .await?
            .into_iter()
            .filter(|r| seen.contains(&r.id) && r.domain_id.is_none())
            .collect();
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(roles)
    }

    /// Targets of `kind` the user holds any role on, directly or via a group.
    pub async fn scopable_targets(&self, user_id: &str, target: TargetKind) -> Result<Vec<String>, Error> {
        let store = self.store();
        let mut actors = vec![user_id.to_string()];
        actors.extend(store.groups_of_user(user_id).await?.into_iter().map(|g| g.id));
        let f = AssignmentFilter {
            kinds: Some(vec![AssignmentKind::of(false, target), AssignmentKind::of(true, target)]),
            actor_ids: Some(actors),
            ..Default::default()
        };
        let mut ids: Vec<String> =
            store.list_assignments(&f).await?.into_iter().filter(|a| !a.inherited).map(|a| a.target_id).collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}
