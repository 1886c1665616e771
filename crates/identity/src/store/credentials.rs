//! Credentials as stored: the blob only ever encrypted (see
//! [`crate::credential_keys`]), with the hash of the key that encrypted it.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};

use super::{db_err, extra, extra_text, os, s, Select, Store};
use crate::model::Extra;

/// One row of `identity_credential`.
#[derive(Debug, Clone)]
pub struct StoredCredential {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub cred_type: String,
    pub encrypted_blob: String,
    pub key_hash: String,
    pub extra: Extra,
}

fn row(r: &AnyRow) -> StoredCredential {
    StoredCredential {
        id: s(r, "id"),
        user_id: s(r, "user_id"),
        project_id: os(r, "project_id"),
        cred_type: s(r, "type"),
        encrypted_blob: s(r, "encrypted_blob"),
        key_hash: s(r, "key_hash"),
        extra: extra(r),
    }
}

impl Store {
    pub async fn create_credential(&self, c: &StoredCredential) -> Result<(), Error> {
        let now = rustack_common::time::iso_micro(&rustack_common::time::now());
        sqlx::query(
            "INSERT INTO identity_credential (id, user_id, project_id, type, encrypted_blob, key_hash, extra, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&c.id)
        .bind(&c.user_id)
        .bind(&c.project_id)
        .bind(&c.cred_type)
        .bind(&c.encrypted_blob)
        .bind(&c.key_hash)
        .bind(extra_text(&c.extra))
        .bind(now)
        .execute(self.db.pool())
        .await
        .map_err(|e| {
            if rustack_db::is_unique_violation(&e) {
                Error::conflict(format!("Conflict occurred attempting to store credential - Duplicate ID, {}.", c.id))
            } else {
                db_err(e)
            }
        })?;
        Ok(())
    }

    pub async fn get_credential(&self, id: &str) -> Result<Option<StoredCredential>, Error> {
        self.fetch_opt("SELECT * FROM identity_credential WHERE id = $1", &[id], row).await
    }

    /// Credentials, optionally of one user and of one type, oldest first.
    pub async fn list_credentials(
        &self,
        user_id: Option<&str>,
        cred_type: Option<&str>,
    ) -> Result<Vec<StoredCredential>, Error> {
        let mut q = Select::new("SELECT * FROM identity_credential");
        q.eq_opt("user_id", user_id).eq_opt("type", cred_type).order("created_at, id");
        Ok(q.fetch(&self.db).await?.iter().map(row).collect())
    }

    /// Replaces the encrypted blob (an update, or a re-encryption with a new
    /// key). With `only_if_key`, the row is changed only while it is still
    /// encrypted with that key (a concurrent update wins over a migration).
    pub async fn set_credential_blob(
        &self,
        id: &str,
        encrypted_blob: &str,
        key_hash: &str,
        only_if_key: Option<&str>,
    ) -> Result<bool, Error> {
        let r =
            match only_if_key {
                None => {
                    sqlx::query("UPDATE identity_credential SET encrypted_blob = $2, key_hash = $3 WHERE id = $1")
                        .bind(id)
                        .bind(encrypted_blob)
                        .bind(key_hash)
                        .execute(self.db.pool())
                        .await
                }
                Some(old) => sqlx::query(
                    "UPDATE identity_credential SET encrypted_blob = $2, key_hash = $3 WHERE id = $1 AND key_hash = $4",
                )
                .bind(id)
                .bind(encrypted_blob)
                .bind(key_hash)
                .bind(old)
                .execute(self.db.pool())
                .await,
            }
            .map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    /// Rows not encrypted with the key of hash `key_hash`.
    pub async fn credentials_not_under_key(&self, key_hash: &str) -> Result<Vec<StoredCredential>, Error> {
        let rows = sqlx::query("SELECT * FROM identity_credential WHERE key_hash <> $1")
            .bind(key_hash)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(row).collect())
    }

    pub async fn delete_credential(&self, id: &str) -> Result<bool, Error> {
        Ok(self.execute("DELETE FROM identity_credential WHERE id = $1", &[id]).await? > 0)
    }
}
