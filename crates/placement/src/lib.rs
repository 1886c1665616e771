//! The Placement service: resource providers, inventories, allocations, traits, on port 8778.
//!
//! `Placement` is the handle the binary opens, serves and bootstraps.

mod api;

use std::sync::Arc;

use rustack_common::Error;
use rustack_db::Db;
use rustack_http::service::{BootstrapProjects, ServiceOptions};

#[derive(Clone)]
pub struct Placement {
    inner: Arc<Inner>,
}

struct Inner {
    #[allow(dead_code)]
    db: Db,
    opts: ServiceOptions,
}

impl Placement {
    /// Opens the service on `db` (applies its migrations).
    pub async fn open(db: Db, opts: ServiceOptions) -> Result<Placement, Error> {
        Ok(Placement { inner: Arc::new(Inner { db, opts }) })
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
