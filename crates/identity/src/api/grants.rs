//! Role grants on projects, domains and the system, and
//! `GET /v3/role_assignments`.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::Error;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, RequestContext};
use rustack_policy::Target;
use serde_json::{json, Value};

use super::{domains, groups, list_response, no_content, projects, query_bool, roles, users, Query};
use crate::model::{Assignment, AssignmentKind, TargetKind, SYSTEM_TARGET};
use crate::store::assignments::AssignmentFilter;
use crate::Identity;

type P3 = Path<(String, String, String)>;
type P2 = Path<(String, String)>;

macro_rules! grant_routes {
    ($router:expr, $base:literal, $target:expr, $group:expr) => {
        $router
            .route(
                concat!($base, "/roles"),
                get(|s: State<Identity>, a: Authenticated, Path((t, x)): P2, q: Query| list_grants(s, a, t, x, $target, $group, q)),
            )
            .route(
                concat!($base, "/roles/{role_id}"),
                get(|s: State<Identity>, a: Authenticated, Path((t, x, r)): P3| check(s, a, t, x, r, $target, $group))
                    .put(|s: State<Identity>, a: Authenticated, Path((t, x, r)): P3| grant(s, a, t, x, r, $target, $group))
                    .delete(|s: State<Identity>, a: Authenticated, Path((t, x, r)): P3| revoke(s, a, t, x, r, $target, $group)),
            )
    };
}

macro_rules! system_routes {
    ($router:expr, $base:literal, $group:expr) => {
        $router
            .route(
                concat!($base, "/roles"),
                get(|s: State<Identity>, a: Authenticated, Path(x): Path<String>, q: Query| {
                    list_grants(s, a, SYSTEM_TARGET.to_string(), x, TargetKind::System, $group, q)
                }),
            )
            .route(
                concat!($base, "/roles/{role_id}"),
                get(|s: State<Identity>, a: Authenticated, Path((x, r)): P2| check(s, a, SYSTEM_TARGET.into(), x, r, TargetKind::System, $group))
                    .put(|s: State<Identity>, a: Authenticated, Path((x, r)): P2| grant(s, a, SYSTEM_TARGET.into(), x, r, TargetKind::System, $group))
                    .delete(|s: State<Identity>, a: Authenticated, Path((x, r)): P2| revoke(s, a, SYSTEM_TARGET.into(), x, r, TargetKind::System, $group)),
            )
    };
}

pub(super) fn routes() -> Router<Identity> {
    let r = Router::new();
    let r = grant_routes!(r, "/v3/projects/{project_id}/users/{user_id}", TargetKind::Project, false);
    let r = grant_routes!(r, "/v3/projects/{project_id}/groups/{group_id}", TargetKind::Project, true);
    let r = grant_routes!(r, "/v3/domains/{domain_id}/users/{user_id}", TargetKind::Domain, false);
    let r = grant_routes!(r, "/v3/domains/{domain_id}/groups/{group_id}", TargetKind::Domain, true);
    let r = system_routes!(r, "/v3/system/users/{user_id}", false);
    let r = system_routes!(r, "/v3/system/groups/{group_id}", true);
    r.route("/v3/role_assignments", get(role_assignments))
}

/// Loads the target and actor of a grant URL (404 if either is missing) and
/// returns the policy target describing them.
async fn resolve(id: &Identity, target: TargetKind, target_id: &str, group: bool, actor_id: &str) -> Result<Target, Error> {
    let mut t = match target {
        TargetKind::Project => projects::target(&projects::find(id, target_id).await?),
        TargetKind::Domain => {
            let d = domains::find(id, target_id).await?;
            Target::new().with("target.domain.id", d.id.as_str())
        }
        TargetKind::System => Target::new(),
    };
    let a = if group { groups::target(&groups::find(id, actor_id).await?) } else { users::target(&users::find(id, actor_id).await?) };
    t.values.extend(a.values);
    Ok(t)
}

fn rule(target: TargetKind, group: bool, action: &str) -> String {
    match target {
        TargetKind::System => format!("identity:{action}_system_grant{}_for_{}", if action == "list" { "s" } else { "" }, if group { "group" } else { "user" }),
        _ => format!("identity:{action}_grant{}", if action == "list" { "s" } else { "" }),
    }
}

async fn list_grants(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    target_id: String,
    actor_id: String,
    target: TargetKind,
    group: bool,
    q: Query,
) -> ApiResult<Json<Value>> {
    let t = resolve(&id, target, &target_id, group, &actor_id).await?;
    id.enforce(&rule(target, group, "list"), &ctx, t)?;
    let f = AssignmentFilter {
        kinds: Some(vec![AssignmentKind::of(group, target)]),
        actor_ids: Some(vec![actor_id.clone()]),
        target_id: Some(target_id.clone()),
        role_id: None,
    };
    let mut items = Vec::new();
    for a in id.store().list_assignments(&f).await?.into_iter().filter(|a| !a.inherited) {
        if let Some(r) = id.store().get_role(&a.role_id).await? {
            items.push(r.to_json(id.public_url()));
        }
    }
    let path = grant_path(target, &target_id, group, &actor_id);
    Ok(list_response(&id, "roles", &format!("{path}/roles"), &q, items))
}

fn grant_path(target: TargetKind, target_id: &str, group: bool, actor_id: &str) -> String {
    let actors = if group { "groups" } else { "users" };
    match target {
        TargetKind::Project => format!("projects/{target_id}/{actors}/{actor_id}"),
        TargetKind::Domain => format!("domains/{target_id}/{actors}/{actor_id}"),
        TargetKind::System => format!("system/{actors}/{actor_id}"),
    }
}

async fn prepare(
    id: &Identity,
    ctx: &RequestContext,
    action: &str,
    target_id: &str,
    actor_id: &str,
    role_id: &str,
    target: TargetKind,
    group: bool,
) -> Result<Assignment, Error> {
    let mut t = resolve(id, target, target_id, group, actor_id).await?;
    let role = roles::find(id, role_id).await?;
    t.values.insert("target.role.id".into(), json!(role.id));
    t.values.insert("target.role.name".into(), json!(role.name));
    if let Some(d) = &role.domain_id {
        t.values.insert("target.role.domain_id".into(), json!(d));
    }
    id.enforce(&rule(target, group, action), ctx, t)?;
    if action == "create" {
        if let Some(rd) = &role.domain_id {
            // a domain-specific role can be granted only within its domain
            let target_domain = match target {
                TargetKind::Project => Some(projects::find(id, target_id).await?.domain_id),
                TargetKind::Domain => Some(target_id.to_string()),
                TargetKind::System => None,
            };
            if target_domain.as_deref() != Some(rd.as_str()) {
                return Err(Error::forbidden("A domain-specific role can only be granted within its own domain."));
            }
        }
    }
    Ok(Assignment { kind: AssignmentKind::of(group, target), actor_id: actor_id.into(), target_id: target_id.into(), role_id: role.id, inherited: false })
}

async fn check(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    target_id: String,
    actor_id: String,
    role_id: String,
    target: TargetKind,
    group: bool,
) -> ApiResult<Response> {
    let a = prepare(&id, &ctx, "check", &target_id, &actor_id, &role_id, target, group).await?;
    if !id.store().assignment_exists(&a).await? {
        return Err(Error::not_found(format!("Could not find role assignment with role: {role_id}.")).into());
    }
    Ok(no_content())
}

async fn grant(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    target_id: String,
    actor_id: String,
    role_id: String,
    target: TargetKind,
    group: bool,
) -> ApiResult<Response> {
    let a = prepare(&id, &ctx, "create", &target_id, &actor_id, &role_id, target, group).await?;
    id.store().grant(&a).await?;
    id.changed();
    Ok(no_content())
}

async fn revoke(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    target_id: String,
    actor_id: String,
    role_id: String,
    target: TargetKind,
    group: bool,
) -> ApiResult<Response> {
    let a = prepare(&id, &ctx, "revoke", &target_id, &actor_id, &role_id, target, group).await?;
    if !id.store().revoke(&a).await? {
        return Err(Error::not_found(format!("Could not find role assignment with role: {role_id}.")).into());
    }
    // tokens are rebuilt with the roles that remain
    id.changed();
    Ok(no_content())
}

/// One entry of `role_assignments`, before rendering.
struct Entry {
    a: Assignment,
    /// The group an effective user entry came through.
    via_group: Option<String>,
    /// The role an implied entry came from.
    prior_role: Option<String>,
}

async fn role_assignments(State(id): State<Identity>, Authenticated(ctx): Authenticated, q: Query) -> ApiResult<Json<Value>> {
    let scope_domain = q.get("scope.domain.id").cloned();
    let t = match &scope_domain {
        Some(d) => Target::new().with("target.domain_id", d.as_str()),
        None => Target::new(),
    };
    id.enforce("identity:list_role_assignments", &ctx, t)?;
    if q.contains_key("include_subtree") {
        return Err(Error::not_implemented("include_subtree is not served yet.").into());
    }
    let effective = q.contains_key("effective") && query_bool(&q, "effective") != Some(false);
    let include_names = q.contains_key("include_names") && query_bool(&q, "include_names") != Some(false);
    let (user_id, group_id) = (q.get("user.id").cloned(), q.get("group.id").cloned());
    if effective && group_id.is_some() {
        return Err(Error::bad_request("Combining effective and group filter will always result in an empty list.").into());
    }
    let mut target: Option<(TargetKind, String)> = None;
    let scopes = [
        q.get("scope.project.id").map(|p| (TargetKind::Project, p.clone())),
        scope_domain.map(|d| (TargetKind::Domain, d)),
        q.get("scope.system").map(|_| (TargetKind::System, SYSTEM_TARGET.to_string())),
    ];
    for s in scopes.into_iter().flatten() {
        if target.is_some() {
            return Err(Error::bad_request("Specify at most one of scope.project.id, scope.domain.id and scope.system.").into());
        }
        target = Some(s);
    }
    let inherited_only = q.get("scope.OS-INHERIT:inherited_to").is_some();
    let f = AssignmentFilter {
        kinds: target.as_ref().map(|(k, _)| vec![AssignmentKind::of(false, *k), AssignmentKind::of(true, *k)]),
        actor_ids: None,
        target_id: target.as_ref().map(|(_, t)| t.clone()),
        role_id: None,
    };
    let all = id.store().list_assignments(&f).await?;
    let mut entries: Vec<Entry> = all
        .into_iter()
        .filter(|a| !inherited_only || a.inherited)
        .map(|a| Entry { a, via_group: None, prior_role: None })
        .collect();
    if effective {
        entries = expand_groups(&id, entries).await?;
        entries = expand_implied(&id, entries).await?;
    }
    let role_filter = q.get("role.id");
    entries.retain(|e| {
        let actor_ok = match (&user_id, &group_id) {
            (Some(u), _) => !e.a.kind.is_group() && e.a.actor_id == *u,
            (None, Some(g)) => e.a.kind.is_group() && e.a.actor_id == *g,
            (None, None) => true,
        };
        actor_ok && role_filter.is_none_or(|r| e.a.role_id == *r)
    });
    let mut items = Vec::with_capacity(entries.len());
    let mut names = Names::default();
    for e in &entries {
        items.push(render(&id, e, include_names, &mut names).await?);
    }
    Ok(list_response(&id, "role_assignments", "role_assignments", &q, items))
}

/// Replaces each group assignment by one per member.
async fn expand_groups(id: &Identity, entries: Vec<Entry>) -> Result<Vec<Entry>, Error> {
    let mut out = Vec::new();
    for e in entries {
        if !e.a.kind.is_group() {
            out.push(e);
            continue;
        }
        for u in id.store().users_of_group(&e.a.actor_id).await? {
            let mut a = e.a.clone();
            a.kind = AssignmentKind::of(false, a.kind.target());
            a.actor_id = u.id;
            out.push(Entry { a, via_group: Some(e.a.actor_id.clone()), prior_role: None });
        }
    }
    Ok(out)
}

/// Adds the roles each assignment implies and drops domain-specific roles.
async fn expand_implied(id: &Identity, entries: Vec<Entry>) -> Result<Vec<Entry>, Error> {
    let rules = id.store().implied_roles().await?;
    let domain_roles: HashSet<String> = id.store().all_roles().await?.into_iter().filter(|r| r.domain_id.is_some()).map(|r| r.id).collect();
    let mut out = Vec::new();
    for e in entries {
        let mut seen = HashSet::from([e.a.role_id.clone()]);
        let mut stack = vec![e.a.role_id.clone()];
        while let Some(r) = stack.pop() {
            for (_, i) in rules.iter().filter(|(p, _)| *p == r) {
                if seen.insert(i.clone()) {
                    stack.push(i.clone());
                    let mut a = e.a.clone();
                    a.role_id = i.clone();
                    out.push(Entry { a, via_group: e.via_group.clone(), prior_role: Some(r.clone()) });
                }
            }
        }
        out.push(e);
    }
    out.retain(|e| !domain_roles.contains(&e.a.role_id));
    Ok(out)
}

/// Names looked up once per request for `include_names`.
#[derive(Default)]
struct Names {
    cache: HashMap<(&'static str, String), Value>,
}

impl Names {
    async fn get(&mut self, id: &Identity, kind: &'static str, key: &str) -> Result<Value, Error> {
        if let Some(v) = self.cache.get(&(kind, key.to_string())) {
            return Ok(v.clone());
        }
        let s = id.store();
        let dom = |d: Option<crate::model::Domain>| d.map(|d| json!({"id": d.id, "name": d.name})).unwrap_or(Value::Null);
        let v = match kind {
            "role" => s.get_role(key).await?.map(|r| {
                let mut v = json!({"id": r.id, "name": r.name});
                if let Some(d) = r.domain_id {
                    v["domain"] = json!({"id": d});
                }
                v
            }),
            "user" => match s.get_user(key).await? {
                Some(u) => Some(json!({"id": u.id, "name": u.name, "domain": dom(s.get_domain(&u.domain_id).await?)})),
                None => None,
            },
            "group" => match s.get_group(key).await? {
                Some(g) => Some(json!({"id": g.id, "name": g.name, "domain": dom(s.get_domain(&g.domain_id).await?)})),
                None => None,
            },
            "project" => match s.get_project(key).await? {
                Some(p) => Some(json!({"id": p.id, "name": p.name, "domain": dom(s.get_domain(&p.domain_id).await?)})),
                None => None,
            },
            _ => s.get_domain(key).await?.map(|d| json!({"id": d.id, "name": d.name})),
        }
        .unwrap_or_else(|| json!({"id": key}));
        self.cache.insert((kind, key.to_string()), v.clone());
        Ok(v)
    }
}

async fn render(id: &Identity, e: &Entry, names: bool, n: &mut Names) -> Result<Value, Error> {
    let a = &e.a;
    let actor_kind = if a.kind.is_group() { "group" } else { "user" };
    let actor = if names { n.get(id, actor_kind, &a.actor_id).await? } else { json!({"id": a.actor_id}) };
    let role = if names { n.get(id, "role", &a.role_id).await? } else { json!({"id": a.role_id}) };
    let mut scope = match a.kind.target() {
        TargetKind::Project => json!({"project": if names { n.get(id, "project", &a.target_id).await? } else { json!({"id": a.target_id}) }}),
        TargetKind::Domain => json!({"domain": if names { n.get(id, "domain", &a.target_id).await? } else { json!({"id": a.target_id}) }}),
        TargetKind::System => json!({"system": {"all": true}}),
    };
    if a.inherited {
        scope["OS-INHERIT:inherited_to"] = json!("projects");
    }
    let grant_role = e.prior_role.clone().unwrap_or_else(|| a.role_id.clone());
    let (assign_actor, assign_group) = match &e.via_group {
        Some(g) => (g.clone(), true),
        None => (a.actor_id.clone(), a.kind.is_group()),
    };
    let mut links = json!({"assignment": id.link(&format!("{}/roles/{grant_role}", grant_path(a.kind.target(), &a.target_id, assign_group, &assign_actor)))});
    if let Some(g) = &e.via_group {
        links["membership"] = json!(id.link(&format!("groups/{g}/users/{}", a.actor_id)));
    }
    if let Some(p) = &e.prior_role {
        links["prior_role"] = json!(id.link(&format!("prior_role/{p}/implies/{}", a.role_id)));
    }
    Ok(json!({"role": role, actor_kind: actor, "scope": scope, "links": links}))
}
