//! Compute services (`os-services`): one row per (host, binary).

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow, Row};

use super::{db_err, Store};
use crate::model::ServiceRecord;

fn row(r: &AnyRow) -> ServiceRecord {
    ServiceRecord {
        id: r.get("id"),
        uuid: r.get("uuid"),
        host: r.get("host"),
        binary: r.get("binary_name"),
        disabled: r.get::<i64, _>("disabled") != 0,
        disabled_reason: r.get("disabled_reason"),
        forced_down: r.get::<i64, _>("forced_down") != 0,
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

const COLS: &str = "id, uuid, host, binary_name, disabled, disabled_reason, forced_down, created_at, updated_at";

impl Store {
    /// Registers (host, binary) if new; returns the record.
    pub async fn service_ensure(&self, host: &str, binary: &str) -> Result<ServiceRecord, Error> {
        let q = format!("SELECT {COLS} FROM compute_service WHERE host = $1 AND binary_name = $2");
        let mut w = self.write().await?;
        if let Some(r) = sqlx::query(&q).bind(host).bind(binary).fetch_optional(&mut *w.tx).await.map_err(db_err)? {
            return Ok(row(&r));
        }
        let next: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM compute_service")
            .fetch_one(&mut *w.tx)
            .await
            .map_err(db_err)?
            .get("m");
        sqlx::query(
            "INSERT INTO compute_service (id, uuid, host, binary_name, disabled, disabled_reason, forced_down, \
             created_at, updated_at) VALUES ($1,$2,$3,$4,0,NULL,0,$5,$5)",
        )
        .bind(next + 1)
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(host)
        .bind(binary)
        .bind(crate::model::now())
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        let r = sqlx::query(&q).bind(host).bind(binary).fetch_one(&mut *w.tx).await.map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(row(&r))
    }

    pub async fn service_list(&self) -> Result<Vec<ServiceRecord>, Error> {
        let q = format!("SELECT {COLS} FROM compute_service ORDER BY id");
        Ok(sqlx::query(&q).fetch_all(self.db.pool()).await.map_err(db_err)?.iter().map(row).collect())
    }

    pub async fn service_save(&self, s: &ServiceRecord) -> Result<(), Error> {
        let mut w = self.write().await?;
        sqlx::query(
            "UPDATE compute_service SET disabled = $1, disabled_reason = $2, forced_down = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(s.disabled as i64)
        .bind(s.disabled_reason.clone())
        .bind(s.forced_down as i64)
        .bind(crate::model::now())
        .bind(s.id)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(())
    }

    pub async fn service_delete(&self, id: i64) -> Result<bool, Error> {
        let mut w = self.write().await?;
        let r = sqlx::query("DELETE FROM compute_service WHERE id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }
}
