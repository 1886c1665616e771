//! Quota overrides: per project (`scope` = the project id) and per class
//! (`scope` = `class:<name>`).

use std::collections::BTreeMap;

use rustack_common::Error;
use rustack_db::sqlx::{self, Row};

use super::{db_err, Store};

impl Store {
    pub async fn quota_overrides(&self, scope: &str) -> Result<BTreeMap<String, i64>, Error> {
        let rows = sqlx::query("SELECT resource, hard_limit FROM compute_quota WHERE scope = $1")
            .bind(scope)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| (r.get("resource"), r.get("hard_limit"))).collect())
    }

    pub async fn quota_set(&self, scope: &str, values: &BTreeMap<String, i64>) -> Result<(), Error> {
        let mut w = self.write().await?;
        for (k, v) in values {
            sqlx::query("DELETE FROM compute_quota WHERE scope = $1 AND resource = $2")
                .bind(scope)
                .bind(k)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?;
            sqlx::query("INSERT INTO compute_quota (scope, resource, hard_limit) VALUES ($1, $2, $3)")
                .bind(scope)
                .bind(k)
                .bind(*v)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?;
        }
        w.commit().await.map_err(db_err)
    }

    pub async fn quota_delete(&self, scope: &str) -> Result<(), Error> {
        let mut w = self.write().await?;
        sqlx::query("DELETE FROM compute_quota WHERE scope = $1")
            .bind(scope)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(())
    }
}
