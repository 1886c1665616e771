//! The compute tables (portable SQL through rustack-db). One file per family
//! of entities; each function is one statement or one transaction.

pub mod actions;
pub mod aggregates;
pub mod consoles;
pub mod flavors;
pub mod groups;
pub mod instances;
pub mod keypairs;
pub mod metadata;
pub mod migrations;
pub mod quotas;
pub mod services;

use rustack_common::Error;
use rustack_db::{Db, Migration};

pub static MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "compute core", sql: include_str!("../../migrations/0001_initial.sql") },
    Migration { version: 2, name: "write lock", sql: include_str!("../../migrations/0002_write_lock.sql") },
    Migration { version: 3, name: "write lock row", sql: include_str!("../../migrations/0003_write_lock_row.sql") },
    Migration { version: 4, name: "console tokens", sql: include_str!("../../migrations/0004_console_tokens.sql") },
    Migration { version: 5, name: "migrations", sql: include_str!("../../migrations/0005_migrations.sql") },
];

/// The compute service's storage.
#[derive(Clone)]
pub struct Store {
    pub db: Db,
}

pub(crate) fn db_err(e: rustack_db::sqlx::Error) -> Error {
    Error::internal(&e)
}

pub(crate) fn json_err(e: serde_json::Error) -> Error {
    Error::internal(&e)
}

impl Store {
    /// A write transaction that holds the write lock from its first
    /// statement (migrations 0002, 0003): SQLite's database lock, PostgreSQL's
    /// lock on the one row of `compute_write_lock`. Compute's writes are
    /// serialised, so a quota check and the insert it guards are never
    /// interleaved with another's.
    pub(crate) async fn write(&self) -> Result<rustack_db::WriteTx, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        rustack_db::sqlx::query("UPDATE compute_write_lock SET id = 1 WHERE id = 1")
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        Ok(w)
    }

    pub async fn open(db: Db) -> Result<Store, Error> {
        db.migrate("compute", MIGRATIONS).await.map_err(db_err)?;
        Ok(Store { db })
    }
}
