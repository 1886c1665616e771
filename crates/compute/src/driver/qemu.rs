//! The QEMU driver: one `rustack_qemu::Vmm` over the instances dir of this
//! machine, images from the per-host cache (`image_cache`), NICs on taps
//! named as the network data plane names them (`tap` + 11 characters of
//! the port id; its plugger enslaves the tap to the network's bridge), a
//! config drive when asked (or forced), VNC on a Unix socket. Each action
//! keeps Nova's libvirt driver's meaning: stop is the ACPI button then a
//! kill after `shutdown_timeout`, a hard reboot is a fresh QEMU, a soft one
//! a clean power-off and a fresh QEMU, snapshot a flattened qcow2 file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustack_common::Error;
use rustack_http::token_layer::BoxFuture;
use rustack_http::RequestContext;
use rustack_qemu::{Accel, DiskFormat, KernelBoot, Nic, PowerState, RootDisk, VmSpec, Vmm};

use super::image_cache::{CachedImage, ImageCache};
use super::{
    diagnostics_state, host_info, CpuDetails, Diagnostics, DiskDetails, HostResources, HypervisorDriver, MemoryDetails,
    NicDetails, NicSpec, SnapshotData, SpawnSpec,
};
use crate::config::QemuConfig;
use crate::model::Resources;
use crate::peers::Images;

/// Free PCIe root ports each VM gets for interface hot-plug.
const SPARE_PCIE_PORTS: u32 = 4;
/// How much of the serial console `console_output` returns at most.
const CONSOLE_MAX: u64 = 1 << 20;
/// How long a guest may take to release a hot-unplugged NIC.
const DETACH_TIMEOUT: Duration = Duration::from_secs(30);
/// The kernel command line of a direct kernel boot when the image has no
/// `os_command_line` (Nova's libvirt default).
const DEFAULT_CMDLINE: &str = "root=/dev/vda console=tty0 console=ttyS0";

/// The network data plane's tap name for a port (Neutron's: `tap` + the
/// first 11 characters of the port id).
pub fn tap_name(port_id: &str) -> String {
    format!("tap{}", port_id.chars().take(11).collect::<String>())
}

pub struct QemuDriver {
    host: String,
    vmm: Vmm,
    cache: ImageCache,
    accel: Accel,
    resources: HostResources,
    shutdown_timeout: Duration,
}

impl QemuDriver {
    /// The driver of this machine: the instances dir and the image cache
    /// made, the accelerator chosen (`virt_type`; `auto` probes KVM once per
    /// host boot, cached in `<data dir>/kvm-probe`).
    pub async fn open(cfg: &QemuConfig, data_dir: &Path, images: Arc<dyn Images>) -> Result<QemuDriver, Error> {
        let abs = |p: PathBuf| if p.is_absolute() { p } else { data_dir.join(p) };
        let instances = abs(cfg.instances_path.clone().unwrap_or_else(|| data_dir.join("instances")));
        let cache_dir = abs(cfg.image_cache_path.clone().unwrap_or_else(|| data_dir.join("image-cache")));
        let vmm = Vmm::new(&instances)?;
        let cache = ImageCache::new(&cache_dir, images)?;
        let kernel = rustack_qemu::kvm::default_probe_kernel();
        let accel = rustack_qemu::kvm::choose(&cfg.virt_type, &data_dir.join("kvm-probe"), kernel.as_deref()).await?;
        let host = cfg.host.clone().unwrap_or_else(host_info::hostname);
        let resources = host_info::resources(vmm.root(), cfg.reserved_host_memory_mb);
        tracing::info!(host, accel = accel.as_str(), instances = %vmm.root().display(), ?resources, "QEMU driver ready");
        Ok(QemuDriver { host, vmm, cache, accel, resources, shutdown_timeout: cfg.shutdown_timeout })
    }

    pub fn vmm(&self) -> &Vmm {
        &self.vmm
    }

    pub fn accel(&self) -> Accel {
        self.accel
    }

    /// A cached image as a root disk of `size_bytes` (0: the image's size).
    fn root_disk(image: &CachedImage, image_id: &str, size_bytes: u64) -> Result<RootDisk, Error> {
        let format = match image.disk_format.as_str() {
            "ami" => Some(DiskFormat::Raw),
            f => DiskFormat::from_glance(f),
        }
        .ok_or_else(|| {
            Error::bad_request(format!(
                "Image {image_id} has disk_format {:?}; this host boots raw and qcow2 images.",
                image.disk_format
            ))
        })?;
        Ok(RootDisk { base: image.path.clone(), base_format: format, size_bytes })
    }

    /// The image's root disk and, for an image with `kernel_id` (AKI/ARI),
    /// the kernel boot; each file fetched into the cache once.
    async fn boot_files(
        &self,
        ctx: Option<&RequestContext>,
        image_id: &str,
        size_bytes: u64,
    ) -> Result<(RootDisk, Option<KernelBoot>), Error> {
        let image = self.cache.get(ctx, image_id).await?;
        let root = Self::root_disk(&image, image_id, size_bytes)?;
        let prop = |k: &str| image.properties.get(k).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let kernel = match prop("kernel_id") {
            None => None,
            Some(kid) => {
                let k = self.cache.get(ctx, &kid).await?;
                let initrd = match prop("ramdisk_id") {
                    Some(rid) => Some(self.cache.get(ctx, &rid).await?.path),
                    None => None,
                };
                Some(KernelBoot {
                    kernel: k.path,
                    initrd,
                    cmdline: prop("os_command_line").unwrap_or_else(|| DEFAULT_CMDLINE.to_string()),
                })
            }
        };
        Ok((root, kernel))
    }

    fn nic(n: &NicSpec) -> Nic {
        Nic { id: n.port_id.clone(), tap: tap_name(&n.port_id), mac: n.mac.clone(), bridge: None }
    }

    fn known(&self, uuid: &str) -> bool {
        self.vmm.instances().iter().any(|i| i == uuid)
    }

    /// Runs `f` with the guest powered off, then powers it on again if it
    /// was running (resize).
    async fn while_off(&self, uuid: &str) -> Result<bool, Error> {
        let was = self.vmm.power_state(uuid).await?;
        let running = matches!(was, PowerState::Running | PowerState::Paused | PowerState::Crashed);
        if running {
            self.vmm.stop(uuid, self.shutdown_timeout).await?;
        }
        Ok(running)
    }
}

fn gib(gb: i64) -> u64 {
    (gb.max(0) as u64) << 30
}

impl HypervisorDriver for QemuDriver {
    fn host(&self) -> &str {
        &self.host
    }

    fn host_resources(&self) -> HostResources {
        self.resources
    }

    fn spawn<'a>(&'a self, spec: &'a SpawnSpec) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let t0 = std::time::Instant::now();
            let (root, kernel) = self.boot_files(spec.ctx.as_deref(), &spec.image_ref, gib(spec.root_gb)).await?;
            let paths = self.vmm.paths(&spec.uuid);
            let config_drive = match &spec.config_drive {
                Some(files) => {
                    std::fs::create_dir_all(&paths.dir).map_err(|e| Error::internal(&e))?;
                    rustack_qemu::configdrive::build(files, &paths.config_drive).await?;
                    Some(paths.config_drive.clone())
                }
                None => None,
            };
            let vm = VmSpec {
                id: spec.uuid.clone(),
                name: spec.name.clone(),
                vcpus: spec.resources.vcpu.clamp(1, 64) as u32,
                memory_mib: spec.resources.memory_mb.max(32) as u64,
                root_disk: root,
                kernel,
                nics: spec.nics.iter().map(Self::nic).collect(),
                config_drive,
                spare_pcie_ports: SPARE_PCIE_PORTS,
                accel: self.accel,
                vnc: true,
            };
            if let Err(e) = self.vmm.spawn(vm).await {
                // a config drive built before the failed spawn must not stay
                let _ = self.vmm.destroy(&spec.uuid).await;
                return Err(e.into());
            }
            tracing::info!(instance = %spec.uuid, ms = t0.elapsed().as_millis() as u64, "QEMU started");
            Ok(())
        })
    }

    fn destroy<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(self.vmm.destroy(uuid).await?) })
    }

    fn reboot<'a>(&'a self, uuid: &'a str, hard: bool) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if hard {
                Ok(self.vmm.hard_reboot(uuid).await?)
            } else {
                Ok(self.vmm.reboot_soft(uuid, self.shutdown_timeout).await?)
            }
        })
    }

    fn power_on<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(self.vmm.start(uuid).await?) })
    }

    fn power_off<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(self.vmm.stop(uuid, self.shutdown_timeout).await?) })
    }

    fn pause<'a>(&'a self, uuid: &'a str, pause: bool) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if pause {
                Ok(self.vmm.pause(uuid).await?)
            } else {
                Ok(self.vmm.unpause(uuid).await?)
            }
        })
    }

    fn suspend<'a>(&'a self, uuid: &'a str, suspend: bool) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if suspend {
                Ok(self.vmm.suspend(uuid).await?)
            } else {
                Ok(self.vmm.resume(uuid).await?)
            }
        })
    }

    fn resize<'a>(&'a self, uuid: &'a str, resources: Resources, root_gb: i64) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let was_running = self.while_off(uuid).await?;
            let vcpus = resources.vcpu.clamp(1, 64) as u32;
            let resized = self.vmm.resize(uuid, vcpus, resources.memory_mb.max(32) as u64, gib(root_gb)).await;
            if was_running {
                self.vmm.start(uuid).await?;
            }
            Ok(resized?)
        })
    }

    fn rebuild<'a>(&'a self, spec: &'a SpawnSpec) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let (root, kernel) = self.boot_files(spec.ctx.as_deref(), &spec.image_ref, gib(spec.root_gb)).await?;
            self.vmm.stop(&spec.uuid, self.shutdown_timeout).await?;
            self.vmm.replace_root_disk(&spec.uuid, root, kernel).await?;
            Ok(self.vmm.start(&spec.uuid).await?)
        })
    }

    fn snapshot<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<SnapshotData, Error>> {
        Box::pin(async move { Ok(SnapshotData::File(self.vmm.snapshot(uuid).await?)) })
    }

    fn rescue<'a>(&'a self, spec: &'a SpawnSpec) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let (root, kernel) = self.boot_files(spec.ctx.as_deref(), &spec.image_ref, 0).await?;
            Ok(self.vmm.rescue(&spec.uuid, root, kernel).await?)
        })
    }

    fn unrescue<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(self.vmm.unrescue(uuid).await?) })
    }

    fn attach_interface<'a>(&'a self, uuid: &'a str, nic: &'a NicSpec) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move { Ok(self.vmm.attach_nic(uuid, Self::nic(nic)).await?) })
    }

    fn detach_interface<'a>(&'a self, uuid: &'a str, port_id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if !self.vmm.spec(uuid)?.nics.iter().any(|n| n.id == port_id) {
                return Ok(());
            }
            match self.vmm.detach_nic(uuid, port_id, DETACH_TIMEOUT).await {
                // the guest did not let go of the device (still booting, or no
                // hot-plug support): its state, not a failure of the host
                Err(rustack_qemu::Error::Timeout(_)) => Err(Error::conflict(format!(
                    "Unable to detach the interface {port_id} from instance {uuid}: the guest did not release it \
                     within {} s; try again once it has booted.",
                    DETACH_TIMEOUT.as_secs()
                ))),
                r => Ok(r?),
            }
        })
    }

    fn power_state(&self, uuid: &str) -> Option<i64> {
        self.vmm.power_state_now(uuid).ok().map(PowerState::nova_code)
    }

    fn instances(&self) -> Vec<String> {
        self.vmm.instances()
    }

    fn console_output(&self, uuid: &str) -> Option<String> {
        self.vmm.console_log(uuid, CONSOLE_MAX).ok()
    }

    fn vnc_socket(&self, uuid: &str) -> Option<PathBuf> {
        self.known(uuid).then(|| self.vmm.paths(uuid).vnc)
    }

    /// From the VM's spec and what the host shows of its QEMU process
    /// (/proc) and taps (/sys/class/net); QMP is the Vmm's alone, so the
    /// per-vCPU and per-disk counters are left unknown.
    fn diagnostics(&self, uuid: &str) -> Option<Diagnostics> {
        let spec = self.vmm.spec(uuid).ok()?;
        let power = self.vmm.power_state_now(uuid).ok()?.nova_code();
        let pid = self.vmm.pid(uuid).ok().flatten();
        let nic_details: Vec<NicDetails> = spec.nics.iter().map(|n| proc_stats::tap(&n.tap, &n.mac)).collect();
        let num_disks = 1 + i64::from(spec.config_drive.is_some());
        Some(Diagnostics {
            state: diagnostics_state(power),
            driver: "libvirt",
            // Nova's libvirt driver names its virt_type here
            hypervisor: Some(match self.accel {
                Accel::Kvm => "kvm".into(),
                Accel::Tcg => "qemu".into(),
            }),
            hypervisor_os: Some("linux".into()),
            uptime: pid.and_then(proc_stats::uptime),
            config_drive: spec.config_drive.is_some(),
            num_cpus: i64::from(spec.vcpus),
            num_nics: nic_details.len() as i64,
            num_disks,
            memory_details: MemoryDetails {
                maximum: Some(spec.memory_mib as i64),
                used: Some(pid.and_then(proc_stats::rss_mib).unwrap_or(0)),
            },
            cpu_details: (0..i64::from(spec.vcpus))
                .map(|id| CpuDetails { id: Some(id), time: None, utilisation: None })
                .collect(),
            nic_details,
            disk_details: (0..num_disks).map(|_| DiskDetails::default()).collect(),
        })
    }

    fn adopt_host<'a>(&'a self, known: &'a [String]) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let found = self.vmm.adopt_all().await?;
            let reaped = self.vmm.kill_orphans(known).await?;
            tracing::info!(
                host = %self.host,
                running = found.running.len(),
                stopped = found.stopped.len(),
                suspended = found.suspended.len(),
                reaped = reaped.len(),
                "QEMU instances adopted"
            );
            Ok(())
        })
    }

    fn adopt(&self, _spec: &SpawnSpec, _power_state: i64) {
        // `adopt_host` found whatever still exists; an instance with no VM
        // left shows as NOSTATE and the reconciler records it shut off.
    }
}

/// What Linux shows of a QEMU process and its taps.
mod proc_stats {
    use super::NicDetails;

    /// Linux's USER_HZ: the unit of /proc/<pid>/stat times on every
    /// architecture QEMU guests run on here (x86-64, arm64).
    const USER_HZ: f64 = 100.0;

    /// Seconds since the process started.
    pub fn uptime(pid: i32) -> Option<i64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // fields after the command (which may hold spaces) end with ')'
        let rest = stat.rsplit_once(')')?.1;
        // starttime is field 22; `rest` starts at field 3
        let start: f64 = rest.split_whitespace().nth(19)?.parse().ok()?;
        let up: f64 = std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()?;
        Some((up - start / USER_HZ).max(0.0) as i64)
    }

    /// Resident memory in MiB.
    pub fn rss_mib(pid: i32) -> Option<i64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let kib: i64 =
            status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
        Some(kib / 1024)
    }

    /// A tap's counters turned to the guest's side: what the host's tap
    /// sends, the guest receives.
    pub fn tap(tap: &str, mac: &str) -> NicDetails {
        let read = |name: &str| -> Option<i64> {
            std::fs::read_to_string(format!("/sys/class/net/{tap}/statistics/{name}")).ok()?.trim().parse().ok()
        };
        NicDetails {
            mac_address: Some(mac.to_string()),
            rx_octets: read("tx_bytes"),
            rx_errors: read("tx_errors"),
            rx_drop: read("tx_dropped"),
            rx_packets: read("tx_packets"),
            tx_octets: read("rx_bytes"),
            tx_errors: read("rx_errors"),
            tx_drop: read("rx_dropped"),
            tx_packets: read("rx_packets"),
            ..NicDetails::default()
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A caller for the driver's fetches in unit tests.
    pub fn test_context() -> RequestContext {
        RequestContext::from_token_json(&serde_json::json!({
            "user": {"id": "u1", "name": "u", "domain": {"id": "default", "name": "Default"}},
            "project": {"id": "p1", "name": "p", "domain": {"id": "default", "name": "Default"}},
            "expires_at": "2099-01-01T00:00:00.000000Z",
        }))
        .expect("a token body")
    }

    #[test]
    fn taps_are_named_as_the_data_plane_names_them() {
        assert_eq!(tap_name("0123456789abcdef-0000"), "tap0123456789a");
        assert_eq!(tap_name("0123456789abcdef-0000").len(), 14);
    }

    #[test]
    fn only_raw_and_qcow2_boot() {
        let img = |f: &str| CachedImage { path: "/x".into(), disk_format: f.into(), properties: Default::default() };
        assert_eq!(QemuDriver::root_disk(&img("qcow2"), "i", 0).unwrap().base_format, DiskFormat::Qcow2);
        assert_eq!(QemuDriver::root_disk(&img("ami"), "i", 0).unwrap().base_format, DiskFormat::Raw);
        assert_eq!(QemuDriver::root_disk(&img("iso"), "i", 0).unwrap_err().status(), 400);
    }

    /// The diagnostics' host-side readings, on this test process and the
    /// loopback device (a tap's counters are read the same way).
    #[test]
    fn diagnostics_read_a_process_and_a_device() {
        let me = std::process::id() as i32;
        let up = proc_stats::uptime(me).expect("uptime of this process");
        assert!((0..3600).contains(&up), "{up}");
        assert!(proc_stats::rss_mib(me).expect("rss of this process") > 0);
        assert_eq!(proc_stats::uptime(i32::MAX), None);
        let lo = proc_stats::tap("lo", "52:54:00:00:00:01");
        assert_eq!(lo.mac_address.as_deref(), Some("52:54:00:00:00:01"));
        assert!(lo.rx_octets.is_some() && lo.tx_packets.is_some(), "{lo:?}");
        let none = proc_stats::tap("tapnosuchdev0", "52:54:00:00:00:02");
        assert_eq!(none.rx_octets, None);
    }
}
