//! Who is calling: the typed result of validating a token, handed to handlers.

use rustack_common::time::Timestamp;
use rustack_policy::Credentials;
use serde_json::Value;

/// What a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Unscoped,
    Project { id: String, name: String, domain_id: String, domain_name: String },
    Domain { id: String, name: String },
    System,
}

/// A role in the token, with its id and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRole {
    pub id: String,
    pub name: String,
}

/// The caller of a request, from its validated token.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub user_id: String,
    pub user_name: String,
    pub user_domain_id: String,
    pub user_domain_name: String,
    pub scope: Scope,
    pub roles: Vec<TokenRole>,
    pub methods: Vec<String>,
    pub audit_ids: Vec<String>,
    pub expires_at: Timestamp,
    pub issued_at: Timestamp,
    pub application_credential_id: Option<String>,
    pub is_admin_project: bool,
}

impl RequestContext {
    pub fn project_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Project { id, .. } => Some(id),
            _ => None,
        }
    }

    pub fn domain_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Domain { id, .. } => Some(id),
            _ => None,
        }
    }

    pub fn is_system(&self) -> bool {
        self.scope == Scope::System
    }

    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name.eq_ignore_ascii_case(name))
    }

    /// The credentials oslo.policy rules are checked against.
    pub fn credentials(&self) -> Credentials {
        let mut c = Credentials { roles: self.roles.iter().map(|r| r.name.clone()).collect(), ..Default::default() };
        c.set("user_id", self.user_id.as_str());
        c.set("user_domain_id", self.user_domain_id.as_str());
        match &self.scope {
            Scope::Project { id, domain_id, .. } => {
                c.set("project_id", id.as_str());
                c.set("project_domain_id", domain_id.as_str());
            }
            Scope::Domain { id, .. } => {
                c.set("domain_id", id.as_str());
            }
            Scope::System => {
                c.set("system_scope", "all");
            }
            Scope::Unscoped => {}
        }
        c.set("is_admin_project", self.is_admin_project);
        if let Some(a) = &self.application_credential_id {
            c.set("application_credential_id", a.as_str());
        }
        c
    }

    /// Reads the `token` object of a Keystone v3 token response.
    pub fn from_token_json(token: &Value) -> Option<RequestContext> {
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let user = token.get("user")?;
        let udom = user.get("domain").cloned().unwrap_or(Value::Null);
        let scope = if let Some(p) = token.get("project") {
            let d = p.get("domain").cloned().unwrap_or(Value::Null);
            Scope::Project { id: s(p, "id"), name: s(p, "name"), domain_id: s(&d, "id"), domain_name: s(&d, "name") }
        } else if let Some(d) = token.get("domain") {
            Scope::Domain { id: s(d, "id"), name: s(d, "name") }
        } else if token.get("system").is_some() {
            Scope::System
        } else {
            Scope::Unscoped
        };
        let roles = token
            .get("roles")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(|r| TokenRole { id: s(r, "id"), name: s(r, "name") }).collect())
            .unwrap_or_default();
        let strings = |k: &str| -> Vec<String> {
            token
                .get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                .unwrap_or_default()
        };
        let time = |k: &str| token.get(k).and_then(Value::as_str).and_then(rustack_common::time::parse_iso);
        Some(RequestContext {
            user_id: s(user, "id"),
            user_name: s(user, "name"),
            user_domain_id: s(&udom, "id"),
            user_domain_name: s(&udom, "name"),
            scope,
            roles,
            methods: strings("methods"),
            audit_ids: strings("audit_ids"),
            expires_at: time("expires_at")?,
            issued_at: time("issued_at").unwrap_or_else(rustack_common::time::now),
            application_credential_id: token
                .get("application_credential")
                .and_then(|a| a.get("id"))
                .and_then(Value::as_str)
                .map(String::from),
            is_admin_project: token.get("is_admin_project").and_then(Value::as_bool).unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_project_scoped_token_body() {
        let body = serde_json::json!({
            "methods": ["password"], "audit_ids": ["a1"],
            "expires_at": "2030-01-01T00:00:00.000000Z", "issued_at": "2029-12-31T23:00:00.000000Z",
            "user": {"id": "u", "name": "alice", "domain": {"id": "default", "name": "Default"}},
            "project": {"id": "p", "name": "demo", "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "reader"}]
        });
        let c = RequestContext::from_token_json(&body).unwrap();
        assert_eq!(c.project_id(), Some("p"));
        assert!(c.has_role("member") && !c.has_role("admin"));
        let creds = c.credentials();
        assert_eq!(creds.values["project_id"], "p");
        assert_eq!(creds.roles, vec!["member", "reader"]);
        let sys = serde_json::json!({"user": {"id": "u"}, "system": {"all": true}, "expires_at": "2030-01-01T00:00:00Z"});
        let c = RequestContext::from_token_json(&sys).unwrap();
        assert!(c.is_system());
        assert_eq!(c.credentials().values["system_scope"], "all");
        assert!(RequestContext::from_token_json(&serde_json::json!({"user": {}})).is_none(), "no expiry");
    }
}
