//! Real VMs under TCG (root only; skipped with a message when QEMU or the
//! test image is missing). Each TCG boot costs 10–30 s of CPU, so each test
//! combines several checks on few boots.

mod common;

use std::time::{Duration, Instant};

use common::{skip_unless_host, wait_console, BOOT_TIMEOUT, MARKER};
use rustack_qemu::qmp::wait_event;
use rustack_qemu::{host, process, DiskFormat, PowerState};

/// Disk boot from an overlay; snapshot while running; the Vmm is dropped and
/// a new one adopts the running VM; ACPI power-off (POWERDOWN and SHUTDOWN
/// events, process exits); adopted as stopped and powered on again; the
/// snapshot boots; destroy leaves nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_boot_snapshot_adopt_powerdown_destroy() {
    skip_unless_host!();
    let mut g = common::Guard::new(31);
    let id = uuid::Uuid::new_v4().to_string();
    let base = common::image_dir().join("disk.qcow2");
    let mut spec = common::spec(&id, "disk-vm", &base, DiskFormat::Qcow2, vec![g.nic(0)]);
    // The config drive goes into the instance dir (destroy removes it).
    let cd = g.vmm().paths(&id).config_drive;
    spec.config_drive = Some(g.config_drive("disk-vm", &id, Some(cd)).await);
    let tap = spec.nics[0].tap.clone();

    let t0 = Instant::now();
    let vmm = g.vmm();
    vmm.spawn(spec.clone()).await.unwrap();
    let spawned = t0.elapsed();
    assert!(vmm.spawn(spec.clone()).await.is_err(), "a second spawn of one id is refused");
    let log = wait_console(&vmm, &id, MARKER, 1, BOOT_TIMEOUT).await;
    eprintln!("TIMING disk boot: spawn returned {spawned:?}, marker after {:?}", t0.elapsed());
    assert_eq!(common::marker_field(&log, "hostname").as_deref(), Some("disk-vm"));
    assert_eq!(common::marker_field(&log, "source").as_deref(), Some("configdrive"));
    assert_eq!(common::marker_field(&log, "uuid").as_deref(), Some(id.as_str()));
    assert!(common::marker_field(&log, "ip").is_some_and(|ip| ip.starts_with("10.213.31.")), "DHCP lease: {log}");
    assert_eq!(vmm.power_state(&id).await.unwrap(), PowerState::Running);
    let paths = vmm.paths(&id);
    assert_eq!(
        host::virtual_size(&paths.disk, DiskFormat::Qcow2).await.unwrap(),
        1 << 30,
        "overlay has the flavor's size"
    );
    assert!(paths.vnc.exists(), "VNC socket");
    assert!(common::link_exists(&tap));

    // A consistent copy of the running guest's disk; the guest keeps running.
    let t = Instant::now();
    let snap = vmm.snapshot(&id).await.unwrap();
    eprintln!("TIMING snapshot (pause, convert, cont): {:?}", t.elapsed());
    assert_eq!(vmm.power_state(&id).await.unwrap(), PowerState::Running);
    let info = host::run("qemu-img", &["info", "--output=json", &snap.to_string_lossy()]).await.unwrap();
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["format"], "qcow2");
    assert!(info.get("backing-filename").is_none(), "standalone: {info}");
    let snap_copy = g.dir.join("snap.qcow2");
    std::fs::copy(&snap, &snap_copy).unwrap();

    // The control plane "restarts": a new Vmm finds the VM by its files.
    let pid = vmm.pid(&id).unwrap().unwrap();
    drop(vmm);
    let vmm = g.vmm();
    assert!(vmm.instances().is_empty());
    let report = vmm.adopt_all().await.unwrap();
    assert_eq!(report.running, vec![id.clone()]);
    assert_eq!(vmm.pid(&id).unwrap(), Some(pid));
    assert_eq!(vmm.power_state(&id).await.unwrap(), PowerState::Running);
    assert_eq!(vmm.spec(&id).unwrap(), spec);
    assert!(vmm.resize(&id, 1, 256, 0).await.is_err(), "no resize while running");

    // ACPI power button: the guest shuts down, QEMU reports and exits.
    let mut events = vmm.events(&id).await.unwrap();
    let t = Instant::now();
    vmm.stop(&id, Duration::from_secs(120)).await.unwrap();
    eprintln!("TIMING ACPI power-off: {:?}", t.elapsed());
    wait_event(&mut events, "POWERDOWN", |_| true, Duration::from_secs(1)).await.unwrap();
    wait_event(&mut events, "SHUTDOWN", |e| e.data["guest"] == true, Duration::from_secs(1)).await.unwrap();
    assert!(!process::is_alive(pid), "QEMU exited");
    assert_eq!(vmm.power_state(&id).await.unwrap(), PowerState::Shutdown);
    assert_eq!(vmm.power_state_now(&id).unwrap(), PowerState::Shutdown);
    assert!(!paths.qmp.exists() && !paths.pid.exists());
    let log = vmm.console_log(&id, 1 << 20).unwrap();
    assert!(log.contains("RUSTACK-GUEST-POWERBUTTON"), "{log}");

    // A restarted control plane sees it shut off, and powers it on from vm.json.
    drop(vmm);
    let vmm = g.vmm();
    let report = vmm.adopt_all().await.unwrap();
    assert_eq!(report.stopped, vec![id.clone()]);
    // Cold resize and rebuild while shut off (no boot needed to check them).
    vmm.resize(&id, 2, 160, 2 << 30).await.unwrap();
    assert_eq!(host::virtual_size(&paths.disk, DiskFormat::Qcow2).await.unwrap(), 2 << 30);
    let before = std::fs::metadata(&paths.disk).unwrap().modified().unwrap();
    vmm.replace_root_disk(&id, spec.root_disk.clone(), None).await.unwrap();
    assert!(std::fs::metadata(&paths.disk).unwrap().modified().unwrap() >= before);
    assert_eq!(host::virtual_size(&paths.disk, DiskFormat::Qcow2).await.unwrap(), 2 << 30, "rebuild keeps the size");
    let resized = vmm.spec(&id).unwrap();
    assert_eq!((resized.vcpus, resized.memory_mib), (2, 160));
    vmm.start(&id).await.unwrap();
    assert_eq!(vmm.power_state(&id).await.unwrap(), PowerState::Running);
    assert!(common::link_exists(&tap));
    // Hard reboot: a new QEMU.
    let pid = vmm.pid(&id).unwrap().unwrap();
    vmm.hard_reboot(&id).await.unwrap();
    assert!(!process::is_alive(pid));
    let pid = vmm.pid(&id).unwrap().unwrap();
    assert_eq!(vmm.power_state(&id).await.unwrap(), PowerState::Running);
    // Power off without asking the guest (zero timeout: kill), to spare the CPU.
    vmm.stop(&id, Duration::ZERO).await.unwrap();
    assert!(!process::is_alive(pid));
    assert_eq!(vmm.power_state(&id).await.unwrap(), PowerState::Shutdown);

    // The snapshot is a bootable image.
    let id2 = uuid::Uuid::new_v4().to_string();
    let mut spec2 = common::spec(&id2, "from-snap", &snap_copy, DiskFormat::Qcow2, vec![g.nic(1)]);
    spec2.config_drive = Some(g.config_drive("from-snap", &id2, None).await);
    spec2.vnc = false;
    let t = Instant::now();
    vmm.spawn(spec2.clone()).await.unwrap();
    let log = wait_console(&vmm, &id2, MARKER, 1, BOOT_TIMEOUT).await;
    eprintln!("TIMING snapshot boot: marker after {:?}", t.elapsed());
    assert_eq!(common::marker_field(&log, "hostname").as_deref(), Some("from-snap"));
    let pid2 = vmm.pid(&id2).unwrap().unwrap();

    // Destroy leaves no process, tap, socket or file.
    for (i, s) in [(&id, &spec), (&id2, &spec2)] {
        vmm.destroy(i).await.unwrap();
        assert!(!vmm.paths(i).dir.exists());
        assert!(!common::link_exists(&s.nics[0].tap));
    }
    assert!(!process::is_alive(pid2));
    assert!(process::scan(vmm.root()).is_empty());
    assert!(vmm.instances().is_empty());
    assert_eq!(std::fs::read_dir(vmm.root()).unwrap().count(), 0);
}

/// Direct kernel boot; pause/unpause; NIC hot-plug and unplug; hard reset
/// (marker again); suspend to a file and resume (same boot, devices kept);
/// rescue and unrescue; kill_orphans reaps what nobody owns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kernel_boot_pause_hotplug_reset_suspend_orphans() {
    skip_unless_host!();
    let mut g = common::Guard::new(32);
    let id = uuid::Uuid::new_v4().to_string();
    let base = common::image_dir().join("disk.qcow2");
    let mut spec = common::spec(&id, "kernel-vm", &base, DiskFormat::Qcow2, vec![g.nic(0)]);
    spec.kernel = Some(common::kernel_boot());
    spec.config_drive = Some(g.config_drive("kernel-vm", &id, None).await);

    let t0 = Instant::now();
    let vmm = g.vmm();
    vmm.spawn(spec.clone()).await.unwrap();
    let log = wait_console(&vmm, &id, MARKER, 1, BOOT_TIMEOUT).await;
    eprintln!("TIMING kernel boot: marker after {:?}", t0.elapsed());
    assert_eq!(common::marker_field(&log, "hostname").as_deref(), Some("kernel-vm"));

    // Pause and unpause.
    let mut events = vmm.events(&id).await.unwrap();
    vmm.pause(&id).await.unwrap();
    assert_eq!(vmm.power_state(&id).await.unwrap(), PowerState::Paused);
    assert_eq!(vmm.power_state_now(&id).unwrap(), PowerState::Paused);
    assert!(vmm.pause(&id).await.is_err(), "pausing a paused VM is a state error");
    vmm.unpause(&id).await.unwrap();
    assert_eq!(vmm.power_state(&id).await.unwrap(), PowerState::Running);
    assert_eq!(vmm.power_state_now(&id).unwrap(), PowerState::Running);
    wait_event(&mut events, "STOP", |_| true, Duration::from_secs(1)).await.unwrap();
    wait_event(&mut events, "RESUME", |_| true, Duration::from_secs(1)).await.unwrap();

    // Hot-plug a NIC: the guest sees it and gets a lease on it.
    let nic = g.nic(1);
    let t = Instant::now();
    vmm.attach_nic(&id, nic.clone()).await.unwrap();
    wait_console(&vmm, &id, "RUSTACK-GUEST-DHCP iface=eth1", 1, Duration::from_secs(120)).await;
    eprintln!("TIMING hot-plugged NIC has a lease after {:?}", t.elapsed());
    assert!(common::link_exists(&nic.tap));
    assert_eq!(vmm.spec(&id).unwrap().nics.len(), 2);
    assert!(vmm.attach_nic(&id, nic.clone()).await.is_err(), "same NIC twice");
    let t = Instant::now();
    vmm.detach_nic(&id, &nic.id, Duration::from_secs(60)).await.unwrap();
    eprintln!("TIMING NIC unplug (DEVICE_DELETED): {:?}", t.elapsed());
    assert!(!common::link_exists(&nic.tap));
    assert_eq!(vmm.spec(&id).unwrap().nics.len(), 1);

    // Hard reset: a second boot in the same process.
    let pid = vmm.pid(&id).unwrap().unwrap();
    let t = Instant::now();
    vmm.reset(&id).await.unwrap();
    wait_console(&vmm, &id, MARKER, 2, BOOT_TIMEOUT).await;
    eprintln!("TIMING hard reset: marker after {:?}", t.elapsed());
    assert_eq!(vmm.pid(&id).unwrap(), Some(pid));

    // Suspend to disk and resume: a new process, the same boot.
    let t = Instant::now();
    vmm.suspend(&id).await.unwrap();
    eprintln!("TIMING suspend: {:?}", t.elapsed());
    assert!(!process::is_alive(pid));
    assert_eq!(vmm.power_state(&id).await.unwrap(), PowerState::Suspended);
    assert_eq!(vmm.power_state_now(&id).unwrap(), PowerState::Suspended);
    let paths = vmm.paths(&id);
    assert!(paths.state.exists());
    assert!(vmm.attach_nic(&id, g.nic(2)).await.is_err(), "no hot-plug while suspended");
    let t = Instant::now();
    vmm.resume(&id).await.unwrap();
    eprintln!("TIMING resume: {:?}", t.elapsed());
    assert_eq!(vmm.power_state(&id).await.unwrap(), PowerState::Running);
    assert!(!paths.state.exists());
    // The guest runs on where it was: a NIC plugged now is seen by the same boot.
    let nic3 = g.nic(3);
    vmm.attach_nic(&id, nic3.clone()).await.unwrap();
    let log = wait_console(&vmm, &id, "RUSTACK-GUEST-NIC iface=", 2, Duration::from_secs(120)).await;
    assert_eq!(log.lines().filter(|l| l.contains(MARKER)).count(), 2, "no reboot on resume");

    // Rescue from the disk image: a new QEMU boots the rescue overlay with the
    // instance's disk second; unrescue boots its own disk again.
    let rescue_root = rustack_qemu::RootDisk { base: base.clone(), base_format: DiskFormat::Qcow2, size_bytes: 0 };
    vmm.rescue(&id, rescue_root, None).await.unwrap();
    assert!(vmm.is_rescued(&id).unwrap());
    let argv = process::cmdline(vmm.pid(&id).unwrap().unwrap()).unwrap().join(" ");
    assert!(argv.contains("rescue.qcow2,if=none,id=root") && argv.contains("disk.qcow2,if=none,id=orig"), "{argv}");
    assert!(!argv.contains("-kernel"), "{argv}");
    assert!(paths.rescue_disk.exists());
    assert_eq!(vmm.spec(&id).unwrap().nics.len(), 2, "NICs kept");
    vmm.unrescue(&id).await.unwrap();
    assert!(!vmm.is_rescued(&id).unwrap());
    let argv = process::cmdline(vmm.pid(&id).unwrap().unwrap()).unwrap().join(" ");
    assert!(!argv.contains("rescue.qcow2") && argv.contains("-kernel"), "{argv}");
    assert!(!paths.rescue_disk.exists());

    // A new control plane that knows no instance reaps it entirely.
    let pid = vmm.pid(&id).unwrap().unwrap();
    drop(vmm);
    let vmm = g.vmm();
    let reaped = vmm.kill_orphans(&[]).await.unwrap();
    assert_eq!(reaped, vec![id.clone()]);
    assert!(!process::is_alive(pid));
    assert!(!paths.dir.exists());
    assert!(!common::link_exists(&spec.nics[0].tap) && !common::link_exists(&nic3.tap));
}

/// Spawn errors leave nothing behind, and QEMU's own error is returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_spawn_cleans_up() {
    skip_unless_host!();
    let mut g = common::Guard::new(33);
    let id = uuid::Uuid::new_v4().to_string();
    let vmm = g.vmm();
    // A base image that does not exist.
    let spec = common::spec(&id, "bad", &g.dir.join("missing.qcow2"), DiskFormat::Qcow2, vec![g.nic(0)]);
    assert!(vmm.spawn(spec.clone()).await.is_err());
    assert!(!vmm.paths(&id).dir.exists());
    assert!(vmm.instances().is_empty());
    // QEMU itself refuses (a kernel that does not exist): its error is returned.
    let mut spec = common::spec(&id, "bad", &common::image_dir().join("disk.qcow2"), DiskFormat::Qcow2, vec![g.nic(0)]);
    spec.kernel =
        Some(rustack_qemu::KernelBoot { kernel: g.dir.join("no-kernel"), initrd: None, cmdline: String::new() });
    let err = vmm.spawn(spec.clone()).await.unwrap_err().to_string();
    assert!(err.contains("no-kernel"), "{err}");
    assert!(!vmm.paths(&id).dir.exists());
    assert!(!common::link_exists(&spec.nics[0].tap), "tap removed");
}

/// The KVM probe answers within its bound and caches the answer.
#[tokio::test]
async fn kvm_probe_is_bounded_and_cached() {
    skip_unless_host!();
    let g = common::Guard::new(34);
    let cache = g.dir.join("kvm-probe");
    let kernel = common::image_dir().join("vmlinux");
    let t = Instant::now();
    let first = rustack_qemu::kvm::cached_probe(&cache, Some(&kernel)).await;
    let took = t.elapsed();
    eprintln!("KVM probe: {} in {took:?}", first.as_str());
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(std::fs::read_to_string(&cache).unwrap().starts_with(first.as_str()));
    let t = Instant::now();
    assert_eq!(rustack_qemu::kvm::choose("auto", &cache, Some(&kernel)).await.unwrap(), first);
    assert!(t.elapsed() < Duration::from_millis(500), "cached");
}

/// A raw base image gets a qcow2 overlay naming its format; the overlay is
/// never smaller than the base; a snapshot-style flatten is standalone.
#[tokio::test]
async fn raw_base_overlay_and_flatten() {
    skip_unless_host!();
    let g = common::Guard::new(35);
    let raw = g.dir.join("base.raw");
    let qcow = common::image_dir().join("disk.qcow2");
    host::run("qemu-img", &["convert", "-f", "qcow2", "-O", "raw", &qcow.to_string_lossy(), &raw.to_string_lossy()])
        .await
        .unwrap();
    let base_size = host::virtual_size(&raw, DiskFormat::Raw).await.unwrap();
    let overlay = g.dir.join("overlay.qcow2");
    host::create_overlay(&raw, DiskFormat::Raw, &overlay, 1 << 30).await.unwrap();
    let info = host::run("qemu-img", &["info", "--output=json", &overlay.to_string_lossy()]).await.unwrap();
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["backing-filename-format"], "raw", "{info}");
    assert_eq!(info["virtual-size"], 1u64 << 30);
    // Asking for less than the base gives the base's size.
    let small = g.dir.join("small.qcow2");
    host::create_overlay(&raw, DiskFormat::Raw, &small, 1).await.unwrap();
    assert_eq!(host::virtual_size(&small, DiskFormat::Qcow2).await.unwrap(), base_size);
    let flat = g.dir.join("flat.qcow2");
    host::flatten(&overlay, &flat).await.unwrap();
    let info = host::run("qemu-img", &["info", "--output=json", &flat.to_string_lossy()]).await.unwrap();
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    assert!(info.get("backing-filename").is_none(), "{info}");
    assert_eq!(info["virtual-size"], 1u64 << 30);
}
