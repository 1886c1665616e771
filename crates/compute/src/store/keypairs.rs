//! Key pairs, per user.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow, Row};

use super::{db_err, Store};
use crate::model::Keypair;

fn row(r: &AnyRow) -> Keypair {
    Keypair {
        id: r.get("id"),
        name: r.get("name"),
        user_id: r.get("user_id"),
        key_type: r.get("key_type"),
        fingerprint: r.get("fingerprint"),
        public_key: r.get("public_key"),
        created_at: r.get("created_at"),
    }
}

const COLS: &str = "id, name, user_id, key_type, fingerprint, public_key, created_at";

impl Store {
    pub async fn keypair_get(&self, user_id: &str, name: &str) -> Result<Option<Keypair>, Error> {
        let q = format!("SELECT {COLS} FROM compute_keypair WHERE user_id = $1 AND name = $2");
        Ok(sqlx::query(&q)
            .bind(user_id)
            .bind(name)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?
            .as_ref()
            .map(row))
    }

    pub async fn keypair_list(&self, user_id: &str) -> Result<Vec<Keypair>, Error> {
        let q = format!("SELECT {COLS} FROM compute_keypair WHERE user_id = $1 ORDER BY name");
        Ok(sqlx::query(&q).bind(user_id).fetch_all(self.db.pool()).await.map_err(db_err)?.iter().map(row).collect())
    }

    /// Creates a key pair unless the name is taken (409) or the user is at
    /// `quota` key pairs (403), in one transaction.
    pub async fn keypair_create(&self, k: &mut Keypair, quota: i64) -> Result<(), Error> {
        let mut w = self.write().await?;
        let have: Option<AnyRow> = sqlx::query("SELECT 1 FROM compute_keypair WHERE user_id = $1 AND name = $2")
            .bind(&k.user_id)
            .bind(&k.name)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        if have.is_some() {
            return Err(Error::conflict(format!("Key pair '{}' already exists.", k.name)));
        }
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM compute_keypair WHERE user_id = $1")
            .bind(&k.user_id)
            .fetch_one(&mut *w.tx)
            .await
            .map_err(db_err)?
            .get("n");
        if quota >= 0 && count >= quota {
            return Err(Error::forbidden("Quota exceeded, too many key pairs."));
        }
        let next: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM compute_keypair")
            .fetch_one(&mut *w.tx)
            .await
            .map_err(db_err)?
            .get("m");
        k.id = next + 1;
        sqlx::query(
            "INSERT INTO compute_keypair (user_id, name, id, key_type, fingerprint, public_key, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7)",
        )
        .bind(&k.user_id)
        .bind(&k.name)
        .bind(k.id)
        .bind(&k.key_type)
        .bind(&k.fingerprint)
        .bind(&k.public_key)
        .bind(&k.created_at)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        w.commit().await.map_err(db_err)
    }

    pub async fn keypair_delete(&self, user_id: &str, name: &str) -> Result<bool, Error> {
        let mut w = self.write().await?;
        let r = sqlx::query("DELETE FROM compute_keypair WHERE user_id = $1 AND name = $2")
            .bind(user_id)
            .bind(name)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }
}
