//! `/v3/projects` (a project with `is_domain: true` is a domain, as in Keystone).

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::{new_id, Error};
use rustack_http::context::Scope;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use rustack_policy::Target;
use serde_json::{json, Value};

use super::body::Body;
use super::{created, domains, list_response, no_content, ok, query_bool, Query};
use crate::bootstrap::DEFAULT_DOMAIN_ID;
use crate::model::{Project, TargetKind};
use crate::store::RevocationEvent;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/projects", get(list).post(create))
        .route("/v3/projects/{project_id}", get(show).patch(update).delete(delete))
        .route("/v3/projects/{project_id}/tags", get(list_tags).put(replace_tags).delete(clear_tags))
        .route("/v3/projects/{project_id}/tags/{tag}", get(check_tag).put(add_tag).delete(delete_tag))
}

/// Tag rules (Keystone 30's defaults): (name, check string, allowed with a
/// domain-scoped token).
const PROJECT_READER: &str = "(rule:admin_required) or (role:reader and system_scope:all) or \
     (role:reader and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s) or \
     project_id:%(target.project.id)s";
const PROJECT_MANAGER: &str =
    "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)";

pub(crate) const RULES: &[(&str, &str, bool)] = &[
    ("identity:list_project_tags", PROJECT_READER, true),
    ("identity:get_project_tag", PROJECT_READER, true),
    ("identity:update_project_tags", PROJECT_MANAGER, true),
    ("identity:create_project_tag", PROJECT_MANAGER, true),
    ("identity:delete_project_tags", PROJECT_MANAGER, true),
    ("identity:delete_project_tag", PROJECT_MANAGER, true),
];

/// Keystone's limit on the depth of a project tree (`max_project_tree_depth`).
const MAX_PROJECT_TREE_DEPTH: usize = 5;
/// Keystone's limit on the number of tags of a project.
const MAX_TAGS: usize = 80;

pub(crate) async fn find(id: &Identity, project_id: &str) -> Result<Project, Error> {
    id.store().get_project(project_id).await?.ok_or_else(|| Error::not_found_entity("project", project_id))
}

pub(crate) fn target(p: &Project) -> Target {
    Target::new()
        .with("target.project.id", p.id.as_str())
        .with("target.project.domain_id", p.domain_id.as_str())
        .with("target.project.name", p.name.as_str())
}

/// The domain a new entity goes to when the body names none: the caller's
/// domain scope, else the default domain.
pub(crate) fn default_domain(ctx: &RequestContext) -> String {
    match &ctx.scope {
        Scope::Domain { id, .. } => id.clone(),
        _ => DEFAULT_DOMAIN_ID.to_string(),
    }
}

async fn list(State(id): State<Identity>, Authenticated(ctx): Authenticated, q: Query) -> ApiResult<Json<Value>> {
    let t = match q.get("domain_id") {
        Some(d) => Target::new().with("target.domain_id", d.as_str()),
        None => Target::new(),
    };
    id.enforce("identity:list_projects", &ctx, t)?;
    if query_bool(&q, "is_domain") == Some(true) {
        let domains = id.store().list_domains(q.get("name").map(String::as_str), query_bool(&q, "enabled")).await?;
        let items =
            domains.iter().filter(|_| tag_filter(&q, &[])).map(|d| d.as_project_json(id.public_url())).collect();
        return Ok(list_response(&id, "projects", "projects", &q, items));
    }
    let mut domain_filter = q.get("domain_id").cloned();
    if let Scope::Domain { id: did, .. } = &ctx.scope {
        domain_filter = Some(did.clone());
    }
    let f = crate::store::projects::ProjectFilter {
        name: q.get("name").map(String::as_str),
        domain_id: domain_filter.as_deref(),
        parent_id: q.get("parent_id").map(String::as_str),
        enabled: query_bool(&q, "enabled"),
        ids: None,
    };
    let projects = id.store().list_projects(&f).await?;
    let items = projects
        .iter()
        .filter(|p| crate::store::inexact_match("name", &p.name, &q))
        .filter(|p| tag_filter(&q, &project_tags(p)))
        .map(|p| p.to_json(id.public_url()))
        .collect();
    Ok(list_response(&id, "projects", "projects", &q, items))
}

/// Keystone's tag filters of `GET /v3/projects`, each a comma-separated
/// list: `tags` (has all), `tags-any` (has one), `not-tags` (lacks one),
/// `not-tags-any` (has none); combined with AND.
fn tag_filter(q: &std::collections::HashMap<String, String>, tags: &[String]) -> bool {
    let list = |k: &str| q.get(k).map(|v| v.split(',').map(str::to_string).collect::<Vec<_>>());
    let has = |t: &String| tags.contains(t);
    if let Some(want) = list("tags") {
        if !want.iter().all(has) {
            return false;
        }
    }
    if let Some(any) = list("tags-any") {
        if !any.iter().any(has) {
            return false;
        }
    }
    if let Some(not) = list("not-tags") {
        if not.iter().all(has) {
            return false;
        }
    }
    if let Some(none) = list("not-tags-any") {
        if none.iter().any(has) {
            return false;
        }
    }
    true
}

/// The tags of a project (kept in its `extra` under "tags").
pub(crate) fn project_tags(p: &Project) -> Vec<String> {
    match p.extra.get("tags") {
        Some(Value::Array(a)) => a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

fn set_tags(p: &mut Project, tags: Vec<String>) {
    p.extra.insert("tags".into(), Value::Array(tags.into_iter().map(Value::String).collect()));
}

/// One tag as Keystone's schema has it: 1 to 255 characters, no '/' or ','.
fn valid_tag(t: &str) -> bool {
    !t.is_empty() && t.chars().count() <= 255 && !t.contains('/') && !t.contains(',')
}

/// A list of tags (at most 80, unique, each valid), whitespace trimmed.
fn tag_list(v: Value, field: &str) -> Result<Vec<String>, Error> {
    let bad = |why: &str| Error::bad_request(format!("Invalid input for field '{field}': {why}"));
    let Value::Array(a) = v else {
        return Err(bad("expected a list."));
    };
    let mut out: Vec<String> = Vec::with_capacity(a.len());
    for t in &a {
        match t.as_str() {
            Some(s) if valid_tag(s) => {
                if out.iter().any(|o| o == s) {
                    return Err(bad(&format!("the tag '{s}' is given twice.")));
                }
                out.push(s.to_string());
            }
            _ => return Err(bad("each tag is a string of 1 to 255 characters without '/' or ','.")),
        }
    }
    if out.len() > MAX_TAGS {
        return Err(bad(&format!("at most {MAX_TAGS} tags.")));
    }
    Ok(out.into_iter().map(|t| t.trim().to_string()).collect())
}

fn tags(b: &mut Body) -> Result<Option<Vec<String>>, Error> {
    match b.take("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => tag_list(v, "project.tags").map(Some),
    }
}

async fn create(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut b = Body::new(v, "project")?;
    if b.boolean("is_domain", true)? == Some(true) {
        id.enforce("identity:create_domain", &ctx, Target::new())?;
        b.take("domain_id");
        b.take("parent_id");
        let d = domains::create_from(&id, &mut b).await?;
        return Ok(created("project", d.as_project_json(id.public_url())));
    }
    let name = b.name("name", 64, true)?.expect("required");
    let mut parent_id = b.id("parent_id")?;
    let mut body_domain = b.id("domain_id")?;
    // a parent that is a domain makes a top-level project of that domain
    if let Some(pid) = parent_id.clone() {
        if id.store().get_project(&pid).await?.is_none() && id.store().get_domain(&pid).await?.is_some() {
            match &body_domain {
                Some(d) if *d != pid => {
                    return Err(Error::bad_request(
                        "Invalid input for field 'project.domain_id': it must be the parent's domain.",
                    )
                    .into())
                }
                _ => body_domain = Some(pid),
            }
            parent_id = None;
        }
    }
    let parent = match &parent_id {
        Some(pid) => Some(id.store().get_project(pid).await?.ok_or_else(|| {
            Error::bad_request(format!("Invalid input for field 'project.parent_id': could not find project: {pid}."))
        })?),
        None => None,
    };
    let domain_id = match (body_domain, &parent) {
        (Some(d), Some(p)) if d != p.domain_id => {
            return Err(Error::bad_request(
                "Invalid input for field 'project.domain_id': it must be the parent's domain.",
            )
            .into())
        }
        (Some(d), _) => d,
        (None, Some(p)) => p.domain_id.clone(),
        (None, None) => default_domain(&ctx),
    };
    let mut p = Project {
        id: new_id(),
        name,
        domain_id,
        parent_id: parent.as_ref().map(|p| p.id.clone()),
        description: b.string("description", 65535, true)?.unwrap_or_default(),
        enabled: b.boolean("enabled", true)?.unwrap_or(true),
        extra: Default::default(),
    };
    let tags = tags(&mut b)?;
    b.forbid("id")?;
    p.extra = b.extra();
    if let Some(t) = tags {
        set_tags(&mut p, t);
    }
    id.enforce("identity:create_project", &ctx, target(&p))?;
    let domain = id.store().get_domain(&p.domain_id).await?.ok_or_else(|| {
        Error::bad_request(format!(
            "Invalid input for field 'project.domain_id': could not find domain: {}.",
            p.domain_id
        ))
    })?;
    // the whole branch above the new project must be enabled, and not too deep
    let mut branch: Vec<(String, bool)> = Vec::new();
    if let Some(parent) = &parent {
        branch.push((parent.id.clone(), parent.enabled));
        for a in id.store().project_ancestors(parent).await? {
            branch.push((a.id, a.enabled));
        }
    }
    branch.push((domain.id.clone(), domain.enabled));
    if let Some((off, _)) = branch.iter().find(|(_, enabled)| !enabled) {
        return Err(Error::bad_request(format!(
            "cannot create a project in a branch containing a disabled project: {off}"
        ))
        .into());
    }
    if branch.len() + 1 > MAX_PROJECT_TREE_DEPTH + 1 {
        let at = parent.as_ref().map(|p| p.id.as_str()).unwrap_or(&domain.id);
        return Err(Error::forbidden(format!("Max hierarchy depth reached for {at} branch.")).into());
    }
    id.store().create_project(&p).await?;
    Ok(created("project", p.to_json(id.public_url())))
}

/// A boolean query flag as Keystone reads `subtree_as_list` and the like:
/// present and not "0".
fn flag(q: &std::collections::HashMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v != "0")
}

async fn show(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(pid): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    if let Some(p) = id.store().get_project(&pid).await? {
        id.enforce("identity:get_project", &ctx, target(&p))?;
        let mut v = p.to_json(id.public_url());
        expand_hierarchy(&id, &ctx, &p, &q, &mut v).await?;
        return Ok(ok("project", v));
    }
    let d = id.store().get_domain(&pid).await?.ok_or_else(|| Error::not_found_entity("project", &pid))?;
    id.enforce("identity:get_domain", &ctx, Target::new().with("target.domain.id", d.id.as_str()))?;
    Ok(ok("project", d.as_project_json(id.public_url())))
}

/// `parents_as_list`, `parents_as_ids`, `subtree_as_list`, `subtree_as_ids`
/// (and `include_limits` with the list forms) of `GET /v3/projects/{id}`.
/// The list forms show only the projects the caller has a role on.
async fn expand_hierarchy(
    id: &Identity,
    ctx: &RequestContext,
    p: &Project,
    q: &std::collections::HashMap<String, String>,
    v: &mut Value,
) -> Result<(), Error> {
    let (parents_list, parents_ids) = (flag(q, "parents_as_list"), flag(q, "parents_as_ids"));
    let (subtree_list, subtree_ids) = (flag(q, "subtree_as_list"), flag(q, "subtree_as_ids"));
    if parents_list && parents_ids {
        return Err(Error::bad_request("Cannot use parents_as_list and parents_as_ids query params at the same time."));
    }
    if subtree_list && subtree_ids {
        return Err(Error::bad_request("Cannot use subtree_as_list and subtree_as_ids query params at the same time."));
    }
    if !(parents_list || parents_ids || subtree_list || subtree_ids) {
        return Ok(());
    }
    let include_limits = flag(q, "include_limits");
    let visible = if parents_list || subtree_list {
        id.scopable_targets(&ctx.user_id, TargetKind::Project).await?
    } else {
        Vec::new()
    };
    let wrap = |p: &Project, limits: Option<Vec<Value>>| {
        let mut m = p.to_json(id.public_url());
        if let Some(l) = limits {
            m["limits"] = Value::Array(l);
        }
        json!({"project": m})
    };
    let limits_of = |pid: String| async move {
        let f = crate::store::limits::LimitFilter { project_id: Some(pid), ..Default::default() };
        Ok::<_, Error>(id.store().list_limits(&f).await?.iter().map(|l| l.to_json(id.public_url())).collect::<Vec<_>>())
    };
    if parents_list || parents_ids {
        let parents = id.store().project_ancestors(p).await?;
        if parents_list {
            let mut out = Vec::new();
            for a in parents.iter().filter(|a| visible.contains(&a.id)) {
                let l = if include_limits { Some(limits_of(a.id.clone()).await?) } else { None };
                out.push(wrap(a, l));
            }
            v["parents"] = Value::Array(out);
        } else {
            // {parent: {grandparent: {domain: null}}}
            let mut nested = json!({ p.domain_id.clone(): null });
            for a in parents.iter().rev() {
                nested = json!({ a.id.clone(): nested });
            }
            v["parents"] = nested;
        }
    }
    if subtree_list || subtree_ids {
        let subtree = id.store().project_subtree(p).await?;
        if subtree_list {
            let mut out = Vec::new();
            for c in subtree.iter().filter(|c| visible.contains(&c.id)) {
                let l = if include_limits { Some(limits_of(c.id.clone()).await?) } else { None };
                out.push(wrap(c, l));
            }
            v["subtree"] = Value::Array(out);
        } else {
            v["subtree"] = subtree_as_ids(&p.id, &subtree);
        }
    }
    Ok(())
}

/// `{child: {grandchild: null}, child2: null}`, or null without children.
fn subtree_as_ids(root: &str, subtree: &[Project]) -> Value {
    let children: Vec<&Project> = subtree.iter().filter(|c| c.parent_id.as_deref() == Some(root)).collect();
    if children.is_empty() {
        return Value::Null;
    }
    let mut m = serde_json::Map::new();
    for c in children {
        m.insert(c.id.clone(), subtree_as_ids(&c.id, subtree));
    }
    Value::Object(m)
}

async fn update(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(pid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut b = Body::new(v, "project")?;
    let Some(mut p) = id.store().get_project(&pid).await? else {
        let d = domains::find(&id, &pid).await.map_err(|_| Error::not_found_entity("project", &pid))?;
        id.enforce("identity:update_domain", &ctx, Target::new().with("target.domain.id", d.id.as_str()))?;
        b.take("is_domain");
        b.take("id");
        let d = domains::update_from(&id, d, &mut b).await?;
        return Ok(ok("project", d.as_project_json(id.public_url())));
    };
    id.enforce("identity:update_project", &ctx, target(&p))?;
    if let Some(Value::String(bid)) = b.take("id") {
        if bid != p.id {
            return Err(Error::bad_request("Invalid input for field 'project.id': the id cannot be changed.").into());
        }
    }
    for fixed in ["domain_id", "parent_id", "is_domain"] {
        if let Some(v) = b.take(fixed) {
            let same = match fixed {
                "domain_id" => v.as_str() == Some(p.domain_id.as_str()),
                "parent_id" => v.as_str() == Some(p.parent_id.as_deref().unwrap_or(&p.domain_id)),
                _ => v == Value::Bool(false),
            };
            if !same && fixed == "parent_id" {
                return Err(Error::forbidden("Update of `parent_id` is not allowed.").into());
            }
            if !same {
                return Err(Error::bad_request(format!(
                    "Invalid input for field 'project.{fixed}': it cannot be changed."
                ))
                .into());
            }
        }
    }
    if let Some(n) = b.name("name", 64, false)? {
        p.name = n;
    }
    if let Some(d) = b.string("description", 65535, true)? {
        p.description = d;
    }
    let was_enabled = p.enabled;
    if let Some(e) = b.boolean("enabled", true)? {
        p.enabled = e;
    }
    let tags = tags(&mut b)?;
    for (k, v) in b.extra() {
        p.extra.insert(k, v);
    }
    if let Some(t) = tags {
        set_tags(&mut p, t);
    }
    if !was_enabled && p.enabled {
        // the whole branch above must be enabled
        let domain_enabled = id.store().get_domain(&p.domain_id).await?.is_none_or(|d| d.enabled);
        let parents_enabled = id.store().project_ancestors(&p).await?.iter().all(|a| a.enabled);
        if !domain_enabled || !parents_enabled {
            return Err(
                Error::forbidden(format!("Cannot enable project {} since it has disabled parents", p.id)).into()
            );
        }
    }
    if was_enabled && !p.enabled && id.store().project_subtree(&p).await?.iter().any(|c| c.enabled) {
        return Err(Error::forbidden(format!(
            "Cannot disable project {} since its subtree contains enabled projects.",
            p.id
        ))
        .into());
    }
    id.store().update_project(&p).await?;
    if was_enabled && !p.enabled {
        id.revoke(RevocationEvent { project_id: Some(p.id.clone()), ..Default::default() }).await?;
    }
    id.changed();
    Ok(ok("project", p.to_json(id.public_url())))
}

async fn delete(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(pid): Path<String>,
) -> ApiResult<Response> {
    let Some(p) = id.store().get_project(&pid).await? else {
        let d = domains::find(&id, &pid).await.map_err(|_| Error::not_found_entity("project", &pid))?;
        id.enforce("identity:delete_domain", &ctx, Target::new().with("target.domain.id", d.id.as_str()))?;
        domains::delete_domain(&id, &d).await?;
        return Ok(no_content());
    };
    id.enforce("identity:delete_project", &ctx, target(&p))?;
    if !id.store().project_children(&p.id).await?.is_empty() {
        return Err(Error::forbidden(format!(
            "Cannot delete the project {} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a subtree.",
            p.id
        ))
        .into());
    }
    id.store().delete_project(&p.id).await?;
    id.revoke(RevocationEvent { project_id: Some(p.id.clone()), ..Default::default() }).await?;
    Ok(no_content())
}

// ---------------------------------------------------------------- tags

/// Loads the project of a tag URL for policy; Keystone checks policy with
/// whatever it found and reports a missing project afterwards.
async fn tag_target(id: &Identity, ctx: &RequestContext, rule: &str, pid: &str) -> Result<Project, Error> {
    let p = id.store().get_project(pid).await?;
    id.enforce(rule, ctx, p.as_ref().map(target).unwrap_or_default())?;
    p.ok_or_else(|| Error::not_found_entity("project", pid))
}

fn tags_body(id: &Identity, p: &Project, tags: Vec<String>) -> Value {
    json!({"tags": tags, "links": {"self": id.link(&format!("projects/{}/tags", p.id))}})
}

async fn list_tags(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(pid): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = tag_target(&id, &ctx, "identity:list_project_tags", &pid).await?;
    Ok(Json(tags_body(&id, &p, project_tags(&p))))
}

async fn replace_tags(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(pid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let mut p = tag_target(&id, &ctx, "identity:update_project_tags", &pid).await?;
    let Value::Object(mut m) = v else {
        return Err(Error::bad_request("Invalid input for the request body: expected a JSON object.").into());
    };
    let tags = tag_list(m.remove("tags").unwrap_or(Value::Null), "tags")?;
    if let Some(k) = m.keys().next() {
        return Err(Error::bad_request(format!(
            "Invalid input for field '{k}': additional properties are not allowed."
        ))
        .into());
    }
    set_tags(&mut p, tags.clone());
    id.store().update_project(&p).await?;
    Ok(Json(tags_body(&id, &p, tags)))
}

async fn clear_tags(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(pid): Path<String>,
) -> ApiResult<Response> {
    let mut p = tag_target(&id, &ctx, "identity:delete_project_tags", &pid).await?;
    set_tags(&mut p, Vec::new());
    id.store().update_project(&p).await?;
    Ok(no_content())
}

async fn check_tag(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((pid, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    let p = tag_target(&id, &ctx, "identity:get_project_tag", &pid).await?;
    if !project_tags(&p).contains(&tag) {
        return Err(Error::not_found(format!("Could not find project tag: {tag}.")).into());
    }
    Ok(no_content())
}

async fn add_tag(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((pid, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut p = tag_target(&id, &ctx, "identity:create_project_tag", &pid).await?;
    if !valid_tag(&tag) {
        return Err(Error::bad_request(
            "Invalid input for field 'tag': a tag is a string of 1 to 255 characters without '/' or ','.",
        )
        .into());
    }
    let mut tags = project_tags(&p);
    tags.push(tag.clone());
    let tags = tag_list(json!(tags), "tags")?;
    set_tags(&mut p, tags);
    id.store().update_project(&p).await?;
    let location = id.link(&format!("projects/{}/tags/{}", p.id, tag.trim()));
    let mut r = StatusCode::CREATED.into_response();
    if let Ok(h) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, h);
    }
    Ok(r)
}

async fn delete_tag(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((pid, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    let mut p = tag_target(&id, &ctx, "identity:delete_project_tag", &pid).await?;
    let mut tags = project_tags(&p);
    let Some(i) = tags.iter().position(|t| *t == tag) else {
        return Err(Error::not_found(format!("Could not find project tag: {tag}.")).into());
    };
    tags.remove(i);
    set_tags(&mut p, tags);
    id.store().update_project(&p).await?;
    Ok(no_content())
}
