//! OS-INHERIT: role assignments on a domain or a project that are inherited
//! by the projects below it (and not by the domain or project itself).
//!
//! `PUT/GET/HEAD/DELETE /v3/OS-INHERIT/{domains|projects}/{t}/{users|groups}/{a}/roles/{r}/inherited_to_projects`
//! and, on domains, `GET /v3/OS-INHERIT/domains/{d}/{users|groups}/{a}/roles/inherited_to_projects`.
//! The policy rules are the grant rules (`identity:create_grant`, …).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::Error;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, RequestContext};
use rustack_policy::Target;
use serde_json::{json, Value};

use super::{groups, list_response, no_content, projects, users, Query};
use crate::model::{Assignment, AssignmentKind, Role, TargetKind};
use crate::store::assignments::AssignmentFilter;
use crate::Identity;

type P3 = Path<(String, String, String)>;
type P2 = Path<(String, String)>;

macro_rules! inherit_routes {
    ($router:expr, $base:literal, $target:expr, $group:expr) => {
        $router.route(
            concat!($base, "/roles/{role_id}/inherited_to_projects"),
            get(|s: State<Identity>, a: Authenticated, Path((t, x, r)): P3| check(s, a, t, x, r, $target, $group))
                .put(|s: State<Identity>, a: Authenticated, Path((t, x, r)): P3| grant(s, a, t, x, r, $target, $group))
                .delete(|s: State<Identity>, a: Authenticated, Path((t, x, r)): P3| {
                    revoke(s, a, t, x, r, $target, $group)
                }),
        )
    };
}

pub(super) fn routes() -> Router<Identity> {
    let r = Router::new();
    let r = inherit_routes!(r, "/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}", TargetKind::Domain, false);
    let r = inherit_routes!(r, "/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}", TargetKind::Domain, true);
    let r = inherit_routes!(r, "/v3/OS-INHERIT/projects/{project_id}/users/{user_id}", TargetKind::Project, false);
    let r = inherit_routes!(r, "/v3/OS-INHERIT/projects/{project_id}/groups/{group_id}", TargetKind::Project, true);
    r.route(
        "/v3/OS-INHERIT/domains/{domain_id}/users/{user_id}/roles/inherited_to_projects",
        get(|s: State<Identity>, a: Authenticated, Path((d, u)): P2, q: Query| list(s, a, d, u, false, q)),
    )
    .route(
        "/v3/OS-INHERIT/domains/{domain_id}/groups/{group_id}/roles/inherited_to_projects",
        get(|s: State<Identity>, a: Authenticated, Path((d, g)): P2, q: Query| list(s, a, d, g, true, q)),
    )
}

/// Policy rules of this API: (name, check string, allowed with a domain-scoped token).
/// OS-INHERIT is checked with the grant rules, which the core policy has.
pub(crate) const RULES: &[(&str, &str, bool)] = &[];

/// What the URL names, as far as it exists.
struct Resolved {
    target: Target,
    /// The first entity that does not exist, reported after the policy check.
    missing: Option<Error>,
    role: Option<Role>,
    project_domain: Option<String>,
}

/// Loads the target, actor and role of a URL. As Keystone does for
/// OS-INHERIT, a missing entity leaves its part of the policy target empty
/// and is reported (404) only after the policy check.
async fn resolve(
    id: &Identity,
    kind: TargetKind,
    target_id: &str,
    group: bool,
    actor_id: &str,
    role_id: Option<&str>,
) -> Result<Resolved, Error> {
    let mut r = Resolved { target: Target::new(), missing: None, role: None, project_domain: None };
    let mut missing = |e: Error| {
        if r.missing.is_none() {
            r.missing = Some(e);
        }
    };
    if let Some(rid) = role_id {
        match id.store().get_role(rid).await? {
            Some(role) => {
                r.target.values.insert("target.role.id".into(), json!(role.id));
                r.target.values.insert("target.role.name".into(), json!(role.name));
                if let Some(d) = &role.domain_id {
                    r.target.values.insert("target.role.domain_id".into(), json!(d));
                }
                r.role = Some(role);
            }
            None => missing(Error::not_found_entity("role", rid)),
        }
    }
    let actor = if group {
        id.store()
            .get_group(actor_id)
            .await?
            .map(|g| groups::target(&g))
            .ok_or_else(|| Error::not_found_entity("group", actor_id))
    } else {
        id.store()
            .get_user(actor_id)
            .await?
            .map(|u| users::target(&u))
            .ok_or_else(|| Error::not_found_entity("user", actor_id))
    };
    match actor {
        Ok(t) => r.target.values.extend(t.values),
        Err(e) => missing(e),
    }
    match kind {
        TargetKind::Domain => match id.store().get_domain(target_id).await? {
            Some(d) => {
                r.target.values.insert("target.domain.id".into(), json!(d.id));
            }
            None => missing(Error::not_found_entity("domain", target_id)),
        },
        _ => match id.store().get_project(target_id).await? {
            Some(p) => {
                r.target.values.extend(projects::target(&p).values);
                r.project_domain = Some(p.domain_id);
            }
            None => missing(Error::not_found_entity("project", target_id)),
        },
    }
    Ok(r)
}

fn assignment(kind: TargetKind, group: bool, target_id: &str, actor_id: &str, role_id: &str) -> Assignment {
    Assignment {
        kind: AssignmentKind::of(group, kind),
        actor_id: actor_id.to_string(),
        target_id: target_id.to_string(),
        role_id: role_id.to_string(),
        inherited: true,
    }
}

fn not_assigned(role_id: &str, actor_id: &str, target_id: &str) -> Error {
    Error::not_found(format!(
        "Could not find role assignment with role: {role_id}, user or group: {actor_id}, project, domain, or system: {target_id}."
    ))
}

/// The target and actor a URL names.
struct On<'a> {
    kind: TargetKind,
    target_id: &'a str,
    group: bool,
    actor_id: &'a str,
}

/// Enforces `rule`, then reports what the URL named that does not exist.
async fn authorize(
    id: &Identity,
    ctx: &RequestContext,
    rule: &str,
    on: On<'_>,
    role_id: Option<&str>,
) -> Result<Resolved, Error> {
    let mut r = resolve(id, on.kind, on.target_id, on.group, on.actor_id, role_id).await?;
    id.enforce(rule, ctx, std::mem::take(&mut r.target))?;
    if let Some(e) = r.missing.take() {
        return Err(e);
    }
    Ok(r)
}

async fn check(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    target_id: String,
    actor_id: String,
    role_id: String,
    kind: TargetKind,
    group: bool,
) -> ApiResult<Response> {
    authorize(
        &id,
        &ctx,
        "identity:check_grant",
        On { kind, target_id: &target_id, group, actor_id: &actor_id },
        Some(&role_id),
    )
    .await?;
    if !id.store().assignment_exists(&assignment(kind, group, &target_id, &actor_id, &role_id)).await? {
        return Err(not_assigned(&role_id, &actor_id, &target_id).into());
    }
    Ok(no_content())
}

async fn grant(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    target_id: String,
    actor_id: String,
    role_id: String,
    kind: TargetKind,
    group: bool,
) -> ApiResult<Response> {
    let r = authorize(
        &id,
        &ctx,
        "identity:create_grant",
        On { kind, target_id: &target_id, group, actor_id: &actor_id },
        Some(&role_id),
    )
    .await?;
    // a domain-specific role is granted on a project of its own domain only
    if let (Some(rd), Some(pd)) = (r.role.as_ref().and_then(|x| x.domain_id.as_ref()), r.project_domain.as_ref()) {
        if rd != pd {
            return Err(Error::forbidden(format!(
                "Project {target_id} must be in the same domain as the role {role_id} being assigned."
            ))
            .into());
        }
    }
    id.store().grant(&assignment(kind, group, &target_id, &actor_id, &role_id)).await?;
    id.changed();
    Ok(no_content())
}

async fn revoke(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    target_id: String,
    actor_id: String,
    role_id: String,
    kind: TargetKind,
    group: bool,
) -> ApiResult<Response> {
    authorize(
        &id,
        &ctx,
        "identity:revoke_grant",
        On { kind, target_id: &target_id, group, actor_id: &actor_id },
        Some(&role_id),
    )
    .await?;
    if !id.store().revoke(&assignment(kind, group, &target_id, &actor_id, &role_id)).await? {
        return Err(not_assigned(&role_id, &actor_id, &target_id).into());
    }
    // tokens are rebuilt with the roles that remain
    id.changed();
    Ok(no_content())
}

async fn list(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    domain_id: String,
    actor_id: String,
    group: bool,
    q: Query,
) -> ApiResult<Json<Value>> {
    authorize(
        &id,
        &ctx,
        "identity:list_grants",
        On { kind: TargetKind::Domain, target_id: &domain_id, group, actor_id: &actor_id },
        None,
    )
    .await?;
    let f = AssignmentFilter {
        kinds: Some(vec![AssignmentKind::of(group, TargetKind::Domain)]),
        actor_ids: Some(vec![actor_id.clone()]),
        target_id: Some(domain_id.clone()),
        role_id: None,
    };
    let mut items = Vec::new();
    for a in id.store().list_assignments(&f).await?.into_iter().filter(|a| a.inherited) {
        if let Some(r) = id.store().get_role(&a.role_id).await? {
            items.push(r.to_json(id.public_url()));
        }
    }
    let actors = if group { "groups" } else { "users" };
    let path = format!("OS-INHERIT/domains/{domain_id}/{actors}/{actor_id}/roles/inherited_to_projects");
    Ok(list_response(&id, "roles", &path, &q, items))
}
