//! Security groups as nftables on the host.
//!
//! This kernel has no bridge conntrack (`CONFIG_NF_CONNTRACK_BRIDGE`), so
//! `ct state` does not work in a `bridge` table. The bridge family does what
//! needs no state and knows the bridge port: anti-spoofing (MAC, IP, ARP,
//! DHCP/RA server spoofing, from named sets keyed by `ifname . address`) and
//! a packet mark naming the *profile* (the set of security groups) of the
//! port a packet came from (bits 0–11, set at prerouting) and goes to (bits
//! 12–23, set at forward), with the data plane's own number in bits 24–31 so
//! that two data planes on one host (tests, two clouds) never act on each
//! other's marks. br_netfilter (built in; `bridge-nf-call-iptables=1`) then
//! passes bridged IP packets through the `inet` hooks, where the stateful
//! rules run, chosen by the mark: one pair of chains per profile, shared by
//! every port with the same groups. Per-port data lives in sets and maps
//! only, so the script grows by a few set elements per port. Two tables,
//! replaced together in one `nft -f`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use ipnet::IpNet;

use super::addr;
use super::names::is_safe_ifname;
use crate::{Direction, Error, EtherType, HostState, Port, SecurityGroupRule};

/// A filtered port and the profile its mark carries.
struct Filtered<'a> {
    profile: u32,
    port: &'a Port,
}

/// Remote groups used by some rule: (v4 members, v6 members, set number).
type GroupSets<'a> = BTreeMap<&'a str, (Vec<IpNet>, Vec<IpNet>, usize)>;

/// The nft script that makes both security-group tables exactly what
/// `state` wants (no filtered port: both tables deleted).
/// `zones`: the bridges of internal networks and their conntrack zones
/// (tenant networks may use the same addresses; their flows must not meet
/// in one conntrack table).
pub fn render(
    state: &HostState,
    bridge_table: &str,
    inet_table: &str,
    mark_tag: u32,
    zones: &[(String, u16)],
) -> Result<String, Error> {
    let mut s = String::new();
    // Create-then-delete makes the replace work whether or not the table exists.
    for (fam, t) in [("bridge", bridge_table), ("inet", inet_table)] {
        let _ = writeln!(s, "table {fam} {t}\ndelete table {fam} {t}");
    }
    // Profiles: the distinct sorted lists of groups of filtered ports.
    let mut profiles: BTreeMap<Vec<&str>, u32> = BTreeMap::new();
    let mut ports = Vec::new();
    for port in state.ports.iter().filter(|p| p.port_security_enabled) {
        if !is_safe_ifname(&port.device_name) {
            return Err(Error::Invalid(format!("bad device name {:?}", port.device_name)));
        }
        let mut groups: Vec<&str> = port.security_group_ids.iter().map(String::as_str).collect();
        groups.sort_unstable();
        groups.dedup();
        let next = profiles.len() as u32 + 1;
        let profile = *profiles.entry(groups).or_insert(next);
        ports.push(Filtered { profile, port });
    }
    if ports.is_empty() {
        return Ok(s);
    }
    if profiles.len() > 0xfff {
        return Err(Error::Invalid("too many distinct security-group sets on one host".into()));
    }
    let tag = (mark_tag & 0xff) << 24;
    render_bridge(&mut s, bridge_table, &ports, &profiles, tag)?;
    render_inet(&mut s, state, inet_table, &profiles, tag, zones)?;
    Ok(s)
}

/// Addresses a port may send from: its fixed IPs and its allowed address pairs.
fn source_nets(port: &Port) -> Result<(Vec<IpNet>, Vec<String>), Error> {
    let mut nets = Vec::new();
    let mut macs = vec![addr::mac(&port.mac)?];
    for f in &port.fixed_ips {
        nets.push(IpNet::from(addr::ip(&f.ip_address)?));
    }
    for pair in &port.allowed_address_pairs {
        nets.push(addr::net(&pair.ip_address)?.trunc());
        if let Some(m) = &pair.mac_address {
            macs.push(addr::mac(m)?);
        }
    }
    macs.sort();
    macs.dedup();
    nets.sort();
    nets.dedup();
    Ok((nets, macs))
}

/// The prefixes not inside another one of the list: interval sets keyed by
/// a concatenation refuse overlapping elements.
fn outermost(nets: &[IpNet]) -> Vec<IpNet> {
    let mut v: Vec<IpNet> = nets.to_vec();
    v.sort();
    v.dedup();
    v.iter().filter(|n| !v.iter().any(|o| o != *n && o.contains(*n))).copied().collect()
}

/// A named set or map; an empty one gets no `elements` line.
fn named(s: &mut String, kind: &str, name: &str, ty: &str, flags: &str, elements: &[String]) {
    let _ = writeln!(s, "  {kind} {name} {{\n    type {ty};{flags}");
    if !elements.is_empty() {
        let _ = writeln!(s, "    elements = {{ {} }}", elements.join(", "));
    }
    let _ = writeln!(s, "  }}");
}

fn render_bridge(
    s: &mut String,
    table: &str,
    ports: &[Filtered],
    profiles: &BTreeMap<Vec<&str>, u32>,
    tag: u32,
) -> Result<(), Error> {
    let (mut names, mut marks, mut to_port, mut macs, mut src4, mut arp4, mut src6) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for p in ports {
        let dev = format!("\"{}\"", p.port.device_name);
        names.push(dev.clone());
        marks.push(format!("{dev} : 0x{:08x}", tag | p.profile));
        to_port.push(format!("{dev} : jump in_{}", p.profile));
        let (nets, port_macs) = source_nets(p.port)?;
        macs.extend(port_macs.iter().map(|m| format!("{dev} . {m}")));
        let v4: Vec<IpNet> = nets.iter().filter(|n| matches!(n, IpNet::V4(_))).copied().collect();
        // ARP probes come from 0.0.0.0; IPv6 link-local and DAD (::) besides the port's own.
        let mut a4 = v4.clone();
        a4.push("0.0.0.0/32".parse().expect("constant"));
        let mut v6: Vec<IpNet> = nets.iter().filter(|n| matches!(n, IpNet::V6(_))).copied().collect();
        v6.push("fe80::/10".parse().expect("constant"));
        v6.push("::/128".parse().expect("constant"));
        src4.extend(outermost(&v4).iter().map(|n| format!("{dev} . {n}")));
        arp4.extend(outermost(&a4).iter().map(|n| format!("{dev} . {n}")));
        src6.extend(outermost(&v6).iter().map(|n| format!("{dev} . {n}")));
    }
    let _ = writeln!(s, "table bridge {table} {{");
    named(s, "set", "ports", "ifname", "", &names);
    named(s, "map", "profile_from", "ifname : mark", "", &marks);
    named(s, "map", "profile_to", "ifname : verdict", "", &to_port);
    named(s, "set", "macs", "ifname . ether_addr", "", &macs);
    named(s, "set", "src4", "ifname . ipv4_addr", " flags interval;", &src4);
    named(s, "set", "arp4", "ifname . ipv4_addr", " flags interval;", &arp4);
    named(s, "set", "src6", "ifname . ipv6_addr", " flags interval;", &src6);
    for k in profiles.values() {
        let _ =
            writeln!(s, "  chain in_{k} {{\n    meta mark set meta mark & 0x00000fff | 0x{:08x}\n  }}", tag | k << 12);
    }
    let _ = writeln!(
        s,
        "  chain prerouting {{
    type filter hook prerouting priority -300; policy accept;
    iifname != @ports return
    meta mark set iifname map @profile_from
    iifname . ether saddr != @macs drop
    ether type arp iifname . arp saddr ether != @macs drop
    ether type arp iifname . arp saddr ip != @arp4 drop
    ether type arp accept
    ether type ip udp sport 68 udp dport 67 accept
    ether type ip udp sport 67 udp dport 68 drop
    ether type ip iifname . ip saddr != @src4 drop
    ether type ip accept
    ether type ip6 icmpv6 type nd-router-advert drop
    ether type ip6 udp sport 547 udp dport 546 drop
    ether type ip6 iifname . ip6 saddr != @src6 drop
    ether type ip6 accept
    drop
  }}
  chain forward {{
    type filter hook forward priority -100; policy accept;
    oifname vmap @profile_to
  }}
}}"
    );
    Ok(())
}

fn render_inet(
    s: &mut String,
    state: &HostState,
    table: &str,
    profiles: &BTreeMap<Vec<&str>, u32>,
    tag: u32,
    zones: &[(String, u16)],
) -> Result<(), Error> {
    let group = |id: &str| state.security_groups.iter().find(|g| g.id == id);
    let mut group_sets: GroupSets = BTreeMap::new();
    for sg in profiles.keys().flatten().filter_map(|id| group(id)) {
        for rg in sg.rules.iter().filter_map(|r| r.remote_group_id.as_deref()) {
            if group_sets.contains_key(rg) {
                continue;
            }
            let n = group_sets.len();
            let (mut v4, mut v6) = (Vec::new(), Vec::new());
            for m in group(rg).map(|g| g.member_ips.as_slice()).unwrap_or_default() {
                match addr::net(m)?.trunc() {
                    x @ IpNet::V4(_) => v4.push(x),
                    x @ IpNet::V6(_) => v6.push(x),
                }
            }
            group_sets.insert(rg, (v4, v6, n));
        }
    }
    let _ = writeln!(s, "table inet {table} {{");
    // br_netfilter hands bridged packets to these hooks with the bridge as
    // the interface: one zone per network, set before conntrack (raw).
    let zone_map: Vec<String> =
        zones.iter().filter(|(b, _)| is_safe_ifname(b)).map(|(b, z)| format!("\"{b}\" : {z}")).collect();
    if !zone_map.is_empty() {
        let m = zone_map.join(", ");
        let _ = writeln!(s, "  chain zone_pre {{\n    type filter hook prerouting priority raw; policy accept;\n    ct zone set iifname map {{ {m} }}\n  }}");
        let _ = writeln!(s, "  chain zone_out {{\n    type filter hook output priority raw; policy accept;\n    ct zone set oifname map {{ {m} }}\n  }}");
    }
    for (v4, v6, n) in group_sets.values() {
        let v4: Vec<String> = v4.iter().map(|x| x.to_string()).collect();
        let v6: Vec<String> = v6.iter().map(|x| x.to_string()).collect();
        named(s, "set", &format!("g{n}_4"), "ipv4_addr", " flags interval; auto-merge;", &v4);
        named(s, "set", &format!("g{n}_6"), "ipv6_addr", " flags interval; auto-merge;", &v6);
    }
    let egress: Vec<String> = profiles.values().map(|k| format!("0x{:08x} : jump egress_{k}", tag | k)).collect();
    let ingress: Vec<String> =
        profiles.values().map(|k| format!("0x{:08x} : jump ingress_{k}", tag | k << 12)).collect();
    for (chain, hook) in [("forward", "forward"), ("input", "input")] {
        let _ = writeln!(s, "  chain {chain} {{\n    type filter hook {hook} priority 0; policy accept;");
        let _ = writeln!(s, "    meta mark & 0xff000fff vmap {{ {} }}", egress.join(", "));
        if chain == "forward" {
            let _ = writeln!(s, "    meta mark & 0xfffff000 vmap {{ {} }}", ingress.join(", "));
        }
        let _ = writeln!(s, "  }}");
    }
    for (groups, k) in profiles {
        for dir in [Direction::Egress, Direction::Ingress] {
            let name = if dir == Direction::Egress { "egress" } else { "ingress" };
            // `return` lets the packet go on to the other port's chain; the
            // base chain's policy accepts it when both sides returned.
            let _ = writeln!(s, "  chain {name}_{k} {{");
            let _ = writeln!(s, "    ct state established,related return");
            let _ = writeln!(s, "    ct state invalid drop");
            if dir == Direction::Egress {
                let _ = writeln!(s, "    udp sport 68 udp dport 67 return");
                let _ = writeln!(s, "    udp sport 546 udp dport 547 return");
            } else {
                let _ = writeln!(s, "    udp sport 67 udp dport 68 return");
                let _ = writeln!(s, "    udp sport 547 udp dport 546 return");
            }
            let _ = writeln!(
                s,
                "    icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert, mld-listener-query, mld-listener-report, mld2-listener-report }} return"
            );
            let mut seen = BTreeSet::new();
            for sg in groups.iter().filter_map(|id| group(id)) {
                for r in sg.rules.iter().filter(|r| r.direction == dir) {
                    if let Some(m) = rule_match(r, &group_sets)? {
                        if seen.insert(m.clone()) {
                            let _ = writeln!(s, "    {m} return");
                        }
                    }
                }
            }
            let _ = writeln!(s, "    drop");
            let _ = writeln!(s, "  }}");
        }
    }
    let _ = writeln!(s, "}}");
    Ok(())
}

/// The nft match of one rule (what it allows), or `None` when it can match
/// nothing (a prefix of the other family, an unknown remote group).
fn rule_match(r: &SecurityGroupRule, groups: &GroupSets) -> Result<Option<String>, Error> {
    let v6 = r.ethertype == EtherType::IPv6;
    let mut m = vec![format!("meta nfproto {}", if v6 { "ipv6" } else { "ipv4" })];
    let (fam, side) =
        (if v6 { "ip6" } else { "ip" }, if r.direction == Direction::Ingress { "saddr" } else { "daddr" });
    if let Some(p) = r.remote_ip_prefix.as_deref().filter(|p| !p.is_empty()) {
        let n = addr::net(p)?.trunc();
        if matches!(n, IpNet::V6(_)) != v6 {
            return Ok(None);
        }
        if n.prefix_len() != 0 {
            m.push(format!("{fam} {side} {n}"));
        }
    }
    if let Some(g) = r.remote_group_id.as_deref() {
        let Some((_, _, n)) = groups.get(g) else { return Ok(None) };
        m.push(format!("{fam} {side} @g{n}_{}", if v6 { 6 } else { 4 }));
    }
    let proto = r.protocol.as_deref().map(|p| p.to_ascii_lowercase()).unwrap_or_default();
    let range = |what: &str| -> Result<Option<String>, Error> {
        match (r.port_range_min, r.port_range_max) {
            (None, None) => Ok(None),
            (Some(a), None) | (None, Some(a)) => check_port(a).map(|a| Some(format!("{what} {a}"))),
            (Some(a), Some(b)) if a == b => check_port(a).map(|a| Some(format!("{what} {a}"))),
            (Some(a), Some(b)) if a < b => Ok(Some(format!("{what} {}-{}", check_port(a)?, check_port(b)?))),
            _ => Err(Error::Invalid(format!("rule {}: bad port range", r.id))),
        }
    };
    match proto.as_str() {
        "" | "any" | "null" => {}
        "tcp" | "6" | "udp" | "17" | "sctp" | "132" | "udplite" | "136" | "dccp" | "33" => {
            let name = match proto.as_str() {
                "6" => "tcp",
                "17" => "udp",
                "132" => "sctp",
                "136" => "udplite",
                "33" => "dccp",
                x => x,
            };
            m.push(format!("meta l4proto {name}"));
            if name != "udplite" {
                if let Some(x) = range(&format!("{name} dport"))? {
                    m.push(x);
                }
            }
        }
        "icmp" | "1" | "ipv6-icmp" | "icmpv6" | "58" => {
            let icmp = if v6 { "icmpv6" } else { "icmp" };
            if (icmp == "icmp") != matches!(proto.as_str(), "icmp" | "1") && !v6 {
                return Ok(None); // ICMPv6 in an IPv4 rule matches nothing
            }
            m.push(format!("meta l4proto {icmp}"));
            if let Some(t) = r.port_range_min {
                m.push(format!("{icmp} type {}", check_u8(t)?));
                if let Some(c) = r.port_range_max {
                    m.push(format!("{icmp} code {}", check_u8(c)?));
                }
            }
        }
        other => {
            if let Ok(n) = other.parse::<u32>() {
                m.push(format!("meta l4proto {}", check_u8(n)?));
            } else if other.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                m.push(format!("meta l4proto {other}"));
            } else {
                return Err(Error::Invalid(format!("rule {}: bad protocol {other:?}", r.id)));
            }
        }
    }
    Ok(Some(m.join(" ")))
}

fn check_port(p: u32) -> Result<u32, Error> {
    if (1..=65535).contains(&p) || p == 0 {
        Ok(p)
    } else {
        Err(Error::Invalid(format!("bad port {p}")))
    }
}
fn check_u8(p: u32) -> Result<u32, Error> {
    if p <= 255 {
        Ok(p)
    } else {
        Err(Error::Invalid(format!("bad ICMP type/code or protocol {p}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AddressPair, FixedIp, SecurityGroup};

    fn rule(dir: Direction, proto: Option<&str>, min: Option<u32>, max: Option<u32>) -> SecurityGroupRule {
        SecurityGroupRule {
            id: "r".into(),
            direction: dir,
            ethertype: EtherType::IPv4,
            protocol: proto.map(String::from),
            port_range_min: min,
            port_range_max: max,
            remote_ip_prefix: None,
            remote_group_id: None,
        }
    }

    #[test]
    fn rules_become_matches() {
        let g = BTreeMap::new();
        assert_eq!(
            rule_match(&rule(Direction::Ingress, Some("tcp"), Some(22), Some(22)), &g).unwrap().unwrap(),
            "meta nfproto ipv4 meta l4proto tcp tcp dport 22"
        );
        assert_eq!(
            rule_match(&rule(Direction::Ingress, Some("udp"), Some(1000), Some(2000)), &g).unwrap().unwrap(),
            "meta nfproto ipv4 meta l4proto udp udp dport 1000-2000"
        );
        assert_eq!(
            rule_match(&rule(Direction::Ingress, Some("icmp"), Some(8), None), &g).unwrap().unwrap(),
            "meta nfproto ipv4 meta l4proto icmp icmp type 8"
        );
        let mut r = rule(Direction::Egress, None, None, None);
        r.remote_ip_prefix = Some("10.1.0.0/16".into());
        assert_eq!(rule_match(&r, &g).unwrap().unwrap(), "meta nfproto ipv4 ip daddr 10.1.0.0/16");
        r.remote_ip_prefix = Some("fd00::/8".into());
        assert_eq!(rule_match(&r, &g).unwrap(), None);
        r.remote_ip_prefix = Some("10.0.0.0/8; flush ruleset".into());
        assert!(rule_match(&r, &g).is_err());
        let mut r = rule(Direction::Ingress, None, None, None);
        r.remote_group_id = Some("nope".into());
        assert_eq!(rule_match(&r, &g).unwrap(), None);
        assert!(rule_match(&rule(Direction::Ingress, Some("tcp"), Some(30), Some(20)), &g).is_err());
    }

    #[test]
    fn overlapping_prefixes_collapse() {
        let v: Vec<IpNet> =
            ["10.0.0.5/32", "10.0.0.0/24", "10.1.0.1/32", "10.0.0.0/24"].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(outermost(&v), vec!["10.0.0.0/24".parse::<IpNet>().unwrap(), "10.1.0.1/32".parse().unwrap()]);
    }

    #[test]
    fn renders_both_tables_with_marks_and_spoofing() {
        let state = HostState {
            networks: vec![crate::Network {
                id: "n".into(),
                subnets: vec![crate::Subnet {
                    id: "s".into(),
                    cidr: "10.0.0.0/24".into(),
                    ip_version: 4,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ports: vec![Port {
                id: "p".into(),
                network_id: "n".into(),
                mac: "fa:16:3e:00:00:01".into(),
                fixed_ips: vec![FixedIp { subnet_id: "s".into(), ip_address: "10.0.0.5".into() }],
                device_name: "tapp".into(),
                port_security_enabled: true,
                security_group_ids: vec!["g".into()],
                allowed_address_pairs: vec![AddressPair { ip_address: "10.0.0.128/25".into(), mac_address: None }],
                ..Default::default()
            }],
            security_groups: vec![SecurityGroup {
                id: "g".into(),
                rules: vec![SecurityGroupRule {
                    remote_group_id: Some("g".into()),
                    ..rule(Direction::Ingress, None, None, None)
                }],
                member_ips: vec!["10.0.0.5".into()],
            }],
            ..Default::default()
        };
        let s = render(&state, "rs_b", "rs_i", 7, &[("brqx".into(), 9)]).unwrap();
        assert!(s.contains("ct zone set iifname map { \"brqx\" : 9 }"));
        assert!(s.contains("meta mark set meta mark & 0x00000fff | 0x07001000"));
        assert!(s.contains("0x07001000 : jump ingress_1"));
        assert!(s.contains("\"tapp\" : 0x07000001"), "{s}");
        assert!(s.contains("\"tapp\" . 10.0.0.5/32, \"tapp\" . 10.0.0.128/25"), "{s}");
        assert!(s.contains("elements = { 10.0.0.5/32 }"));
        assert!(s.contains("meta nfproto ipv4 ip saddr @g0_4 return"));
        let mut off = state.clone();
        off.ports[0].port_security_enabled = false;
        let gone = render(&off, "rs_b", "rs_i", 7, &[]).unwrap();
        assert!(gone.ends_with("delete table inet rs_i\n") && !gone.contains("chain"));
    }
}
