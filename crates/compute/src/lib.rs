//! The Compute service (Nova's job): Compute API v2.1 with microversions on
//! port 8774, the conductor that runs its workflows, and the compute agents
//! (one per fake host, or this machine's with `driver = qemu`) that drive
//! instances through a [`HypervisorDriver`].
//!
//! `Compute` is the handle the binary opens, serves and bootstraps.

mod adapters;
mod agent;
mod api;
mod bootstrap;
pub mod bus;
mod conductor;
pub mod config;
mod console;
pub mod driver;
mod evacuate;
mod keygen;
pub mod local_placement;
mod metadata;
mod migration;
pub mod model;
pub mod peers;
pub mod scheduling;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustack_common::Error;
use rustack_db::Db;
use rustack_http::service::{BootstrapProjects, ServiceOptions};

use crate::agent::Agent;
use crate::bus::{Bus, InProcBus, Task};
use crate::config::ComputeConfig;
use crate::peers::PeerSet;
use crate::store::Store;

pub use crate::driver::HypervisorDriver;

#[derive(Clone)]
pub struct Compute {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    opts: ServiceOptions,
    cfg: ComputeConfig,
    peers: Peers,
    set: PeerSet,
    /// The compute agents of this process, by host name.
    agents: HashMap<String, Arc<Agent>>,
    bus: Arc<dyn Bus>,
    /// The conductor's end of the in-process bus, taken by `spawn_workers`.
    rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<Task>>>,
    /// One workflow at a time per instance.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Boots in a server group pick their host one at a time, so two
    /// anti-affinity members never land on one host.
    group_lock: tokio::sync::Mutex<()>,
}

/// The services compute works with, reached in-process.
#[derive(Clone)]
pub struct Peers {
    pub placement: rustack_placement::Placement,
    pub image: rustack_image::Image,
    /// None where the network service is not run: only `networks: "none"` works.
    pub network: Option<rustack_network::Network>,
}

impl Compute {
    /// Opens the service on `db`: applies its migrations, starts its agents'
    /// drivers, registers their hosts, and recovers from a crashed run.
    pub async fn open(db: Db, opts: ServiceOptions, peers: Peers) -> Result<Compute, Error> {
        let cfg = ComputeConfig::read(&opts.config.ini).map_err(|e| Error::bad_request(e.to_string()))?;
        let store = Store::open(db).await?;
        let set = adapters::peer_set(&peers, &cfg);
        let mut agents = HashMap::new();
        match cfg.driver {
            config::DriverKind::Fake => {
                for i in 0..cfg.fake_hosts {
                    let host = ComputeConfig::host_name(i);
                    let agent = Agent::fake(&host, &cfg);
                    agents.insert(host, Arc::new(agent));
                }
            }
            config::DriverKind::Qemu => {
                let agent = Agent::qemu(&cfg, &opts.data_dir, set.images.clone()).await?;
                agents.insert(agent.host.clone(), Arc::new(agent));
            }
        }
        let (bus, rx) = InProcBus::new();
        let c = Compute {
            inner: Arc::new(Inner {
                store,
                opts,
                cfg,
                peers,
                set,
                agents,
                bus: Arc::new(bus),
                rx: Mutex::new(Some(rx)),
                locks: Mutex::new(HashMap::new()),
                group_lock: tokio::sync::Mutex::new(()),
            }),
        };
        c.start_agents().await?;
        c.recover().await?;
        Ok(c)
    }

    /// The API routes with their layers.
    pub fn router(&self) -> axum::Router {
        api::router(self.clone())
    }

    /// The metadata API (port 8775), served beside the compute API.
    pub fn metadata_router(&self) -> axum::Router {
        metadata::router(self.clone())
    }

    /// The noVNC console proxy (port 6080), served beside the compute API.
    pub fn console_router(&self) -> axum::Router {
        console::router(self.clone())
    }

    /// The first-start setup of this service (idempotent): the default flavors.
    pub async fn bootstrap(&self, _projects: &BootstrapProjects) -> Result<(), Error> {
        bootstrap::flavors(&self.inner.store).await
    }

    /// Starts the conductor and the periodic reconciler.
    pub fn spawn_workers(&self) {
        let rx = self.inner.rx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(mut rx) = rx {
            let c = self.clone();
            tokio::spawn(async move {
                while let Some(t) = rx.recv().await {
                    let c = c.clone();
                    tokio::spawn(async move { c.run(t).await });
                }
            });
        }
        let interval = self.inner.cfg.sync_interval;
        if !interval.is_zero() {
            let c = self.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(interval);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    if let Err(e) = c.sync_power_states().await {
                        tracing::warn!(error = %e.message, "power state sync failed");
                    }
                    if let Err(e) = c.report().await {
                        tracing::warn!(error = %e.message, "compute agent report failed");
                    }
                }
            });
        }
    }

    pub fn options(&self) -> &ServiceOptions {
        &self.inner.opts
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn cfg(&self) -> &ComputeConfig {
        &self.inner.cfg
    }

    pub(crate) fn agent(&self, host: &str) -> Option<&Arc<Agent>> {
        self.inner.agents.get(host)
    }

    /// The fake driver of a host, for tests that act behind the API's back.
    pub fn fake_driver(&self, host: &str) -> Option<Arc<driver::fake::FakeDriver>> {
        self.inner.agents.get(host).and_then(|a| a.fake.clone())
    }

    /// The hypervisor driver of a host this process runs (tests).
    pub fn driver(&self, host: &str) -> Option<Arc<dyn HypervisorDriver>> {
        self.inner.agents.get(host).map(|a| a.driver.clone())
    }

    /// Hosts run by this process.
    pub fn hosts(&self) -> Vec<String> {
        let mut h: Vec<String> = self.inner.agents.keys().cloned().collect();
        h.sort();
        h
    }

    /// What placement holds on a host (tests, hypervisor views).
    pub async fn host_usage(&self, host: &str) -> model::Resources {
        self.inner.set.placement.used(host).await.unwrap_or_default()
    }

    /// Runs the power-state reconciler once (also periodic).
    pub async fn sync_power_states(&self) -> Result<usize, Error> {
        conductor::sync_power_states(self).await
    }
}
