//! The `[compute]` options, read once at open (docs/config-compute.md).

use std::time::Duration;

use rustack_common::config::{ConfigError, Ini};
use rustack_http::microversion::Version;

use crate::local_placement::Ratios;

/// Which hypervisor driver the agents run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverKind {
    /// `fake_hosts` in-memory hosts.
    Fake,
    /// One host: this machine, real QEMU VMs.
    Qemu,
}

/// The `qemu` driver's options.
#[derive(Debug, Clone)]
pub struct QemuConfig {
    /// `auto`, `kvm` or `qemu`.
    pub virt_type: String,
    /// The host name; None: the machine's hostname.
    pub host: Option<String>,
    /// None: `<data dir>/instances`.
    pub instances_path: Option<std::path::PathBuf>,
    /// None: `<data dir>/image-cache`.
    pub image_cache_path: Option<std::path::PathBuf>,
    pub force_config_drive: bool,
    pub shutdown_timeout: Duration,
    pub reserved_host_memory_mb: i64,
}

#[derive(Debug, Clone)]
pub struct ComputeConfig {
    pub driver: DriverKind,
    pub qemu: QemuConfig,
    pub fake_hosts: usize,
    /// Claims in this process's tracker instead of the placement service.
    pub local_placement: bool,
    pub host_vcpus: i64,
    pub host_memory_mb: i64,
    pub host_disk_gb: i64,
    pub spawn_delay: Duration,
    pub action_delay: Duration,
    /// Hosts whose spawns fail; `*` all.
    pub fail_spawn: Vec<String>,
    pub max_version: Version,
    pub ratios: Ratios,
    pub ram_weight: f64,
    pub cpu_weight: f64,
    pub disk_weight: f64,
    pub max_attempts: usize,
    pub sync_interval: Duration,
    pub default_az: String,
    pub quota_instances: i64,
    pub quota_cores: i64,
    pub quota_ram: i64,
    pub quota_key_pairs: i64,
    pub quota_metadata_items: i64,
    pub quota_server_groups: i64,
    pub quota_server_group_members: i64,
}

/// The highest microversion this crate implements.
pub const MAX_IMPLEMENTED: Version = Version::new(2, 79);

fn float(ini: &Ini, name: &str) -> Result<f64, ConfigError> {
    let v = ini.str("compute", name).unwrap_or_default();
    v.parse::<f64>().map_err(|_| ini.error("compute", name, format!("'{v}' is not a number")))
}

fn int(ini: &Ini, name: &str) -> Result<i64, ConfigError> {
    Ok(ini.int("compute", name)? as i64)
}

/// `driver = auto`: real VMs where this process can run them (root, for the
/// taps; QEMU installed; /dev/net/tun), else the fake hypervisor.
fn auto_driver() -> DriverKind {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user
    let root = std::fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false);
    let qemu = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("qemu-system-x86_64").is_file()))
        .unwrap_or(false);
    let tun = std::path::Path::new("/dev/net/tun").exists();
    if root && qemu && tun {
        tracing::info!("compute driver auto: qemu (real virtual machines)");
        DriverKind::Qemu
    } else {
        tracing::warn!(
            root,
            qemu_installed = qemu,
            tun,
            "compute driver auto: fake (real VMs need root, qemu-system-x86_64 and /dev/net/tun); servers are kept in memory"
        );
        DriverKind::Fake
    }
}

impl ComputeConfig {
    pub fn read(ini: &Ini) -> Result<ComputeConfig, ConfigError> {
        let driver = match ini.choice("compute", "driver", &["auto", "fake", "qemu"])?.as_str() {
            "qemu" => DriverKind::Qemu,
            "fake" => DriverKind::Fake,
            _ => auto_driver(),
        };
        let nonempty = |name: &str| ini.str("compute", name).map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let qemu = QemuConfig {
            virt_type: ini.choice("compute", "virt_type", &["auto", "kvm", "qemu"])?,
            host: nonempty("host"),
            instances_path: nonempty("instances_path").map(Into::into),
            image_cache_path: nonempty("image_cache_path").map(Into::into),
            force_config_drive: ini.bool("compute", "force_config_drive")?,
            shutdown_timeout: Duration::from_secs(ini.int("compute", "shutdown_timeout")?),
            reserved_host_memory_mb: int(ini, "reserved_host_memory_mb")?,
        };
        let mv = ini.str("compute", "max_microversion").unwrap_or_default();
        let max_version =
            Version::parse(&mv).filter(|v| *v >= Version::new(2, 1) && *v <= MAX_IMPLEMENTED).ok_or_else(|| {
                ini.error("compute", "max_microversion", format!("'{mv}' is not a version in 2.1 … 2.79"))
            })?;
        let fail_spawn = ini
            .str("compute", "fake_fail_spawn")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        Ok(ComputeConfig {
            driver,
            qemu,
            fake_hosts: int(ini, "fake_hosts")? as usize,
            local_placement: ini.choice("compute", "placement", &["service", "local"])? == "local",
            host_vcpus: int(ini, "fake_host_vcpus")?,
            host_memory_mb: int(ini, "fake_host_memory_mb")?,
            host_disk_gb: int(ini, "fake_host_disk_gb")?,
            spawn_delay: Duration::from_millis(ini.int("compute", "fake_spawn_delay_ms")?),
            action_delay: Duration::from_millis(ini.int("compute", "fake_action_delay_ms")?),
            fail_spawn,
            max_version,
            ratios: Ratios {
                cpu: float(ini, "cpu_allocation_ratio")?,
                ram: float(ini, "ram_allocation_ratio")?,
                disk: float(ini, "disk_allocation_ratio")?,
            },
            ram_weight: float(ini, "ram_weight_multiplier")?,
            cpu_weight: float(ini, "cpu_weight_multiplier")?,
            disk_weight: float(ini, "disk_weight_multiplier")?,
            max_attempts: (int(ini, "max_attempts")? as usize).max(1),
            sync_interval: Duration::from_secs(ini.int("compute", "sync_power_state_interval")?),
            default_az: ini.str("compute", "default_availability_zone").unwrap_or_else(|| "nova".into()),
            quota_instances: int(ini, "quota_instances")?,
            quota_cores: int(ini, "quota_cores")?,
            quota_ram: int(ini, "quota_ram")?,
            quota_key_pairs: int(ini, "quota_key_pairs")?,
            quota_metadata_items: int(ini, "quota_metadata_items")?,
            quota_server_groups: int(ini, "quota_server_groups")?,
            quota_server_group_members: int(ini, "quota_server_group_members")?,
        })
    }

    /// The name of fake host `i` (0-based).
    pub fn host_name(i: usize) -> String {
        format!("fake-compute-{}", i + 1)
    }

    pub fn fails_spawn(&self, host: &str) -> bool {
        self.fail_spawn.iter().any(|h| h == "*" || h == host)
    }
}
