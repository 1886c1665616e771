//! The service catalog as it appears in tokens and `/v3/auth/catalog`.
//!
//! A project with endpoint associations or endpoint groups (OS-EP-FILTER) sees
//! only those endpoints, and only the services that keep one; other tokens see
//! every enabled endpoint, unless `[endpoint_filter]
//! return_all_endpoints_if_no_filter` is false, which gives them none.

use std::collections::HashSet;

use rustack_common::Error;
use serde_json::{json, Value};

use crate::model::Endpoint;
use crate::store::endpoint_filter::EndpointGroup;
use crate::Identity;

/// Whether an endpoint has every attribute an endpoint group filters on.
pub fn group_matches(g: &EndpointGroup, e: &Endpoint) -> bool {
    g.filters.iter().all(|(k, want)| {
        let have = match k.as_str() {
            "service_id" => json!(e.service_id),
            "region_id" => json!(e.region_id),
            "interface" => json!(e.interface),
            "enabled" => json!(e.enabled),
            "id" => json!(e.id),
            "url" => json!(e.url),
            _ => return false,
        };
        &have == want
    })
}

impl Identity {
    /// The endpoints a project is limited to (directly associated, or in one
    /// of its endpoint groups; disabled ones included), or None when nothing
    /// limits it.
    pub async fn project_endpoint_filter(
        &self,
        project_id: &str,
        endpoints: &[Endpoint],
    ) -> Result<Option<HashSet<String>>, Error> {
        let store = self.store();
        let direct = store.project_endpoint_ids(project_id).await?;
        let groups = store.project_endpoint_groups(project_id).await?;
        let mut ids: HashSet<String> = HashSet::new();
        for e in endpoints {
            if direct.contains(&e.id) || groups.iter().any(|g| group_matches(g, e)) {
                ids.insert(e.id.clone());
            }
        }
        Ok((!ids.is_empty()).then_some(ids))
    }

    /// Enabled services with their enabled endpoints, in Keystone's token
    /// catalog shape; `$(project_id)s`/`$(tenant_id)s` in URLs are replaced
    /// by the project id, and endpoints that need one are left out without it.
    pub async fn catalog(&self, project_id: Option<&str>) -> Result<Value, Error> {
        let store = self.store();
        let services = store.list_services(None, None).await?;
        let endpoints = store.list_endpoints(None, None, None).await?;
        let filter = match project_id {
            Some(p) => self.project_endpoint_filter(p, &endpoints).await?,
            None => None,
        };
        if filter.is_none()
            && !self.config().ini.bool("endpoint_filter", "return_all_endpoints_if_no_filter").unwrap_or(true)
        {
            return Ok(json!([]));
        }
        let mut out = Vec::new();
        for s in services.iter().filter(|s| s.enabled) {
            let eps: Vec<Value> = endpoints
                .iter()
                .filter(|e| e.service_id == s.id && e.enabled)
                .filter(|e| filter.as_ref().is_none_or(|f| f.contains(&e.id)))
                .filter_map(|e| {
                    let url = substitute(&e.url, project_id)?;
                    Some(json!({"id": e.id, "interface": e.interface, "region_id": e.region_id,
                                "region": e.region_id, "url": url}))
                })
                .collect();
            if filter.is_some() && eps.is_empty() {
                continue;
            }
            out.push(json!({"endpoints": eps, "id": s.id, "type": s.service_type, "name": s.name}));
        }
        Ok(Value::Array(out))
    }
}

fn substitute(url: &str, project_id: Option<&str>) -> Option<String> {
    let mut u = url.to_string();
    for pat in ["$(project_id)s", "$(tenant_id)s", "%(project_id)s", "%(tenant_id)s"] {
        if u.contains(pat) {
            u = u.replace(pat, project_id?);
        }
    }
    Some(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_project_ids() {
        assert_eq!(super::substitute("http://h/v2.1/$(project_id)s", Some("p")).as_deref(), Some("http://h/v2.1/p"));
        assert_eq!(super::substitute("http://h/v2.1/%(tenant_id)s", None), None);
        assert_eq!(super::substitute("http://h/v3", None).as_deref(), Some("http://h/v3"));
    }

    #[test]
    fn endpoint_groups_match_on_every_filter() {
        let e = Endpoint {
            id: "e".into(),
            service_id: "s".into(),
            interface: "public".into(),
            region_id: None,
            url: "http://h".into(),
            enabled: true,
            extra: Default::default(),
        };
        let g = |f: Value| EndpointGroup {
            id: "g".into(),
            name: "n".into(),
            description: None,
            filters: f.as_object().unwrap().clone(),
        };
        assert!(group_matches(&g(json!({"service_id": "s"})), &e));
        assert!(group_matches(&g(json!({"service_id": "s", "interface": "public"})), &e));
        assert!(!group_matches(&g(json!({"service_id": "s", "interface": "admin"})), &e));
        assert!(group_matches(&g(json!({"region_id": null})), &e));
        assert!(!group_matches(&g(json!({"region_id": "RegionOne"})), &e));
        assert!(group_matches(&g(json!({})), &e));
    }
}
