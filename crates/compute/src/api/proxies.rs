//! Small APIs Nova answers for its peers or as proxies: `os-migrations`,
//! `os-server-external-events`, and the image
//! proxy's read calls (`GET /images/{id}`, its metadata).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use rustack_image::model::CORE_SHOWN;
use serde_json::{json, Value};

use super::{is_admin, links, ok, require_admin};
use crate::model::{iso_naive, iso_seconds};
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-migrations", get(migrations))
        .route("/os-server-external-events", post(events))
        .route("/images/{id}", get(image).delete(image_delete))
        .route("/images/{id}/metadata", get(image_md).post(image_md_merge).put(image_md_replace))
        .route("/images/{id}/metadata/{key}", get(image_md_show).put(image_md_set).delete(image_md_delete))
        .route("/images", get(images_list))
        .route("/images/detail", get(images_detail))
        .route("/os-tenant-networks", get(tenant_networks))
        .route("/os-tenant-networks/{id}", get(tenant_network))
        .route("/os-networks", get(networks))
        .route("/os-networks/{id}", get(network))
}

/// `os-migrations`: the migrations table (and resizes older than it, from
/// the action log: `Store::migrations`), newest first, with Nova's filters
/// (`instance_uuid`, `status`, `host`, `migration_type`).
async fn migrations(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    axum::extract::Query(q): super::Query,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-migrations:index")?;
    let all = c.store().migrations().await?;
    let kind = |m: &crate::store::instances::MigrationRecord| m.migration_type;
    // the table's ids, as servers/{id}/migrations shows them; resizes older
    // than the table are numbered after its ids
    let legacy_base = all.iter().filter_map(|m| m.num).max().unwrap_or(0);
    let list: Vec<Value> = all
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, m)| q.get("instance_uuid").is_none_or(|u| *u == m.instance_uuid))
        .filter(|(_, m)| q.get("status").is_none_or(|s| s.eq_ignore_ascii_case(m.status)))
        .filter(|(_, m)| {
            q.get("host")
                .is_none_or(|h| [&m.source_compute, &m.dest_compute].iter().any(|c| c.as_deref() == Some(h.as_str())))
        })
        .filter(|(_, m)| q.get("migration_type").is_none_or(|t| t == kind(m)))
        .map(|(n, m)| {
            let mut o = json!({
                "id": m.num.unwrap_or(legacy_base + n as i64 + 1), "status": m.status, "instance_uuid": m.instance_uuid,
                "source_node": m.source_compute, "source_compute": m.source_compute,
                "dest_node": m.dest_compute, "dest_compute": m.dest_compute,
                "dest_host": m.dest_compute, "old_instance_type_id": null, "new_instance_type_id": null,
                "created_at": iso_naive(&m.created_at), "updated_at": iso_naive(&m.updated_at),
            });
            if v.at_least(2, 23) {
                o["migration_type"] = json!(kind(m));
            }
            if v.at_least(2, 59) {
                o["uuid"] = json!(m.id);
            }
            o
        })
        .collect();
    Ok(ok(json!({ "migrations": list })))
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

/// `os-networks` (deprecated, gone at 2.36) over the network service: Nova
/// with Neutron fills only `id` and `label`; the nova-network fields are
/// null, the operator ones shown to admins only.
fn network_view(n: &Value, admin: bool) -> Value {
    const FIELDS: &[&str] =
        &["cidr", "netmask", "gateway", "broadcast", "dns1", "dns2", "cidr_v6", "gateway_v6", "netmask_v6"];
    const ADMIN_FIELDS: &[&str] = &[
        "created_at",
        "updated_at",
        "deleted_at",
        "deleted",
        "injected",
        "bridge",
        "vlan",
        "vpn_public_address",
        "vpn_public_port",
        "vpn_private_address",
        "dhcp_start",
        "project_id",
        "host",
        "bridge_interface",
        "multi_host",
        "priority",
        "rxtx_base",
        "mtu",
        "dhcp_server",
        "enable_dhcp",
        "share_address",
    ];
    let mut o = serde_json::Map::new();
    o.insert("id".into(), n["id"].clone());
    o.insert("label".into(), n["name"].clone());
    let extra = if admin { ADMIN_FIELDS } else { &[] };
    for f in FIELDS.iter().chain(extra) {
        o.insert((*f).into(), Value::Null);
    }
    Value::Object(o)
}

fn networks_gone(v: Version) -> Result<(), Error> {
    if v.at_least(2, 36) {
        return Err(Error::not_found("The resource could not be found."));
    }
    Ok(())
}

async fn networks(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
) -> ApiResult<Response> {
    networks_gone(v)?;
    let Some(net) = &c.inner.peers.network else { return Ok(ok(json!({"networks": []}))) };
    let admin = is_admin(&ctx);
    let list: Vec<Value> = net.list_networks_for(&ctx).await?.iter().map(|n| network_view(n, admin)).collect();
    Ok(ok(json!({ "networks": list })))
}

async fn network(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    networks_gone(v)?;
    let missing = || Error::not_found(format!("Network {id} could not be found."));
    let net = c.inner.peers.network.as_ref().ok_or_else(missing)?;
    let n = net.get_network_for(&ctx, &id).await.map_err(|_| missing())?;
    Ok(ok(json!({"network": network_view(&n, is_admin(&ctx))})))
}

// ---- the image proxy over Glance's API, with the caller's token ----

fn glance_client() -> &'static reqwest::Client {
    static C: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    C.get_or_init(reqwest::Client::new)
}

async fn glance(
    c: &Compute,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<(Value, &str)>,
) -> Result<(u16, Value), Error> {
    let url = format!("{}{path}", c.inner.peers.image.options().public_url);
    let mut rb = glance_client().request(method, url).header("X-Auth-Token", token);
    if let Some((b, ct)) = body {
        rb = rb.header("Content-Type", ct).body(b.to_string());
    }
    let r = rb.send().await.map_err(|e| Error::internal(&e))?;
    let s = r.status().as_u16();
    Ok((s, r.json::<Value>().await.unwrap_or(Value::Null)))
}

fn tok(h: &axum::http::HeaderMap) -> String {
    h.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// Fields of a Glance image that are not custom properties: the core fields
/// the image service shows, and its links and store fields.
const GLANCE_LINKS: &[&str] = &["file", "schema", "self", "locations", "direct_url", "stores"];

fn glance_props(g: &Value) -> serde_json::Map<String, Value> {
    g.as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !CORE_SHOWN.contains(&k.as_str()) && !GLANCE_LINKS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn glance_view(c: &Compute, g: &Value) -> Value {
    let id = g["id"].as_str().unwrap_or_default();
    let status = nova_status(g["status"].as_str().unwrap_or_default());
    let props = glance_props(g);
    let mut v = json!({
        "id": id, "name": g["name"], "minRam": g["min_ram"], "minDisk": g["min_disk"], "metadata": props,
        "status": status, "progress": if status == "ACTIVE" { 100 } else { 25 },
        "created": iso_seconds(g["created_at"].as_str().unwrap_or_default()),
        "updated": iso_seconds(g["updated_at"].as_str().unwrap_or_default()),
        "links": links(c, &format!("images/{id}")), "OS-EXT-IMG-SIZE:size": g["size"],
    });
    if let Some(s) = props.get("instance_uuid").and_then(Value::as_str) {
        v["server"] = json!({"id": s, "links": links(c, &format!("servers/{s}"))});
    }
    v
}

async fn all_images(c: &Compute, token: &str) -> Result<Vec<Value>, Error> {
    let (s, v) = glance(c, token, reqwest::Method::GET, "/v2/images?limit=1000", None).await?;
    if s != 200 {
        return Err(Error::bad_request("cannot list images"));
    }
    Ok(v["images"].as_array().cloned().unwrap_or_default())
}

async fn listing(
    c: &Compute,
    h: &axum::http::HeaderMap,
    q: &std::collections::HashMap<String, String>,
    detail: bool,
) -> Result<Value, Error> {
    let mut imgs: Vec<Value> = all_images(c, &tok(h)).await?.iter().map(|g| glance_view(c, g)).collect();
    if let Some(n) = q.get("name") {
        imgs.retain(|i| i["name"] == n.as_str());
    }
    if let Some(s) = q.get("status") {
        imgs.retain(|i| i["status"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(s)));
    }
    if let Some(s) = q.get("server") {
        let s = s.rsplit('/').next().unwrap_or_default().to_string();
        imgs.retain(|i| i["metadata"]["instance_uuid"] == s.as_str());
    }
    if let Some(t) = q.get("type") {
        imgs.retain(|i| {
            i["metadata"]["image_type"] == t.as_str() || (t == "server" && i["metadata"]["image_type"] == "snapshot")
        });
    }
    if let Some(cs) = q.get("changes-since").and_then(|t| rustack_common::time::parse_iso(t)) {
        imgs.retain(|i| i["updated"].as_str().and_then(rustack_common::time::parse_iso).is_some_and(|u| u >= cs));
    }
    for (k, f) in [("minRam", "minRam"), ("minDisk", "minDisk")] {
        if let Some(n) = q.get(k).and_then(|x| x.parse::<i64>().ok()) {
            imgs.retain(|i| i[f].as_i64().unwrap_or(0) >= n);
        }
    }
    let (items, more) = super::page(
        imgs,
        q,
        |i| i["id"].as_str().unwrap_or_default(),
        |m| Error::bad_request(format!("marker [{m}] not found")),
    )?;
    let list: Vec<Value> = if detail {
        items.clone()
    } else {
        items.iter().map(|i| json!({"id": i["id"], "name": i["name"], "links": i["links"]})).collect()
    };
    let mut body = json!({ "images": list });
    if more {
        if let Some(last) = items.last().and_then(|l| l["id"].as_str()) {
            body["images_links"] = super::next_link(c, if detail { "images/detail" } else { "images" }, q, last);
        }
    }
    Ok(body)
}

async fn images_list(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: axum::http::HeaderMap,
    q: super::Query,
) -> ApiResult<Response> {
    Ok(ok(listing(&c, &h, &q, false).await?))
}

async fn images_detail(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: axum::http::HeaderMap,
    q: super::Query,
) -> ApiResult<Response> {
    Ok(ok(listing(&c, &h, &q, true).await?))
}

async fn image_delete(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: axum::http::HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (s, v) = glance(&c, &tok(&h), reqwest::Method::DELETE, &format!("/v2/images/{id}"), None).await?;
    match s {
        200 | 204 => Ok(super::no_content()),
        404 | 400 => Err(Error::not_found("Image not found.").into()),
        403 => Err(Error::forbidden(v["message"].as_str().unwrap_or("Forbidden").to_string()).into()),
        409 => Err(Error::conflict(v["message"].as_str().unwrap_or("Image is in use").to_string()).into()),
        _ => Err(Error::bad_request("cannot delete the image").into()),
    }
}

async fn glance_image(c: &Compute, token: &str, id: &str) -> Result<Value, Error> {
    let (s, v) = glance(c, token, reqwest::Method::GET, &format!("/v2/images/{id}"), None).await?;
    if s != 200 {
        return Err(Error::not_found("Image not found."));
    }
    Ok(v)
}

/// Applies metadata changes with a JSON patch (`replace_all` drops the others).
async fn patch_md(
    c: &Compute,
    token: &str,
    id: &str,
    set: &serde_json::Map<String, Value>,
    remove: &[String],
    replace_all: bool,
) -> Result<Value, Error> {
    let g = glance_image(c, token, id).await?;
    let cur = glance_props(&g);
    let mut ops = Vec::new();
    if replace_all {
        for k in cur.keys().filter(|k| !set.contains_key(*k)) {
            ops.push(json!({"op": "remove", "path": format!("/{k}")}));
        }
    }
    for k in remove {
        if !cur.contains_key(k) {
            return Err(Error::not_found("Metadata item was not found"));
        }
        ops.push(json!({"op": "remove", "path": format!("/{k}")}));
    }
    for (k, v) in set {
        let op = if cur.contains_key(k) { "replace" } else { "add" };
        ops.push(json!({"op": op, "path": format!("/{k}"), "value": v}));
    }
    let (s, v) = glance(
        c,
        token,
        reqwest::Method::PATCH,
        &format!("/v2/images/{id}"),
        Some((Value::Array(ops), "application/openstack-images-v2.1-json-patch")),
    )
    .await?;
    match s {
        200 => Ok(Value::Object(glance_props(&v))),
        404 => Err(Error::not_found("Image not found.")),
        403 => Err(Error::forbidden("Policy doesn't allow the image metadata change.")),
        _ => Err(Error::bad_request(v["message"].as_str().unwrap_or("Invalid metadata").to_string())),
    }
}

fn md_body(body: &Value, key: &str) -> Result<serde_json::Map<String, Value>, Error> {
    let m = body
        .get(key)
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request(format!("Invalid input for field/attribute {key}.")))?;
    for (k, v) in m {
        if k.is_empty() || k.len() > 255 || !v.is_string() {
            return Err(Error::bad_request(format!("Invalid input for field/attribute {key}. Value: {k}.")));
        }
    }
    Ok(m.clone())
}

async fn image_md_merge(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: axum::http::HeaderMap,
    Path(id): Path<String>,
    rustack_http::JsonBody(body): rustack_http::JsonBody<Value>,
) -> ApiResult<Response> {
    let set = md_body(&body, "metadata")?;
    Ok(ok(json!({"metadata": patch_md(&c, &tok(&h), &id, &set, &[], false).await?})))
}

async fn image_md_replace(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: axum::http::HeaderMap,
    Path(id): Path<String>,
    rustack_http::JsonBody(body): rustack_http::JsonBody<Value>,
) -> ApiResult<Response> {
    let set = md_body(&body, "metadata")?;
    Ok(ok(json!({"metadata": patch_md(&c, &tok(&h), &id, &set, &[], true).await?})))
}

async fn image_md_show(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: axum::http::HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let g = glance_image(&c, &tok(&h), &id).await?;
    let v = glance_props(&g).get(&key).cloned().ok_or_else(|| Error::not_found("Metadata item was not found"))?;
    Ok(ok(json!({"meta": { key: v }})))
}

async fn image_md_set(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: axum::http::HeaderMap,
    Path((id, key)): Path<(String, String)>,
    rustack_http::JsonBody(body): rustack_http::JsonBody<Value>,
) -> ApiResult<Response> {
    let meta = md_body(&body, "meta")?;
    if meta.len() != 1 || !meta.contains_key(&key) {
        return Err(Error::bad_request("Request body and URI mismatch").into());
    }
    patch_md(&c, &tok(&h), &id, &meta, &[], false).await?;
    Ok(ok(json!({"meta": meta})))
}

async fn image_md_delete(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: axum::http::HeaderMap,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    patch_md(&c, &tok(&h), &id, &serde_json::Map::new(), &[key], false).await?;
    Ok(super::no_content())
}

#[cfg(test)]
mod tests {
    use axum::http::Method;
    use rustack_test_utils::TestCloud;

    #[tokio::test]
    async fn os_networks_lists_and_shows_the_network_services_networks_until_2_36() {
        let cloud = TestCloud::start().await;
        let token = cloud.admin_token().await;
        let nova = format!("{}/v2.1", cloud.compute.url);
        let r = cloud.get(&format!("{nova}/os-networks"), &token).await.expect(200);
        let list = r.body["networks"].as_array().expect("networks").clone();
        let public = list.iter().find(|n| n["label"] == "public").expect("the bootstrap's public network").clone();
        assert!(public["cidr"].is_null() && public.get("project_id").is_some(), "{public}");
        let id = public["id"].as_str().expect("id");
        let r = cloud.get(&format!("{nova}/os-networks/{id}"), &token).await.expect(200);
        assert_eq!(r.body["network"], public);
        let r = cloud.get(&format!("{nova}/os-networks/no-such-network"), &token).await.expect(404);
        assert_eq!(r.body["itemNotFound"]["message"], "Network no-such-network could not be found.");
        let r = cloud
            .request_with(
                Method::GET,
                &format!("{nova}/os-networks"),
                Some(&token),
                None,
                &[("OpenStack-API-Version", "compute 2.36")],
            )
            .await;
        r.expect(404);
    }

    #[tokio::test]
    async fn os_migrations_lists_a_resize_and_its_confirmation() {
        let cloud = TestCloud::start().await;
        let token = cloud.admin_token().await;
        let nova = format!("{}/v2.1", cloud.compute.url);
        let r = cloud.get(&format!("{nova}/os-migrations"), &token).await.expect(200);
        assert_eq!(r.body["migrations"], serde_json::json!([]));

        let image = cloud.tiny_image(&token, "m", false).await;
        let v237 = [("OpenStack-API-Version", "compute 2.37")];
        let body =
            serde_json::json!({"server": {"name": "m", "imageRef": image, "flavorRef": "1", "networks": "none"}});
        let r = cloud.request_with(Method::POST, &format!("{nova}/servers"), Some(&token), Some(body), &v237).await;
        let id = r.expect(202).body["server"]["id"].as_str().expect("id").to_string();
        let wait = |status: &'static str| {
            let (cloud, url, token) = (&cloud, format!("{nova}/servers/{id}"), token.clone());
            async move {
                for _ in 0..300 {
                    let r = cloud.get(&url, &token).await.expect(200);
                    if r.body["server"]["status"] == status {
                        return;
                    }
                    assert_ne!(r.body["server"]["status"], "ERROR", "{}", r.body);
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                panic!("server never {status}");
            }
        };
        wait("ACTIVE").await;
        let action = format!("{nova}/servers/{id}/action");
        cloud.post(&action, &token, serde_json::json!({"resize": {"flavorRef": "2"}})).await.expect(202);
        wait("VERIFY_RESIZE").await;
        let r = cloud.get(&format!("{nova}/os-migrations"), &token).await.expect(200);
        let m = r.body["migrations"][0].clone();
        assert_eq!(m["instance_uuid"], id.as_str());
        assert_eq!(m["status"], "finished");
        assert!(m["id"].is_u64() && m.get("migration_type").is_none(), "{m}");
        cloud.post(&action, &token, serde_json::json!({"confirmResize": null})).await.expect(204);
        wait("ACTIVE").await;
        let r = cloud
            .request_with(
                Method::GET,
                &format!("{nova}/os-migrations?instance_uuid={id}"),
                Some(&token),
                None,
                &[("OpenStack-API-Version", "compute 2.59")],
            )
            .await
            .expect(200);
        let list = r.body["migrations"].as_array().expect("migrations");
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["status"], "confirmed");
        assert_eq!(list[0]["migration_type"], "resize");
        assert!(list[0]["uuid"].as_str().is_some_and(|u| u.len() == 36));
        let r = cloud.get(&format!("{nova}/os-migrations?status=error"), &token).await.expect(200);
        assert_eq!(r.body["migrations"], serde_json::json!([]));
        // admins only
        let demo = cloud.demo_token().await;
        cloud.get(&format!("{nova}/os-migrations"), &demo).await.expect(403);
    }
}
