//! The hypervisor driver boundary: what a compute agent asks of the host.
//! `fake` keeps instances in memory; `qemu` runs real virtual machines
//! through `rustack_qemu::Vmm` (docs/qemu.md).

pub mod fake;
mod host_info;
mod image_cache;
pub mod qemu;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use rustack_common::Error;
use rustack_http::token_layer::BoxFuture;
use rustack_http::RequestContext;

use crate::model::Resources;

/// One network interface of an instance: a port of the network service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicSpec {
    pub port_id: String,
    pub mac: String,
}

/// What the agent hands the driver to build an instance.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    pub uuid: String,
    pub name: String,
    pub resources: Resources,
    /// The flavor's root disk (GB); 0: the image's own size.
    pub root_gb: i64,
    pub image_ref: String,
    pub user_data: Option<String>,
    /// The caller, for fetching the image from the image service.
    pub ctx: Option<Arc<RequestContext>>,
    pub nics: Vec<NicSpec>,
    /// The files of a config drive, when the instance gets one.
    pub config_drive: Option<BTreeMap<String, Vec<u8>>>,
}

/// A disk snapshot, as the driver made it.
#[derive(Debug)]
pub enum SnapshotData {
    /// Small enough to hold (the fake driver).
    Bytes(Vec<u8>),
    /// A file to stream to the image service; the caller removes it after.
    File(PathBuf),
}

/// Nova's standardized server diagnostics (compute API 2.48) as a driver
/// measures them; `None` where it cannot tell. Serializes as Nova's body.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnostics {
    /// pending, running, paused, shutdown, crashed or suspended.
    pub state: &'static str,
    /// Nova's enum of driver names (libvirt, xenapi, vmwareapi, ironic,
    /// hyperv): a QEMU hypervisor is "libvirt" there, the only value that
    /// names one.
    pub driver: &'static str,
    pub hypervisor: Option<String>,
    pub hypervisor_os: Option<String>,
    /// Seconds since the guest's process started.
    pub uptime: Option<i64>,
    pub config_drive: bool,
    pub num_cpus: i64,
    pub num_nics: i64,
    pub num_disks: i64,
    pub memory_details: MemoryDetails,
    pub cpu_details: Vec<CpuDetails>,
    pub nic_details: Vec<NicDetails>,
    pub disk_details: Vec<DiskDetails>,
}

/// Memory in MiB: what the guest was given, and what it takes on the host.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MemoryDetails {
    pub maximum: Option<i64>,
    pub used: Option<i64>,
}

/// One virtual CPU: its CPU time in nanoseconds and utilisation in percent.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CpuDetails {
    pub id: Option<i64>,
    pub time: Option<i64>,
    pub utilisation: Option<i64>,
}

/// One NIC's counters, from the guest's side (rx: what the guest received).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct NicDetails {
    pub mac_address: Option<String>,
    pub rx_octets: Option<i64>,
    pub rx_errors: Option<i64>,
    pub rx_drop: Option<i64>,
    pub rx_packets: Option<i64>,
    pub rx_rate: Option<i64>,
    pub tx_octets: Option<i64>,
    pub tx_errors: Option<i64>,
    pub tx_drop: Option<i64>,
    pub tx_packets: Option<i64>,
    pub tx_rate: Option<i64>,
}

/// One disk's counters.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct DiskDetails {
    pub read_bytes: Option<i64>,
    pub read_requests: Option<i64>,
    pub write_bytes: Option<i64>,
    pub write_requests: Option<i64>,
    pub errors_count: Option<i64>,
}

/// The diagnostics `state` of a Nova power state code (`model::power`).
pub fn diagnostics_state(power: i64) -> &'static str {
    match power {
        1 => "running",
        3 => "paused",
        4 => "shutdown",
        6 => "crashed",
        7 => "suspended",
        _ => "pending",
    }
}

/// A host's capacity, reported as placement inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostResources {
    pub vcpus: i64,
    pub memory_mb: i64,
    pub disk_gb: i64,
}

pub trait HypervisorDriver: Send + Sync + 'static {
    /// The host name this driver runs (the resource provider's name).
    fn host(&self) -> &str;
    fn host_resources(&self) -> HostResources;
    fn spawn<'a>(&'a self, spec: &'a SpawnSpec) -> BoxFuture<'a, Result<(), Error>>;
    /// Removing an instance the driver does not know is not an error.
    fn destroy<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    fn reboot<'a>(&'a self, uuid: &'a str, hard: bool) -> BoxFuture<'a, Result<(), Error>>;
    fn power_on<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    fn power_off<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    fn pause<'a>(&'a self, uuid: &'a str, pause: bool) -> BoxFuture<'a, Result<(), Error>>;
    fn suspend<'a>(&'a self, uuid: &'a str, suspend: bool) -> BoxFuture<'a, Result<(), Error>>;
    /// Resizes in place (one host per resize): new vCPUs/RAM, the root disk
    /// grown to `root_gb` (never shrunk); the power state is kept.
    fn resize<'a>(&'a self, uuid: &'a str, resources: Resources, root_gb: i64) -> BoxFuture<'a, Result<(), Error>>;
    /// Rebuilds the instance from `spec.image_ref` (a fresh root disk; the
    /// NICs and the config drive kept); the instance runs afterwards. The
    /// fake driver destroys and spawns.
    fn rebuild<'a>(&'a self, spec: &'a SpawnSpec) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.destroy(&spec.uuid).await?;
            self.spawn(spec).await
        })
    }
    /// A snapshot of the instance's root disk.
    fn snapshot<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<SnapshotData, Error>>;
    /// Boots the instance from `spec.image_ref` with its own disk attached
    /// second; the fake driver only reboots.
    fn rescue<'a>(&'a self, spec: &'a SpawnSpec) -> BoxFuture<'a, Result<(), Error>> {
        self.reboot(&spec.uuid, true)
    }
    fn unrescue<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        self.reboot(uuid, true)
    }
    /// Plugs a port into the instance (hot-plug when it runs).
    fn attach_interface<'a>(&'a self, _uuid: &'a str, _nic: &'a NicSpec) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
    /// Unplugs a port; one the instance does not have is not an error.
    fn detach_interface<'a>(&'a self, _uuid: &'a str, _port_id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
    /// The power state Nova would record (`model::power`); None when the
    /// driver does not know the instance.
    fn power_state(&self, uuid: &str) -> Option<i64>;
    /// Every instance the driver runs (re-adoption after a restart).
    fn instances(&self) -> Vec<String>;
    fn console_output(&self, uuid: &str) -> Option<String>;
    /// What the hypervisor tells of a running instance; None when the driver
    /// does not know it.
    fn diagnostics(&self, uuid: &str) -> Option<Diagnostics>;
    /// The instance's VNC server as a Unix socket, for the console proxy;
    /// None when the driver has no graphical console for it.
    fn vnc_socket(&self, uuid: &str) -> Option<std::path::PathBuf>;
    /// At agent start: finds what the host still runs and removes whatever
    /// is not one of `known` (the instances the database places here). The
    /// fake driver has nothing on the host.
    fn adopt_host<'a>(&'a self, _known: &'a [String]) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async { Ok(()) })
    }
    /// Takes back an instance the database says runs here, after an agent
    /// restart; the fake driver recreates it in `power_state`.
    fn adopt(&self, spec: &SpawnSpec, power_state: i64);
}
