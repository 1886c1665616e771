//! Floating IPs: an address on an external network (held by a
//! `network:floatingip` port), associated with a fixed IP of a port behind
//! a router whose gateway is on that external network.

use rustack_common::Error;
use serde_json::{json, Value};

use super::ports::IpReq;
use super::*;
use crate::query::ListQuery;

pub async fn list(net: &Network, caller: &Caller, q: &ListQuery, base: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    let items = store::list(&mut c, "floatingip").await?.into_iter().filter(|f| caller.owns(f)).collect();
    q.apply("floatingips", base, items)
}

async fn get_owned(c: &mut Conn, caller: &Caller, id: &str) -> Result<Value, Error> {
    let f = must_get(c, "floatingip", id).await?;
    if !caller.owns(&f) {
        return Err(not_found("floatingip", id));
    }
    Ok(f)
}

pub async fn show(net: &Network, caller: &Caller, id: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    get_owned(&mut c, caller, id).await
}

/// Associates `fip` with `port_id` (and `fixed_ip`), finding the router.
async fn associate(
    c: &mut Conn,
    caller: &Caller,
    fip: &mut Value,
    port_id: &str,
    fixed_ip: Option<String>,
) -> Result<(), Error> {
    let port = store::get(c, "port", port_id).await?.ok_or_else(|| not_found("port", port_id))?;
    if !caller.owns(&port) {
        return Err(not_found("port", port_id));
    }
    let v4: Vec<Value> = port["fixed_ips"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f["ip_address"].as_str().is_some_and(|a| a.contains('.')))
        .collect();
    let chosen = match &fixed_ip {
        Some(ip) => v4.iter().find(|f| f["ip_address"] == json!(ip)).cloned().ok_or_else(|| {
            Error::bad_request(format!(
                "Bad floatingip request: Port {port_id} does not have fixed ip {ip}."
            ))
            .with_code("BadRequest")
        })?,
        None if v4.len() > 1 => {
            return Err(Error::bad_request(format!(
                "Bad floatingip request: Port {port_id} has multiple fixed IPv4 addresses. Must provide a specific IPv4 address when assigning a floating IP."
            ))
            .with_code("BadRequest"))
        }
        None => v4.first().cloned().ok_or_else(|| {
            Error::bad_request(format!(
                "Bad floatingip request: Port {port_id} does not have any IPv4 address."
            ))
            .with_code("BadRequest")
        })?,
    };
    let fixed_addr = chosen["ip_address"].as_str().unwrap_or_default().to_string();
    let fid = fip["id"].clone();
    for other in store::list(c, "floatingip").await? {
        if other["id"] != fid && other["port_id"] == json!(port_id) && other["fixed_ip_address"] == json!(fixed_addr) {
            return Err(Error::conflict(format!(
                "Cannot associate floating IP {} ({}) with port {port_id} using fixed IP {fixed_addr}, as that fixed IP already has a floating IP on external network {}.",
                fip["floating_ip_address"].as_str().unwrap_or_default(),
                fid.as_str().unwrap_or_default(),
                fip["floating_network_id"].as_str().unwrap_or_default()
            ))
            .with_code("FloatingIPPortAlreadyAssociated"));
        }
    }
    // the router: gateway on the floating network, interface on the fixed IP's subnet
    let subnet_id = chosen["subnet_id"].as_str().unwrap_or_default().to_string();
    let ext = fip["floating_network_id"].clone();
    let mut router_id = None;
    for r in store::list(c, "router").await? {
        if r["external_gateway_info"]["network_id"] != ext {
            continue;
        }
        let rid = r["id"].as_str().unwrap_or_default();
        let ifaces = routers::router_ports(c, rid, "network:router_interface").await?;
        if ifaces
            .iter()
            .any(|p| p["fixed_ips"].as_array().is_some_and(|a| a.iter().any(|f| f["subnet_id"] == json!(subnet_id))))
        {
            router_id = Some(rid.to_string());
            break;
        }
    }
    let Some(router_id) = router_id else {
        return Err(Error::not_found(format!(
            "External network {} is not reachable from subnet {subnet_id}.  Therefore, cannot associate Port {port_id} with a Floating IP.",
            ext.as_str().unwrap_or_default()
        ))
        .with_code("ExternalGatewayForFloatingIPNotFound"));
    };
    fip["port_id"] = json!(port_id);
    fip["fixed_ip_address"] = json!(fixed_addr);
    fip["router_id"] = json!(router_id);
    fip["status"] = json!("ACTIVE");
    Ok(())
}

pub async fn create(net: &Network, caller: &Caller, doc: Doc) -> Result<Value, Error> {
    only(
        &doc,
        &[
            "floating_network_id",
            "floating_ip_address",
            "subnet_id",
            "port_id",
            "fixed_ip_address",
            "description",
            "project_id",
            "tenant_id",
            "dns_name",
            "dns_domain",
            "qos_policy_id",
        ],
    )?;
    let project = owner_of_new(caller, &doc)?;
    let nid = get_str(&doc, "floating_network_id")?.ok_or_else(|| invalid("floating_network_id is required"))?;
    let mut w = begin(net).await?;
    let n = store::get(&mut w, "network", &nid).await?.ok_or_else(|| not_found("network", &nid))?;
    if n["router:external"] != json!(true) {
        return Err(Error::bad_request(format!(
            "Bad floatingip request: Network {nid} is not a valid external network."
        ))
        .with_code("BadRequest"));
    }
    check_quota(&mut w, &project, "floatingip", "floatingip", 1).await?;
    let id = new_id();
    let wanted_ip = get_str(&doc, "floating_ip_address")?;
    if wanted_ip.is_some() && !caller.may("create_floatingip:floating_ip_address") {
        return Err(forbidden("create_floatingip:floating_ip_address"));
    }
    let subnet_id = get_str(&doc, "subnet_id")?;
    let reqs = match (&subnet_id, &wanted_ip) {
        (None, None) => {
            // one IPv4 address on any subnet of the external network
            let subnets = ports::subnets_of(&mut w, &nid).await?;
            let v4: Vec<IpReq> = subnets
                .iter()
                .filter(|s| s["ip_version"] == json!(4))
                .map(|s| IpReq { subnet_id: s["id"].as_str().map(String::from), ip_address: None })
                .collect();
            if v4.is_empty() {
                return Err(Error::bad_request(format!(
                    "Bad floatingip request: Network {nid} does not contain any IPv4 subnet"
                ))
                .with_code("BadRequest"));
            }
            v4.into_iter().take(1).collect()
        }
        _ => vec![IpReq { subnet_id: subnet_id.clone(), ip_address: wanted_ip.clone() }],
    };
    let port = match ports::create_internal(&mut w, &n, "", "network:floatingip", &id, reqs).await {
        Ok(p) => p,
        Err(e) if e.code.as_deref() == Some("IpAddressAlreadyAllocated") => {
            return Err(Error::conflict(format!(
                "IP address {} already allocated in subnet {}",
                wanted_ip.unwrap_or_default(),
                subnet_id.unwrap_or_default()
            ))
            .with_code("IpAddressInUse"))
        }
        Err(e) => return Err(e),
    };
    let addr = port["fixed_ips"][0]["ip_address"].clone();
    let mut d = Doc::new();
    std_attrs(&mut d, &id, &project, None, get_str(&doc, "description")?);
    d.remove("name");
    d.insert("floating_ip_address".into(), addr);
    d.insert("floating_network_id".into(), json!(nid));
    d.insert("router_id".into(), Value::Null);
    d.insert("port_id".into(), Value::Null);
    d.insert("fixed_ip_address".into(), Value::Null);
    d.insert("status".into(), json!("DOWN"));
    d.insert("port_details".into(), Value::Null);
    d.insert("port_forwardings".into(), json!([]));
    let mut f = Value::Object(d);
    if let Some(pid) = get_str(&doc, "port_id")? {
        associate(&mut w, caller, &mut f, &pid, get_str(&doc, "fixed_ip_address")?).await?;
    }
    store::insert(&mut w, "floatingip", "", &f).await?;
    commit(net, w).await?;
    Ok(f)
}

pub async fn update(net: &Network, caller: &Caller, id: &str, upd: Doc) -> Result<Value, Error> {
    only(&upd, &["port_id", "fixed_ip_address", "description", "dns_name", "dns_domain", "qos_policy_id"])?;
    let mut w = begin(net).await?;
    let mut f = get_owned(&mut w, caller, id).await?;
    if upd.contains_key("description") {
        f["description"] = json!(get_str(&upd, "description")?.unwrap_or_default());
    }
    if upd.contains_key("port_id") {
        match get_str(&upd, "port_id")? {
            Some(pid) => associate(&mut w, caller, &mut f, &pid, get_str(&upd, "fixed_ip_address")?).await?,
            None => {
                f["port_id"] = Value::Null;
                f["fixed_ip_address"] = Value::Null;
                f["router_id"] = Value::Null;
                f["status"] = json!("DOWN");
            }
        }
    } else if let Some(ip) = get_str(&upd, "fixed_ip_address")? {
        let pid = f["port_id"].as_str().map(String::from).ok_or_else(|| {
            Error::bad_request("Bad floatingip request: fixed_ip_address cannot be specified without a port_id")
                .with_code("BadRequest")
        })?;
        associate(&mut w, caller, &mut f, &pid, Some(ip)).await?;
    }
    bump(&mut f);
    store::update(&mut w, "floatingip", &f).await?;
    commit(net, w).await?;
    Ok(f)
}

pub async fn delete(net: &Network, caller: &Caller, id: &str) -> Result<(), Error> {
    let mut w = begin(net).await?;
    get_owned(&mut w, caller, id).await?;
    for p in store::list(&mut w, "port").await? {
        if p["device_owner"] == json!("network:floatingip") && p["device_id"] == json!(id) {
            ports::remove_port_rows(&mut w, p["id"].as_str().unwrap_or_default()).await?;
        }
    }
    store::delete(&mut w, "floatingip", id).await?;
    commit(net, w).await
}
