//! The fake hypervisor: instances are entries in a map; operations take a
//! configurable time and may be told to fail. Enough to drive every state
//! transition of the API without a real host.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustack_common::Error;
use rustack_http::token_layer::BoxFuture;

use super::{
    diagnostics_state, CpuDetails, Diagnostics, DiskDetails, HostResources, HypervisorDriver, MemoryDetails,
    NicDetails, SnapshotData, SpawnSpec,
};
use crate::model::{power, Resources};

#[derive(Debug, Clone)]
pub struct FakeOptions {
    pub resources: HostResources,
    pub spawn_delay: Duration,
    pub action_delay: Duration,
    pub fail_spawn: bool,
}

struct FakeVm {
    name: String,
    power: i64,
    resources: Resources,
    boots: u32,
    started: Instant,
    /// (port id, MAC) of each NIC.
    nics: Vec<(String, String)>,
    config_drive: bool,
}

impl FakeVm {
    fn new(spec: &SpawnSpec, power: i64) -> FakeVm {
        FakeVm {
            name: spec.name.clone(),
            power,
            resources: spec.resources,
            boots: 1,
            started: Instant::now(),
            nics: spec.nics.iter().map(|n| (n.port_id.clone(), n.mac.clone())).collect(),
            config_drive: spec.config_drive.is_some(),
        }
    }
}

pub struct FakeDriver {
    host: String,
    opts: FakeOptions,
    vms: Mutex<HashMap<String, FakeVm>>,
    /// VNC sockets tests point instances at (`set_vnc_socket`).
    vnc: Mutex<HashMap<String, std::path::PathBuf>>,
}

impl FakeDriver {
    pub fn new(host: &str, opts: FakeOptions) -> FakeDriver {
        FakeDriver { host: host.to_string(), opts, vms: Mutex::new(HashMap::new()), vnc: Mutex::new(HashMap::new()) }
    }

    async fn wait(&self, d: Duration) {
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    fn set_power(&self, uuid: &str, from: &[i64], to: i64) -> Result<(), Error> {
        let mut vms = self.vms.lock().unwrap_or_else(|e| e.into_inner());
        let vm = vms.get_mut(uuid).ok_or_else(|| Error::not_found(format!("Instance {uuid} not on this host")))?;
        if !from.is_empty() && !from.contains(&vm.power) {
            return Err(Error::conflict(format!("Instance {uuid} is in power state {}", vm.power)));
        }
        vm.power = to;
        Ok(())
    }

    fn op<'a>(&'a self, uuid: &'a str, from: &'static [i64], to: i64) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.wait(self.opts.action_delay).await;
            self.set_power(uuid, from, to)
        })
    }

    /// Test hook: changes an instance's power state behind the API's back
    /// (a guest that shut itself down), for the reconciler tests.
    pub fn force_power_state(&self, uuid: &str, state: i64) -> bool {
        self.set_power(uuid, &[], state).is_ok()
    }

    /// Test hook: the instance's VNC server is this Unix socket (a test's
    /// fake VNC server), for the console proxy tests.
    pub fn set_vnc_socket(&self, uuid: &str, path: std::path::PathBuf) {
        self.vnc.lock().unwrap_or_else(|e| e.into_inner()).insert(uuid.to_string(), path);
    }

    /// Test hook: the instance vanishes from the hypervisor.
    pub fn forget(&self, uuid: &str) {
        self.vms.lock().unwrap_or_else(|e| e.into_inner()).remove(uuid);
    }
}

impl HypervisorDriver for FakeDriver {
    fn host(&self) -> &str {
        &self.host
    }

    fn host_resources(&self) -> HostResources {
        self.opts.resources
    }

    fn spawn<'a>(&'a self, spec: &'a SpawnSpec) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.wait(self.opts.spawn_delay).await;
            if self.opts.fail_spawn {
                return Err(Error::internal(&std::io::Error::other(format!(
                    "fake driver told to fail spawns on {}",
                    self.host
                ))));
            }
            self.vms
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(spec.uuid.clone(), FakeVm::new(spec, power::RUNNING));
            Ok(())
        })
    }

    fn destroy<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.wait(self.opts.action_delay).await;
            self.vms.lock().unwrap_or_else(|e| e.into_inner()).remove(uuid);
            Ok(())
        })
    }

    fn reboot<'a>(&'a self, uuid: &'a str, _hard: bool) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.wait(self.opts.action_delay).await;
            let mut vms = self.vms.lock().unwrap_or_else(|e| e.into_inner());
            let vm = vms.get_mut(uuid).ok_or_else(|| Error::not_found(format!("Instance {uuid} not on this host")))?;
            vm.power = power::RUNNING;
            vm.boots += 1;
            Ok(())
        })
    }

    fn power_on<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        self.op(uuid, &[], power::RUNNING)
    }

    fn power_off<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        self.op(uuid, &[], power::SHUTDOWN)
    }

    fn pause<'a>(&'a self, uuid: &'a str, pause: bool) -> BoxFuture<'a, Result<(), Error>> {
        if pause {
            self.op(uuid, &[power::RUNNING], power::PAUSED)
        } else {
            self.op(uuid, &[power::PAUSED], power::RUNNING)
        }
    }

    fn suspend<'a>(&'a self, uuid: &'a str, suspend: bool) -> BoxFuture<'a, Result<(), Error>> {
        if suspend {
            self.op(uuid, &[power::RUNNING], power::SUSPENDED)
        } else {
            self.op(uuid, &[power::SUSPENDED], power::RUNNING)
        }
    }

    fn resize<'a>(&'a self, uuid: &'a str, resources: Resources, _root_gb: i64) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            self.wait(self.opts.action_delay).await;
            let mut vms = self.vms.lock().unwrap_or_else(|e| e.into_inner());
            let vm = vms.get_mut(uuid).ok_or_else(|| Error::not_found(format!("Instance {uuid} not on this host")))?;
            vm.resources = resources;
            Ok(())
        })
    }

    fn snapshot<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<SnapshotData, Error>> {
        Box::pin(async move {
            self.wait(self.opts.action_delay).await;
            let vms = self.vms.lock().unwrap_or_else(|e| e.into_inner());
            let vm = vms.get(uuid).ok_or_else(|| Error::not_found(format!("Instance {uuid} not on this host")))?;
            Ok(SnapshotData::Bytes(format!("fake snapshot of {} ({uuid})\n", vm.name).into_bytes()))
        })
    }

    fn attach_interface<'a>(&'a self, uuid: &'a str, nic: &'a super::NicSpec) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if let Some(vm) = self.vms.lock().unwrap_or_else(|e| e.into_inner()).get_mut(uuid) {
                vm.nics.push((nic.port_id.clone(), nic.mac.clone()));
            }
            Ok(())
        })
    }

    fn detach_interface<'a>(&'a self, uuid: &'a str, port_id: &'a str) -> BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            if let Some(vm) = self.vms.lock().unwrap_or_else(|e| e.into_inner()).get_mut(uuid) {
                vm.nics.retain(|(p, _)| p != port_id);
            }
            Ok(())
        })
    }

    fn power_state(&self, uuid: &str) -> Option<i64> {
        self.vms.lock().unwrap_or_else(|e| e.into_inner()).get(uuid).map(|v| v.power)
    }

    fn instances(&self) -> Vec<String> {
        self.vms.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }

    fn console_output(&self, uuid: &str) -> Option<String> {
        let vms = self.vms.lock().unwrap_or_else(|e| e.into_inner());
        let vm = vms.get(uuid)?;
        let mut out = String::new();
        // a boot log of a few lines per boot, as a guest's serial console has
        for b in 0..vm.boots {
            // every line names itself, so any tail of the log is recognisable
            out.push_str(&format!("[boot {}] fake console of {} on {}\n", b + 1, vm.name, self.host));
            for step in ["loading kernel", "mounting root filesystem", "configuring network", "starting sshd"] {
                out.push_str(&format!("[boot {}] fake console: {step}\n", b + 1));
            }
            out.push_str(&format!("[boot {}] fake console: {} login: \n", b + 1, vm.name));
        }
        Some(out)
    }

    fn diagnostics(&self, uuid: &str) -> Option<Diagnostics> {
        let vms = self.vms.lock().unwrap_or_else(|e| e.into_inner());
        let vm = vms.get(uuid)?;
        let running = vm.power == power::RUNNING || vm.power == power::PAUSED;
        // a fake guest moves no bytes: its counters are zero, not unknown
        let nic_details = vm
            .nics
            .iter()
            .map(|(_, mac)| NicDetails {
                mac_address: Some(mac.clone()),
                rx_octets: Some(0),
                rx_errors: Some(0),
                rx_drop: Some(0),
                rx_packets: Some(0),
                tx_octets: Some(0),
                tx_errors: Some(0),
                tx_drop: Some(0),
                tx_packets: Some(0),
                ..NicDetails::default()
            })
            .collect::<Vec<_>>();
        let disks = 1 + i64::from(vm.config_drive);
        let zero = DiskDetails {
            read_bytes: Some(0),
            read_requests: Some(0),
            write_bytes: Some(0),
            write_requests: Some(0),
            errors_count: Some(0),
        };
        Some(Diagnostics {
            state: diagnostics_state(vm.power),
            driver: "libvirt",
            hypervisor: Some("fake".into()),
            hypervisor_os: Some("rustack".into()),
            uptime: running.then(|| vm.started.elapsed().as_secs() as i64),
            config_drive: vm.config_drive,
            num_cpus: vm.resources.vcpu,
            num_nics: nic_details.len() as i64,
            num_disks: disks,
            memory_details: MemoryDetails {
                maximum: Some(vm.resources.memory_mb),
                used: Some(if running { vm.resources.memory_mb } else { 0 }),
            },
            cpu_details: (0..vm.resources.vcpu)
                .map(|id| CpuDetails { id: Some(id), time: Some(0), utilisation: Some(0) })
                .collect(),
            nic_details,
            disk_details: (0..disks).map(|_| zero.clone()).collect(),
        })
    }

    fn vnc_socket(&self, uuid: &str) -> Option<std::path::PathBuf> {
        // no graphical console unless a test gave one
        self.vnc.lock().unwrap_or_else(|e| e.into_inner()).get(uuid).cloned()
    }

    fn adopt(&self, spec: &SpawnSpec, power_state: i64) {
        let mut vms = self.vms.lock().unwrap_or_else(|e| e.into_inner());
        vms.entry(spec.uuid.clone()).or_insert_with(|| FakeVm::new(spec, power_state));
    }
}
