//! The Compute service (Nova's job): Compute API v2.1 with microversions on port 8774.
//!
//! `Compute` is the handle the binary opens, serves and bootstraps.

mod api;

use std::sync::Arc;

use rustack_common::Error;
use rustack_db::Db;
use rustack_http::service::{BootstrapProjects, ServiceOptions};

#[derive(Clone)]
pub struct Compute {
    inner: Arc<Inner>,
}

struct Inner {
    #[allow(dead_code)]
    db: Db,
    opts: ServiceOptions,
    #[allow(dead_code)]
    peers: Peers,
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
    /// Opens the service on `db` (applies its migrations).
    pub async fn open(db: Db, opts: ServiceOptions, peers: Peers) -> Result<Compute, Error> {
        Ok(Compute { inner: Arc::new(Inner { db, opts, peers }) })
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
