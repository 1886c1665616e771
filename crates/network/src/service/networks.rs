//! Networks: segments (flat, vlan, vxlan, local) from the configured ranges,
//! sharing, `router:external`, MTU, port security.

use rustack_common::Error;
use serde_json::{json, Value};

use super::*;
use crate::query::ListQuery;

const CREATE: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "mtu",
    "port_security_enabled",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "project_id",
    "tenant_id",
    "availability_zone_hints",
    "is_default",
    "dns_domain",
    "qos_policy_id",
];
const UPDATE: &[&str] = &[
    "name",
    "description",
    "admin_state_up",
    "shared",
    "router:external",
    "mtu",
    "port_security_enabled",
    "is_default",
    "dns_domain",
    "qos_policy_id",
];

/// What a non-admin may not see of a network.
pub fn render(caller: &Caller, mut net: Value) -> Value {
    if !caller.is_admin {
        if let Some(m) = net.as_object_mut() {
            m.remove("provider:network_type");
            m.remove("provider:physical_network");
            m.remove("provider:segmentation_id");
        }
    }
    net
}

pub async fn visible(net: &Network, caller: &Caller) -> Result<Vec<Value>, Error> {
    let mut c = conn(net).await?;
    let mut out = vec![];
    for n in store::list(&mut c, "network").await? {
        if network_visible(&mut c, caller, &n).await? {
            out.push(render(caller, n));
        }
    }
    Ok(out)
}

pub async fn list(net: &Network, caller: &Caller, q: &ListQuery, base: &str) -> Result<Value, Error> {
    let items = visible(net, caller).await?;
    q.apply("networks", base, items)
}

pub async fn show(net: &Network, caller: &Caller, id: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    let n = must_get(&mut c, "network", id).await?;
    if !network_visible(&mut c, caller, &n).await? {
        return Err(not_found("network", id));
    }
    Ok(render(caller, n))
}

/// A segment chosen for a new network: (type, physical network, segmentation id).
type Segment = (String, Option<String>, Option<i64>);

async fn allocate_segment(net: &Network, c: &mut Conn, id: &str, doc: &Doc) -> Result<Segment, Error> {
    let cfg = net.cfg();
    let ty = get_str(doc, "provider:network_type")?;
    let phys = get_str(doc, "provider:physical_network")?;
    let seg = get_int(doc, "provider:segmentation_id")?;
    let Some(ty) = ty else {
        if phys.is_some() || seg.is_some() {
            return Err(invalid("provider:network_type required"));
        }
        // a tenant network: the first configured type with a free segment
        for t in &cfg.tenant_network_types {
            match t.as_str() {
                "local" => return Ok(("local".into(), None, None)),
                "vxlan" => {
                    let used: std::collections::HashSet<i64> =
                        store::segments_in_use(c, "vxlan", "").await?.into_iter().collect();
                    for v in cfg.vni_range.0..=cfg.vni_range.1 {
                        if !used.contains(&v) && store::take_segment(c, "vxlan", "", v, id).await? {
                            return Ok(("vxlan".into(), None, Some(v)));
                        }
                    }
                }
                "vlan" => {
                    for (p, r) in &cfg.vlan_ranges {
                        let Some((lo, hi)) = r else { continue };
                        let used: std::collections::HashSet<i64> =
                            store::segments_in_use(c, "vlan", p).await?.into_iter().collect();
                        for v in *lo..=*hi {
                            if !used.contains(&v) && store::take_segment(c, "vlan", p, v, id).await? {
                                return Ok(("vlan".into(), Some(p.clone()), Some(v)));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        return Err(Error::new(
            rustack_common::ErrorKind::ServiceUnavailable,
            "Unable to create the network. No tenant network is available for allocation.",
        )
        .with_code("NoNetworkAvailable"));
    };
    match ty.as_str() {
        "local" => {
            if phys.is_some() || seg.is_some() {
                return Err(invalid("local networks take no physical network or segmentation id"));
            }
            Ok((ty, None, None))
        }
        "flat" => {
            let p = phys.ok_or_else(|| invalid("provider:physical_network required for flat provider network"))?;
            if seg.is_some() {
                return Err(invalid("provider:segmentation_id is not allowed for flat provider networks"));
            }
            if !cfg.flat_networks.iter().any(|f| f == "*" || *f == p) {
                return Err(invalid(format!("physical_network '{p}' unknown for flat provider network")));
            }
            if !store::take_segment(c, "flat", &p, 0, id).await? {
                return Err(Error::conflict(format!(
                    "Unable to create the flat network. Physical network {p} is in use."
                ))
                .with_code("FlatNetworkInUse"));
            }
            Ok((ty, Some(p), None))
        }
        "vlan" => {
            let p = phys.ok_or_else(|| invalid("provider:physical_network required for VLAN provider network"))?;
            if !cfg.vlan_ranges.contains_key(&p) {
                return Err(invalid(format!("physical_network '{p}' unknown for VLAN provider network")));
            }
            let v = match seg {
                Some(v) if !(1..=4094).contains(&v) => {
                    return Err(invalid(format!(
                        "provider:segmentation_id out of range ({v} is not between 1 and 4094)"
                    )))
                }
                Some(v) => v,
                None => {
                    let (lo, hi) = cfg.vlan_ranges[&p].unwrap_or((1, 4094));
                    let used: std::collections::HashSet<i64> =
                        store::segments_in_use(c, "vlan", &p).await?.into_iter().collect();
                    (lo..=hi).find(|v| !used.contains(v)).ok_or_else(|| {
                        Error::conflict(format!("Unable to create the network. No VLAN is free on {p}."))
                            .with_code("NoNetworkAvailable")
                    })?
                }
            };
            if !store::take_segment(c, "vlan", &p, v, id).await? {
                return Err(Error::conflict(format!(
                    "Unable to create the network. The VLAN {v} on physical network {p} is in use."
                ))
                .with_code("VlanIdInUse"));
            }
            Ok((ty, Some(p), Some(v)))
        }
        "vxlan" => {
            if phys.is_some() {
                return Err(invalid("provider:physical_network specified for vxlan network"));
            }
            let v = match seg {
                Some(v) if !(1..(1 << 24)).contains(&v) => {
                    return Err(invalid(format!("provider:segmentation_id {v} is out of the VXLAN range")))
                }
                Some(v) => v,
                None => {
                    let used: std::collections::HashSet<i64> =
                        store::segments_in_use(c, "vxlan", "").await?.into_iter().collect();
                    (cfg.vni_range.0..=cfg.vni_range.1).find(|v| !used.contains(v)).ok_or_else(|| {
                        Error::conflict("Unable to create the network. No tenant network is available for allocation.")
                            .with_code("NoNetworkAvailable")
                    })?
                }
            };
            if !store::take_segment(c, "vxlan", "", v, id).await? {
                return Err(Error::conflict(format!("Unable to create the network. The tunnel ID {v} is in use."))
                    .with_code("TunnelIdInUse"));
            }
            Ok((ty, None, Some(v)))
        }
        other => Err(invalid(format!("network_type value '{other}' not supported"))),
    }
}

/// Neutron's rule for `is_default`: one default external network at a time
/// (409 `DefaultExternalNetworkExists` naming the one there is).
async fn check_one_default(c: &mut Conn, id: &str) -> Result<(), Error> {
    let other = store::list(c, "network").await?.into_iter().find(|n| {
        n["router:external"] == json!(true) && n["is_default"] == json!(true) && n["id"].as_str() != Some(id)
    });
    match other {
        Some(n) => Err(Error::conflict(format!(
            "A default external network already exists: {}.",
            n["id"].as_str().unwrap_or_default()
        ))
        .with_code("DefaultExternalNetworkExists")),
        None => Ok(()),
    }
}

pub async fn create(net: &Network, caller: &Caller, doc: Doc) -> Result<Value, Error> {
    only(&doc, CREATE)?;
    let project = owner_of_new(caller, &doc)?;
    let admin_only =
        ["provider:network_type", "provider:physical_network", "provider:segmentation_id", "router:external"];
    for k in admin_only {
        let rule = format!("create_network:{k}");
        if doc.get(k).is_some_and(|v| !v.is_null() && *v != json!(false)) && !caller.may(&rule) {
            return Err(forbidden(&rule));
        }
    }
    let shared = get_bool(&doc, "shared")?.unwrap_or(false);
    if shared && !caller.may("create_network:shared") {
        return Err(forbidden("create_network:shared"));
    }
    let external = get_bool(&doc, "router:external")?.unwrap_or(false);
    let id = new_id();
    let is_default = get_bool(&doc, "is_default")?.unwrap_or(false);
    let mut w = begin(net).await?;
    if is_default {
        check_one_default(&mut w, &id).await?;
    }
    check_quota(&mut w, &project, "network", "network", 1).await?;
    let (ty, phys, seg) = allocate_segment(net, &mut w, &id, &doc).await?;
    let default_mtu = if ty == "vxlan" { net.cfg().physnet_mtu - 50 } else { net.cfg().physnet_mtu };
    let mtu = get_int(&doc, "mtu")?.unwrap_or(default_mtu);
    if mtu < 68 || mtu > default_mtu {
        return Err(invalid(format!("Requested MTU is too big, maximum is {default_mtu}")));
    }
    let az_hints = doc.get("availability_zone_hints").cloned().unwrap_or(json!([]));
    let mut d = Doc::new();
    std_attrs(&mut d, &id, &project, get_str(&doc, "name")?, get_str(&doc, "description")?);
    d.insert("admin_state_up".into(), json!(get_bool(&doc, "admin_state_up")?.unwrap_or(true)));
    d.insert("status".into(), json!("ACTIVE"));
    d.insert("subnets".into(), json!([]));
    d.insert("shared".into(), json!(shared));
    d.insert("router:external".into(), json!(external));
    d.insert("mtu".into(), json!(mtu));
    d.insert("port_security_enabled".into(), json!(get_bool(&doc, "port_security_enabled")?.unwrap_or(true)));
    d.insert("provider:network_type".into(), json!(ty));
    d.insert("provider:physical_network".into(), json!(phys));
    d.insert("provider:segmentation_id".into(), json!(seg));
    d.insert("availability_zone_hints".into(), az_hints);
    d.insert("availability_zones".into(), json!(["nova"]));
    d.insert("ipv4_address_scope".into(), Value::Null);
    d.insert("ipv6_address_scope".into(), Value::Null);
    d.insert("l2_adjacency".into(), json!(true));
    d.insert("is_default".into(), json!(is_default));
    let v = Value::Object(d);
    store::insert(&mut w, "network", "", &v).await?;
    commit(net, w).await?;
    Ok(render(caller, v))
}

pub async fn update(net: &Network, caller: &Caller, id: &str, upd: Doc) -> Result<Value, Error> {
    only(&upd, UPDATE)?;
    let mut w = begin(net).await?;
    let mut n = must_get(&mut w, "network", id).await?;
    if !caller.owns(&n) {
        if network_visible(&mut w, caller, &n).await? {
            return Err(forbidden("update_network"));
        }
        return Err(not_found("network", id));
    }
    update_std(&mut n, &upd)?;
    if let Some(b) = get_bool(&upd, "admin_state_up")? {
        n["admin_state_up"] = json!(b);
    }
    if let Some(s) = get_bool(&upd, "shared")? {
        if !caller.may("update_network:shared") {
            return Err(forbidden("update_network:shared"));
        }
        if !s && n["shared"] == json!(true) {
            // other projects' ports keep the network in use
            let owner = n["project_id"].as_str().unwrap_or_default().to_string();
            let ports = store::children(&mut w, "port", id).await?;
            if ports.iter().any(|p| {
                let po = p["project_id"].as_str().unwrap_or_default();
                po != owner && !po.is_empty() && !p["device_owner"].as_str().unwrap_or_default().starts_with("network:")
            }) {
                return Err(Error::conflict(format!(
                    "Unable to reconfigure sharing settings for network {id}. Multiple tenants are using it."
                ))
                .with_code("InvalidSharedSetting"));
            }
        }
        n["shared"] = json!(s);
    }
    if let Some(e) = get_bool(&upd, "router:external")? {
        if !caller.may("update_network:router:external") {
            return Err(forbidden("update_network:router:external"));
        }
        n["router:external"] = json!(e);
    }
    if let Some(m) = get_int(&upd, "mtu")? {
        n["mtu"] = json!(m);
    }
    if let Some(b) = get_bool(&upd, "port_security_enabled")? {
        n["port_security_enabled"] = json!(b);
    }
    if let Some(b) = get_bool(&upd, "is_default")? {
        if b {
            check_one_default(&mut w, id).await?;
        }
        n["is_default"] = json!(b);
    }
    if n["router:external"] != json!(true) && n["is_default"] == json!(true) && upd.contains_key("router:external") {
        // no longer external: no longer the default external network (Neutron
        // keeps `is_default` on the external network's record)
        n["is_default"] = json!(false);
    }
    bump(&mut n);
    store::update(&mut w, "network", &n).await?;
    commit(net, w).await?;
    Ok(render(caller, n))
}

pub async fn delete(net: &Network, caller: &Caller, id: &str) -> Result<(), Error> {
    let mut w = begin(net).await?;
    let n = must_get(&mut w, "network", id).await?;
    if !caller.owns(&n) {
        if network_visible(&mut w, caller, &n).await? {
            return Err(forbidden("delete_network"));
        }
        return Err(not_found("network", id));
    }
    let ports = store::children(&mut w, "port", id).await?;
    // floating IPs from this (external) network go with it
    for f in store::list(&mut w, "floatingip").await? {
        if f["floating_network_id"] == json!(id) {
            store::delete(&mut w, "floatingip", f["id"].as_str().unwrap_or_default()).await?;
        }
    }
    let auto = ["network:dhcp", "network:floatingip"];
    // the DHCP port goes with the network; anything else keeps it in use
    for p in &ports {
        if !auto.contains(&p["device_owner"].as_str().unwrap_or_default()) {
            return Err(Error::conflict(format!(
                "Unable to complete operation on network {id}. There are one or more ports still in use on the network."
            ))
            .with_code("NetworkInUse"));
        }
    }
    for p in &ports {
        let pid = p["id"].as_str().unwrap_or_default();
        ports::remove_port_rows(&mut w, pid).await?;
    }
    for s in store::children(&mut w, "subnet", id).await? {
        store::delete(&mut w, "subnet", s["id"].as_str().unwrap_or_default()).await?;
    }
    for r in store::list(&mut w, "rbac_policy").await? {
        if r["object_id"] == json!(id) {
            store::delete(&mut w, "rbac_policy", r["id"].as_str().unwrap_or_default()).await?;
        }
    }
    store::release_segments(&mut w, id).await?;
    store::delete(&mut w, "network", id).await?;
    store::forget_auto_topology_of(&mut w, id).await?;
    commit(net, w).await
}
