//! A server's floating IPs: the addFloatingIp and removeFloatingIp actions
//! (deprecated, served to 2.43) and the floating entries of its addresses.
//! Neutron does the work, called with the caller's token as Nova calls it;
//! the server's addresses then list the floating IP (`OS-EXT-IPS:type`
//! floating) under the network of the fixed address it maps to, as Nova's
//! refreshed network info cache does.

use axum::response::Response;
use reqwest::Method;
use rustack_common::Error;
use rustack_http::microversion::Version;
use serde_json::{json, Value};

use super::accepted;
use super::floating_ips::failed;
use super::secgroups::neutron;
use crate::model::{Address, Instance};
use crate::Compute;

/// The device (server uuid) of a port, if the port exists and has one.
pub(super) async fn device_of(c: &Compute, tok: &str, port: &str) -> Result<Option<String>, Error> {
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
    super::only_keys(o, allowed, action)?;
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
pub(super) async fn action(
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
pub(super) async fn forget_floating(c: &Compute, server: &str, addr: &str) {
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
