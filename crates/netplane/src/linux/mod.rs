//! The Linux data plane: bridges, veths, VXLAN devices, network namespaces,
//! dnsmasq and nftables, driven by shelling out to `ip`, `bridge`, `nft`
//! and `dnsmasq`. Everything it creates carries its names (see `names`),
//! and it only ever removes things with those names.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::{ApplyReport, BoxFuture, DataPlane, Error, HostState};

/// How the Linux data plane runs on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinuxSettings {
    /// Where dnsmasq's config and pid files and the agent's own records live
    /// (`<data dir>/network` for `rustack up`).
    pub state_dir: PathBuf,
    /// Salt in every name this data plane gives (empty in production: names
    /// are Neutron's `brq…`, `qdhcp-…`, `qrouter-…`). Tests give each data
    /// plane its own tag (1–2 lowercase letters/digits) so that parallel
    /// data planes never see, let alone remove, each other's objects.
    pub tag: String,
    /// `physical_network` → host interface (Neutron's
    /// `physical_interface_mappings`). Flat and VLAN networks on an unmapped
    /// physical network stay local to this host. Empty by default: the
    /// host's interfaces are never touched unless mapped here.
    pub physical_interface_mappings: BTreeMap<String, String>,
    /// Source address of VXLAN tunnels (`local_ip`); `None`: let the kernel choose.
    pub vxlan_local_ip: Option<String>,
    /// Give the host each external network's subnet gateway address on that
    /// network's bridge (172.24.4.1/24 for devstack's `public`), so the host
    /// reaches floating IPs. On by default.
    pub external_host_gateway: bool,
    /// Masquerade traffic from external subnets leaving through this host
    /// interface (the uplink). `None` (default): no NAT on the host.
    pub masquerade_uplink: Option<String>,
    /// Port the metadata proxies listen on at 169.254.169.254 (80).
    pub metadata_port: u16,
}

impl Default for LinuxSettings {
    fn default() -> Self {
        LinuxSettings {
            state_dir: std::env::temp_dir().join("rustack-netplane"),
            tag: String::new(),
            physical_interface_mappings: BTreeMap::new(),
            vxlan_local_ip: None,
            external_host_gateway: true,
            masquerade_uplink: None,
            metadata_port: 80,
        }
    }
}

/// Whether the Linux data plane can run here: root, with `ip`, `nft` and
/// `dnsmasq` on the PATH. The reason when not.
pub fn host_supports_linux() -> Result<(), String> {
    Err("the Linux data plane is not implemented yet".into())
}

/// The real data plane on this host.
pub struct LinuxDataPlane {
    settings: LinuxSettings,
}

impl LinuxDataPlane {
    pub fn new(settings: LinuxSettings) -> Self {
        LinuxDataPlane { settings }
    }
    pub fn settings(&self) -> &LinuxSettings {
        &self.settings
    }
}

impl DataPlane for LinuxDataPlane {
    fn apply<'a>(&'a self, _desired: &'a HostState) -> BoxFuture<'a, Result<ApplyReport, Error>> {
        Box::pin(async move { Err(Error::Host("the Linux data plane is not implemented yet".into())) })
    }
    fn kind(&self) -> &'static str {
        "linux"
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}
