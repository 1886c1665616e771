//! Nova's floating IP proxy (`os-floating-ips`, `os-floating-ip-pools`;
//! deprecated, gone at 2.36): the network service's Neutron API called with
//! the caller's own token, as Nova calls Neutron, in Nova's shapes. A pool is
//! an external network, named by name or id. Associating one with a server
//! is the addFloatingIp action (`server_action`, served to 2.43): the
//! floating IP is pointed at the server's port and the server's addresses
//! then list it (`OS-EXT-IPS:type` floating), as Nova's refreshed network
//! info cache does.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use reqwest::Method;
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use serde_json::{json, Value};

use super::secgroups::neutron;
use super::{accepted, ok, project_of};
use crate::model::{Address, Instance};
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-floating-ips", get(list).post(create))
        .route("/os-floating-ips/{id}", get(show).delete(remove))
        .route("/os-floating-ip-pools", get(pools))
}

fn token(h: &HeaderMap) -> String {
    h.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

fn gone(v: Version) -> Result<(), Error> {
    if v.at_least(2, 36) {
        return Err(Error::not_found("The resource could not be found."));
    }
    Ok(())
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Floating IP not found for ID {id}"))
}

/// A Neutron answer that is not a success, as Nova words it.
fn failed(status: u16, v: &Value) -> Error {
    let msg = v["NeutronError"]["message"].as_str().unwrap_or("Network service error").to_string();
    match status {
        404 => Error::not_found(msg),
        403 => Error::forbidden(msg),
        401 => Error::unauthorized(msg),
        _ => Error::bad_request(msg),
    }
}

/// Renders Neutron floating IPs as Nova's `{id, ip, pool, fixed_ip,
/// instance_id}`: the pool is the external network's name, the instance the
/// device of the port the address is bound to.
async fn views(c: &Compute, tok: &str, fips: &[Value]) -> Result<Vec<Value>, Error> {
    let mut nets: HashMap<String, Value> = HashMap::new();
    let mut out = Vec::with_capacity(fips.len());
    for f in fips {
        let net_id = f["floating_network_id"].as_str().unwrap_or_default().to_string();
        if !nets.contains_key(&net_id) {
            let (s, n) = neutron(c, tok, Method::GET, &format!("/networks/{net_id}"), None).await?;
            nets.insert(net_id.clone(), if s == 200 { n["network"].clone() } else { Value::Null });
        }
        let pool = nets[&net_id]["name"].as_str().filter(|n| !n.is_empty()).unwrap_or(&net_id).to_string();
        let instance_id = match f["port_id"].as_str() {
            Some(p) => {
                let (s, port) = neutron(c, tok, Method::GET, &format!("/ports/{p}"), None).await?;
                if s == 200 {
                    port["port"]["device_id"].as_str().filter(|d| !d.is_empty()).map(str::to_string)
                } else {
                    None
                }
            }
            None => None,
        };
        out.push(json!({
            "id": f["id"], "ip": f["floating_ip_address"], "pool": pool,
            "fixed_ip": f["fixed_ip_address"], "instance_id": instance_id,
        }));
    }
    Ok(out)
}

async fn list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    h: HeaderMap,
) -> ApiResult<Response> {
    gone(v)?;
    let tok = token(&h);
    let project = project_of(&ctx)?;
    let (s, body) = neutron(&c, &tok, Method::GET, &format!("/floatingips?tenant_id={project}"), None).await?;
    if s != 200 {
        return Err(failed(s, &body).into());
    }
    let fips = body["floatingips"].as_array().cloned().unwrap_or_default();
    Ok(ok(json!({ "floating_ips": views(&c, &tok, &fips).await? })))
}

async fn get_one(c: &Compute, tok: &str, id: &str) -> Result<Value, Error> {
    let (s, body) = neutron(c, tok, Method::GET, &format!("/floatingips/{id}"), None).await?;
    match s {
        200 => Ok(body["floatingip"].clone()),
        404 => Err(not_found(id)),
        _ => Err(failed(s, &body)),
    }
}

async fn show(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    Extension(v): Extension<Version>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    gone(v)?;
    let tok = token(&h);
    let f = get_one(&c, &tok, &id).await?;
    let view = views(&c, &tok, &[f]).await?.pop().unwrap_or(Value::Null);
    Ok(ok(json!({ "floating_ip": view })))
}

/// The external network a pool names (name first, then id), as Nova looks
/// it up; `None` is Nova's default pool, `public` here (rustack's
/// bootstrap external network).
async fn pool_network(c: &Compute, tok: &str, pool: &str) -> Result<String, Error> {
    let missing = || Error::not_found("Floating IP pool not found.");
    let (s, body) = neutron(c, tok, Method::GET, "/networks?router:external=True", None).await?;
    if s != 200 {
        return Err(failed(s, &body));
    }
    let nets = body["networks"].as_array().cloned().unwrap_or_default();
    nets.iter()
        .find(|n| n["name"] == pool)
        .or_else(|| nets.iter().find(|n| n["id"] == pool))
        .and_then(|n| n["id"].as_str())
        .map(str::to_string)
        .ok_or_else(missing)
}

async fn create(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    h: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    gone(v)?;
    let tok = token(&h);
    let pool = match body.get("pool") {
        None | Some(Value::Null) => "public".to_string(),
        Some(Value::String(p)) => p.clone(),
        Some(other) => {
            return Err(Error::bad_request(format!("Invalid input for field/attribute pool. Value: {other}.")).into())
        }
    };
    let net = pool_network(&c, &tok, &pool).await?;
    let project = project_of(&ctx)?;
    let (s, r) = neutron(
        &c,
        &tok,
        Method::POST,
        "/floatingips",
        Some(json!({"floatingip": {"floating_network_id": net, "tenant_id": project}})),
    )
    .await?;
    match s {
        200 | 201 => {}
        409 => return Err(Error::not_found(format!("No more floating IPs in pool {pool}.")).into()),
        403 if r["NeutronError"]["type"] == "OverQuota" => {
            return Err(Error::forbidden("IP allocation over quota.").into())
        }
        _ => return Err(failed(s, &r).into()),
    }
    let view = views(&c, &tok, &[r["floatingip"].clone()]).await?.pop().unwrap_or(Value::Null);
    Ok(ok(json!({ "floating_ip": view })))
}

async fn remove(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    Extension(v): Extension<Version>,
    h: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    gone(v)?;
    let tok = token(&h);
    let f = get_one(&c, &tok, &id).await?;
    let (s, body) = neutron(&c, &tok, Method::DELETE, &format!("/floatingips/{id}"), None).await?;
    match s {
        200 | 204 => {
            // releasing an associated address disassociates it (Neutron)
            if let (Some(port), Some(addr)) = (f["port_id"].as_str(), f["floating_ip_address"].as_str()) {
                if let Some(server) = device_of(&c, &tok, port).await? {
                    forget_floating(&c, &server, addr).await;
                }
            }
            Ok(accepted())
        }
        404 => Err(not_found(&id).into()),
        _ => Err(failed(s, &body).into()),
    }
}

async fn pools(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    Extension(v): Extension<Version>,
    h: HeaderMap,
) -> ApiResult<Response> {
    gone(v)?;
    let tok = token(&h);
    let (s, body) = neutron(&c, &tok, Method::GET, "/networks?router:external=True", None).await?;
    if s != 200 {
        return Err(failed(s, &body).into());
    }
    let list: Vec<Value> =
        body["networks"].as_array().into_iter().flatten().map(|n| json!({"name": n["name"]})).collect();
    Ok(ok(json!({ "floating_ip_pools": list })))
}

/// The device (server uuid) of a port, if the port exists and has one.
async fn device_of(c: &Compute, tok: &str, port: &str) -> Result<Option<String>, Error> {
    let (s, p) = neutron(c, tok, Method::GET, &format!("/ports/{port}"), None).await?;
    Ok((s == 200).then(|| p["port"]["device_id"].as_str().filter(|d| !d.is_empty()).map(str::to_string)).flatten())
}

/// The floating IP with this address the caller can see (Nova's
/// FloatingIpNotFoundForAddress when none).
async fn by_address(c: &Compute, tok: &str, addr: &str) -> Result<Value, Error> {
    let (s, body) = neutron(c, tok, Method::GET, &format!("/floatingips?floating_ip_address={addr}"), None).await?;
    if s != 200 {
        return Err(failed(s, &body));
    }
    let list = body["floatingips"].as_array().cloned().unwrap_or_default();
    match list.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Error::not_found(format!("Floating IP not found for address {addr}."))),
        _ => Err(Error::bad_request(format!("Multiple floating IPs are found for address {addr}."))),
    }
}

/// A required or optional IP address field of an action body (Nova's
/// schema: a string in IPv4 or IPv6 form; other keys refused).
fn ip_field(action: &str, arg: &Value, allowed: &[&str], key: &str) -> Result<Option<String>, Error> {
    let o = arg.as_object().ok_or_else(|| {
        Error::bad_request(format!(
            "Invalid input for field/attribute {action}. Value: {arg}. {arg} is not of type 'object'"
        ))
    })?;
    if let Some(extra) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute {action}. Additional properties are not allowed ('{extra}' was unexpected)"
        )));
    }
    match o.get(key) {
        None => Ok(None),
        Some(Value::String(a)) if a.parse::<std::net::IpAddr>().is_ok() => Ok(Some(a.clone())),
        Some(other) => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {key}. Value: {other}. {other} is not a 'ip-address'"
        ))),
    }
}

/// `addFloatingIp` / `removeFloatingIp` on a server (deprecated: 2.1 to
/// 2.43, a 404 above as Nova). Neutron does the work with the caller's
/// token; the server's addresses follow.
pub(super) async fn server_action(
    c: &Compute,
    tok: &str,
    v: Version,
    inst: &Instance,
    name: &str,
    arg: &Value,
) -> Result<Response, Error> {
    if v.at_least(2, 44) {
        return Err(Error::not_found("The resource could not be found."));
    }
    if name == "addFloatingIp" {
        associate(c, tok, inst, arg).await
    } else {
        disassociate(c, tok, inst, arg).await
    }
}

async fn associate(c: &Compute, tok: &str, inst: &Instance, arg: &Value) -> Result<Response, Error> {
    const KEYS: &[&str] = &["address", "fixed_address"];
    let address = ip_field("addFloatingIp", arg, KEYS, "address")?.ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute addFloatingIp. 'address' is a required property")
    })?;
    let wanted = ip_field("addFloatingIp", arg, KEYS, "fixed_address")?;
    let id = &inst.uuid;
    let fixed: Vec<&Address> = inst.addresses.values().flatten().filter(|a| a.kind == "fixed").collect();
    if fixed.is_empty() {
        return Err(Error::bad_request("No fixed IPs associated to instance"));
    }
    let fixed_address = match wanted {
        Some(w) => fixed
            .iter()
            .find(|a| a.addr == w)
            .map(|a| a.addr.clone())
            .ok_or_else(|| Error::bad_request("Specified fixed address not assigned to instance"))?,
        // Nova takes the first IPv4 address
        None => fixed.iter().find(|a| a.version == 4).map(|a| a.addr.clone()).ok_or_else(|| {
            Error::bad_request(format!(
                "Unable to associate floating IP {address} to any fixed IPs for instance {id}. Instance has no fixed IPv4 addresses to associate."
            ))
        })?,
    };
    let fip = by_address(c, tok, &address).await?;
    let fip_id = fip["id"].as_str().unwrap_or_default().to_string();
    // the server's port carrying that fixed address
    let (s, body) = neutron(c, tok, Method::GET, &format!("/ports?device_id={id}"), None).await?;
    if s != 200 {
        return Err(failed(s, &body));
    }
    let port = body["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["fixed_ips"].as_array().into_iter().flatten().any(|ip| ip["ip_address"] == fixed_address.as_str()))
        .cloned()
        .ok_or_else(|| Error::bad_request(format!("Fixed IP {fixed_address} not found on a port of instance {id}.")))?;
    let port_id = port["id"].as_str().unwrap_or_default().to_string();
    let before = match fip["port_id"].as_str() {
        Some(p) if p != port_id => device_of(c, tok, p).await?,
        _ => None,
    };
    let (s, body) = neutron(
        c,
        tok,
        Method::PUT,
        &format!("/floatingips/{fip_id}"),
        Some(json!({"floatingip": {"port_id": port_id, "fixed_ip_address": fixed_address}})),
    )
    .await?;
    match s {
        200 => {}
        403 => return Err(failed(s, &body)),
        _ => {
            let why = body["NeutronError"]["message"].as_str().unwrap_or("the network service refused");
            return Err(Error::bad_request(format!(
                "Unable to associate floating IP {address} to fixed IP {fixed_address} for instance {id}. Error: {why}"
            )));
        }
    }
    // moved from another server: that one no longer lists it
    if let Some(old) = before.filter(|o| o != id) {
        forget_floating(c, &old, &address).await;
    }
    let mac = port["mac_address"].as_str().unwrap_or_default().to_string();
    let addr = address.clone();
    c.store()
        .instance_modify(id, move |i| {
            for list in i.addresses.values_mut() {
                list.retain(|a| !(a.kind == "floating" && a.addr == addr));
            }
            let net = i
                .addresses
                .iter()
                .find(|(_, l)| l.iter().any(|a| a.kind == "fixed" && a.addr == fixed_address))
                .map(|(n, _)| n.clone());
            if let Some(net) = net {
                let version = if addr.contains(':') { 6 } else { 4 };
                i.addresses.entry(net).or_default().push(Address { addr, version, mac, kind: "floating".into() });
            }
            Ok(())
        })
        .await?;
    Ok(accepted())
}

async fn disassociate(c: &Compute, tok: &str, inst: &Instance, arg: &Value) -> Result<Response, Error> {
    let address = ip_field("removeFloatingIp", arg, &["address"], "address")?.ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute removeFloatingIp. 'address' is a required property")
    })?;
    let fip = by_address(c, tok, &address).await?;
    let owner = match fip["port_id"].as_str() {
        Some(p) => device_of(c, tok, p).await?,
        None => None,
    };
    if owner.as_deref() != Some(inst.uuid.as_str()) {
        return Err(Error::conflict(format!("Floating IP {address} is not associated with instance {}.", inst.uuid)));
    }
    let fip_id = fip["id"].as_str().unwrap_or_default();
    let (s, body) =
        neutron(c, tok, Method::PUT, &format!("/floatingips/{fip_id}"), Some(json!({"floatingip": {"port_id": null}})))
            .await?;
    if s != 200 {
        return Err(failed(s, &body));
    }
    forget_floating(c, &inst.uuid, &address).await;
    Ok(accepted())
}

/// Nova lists a server's addresses from its network info cache, which
/// Neutron's change notifications keep current. Rustack's network service
/// sends none, so the floating addresses of a server are re-read from it
/// when the server is shown or listed in detail (a floating IP set through
/// the Neutron API, as the openstack CLI does) and stored when they
/// changed. Best effort: a network error shows what was stored.
pub(crate) async fn refresh(c: &Compute, tok: &str, inst: Instance) -> Instance {
    if inst.port_ids.is_empty() || c.inner.peers.network.is_none() || tok.is_empty() {
        return inst;
    }
    let q: Vec<String> = inst.port_ids.iter().map(|p| format!("port_id={p}")).collect();
    match floating_of(c, tok, &format!("/floatingips?{}", q.join("&"))).await {
        Some(fips) => reconcile(c, inst, &fips).await,
        None => inst,
    }
}

/// `refresh` for a page of a detailed list: one look-up of the floating
/// IPs the caller sees, for every server of the page.
pub(crate) async fn refresh_all(c: &Compute, tok: &str, items: Vec<Instance>) -> Vec<Instance> {
    if c.inner.peers.network.is_none() || tok.is_empty() || items.iter().all(|i| i.port_ids.is_empty()) {
        return items;
    }
    let Some(fips) = floating_of(c, tok, "/floatingips").await else {
        return items;
    };
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        out.push(if i.port_ids.is_empty() { i } else { reconcile(c, i, &fips).await });
    }
    out
}

async fn floating_of(c: &Compute, tok: &str, path: &str) -> Option<Vec<Value>> {
    match neutron(c, tok, Method::GET, path, None).await {
        Ok((200, body)) => Some(body["floatingips"].as_array().cloned().unwrap_or_default()),
        _ => None,
    }
}

/// Makes the floating entries of `inst`'s addresses those of `fips` bound
/// to its ports: each under the network of the fixed address it maps to.
async fn reconcile(c: &Compute, inst: Instance, fips: &[Value]) -> Instance {
    let mut wanted: Vec<(String, Address)> = Vec::new();
    for f in fips {
        let on_port = f["port_id"].as_str().is_some_and(|p| inst.port_ids.iter().any(|x| x == p));
        let (Some(addr), Some(fixed)) = (f["floating_ip_address"].as_str(), f["fixed_ip_address"].as_str()) else {
            continue;
        };
        if !on_port {
            continue;
        }
        let place = inst
            .addresses
            .iter()
            .find_map(|(net, l)| l.iter().find(|a| a.kind == "fixed" && a.addr == fixed).map(|a| (net, a)));
        if let Some((net, a)) = place {
            let version = if addr.contains(':') { 6 } else { 4 };
            let float = Address { addr: addr.to_string(), version, mac: a.mac.clone(), kind: "floating".into() };
            wanted.push((net.clone(), float));
        }
    }
    let key = |(n, a): &(String, Address)| (n.clone(), a.addr.clone(), a.mac.clone());
    let mut have: Vec<(String, Address)> = inst
        .addresses
        .iter()
        .flat_map(|(n, l)| l.iter().filter(|a| a.kind == "floating").map(move |a| (n.clone(), a.clone())))
        .collect();
    have.sort_by_key(key);
    wanted.sort_by_key(key);
    if have == wanted {
        return inst;
    }
    let updated = c
        .store()
        .instance_modify(&inst.uuid, move |i| {
            for list in i.addresses.values_mut() {
                list.retain(|a| a.kind != "floating");
            }
            for (net, a) in wanted {
                i.addresses.entry(net).or_default().push(a);
            }
            Ok(())
        })
        .await;
    match updated {
        Ok((i, ())) => i,
        Err(_) => inst,
    }
}

/// Drops a floating address from a server's addresses. Best effort: the
/// server may be gone or not be a compute instance at all.
async fn forget_floating(c: &Compute, server: &str, addr: &str) {
    let addr = addr.to_string();
    let _ = c
        .store()
        .instance_modify(server, move |i| {
            for list in i.addresses.values_mut() {
                list.retain(|a| !(a.kind == "floating" && a.addr == addr));
            }
            Ok(())
        })
        .await;
}

#[cfg(test)]
mod tests {
    use axum::http::Method;
    use rustack_test_utils::TestCloud;
    use serde_json::{json, Value};

    #[tokio::test]
    async fn floating_ips_allocate_show_list_and_release_through_the_network_service() {
        let cloud = TestCloud::start().await;
        let token = cloud.demo_token().await;
        let nova = format!("{}/v2.1", cloud.compute.url);

        let r = cloud.get(&format!("{nova}/os-floating-ip-pools"), &token).await.expect(200);
        assert!(r.body["floating_ip_pools"].as_array().expect("pools").contains(&json!({"name": "public"})));

        let r = cloud.post(&format!("{nova}/os-floating-ips"), &token, json!({"pool": "public"})).await.expect(200);
        let fip = r.body["floating_ip"].clone();
        let id = fip["id"].as_str().expect("id").to_string();
        assert_eq!(fip["pool"], "public");
        assert!(fip["ip"].as_str().is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok()), "{fip}");
        assert_eq!(fip["instance_id"], Value::Null);
        assert_eq!(fip["fixed_ip"], Value::Null);

        let r = cloud.get(&format!("{nova}/os-floating-ips/{id}"), &token).await.expect(200);
        assert_eq!(r.body["floating_ip"], fip);
        let r = cloud.get(&format!("{nova}/os-floating-ips"), &token).await.expect(200);
        assert!(r.body["floating_ips"].as_array().expect("list").contains(&fip));

        let r = cloud.post(&format!("{nova}/os-floating-ips"), &token, json!({"pool": "no-such-pool"})).await;
        r.expect(404);

        cloud.delete(&format!("{nova}/os-floating-ips/{id}"), &token).await.expect(202);
        let r = cloud.get(&format!("{nova}/os-floating-ips/{id}"), &token).await.expect(404);
        assert_eq!(r.body["itemNotFound"]["message"], format!("Floating IP not found for ID {id}"));
        cloud.delete(&format!("{nova}/os-floating-ips/{id}"), &token).await.expect(404);

        // the proxy APIs are gone from 2.36 on
        let r = cloud
            .request_with(
                Method::GET,
                &format!("{nova}/os-floating-ips"),
                Some(&token),
                None,
                &[("OpenStack-API-Version", "compute 2.36")],
            )
            .await;
        r.expect(404);
    }
}
