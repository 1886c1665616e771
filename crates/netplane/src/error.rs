//! Errors of the data plane.

/// Why an `apply` failed. The message is for logs and operators; the network
/// service shows clients only that the data plane failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The desired state is inconsistent (an unknown subnet, a bad address).
    #[error("invalid desired state: {0}")]
    Invalid(String),
    /// A host command (`ip`, `nft`, `dnsmasq`) failed.
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },
    /// Any other host failure (files, sockets, namespaces).
    #[error("{0}")]
    Host(String),
    /// Some objects could not be made (one line each); everything else was
    /// reconciled. The next apply tries them again.
    #[error("{} object(s) failed: {}", .0.len(), .0.join("; "))]
    Partial(Vec<String>),
    /// A failure a [`crate::FakeDataPlane`] was told to produce.
    #[error("injected failure: {0}")]
    Injected(String),
}

impl Error {
    #[allow(dead_code)] // used by the Linux data plane
    pub(crate) fn host(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Self {
        Error::Host(format!("{what}: {e}"))
    }
}

impl From<Error> for rustack_common::Error {
    /// A data-plane failure is the server's problem (500), its cause logged.
    fn from(e: Error) -> Self {
        rustack_common::Error::internal(&e)
    }
}
