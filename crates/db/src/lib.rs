//! SQL storage for every service: one pool over SQLite (embedded, the default)
//! or PostgreSQL, chosen by URL at run time, plus numbered, append-only
//! migrations per service.
//!
//! Services write portable SQL: `$1`-style parameters, `TEXT` and `BIGINT`
//! columns only (booleans are 0/1, times are ISO strings), no backend-specific
//! functions. Both backends run the same store tests.

use std::sync::Arc;
use std::time::Duration;

pub use sqlx;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A handle on the database, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time and a deferred transaction that
    /// upgrades to a write can fail at once with SQLITE_BUSY; serialising
    /// writers in the process avoids that. PostgreSQL needs no such lock.
    write_lock: Arc<Mutex<()>>,
}

/// A write transaction; holds the SQLite writer lock until commit or drop.
pub struct WriteTx {
    pub tx: Transaction<'static, Any>,
    _guard: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = Transaction<'static, Any>;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// One schema change of one service. `version`s start at 1 and only grow.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Db {
    /// Connects to `url`: `sqlite:///path/file.db` (created if absent),
    /// `postgres://…` or `postgresql://…`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Db, sqlx::Error> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") { Backend::Sqlite } else { Backend::Postgres };
        let url = match backend {
            Backend::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
            Backend::Postgres if url.starts_with("postgresql://") => url.replacen("postgresql://", "postgres://", 1),
            _ => url.to_string(),
        };
        let opts: AnyConnectOptions = url.parse()?;
        let pool = AnyPoolOptions::new()
            .max_connections(max_connections)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                        conn.execute("PRAGMA busy_timeout = 10000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(opts)
            .await?;
        if backend == Backend::Sqlite {
            // see begin_write: an empty table whose no-op DELETE takes the write lock
            sqlx::query("CREATE TABLE IF NOT EXISTS rustack_write_lock (id BIGINT)").execute(&pool).await?;
        }
        Ok(Db { pool, backend, write_lock: Arc::new(Mutex::new(())) })
    }

    /// The SQLite file of a data dir.
    pub fn sqlite_url(path: &std::path::Path) -> String {
        format!("sqlite://{}", path.display())
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Starts a transaction for writing (serialised on SQLite).
    pub async fn begin_write(&self) -> Result<WriteTx, sqlx::Error> {
        let guard = match self.backend {
            Backend::Sqlite => Some(self.write_lock.clone().lock_owned().await),
            Backend::Postgres => None,
        };
        let mut tx = self.pool.begin().await?;
        if self.backend == Backend::Sqlite {
            // take SQLite's write lock before anything is read: a transaction that
            // reads first and writes later fails with SQLITE_BUSY_SNAPSHOT (517)
            // when another connection (a write outside begin_write) committed between
            sqlx::query("DELETE FROM rustack_write_lock WHERE 1 = 0").execute(&mut *tx).await?;
        }
        Ok(WriteTx { tx, _guard: guard })
    }

    /// Applies the migrations of `service` not applied yet, each in its own
    /// transaction; returns how many ran. Safe to run at every start.
    pub async fn migrate(&self, service: &str, migrations: &[Migration]) -> Result<usize, sqlx::Error> {
        let mut w = self.begin_write().await?;
        w.execute(
            "CREATE TABLE IF NOT EXISTS rustack_migrations (service TEXT NOT NULL, \
             version BIGINT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (service, version))",
        )
        .await?;
        w.commit().await?;
        let applied: Vec<i64> = sqlx::query("SELECT version FROM rustack_migrations WHERE service = $1")
            .bind(service)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| r.get::<i64, _>(0))
            .collect();
        let mut ran = 0;
        for m in migrations {
            if applied.contains(&m.version) {
                continue;
            }
            let mut w = self.begin_write().await?;
            // whole-line comments go first, so a ';' in one does not split a statement
            let sql: String =
                m.sql.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
            for stmt in sql.split(';').map(str::trim).filter(|s| !is_only_comments(s)) {
                w.execute(stmt).await?;
            }
            sqlx::query("INSERT INTO rustack_migrations (service, version, name) VALUES ($1, $2, $3)")
                .bind(service)
                .bind(m.version)
                .bind(m.name)
                .execute(&mut *w.tx)
                .await?;
            w.commit().await?;
            tracing::info!(service, version = m.version, name = m.name, "applied migration");
            ran += 1;
        }
        Ok(ran)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// A chunk of a migration between semicolons that holds no SQL.
fn is_only_comments(chunk: &str) -> bool {
    chunk.lines().map(str::trim).all(|l| l.is_empty() || l.starts_with("--"))
}

/// True when an error is a violated UNIQUE or PRIMARY KEY constraint.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => {
            matches!(d.kind(), sqlx::error::ErrorKind::UniqueViolation)
                || d.message().contains("UNIQUE constraint failed")
        }
        _ => false,
    }
}

/// True when an error is a violated FOREIGN KEY constraint.
pub fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(d) => matches!(d.kind(), sqlx::error::ErrorKind::ForeignKeyViolation),
        _ => false,
    }
}

pub mod testing;
