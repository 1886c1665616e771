//! The conductor's evacuation (Nova's rebuild with `recreate`): an instance
//! whose host is down is spawned again from its image on another host (the
//! scheduler's pick, the source excluded, or the admin's host), its
//! allocation moved there and its ports bound there; an `evacuation`
//! migration row records it (`done` at the end). The source host still
//! holds the old guest: when its compute service is up again, its agent
//! destroys the guests of finished evacuations (Nova's
//! `_destroy_evacuated_instances`) and the migration becomes `completed`,
//! so a returning host never runs the instance a second time.

use rustack_common::Error;

use crate::agent::Agent;
use crate::bus::Task;
use crate::model::{power, task, vm, Instance};
use crate::peers::Claim;
use crate::store::migrations::kind;
use crate::Compute;

impl Compute {
    /// Runs `Op::Evacuate`.
    pub(crate) async fn evacuate(&self, t: &Task, host: Option<String>) -> Result<(), Error> {
        let Some(inst) = self.store().instance_get(&t.uuid).await? else { return Ok(()) };
        if inst.task_state.as_deref() != Some(task::REBUILDING) {
            return Ok(()); // deleted or changed meanwhile
        }
        let uuid = inst.uuid.clone();
        let source = inst.host.clone().unwrap_or_default();
        let mig = self.new_migration(t, &inst, kind::EVACUATION, "pre-migrating").await?;
        let (dest, az) = match self.schedule_to(&inst, std::slice::from_ref(&source), host).await {
            Ok(x) => x,
            Err(e) => {
                self.store().migration_set_status(&mig.uuid, "error", None).await?;
                return Err(e); // the run clears the task and records the fault
            }
        };
        self.store().migration_set_status(&mig.uuid, "pre-migrating", Some(&dest)).await?;
        let stopped = inst.previous_vm_state.as_deref() == Some(vm::STOPPED);
        let res = async {
            let dst = self.agent_of(&dest)?;
            let nics = self.bind_ports_to(t, &inst, &dest).await?;
            let spec = self.spawn_spec(&inst, t.ctx.clone(), nics).await?;
            if let Err(e) = dst.driver.spawn(&spec).await {
                let _ = dst.driver.destroy(&uuid).await;
                return Err(e);
            }
            if stopped {
                dst.driver.power_off(&uuid).await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = res {
            self.evacuation_failed(&inst, &source, &mig.uuid).await?;
            return Err(e);
        }
        self.store()
            .instance_modify(&uuid, move |i| {
                i.host = Some(dest);
                i.availability_zone = Some(az);
                i.vm_state = if stopped { vm::STOPPED } else { vm::ACTIVE }.into();
                i.power_state = if stopped { power::SHUTDOWN } else { power::RUNNING };
                i.previous_vm_state = None;
                i.task_state = None;
                Ok(())
            })
            .await?;
        self.store().migration_set_status(&mig.uuid, "done", None).await?;
        Ok(())
    }

    /// A rebuild on the destination failed: the allocation goes back to the
    /// source, the instance is in ERROR there (as Nova leaves a failed
    /// rebuild) and the migration `failed`.
    async fn evacuation_failed(&self, inst: &Instance, source: &str, mig: &str) -> Result<(), Error> {
        let back = Claim {
            consumer: &inst.uuid,
            host: source,
            want: inst.resources(),
            project: &inst.project_id,
            user: &inst.user_id,
        };
        if !self.inner.set.placement.claim(back).await? {
            tracing::warn!(instance = %inst.uuid, "cannot claim the failed evacuation's source back");
        }
        self.store().migration_set_status(mig, "failed", None).await?;
        self.store()
            .instance_modify(&inst.uuid, |i| {
                i.vm_state = vm::ERROR.into();
                i.previous_vm_state = None;
                Ok(())
            })
            .await?;
        Ok(())
    }

    /// At start: an evacuation a crash cut off (the instance still
    /// `rebuilding`, still on its source, whose agent re-adopts it) ends its
    /// migration in `error`; the caller clears the task.
    pub(crate) async fn fail_interrupted_evacuation(&self, uuid: &str) -> Result<(), Error> {
        for m in self.store().migrations_of(uuid).await? {
            if m.migration_type == kind::EVACUATION && m.in_progress() {
                self.store().migration_set_status(&m.uuid, "error", None).await?;
            }
        }
        Ok(())
    }

    /// A host whose service is up again: the guests it still holds of
    /// instances evacuated away are destroyed and their migrations
    /// `completed`. Returns how many guests went.
    pub(crate) async fn destroy_evacuated(&self, agent: &Agent) -> Result<usize, Error> {
        let mut n = 0;
        for m in self.store().migration_list().await? {
            if m.migration_type != kind::EVACUATION
                || m.status != "done"
                || m.source_compute.as_deref() != Some(agent.host.as_str())
            {
                continue;
            }
            // the instance may have come back here since (a later move)
            let here = self
                .store()
                .instance_get(&m.instance_uuid)
                .await?
                .is_some_and(|i| i.host.as_deref() == Some(&agent.host));
            if !here && agent.driver.power_state(&m.instance_uuid).is_some() {
                agent.driver.destroy(&m.instance_uuid).await?;
                n += 1;
            }
            self.store().migration_set_status(&m.uuid, "completed", None).await?;
        }
        Ok(n)
    }
}
