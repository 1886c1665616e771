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

/// One rule of an application credential restricted by access rules: the
/// request it allows (keystonemiddleware's check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRule {
    pub id: String,
    /// The service type, e.g. `compute`.
    pub service: String,
    /// `GET`, `HEAD`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// A path pattern: `*` stands for one segment, `**` for any number of
    /// them, `{name}` for one segment.
    pub path: String,
}

impl AccessRule {
    pub fn allows(&self, service_type: &str, method: &str, path: &str) -> bool {
        self.service == service_type && self.method == method && path_matches(&self.path, path)
    }
}

/// Matches a request path against an access rule's pattern as
/// keystonemiddleware does: `*` (and `{name}`) is one non-empty segment,
/// `**` anything (slashes included), other characters themselves; the whole
/// path must match.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    #[derive(Debug)]
    enum Tok {
        Lit(char),
        One,
        Any,
    }
    let mut toks = Vec::new();
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                toks.push(Tok::Any);
                i += 2;
            }
            '*' => {
                toks.push(Tok::One);
                i += 1;
            }
            '{' if chars[i..].contains(&'}') => {
                toks.push(Tok::One);
                i += chars[i..].iter().position(|c| *c == '}').unwrap_or(0) + 1;
            }
            c => {
                toks.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    // backtracking over (token, path position); patterns are short
    fn go(toks: &[Tok], p: &[char]) -> bool {
        match toks.first() {
            None => p.is_empty(),
            Some(Tok::Lit(c)) => p.first() == Some(c) && go(&toks[1..], &p[1..]),
            Some(Tok::One) => {
                let seg = p.iter().take_while(|c| **c != '/').count();
                (1..=seg).any(|n| go(&toks[1..], &p[n..]))
            }
            Some(Tok::Any) => (0..=p.len()).any(|n| go(&toks[1..], &p[n..])),
        }
    }
    let p: Vec<char> = path.chars().collect();
    go(&toks, &p)
}

/// The trust a trust-scoped token acts under (`OS-TRUST:trust`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustRef {
    pub id: String,
    pub trustor_user_id: String,
    pub trustee_user_id: String,
    pub impersonation: bool,
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
    /// The rules of an application credential restricted by access rules;
    /// `None` when the token is not restricted that way.
    pub access_rules: Option<Vec<AccessRule>>,
    /// Set for a trust-scoped token.
    pub trust: Option<TrustRef>,
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

    /// Whether the token may be used for this request of a service of type
    /// `service_type`: always, unless it comes from an application credential
    /// with access rules and no rule matches (keystonemiddleware's check; a
    /// token may always be validated with identity's `GET /v3/auth/tokens`).
    pub fn allows_request(&self, service_type: &str, method: &str, path: &str) -> bool {
        let Some(rules) = &self.access_rules else {
            return true;
        };
        if service_type == "identity" && method == "GET" && path.trim_end_matches('/').ends_with("/v3/auth/tokens") {
            return true;
        }
        rules.iter().any(|r| r.allows(service_type, method, path))
    }

    pub fn trust_id(&self) -> Option<&str> {
        self.trust.as_ref().map(|t| t.id.as_str())
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
            access_rules: token
                .get("application_credential")
                .and_then(|a| a.get("access_rules"))
                .and_then(Value::as_array)
                .map(|rules| {
                    rules
                        .iter()
                        .map(|r| AccessRule {
                            id: s(r, "id"),
                            service: s(r, "service"),
                            method: s(r, "method"),
                            path: s(r, "path"),
                        })
                        .collect()
                }),
            trust: token.get("OS-TRUST:trust").filter(|t| t.is_object()).map(|t| TrustRef {
                id: s(t, "id"),
                trustor_user_id: t.get("trustor_user").map(|u| s(u, "id")).unwrap_or_default(),
                trustee_user_id: t.get("trustee_user").map(|u| s(u, "id")).unwrap_or_default(),
                impersonation: t.get("impersonation").and_then(Value::as_bool).unwrap_or(false),
            }),
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
        let sys =
            serde_json::json!({"user": {"id": "u"}, "system": {"all": true}, "expires_at": "2030-01-01T00:00:00Z"});
        let c = RequestContext::from_token_json(&sys).unwrap();
        assert!(c.is_system());
        assert_eq!(c.credentials().values["system_scope"], "all");
        assert!(RequestContext::from_token_json(&serde_json::json!({"user": {}})).is_none(), "no expiry");
        assert!(c.access_rules.is_none() && c.trust.is_none());
        assert!(c.allows_request("compute", "DELETE", "/v2.1/servers/x"));
    }

    #[test]
    fn path_patterns_as_keystonemiddleware() {
        assert!(path_matches("/v2.1/servers/*/ips", "/v2.1/servers/abc/ips"));
        assert!(!path_matches("/v2.1/servers/*/ips", "/v2.1/servers//ips"), "* is a non-empty segment");
        assert!(!path_matches("/v2.1/servers/*/ips", "/v2.1/servers/a/b/ips"));
        assert!(!path_matches("/v2.1/servers/*", "/v2.1/servers/a/ips"));
        assert!(path_matches("/v2.1/servers/**", "/v2.1/servers/a/ips"));
        assert!(path_matches("/v2.1/**", "/v2.1/"));
        assert!(path_matches("/v2.1/servers/{server_id}/ips", "/v2.1/servers/a1/ips"));
        assert!(path_matches("/v3/users/**/access_rules", "/v3/users/u/access_rules"));
        assert!(!path_matches("/v2.1/servers", "/v2.1/servers/"), "the whole path must match");
        assert!(path_matches("/v2.1/servers", "/v2.1/servers"));
        assert!(!path_matches("/v2.1/servers", "/v2.1/serversX"));
    }

    #[test]
    fn access_rules_and_trust_from_a_token_body() {
        let body = serde_json::json!({
            "methods": ["application_credential"], "audit_ids": ["a1"],
            "expires_at": "2030-01-01T00:00:00.000000Z",
            "user": {"id": "u", "name": "alice", "domain": {"id": "default", "name": "Default"}},
            "project": {"id": "p", "name": "demo", "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r1", "name": "member"}],
            "application_credential": {"id": "ac", "name": "n", "restricted": true,
                "access_rules": [{"id": "x", "service": "compute", "method": "GET", "path": "/v2.1/servers/*/ips"}]},
            "OS-TRUST:trust": {"id": "t", "impersonation": true, "trustor_user": {"id": "u"}, "trustee_user": {"id": "v"}}
        });
        let c = RequestContext::from_token_json(&body).unwrap();
        assert_eq!(c.access_rules.as_ref().unwrap().len(), 1);
        assert!(c.allows_request("compute", "GET", "/v2.1/servers/s1/ips"));
        assert!(!c.allows_request("compute", "POST", "/v2.1/servers/s1/ips"));
        assert!(!c.allows_request("image", "GET", "/v2.1/servers/s1/ips"));
        assert!(!c.allows_request("identity", "GET", "/v3/users"));
        assert!(c.allows_request("identity", "GET", "/v3/auth/tokens"), "validation is always allowed");
        let t = c.trust.unwrap();
        assert_eq!(
            (t.id.as_str(), t.trustor_user_id.as_str(), t.trustee_user_id.as_str(), t.impersonation),
            ("t", "u", "v", true)
        );
    }
}
