//! `/v3/regions`, `/v3/services`, `/v3/endpoints`.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::{new_id, Error};
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use rustack_policy::Target;
use serde_json::{Map, Value};

use super::body::Body;
use super::{created, list_response, no_content, ok, Query};
use crate::model::{Endpoint, Region, Service};
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/regions", get(list_regions).post(create_region))
        .route("/v3/regions/{region_id}", get(show_region).put(put_region).patch(update_region).delete(delete_region))
        .route("/v3/services", get(list_services).post(create_service))
        .route("/v3/services/{service_id}", get(show_service).patch(update_service).delete(delete_service))
        .route("/v3/endpoints", get(list_endpoints).post(create_endpoint))
        .route("/v3/endpoints/{endpoint_id}", get(show_endpoint).patch(update_endpoint).delete(delete_endpoint))
}

// ---- regions ----

async fn find_region(id: &Identity, rid: &str) -> Result<Region, Error> {
    id.store().get_region(rid).await?.ok_or_else(|| Error::not_found_entity("region", rid))
}

async fn check_parent(id: &Identity, region_id: &str, parent: &Option<String>) -> Result<(), Error> {
    let Some(p) = parent else { return Ok(()) };
    let mut cur = Some(p.clone());
    // the parent must exist, and following parents must not come back here
    while let Some(c) = cur {
        if c == region_id {
            return Err(Error::bad_request(
                "Invalid input for field 'region.parent_region_id': it would make a cycle.",
            ));
        }
        let r = id.store().get_region(&c).await?.ok_or_else(|| Error::not_found_entity("region", &c))?;
        cur = r.parent_region_id;
    }
    Ok(())
}

async fn list_regions(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_regions", &ctx, Target::new())?;
    if let Some(k) = q.keys().find(|k| k.as_str() != "parent_region_id") {
        return Err(Error::bad_request(format!("Invalid query parameter '{k}'.")).into());
    }
    let items = id
        .store()
        .list_regions(q.get("parent_region_id").map(String::as_str))
        .await?
        .iter()
        .map(|r| r.to_json(id.public_url()))
        .collect();
    Ok(list_response(&id, "regions", "regions", &q, items))
}

async fn new_region(id: &Identity, region_id: String, mut b: Body) -> Result<Region, Error> {
    let mut r = Region {
        id: region_id,
        description: b.string("description", 255, true)?.unwrap_or_default(),
        parent_region_id: b.id("parent_region_id")?,
        extra: Map::new(),
    };
    r.extra = b.extra();
    if r.id.len() > 255 || r.id.is_empty() {
        return Err(Error::bad_request("Invalid input for field 'region.id': 1 to 255 characters."));
    }
    check_parent(id, &r.id, &r.parent_region_id).await?;
    id.store().create_region(&r).await?;
    Ok(r)
}

async fn create_region(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:create_region", &ctx, Target::new())?;
    let mut b = Body::new(v, "region")?;
    let rid = b.string("id", 255, true)?.unwrap_or_else(new_id);
    let r = new_region(&id, rid, b).await?;
    Ok(created("region", r.to_json(id.public_url())))
}

/// `PUT /v3/regions/{id}`: create with a chosen id (201).
async fn put_region(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(rid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:create_region", &ctx, Target::new())?;
    let mut b = Body::new(v, "region")?;
    if let Some(bid) = b.string("id", 255, true)? {
        if bid != rid {
            return Err(
                Error::bad_request("Invalid input for field 'region.id': it must match the id in the URL.").into()
            );
        }
    }
    let r = new_region(&id, rid, b).await?;
    Ok(created("region", r.to_json(id.public_url())))
}

async fn show_region(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(rid): Path<String>,
) -> ApiResult<Response> {
    id.enforce("identity:get_region", &ctx, Target::new())?;
    Ok(ok("region", find_region(&id, &rid).await?.to_json(id.public_url())))
}

async fn update_region(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(rid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut r = find_region(&id, &rid).await?;
    id.enforce("identity:update_region", &ctx, Target::new())?;
    let mut b = Body::new(v, "region")?;
    if let Some(bid) = b.take("id") {
        if bid.as_str() != Some(r.id.as_str()) {
            return Err(Error::bad_request("Invalid input for field 'region.id': it cannot be changed.").into());
        }
    }
    if let Some(d) = b.string("description", 255, true)? {
        r.description = d;
    }
    if b.has("parent_region_id") {
        r.parent_region_id = b.id("parent_region_id")?;
        check_parent(&id, &r.id, &r.parent_region_id).await?;
    }
    for (k, v) in b.extra() {
        r.extra.insert(k, v);
    }
    id.store().update_region(&r).await?;
    Ok(ok("region", r.to_json(id.public_url())))
}

async fn delete_region(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(rid): Path<String>,
) -> ApiResult<Response> {
    let r = find_region(&id, &rid).await?;
    id.enforce("identity:delete_region", &ctx, Target::new())?;
    // the region and its descendants go together, unless an endpoint uses one
    let mut subtree = vec![r.id.clone()];
    let mut i = 0;
    while i < subtree.len() {
        let children = id.store().list_regions(Some(&subtree[i])).await?;
        for c in children {
            // parent links cannot form a cycle (checked on write), but be safe
            if !subtree.contains(&c.id) {
                subtree.push(c.id);
            }
        }
        i += 1;
    }
    for rid in &subtree {
        if !id.store().list_endpoints(None, None, Some(rid)).await?.is_empty() {
            return Err(Error::forbidden(format!(
                "Unable to delete region {} because it or its child regions have associated endpoints.",
                r.id
            ))
            .into());
        }
    }
    subtree.reverse();
    id.store().delete_regions(&subtree).await?;
    Ok(no_content())
}

// ---- services ----

async fn find_service(id: &Identity, sid: &str) -> Result<Service, Error> {
    id.store().get_service(sid).await?.ok_or_else(|| Error::not_found_entity("service", sid))
}

async fn list_services(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_services", &ctx, Target::new())?;
    let items = id
        .store()
        .list_services(q.get("type").map(String::as_str), q.get("name").map(String::as_str))
        .await?
        .iter()
        .map(|s| s.to_json(id.public_url()))
        .collect();
    Ok(list_response(&id, "services", "services", &q, items))
}

async fn create_service(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:create_service", &ctx, Target::new())?;
    let mut b = Body::new(v, "service")?;
    let ty = b
        .string("type", 255, false)?
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::bad_request("Invalid input for field 'service': 'type' is a required property."))?;
    let mut s = Service {
        id: new_id(),
        service_type: ty,
        name: b.string("name", 255, true)?.unwrap_or_default(),
        description: b.string("description", 65535, true)?,
        enabled: b.boolean("enabled", false)?.unwrap_or(true),
        extra: Map::new(),
    };
    b.forbid("id")?;
    s.extra = b.extra();
    id.store().create_service(&s).await?;
    id.changed();
    Ok(created("service", s.to_json(id.public_url())))
}

async fn show_service(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(sid): Path<String>,
) -> ApiResult<Response> {
    let s = find_service(&id, &sid).await?;
    id.enforce("identity:get_service", &ctx, Target::new())?;
    Ok(ok("service", s.to_json(id.public_url())))
}

async fn update_service(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(sid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut s = find_service(&id, &sid).await?;
    id.enforce("identity:update_service", &ctx, Target::new())?;
    let mut b = Body::new(v, "service")?;
    if let Some(bid) = b.take("id") {
        if bid.as_str() != Some(s.id.as_str()) {
            return Err(Error::bad_request("Invalid input for field 'service.id': it cannot be changed.").into());
        }
    }
    if let Some(t) = b.string("type", 255, false)? {
        s.service_type = t;
    }
    if let Some(n) = b.string("name", 255, true)? {
        s.name = n;
    }
    if b.has("description") {
        s.description = b.string("description", 65535, true)?;
    }
    if let Some(e) = b.boolean("enabled", false)? {
        s.enabled = e;
    }
    for (k, v) in b.extra() {
        s.extra.insert(k, v);
    }
    id.store().update_service(&s).await?;
    id.changed();
    Ok(ok("service", s.to_json(id.public_url())))
}

async fn delete_service(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(sid): Path<String>,
) -> ApiResult<Response> {
    let s = find_service(&id, &sid).await?;
    id.enforce("identity:delete_service", &ctx, Target::new())?;
    id.store().delete_service(&s.id).await?;
    id.changed();
    Ok(no_content())
}

// ---- endpoints ----

async fn find_endpoint(id: &Identity, eid: &str) -> Result<Endpoint, Error> {
    id.store().get_endpoint(eid).await?.ok_or_else(|| Error::not_found_entity("endpoint", eid))
}

fn check_interface(i: &str) -> Result<(), Error> {
    if ["public", "internal", "admin"].contains(&i) {
        Ok(())
    } else {
        Err(Error::bad_request("Invalid input for field 'endpoint.interface': one of admin, internal, public."))
    }
}

fn check_url(u: &str) -> Result<(), Error> {
    let scheme_ok = u.split_once(':').is_some_and(|(s, rest)| {
        !s.is_empty() && !rest.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
    });
    if !scheme_ok || u.len() > 225 {
        return Err(Error::bad_request(
            "Invalid input for field 'endpoint.url': expected a URL of at most 225 characters.",
        ));
    }
    Ok(())
}

/// `region_id`, or the legacy `region` which creates the region if needed.
async fn endpoint_region(id: &Identity, b: &mut Body) -> Result<Option<Option<String>>, Error> {
    if b.has("region_id") {
        let r = b.id("region_id")?;
        b.take("region");
        if let Some(r) = &r {
            find_region(id, r).await.map_err(|_| {
                Error::bad_request(format!("Invalid input for field 'endpoint.region_id': region {r} does not exist."))
            })?;
        }
        return Ok(Some(r));
    }
    if b.has("region") {
        let r = b.id("region")?;
        if let Some(r) = &r {
            if id.store().get_region(r).await?.is_none() {
                id.store()
                    .create_region(&Region {
                        id: r.clone(),
                        description: String::new(),
                        parent_region_id: None,
                        extra: Map::new(),
                    })
                    .await?;
            }
        }
        return Ok(Some(r));
    }
    Ok(None)
}

async fn list_endpoints(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_endpoints", &ctx, Target::new())?;
    let items = id
        .store()
        .list_endpoints(
            q.get("interface").map(String::as_str),
            q.get("service_id").map(String::as_str),
            q.get("region_id").map(String::as_str),
        )
        .await?
        .iter()
        .map(|e| e.to_json(id.public_url()))
        .collect();
    Ok(list_response(&id, "endpoints", "endpoints", &q, items))
}

async fn create_endpoint(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:create_endpoint", &ctx, Target::new())?;
    let mut b = Body::new(v, "endpoint")?;
    let service_id = b.id("service_id")?.ok_or_else(|| {
        Error::bad_request("Invalid input for field 'endpoint': 'service_id' is a required property.")
    })?;
    let interface = b
        .string("interface", 10, false)?
        .ok_or_else(|| Error::bad_request("Invalid input for field 'endpoint': 'interface' is a required property."))?;
    check_interface(&interface)?;
    let url = b
        .string("url", 225, false)?
        .ok_or_else(|| Error::bad_request("Invalid input for field 'endpoint': 'url' is a required property."))?;
    check_url(&url)?;
    let enabled = b.boolean("enabled", false)?.unwrap_or(true);
    find_service(&id, &service_id).await.map_err(|_| {
        Error::bad_request(format!(
            "Invalid input for field 'endpoint.service_id': service {service_id} does not exist."
        ))
    })?;
    let region_id = endpoint_region(&id, &mut b).await?.flatten();
    b.forbid("id")?;
    let e = Endpoint { id: new_id(), service_id, interface, region_id, url, enabled, extra: b.extra() };
    id.store().create_endpoint(&e).await?;
    id.changed();
    Ok(created("endpoint", e.to_json(id.public_url())))
}

async fn show_endpoint(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(eid): Path<String>,
) -> ApiResult<Response> {
    let e = find_endpoint(&id, &eid).await?;
    id.enforce("identity:get_endpoint", &ctx, Target::new())?;
    Ok(ok("endpoint", e.to_json(id.public_url())))
}

async fn update_endpoint(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(eid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut e = find_endpoint(&id, &eid).await?;
    id.enforce("identity:update_endpoint", &ctx, Target::new())?;
    let mut b = Body::new(v, "endpoint")?;
    if let Some(bid) = b.take("id") {
        if bid.as_str() != Some(e.id.as_str()) {
            return Err(Error::bad_request("Invalid input for field 'endpoint.id': it cannot be changed.").into());
        }
    }
    if let Some(en) = b.boolean("enabled", false)? {
        e.enabled = en;
    }
    if let Some(i) = b.string("interface", 10, false)? {
        check_interface(&i)?;
        e.interface = i;
    }
    if let Some(u) = b.string("url", 225, false)? {
        check_url(&u)?;
        e.url = u;
    }
    if let Some(s) = b.id("service_id")? {
        find_service(&id, &s).await.map_err(|_| {
            Error::bad_request(format!("Invalid input for field 'endpoint.service_id': service {s} does not exist."))
        })?;
        e.service_id = s;
    }
    if let Some(r) = endpoint_region(&id, &mut b).await? {
        e.region_id = r;
    }
    for (k, v) in b.extra() {
        e.extra.insert(k, v);
    }
    id.store().update_endpoint(&e).await?;
    id.changed();
    Ok(ok("endpoint", e.to_json(id.public_url())))
}

async fn delete_endpoint(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(eid): Path<String>,
) -> ApiResult<Response> {
    let e = find_endpoint(&id, &eid).await?;
    id.enforce("identity:delete_endpoint", &ctx, Target::new())?;
    id.store().delete_endpoint(&e.id).await?;
    id.changed();
    Ok(no_content())
}
