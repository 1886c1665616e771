//! dnsmasq for one network: its files (hosts, options) and command line.
//! Static leases only (`static` ranges), by MAC; no DNS (`--port=0`), no
//! /etc files (`--no-hosts --no-resolv --conf-file=/dev/null`).

use std::fmt::Write;
use std::path::Path;

use ipnet::IpNet;

use super::addr;
use crate::{Error, Ipv6Mode, Network};

/// The files and the command line of one network's dnsmasq.
#[derive(Debug, Clone, PartialEq)]
pub struct DhcpConfig {
    pub hosts: String,
    pub opts: String,
    pub args: Vec<String>,
}

/// Whether the network's dnsmasq serves this subnet: IPv4 with DHCP on;
/// IPv6 with DHCP on and address mode `dhcpv6-stateful` or
/// `dhcpv6-stateless`, or no modes at all (as Neutron). SLAAC subnets get
/// their addresses from the router's advertisements only.
pub fn serves(net: &Network, sn: &crate::Subnet) -> bool {
    if !sn.enable_dhcp {
        return false;
    }
    if sn.ip_version == 4 {
        return true;
    }
    let m = net.ipv6_modes_of(&sn.id);
    matches!(m.address_mode, Some(Ipv6Mode::Dhcpv6Stateful | Ipv6Mode::Dhcpv6Stateless))
        || (m.address_mode.is_none() && m.ra_mode.is_none())
}

/// Whether dnsmasq hands out this IPv6 subnet's addresses (stateful DHCPv6).
fn v6_stateful(net: &Network, sn: &crate::Subnet) -> bool {
    serves(net, sn) && net.ipv6_modes_of(&sn.id).address_mode != Some(Ipv6Mode::Dhcpv6Stateless)
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
    // IPv6: `static` ranges as for IPv4 (dnsmasq answers only the hosts
    // below; a stateless subnet has none, so only information requests).
    let mut v6_nets = Vec::new();
    for (i, sn) in net.subnets.iter().enumerate().filter(|(_, s)| s.ip_version == 6 && serves(net, s)) {
        let IpNet::V6(n) = addr::net(&sn.cidr)? else { continue };
        let tag = format!("s{i}");
        args.push(format!("--dhcp-range=set:{tag},{},static,{},86400s", n.network(), n.prefix_len()));
        if v6_stateful(net, sn) {
            v6_nets.push(n);
        }
        if !sn.dns_nameservers.is_empty() {
            let dns: Result<Vec<String>, Error> =
                sn.dns_nameservers.iter().map(|d| addr::ip(d).map(|a| format!("[{a}]"))).collect();
            let dns: Vec<String> = dns?.into_iter().filter(|d| d.contains(':')).collect();
            if !dns.is_empty() {
                let _ = writeln!(opts, "tag:{tag},option6:dns-server,{}", dns.join(","));
            }
        }
    }
    for h in &net.dhcp_hosts {
        let ip = addr::ip(&h.ip)?;
        let (on_dhcp_subnet, shown) = match ip {
            std::net::IpAddr::V4(a) => (v4_nets.iter().any(|n| n.contains(&a)), ip.to_string()),
            std::net::IpAddr::V6(a) => (v6_nets.iter().any(|n| n.contains(&a)), format!("[{a}]")),
        };
        if !on_dhcp_subnet {
            continue; // not on a subnet whose addresses dnsmasq hands out
        }
        let _ = writeln!(hosts, "{},{},{shown}", addr::mac(&h.mac)?, addr::hostname(&h.hostname, &h.ip));
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

    fn v6(id: &str, cidr: &str) -> Subnet {
        Subnet { id: id.into(), cidr: cidr.into(), ip_version: 6, enable_dhcp: true, ..Default::default() }
    }

    #[test]
    fn ipv6_stateful_hands_out_addresses_stateless_only_options_slaac_nothing() {
        use crate::Ipv6Modes;
        let mode = |m| Ipv6Modes { ra_mode: Some(m), address_mode: Some(m) };
        let mut net = Network {
            id: "n".into(),
            subnets: vec![
                v6("full", "fd00:1::/64"),
                Subnet { dns_nameservers: vec!["fd00::53".into(), "9.9.9.9".into()], ..v6("info", "fd00:2::/64") },
                v6("auto", "fd00:3::/64"),
            ],
            dhcp_hosts: vec![
                DhcpHost { mac: "fa:16:3e:00:00:05".into(), ip: "fd00:1::5".into(), hostname: "".into() },
                DhcpHost {
                    mac: "fa:16:3e:00:00:05".into(),
                    ip: "fd00:2::f816:3eff:fe00:5".into(),
                    hostname: "".into(),
                },
                DhcpHost {
                    mac: "fa:16:3e:00:00:05".into(),
                    ip: "fd00:3::f816:3eff:fe00:5".into(),
                    hostname: "".into(),
                },
            ],
            ..Default::default()
        };
        net.ipv6_modes.insert("full".into(), mode(Ipv6Mode::Dhcpv6Stateful));
        net.ipv6_modes.insert("info".into(), mode(Ipv6Mode::Dhcpv6Stateless));
        net.ipv6_modes.insert("auto".into(), mode(Ipv6Mode::Slaac));
        assert!(serves(&net, &net.subnets[0]) && serves(&net, &net.subnets[1]) && !serves(&net, &net.subnets[2]));
        let c = config(&net, Path::new("/s"), "ns-1", &|_| None, &|_| true, false).unwrap();
        let ranges: Vec<&String> = c.args.iter().filter(|a| a.starts_with("--dhcp-range")).collect();
        assert_eq!(
            ranges,
            ["--dhcp-range=set:s0,fd00:1::,static,64,86400s", "--dhcp-range=set:s1,fd00:2::,static,64,86400s"]
        );
        assert_eq!(c.hosts, "fa:16:3e:00:00:05,host-fd00-1--5,[fd00:1::5]\n");
        assert_eq!(c.opts, "tag:s1,option6:dns-server,[fd00::53]\n");
        // A subnet without modes is served as Neutron does (stateful).
        let plain = Network { subnets: vec![v6("p", "fd00:9::/64")], ..Default::default() };
        assert!(serves(&plain, &plain.subnets[0]));
    }
}
