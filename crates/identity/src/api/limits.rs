//! Unified limits, Keystone's flat model: `/v3/registered_limits` (a
//! service's default for a resource, optionally per region), `/v3/limits`
//! (a project's or a domain's override) and `/v3/limits/model`.
//! Other services read them through [`Identity::limit_for`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::{new_id, Error};
use rustack_http::context::Scope;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use rustack_policy::Target;
use serde_json::{json, Map, Value};

use super::{list_response, no_content, ok, Query};
use crate::store::limits::{Limit, LimitFilter, RegisteredLimit};
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/registered_limits", get(list_registered).post(create_registered))
        .route(
            "/v3/registered_limits/{registered_limit_id}",
            get(show_registered).patch(update_registered).delete(delete_registered),
        )
        .route("/v3/limits", get(list_limits).post(create_limits))
        .route("/v3/limits/model", get(model))
        .route("/v3/limits/{limit_id}", get(show_limit).patch(update_limit).delete(delete_limit))
}

const ADMIN: &str = "rule:admin_required";
const LIMIT_READER: &str = "rule:admin_required or (role:reader and system_scope:all) or \
     (domain_id:%(target.limit.domain.id)s or domain_id:%(target.limit.project.domain_id)s) or \
     (project_id:%(target.limit.project_id)s and not None:%(target.limit.project_id)s)";

/// Policy rules of this API: (name, check string, allowed with a domain-scoped token).
pub(crate) const RULES: &[(&str, &str, bool)] = &[
    ("identity:get_registered_limit", "", true),
    ("identity:list_registered_limits", "", true),
    ("identity:create_registered_limits", ADMIN, false),
    ("identity:update_registered_limit", ADMIN, false),
    ("identity:delete_registered_limit", ADMIN, false),
    ("identity:get_limit_model", "", true),
    ("identity:get_limit", LIMIT_READER, true),
    ("identity:list_limits", "", true),
    ("identity:create_limits", ADMIN, false),
    ("identity:update_limit", ADMIN, false),
    ("identity:delete_limit", ADMIN, false),
];

/// The largest limit: a signed 32-bit integer, as Keystone's column.
const MAX_LIMIT: i64 = 0x7FFF_FFFF;

fn invalid(field: &str, why: &str) -> Error {
    Error::bad_request(format!("Invalid input for field '{field}': {why}"))
}

/// Keystone's answer to a reference to something that does not exist.
fn missing(attribute: &str, target: &str) -> Error {
    Error::bad_request(format!(
        "Expecting to find {attribute} in {target}. The server could not comply with the request since it is either malformed \
         or otherwise incorrect. The client is assumed to be in error."
    ))
}

/// Reads the fields of one object of a request, each checked against
/// Keystone's schema; unknown fields are refused.
struct Fields {
    path: String,
    m: Map<String, Value>,
}

impl Fields {
    fn new(v: Value, path: String) -> Result<Fields, Error> {
        match v {
            Value::Object(m) => Ok(Fields { path, m }),
            _ => Err(invalid(&path, "expected an object.")),
        }
    }

    fn field(&self, k: &str) -> String {
        format!("{}.{k}", self.path)
    }

    fn has(&self, k: &str) -> bool {
        self.m.contains_key(k)
    }

    fn required(&self, k: &str) -> Result<(), Error> {
        if self.has(k) {
            Ok(())
        } else {
            Err(invalid(&self.path, &format!("'{k}' is a required property.")))
        }
    }

    /// A string of `min..=max` characters; `name` also wants a non-space.
    fn string(&mut self, k: &str, min: usize, max: usize, nullable: bool, name: bool) -> Result<Option<String>, Error> {
        match self.m.remove(k) {
            None => Ok(None),
            Some(Value::Null) if nullable => Ok(None),
            Some(Value::String(s)) => {
                let n = s.chars().count();
                if n < min || n > max {
                    return Err(invalid(&self.field(k), &format!("expected a string of {min} to {max} characters.")));
                }
                if name && s.trim().is_empty() {
                    return Err(invalid(&self.field(k), "must not be only whitespace."));
                }
                Ok(Some(s))
            }
            Some(_) => Err(invalid(&self.field(k), "expected a string.")),
        }
    }

    /// An id: 1 to 64 letters, digits or dashes.
    fn id(&mut self, k: &str, nullable: bool) -> Result<Option<String>, Error> {
        let v = self.string(k, 1, 64, nullable, false)?;
        if let Some(s) = &v {
            if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(invalid(&self.field(k), "expected letters, digits and dashes only."));
            }
        }
        Ok(v)
    }

    /// A limit: an integer from -1 (unlimited) to 2^31-1.
    fn limit(&mut self, k: &str) -> Result<Option<i64>, Error> {
        match self.m.remove(k) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) if (-1..=MAX_LIMIT).contains(&i) => Ok(Some(i)),
                _ => Err(invalid(&self.field(k), &format!("expected an integer from -1 to {MAX_LIMIT}."))),
            },
            Some(_) => Err(invalid(&self.field(k), "expected an integer.")),
        }
    }

    /// A description: null or a string of at most 255 characters.
    fn description(&mut self) -> Result<Option<Option<String>>, Error> {
        if !self.has("description") {
            return Ok(None);
        }
        Ok(Some(self.string("description", 0, 255, true, false)?))
    }

    fn done(self) -> Result<(), Error> {
        match self.m.keys().next() {
            Some(k) => Err(invalid(&format!("{}.{k}", self.path), "additional properties are not allowed.")),
            None => Ok(()),
        }
    }
}

/// The list under `key` of a request body: at least one object.
fn items(v: Value, key: &str) -> Result<Vec<Value>, Error> {
    let Value::Object(mut m) = v else {
        return Err(Error::bad_request("Invalid input for the request body: expected a JSON object."));
    };
    let list = match m.remove(key) {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) => return Err(invalid(key, "at least one item is required.")),
        Some(_) => return Err(invalid(key, "expected a list.")),
        None => {
            return Err(Error::bad_request(format!(
                "Invalid input for the request body: '{key}' is a required property."
            )))
        }
    };
    if let Some(k) = m.keys().next() {
        return Err(invalid(k, "additional properties are not allowed."));
    }
    Ok(list)
}

/// The one object under `key` of a request body.
fn member(v: Value, key: &str) -> Result<Fields, Error> {
    let Value::Object(mut m) = v else {
        return Err(Error::bad_request("Invalid input for the request body: expected a JSON object."));
    };
    let f = match m.remove(key) {
        Some(x) => Fields::new(x, key.to_string())?,
        None => {
            return Err(Error::bad_request(format!(
                "Invalid input for the request body: '{key}' is a required property."
            )))
        }
    };
    if let Some(k) = m.keys().next() {
        return Err(invalid(k, "additional properties are not allowed."));
    }
    Ok(f)
}

async fn check_service_region(
    id: &Identity,
    service_id: Option<&str>,
    region_id: Option<&str>,
    target: &str,
) -> Result<(), Error> {
    if let Some(s) = service_id {
        if id.store().get_service(s).await?.is_none() {
            return Err(missing("service_id", target));
        }
    }
    if let Some(r) = region_id {
        if id.store().get_region(r).await?.is_none() {
            return Err(missing("region_id", target));
        }
    }
    Ok(())
}

fn filter(q: &std::collections::HashMap<String, String>) -> LimitFilter {
    let g = |k: &str| q.get(k).cloned();
    LimitFilter {
        service_id: g("service_id"),
        region_id: g("region_id"),
        resource_name: g("resource_name"),
        project_id: g("project_id"),
        domain_id: g("domain_id"),
    }
}

// ---------------------------------------------------------------- registered limits

async fn find_registered(id: &Identity, rid: &str) -> Result<RegisteredLimit, Error> {
    id.store()
        .get_registered_limit(rid)
        .await?
        .ok_or_else(|| Error::not_found(format!("Could not find registered limit for {rid}.")))
}

async fn list_registered(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_registered_limits", &ctx, Target::new())?;
    let f = LimitFilter { project_id: None, domain_id: None, ..filter(&q) };
    let items = id.store().list_registered_limits(&f).await?.iter().map(|r| r.to_json(id.public_url())).collect();
    Ok(list_response(&id, "registered_limits", "registered_limits", &q, items))
}

async fn create_registered(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:create_registered_limits", &ctx, Target::new())?;
    let mut new = Vec::new();
    for (i, item) in items(v, "registered_limits")?.into_iter().enumerate() {
        let mut f = Fields::new(item, format!("registered_limits[{i}]"))?;
        for k in ["service_id", "resource_name", "default_limit"] {
            f.required(k)?;
        }
        let r = RegisteredLimit {
            id: new_id(),
            service_id: f.string("service_id", 1, 64, false, false)?.expect("required"),
            region_id: f.string("region_id", 1, 255, true, false)?,
            resource_name: f.string("resource_name", 1, 255, false, true)?.expect("required"),
            default_limit: f.limit("default_limit")?.expect("required"),
            description: f.description()?.flatten(),
        };
        f.done()?;
        new.push(r);
    }
    for r in &new {
        check_service_region(&id, Some(&r.service_id), r.region_id.as_deref(), "registered_limit").await?;
    }
    id.store().create_registered_limits(&new).await?;
    let out: Vec<Value> = new.iter().map(|r| r.to_json(id.public_url())).collect();
    Ok((StatusCode::CREATED, Json(json!({"registered_limits": out}))).into_response())
}

async fn show_registered(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(rid): Path<String>,
) -> ApiResult<Response> {
    id.enforce("identity:get_registered_limit", &ctx, Target::new())?;
    let r = find_registered(&id, &rid).await?;
    Ok(ok("registered_limit", r.to_json(id.public_url())))
}

async fn update_registered(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(rid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:update_registered_limit", &ctx, Target::new())?;
    let mut f = member(v, "registered_limit")?;
    let service_id = f.string("service_id", 1, 64, false, false)?;
    let region_given = f.has("region_id");
    let region_id = f.string("region_id", 1, 255, true, false)?;
    let resource_name = f.string("resource_name", 1, 255, false, true)?;
    let default_limit = f.limit("default_limit")?;
    let description = f.description()?;
    f.done()?;
    check_service_region(&id, service_id.as_deref(), region_id.as_deref(), "registered_limit").await?;
    let mut r = find_registered(&id, &rid).await?;
    if id.store().registered_limit_in_use(&r.id).await? {
        return Err(Error::forbidden(format!(
            "Unable to update or delete registered limit {} because there are project limits associated with it.",
            r.id
        ))
        .into());
    }
    if let Some(s) = service_id {
        r.service_id = s;
    }
    if region_given {
        r.region_id = region_id;
    }
    if let Some(n) = resource_name {
        r.resource_name = n;
    }
    if let Some(d) = default_limit {
        r.default_limit = d;
    }
    if let Some(d) = description {
        r.description = d;
    }
    id.store().update_registered_limit(&r).await?;
    Ok(ok("registered_limit", r.to_json(id.public_url())))
}

async fn delete_registered(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(rid): Path<String>,
) -> ApiResult<Response> {
    id.enforce("identity:delete_registered_limit", &ctx, Target::new())?;
    let r = find_registered(&id, &rid).await?;
    if id.store().registered_limit_in_use(&r.id).await? {
        return Err(Error::forbidden(format!(
            "Unable to update or delete registered limit {} because there are project limits associated with it.",
            r.id
        ))
        .into());
    }
    id.store().delete_registered_limit(&r.id).await?;
    Ok(no_content())
}

// ---------------------------------------------------------------- limits

async fn find_limit(id: &Identity, lid: &str) -> Result<Limit, Error> {
    id.store().get_limit(lid).await?.ok_or_else(|| Error::not_found(format!("Could not find limit for {lid}.")))
}

/// Whether the caller may see every limit: system scope, or the admin or
/// service role (Keystone's "superuser" of the limit list).
fn superuser(ctx: &RequestContext) -> bool {
    ctx.is_system() || ctx.has_role("admin") || ctx.has_role("service")
}

async fn list_limits(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_limits", &ctx, Target::new())?;
    let mut f = filter(&q);
    let limits = if superuser(&ctx) {
        id.store().list_limits(&f).await?
    } else {
        match &ctx.scope {
            Scope::Domain { id: did, .. } => {
                let pf = crate::store::projects::ProjectFilter { domain_id: Some(did), ..Default::default() };
                let projects: Vec<String> = id.store().list_projects(&pf).await?.into_iter().map(|p| p.id).collect();
                id.store()
                    .list_limits(&f)
                    .await?
                    .into_iter()
                    .filter(|l| match (&l.project_id, &l.domain_id) {
                        (Some(p), _) => projects.contains(p),
                        (None, Some(d)) => d == did,
                        _ => false,
                    })
                    .collect()
            }
            Scope::Project { id: pid, .. } => {
                if f.project_id.as_ref().is_some_and(|p| p != pid) {
                    Vec::new()
                } else {
                    f.project_id = Some(pid.clone());
                    id.store().list_limits(&f).await?
                }
            }
            _ => Vec::new(),
        }
    };
    let items = limits.iter().map(|l| l.to_json(id.public_url())).collect();
    Ok(list_response(&id, "limits", "limits", &q, items))
}

async fn create_limits(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:create_limits", &ctx, Target::new())?;
    struct New {
        service_id: String,
        region_id: Option<String>,
        resource_name: String,
        project_id: Option<String>,
        domain_id: Option<String>,
        resource_limit: i64,
        description: Option<String>,
    }
    let mut asked = Vec::new();
    for (i, item) in items(v, "limits")?.into_iter().enumerate() {
        let mut f = Fields::new(item, format!("limits[{i}]"))?;
        for k in ["service_id", "resource_name", "resource_limit"] {
            f.required(k)?;
        }
        // exactly one of project_id and domain_id
        if f.has("project_id") == f.has("domain_id") {
            return Err(invalid(&f.path, "exactly one of 'project_id' and 'domain_id' is required.").into());
        }
        let n = New {
            service_id: f.string("service_id", 1, 64, false, false)?.expect("required"),
            region_id: f.string("region_id", 1, 255, true, false)?,
            resource_name: f.string("resource_name", 1, 255, false, true)?.expect("required"),
            project_id: f.id("project_id", true)?,
            domain_id: f.id("domain_id", true)?,
            resource_limit: f.limit("resource_limit")?.expect("required"),
            description: f.description()?.flatten(),
        };
        f.done()?;
        asked.push(n);
    }
    let mut new = Vec::new();
    for mut n in asked {
        check_service_region(&id, Some(&n.service_id), n.region_id.as_deref(), "limit").await?;
        if let Some(p) = n.project_id.clone() {
            if id.store().get_project(&p).await?.is_none() {
                // a project acting as a domain: a domain limit
                if id.store().get_domain(&p).await?.is_some() {
                    n.domain_id = n.project_id.take();
                } else {
                    return Err(missing("project_id", "limit").into());
                }
            }
        }
        if let Some(d) = &n.domain_id {
            if id.store().get_domain(d).await?.is_none() {
                return Err(missing("domain_id", "limit").into());
            }
        }
        let Some(reg) =
            id.store().find_registered_limit(&n.service_id, n.region_id.as_deref(), &n.resource_name).await?
        else {
            return Err(Error::forbidden("Unable to create a limit that has no corresponding registered limit.").into());
        };
        new.push(Limit {
            id: new_id(),
            registered_limit_id: reg.id,
            project_id: n.project_id,
            domain_id: n.domain_id,
            resource_limit: n.resource_limit,
            description: n.description,
            service_id: reg.service_id,
            region_id: reg.region_id,
            resource_name: reg.resource_name,
        });
    }
    id.store().create_limits(&new).await?;
    let out: Vec<Value> = new.iter().map(|l| l.to_json(id.public_url())).collect();
    Ok((StatusCode::CREATED, Json(json!({"limits": out}))).into_response())
}

async fn show_limit(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(lid): Path<String>,
) -> ApiResult<Response> {
    // Keystone checks the policy with what it found, and 404s afterwards
    let l = id.store().get_limit(&lid).await?;
    let mut t = Target::new();
    if let Some(l) = &l {
        if let Some(p) = &l.project_id {
            t = t.with("target.limit.project_id", p.as_str());
            if let Some(project) = id.store().get_project(p).await? {
                t = t.with("target.limit.project.domain_id", project.domain_id.as_str());
            }
        }
        if let Some(d) = &l.domain_id {
            t = t.with("target.limit.domain_id", d.as_str()).with("target.limit.domain.id", d.as_str());
        }
    }
    id.enforce("identity:get_limit", &ctx, t)?;
    let l = l.ok_or_else(|| Error::not_found(format!("Could not find limit for {lid}.")))?;
    Ok(ok("limit", l.to_json(id.public_url())))
}

async fn update_limit(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(lid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:update_limit", &ctx, Target::new())?;
    let mut f = member(v, "limit")?;
    let resource_limit = f.limit("resource_limit")?;
    let description = f.description()?;
    f.done()?;
    let mut l = find_limit(&id, &lid).await?;
    if let Some(r) = resource_limit {
        l.resource_limit = r;
    }
    if let Some(d) = description {
        l.description = d;
    }
    id.store().update_limit(&l).await?;
    Ok(ok("limit", l.to_json(id.public_url())))
}

async fn delete_limit(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(lid): Path<String>,
) -> ApiResult<Response> {
    id.enforce("identity:delete_limit", &ctx, Target::new())?;
    if !id.store().delete_limit(&lid).await? {
        return Err(Error::not_found(format!("Could not find limit for {lid}.")).into());
    }
    Ok(no_content())
}

async fn model(State(id): State<Identity>, Authenticated(ctx): Authenticated) -> ApiResult<Json<Value>> {
    id.enforce("identity:get_limit_model", &ctx, Target::new())?;
    Ok(Json(json!({"model": {
        "name": "flat",
        "description": "Limit enforcement and validation does not take project hierarchy into consideration."
    }})))
}
