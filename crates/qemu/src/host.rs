//! Host tools: `qemu-img` for disks, `ip` for taps. One small function per
//! kind of call, so every host action is greppable.

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

use crate::error::{Error, Result};
use crate::spec::{DiskFormat, Nic};

/// Runs `prog args…`, returns stdout; a non-zero exit is an error carrying stderr.
pub async fn run(prog: &str, args: &[&str]) -> Result<String> {
    let shown = || format!("{prog} {}", args.join(" "));
    let out = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| Error::Command { command: shown(), message: e.to_string() })?;
    if !out.status.success() {
        return Err(Error::Command {
            command: shown(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The virtual size of an image, from `qemu-img info`. `-U`: the image may
/// be open in a running QEMU.
pub async fn virtual_size(path: &Path, format: DiskFormat) -> Result<u64> {
    let out = run("qemu-img", &["info", "-U", "--output=json", "-f", format.as_str(), &s(path)]).await?;
    let v: serde_json::Value = serde_json::from_str(&out).map_err(|e| Error::host("qemu-img info: bad JSON", e))?;
    v["virtual-size"].as_u64().ok_or_else(|| Error::Host(format!("qemu-img info {}: no virtual-size", path.display())))
}

/// `qemu-img create -f qcow2 -F <fmt> -b <base> <overlay> <size>`; the size
/// is never below the base's (a qcow2 overlay cannot shrink its backing file).
pub async fn create_overlay(base: &Path, format: DiskFormat, overlay: &Path, size: u64) -> Result<()> {
    let base_size = virtual_size(base, format).await?;
    let size = size.max(base_size);
    run(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", "-F", format.as_str(), "-b", &s(base), &s(overlay), &size.to_string()],
    )
    .await
    .map(|_| ())
}

/// Grows a qcow2 image to `size` (never shrinks: a smaller size is left alone).
pub async fn grow(image: &Path, size: u64) -> Result<()> {
    if virtual_size(image, DiskFormat::Qcow2).await? >= size {
        return Ok(());
    }
    run("qemu-img", &["resize", "-q", "-f", "qcow2", &s(image), &size.to_string()]).await.map(|_| ())
}

/// A standalone qcow2 of what the guest sees through the overlay chain
/// (`qemu-img convert`); `-U` because the (paused) QEMU holds the lock.
pub async fn flatten(overlay: &Path, dest: &Path) -> Result<()> {
    run("qemu-img", &["convert", "-U", "-f", "qcow2", "-O", "qcow2", &s(overlay), &s(dest)]).await.map(|_| ())
}

pub fn link_exists(ifname: &str) -> bool {
    Path::new("/sys/class/net").join(ifname).exists()
}

/// The tap's own MAC: the guest's with the first octet 0xfe (what libvirt
/// does), so a bridge never takes the tap's address as its own and the host
/// side never answers for the guest's address.
fn host_side_mac(guest: &str) -> String {
    match guest.split_once(':') {
        Some((_, rest)) => format!("fe:{rest}"),
        None => guest.to_string(),
    }
}

/// Creates the persistent tap of `nic` (if missing), enslaves it to its
/// bridge (when that exists) and brings it up. Idempotent.
pub async fn plug_tap(nic: &Nic) -> Result<()> {
    if !link_exists(&nic.tap) {
        run("ip", &["tuntap", "add", "dev", &nic.tap, "mode", "tap"]).await?;
        run("ip", &["link", "set", "dev", &nic.tap, "address", &host_side_mac(&nic.mac)]).await?;
    }
    match &nic.bridge {
        Some(br) if link_exists(br) => {
            run("ip", &["link", "set", "dev", &nic.tap, "master", br]).await?;
        }
        // The network data plane enslaves a port's tap when both exist, so a
        // bridge that is not there yet is its job, not a failed boot.
        Some(br) => tracing::warn!(tap = %nic.tap, bridge = %br, "bridge missing; tap left unplugged"),
        None => {}
    }
    run("ip", &["link", "set", "dev", &nic.tap, "up"]).await.map(|_| ())
}

/// Removes a tap; a missing one is fine.
pub async fn unplug_tap(tap: &str) -> Result<()> {
    if !link_exists(tap) {
        return Ok(());
    }
    match run("ip", &["link", "del", "dev", tap]).await {
        Err(_) if !link_exists(tap) => Ok(()),
        r => r.map(|_| ()),
    }
}

/// The size in bytes of the filesystem holding `path` (`statvfs`), for the
/// disk a compute host reports.
pub fn filesystem_size(path: &Path) -> Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())
        .map_err(|_| Error::Invalid(format!("path with a NUL byte: {}", path.display())))?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `st` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(Error::host(format!("statvfs {}", path.display()), std::io::Error::last_os_error()));
    }
    Ok(st.f_blocks as u64 * st.f_frsize as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_side_mac_is_locally_administered() {
        assert_eq!(super::host_side_mac("52:54:00:aa:bb:cc"), "fe:54:00:aa:bb:cc");
    }
}
