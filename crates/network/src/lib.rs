//! The Network service (Neutron's job): Networking API v2.0 on port 9696.
//!
//! `Network` is the handle the binary opens, serves and bootstraps. Layout:
//! `api/` (routes and thin handlers), `service/` (the logic of each resource
//! family, on JSON documents in the API's shape), `store` (SQL), `ipam`
//! (addresses), `query` (filters, fields, sorting, paging), `agent` (the
//! desired host state handed to the data plane of `rustack-netplane`).
//!
//! ## Calls other services make in-process (stable)
//!
//! Compute plugs its instances with these, never over HTTP:
//! - [`Network::create_port_for`]`(ctx, PortRequest)` → [`PortRecord`]: a port on a
//!   network the caller may use, fixed IPs chosen or allocated, the project's
//!   `default` security group unless others are named.
//! - [`Network::bind_port`]`(port_id, host)`: `binding:host_id`, `binding:vif_type`
//!   `bridge`, status `ACTIVE`; the data plane then plugs `tap<id[..11]>`.
//! - [`Network::delete_port`]`(port_id)`, [`Network::ports_of_device`]`(device_id)`.
//! - [`Network::get_network_for`]`(ctx, id)`, [`Network::list_networks_for`]`(ctx)`:
//!   the networks a project sees (its own, shared ones, external ones).
//! - [`Network::auto_allocated_network_for`]`(ctx)`,
//!   [`Network::check_auto_allocation_for`]`(ctx)`: the project's
//!   auto-allocated topology (`networks: "auto"`) and its dry run.

mod agent;
mod api;
mod bootstrap;
pub mod config;
pub mod ipam;
pub mod policy;
pub mod query;
mod service;
mod store;

use std::sync::Arc;

use rustack_common::Error;
use rustack_db::Db;
use rustack_http::service::{BootstrapProjects, ServiceOptions};
use rustack_http::RequestContext;
pub use rustack_netplane as netplane;
use rustack_netplane::DataPlane;
use serde_json::Value;

pub use service::compute::{PortRecord, PortRequest};
pub use service::Caller;

use crate::config::NetConfig;

#[derive(Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    opts: ServiceOptions,
    cfg: NetConfig,
    dataplane: Arc<dyn DataPlane>,
    /// Neutron's rules and the operator's overrides (`policy`).
    policy: rustack_policy::Policy,
    /// Wakes the agent after a change (it debounces).
    changed: tokio::sync::Notify,
    /// Counts changes; the agent's last applied generation trails it.
    generation: std::sync::atomic::AtomicU64,
    applied: std::sync::atomic::AtomicU64,
    applied_notify: tokio::sync::Notify,
    /// One lock per project building its auto-allocated topology (entries
    /// nobody holds are dropped on the next call).
    topology_locks: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Network {
    /// Opens the service on `db` (applies its migrations); the data plane is
    /// the one `[network] dataplane` names.
    pub async fn open(db: Db, opts: ServiceOptions) -> Result<Network, Error> {
        let cfg = NetConfig::read(&opts.config.ini)?;
        let settings = rustack_netplane::LinuxSettings {
            state_dir: opts.data_dir.join("network"),
            masquerade_uplink: cfg.masquerade_uplink.clone(),
            physical_interface_mappings: cfg.physical_interface_mappings.clone(),
            ..Default::default()
        };
        let dp = rustack_netplane::from_config(&cfg.dataplane, settings);
        Self::open_with(db, opts, dp).await
    }

    /// Opens the service with a given data plane (tests give a fake one).
    pub async fn open_with(db: Db, opts: ServiceOptions, dataplane: Arc<dyn DataPlane>) -> Result<Network, Error> {
        let cfg = NetConfig::read(&opts.config.ini)?;
        let policy = policy::load(&opts.config).map_err(|e| Error::bad_request(format!("network policy: {e}")))?;
        store::migrate(&db).await?;
        Ok(Network {
            inner: Arc::new(Inner {
                db,
                opts,
                cfg,
                dataplane,
                policy,
                changed: tokio::sync::Notify::new(),
                generation: Default::default(),
                applied: Default::default(),
                applied_notify: tokio::sync::Notify::new(),
                topology_locks: Default::default(),
            }),
        })
    }

    /// The API routes with their layers.
    pub fn router(&self) -> axum::Router {
        api::router(self.clone())
    }

    /// The first-start setup of this service (idempotent): devstack's
    /// `public` external network and the demo project's `private` network
    /// and `router1`.
    pub async fn bootstrap(&self, projects: &BootstrapProjects) -> Result<(), Error> {
        bootstrap::run(self, projects).await
    }

    /// Starts the network agent: applies the desired host state after each
    /// change (debounced) and every `reconcile_interval` seconds.
    pub fn spawn_workers(&self) {
        agent::spawn(self.clone());
    }

    pub fn options(&self) -> &ServiceOptions {
        &self.inner.opts
    }

    /// The data plane the agent drives (tests downcast it to `FakeDataPlane`).
    pub fn dataplane(&self) -> &Arc<dyn DataPlane> {
        &self.inner.dataplane
    }

    /// The desired state of this host as the agent computes it from the database.
    pub async fn desired_state(&self) -> Result<rustack_netplane::HostState, Error> {
        agent::desired_state(self).await
    }

    /// Waits until the agent has applied every change made before this call
    /// (tests; at most `timeout`). False on timeout.
    pub async fn wait_applied(&self, timeout: std::time::Duration) -> bool {
        use std::sync::atomic::Ordering;
        let want = self.inner.generation.load(Ordering::SeqCst);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.inner.applied_notify.notified();
            if self.inner.applied.load(Ordering::SeqCst) >= want {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.inner.applied.load(Ordering::SeqCst) >= want;
            }
        }
    }

    /// Something changed: the agent recomputes the host state.
    pub(crate) fn changed(&self) {
        self.inner.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.changed.notify_one();
    }

    /// The lock a project's auto-allocated topology is built under.
    pub(crate) fn topology_lock(&self, project: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.inner.topology_locks.lock().unwrap_or_else(|e| e.into_inner());
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(project.to_string()).or_default().clone()
    }

    pub(crate) fn db(&self) -> &Db {
        &self.inner.db
    }

    pub(crate) fn policy(&self) -> &rustack_policy::Policy {
        &self.inner.policy
    }

    pub(crate) fn cfg(&self) -> &NetConfig {
        &self.inner.cfg
    }

    // ---- the in-process calls of compute ----------------------------------

    /// Creates a port for an instance (see the module docs).
    pub async fn create_port_for(&self, ctx: &RequestContext, req: PortRequest) -> Result<PortRecord, Error> {
        service::compute::create_port_for(self, &Caller::from_ctx(ctx), req).await
    }

    /// Binds a port to a host: `binding:host_id`, vif_type `bridge`, ACTIVE.
    pub async fn bind_port(&self, port_id: &str, host: &str) -> Result<PortRecord, Error> {
        service::compute::bind_port(self, port_id, host).await
    }

    /// Binds a port the user brought to an instance (`device_id`,
    /// `device_owner`, `binding:host_id`); empty strings release and unbind it.
    pub async fn attach_port(
        &self,
        port_id: &str,
        host: &str,
        device_id: &str,
        device_owner: &str,
    ) -> Result<PortRecord, Error> {
        service::compute::set_binding(self, port_id, host, Some((device_id, device_owner))).await
    }

    /// Deletes a port (its addresses are released; 404 when it does not exist).
    pub async fn delete_port(&self, port_id: &str) -> Result<(), Error> {
        service::ports::delete(self, &Caller::admin(), port_id).await
    }

    /// The ports whose `device_id` is this (an instance's ports).
    pub async fn ports_of_device(&self, device_id: &str) -> Result<Vec<PortRecord>, Error> {
        service::compute::ports_of_device(self, device_id).await
    }

    /// A network the caller may see, in the API's JSON shape (404 otherwise).
    pub async fn get_network_for(&self, ctx: &RequestContext, id: &str) -> Result<Value, Error> {
        service::networks::show(self, &Caller::from_ctx(ctx), id).await
    }

    /// The network of the caller's project's auto-allocated topology, built
    /// on first use (network, subnet from the default pool, router to the
    /// default external network); one per project, also when called
    /// concurrently. 409 (`AutoAllocationFailure`) when the deployment has
    /// no default external network or subnet pool.
    pub async fn auto_allocated_network_for(&self, ctx: &RequestContext) -> Result<String, Error> {
        let c = Caller::from_ctx(ctx);
        let project = c.project_id.clone();
        let v = service::auto_topology::get(self, &c, &project, &[]).await?;
        Ok(v["id"].as_str().unwrap_or_default().to_string())
    }

    /// The dry run of [`Network::auto_allocated_network_for`]: Ok when a
    /// topology could be built for the caller's project, the 409 otherwise.
    pub async fn check_auto_allocation_for(&self, ctx: &RequestContext) -> Result<(), Error> {
        let c = Caller::from_ctx(ctx);
        let project = c.project_id.clone();
        service::auto_topology::get(self, &c, &project, &["dry-run".to_string()]).await.map(|_| ())
    }

    /// Every network the caller's project sees (its own, shared, external), API shape.
    pub async fn list_networks_for(&self, ctx: &RequestContext) -> Result<Vec<Value>, Error> {
        service::networks::visible(self, &Caller::from_ctx(ctx)).await
    }
}
