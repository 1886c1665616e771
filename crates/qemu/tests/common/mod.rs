//! Host test scaffolding: skip rules, a private DHCP network, the test
//! image, and a guard that removes everything a test made, on failure too.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rustack_qemu::{process, Accel, DiskFormat, KernelBoot, Nic, RootDisk, VmSpec, Vmm};

pub const MARKER: &str = "RUSTACK-GUEST-READY";
/// Under TCG on a loaded 2-core machine a boot takes 10–30 s; leave room.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(300);

pub fn image_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache"));
    cache.join("rustack/test-image")
}

fn on_path(p: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|ps| std::env::split_paths(&ps).any(|d| d.join(p).is_file()))
}

/// Why this host cannot run the VM tests, if it cannot.
pub fn skip_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root (taps, bridges and namespaces need root)".into());
    }
    for tool in ["qemu-system-x86_64", "qemu-img", "ip", "dnsmasq"] {
        if !on_path(tool) {
            return Some(format!("{tool} is not installed"));
        }
    }
    if !on_path("genisoimage") && !on_path("xorriso") {
        return Some("neither genisoimage nor xorriso is installed".into());
    }
    for f in ["vmlinux", "initramfs.cpio.gz", "disk.qcow2"] {
        if !image_dir().join(f).is_file() {
            return Some(format!("{} missing: run scripts/build-test-image.sh", image_dir().join(f).display()));
        }
    }
    None
}

macro_rules! skip_unless_host {
    () => {
        if let Some(why) = common::skip_reason() {
            eprintln!("SKIP: {why}");
            return;
        }
    };
}
pub(crate) use skip_unless_host;

fn sh(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Everything one test made on the host; dropping it removes all of it.
pub struct Guard {
    pub tag: String,
    pub dir: PathBuf,
    pub root: PathBuf,
    pub bridge: String,
    ns: String,
    veth: String,
    pub taps: Vec<String>,
}

impl Guard {
    /// A work dir and a private network: a bridge `rqb<tag>` on the host
    /// (no address) joined by a veth to a namespace where dnsmasq hands out
    /// 10.213.<net>.0/24 leases. `net` keeps concurrent tests apart.
    pub fn new(net: u8) -> Guard {
        let tag: String = uuid::Uuid::new_v4().simple().to_string()[..6].to_string();
        let dir = std::env::temp_dir().join(format!("rustack-qemu-test-{tag}"));
        let g = Guard {
            root: dir.join("instances"),
            bridge: format!("rqb{tag}"),
            ns: format!("rustack-qemu-test-{tag}"),
            veth: format!("rqv{tag}"),
            taps: Vec::new(),
            dir,
            tag,
        };
        std::fs::create_dir_all(&g.dir).unwrap();
        let vn = format!("{}n", g.veth);
        let gw = format!("10.213.{net}.1/24");
        let range = format!("10.213.{net}.10,10.213.{net}.99,255.255.255.0,1h");
        let pidfile = g.dir.join("dnsmasq.pid").display().to_string();
        let leases = g.dir.join("leases").display().to_string();
        for cmd in [
            vec!["ip", "netns", "add", &g.ns],
            vec!["ip", "link", "add", &g.bridge, "type", "bridge"],
            vec!["ip", "link", "set", &g.bridge, "up"],
            vec!["ip", "link", "add", &g.veth, "type", "veth", "peer", "name", &vn, "netns", &g.ns],
            vec!["ip", "link", "set", &g.veth, "master", &g.bridge, "up"],
            vec!["ip", "-n", &g.ns, "link", "set", "lo", "up"],
            vec!["ip", "-n", &g.ns, "link", "set", &vn, "up"],
            vec!["ip", "-n", &g.ns, "addr", "add", &gw, "dev", &vn],
        ] {
            sh(&cmd).unwrap();
        }
        let iface = format!("--interface={vn}");
        let range = format!("--dhcp-range={range}");
        let pid = format!("--pid-file={pidfile}");
        let lease = format!("--dhcp-leasefile={leases}");
        sh(&[
            "ip",
            "netns",
            "exec",
            &g.ns,
            "dnsmasq",
            "--conf-file=/dev/null",
            "--port=0",
            "--bind-interfaces",
            &iface,
            "--except-interface=lo",
            &range,
            &pid,
            &lease,
            "--no-resolv",
            "--no-hosts",
        ])
        .unwrap();
        g
    }

    /// A tap name for this test (registered for cleanup).
    pub fn tap(&mut self, n: u32) -> String {
        let t = format!("rqt{}{n}", self.tag);
        self.taps.push(t.clone());
        t
    }

    pub fn nic(&mut self, n: u32) -> Nic {
        Nic {
            id: format!("port-{n}"),
            tap: self.tap(n),
            mac: format!("52:54:00:{}:{}:{:02x}", &self.tag[..2], &self.tag[2..4], n),
            bridge: Some(self.bridge.clone()),
        }
    }

    pub fn vmm(&self) -> Vmm {
        Vmm::new(&self.root).unwrap()
    }

    /// A config drive with this hostname, written into the test dir.
    pub async fn config_drive(&self, name: &str, uuid: &str, at: Option<PathBuf>) -> PathBuf {
        let mut files = BTreeMap::new();
        files.insert(
            "openstack/latest/meta_data.json".to_string(),
            format!(r#"{{"uuid": "{uuid}", "hostname": "{name}.novalocal", "name": "{name}"}}"#).into_bytes(),
        );
        let out = at.unwrap_or_else(|| self.dir.join(format!("{name}.iso")));
        rustack_qemu::configdrive::build(&files, &out).await.unwrap();
        out
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for (pid, _) in process::scan(&self.root) {
            process::signal(pid, libc::SIGKILL);
        }
        if let Some(pid) = process::read_pidfile(&self.dir.join("dnsmasq.pid")) {
            process::signal(pid, libc::SIGKILL);
        }
        for t in &self.taps {
            let _ = sh(&["ip", "link", "del", t]);
        }
        let _ = sh(&["ip", "link", "del", &self.veth]);
        let _ = sh(&["ip", "link", "del", &self.bridge]);
        let _ = sh(&["ip", "netns", "del", &self.ns]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub fn spec(id: &str, name: &str, base: &Path, base_format: DiskFormat, nics: Vec<Nic>) -> VmSpec {
    VmSpec {
        id: id.to_string(),
        name: name.to_string(),
        vcpus: 1,
        memory_mib: 128,
        root_disk: RootDisk { base: base.to_path_buf(), base_format, size_bytes: 1 << 30 },
        kernel: None,
        nics,
        config_drive: None,
        spare_pcie_ports: 2,
        accel: Accel::Tcg,
        vnc: true,
    }
}

pub fn kernel_boot() -> KernelBoot {
    KernelBoot {
        kernel: image_dir().join("vmlinux"),
        initrd: Some(image_dir().join("initramfs.cpio.gz")),
        cmdline: "console=tty0 console=ttyS0 panic=-1 quiet".into(),
    }
}

/// Polls the console until it holds `n` lines containing `needle`; returns
/// the log, or panics with it after `timeout`.
pub async fn wait_console(vmm: &Vmm, id: &str, needle: &str, n: usize, timeout: Duration) -> String {
    let t0 = Instant::now();
    loop {
        let log = vmm.console_log(id, 1 << 20).unwrap();
        if log.lines().filter(|l| l.contains(needle)).count() >= n {
            return log;
        }
        if t0.elapsed() > timeout {
            panic!("no {n}×{needle:?} in the console of {id} after {timeout:?}:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The `key=value` of the last marker line.
pub fn marker_field(log: &str, key: &str) -> Option<String> {
    let line = log.lines().rev().find(|l| l.contains(MARKER))?;
    line.split_whitespace().find_map(|w| w.strip_prefix(&format!("{key}=")).map(str::to_string))
}

pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}
