//! dnsmasq for one network: its files (hosts, options) and command line.
//! Static leases only (`static` ranges), by MAC; no DNS (`--port=0`), no
//! /etc files (`--no-hosts --no-resolv --conf-file=/dev/null`).

use std::fmt::Write;
use std::path::Path;

use ipnet::IpNet;

use super::addr;
use crate::{Error, Network};

/// The files and the command line of one network's dnsmasq.
#[derive(Debug, Clone, PartialEq)]
pub struct DhcpConfig {
    pub hosts: String,
    pub opts: String,
    pub args: Vec<String>,
}

/// Builds dnsmasq's configuration. `dhcp_ip_v4` is the DHCP port's IPv4
/// address of each subnet (the metadata route's next hop on subnets with no
/// router); `routed` says whether a router interface holds a subnet's gateway.
pub fn config(
    net: &Network,
    dir: &Path,
    dev: &str,
    dhcp_ip_v4: &dyn Fn(&str) -> Option<String>,
    routed: &dyn Fn(&str) -> bool,
    metadata: bool,
) -> Result<DhcpConfig, Error> {
    let mut hosts = String::new();
    let mut opts = String::new();
    let mut args: Vec<String> = [
        "--no-hosts",
        "--no-resolv",
        "--conf-file=/dev/null",
        "--port=0",
        "--bind-interfaces",
        "--except-interface=lo",
        "--user=root",
        "--group=root",
        "--dhcp-authoritative",
        "--domain=openstacklocal",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--interface={dev}"));
    args.push(format!("--pid-file={}", dir.join("pid").display()));
    args.push(format!("--dhcp-hostsfile={}", dir.join("host").display()));
    args.push(format!("--dhcp-optsfile={}", dir.join("opts").display()));
    args.push(format!("--dhcp-leasefile={}", dir.join("leases").display()));
    args.push(format!("--log-facility={}", dir.join("log").display()));
    args.push("--log-dhcp".into());
    let mut v4_nets = Vec::new();
    for (i, sn) in net.subnets.iter().enumerate().filter(|(_, s)| s.enable_dhcp && s.ip_version == 4) {
        let IpNet::V4(n) = addr::net(&sn.cidr)? else { continue };
        v4_nets.push(n);
        let tag = format!("s{i}");
        args.push(format!("--dhcp-range=set:{tag},{},static,{},86400s", n.network(), n.netmask()));
        if let Some(gw) = sn.gateway_ip.as_deref().filter(|g| !g.is_empty()) {
            let _ = writeln!(opts, "tag:{tag},option:router,{}", addr::ip(gw)?);
        }
        if !sn.dns_nameservers.is_empty() {
            let dns: Result<Vec<String>, Error> =
                sn.dns_nameservers.iter().map(|d| addr::ip(d).map(|a| a.to_string())).collect();
            let _ = writeln!(opts, "tag:{tag},option:dns-server,{}", dns?.join(","));
        }
        let _ = writeln!(opts, "tag:{tag},option:mtu,{}", net.mtu);
        // Classless routes replace the router option, so the default route goes in too.
        let mut routes = Vec::new();
        for r in &sn.host_routes {
            routes.push(format!("{},{}", addr::net(&r.destination)?, addr::ip(&r.nexthop)?));
        }
        if metadata && !routed(&sn.id) {
            if let Some(ip) = dhcp_ip_v4(&sn.id) {
                routes.push(format!("169.254.169.254/32,{ip}"));
            }
        }
        if !routes.is_empty() {
            if let Some(gw) = sn.gateway_ip.as_deref().filter(|g| !g.is_empty()) {
                routes.push(format!("0.0.0.0/0,{gw}"));
            }
            let _ = writeln!(opts, "tag:{tag},option:classless-static-route,{}", routes.join(","));
            let _ = writeln!(opts, "tag:{tag},249,{}", routes.join(","));
        }
    }
    for h in &net.dhcp_hosts {
        let ip = addr::ip(&h.ip)?;
        let on_dhcp_subnet = match ip {
            std::net::IpAddr::V4(a) => v4_nets.iter().any(|n| n.contains(&a)),
            std::net::IpAddr::V6(_) => false,
        };
        if !on_dhcp_subnet {
            continue; // not on a DHCP-enabled IPv4 subnet
        }
        let _ = writeln!(hosts, "{},{},{ip}", addr::mac(&h.mac)?, addr::hostname(&h.hostname, &h.ip));
    }
    // From the subnets' sizes, not the host count: a new port must not change
    // the command line (that restarts dnsmasq instead of a SIGHUP).
    let lease_max: u64 =
        v4_nets.iter().map(|n| 1u64 << (32 - n.prefix_len() as u64).min(16)).sum::<u64>().clamp(16, 65536);
    args.push(format!("--dhcp-lease-max={lease_max}"));
    Ok(DhcpConfig { hosts, opts, args })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DhcpHost, Route, Subnet};

    #[test]
    fn hosts_options_and_ranges() {
        let net = Network {
            id: "n".into(),
            mtu: 1450,
            subnets: vec![Subnet {
                id: "s".into(),
                cidr: "10.0.0.0/24".into(),
                ip_version: 4,
                gateway_ip: Some("10.0.0.1".into()),
                enable_dhcp: true,
                dns_nameservers: vec!["8.8.8.8".into()],
                host_routes: vec![Route { destination: "10.9.0.0/16".into(), nexthop: "10.0.0.9".into() }],
            }],
            dhcp_hosts: vec![
                DhcpHost { mac: "FA:16:3E:00:00:05".into(), ip: "10.0.0.5".into(), hostname: "".into() },
                DhcpHost { mac: "fa:16:3e:00:00:06".into(), ip: "10.1.0.6".into(), hostname: "x".into() },
            ],
            ..Default::default()
        };
        let c = config(&net, Path::new("/s"), "ns-1", &|_| Some("10.0.0.2".into()), &|_| false, true).unwrap();
        assert_eq!(c.hosts, "fa:16:3e:00:00:05,host-10-0-0-5,10.0.0.5\n");
        assert!(c.opts.contains("tag:s0,option:router,10.0.0.1"));
        assert!(c.opts.contains("option:dns-server,8.8.8.8"));
        assert!(c
            .opts
            .contains("classless-static-route,10.9.0.0/16,10.0.0.9,169.254.169.254/32,10.0.0.2,0.0.0.0/0,10.0.0.1"));
        assert!(c.args.contains(&"--dhcp-range=set:s0,10.0.0.0,static,255.255.255.0,86400s".to_string()));
        assert!(c.args.contains(&"--interface=ns-1".to_string()));
    }
}
