//! The service catalog as it appears in tokens and `/v3/auth/catalog`.

use rustack_common::Error;
use serde_json::{json, Value};

use crate::Identity;

impl Identity {
    /// Enabled services with their enabled endpoints, in Keystone's token
    /// catalog shape; `$(project_id)s`/`$(tenant_id)s` in URLs are replaced
    /// by the project id, and endpoints that need one are left out without it.
    pub async fn catalog(&self, project_id: Option<&str>) -> Result<Value, Error> {
        let store = self.store();
        let services = store.list_services(None, None).await?;
        let endpoints = store.list_endpoints(None, None, None).await?;
        let mut out = Vec::new();
        for s in services.iter().filter(|s| s.enabled) {
            let eps: Vec<Value> = endpoints
                .iter()
                .filter(|e| e.service_id == s.id && e.enabled)
                .filter_map(|e| {
                    let url = substitute(&e.url, project_id)?;
                    Some(json!({"id": e.id, "interface": e.interface, "region_id": e.region_id,
                                "region": e.region_id, "url": url}))
                })
                .collect();
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
    #[test]
    fn substitutes_project_ids() {
        assert_eq!(super::substitute("http://h/v2.1/$(project_id)s", Some("p")).as_deref(), Some("http://h/v2.1/p"));
        assert_eq!(super::substitute("http://h/v2.1/%(tenant_id)s", None), None);
        assert_eq!(super::substitute("http://h/v3", None).as_deref(), Some("http://h/v3"));
    }
}
