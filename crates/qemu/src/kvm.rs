//! Whether KVM really works here (`[compute] virt_type = auto`).
//!
//! On the machines rustack is built on, /dev/kvm opens and creates VMs but is
//! a paravirtual KVM that cannot run a stock kernel (an uncompressed kernel
//! dies with "KVM internal error", a bzImage crawls for minutes). So opening
//! /dev/kvm proves nothing: we boot a real kernel under `-accel kvm` and
//! trust KVM only if it prints its banner within a few seconds. The answer is
//! cached in a file, keyed by the host's boot id (a reboot probes again).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::cmdline::qemu_binary;
use crate::error::{Error, Result};
use crate::spec::Accel;

/// How long a working KVM may take to print the kernel banner.
pub const PROBE_WAIT: Duration = Duration::from_secs(5);

/// The test image's kernel, the default probe kernel
/// (`${XDG_CACHE_HOME:-~/.cache}/rustack/test-image/vmlinux`).
pub fn default_probe_kernel() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    let k = cache.join("rustack/test-image/vmlinux");
    k.is_file().then_some(k)
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// `virt_type` (`auto`, `kvm`, `qemu`/`tcg`) → the accelerator. `auto`
/// probes once per host boot and caches the answer in `cache_file`.
pub async fn choose(virt_type: &str, cache_file: &Path, kernel: Option<&Path>) -> Result<Accel> {
    match virt_type {
        "kvm" => Ok(Accel::Kvm),
        "qemu" | "tcg" => Ok(Accel::Tcg),
        "auto" => Ok(cached_probe(cache_file, kernel).await),
        other => Err(Error::Invalid(format!("virt_type must be auto, kvm or qemu, not {other:?}"))),
    }
}

/// The cached answer for this boot, else a fresh probe (then cached).
pub async fn cached_probe(cache_file: &Path, kernel: Option<&Path>) -> Accel {
    let id = boot_id();
    if let Ok(s) = std::fs::read_to_string(cache_file) {
        let mut w = s.split_whitespace();
        if let (Some(a), Some(b)) = (w.next(), w.next()) {
            if b == id {
                match a {
                    "kvm" => return Accel::Kvm,
                    "tcg" => return Accel::Tcg,
                    _ => {}
                }
            }
        }
    }
    let accel = match kernel {
        Some(k) => {
            let work = cache_file.with_extension("probe.log");
            match probe(k, &work, PROBE_WAIT).await {
                Ok(true) => Accel::Kvm,
                Ok(false) => Accel::Tcg,
                Err(e) => {
                    tracing::warn!(error = %e, "KVM probe failed to run; using TCG");
                    Accel::Tcg
                }
            }
        }
        None => {
            tracing::warn!("no kernel to probe KVM with (build the test image); using TCG");
            Accel::Tcg
        }
    };
    tracing::info!(accel = accel.as_str(), "KVM probe");
    if let Some(dir) = cache_file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(cache_file, format!("{} {id}\n", accel.as_str()));
    accel
}

/// Boots `kernel` under KVM (no initrd: it panics after the banner, and
/// `-no-reboot` ends QEMU) and reports whether the banner came within `wait`.
pub async fn probe(kernel: &Path, serial_log: &Path, wait: Duration) -> Result<bool> {
    if std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_err() {
        return Ok(false);
    }
    let _ = std::fs::remove_file(serial_log);
    let mut child = tokio::process::Command::new(qemu_binary())
        .args(["-accel", "kvm", "-M", "q35", "-m", "128", "-smp", "1", "-nodefaults", "-no-user-config"])
        .args(["-display", "none", "-no-reboot", "-cpu", "host"])
        .arg("-serial")
        .arg(format!("file:{}", serial_log.display()))
        .arg("-kernel")
        .arg(kernel)
        .args(["-append", "console=ttyS0 panic=-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Command { command: qemu_binary(), message: e.to_string() })?;
    let start = Instant::now();
    let mut ok = false;
    while start.elapsed() < wait {
        if std::fs::read(serial_log).is_ok_and(|b| b.windows(13).any(|w| w == b"Linux version")) {
            ok = true;
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            // QEMU gave up (e.g. "KVM internal error"); one last look.
            ok = std::fs::read(serial_log).is_ok_and(|b| b.windows(13).any(|w| w == b"Linux version"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill().await;
    let _ = std::fs::remove_file(serial_log);
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn explicit_types_need_no_probe_and_auto_uses_the_cache() {
        let dir = std::env::temp_dir().join(format!("rustack-kvm-{}", std::process::id()));
        let f = dir.join("kvm-probe");
        assert_eq!(choose("kvm", &f, None).await.unwrap(), Accel::Kvm);
        assert_eq!(choose("qemu", &f, None).await.unwrap(), Accel::Tcg);
        assert!(choose("xen", &f, None).await.is_err());
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&f, format!("kvm {}\n", boot_id())).unwrap();
        assert_eq!(choose("auto", &f, None).await.unwrap(), Accel::Kvm, "cached answer of this boot");
        std::fs::write(&f, "kvm some-other-boot\n").unwrap();
        assert_eq!(choose("auto", &f, None).await.unwrap(), Accel::Tcg, "stale cache, no kernel: TCG");
        assert!(std::fs::read_to_string(&f).unwrap().starts_with("tcg "));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
