//! IPv6 router advertisements from a router namespace, as Neutron's L3
//! agent sends them (it runs radvd; dnsmasq's RA mode does the same job and
//! is already a dependency). One dnsmasq per router namespace, DHCP off,
//! DNS off, advertising each IPv6 subnet with an `ipv6_ra_mode` whose
//! gateway address the router holds:
//!
//! | `ipv6_ra_mode` | RA flags | dnsmasq mode |
//! |---|---|---|
//! | `slaac` | prefix autonomous (A) | `ra-only` |
//! | `dhcpv6-stateless` | A and other-config (O) | `ra-stateless` |
//! | `dhcpv6-stateful` | managed (M), no A | `static` range, its DHCPv6 requests ignored (the network's own dnsmasq answers them) |

use std::path::Path;

use ipnet::Ipv6Net;

use crate::Ipv6Mode;

/// One advertised prefix on one router interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prefix {
    pub dev: String,
    pub net: Ipv6Net,
    pub mode: Ipv6Mode,
    pub mtu: u32,
}

/// dnsmasq's command line for a router's advertisements; files in `dir`.
pub fn args(dir: &Path, prefixes: &[Prefix]) -> Vec<String> {
    let mut a: Vec<String> = [
        "--no-hosts",
        "--no-resolv",
        "--conf-file=/dev/null",
        "--port=0",
        "--bind-interfaces",
        "--except-interface=lo",
        "--user=root",
        "--group=root",
        "--enable-ra",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(format!("--pid-file={}", dir.join("pid").display()));
    a.push(format!("--log-facility={}", dir.join("log").display()));
    a.push(format!("--dhcp-leasefile={}", dir.join("leases").display()));
    let mut devs: Vec<&str> = prefixes.iter().map(|p| p.dev.as_str()).collect();
    devs.sort();
    devs.dedup();
    for d in &devs {
        a.push(format!("--interface={d}"));
    }
    for (i, p) in prefixes.iter().enumerate() {
        let tag = format!("r{i}");
        let (net, len) = (p.net.trunc().network(), p.net.prefix_len());
        match p.mode {
            Ipv6Mode::Slaac => a.push(format!("--dhcp-range=set:{tag},{net},ra-only,{len},86400s")),
            Ipv6Mode::Dhcpv6Stateless => a.push(format!("--dhcp-range=set:{tag},{net},ra-stateless,{len},86400s")),
            Ipv6Mode::Dhcpv6Stateful => {
                a.push(format!("--dhcp-range=set:{tag},{net},static,{len},86400s"));
                a.push(format!("--dhcp-ignore=tag:{tag}"));
            }
        }
    }
    // Advertise every 10 s at most (dnsmasq's default backs off to 10
    // minutes), with the network's MTU.
    for d in devs {
        let mtu = prefixes.iter().find(|p| p.dev == d).map(|p| p.mtu).unwrap_or(1500);
        a.push(format!("--ra-param={d},mtu:{mtu},10"));
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_gets_its_flags() {
        let p = |dev: &str, net: &str, mode| Prefix { dev: dev.into(), net: net.parse().unwrap(), mode, mtu: 1450 };
        let a = args(
            Path::new("/r"),
            &[
                p("qr-a", "fd00:1::/64", Ipv6Mode::Slaac),
                p("qr-b", "fd00:2::/64", Ipv6Mode::Dhcpv6Stateless),
                p("qr-b", "fd00:3::/64", Ipv6Mode::Dhcpv6Stateful),
            ],
        );
        for want in [
            "--enable-ra",
            "--port=0",
            "--interface=qr-a",
            "--interface=qr-b",
            "--dhcp-range=set:r0,fd00:1::,ra-only,64,86400s",
            "--dhcp-range=set:r1,fd00:2::,ra-stateless,64,86400s",
            "--dhcp-range=set:r2,fd00:3::,static,64,86400s",
            "--dhcp-ignore=tag:r2",
            "--ra-param=qr-a,mtu:1450,10",
            "--pid-file=/r/pid",
        ] {
            assert!(a.contains(&want.to_string()), "{want} missing from {a:?}");
        }
        assert_eq!(a.iter().filter(|x| x.starts_with("--interface=")).count(), 2);
    }
}
