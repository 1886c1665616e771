//! Fresh databases for tests, on both backends.
//!
//! SQLite: a new file in a temporary directory. PostgreSQL: a new database on
//! the server named by `RUSTACK_TEST_POSTGRES_URL` (e.g.
//! `postgres://rustack:rustack@127.0.0.1/postgres`); when
//! `RUSTACK_REQUIRE_POSTGRES=1` is set (CI sets it) a missing URL is an error
//! rather than a skipped backend.

use crate::Db;

/// A database that is removed when dropped (the SQLite file's directory; a
/// PostgreSQL database is left for the server's next cleanup, named `rustack_test_*`).
pub struct TestDb {
    pub db: Db,
    pub url: String,
    dir: Option<std::path::PathBuf>,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

pub fn temp_dir(prefix: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("{prefix}-{}", uuid_like()));
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

fn uuid_like() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:x}{:x}{n}", t, std::process::id())
}

pub async fn sqlite() -> TestDb {
    let dir = temp_dir("rustack-test");
    let url = Db::sqlite_url(&dir.join("test.db"));
    let db = Db::connect(&url, 4).await.expect("open sqlite");
    TestDb { db, url, dir: Some(dir) }
}

/// The PostgreSQL server for tests, if configured.
pub fn postgres_url() -> Option<String> {
    match std::env::var("RUSTACK_TEST_POSTGRES_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            if std::env::var("RUSTACK_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("RUSTACK_REQUIRE_POSTGRES=1 but RUSTACK_TEST_POSTGRES_URL is not set");
            }
            None
        }
    }
}

/// A fresh PostgreSQL database, or None when no server is configured.
pub async fn postgres() -> Option<TestDb> {
    let admin_url = postgres_url()?;
    let admin = Db::connect(&admin_url, 1).await.expect("connect to RUSTACK_TEST_POSTGRES_URL");
    let name = format!("rustack_test_{}", uuid_like());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(admin.pool()).await.expect("create test database");
    admin.close().await;
    let base = admin_url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin_url);
    let url = format!("{base}/{name}");
    let db = Db::connect(&url, 4).await.expect("connect to test database");
    Some(TestDb { db, url, dir: None })
}

/// Every backend available to this test run: SQLite always, PostgreSQL when configured.
pub async fn all_backends() -> Vec<TestDb> {
    let mut v = vec![sqlite().await];
    if let Some(p) = postgres().await {
        v.push(p);
    }
    v
}
