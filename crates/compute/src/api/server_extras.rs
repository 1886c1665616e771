//! What hangs off a server: metadata, tags, instance actions and events,
//! addresses, security groups, interfaces and volume attachments.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use serde_json::{json, Value};

use super::servers::{load, parse_metadata};
use super::{is_admin, no_content, ok, status, view};
use crate::model::{iso_naive, vm, Instance};
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/servers/{id}/metadata", get(md_list).post(md_merge).put(md_replace))
        .route("/servers/{id}/metadata/{key}", get(md_show).put(md_set).delete(md_delete))
        .route("/servers/{id}/tags", get(tags_list).put(tags_replace).delete(tags_clear))
        .route("/servers/{id}/tags/{tag}", get(tag_check).put(tag_add).delete(tag_delete))
        .route("/servers/{id}/os-instance-actions", get(actions_list))
        .route("/servers/{id}/os-instance-actions/{req}", get(action_show))
        .route("/servers/{id}/ips", get(ips))
        .route("/servers/{id}/ips/{net}", get(ips_of))
        .route("/servers/{id}/os-security-groups", get(sgs))
        .route("/servers/{id}/os-interface", get(interfaces).post(interface_attach))
        .route("/servers/{id}/os-interface/{port}", get(interface_show).delete(interface_detach))
        .route("/servers/{id}/os-volume_attachments", get(volumes))
        .route("/servers/{id}/diagnostics", get(diagnostics))
}

fn token(h: &axum::http::HeaderMap) -> &str {
    h.get("x-auth-token").and_then(|t| t.to_str().ok()).unwrap_or_default()
}

fn check_unlocked(c: &Compute, ctx: &rustack_http::RequestContext, i: &Instance) -> Result<(), Error> {
    let _ = c;
    if i.locked && !is_admin(ctx) {
        return Err(Error::conflict(format!("Instance {} is locked", i.uuid)));
    }
    Ok(())
}

/// Metadata changes are refused while the server builds or is being deleted.
fn check_md_state(i: &Instance, action: &str) -> Result<(), Error> {
    if i.vm_state == vm::BUILDING || i.task_state.as_deref() == Some("deleting") {
        return Err(Error::conflict(format!(
            "Cannot '{action}' instance {} while it is in vm_state {}",
            i.uuid, i.vm_state
        )));
    }
    Ok(())
}

async fn md_list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    Ok(ok(json!({"metadata": i.metadata})))
}

async fn md_write(
    c: &Compute,
    ctx: &rustack_http::RequestContext,
    id: &str,
    body: &Value,
    replace: bool,
) -> Result<Value, Error> {
    let i = load(c, ctx, id).await?;
    check_unlocked(c, ctx, &i)?;
    check_md_state(&i, "update_metadata")?;
    let md = body.get("metadata").ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute metadata. 'metadata' is a required property")
    })?;
    let limit = super::servers::limits_of(c, &i.project_id).await?.get("metadata_items").copied().unwrap_or(128);
    let new = parse_metadata(md, -1)?;
    let (i, ()) = c
        .store()
        .instance_modify(id, move |i| {
            if replace {
                i.metadata = new;
            } else {
                i.metadata.extend(new);
            }
            if limit >= 0 && i.metadata.len() as i64 > limit {
                return Err(Error::forbidden(format!(
                    "Quota exceeded for metadata_items: Maximum number of metadata items exceeds {limit}"
                )));
            }
            Ok(())
        })
        .await?;
    Ok(json!({"metadata": i.metadata}))
}

async fn md_merge(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    Ok(ok(md_write(&c, &ctx, &id, &body, false).await?))
}

async fn md_replace(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    Ok(ok(md_write(&c, &ctx, &id, &body, true).await?))
}

async fn md_show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    let v = i.metadata.get(&key).ok_or_else(|| Error::not_found("Metadata item was not found"))?;
    Ok(ok(json!({"meta": { key: v }})))
}

async fn md_set(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path((id, key)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let meta = body
        .get("meta")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Invalid input for field/attribute meta. 'meta' is a required property"))?;
    if meta.len() > 1 {
        return Err(Error::bad_request("Request body contains too many items").into());
    }
    let v = meta.get(&key).ok_or_else(|| Error::bad_request("Request body and URI mismatch"))?;
    let parsed = parse_metadata(&json!({ key.clone(): v }), -1)?;
    let i = load(&c, &ctx, &id).await?;
    check_unlocked(&c, &ctx, &i)?;
    check_md_state(&i, "update_metadata")?;
    let limit = super::servers::limits_of(&c, &i.project_id).await?.get("metadata_items").copied().unwrap_or(128);
    c.store()
        .instance_modify(&id, move |i| {
            i.metadata.extend(parsed);
            if limit >= 0 && i.metadata.len() as i64 > limit {
                return Err(Error::forbidden(format!(
                    "Quota exceeded for metadata_items: Maximum number of metadata items exceeds {limit}"
                )));
            }
            Ok(())
        })
        .await?;
    Ok(ok(json!({"meta": { key: v }})))
}

async fn md_delete(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path((id, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    check_unlocked(&c, &ctx, &i)?;
    check_md_state(&i, "delete_metadata")?;
    c.store()
        .instance_modify(&id, move |i| {
            i.metadata.remove(&key).map(|_| ()).ok_or_else(|| Error::not_found("Metadata item was not found"))
        })
        .await?;
    Ok(no_content())
}

fn need_tags(v: Version) -> Result<(), Error> {
    if v.at_least(2, 26) {
        Ok(())
    } else {
        Err(Error::not_found("The resource could not be found."))
    }
}

fn valid_tag(t: &str) -> Result<(), Error> {
    if t.is_empty() || t.len() > 60 || t.contains('/') || t.contains(',') {
        return Err(Error::bad_request(format!("Invalid input for field/attribute tag. Value: {t}.")));
    }
    Ok(())
}

const MAX_TAGS: usize = 50;

async fn tags_list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    need_tags(v)?;
    let i = load(&c, &ctx, &id).await?;
    Ok(ok(json!({"tags": i.tags})))
}

async fn tags_replace(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    need_tags(v)?;
    let tags: Vec<String> = body
        .get("tags")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::bad_request("Invalid input for field/attribute tags. 'tags' is a required property"))?
        .iter()
        .map(|t| {
            t.as_str().map(str::to_string).ok_or_else(|| Error::bad_request("Invalid input for field/attribute tags."))
        })
        .collect::<Result<_, _>>()?;
    for t in &tags {
        valid_tag(t)?;
    }
    if tags.len() > MAX_TAGS {
        return Err(Error::bad_request(format!("The number of tags exceeded the per-server limit {MAX_TAGS}")).into());
    }
    let i = load(&c, &ctx, &id).await?;
    check_md_state(&i, "update tags")?;
    let (i, ()) = c
        .store()
        .instance_modify(&id, move |i| {
            let mut t = tags;
            t.dedup();
            i.tags = t;
            Ok(())
        })
        .await?;
    Ok(ok(json!({"tags": i.tags})))
}

async fn tags_clear(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    need_tags(v)?;
    let i = load(&c, &ctx, &id).await?;
    check_md_state(&i, "delete tags")?;
    c.store()
        .instance_modify(&id, |i| {
            i.tags.clear();
            Ok(())
        })
        .await?;
    Ok(no_content())
}

async fn tag_check(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    need_tags(v)?;
    let i = load(&c, &ctx, &id).await?;
    if i.tags.contains(&tag) {
        Ok(no_content())
    } else {
        Err(Error::not_found(format!("Tag {tag} could not be found for instance {id}")).into())
    }
}

async fn tag_add(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    need_tags(v)?;
    valid_tag(&tag)?;
    let i = load(&c, &ctx, &id).await?;
    check_md_state(&i, "update tag")?;
    let t = tag.clone();
    let (_, added) = c
        .store()
        .instance_modify(&id, move |i| {
            if i.tags.contains(&t) {
                return Ok(false);
            }
            if i.tags.len() >= MAX_TAGS {
                return Err(Error::bad_request(format!("The number of tags exceeded the per-server limit {MAX_TAGS}")));
            }
            i.tags.push(t);
            Ok(true)
        })
        .await?;
    let mut r = if added { status(201, Value::Null) } else { no_content() };
    if added {
        *r.body_mut() = axum::body::Body::empty();
    }
    let loc = format!("{}/v2.1/servers/{id}/tags/{tag}", c.options().public_url);
    if let Ok(h) = loc.parse() {
        r.headers_mut().insert(axum::http::header::LOCATION, h);
    }
    Ok(r)
}

async fn tag_delete(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<Response> {
    need_tags(v)?;
    let i = load(&c, &ctx, &id).await?;
    check_md_state(&i, "delete tag")?;
    c.store()
        .instance_modify(&id, move |i| {
            if !i.tags.contains(&tag) {
                return Err(Error::not_found(format!("Tag {tag} could not be found for instance {}", i.uuid)));
            }
            i.tags.retain(|t| *t != tag);
            Ok(())
        })
        .await?;
    Ok(no_content())
}

fn action_view(a: &crate::model::InstanceAction, v: Version, with_events: Option<bool>) -> Value {
    let mut o = json!({
        "action": a.action, "instance_uuid": a.instance_uuid, "request_id": a.request_id,
        "user_id": a.user_id, "project_id": a.project_id, "start_time": iso_naive(&a.start_time),
        "message": a.message,
    });
    if v.at_least(2, 58) {
        o["updated_at"] = json!(iso_naive(&a.updated_at));
    }
    if let Some(admin) = with_events {
        let evs: Vec<Value> = a
            .events
            .iter()
            .map(|e| {
                let mut ev = json!({"event": e.event, "start_time": iso_naive(&e.start_time),
                    "finish_time": e.finish_time.as_deref().map(iso_naive), "result": e.result});
                if admin {
                    ev["traceback"] = json!(e.traceback);
                }
                if v.at_least(2, 62) && admin {
                    ev["host"] = json!(e.host);
                    ev["hostId"] = json!("");
                }
                if v.at_least(2, 84) && admin {
                    ev["details"] = Value::Null;
                }
                ev
            })
            .collect();
        o["events"] = Value::Array(evs);
    }
    o
}

/// Instance actions stay readable after the server is deleted (2.21).
async fn load_any(c: &Compute, ctx: &rustack_http::RequestContext, id: &str) -> Result<Instance, Error> {
    let nf = || Error::not_found(format!("Instance {id} could not be found."));
    let i = c.store().instance_get_any(id).await?.ok_or_else(nf)?;
    if is_admin(ctx) || ctx.project_id() == Some(i.project_id.as_str()) {
        Ok(i)
    } else {
        Err(nf())
    }
}

async fn actions_list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let i = if v.at_least(2, 21) { load_any(&c, &ctx, &id).await? } else { load(&c, &ctx, &id).await? };
    let list: Vec<Value> = c.store().actions_of(&i.uuid).await?.iter().map(|a| action_view(a, v, None)).collect();
    Ok(ok(json!({"instanceActions": list})))
}

async fn action_show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path((id, req)): Path<(String, String)>,
) -> ApiResult<Response> {
    let i = if v.at_least(2, 21) { load_any(&c, &ctx, &id).await? } else { load(&c, &ctx, &id).await? };
    let a = c
        .store()
        .action_by_request(&i.uuid, &req)
        .await?
        .ok_or_else(|| Error::not_found(format!("Action for request_id {req} on instance {id} not found")))?;
    // events are shown to admins always, to owners from 2.51
    let events = if is_admin(&ctx) {
        Some(true)
    } else if v.at_least(2, 51) {
        Some(false)
    } else {
        None
    };
    Ok(ok(json!({"instanceAction": action_view(&a, v, events)})))
}

async fn ips(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    let i = super::server_floating_ips::refresh(&c, token(&headers), i).await;
    let mut a = view::addresses(&i);
    for list in a.as_object_mut().into_iter().flat_map(|m| m.values_mut()) {
        for x in list.as_array_mut().into_iter().flatten() {
            if let Some(o) = x.as_object_mut() {
                o.retain(|k, _| k == "version" || k == "addr");
            }
        }
    }
    Ok(ok(json!({"addresses": a})))
}

async fn ips_of(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path((id, net)): Path<(String, String)>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    let i = super::server_floating_ips::refresh(&c, token(&headers), i).await;
    let list = i.addresses.get(&net).ok_or_else(|| Error::not_found("There are no instances on this network."))?;
    let v: Vec<Value> = list.iter().map(|a| json!({"version": a.version, "addr": a.addr})).collect();
    Ok(ok(json!({ net: v })))
}

async fn sgs(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    let tok = headers.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let list = super::secgroups::of_server(&c, &ctx, tok, &i).await?;
    Ok(ok(json!({"security_groups": list})))
}

/// One interface as os-interface shows it (`tag` from 2.70).
fn interface_view(p: &crate::peers::PortInfo, v: Version) -> Value {
    let ips: Vec<Value> =
        p.fixed_ips.iter().map(|(subnet, ip)| json!({"subnet_id": subnet, "ip_address": ip})).collect();
    let mut out = json!({"port_state": p.status, "fixed_ips": ips, "port_id": p.id, "net_id": p.network_id,
                         "mac_addr": p.mac});
    if v.at_least(2, 70) {
        out["tag"] = Value::Null;
    }
    out
}

async fn interfaces(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    let list: Vec<Value> = c.interfaces_of(&i).await?.iter().map(|p| interface_view(p, v)).collect();
    Ok(ok(json!({ "interfaceAttachments": list })))
}

async fn interface_show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path((id, port)): Path<(String, String)>,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    let p = c
        .interfaces_of(&i)
        .await?
        .into_iter()
        .find(|p| p.id == port)
        .ok_or_else(|| Error::not_found(format!("Port {port} is not attached")))?;
    Ok(ok(json!({ "interfaceAttachment": interface_view(&p, v) })))
}

/// The body of an attach: a network (with optional fixed IPs) or a port.
fn attach_request(body: &Value) -> Result<crate::peers::NetItem, Error> {
    let a = body
        .get("interfaceAttachment")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Invalid input for field/attribute interfaceAttachment."))?;
    let text = |k: &str| -> Result<Option<String>, Error> {
        match a.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
            Some(_) => Err(Error::bad_request(format!("Invalid input for field/attribute {k}."))),
        }
    };
    let (net, port) = (text("net_id")?, text("port_id")?);
    if net.is_some() && port.is_some() {
        return Err(Error::bad_request("Must not input both network_id and port_id"));
    }
    let fixed = match a.get("fixed_ips") {
        None | Some(Value::Null) => vec![],
        Some(Value::Array(l)) if l.len() <= 1 => l
            .iter()
            .map(|x| {
                x.get("ip_address")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| Error::bad_request("Invalid input for field/attribute fixed_ips."))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(Error::bad_request("Invalid input for field/attribute fixed_ips.")),
    };
    if !fixed.is_empty() && net.is_none() {
        return Err(Error::bad_request("Must input network_id when request IP address"));
    }
    Ok(crate::peers::NetItem { network_id: net, port_id: port, fixed_ip: fixed.into_iter().next() })
}

async fn interface_attach(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    check_unlocked(&c, &ctx, &i)?;
    let item = attach_request(&body)?;
    let req = if item.network_id.is_none() && item.port_id.is_none() {
        // no network named: the one network the project would boot on
        crate::peers::NetRequest::Auto
    } else {
        crate::peers::NetRequest::List(vec![item])
    };
    let p = c.attach_interface(&ctx, &i.uuid, req).await?;
    Ok(ok(json!({ "interfaceAttachment": interface_view(&p, v) })))
}

async fn interface_detach(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path((id, port)): Path<(String, String)>,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    check_unlocked(&c, &ctx, &i)?;
    c.detach_interface(&i.uuid, &port).await?;
    Ok(super::accepted())
}

async fn volumes(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    load(&c, &ctx, &id).await?;
    Ok(ok(json!({"volumeAttachments": []})))
}

async fn diagnostics(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    super::require_admin(&ctx, "os_compute_api:os-server-diagnostics")?;
    let i = load(&c, &ctx, &id).await?;
    let not_ready = || Error::conflict(format!("Instance {id} is not ready"));
    let agent = i.host.as_deref().and_then(|h| c.agent(h)).ok_or_else(not_ready)?;
    // Nova's compute manager answers only for a running guest
    let power = agent.driver.power_state(&id).ok_or_else(not_ready)?;
    if power != crate::model::power::RUNNING {
        return Err(Error::conflict(format!(
            "Instance {id} in power state {}. Cannot get_diagnostics while the instance is in this state.",
            crate::driver::diagnostics_state(power)
        ))
        .into());
    }
    let d = agent.driver.diagnostics(&id).ok_or_else(not_ready)?;
    if v.at_least(2, 48) {
        return Ok(ok(serde_json::to_value(&d).map_err(|e| Error::internal(&e))?));
    }
    Ok(ok(legacy_diagnostics(&d)))
}

/// Before 2.48 each Nova driver had its own flat shape; this is the libvirt
/// one's (`cpu0_time`, `memory`, `vda_read`, `<nic>_rx` …), unknown values
/// left out.
fn legacy_diagnostics(d: &crate::driver::Diagnostics) -> Value {
    let mut m = serde_json::Map::new();
    let mut put = |k: String, v: Option<i64>| {
        if let Some(v) = v {
            m.insert(k, json!(v));
        }
    };
    for (n, cpu) in d.cpu_details.iter().enumerate() {
        put(format!("cpu{n}_time"), cpu.time);
    }
    put("memory".into(), d.memory_details.maximum.map(|mib| mib * 1024));
    put("memory-rss".into(), d.memory_details.used.map(|mib| mib * 1024));
    for (n, disk) in d.disk_details.iter().enumerate() {
        let dev = format!("vd{}", char::from(b'a' + (n % 26) as u8));
        put(format!("{dev}_read"), disk.read_bytes);
        put(format!("{dev}_read_req"), disk.read_requests);
        put(format!("{dev}_write"), disk.write_bytes);
        put(format!("{dev}_write_req"), disk.write_requests);
        put(format!("{dev}_errors"), disk.errors_count);
    }
    for (n, nic) in d.nic_details.iter().enumerate() {
        put(format!("nic{n}_rx"), nic.rx_octets);
        put(format!("nic{n}_rx_packets"), nic.rx_packets);
        put(format!("nic{n}_rx_errors"), nic.rx_errors);
        put(format!("nic{n}_rx_drop"), nic.rx_drop);
        put(format!("nic{n}_tx"), nic.tx_octets);
        put(format!("nic{n}_tx_packets"), nic.tx_packets);
        put(format!("nic{n}_tx_errors"), nic.tx_errors);
        put(format!("nic{n}_tx_drop"), nic.tx_drop);
    }
    Value::Object(m)
}
