//! The VM manager: one QEMU process per instance, files under
//! `<root>/<instance id>/`, operations over QMP.
//!
//! The Vmm keeps no state that the host does not also hold: the spec and NIC
//! layout are in `vm.json`, the process is found by its pidfile, the power
//! state is asked of QEMU (`query-status`) or read from the absence of a
//! process (shut off) plus a saved state file (suspended). So a new Vmm on
//! the same root ([`Vmm::adopt_all`]) knows everything the old one knew.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::cmdline::{args, qemu_binary};
use crate::error::{Error, Result};
use crate::host;
use crate::process;
use crate::qmp::{wait_event, Event, Qmp};
use crate::spec::{Layout, Nic, Paths, Record, VmSpec};

/// How long QEMU may take from exec to answering QMP (a loaded 2-core host
/// starting several VMs takes seconds).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a device_del may take to be acknowledged by the guest.
pub const UNPLUG_TIMEOUT: Duration = Duration::from_secs(30);
/// How long saving or restoring a suspended VM's state may take.
pub const MIGRATE_TIMEOUT: Duration = Duration::from_secs(300);
/// The console log is cut to its last `CONSOLE_KEEP` bytes at start once it
/// is larger than `CONSOLE_MAX`.
const CONSOLE_MAX: u64 = 4 << 20;
const CONSOLE_KEEP: u64 = 1 << 20;

/// The power state of a VM, in Nova's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    Running,
    /// QMP `stop` (pause), and the transient states of QEMU (prelaunch,
    /// incoming/outgoing migration).
    Paused,
    /// No QEMU process (powered off, crashed out, or never started).
    Shutdown,
    /// No QEMU process, its state saved in `suspend.state`.
    Suspended,
    /// The guest panicked or QEMU hit an internal/IO error.
    Crashed,
    NoState,
}

impl PowerState {
    /// Nova's `power_state` numbers.
    pub fn nova_code(self) -> i64 {
        match self {
            PowerState::NoState => 0,
            PowerState::Running => 1,
            PowerState::Paused => 3,
            PowerState::Shutdown => 4,
            PowerState::Crashed => 6,
            PowerState::Suspended => 7,
        }
    }

    fn from_qmp_status(s: &str) -> PowerState {
        match s {
            "running" => PowerState::Running,
            "paused" | "suspended" | "prelaunch" | "inmigrate" | "postmigrate" | "finish-migrate" | "save-vm"
            | "restore-vm" | "debug" | "colo" => PowerState::Paused,
            "shutdown" => PowerState::Shutdown,
            "guest-panicked" | "internal-error" | "io-error" => PowerState::Crashed,
            _ => PowerState::NoState,
        }
    }
}

impl std::fmt::Display for PowerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            PowerState::Running => "running",
            PowerState::Paused => "paused",
            PowerState::Shutdown => "shut off",
            PowerState::Suspended => "suspended",
            PowerState::Crashed => "crashed",
            PowerState::NoState => "in no state",
        };
        f.write_str(s)
    }
}

/// What [`Vmm::adopt_all`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdoptReport {
    /// A live QEMU of ours runs (QMP reconnected).
    pub running: Vec<String>,
    /// No process: the instance is shut off (it stopped or died while we were away).
    pub stopped: Vec<String>,
    /// No process, a saved state: suspended.
    pub suspended: Vec<String>,
}

#[derive(Default)]
struct Live {
    pid: Option<i32>,
    qmp: Option<Arc<Qmp>>,
    /// The run state last seen on this connection (events and
    /// `query-status`), for answers that must not wait on QEMU.
    status: Arc<Mutex<Option<PowerState>>>,
}

/// Follows a connection's events to keep `status` current without asking
/// QEMU; ends when the connection's event channel closes.
fn watch_status(q: &Qmp, status: Arc<Mutex<Option<PowerState>>>) {
    let mut rx = q.subscribe();
    tokio::spawn(async move {
        loop {
            let next = match rx.recv().await {
                Ok(ev) => match ev.name.as_str() {
                    "STOP" => Some(PowerState::Paused),
                    "RESUME" => Some(PowerState::Running),
                    "SHUTDOWN" => Some(PowerState::Shutdown),
                    "GUEST_PANICKED" => Some(PowerState::Crashed),
                    _ => None,
                },
                Err(broadcast::error::RecvError::Lagged(_)) => None,
                Err(broadcast::error::RecvError::Closed) => break,
            };
            if let Some(st) = next {
                *lock(&status) = Some(st);
            }
        }
    });
}

struct Vm {
    id: String,
    paths: Paths,
    /// Serialises the operations on one VM.
    op: tokio::sync::Mutex<()>,
    record: Mutex<Record>,
    live: Mutex<Live>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Vm {
    fn record(&self) -> Record {
        lock(&self.record).clone()
    }

    fn save_record(&self, rec: Record) -> Result<()> {
        write_record(&self.paths, &rec)?;
        *lock(&self.record) = rec;
        Ok(())
    }

    /// The live QEMU's pid, if the process still is ours.
    fn live_pid(&self) -> Option<i32> {
        let pid = lock(&self.live).pid.or_else(|| process::read_pidfile(&self.paths.pid))?;
        process::is_our_qemu(pid, &self.paths.pid).then_some(pid)
    }

    /// The QMP connection, reconnected when the old one closed while the
    /// process lives.
    async fn qmp(&self) -> Result<Arc<Qmp>> {
        if let Some(q) = lock(&self.live).qmp.clone().filter(|q| !q.is_closed()) {
            return Ok(q);
        }
        let pid = self.live_pid().ok_or_else(|| Error::state(&self.id, PowerState::Shutdown, "reach QEMU"))?;
        let q = Arc::new(Qmp::connect(&self.paths.qmp, Duration::from_secs(10)).await?);
        self.attach(pid, q.clone());
        Ok(q)
    }

    /// Makes `q` the live connection of process `pid` and follows its events.
    fn attach(&self, pid: i32, q: Arc<Qmp>) {
        let status = Arc::new(Mutex::new(None));
        watch_status(&q, status.clone());
        *lock(&self.live) = Live { pid: Some(pid), qmp: Some(q), status };
    }

    /// The power state without asking QEMU: the process's presence, the
    /// state file, and the run state last seen (RUNNING when none was).
    fn power_state_now(&self) -> PowerState {
        if self.live_pid().is_none() {
            return if self.paths.state.exists() { PowerState::Suspended } else { PowerState::Shutdown };
        }
        let status = lock(&self.live).status.clone();
        let seen = *lock(&status);
        seen.unwrap_or(PowerState::Running)
    }

    async fn power_state(&self) -> PowerState {
        if self.live_pid().is_none() {
            return if self.paths.state.exists() { PowerState::Suspended } else { PowerState::Shutdown };
        }
        match self.qmp().await {
            Ok(q) => match q.execute_timeout("query-status", Value::Null, Duration::from_secs(10)).await {
                Ok(v) => {
                    let st = PowerState::from_qmp_status(v["status"].as_str().unwrap_or(""));
                    let status = lock(&self.live).status.clone();
                    *lock(&status) = Some(st);
                    st
                }
                // It exited between the two looks.
                Err(_) if self.live_pid().is_none() => PowerState::Shutdown,
                Err(_) => PowerState::NoState,
            },
            Err(_) if self.live_pid().is_none() => PowerState::Shutdown,
            Err(_) => PowerState::NoState,
        }
    }

    fn forget_process(&self) {
        *lock(&self.live) = Live::default();
        let _ = std::fs::remove_file(&self.paths.qmp);
        let _ = std::fs::remove_file(&self.paths.vnc);
        let _ = std::fs::remove_file(&self.paths.pid);
    }

    /// Starts QEMU for the current record and waits for QMP. `incoming`:
    /// QEMU waits for a saved state (resume) and the stored layout is kept;
    /// otherwise the layout is made afresh from the spec.
    async fn start(&self, incoming: bool) -> Result<Arc<Qmp>> {
        let mut rec = self.record();
        if !incoming {
            rec.layout = Layout::fresh(&rec.spec);
            self.save_record(rec.clone())?;
        }
        for nic in &rec.spec.nics {
            if rec.layout.slot_of(&nic.id).is_some() {
                host::plug_tap(nic).await?;
            }
        }
        trim_console(&self.paths.console);
        self.forget_process();
        let argv = args(&rec.spec, &rec.layout, &self.paths, incoming, rec.rescue.as_ref());
        let log_start = std::fs::metadata(&self.paths.qemu_log).map(|m| m.len()).unwrap_or(0);
        let pid = process::spawn_detached(&qemu_binary(), &argv, &self.paths.qemu_log)?;
        lock(&self.live).pid = Some(pid);
        let t0 = Instant::now();
        loop {
            if !process::is_alive(pid) {
                let log = std::fs::read(&self.paths.qemu_log).unwrap_or_default();
                let msg = String::from_utf8_lossy(log.get(log_start as usize..).unwrap_or(&[])).trim().to_string();
                self.forget_process();
                return Err(Error::Command { command: qemu_binary(), message: msg });
            }
            if self.paths.qmp.exists() {
                if let Ok(q) = Qmp::connect(&self.paths.qmp, Duration::from_secs(5)).await {
                    let q = Arc::new(q);
                    self.attach(pid, q.clone());
                    tracing::info!(instance = %self.id, pid, ms = t0.elapsed().as_millis() as u64, "QEMU started");
                    return Ok(q);
                }
            }
            if t0.elapsed() > START_TIMEOUT {
                let _ = process::kill(pid, &self.paths.pid, Duration::from_secs(2)).await;
                self.forget_process();
                return Err(Error::Timeout(format!("QEMU of {} did not answer QMP", self.id)));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Ends the QEMU process: ACPI power button first when `timeout` is
    /// non-zero, then SIGTERM/SIGKILL. Nothing to do when none runs.
    async fn halt(&self, timeout: Duration) -> Result<()> {
        let Some(pid) = self.live_pid() else {
            self.forget_process();
            return Ok(());
        };
        if !timeout.is_zero() {
            if let Ok(q) = self.qmp().await {
                if q.execute("system_powerdown", Value::Null).await.is_ok() && process::wait_gone(pid, timeout).await {
                    self.forget_process();
                    return Ok(());
                }
            }
            tracing::info!(instance = %self.id, "guest did not power off in time; killing QEMU");
        }
        process::kill(pid, &self.paths.pid, Duration::from_secs(3)).await?;
        self.forget_process();
        Ok(())
    }

    async fn require(&self, op: &str, allowed: &[PowerState]) -> Result<PowerState> {
        let st = self.power_state().await;
        if allowed.contains(&st) {
            Ok(st)
        } else {
            Err(Error::state(&self.id, st, op))
        }
    }

    async fn query_migrate_until_done(&self, q: &Qmp, what: &str) -> Result<()> {
        let t0 = Instant::now();
        loop {
            let v = q.execute("query-migrate", Value::Null).await?;
            match v["status"].as_str().unwrap_or("none") {
                "completed" => return Ok(()),
                "failed" | "cancelled" => {
                    return Err(Error::Host(format!(
                        "{what} of {} failed: {}",
                        self.id,
                        v["error-desc"].as_str().unwrap_or("no reason given")
                    )))
                }
                _ => {}
            }
            if t0.elapsed() > MIGRATE_TIMEOUT {
                return Err(Error::Timeout(format!("{what} of {}", self.id)));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn write_record(paths: &Paths, rec: &Record) -> Result<()> {
    let tmp = paths.record.with_extension("json.tmp");
    let body = serde_json::to_vec_pretty(rec).map_err(|e| Error::host("encode vm.json", e))?;
    std::fs::write(&tmp, body).map_err(|e| Error::host(format!("write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, &paths.record).map_err(|e| Error::host(format!("rename {}", tmp.display()), e))
}

fn read_record(paths: &Paths) -> Result<Record> {
    let body = std::fs::read(&paths.record).map_err(|e| Error::host(format!("read {}", paths.record.display()), e))?;
    serde_json::from_slice(&body).map_err(|e| Error::host(format!("parse {}", paths.record.display()), e))
}

/// Keeps the console log bounded across restarts (QEMU appends to it).
fn trim_console(path: &Path) {
    if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) > CONSOLE_MAX {
        if let Ok(tail) = process::tail(path, CONSOLE_KEEP) {
            let _ = std::fs::write(path, tail);
        }
    }
}

/// The VM manager of one host (one instances dir).
pub struct Vmm {
    root: PathBuf,
    vms: Mutex<HashMap<String, Arc<Vm>>>,
}

impl Vmm {
    /// A manager of the instances under `root` (created if missing). It
    /// knows no instance until [`Vmm::spawn`] or [`Vmm::adopt_all`].
    pub fn new(root: impl Into<PathBuf>) -> Result<Vmm> {
        let root = root.into();
        if !root.is_absolute() {
            return Err(Error::Invalid(format!("instances dir must be absolute: {}", root.display())));
        }
        std::fs::create_dir_all(&root).map_err(|e| Error::host(format!("mkdir {}", root.display()), e))?;
        // QEMU processes are recognised by the pidfile path in their command
        // line: one spelling of the root, whatever path we were given.
        let root = std::fs::canonicalize(&root).map_err(|e| Error::host(format!("resolve {}", root.display()), e))?;
        Ok(Vmm { root, vms: Mutex::new(HashMap::new()) })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The files of instance `id` (whether or not it exists).
    pub fn paths(&self, id: &str) -> Paths {
        Paths::new(&self.root, id)
    }

    fn vm(&self, id: &str) -> Result<Arc<Vm>> {
        lock(&self.vms).get(id).cloned().ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// Ids of every instance this manager knows.
    pub fn instances(&self) -> Vec<String> {
        let mut v: Vec<String> = lock(&self.vms).keys().cloned().collect();
        v.sort();
        v
    }

    /// The spec an instance runs with (hot-plugged NICs included).
    pub fn spec(&self, id: &str) -> Result<VmSpec> {
        Ok(self.vm(id)?.record().spec)
    }

    /// The QEMU pid of a running instance.
    pub fn pid(&self, id: &str) -> Result<Option<i32>> {
        Ok(self.vm(id)?.live_pid())
    }

    /// QMP events of a running instance (SHUTDOWN, POWERDOWN, RESET, STOP,
    /// RESUME, DEVICE_DELETED…), from now until its QEMU exits.
    pub async fn events(&self, id: &str) -> Result<broadcast::Receiver<Event>> {
        Ok(self.vm(id)?.qmp().await?.subscribe())
    }

    /// Creates the instance's files (root disk overlay, vm.json), its taps,
    /// and starts QEMU. Returns once QEMU answers QMP (the guest is booting).
    /// On failure nothing is left behind.
    pub async fn spawn(&self, spec: VmSpec) -> Result<()> {
        spec.validate()?;
        let paths = self.paths(&spec.id);
        let vm = {
            let mut vms = lock(&self.vms);
            // The directory may exist already (a config drive built into it);
            // an instance exists once its vm.json does.
            if vms.contains_key(&spec.id) || paths.record.exists() {
                return Err(Error::state(&spec.id, "already present", "spawn"));
            }
            let vm = Arc::new(Vm {
                id: spec.id.clone(),
                paths: paths.clone(),
                op: tokio::sync::Mutex::new(()),
                record: Mutex::new(Record { spec: spec.clone(), layout: Layout::fresh(&spec), rescue: None }),
                live: Mutex::new(Live::default()),
            });
            vms.insert(spec.id.clone(), vm.clone());
            vm
        };
        let _op = vm.op.lock().await;
        let made = async {
            std::fs::create_dir_all(&paths.dir)
                .map_err(|e| Error::host(format!("mkdir {}", paths.dir.display()), e))?;
            write_record(&paths, &vm.record())?;
            host::create_overlay(
                &spec.root_disk.base,
                spec.root_disk.base_format,
                &paths.disk,
                spec.root_disk.size_bytes,
            )
            .await?;
            vm.start(false).await.map(|_| ())
        }
        .await;
        if let Err(e) = made {
            tracing::warn!(instance = %spec.id, error = %e, "spawn failed; cleaning up");
            let _ = self.teardown(&vm).await;
            lock(&self.vms).remove(&spec.id);
            return Err(e);
        }
        Ok(())
    }

    /// The instance's power state.
    pub async fn power_state(&self, id: &str) -> Result<PowerState> {
        Ok(self.vm(id)?.power_state().await)
    }

    /// The power state from what is known without a QMP round trip (for
    /// callers that cannot wait): no process → SHUTDOWN or SUSPENDED, else
    /// the last run state QEMU reported or announced by an event.
    pub fn power_state_now(&self, id: &str) -> Result<PowerState> {
        Ok(self.vm(id)?.power_state_now())
    }

    /// Powers off: the ACPI power button, then after `timeout` a kill
    /// (`timeout` zero: kill at once). A shut-off instance is left as is.
    pub async fn stop(&self, id: &str, timeout: Duration) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        vm.halt(timeout).await
    }

    /// Powers on a shut-off instance (a suspended one is resumed); a running
    /// one is left as is.
    pub async fn start(&self, id: &str) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        match vm.power_state().await {
            PowerState::Suspended => self.resume_locked(&vm).await,
            PowerState::Shutdown => vm.start(false).await.map(|_| ()),
            _ => Ok(()),
        }
    }

    /// A hard reset (QMP `system_reset`): the guest reboots at once, in the
    /// same QEMU process.
    pub async fn reset(&self, id: &str) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        vm.require("reset", &[PowerState::Running, PowerState::Paused, PowerState::Crashed]).await?;
        let q = vm.qmp().await?;
        q.execute("system_reset", Value::Null).await?;
        // A paused or panicked guest stays stopped after a reset: run it.
        let st = q.execute("query-status", Value::Null).await?;
        if st["status"] != "running" {
            q.execute("cont", Value::Null).await?;
        }
        Ok(())
    }

    /// A soft reboot as Nova's: an ACPI power-off (killed after `timeout`),
    /// then a fresh QEMU. Only for a running (or paused) guest.
    pub async fn reboot_soft(&self, id: &str, timeout: Duration) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        vm.require("reboot", &[PowerState::Running, PowerState::Paused]).await?;
        vm.halt(timeout).await?;
        vm.start(false).await.map(|_| ())
    }

    /// A hard reboot as Nova's libvirt driver does it: QEMU is killed (or
    /// was not running; a suspended state is discarded) and a fresh one
    /// started from the current spec. [`Vmm::reset`] is the in-process reset.
    pub async fn hard_reboot(&self, id: &str) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        vm.halt(Duration::ZERO).await?;
        let _ = std::fs::remove_file(&vm.paths.state);
        vm.start(false).await.map(|_| ())
    }

    /// QMP `stop`.
    pub async fn pause(&self, id: &str) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        vm.require("pause", &[PowerState::Running]).await?;
        vm.qmp().await?.execute("stop", Value::Null).await.map(|_| ())
    }

    /// QMP `cont`.
    pub async fn unpause(&self, id: &str) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        vm.require("unpause", &[PowerState::Paused]).await?;
        vm.qmp().await?.execute("cont", Value::Null).await.map(|_| ())
    }

    /// Saves the VM's state to `suspend.state` (QMP `migrate` to `file:`)
    /// and ends QEMU; [`Vmm::resume`] restores it.
    pub async fn suspend(&self, id: &str) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        let before = vm.require("suspend", &[PowerState::Running, PowerState::Paused]).await?;
        let q = vm.qmp().await?;
        q.execute("stop", Value::Null).await?;
        let saved = async {
            let _ = std::fs::remove_file(&vm.paths.state);
            let uri = format!("file:{}", vm.paths.state.display());
            q.execute("migrate", json!({ "uri": uri })).await?;
            vm.query_migrate_until_done(&q, "saving the state").await
        }
        .await;
        if let Err(e) = saved {
            let _ = std::fs::remove_file(&vm.paths.state);
            if before == PowerState::Running {
                let _ = q.execute("cont", Value::Null).await;
            }
            return Err(e);
        }
        let pid = vm.live_pid();
        let _ = q.execute_timeout("quit", Value::Null, Duration::from_secs(5)).await;
        if let Some(pid) = pid {
            if !process::wait_gone(pid, Duration::from_secs(10)).await {
                process::kill(pid, &vm.paths.pid, Duration::from_secs(2)).await?;
            }
        }
        vm.forget_process();
        Ok(())
    }

    /// Starts QEMU again from the saved state (`-incoming defer` +
    /// `migrate-incoming`), runs the guest, removes the state file.
    pub async fn resume(&self, id: &str) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        self.resume_locked(&vm).await
    }

    async fn resume_locked(&self, vm: &Vm) -> Result<()> {
        vm.require("resume", &[PowerState::Suspended]).await?;
        let q = vm.start(true).await?;
        let restored = async {
            let uri = format!("file:{}", vm.paths.state.display());
            q.execute("migrate-incoming", json!({ "uri": uri })).await?;
            vm.query_migrate_until_done(&q, "restoring the state").await?;
            let t0 = Instant::now();
            loop {
                let st = q.execute("query-status", Value::Null).await?;
                match st["status"].as_str().unwrap_or("") {
                    "inmigrate" if t0.elapsed() < MIGRATE_TIMEOUT => {}
                    "running" => return Ok(()),
                    _ => return q.execute("cont", Value::Null).await.map(|_| ()),
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        .await;
        match restored {
            Ok(()) => {
                let _ = std::fs::remove_file(&vm.paths.state);
                Ok(())
            }
            Err(e) => {
                // Keep the state file: the guest's memory is only there.
                let _ = vm.halt(Duration::ZERO).await;
                Err(e)
            }
        }
    }

    /// A consistent copy of the root disk as a standalone qcow2 in the
    /// instance dir (the caller uploads it and may remove it; destroy does).
    /// A running guest is paused for the copy (QMP `stop` flushes its disks).
    pub async fn snapshot(&self, id: &str) -> Result<PathBuf> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        let st = vm.power_state().await;
        let stamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let dest = vm.paths.dir.join(format!("snapshot-{stamp}.qcow2"));
        let q = match st {
            PowerState::Running | PowerState::Paused | PowerState::Crashed => Some(vm.qmp().await?),
            _ => None,
        };
        let was_running = st == PowerState::Running;
        if let (Some(q), true) = (&q, was_running) {
            q.execute("stop", Value::Null).await?;
        }
        let copied = host::flatten(&vm.paths.disk, &dest).await;
        if let (Some(q), true) = (&q, was_running) {
            q.execute("cont", Value::Null).await?;
        }
        match copied {
            Ok(()) => Ok(dest),
            Err(e) => {
                let _ = std::fs::remove_file(&dest);
                Err(e)
            }
        }
    }

    /// Cold resize: new vCPU and memory counts and a root disk grown to
    /// `root_disk_bytes` (disks never shrink). The instance must be shut
    /// off; the next start uses the new size.
    pub async fn resize(&self, id: &str, vcpus: u32, memory_mib: u64, root_disk_bytes: u64) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        vm.require("resize", &[PowerState::Shutdown]).await?;
        let mut rec = vm.record();
        rec.spec.vcpus = vcpus;
        rec.spec.memory_mib = memory_mib;
        rec.spec.root_disk.size_bytes = rec.spec.root_disk.size_bytes.max(root_disk_bytes);
        rec.spec.validate()?;
        host::grow(&vm.paths.disk, root_disk_bytes).await?;
        vm.save_record(rec)
    }

    /// Rebuild: a fresh overlay over another base image (and another
    /// kernel, or none), the rest of the spec kept; the disk never gets
    /// smaller than it was. The instance must be
    /// shut off; the caller starts it.
    pub async fn replace_root_disk(
        &self,
        id: &str,
        root: crate::spec::RootDisk,
        kernel: Option<crate::spec::KernelBoot>,
    ) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        vm.require("rebuild", &[PowerState::Shutdown]).await?;
        let mut rec = vm.record();
        // The flavor did not change: the disk keeps at least its size.
        let size_bytes = root.size_bytes.max(rec.spec.root_disk.size_bytes);
        rec.spec.root_disk = crate::spec::RootDisk { size_bytes, ..root };
        rec.spec.kernel = kernel;
        rec.spec.validate()?;
        let fresh = vm.paths.disk.with_extension("qcow2.new");
        let _ = std::fs::remove_file(&fresh);
        host::create_overlay(
            &rec.spec.root_disk.base,
            rec.spec.root_disk.base_format,
            &fresh,
            rec.spec.root_disk.size_bytes,
        )
        .await?;
        std::fs::rename(&fresh, &vm.paths.disk).map_err(|e| Error::host("replace the root disk", e))?;
        vm.save_record(rec)
    }

    /// Rescue: QEMU is restarted (hard) booting an overlay over the rescue
    /// image (and its kernel, if any), with the instance's own root disk
    /// attached second. A shut-off instance is started rescued.
    pub async fn rescue(
        &self,
        id: &str,
        root: crate::spec::RootDisk,
        kernel: Option<crate::spec::KernelBoot>,
    ) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        vm.require("rescue", &[PowerState::Running, PowerState::Paused, PowerState::Shutdown, PowerState::Crashed])
            .await?;
        let mut rec = vm.record();
        if rec.rescue.is_some() {
            return Err(Error::state(id, "rescued", "rescue"));
        }
        let rescue = crate::spec::Rescue { root, kernel };
        let mut check = rec.spec.clone();
        check.root_disk = rescue.root.clone();
        check.kernel = rescue.kernel.clone();
        check.validate()?;
        vm.halt(Duration::ZERO).await?;
        let _ = std::fs::remove_file(&vm.paths.rescue_disk);
        host::create_overlay(&rescue.root.base, rescue.root.base_format, &vm.paths.rescue_disk, rescue.root.size_bytes)
            .await?;
        rec.rescue = Some(rescue);
        vm.save_record(rec)?;
        vm.start(false).await.map(|_| ())
    }

    /// Leaves rescue: QEMU is restarted (hard) from the instance's own disk;
    /// the rescue disk is removed.
    pub async fn unrescue(&self, id: &str) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        let mut rec = vm.record();
        if rec.rescue.is_none() {
            return Err(Error::state(id, "not rescued", "unrescue"));
        }
        vm.halt(Duration::ZERO).await?;
        rec.rescue = None;
        vm.save_record(rec)?;
        let _ = std::fs::remove_file(&vm.paths.rescue_disk);
        vm.start(false).await.map(|_| ())
    }

    /// True while the instance is rescued.
    pub fn is_rescued(&self, id: &str) -> Result<bool> {
        Ok(self.vm(id)?.record().rescue.is_some())
    }

    /// Adds a NIC. Running: its tap is made and the NIC is hot-plugged on a
    /// spare PCIe root port (`netdev_add` + `device_add`). Shut off: it is
    /// added to the spec for the next start. Suspended: refused (the saved
    /// state fixes the devices).
    pub async fn attach_nic(&self, id: &str, nic: Nic) -> Result<()> {
        nic.validate()?;
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        let mut rec = vm.record();
        if rec.spec.nics.iter().any(|n| n.id == nic.id || n.tap == nic.tap) {
            return Err(Error::state(id, format!("already using NIC {} or tap {}", nic.id, nic.tap), "attach"));
        }
        let st = vm.power_state().await;
        match st {
            PowerState::Shutdown => {}
            PowerState::Suspended | PowerState::NoState => return Err(Error::state(id, st, "attach a NIC")),
            _ => {
                let slot = rec
                    .layout
                    .free_slot()
                    .ok_or_else(|| Error::state(id, "out of spare PCIe ports", "attach a NIC"))?;
                host::plug_tap(&nic).await?;
                let q = vm.qmp().await?;
                let plugged = async {
                    q.execute(
                        "netdev_add",
                        json!({"type": "tap", "id": format!("nd{slot}"), "ifname": nic.tap, "script": "no", "downscript": "no"}),
                    )
                    .await?;
                    if let Err(e) = q
                        .execute(
                            "device_add",
                            json!({"driver": "virtio-net-pci", "id": format!("nic{slot}"), "netdev": format!("nd{slot}"),
                                   "mac": nic.mac, "bus": format!("rp{slot}")}),
                        )
                        .await
                    {
                        let _ = q.execute("netdev_del", json!({"id": format!("nd{slot}")})).await;
                        return Err(e);
                    }
                    Ok(())
                }
                .await;
                if let Err(e) = plugged {
                    let _ = host::unplug_tap(&nic.tap).await;
                    return Err(e);
                }
                rec.layout.slots.push((nic.id.clone(), slot));
            }
        }
        rec.spec.nics.push(nic);
        vm.save_record(rec)
    }

    /// Removes a NIC: hot-unplug (`device_del`, then DEVICE_DELETED within
    /// `timeout`, then `netdev_del`) when running, and its tap.
    pub async fn detach_nic(&self, id: &str, nic_id: &str, timeout: Duration) -> Result<()> {
        let vm = self.vm(id)?;
        let _op = vm.op.lock().await;
        let mut rec = vm.record();
        let Some(nic) = rec.spec.nics.iter().find(|n| n.id == nic_id).cloned() else {
            return Err(Error::NotFound(format!("{id} NIC {nic_id}")));
        };
        let st = vm.power_state().await;
        match st {
            PowerState::Shutdown => {}
            PowerState::Suspended | PowerState::NoState => return Err(Error::state(id, st, "detach a NIC")),
            _ => {
                if let Some(slot) = rec.layout.slot_of(nic_id) {
                    let q = vm.qmp().await?;
                    let mut rx = q.subscribe();
                    let dev = format!("nic{slot}");
                    q.execute("device_del", json!({ "id": dev })).await?;
                    wait_event(&mut rx, "DEVICE_DELETED", |e| e.device() == Some(dev.as_str()), timeout).await?;
                    q.execute("netdev_del", json!({"id": format!("nd{slot}")})).await?;
                    rec.layout.slots.retain(|(n, _)| n != nic_id);
                }
            }
        }
        host::unplug_tap(&nic.tap).await?;
        rec.spec.nics.retain(|n| n.id != nic_id);
        vm.save_record(rec)
    }

    /// The last `max_bytes` of the serial console log.
    pub fn console_log(&self, id: &str, max_bytes: u64) -> Result<String> {
        let vm = self.vm(id)?;
        match process::tail(&vm.paths.console, max_bytes) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(Error::host(format!("read {}", vm.paths.console.display()), e)),
        }
    }

    /// Kills QEMU and removes the taps and every file of the instance.
    /// Destroying an unknown instance is not an error (its directory, if
    /// any, is still cleaned).
    pub async fn destroy(&self, id: &str) -> Result<()> {
        let vm = match self.vm(id) {
            Ok(vm) => vm,
            Err(_) => {
                let paths = self.paths(id);
                if !crate::spec::valid_id(id) || !paths.dir.exists() {
                    return Ok(());
                }
                Arc::new(Vm {
                    id: id.to_string(),
                    record: Mutex::new(read_record(&paths).unwrap_or_else(|_| Record {
                        spec: placeholder_spec(id),
                        layout: Layout::default(),
                        rescue: None,
                    })),
                    paths,
                    op: tokio::sync::Mutex::new(()),
                    live: Mutex::new(Live::default()),
                })
            }
        };
        let _op = vm.op.lock().await;
        self.teardown(&vm).await?;
        lock(&self.vms).remove(id);
        Ok(())
    }

    async fn teardown(&self, vm: &Vm) -> Result<()> {
        vm.halt(Duration::ZERO).await?;
        for nic in vm.record().spec.nics {
            host::unplug_tap(&nic.tap).await?;
        }
        match std::fs::remove_dir_all(&vm.paths.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(Error::host(format!("remove {}", vm.paths.dir.display()), e))
            }
            _ => Ok(()),
        }
    }

    /// Scans the instances dir after a (control-plane) restart: every
    /// instance with a `vm.json` becomes known again; a live QEMU of ours
    /// (pidfile + /proc cmdline) gets its QMP connection back. Instances
    /// already known are left alone.
    pub async fn adopt_all(&self) -> Result<AdoptReport> {
        let mut report = AdoptReport::default();
        let dir = std::fs::read_dir(&self.root).map_err(|e| Error::host(format!("read {}", self.root.display()), e))?;
        let mut ids: Vec<String> = dir
            .flatten()
            .filter(|e| e.path().join("vm.json").is_file())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        ids.sort();
        for id in ids {
            if lock(&self.vms).contains_key(&id) {
                continue;
            }
            let paths = self.paths(&id);
            let rec = match read_record(&paths) {
                Ok(r) if r.spec.id == id => r,
                Ok(_) | Err(_) => {
                    tracing::warn!(instance = %id, "unreadable vm.json; not adopted");
                    continue;
                }
            };
            let vm = Arc::new(Vm {
                id: id.clone(),
                paths,
                op: tokio::sync::Mutex::new(()),
                record: Mutex::new(rec),
                live: Mutex::new(Live::default()),
            });
            match vm.live_pid() {
                Some(pid) => {
                    lock(&vm.live).pid = Some(pid);
                    match vm.qmp().await {
                        // Primes the run state power_state_now reports.
                        Ok(_) => {
                            vm.power_state().await;
                        }
                        // Still ours and running; QMP is retried on the next operation.
                        Err(e) => tracing::warn!(instance = %id, error = %e, "adopted QEMU without QMP"),
                    }
                    report.running.push(id.clone());
                }
                None => {
                    vm.forget_process();
                    if vm.paths.state.exists() {
                        report.suspended.push(id.clone());
                    } else {
                        report.stopped.push(id.clone());
                    }
                }
            }
            lock(&self.vms).insert(id, vm);
        }
        Ok(report)
    }

    /// Destroys every instance under the root that `known` does not name:
    /// live QEMU processes found in /proc (by their pidfile under the root)
    /// and instance directories alike. Returns the ids reaped.
    pub async fn kill_orphans(&self, known: &[String]) -> Result<Vec<String>> {
        let mut ids: Vec<String> = process::scan(&self.root).into_iter().map(|(_, id)| id).collect();
        if let Ok(dir) = std::fs::read_dir(&self.root) {
            ids.extend(
                dir.flatten().filter(|e| e.path().is_dir()).filter_map(|e| e.file_name().to_str().map(str::to_string)),
            );
        }
        ids.sort();
        ids.dedup();
        let mut reaped = Vec::new();
        for id in ids {
            if known.contains(&id) {
                continue;
            }
            // A process whose directory is gone still carries its pidfile path.
            for (pid, pid_id) in process::scan(&self.root) {
                if pid_id == id {
                    process::kill(pid, &self.paths(&id).pid, Duration::from_secs(2)).await?;
                }
            }
            self.destroy(&id).await?;
            tracing::info!(instance = %id, "reaped an instance no one owns");
            reaped.push(id);
        }
        Ok(reaped)
    }
}

/// A spec for cleaning up a directory whose vm.json is unreadable.
fn placeholder_spec(id: &str) -> VmSpec {
    VmSpec {
        id: id.to_string(),
        name: id.to_string(),
        vcpus: 1,
        memory_mib: 128,
        root_disk: crate::spec::RootDisk {
            base: PathBuf::from("/"),
            base_format: crate::spec::DiskFormat::Raw,
            size_bytes: 0,
        },
        kernel: None,
        nics: Vec::new(),
        config_drive: None,
        spare_pcie_ports: 0,
        accel: crate::spec::Accel::Tcg,
        vnc: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qmp_statuses_map_to_nova_power_states() {
        assert_eq!(PowerState::from_qmp_status("running").nova_code(), 1);
        assert_eq!(PowerState::from_qmp_status("paused").nova_code(), 3);
        assert_eq!(PowerState::from_qmp_status("inmigrate"), PowerState::Paused);
        assert_eq!(PowerState::from_qmp_status("shutdown").nova_code(), 4);
        assert_eq!(PowerState::from_qmp_status("guest-panicked").nova_code(), 6);
        assert_eq!(PowerState::Suspended.nova_code(), 7);
        assert_eq!(PowerState::from_qmp_status("???"), PowerState::NoState);
    }

    #[tokio::test]
    async fn unknown_instances_and_bad_specs_are_refused_without_touching_the_host() {
        let root = std::env::temp_dir().join(format!("rustack-vmm-unit-{}", std::process::id()));
        let vmm = Vmm::new(&root).unwrap();
        assert!(matches!(vmm.power_state("nope").await, Err(Error::NotFound(_))));
        assert!(matches!(vmm.pause("nope").await, Err(Error::NotFound(_))));
        assert!(vmm.destroy("nope").await.is_ok(), "destroy is idempotent");
        let mut spec = crate::spec::tests::spec();
        spec.id = "../escape".into();
        assert!(matches!(vmm.spawn(spec).await, Err(Error::Invalid(_))));
        assert!(vmm.instances().is_empty());
        assert!(Vmm::new("relative/dir").is_err());
        let report = vmm.adopt_all().await.unwrap();
        assert_eq!(report, AdoptReport::default());
        let _ = std::fs::remove_dir_all(&root);
    }
}
