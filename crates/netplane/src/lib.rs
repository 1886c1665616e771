//! The network data plane: what the network service wants to exist on a host
//! (bridges, namespaces, dnsmasq, nftables), as a driver trait with a Linux
//! implementation and a fake one for API tests.
//!
//! The network agent (crates/network) computes a [`HostState`] from its
//! database and calls [`DataPlane::apply`] whenever something changes and
//! periodically; `apply` is idempotent and removes what is no longer wanted,
//! so it is also the reconciler after a restart. See docs/dataplane.md.

mod error;
mod fake;
pub mod linux;
pub mod state;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use error::Error;
pub use fake::FakeDataPlane;
pub use linux::{LinuxDataPlane, LinuxSettings};
pub use state::*;

/// A boxed future, so that [`DataPlane`] stays object-safe (`Arc<dyn DataPlane>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What an `apply` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyReport {
    /// One line per change made on the host (`created bridge brq6f3a1c2e-12`);
    /// empty when the host already matched.
    pub actions: Vec<String>,
    /// Things that are desired but could not be done yet and are not errors
    /// (a port whose tap does not exist yet is plugged on a later apply).
    pub pending: Vec<String>,
}

/// A driver that makes a host match a [`HostState`].
pub trait DataPlane: Send + Sync + 'static {
    /// Makes the host match `desired`: creates what is missing, fixes what
    /// differs, removes what is ours and no longer desired. Idempotent;
    /// calls are serialised by the implementation.
    fn apply<'a>(&'a self, desired: &'a HostState) -> BoxFuture<'a, Result<ApplyReport, Error>>;

    /// `linux` or `fake`.
    fn kind(&self) -> &'static str;

    /// For tests: reach the concrete type (`FakeDataPlane`) behind an `Arc<dyn DataPlane>`.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// The data plane named by configuration: `fake`, `linux`, or `auto` (linux
/// when this process is root and `ip`, `nft` and `dnsmasq` are on the PATH,
/// else fake with a warning). An unknown kind is treated as `auto` with a warning.
pub fn from_config(kind: &str, settings: LinuxSettings) -> Arc<dyn DataPlane> {
    match kind {
        "fake" => Arc::new(FakeDataPlane::new()),
        "linux" => Arc::new(LinuxDataPlane::new(settings)),
        other => {
            if other != "auto" {
                tracing::warn!(kind = other, "unknown data plane kind; using auto");
            }
            match linux::host_supports_linux() {
                Ok(()) => Arc::new(LinuxDataPlane::new(settings)),
                Err(why) => {
                    tracing::warn!(%why, "the Linux data plane cannot run here; using the fake one (nothing is made real)");
                    Arc::new(FakeDataPlane::new())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_by_name_and_reachable_through_any() {
        let dp = from_config("fake", LinuxSettings::default());
        assert_eq!(dp.kind(), "fake");
        assert!(dp.as_any().downcast_ref::<FakeDataPlane>().is_some());
    }
}
