//! Placement's tables (portable SQL through rustack-db). One file per family:
//! providers, inventories, allocations (with consumers and usages), the
//! names (custom classes and traits, provider traits and aggregates), and the
//! allocation candidate search.

mod allocations;
mod candidates;
mod inventories;
mod names;
mod providers;

pub use allocations::TypedUsage;
pub(crate) use providers::not_found as provider_not_found;
pub use providers::ProviderFilter;

use rustack_common::Error;
use rustack_db::sqlx::any::AnyRow;
use rustack_db::sqlx::{self, Row};
use rustack_db::{Db, Migration};

pub static MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "placement", sql: include_str!("../../migrations/0001_placement.sql") }];

/// The placement service's storage.
#[derive(Clone)]
pub struct Store {
    pub db: Db,
}

impl Store {
    pub fn new(db: Db) -> Self {
        Store { db }
    }

    pub async fn migrate(&self) -> Result<usize, Error> {
        self.db.migrate("placement", MIGRATIONS).await.map_err(db_err)
    }
}

/// A database error is a 500 (logged with its cause).
pub fn db_err(e: sqlx::Error) -> Error {
    Error::internal(&e)
}

/// A 409 with placement's `code`.
pub fn conflict(code: &str, msg: impl Into<String>) -> Error {
    Error::conflict(msg).with_code(code)
}

/// The 409 a stale generation gets.
pub fn generation_conflict(what: &str) -> Error {
    conflict(
        "placement.concurrent_update",
        format!("{what} generation conflict: Resource provider's generation already changed. Please update the generation and try again."),
    )
}

pub(crate) fn s(r: &AnyRow, c: &str) -> String {
    r.try_get::<Option<String>, _>(c).ok().flatten().unwrap_or_default()
}

pub(crate) fn os(r: &AnyRow, c: &str) -> Option<String> {
    r.try_get::<Option<String>, _>(c).ok().flatten()
}

pub(crate) fn i(r: &AnyRow, c: &str) -> i64 {
    r.try_get::<i64, _>(c).unwrap_or(0)
}

/// `$from, $from+1, …` for `n` binds.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n).map(|k| format!("${k}")).collect::<Vec<_>>().join(", ")
}

pub(crate) fn now() -> String {
    rustack_common::time::iso_micro(&rustack_common::time::now())
}

/// At most this many binds per `IN (…)` list (well under every backend's limit).
pub(crate) const CHUNK: usize = 500;
