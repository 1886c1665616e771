//! Trusts (OS-TRUST) and the roles they delegate.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow, Row};

use super::{b, db_err, extra, extra_text, int, os, s, Store};
use crate::model::Extra;

/// A trust as stored. `expires_at` is ISO 8601 with microseconds and `Z`.
#[derive(Debug, Clone)]
pub struct Trust {
    pub id: String,
    pub trustor_user_id: String,
    pub trustee_user_id: String,
    pub project_id: Option<String>,
    pub impersonation: bool,
    pub expires_at: Option<String>,
    /// `None`: unlimited.
    pub remaining_uses: Option<i64>,
    pub redelegated_trust_id: Option<String>,
    pub redelegation_count: i64,
    pub extra: Extra,
    /// Filled by [`Store::get_trust`]; empty in lists.
    pub role_ids: Vec<String>,
}

impl Trust {
    pub fn expires(&self) -> Option<rustack_common::time::Timestamp> {
        self.expires_at.as_deref().and_then(rustack_common::time::parse_iso)
    }

    pub fn is_expired(&self) -> bool {
        self.expires().is_some_and(|e| e <= rustack_common::time::now())
    }

    /// Not expired and not used up: what Keystone still shows and lets a
    /// trustee use.
    pub fn is_usable(&self) -> bool {
        !self.is_expired() && self.remaining_uses.is_none_or(|n| n > 0)
    }
}

fn trust(r: &AnyRow) -> Trust {
    Trust {
        id: s(r, "id"),
        trustor_user_id: s(r, "trustor_user_id"),
        trustee_user_id: s(r, "trustee_user_id"),
        project_id: os(r, "project_id"),
        impersonation: b(r, "impersonation"),
        expires_at: os(r, "expires_at"),
        remaining_uses: r.try_get::<Option<i64>, _>("remaining_uses").ok().flatten(),
        redelegated_trust_id: os(r, "redelegated_trust_id"),
        redelegation_count: r.try_get::<i64, _>("redelegation_count").unwrap_or(0),
        extra: extra(r),
        role_ids: Vec::new(),
    }
}

impl Store {
    pub async fn create_trust(&self, t: &Trust) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let now = rustack_common::time::iso_micro(&rustack_common::time::now());
        sqlx::query(
            "INSERT INTO identity_trust (id, trustor_user_id, trustee_user_id, project_id, impersonation, expires_at, \
             remaining_uses, redelegated_trust_id, redelegation_count, extra, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&t.id)
        .bind(&t.trustor_user_id)
        .bind(&t.trustee_user_id)
        .bind(&t.project_id)
        .bind(int(t.impersonation))
        .bind(&t.expires_at)
        .bind(t.remaining_uses)
        .bind(&t.redelegated_trust_id)
        .bind(t.redelegation_count)
        .bind(extra_text(&t.extra))
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        for r in &t.role_ids {
            sqlx::query("INSERT INTO identity_trust_role (trust_id, role_id) VALUES ($1, $2)")
                .bind(&t.id)
                .bind(r)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?;
        }
        w.commit().await.map_err(db_err)
    }

    /// A trust with its roles, whatever its state (expired, used up).
    pub async fn get_trust(&self, id: &str) -> Result<Option<Trust>, Error> {
        let Some(r) = sqlx::query("SELECT * FROM identity_trust WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        let mut t = trust(&r);
        let rows = sqlx::query("SELECT role_id FROM identity_trust_role WHERE trust_id = $1 ORDER BY role_id")
            .bind(id)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        t.role_ids = rows.iter().map(|r| s(r, "role_id")).collect();
        Ok(Some(t))
    }

    /// Trusts, all or those of one trustor or one trustee (without roles).
    pub async fn list_trusts(&self, trustor: Option<&str>, trustee: Option<&str>) -> Result<Vec<Trust>, Error> {
        let mut q = super::Select::new("SELECT * FROM identity_trust");
        q.eq_opt("trustor_user_id", trustor).eq_opt("trustee_user_id", trustee).order("created_at, id");
        Ok(q.fetch(&self.db).await?.iter().map(trust).collect())
    }

    /// Deletes a trust and, first, every trust redelegated from it, at any
    /// depth. Returns whether the trust existed.
    pub async fn delete_trust(&self, id: &str) -> Result<bool, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let mut order = vec![id.to_string()];
        let mut i = 0;
        while i < order.len() {
            let rows = sqlx::query("SELECT id FROM identity_trust WHERE redelegated_trust_id = $1")
                .bind(&order[i])
                .fetch_all(&mut *w.tx)
                .await
                .map_err(db_err)?;
            for r in rows {
                let child = s(&r, "id");
                if !order.contains(&child) {
                    order.push(child);
                }
            }
            i += 1;
        }
        let mut existed = false;
        for t in order.iter().rev() {
            sqlx::query("DELETE FROM identity_trust_role WHERE trust_id = $1")
                .bind(t)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?;
            let r = sqlx::query("DELETE FROM identity_trust WHERE id = $1")
                .bind(t)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?;
            if t == id {
                existed = r.rows_affected() > 0;
            }
        }
        w.commit().await.map_err(db_err)?;
        Ok(existed)
    }

    /// Takes one use of a trust with limited uses, atomically (one UPDATE that
    /// only matches while uses remain). Ok(true) when a use was taken or the
    /// trust is unlimited; Ok(false) when it is used up or gone.
    pub async fn consume_trust_use(&self, id: &str) -> Result<bool, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let r = sqlx::query(
            "UPDATE identity_trust SET remaining_uses = remaining_uses - 1 \
             WHERE id = $1 AND remaining_uses IS NOT NULL AND remaining_uses > 0",
        )
        .bind(id)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        let ok = if r.rows_affected() == 1 {
            true
        } else {
            let row = sqlx::query("SELECT remaining_uses FROM identity_trust WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *w.tx)
                .await
                .map_err(db_err)?;
            matches!(row.map(|r| r.try_get::<Option<i64>, _>("remaining_uses").ok().flatten()), Some(None))
        };
        w.commit().await.map_err(db_err)?;
        Ok(ok)
    }
}
