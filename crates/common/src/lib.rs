//! Shared ground for every rustack service: the internal error type, the
//! configuration file, identifiers and time formats.

pub mod config;
pub mod error;
pub mod time;

pub use error::{Error, ErrorKind, Result};

/// A new random identifier in Keystone's style: 32 lower-case hex digits.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
