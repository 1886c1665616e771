//! Routers: external gateway (with SNAT), interfaces by subnet or port,
//! extra routes.

use rustack_common::Error;
use serde_json::{json, Value};

use super::ports::IpReq;
use super::subnets::cidr_of;
use super::*;
use crate::ipam;
use crate::query::ListQuery;

pub async fn list(net: &Network, caller: &Caller, q: &ListQuery, base: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    let items = store::list(&mut c, "router").await?.into_iter().filter(|r| caller.owns(r)).collect();
    q.apply("routers", base, items)
}

async fn get_owned(c: &mut Conn, caller: &Caller, id: &str) -> Result<Value, Error> {
    let r = must_get(c, "router", id).await?;
    if !caller.owns(&r) {
        return Err(not_found("router", id));
    }
    Ok(r)
}

pub async fn show(net: &Network, caller: &Caller, id: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    get_owned(&mut c, caller, id).await
}

/// The router's ports of one kind (`network:router_interface`, `network:router_gateway`).
pub async fn router_ports(c: &mut Conn, router_id: &str, owner: &str) -> Result<Vec<Value>, Error> {
    Ok(store::list(c, "port")
        .await?
        .into_iter()
        .filter(|p| p["device_id"] == json!(router_id) && p["device_owner"] == json!(owner))
        .collect())
}

/// Sets, changes or clears (`info` null or `{}`) a router's gateway.
async fn set_gateway(c: &mut Conn, caller: &Caller, r: &mut Value, info: &Value) -> Result<(), Error> {
    let rid = r["id"].as_str().unwrap_or_default().to_string();
    let wanted = info.get("network_id").and_then(Value::as_str).map(String::from);
    let current = r["external_gateway_info"].get("network_id").and_then(Value::as_str).map(String::from);
    if info.is_object() {
        for k in info.as_object().into_iter().flat_map(|m| m.keys()) {
            if !["network_id", "enable_snat", "external_fixed_ips", "qos_policy_id"].contains(&k.as_str()) {
                return Err(invalid(format!("Unrecognized attribute '{k}' in external_gateway_info")));
            }
        }
    } else if !info.is_null() {
        return Err(invalid("external_gateway_info must be an object"));
    }
    let snat_given = info.get("enable_snat").filter(|v| !v.is_null());
    if (snat_given.is_some() || info.get("external_fixed_ips").is_some_and(|v| !v.is_null())) && !caller.is_admin {
        return Err(forbidden("update_router:external_gateway_info:enable_snat"));
    }
    let enable_snat = match snat_given {
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(invalid(format!("'{v}' cannot be converted to boolean"))),
        None => true,
    };
    let changes_network = wanted != current || info.get("external_fixed_ips").is_some_and(|v| !v.is_null());
    if changes_network || wanted.is_none() {
        // the old gateway port goes
        if current.is_some() {
            if wanted.is_none() {
                let fips = store::list(c, "floatingip").await?;
                if fips.iter().any(|f| f["router_id"] == json!(rid)) {
                    return Err(Error::conflict(format!(
                        "Gateway cannot be updated for router {rid}, since a gateway to external network {} is required by one or more floating IPs.",
                        current.clone().unwrap_or_default()
                    ))
                    .with_code("RouterExternalGatewayInUseByFloatingIp"));
                }
            }
            for p in router_ports(c, &rid, "network:router_gateway").await? {
                ports::remove_port_rows(c, p["id"].as_str().unwrap_or_default()).await?;
            }
        }
        r["external_gateway_info"] = Value::Null;
    }
    let Some(nid) = wanted else { return Ok(()) };
    let n = store::get(c, "network", &nid).await?.ok_or_else(|| not_found("network", &nid))?;
    if n["router:external"] != json!(true) {
        return Err(Error::bad_request(format!("Bad router request: Network {nid} is not an external network."))
            .with_code("BadRequest"));
    }
    let fixed = if changes_network {
        let reqs = match info.get("external_fixed_ips").and_then(Value::as_array) {
            Some(a) => a
                .iter()
                .map(|f| IpReq {
                    subnet_id: f.get("subnet_id").and_then(Value::as_str).map(String::from),
                    ip_address: f.get("ip_address").and_then(Value::as_str).map(String::from),
                })
                .collect(),
            None => vec![],
        };
        let p = ports::create_internal(c, &n, "", "network:router_gateway", &rid, reqs).await?;
        p["fixed_ips"].clone()
    } else {
        r["external_gateway_info"]["external_fixed_ips"].clone()
    };
    let fixed = if fixed.is_null() {
        router_ports(c, &rid, "network:router_gateway")
            .await?
            .first()
            .map(|p| p["fixed_ips"].clone())
            .unwrap_or(json!([]))
    } else {
        fixed
    };
    r["external_gateway_info"] = json!({"network_id": nid, "enable_snat": enable_snat, "external_fixed_ips": fixed});
    Ok(())
}

fn parse_routes(v: &Value) -> Result<Vec<Value>, Error> {
    let arr = v.as_array().ok_or_else(|| invalid("routes must be a list"))?;
    let mut out = vec![];
    for r in arr {
        let d = r.get("destination").and_then(Value::as_str).ok_or_else(|| invalid("a route needs destination"))?;
        let n = r.get("nexthop").and_then(Value::as_str).ok_or_else(|| invalid("a route needs nexthop"))?;
        let dn = ipam::parse_prefix(d)?;
        let nh = ipam::parse_ip(n)?;
        let route = json!({"destination": dn.trunc().to_string(), "nexthop": nh.to_string()});
        if !out.contains(&route) {
            out.push(route);
        }
    }
    Ok(out)
}

/// Extra routes must go through an address on one of the router's interface subnets.
async fn check_routes(c: &mut Conn, rid: &str, routes: &[Value]) -> Result<(), Error> {
    let mut cidrs = vec![];
    for p in router_ports(c, rid, "network:router_interface").await? {
        for f in p["fixed_ips"].as_array().cloned().unwrap_or_default() {
            if let Some(s) = store::get(c, "subnet", f["subnet_id"].as_str().unwrap_or_default()).await? {
                if let Some(n) = cidr_of(&s) {
                    cidrs.push((n, f["ip_address"].as_str().unwrap_or_default().to_string()));
                }
            }
        }
    }
    for r in routes {
        let nh: std::net::IpAddr =
            r["nexthop"].as_str().unwrap_or_default().parse().map_err(|_| invalid("bad nexthop"))?;
        let ok = cidrs.iter().any(|(n, own)| n.contains(&nh) && *own != nh.to_string());
        if !ok {
            return Err(Error::bad_request(format!(
                "Invalid format for routes: {r}, the nexthop is not connected with router"
            ))
            .with_code("InvalidRoutes"));
        }
    }
    Ok(())
}

pub async fn create(net: &Network, caller: &Caller, doc: Doc) -> Result<Value, Error> {
    only(
        &doc,
        &[
            "name",
            "description",
            "admin_state_up",
            "external_gateway_info",
            "project_id",
            "tenant_id",
            "distributed",
            "ha",
            "availability_zone_hints",
            "flavor_id",
            "routes",
        ],
    )?;
    let project = owner_of_new(caller, &doc)?;
    for k in ["distributed", "ha"] {
        if get_bool(&doc, k)? == Some(true) {
            return Err(invalid(format!("{k} routers are not supported")));
        }
    }
    let mut w = begin(net).await?;
    check_quota(&mut w, &project, "router", "router", 1).await?;
    let id = new_id();
    let mut d = Doc::new();
    std_attrs(&mut d, &id, &project, get_str(&doc, "name")?, get_str(&doc, "description")?);
    d.insert("admin_state_up".into(), json!(get_bool(&doc, "admin_state_up")?.unwrap_or(true)));
    d.insert("status".into(), json!("ACTIVE"));
    d.insert("external_gateway_info".into(), Value::Null);
    d.insert("routes".into(), json!([]));
    d.insert("distributed".into(), json!(false));
    d.insert("ha".into(), json!(false));
    d.insert("flavor_id".into(), Value::Null);
    d.insert(
        "availability_zone_hints".into(),
        doc.get("availability_zone_hints").cloned().filter(|v| v.is_array()).unwrap_or(json!([])),
    );
    d.insert("availability_zones".into(), json!(["nova"]));
    let mut r = Value::Object(d);
    if let Some(info) = doc.get("external_gateway_info").filter(|v| !v.is_null()) {
        set_gateway(&mut w, caller, &mut r, info).await?;
    }
    store::insert(&mut w, "router", "", &r).await?;
    commit(net, w).await?;
    Ok(r)
}

pub async fn update(net: &Network, caller: &Caller, id: &str, upd: Doc) -> Result<Value, Error> {
    only(&upd, &["name", "description", "admin_state_up", "external_gateway_info", "routes", "distributed", "ha"])?;
    let mut w = begin(net).await?;
    let mut r = get_owned(&mut w, caller, id).await?;
    update_std(&mut r, &upd)?;
    if let Some(b) = get_bool(&upd, "admin_state_up")? {
        r["admin_state_up"] = json!(b);
    }
    if let Some(info) = upd.get("external_gateway_info") {
        let info = if info.as_object().is_some_and(|m| m.is_empty()) { Value::Null } else { info.clone() };
        set_gateway(&mut w, caller, &mut r, &info).await?;
    }
    if let Some(v) = upd.get("routes") {
        let routes = if v.is_null() { vec![] } else { parse_routes(v)? };
        check_routes(&mut w, id, &routes).await?;
        r["routes"] = json!(routes);
    }
    bump(&mut r);
    store::update(&mut w, "router", &r).await?;
    commit(net, w).await?;
    Ok(r)
}

pub async fn delete(net: &Network, caller: &Caller, id: &str) -> Result<(), Error> {
    let mut w = begin(net).await?;
    let r = get_owned(&mut w, caller, id).await?;
    if !router_ports(&mut w, id, "network:router_interface").await?.is_empty() {
        return Err(Error::conflict(format!("Router {id} still has ports")).with_code("RouterInUse"));
    }
    let _ = r;
    for p in router_ports(&mut w, id, "network:router_gateway").await? {
        ports::remove_port_rows(&mut w, p["id"].as_str().unwrap_or_default()).await?;
    }
    store::delete(&mut w, "router", id).await?;
    store::forget_auto_topology_of(&mut w, id).await?;
    commit(net, w).await
}

fn interface_info(r: &Value, port: &Value) -> Value {
    let subnets: Vec<Value> =
        port["fixed_ips"].as_array().map(|a| a.iter().map(|f| f["subnet_id"].clone()).collect()).unwrap_or_default();
    json!({
        "id": r["id"],
        "tenant_id": r["project_id"],
        "project_id": r["project_id"],
        "port_id": port["id"],
        "network_id": port["network_id"],
        "subnet_id": subnets.first().cloned().unwrap_or(Value::Null),
        "subnet_ids": subnets,
    })
}

/// The CIDRs already attached to a router (for the overlap check).
async fn attached_cidrs(c: &mut Conn, rid: &str) -> Result<Vec<(String, ipnet::IpNet)>, Error> {
    let mut out = vec![];
    for p in router_ports(c, rid, "network:router_interface").await? {
        for f in p["fixed_ips"].as_array().cloned().unwrap_or_default() {
            let sid = f["subnet_id"].as_str().unwrap_or_default().to_string();
            if let Some(s) = store::get(c, "subnet", &sid).await? {
                if let Some(n) = cidr_of(&s) {
                    out.push((sid, n));
                }
            }
        }
    }
    Ok(out)
}

async fn check_overlap(c: &mut Conn, rid: &str, subnet: &Value) -> Result<(), Error> {
    let sid = subnet["id"].as_str().unwrap_or_default();
    let cidr = cidr_of(subnet).ok_or_else(|| invalid("subnet without cidr"))?;
    for (other, n) in attached_cidrs(c, rid).await? {
        if other == sid {
            return Err(Error::bad_request(format!("Bad router request: Router already has a port on subnet {sid}."))
                .with_code("BadRequest"));
        }
        if ipam::overlaps(&n, &cidr) {
            return Err(Error::bad_request(format!(
                "Bad router request: Cidr {cidr} of subnet {sid} overlaps with cidr {n} of subnet {other}."
            ))
            .with_code("BadRequest"));
        }
    }
    Ok(())
}

pub async fn add_interface(net: &Network, caller: &Caller, id: &str, body: Value) -> Result<Value, Error> {
    let m = body.as_object().cloned().unwrap_or_default();
    let subnet_id = get_str(&m, "subnet_id")?;
    let port_id = get_str(&m, "port_id")?;
    let mut w = begin(net).await?;
    let r = get_owned(&mut w, caller, id).await?;
    let port = match (subnet_id, port_id) {
        (Some(_), Some(_)) => {
            return Err(Error::bad_request("Bad router request: Cannot specify both subnet-id and port-id")
                .with_code("BadRequest"))
        }
        (None, None) => {
            return Err(Error::bad_request("Bad router request: Either subnet_id or port_id must be specified")
                .with_code("BadRequest"))
        }
        (Some(sid), None) => {
            let s = store::get(&mut w, "subnet", &sid).await?.ok_or_else(|| not_found("subnet", &sid))?;
            let n = must_get(&mut w, "network", s["network_id"].as_str().unwrap_or_default()).await?;
            if !caller.owns(&s) && !network_visible(&mut w, caller, &n).await? {
                return Err(not_found("subnet", &sid));
            }
            if n["router:external"] == json!(true) && !caller.owns(&n) {
                return Err(Error::bad_request(format!(
                    "Bad router request: Router {id} cannot attach to external network"
                ))
                .with_code("BadRequest"));
            }
            let Some(gw) = s["gateway_ip"].as_str().map(String::from) else {
                return Err(Error::bad_request(format!(
                    "Bad router request: Subnet {sid} does not have a gateway IP."
                ))
                .with_code("BadRequest"));
            };
            check_overlap(&mut w, id, &s).await?;
            let project = r["project_id"].as_str().unwrap_or_default().to_string();
            let req = IpReq { subnet_id: Some(sid.clone()), ip_address: Some(gw) };
            match ports::create_internal(&mut w, &n, &project, "network:router_interface", id, vec![req]).await {
                Ok(p) => p,
                Err(e) if e.code.as_deref() == Some("IpAddressAlreadyAllocated") => {
                    return Err(Error::conflict(format!(
                        "IP address {} already allocated in subnet {sid}",
                        s["gateway_ip"].as_str().unwrap_or_default()
                    ))
                    .with_code("IpAddressInUse"))
                }
                Err(e) => return Err(e),
            }
        }
        (None, Some(pid)) => {
            let mut p = store::get(&mut w, "port", &pid).await?.ok_or_else(|| not_found("port", &pid))?;
            if !caller.owns(&p) {
                return Err(not_found("port", &pid));
            }
            if p["device_id"].as_str().is_some_and(|d| !d.is_empty())
                || p["device_owner"].as_str().is_some_and(|d| !d.is_empty())
            {
                return Err(Error::conflict(format!(
                    "Unable to complete operation on port {pid} for network {}. Port already has an attached device {}.",
                    p["network_id"].as_str().unwrap_or_default(),
                    p["device_id"].as_str().unwrap_or_default()
                ))
                .with_code("PortInUse"));
            }
            let fixed = p["fixed_ips"].as_array().cloned().unwrap_or_default();
            if fixed.is_empty() {
                return Err(Error::bad_request("Bad router request: Router port must have at least one fixed IP")
                    .with_code("BadRequest"));
            }
            for f in &fixed {
                if let Some(s) = store::get(&mut w, "subnet", f["subnet_id"].as_str().unwrap_or_default()).await? {
                    check_overlap(&mut w, id, &s).await?;
                }
            }
            p["device_owner"] = json!("network:router_interface");
            p["device_id"] = json!(id);
            p["status"] = json!("ACTIVE");
            bump(&mut p);
            store::update(&mut w, "port", &p).await?;
            p
        }
    };
    let info = interface_info(&r, &port);
    let mut r = r;
    bump(&mut r);
    store::update(&mut w, "router", &r).await?;
    commit(net, w).await?;
    Ok(info)
}

pub async fn remove_interface(net: &Network, caller: &Caller, id: &str, body: Value) -> Result<Value, Error> {
    let m = body.as_object().cloned().unwrap_or_default();
    let subnet_id = get_str(&m, "subnet_id")?;
    let port_id = get_str(&m, "port_id")?;
    let mut w = begin(net).await?;
    let mut r = get_owned(&mut w, caller, id).await?;
    let ports = router_ports(&mut w, id, "network:router_interface").await?;
    let port = match (&port_id, &subnet_id) {
        (Some(pid), _) => {
            let p = ports.into_iter().find(|p| p["id"] == json!(pid)).ok_or_else(|| {
                Error::not_found(format!("Router {id} does not have an interface with id {pid}"))
                    .with_code("RouterInterfaceNotFound")
            })?;
            if let Some(sid) = &subnet_id {
                if !p["fixed_ips"].as_array().is_some_and(|a| a.iter().any(|f| f["subnet_id"] == json!(sid))) {
                    return Err(Error::conflict(format!("Subnet {sid} is not on port {pid}"))
                        .with_code("SubnetMismatchForPort"));
                }
            }
            p
        }
        (None, Some(sid)) => {
            if store::get(&mut w, "subnet", sid).await?.is_none() {
                return Err(not_found("subnet", sid));
            }
            ports
                .into_iter()
                .find(|p| p["fixed_ips"].as_array().is_some_and(|a| a.iter().any(|f| f["subnet_id"] == json!(sid))))
                .ok_or_else(|| {
                    Error::not_found(format!("Router {id} has no interface on subnet {sid}"))
                        .with_code("RouterInterfaceNotFoundForSubnet")
                })?
        }
        (None, None) => {
            return Err(Error::bad_request("Bad router request: Either subnet_id or port_id must be specified")
                .with_code("BadRequest"))
        }
    };
    // floating IPs reaching fixed IPs through this interface keep it in use
    let subnets: Vec<String> = port["fixed_ips"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["subnet_id"].as_str().map(String::from)).collect())
        .unwrap_or_default();
    for f in store::list(&mut w, "floatingip").await? {
        if f["router_id"] != json!(id) {
            continue;
        }
        if let Some(fp) = store::get(&mut w, "port", f["port_id"].as_str().unwrap_or_default()).await? {
            let on = fp["fixed_ips"].as_array().is_some_and(|a| {
                a.iter().any(|x| {
                    subnets.iter().any(|s| x["subnet_id"] == json!(s)) && x["ip_address"] == f["fixed_ip_address"]
                })
            });
            if on {
                return Err(Error::conflict(format!(
                    "Router interface for subnet {} on router {id} cannot be deleted, as it is required by one or more floating IPs.",
                    subnets.first().cloned().unwrap_or_default()
                ))
                .with_code("RouterInterfaceInUseByFloatingIP"));
            }
        }
    }
    let info = interface_info(&r, &port);
    ports::remove_port_rows(&mut w, port["id"].as_str().unwrap_or_default()).await?;
    // routes through the removed subnet would dangle
    bump(&mut r);
    store::update(&mut w, "router", &r).await?;
    commit(net, w).await?;
    Ok(info)
}
