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
    /// On a project this includes the roles inherited (OS-INHERIT) from its
    /// domain and from every project above it.
    pub async fn effective_roles(
        &self,
        user_id: &str,
        target: TargetKind,
        target_id: &str,
    ) -> Result<Vec<Role>, Error> {
        let store = self.store();
        let mut actors = vec![user_id.to_string()];
        actors.extend(store.groups_of_user(user_id).await?.into_iter().map(|g| g.id));
        let on = |kind: TargetKind, id: &str| AssignmentFilter {
            kinds: Some(vec![AssignmentKind::of(false, kind), AssignmentKind::of(true, kind)]),
            actor_ids: Some(actors.clone()),
            target_id: Some(id.to_string()),
            role_id: None,
        };
        let mut direct: Vec<String> = store
            .list_assignments(&on(target, target_id))
            .await?
            .into_iter()
            .filter(|a| !a.inherited)
            .map(|a| a.role_id)
            .collect();
        if target == TargetKind::Project {
            if let Some(p) = store.get_project(target_id).await? {
                let mut sources = vec![(TargetKind::Domain, p.domain_id.clone())];
                sources.extend(store.project_ancestors(&p).await?.into_iter().map(|a| (TargetKind::Project, a.id)));
                for (kind, id) in sources {
                    direct.extend(
                        store
                            .list_assignments(&on(kind, &id))
                            .await?
                            .into_iter()
                            .filter(|a| a.inherited)
                            .map(|a| a.role_id),
                    );
                }
            }
        }
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
        let mut roles: Vec<Role> =
            store.all_roles().await?.into_iter().filter(|r| seen.contains(&r.id) && r.domain_id.is_none()).collect();
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(roles)
    }

    /// Targets of `kind` the user holds any role on, directly or via a group;
    /// for projects, also those an inherited assignment (on a domain or on a
    /// project above them) reaches.
    pub async fn scopable_targets(&self, user_id: &str, target: TargetKind) -> Result<Vec<String>, Error> {
        let store = self.store();
        let mut actors = vec![user_id.to_string()];
        actors.extend(store.groups_of_user(user_id).await?.into_iter().map(|g| g.id));
        let mut kinds = vec![AssignmentKind::of(false, target), AssignmentKind::of(true, target)];
        if target == TargetKind::Project {
            kinds.extend([AssignmentKind::UserDomain, AssignmentKind::GroupDomain]);
        }
        let f = AssignmentFilter { kinds: Some(kinds), actor_ids: Some(actors), ..Default::default() };
        let mut ids: Vec<String> = Vec::new();
        let mut sources: HashSet<(TargetKind, String)> = HashSet::new();
        for a in store.list_assignments(&f).await? {
            match (a.inherited, a.kind.target()) {
                (false, t) if t == target => ids.push(a.target_id),
                (true, t) if target == TargetKind::Project => {
                    sources.insert((t, a.target_id));
                }
                _ => {}
            }
        }
        for (kind, sid) in sources {
            match kind {
                TargetKind::Domain => {
                    let f = crate::store::projects::ProjectFilter { domain_id: Some(&sid), ..Default::default() };
                    ids.extend(store.list_projects(&f).await?.into_iter().map(|p| p.id));
                }
                _ => {
                    if let Some(p) = store.get_project(&sid).await? {
                        ids.extend(store.project_subtree(&p).await?.into_iter().map(|p| p.id));
                    }
                }
            }
        }
        ids.sort();
        ids.dedup();
        Ok(ids)
    }
}
