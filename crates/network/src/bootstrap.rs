//! The first-start setup, as devstack does it: the shared external network
//! `public` (flat, admin project) with its subnet and floating-IP pool, the
//! demo project's `private` network and subnet, and its `router1` routing
//! `private` to `public`. Idempotent: what exists (by name) is kept.

use rustack_common::Error;
use rustack_http::BootstrapProjects;
use serde_json::{json, Value};

use crate::service::{self, conn, extras, networks, routers, subnets, Caller, Doc};
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
                })),
            )
            .await?
        }
    };
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
