//! The names the Linux data plane gives host objects. Without a tag they are
//! Neutron's (`brq` + 11 chars of the network id, `qdhcp-<network id>`,
//! `qrouter-<router id>`, `tap`/`ns-`/`qr-`/`qg-` + 11 chars of the port id,
//! `vxlan-<vni>`); a tag makes them distinct so that several data planes
//! (tests, several clouds on one machine) never touch each other's objects.
//! Port-derived device names carry no tag: they belong to a namespace or a
//! port, never scanned for.

/// Longest interface name the kernel takes.
pub const IFNAMSIZ: usize = 15;

#[derive(Debug, Clone)]
pub struct Names {
    tag: String,
    /// Tells apart the host-wide objects (nft tables, packet marks) of
    /// untagged data planes: derived from the state dir.
    salt: String,
}

fn take(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

impl Names {
    /// Names for a data plane with this tag whose state lives in `state_dir`.
    pub fn new(tag: &str, state_dir: &std::path::Path) -> Self {
        let salt = if tag.is_empty() {
            format!("{:06x}", fnv(state_dir.to_string_lossy().as_bytes()) & 0xff_ffff)
        } else {
            tag.to_string()
        };
        Names { tag: tag.to_string(), salt }
    }

    fn bridge_prefix(&self) -> String {
        if self.tag.is_empty() {
            "brq".into()
        } else {
            format!("bq{}-", self.tag)
        }
    }
    /// The bridge of a network.
    pub fn bridge(&self, network_id: &str) -> String {
        let p = self.bridge_prefix();
        let room = 14 - p.len();
        format!("{p}{}", take(network_id, room))
    }
    pub fn is_bridge(&self, ifname: &str) -> bool {
        ifname.starts_with(&self.bridge_prefix())
    }

    fn vxlan_prefix(&self) -> String {
        if self.tag.is_empty() {
            "vxlan-".into()
        } else {
            format!("vx{}-", self.tag)
        }
    }
    /// The VXLAN device of VNI `vni`.
    pub fn vxlan(&self, vni: u32) -> String {
        format!("{}{vni}", self.vxlan_prefix())
    }
    pub fn is_vxlan(&self, ifname: &str) -> bool {
        ifname
            .strip_prefix(&self.vxlan_prefix())
            .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
    }

    fn ns_prefix(&self) -> String {
        if self.tag.is_empty() {
            String::new()
        } else {
            format!("{}-", self.tag)
        }
    }
    pub fn dhcp_ns(&self, network_id: &str) -> String {
        format!("{}qdhcp-{network_id}", self.ns_prefix())
    }
    pub fn router_ns(&self, router_id: &str) -> String {
        format!("{}qrouter-{router_id}", self.ns_prefix())
    }
    /// Whether a namespace is ours (a DHCP or router namespace of this tag).
    pub fn is_ours_ns(&self, ns: &str) -> bool {
        ns.strip_prefix(&self.ns_prefix()).is_some_and(|r| r.starts_with("qdhcp-") || r.starts_with("qrouter-"))
    }

    /// The host table with the security-group marks and anti-spoofing (bridge family).
    pub fn sg_bridge_table(&self) -> String {
        self.table("sg")
    }
    /// The host table with the stateful security-group rules (inet family).
    pub fn sg_inet_table(&self) -> String {
        self.table("sgf")
    }
    /// The host table masquerading external subnets to the uplink (ip family).
    pub fn ext_table(&self) -> String {
        self.table("ext")
    }
    fn table(&self, what: &str) -> String {
        format!("rustack_{}_{what}", self.salt)
    }

    /// This data plane's number in packet marks (bits 24–31), 1–255, from
    /// the tag or the state dir (two data planes may share one: rare).
    pub fn mark_tag(&self) -> u32 {
        fnv(self.salt.as_bytes()) % 255 + 1
    }

    /// The veth end in a VLAN network's bridge towards physical interface
    /// `physdev`: `vl<tag>-<3 hex of the interface name>-<vid>`, so the same
    /// VLAN id on two physical networks gets two legs.
    pub fn vlan_leg(&self, physdev: &str, vid: u32) -> String {
        format!("vl{}-{:03x}-{vid}", self.tag, fnv(physdev.as_bytes()) & 0xfff)
    }
    pub fn is_vlan_leg(&self, ifname: &str) -> bool {
        ifname.strip_prefix(&format!("vl{}-", self.tag)).and_then(|r| r.split_once('-')).is_some_and(|(h, v)| {
            h.len() == 3
                && h.bytes().all(|b| b.is_ascii_hexdigit())
                && !v.is_empty()
                && v.bytes().all(|b| b.is_ascii_digit())
        })
    }
    /// The other end: not bridged; its ingress tags frames onto the physical interface.
    pub fn vlan_trunk_leg(&self, physdev: &str, vid: u32) -> String {
        format!("vp{}-{:03x}-{vid}", self.tag, fnv(physdev.as_bytes()) & 0xfff)
    }
    /// This data plane's directory in the bpffs (its pinned VLAN programs).
    pub fn bpf_dir(&self) -> String {
        format!("rustack_{}", self.salt)
    }
    /// Reserved: the VLAN-filtering bridge of a physical network, for a
    /// kernel with bridge VLAN filtering (unused: tagging is tc eBPF).
    pub fn physnet_bridge(&self, physnet: &str) -> String {
        let p = format!("bp{}-", self.tag);
        let clean: String = physnet.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        format!("{p}{}", take(&clean, IFNAMSIZ - p.len()))
    }
}

/// `tap` + 11 chars of the port id: the host end of a port (instance tap,
/// or the bridge end of a DHCP/router veth, as Neutron's linuxbridge agent).
pub fn tap(port_id: &str) -> String {
    format!("tap{}", take(port_id, 11))
}
/// The DHCP port's end inside `qdhcp-…`.
pub fn dhcp_dev(port_id: &str) -> String {
    format!("ns-{}", take(port_id, 11))
}
/// A router interface's end inside `qrouter-…`.
pub fn router_if_dev(port_id: &str) -> String {
    format!("qr-{}", take(port_id, 11))
}
/// A router gateway's end inside `qrouter-…`.
pub fn router_gw_dev(port_id: &str) -> String {
    format!("qg-{}", take(port_id, 11))
}

fn fnv(bytes: &[u8]) -> u32 {
    bytes.iter().fold(2166136261u32, |h, b| (h ^ *b as u32).wrapping_mul(16777619))
}

/// Whether a name is safe to put in a command line or an nft script.
pub fn is_safe_ifname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= IFNAMSIZ
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untagged_names_are_neutrons() {
        let n = Names::new("", std::path::Path::new("/d"));
        let id = "6f3a1c2e-1234-4abc-9def-001122334455";
        assert_eq!(n.bridge(id), "brq6f3a1c2e-12");
        assert_eq!(n.dhcp_ns(id), format!("qdhcp-{id}"));
        assert_eq!(n.vxlan(100), "vxlan-100");
        assert!(n.is_ours_ns(&n.router_ns(id)));
        assert!(n.is_bridge("brq6f3a1c2e-12"));
        assert_eq!(tap(id), "tap6f3a1c2e-12");
    }

    #[test]
    fn tagged_names_do_not_overlap_untagged_or_other_tags() {
        let a = Names::new("t1", std::path::Path::new("/d"));
        let b = Names::new("t", std::path::Path::new("/d"));
        let p = Names::new("", std::path::Path::new("/d"));
        let id = "1abcdef0-1234";
        for name in [
            a.bridge(id),
            a.vxlan(16777215),
            a.physnet_bridge("physnet-extra-long"),
            a.vlan_leg("eth1", 4094),
            a.vlan_trunk_leg("eth1", 4094),
        ] {
            assert!(name.len() <= IFNAMSIZ, "{name}");
        }
        assert!(!b.is_bridge(&a.bridge(id)) && !p.is_bridge(&a.bridge(id)));
        assert!(!p.is_ours_ns(&a.dhcp_ns(id)) && !b.is_ours_ns(&a.dhcp_ns(id)));
        assert!(!p.is_vxlan(&a.vxlan(5)) && a.is_vxlan(&a.vxlan(5)));
        assert!(a.is_vlan_leg(&a.vlan_leg("eth1", 100)) && !p.is_vlan_leg(&a.vlan_leg("eth1", 100)));
        assert!(!b.is_vlan_leg(&a.vlan_leg("eth1", 100)) && !a.is_vlan_leg(&a.vlan_trunk_leg("eth1", 100)));
        assert_ne!(a.vlan_leg("eth1", 100), a.vlan_leg("eth2", 100), "one leg per physical network");
        assert_ne!(a.sg_bridge_table(), p.sg_bridge_table());
        assert_eq!(a.sg_bridge_table(), "rustack_t1_sg");
        // Two untagged data planes (two clouds on one host) keep their own tables.
        let q = Names::new("", std::path::Path::new("/other"));
        assert_ne!(q.sg_inet_table(), p.sg_inet_table());
    }
}
