//! A compute agent: one per host, owning that host's driver. At start it
//! registers the host as a compute service and a resource provider (VCPU,
//! MEMORY_MB, DISK_GB from the driver) and re-adopts the instances the
//! database places on it.

use std::sync::Arc;

use rustack_common::Error;

use crate::config::ComputeConfig;
use crate::driver::fake::{FakeDriver, FakeOptions};
use crate::driver::qemu::QemuDriver;
use crate::driver::{HostResources, HypervisorDriver, SpawnSpec};
use crate::model::{power, vm};
use crate::peers::Claim;
use crate::peers::Images;
use crate::Compute;

pub struct Agent {
    pub host: String,
    pub driver: Arc<dyn HypervisorDriver>,
    /// The same driver, typed, for test hooks (fake hosts only).
    pub fake: Option<Arc<FakeDriver>>,
}

impl Agent {
    pub fn fake(host: &str, cfg: &ComputeConfig) -> Agent {
        let fake = Arc::new(FakeDriver::new(
            host,
            FakeOptions {
                resources: HostResources {
                    vcpus: cfg.host_vcpus,
                    memory_mb: cfg.host_memory_mb,
                    disk_gb: cfg.host_disk_gb,
                },
                spawn_delay: cfg.spawn_delay,
                action_delay: cfg.action_delay,
                fail_spawn: cfg.fails_spawn(host),
            },
        ));
        Agent { host: host.to_string(), driver: fake.clone(), fake: Some(fake) }
    }

    /// The agent of this machine with the QEMU driver.
    pub async fn qemu(
        cfg: &ComputeConfig,
        data_dir: &std::path::Path,
        images: Arc<dyn Images>,
    ) -> Result<Agent, Error> {
        let d = QemuDriver::open(&cfg.qemu, data_dir, images).await?;
        Ok(Agent { host: d.host().to_string(), driver: Arc::new(d), fake: None })
    }
}

impl Compute {
    /// Registers every agent's host and re-adopts its instances: the driver
    /// gets them back and placement holds their resources again.
    pub(crate) async fn start_agents(&self) -> Result<(), Error> {
        let placement = &self.inner.set.placement;
        for agent in self.inner.agents.values() {
            self.store().service_ensure(&agent.host, "nova-compute").await?;
            placement.ensure_provider(&agent.host, agent.driver.host_resources()).await?;
            let on_host = self.store().instances_on_host(&agent.host).await?;
            // what the host still runs is kept; anything else (a boot a
            // crash cut off included: its recovery ends it in ERROR) goes
            let known: Vec<String> =
                on_host.iter().filter(|i| i.vm_state != vm::BUILDING).map(|i| i.uuid.clone()).collect();
            agent.driver.adopt_host(&known).await?;
            // evacuated away while this host was down: never run them twice
            self.destroy_evacuated(agent).await?;
            for i in on_host {
                if i.vm_state == vm::BUILDING {
                    continue; // the crash recovery decides about these
                }
                let res = i.resources();
                placement
                    .claim(Claim {
                        consumer: &i.uuid,
                        host: &agent.host,
                        want: res,
                        project: &i.project_id,
                        user: &i.user_id,
                    })
                    .await?;
                let spec = SpawnSpec {
                    uuid: i.uuid.clone(),
                    name: i.name.clone(),
                    resources: res,
                    root_gb: i.flavor.as_ref().map(|f| f.disk).unwrap_or(0),
                    image_ref: i.image_ref.clone(),
                    user_data: None,
                    ctx: None,
                    nics: vec![],
                    config_drive: None,
                };
                let p = if i.power_state == power::NOSTATE { power::RUNNING } else { i.power_state };
                agent.driver.adopt(&spec, p);
            }
        }
        self.store().service_ensure("rustack", "nova-conductor").await?;
        self.store().service_ensure("rustack", "nova-scheduler").await?;
        Ok(())
    }

    /// The agents' periodic report: inventory to placement (a no-op there
    /// when unchanged), the service heartbeat, and (a host up again) the
    /// clean-up of the guests evacuated from it.
    pub(crate) async fn report(&self) -> Result<(), Error> {
        let placement = &self.inner.set.placement;
        for agent in self.inner.agents.values() {
            placement.ensure_provider(&agent.host, agent.driver.host_resources()).await?;
            let svc = self.store().service_ensure(&agent.host, "nova-compute").await?;
            self.store().service_save(&svc).await?;
            if !svc.forced_down {
                // the host is back: the guests evacuated meanwhile go
                self.destroy_evacuated(agent).await?;
            }
        }
        Ok(())
    }
}
