//! Neutron's authorization through `rustack-policy`: Neutron's rule names
//! and its legacy defaults (`enforce_new_defaults = False`: owner or admin,
//! no member/reader role required), overridable by `[oslo_policy]
//! policy_file` (the file identity reads; `/etc/rustack/policy.yaml` when
//! unset and present).
//!
//! Enforced at the API's dispatch (`api::dispatch`), as Neutron's policy
//! engine does before the plugin: `create_<resource>` on the request body
//! (the caller's project filled in), `update_`/`delete_<resource>` on the
//! stored resource, `get_<resource>` on each resource shown or listed, and
//! `<action>:<attribute>` for each attribute a request sets (to a value
//! other than false/null/"") when such a rule exists. A denied `get_`, or
//! an update/delete of a resource the caller cannot see, is a 404, anything
//! else denied a 403 `PolicyNotAuthorized`. Visibility (shared and external
//! networks, RBAC) stays the service's: `get_<resource>` defaults to
//! allowing what the service shows, so an override can only narrow it.

use rustack_common::config::Config;
use rustack_policy::{Credentials, Policy, PolicyError, Target};
use serde_json::Value;

/// The kinds of resource the dispatcher serves.
pub const KINDS: &[&str] = &[
    "network",
    "subnet",
    "port",
    "router",
    "floatingip",
    "security_group",
    "security_group_rule",
    "subnetpool",
    "rbac_policy",
    "agent",
];

const ADMIN_ONLY: &str = "rule:admin_only";
const ADMIN_OR_OWNER: &str = "rule:admin_or_owner";
const ADMIN_OR_NET_OWNER: &str = "rule:admin_or_network_owner";

/// Neutron's default rules (names as Neutron's policy-in-code, legacy checks).
pub fn defaults() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("context_is_admin", "role:admin"),
        ("context_is_advsvc", "role:advsvc"),
        ("owner", "tenant_id:%(tenant_id)s"),
        ("admin_or_owner", "rule:context_is_admin or rule:owner"),
        ("admin_or_network_owner", "rule:context_is_admin or tenant_id:%(network:tenant_id)s"),
        ("admin_owner_or_network_owner", "rule:owner or rule:admin_or_network_owner"),
        ("admin_only", "rule:context_is_admin"),
        ("regular_user", ""),
        ("default", "rule:admin_or_owner"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let mut add = |name: &str, rule: &str| v.push((name.to_string(), rule.to_string()));
    // Reading: what the service shows (owner, shared, external, RBAC).
    for k in KINDS {
        add(&format!("get_{k}"), if *k == "agent" { ADMIN_ONLY } else { "rule:regular_user" });
    }
    add("create_network", "rule:regular_user");
    add("update_network", ADMIN_OR_OWNER);
    add("delete_network", ADMIN_OR_OWNER);
    for attr in [
        "shared",
        "router:external",
        "is_default",
        "provider:network_type",
        "provider:physical_network",
        "provider:segmentation_id",
        "segments",
    ] {
        add(&format!("create_network:{attr}"), ADMIN_ONLY);
        add(&format!("update_network:{attr}"), ADMIN_ONLY);
    }
    add("create_subnet", ADMIN_OR_NET_OWNER);
    add("update_subnet", ADMIN_OR_NET_OWNER);
    add("delete_subnet", ADMIN_OR_NET_OWNER);
    add("create_port", "rule:regular_user");
    add("update_port", "rule:context_is_advsvc or rule:admin_or_owner");
    add("delete_port", "rule:context_is_advsvc or rule:admin_owner_or_network_owner");
    for attr in ["binding:host_id", "binding:profile"] {
        add(&format!("create_port:{attr}"), ADMIN_ONLY);
        add(&format!("update_port:{attr}"), ADMIN_ONLY);
    }
    add("create_router", "rule:regular_user");
    add("update_router", ADMIN_OR_OWNER);
    add("delete_router", ADMIN_OR_OWNER);
    add("create_floatingip", "rule:regular_user");
    add("create_floatingip:floating_ip_address", ADMIN_ONLY);
    add("update_floatingip", ADMIN_OR_OWNER);
    add("delete_floatingip", ADMIN_OR_OWNER);
    add("create_security_group", ADMIN_OR_OWNER);
    add("update_security_group", ADMIN_OR_OWNER);
    add("delete_security_group", ADMIN_OR_OWNER);
    add("create_security_group_rule", ADMIN_OR_OWNER);
    add("delete_security_group_rule", ADMIN_OR_OWNER);
    add("create_subnetpool", "rule:regular_user");
    add("create_subnetpool:shared", ADMIN_ONLY);
    add("create_subnetpool:is_default", ADMIN_ONLY);
    add("update_subnetpool", ADMIN_OR_OWNER);
    add("update_subnetpool:is_default", ADMIN_ONLY);
    add("delete_subnetpool", ADMIN_OR_OWNER);
    add("create_rbac_policy", "rule:regular_user");
    add("update_rbac_policy", ADMIN_OR_OWNER);
    add("delete_rbac_policy", ADMIN_OR_OWNER);
    add("get_auto_allocated_topology", ADMIN_OR_OWNER);
    add("delete_auto_allocated_topology", ADMIN_OR_OWNER);
    add("update_agent", ADMIN_ONLY);
    add("delete_agent", ADMIN_ONLY);
    v
}

/// The defaults, then the operator's overrides, if any.
pub fn load(config: &Config) -> Result<Policy, PolicyError> {
    let d = defaults();
    let pairs: Vec<(&str, &str)> = d.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut p = Policy::from_defaults(&pairs);
    if let Some(f) = &config.policy_file {
        let n = p.load_overrides(f)?;
        tracing::info!(file = %f.display(), rules = n, "network: loaded policy overrides");
    }
    Ok(p)
}

/// The caller as Neutron's credentials: oslo's, plus `tenant_id` (Neutron's
/// older name of the project, which its rules use).
pub fn credentials(ctx: &rustack_http::RequestContext) -> Credentials {
    let mut c = ctx.credentials();
    if let Some(p) = ctx.project_id() {
        c.set("tenant_id", p);
    }
    c
}

/// A resource (or a request body) as a policy target: its scalar
/// attributes by name, `tenant_id` and `project_id` both set from either,
/// and `network:tenant_id`/`network:project_id` from `network_owner`.
pub fn target(doc: &serde_json::Map<String, Value>, network_owner: Option<&str>) -> Target {
    let mut t = Target::new();
    for (k, v) in doc {
        if !v.is_object() && !v.is_array() {
            t.values.insert(k.clone(), v.clone());
        }
    }
    let owner = doc.get("project_id").or_else(|| doc.get("tenant_id")).cloned();
    if let Some(o) = owner {
        t.values.insert("project_id".into(), o.clone());
        t.values.insert("tenant_id".into(), o);
    }
    if let Some(o) = network_owner {
        t.values.insert("network:tenant_id".into(), Value::from(o));
        t.values.insert("network:project_id".into(), Value::from(o));
    }
    t
}

/// Whether `rule` is one of the default attribute rules
/// (`create_network:shared`, …): the ones checked for a request's
/// attributes. An override changes them; it cannot add new ones.
pub fn is_attribute_rule(rule: &str) -> bool {
    static NAMES: std::sync::OnceLock<std::collections::HashSet<String>> = std::sync::OnceLock::new();
    NAMES
        .get_or_init(|| {
            defaults()
                .into_iter()
                .map(|(k, _)| k)
                .filter(|k| (k.starts_with("create_") || k.starts_with("update_")) && k.contains(':'))
                .collect()
        })
        .contains(rule)
}

/// Whether a request sets an attribute explicitly (Neutron checks an
/// attribute's rule only then; false, null and "" are the defaults).
pub fn explicitly_set(v: &Value) -> bool {
    !matches!(v, Value::Null | Value::Bool(false)) && v.as_str() != Some("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(project: &str, roles: &[&str]) -> Credentials {
        let mut c = Credentials { roles: roles.iter().map(|r| r.to_string()).collect(), ..Default::default() };
        c.set("project_id", project);
        c.set("tenant_id", project);
        c
    }
    fn doc(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn defaults_parse_and_say_what_neutron_says() {
        let d = defaults();
        let pairs: Vec<(&str, &str)> = d.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let p = Policy::from_defaults(&pairs);
        let (member, other, admin) = (creds("p1", &["member"]), creds("p2", &["member"]), creds("p0", &["admin"]));
        let mine = target(&doc(serde_json::json!({"tenant_id": "p1", "name": "n"})), None);
        assert!(p.enforce("create_network", &member, &mine));
        assert!(p.enforce("update_network", &member, &mine));
        assert!(!p.enforce("update_network", &other, &mine));
        assert!(p.enforce("delete_network", &admin, &mine));
        assert!(!p.enforce("create_network:shared", &member, &mine));
        assert!(p.enforce("create_network:shared", &admin, &mine));
        // A subnet on someone else's network: only the network's owner or an admin.
        let on_p1 = target(&doc(serde_json::json!({"project_id": "p2"})), Some("p1"));
        assert!(p.enforce("create_subnet", &member, &on_p1));
        assert!(!p.enforce("create_subnet", &other, &on_p1));
        assert!(p.enforce("delete_port", &member, &on_p1), "the network's owner deletes ports on it");
        assert!(!p.enforce("get_agent", &member, &mine));
        assert!(p.enforce("get_network", &other, &mine), "visibility is the service's");
        // a project's auto-allocated topology: its members' and the admin's
        assert!(p.enforce("get_auto_allocated_topology", &member, &mine));
        assert!(!p.enforce("get_auto_allocated_topology", &other, &mine));
        assert!(p.enforce("delete_auto_allocated_topology", &admin, &mine));
        assert!(!p.enforce("delete_auto_allocated_topology", &other, &mine));
    }

    #[test]
    fn attributes_set_to_their_defaults_are_not_checked() {
        assert!(!explicitly_set(&Value::Bool(false)));
        assert!(!explicitly_set(&Value::Null));
        assert!(!explicitly_set(&Value::from("")));
        assert!(explicitly_set(&Value::Bool(true)));
        assert!(explicitly_set(&Value::from("vlan")));
    }
}
