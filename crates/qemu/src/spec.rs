//! What a VM is made of ([`VmSpec`]), where its files live ([`Paths`]) and
//! how its NICs sit on PCIe root ports ([`Layout`]). The spec and the layout
//! are persisted per instance (`vm.json`), so that a restarted control plane
//! can re-adopt, power on or resume a VM without being told again.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Most PCIe root ports (NICs plus spares) one VM gets: q35's `pcie.0` has
/// 32 slots and the chipset takes some.
pub const MAX_ROOT_PORTS: u32 = 16;

/// How QEMU executes guest code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// Hardware virtualisation (only where [`crate::kvm`] found it works).
    Kvm,
    /// QEMU's emulator (upstream calls this `virt_type = qemu`).
    Tcg,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// The format of an image file QEMU reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskFormat {
    Raw,
    Qcow2,
}

impl DiskFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Raw => "raw",
            DiskFormat::Qcow2 => "qcow2",
        }
    }
    /// Glance's `disk_format` names (`raw`, `qcow2`); others are not bootable here.
    pub fn from_glance(s: &str) -> Option<DiskFormat> {
        match s {
            "raw" => Some(DiskFormat::Raw),
            "qcow2" => Some(DiskFormat::Qcow2),
            _ => None,
        }
    }
}

/// The root disk: a qcow2 overlay (in the instance dir) over a cached base image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootDisk {
    /// The base image file (never written; shared by every instance of the image).
    pub base: PathBuf,
    pub base_format: DiskFormat,
    /// The overlay's virtual size (the flavor's root disk). 0 or anything
    /// smaller than the base's virtual size means "the base's size".
    pub size_bytes: u64,
}

/// Direct kernel boot (AKI/ARI images).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KernelBoot {
    pub kernel: PathBuf,
    pub initrd: Option<PathBuf>,
    pub cmdline: String,
}

/// One network interface: a tap on the host, the guest sees `mac`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    /// The caller's name for it (the port id); unique within the VM.
    pub id: String,
    /// The host tap device (at most 15 characters), created by the Vmm.
    pub tap: String,
    /// The guest MAC, `52:54:00:12:34:56`.
    pub mac: String,
    /// A bridge on the host to enslave the tap to.
    pub bridge: Option<String>,
}

/// Everything needed to start (and restart) one VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmSpec {
    /// The instance id (a UUID for compute): the instance directory's name
    /// and the guest's SMBIOS UUID when it is one.
    pub id: String,
    /// The display name (QEMU's `-name`; informational).
    pub name: String,
    pub vcpus: u32,
    pub memory_mib: u64,
    pub root_disk: RootDisk,
    pub kernel: Option<KernelBoot>,
    pub nics: Vec<Nic>,
    /// An ISO 9660 config drive (see [`crate::configdrive`]), attached as a
    /// SATA CD-ROM.
    pub config_drive: Option<PathBuf>,
    /// Free PCIe root ports made at start, for NIC hot-plug.
    pub spare_pcie_ports: u32,
    pub accel: Accel,
    /// A VNC server on the instance's `vnc.sock` (and a VGA card to show).
    pub vnc: bool,
}

/// The files of one instance, all inside `<root>/<id>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub dir: PathBuf,
    /// The persisted spec and layout.
    pub record: PathBuf,
    /// The root disk overlay (qcow2).
    pub disk: PathBuf,
    /// The serial console (what `console log show` returns).
    pub console: PathBuf,
    /// QEMU's own stdout/stderr.
    pub qemu_log: PathBuf,
    pub qmp: PathBuf,
    pub vnc: PathBuf,
    pub pid: PathBuf,
    /// The saved device state of a suspended VM.
    pub state: PathBuf,
    /// The boot disk of a rescue (an overlay over the rescue image).
    pub rescue_disk: PathBuf,
    /// Where a config drive built for the instance should go (so destroy
    /// removes it): build it here before [`crate::Vmm::spawn`].
    pub config_drive: PathBuf,
}

impl Paths {
    pub fn new(root: &Path, id: &str) -> Paths {
        let dir = root.join(id);
        Paths {
            record: dir.join("vm.json"),
            disk: dir.join("disk.qcow2"),
            console: dir.join("console.log"),
            qemu_log: dir.join("qemu.log"),
            qmp: dir.join("qmp.sock"),
            vnc: dir.join("vnc.sock"),
            pid: dir.join("qemu.pid"),
            state: dir.join("suspend.state"),
            config_drive: dir.join("config.iso"),
            rescue_disk: dir.join("rescue.qcow2"),
            dir,
        }
    }
}

/// Where each NIC sits: NIC `i` of the layout is on root port `rp<slot>`.
/// Fixed for the life of a QEMU process; a resumed VM must be started with
/// the layout it was suspended with (the saved state names the devices).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Layout {
    pub root_ports: u32,
    /// (nic id, slot)
    pub slots: Vec<(String, u32)>,
}

impl Layout {
    /// A fresh layout: each NIC on its own port in order, then the spares.
    pub fn fresh(spec: &VmSpec) -> Layout {
        Layout {
            root_ports: (spec.nics.len() as u32 + spec.spare_pcie_ports).min(MAX_ROOT_PORTS),
            slots: spec.nics.iter().enumerate().map(|(i, n)| (n.id.clone(), i as u32)).collect(),
        }
    }
    pub fn slot_of(&self, nic: &str) -> Option<u32> {
        self.slots.iter().find(|(id, _)| id == nic).map(|(_, s)| *s)
    }
    pub fn free_slot(&self) -> Option<u32> {
        (0..self.root_ports).find(|s| !self.slots.iter().any(|(_, t)| t == s))
    }
}

/// What `vm.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Record {
    pub spec: VmSpec,
    pub layout: Layout,
    /// Set while the instance is rescued.
    #[serde(default)]
    pub rescue: Option<Rescue>,
}

/// A rescue boot: the guest starts from `rescue.qcow2` (an overlay over the
/// rescue image), its own root disk attached as a second disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rescue {
    pub root: RootDisk,
    pub kernel: Option<KernelBoot>,
}

fn name_ok(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !s.starts_with('.')
        && !s.starts_with('-')
}

/// An instance id usable as a directory name.
pub(crate) fn valid_id(id: &str) -> bool {
    name_ok(id, 64)
}

pub(crate) fn valid_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split(':').collect();
    parts.len() == 6
        && parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
        // a unicast address: the low bit of the first octet is clear
        && u8::from_str_radix(parts[0], 16).is_ok_and(|b| b & 1 == 0)
}

/// True when `s` is a UUID in its usual text form.
pub(crate) fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Nic {
    pub(crate) fn validate(&self) -> Result<()> {
        if !name_ok(&self.id, 64) {
            return Err(Error::Invalid(format!("bad NIC id {:?}", self.id)));
        }
        if !name_ok(&self.tap, 15) {
            return Err(Error::Invalid(format!("bad tap name {:?} (at most 15 of [A-Za-z0-9._-])", self.tap)));
        }
        if !valid_mac(&self.mac) {
            return Err(Error::Invalid(format!("bad MAC address {:?}", self.mac)));
        }
        if let Some(b) = &self.bridge {
            if !name_ok(b, 15) {
                return Err(Error::Invalid(format!("bad bridge name {b:?}")));
            }
        }
        Ok(())
    }
}

impl VmSpec {
    /// Checks what would otherwise fail late (or be unsafe) on the host.
    pub fn validate(&self) -> Result<()> {
        if !name_ok(&self.id, 64) {
            return Err(Error::Invalid(format!("bad instance id {:?}", self.id)));
        }
        if self.vcpus == 0 || self.vcpus > 64 {
            return Err(Error::Invalid(format!("vcpus must be 1..=64, not {}", self.vcpus)));
        }
        if self.memory_mib < 32 {
            return Err(Error::Invalid(format!("memory must be at least 32 MiB, not {}", self.memory_mib)));
        }
        let abs = |p: &Path, what: &str| {
            if p.is_absolute() {
                Ok(())
            } else {
                Err(Error::Invalid(format!("{what} path must be absolute: {}", p.display())))
            }
        };
        abs(&self.root_disk.base, "base image")?;
        if let Some(k) = &self.kernel {
            abs(&k.kernel, "kernel")?;
            if let Some(i) = &k.initrd {
                abs(i, "initrd")?;
            }
        }
        if let Some(c) = &self.config_drive {
            abs(c, "config drive")?;
        }
        for (i, n) in self.nics.iter().enumerate() {
            n.validate()?;
            if self.nics[..i].iter().any(|m| m.id == n.id || m.tap == n.tap) {
                return Err(Error::Invalid(format!("NIC {} or tap {} given twice", n.id, n.tap)));
            }
        }
        if self.nics.len() as u32 + self.spare_pcie_ports > MAX_ROOT_PORTS {
            return Err(Error::Invalid(format!("at most {MAX_ROOT_PORTS} NICs plus spare PCIe ports")));
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn spec() -> VmSpec {
        VmSpec {
            id: "0e4f5a4c-1111-4222-8333-444455556666".into(),
            name: "web-1".into(),
            vcpus: 1,
            memory_mib: 128,
            root_disk: RootDisk { base: "/img/base.qcow2".into(), base_format: DiskFormat::Qcow2, size_bytes: 1 << 30 },
            kernel: None,
            nics: vec![Nic { id: "p1".into(), tap: "tapabc".into(), mac: "52:54:00:00:00:01".into(), bridge: None }],
            config_drive: None,
            spare_pcie_ports: 2,
            accel: Accel::Tcg,
            vnc: true,
        }
    }

    #[test]
    fn validation_refuses_unsafe_names_and_values() {
        assert!(spec().validate().is_ok());
        let mut s = spec();
        s.id = "../etc".into();
        assert!(s.validate().is_err());
        let mut s = spec();
        s.nics[0].tap = "a-tap-name-too-long".into();
        assert!(s.validate().is_err());
        let mut s = spec();
        s.nics[0].mac = "01:00:00:00:00:01".into(); // multicast
        assert!(s.validate().is_err());
        let mut s = spec();
        s.root_disk.base = "rel/base".into();
        assert!(s.validate().is_err());
        let mut s = spec();
        s.nics.push(s.nics[0].clone());
        assert!(s.validate().is_err());
        let mut s = spec();
        s.vcpus = 0;
        assert!(s.validate().is_err());
        assert!(is_uuid(&spec().id));
        assert!(!is_uuid("vm-1"));
    }

    #[test]
    fn layout_puts_nics_first_then_spares() {
        let mut l = Layout::fresh(&spec());
        assert_eq!(l.root_ports, 3);
        assert_eq!(l.slot_of("p1"), Some(0));
        assert_eq!(l.free_slot(), Some(1));
        l.slots.push(("p2".into(), 1));
        l.slots.push(("p3".into(), 2));
        assert_eq!(l.free_slot(), None);
        l.slots.retain(|(id, _)| id != "p1");
        assert_eq!(l.free_slot(), Some(0));
    }
}
