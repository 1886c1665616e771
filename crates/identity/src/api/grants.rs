//! Role grants on projects, domains and the system, and
//! `GET /v3/role_assignments`.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::Error;
use rustack_http::context::Scope;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, RequestContext};
use rustack_policy::Target;
use serde_json::{json, Value};

use super::{domains, groups, list_response, no_content, projects, roles, users, Query};
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
                get(|s: State<Identity>, a: Authenticated, Path((t, x)): P2, q: Query| {
                    list_grants(s, a, t, x, $target, $group, q)
                }),
            )
            .route(
                concat!($base, "/roles/{role_id}"),
                get(|s: State<Identity>, a: Authenticated, Path((t, x, r)): P3| check(s, a, t, x, r, $target, $group))
                    .put(|s: State<Identity>, a: Authenticated, Path((t, x, r)): P3| {
                        grant(s, a, t, x, r, $target, $group)
                    })
                    .delete(|s: State<Identity>, a: Authenticated, Path((t, x, r)): P3| {
                        revoke(s, a, t, x, r, $target, $group)
                    }),
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
                get(|s: State<Identity>, a: Authenticated, Path((x, r)): P2| {
                    check(s, a, SYSTEM_TARGET.into(), x, r, TargetKind::System, $group)
                })
                .put(|s: State<Identity>, a: Authenticated, Path((x, r)): P2| {
                    grant(s, a, SYSTEM_TARGET.into(), x, r, TargetKind::System, $group)
                })
                .delete(|s: State<Identity>, a: Authenticated, Path((x, r)): P2| {
                    revoke(s, a, SYSTEM_TARGET.into(), x, r, TargetKind::System, $group)
                }),
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
async fn resolve(
    id: &Identity,
    target: TargetKind,
    target_id: &str,
    group: bool,
    actor_id: &str,
) -> Result<Target, Error> {
    let mut t = match target {
        TargetKind::Project => projects::target(&projects::find(id, target_id).await?),
        TargetKind::Domain => {
            let d = domains::find(id, target_id).await?;
            Target::new().with("target.domain.id", d.id.as_str())
        }
        TargetKind::System => Target::new(),
    };
    let a = if group {
        groups::target(&groups::find(id, actor_id).await?)
    } else {
        users::target(&users::find(id, actor_id).await?)
    };
    t.values.extend(a.values);
    Ok(t)
}

fn rule(target: TargetKind, group: bool, action: &str) -> String {
    match target {
        TargetKind::System => format!(
            "identity:{action}_system_grant{}_for_{}",
            if action == "list" { "s" } else { "" },
            if group { "group" } else { "user" }
        ),
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
    Ok(Assignment {
        kind: AssignmentKind::of(group, target),
        actor_id: actor_id.into(),
        target_id: target_id.into(),
        role_id: role.id,
        inherited: false,
    })
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
    /// The domain or project an effective entry was inherited from
    /// (`a` is then the assignment on one project below it).
    inherited_from: Option<(TargetKind, String)>,
}

impl Entry {
    fn direct(a: Assignment) -> Entry {
        Entry { a, via_group: None, prior_role: None, inherited_from: None }
    }
}

/// A query flag as Keystone reads it (`effective`, `include_names`,
/// `include_subtree`): present and not "0".
fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v != "0")
}

/// `GET /v3/role_assignments`, Keystone's filters and modes:
/// `user.id`, `group.id`, `role.id`, `scope.project.id` (with
/// `include_subtree`), `scope.domain.id`, `scope.system`,
/// `scope.OS-INHERIT:inherited_to`, `effective` (groups expanded to their
/// members, inherited assignments to the projects they reach, implied roles
/// added, domain-specific roles dropped) and `include_names`.
async fn role_assignments(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    q: Query,
) -> ApiResult<Json<Value>> {
    let include_subtree = flag(&q, "include_subtree");
    let project_filter = q.get("scope.project.id").filter(|p| !p.is_empty()).cloned();
    if include_subtree {
        let mut t = Target::new();
        if let Some(pid) = &project_filter {
            let p = projects::find(&id, pid).await?;
            t = projects::target(&p).with("target.domain_id", p.domain_id.as_str());
        }
        id.enforce("identity:list_role_assignments_for_tree", &ctx, t)?;
        if project_filter.is_none() {
            return Err(
                Error::bad_request("scope.project.id must be specified if include_subtree is also specified").into()
            );
        }
    } else {
        let t = match &ctx.scope {
            Scope::Domain { id: d, .. } => Target::new().with("target.domain_id", d.as_str()),
            _ => Target::new(),
        };
        id.enforce("identity:list_role_assignments", &ctx, t)?;
    }
    let given = |k: &str| q.get(k).is_some_and(|v| !v.is_empty());
    if given("scope.domain.id") && given("scope.project.id") {
        return Err(Error::bad_request("Specify a domain or project, not both").into());
    }
    if !include_subtree && given("scope.domain.id") && given("scope.system") {
        return Err(Error::bad_request("Specify system or domain, not both").into());
    }
    if !include_subtree && given("scope.project.id") && given("scope.system") {
        return Err(Error::bad_request("Specify system or project, not both").into());
    }
    if given("user.id") && given("group.id") {
        return Err(Error::bad_request("Specify a user or group, not both").into());
    }
    let effective = flag(&q, "effective");
    let include_names = flag(&q, "include_names");
    // None: both; Some(true): only inherited; Some(false): only direct
    let inherited = q.get("scope.OS-INHERIT:inherited_to").map(|v| v == "projects");
    let domain_filter = q.get("scope.domain.id").filter(|d| !d.is_empty()).cloned();
    if effective && given("group.id") {
        return Err(
            Error::bad_request("Combining effective and group filter will always result in an empty list.").into()
        );
    }
    if effective && inherited == Some(true) && domain_filter.is_some() {
        return Err(Error::bad_request(
            "Combining effective, domain and inherited filters will always result in an empty list.",
        )
        .into());
    }
    let system = !include_subtree && q.get("scope.system").map(String::as_str) == Some("all");
    let (user_id, group_id) = (q.get("user.id").cloned(), q.get("group.id").cloned());
    let role_filter = q.get("role.id").cloned();
    // the projects of interest: the project, and its subtree when asked
    let project_ids: Option<Vec<String>> = match &project_filter {
        Some(pid) => {
            let mut v = vec![pid.clone()];
            if include_subtree {
                let p = projects::find(&id, pid).await?;
                v.extend(id.store().project_subtree(&p).await?.into_iter().map(|c| c.id));
            }
            Some(v)
        }
        None => None,
    };
    // a plain listing on one target reads only that target's rows
    let mut f = AssignmentFilter::default();
    if !effective {
        f.target_id = match (&project_ids, &domain_filter) {
            (Some(pids), _) if pids.len() == 1 => Some(pids[0].clone()),
            (None, Some(d)) => Some(d.clone()),
            _ => None,
        };
    }
    let all = id.store().list_assignments(&f).await?;
    let mut entries: Vec<Entry> = if effective {
        effective_entries(&id, all, user_id.as_deref(), project_ids.as_deref(), domain_filter.as_deref(), inherited)
            .await?
    } else {
        all.into_iter()
            .filter(|a| {
                let target_ok = match (a.kind.target(), &project_ids, &domain_filter) {
                    (TargetKind::Project, Some(pids), _) => pids.contains(&a.target_id),
                    (TargetKind::Domain, None, Some(d)) => a.target_id == *d,
                    (TargetKind::System, None, None) => true,
                    (_, None, None) => !system,
                    _ => false,
                };
                let actor_ok = match (&user_id, &group_id) {
                    (Some(u), _) => !a.kind.is_group() && a.actor_id == *u,
                    (None, Some(g)) => a.kind.is_group() && a.actor_id == *g,
                    (None, None) => true,
                };
                target_ok
                    && actor_ok
                    && inherited.is_none_or(|i| a.inherited == i)
                    && role_filter.as_ref().is_none_or(|r| a.role_id == *r)
            })
            .map(Entry::direct)
            .collect()
    };
    if effective {
        if let Some(r) = &role_filter {
            entries.retain(|e| e.a.role_id == *r);
        }
    }
    // a domain-scoped caller sees the assignments of its domain only
    if let Scope::Domain { id: did, .. } = &ctx.scope {
        let mut kept = Vec::with_capacity(entries.len());
        let mut domains: HashMap<String, Option<String>> = HashMap::new();
        for e in entries {
            let in_domain = match e.a.kind.target() {
                TargetKind::Domain => e.a.target_id == *did,
                TargetKind::Project => {
                    if !domains.contains_key(&e.a.target_id) {
                        let d = id.store().get_project(&e.a.target_id).await?.map(|p| p.domain_id);
                        domains.insert(e.a.target_id.clone(), d);
                    }
                    domains[&e.a.target_id].as_deref() == Some(did.as_str())
                }
                TargetKind::System => false,
            };
            if in_domain {
                kept.push(e);
            }
        }
        entries = kept;
    }
    let mut items = Vec::with_capacity(entries.len());
    let mut names = Names::default();
    for e in &entries {
        items.push(render(&id, e, include_names, &mut names).await?);
    }
    Ok(list_response(&id, "role_assignments", "role_assignments", &q, items))
}

/// The effective assignments: direct ones on the targets asked for, and
/// inherited ones expanded to each project they reach (restricted to the
/// projects asked for); then group members and implied roles. System
/// assignments are not part of the effective list, as in Keystone.
async fn effective_entries(
    id: &Identity,
    all: Vec<Assignment>,
    user_id: Option<&str>,
    project_ids: Option<&[String]>,
    domain_filter: Option<&str>,
    inherited: Option<bool>,
) -> Result<Vec<Entry>, Error> {
    // with a domain filter only direct assignments count: domains inherit nothing
    let inherited = if domain_filter.is_some() { Some(false) } else { inherited };
    let actors: Option<HashSet<String>> = match user_id {
        Some(u) => {
            let mut s: HashSet<String> = id.store().groups_of_user(u).await?.into_iter().map(|g| g.id).collect();
            s.insert(u.to_string());
            Some(s)
        }
        None => None,
    };
    let mut reach: HashMap<(TargetKind, String), Vec<String>> = HashMap::new();
    let mut entries = Vec::new();
    for a in all {
        let target = a.kind.target();
        if target == TargetKind::System || actors.as_ref().is_some_and(|s| !s.contains(&a.actor_id)) {
            continue;
        }
        if a.inherited {
            if inherited == Some(false) {
                continue;
            }
            let key = (target, a.target_id.clone());
            if !reach.contains_key(&key) {
                let projects = match target {
                    TargetKind::Domain => {
                        let f = crate::store::projects::ProjectFilter {
                            domain_id: Some(&a.target_id),
                            ..Default::default()
                        };
                        id.store().list_projects(&f).await?
                    }
                    _ => match id.store().get_project(&a.target_id).await? {
                        Some(p) => id.store().project_subtree(&p).await?,
                        None => Vec::new(),
                    },
                };
                reach.insert(key.clone(), projects.into_iter().map(|p| p.id).collect());
            }
            for pid in &reach[&key] {
                if project_ids.is_some_and(|pids| !pids.contains(pid)) {
                    continue;
                }
                let mut e = a.clone();
                e.kind = AssignmentKind::of(a.kind.is_group(), TargetKind::Project);
                e.target_id = pid.clone();
                e.inherited = false;
                entries.push(Entry { a: e, via_group: None, prior_role: None, inherited_from: Some(key.clone()) });
            }
        } else {
            if inherited == Some(true) {
                continue;
            }
            let target_ok = match (target, project_ids, domain_filter) {
                (TargetKind::Project, Some(pids), _) => pids.contains(&a.target_id),
                (TargetKind::Domain, None, Some(d)) => a.target_id == d,
                (_, None, None) => true,
                _ => false,
            };
            if target_ok {
                entries.push(Entry::direct(a));
            }
        }
    }
    let mut entries = expand_groups(id, entries).await?;
    if let Some(u) = user_id {
        entries.retain(|e| e.a.actor_id == u);
    }
    expand_implied(id, entries).await
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
            out.push(Entry {
                a,
                via_group: Some(e.a.actor_id.clone()),
                prior_role: None,
                inherited_from: e.inherited_from.clone(),
            });
        }
    }
    Ok(out)
}

/// Adds the roles each assignment implies and drops domain-specific roles.
async fn expand_implied(id: &Identity, entries: Vec<Entry>) -> Result<Vec<Entry>, Error> {
    let rules = id.store().implied_roles().await?;
    let domain_roles: HashSet<String> =
        id.store().all_roles().await?.into_iter().filter(|r| r.domain_id.is_some()).map(|r| r.id).collect();
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
                    out.push(Entry {
                        a,
                        via_group: e.via_group.clone(),
                        prior_role: Some(r.clone()),
                        inherited_from: e.inherited_from.clone(),
                    });
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
        let dom =
            |d: Option<crate::model::Domain>| d.map(|d| json!({"id": d.id, "name": d.name})).unwrap_or(Value::Null);
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
        TargetKind::Project => {
            json!({"project": if names { n.get(id, "project", &a.target_id).await? } else { json!({"id": a.target_id}) }})
        }
        TargetKind::Domain => {
            json!({"domain": if names { n.get(id, "domain", &a.target_id).await? } else { json!({"id": a.target_id}) }})
        }
        TargetKind::System => json!({"system": {"all": true}}),
    };
    let inherited = a.inherited || e.inherited_from.is_some();
    if inherited {
        scope["OS-INHERIT:inherited_to"] = json!("projects");
    }
    // the link names the grant the entry comes from
    let grant_role = e.prior_role.clone().unwrap_or_else(|| a.role_id.clone());
    let (assign_actor, assign_group) = match &e.via_group {
        Some(g) => (g.clone(), true),
        None => (a.actor_id.clone(), a.kind.is_group()),
    };
    let (grant_target, grant_target_id) = match &e.inherited_from {
        Some((k, t)) => (*k, t.as_str()),
        None => (a.kind.target(), a.target_id.as_str()),
    };
    let path = format!("{}/roles/{grant_role}", grant_path(grant_target, grant_target_id, assign_group, &assign_actor));
    let path = if inherited { format!("OS-INHERIT/{path}/inherited_to_projects") } else { path };
    let mut links = json!({"assignment": id.link(&path)});
    if let Some(g) = &e.via_group {
        links["membership"] = json!(id.link(&format!("groups/{g}/users/{}", a.actor_id)));
    }
    if let Some(p) = &e.prior_role {
        links["prior_role"] = json!(id.link(&format!("prior_role/{}/implies/{p}", a.role_id)));
    }
    Ok(json!({"role": role, actor_kind: actor, "scope": scope, "links": links}))
}
