//! QEMU process management for the compute service's hypervisor driver:
//! one `qemu-system-x86_64 -M q35` per instance, controlled over QMP, with
//! its files under `<instances dir>/<instance id>/`. No libvirt, no daemon:
//! VMs are detached processes that outlive the control plane, found again by
//! [`Vmm::adopt_all`]. See docs/qemu.md.
//!
//! - [`qmp`]: the QMP client (commands with ids, events, timeouts).
//! - [`spec`]: [`VmSpec`] (what a VM is made of) and the instance files.
//! - [`vmm`]: [`Vmm`], the lifecycle (spawn, stop/start, reset, pause,
//!   suspend/resume, snapshot, NIC hot-plug, destroy, re-adoption).
//! - [`kvm`]: whether `-accel kvm` really works here (`virt_type = auto`).
//! - [`configdrive`]: ISO 9660 `config-2` volumes.

pub mod cmdline;
pub mod configdrive;
mod error;
pub mod host;
pub mod kvm;
pub mod process;
pub mod qmp;
pub mod spec;
pub mod vmm;

pub use error::{Error, Result};
pub use spec::{Accel, DiskFormat, KernelBoot, Nic, Paths, Rescue, RootDisk, VmSpec};
pub use vmm::{AdoptReport, PowerState, Vmm};
