//! The `qemu-system-x86_64` command line of a VM: a pure function of its
//! spec, layout and files, so that a resumed VM gets exactly the devices it
//! was suspended with.

use std::path::Path;

use crate::spec::{is_uuid, Accel, Layout, Paths, Rescue, VmSpec};

/// The QEMU binary (overridable for tests and odd installs).
pub fn qemu_binary() -> String {
    std::env::var("RUSTACK_QEMU_BINARY").unwrap_or_else(|_| "qemu-system-x86_64".to_string())
}

/// A value inside a QEMU `key=value,…` option: commas are doubled.
fn esc(p: &Path) -> String {
    p.to_string_lossy().replace(',', ",,")
}

/// The arguments (without the binary). `incoming`: start waiting for a saved
/// state (`migrate-incoming` over QMP), as a resume does. `rescue`: boot the
/// rescue disk (and kernel), the instance's own disk second.
pub fn args(spec: &VmSpec, layout: &Layout, paths: &Paths, incoming: bool, rescue: Option<&Rescue>) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
    push(&["-name", &spec.id.replace(',', ",,")]);
    if is_uuid(&spec.id) {
        push(&["-uuid", &spec.id]);
    }
    push(&["-M", "q35", "-accel", spec.accel.as_str()]);
    if spec.accel == Accel::Kvm {
        push(&["-cpu", "host"]);
    }
    push(&["-m", &spec.memory_mib.to_string(), "-smp", &spec.vcpus.to_string()]);
    push(&["-nodefaults", "-no-user-config", "-display", "none", "-msg", "timestamp=on"]);
    // The pidfile path identifies the process as this instance's QEMU
    // (see process::is_our_qemu).
    push(&["-pidfile", &paths.pid.to_string_lossy()]);
    push(&["-chardev", &format!("socket,id=qmp,path={},server=on,wait=off", esc(&paths.qmp))]);
    push(&["-mon", "chardev=qmp,mode=control"]);
    // append=on: the log survives restarts (reboots, stop/start) like Nova's.
    push(&["-chardev", &format!("file,id=serial0,path={},append=on", esc(&paths.console))]);
    push(&["-serial", "chardev:serial0"]);
    if spec.vnc {
        push(&["-vnc", &format!("unix:{}", esc(&paths.vnc))]);
        push(&["-device", "VGA"]);
    }
    let (boot_disk, kernel) = match rescue {
        Some(r) => (&paths.rescue_disk, &r.kernel),
        None => (&paths.disk, &spec.kernel),
    };
    push(&["-drive", &format!("file={},if=none,id=root,format=qcow2,discard=unmap", esc(boot_disk))]);
    // Direct kernel boot takes boot index 0 itself (QEMU's linuxboot ROM).
    let boot = if kernel.is_none() { ",bootindex=0" } else { "" };
    push(&["-device", &format!("virtio-blk-pci,drive=root,id=root-disk{boot}")]);
    if rescue.is_some() {
        push(&["-drive", &format!("file={},if=none,id=orig,format=qcow2,discard=unmap", esc(&paths.disk))]);
        push(&["-device", "virtio-blk-pci,drive=orig,id=orig-disk"]);
    }
    if let Some(k) = kernel {
        push(&["-kernel", &k.kernel.to_string_lossy()]);
        if let Some(i) = &k.initrd {
            push(&["-initrd", &i.to_string_lossy()]);
        }
        push(&["-append", &k.cmdline]);
    }
    if let Some(cd) = &spec.config_drive {
        // A SATA CD-ROM on q35's built-in AHCI, as libvirt attaches it.
        push(&["-drive", &format!("file={},if=none,id=cd0,media=cdrom,readonly=on,format=raw", esc(cd))]);
        push(&["-device", "ide-cd,drive=cd0,bus=ide.0"]);
    }
    for s in 0..layout.root_ports {
        push(&["-device", &format!("pcie-root-port,id=rp{s},bus=pcie.0,chassis={},slot={}", s + 1, s + 1)]);
    }
    for (nic_id, slot) in &layout.slots {
        let Some(n) = spec.nics.iter().find(|n| &n.id == nic_id) else { continue };
        push(&["-netdev", &format!("tap,id=nd{slot},ifname={},script=no,downscript=no", n.tap)]);
        push(&["-device", &format!("virtio-net-pci,id=nic{slot},netdev=nd{slot},mac={},bus=rp{slot}", n.mac)]);
    }
    if incoming {
        push(&["-incoming", "defer"]);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::tests::spec;
    use crate::spec::KernelBoot;

    #[test]
    fn command_line_has_the_devices_of_the_layout() {
        let mut s = spec();
        s.kernel = Some(KernelBoot {
            kernel: "/img/vmlinux".into(),
            initrd: Some("/img/initrd".into()),
            cmdline: "console=ttyS0".into(),
        });
        s.config_drive = Some("/data/i,1/config.iso".into());
        let paths = Paths::new(Path::new("/data/instances"), &s.id);
        let a = args(&s, &Layout::fresh(&s), &paths, false, None).join(" ");
        assert!(a.contains("-M q35 -accel tcg"), "{a}");
        assert!(a.contains(&format!("-uuid {}", s.id)));
        assert!(a.contains("-pidfile /data/instances/0e4f5a4c-1111-4222-8333-444455556666/qemu.pid"));
        assert!(a.contains("-kernel /img/vmlinux -initrd /img/initrd -append console=ttyS0"));
        assert!(a.contains("file=/data/i,,1/config.iso"), "commas doubled: {a}");
        assert!(a.contains("pcie-root-port,id=rp2,bus=pcie.0,chassis=3,slot=3"));
        assert!(!a.contains("id=rp3"));
        assert!(a.contains("-netdev tap,id=nd0,ifname=tapabc,script=no,downscript=no"));
        assert!(a.contains("virtio-net-pci,id=nic0,netdev=nd0,mac=52:54:00:00:00:01,bus=rp0"));
        assert!(a.contains("-vnc unix:"));
        assert!(!a.contains("-incoming"));
        let a = args(&s, &Layout::fresh(&s), &paths, true, None);
        assert_eq!(a[a.len() - 2..], ["-incoming".to_string(), "defer".to_string()]);
        let rescue = Rescue { root: s.root_disk.clone(), kernel: None };
        let a = args(&s, &Layout::fresh(&s), &paths, false, Some(&rescue)).join(" ");
        assert!(a.contains("/rescue.qcow2,if=none,id=root"), "{a}");
        assert!(a.contains("/disk.qcow2,if=none,id=orig"), "{a}");
        assert!(a.contains("id=root-disk,bootindex=0"));
        assert!(!a.contains("-kernel"), "the rescue image boots from its disk: {a}");
    }
}
