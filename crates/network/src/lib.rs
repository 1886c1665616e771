//! The Network service (Neutron's job): Networking API v2.0 on port 9696.
//!
//! `Network` is the handle the binary opens, serves and bootstraps.

mod api;

use std::sync::Arc;

use rustack_common::Error;
use rustack_db::Db;
use rustack_http::service::{BootstrapProjects, ServiceOptions};

#[derive(Clone)]
pub struct Network {
    inner: Arc<Inner>,
}

struct Inner {
    #[allow(dead_code)]
    db: Db,
    opts: ServiceOptions,
}

impl Network {
    /// Opens the service on `db` (applies its migrations).
    pub async fn open(db: Db, opts: ServiceOptions) -> Result<Network, Error> {
        Ok(Network { inner: Arc::new(Inner { db, opts }) })
    }

    /// The API routes with their layers.
    pub fn router(&self) -> axum::Router {
        api::router(self.clone())
    }

    /// The first-start setup of this service (idempotent).
    pub async fn bootstrap(&self, _projects: &BootstrapProjects) -> Result<(), Error> {
        Ok(())
    }

    /// Starts the periodic background work (reconcilers, agents).
    pub fn spawn_workers(&self) {}

    pub fn options(&self) -> &ServiceOptions {
        &self.inner.opts
    }
}
