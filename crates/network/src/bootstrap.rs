//! The first-start setup, as devstack does it: the shared external network
//! `public` (flat, admin project) with its subnet and floating-IP pool, the
//! demo project's `private` network and subnet, and its `router1` routing
//! `private` to `public`. Idempotent: what exists (by name) is kept.
//!
//! For auto-allocated topologies (devstack does the same when Neutron has
//! the extension): a shared default IPv4 subnet pool
//! `shared-default-subnetpool-v4` (`[network] default_subnetpool_prefix`)
//! exists, and when bootstrap makes it, `public` becomes the default external
//! network (`is_default`) unless another is; `private-subnet` is carved from that pool when it lies inside, so
//! the pool never hands its range out again.

use rustack_common::Error;
use rustack_http::BootstrapProjects;
use serde_json::{json, Value};

use crate::service::{self, conn, extras, networks, routers, subnetpools, subnets, Caller, Doc};
use crate::{ipam, store, Network};

fn doc(v: Value) -> Doc {
    v.as_object().cloned().unwrap_or_default()
}

async fn find(net: &Network, kind: &str, name: &str, project: &str) -> Result<Option<Value>, Error> {
    let mut c = conn(net).await?;
    Ok(store::list(&mut c, kind)
        .await?
        .into_iter()
        .find(|v| v["name"] == json!(name) && v["project_id"] == json!(project)))
}

pub async fn run(net: &Network, p: &BootstrapProjects) -> Result<(), Error> {
    extras::ensure_agents(net).await?;
    let admin = Caller::admin();
    let cfg = net.cfg().clone();
    let public_net = match find(net, "network", "public", &p.admin_project_id).await? {
        Some(n) => n,
        None => {
            networks::create(
                net,
                &admin,
                doc(json!({
                    "name": "public", "project_id": p.admin_project_id, "router:external": true, "shared": false,
                    "provider:network_type": "flat", "provider:physical_network": cfg.public_physnet,
                })),
            )
            .await?
        }
    };
    let public_id = public_net["id"].as_str().unwrap_or_default().to_string();
    let public_cidr = ipam::parse_cidr(&cfg.public_cidr)?;
    let public_subnet = match find(net, "subnet", "public-subnet", &p.admin_project_id).await? {
        Some(s) => s,
        None => {
            let gw = ipam::default_gateway(&public_cidr);
            let pools = ipam::default_pools(&public_cidr, Some(gw));
            subnets::create(
                net,
                &admin,
                doc(json!({
                    "name": "public-subnet", "project_id": p.admin_project_id, "network_id": public_id,
                    "ip_version": if public_cidr.addr().is_ipv6() { 6 } else { 4 }, "cidr": public_cidr.to_string(),
                    "gateway_ip": gw.to_string(), "enable_dhcp": false,
                    "allocation_pools": pools.iter().map(|p| json!({"start": p.start.to_string(), "end": p.end.to_string()})).collect::<Vec<_>>(),
                })),
            )
            .await?
        }
    };
    let _ = public_subnet;
    let (pool, pool_made) = ensure_default_pool(net, p).await?;
    if pool_made {
        // with the pool (also on the first start of a data dir that had none):
        // an operator who later unsets it is not overruled at the next start
        ensure_default_external(net, &public_net).await?;
    }
    let private = match find(net, "network", "private", &p.demo_project_id).await? {
        Some(n) => n,
        None => networks::create(net, &admin, doc(json!({"name": "private", "project_id": p.demo_project_id}))).await?,
    };
    let private_id = private["id"].as_str().unwrap_or_default().to_string();
    let private_subnet = match find(net, "subnet", "private-subnet", &p.demo_project_id).await? {
        Some(s) => s,
        None => {
            subnets::create(
                net,
                &admin,
                doc(json!({
                    "name": "private-subnet", "project_id": p.demo_project_id, "network_id": private_id,
                    "ip_version": 4, "cidr": cfg.private_cidr,
                    "subnetpool_id": pool.as_ref().filter(|(_, prefixes)| inside(&cfg.private_cidr, prefixes)).map(|(id, _)| id),
                })),
            )
            .await?
        }
    };
    if let Some(pool) = &pool {
        adopt_into_pool(net, &private_subnet, pool).await?;
    }
    let router = match find(net, "router", "router1", &p.demo_project_id).await? {
        Some(r) => r,
        None => {
            routers::create(
                net,
                &admin,
                doc(json!({"name": "router1", "project_id": p.demo_project_id,
                    "external_gateway_info": {"network_id": public_id}})),
            )
            .await?
        }
    };
    let rid = router["id"].as_str().unwrap_or_default().to_string();
    let sid = private_subnet["id"].as_str().unwrap_or_default().to_string();
    let mut c = conn(net).await?;
    let attached = routers::router_ports(&mut c, &rid, "network:router_interface")
        .await?
        .iter()
        .any(|p| p["fixed_ips"].as_array().is_some_and(|a| a.iter().any(|f| f["subnet_id"] == json!(sid))));
    drop(c);
    if !attached {
        routers::add_interface(net, &admin, &rid, json!({"subnet_id": sid})).await?;
    }
    // the demo project's default security group, as devstack's first boot leaves it
    let mut w = service::begin(net).await?;
    crate::service::secgroups::ensure_default(&mut w, &p.demo_project_id).await?;
    service::commit(net, w).await?;
    Ok(())
}

/// Marks `public` as the default external network when none is.
async fn ensure_default_external(net: &Network, public: &Value) -> Result<(), Error> {
    if public["is_default"] == json!(true) {
        return Ok(());
    }
    let mut c = conn(net).await?;
    let any_default = store::list(&mut c, "network")
        .await?
        .iter()
        .any(|n| n["router:external"] == json!(true) && n["is_default"] == json!(true));
    drop(c);
    if !any_default {
        let id = public["id"].as_str().unwrap_or_default();
        networks::update(net, &Caller::admin(), id, doc(json!({"is_default": true}))).await?;
    }
    Ok(())
}

/// The name of the default pool bootstrap makes (devstack's, with its version).
const DEFAULT_POOL: &str = "shared-default-subnetpool-v4";

/// The bootstrap's default IPv4 subnet pool (made when missing and
/// configured): its id and prefixes, and whether it was made now.
async fn ensure_default_pool(
    net: &Network,
    p: &BootstrapProjects,
) -> Result<(Option<(String, Vec<String>)>, bool), Error> {
    let cfg = net.cfg().clone();
    let mut made = false;
    let pool = match find(net, "subnetpool", DEFAULT_POOL, &p.admin_project_id).await? {
        Some(pool) => pool,
        None => {
            let Some(prefix) = cfg.default_subnetpool_prefix else { return Ok((None, false)) };
            made = true;
            let mut c = conn(net).await?;
            // an operator's default pool stays the default
            let is_default = subnetpools::default_pool(&mut c, 4).await?.is_none();
            drop(c);
            subnetpools::create(
                net,
                &Caller::admin(),
                doc(json!({
                    "name": DEFAULT_POOL, "project_id": p.admin_project_id, "prefixes": [prefix.trim()],
                    "default_prefixlen": cfg.default_subnetpool_prefixlen, "shared": true, "is_default": is_default,
                })),
            )
            .await?
        }
    };
    let prefixes = pool["prefixes"].as_array().into_iter().flatten().filter_map(|x| x.as_str().map(String::from));
    Ok((Some((pool["id"].as_str().unwrap_or_default().to_string(), prefixes.collect())), made))
}

/// Whether `cidr` lies inside one of `prefixes`.
fn inside(cidr: &str, prefixes: &[String]) -> bool {
    let Ok(n) = cidr.parse::<ipnet::IpNet>() else { return false };
    prefixes.iter().filter_map(|p| p.parse::<ipnet::IpNet>().ok()).any(|p| p.contains(&n))
}

/// A `private-subnet` made before the pool existed, inside the pool's
/// prefixes, joins the pool (so the pool never hands its range out), unless
/// the pool already gave part of that range to another subnet.
async fn adopt_into_pool(
    net: &Network,
    subnet: &Value,
    (pool_id, prefixes): &(String, Vec<String>),
) -> Result<(), Error> {
    let cidr = subnet["cidr"].as_str().unwrap_or_default();
    if !subnet["subnetpool_id"].is_null() || !inside(cidr, prefixes) {
        return Ok(());
    }
    let Ok(mine) = cidr.parse::<ipnet::IpNet>() else { return Ok(()) };
    let mut w = service::begin(net).await?;
    let taken = store::list(&mut w, "subnet").await?.iter().any(|s| {
        s["subnetpool_id"] == json!(pool_id)
            && s["cidr"]
                .as_str()
                .and_then(|c| c.parse::<ipnet::IpNet>().ok())
                .is_some_and(|o| ipam::overlaps(&o, &mine))
    });
    if taken {
        return Ok(());
    }
    let Some(mut s) = store::get(&mut w, "subnet", subnet["id"].as_str().unwrap_or_default()).await? else {
        return Ok(());
    };
    s["subnetpool_id"] = json!(pool_id);
    service::bump(&mut s);
    store::update(&mut w, "subnet", &s).await?;
    service::commit(net, w).await
}
