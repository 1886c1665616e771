//! Small APIs Nova answers for its peers or as proxies: `os-migrations`
//! (no migrations happen here), `os-server-external-events`, and the image
//! proxy's read calls (`GET /images/{id}`, its metadata).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use rustack_common::Error;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use serde_json::{json, Value};

use super::{is_admin, links, ok, require_admin};
use crate::model::iso_seconds;
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-migrations", get(migrations))
        .route("/os-server-external-events", post(events))
        .route("/images/{id}", get(image))
        .route("/images/{id}/metadata", get(image_md))
        .route("/os-tenant-networks", get(tenant_networks))
        .route("/os-tenant-networks/{id}", get(tenant_network))
}

async fn migrations(Authenticated(ctx): Authenticated) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-migrations:index")?;
    Ok(ok(json!({"migrations": []})))
}

async fn events(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-server-external-events:create")?;
    let evs = body.get("events").and_then(Value::as_array).filter(|a| !a.is_empty()).ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute events. 'events' is a required property")
    })?;
    let mut out = Vec::new();
    let mut found = false;
    for e in evs {
        let name = e
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::bad_request("Invalid input for field/attribute name."))?;
        let uuid = e
            .get("server_uuid")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::bad_request("Invalid input for field/attribute server_uuid."))?;
        let mut r = e.clone();
        if c.store().instance_get(uuid).await?.is_some_and(|i| i.host.is_some()) {
            found = true;
            r["code"] = json!(200);
            r["status"] = json!(e.get("status").and_then(Value::as_str).unwrap_or("completed"));
        } else {
            r["code"] = json!(if c.store().instance_get(uuid).await?.is_some() { 422 } else { 404 });
            r["status"] = json!("failed");
        }
        let _ = name;
        out.push(r);
    }
    if !found {
        return Err(Error::not_found("No instances found for any event").into());
    }
    Ok(ok(json!({"events": out})))
}

fn nova_status(glance: &str) -> &'static str {
    match glance {
        "active" => "ACTIVE",
        "queued" | "saving" | "importing" | "uploading" => "SAVING",
        "killed" => "ERROR",
        "deleted" | "pending_delete" => "DELETED",
        _ => "UNKNOWN",
    }
}

async fn image(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let nf = || Error::not_found("Image not found.");
    let i = c.inner.set.images.get(&ctx, &id).await?.ok_or_else(nf)?;
    let status = nova_status(&i.status);
    let mut v = json!({
        "id": i.id, "name": i.name, "minRam": i.min_ram, "minDisk": i.min_disk, "metadata": i.properties,
        "status": status, "progress": if status == "ACTIVE" { 100 } else { 25 },
        "created": iso_seconds(&i.created_at), "updated": iso_seconds(&i.updated_at),
        "links": links(&c, &format!("images/{}", i.id)), "OS-EXT-IMG-SIZE:size": i.size,
    });
    if let Some(s) = i.properties.get("instance_uuid").and_then(Value::as_str) {
        v["server"] = json!({"id": s, "links": links(&c, &format!("servers/{s}"))});
    }
    let _ = is_admin(&ctx);
    Ok(ok(json!({ "image": v })))
}

async fn image_md(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let i = c.inner.set.images.get(&ctx, &id).await?.ok_or_else(|| Error::not_found("Image not found."))?;
    Ok(ok(json!({"metadata": i.properties})))
}

fn tenant_net_view(n: &Value) -> Value {
    json!({"id": n["id"], "label": n["name"], "cidr": Value::Null})
}

/// `os-tenant-networks`: the networks the project sees, through the network service.
async fn tenant_networks(State(c): State<Compute>, Authenticated(ctx): Authenticated) -> ApiResult<Response> {
    let Some(net) = &c.inner.peers.network else { return Ok(ok(json!({"networks": []}))) };
    let list: Vec<Value> = net.list_networks_for(&ctx).await?.iter().map(tenant_net_view).collect();
    Ok(ok(json!({"networks": list})))
}

async fn tenant_network(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let net = c.inner.peers.network.as_ref().ok_or_else(|| Error::not_found("Network not found."))?;
    let n = net
        .get_network_for(&ctx, &id)
        .await
        .map_err(|_| Error::not_found(format!("Network {id} could not be found.")))?;
    Ok(ok(json!({"network": tenant_net_view(&n)})))
}
