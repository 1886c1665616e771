//! The Linux data plane: bridges, veths, VXLAN devices, network namespaces,
//! dnsmasq and nftables, driven by shelling out to `ip`, `bridge`, `nft`
//! and `dnsmasq`. Everything it creates carries its names (see `names`),
//! and it only ever removes things with those names.

mod addr;
pub mod bpf;
mod cmd;
mod dhcp;
mod host;
pub mod metadata;
mod names;
mod nat;
mod ra;
mod sg;
mod vlan;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Instant;

use ipnet::IpNet;

pub use names::Names;

use crate::{ApplyReport, BoxFuture, DataPlane, Error, HostState, Network, Router};

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
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not running as root".into());
    }
    for prog in ["ip", "nft", "dnsmasq"] {
        if !cmd::available(prog) {
            return Err(format!("`{prog}` is not on the PATH"));
        }
    }
    Ok(())
}

/// Whether VLAN networks can be tagged onto their physical interfaces here
/// (tc eBPF: a bpffs, cls_bpf and the verifier accepting our programs).
pub fn vlan_tagging_supported() -> Result<(), String> {
    vlan::supported()
}

/// The real data plane on this host.
pub struct LinuxDataPlane {
    settings: LinuxSettings,
    names: Names,
    /// Serialises applies; holds what lives in this process.
    runtime: tokio::sync::Mutex<Runtime>,
}

#[derive(Default)]
struct Runtime {
    /// Metadata proxies by namespace.
    proxies: HashMap<String, metadata::Proxy>,
    /// The last nft script loaded per place (`host:sg`, `host:ext`, a router
    /// namespace): a script is loaded again only when it changes.
    loaded: HashMap<String, String>,
    /// Plugs the taps that do not exist yet as soon as they appear (a VM
    /// starting after the apply), without waiting for the next apply.
    plugger: Option<Plugger>,
}

/// A task watching for missing taps; stopped when dropped.
struct Plugger(tokio::task::JoinHandle<()>);

impl Drop for Plugger {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Polls `/sys/class/net` for each (tap, bridge, up) and plugs it when it appears.
fn spawn_plugger(mut waiting: Vec<(String, String, bool)>) -> Plugger {
    Plugger(tokio::spawn(async move {
        while !waiting.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let mut still = Vec::new();
            for (tap, br, up) in waiting {
                if !std::path::Path::new("/sys/class/net").join(&tap).exists() {
                    still.push((tap, br, up));
                    continue;
                }
                let r = async {
                    host::set_master(&tap, &br).await?;
                    host::set_up(None, &tap, up).await
                }
                .await;
                match r {
                    Ok(()) => tracing::info!(%tap, bridge = %br, "plugged a port that appeared"),
                    Err(e) => tracing::warn!(%tap, error = %e, "could not plug a port that appeared"),
                }
            }
            waiting = still;
        }
    }))
}

impl LinuxDataPlane {
    pub fn new(settings: LinuxSettings) -> Self {
        let names = Names::new(&settings.tag, &settings.state_dir);
        LinuxDataPlane { settings, names, runtime: Default::default() }
    }
    pub fn settings(&self) -> &LinuxSettings {
        &self.settings
    }
    /// The names this data plane gives host objects.
    pub fn names(&self) -> &Names {
        &self.names
    }

    /// Everything of this data plane's (its tag's) on the host, read back
    /// from the kernel: bridges, VXLAN devices, VLAN legs, namespaces, nft
    /// tables (`nft -j list tables`), running dnsmasq processes and metadata
    /// proxies. Empty after applying an empty state.
    pub async fn leftovers(&self) -> Result<Vec<String>, Error> {
        let nm = &self.names;
        let mut out = Vec::new();
        for (name, l) in host::links(None).await? {
            if nm.is_bridge(&name) || nm.is_vxlan(&name) || nm.is_vlan_leg(&name) {
                out.push(format!("link {name} ({})", l.kind.unwrap_or_default()));
            }
        }
        for ns in host::namespaces().await? {
            if nm.is_ours_ns(&ns) {
                out.push(format!("namespace {ns}"));
            }
        }
        let ours = [nm.sg_bridge_table(), nm.sg_inet_table(), nm.ext_table()];
        for (fam, t) in cmd::nft_tables(None).await? {
            if ours.contains(&t) {
                out.push(format!("nft table {fam} {t}"));
            }
        }
        if let Ok(rd) = std::fs::read_dir(self.settings.state_dir.join("dhcp")) {
            for e in rd.flatten() {
                out.push(format!("DHCP dir {}", e.path().display()));
                if let Some(pid) = read_pid(&e.path().join("pid")).filter(|&p| is_our_dnsmasq(p, &e.path())) {
                    out.push(format!("dnsmasq pid {pid}"));
                }
            }
        }
        let pins = std::path::Path::new(bpf::BPFFS).join(nm.bpf_dir());
        if let Ok(rd) = std::fs::read_dir(&pins) {
            out.extend(rd.flatten().map(|e| format!("pinned eBPF {}", e.path().display())));
        }
        if let Ok(rd) = std::fs::read_dir(self.settings.state_dir.join("ra")) {
            for e in rd.flatten() {
                out.push(format!("RA dir {}", e.path().display()));
                if let Some(pid) = read_pid(&e.path().join("pid")).filter(|&p| is_our_dnsmasq(p, &e.path())) {
                    out.push(format!("dnsmasq (RA) pid {pid}"));
                }
            }
        }
        for ns in self.runtime.lock().await.proxies.keys() {
            out.push(format!("metadata proxy in {ns}"));
        }
        Ok(out)
    }
}

impl DataPlane for LinuxDataPlane {
    fn apply<'a>(&'a self, desired: &'a HostState) -> BoxFuture<'a, Result<ApplyReport, Error>> {
        Box::pin(async move {
            let mut rt = self.runtime.lock().await;
            let t0 = Instant::now();
            let r = self.apply_locked(&mut rt, desired).await;
            match &r {
                Ok(rep) if !rep.actions.is_empty() => {
                    tracing::info!(
                        changes = rep.actions.len(),
                        pending = rep.pending.len(),
                        ms = t0.elapsed().as_millis() as u64,
                        "data plane applied"
                    )
                }
                Ok(_) => {
                    tracing::debug!(ms = t0.elapsed().as_millis() as u64, "data plane already in the desired state")
                }
                Err(e) => tracing::warn!(error = %e, "data plane apply failed"),
            }
            r
        })
    }
    fn kind(&self) -> &'static str {
        "linux"
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// Ids go into names and paths: only letters, digits, `-` and `_`.
fn check_id(what: &str, id: &str) -> Result<(), Error> {
    if !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        Ok(())
    } else {
        Err(Error::Invalid(format!("bad {what} id {id:?}")))
    }
}

fn validate(d: &HostState) -> Result<(), Error> {
    for n in &d.networks {
        check_id("network", &n.id)?;
        for s in &n.subnets {
            addr::net(&s.cidr)?;
        }
        if let Some(p) = &n.dhcp_port {
            check_id("port", &p.id)?;
            addr::mac(&p.mac)?;
        }
    }
    for r in &d.routers {
        check_id("router", &r.id)?;
        for i in &r.interfaces {
            check_id("port", &i.port_id)?;
            addr::mac(&i.mac)?;
        }
        if let Some(g) = &r.gateway {
            check_id("port", &g.port_id)?;
            addr::mac(&g.mac)?;
        }
    }
    for p in &d.ports {
        check_id("port", &p.id)?;
        addr::mac(&p.mac)?;
        if !names::is_safe_ifname(&p.device_name) {
            return Err(Error::Invalid(format!("bad device name {:?}", p.device_name)));
        }
    }
    if let Some(u) = &d.metadata.url {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            return Err(Error::Invalid(format!("bad metadata URL {u:?}")));
        }
    }
    Ok(())
}

/// The IPv6 prefixes a router advertises: each interface address that is
/// its subnet's gateway, on a subnet with an `ipv6_ra_mode`.
fn ra_prefixes(d: &HostState, r: &Router) -> Vec<ra::Prefix> {
    let mut out = Vec::new();
    for i in &r.interfaces {
        let Some(n) = d.network(&i.network_id) else { continue };
        for f in &i.fixed_ips {
            let Some(sn) = n.subnets.iter().find(|s| s.id == f.subnet_id && s.ip_version == 6) else { continue };
            let Some(mode) = n.ipv6_modes_of(&sn.id).ra_mode else { continue };
            let (Ok(IpNet::V6(net)), Ok(ip), Some(Ok(gw))) =
                (addr::net(&sn.cidr), addr::ip(&f.ip_address), sn.gateway_ip.as_deref().map(addr::ip))
            else {
                continue;
            };
            if ip == gw {
                out.push(ra::Prefix { dev: names::router_if_dev(&i.port_id), net, mode, mtu: n.mtu });
            }
        }
    }
    out
}

/// A route's destination as `ip -j route` prints it.
fn route_key(dest: &str) -> Result<String, Error> {
    let n = addr::net(dest)?.trunc();
    Ok(if n.prefix_len() == 0 {
        "default".into()
    } else if n.prefix_len() == n.max_prefix_len() {
        n.addr().to_string()
    } else {
        n.to_string()
    })
}

impl LinuxDataPlane {
    async fn apply_locked(&self, rt: &mut Runtime, d: &HostState) -> Result<ApplyReport, Error> {
        validate(d)?;
        let mut rep = ApplyReport::default();
        let nm = &self.names;

        // What should exist.
        let nets: BTreeMap<String, &Network> = d.networks.iter().map(|n| (nm.bridge(&n.id), n)).collect();
        let dhcp_nets: Vec<&Network> = d
            .networks
            .iter()
            .filter(|n| n.dhcp_port.is_some() && n.subnets.iter().any(|s| dhcp::serves(n, s)))
            .collect();
        let routers: Vec<&Router> = d.routers.iter().filter(|r| r.admin_state_up).collect();
        let mut want_ns: BTreeSet<String> = dhcp_nets.iter().map(|n| nm.dhcp_ns(&n.id)).collect();
        want_ns.extend(routers.iter().map(|r| nm.router_ns(&r.id)));

        // Remove what is ours and no longer wanted: proxies first (their
        // sockets hold namespaces), then namespaces (their veths go with
        // them), then bridges.
        rt.proxies.retain(|ns, _| want_ns.contains(ns));
        let want_vx: BTreeSet<String> = d
            .networks
            .iter()
            .filter(|n| n.network_type == crate::NetworkType::Vxlan)
            .filter_map(|n| n.segmentation_id)
            .map(|v| nm.vxlan(v))
            .collect();
        // The ledger names what this data plane made: recorded before making
        // it, so that a crash never leaves an object nobody removes, and
        // consulted before removing, so that another cloud on this host
        // (same names, another state dir) keeps its objects.
        let (want_vlan, mut vlan_failed) = self.wanted_vlans(d);
        let want_vlan_legs: BTreeSet<String> =
            want_vlan.iter().map(|w| nm.vlan_leg(&w.physdev, w.vid as u32)).collect();
        let mut ledger = Ledger::load(&self.settings.state_dir);
        ledger.extend(want_ns.iter().map(|n| format!("ns:{n}")));
        ledger.extend(nets.keys().chain(want_vx.iter()).chain(want_vlan_legs.iter()).map(|l| format!("link:{l}")));
        ledger.extend(want_vlan.iter().map(vlan::Want::ledger_entry));
        ledger.save()?;
        let have_ns = host::namespaces().await?;
        for ns in
            have_ns.iter().filter(|ns| nm.is_ours_ns(ns) && !want_ns.contains(*ns) && ledger.owns(&format!("ns:{ns}")))
        {
            host::delete_namespace(ns).await?;
            rt.loaded.remove(ns);
            rep.actions.push(format!("deleted namespace {ns}"));
        }
        self.remove_stale_dhcp_dirs(&dhcp_nets, &mut rep);
        self.remove_stale_ra_dirs(&routers, &mut rep);
        let mut links = host::links(None).await?;
        let stale: Vec<String> = links
            .keys()
            .filter(|l| {
                ((nm.is_bridge(l) && !nets.contains_key(*l))
                    || (nm.is_vxlan(l) && !want_vx.contains(*l))
                    || (nm.is_vlan_leg(l) && !want_vlan_legs.contains(*l)))
                    && ledger.owns(&format!("link:{l}"))
            })
            .cloned()
            .collect();
        for l in stale {
            host::delete_link(None, &l).await?;
            rep.actions.push(format!("deleted link {l}"));
        }
        vlan_failed.extend(vlan::remove_stale(nm, &mut ledger, &want_vlan, &mut rep).await);
        ledger.save()?;
        if !rep.actions.is_empty() {
            links = host::links(None).await?;
        }

        // From here on one object's failure does not stop the others: it is
        // collected, and the apply fails at the end naming every one.
        let mut failed: Vec<String> = vlan_failed;

        // L2.
        for (br, n) in &nets {
            if let Err(e) = self.ensure_network(&links, br, n, &mut rep).await {
                failed.push(format!("network {}: {e}", n.id));
            }
        }
        links = host::links(None).await?;
        if !want_vlan.is_empty() {
            for w in &want_vlan {
                if let Err(why) = vlan::supported() {
                    rep.pending.push(format!(
                        "VLAN {} on {}: tagging needs tc eBPF (cls_bpf, a bpffs), which does not work here: {why}; the network is local to this host",
                        w.vid, w.physdev
                    ));
                } else if !links.contains_key(&w.physdev) {
                    rep.pending.push(format!("VLAN {}: physical interface {} not found", w.vid, w.physdev));
                } else if let Err(e) = vlan::ensure(nm, &mut ledger, &links, w, &mut rep).await {
                    failed.push(format!("VLAN {} on {}: {e}", w.vid, w.physdev));
                }
            }
            links = host::links(None).await?;
        }
        let mut waiting = Vec::new();
        for p in &d.ports {
            let br = nm.bridge(&p.network_id);
            if !nets.contains_key(&br) {
                failed.push(format!("port {}: network {} is not in the state", p.id, p.network_id));
                continue;
            }
            match links.get(&p.device_name) {
                None => {
                    rep.pending.push(format!("port {}: device {} does not exist yet", p.id, p.device_name));
                    waiting.push((p.device_name.clone(), br.clone(), p.admin_state_up));
                }
                Some(l) => {
                    if l.master.as_deref() != Some(br.as_str()) {
                        if let Err(e) = host::set_master(&p.device_name, &br).await {
                            failed.push(format!("port {}: {e}", p.id));
                            continue;
                        }
                        rep.actions.push(format!("plugged {} into {br}", p.device_name));
                    }
                    if l.up != p.admin_state_up {
                        if let Err(e) = host::set_up(None, &p.device_name, p.admin_state_up).await {
                            failed.push(format!("port {}: {e}", p.id));
                            continue;
                        }
                        rep.actions.push(format!(
                            "set {} {}",
                            p.device_name,
                            if p.admin_state_up { "up" } else { "down" }
                        ));
                    }
                }
            }
        }

        rt.plugger = (!waiting.is_empty()).then(|| spawn_plugger(waiting));

        // Security groups: before DHCP, so a new port is filtered when it first asks for an address.
        if let Err(e) = self.sync_security_groups(rt, d, &mut rep).await {
            failed.push(format!("security groups: {e}"));
        }

        // Namespaces.
        let have_ns = host::namespaces().await?;
        for n in &dhcp_nets {
            if let Err(e) = self.ensure_dhcp(rt, d, n, &links, &have_ns, &mut rep).await {
                failed.push(format!("DHCP of network {}: {e}", n.id));
            }
        }
        for r in &routers {
            if let Err(e) = self.ensure_router(rt, d, r, &links, &have_ns, &mut rep).await {
                failed.push(format!("router {}: {e}", r.id));
            }
        }

        // The external networks seen from the host.
        if let Err(e) = self.sync_external(rt, d, &links, &mut rep).await {
            failed.push(format!("external networks: {e}"));
        }

        // Forget what is gone and not wanted.
        ledger.retain(|e| match e.split_once(':') {
            Some(("ns", n)) => want_ns.contains(n),
            Some(("link", l)) => nets.contains_key(l) || want_vx.contains(l) || want_vlan_legs.contains(l),
            // Removed (and forgotten) by `vlan::remove_stale` once really gone.
            Some(("vlan" | "clsact", _)) => true,
            _ => false,
        });
        ledger.save()?;
        if !failed.is_empty() {
            for a in &rep.actions {
                tracing::info!(action = %a, "data plane change before the failure");
            }
            return Err(Error::Partial(failed));
        }
        Ok(rep)
    }

    /// The VLAN networks on a mapped physical interface, and the ones that
    /// cannot be (no or a bad VLAN id, a bad interface name).
    fn wanted_vlans(&self, d: &HostState) -> (BTreeSet<vlan::Want>, Vec<String>) {
        let mut want = BTreeSet::new();
        let mut bad = Vec::new();
        for n in d.networks.iter().filter(|n| n.network_type == crate::NetworkType::Vlan) {
            let Some(dev) =
                n.physical_network.as_deref().and_then(|p| self.settings.physical_interface_mappings.get(p))
            else {
                continue; // unmapped: local to this host
            };
            match n.segmentation_id {
                Some(v @ 1..=4094) if names::is_safe_ifname(dev) => want.insert(vlan::Want {
                    physdev: dev.clone(),
                    vid: v as u16,
                    bridge: self.names.bridge(&n.id),
                    mtu: n.mtu,
                }),
                Some(v @ 1..=4094) => {
                    bad.push(format!("network {}: bad physical interface name {dev:?} for VLAN {v}", n.id));
                    continue;
                }
                other => {
                    bad.push(format!("network {}: VLAN id {other:?} is not in 1-4094", n.id));
                    continue;
                }
            };
        }
        (want, bad)
    }

    /// A network's bridge, with its VXLAN device or physical interface.
    async fn ensure_network(
        &self,
        links: &BTreeMap<String, host::Link>,
        br: &str,
        n: &Network,
        rep: &mut ApplyReport,
    ) -> Result<(), Error> {
        if !(68..=65535).contains(&n.mtu) {
            return Err(Error::Invalid(format!("network {}: bad MTU {}", n.id, n.mtu)));
        }
        match links.get(br) {
            None => {
                host::add_bridge(br, n.mtu).await?;
                rep.actions.push(format!("created bridge {br}"));
            }
            Some(l) if l.mtu != n.mtu as u64 => {
                cmd::ip(None, &["link", "set", br, "mtu", &n.mtu.to_string()]).await?;
            }
            _ => {}
        }
        if links.get(br).map(|l| l.up) != Some(n.admin_state_up) {
            host::set_up(None, br, n.admin_state_up).await?;
        }
        let physnet_dev = n.physical_network.as_deref().and_then(|p| self.settings.physical_interface_mappings.get(p));
        match n.network_type {
            crate::NetworkType::Vxlan => {
                let Some(vni) = n.segmentation_id else {
                    return Err(Error::Invalid(format!("vxlan network {} has no segmentation_id", n.id)));
                };
                let dev = self.names.vxlan(vni);
                if !links.contains_key(&dev) {
                    let vni_s = vni.to_string();
                    let mut args =
                        vec!["link", "add", dev.as_str(), "type", "vxlan", "id", vni_s.as_str(), "dstport", "4789"];
                    if let Some(local) = &self.settings.vxlan_local_ip {
                        args.extend(["local", local.as_str()]);
                    }
                    cmd::ip(None, &args).await?;
                    cmd::ip(None, &["link", "set", &dev, "mtu", &n.mtu.to_string()]).await?;
                    rep.actions.push(format!("created vxlan {dev}"));
                }
                if links.get(&dev).and_then(|l| l.master.as_deref()) != Some(br) {
                    host::set_master(&dev, br).await?;
                }
                if !links.get(&dev).is_some_and(|l| l.up) {
                    host::set_up(None, &dev, true).await?;
                }
            }
            crate::NetworkType::Flat => {
                if let Some(dev) = physnet_dev {
                    if links.get(dev).is_some_and(|l| l.master.as_deref() != Some(br)) {
                        host::set_master(dev, br).await?;
                        rep.actions.push(format!("plugged {dev} into {br}"));
                    } else if !links.contains_key(dev) {
                        rep.pending.push(format!("network {}: physical interface {dev} not found", n.id));
                    }
                }
            }
            // The VLAN pass of `apply_locked` joins it to its physical interface.
            crate::NetworkType::Vlan | crate::NetworkType::Local => {}
        }
        Ok(())
    }

    /// A veth from `ns` into `bridge`: made (again) when either end is missing.
    #[allow(clippy::too_many_arguments)]
    async fn ensure_leg(
        &self,
        links: &BTreeMap<String, host::Link>,
        ns_links: &BTreeMap<String, host::Link>,
        ns: &str,
        host_dev: &str,
        ns_dev: &str,
        mac: &str,
        bridge: &str,
        mtu: u32,
        rep: &mut ApplyReport,
    ) -> Result<bool, Error> {
        let mac = addr::mac(mac)?;
        let host_end = links.get(host_dev);
        let ns_end = ns_links.get(ns_dev);
        let fresh = host_end.is_none() || ns_end.is_none();
        if fresh {
            if host_end.is_some() {
                host::delete_link(None, host_dev).await?;
            }
            if ns_end.is_some() {
                host::delete_link(Some(ns), ns_dev).await?;
            }
            host::add_veth(host_dev, ns, ns_dev, mtu).await?;
            rep.actions.push(format!("created veth {host_dev} <-> {ns}/{ns_dev}"));
        }
        if fresh || ns_end.is_some_and(|l| l.mac != mac) {
            host::set_mac(Some(ns), ns_dev, &mac).await?;
        }
        if fresh || !ns_end.is_some_and(|l| l.up) {
            host::set_up(Some(ns), ns_dev, true).await?;
        }
        if fresh || host_end.and_then(|l| l.master.as_deref()) != Some(bridge) {
            host::set_master(host_dev, bridge).await?;
        }
        if fresh || !host_end.is_some_and(|l| l.up) {
            host::set_up(None, host_dev, true).await?;
        }
        Ok(fresh)
    }

    fn ra_dir(&self, router_id: &str) -> PathBuf {
        self.settings.state_dir.join("ra").join(router_id)
    }

    /// The router's dnsmasq sending IPv6 router advertisements: started (or
    /// restarted when its command line changes) while it has prefixes to
    /// advertise, stopped and its files removed when not.
    async fn sync_ra(
        &self,
        ns: &str,
        router_id: &str,
        prefixes: &[ra::Prefix],
        rep: &mut ApplyReport,
    ) -> Result<(), Error> {
        let dir = self.ra_dir(router_id);
        let running = read_pid(&dir.join("pid")).filter(|&p| is_our_dnsmasq(p, &dir));
        if prefixes.is_empty() {
            if let Some(pid) = running {
                stop_process(pid).await;
                rep.actions.push(format!("stopped router advertisements in {ns}"));
            }
            let _ = std::fs::remove_dir_all(&dir);
            return Ok(());
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::host(format!("create {}", dir.display()), e))?;
        let args = ra::args(&dir, prefixes);
        let changed = write_if_changed(&dir.join("cmdline"), &args.join("\n"))?;
        if running.is_some() && !changed {
            return Ok(());
        }
        if let Some(pid) = running {
            stop_process(pid).await;
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        cmd::in_ns(ns, "dnsmasq", &args, None).await?;
        rep.actions.push(format!("started router advertisements in {ns}"));
        Ok(())
    }

    /// Files of the advertisements of routers no longer here (their dnsmasq
    /// ended with the namespace; a leftover one is ended here).
    fn remove_stale_ra_dirs(&self, routers: &[&Router], rep: &mut ApplyReport) {
        let Ok(rd) = std::fs::read_dir(self.settings.state_dir.join("ra")) else { return };
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().to_string();
            if !routers.iter().any(|r| r.id == id) {
                if let Some(pid) = read_pid(&e.path().join("pid")).filter(|&p| is_our_dnsmasq(p, &e.path())) {
                    host::signal(pid, libc::SIGTERM);
                }
                if std::fs::remove_dir_all(e.path()).is_ok() {
                    rep.actions.push(format!("removed router advertisement files of router {id}"));
                }
            }
        }
    }

    fn dhcp_dir(&self, network_id: &str) -> PathBuf {
        self.settings.state_dir.join("dhcp").join(network_id)
    }

    /// A DHCP state dir of a network no longer served: its dnsmasq was
    /// ended with its namespace; its files go.
    fn remove_stale_dhcp_dirs(&self, dhcp_nets: &[&Network], rep: &mut ApplyReport) {
        let root = self.settings.state_dir.join("dhcp");
        let Ok(rd) = std::fs::read_dir(&root) else { return };
        for e in rd.flatten() {
            let id = e.file_name().to_string_lossy().to_string();
            if !dhcp_nets.iter().any(|n| n.id == id) {
                if let Some(pid) = read_pid(&e.path().join("pid")) {
                    if is_our_dnsmasq(pid, &e.path()) {
                        host::signal(pid, libc::SIGTERM);
                    }
                }
                if std::fs::remove_dir_all(e.path()).is_ok() {
                    rep.actions.push(format!("removed DHCP files of network {id}"));
                }
            }
        }
    }

    async fn ensure_dhcp(
        &self,
        rt: &mut Runtime,
        d: &HostState,
        n: &Network,
        links: &BTreeMap<String, host::Link>,
        have_ns: &BTreeSet<String>,
        rep: &mut ApplyReport,
    ) -> Result<(), Error> {
        let Some(port) = &n.dhcp_port else { return Ok(()) };
        let ns = self.names.dhcp_ns(&n.id);
        if !have_ns.contains(&ns) {
            // A proxy or NAT table of an earlier namespace of that name is gone with it.
            rt.proxies.remove(&ns);
            rt.loaded.remove(&ns);
            host::add_namespace(&ns).await?;
            // Its addresses are the DHCP port's: none from router advertisements.
            cmd::sysctl_ns(&ns, "net.ipv6.conf.all.accept_ra", "0").await?;
            cmd::sysctl_ns(&ns, "net.ipv6.conf.default.accept_ra", "0").await?;
            rep.actions.push(format!("created namespace {ns}"));
        }
        let ns_links = host::links(Some(&ns)).await?;
        let dev = names::dhcp_dev(&port.id);
        let fresh = self
            .ensure_leg(
                links,
                &ns_links,
                &ns,
                &names::tap(&port.id),
                &dev,
                &port.mac,
                &self.names.bridge(&n.id),
                n.mtu,
                rep,
            )
            .await?;
        let want: BTreeSet<String> =
            port.fixed_ips.iter().map(|f| addr::with_prefix(d, f)).collect::<Result<_, _>>()?;
        let have =
            if fresh { BTreeSet::new() } else { ns_links.get(&dev).map(|l| l.addrs.clone()).unwrap_or_default() };
        if host::sync_addrs(Some(&ns), &dev, &have, &want).await? {
            rep.actions.push(format!("set addresses of {ns}/{dev}"));
        }

        // Metadata for subnets no router serves (the router's proxy answers the others).
        let routed = |subnet_id: &str| {
            let gw = n.subnets.iter().find(|s| s.id == subnet_id).and_then(|s| s.gateway_ip.clone());
            d.routers
                .iter()
                .filter(|r| r.admin_state_up)
                .flat_map(|r| r.interfaces.iter())
                .any(|i| i.fixed_ips.iter().any(|f| f.subnet_id == subnet_id && Some(&f.ip_address) == gw.as_ref()))
        };
        let dhcp_ip =
            |subnet_id: &str| port.fixed_ips.iter().find(|f| f.subnet_id == subnet_id).map(|f| f.ip_address.clone());
        let metadata = d.metadata.url.is_some()
            && n.subnets
                .iter()
                .any(|s| s.enable_dhcp && s.ip_version == 4 && !routed(&s.id) && dhcp_ip(&s.id).is_some());
        self.sync_metadata_address(&ns, &ns_links, metadata).await?;

        let dir = self.dhcp_dir(&n.id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::host(format!("create {}", dir.display()), e))?;
        let cfg = dhcp::config(n, &dir, &dev, &dhcp_ip, &routed, d.metadata.url.is_some())?;
        let files_changed =
            write_if_changed(&dir.join("host"), &cfg.hosts)? | write_if_changed(&dir.join("opts"), &cfg.opts)?;
        let args_changed = write_if_changed(&dir.join("cmdline"), &cfg.args.join("\n"))?;
        let running = read_pid(&dir.join("pid")).filter(|&p| is_our_dnsmasq(p, &dir));
        match running {
            Some(pid) if !args_changed && !fresh => {
                if files_changed {
                    host::signal(pid, libc::SIGHUP);
                    rep.actions.push(format!("reloaded dnsmasq of network {}", n.id));
                }
            }
            _ => {
                if let Some(pid) = running {
                    stop_process(pid).await;
                }
                let args: Vec<&str> = cfg.args.iter().map(String::as_str).collect();
                cmd::in_ns(&ns, "dnsmasq", &args, None).await?;
                rep.actions.push(format!("started dnsmasq for network {}", n.id));
            }
        }

        if metadata {
            let ctx = self.proxy_context(d, None, Some(n.id.clone()), vec![]);
            self.ensure_proxy(rt, &ns, ctx, rep)?;
        } else {
            rt.proxies.remove(&ns);
        }
        Ok(())
    }

    /// 169.254.169.254/32 on the namespace's `lo` while a proxy is wanted there.
    async fn sync_metadata_address(
        &self,
        ns: &str,
        ns_links: &BTreeMap<String, host::Link>,
        on: bool,
    ) -> Result<(), Error> {
        let have = ns_links.get("lo").map(|l| l.addrs.clone()).unwrap_or_default();
        let want: BTreeSet<String> = if on { [format!("{}/32", metadata::ADDRESS)].into() } else { BTreeSet::new() };
        host::sync_addrs(Some(ns), "lo", &have, &want).await.map(|_| ())
    }

    fn proxy_context(
        &self,
        d: &HostState,
        router_id: Option<String>,
        network_id: Option<String>,
        subnets: Vec<(IpNet, String)>,
    ) -> metadata::ProxyContext {
        let ports = d
            .ports
            .iter()
            .flat_map(|p| {
                p.fixed_ips.iter().filter_map(move |f| {
                    Some((
                        p.network_id.clone(),
                        f.ip_address.parse::<IpAddr>().ok()?,
                        p.device_id.clone(),
                        p.project_id.clone(),
                    ))
                })
            })
            .collect();
        metadata::ProxyContext {
            url: d.metadata.url.clone().unwrap_or_default(),
            shared_secret: d.metadata.shared_secret.clone(),
            router_id,
            network_id,
            subnets,
            ports,
        }
    }

    fn ensure_proxy(
        &self,
        rt: &mut Runtime,
        ns: &str,
        ctx: metadata::ProxyContext,
        rep: &mut ApplyReport,
    ) -> Result<(), Error> {
        if let Some(p) = rt.proxies.get(ns) {
            let mut cur = p.ctx.write().unwrap_or_else(|e| e.into_inner());
            if *cur != ctx {
                *cur = ctx;
            }
            return Ok(());
        }
        let addr = SocketAddr::new(metadata::ADDRESS.parse().expect("constant address"), self.settings.metadata_port);
        let listener = metadata::listen_in_namespace(ns, addr)?;
        rt.proxies.insert(ns.to_string(), metadata::start(listener, ctx)?);
        rep.actions.push(format!("started metadata proxy in {ns}"));
        Ok(())
    }

    async fn ensure_router(
        &self,
        rt: &mut Runtime,
        d: &HostState,
        r: &Router,
        links: &BTreeMap<String, host::Link>,
        have_ns: &BTreeSet<String>,
        rep: &mut ApplyReport,
    ) -> Result<(), Error> {
        let ns = self.names.router_ns(&r.id);
        if !have_ns.contains(&ns) {
            rt.proxies.remove(&ns);
            rt.loaded.remove(&ns);
            host::add_namespace(&ns).await?;
            cmd::sysctl_ns(&ns, "net.ipv4.ip_forward", "1").await?;
            cmd::sysctl_ns(&ns, "net.ipv6.conf.all.forwarding", "1").await?;
            rep.actions.push(format!("created namespace {ns}"));
        }
        let ns_links = host::links(Some(&ns)).await?;
        let mut wanted_devs = BTreeSet::new();
        let mut internal: Vec<IpNet> = Vec::new();
        let mut subnets = Vec::new();
        for i in &r.interfaces {
            let n = d
                .network(&i.network_id)
                .ok_or_else(|| Error::Invalid(format!("router {}: network {} not in the state", r.id, i.network_id)))?;
            let dev = names::router_if_dev(&i.port_id);
            let fresh = self
                .ensure_leg(
                    links,
                    &ns_links,
                    &ns,
                    &names::tap(&i.port_id),
                    &dev,
                    &i.mac,
                    &self.names.bridge(&n.id),
                    n.mtu,
                    rep,
                )
                .await?;
            let want: BTreeSet<String> =
                i.fixed_ips.iter().map(|f| addr::with_prefix(d, f)).collect::<Result<_, _>>()?;
            for w in &want {
                let net = addr::net(w)?.trunc();
                if matches!(net, IpNet::V4(_)) {
                    internal.push(net);
                }
                subnets.push((net, n.id.clone()));
            }
            let have =
                if fresh { BTreeSet::new() } else { ns_links.get(&dev).map(|l| l.addrs.clone()).unwrap_or_default() };
            host::sync_addrs(Some(&ns), &dev, &have, &want).await?;
            wanted_devs.insert(dev);
        }
        let ra_prefixes = ra_prefixes(d, r);
        let mut routes = BTreeMap::new();
        let mut plan = nat::NatPlan { gw_dev: None, snat_to: None, internal, floating: vec![] };
        let gw_dev;
        if let Some(g) = &r.gateway {
            let n = d.network(&g.network_id).ok_or_else(|| {
                Error::Invalid(format!("router {}: external network {} not in the state", r.id, g.network_id))
            })?;
            gw_dev = names::router_gw_dev(&g.port_id);
            let fresh = self
                .ensure_leg(
                    links,
                    &ns_links,
                    &ns,
                    &names::tap(&g.port_id),
                    &gw_dev,
                    &g.mac,
                    &self.names.bridge(&n.id),
                    n.mtu,
                    rep,
                )
                .await?;
            let mut want: BTreeSet<String> =
                g.fixed_ips.iter().map(|f| addr::with_prefix(d, f)).collect::<Result<_, _>>()?;
            for f in &r.floating_ips {
                want.insert(format!("{}/32", addr::ip(&f.floating_ip_address)?));
                plan.floating.push((f.floating_ip_address.clone(), f.fixed_ip_address.clone()));
            }
            let have = if fresh {
                BTreeSet::new()
            } else {
                ns_links.get(&gw_dev).map(|l| l.addrs.clone()).unwrap_or_default()
            };
            host::sync_addrs(Some(&ns), &gw_dev, &have, &want).await?;
            for f in &g.fixed_ips {
                let Some(sn) = d.subnet(&f.subnet_id) else { continue };
                if let Some(gw) = sn.gateway_ip.as_deref().filter(|x| !x.is_empty()) {
                    if sn.ip_version == 4 {
                        routes.insert("default".to_string(), addr::ip(gw)?.to_string());
                        if g.enable_snat && plan.snat_to.is_none() {
                            plan.snat_to = Some(f.ip_address.clone());
                        }
                    }
                }
            }
            plan.gw_dev = Some(gw_dev.as_str());
            wanted_devs.insert(gw_dev.clone());
        }
        for rt_ in &r.routes {
            routes.insert(route_key(&rt_.destination)?, addr::ip(&rt_.nexthop)?.to_string());
        }
        // Legs of interfaces removed from the router.
        for dev in
            ns_links.keys().filter(|l| (l.starts_with("qr-") || l.starts_with("qg-")) && !wanted_devs.contains(*l))
        {
            host::delete_link(Some(&ns), dev).await?;
            rep.actions.push(format!("deleted {ns}/{dev}"));
        }
        if host::sync_routes(&ns, &routes).await? {
            rep.actions.push(format!("set routes of {ns}"));
        }
        let script = nat::render(&plan)?;
        if rt.loaded.get(&ns) != Some(&script) {
            cmd::nft_load(Some(&ns), &script).await?;
            rt.loaded.insert(ns.clone(), script);
            rep.actions.push(format!("loaded NAT of {ns}"));
        }
        self.sync_ra(&ns, &r.id, &ra_prefixes, rep).await?;
        let metadata = d.metadata.url.is_some() && !r.interfaces.is_empty();
        self.sync_metadata_address(&ns, &ns_links, metadata).await?;
        if metadata {
            let ctx = self.proxy_context(d, Some(r.id.clone()), None, subnets);
            self.ensure_proxy(rt, &ns, ctx, rep)?;
        } else {
            rt.proxies.remove(&ns);
        }
        Ok(())
    }

    async fn sync_security_groups(&self, rt: &mut Runtime, d: &HostState, rep: &mut ApplyReport) -> Result<(), Error> {
        // Zones from the network id: stable while networks come and go.
        let zones: Vec<(String, u16)> = d
            .networks
            .iter()
            .filter(|n| !n.is_external)
            .map(|n| {
                (
                    self.names.bridge(&n.id),
                    (n.id.bytes().fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619)) % 65000 + 1) as u16,
                )
            })
            .collect();
        let script =
            sg::render(d, &self.names.sg_bridge_table(), &self.names.sg_inet_table(), self.names.mark_tag(), &zones)?;
        if rt.loaded.get("host:sg") == Some(&script) {
            // Unchanged: load again only if someone removed our tables meanwhile.
            let filtered = d.ports.iter().any(|p| p.port_security_enabled);
            let tables = cmd::nft_tables(None).await?;
            let present = tables.iter().any(|(f, t)| f == "inet" && *t == self.names.sg_inet_table())
                && tables.iter().any(|(f, t)| f == "bridge" && *t == self.names.sg_bridge_table());
            if present == filtered {
                return Ok(());
            }
        }
        if d.ports.iter().any(|p| p.port_security_enabled) {
            ensure_bridge_netfilter(rep);
        }
        if let Some(path) = std::env::var_os("RUSTACK_NETPLANE_DUMP_NFT") {
            // Debugging aid (docs/dataplane.md): the last security-group script.
            let _ = std::fs::write(path, &script);
        }
        cmd::nft_load(None, &script).await?;
        rt.loaded.insert("host:sg".into(), script);
        rep.actions.push("loaded security groups".into());
        Ok(())
    }

    /// The host's view of external networks: the subnets' gateway addresses
    /// on their bridges, and masquerading to the uplink when configured.
    async fn sync_external(
        &self,
        rt: &mut Runtime,
        d: &HostState,
        links: &BTreeMap<String, host::Link>,
        rep: &mut ApplyReport,
    ) -> Result<(), Error> {
        let mut ext_nets = Vec::new();
        for n in d.networks.iter().filter(|n| n.is_external) {
            let br = self.names.bridge(&n.id);
            let mut want = BTreeSet::new();
            for s in n.subnets.iter().filter(|s| s.ip_version == 4) {
                let net = addr::net(&s.cidr)?;
                ext_nets.push(net.trunc());
                if let (true, Some(gw)) =
                    (self.settings.external_host_gateway, s.gateway_ip.as_deref().filter(|g| !g.is_empty()))
                {
                    want.insert(format!("{}/{}", addr::ip(gw)?, net.prefix_len()));
                }
            }
            let have = links.get(&br).map(|l| l.addrs.clone()).unwrap_or_default();
            if host::sync_addrs(None, &br, &have, &want).await? {
                rep.actions.push(format!("set host addresses of {br}"));
            }
        }
        let uplink = self.settings.masquerade_uplink.as_deref();
        if let Some(u) = uplink {
            if !names::is_safe_ifname(u) {
                return Err(Error::Invalid(format!("bad uplink name {u:?}")));
            }
        }
        let script = nat::render_uplink(&self.names.ext_table(), uplink, &ext_nets);
        if rt.loaded.get("host:ext") != Some(&script) {
            if uplink.is_some() && !ext_nets.is_empty() {
                cmd::run("sysctl", &["-qw", "net.ipv4.ip_forward=1"]).await?;
            }
            cmd::nft_load(None, &script).await?;
            rt.loaded.insert("host:ext".into(), script);
        }
        Ok(())
    }
}

/// Bridged IP traffic reaches the stateful rules only through br_netfilter.
fn ensure_bridge_netfilter(rep: &mut ApplyReport) {
    for k in ["bridge-nf-call-iptables", "bridge-nf-call-ip6tables"] {
        let path = format!("/proc/sys/net/bridge/{k}");
        match std::fs::read_to_string(&path) {
            Ok(v) if v.trim() == "1" => {}
            Ok(_) => {
                if std::fs::write(&path, "1").is_ok() {
                    rep.actions.push(format!("set net.bridge.{k}=1 (security groups need it)"));
                } else {
                    rep.pending.push(format!("cannot set net.bridge.{k}=1: security groups are not enforced"));
                }
            }
            Err(_) => rep.pending.push("br_netfilter is not available: security groups are not enforced".into()),
        }
    }
}

/// What this data plane made on the host (`ns:NAME`, `link:NAME`), kept
/// in `<state dir>/owned.json`.
struct Ledger {
    path: PathBuf,
    entries: BTreeSet<String>,
    saved: Option<BTreeSet<String>>,
}

impl Ledger {
    fn load(state_dir: &std::path::Path) -> Ledger {
        let path = state_dir.join("owned.json");
        let entries: Option<BTreeSet<String>> = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
        Ledger { path, saved: entries.clone(), entries: entries.unwrap_or_default() }
    }
    fn owns(&self, entry: &str) -> bool {
        self.entries.contains(entry)
    }
    fn extend(&mut self, it: impl Iterator<Item = String>) {
        self.entries.extend(it);
    }
    fn retain(&mut self, f: impl Fn(&str) -> bool) {
        self.entries.retain(|e| f(e));
    }
    fn save(&mut self) -> Result<(), Error> {
        if self.saved.as_ref() == Some(&self.entries) {
            return Ok(());
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::host(format!("create {}", dir.display()), e))?;
        }
        let json = serde_json::to_string_pretty(&self.entries).map_err(|e| Error::host("ledger", e))?;
        write_if_changed(&self.path, &json)?;
        self.saved = Some(self.entries.clone());
        Ok(())
    }
}

fn write_if_changed(path: &std::path::Path, content: &str) -> Result<bool, Error> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(content) {
        return Ok(false);
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).map_err(|e| Error::host(format!("write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::host(format!("rename {}", path.display()), e))?;
    Ok(true)
}

fn read_pid(path: &std::path::Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Whether `pid` is a dnsmasq started with files in `dir` (not a reused pid).
fn is_our_dnsmasq(pid: i32, dir: &std::path::Path) -> bool {
    host::alive(pid)
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains("dnsmasq") && c.contains(&*dir.to_string_lossy())
            })
            .unwrap_or(false)
}

async fn stop_process(pid: i32) {
    host::signal(pid, libc::SIGTERM);
    for _ in 0..50 {
        if !host::alive(pid) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    host::signal(pid, libc::SIGKILL);
}
