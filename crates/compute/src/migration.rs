//! Cold and live migration workflows of the conductor, and the migration
//! side of resize confirm and revert.
//!
//! Cold migration is a resize to the same flavor on another host: the
//! instance's allocation moves to the destination while the migration (its
//! uuid as placement consumer) holds the source's, the guest is powered off
//! on the source and spawned on the destination, and the instance waits in
//! VERIFY_RESIZE. Confirm destroys the source guest and frees the source
//! allocation; revert destroys the destination guest and goes back.
//! Live migration moves a running (or paused) guest in one go: spawn on the
//! destination in the same power state, destroy on the source.

use std::sync::Arc;

use rustack_common::Error;

use crate::agent::Agent;
use crate::bus::{Op, Task};
use crate::driver::NicSpec;
use crate::model::{power, task, vm, Instance, MigrationContext};
use crate::peers::{Claim, NetItem, NetRequest};
use crate::store::migrations::{kind, Migration};
use crate::Compute;

impl Compute {
    /// Runs `Op::Migrate` and `Op::LiveMigrate`.
    pub(crate) async fn migrate(&self, t: &Task) -> Result<(), Error> {
        let Some(inst) = self.store().instance_get(&t.uuid).await? else { return Ok(()) };
        match &t.op {
            Op::Migrate { host } if inst.task_state.as_deref() == Some(task::RESIZE_PREP) => {
                self.cold_migrate(t, inst, host.clone()).await
            }
            Op::LiveMigrate { host, .. } if inst.task_state.as_deref() == Some(task::MIGRATING) => {
                self.live_migrate(t, inst, host.clone()).await
            }
            // deleted or changed meanwhile: nothing to do
            _ => Ok(()),
        }
    }

    pub(crate) fn agent_of(&self, host: &str) -> Result<Arc<Agent>, Error> {
        self.agent(host).cloned().ok_or_else(|| Error::not_found(format!("Compute host {host} could not be found.")))
    }

    /// Binds the instance's ports to `host` (the network service then plugs
    /// them there).
    pub(crate) async fn bind_ports_to(&self, t: &Task, inst: &Instance, host: &str) -> Result<Vec<NicSpec>, Error> {
        let nics = self.nics_of(inst).await?;
        if let (Some(ctx), false) = (&t.ctx, nics.is_empty()) {
            let items =
                nics.iter().map(|n| NetItem { port_id: Some(n.port_id.clone()), ..Default::default() }).collect();
            self.inner.set.ports.allocate(ctx, &inst.uuid, host, &NetRequest::List(items), &[]).await?;
        }
        Ok(nics)
    }

    pub(crate) async fn new_migration(
        &self,
        t: &Task,
        inst: &Instance,
        kind: &str,
        status: &str,
    ) -> Result<Migration, Error> {
        let mut m = Migration {
            // a resize or cold migration is known by its action's id
            uuid: match (&t.action_id, kind) {
                (Some(a), k) if k != self::kind::LIVE => a.clone(),
                _ => uuid::Uuid::new_v4().to_string(),
            },
            instance_uuid: inst.uuid.clone(),
            migration_type: kind.to_string(),
            status: status.to_string(),
            source_compute: inst.host.clone(),
            old_flavor_id: inst.old_flavor.as_ref().or(inst.flavor.as_ref()).map(|f| f.id.clone()),
            new_flavor_id: inst.flavor.as_ref().map(|f| f.id.clone()),
            project_id: inst.project_id.clone(),
            user_id: inst.user_id.clone(),
            ..Default::default()
        };
        if self.store().migration_get(&m.uuid).await?.is_some() {
            m.uuid = uuid::Uuid::new_v4().to_string();
        }
        self.store().migration_create(&mut m).await?;
        Ok(m)
    }

    async fn set_task(&self, uuid: &str, t: &'static str) -> Result<(), Error> {
        self.store()
            .instance_modify(uuid, move |i| {
                i.task_state = Some(t.to_string());
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// Puts the instance back as it was before a refused or failed cold
    /// migration (same host, same state, no task).
    async fn unwind_prep(&self, uuid: &str) -> Result<(), Error> {
        self.store()
            .instance_modify(uuid, |i| {
                if let Some(old) = i.old_flavor.take() {
                    i.flavor = Some(old);
                }
                i.previous_vm_state = None;
                i.task_state = None;
                Ok(())
            })
            .await?;
        Ok(())
    }

    async fn cold_migrate(&self, t: &Task, inst: Instance, host: Option<String>) -> Result<(), Error> {
        let uuid = inst.uuid.clone();
        let source = inst.host.clone().ok_or_else(|| Error::conflict(format!("Instance {uuid} has no host.")))?;
        let mig = self.new_migration(t, &inst, kind::MIGRATION, "pre-migrating").await?;
        let src_agent = self.agent_of(&source)?;
        // 1. the destination: scheduled (the source excluded) and claimed
        let (dest, az) = match self.schedule_to(&inst, std::slice::from_ref(&source), host).await {
            Ok(x) => x,
            Err(e) => {
                self.store().migration_set_status(&mig.uuid, "error", None).await?;
                self.unwind_prep(&uuid).await?;
                return Err(e);
            }
        };
        let placement = &self.inner.set.placement;
        // the source's resources stay held, by the migration, until confirm
        let held = Claim {
            consumer: &mig.uuid,
            host: &source,
            want: inst.resources(),
            project: &inst.project_id,
            user: &inst.user_id,
        };
        if !placement.claim(held).await? {
            tracing::warn!(instance = %uuid, "the source's resources could not be held for the migration");
        }
        self.store().migration_set_status(&mig.uuid, "migrating", Some(&dest)).await?;
        self.set_task(&uuid, task::RESIZE_MIGRATING).await?;
        let was_running = src_agent.driver.power_state(&uuid) == Some(power::RUNNING);
        let res = async {
            if was_running {
                src_agent.driver.power_off(&uuid).await?;
            }
            self.store().migration_set_status(&mig.uuid, "post-migrating", None).await?;
            self.set_task(&uuid, task::RESIZE_MIGRATED).await?;
            let dst_agent = self.agent_of(&dest)?;
            let nics = self.bind_ports_to(t, &inst, &dest).await?;
            let spec = self.spawn_spec(&inst, t.ctx.clone(), nics).await?;
            self.set_task(&uuid, task::RESIZE_FINISH).await?;
            if let Err(e) = dst_agent.driver.spawn(&spec).await {
                let _ = dst_agent.driver.destroy(&uuid).await;
                return Err(e);
            }
            if inst.previous_vm_state.as_deref() == Some(vm::STOPPED) {
                dst_agent.driver.power_off(&uuid).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = res {
            // back to the source: ports, allocation, power
            let _ = self.bind_ports_to(t, &inst, &source).await;
            let back = Claim { consumer: &uuid, host: &source, want: inst.resources(), ..held };
            placement.claim(back).await?;
            placement.release(&mig.uuid).await?;
            if was_running && src_agent.driver.power_state(&uuid) != Some(power::RUNNING) {
                let _ = src_agent.driver.power_on(&uuid).await;
            }
            self.store().migration_set_status(&mig.uuid, "error", None).await?;
            self.unwind_prep(&uuid).await?;
            return Err(e);
        }
        let stopped = inst.previous_vm_state.as_deref() == Some(vm::STOPPED);
        let mc = MigrationContext {
            migration_uuid: mig.uuid.clone(),
            source_host: source,
            dest_host: dest.clone(),
            source_az: inst.availability_zone.clone(),
        };
        self.store()
            .instance_modify(&uuid, move |i| {
                i.host = Some(dest);
                i.availability_zone = Some(az);
                i.vm_state = vm::RESIZED.into();
                i.power_state = if stopped { power::SHUTDOWN } else { power::RUNNING };
                i.task_state = None;
                i.migration_context = Some(mc);
                Ok(())
            })
            .await?;
        self.store().migration_set_status(&mig.uuid, "finished", None).await?;
        Ok(())
    }

    async fn live_migrate(&self, t: &Task, inst: Instance, host: Option<String>) -> Result<(), Error> {
        let uuid = inst.uuid.clone();
        let source = inst.host.clone().ok_or_else(|| Error::conflict(format!("Instance {uuid} has no host.")))?;
        let mig = self.new_migration(t, &inst, kind::LIVE, "preparing").await?;
        let src_agent = self.agent_of(&source)?;
        let clear_task = || async {
            self.store()
                .instance_modify(&uuid, |i| {
                    i.task_state = None;
                    Ok(())
                })
                .await
        };
        let (dest, az) = match self.schedule_to(&inst, std::slice::from_ref(&source), host).await {
            Ok(x) => x,
            Err(e) => {
                self.store().migration_set_status(&mig.uuid, "error", None).await?;
                clear_task().await?;
                return Err(e);
            }
        };
        self.store().migration_set_status(&mig.uuid, "running", Some(&dest)).await?;
        let paused = inst.vm_state == vm::PAUSED;
        let res = async {
            let dst_agent = self.agent_of(&dest)?;
            let nics = self.bind_ports_to(t, &inst, &dest).await?;
            let spec = self.spawn_spec(&inst, t.ctx.clone(), nics).await?;
            if let Err(e) = dst_agent.driver.spawn(&spec).await {
                let _ = dst_agent.driver.destroy(&uuid).await;
                return Err(e);
            }
            if paused {
                dst_agent.driver.pause(&uuid, true).await?;
            }
            Ok(())
        }
        .await;
        // done, unless an admin aborted it meanwhile (one of the two wins)
        let res = match res {
            Ok(()) if !self.store().migration_set_status_if(&mig.uuid, &["running"], "completed").await? => Err(None),
            Ok(()) => Ok(()),
            Err(e) => Err(Some(e)),
        };
        if let Err(e) = res {
            if let Some(a) = self.agent(&dest) {
                if a.driver.power_state(&uuid).is_some() {
                    a.driver.destroy(&uuid).await?;
                }
            }
            let _ = self.bind_ports_to(t, &inst, &source).await;
            let back = Claim {
                consumer: &uuid,
                host: &source,
                want: inst.resources(),
                project: &inst.project_id,
                user: &inst.user_id,
            };
            self.inner.set.placement.claim(back).await?;
            clear_task().await?;
            return match e {
                Some(e) => {
                    self.store().migration_set_status(&mig.uuid, "error", None).await?;
                    Err(e)
                }
                None => {
                    tracing::info!(instance = %uuid, "live migration aborted: the guest stays on {source}");
                    Ok(())
                }
            };
        }
        // the guest runs on the destination now: the source's copy goes
        if let Err(e) = src_agent.driver.destroy(&uuid).await {
            tracing::warn!(instance = %uuid, error = %e.message, "cannot clean the live-migrated guest off the source");
        }
        self.store()
            .instance_modify(&uuid, move |i| {
                i.host = Some(dest);
                i.availability_zone = Some(az);
                i.task_state = None;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// At start: a resize or migration a crash cut off (its task still
    /// set). The instance goes back to where it was (its recorded host, its
    /// old flavor, its power), any copy on the destination is destroyed,
    /// and the migration ends in `error`. False when `i` was not migrating.
    pub(crate) async fn recover_migration(&self, i: &Instance) -> Result<bool, Error> {
        let t = i.task_state.as_deref();
        let cold =
            matches!(t, Some(task::RESIZE_PREP | task::RESIZE_MIGRATING | task::RESIZE_MIGRATED | task::RESIZE_FINISH));
        let live = t == Some(task::MIGRATING);
        let Some(source) = i.host.clone().filter(|_| cold || live) else { return Ok(false) };
        let uuid = i.uuid.as_str();
        for m in self.store().migrations_of(uuid).await? {
            if !m.in_progress() || m.status == "finished" {
                continue;
            }
            if let Some(d) = m.dest_compute.as_deref().filter(|d| *d != source) {
                if let Some(a) = self.agent(d) {
                    if a.driver.power_state(uuid).is_some() {
                        a.driver.destroy(uuid).await?;
                    }
                }
            }
            self.inner.set.placement.release(&m.uuid).await?;
            self.store().migration_set_status(&m.uuid, "error", None).await?;
        }
        let flavor = if cold { i.old_flavor.clone().or_else(|| i.flavor.clone()) } else { i.flavor.clone() };
        let want = flavor.as_ref().map(crate::model::Resources::of).unwrap_or_default();
        let back = Claim { consumer: uuid, host: &source, want, project: &i.project_id, user: &i.user_id };
        if !self.inner.set.placement.claim(back).await? {
            tracing::warn!(instance = uuid, host = %source, "cannot claim the interrupted migration's source back");
        }
        if let Some(a) = self.agent(&source) {
            let now = a.driver.power_state(uuid);
            if i.power_state == power::RUNNING && now == Some(power::SHUTDOWN) {
                a.driver.power_on(uuid).await?;
            }
        }
        self.unwind_prep(uuid).await?;
        tracing::info!(instance = uuid, host = %source, "interrupted migration rolled back");
        Ok(true)
    }

    /// At start: a cold migration waiting for its confirm keeps the
    /// source's resources held by the migration (an in-process tracker
    /// forgot them).
    pub(crate) async fn rehold_source(&self, i: &Instance) -> Result<(), Error> {
        let Some(mc) = i.migration_context.as_ref().filter(|m| m.moved() && i.vm_state == vm::RESIZED) else {
            return Ok(());
        };
        let held = Claim {
            consumer: &mc.migration_uuid,
            host: &mc.source_host,
            want: i.old_flavor.as_ref().map(crate::model::Resources::of).unwrap_or_else(|| i.resources()),
            project: &i.project_id,
            user: &i.user_id,
        };
        self.inner.set.placement.claim(held).await?;
        Ok(())
    }

    /// A resize in place: its migration row (`resize`, finished at
    /// VERIFY_RESIZE) and context, so confirm and revert close it.
    pub(crate) async fn record_resize(&self, t: &Task, inst: &Instance, status: &str) -> Result<(), Error> {
        let m = self.new_migration(t, inst, kind::RESIZE, status).await?;
        if let Some(h) = &inst.host {
            self.store().migration_set_status(&m.uuid, status, Some(h)).await?;
        }
        if status == "finished" {
            let mc = MigrationContext {
                migration_uuid: m.uuid,
                source_host: inst.host.clone().unwrap_or_default(),
                dest_host: inst.host.clone().unwrap_or_default(),
                source_az: inst.availability_zone.clone(),
            };
            self.store()
                .instance_modify(&inst.uuid, move |i| {
                    i.migration_context = Some(mc);
                    Ok(())
                })
                .await?;
        }
        Ok(())
    }

    /// confirmResize of a cold migration: the source's guest and allocation
    /// go; the migration is `confirmed`.
    pub(crate) async fn confirm_migration(&self, inst: &Instance, mc: &MigrationContext) -> Result<(), Error> {
        self.drop_migration_source(inst, mc).await?;
        self.store().migration_set_status(&mc.migration_uuid, "confirmed", None).await?;
        Ok(())
    }

    /// The source side of a cold migration is no longer needed (confirmed,
    /// or the instance deleted): its guest and the migration's allocation go.
    pub(crate) async fn drop_migration_source(&self, inst: &Instance, mc: &MigrationContext) -> Result<(), Error> {
        if mc.moved() {
            if let Some(a) = self.agent(&mc.source_host) {
                if a.driver.power_state(&inst.uuid).is_some() {
                    a.driver.destroy(&inst.uuid).await?;
                }
            }
            self.inner.set.placement.release(&mc.migration_uuid).await?;
        }
        Ok(())
    }

    /// revertResize of a cold migration: the destination's guest goes, the
    /// instance is back on the source (allocation, ports, power) with its
    /// old flavor; the migration is `reverted`. Returns the power state.
    pub(crate) async fn revert_migration(
        &self,
        t: &Task,
        inst: &Instance,
        mc: &MigrationContext,
    ) -> Result<i64, Error> {
        let uuid = inst.uuid.as_str();
        let old = inst.old_flavor.clone().or_else(|| inst.flavor.clone());
        let want = old.as_ref().map(crate::model::Resources::of).unwrap_or_default();
        let placement = &self.inner.set.placement;
        let back =
            Claim { consumer: uuid, host: &mc.source_host, want, project: &inst.project_id, user: &inst.user_id };
        // the migration's hold on the source is what the instance takes back
        placement.release(&mc.migration_uuid).await?;
        if !placement.claim(back).await? {
            return Err(Error::conflict(format!(
                "Cannot revert instance {uuid}: host {} has no room for it any more.",
                mc.source_host
            )));
        }
        if let Some(a) = self.agent(&mc.dest_host) {
            if a.driver.power_state(uuid).is_some() {
                a.driver.destroy(uuid).await?;
            }
        }
        let src = self.agent_of(&mc.source_host)?;
        let mut back_inst = inst.clone();
        back_inst.flavor = old;
        let nics = self.bind_ports_to(t, &back_inst, &mc.source_host).await?;
        if src.driver.power_state(uuid).is_none() {
            // the source lost its copy (a restart in between): boot it again
            let spec = self.spawn_spec(&back_inst, t.ctx.clone(), nics).await?;
            src.driver.spawn(&spec).await?;
        }
        let stopped = inst.previous_vm_state.as_deref() == Some(vm::STOPPED);
        let now = src.driver.power_state(uuid);
        if stopped && now == Some(power::RUNNING) {
            src.driver.power_off(uuid).await?;
        } else if !stopped && now != Some(power::RUNNING) {
            src.driver.power_on(uuid).await?;
        }
        self.store().migration_set_status(&mc.migration_uuid, "reverted", None).await?;
        Ok(if stopped { power::SHUTDOWN } else { power::RUNNING })
    }
}
