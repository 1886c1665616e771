//! Ports: MAC addresses, fixed IPs (IPAM), security groups, allowed address
//! pairs, port security and host binding.

use std::collections::HashSet;
use std::net::IpAddr;

use rand::Rng;
use rustack_common::Error;
use serde_json::{json, Value};

use super::subnets::{cidr_of, is_auto_address, pools_of};
use super::*;
use crate::ipam;
use crate::query::ListQuery;

const CREATE: &[&str] = &[
    "name",
    "description",
    "network_id",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "security_groups",
    "allowed_address_pairs",
    "port_security_enabled",
    "binding:host_id",
    "binding:profile",
    "binding:vnic_type",
    "extra_dhcp_opts",
    "project_id",
    "tenant_id",
    "dns_name",
    "qos_policy_id",
    "propagate_uplink_status",
];
const UPDATE: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "mac_address",
    "fixed_ips",
    "device_id",
    "device_owner",
    "security_groups",
    "allowed_address_pairs",
    "port_security_enabled",
    "binding:host_id",
    "binding:profile",
    "binding:vnic_type",
    "extra_dhcp_opts",
    "dns_name",
    "qos_policy_id",
    "propagate_uplink_status",
];

/// One entry of `fixed_ips` in a request.
#[derive(Debug, Clone, Default)]
pub struct IpReq {
    pub subnet_id: Option<String>,
    pub ip_address: Option<String>,
}

pub fn render(caller: &Caller, mut p: Value) -> Value {
    if !caller.is_admin {
        if let Some(m) = p.as_object_mut() {
            for k in ["binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details"] {
                m.remove(k);
            }
        }
    }
    p
}

fn parse_fixed_ips(v: &Value) -> Result<Vec<IpReq>, Error> {
    let arr = v.as_array().ok_or_else(|| invalid(format!("Invalid data format for fixed IP: '{v}'")))?;
    arr.iter()
        .map(|f| {
            let m = f.as_object().ok_or_else(|| invalid(format!("Invalid data format for fixed IP: '{f}'")))?;
            for k in m.keys() {
                if k != "subnet_id" && k != "ip_address" {
                    return Err(invalid(format!("Invalid data format for fixed IP: '{f}'")));
                }
            }
            Ok(IpReq { subnet_id: get_str(m, "subnet_id")?, ip_address: get_str(m, "ip_address")? })
        })
        .collect()
}

/// Allocates the addresses `reqs` ask for on the network's `subnets`
/// (inside the caller's write transaction). Chosen addresses must be inside
/// the subnet; allocated ones come from the pools, lowest first, and a
/// lost race (another transaction took it) just tries the next.
pub async fn allocate_ips(
    c: &mut Conn,
    network_id: &str,
    subnets: &[Value],
    reqs: Vec<IpReq>,
    port_id: &str,
    mac: &str,
) -> Result<Vec<Value>, Error> {
    let mut out: Vec<Value> = vec![];
    for r in reqs {
        let subnet = match (&r.subnet_id, &r.ip_address) {
            (Some(sid), _) => subnets.iter().find(|s| s["id"].as_str() == Some(sid)).cloned().ok_or_else(|| {
                Error::bad_request(format!(
                    "Invalid input for operation: Failed to create port on network {network_id}, because fixed_ips included invalid subnet {sid}."
                ))
                .with_code("InvalidInput")
            })?,
            (None, Some(ip)) => {
                let a = ipam::parse_ip(ip)?;
                subnets.iter().find(|s| cidr_of(s).is_some_and(|n| n.contains(&a))).cloned().ok_or_else(|| {
                    Error::bad_request(format!("IP address {ip} is not a valid IP for any of the subnets on the specified network."))
                        .with_code("InvalidIpForNetwork")
                })?
            }
            (None, None) => return Err(invalid("Exceeded maximum amount of fixed ips per port or empty fixed ip")),
        };
        let sid = subnet["id"].as_str().unwrap_or_default().to_string();
        let cidr = cidr_of(&subnet).ok_or_else(|| invalid("subnet without cidr"))?;
        let ip: IpAddr = match &r.ip_address {
            Some(ip) => {
                let a = ipam::parse_ip(ip)?;
                let reserved = a == cidr.network() && cidr.addr().is_ipv4() && cidr.prefix_len() < 31
                    || (cidr.addr().is_ipv4() && cidr.prefix_len() < 31 && a == cidr.broadcast());
                if !cidr.contains(&a) || reserved {
                    return Err(Error::bad_request(format!(
                        "IP address {ip} is not a valid IP for the specified subnet."
                    ))
                    .with_code("InvalidIpForSubnet"));
                }
                if !store::allocate_ip(c, &sid, &a.to_string(), port_id, network_id).await? {
                    return Err(Error::conflict(format!("IP address {a} already allocated in subnet {sid}"))
                        .with_code("IpAddressAlreadyAllocated"));
                }
                a
            }
            None if is_auto_address(&subnet) => {
                let a = ipam::eui64(&cidr, mac).ok_or_else(|| invalid("cannot compute an EUI-64 address"))?;
                if !store::allocate_ip(c, &sid, &a.to_string(), port_id, network_id).await? {
                    return Err(Error::conflict(format!("IP address {a} already allocated in subnet {sid}"))
                        .with_code("IpAddressAlreadyAllocated"));
                }
                a
            }
            None => {
                let pools = pools_of(&subnet);
                // the address after the last one given here is usually free:
                // try it before reading the subnet's allocations (a hint only;
                // the key on (subnet, ip) decides)
                if let Some(h) = next_hint(&sid).filter(|h| pools.iter().any(|p| p.contains(*h))) {
                    if store::allocate_ip(c, &sid, &h.to_string(), port_id, network_id).await? {
                        set_hint(&sid, h);
                        let entry = json!({"subnet_id": sid, "ip_address": h.to_string()});
                        if out.contains(&entry) {
                            return Err(invalid("Duplicate IP address in fixed_ips"));
                        }
                        out.push(entry);
                        continue;
                    }
                }
                let mut tries = 0;
                loop {
                    let used: HashSet<IpAddr> =
                        store::allocated_ips(c, &sid).await?.iter().filter_map(|s| s.parse().ok()).collect();
                    let Some(a) = ipam::first_free(&pools, &used) else {
                        return Err(Error::conflict(format!("No more IP addresses available for subnet {sid}."))
                            .with_code("IpAddressGenerationFailure"));
                    };
                    if store::allocate_ip(c, &sid, &a.to_string(), port_id, network_id).await? {
                        set_hint(&sid, a);
                        break a;
                    }
                    tries += 1;
                    if tries > 32 {
                        return Err(Error::conflict(format!("No more IP addresses available for subnet {sid}."))
                            .with_code("IpAddressGenerationFailure"));
                    }
                }
            }
        };
        let entry = json!({"subnet_id": sid, "ip_address": ip.to_string()});
        if out.contains(&entry) {
            return Err(invalid("Duplicate IP address in fixed_ips"));
        }
        out.push(entry);
    }
    Ok(out)
}

/// Per subnet, the last address this process allocated from the pools.
static HINTS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, IpAddr>>> =
    std::sync::LazyLock::new(Default::default);

fn next_hint(subnet: &str) -> Option<IpAddr> {
    let last = *HINTS.lock().ok()?.get(subnet)?;
    let v = ipam::to_u128(last).checked_add(1)?;
    Some(ipam::from_u128(v, last.is_ipv6()))
}

fn set_hint(subnet: &str, ip: IpAddr) {
    if let Ok(mut h) = HINTS.lock() {
        h.insert(subnet.to_string(), ip);
    }
}

/// The addresses a port gets when it names none: one IPv4 subnet with room
/// (in creation order), the first stateful IPv6 subnet, every SLAAC subnet.
pub fn default_requests(subnets: &[Value]) -> Vec<Vec<IpReq>> {
    let req = |s: &Value| IpReq { subnet_id: s["id"].as_str().map(String::from), ip_address: None };
    let mut groups = vec![];
    let v4: Vec<IpReq> = subnets.iter().filter(|s| s["ip_version"] == json!(4)).map(req).collect();
    if !v4.is_empty() {
        groups.push(v4);
    }
    let v6: Vec<IpReq> =
        subnets.iter().filter(|s| s["ip_version"] == json!(6) && !is_auto_address(s)).take(1).map(req).collect();
    if !v6.is_empty() {
        groups.push(v6);
    }
    for s in subnets.iter().filter(|s| s["ip_version"] == json!(6) && is_auto_address(s)) {
        groups.push(vec![req(s)]);
    }
    groups
}

/// Subnets of a network in creation order.
pub async fn subnets_of(c: &mut Conn, network_id: &str) -> Result<Vec<Value>, Error> {
    let mut subnets = store::children(c, "subnet", network_id).await?;
    subnets.sort_by(|a, b| {
        a["created_at"].as_str().cmp(&b["created_at"].as_str()).then(a["id"].as_str().cmp(&b["id"].as_str()))
    });
    Ok(subnets)
}

async fn allocate_default(
    c: &mut Conn,
    network_id: &str,
    subnets: &[Value],
    port_id: &str,
    mac: &str,
) -> Result<Vec<Value>, Error> {
    let mut out = vec![];
    for group in default_requests(subnets) {
        // any one subnet of the group: the first with room
        let mut last_err = None;
        let mut got = false;
        for r in group {
            match allocate_ips(c, network_id, subnets, vec![r], port_id, mac).await {
                Ok(mut ips) => {
                    out.append(&mut ips);
                    got = true;
                    break;
                }
                Err(e) if e.status() == 409 => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        if !got {
            if let Some(e) = last_err {
                return Err(e);
            }
        }
    }
    Ok(out)
}

fn random_mac() -> String {
    let mut r = rand::thread_rng();
    format!("fa:16:3e:{:02x}:{:02x}:{:02x}", r.gen::<u8>(), r.gen::<u8>(), r.gen::<u8>())
}

async fn take_a_mac(c: &mut Conn, network_id: &str, port_id: &str, wanted: Option<String>) -> Result<String, Error> {
    if let Some(m) = wanted {
        let ok = m.len() == 17 && m.split(':').all(|b| b.len() == 2 && u8::from_str_radix(b, 16).is_ok());
        if !ok || m == "00:00:00:00:00:00" || m.eq_ignore_ascii_case("ff:ff:ff:ff:ff:ff") {
            return Err(invalid(format!("'{m}' is not a valid MAC address")));
        }
        let m = m.to_ascii_lowercase();
        if !store::take_mac(c, network_id, &m, port_id).await? {
            return Err(Error::conflict(format!(
                "Unable to complete operation for network {network_id}. The mac address {m} is in use."
            ))
            .with_code("MacAddressInUse"));
        }
        return Ok(m);
    }
    for _ in 0..16 {
        let m = random_mac();
        if store::take_mac(c, network_id, &m, port_id).await? {
            return Ok(m);
        }
    }
    Err(Error::conflict("Unable to generate a unique MAC address.").with_code("MacAddressGenerationFailure"))
}

fn parse_pairs(v: &Value, mac: &str) -> Result<Value, Error> {
    let arr = v.as_array().ok_or_else(|| invalid("allowed_address_pairs must be a list"))?;
    let mut out: Vec<Value> = vec![];
    for p in arr {
        let m = p.as_object().ok_or_else(|| invalid("an allowed address pair must be an object"))?;
        let ip = get_str(m, "ip_address")?.ok_or_else(|| {
            Error::bad_request("AllowedAddressPair must contain ip_address").with_code("AllowedAddressPairsMissingIP")
        })?;
        let net = ipam::parse_prefix(&ip)?;
        let ip_text =
            if net.prefix_len() == net.max_prefix_len() && !ip.contains('/') { ip.clone() } else { net.to_string() };
        let pmac = get_str(m, "mac_address")?.unwrap_or_else(|| mac.to_string()).to_ascii_lowercase();
        let entry = json!({"ip_address": ip_text, "mac_address": pmac});
        if out.contains(&entry) {
            return Err(Error::bad_request("Request contains duplicate address pair")
                .with_code("DuplicateAddressPairInRequest"));
        }
        out.push(entry);
    }
    Ok(json!(out))
}

/// Resolves `security_groups` for a port of `project`: each must exist and
/// belong to the project (or the caller is admin).
async fn resolve_sgs(c: &mut Conn, caller: &Caller, project: &str, v: &Value) -> Result<Vec<String>, Error> {
    let arr = v.as_array().ok_or_else(|| invalid("security_groups must be a list"))?;
    let mut out = vec![];
    for s in arr {
        let id = s.as_str().ok_or_else(|| invalid("a security group id must be a string"))?;
        let sg = store::get(c, "security_group", id).await?.ok_or_else(|| not_found("security_group", id))?;
        if !caller.is_admin && sg["project_id"].as_str() != Some(project) && sg["shared"] != json!(true) {
            return Err(not_found("security_group", id));
        }
        if !out.contains(&id.to_string()) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

/// A port made by the service itself (DHCP, router interfaces and
/// gateways, floating IPs): no security groups.
pub async fn create_internal(
    c: &mut Conn,
    network: &Value,
    project: &str,
    device_owner: &str,
    device_id: &str,
    reqs: Vec<IpReq>,
) -> Result<Value, Error> {
    let network_id = network["id"].as_str().unwrap_or_default();
    let id = new_id();
    let mac = take_a_mac(c, network_id, &id, None).await?;
    let subnets = subnets_of(c, network_id).await?;
    let fixed = if reqs.is_empty() {
        allocate_default(c, network_id, &subnets, &id, &mac).await?
    } else {
        allocate_ips(c, network_id, &subnets, reqs, &id, &mac).await?
    };
    let mut d = Doc::new();
    std_attrs(&mut d, &id, project, None, None);
    fill_port(&mut d, network, &mac, json!(fixed), device_owner, device_id);
    d.insert("port_security_enabled".into(), json!(false));
    d.insert("status".into(), json!(if device_owner == "network:floatingip" { "N/A" } else { "ACTIVE" }));
    let v = Value::Object(d);
    store::insert(c, "port", network_id, &v).await?;
    Ok(v)
}

fn fill_port(d: &mut Doc, network: &Value, mac: &str, fixed: Value, device_owner: &str, device_id: &str) {
    d.insert("network_id".into(), network["id"].clone());
    d.insert("admin_state_up".into(), json!(true));
    d.insert("status".into(), json!("DOWN"));
    d.insert("mac_address".into(), json!(mac));
    d.insert("fixed_ips".into(), fixed);
    d.insert("device_owner".into(), json!(device_owner));
    d.insert("device_id".into(), json!(device_id));
    d.insert("security_groups".into(), json!([]));
    d.insert("allowed_address_pairs".into(), json!([]));
    d.insert("extra_dhcp_opts".into(), json!([]));
    d.insert("port_security_enabled".into(), network["port_security_enabled"].clone());
    d.insert("binding:host_id".into(), json!(""));
    d.insert("binding:profile".into(), json!({}));
    d.insert("binding:vif_type".into(), json!("unbound"));
    d.insert("binding:vif_details".into(), json!({}));
    d.insert("binding:vnic_type".into(), json!("normal"));
}

pub fn bind(p: &mut Value, host: &str) {
    p["binding:host_id"] = json!(host);
    if host.is_empty() {
        p["binding:vif_type"] = json!("unbound");
        p["binding:vif_details"] = json!({});
        if !p["device_owner"].as_str().unwrap_or_default().starts_with("network:") {
            p["status"] = json!("DOWN");
        }
    } else {
        p["binding:vif_type"] = json!("bridge");
        p["binding:vif_details"] = json!({"port_filter": true, "connectivity": "l2"});
        p["status"] = json!("ACTIVE");
    }
}

pub async fn visible(net: &Network, caller: &Caller) -> Result<Vec<Value>, Error> {
    let mut c = conn(net).await?;
    let ports = store::list(&mut c, "port").await?;
    if caller.is_admin {
        return Ok(ports);
    }
    let own_nets: HashSet<String> = store::list(&mut c, "network")
        .await?
        .into_iter()
        .filter(|n| caller.owns(n))
        .filter_map(|n| n["id"].as_str().map(String::from))
        .collect();
    Ok(ports
        .into_iter()
        .filter(|p| caller.owns(p) || own_nets.contains(p["network_id"].as_str().unwrap_or_default()))
        .map(|p| render(caller, p))
        .collect())
}

pub async fn list(net: &Network, caller: &Caller, q: &ListQuery, base: &str) -> Result<Value, Error> {
    q.apply("ports", base, visible(net, caller).await?)
}

async fn get_visible(c: &mut Conn, caller: &Caller, id: &str) -> Result<Value, Error> {
    let p = must_get(c, "port", id).await?;
    if caller.owns(&p) {
        return Ok(p);
    }
    let n = store::get(c, "network", p["network_id"].as_str().unwrap_or_default()).await?;
    if n.is_some_and(|n| caller.owns(&n)) {
        return Ok(p);
    }
    Err(not_found("port", id))
}

pub async fn show(net: &Network, caller: &Caller, id: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    Ok(render(caller, get_visible(&mut c, caller, id).await?))
}

/// Creates a port inside an open transaction (the API's create, bulk
/// create and compute's `create_port_for`).
pub async fn create_in(c: &mut Conn, caller: &Caller, doc: Doc) -> Result<Value, Error> {
    only(&doc, CREATE)?;
    let project = owner_of_new(caller, &doc)?;
    let network_id = get_str(&doc, "network_id")?.ok_or_else(|| invalid("network_id is required"))?;
    let n = must_get(c, "network", &network_id).await?;
    if !network_usable(c, caller, &n).await? {
        if network_visible(c, caller, &n).await? {
            return Err(forbidden("create_port"));
        }
        return Err(not_found("network", &network_id));
    }
    check_quota(c, &project, "port", "port", 1).await?;
    let device_owner = get_str(&doc, "device_owner")?.unwrap_or_default();
    let device_id = get_str(&doc, "device_id")?.unwrap_or_default();
    if (doc.contains_key("binding:host_id") && !caller.may("create_port:binding:host_id"))
        || (doc.contains_key("binding:profile") && !caller.may("create_port:binding:profile"))
    {
        return Err(forbidden("create_port:binding:host_id"));
    }
    let psec = get_bool(&doc, "port_security_enabled")?.unwrap_or(n["port_security_enabled"] != json!(false));
    let id = new_id();
    let mac = take_a_mac(c, &network_id, &id, get_str(&doc, "mac_address")?).await?;
    let subnets = subnets_of(c, &network_id).await?;
    let fixed = match doc.get("fixed_ips") {
        Some(v) if !v.is_null() => allocate_ips(c, &network_id, &subnets, parse_fixed_ips(v)?, &id, &mac).await?,
        _ => allocate_default(c, &network_id, &subnets, &id, &mac).await?,
    };
    let network_owned = device_owner.starts_with("network:");
    let sgs = match doc.get("security_groups") {
        Some(v) if !v.is_null() => resolve_sgs(c, caller, &project, v).await?,
        _ if psec && !network_owned => vec![secgroups::ensure_default(c, &project).await?],
        _ => vec![],
    };
    if !psec && !sgs.is_empty() {
        return Err(Error::bad_request(
            "Port security must be enabled and port must have an IP address in order to use security groups.",
        )
        .with_code("PortSecurityAndIPRequiredForSecurityGroups"));
    }
    let pairs = match doc.get("allowed_address_pairs") {
        Some(v) if !v.is_null() => parse_pairs(v, &mac)?,
        _ => json!([]),
    };
    if !psec && pairs.as_array().is_some_and(|a| !a.is_empty()) {
        return Err(Error::conflict("Port Security must be enabled in order to have allowed address pairs on a port.")
            .with_code("AddressPairAndPortSecurityRequired"));
    }
    let mut d = Doc::new();
    std_attrs(&mut d, &id, &project, get_str(&doc, "name")?, get_str(&doc, "description")?);
    fill_port(&mut d, &n, &mac, json!(fixed), &device_owner, &device_id);
    d.insert("admin_state_up".into(), json!(get_bool(&doc, "admin_state_up")?.unwrap_or(true)));
    d.insert("security_groups".into(), json!(sgs));
    d.insert("allowed_address_pairs".into(), pairs);
    d.insert("port_security_enabled".into(), json!(psec));
    if let Some(v) = doc.get("extra_dhcp_opts").filter(|v| v.is_array()) {
        d.insert("extra_dhcp_opts".into(), v.clone());
    }
    if let Some(v) = get_str(&doc, "binding:vnic_type")? {
        d.insert("binding:vnic_type".into(), json!(v));
    }
    if let Some(v) = doc.get("binding:profile").filter(|v| v.is_object()) {
        d.insert("binding:profile".into(), v.clone());
    }
    let mut v = Value::Object(d);
    if network_owned && device_owner != "network:floatingip" {
        v["status"] = json!("ACTIVE");
    }
    if let Some(h) = get_str(&doc, "binding:host_id")?.filter(|h| !h.is_empty()) {
        bind(&mut v, &h);
    }
    store::insert(c, "port", &network_id, &v).await?;
    Ok(v)
}

pub async fn create(net: &Network, caller: &Caller, doc: Doc) -> Result<Value, Error> {
    let mut w = begin(net).await?;
    let v = create_in(&mut w, caller, doc).await?;
    commit(net, w).await?;
    Ok(render(caller, v))
}

pub async fn update(net: &Network, caller: &Caller, id: &str, upd: Doc) -> Result<Value, Error> {
    if upd.contains_key("network_id") {
        return Err(Error::bad_request("Cannot update read-only attribute network_id"));
    }
    only(&upd, UPDATE)?;
    let mut w = begin(net).await?;
    let mut p = get_visible(&mut w, caller, id).await?;
    let network_id = p["network_id"].as_str().unwrap_or_default().to_string();
    let project = p["project_id"].as_str().unwrap_or_default().to_string();
    if (upd.contains_key("binding:host_id") && !caller.may("update_port:binding:host_id"))
        || (upd.contains_key("binding:profile") && !caller.may("update_port:binding:profile"))
    {
        return Err(forbidden("update_port:binding:host_id"));
    }
    update_std(&mut p, &upd)?;
    if let Some(b) = get_bool(&upd, "admin_state_up")? {
        p["admin_state_up"] = json!(b);
    }
    if let Some(v) = get_str(&upd, "device_id")? {
        p["device_id"] = json!(v);
    } else if upd.get("device_id") == Some(&Value::Null) {
        p["device_id"] = json!("");
    }
    if let Some(v) = get_str(&upd, "device_owner")? {
        p["device_owner"] = json!(v);
    } else if upd.get("device_owner") == Some(&Value::Null) {
        p["device_owner"] = json!("");
    }
    let mut mac = p["mac_address"].as_str().unwrap_or_default().to_string();
    if let Some(m) = get_str(&upd, "mac_address")? {
        if !caller.is_admin {
            return Err(forbidden("update_port:mac_address"));
        }
        if m.to_ascii_lowercase() != mac {
            store::release_mac(&mut w, id).await?;
            mac = take_a_mac(&mut w, &network_id, id, Some(m)).await?;
            p["mac_address"] = json!(mac);
        }
    }
    if let Some(v) = upd.get("fixed_ips") {
        let reqs = if v.is_null() { vec![] } else { parse_fixed_ips(v)? };
        let old: Vec<Value> = p["fixed_ips"].as_array().cloned().unwrap_or_default();
        let mut keep: Vec<Value> = vec![];
        let mut todo = vec![];
        for r in reqs {
            let hit = old.iter().find(|o| {
                !keep.contains(o)
                    && match (&r.subnet_id, &r.ip_address) {
                        (s, Some(ip)) => {
                            o["ip_address"].as_str().and_then(|a| a.parse::<IpAddr>().ok()) == ip.parse::<IpAddr>().ok()
                                && s.as_ref().is_none_or(|s| o["subnet_id"].as_str() == Some(s))
                        }
                        // a subnet alone asks for a new address there (as upstream)
                        _ => false,
                    }
            });
            match hit {
                Some(o) => keep.push(o.clone()),
                None => todo.push(r),
            }
        }
        for o in old.iter().filter(|o| !keep.contains(o)) {
            store::release_ip(
                &mut w,
                o["subnet_id"].as_str().unwrap_or_default(),
                o["ip_address"].as_str().unwrap_or_default(),
            )
            .await?;
        }
        let subnets = subnets_of(&mut w, &network_id).await?;
        let mut new = allocate_ips(&mut w, &network_id, &subnets, todo, id, &mac).await?;
        keep.append(&mut new);
        p["fixed_ips"] = json!(keep);
    }
    let psec = match get_bool(&upd, "port_security_enabled")? {
        Some(b) => b,
        None => p["port_security_enabled"] != json!(false),
    };
    if let Some(v) = upd.get("security_groups") {
        let sgs = if v.is_null() { vec![] } else { resolve_sgs(&mut w, caller, &project, v).await? };
        p["security_groups"] = json!(sgs);
    }
    if let Some(v) = upd.get("allowed_address_pairs") {
        p["allowed_address_pairs"] = if v.is_null() { json!([]) } else { parse_pairs(v, &mac)? };
    }
    if !psec {
        if p["security_groups"].as_array().is_some_and(|a| !a.is_empty()) {
            return Err(Error::conflict(format!(
                "Port {id} has security groups associated with it. Remove security groups or enable port security before disabling port security."
            ))
            .with_code("PortSecurityPortHasSecurityGroup"));
        }
        if p["allowed_address_pairs"].as_array().is_some_and(|a| !a.is_empty()) {
            return Err(Error::conflict(
                "Port Security must be enabled in order to have allowed address pairs on a port.",
            )
            .with_code("AddressPairAndPortSecurityRequired"));
        }
    }
    p["port_security_enabled"] = json!(psec);
    if let Some(v) = upd.get("extra_dhcp_opts").filter(|v| v.is_array()) {
        p["extra_dhcp_opts"] = v.clone();
    }
    if let Some(v) = get_str(&upd, "binding:vnic_type")? {
        p["binding:vnic_type"] = json!(v);
    }
    if let Some(v) = upd.get("binding:profile") {
        p["binding:profile"] = if v.is_object() { v.clone() } else { json!({}) };
    }
    if upd.contains_key("binding:host_id") {
        let h = get_str(&upd, "binding:host_id")?.unwrap_or_default();
        bind(&mut p, &h);
    }
    bump(&mut p);
    store::update(&mut w, "port", &p).await?;
    commit(net, w).await?;
    Ok(render(caller, p))
}

/// Deletes a port's rows: the port, its addresses, its MAC; floating IPs
/// on it are disassociated.
pub async fn remove_port_rows(c: &mut Conn, port_id: &str) -> Result<(), Error> {
    store::release_port_ips(c, port_id).await?;
    store::release_mac(c, port_id).await?;
    store::delete(c, "port", port_id).await?;
    for mut f in store::list(c, "floatingip").await? {
        if f["port_id"] == json!(port_id) {
            f["port_id"] = Value::Null;
            f["fixed_ip_address"] = Value::Null;
            f["router_id"] = Value::Null;
            f["status"] = json!("DOWN");
            bump(&mut f);
            store::update(c, "floatingip", &f).await?;
        }
    }
    Ok(())
}

pub async fn delete(net: &Network, caller: &Caller, id: &str) -> Result<(), Error> {
    let mut w = begin(net).await?;
    let p = get_visible(&mut w, caller, id).await?;
    let owner = p["device_owner"].as_str().unwrap_or_default();
    if owner == "network:router_interface" || owner == "network:router_gateway" || owner == "network:floatingip" {
        return Err(Error::conflict(format!(
            "Port {id} cannot be deleted directly via the port API: has device owner {owner}."
        ))
        .with_code("ServicePortInUse"));
    }
    remove_port_rows(&mut w, id).await?;
    commit(net, w).await
}
