//! What this machine offers as a compute host: its name, CPUs, memory and
//! the disk of the instances dir (the `qemu` driver's inventory).

use std::path::Path;

use super::HostResources;

/// The machine's hostname (`/proc/sys/kernel/hostname`), else `localhost`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `MemTotal` of `/proc/meminfo`, in MB.
fn mem_total_mb() -> i64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    parse_mem_total_kb(&text).map(|kb| kb / 1024).unwrap_or(0)
}

fn parse_mem_total_kb(meminfo: &str) -> Option<i64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The machine's resources: every online CPU, memory less `reserved_mb`,
/// and the filesystem of `instances_dir` (GB, rounded down).
pub fn resources(instances_dir: &Path, reserved_mb: i64) -> HostResources {
    let vcpus = std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1);
    let disk = rustack_qemu::host::filesystem_size(instances_dir).unwrap_or(0);
    HostResources { vcpus, memory_mb: (mem_total_mb() - reserved_mb).max(0), disk_gb: (disk >> 30) as i64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_total_is_read_from_meminfo() {
        let text = "MemTotal:        8048124 kB\nMemFree:         1234 kB\n";
        assert_eq!(parse_mem_total_kb(text), Some(8048124));
        assert_eq!(parse_mem_total_kb("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn this_machine_has_resources() {
        let r = resources(&std::env::temp_dir(), 0);
        assert!(r.vcpus >= 1 && r.memory_mb > 0 && r.disk_gb >= 0, "{r:?}");
        assert!(!hostname().is_empty());
    }
}
