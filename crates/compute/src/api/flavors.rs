//! Flavors, their extra specs and access lists.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use serde_json::{json, Map, Value};

use super::{accepted, bool_param, is_admin, links, next_link, ok, page, require_admin, Query};
use crate::model::Flavor;
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/flavors", get(list).post(create))
        .route("/flavors/detail", get(list_detail))
        .route("/flavors/{id}", get(show).put(update).delete(delete))
        .route("/flavors/{id}/os-extra_specs", get(specs).post(specs_create))
        .route("/flavors/{id}/os-extra_specs/{key}", get(spec_show).put(spec_update).delete(spec_delete))
        .route("/flavors/{id}/os-flavor-access", get(access_list))
        .route("/flavors/{id}/action", post(action))
}

pub fn view(c: &Compute, v: Version, f: &Flavor, detail: bool) -> Value {
    let mut o = json!({"id": f.id, "name": f.name, "links": links(c, &format!("flavors/{}", f.id))});
    if detail {
        let m = o.as_object_mut().expect("object");
        m.insert("ram".into(), json!(f.ram));
        m.insert("disk".into(), json!(f.disk));
        m.insert("vcpus".into(), json!(f.vcpus));
        m.insert("OS-FLV-EXT-DATA:ephemeral".into(), json!(f.ephemeral));
        m.insert("OS-FLV-DISABLED:disabled".into(), json!(f.disabled));
        m.insert("swap".into(), if f.swap == 0 && !v.at_least(2, 75) { json!("") } else { json!(f.swap) });
        m.insert("rxtx_factor".into(), json!(f.rxtx_factor));
        m.insert("os-flavor-access:is_public".into(), json!(f.is_public));
        if v.at_least(2, 61) {
            m.insert("extra_specs".into(), json!(f.extra_specs));
        }
    }
    if v.at_least(2, 55) {
        o["description"] = json!(f.description);
    }
    o
}

/// A flavor the caller may see (private ones need access or admin).
async fn visible(c: &Compute, ctx: &RequestContext, id: &str) -> Result<Flavor, Error> {
    let nf = || Error::not_found(format!("Flavor {id} could not be found."));
    let f = c.store().flavor_get(id).await?.ok_or_else(nf)?;
    if f.is_public || is_admin(ctx) {
        return Ok(f);
    }
    let p = ctx.project_id().unwrap_or_default();
    if c.store().flavor_access_list(id).await?.iter().any(|x| x == p) {
        Ok(f)
    } else {
        Err(nf())
    }
}

/// A flavor for a server create/resize: hidden or unknown is None.
pub async fn usable(c: &Compute, ctx: &RequestContext, id: &str) -> Result<Option<Flavor>, Error> {
    match visible(c, ctx, id).await {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.status() == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

async fn listing(c: &Compute, ctx: &RequestContext, v: Version, q: &Query, detail: bool) -> ApiResult<Response> {
    let mut all = c.store().flavor_list().await?;
    let admin = is_admin(ctx);
    let is_public = match q.get("is_public").map(String::as_str) {
        None => Some(true),
        Some(s) if s.eq_ignore_ascii_case("none") => None,
        Some(s) => Some(bool_param(s).ok_or_else(|| Error::bad_request(format!("Invalid is_public filter [{s}]")))?),
    };
    let mine = match ctx.project_id() {
        Some(p) => c.store().flavor_ids_for_project(p).await?,
        None => vec![],
    };
    all.retain(|f| {
        if admin {
            is_public.is_none_or(|p| f.is_public == p)
        } else {
            // a non-admin sees public flavors and those shared with them
            match is_public {
                Some(false) => !f.is_public && mine.contains(&f.id),
                _ => f.is_public || mine.contains(&f.id),
            }
        }
    });
    for (k, key) in [("minRam", "ram"), ("minDisk", "disk")] {
        if let Some(s) = q.get(k) {
            let n: i64 = s.parse().map_err(|_| Error::bad_request(format!("Invalid {k} filter [{s}]")))?;
            all.retain(|f| if key == "ram" { f.ram >= n } else { f.disk >= n });
        }
    }
    let sort_key = q.get("sort_key").map(String::as_str).unwrap_or("flavorid");
    let desc = match q.get("sort_dir").map(String::as_str) {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(d) => return Err(Error::bad_request(format!("Invalid sort_dir: {d}")).into()),
    };
    match sort_key {
        "flavorid" | "id" => all.sort_by(|a, b| a.id.cmp(&b.id)),
        "name" => all.sort_by(|a, b| a.name.cmp(&b.name)),
        "memory_mb" | "ram" => all.sort_by_key(|f| f.ram),
        "vcpus" => all.sort_by_key(|f| f.vcpus),
        "root_gb" | "disk" => all.sort_by_key(|f| f.disk),
        "created_at" => {}
        k => return Err(Error::bad_request(format!("Invalid sort_key: {k}")).into()),
    }
    if desc {
        all.reverse();
    }
    let (items, more) = page(all, q, |f| f.id.as_str(), |m| Error::bad_request(format!("marker [{m}] not found")))?;
    let list: Vec<Value> = items.iter().map(|f| view(c, v, f, detail)).collect();
    let mut body = json!({"flavors": list});
    if more {
        if let Some(last) = items.last() {
            let path = if detail { "flavors/detail" } else { "flavors" };
            body["flavors_links"] = next_link(c, path, q, &last.id);
        }
    }
    Ok(ok(body))
}

async fn list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    q: Query,
) -> ApiResult<Response> {
    listing(&c, &ctx, v, &q, false).await
}

async fn list_detail(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    q: Query,
) -> ApiResult<Response> {
    listing(&c, &ctx, v, &q, true).await
}

async fn show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let f = visible(&c, &ctx, &id).await?;
    Ok(ok(json!({"flavor": view(&c, v, &f, true)})))
}

/// An integer field that may also come as a string of digits, as Nova accepts.
fn int_field(o: &Map<String, Value>, k: &str, min: i64, default: Option<i64>) -> Result<i64, Error> {
    let bad = |why: &str| {
        Error::bad_request(format!(
            "Invalid input for field/attribute {k}. Value: {}. {why}",
            o.get(k).cloned().unwrap_or(Value::Null)
        ))
    };
    match o.get(k) {
        None | Some(Value::Null) => default.ok_or_else(|| bad("is a required property")),
        Some(Value::Number(n)) => {
            let n = n.as_i64().ok_or_else(|| bad("is not an integer"))?;
            if n < min || n > i32::MAX as i64 {
                return Err(bad(&format!("must be >= {min} and <= 2147483647")));
            }
            Ok(n)
        }
        Some(Value::String(s)) if s.trim().is_empty() && default.is_some() && k == "swap" => Ok(0),
        Some(Value::String(s)) => {
            let n: i64 = s.trim().parse().map_err(|_| bad("is not an integer"))?;
            if n < min || n > i32::MAX as i64 {
                return Err(bad(&format!("must be >= {min} and <= 2147483647")));
            }
            Ok(n)
        }
        _ => Err(bad("is not of type 'integer', 'string'")),
    }
}

async fn create(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-flavor-manage:create")?;
    let o = body.get("flavor").and_then(Value::as_object).ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute flavor. 'flavor' is a required property")
    })?;
    let name =
        o.get("name").and_then(Value::as_str).map(str::trim).filter(|n| !n.is_empty() && n.len() <= 255).ok_or_else(
            || {
                Error::bad_request(
                    "Invalid input for field/attribute name. Value must be a non-empty string of up to 255 characters.",
                )
            },
        )?;
    let id = match o.get("id") {
        None | Some(Value::Null) => uuid::Uuid::new_v4().to_string(),
        Some(Value::String(s)) if s.trim() == "auto" => uuid::Uuid::new_v4().to_string(),
        Some(Value::String(s))
            if !s.trim().is_empty()
                && s.len() <= 255
                && s.chars().all(|ch| ch.is_alphanumeric() || "-_. ".contains(ch)) =>
        {
            s.trim().to_string()
        }
        Some(Value::Number(n)) => n.to_string(),
        Some(x) => return Err(Error::bad_request(format!("Invalid input for field/attribute id. Value: {x}.")).into()),
    };
    let rxtx = match o.get("rxtx_factor") {
        None | Some(Value::Null) => 1.0,
        Some(x) => x
            .as_f64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
            .filter(|f| *f > 0.0)
            .ok_or_else(|| Error::bad_request("Invalid input for field/attribute rxtx_factor."))?,
    };
    let is_public = match o.get("os-flavor-access:is_public") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => bool_param(s)
            .ok_or_else(|| Error::bad_request("Invalid input for field/attribute os-flavor-access:is_public."))?,
        Some(_) => {
            return Err(Error::bad_request("Invalid input for field/attribute os-flavor-access:is_public.").into())
        }
    };
    let description = match o.get("description") {
        Some(_) if !v.at_least(2, 55) => {
            return Err(
                Error::bad_request("Additional properties are not allowed ('description' was unexpected)").into()
            )
        }
        Some(Value::String(s)) if s.len() <= 65535 => Some(s.clone()),
        Some(Value::Null) | None => None,
        Some(_) => return Err(Error::bad_request("Invalid input for field/attribute description.").into()),
    };
    let f = Flavor {
        id,
        name: name.to_string(),
        vcpus: int_field(o, "vcpus", 1, None)?,
        ram: int_field(o, "ram", 1, None)?,
        disk: int_field(o, "disk", 0, None)?,
        ephemeral: int_field(o, "OS-FLV-EXT-DATA:ephemeral", 0, Some(0))?,
        swap: int_field(o, "swap", 0, Some(0))?,
        rxtx_factor: rxtx,
        is_public,
        disabled: false,
        description,
        extra_specs: BTreeMap::new(),
    };
    c.store().flavor_create(&f).await?;
    Ok(ok(json!({"flavor": view(&c, v, &f, true)})))
}

async fn update(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    if !v.at_least(2, 55) {
        return Err(Error::new(
            rustack_common::ErrorKind::MethodNotAllowed,
            "The method is not allowed for the requested URL.",
        )
        .into());
    }
    require_admin(&ctx, "os_compute_api:os-flavor-manage:update")?;
    let d = body.get("flavor").and_then(|f| f.get("description")).ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute flavor. 'description' is a required property")
    })?;
    let d = match d {
        Value::Null => None,
        Value::String(s) => Some(s.as_str()),
        _ => return Err(Error::bad_request("Invalid input for field/attribute description.").into()),
    };
    if !c.store().flavor_set_description(&id, d).await? {
        return Err(Error::not_found(format!("Flavor {id} could not be found.")).into());
    }
    let f = visible(&c, &ctx, &id).await?;
    Ok(ok(json!({"flavor": view(&c, v, &f, true)})))
}

async fn delete(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-flavor-manage:delete")?;
    if !c.store().flavor_delete(&id).await? {
        return Err(Error::not_found(format!("Flavor {id} could not be found.")).into());
    }
    Ok(accepted())
}

fn check_spec(k: &str, v: &Value) -> Result<String, Error> {
    if k.is_empty() || k.len() > 255 || !k.chars().all(|ch| ch.is_alphanumeric() || "-_:. ".contains(ch)) {
        return Err(Error::bad_request(format!("Invalid input for field/attribute extra_specs. Value: {k}.")));
    }
    match v {
        Value::String(s) if s.len() <= 255 => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(Error::bad_request(format!("Invalid input for field/attribute {k}. Value: {v}."))),
    }
}

async fn specs(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let f = visible(&c, &ctx, &id).await?;
    Ok(ok(json!({"extra_specs": f.extra_specs})))
}

async fn specs_create(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-flavor-extra-specs:create")?;
    let mut f = visible(&c, &ctx, &id).await?;
    let specs = body.get("extra_specs").and_then(Value::as_object).ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute extra_specs. 'extra_specs' is a required property")
    })?;
    let mut added = Map::new();
    for (k, v) in specs {
        let val = check_spec(k, v)?;
        f.extra_specs.insert(k.clone(), val.clone());
        added.insert(k.clone(), json!(val));
    }
    c.store().flavor_set_specs(&id, &f.extra_specs).await?;
    Ok(ok(json!({"extra_specs": added})))
}

async fn spec_show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let f = visible(&c, &ctx, &id).await?;
    let v = f
        .extra_specs
        .get(&key)
        .ok_or_else(|| Error::not_found(format!("Flavor {id} has no extra specs with key {key}.")))?;
    Ok(ok(json!({ key: v })))
}

async fn spec_update(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-flavor-extra-specs:update")?;
    let o = body.as_object().ok_or_else(|| Error::bad_request("Malformed request body"))?;
    if o.len() > 1 {
        return Err(Error::bad_request("Request body contains too many items").into());
    }
    let v = o.get(&key).ok_or_else(|| Error::bad_request("Request body and URI mismatch"))?;
    let val = check_spec(&key, v)?;
    let mut f = visible(&c, &ctx, &id).await?;
    f.extra_specs.insert(key.clone(), val.clone());
    c.store().flavor_set_specs(&id, &f.extra_specs).await?;
    Ok(ok(json!({ key: val })))
}

async fn spec_delete(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-flavor-extra-specs:delete")?;
    let mut f = visible(&c, &ctx, &id).await?;
    if f.extra_specs.remove(&key).is_none() {
        return Err(Error::not_found(format!("Flavor {id} has no extra specs with key {key}.")).into());
    }
    c.store().flavor_set_specs(&id, &f.extra_specs).await?;
    Ok(axum::response::IntoResponse::into_response(axum::http::StatusCode::OK))
}

async fn access_view(c: &Compute, id: &str) -> Result<Value, Error> {
    let list: Vec<Value> =
        c.store().flavor_access_list(id).await?.into_iter().map(|p| json!({"flavor_id": id, "tenant_id": p})).collect();
    Ok(json!({"flavor_access": list}))
}

async fn access_list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-flavor-access")?;
    let f = visible(&c, &ctx, &id).await?;
    if f.is_public {
        return Err(Error::not_found("Access list not available for public flavors.").into());
    }
    Ok(ok(access_view(&c, &id).await?))
}

async fn action(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-flavor-access:add_tenant_access")?;
    let f = visible(&c, &ctx, &id).await?;
    let tenant = |k: &str| -> Result<String, Error> {
        body.get(k)
            .and_then(|a| a.get("tenant"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty() && t.len() <= 255)
            .map(str::to_string)
            .ok_or_else(|| {
                Error::bad_request(format!("Invalid input for field/attribute {k}. 'tenant' is a required property"))
            })
    };
    if body.get("addTenantAccess").is_some() {
        let t = tenant("addTenantAccess")?;
        if f.is_public {
            return Err(Error::conflict("Can not add access to a public flavor.").into());
        }
        if !c.store().flavor_access_add(&id, &t).await? {
            return Err(Error::conflict(format!(
                "Flavor access already exists for flavor {id} and project {t} combination."
            ))
            .into());
        }
    } else if body.get("removeTenantAccess").is_some() {
        let t = tenant("removeTenantAccess")?;
        if !c.store().flavor_access_remove(&id, &t).await? {
            return Err(Error::not_found(format!("Flavor access not found for {id} / {t} combination.")).into());
        }
    } else {
        return Err(Error::bad_request("Invalid action: expected addTenantAccess or removeTenantAccess.").into());
    }
    Ok(ok(access_view(&c, &id).await?))
}
