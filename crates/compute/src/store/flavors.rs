//! Flavors, their extra specs (a JSON column) and access lists.

use std::collections::BTreeMap;

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow, Row};

use super::{db_err, json_err, Store};
use crate::model::Flavor;

const COLS: &str =
    "id, name, vcpus, ram, disk, ephemeral, swap, rxtx_factor, is_public, disabled, description, extra_specs";

fn row(r: &AnyRow) -> Flavor {
    let specs: String = r.get("extra_specs");
    Flavor {
        id: r.get("id"),
        name: r.get("name"),
        vcpus: r.get("vcpus"),
        ram: r.get("ram"),
        disk: r.get("disk"),
        ephemeral: r.get("ephemeral"),
        swap: r.get("swap"),
        rxtx_factor: r.get::<String, _>("rxtx_factor").parse().unwrap_or(1.0),
        is_public: r.get::<i64, _>("is_public") != 0,
        disabled: r.get::<i64, _>("disabled") != 0,
        description: r.get("description"),
        extra_specs: serde_json::from_str(&specs).unwrap_or_default(),
    }
}

impl Store {
    pub async fn flavor_get(&self, id: &str) -> Result<Option<Flavor>, Error> {
        let q = format!("SELECT {COLS} FROM compute_flavor WHERE id = $1");
        Ok(sqlx::query(&q).bind(id).fetch_optional(self.db.pool()).await.map_err(db_err)?.as_ref().map(row))
    }

    pub async fn flavor_list(&self) -> Result<Vec<Flavor>, Error> {
        let q = format!("SELECT {COLS} FROM compute_flavor");
        Ok(sqlx::query(&q).fetch_all(self.db.pool()).await.map_err(db_err)?.iter().map(row).collect())
    }

    /// Creates a flavor; a clash of id or name is a 409.
    pub async fn flavor_create(&self, f: &Flavor) -> Result<(), Error> {
        let mut w = self.write().await?;
        let clash: Option<AnyRow> = sqlx::query("SELECT id, name FROM compute_flavor WHERE id = $1 OR name = $2")
            .bind(&f.id)
            .bind(&f.name)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        if let Some(r) = clash {
            let id: String = r.get("id");
            return Err(if id == f.id {
                Error::conflict(format!("Flavor with ID {} already exists.", f.id))
            } else {
                Error::conflict(format!("Flavor with name {} already exists.", f.name))
            });
        }
        sqlx::query(
            "INSERT INTO compute_flavor (id, name, vcpus, ram, disk, ephemeral, swap, rxtx_factor, is_public, \
             disabled, description, extra_specs, created_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
        )
        .bind(&f.id)
        .bind(&f.name)
        .bind(f.vcpus)
        .bind(f.ram)
        .bind(f.disk)
        .bind(f.ephemeral)
        .bind(f.swap)
        .bind(f.rxtx_factor.to_string())
        .bind(f.is_public as i64)
        .bind(f.disabled as i64)
        .bind(f.description.clone())
        .bind(serde_json::to_string(&f.extra_specs).map_err(json_err)?)
        .bind(crate::model::now())
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        w.commit().await.map_err(db_err)
    }

    pub async fn flavor_set_description(&self, id: &str, description: Option<&str>) -> Result<bool, Error> {
        let mut w = self.write().await?;
        let r = sqlx::query("UPDATE compute_flavor SET description = $1 WHERE id = $2")
            .bind(description.map(str::to_string))
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn flavor_delete(&self, id: &str) -> Result<bool, Error> {
        let mut w = self.write().await?;
        let r = sqlx::query("DELETE FROM compute_flavor WHERE id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        sqlx::query("DELETE FROM compute_flavor_access WHERE flavor_id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn flavor_set_specs(&self, id: &str, specs: &BTreeMap<String, String>) -> Result<(), Error> {
        let mut w = self.write().await?;
        sqlx::query("UPDATE compute_flavor SET extra_specs = $1 WHERE id = $2")
            .bind(serde_json::to_string(specs).map_err(json_err)?)
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(())
    }

    pub async fn flavor_access_list(&self, id: &str) -> Result<Vec<String>, Error> {
        let rows = sqlx::query("SELECT project_id FROM compute_flavor_access WHERE flavor_id = $1 ORDER BY project_id")
            .bind(id)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| r.get("project_id")).collect())
    }

    /// The flavors a project was given access to.
    pub async fn flavor_ids_for_project(&self, project_id: &str) -> Result<Vec<String>, Error> {
        let rows = sqlx::query("SELECT flavor_id FROM compute_flavor_access WHERE project_id = $1")
            .bind(project_id)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| r.get("flavor_id")).collect())
    }

    /// Adds access; false when the project already had it.
    pub async fn flavor_access_add(&self, id: &str, project_id: &str) -> Result<bool, Error> {
        let mut w = self.write().await?;
        let have = sqlx::query("SELECT 1 FROM compute_flavor_access WHERE flavor_id = $1 AND project_id = $2")
            .bind(id)
            .bind(project_id)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        if have.is_some() {
            return Ok(false);
        }
        sqlx::query("INSERT INTO compute_flavor_access (flavor_id, project_id) VALUES ($1, $2)")
            .bind(id)
            .bind(project_id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(true)
    }

    pub async fn flavor_access_remove(&self, id: &str, project_id: &str) -> Result<bool, Error> {
        let mut w = self.write().await?;
        let r = sqlx::query("DELETE FROM compute_flavor_access WHERE flavor_id = $1 AND project_id = $2")
            .bind(id)
            .bind(project_id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }
}
