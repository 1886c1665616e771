//! The conductor: runs each instance workflow the API casts on the bus, one
//! at a time per instance, as steps with undo. Boot: schedule and claim →
//! ports → spawn → ACTIVE; a failed spawn undoes ports and claim and tries
//! the next host; no host left means ERROR with Nova's fault. The
//! power-state reconciler and the crash recovery at start live here too.

use std::collections::HashMap;
use std::sync::Arc;

use rustack_common::Error;

use crate::bus::{Op, Task};
use crate::driver::{NicSpec, SnapshotData, SpawnSpec};
use crate::model::{power, task, vm, ActionEvent, Address, Fault, Instance};
use crate::peers::{Claim, NetRequest};
use crate::scheduling::{self, HostInfo, Weights};
use crate::Compute;

impl Compute {
    fn instance_lock(&self, uuid: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.inner.locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.entry(uuid.to_string()).or_default().clone()
    }

    fn drop_lock(&self, uuid: &str) {
        self.inner.locks.lock().unwrap_or_else(|e| e.into_inner()).remove(uuid);
    }

    /// What the driver needs to build `inst`: its flavor, image, the
    /// caller (image fetches), its NICs, and a config drive when the
    /// instance asked for one or `force_config_drive` is set (QEMU only).
    pub(crate) async fn spawn_spec(
        &self,
        inst: &Instance,
        ctx: Option<Arc<rustack_http::RequestContext>>,
        nics: Vec<NicSpec>,
    ) -> Result<SpawnSpec, Error> {
        let cfg = self.cfg();
        let wants_drive = !inst.config_drive.is_empty() || cfg.qemu.force_config_drive;
        let config_drive = if cfg.driver == crate::config::DriverKind::Qemu && wants_drive {
            Some(crate::metadata::config_drive_files(self, inst).await?)
        } else {
            None
        };
        Ok(SpawnSpec {
            uuid: inst.uuid.clone(),
            name: inst.name.clone(),
            resources: inst.resources(),
            root_gb: inst.flavor.as_ref().map(|f| f.disk).unwrap_or(0),
            image_ref: inst.image_ref.clone(),
            user_data: inst.user_data.clone(),
            ctx,
            nics,
            config_drive,
        })
    }

    /// The NICs an instance has now (its ports, in the order it holds them).
    pub(crate) async fn nics_of(&self, inst: &Instance) -> Result<Vec<NicSpec>, Error> {
        let ports = self.inner.set.ports.ports_of(&inst.uuid).await?;
        let mut out: Vec<NicSpec> = inst
            .port_ids
            .iter()
            .filter_map(|id| ports.iter().find(|p| &p.id == id))
            .map(|p| NicSpec { port_id: p.id.clone(), mac: p.mac.clone() })
            .collect();
        for p in ports.iter().filter(|p| !inst.port_ids.contains(&p.id)) {
            out.push(NicSpec { port_id: p.id.clone(), mac: p.mac.clone() });
        }
        Ok(out)
    }

    /// Casts a workflow to the conductor.
    pub(crate) fn cast(&self, t: Task) -> Result<(), Error> {
        self.inner.bus.cast(t)
    }

    /// Runs one workflow (the conductor's receive loop spawns this).
    pub(crate) async fn run(&self, t: Task) {
        let lock = self.instance_lock(&t.uuid);
        let _held = lock.lock().await;
        let start = crate::model::now();
        let res = match &t.op {
            Op::Build { networks, security_groups } => self.build(&t, networks, security_groups).await,
            Op::Delete => self.terminate(&t.uuid).await,
            Op::Migrate { .. } | Op::LiveMigrate { .. } => self.migrate(&t).await,
            Op::Evacuate { host } => self.evacuate(&t, host.clone()).await,
            _ => self.action(&t).await,
        };
        let failed = res.is_err();
        if let Err(e) = &res {
            tracing::warn!(instance = %t.uuid, op = ?t.op, error = %e.message, "workflow failed");
            if !matches!(t.op, Op::Build { .. } | Op::Delete) {
                // the action is over: clear the task, record the fault
                let msg = e.message.clone();
                let _ = self
                    .store()
                    .instance_modify(&t.uuid, |i| {
                        i.task_state = None;
                        i.fault = Some(fault(500, &msg));
                        Ok(())
                    })
                    .await;
            }
        }
        if let Some(aid) = &t.action_id {
            let ev = ActionEvent {
                event: t.op.event().to_string(),
                start_time: start,
                finish_time: Some(crate::model::now()),
                result: Some(if failed { "Error" } else { "Success" }.to_string()),
                traceback: res.as_ref().err().map(|e| e.message.clone()),
                host: self.store().instance_get_any(&t.uuid).await.ok().flatten().and_then(|i| i.host),
            };
            if let Err(e) = self.store().action_event(aid, ev).await {
                tracing::warn!(error = %e.message, "cannot record the action event");
            }
        }
        if matches!(t.op, Op::Delete) {
            self.drop_lock(&t.uuid);
        }
    }

    /// The scheduler's view of the hosts: enabled, zone, aggregate metadata.
    async fn host_infos(&self) -> Result<HashMap<String, HostInfo>, Error> {
        let services = self.store().service_list().await?;
        let aggregates = self.store().aggregate_list().await?;
        let mut out = HashMap::new();
        for s in services.iter().filter(|s| s.binary == "nova-compute") {
            let mut info = HostInfo {
                enabled: !s.disabled && !s.forced_down,
                az: self.cfg().default_az.clone(),
                ..Default::default()
            };
            for a in aggregates.iter().filter(|a| a.hosts.contains(&s.host)) {
                if let Some(z) = &a.availability_zone {
                    info.az = z.clone();
                }
                info.aggregate_metadata.extend(a.metadata.clone());
            }
            out.insert(s.host.clone(), info);
        }
        Ok(out)
    }

    /// Picks and claims a host for `inst` (never one of `exclude`); returns
    /// it with its availability zone.
    async fn schedule(&self, inst: &Instance, exclude: &[String]) -> Result<(String, String), Error> {
        self.schedule_to(inst, exclude, inst.requested_host.clone()).await
    }

    /// The scheduler's request for `inst` on a host other than `exclude`,
    /// `host` if given (its group's other members' hosts included).
    async fn sched_request(
        &self,
        inst: &Instance,
        exclude: &[String],
        host: Option<String>,
    ) -> Result<scheduling::Request, Error> {
        let mut req = scheduling::Request {
            resources: inst.resources(),
            az: inst.requested_az.clone(),
            host,
            flavor_extra_specs: inst.flavor.as_ref().map(|f| f.extra_specs.clone()).unwrap_or_default(),
            exclude: exclude.to_vec(),
            project_id: inst.project_id.clone(),
            ..Default::default()
        };
        if let Some(gid) = &inst.server_group {
            if let Some(g) = self.store().group_get(gid).await? {
                req.group_policy = Some(g.policy.clone());
                req.group_max_per_host =
                    g.rules.get("max_server_per_host").and_then(|v| v.as_u64()).map(|n| n as usize);
                for m in g.members.iter().filter(|m| **m != inst.uuid) {
                    if let Some(h) = self.store().instance_get(m).await?.and_then(|i| i.host) {
                        req.group_hosts.push(h);
                    }
                }
            }
        }
        Ok(req)
    }

    /// The hosts that could take `inst` now, best first, nothing claimed
    /// (the API's check before it accepts a migration); `Err` says why
    /// there is none, in Nova's NoValidHost words.
    pub(crate) async fn rank_hosts(
        &self,
        inst: &Instance,
        exclude: &[String],
        host: Option<String>,
    ) -> Result<(Vec<String>, HashMap<String, HostInfo>), Error> {
        let req = self.sched_request(inst, exclude, host).await?;
        let candidates = self.inner.set.placement.candidates(req.resources).await?;
        let hosts = self.host_infos().await?;
        let c = self.cfg();
        let w = Weights { ram: c.ram_weight, cpu: c.cpu_weight, disk: c.disk_weight };
        let ranked = scheduling::select_hosts(&req, &candidates, &hosts, w).map_err(|why| {
            Error::new(rustack_common::ErrorKind::Internal, format!("No valid host was found. {why}"))
        })?;
        Ok((ranked, hosts))
    }

    /// [`Self::schedule`] with the host asked for (`host`, None: any):
    /// claims `inst`'s resources on the best host that still has room (the
    /// claim replaces what the instance held, wherever).
    pub(crate) async fn schedule_to(
        &self,
        inst: &Instance,
        exclude: &[String],
        host: Option<String>,
    ) -> Result<(String, String), Error> {
        let want = inst.resources();
        let (ranked, hosts) = self.rank_hosts(inst, exclude, host).await?;
        let placement = &self.inner.set.placement;
        let c = self.cfg();
        for host in ranked {
            if placement
                .claim(Claim {
                    consumer: &inst.uuid,
                    host: &host,
                    want,
                    project: &inst.project_id,
                    user: &inst.user_id,
                })
                .await?
            {
                let az = hosts.get(&host).map(|i| i.az.clone()).unwrap_or_else(|| c.default_az.clone());
                return Ok((host, az));
            }
        }
        Err(Error::new(
            rustack_common::ErrorKind::Internal,
            format!("No valid host was found. There are not enough hosts available. (instance {})", inst.uuid),
        ))
    }

    async fn build(&self, t: &Task, networks: &NetRequest, security_groups: &[String]) -> Result<(), Error> {
        let Some(inst) = self.store().instance_get(&t.uuid).await? else { return Ok(()) };
        if inst.task_state.as_deref() == Some(task::DELETING) || inst.vm_state != vm::BUILDING {
            return Ok(());
        }
        let mut tried: Vec<String> = Vec::new();
        let mut last_err: Option<String> = None;
        while tried.len() < self.cfg().max_attempts {
            // 1. pick and claim a host (group boots one at a time)
            let host = {
                let _g = if inst.server_group.is_some() { Some(self.inner.group_lock.lock().await) } else { None };
                match self.schedule(&inst, &tried).await {
                    Ok((h, az)) => {
                        let hh = h.clone();
                        let az = Some(az);
                        let r = self
                            .store()
                            .instance_modify(&inst.uuid, move |i| {
                                i.host = Some(hh);
                                i.availability_zone = az;
                                i.task_state = Some(task::SPAWNING.into());
                                Ok(())
                            })
                            .await;
                        if let Err(e) = r {
                            self.inner.set.placement.release(&inst.uuid).await?;
                            if e.status() == 404 {
                                return Ok(()); // deleted while we scheduled
                            }
                            return self.build_failed(&inst.uuid, &e.message).await;
                        }
                        h
                    }
                    Err(e) => {
                        let msg = match &last_err {
                            Some(prev) if !tried.is_empty() => format!(
                                "No valid host was found. Exceeded max scheduling attempts {} for instance {}. Last exception: {prev}",
                                tried.len(),
                                inst.uuid
                            ),
                            _ => e.message,
                        };
                        return self.build_failed(&inst.uuid, &msg).await;
                    }
                }
            };
            // 2. ports, 3. spawn — each undone if a later step fails
            match self.spawn_on(t, &inst, &host, networks, security_groups).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    tracing::info!(instance = %inst.uuid, host, error = %e.message, "spawn failed; rescheduling");
                    self.inner.set.placement.release(&inst.uuid).await?;
                    last_err = Some(e.message);
                    tried.push(host);
                }
            }
        }
        let msg = format!(
            "No valid host was found. Exceeded max scheduling attempts {} for instance {}. Last exception: {}",
            tried.len(),
            inst.uuid,
            last_err.unwrap_or_default()
        );
        self.build_failed(&inst.uuid, &msg).await
    }

    async fn spawn_on(
        &self,
        t: &Task,
        inst: &Instance,
        host: &str,
        networks: &NetRequest,
        security_groups: &[String],
    ) -> Result<(), Error> {
        let agent =
            self.agent(host).ok_or_else(|| Error::not_found(format!("Compute host {host} could not be found.")))?;
        let ports = match &t.ctx {
            Some(ctx) => self.inner.set.ports.allocate(ctx, &inst.uuid, host, networks, security_groups).await?,
            None => vec![],
        };
        let port_ids: Vec<String> = ports.iter().map(|p| p.id.clone()).collect();
        let nics = ports.iter().map(|p| NicSpec { port_id: p.id.clone(), mac: p.mac.clone() }).collect();
        let spawned = match self.spawn_spec(inst, t.ctx.clone(), nics).await {
            Ok(spec) => agent.driver.spawn(&spec).await,
            Err(e) => Err(e),
        };
        if let Err(e) = spawned {
            let _ = agent.driver.destroy(&inst.uuid).await;
            self.release_ports(inst, &port_ids).await?;
            return Err(e);
        }
        let mut addresses: std::collections::BTreeMap<String, Vec<Address>> = Default::default();
        for p in &ports {
            let list = addresses.entry(p.network_name.clone()).or_default();
            for ip in &p.ips {
                list.push(Address {
                    addr: ip.clone(),
                    version: if ip.contains(':') { 6 } else { 4 },
                    mac: p.mac.clone(),
                    kind: "fixed".into(),
                });
            }
        }
        let r = self
            .store()
            .instance_modify(&inst.uuid, move |i| {
                i.vm_state = vm::ACTIVE.into();
                i.task_state = None;
                i.power_state = power::RUNNING;
                i.launched_at = Some(crate::model::now());
                i.addresses = addresses;
                i.port_ids = port_ids;
                Ok(())
            })
            .await;
        if let Err(e) = r {
            // deleted while spawning (or the database failed): undo everything
            let _ = agent.driver.destroy(&inst.uuid).await;
            let ids: Vec<String> = ports.iter().map(|p| p.id.clone()).collect();
            self.release_ports(inst, &ids).await?;
            if e.status() != 404 {
                return Err(e); // the caller releases the claim and reschedules
            }
            self.inner.set.placement.release(&inst.uuid).await?;
        }
        Ok(())
    }

    async fn build_failed(&self, uuid: &str, msg: &str) -> Result<(), Error> {
        let msg = msg.to_string();
        let _ = self
            .store()
            .instance_modify(uuid, move |i| {
                i.vm_state = vm::ERROR.into();
                i.task_state = None;
                i.host = None;
                i.fault = Some(fault(500, &msg));
                Ok(())
            })
            .await;
        Err(Error::new(rustack_common::ErrorKind::Internal, "build failed"))
    }

    /// Deletes an instance: driver, ports, allocation, group membership, row.
    pub(crate) async fn terminate(&self, uuid: &str) -> Result<(), Error> {
        let Some(inst) = self.store().instance_get(uuid).await? else { return Ok(()) };
        if let Some(agent) = inst.host.as_deref().and_then(|h| self.agent(h)) {
            agent.driver.destroy(uuid).await?;
        }
        if let Some(mc) = &inst.migration_context {
            // deleted in VERIFY_RESIZE: the source's copy and hold go too
            self.drop_migration_source(&inst, mc).await?;
        }
        self.release_ports(&inst, &inst.port_ids).await?;
        self.inner.set.placement.release(uuid).await?;
        if let Some(g) = &inst.server_group {
            self.store().group_members(g, &[uuid.to_string()], false, -1).await?;
        }
        self.store()
            .instance_modify(uuid, |i| {
                i.vm_state = vm::DELETED.into();
                i.task_state = None;
                i.power_state = power::NOSTATE;
                i.deleted = true;
                let now = crate::model::now();
                i.terminated_at = Some(now.clone());
                i.deleted_at = Some(now);
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// The other actions: a driver call, then the final state.
    async fn action(&self, t: &Task) -> Result<(), Error> {
        let Some(inst) = self.store().instance_get(&t.uuid).await? else { return Ok(()) };
        let uuid = inst.uuid.as_str();
        let agent = inst.host.as_deref().and_then(|h| self.agent(h)).cloned();
        let need_agent = || agent.clone().ok_or_else(|| Error::conflict(format!("Instance {uuid} has no host.")));
        // (vm_state, power_state) after the driver call; None keeps the value
        let (vm_after, power_after): (Option<String>, Option<i64>) = match &t.op {
            Op::Reboot { hard } => {
                need_agent()?.driver.reboot(uuid, *hard).await?;
                (Some(vm::ACTIVE.into()), Some(power::RUNNING))
            }
            Op::Stop => {
                need_agent()?.driver.power_off(uuid).await?;
                (Some(vm::STOPPED.into()), Some(power::SHUTDOWN))
            }
            Op::Start => {
                need_agent()?.driver.power_on(uuid).await?;
                (Some(vm::ACTIVE.into()), Some(power::RUNNING))
            }
            Op::Pause => {
                need_agent()?.driver.pause(uuid, true).await?;
                (Some(vm::PAUSED.into()), Some(power::PAUSED))
            }
            Op::Unpause => {
                need_agent()?.driver.pause(uuid, false).await?;
                (Some(vm::ACTIVE.into()), Some(power::RUNNING))
            }
            Op::Suspend => {
                need_agent()?.driver.suspend(uuid, true).await?;
                (Some(vm::SUSPENDED.into()), Some(power::SUSPENDED))
            }
            Op::Resume => {
                need_agent()?.driver.suspend(uuid, false).await?;
                (Some(vm::ACTIVE.into()), Some(power::RUNNING))
            }
            Op::Rescue => {
                // the rescue boots the instance's own image (Nova's default
                // rescue image), its disk attached second
                let spec = self.spawn_spec(&inst, t.ctx.clone(), vec![]).await?;
                need_agent()?.driver.rescue(&spec).await?;
                (Some(vm::RESCUED.into()), Some(power::RUNNING))
            }
            Op::Unrescue => {
                need_agent()?.driver.unrescue(uuid).await?;
                (Some(vm::ACTIVE.into()), Some(power::RUNNING))
            }
            Op::Resize => {
                let a = need_agent()?;
                let host = a.host.clone();
                // the new flavor is already on the instance; claim it on the same host
                let want = inst.resources();
                let cl = Claim { consumer: uuid, host: &host, want, project: &inst.project_id, user: &inst.user_id };
                if !self.inner.set.placement.claim(cl).await? {
                    // no room: back to the old flavor, with a fault
                    let _ = self
                        .store()
                        .instance_modify(uuid, |i| {
                            if let Some(old) = i.old_flavor.take() {
                                i.flavor = Some(old);
                            }
                            i.vm_state = i.previous_vm_state.take().unwrap_or_else(|| vm::ACTIVE.into());
                            Ok(())
                        })
                        .await;
                    self.record_resize(t, &inst, "error").await?;
                    return Err(Error::bad_request("No valid host was found. There are not enough hosts available."));
                }
                let root_gb = inst.flavor.as_ref().map(|f| f.disk).unwrap_or(0);
                a.driver.resize(uuid, want, root_gb).await?;
                self.record_resize(t, &inst, "finished").await?;
                (Some(vm::RESIZED.into()), None)
            }
            Op::ConfirmResize => {
                let prev = inst.previous_vm_state.clone().unwrap_or_else(|| vm::ACTIVE.into());
                if let Some(mc) = &inst.migration_context {
                    self.confirm_migration(&inst, mc).await?;
                }
                self.store()
                    .instance_modify(uuid, |i| {
                        i.old_flavor = None;
                        i.previous_vm_state = None;
                        i.migration_context = None;
                        Ok(())
                    })
                    .await?;
                (Some(prev), None)
            }
            Op::RevertResize if inst.migration_context.as_ref().is_some_and(|m| m.moved()) => {
                let mc = inst.migration_context.clone().unwrap_or_default();
                let p = self.revert_migration(t, &inst, &mc).await?;
                let prev = inst.previous_vm_state.clone().unwrap_or_else(|| vm::ACTIVE.into());
                self.store()
                    .instance_modify(uuid, move |i| {
                        if let Some(old) = i.old_flavor.take() {
                            i.flavor = Some(old);
                        }
                        i.previous_vm_state = None;
                        i.migration_context = None;
                        i.host = Some(mc.source_host);
                        i.availability_zone = mc.source_az;
                        Ok(())
                    })
                    .await?;
                (Some(prev), Some(p))
            }
            Op::RevertResize => {
                let a = need_agent()?;
                let old = inst.old_flavor.clone().ok_or_else(|| Error::conflict("No resize to revert."))?;
                let want = crate::model::Resources::of(&old);
                let cl = Claim { consumer: uuid, host: &a.host, want, project: &inst.project_id, user: &inst.user_id };
                self.inner.set.placement.claim(cl).await?;
                a.driver.resize(uuid, want, old.disk).await?;
                let prev = inst.previous_vm_state.clone().unwrap_or_else(|| vm::ACTIVE.into());
                if let Some(mc) = &inst.migration_context {
                    self.store().migration_set_status(&mc.migration_uuid, "reverted", None).await?;
                }
                self.store()
                    .instance_modify(uuid, move |i| {
                        i.flavor = Some(old);
                        i.old_flavor = None;
                        i.previous_vm_state = None;
                        i.migration_context = None;
                        Ok(())
                    })
                    .await?;
                (Some(prev), None)
            }
            Op::Rebuild => {
                let a = need_agent()?;
                let was = inst.previous_vm_state.clone().unwrap_or_else(|| vm::ACTIVE.into());
                let nics = self.nics_of(&inst).await?;
                let spec = self.spawn_spec(&inst, t.ctx.clone(), nics).await?;
                a.driver.rebuild(&spec).await?;
                if was == vm::STOPPED {
                    a.driver.power_off(uuid).await?;
                    (Some(vm::STOPPED.into()), Some(power::SHUTDOWN))
                } else {
                    (Some(vm::ACTIVE.into()), Some(power::RUNNING))
                }
            }
            Op::Snapshot { image_id, backup } => {
                self.upload_snapshot(t, &*need_agent()?, image_id).await?;
                if let (Some(b), Some(ctx)) = (backup, &t.ctx) {
                    self.rotate_backups(ctx, uuid, b).await?;
                }
                (None, None)
            }
            Op::Shelve { image_id } => {
                // the `<name>-shelved` snapshot first: unshelve boots from it
                if let (Some(a), Some(img)) = (&agent, image_id) {
                    self.upload_snapshot(t, a, img).await?;
                    let keep = img.clone();
                    self.store()
                        .instance_modify(uuid, move |i| {
                            i.shelved_image_id = Some(keep);
                            Ok(())
                        })
                        .await?;
                }
                // shelved_offload_time = 0: offloaded at once (Nova's default)
                if let Some(a) = &agent {
                    if a.driver.power_state(uuid) == Some(power::RUNNING) {
                        a.driver.power_off(uuid).await?;
                    }
                    a.driver.destroy(uuid).await?;
                }
                self.inner.set.placement.release(uuid).await?;
                self.store()
                    .instance_modify(uuid, |i| {
                        i.host = None;
                        Ok(())
                    })
                    .await?;
                (Some(vm::SHELVED_OFFLOADED.into()), Some(power::SHUTDOWN))
            }
            Op::Unshelve => {
                let (host, az) = self.schedule(&inst, &[]).await.map_err(|e| Error::conflict(e.message))?;
                let a = self.agent(&host).cloned().ok_or_else(|| Error::not_found("no agent"))?;
                let nics = self.nics_of(&inst).await?;
                let mut spec = self.spawn_spec(&inst, t.ctx.clone(), nics).await?;
                // as Nova: the guest comes back from its shelve snapshot, with
                // its disk as it was (the instance keeps its image_ref)
                if let Some(img) = &inst.shelved_image_id {
                    spec.image_ref = img.clone();
                }
                if let Err(e) = a.driver.spawn(&spec).await {
                    self.inner.set.placement.release(uuid).await?;
                    return Err(e);
                }
                let shelved = inst.shelved_image_id.clone();
                self.store()
                    .instance_modify(uuid, move |i| {
                        i.host = Some(host);
                        i.availability_zone = Some(az);
                        i.shelved_image_id = None;
                        Ok(())
                    })
                    .await?;
                // as Nova: the shelve snapshot is gone once the instance runs again
                if let (Some(img), Some(ctx)) = (shelved, &t.ctx) {
                    self.delete_image(ctx, &img).await;
                }
                (Some(vm::ACTIVE.into()), Some(power::RUNNING))
            }
            Op::Build { .. } | Op::Delete | Op::Migrate { .. } | Op::LiveMigrate { .. } | Op::Evacuate { .. } => {
                (None, None)
            }
        };
        self.store()
            .instance_modify(uuid, move |i| {
                if let Some(v) = vm_after {
                    i.vm_state = v;
                }
                if let Some(p) = power_after {
                    i.power_state = p;
                }
                i.task_state = None;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// At start: instances whose workflow a crash cut off. A boot that never
    /// finished ends in ERROR with its allocation freed; a delete is redone;
    /// any other task is cleared (the instance keeps its vm_state).
    pub(crate) async fn recover(&self) -> Result<(), Error> {
        for i in self.store().instances_resized().await? {
            self.rehold_source(&i).await?;
        }
        for i in self.store().instances_in_flight().await? {
            let uuid = i.uuid.clone();
            if self.recover_migration(&i).await? {
                continue;
            }
            if i.task_state.as_deref() == Some(task::DELETING) {
                self.terminate(&uuid).await?;
                continue;
            }
            if i.task_state.as_deref() == Some(task::REBUILDING) {
                self.fail_interrupted_evacuation(&uuid).await?;
            }
            if i.vm_state == vm::BUILDING {
                if let Some(a) = i.host.as_deref().and_then(|h| self.agent(h)) {
                    a.driver.destroy(&uuid).await?;
                }
                // the boot's ports are only on the instance once it is ACTIVE
                let mut ids = i.port_ids.clone();
                for p in self.inner.set.ports.ports_of(&uuid).await? {
                    if !ids.contains(&p.id) {
                        ids.push(p.id);
                    }
                }
                self.release_ports(&i, &ids).await?;
                self.inner.set.placement.release(&uuid).await?;
                self.store()
                    .instance_modify(&uuid, |i| {
                        i.vm_state = vm::ERROR.into();
                        i.task_state = None;
                        i.host = None;
                        i.fault =
                            Some(fault(500, "Instance build was interrupted by a restart of the compute service."));
                        Ok(())
                    })
                    .await?;
                tracing::info!(instance = %uuid, "interrupted build set to ERROR");
                continue;
            }
            self.store()
                .instance_modify(&uuid, |i| {
                    i.task_state = None;
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }
}

/// The ports the user brought: `{"port": …}` entries of the boot's (and
/// interface attaches') network request.
fn users_ports(inst: &Instance) -> Vec<String> {
    let req = inst.requested_networks.as_array().into_iter().flatten();
    req.filter_map(|n| n.get("port").and_then(serde_json::Value::as_str)).map(str::to_string).collect()
}

fn fault(code: i64, message: &str) -> Fault {
    Fault { code, message: message.to_string(), details: String::new(), created: crate::model::now() }
}

impl Compute {
    /// An instance whose interfaces may change now (Nova: ACTIVE, PAUSED or
    /// STOPPED, no task running), with its host's agent.
    async fn for_interfaces(&self, uuid: &str, op: &str) -> Result<(Instance, Arc<crate::agent::Agent>), Error> {
        let inst = self
            .store()
            .instance_get(uuid)
            .await?
            .ok_or_else(|| Error::not_found(format!("Instance {uuid} could not be found.")))?;
        let ok_state = [vm::ACTIVE, vm::PAUSED, vm::STOPPED].contains(&inst.vm_state.as_str());
        if !ok_state || inst.task_state.is_some() {
            return Err(Error::conflict(format!(
                "Cannot '{op}' instance {uuid} while it is in vm_state {}",
                inst.vm_state
            )));
        }
        let agent = inst
            .host
            .as_deref()
            .and_then(|h| self.agent(h))
            .cloned()
            .ok_or_else(|| Error::conflict(format!("Instance {uuid} has no host.")))?;
        Ok((inst, agent))
    }

    /// Lets an instance's ports go: the ones the user brought (at boot or by
    /// an interface attach) are unbound and kept, compute's own deleted.
    pub(crate) async fn release_ports(&self, inst: &Instance, port_ids: &[String]) -> Result<(), Error> {
        let users = users_ports(inst);
        let (theirs, mine): (Vec<String>, Vec<String>) = port_ids.iter().cloned().partition(|p| users.contains(p));
        for p in &theirs {
            self.inner.set.ports.unbind(p).await?;
        }
        self.inner.set.ports.deallocate(&inst.uuid, &mine).await
    }

    /// The instance's ports as the interface API shows them: those it holds
    /// (`port_ids`) and any other port whose device it is.
    pub(crate) async fn interfaces_of(&self, inst: &Instance) -> Result<Vec<crate::peers::PortInfo>, Error> {
        let mut ports = self.inner.set.ports.ports_of(&inst.uuid).await?;
        ports.sort_by_key(|p| inst.port_ids.iter().position(|id| id == &p.id).unwrap_or(usize::MAX));
        Ok(ports)
    }

    /// os-interface attach: a new port on a network (or the caller's port)
    /// bound to the instance's host and plugged in (hot-plug when it runs).
    pub(crate) async fn attach_interface(
        &self,
        ctx: &rustack_http::RequestContext,
        uuid: &str,
        req: NetRequest,
    ) -> Result<crate::peers::PortInfo, Error> {
        let lock = self.instance_lock(uuid);
        let _held = lock.lock().await;
        let (inst, agent) = self.for_interfaces(uuid, "attach_interface").await?;
        let ports = &self.inner.set.ports;
        let users_port = matches!(&req, NetRequest::List(items) if items.iter().any(|i| i.port_id.is_some()));
        let made = ports.allocate(ctx, uuid, &agent.host, &req, &[]).await?;
        let p = made.into_iter().next().ok_or_else(|| Error::bad_request("No network to attach to."))?;
        let undo = || async {
            if users_port {
                let _ = ports.unbind(&p.id).await;
            } else {
                let _ = ports.deallocate(uuid, std::slice::from_ref(&p.id)).await;
            }
        };
        if let Err(e) =
            agent.driver.attach_interface(uuid, &NicSpec { port_id: p.id.clone(), mac: p.mac.clone() }).await
        {
            undo().await;
            return Err(e);
        }
        let (pid, net, mac, ips) = (p.id.clone(), p.network_name.clone(), p.mac.clone(), p.ips.clone());
        let saved = self
            .store()
            .instance_modify(&inst.uuid, move |i| {
                if users_port {
                    // remembered as the user's (a detach or delete keeps it)
                    let mut req = i.requested_networks.as_array().cloned().unwrap_or_default();
                    req.push(serde_json::json!({ "port": pid }));
                    i.requested_networks = serde_json::Value::Array(req);
                }
                i.port_ids.push(pid);
                let list = i.addresses.entry(net).or_default();
                for ip in ips {
                    let version = if ip.contains(':') { 6 } else { 4 };
                    list.push(Address { addr: ip, version, mac: mac.clone(), kind: "fixed".into() });
                }
                Ok(())
            })
            .await;
        if let Err(e) = saved {
            let _ = agent.driver.detach_interface(uuid, &p.id).await;
            undo().await;
            return Err(e);
        }
        Ok(p)
    }

    /// os-interface detach: unplugged, then deleted when compute made the
    /// port, unbound when the caller brought it (as Nova does).
    pub(crate) async fn detach_interface(&self, uuid: &str, port_id: &str) -> Result<(), Error> {
        let lock = self.instance_lock(uuid);
        let _held = lock.lock().await;
        let (inst, agent) = self.for_interfaces(uuid, "detach_interface").await?;
        let found = self.interfaces_of(&inst).await?.into_iter().find(|p| p.id == port_id);
        if found.is_none() && !inst.port_ids.iter().any(|p| p == port_id) {
            return Err(Error::not_found(format!("Port {port_id} is not attached")));
        }
        agent.driver.detach_interface(uuid, port_id).await?;
        self.release_ports(&inst, &[port_id.to_string()]).await?;
        let pid = port_id.to_string();
        let mac = found.map(|p| p.mac);
        self.store()
            .instance_modify(uuid, move |i| {
                i.port_ids.retain(|p| p != &pid);
                if let Some(req) = i.requested_networks.as_array_mut() {
                    req.retain(|n| n.get("port").and_then(serde_json::Value::as_str) != Some(pid.as_str()));
                }
                if let Some(mac) = &mac {
                    for list in i.addresses.values_mut() {
                        list.retain(|a| &a.mac != mac);
                    }
                    i.addresses.retain(|_, l| !l.is_empty());
                }
                Ok(())
            })
            .await?;
        Ok(())
    }
}

/// The power-state reconciler: for each instance at rest on a local host,
/// the driver's power state wins; an instance found shut down while ACTIVE
/// becomes SHUTOFF, as Nova's `_sync_power_states`. Idempotent; returns how
/// many instances it changed.
pub(crate) async fn sync_power_states(c: &Compute) -> Result<usize, Error> {
    let mut changed = 0;
    for host in c.hosts() {
        let Some(agent) = c.agent(&host).cloned() else { continue };
        for i in c.store().instances_on_host(&host).await? {
            if i.task_state.is_some() || i.vm_state == vm::BUILDING {
                continue;
            }
            let actual = agent.driver.power_state(&i.uuid).unwrap_or(power::NOSTATE);
            if actual == i.power_state {
                continue;
            }
            let lock = c.instance_lock(&i.uuid);
            let _held = lock.lock().await;
            let r = c
                .store()
                .instance_modify(&i.uuid, |i| {
                    if i.task_state.is_some() {
                        return Ok(false);
                    }
                    i.power_state = actual;
                    if i.vm_state == vm::ACTIVE && (actual == power::SHUTDOWN || actual == power::NOSTATE) {
                        i.vm_state = vm::STOPPED.into();
                    }
                    Ok(true)
                })
                .await;
            if let Ok((_, true)) = r {
                changed += 1;
            }
        }
    }
    Ok(changed)
}

impl Compute {
    /// Takes the guest's snapshot on its host and uploads it into the
    /// queued image `image_id` (the image becomes active).
    async fn upload_snapshot(&self, t: &Task, a: &crate::agent::Agent, image_id: &str) -> Result<(), Error> {
        let images = &self.inner.set.images;
        match (a.driver.snapshot(&t.uuid).await?, &t.ctx) {
            (SnapshotData::Bytes(data), Some(ctx)) => images.upload(ctx, image_id, data).await?,
            (SnapshotData::File(path), ctx) => {
                // streamed from the file, which goes either way
                let r = match ctx {
                    Some(ctx) => images.upload_file(ctx, image_id, &path).await,
                    None => Ok(()),
                };
                let _ = std::fs::remove_file(&path);
                r?
            }
            (SnapshotData::Bytes(_), None) => {}
        }
        Ok(())
    }

    /// createBackup's rotation, as Nova's `_rotate_backups`: of the
    /// instance's backups of this `backup_type` (the one just made
    /// included), the newest `rotation` stay and the older ones are
    /// deleted; rotation 0 deletes them all.
    async fn rotate_backups(
        &self,
        ctx: &rustack_http::RequestContext,
        uuid: &str,
        b: &crate::bus::BackupRotation,
    ) -> Result<(), Error> {
        let params: Vec<(String, String)> = [
            ("instance_uuid", uuid),
            ("image_type", "backup"),
            ("backup_type", b.backup_type.as_str()),
            ("sort_key", "created_at"),
            ("sort_dir", "desc"),
            ("limit", "1000"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let backups = self.inner.peers.image.list_for(ctx, &params).await?;
        for img in backups.iter().skip(b.rotation as usize) {
            tracing::info!(instance = uuid, image = %img.id, "rotating out an old backup");
            self.delete_image(ctx, &img.id).await;
        }
        Ok(())
    }

    /// Deletes an image compute made (an old backup, the shelve snapshot);
    /// one already gone is fine, any other failure is logged.
    pub(crate) async fn delete_image(&self, ctx: &rustack_http::RequestContext, id: &str) {
        match self.inner.peers.image.delete_for(ctx, id).await {
            Err(e) if e.status() != 404 => {
                tracing::warn!(image = id, error = %e.message, "cannot delete the image");
            }
            _ => {}
        }
    }
}
