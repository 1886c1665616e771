//! Host aggregates (hosts and metadata as JSON columns).

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow, Row};

use super::{db_err, json_err, Store};
use crate::model::Aggregate;

fn row(r: &AnyRow) -> Result<Aggregate, Error> {
    let hosts: String = r.get("hosts");
    let md: String = r.get("metadata");
    Ok(Aggregate {
        id: r.get("id"),
        uuid: r.get("uuid"),
        name: r.get("name"),
        availability_zone: r.get("availability_zone"),
        hosts: serde_json::from_str(&hosts).map_err(json_err)?,
        metadata: serde_json::from_str(&md).map_err(json_err)?,
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    })
}

const COLS: &str = "id, uuid, name, availability_zone, hosts, metadata, created_at, updated_at";

impl Store {
    pub async fn aggregate_list(&self) -> Result<Vec<Aggregate>, Error> {
        let q = format!("SELECT {COLS} FROM compute_aggregate ORDER BY id");
        let rows = sqlx::query(&q).fetch_all(self.db.pool()).await.map_err(db_err)?;
        rows.iter().map(row).collect()
    }

    pub async fn aggregate_get(&self, id: i64) -> Result<Option<Aggregate>, Error> {
        let q = format!("SELECT {COLS} FROM compute_aggregate WHERE id = $1");
        let r = sqlx::query(&q).bind(id).fetch_optional(self.db.pool()).await.map_err(db_err)?;
        r.as_ref().map(row).transpose()
    }

    /// Creates an aggregate (409 on a taken name); fills in its id.
    pub async fn aggregate_create(&self, a: &mut Aggregate) -> Result<(), Error> {
        let mut w = self.write().await?;
        let taken = sqlx::query("SELECT 1 FROM compute_aggregate WHERE name = $1")
            .bind(&a.name)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        if taken.is_some() {
            return Err(Error::conflict(format!("Aggregate {} already exists.", a.name)));
        }
        let next: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) AS m FROM compute_aggregate")
            .fetch_one(&mut *w.tx)
            .await
            .map_err(db_err)?
            .get("m");
        a.id = next + 1;
        sqlx::query(
            "INSERT INTO compute_aggregate (id, uuid, name, availability_zone, hosts, metadata, created_at, updated_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        )
        .bind(a.id)
        .bind(&a.uuid)
        .bind(&a.name)
        .bind(a.availability_zone.clone())
        .bind(serde_json::to_string(&a.hosts).map_err(json_err)?)
        .bind(serde_json::to_string(&a.metadata).map_err(json_err)?)
        .bind(&a.created_at)
        .bind(a.updated_at.clone())
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        w.commit().await.map_err(db_err)
    }

    pub async fn aggregate_save(&self, a: &Aggregate) -> Result<(), Error> {
        let mut w = self.write().await?;
        let taken = sqlx::query("SELECT id FROM compute_aggregate WHERE name = $1 AND id <> $2")
            .bind(&a.name)
            .bind(a.id)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        if taken.is_some() {
            return Err(Error::conflict(format!("Aggregate {} already exists.", a.name)));
        }
        sqlx::query(
            "UPDATE compute_aggregate SET name = $1, availability_zone = $2, hosts = $3, metadata = $4, \
             updated_at = $5 WHERE id = $6",
        )
        .bind(&a.name)
        .bind(a.availability_zone.clone())
        .bind(serde_json::to_string(&a.hosts).map_err(json_err)?)
        .bind(serde_json::to_string(&a.metadata).map_err(json_err)?)
        .bind(crate::model::now())
        .bind(a.id)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        w.commit().await.map_err(db_err)
    }

    pub async fn aggregate_delete(&self, id: i64) -> Result<bool, Error> {
        let mut w = self.write().await?;
        let r = sqlx::query("DELETE FROM compute_aggregate WHERE id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }
}
