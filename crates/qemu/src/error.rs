//! Errors of the QEMU process manager.

/// Why an operation on a VM failed. Messages are for logs and operators; the
/// compute service shows clients only what `rustack_common::Error` allows.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The spec or an argument is unusable (a bad name, a path outside the root).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// No instance with this id is managed here.
    #[error("instance {0} not found on this host")]
    NotFound(String),
    /// The instance is not in a state that allows the operation.
    #[error("instance {id} is {state}: cannot {op}")]
    State { id: String, state: String, op: String },
    /// A host command (`qemu-img`, `ip`, `genisoimage`, QEMU itself) failed.
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },
    /// QEMU answered a QMP command with an error.
    #[error("QMP {command}: {class}: {desc}")]
    Qmp { command: String, class: String, desc: String },
    /// Waiting for QEMU (QMP reply, event, process exit) took too long.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The QMP connection is closed (QEMU exited or never listened).
    #[error("QMP connection closed: {0}")]
    Disconnected(String),
    /// Any other host failure (files, sockets, /proc).
    #[error("{0}")]
    Host(String),
}

impl Error {
    pub(crate) fn host(what: impl std::fmt::Display, e: impl std::fmt::Display) -> Self {
        Error::Host(format!("{what}: {e}"))
    }
    pub(crate) fn state(id: &str, state: impl std::fmt::Display, op: &str) -> Self {
        Error::State { id: id.to_string(), state: state.to_string(), op: op.to_string() }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for rustack_common::Error {
    /// Unknown instance → 404, wrong state → 409, bad input → 400; anything
    /// else is the host's problem (500, cause logged, never shown).
    fn from(e: Error) -> Self {
        match &e {
            Error::NotFound(_) => rustack_common::Error::not_found(e.to_string()),
            Error::State { .. } => rustack_common::Error::conflict(e.to_string()),
            Error::Invalid(_) => rustack_common::Error::bad_request(e.to_string()),
            _ => rustack_common::Error::internal(&e),
        }
    }
}
