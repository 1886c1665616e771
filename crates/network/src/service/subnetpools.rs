//! Subnet pools: prefixes subnets are carved from (`subnetpool_id` + `prefixlen`).

use rustack_common::Error;
use serde_json::{json, Value};

use super::subnets::cidr_of;
use super::*;
use crate::ipam;
use crate::query::ListQuery;

fn visible_to(caller: &Caller, p: &Value) -> bool {
    caller.owns(p) || p["shared"] == json!(true)
}

pub async fn list(net: &Network, caller: &Caller, q: &ListQuery, base: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    let items = store::list(&mut c, "subnetpool").await?.into_iter().filter(|p| visible_to(caller, p)).collect();
    q.apply("subnetpools", base, items)
}

pub async fn show(net: &Network, caller: &Caller, id: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    let p = must_get(&mut c, "subnetpool", id).await?;
    if !visible_to(caller, &p) {
        return Err(not_found("subnetpool", id));
    }
    Ok(p)
}

fn parse_prefixes(v: &Value) -> Result<Vec<ipnet::IpNet>, Error> {
    let arr = v.as_array().ok_or_else(|| invalid("prefixes must be a list"))?;
    if arr.is_empty() {
        return Err(invalid("prefixes must not be empty"));
    }
    let nets: Vec<ipnet::IpNet> = arr
        .iter()
        .map(|p| ipam::parse_prefix(p.as_str().unwrap_or_default()).map(|n| n.trunc()))
        .collect::<Result<_, _>>()?;
    if nets.iter().any(|n| n.addr().is_ipv6() != nets[0].addr().is_ipv6()) {
        return Err(invalid("Cannot mix IPv4 and IPv6 prefixes in a subnet pool."));
    }
    Ok(ipnet::IpNet::aggregate(&nets))
}

pub async fn create(net: &Network, caller: &Caller, doc: Doc) -> Result<Value, Error> {
    only(
        &doc,
        &[
            "name",
            "description",
            "prefixes",
            "default_prefixlen",
            "min_prefixlen",
            "max_prefixlen",
            "shared",
            "is_default",
            "default_quota",
            "address_scope_id",
            "project_id",
            "tenant_id",
        ],
    )?;
    let project = owner_of_new(caller, &doc)?;
    let prefixes = parse_prefixes(doc.get("prefixes").ok_or_else(|| invalid("prefixes is required"))?)?;
    let v6 = prefixes[0].addr().is_ipv6();
    let maxlen = if v6 { 128 } else { 32 };
    let min = get_int(&doc, "min_prefixlen")?.unwrap_or(if v6 { 64 } else { 8 });
    let max = get_int(&doc, "max_prefixlen")?.unwrap_or(maxlen);
    let default = get_int(&doc, "default_prefixlen")?.unwrap_or(min);
    if !(0..=maxlen).contains(&min) || !(min..=maxlen).contains(&max) || !(min..=max).contains(&default) {
        return Err(Error::bad_request("Illegal prefix bounds: min_prefixlen <= default_prefixlen <= max_prefixlen.")
            .with_code("IllegalSubnetPoolPrefixBounds"));
    }
    let shared = get_bool(&doc, "shared")?.unwrap_or(false);
    let is_default = get_bool(&doc, "is_default")?.unwrap_or(false);
    if (shared && !caller.may("create_subnetpool:shared"))
        || (is_default && !caller.may("create_subnetpool:is_default"))
    {
        return Err(forbidden("create_subnetpool:shared"));
    }
    let id = new_id();
    let mut d = Doc::new();
    std_attrs(&mut d, &id, &project, get_str(&doc, "name")?, get_str(&doc, "description")?);
    d.insert("prefixes".into(), json!(prefixes.iter().map(|p| p.to_string()).collect::<Vec<_>>()));
    d.insert("ip_version".into(), json!(if v6 { 6 } else { 4 }));
    d.insert("min_prefixlen".into(), json!(min));
    d.insert("max_prefixlen".into(), json!(max));
    d.insert("default_prefixlen".into(), json!(default));
    d.insert("shared".into(), json!(shared));
    d.insert("is_default".into(), json!(is_default));
    d.insert("default_quota".into(), json!(get_int(&doc, "default_quota")?));
    d.insert("address_scope_id".into(), json!(get_str(&doc, "address_scope_id")?));
    let v = Value::Object(d);
    let mut w = begin(net).await?;
    if is_default {
        check_one_default(&mut w, &id, if v6 { 6 } else { 4 }).await?;
    }
    store::insert(&mut w, "subnetpool", "", &v).await?;
    commit(net, w).await?;
    Ok(v)
}

pub async fn update(net: &Network, caller: &Caller, id: &str, upd: Doc) -> Result<Value, Error> {
    only(
        &upd,
        &[
            "name",
            "description",
            "prefixes",
            "default_prefixlen",
            "min_prefixlen",
            "max_prefixlen",
            "is_default",
            "default_quota",
            "address_scope_id",
        ],
    )?;
    let mut w = begin(net).await?;
    let mut p = must_get(&mut w, "subnetpool", id).await?;
    if !caller.owns(&p) {
        return Err(if visible_to(caller, &p) { forbidden("update_subnetpool") } else { not_found("subnetpool", id) });
    }
    update_std(&mut p, &upd)?;
    if let Some(v) = upd.get("prefixes") {
        let new = parse_prefixes(v)?;
        let old: Vec<ipnet::IpNet> =
            p["prefixes"].as_array().into_iter().flatten().filter_map(|x| x.as_str()?.parse().ok()).collect();
        // prefixes may only grow
        if old.iter().any(|o| !new.iter().any(|n| n.contains(o))) {
            return Err(Error::bad_request("Illegal update to prefixes: existing prefixes must be kept.")
                .with_code("IllegalSubnetPoolPrefixUpdate"));
        }
        p["prefixes"] = json!(new.iter().map(|n| n.to_string()).collect::<Vec<_>>());
    }
    for k in ["default_prefixlen", "min_prefixlen", "max_prefixlen", "default_quota"] {
        if let Some(v) = get_int(&upd, k)? {
            p[k] = json!(v);
        }
    }
    if let Some(b) = get_bool(&upd, "is_default")? {
        if b {
            check_one_default(&mut w, id, p["ip_version"].as_i64().unwrap_or(4)).await?;
        }
        p["is_default"] = json!(b);
    }
    bump(&mut p);
    store::update(&mut w, "subnetpool", &p).await?;
    commit(net, w).await?;
    Ok(p)
}

pub async fn delete(net: &Network, caller: &Caller, id: &str) -> Result<(), Error> {
    let mut w = begin(net).await?;
    let p = must_get(&mut w, "subnetpool", id).await?;
    if !caller.owns(&p) {
        return Err(if visible_to(caller, &p) { forbidden("delete_subnetpool") } else { not_found("subnetpool", id) });
    }
    if store::list(&mut w, "subnet").await?.iter().any(|s| s["subnetpool_id"] == json!(id)) {
        return Err(Error::conflict(format!(
            "Unable to complete operation on subnet pool {id}. Subnets are allocated from it."
        ))
        .with_code("SubnetPoolInUse"));
    }
    store::delete(&mut w, "subnetpool", id).await?;
    commit(net, w).await
}

/// Neutron's rule: one default subnet pool per IP version (400).
async fn check_one_default(c: &mut Conn, id: &str, version: i64) -> Result<(), Error> {
    match default_pool(c, version).await? {
        Some(other) if other != id => Err(invalid(
            "A default subnetpool for this IP family has already been set. Only one default may exist per IP family",
        )),
        _ => Ok(()),
    }
}

pub async fn default_pool(c: &mut Conn, version: i64) -> Result<Option<String>, Error> {
    Ok(store::list(c, "subnetpool")
        .await?
        .into_iter()
        .find(|p| p["is_default"] == json!(true) && p["ip_version"] == json!(version))
        .and_then(|p| p["id"].as_str().map(String::from)))
}

/// A CIDR from the pool: the one asked for (inside the pool, free), or the
/// first free block of `prefixlen` (default: the pool's).
pub async fn allocate(
    c: &mut Conn,
    caller: &Caller,
    pool_id: &str,
    version: i64,
    cidr: Option<&str>,
    prefixlen: Option<i64>,
) -> Result<ipnet::IpNet, Error> {
    let p = store::get(c, "subnetpool", pool_id).await?.ok_or_else(|| not_found("subnetpool", pool_id))?;
    if !visible_to(caller, &p) {
        return Err(not_found("subnetpool", pool_id));
    }
    if p["ip_version"] != json!(version) {
        return Err(invalid(format!("Subnet pool {pool_id} is IPv{} and the subnet is IPv{version}", p["ip_version"])));
    }
    let prefixes: Vec<ipnet::IpNet> =
        p["prefixes"].as_array().into_iter().flatten().filter_map(|x| x.as_str()?.parse().ok()).collect();
    let used: Vec<ipnet::IpNet> = store::list(c, "subnet")
        .await?
        .iter()
        .filter(|s| s["subnetpool_id"] == json!(pool_id))
        .filter_map(cidr_of)
        .collect();
    let (min, max) = (p["min_prefixlen"].as_i64().unwrap_or(0), p["max_prefixlen"].as_i64().unwrap_or(128));
    if let Some(c) = cidr {
        let n = ipam::parse_cidr(c)?;
        if !prefixes.iter().any(|p| p.contains(&n)) {
            return Err(Error::bad_request(format!("Cidr {n} is not within the subnet pool's prefixes"))
                .with_code("SubnetAllocationError"));
        }
        if used.iter().any(|u| ipam::overlaps(u, &n)) {
            return Err(Error::bad_request(format!("Cidr {n} overlaps another subnet of the pool"))
                .with_code("SubnetAllocationError"));
        }
        return Ok(n);
    }
    let len = prefixlen.unwrap_or(p["default_prefixlen"].as_i64().unwrap_or(min));
    if len < min || len > max {
        return Err(Error::bad_request(format!(
            "Unable to allocate subnet with prefix length {len}, the pool allows {min} to {max}."
        ))
        .with_code("SubnetAllocationError"));
    }
    for pre in &prefixes {
        if (len as u8) < pre.prefix_len() {
            continue;
        }
        let Ok(mut subs) = pre.subnets(len as u8) else { continue };
        if let Some(n) = subs.find(|n| !used.iter().any(|u| ipam::overlaps(u, n))) {
            return Ok(n);
        }
    }
    Err(Error::conflict("Insufficient prefix space to allocate subnet size").with_code("SubnetAllocationError"))
}
