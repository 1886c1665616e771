//! The identity tables (SQL through rustack-db; portable between SQLite and
//! PostgreSQL). One file per group of entities; each function is one
//! statement or one transaction.

pub mod access_rules;
mod app_creds;
pub mod assignments;
mod catalog;
pub mod credentials;
pub mod domain_config;
pub mod endpoint_filter;
mod groups;
pub mod limits;
pub mod oauth1;
pub mod policies;
pub mod projects;
mod revocations;
mod roles;
pub mod trusts;
mod users;

pub use revocations::RevocationEvent;

use rustack_common::Error;
use rustack_db::sqlx::any::{AnyArguments, AnyRow};
use rustack_db::sqlx::query::Query;
use rustack_db::sqlx::{self, Any, Row};
use rustack_db::{Db, Migration};

use crate::model::Extra;

pub static MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "identity core", sql: include_str!("../../migrations/0001_identity_core.sql") },
    Migration { version: 2, name: "shared generation", sql: include_str!("../../migrations/0002_generation.sql") },
    Migration { version: 3, name: "resource extras", sql: include_str!("../../migrations/0003_resource_extras.sql") },
    Migration {
        version: 4,
        name: "credentials, oauth1, endpoint filter",
        sql: include_str!("../../migrations/0004_credentials_oauth_endpoint_filter.sql"),
    },
    Migration {
        version: 5,
        name: "trusts and access rules",
        sql: include_str!("../../migrations/0005_trusts_access_rules.sql"),
    },
    Migration {
        version: 6,
        name: "security compliance",
        sql: include_str!("../../migrations/0006_security_compliance.sql"),
    },
];

/// The identity service's storage.
#[derive(Clone)]
pub struct Store {
    pub db: Db,
    /// Bumped by every write to the users table (see `users_changed`).
    users_version: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Store {
    pub fn new(db: Db) -> Self {
        Store { db, users_version: Default::default() }
    }

    /// Changes whenever this process writes the users table: a single node
    /// (SQLite) may keep the user list in memory while it stays the same.
    pub fn users_version(&self) -> u64 {
        self.users_version.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Held by every store function that writes `identity_user`: the version
    /// moves when the write is over (so a reader that loaded the old rows
    /// under the old version cannot keep them).
    pub(crate) fn users_changed(&self) -> UsersChanged<'_> {
        UsersChanged(self)
    }

    pub async fn migrate(&self) -> Result<usize, Error> {
        self.db.migrate("identity", MIGRATIONS).await.map_err(db_err)
    }

    /// The first row `sql` returns with these text binds, mapped.
    pub(crate) async fn fetch_opt<T>(
        &self,
        sql: &str,
        binds: &[&str],
        map: impl Fn(&AnyRow) -> T,
    ) -> Result<Option<T>, Error> {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        Ok(q.fetch_optional(self.db.pool()).await.map_err(db_err)?.as_ref().map(map))
    }

    /// Whether `sql` (with these text binds) returns a row.
    pub(crate) async fn exists(&self, sql: &str, binds: &[&str]) -> Result<bool, Error> {
        Ok(self.fetch_opt(sql, binds, |_| ()).await?.is_some())
    }

    /// One text column of every row `sql` returns.
    pub(crate) async fn fetch_column(&self, sql: &str, binds: &[&str], col: &str) -> Result<Vec<String>, Error> {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        Ok(q.fetch_all(self.db.pool()).await.map_err(db_err)?.iter().map(|r| s(r, col)).collect())
    }

    /// Runs one statement with these text binds; the rows it touched.
    pub(crate) async fn execute(&self, sql: &str, binds: &[&str]) -> Result<u64, Error> {
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        Ok(q.execute(self.db.pool()).await.map_err(db_err)?.rows_affected())
    }

    /// Runs statements that each take `id` as `$1`, in one write transaction:
    /// the way every delete removes what hangs off an entity with it.
    pub(crate) async fn delete_in_tx(&self, stmts: &[&str], id: &str) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        for st in stmts {
            sqlx::query(st).bind(id).execute(&mut *w.tx).await.map_err(db_err)?;
        }
        w.commit().await.map_err(db_err)
    }

    /// The shared change counter (see migration 2).
    pub async fn shared_generation(&self) -> Result<i64, Error> {
        let r = sqlx::query("SELECT value FROM identity_generation WHERE id = 1")
            .fetch_one(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(r.try_get::<i64, _>(0).unwrap_or(0))
    }

    pub async fn bump_shared_generation(&self) -> Result<(), Error> {
        sqlx::query("UPDATE identity_generation SET value = value + 1 WHERE id = 1")
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }
}

/// Moves the users version when dropped; see [`Store::users_changed`].
pub(crate) struct UsersChanged<'a>(&'a Store);

impl Drop for UsersChanged<'_> {
    fn drop(&mut self) {
        self.0.users_version.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Maps a database error: a unique violation is a 409, the rest are 500s.
pub fn db_err(e: sqlx::Error) -> Error {
    if rustack_db::is_unique_violation(&e) {
        Error::conflict("Conflict occurred attempting to store the entity: it already exists.")
    } else {
        Error::internal(&e)
    }
}

/// A 409 in Keystone's words for a duplicate `entity` named `name`.
pub fn duplicate<'a>(entity: &'a str, name: &'a str) -> impl Fn(sqlx::Error) -> Error + 'a {
    move |e| {
        if rustack_db::is_unique_violation(&e) {
            Error::conflict(format!(
                "Conflict occurred attempting to store {entity} - Duplicate entry found with name {name}."
            ))
        } else {
            Error::internal(&e)
        }
    }
}

pub(crate) fn s(r: &AnyRow, c: &str) -> String {
    r.try_get::<Option<String>, _>(c).ok().flatten().unwrap_or_default()
}

pub(crate) fn os(r: &AnyRow, c: &str) -> Option<String> {
    r.try_get::<Option<String>, _>(c).ok().flatten()
}

pub(crate) fn b(r: &AnyRow, c: &str) -> bool {
    r.try_get::<i64, _>(c).map(|v| v != 0).unwrap_or(false)
}

pub(crate) fn extra(r: &AnyRow) -> Extra {
    serde_json::from_str(&s(r, "extra")).unwrap_or_default()
}

pub(crate) fn extra_text(e: &Extra) -> String {
    serde_json::to_string(e).expect("a JSON map serializes")
}

/// A value bound to a statement.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(String),
    Int(i64),
}

/// A SELECT with equality filters, built up at run time.
pub struct Select {
    sql: String,
    args: Vec<Arg>,
    has_where: bool,
}

impl Select {
    pub fn new(base: &str) -> Self {
        Select { sql: base.to_string(), args: Vec::new(), has_where: false }
    }

    fn clause(&mut self) {
        self.sql.push_str(if self.has_where { " AND " } else { " WHERE " });
        self.has_where = true;
    }

    /// `col = value`
    pub fn eq(&mut self, col: &str, v: Arg) -> &mut Self {
        self.clause();
        self.args.push(v);
        self.sql.push_str(&format!("{col} = ${}", self.args.len()));
        self
    }

    pub fn eq_opt(&mut self, col: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.eq(col, Arg::Text(v.to_string()));
        }
        self
    }

    pub fn order(&mut self, by: &str) -> &mut Self {
        self.sql.push_str(" ORDER BY ");
        self.sql.push_str(by);
        self
    }

    pub async fn fetch(&self, db: &Db) -> Result<Vec<AnyRow>, Error> {
        let mut q: Query<'_, Any, AnyArguments<'_>> = sqlx::query(&self.sql);
        for a in &self.args {
            q = match a {
                Arg::Text(t) => q.bind(t.clone()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q.fetch_all(db.pool()).await.map_err(db_err)
    }
}

/// Keystone's inexact list filters on a text field, checked in Rust so both
/// backends agree on case: `name__contains`, `__icontains`, `__startswith`,
/// `__istartswith`, `__endswith`, `__iendswith`, `__equals`, `__iequals`.
pub fn inexact_match(field: &str, value: &str, query: &std::collections::HashMap<String, String>) -> bool {
    let lower = value.to_lowercase();
    query.iter().all(|(k, want)| {
        let Some(op) = k.strip_prefix(field).and_then(|r| r.strip_prefix("__")) else {
            return true;
        };
        let (v, w) =
            if op.starts_with('i') { (lower.clone(), want.to_lowercase()) } else { (value.to_string(), want.clone()) };
        match op.trim_start_matches('i') {
            "contains" => v.contains(&w),
            "startswith" => v.starts_with(&w),
            "endswith" => v.ends_with(&w),
            "equals" => v == w,
            _ => true,
        }
    })
}

/// A `bool` to the 0/1 stored in BIGINT columns.
pub fn int(v: bool) -> i64 {
    v as i64
}
