//! The revocation list in memory, indexed so that checking a token looks at
//! the few events that name its audit ids, user, project, domain or roles,
//! not at every event (validation must not slow as events pile up).

use std::collections::{HashMap, HashSet};

use crate::store::RevocationEvent;

/// What a token is checked by.
pub struct TokenFacts<'a> {
    pub audit_ids: &'a [String],
    pub user_id: &'a str,
    pub project_id: Option<&'a str>,
    /// The user's domain and the scope's domain.
    pub domain_ids: &'a [&'a str],
    pub role_ids: &'a [String],
    /// ISO 8601 micro, comparable as text with `issued_before`.
    pub issued_at: &'a str,
}

#[derive(Default)]
pub struct RevocationList {
    events: Vec<RevocationEvent>,
    ids: HashSet<String>,
    by_audit: HashMap<String, Vec<usize>>,
    by_chain: HashMap<String, Vec<usize>>,
    by_user: HashMap<String, Vec<usize>>,
    by_project: HashMap<String, Vec<usize>>,
    by_domain: HashMap<String, Vec<usize>>,
    by_role: HashMap<String, Vec<usize>>,
    /// The `revoked_at` of the newest event loaded, to fetch only newer ones.
    pub newest: Option<String>,
}

impl RevocationList {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    /// Adds an event; one already here (same id) is ignored.
    pub fn add(&mut self, e: RevocationEvent) {
        if !self.ids.insert(e.id.clone()) {
            return;
        }
        if self.newest.as_deref().is_none_or(|n| e.revoked_at.as_str() > n) {
            self.newest = Some(e.revoked_at.clone());
        }
        let i = self.events.len();
        // index each event under its most selective field
        let key = if let Some(a) = &e.audit_id {
            Some((&mut self.by_audit, a.clone()))
        } else if let Some(c) = &e.audit_chain_id {
            Some((&mut self.by_chain, c.clone()))
        } else if let Some(u) = &e.user_id {
            Some((&mut self.by_user, u.clone()))
        } else if let Some(p) = &e.project_id {
            Some((&mut self.by_project, p.clone()))
        } else if let Some(d) = &e.domain_id {
            Some((&mut self.by_domain, d.clone()))
        } else {
            e.role_id.as_ref().map(|r| (&mut self.by_role, r.clone()))
        };
        if let Some((map, k)) = key {
            map.entry(k).or_default().push(i);
        }
        self.events.push(e);
    }

    pub fn is_revoked(&self, t: &TokenFacts<'_>) -> bool {
        let lists = t
            .audit_ids
            .first()
            .and_then(|a| self.by_audit.get(a))
            .into_iter()
            .chain(t.audit_ids.last().and_then(|c| self.by_chain.get(c)))
            .chain(self.by_user.get(t.user_id))
            .chain(t.project_id.and_then(|p| self.by_project.get(p)))
            .chain(t.domain_ids.iter().filter_map(|d| self.by_domain.get(*d)))
            .chain(t.role_ids.iter().filter_map(|r| self.by_role.get(r)));
        lists.flatten().any(|&i| matches(&self.events[i], t))
    }
}

fn matches(e: &RevocationEvent, t: &TokenFacts<'_>) -> bool {
    if t.issued_at > e.issued_before.as_str() {
        return false;
    }
    let audit = e.audit_id.as_ref().is_none_or(|a| t.audit_ids.first() == Some(a));
    let chain = e.audit_chain_id.as_ref().is_none_or(|c| t.audit_ids.last() == Some(c));
    let user = e.user_id.as_ref().is_none_or(|u| u == t.user_id);
    let project = e.project_id.as_ref().is_none_or(|p| t.project_id == Some(p.as_str()));
    let domain = e.domain_id.as_ref().is_none_or(|d| t.domain_ids.contains(&d.as_str()));
    let role = e.role_id.as_ref().is_none_or(|r| t.role_ids.contains(r));
    audit && chain && user && project && domain && role
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(f: impl FnOnce(&mut RevocationEvent)) -> RevocationEvent {
        let mut e = RevocationEvent {
            id: rustack_common::new_id(),
            issued_before: "2026-01-01T00:00:10.000000Z".into(),
            revoked_at: "2026-01-01T00:00:10.000000Z".into(),
            ..Default::default()
        };
        f(&mut e);
        e
    }

    #[test]
    fn matches_by_every_field_and_time() {
        let audit = vec!["A".to_string()];
        let roles = vec!["r1".to_string()];
        let t = TokenFacts {
            audit_ids: &audit,
            user_id: "u",
            project_id: Some("p"),
            domain_ids: &["d"],
            role_ids: &roles,
            issued_at: "2026-01-01T00:00:05.000000Z",
        };
        let mut l = RevocationList::default();
        assert!(!l.is_revoked(&t));
        l.add(ev(|e| e.user_id = Some("other".into())));
        l.add(ev(|e| {
            e.user_id = Some("u".into());
            e.project_id = Some("p2".into())
        }));
        assert!(!l.is_revoked(&t), "user matches but project does not");
        l.add(ev(|e| {
            e.audit_id = Some("A".into());
            e.issued_before = "2026-01-01T00:00:01.000000Z".into()
        }));
        assert!(!l.is_revoked(&t), "token issued after the event");
        l.add(ev(|e| e.role_id = Some("r1".into())));
        assert!(l.is_revoked(&t));
        let mut l = RevocationList::default();
        l.add(ev(|e| e.domain_id = Some("d".into())));
        assert!(l.is_revoked(&t));
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn own_audit_id_and_chain_root_match_different_tokens() {
        let root = vec!["R".to_string()];
        let child = vec!["C".to_string(), "R".to_string()];
        let facts = |ids: &'static [String]| TokenFacts {
            audit_ids: ids,
            user_id: "u",
            project_id: None,
            domain_ids: &[],
            role_ids: &[],
            issued_at: "2026-01-01T00:00:05.000000Z",
        };
        let (root, child): (&'static [String], &'static [String]) = (root.leak(), child.leak());
        let mut own = RevocationList::default();
        own.add(ev(|e| e.audit_id = Some("R".into())));
        assert!(own.is_revoked(&facts(root)));
        assert!(!own.is_revoked(&facts(child)), "revoking the root alone spares its children");
        let mut chain = RevocationList::default();
        chain.add(ev(|e| e.audit_chain_id = Some("R".into())));
        assert!(chain.is_revoked(&facts(root)) && chain.is_revoked(&facts(child)));
        let mut mid = RevocationList::default();
        mid.add(ev(|e| e.audit_id = Some("C".into())));
        assert!(
            mid.is_revoked(&facts(child)) && !mid.is_revoked(&facts(root)),
            "a rescoped token's parent stays valid"
        );
    }

    #[test]
    fn ten_thousand_unrelated_events_are_not_scanned() {
        let mut l = RevocationList::default();
        for i in 0..10_000 {
            l.add(ev(|e| e.audit_id = Some(format!("x{i}"))));
        }
        let audit = vec!["mine".to_string()];
        let t = TokenFacts {
            audit_ids: &audit,
            user_id: "u",
            project_id: None,
            domain_ids: &[],
            role_ids: &[],
            issued_at: "2026-01-01T00:00:05.000000Z",
        };
        assert!(!l.is_revoked(&t));
        l.add(ev(|e| e.audit_id = Some("mine".into())));
        assert!(l.is_revoked(&t));
    }
}
