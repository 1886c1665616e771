//! The desired state of one host: what the network service wants to exist
//! here. Plain data (no DB, no I/O): the network agent builds a [`HostState`]
//! from its tables and hands it to a [`crate::DataPlane`], which makes the
//! host match it. Every list is the *whole* desired set: anything of ours on
//! the host that is not in it is removed.
//!
//! Addresses are strings in their usual text form (`10.0.0.5`,
//! `10.0.0.0/24`, `fd00::/64`, `fa:16:3e:00:00:01`); the data plane checks
//! them and refuses a state it cannot parse.

use serde::{Deserialize, Serialize};

/// Everything the data plane should make real on this host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HostState {
    /// Networks with something on this host (ports, DHCP, a router leg), and
    /// every external network a router's gateway sits on.
    #[serde(default)]
    pub networks: Vec<Network>,
    /// Routers hosted here.
    #[serde(default)]
    pub routers: Vec<Router>,
    /// Ports of instances bound to this host (`binding:host_id`): their taps
    /// get plugged into their network's bridge and filtered by their
    /// security groups.
    #[serde(default)]
    pub ports: Vec<Port>,
    /// Every security group a port in `ports` uses, and every group such a
    /// group's rules name as `remote_group_id`.
    #[serde(default)]
    pub security_groups: Vec<SecurityGroup>,
    /// Where the metadata proxies forward to.
    #[serde(default)]
    pub metadata: MetadataSettings,
}

/// `provider:network_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum NetworkType {
    /// Untagged on the physical network's interface (when one is mapped).
    Flat,
    /// 802.1Q tag `segmentation_id` on the physical network's interface.
    Vlan,
    /// VXLAN VNI `segmentation_id`.
    Vxlan,
    /// Only on this host: a bridge and nothing else.
    #[default]
    Local,
}

/// A network and what this host serves on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// The network's UUID; the bridge is named after it (`brq` + 11 chars).
    pub id: String,
    pub network_type: NetworkType,
    /// VLAN id (1–4094) or VXLAN VNI; `None` for flat and local.
    #[serde(default)]
    pub segmentation_id: Option<u32>,
    /// `provider:physical_network` (flat and vlan).
    #[serde(default)]
    pub physical_network: Option<String>,
    /// MTU of the network (set on its bridge and the interfaces we create).
    #[serde(default = "default_mtu")]
    pub mtu: u32,
    /// `router:external`: the host gets the subnets' gateway addresses on
    /// this bridge so it can reach floating IPs.
    #[serde(default)]
    pub is_external: bool,
    /// `admin_state_up`: false brings the bridge down.
    #[serde(default = "yes")]
    pub admin_state_up: bool,
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    /// The DHCP server's port on this network (device_owner `network:dhcp`).
    /// Needed for DHCP: with no DHCP port, no dnsmasq runs.
    #[serde(default)]
    pub dhcp_port: Option<DhcpPort>,
    /// Static leases dnsmasq hands out: every port of the network with an
    /// address on a DHCP-enabled subnet (instances, router interfaces are
    /// not needed but harmless).
    #[serde(default)]
    pub dhcp_hosts: Vec<DhcpHost>,
    /// The IPv6 modes of its IPv6 subnets that have any, by subnet id. Kept
    /// beside `subnets` rather than in [`Subnet`] so that `Subnet` literals
    /// written elsewhere stay valid.
    #[serde(default)]
    pub ipv6_modes: std::collections::BTreeMap<String, Ipv6Modes>,
}

/// `ipv6_ra_mode` and `ipv6_address_mode` of an IPv6 subnet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6Modes {
    /// Who sends router advertisements and what they say: with a mode, the
    /// router whose interface holds the subnet's gateway address does.
    #[serde(default)]
    pub ra_mode: Option<Ipv6Mode>,
    /// How instances get their addresses: `dhcpv6-stateful` and
    /// `dhcpv6-stateless` subnets are served by the network's dnsmasq.
    #[serde(default)]
    pub address_mode: Option<Ipv6Mode>,
}

/// The values of `ipv6_ra_mode` and `ipv6_address_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Ipv6Mode {
    #[serde(rename = "slaac")]
    Slaac,
    #[serde(rename = "dhcpv6-stateless")]
    Dhcpv6Stateless,
    #[serde(rename = "dhcpv6-stateful")]
    Dhcpv6Stateful,
}

impl Ipv6Mode {
    /// From the API's string; `None` for anything else (including null).
    pub fn parse(s: &str) -> Option<Ipv6Mode> {
        match s {
            "slaac" => Some(Ipv6Mode::Slaac),
            "dhcpv6-stateless" => Some(Ipv6Mode::Dhcpv6Stateless),
            "dhcpv6-stateful" => Some(Ipv6Mode::Dhcpv6Stateful),
            _ => None,
        }
    }
}

impl Network {
    /// The IPv6 modes of one of its subnets (none when not recorded).
    pub fn ipv6_modes_of(&self, subnet_id: &str) -> Ipv6Modes {
        self.ipv6_modes.get(subnet_id).copied().unwrap_or_default()
    }
}

impl Default for Network {
    /// As the API's defaults: local, MTU 1500, up.
    fn default() -> Self {
        Network {
            id: String::new(),
            network_type: NetworkType::Local,
            segmentation_id: None,
            physical_network: None,
            mtu: default_mtu(),
            is_external: false,
            admin_state_up: true,
            subnets: vec![],
            dhcp_port: None,
            dhcp_hosts: vec![],
            ipv6_modes: Default::default(),
        }
    }
}

impl Default for Router {
    /// Up, with nothing attached.
    fn default() -> Self {
        Router {
            id: String::new(),
            admin_state_up: true,
            gateway: None,
            interfaces: vec![],
            routes: vec![],
            floating_ips: vec![],
        }
    }
}

impl Default for Port {
    /// Up, with port security on (the API's defaults).
    fn default() -> Self {
        Port {
            id: String::new(),
            network_id: String::new(),
            mac: String::new(),
            fixed_ips: vec![],
            device_name: String::new(),
            device_id: None,
            project_id: None,
            admin_state_up: true,
            port_security_enabled: true,
            security_group_ids: vec![],
            allowed_address_pairs: vec![],
        }
    }
}

fn default_mtu() -> u32 {
    1500
}
fn yes() -> bool {
    true
}

/// A subnet of a network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subnet {
    pub id: String,
    /// `10.0.0.0/24` or `fd00::/64`.
    pub cidr: String,
    /// 4 or 6.
    pub ip_version: u8,
    #[serde(default)]
    pub gateway_ip: Option<String>,
    pub enable_dhcp: bool,
    #[serde(default)]
    pub dns_nameservers: Vec<String>,
    #[serde(default)]
    pub host_routes: Vec<Route>,
}

/// A route: a destination CIDR and a next hop (host routes of a subnet,
/// extra routes of a router).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub destination: String,
    pub nexthop: String,
}

/// One address of a port on one subnet (`fixed_ips` entry). The prefix
/// length comes from the subnet, found in [`HostState::networks`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: String,
}

/// A static DHCP lease: dnsmasq answers this MAC with this address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpHost {
    pub mac: String,
    pub ip: String,
    /// Host name given to the client (`host-10-0-0-5` as upstream when the
    /// port has no `dns_name`).
    pub hostname: String,
}

/// The DHCP server's own port: its veth inside `qdhcp-<network>` carries
/// this MAC and these addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpPort {
    pub id: String,
    pub mac: String,
    pub fixed_ips: Vec<FixedIp>,
}

/// A router hosted on this host (namespace `qrouter-<id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Router {
    pub id: String,
    /// `admin_state_up`: false removes the router's namespace.
    #[serde(default = "yes")]
    pub admin_state_up: bool,
    #[serde(default)]
    pub gateway: Option<RouterGateway>,
    /// One per router port on an internal network (`network:router_interface`).
    #[serde(default)]
    pub interfaces: Vec<RouterInterface>,
    /// `routes` (extra routes) of the router.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// Floating IPs associated with a fixed IP behind this router.
    #[serde(default)]
    pub floating_ips: Vec<FloatingIp>,
}

/// `external_gateway_info` made concrete: the gateway port
/// (`network:router_gateway`) on the external network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterGateway {
    pub network_id: String,
    pub port_id: String,
    pub mac: String,
    pub fixed_ips: Vec<FixedIp>,
    /// Masquerade the router's internal subnets to the gateway address.
    #[serde(default = "yes")]
    pub enable_snat: bool,
}

/// A router port on an internal network (`network:router_interface`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouterInterface {
    pub port_id: String,
    pub network_id: String,
    pub mac: String,
    pub fixed_ips: Vec<FixedIp>,
}

/// A floating IP associated with a fixed IP: DNAT on the way in, SNAT on
/// the way out, the floating address on the router's gateway interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloatingIp {
    pub id: String,
    pub floating_ip_address: String,
    pub fixed_ip_address: String,
    /// The port the fixed IP belongs to (for logs).
    #[serde(default)]
    pub port_id: Option<String>,
}

/// An allowed address pair of a port: extra source addresses (a host or a
/// CIDR) and optionally a second MAC the port may send from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressPair {
    pub ip_address: String,
    #[serde(default)]
    pub mac_address: Option<String>,
}

/// An instance's port bound to this host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Port {
    pub id: String,
    pub network_id: String,
    pub mac: String,
    pub fixed_ips: Vec<FixedIp>,
    /// The host device of the port: Neutron's `tap` + first 11 chars of the
    /// port id (see [`tap_name`]). When it appears it is enslaved to the
    /// network's bridge.
    pub device_name: String,
    /// The instance (`device_id`): sent to the metadata API.
    #[serde(default)]
    pub device_id: Option<String>,
    /// The port's project: sent to the metadata API.
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default = "yes")]
    pub admin_state_up: bool,
    /// false: no filtering at all (no anti-spoofing, no security groups).
    #[serde(default = "yes")]
    pub port_security_enabled: bool,
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    #[serde(default)]
    pub allowed_address_pairs: Vec<AddressPair>,
}

/// Neutron's host device name for a port: `tap` + the first 11 characters
/// of its id (14 characters, under the kernel's 15).
pub fn tap_name(port_id: &str) -> String {
    format!("tap{}", port_id.chars().take(11).collect::<String>())
}

/// `direction` of a rule, seen from the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

/// `ethertype` of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum EtherType {
    #[default]
    IPv4,
    IPv6,
}

/// A security group and what its members are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityGroup {
    pub id: String,
    pub rules: Vec<SecurityGroupRule>,
    /// Every fixed IP (and allowed-address-pair address) of every port in
    /// the group, on any host: the set a `remote_group_id` rule matches.
    #[serde(default)]
    pub member_ips: Vec<String>,
}

/// One rule of a security group, as in the API. A rule allows; what no rule
/// allows is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityGroupRule {
    pub id: String,
    pub direction: Direction,
    #[serde(default)]
    pub ethertype: EtherType,
    /// `tcp`, `udp`, `icmp`, `ipv6-icmp`/`icmpv6`, another name nft knows,
    /// or an IP protocol number as text; `None` (or `any`) is any protocol.
    #[serde(default)]
    pub protocol: Option<String>,
    /// TCP/UDP port range; for ICMP, min is the type and max the code.
    #[serde(default)]
    pub port_range_min: Option<u32>,
    #[serde(default)]
    pub port_range_max: Option<u32>,
    #[serde(default)]
    pub remote_ip_prefix: Option<String>,
    #[serde(default)]
    pub remote_group_id: Option<String>,
}

/// Where the metadata proxies forward (the compute metadata API).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataSettings {
    /// Base URL, e.g. `http://127.0.0.1:8775`. `None`: no metadata proxy.
    #[serde(default)]
    pub url: Option<String>,
    /// Nova's `metadata_proxy_shared_secret`: when set (and the port's
    /// instance is known) the proxy sends `X-Instance-ID`, `X-Tenant-ID`
    /// and `X-Instance-ID-Signature` (HMAC-SHA256) as neutron's agent does.
    #[serde(default)]
    pub shared_secret: Option<String>,
}

impl HostState {
    /// The network with this id.
    pub fn network(&self, id: &str) -> Option<&Network> {
        self.networks.iter().find(|n| n.id == id)
    }
    /// The subnet with this id, on any network.
    pub fn subnet(&self, id: &str) -> Option<&Subnet> {
        self.networks.iter().flat_map(|n| n.subnets.iter()).find(|s| s.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_name_is_neutrons() {
        assert_eq!(tap_name("6f3a1c2e-1234-4abc-9def-001122334455"), "tap6f3a1c2e-12");
        assert_eq!(tap_name("6f3a1c2e-1234-4abc-9def-001122334455").len(), 14);
    }

    #[test]
    fn minimal_json_fills_defaults() {
        let s: HostState = serde_json::from_str(
            r#"{"networks":[{"id":"n1","network_type":"vxlan","segmentation_id":7,
                "subnets":[{"id":"s1","cidr":"10.0.0.0/24","ip_version":4,"enable_dhcp":true}]}]}"#,
        )
        .unwrap();
        assert_eq!(s.networks[0].mtu, 1500);
        assert!(s.networks[0].admin_state_up);
        assert_eq!(s.networks[0].network_type, NetworkType::Vxlan);
        assert_eq!(s.subnet("s1").map(|s| s.cidr.as_str()), Some("10.0.0.0/24"));
        assert!(s.routers.is_empty());
    }
}
