//! The network agent: computes this host's desired state from the database
//! and hands it to the data plane, after each change (debounced) and every
//! `reconcile_interval` seconds. `apply` is idempotent and removes what is
//! no longer wanted, so the same loop is the reconciler after a restart.
//!
//! One host does everything here: every network with a subnet or port,
//! every router, and every bound instance port (a `rustack up` process is
//! one machine, whatever names its compute hosts have).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::time::Duration;

use rustack_common::Error;
use rustack_netplane as np;
use serde_json::{json, Value};

use crate::service::conn;
use crate::store;
use crate::Network;

/// How long the agent waits for more changes before applying.
const DEBOUNCE: Duration = Duration::from_millis(50);

pub fn spawn(net: Network) {
    tokio::spawn(async move {
        let interval = Duration::from_secs(net.cfg().reconcile_interval);
        let mut last_run = Duration::ZERO;
        loop {
            // a change, or the periodic full reconciliation
            let _ = tokio::time::timeout(interval, net.inner.changed.notified()).await;
            // changes coming in a burst are applied together; the pause grows
            // with the cost of a run, so the agent never takes more than about
            // half a core from the API under a stream of changes
            tokio::time::sleep(DEBOUNCE + last_run).await;
            let generation = net.inner.generation.load(Ordering::SeqCst);
            let started = std::time::Instant::now();
            let result = run_once(&net).await;
            last_run = started.elapsed().min(Duration::from_secs(2));
            match result {
                Ok(report) => {
                    if !report.actions.is_empty() {
                        tracing::info!(actions = report.actions.len(), "network data plane applied");
                        for a in &report.actions {
                            tracing::debug!(action = %a, "data plane");
                        }
                    }
                    net.inner.applied.fetch_max(generation, Ordering::SeqCst);
                    net.inner.applied_notify.notify_waiters();
                }
                Err(e) => {
                    tracing::warn!(error = %e.message, "network data plane apply failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    net.inner.changed.notify_one();
                }
            }
        }
    });
}

async fn run_once(net: &Network) -> Result<np::ApplyReport, Error> {
    let desired = desired_state(net).await?;
    net.dataplane().apply(&desired).await.map_err(|e| {
        tracing::warn!(error = %e, "data plane");
        Error::from(e)
    })
}

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

fn fixed_ips(p: &Value) -> Vec<np::FixedIp> {
    p["fixed_ips"]
        .as_array()
        .map(|a| {
            a.iter().map(|f| np::FixedIp { subnet_id: s(f, "subnet_id"), ip_address: s(f, "ip_address") }).collect()
        })
        .unwrap_or_default()
}

fn routes(v: &Value) -> Vec<np::Route> {
    v.as_array()
        .map(|a| a.iter().map(|r| np::Route { destination: s(r, "destination"), nexthop: s(r, "nexthop") }).collect())
        .unwrap_or_default()
}

fn hostname_for(ip: &str) -> String {
    format!("host-{}", ip.replace(['.', ':'], "-"))
}

/// This host's desired state, from the database.
pub async fn desired_state(net: &Network) -> Result<np::HostState, Error> {
    let mut c = conn(net).await?;
    let networks = store::list(&mut c, "network").await?;
    let subnets = store::list(&mut c, "subnet").await?;
    let ports = store::list(&mut c, "port").await?;
    let routers = store::list(&mut c, "router").await?;
    let fips = store::list(&mut c, "floatingip").await?;
    let groups = store::list(&mut c, "security_group").await?;
    let rules = store::list(&mut c, "security_group_rule").await?;
    drop(c);

    let mut by_net: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for p in &ports {
        by_net.entry(s(p, "network_id")).or_default().push(p);
    }
    let mut out = np::HostState {
        metadata: np::MetadataSettings {
            url: Some(net.cfg().metadata_url.clone()),
            shared_secret: net.cfg().metadata_shared_secret.clone(),
        },
        ..Default::default()
    };
    for n in &networks {
        let id = s(n, "id");
        let nsubs: Vec<&Value> = subnets.iter().filter(|x| x["network_id"] == n["id"]).collect();
        let nports = by_net.get(&id).cloned().unwrap_or_default();
        if nsubs.is_empty() && nports.is_empty() {
            continue;
        }
        let network_type = match n["provider:network_type"].as_str() {
            Some("flat") => np::NetworkType::Flat,
            Some("vlan") => np::NetworkType::Vlan,
            Some("vxlan") => np::NetworkType::Vxlan,
            _ => np::NetworkType::Local,
        };
        let dhcp_subnets: BTreeSet<String> =
            nsubs.iter().filter(|x| x["enable_dhcp"] == json!(true)).map(|x| s(x, "id")).collect();
        let dhcp_port = nports.iter().find(|p| p["device_owner"] == json!("network:dhcp")).map(|p| np::DhcpPort {
            id: s(p, "id"),
            mac: s(p, "mac_address"),
            fixed_ips: fixed_ips(p),
        });
        let mut dhcp_hosts = vec![];
        for p in &nports {
            if p["device_owner"] == json!("network:dhcp") {
                continue;
            }
            for f in fixed_ips(p) {
                if dhcp_subnets.contains(&f.subnet_id) {
                    dhcp_hosts.push(np::DhcpHost {
                        mac: s(p, "mac_address"),
                        hostname: hostname_for(&f.ip_address),
                        ip: f.ip_address,
                    });
                }
            }
        }
        out.networks.push(np::Network {
            id: id.clone(),
            network_type,
            segmentation_id: n["provider:segmentation_id"].as_u64().map(|v| v as u32),
            physical_network: n["provider:physical_network"].as_str().map(String::from),
            mtu: n["mtu"].as_u64().unwrap_or(1500) as u32,
            is_external: n["router:external"] == json!(true),
            admin_state_up: n["admin_state_up"] != json!(false),
            subnets: nsubs
                .iter()
                .map(|x| np::Subnet {
                    id: s(x, "id"),
                    cidr: s(x, "cidr"),
                    ip_version: x["ip_version"].as_u64().unwrap_or(4) as u8,
                    gateway_ip: x["gateway_ip"].as_str().map(String::from),
                    enable_dhcp: x["enable_dhcp"] == json!(true),
                    dns_nameservers: {
                        let d: Vec<String> = x["dns_nameservers"]
                            .as_array()
                            .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                            .unwrap_or_default();
                        if d.is_empty() {
                            net.cfg().dns_servers.clone()
                        } else {
                            d
                        }
                    },
                    host_routes: routes(&x["host_routes"]),
                })
                .collect(),
            dhcp_port,
            dhcp_hosts,
            ipv6_modes: nsubs
                .iter()
                .filter(|x| x["ip_version"] == json!(6))
                .map(|x| {
                    let mode = |k: &str| x[k].as_str().and_then(np::Ipv6Mode::parse);
                    (
                        s(x, "id"),
                        np::Ipv6Modes { ra_mode: mode("ipv6_ra_mode"), address_mode: mode("ipv6_address_mode") },
                    )
                })
                .filter(|(_, m)| *m != np::Ipv6Modes::default())
                .collect(),
        });
    }
    for r in &routers {
        let rid = s(r, "id");
        let rports: Vec<&Value> = ports.iter().filter(|p| p["device_id"] == r["id"]).collect();
        let gateway = r["external_gateway_info"]["network_id"].as_str().and_then(|nid| {
            rports.iter().find(|p| p["device_owner"] == json!("network:router_gateway")).map(|p| np::RouterGateway {
                network_id: nid.to_string(),
                port_id: s(p, "id"),
                mac: s(p, "mac_address"),
                fixed_ips: fixed_ips(p),
                enable_snat: r["external_gateway_info"]["enable_snat"] != json!(false),
            })
        });
        out.routers.push(np::Router {
            id: rid.clone(),
            admin_state_up: r["admin_state_up"] != json!(false),
            gateway,
            interfaces: rports
                .iter()
                .filter(|p| p["device_owner"] == json!("network:router_interface"))
                .map(|p| np::RouterInterface {
                    port_id: s(p, "id"),
                    network_id: s(p, "network_id"),
                    mac: s(p, "mac_address"),
                    fixed_ips: fixed_ips(p),
                })
                .collect(),
            routes: routes(&r["routes"]),
            floating_ips: fips
                .iter()
                .filter(|f| f["router_id"] == r["id"] && f["fixed_ip_address"].is_string())
                .map(|f| np::FloatingIp {
                    id: s(f, "id"),
                    floating_ip_address: s(f, "floating_ip_address"),
                    fixed_ip_address: s(f, "fixed_ip_address"),
                    port_id: f["port_id"].as_str().map(String::from),
                })
                .collect(),
        });
    }
    let mut wanted_groups: BTreeSet<String> = BTreeSet::new();
    for p in &ports {
        // one rustack process is one machine: every compute host it runs
        // (fake-compute-N included) plugs its taps here
        let bound = p["binding:host_id"].as_str().is_some_and(|h| !h.is_empty());
        if !bound || p["device_owner"].as_str().unwrap_or_default().starts_with("network:") {
            continue;
        }
        let sgs: Vec<String> = p["security_groups"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
            .unwrap_or_default();
        wanted_groups.extend(sgs.iter().cloned());
        let id = s(p, "id");
        out.ports.push(np::Port {
            device_name: np::tap_name(&id),
            id,
            network_id: s(p, "network_id"),
            mac: s(p, "mac_address"),
            fixed_ips: fixed_ips(p),
            device_id: p["device_id"].as_str().filter(|d| !d.is_empty()).map(String::from),
            project_id: p["project_id"].as_str().map(String::from),
            admin_state_up: p["admin_state_up"] != json!(false),
            port_security_enabled: p["port_security_enabled"] != json!(false),
            security_group_ids: sgs,
            allowed_address_pairs: p["allowed_address_pairs"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| np::AddressPair {
                            ip_address: s(x, "ip_address"),
                            mac_address: x["mac_address"].as_str().map(String::from),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    // groups named as remote groups by the wanted groups' rules come too
    let mut more = vec![];
    for r in &rules {
        if wanted_groups.contains(r["security_group_id"].as_str().unwrap_or_default()) {
            if let Some(rg) = r["remote_group_id"].as_str() {
                more.push(rg.to_string());
            }
        }
    }
    wanted_groups.extend(more);
    for g in groups.iter().filter(|g| wanted_groups.contains(g["id"].as_str().unwrap_or_default())) {
        let gid = s(g, "id");
        let mut member_ips = vec![];
        for p in &ports {
            if p["security_groups"].as_array().is_some_and(|a| a.contains(&json!(gid))) {
                member_ips.extend(fixed_ips(p).into_iter().map(|f| f.ip_address));
                if let Some(pairs) = p["allowed_address_pairs"].as_array() {
                    member_ips.extend(pairs.iter().map(|x| s(x, "ip_address")));
                }
            }
        }
        out.security_groups.push(np::SecurityGroup {
            id: gid.clone(),
            rules: rules
                .iter()
                .filter(|r| r["security_group_id"] == json!(gid))
                .map(|r| np::SecurityGroupRule {
                    id: s(r, "id"),
                    direction: if r["direction"] == json!("egress") {
                        np::Direction::Egress
                    } else {
                        np::Direction::Ingress
                    },
                    ethertype: if r["ethertype"] == json!("IPv6") { np::EtherType::IPv6 } else { np::EtherType::IPv4 },
                    protocol: r["protocol"].as_str().map(String::from),
                    port_range_min: r["port_range_min"].as_u64().map(|v| v as u32),
                    port_range_max: r["port_range_max"].as_u64().map(|v| v as u32),
                    remote_ip_prefix: r["remote_ip_prefix"].as_str().map(String::from),
                    remote_group_id: r["remote_group_id"].as_str().map(String::from),
                })
                .collect(),
            member_ips,
        });
    }
    Ok(out)
}
