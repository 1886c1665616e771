//! Token revocation events.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};

use super::{db_err, os, s, Store};

/// A token matches when every field set here matches it and it was issued at
/// or before `issued_before`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationEvent {
    pub id: String,
    /// Matches the token's own audit id (the first of its audit ids).
    pub audit_id: Option<String>,
    /// Matches the root of the token's rescoping chain (the last audit id).
    pub audit_chain_id: Option<String>,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub role_id: Option<String>,
    /// ISO 8601, microseconds, UTC.
    pub issued_before: String,
    pub revoked_at: String,
}

fn event(r: &AnyRow) -> RevocationEvent {
    RevocationEvent {
        id: s(r, "id"),
        audit_id: os(r, "audit_id"),
        audit_chain_id: os(r, "audit_chain_id"),
        user_id: os(r, "user_id"),
        project_id: os(r, "project_id"),
        domain_id: os(r, "domain_id"),
        role_id: os(r, "role_id"),
        issued_before: s(r, "issued_before"),
        revoked_at: s(r, "revoked_at"),
    }
}

impl Store {
    pub async fn add_revocation(&self, e: &RevocationEvent) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO identity_revocation (id, audit_id, audit_chain_id, user_id, project_id, domain_id, role_id, issued_before, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&e.id)
        .bind(&e.audit_id)
        .bind(&e.audit_chain_id)
        .bind(&e.user_id)
        .bind(&e.project_id)
        .bind(&e.domain_id)
        .bind(&e.role_id)
        .bind(&e.issued_before)
        .bind(&e.revoked_at)
        .execute(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Events revoked after `since` (ISO text), or all.
    pub async fn list_revocations(&self, since: Option<&str>) -> Result<Vec<RevocationEvent>, Error> {
        let rows = sqlx::query("SELECT * FROM identity_revocation WHERE revoked_at > $1 ORDER BY revoked_at")
            .bind(since.unwrap_or(""))
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(event).collect())
    }

    /// Drops events older than any token still alive.
    pub async fn prune_revocations(&self, before: &str) -> Result<u64, Error> {
        let r = sqlx::query("DELETE FROM identity_revocation WHERE revoked_at < $1")
            .bind(before)
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(r.rows_affected())
    }
}
