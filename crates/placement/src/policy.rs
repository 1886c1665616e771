//! Placement's default policy (upstream's: admin or the service role for
//! everything; a project reader may read its own usages), overridable by
//! `[oslo_policy] policy_file` as identity's rules are.

use rustack_common::Error;
use rustack_http::{RequestContext, ServiceOptions};
use rustack_policy::{Policy, Target};

const ADMIN_OR_SERVICE: &str = "role:admin or role:service";

/// Every rule name placement checks.
pub const RULES: &[&str] = &[
    "placement:resource_providers:list",
    "placement:resource_providers:create",
    "placement:resource_providers:show",
    "placement:resource_providers:update",
    "placement:resource_providers:delete",
    "placement:resource_providers:inventories:list",
    "placement:resource_providers:inventories:create",
    "placement:resource_providers:inventories:show",
    "placement:resource_providers:inventories:update",
    "placement:resource_providers:inventories:delete",
    "placement:resource_providers:aggregates:list",
    "placement:resource_providers:aggregates:update",
    "placement:resource_providers:usages",
    "placement:resource_providers:traits:list",
    "placement:resource_providers:traits:update",
    "placement:resource_providers:traits:delete",
    "placement:resource_providers:allocations:list",
    "placement:resource_classes:list",
    "placement:resource_classes:create",
    "placement:resource_classes:show",
    "placement:resource_classes:update",
    "placement:resource_classes:delete",
    "placement:traits:list",
    "placement:traits:show",
    "placement:traits:update",
    "placement:traits:delete",
    "placement:allocations:list",
    "placement:allocations:manage",
    "placement:allocations:update",
    "placement:allocations:delete",
    "placement:allocation_candidates:list",
    "placement:reshaper:reshape",
];

pub fn load(opts: &ServiceOptions) -> Result<Policy, Error> {
    let mut pairs: Vec<(&str, &str)> = RULES.iter().map(|r| (*r, ADMIN_OR_SERVICE)).collect();
    pairs.push(("placement:usages", "role:admin or role:service or (role:reader and project_id:%(project_id)s)"));
    let mut p = Policy::from_defaults(&pairs);
    if let Some(f) = &opts.config.policy_file {
        p.load_overrides(f).map_err(|e| Error::bad_request(format!("policy file: {e}")))?;
    }
    Ok(p)
}

/// 403 unless `rule` allows the caller (`target` as oslo's target dict).
pub fn enforce(p: &Policy, rule: &str, ctx: &RequestContext, target: Target) -> Result<(), Error> {
    if p.enforce(rule, &ctx.credentials(), &target) {
        Ok(())
    } else {
        Err(Error::forbidden(format!("Policy does not allow {rule} to be performed."))
            .with_code("placement.undefined_code"))
    }
}
