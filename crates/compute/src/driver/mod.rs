//! The hypervisor driver boundary: what a compute agent asks of the host.
//! `fake` keeps instances in memory (this issue); the QEMU/KVM driver comes
//! later behind the same trait.

pub mod fake;

use rustack_common::Error;
use rustack_http::token_layer::BoxFuture;

use crate::model::Resources;

/// What the agent hands the driver to build an instance.
#[derive(Debug, Clone)]
pub struct SpawnSpec {
    pub uuid: String,
    pub name: String,
    pub resources: Resources,
    pub image_ref: String,
    pub user_data: Option<String>,
}

/// A host's capacity, reported as placement inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostResources {
    pub vcpus: i64,
    pub memory_mb: i64,
    pub disk_gb: i64,
}

pub trait HypervisorDriver: Send + Sync + 'static {
    /// The host name this driver runs (the resource provider's name).
    fn host(&self) -> &str;
    fn host_resources(&self) -> HostResources;
    fn spawn<'a>(&'a self, spec: &'a SpawnSpec) -> BoxFuture<'a, Result<(), Error>>;
    /// Removing an instance the driver does not know is not an error.
    fn destroy<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    fn reboot<'a>(&'a self, uuid: &'a str, hard: bool) -> BoxFuture<'a, Result<(), Error>>;
    fn power_on<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    fn power_off<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<(), Error>>;
    fn pause<'a>(&'a self, uuid: &'a str, pause: bool) -> BoxFuture<'a, Result<(), Error>>;
    fn suspend<'a>(&'a self, uuid: &'a str, suspend: bool) -> BoxFuture<'a, Result<(), Error>>;
    /// Resizes in place (the fake driver has one host per resize).
    fn resize<'a>(&'a self, uuid: &'a str, resources: Resources) -> BoxFuture<'a, Result<(), Error>>;
    /// The bytes of a disk snapshot (a fake one here).
    fn snapshot<'a>(&'a self, uuid: &'a str) -> BoxFuture<'a, Result<Vec<u8>, Error>>;
    /// The power state Nova would record (`model::power`); None when the
    /// driver does not know the instance.
    fn power_state(&self, uuid: &str) -> Option<i64>;
    /// Every instance the driver runs (re-adoption after a restart).
    fn instances(&self) -> Vec<String>;
    fn console_output(&self, uuid: &str) -> Option<String>;
    /// The instance's VNC server as a Unix socket, for the console proxy;
    /// None when the driver has no graphical console for it.
    fn vnc_socket(&self, uuid: &str) -> Option<std::path::PathBuf>;
    /// Takes back an instance the database says runs here, after an agent
    /// restart; the fake driver recreates it in `power_state`.
    fn adopt(&self, spec: &SpawnSpec, power_state: i64);
}
