//! Keystone's default policy (the "secure RBAC" defaults: admin, member and
//! reader roles, system scope, domain scope and owner checks), overridable by
//! `[oslo_policy] policy_file`.

use rustack_common::config::Config;
use rustack_policy::{Policy, PolicyError};

const ADMIN: &str = "rule:admin_required";
const ADMIN_OR_SYSTEM_READER: &str = "rule:admin_required or (role:reader and system_scope:all)";

/// Rules by name. Entity targets are flattened as Keystone does:
/// `target.user.domain_id`, `target.project.id`, `target.token.user_id`, …
pub fn defaults() -> Vec<(&'static str, String)> {
    let a = ADMIN.to_string();
    let asr = ADMIN_OR_SYSTEM_READER.to_string();
    let dom_reader = |field: &str| format!("{asr} or (role:reader and domain_id:%({field})s)");
    let dom_admin = |field: &str| format!("{a} or (role:admin and domain_id:%({field})s)");
    let mut v: Vec<(&'static str, String)> = vec![
        ("admin_required", "role:admin or is_admin:1".into()),
        ("service_role", "role:service".into()),
        ("service_or_admin", "rule:admin_required or rule:service_role".into()),
        ("owner", "user_id:%(user_id)s".into()),
        ("admin_or_owner", "rule:admin_required or rule:owner".into()),
        ("token_subject", "user_id:%(target.token.user_id)s".into()),
        ("admin_or_token_subject", "rule:admin_required or rule:token_subject".into()),
        ("service_admin_or_token_subject", "rule:service_or_admin or rule:token_subject".into()),
        // tokens
        ("identity:check_token", format!("{asr} or rule:service_role or rule:token_subject")),
        ("identity:validate_token", format!("{asr} or rule:service_role or rule:token_subject")),
        ("identity:revoke_token", "rule:admin_required or rule:service_role or rule:token_subject".into()),
        // domains
        ("identity:get_domain", format!("{asr} or project_domain_id:%(target.domain.id)s or domain_id:%(target.domain.id)s")),
        ("identity:list_domains", asr.clone()),
        ("identity:create_domain", a.clone()),
        ("identity:update_domain", a.clone()),
        ("identity:delete_domain", a.clone()),
        // projects
        ("identity:get_project", format!("{asr} or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s")),
        ("identity:list_projects", dom_reader("target.domain_id")),
        ("identity:list_user_projects", format!("{} or user_id:%(target.user.id)s", dom_reader("target.user.domain_id"))),
        ("identity:create_project", dom_admin("target.project.domain_id")),
        ("identity:update_project", dom_admin("target.project.domain_id")),
        ("identity:delete_project", dom_admin("target.project.domain_id")),
        // users
        ("identity:get_user", format!("{} or user_id:%(target.user.id)s", dom_reader("target.user.domain_id"))),
        ("identity:list_users", dom_reader("target.domain_id")),
        ("identity:create_user", dom_admin("target.user.domain_id")),
        ("identity:update_user", dom_admin("target.user.domain_id")),
        ("identity:delete_user", dom_admin("target.user.domain_id")),
        ("identity:change_password", "rule:owner".into()),
        ("identity:list_groups_for_user", format!("{} or user_id:%(user_id)s", dom_reader("target.user.domain_id"))),
        // groups
        ("identity:get_group", format!("{} or (role:reader and domain_id:%(target.group.domain_id)s)", asr)),
        ("identity:list_groups", dom_reader("target.domain_id")),
        ("identity:create_group", dom_admin("target.group.domain_id")),
        ("identity:update_group", dom_admin("target.group.domain_id")),
        ("identity:delete_group", dom_admin("target.group.domain_id")),
        ("identity:list_users_in_group", dom_reader("target.group.domain_id")),
        ("identity:check_user_in_group", dom_reader("target.group.domain_id")),
        ("identity:add_user_to_group", dom_admin("target.group.domain_id")),
        ("identity:remove_user_from_group", dom_admin("target.group.domain_id")),
        // roles
        ("identity:get_role", asr.clone()),
        ("identity:list_roles", asr.clone()),
        ("identity:create_role", a.clone()),
        ("identity:update_role", a.clone()),
        ("identity:delete_role", a.clone()),
        ("identity:get_domain_role", asr.clone()),
        ("identity:list_domain_roles", asr.clone()),
        ("identity:create_domain_role", a.clone()),
        ("identity:update_domain_role", a.clone()),
        ("identity:delete_domain_role", a.clone()),
        ("identity:get_implied_role", asr.clone()),
        ("identity:list_implied_roles", asr.clone()),
        ("identity:list_role_inference_rules", asr.clone()),
        ("identity:create_implied_role", a.clone()),
        ("identity:delete_implied_role", a.clone()),
        ("identity:check_implied_role", asr.clone()),
        // grants and assignments
        ("identity:check_grant", format!("{asr} or (role:reader and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.project.domain_id)s)")),
        ("identity:list_grants", format!("{asr} or (role:reader and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.project.domain_id)s)")),
        ("identity:create_grant", format!("{a} or (role:admin and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.project.domain_id)s)")),
        ("identity:revoke_grant", format!("{a} or (role:admin and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.project.domain_id)s)")),
        ("identity:list_role_assignments", format!("{asr} or (role:reader and domain_id:%(target.domain_id)s)")),
        ("identity:list_role_assignments_for_tree", format!("{asr} or (role:reader and domain_id:%(target.project.domain_id)s)")),
        ("identity:check_system_grant_for_user", asr.clone()),
        ("identity:list_system_grants_for_user", asr.clone()),
        ("identity:create_system_grant_for_user", a.clone()),
        ("identity:revoke_system_grant_for_user", a.clone()),
        ("identity:check_system_grant_for_group", asr.clone()),
        ("identity:list_system_grants_for_group", asr.clone()),
        ("identity:create_system_grant_for_group", a.clone()),
        ("identity:revoke_system_grant_for_group", a.clone()),
        // catalog
        ("identity:get_region", "".into()),
        ("identity:list_regions", "".into()),
        ("identity:create_region", a.clone()),
        ("identity:update_region", a.clone()),
        ("identity:delete_region", a.clone()),
        ("identity:get_service", asr.clone()),
        ("identity:list_services", asr.clone()),
        ("identity:create_service", a.clone()),
        ("identity:update_service", a.clone()),
        ("identity:delete_service", a.clone()),
        ("identity:get_endpoint", asr.clone()),
        ("identity:list_endpoints", asr.clone()),
        ("identity:create_endpoint", a.clone()),
        ("identity:update_endpoint", a.clone()),
        ("identity:delete_endpoint", a.clone()),
        // application credentials
        ("identity:get_application_credential", format!("{asr} or rule:owner")),
        ("identity:list_application_credentials", format!("{asr} or rule:owner")),
        ("identity:create_application_credential", "rule:owner".into()),
        ("identity:delete_application_credential", format!("{a} or rule:owner")),
    ];
    v.extend(crate::api::extension_rules().map(|(n, c, _)| (*n, c.to_string())));
    v.sort_by(|x, y| x.0.cmp(y.0));
    v
}

/// The default rules, then the operator's overrides, if any.
pub fn load(config: &Config) -> Result<Policy, PolicyError> {
    let d = defaults();
    let pairs: Vec<(&str, &str)> = d.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut p = Policy::from_defaults(&pairs);
    if let Some(f) = &config.policy_file {
        let n = p.load_overrides(f)?;
        tracing::info!(file = %f.display(), rules = n, "loaded policy overrides");
    }
    Ok(p)
}
