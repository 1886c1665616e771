//! Subnets: CIDR (given or from a subnet pool), gateway, allocation pools,
//! DNS servers, host routes, DHCP and the IPv6 modes. A network with a
//! DHCP-enabled subnet gets a DHCP port (device_owner `network:dhcp`), as
//! upstream's DHCP agent makes one.

use std::net::IpAddr;

use rustack_common::Error;
use serde_json::{json, Value};

use super::*;
use crate::ipam::{self, Pool};
use crate::query::ListQuery;

const CREATE: &[&str] = &[
    "name",
    "description",
    "network_id",
    "ip_version",
    "cidr",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "ipv6_ra_mode",
    "ipv6_address_mode",
    "subnetpool_id",
    "prefixlen",
    "use_default_subnetpool",
    "project_id",
    "tenant_id",
    "service_types",
    "segment_id",
    "dns_publish_fixed_ip",
];
const UPDATE: &[&str] = &[
    "name",
    "description",
    "gateway_ip",
    "allocation_pools",
    "dns_nameservers",
    "host_routes",
    "enable_dhcp",
    "service_types",
    "segment_id",
    "dns_publish_fixed_ip",
];

pub fn pools_of(s: &Value) -> Vec<Pool> {
    s["allocation_pools"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some(Pool { start: p["start"].as_str()?.parse().ok()?, end: p["end"].as_str()?.parse().ok()? })
                })
                .collect()
        })
        .unwrap_or_default()
}

pub fn cidr_of(s: &Value) -> Option<ipnet::IpNet> {
    s["cidr"].as_str().and_then(|c| c.parse().ok())
}

/// Whether addresses on this subnet come from the MAC (SLAAC or DHCPv6-stateless).
pub fn is_auto_address(s: &Value) -> bool {
    matches!(s["ipv6_address_mode"].as_str(), Some("slaac") | Some("dhcpv6-stateless"))
}

fn parse_pools(v: &Value) -> Result<Vec<Pool>, Error> {
    let arr = v.as_array().ok_or_else(|| invalid("allocation_pools must be a list"))?;
    arr.iter()
        .map(|p| {
            let s = p.get("start").and_then(Value::as_str).ok_or_else(|| invalid("allocation pool needs start"))?;
            let e = p.get("end").and_then(Value::as_str).ok_or_else(|| invalid("allocation pool needs end"))?;
            Ok(Pool { start: ipam::parse_ip(s)?, end: ipam::parse_ip(e)? })
        })
        .collect()
}

fn pools_json(pools: &[Pool]) -> Value {
    json!(pools.iter().map(|p| json!({"start": p.start.to_string(), "end": p.end.to_string()})).collect::<Vec<_>>())
}

fn parse_dns(v: &Value, v6: bool) -> Result<Value, Error> {
    let arr = v.as_array().ok_or_else(|| invalid("dns_nameservers must be a list"))?;
    let mut seen = vec![];
    for d in arr {
        let s = d.as_str().ok_or_else(|| invalid("a DNS server must be a string"))?;
        let ip = ipam::parse_ip(s)?;
        let _ = v6;
        if seen.contains(&ip) {
            return Err(invalid(format!("Duplicate nameserver '{s}'")));
        }
        seen.push(ip);
    }
    Ok(v.clone())
}

fn parse_routes(v: &Value, v6: bool) -> Result<Value, Error> {
    let arr = v.as_array().ok_or_else(|| invalid("host_routes must be a list"))?;
    let mut out = vec![];
    for r in arr {
        let d = r.get("destination").and_then(Value::as_str).ok_or_else(|| invalid("host route needs destination"))?;
        let n = r.get("nexthop").and_then(Value::as_str).ok_or_else(|| invalid("host route needs nexthop"))?;
        let dn = ipam::parse_prefix(d)?;
        let nh = ipam::parse_ip(n)?;
        if dn.addr().is_ipv6() != v6 || nh.is_ipv6() != v6 {
            return Err(invalid(format!("Host route {d} via {n} does not match the subnet's IP version")));
        }
        let route = json!({"destination": dn.trunc().to_string(), "nexthop": nh.to_string()});
        if out.contains(&route) {
            return Err(invalid(format!("Duplicate hostroute '{d}'")));
        }
        out.push(route);
    }
    Ok(json!(out))
}

fn check_v6_modes(doc: &Doc, version: i64) -> Result<(Option<String>, Option<String>), Error> {
    let ra = get_str(doc, "ipv6_ra_mode")?;
    let am = get_str(doc, "ipv6_address_mode")?;
    for m in [&ra, &am].into_iter().flatten() {
        if !["slaac", "dhcpv6-stateful", "dhcpv6-stateless"].contains(&m.as_str()) {
            return Err(invalid(format!("'{m}' is not in ['dhcpv6-stateful', 'dhcpv6-stateless', 'slaac']")));
        }
    }
    if version == 4 && (ra.is_some() || am.is_some()) {
        return Err(invalid("ipv6_ra_mode and ipv6_address_mode are not valid for IPv4 subnets"));
    }
    if let (Some(r), Some(a)) = (&ra, &am) {
        if r != a {
            return Err(invalid(format!(
                "ipv6_ra_mode set to '{r}' with ipv6_address_mode set to '{a}' is not valid. If both attributes are set, they must be the same value"
            )));
        }
    }
    Ok((ra, am))
}

pub async fn visible(net: &Network, caller: &Caller) -> Result<Vec<Value>, Error> {
    let mut c = conn(net).await?;
    let nets = store::list(&mut c, "network").await?;
    let mut seen = std::collections::HashMap::new();
    for n in &nets {
        seen.insert(n["id"].as_str().unwrap_or_default().to_string(), network_usable(&mut c, caller, n).await?);
    }
    let subnets = store::list(&mut c, "subnet").await?;
    Ok(subnets
        .into_iter()
        .filter(|s| caller.owns(s) || *seen.get(s["network_id"].as_str().unwrap_or_default()).unwrap_or(&false))
        .collect())
}

pub async fn list(net: &Network, caller: &Caller, q: &ListQuery, base: &str) -> Result<Value, Error> {
    q.apply("subnets", base, visible(net, caller).await?)
}

async fn get_visible(c: &mut Conn, caller: &Caller, id: &str) -> Result<(Value, Value), Error> {
    let s = must_get(c, "subnet", id).await?;
    let n = must_get(c, "network", s["network_id"].as_str().unwrap_or_default()).await?;
    if !caller.owns(&s) && !network_usable(c, caller, &n).await? {
        return Err(not_found("subnet", id));
    }
    Ok((s, n))
}

pub async fn show(net: &Network, caller: &Caller, id: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    Ok(get_visible(&mut c, caller, id).await?.0)
}

pub async fn create(net: &Network, caller: &Caller, doc: Doc) -> Result<Value, Error> {
    only(&doc, CREATE)?;
    let project = owner_of_new(caller, &doc)?;
    let network_id = get_str(&doc, "network_id")?.ok_or_else(|| invalid("network_id is required"))?;
    let version = get_int(&doc, "ip_version")?.ok_or_else(|| invalid("ip_version is required"))?;
    if version != 4 && version != 6 {
        return Err(invalid(format!("{version} is not in [4, 6]")));
    }
    let (ra, am) = check_v6_modes(&doc, version)?;
    let enable_dhcp = get_bool(&doc, "enable_dhcp")?.unwrap_or(true);
    let mut w = begin(net).await?;
    let mut n = must_get(&mut w, "network", &network_id).await?;
    if !network_usable(&mut w, caller, &n).await? {
        if network_visible(&mut w, caller, &n).await? {
            return Err(forbidden("create_subnet"));
        }
        return Err(not_found("network", &network_id));
    }
    check_quota(&mut w, &project, "subnet", "subnet", 1).await?;
    let siblings = store::children(&mut w, "subnet", &network_id).await?;
    // the CIDR: given, or carved out of a subnet pool
    let mut pool_id = get_str(&doc, "subnetpool_id")?;
    if pool_id.is_none() && get_bool(&doc, "use_default_subnetpool")? == Some(true) {
        pool_id = Some(subnetpools::default_pool(&mut w, version).await?.ok_or_else(|| {
            Error::bad_request(format!("No default subnetpool found for IPv{version}")).with_code("BadRequest")
        })?);
    }
    let cidr = match (get_str(&doc, "cidr")?, &pool_id) {
        (Some(c), None) => ipam::parse_cidr(&c)?,
        (c, Some(pid)) => {
            subnetpools::allocate(&mut w, caller, pid, version, c.as_deref(), get_int(&doc, "prefixlen")?).await?
        }
        (None, None) => {
            return Err(Error::bad_request(
                "Bad subnets request: a cidr must be specified in the absence of a subnet pool",
            ))
        }
    };
    if (version == 6) != cidr.addr().is_ipv6() {
        return Err(invalid("Cidr and IP version are not compatible"));
    }
    for s in &siblings {
        if let Some(o) = cidr_of(s) {
            if ipam::overlaps(&o, &cidr) {
                return Err(Error::bad_request(format!(
                    "Invalid input for operation: Requested subnet with cidr: {cidr} for network: {network_id} overlaps with another subnet."
                ))
                .with_code("InvalidInput"));
            }
        }
    }
    let gateway: Option<IpAddr> = match doc.get("gateway_ip") {
        None => Some(ipam::default_gateway(&cidr)),
        Some(Value::Null) => None,
        Some(v) => {
            let g = ipam::parse_ip(&v_str(v))?;
            if g.is_ipv6() != cidr.addr().is_ipv6() {
                return Err(invalid(format!("Gateway IP {g} does not match the subnet's IP version")));
            }
            if g == cidr.network() || (version == 4 && cidr.prefix_len() < 31 && g == cidr.broadcast()) {
                return Err(invalid(format!("Gateway is not valid on subnet: {g}")));
            }
            Some(g)
        }
    };
    let pools = match doc.get("allocation_pools") {
        Some(v) if !v.is_null() => {
            let pools = parse_pools(v)?;
            ipam::validate_pools(&cidr, &pools, gateway)?;
            pools
        }
        _ => ipam::default_pools(&cidr, gateway),
    };
    let dns = match doc.get("dns_nameservers") {
        Some(v) if !v.is_null() => parse_dns(v, version == 6)?,
        _ => json!([]),
    };
    let routes = match doc.get("host_routes") {
        Some(v) if !v.is_null() => parse_routes(v, version == 6)?,
        _ => json!([]),
    };
    let id = new_id();
    let mut d = Doc::new();
    std_attrs(&mut d, &id, &project, get_str(&doc, "name")?, get_str(&doc, "description")?);
    d.insert("network_id".into(), json!(network_id));
    d.insert("ip_version".into(), json!(version));
    d.insert("cidr".into(), json!(cidr.to_string()));
    d.insert("gateway_ip".into(), json!(gateway.map(|g| g.to_string())));
    d.insert("allocation_pools".into(), pools_json(&pools));
    d.insert("dns_nameservers".into(), dns);
    d.insert("host_routes".into(), routes);
    d.insert("enable_dhcp".into(), json!(enable_dhcp));
    d.insert("ipv6_ra_mode".into(), json!(ra));
    d.insert("ipv6_address_mode".into(), json!(am));
    d.insert("subnetpool_id".into(), json!(pool_id));
    d.insert("service_types".into(), doc.get("service_types").cloned().filter(|v| v.is_array()).unwrap_or(json!([])));
    d.insert("segment_id".into(), Value::Null);
    d.insert("dns_publish_fixed_ip".into(), json!(get_bool(&doc, "dns_publish_fixed_ip")?.unwrap_or(false)));
    let v = Value::Object(d);
    store::insert(&mut w, "subnet", &network_id, &v).await?;
    if let Some(a) = n["subnets"].as_array_mut() {
        a.push(json!(id));
    }
    bump(&mut n);
    store::update(&mut w, "network", &n).await?;
    sync_dhcp_port(&mut w, &network_id).await?;
    commit(net, w).await?;
    Ok(v)
}

pub async fn update(net: &Network, caller: &Caller, id: &str, upd: Doc) -> Result<Value, Error> {
    if let Some(bad) = ["network_id", "ip_version", "cidr", "ipv6_ra_mode", "ipv6_address_mode", "subnetpool_id"]
        .iter()
        .find(|k| upd.contains_key(**k))
    {
        return Err(Error::bad_request(format!("Cannot update read-only attribute {bad}")));
    }
    only(&upd, UPDATE)?;
    let mut w = begin(net).await?;
    let (mut s, _) = get_visible(&mut w, caller, id).await?;
    if !caller.owns(&s) {
        return Err(forbidden("update_subnet"));
    }
    let cidr = cidr_of(&s).ok_or_else(|| invalid("stored subnet has no cidr"))?;
    let v6 = cidr.addr().is_ipv6();
    update_std(&mut s, &upd)?;
    let mut gateway: Option<IpAddr> = s["gateway_ip"].as_str().and_then(|g| g.parse().ok());
    if let Some(g) = upd.get("gateway_ip") {
        gateway = if g.is_null() { None } else { Some(ipam::parse_ip(&v_str(g))?) };
        if let Some(g) = gateway {
            if g.is_ipv6() != v6 {
                return Err(invalid(format!("Gateway IP {g} does not match the subnet's IP version")));
            }
        }
        s["gateway_ip"] = json!(gateway.map(|g| g.to_string()));
    }
    let pools = match upd.get("allocation_pools") {
        Some(v) if !v.is_null() => parse_pools(v)?,
        _ => pools_of(&s),
    };
    if upd.contains_key("allocation_pools") || upd.contains_key("gateway_ip") {
        ipam::validate_pools(&cidr, &pools, gateway)?;
        s["allocation_pools"] = pools_json(&pools);
    }
    if let Some(v) = upd.get("dns_nameservers") {
        s["dns_nameservers"] = if v.is_null() { json!([]) } else { parse_dns(v, v6)? };
    }
    if let Some(v) = upd.get("host_routes") {
        s["host_routes"] = if v.is_null() { json!([]) } else { parse_routes(v, v6)? };
    }
    if let Some(b) = get_bool(&upd, "enable_dhcp")? {
        s["enable_dhcp"] = json!(b);
    }
    if let Some(v) = upd.get("service_types").filter(|v| v.is_array()) {
        s["service_types"] = v.clone();
    }
    if let Some(b) = get_bool(&upd, "dns_publish_fixed_ip")? {
        s["dns_publish_fixed_ip"] = json!(b);
    }
    bump(&mut s);
    store::update(&mut w, "subnet", &s).await?;
    let network_id = s["network_id"].as_str().unwrap_or_default().to_string();
    sync_dhcp_port(&mut w, &network_id).await?;
    commit(net, w).await?;
    Ok(s)
}

pub async fn delete(net: &Network, caller: &Caller, id: &str) -> Result<(), Error> {
    let mut w = begin(net).await?;
    let (s, mut n) = get_visible(&mut w, caller, id).await?;
    if !caller.owns(&s) && !caller.owns(&n) {
        return Err(forbidden("delete_subnet"));
    }
    let network_id = s["network_id"].as_str().unwrap_or_default().to_string();
    let auto = is_auto_address(&s);
    for mut p in store::children(&mut w, "port", &network_id).await? {
        let on_subnet = p["fixed_ips"].as_array().is_some_and(|a| a.iter().any(|f| f["subnet_id"] == json!(id)));
        if on_subnet && auto && p["device_owner"] != json!("network:router_interface") {
            // SLAAC addresses are not allocations: they leave with the subnet (as upstream)
            if let Some(a) = p["fixed_ips"].as_array_mut() {
                a.retain(|f| f["subnet_id"] != json!(id));
            }
            bump(&mut p);
            store::update(&mut w, "port", &p).await?;
            continue;
        }
        if on_subnet && p["device_owner"] != json!("network:dhcp") {
            return Err(Error::conflict(format!(
                "Unable to complete operation on subnet {id}: One or more ports have an IP allocation from this subnet."
            ))
            .with_code("SubnetInUse"));
        }
    }
    store::release_subnet(&mut w, id).await?;
    store::delete(&mut w, "subnet", id).await?;
    if let Some(a) = n["subnets"].as_array_mut() {
        a.retain(|x| x != &json!(id));
    }
    bump(&mut n);
    store::update(&mut w, "network", &n).await?;
    sync_dhcp_port(&mut w, &network_id).await?;
    commit(net, w).await
}

/// Makes the network's DHCP port match its DHCP-enabled subnets: created
/// with the first DHCP subnet, given an address on each, removed with the last.
pub async fn sync_dhcp_port(c: &mut Conn, network_id: &str) -> Result<(), Error> {
    let Some(n) = store::get(c, "network", network_id).await? else { return Ok(()) };
    let subnets = store::children(c, "subnet", network_id).await?;
    let dhcp: Vec<&Value> = subnets.iter().filter(|s| s["enable_dhcp"] == json!(true)).collect();
    let ports = store::children(c, "port", network_id).await?;
    let existing = ports.into_iter().find(|p| p["device_owner"] == json!("network:dhcp"));
    match (existing, dhcp.is_empty()) {
        (None, true) => Ok(()),
        (Some(p), true) => ports::remove_port_rows(c, p["id"].as_str().unwrap_or_default()).await,
        (None, false) => {
            let reqs = dhcp
                .iter()
                .map(|s| ports::IpReq { subnet_id: s["id"].as_str().map(String::from), ip_address: None })
                .collect();
            let device_id = format!("dhcp-{network_id}");
            let project = n["project_id"].as_str().unwrap_or_default().to_string();
            // a full subnet gets no DHCP address; DHCP then runs on the others
            match ports::create_internal(c, &n, &project, "network:dhcp", &device_id, reqs).await {
                Ok(_) => Ok(()),
                Err(e) if e.status() == 409 => {
                    tracing::warn!(network_id, "no address left for the DHCP port: {}", e.message);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        }
        (Some(mut p), false) => {
            let pid = p["id"].as_str().unwrap_or_default().to_string();
            let mut fixed: Vec<Value> = p["fixed_ips"].as_array().cloned().unwrap_or_default();
            let before = fixed.len();
            let keep: Vec<&str> = dhcp.iter().filter_map(|s| s["id"].as_str()).collect();
            for f in fixed.iter().filter(|f| !keep.contains(&f["subnet_id"].as_str().unwrap_or_default())) {
                store::release_ip(
                    c,
                    f["subnet_id"].as_str().unwrap_or_default(),
                    f["ip_address"].as_str().unwrap_or_default(),
                )
                .await?;
            }
            fixed.retain(|f| keep.contains(&f["subnet_id"].as_str().unwrap_or_default()));
            let mut changed = fixed.len() != before;
            for s in &dhcp {
                if fixed.iter().any(|f| f["subnet_id"] == s["id"]) {
                    continue;
                }
                let req = ports::IpReq { subnet_id: s["id"].as_str().map(String::from), ip_address: None };
                let mac = p["mac_address"].as_str().unwrap_or_default().to_string();
                match ports::allocate_ips(c, network_id, &[(*s).clone()], vec![req], &pid, &mac).await {
                    Ok(mut got) => fixed.append(&mut got),
                    Err(e) if e.status() == 409 => continue,
                    Err(e) => return Err(e),
                }
                changed = true;
            }
            if changed {
                p["fixed_ips"] = json!(fixed);
                bump(&mut p);
                store::update(c, "port", &p).await?;
            }
            Ok(())
        }
    }
}
