//! OS-EP-FILTER: endpoint groups (`/v3/OS-EP-FILTER/endpoint_groups`) and the
//! endpoints and endpoint groups a project is associated with, which limit
//! the catalog of its tokens (see [`crate::token::catalog`]).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::{new_id, Error};
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use rustack_policy::Target;
use serde_json::{json, Map, Value};

use super::body::Body;
use super::{created, list_response, no_content, ok, projects, Query};
use crate::model::Endpoint;
use crate::store::endpoint_filter::EndpointGroup;
use crate::token::catalog::group_matches;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/OS-EP-FILTER/endpoint_groups", get(list_groups).post(create_group))
        .route("/v3/OS-EP-FILTER/endpoint_groups/{group_id}", get(show_group).patch(update_group).delete(delete_group))
        .route("/v3/OS-EP-FILTER/endpoint_groups/{group_id}/projects", get(group_projects))
        .route("/v3/OS-EP-FILTER/endpoint_groups/{group_id}/endpoints", get(group_endpoints))
        .route(
            "/v3/OS-EP-FILTER/endpoint_groups/{group_id}/projects/{project_id}",
            get(check_group_project).put(add_group_project).delete(remove_group_project),
        )
        .route("/v3/OS-EP-FILTER/projects/{project_id}/endpoints", get(project_endpoints))
        .route(
            "/v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}",
            get(check_project_endpoint).put(add_project_endpoint).delete(remove_project_endpoint),
        )
        .route("/v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups", get(project_groups))
        .route("/v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects", get(endpoint_projects))
}

const ADMIN: &str = "rule:admin_required";
const ADMIN_OR_SYSTEM_READER: &str = "rule:admin_required or (role:reader and system_scope:all)";

/// Policy rules of this API: (name, check string, allowed with a domain-scoped token).
pub(crate) const RULES: &[(&str, &str, bool)] = &[
    ("identity:create_endpoint_group", ADMIN, false),
    ("identity:list_endpoint_groups", ADMIN_OR_SYSTEM_READER, false),
    ("identity:get_endpoint_group", ADMIN_OR_SYSTEM_READER, false),
    ("identity:update_endpoint_group", ADMIN, false),
    ("identity:delete_endpoint_group", ADMIN, false),
    ("identity:list_projects_associated_with_endpoint_group", ADMIN_OR_SYSTEM_READER, false),
    ("identity:list_endpoints_associated_with_endpoint_group", ADMIN_OR_SYSTEM_READER, false),
    ("identity:get_endpoint_group_in_project", ADMIN_OR_SYSTEM_READER, false),
    ("identity:list_endpoint_groups_for_project", ADMIN_OR_SYSTEM_READER, false),
    ("identity:add_endpoint_group_to_project", ADMIN, false),
    ("identity:remove_endpoint_group_from_project", ADMIN, false),
    ("identity:list_projects_for_endpoint", ADMIN_OR_SYSTEM_READER, false),
    ("identity:add_endpoint_to_project", ADMIN, false),
    ("identity:check_endpoint_in_project", ADMIN_OR_SYSTEM_READER, false),
    ("identity:list_endpoints_for_project", ADMIN_OR_SYSTEM_READER, false),
    ("identity:remove_endpoint_from_project", ADMIN, false),
];

// ---- endpoint groups ----

fn render(id: &Identity, g: &EndpointGroup) -> Value {
    json!({"id": g.id, "name": g.name, "description": g.description, "filters": g.filters,
           "links": {"self": id.link(&format!("OS-EP-FILTER/endpoint_groups/{}", g.id))}})
}

async fn find_group(id: &Identity, gid: &str) -> Result<EndpointGroup, Error> {
    id.store()
        .get_endpoint_group(gid)
        .await?
        .ok_or_else(|| Error::not_found(format!("Could not find Endpoint Group: {gid}.")))
}

async fn find_endpoint(id: &Identity, eid: &str) -> Result<Endpoint, Error> {
    id.store().get_endpoint(eid).await?.ok_or_else(|| Error::not_found_entity("endpoint", eid))
}

fn invalid(field: &str, why: &str) -> Error {
    Error::bad_request(format!("Invalid input for field 'endpoint_group.{field}': {why}"))
}

/// `filters`: an object over `service_id`, `region_id` and `interface`.
fn parse_filters(v: Value) -> Result<Map<String, Value>, Error> {
    let Value::Object(m) = v else {
        return Err(invalid("filters", "expected an object."));
    };
    for (k, x) in &m {
        match (k.as_str(), x) {
            ("service_id", Value::String(_)) | ("region_id", Value::String(_) | Value::Null) => {}
            ("interface", Value::String(s)) if ["admin", "internal", "public"].contains(&s.as_str()) => {}
            ("interface", _) => return Err(invalid("filters.interface", "one of admin, internal, public.")),
            ("service_id" | "region_id", _) => return Err(invalid(&format!("filters.{k}"), "expected a string.")),
            _ => return Err(invalid("filters", &format!("'{k}' is not one of service_id, region_id, interface."))),
        }
    }
    Ok(m)
}

/// Fields of an endpoint group body; anything else is refused.
fn reject_unknown(b: Body) -> Result<(), Error> {
    match b.extra().into_iter().next() {
        Some((k, _)) => Err(invalid(&k, "additional properties are not allowed.")),
        None => Ok(()),
    }
}

async fn list_groups(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_endpoint_groups", &ctx, Target::new())?;
    if let Some(k) = q.keys().find(|k| k.as_str() != "name") {
        return Err(Error::bad_request(format!("Invalid query parameter '{k}'.")).into());
    }
    let items = id
        .store()
        .list_endpoint_groups(q.get("name").map(String::as_str))
        .await?
        .iter()
        .map(|g| render(&id, g))
        .collect();
    Ok(list_response(&id, "endpoint_groups", "OS-EP-FILTER/endpoint_groups", &q, items))
}

async fn create_group(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:create_endpoint_group", &ctx, Target::new())?;
    let mut b = Body::new(v, "endpoint_group")?;
    let name = b.name("name", 255, true)?.expect("required");
    let description = b.string("description", 65535, true)?;
    let filters = match b.take("filters") {
        None => {
            return Err(Error::bad_request(
                "Invalid input for field 'endpoint_group': 'filters' is a required property.",
            )
            .into())
        }
        Some(f) => parse_filters(f)?,
    };
    if filters.is_empty() {
        return Err(invalid("filters", "filters field is required and cannot be empty.").into());
    }
    reject_unknown(b)?;
    let g = EndpointGroup { id: new_id(), name, description, filters };
    id.store().create_endpoint_group(&g).await?;
    Ok(created("endpoint_group", render(&id, &g)))
}

async fn show_group(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(gid): Path<String>,
) -> ApiResult<Response> {
    id.enforce("identity:get_endpoint_group", &ctx, Target::new())?;
    Ok(ok("endpoint_group", render(&id, &find_group(&id, &gid).await?)))
}

async fn update_group(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(gid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:update_endpoint_group", &ctx, Target::new())?;
    let mut b = Body::new(v, "endpoint_group")?;
    let (has_name, has_desc, has_filters) = (b.has("name"), b.has("description"), b.has("filters"));
    let name = b.name("name", 255, false)?;
    let description = b.string("description", 65535, true)?;
    let filters = b.take("filters").map(parse_filters).transpose()?;
    reject_unknown(b)?;
    if !(has_name || has_desc || has_filters) {
        return Err(Error::bad_request(
            "Invalid input for field 'endpoint_group': at least one attribute to update is required.",
        )
        .into());
    }
    let mut g = find_group(&id, &gid).await?;
    if let Some(n) = name {
        g.name = n;
    }
    if has_desc {
        g.description = description;
    }
    if let Some(f) = filters {
        g.filters = f;
    }
    id.store().update_endpoint_group(&g).await?;
    id.changed();
    Ok(ok("endpoint_group", render(&id, &g)))
}

async fn delete_group(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(gid): Path<String>,
) -> ApiResult<Response> {
    id.enforce("identity:delete_endpoint_group", &ctx, Target::new())?;
    let g = find_group(&id, &gid).await?;
    id.store().delete_endpoint_group(&g.id).await?;
    id.changed();
    Ok(no_content())
}

async fn projects_json(id: &Identity, ids: Vec<String>) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    for pid in ids {
        if let Some(p) = id.store().get_project(&pid).await? {
            out.push(p.to_json(id.public_url()));
        }
    }
    Ok(out)
}

async fn group_projects(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(gid): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_projects_associated_with_endpoint_group", &ctx, Target::new())?;
    let g = find_group(&id, &gid).await?;
    let items = projects_json(&id, id.store().endpoint_group_project_ids(&g.id).await?).await?;
    Ok(list_response(&id, "projects", &format!("OS-EP-FILTER/endpoint_groups/{gid}/projects"), &q, items))
}

async fn group_endpoints(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(gid): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_endpoints_associated_with_endpoint_group", &ctx, Target::new())?;
    let g = find_group(&id, &gid).await?;
    let items = id
        .store()
        .list_endpoints(None, None, None)
        .await?
        .iter()
        .filter(|e| group_matches(&g, e))
        .map(|e| e.to_json(id.public_url()))
        .collect();
    Ok(list_response(&id, "endpoints", &format!("OS-EP-FILTER/endpoint_groups/{gid}/endpoints"), &q, items))
}

fn group_project_json(id: &Identity, gid: &str, pid: &str) -> Value {
    json!({"endpoint_group_id": gid, "project_id": pid,
           "links": {"self": id.link(&format!("OS-EP-FILTER/endpoint_groups/{gid}/projects/{pid}"))}})
}

async fn check_group_project(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((gid, pid)): Path<(String, String)>,
) -> ApiResult<Response> {
    id.enforce("identity:get_endpoint_group_in_project", &ctx, Target::new())?;
    let p = projects::find(&id, &pid).await?;
    let g = find_group(&id, &gid).await?;
    if !id.store().project_endpoint_group_exists(&p.id, &g.id).await? {
        return Err(Error::not_found(format!("Could not find Endpoint Group: {gid} in project {pid}.")).into());
    }
    Ok(ok("project_endpoint_group", group_project_json(&id, &g.id, &p.id)))
}

async fn add_group_project(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((gid, pid)): Path<(String, String)>,
) -> ApiResult<Response> {
    id.enforce("identity:add_endpoint_group_to_project", &ctx, Target::new())?;
    let p = projects::find(&id, &pid).await?;
    let g = find_group(&id, &gid).await?;
    id.store().add_project_endpoint_group(&p.id, &g.id).await?;
    id.changed();
    Ok(no_content())
}

async fn remove_group_project(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((gid, pid)): Path<(String, String)>,
) -> ApiResult<Response> {
    id.enforce("identity:remove_endpoint_group_from_project", &ctx, Target::new())?;
    let p = projects::find(&id, &pid).await?;
    let g = find_group(&id, &gid).await?;
    if !id.store().remove_project_endpoint_group(&p.id, &g.id).await? {
        return Err(Error::not_found(format!("Could not find Endpoint Group: {gid} in project {pid}.")).into());
    }
    id.changed();
    Ok(no_content())
}

// ---- project endpoints ----

async fn project_endpoints(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(pid): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_endpoints_for_project", &ctx, Target::new())?;
    let p = projects::find(&id, &pid).await?;
    let all = id.store().list_endpoints(None, None, None).await?;
    let items = match id.project_endpoint_filter(&p.id, &all).await? {
        Some(f) => all.iter().filter(|e| f.contains(&e.id)).map(|e| e.to_json(id.public_url())).collect(),
        None => Vec::new(),
    };
    Ok(list_response(&id, "endpoints", &format!("OS-EP-FILTER/projects/{pid}/endpoints"), &q, items))
}

fn not_in_project(eid: &str, pid: &str) -> Error {
    Error::not_found(format!("Endpoint {eid} not found in project {pid}"))
}

async fn check_project_endpoint(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((pid, eid)): Path<(String, String)>,
) -> ApiResult<Response> {
    id.enforce("identity:check_endpoint_in_project", &ctx, Target::new())?;
    let e = find_endpoint(&id, &eid).await?;
    let p = projects::find(&id, &pid).await?;
    if !id.store().project_endpoint_exists(&p.id, &e.id).await? {
        return Err(not_in_project(&eid, &pid).into());
    }
    Ok(no_content())
}

async fn add_project_endpoint(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((pid, eid)): Path<(String, String)>,
) -> ApiResult<Response> {
    id.enforce("identity:add_endpoint_to_project", &ctx, Target::new())?;
    let e = find_endpoint(&id, &eid).await?;
    let p = projects::find(&id, &pid).await?;
    id.store().add_project_endpoint(&p.id, &e.id).await?;
    id.changed();
    Ok(no_content())
}

async fn remove_project_endpoint(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((pid, eid)): Path<(String, String)>,
) -> ApiResult<Response> {
    id.enforce("identity:remove_endpoint_from_project", &ctx, Target::new())?;
    if !id.store().remove_project_endpoint(&pid, &eid).await? {
        return Err(not_in_project(&eid, &pid).into());
    }
    id.changed();
    Ok(no_content())
}

async fn project_groups(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(pid): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_endpoint_groups_for_project", &ctx, Target::new())?;
    let p = projects::find(&id, &pid).await?;
    let items = id.store().project_endpoint_groups(&p.id).await?.iter().map(|g| render(&id, g)).collect();
    Ok(list_response(&id, "endpoint_groups", &format!("OS-EP-FILTER/projects/{pid}/endpoint_groups"), &q, items))
}

async fn endpoint_projects(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(eid): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_projects_for_endpoint", &ctx, Target::new())?;
    let e = find_endpoint(&id, &eid).await?;
    let items = projects_json(&id, id.store().endpoint_project_ids(&e.id).await?).await?;
    Ok(list_response(&id, "projects", &format!("OS-EP-FILTER/endpoints/{eid}/projects"), &q, items))
}
