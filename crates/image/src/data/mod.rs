//! Where image bytes live: the [`DataStore`] trait (streamed `put`, ranged
//! `get`, `delete`) and its local filesystem implementation. Object storage can
//! back images later by implementing the same trait.

mod fs;

use std::future::Future;
use std::io;
use std::pin::Pin;

use bytes::Bytes;
use futures_util::Stream;

pub use fs::FilesystemStore;

/// A stream of image bytes, never the whole image in memory.
pub type ByteStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send + 'static>>;
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug)]
pub enum StoreError {
    /// Nothing is stored under that key.
    NotFound,
    /// The storage media is full (ENOSPC, EDQUOT).
    Full,
    /// Reading the incoming stream failed (the client went away, or the
    /// stream was stopped on purpose): nothing was stored.
    Source(io::Error),
    /// The store itself failed.
    Io(io::Error),
}

impl StoreError {
    /// Classifies a write error of the storage media.
    pub fn from_write(e: io::Error) -> StoreError {
        if e.kind() == io::ErrorKind::StorageFull || e.kind() == io::ErrorKind::QuotaExceeded {
            return StoreError::Full;
        }
        match e.raw_os_error() {
            Some(28) | Some(122) => StoreError::Full, // ENOSPC, EDQUOT
            _ => StoreError::Io(e),
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound => write!(f, "no data stored under that key"),
            StoreError::Full => write!(f, "storage media is full"),
            StoreError::Source(e) => write!(f, "reading the data failed: {e}"),
            StoreError::Io(e) => write!(f, "store I/O error: {e}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// A place to keep image bytes under keys (an image id, `staging-<id>`).
pub trait DataStore: Send + Sync + 'static {
    /// The store's id as `/v2/info/stores` names it.
    fn id(&self) -> &'static str;

    /// Stores the whole stream under `key`; returns the bytes written. All or
    /// nothing: when the stream or the media fails, nothing is left under
    /// `key` (and no temporary file), and an existing value is kept.
    fn put<'a>(&'a self, key: &'a str, data: ByteStream) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// The stored size and a stream of the bytes `range` (inclusive start and
    /// end, already within the size) or all. The stream keeps reading what it
    /// opened even if the key is deleted meanwhile.
    fn get<'a>(
        &'a self,
        key: &'a str,
        range: Option<(u64, u64)>,
    ) -> BoxFuture<'a, Result<(u64, ByteStream), StoreError>>;

    /// The stored size of `key`.
    fn size<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Removes `key`; removing a missing key is not an error.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Drops what puts cut by a crash left behind (older than `before`).
    fn remove_stale(&self, before: std::time::SystemTime) -> BoxFuture<'_, ()> {
        let _ = before;
        Box::pin(async {})
    }
}

/// Whether a key is a plain name a store may use as a file name.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 200
        && !key.starts_with('.')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}
