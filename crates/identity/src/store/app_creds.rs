//! Application credentials.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};

use super::{b, db_err, int, os, s, Store};
use crate::model::AppCred;

fn app_cred(r: &AnyRow) -> AppCred {
    AppCred {
        id: s(r, "id"),
        name: s(r, "name"),
        user_id: s(r, "user_id"),
        project_id: os(r, "project_id"),
        secret_hash: s(r, "secret_hash"),
        description: s(r, "description"),
        expires_at: os(r, "expires_at"),
        unrestricted: b(r, "unrestricted"),
        role_ids: Vec::new(),
    }
}

impl Store {
    pub async fn create_app_cred(&self, a: &AppCred) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let now = rustack_common::time::iso_micro(&rustack_common::time::now());
        sqlx::query(
            "INSERT INTO identity_app_cred (id, name, user_id, project_id, secret_hash, description, expires_at, unrestricted, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&a.id)
        .bind(&a.name)
        .bind(&a.user_id)
        .bind(&a.project_id)
        .bind(&a.secret_hash)
        .bind(&a.description)
        .bind(&a.expires_at)
        .bind(int(a.unrestricted))
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .map_err(|e| {
            if rustack_db::is_unique_violation(&e) {
                Error::conflict(format!("Conflict occurred attempting to store application_credential - Duplicate entry found with name {}.", a.name))
            } else {
                db_err(e)
            }
        })?;
        for r in &a.role_ids {
            sqlx::query("INSERT INTO identity_app_cred_role (app_cred_id, role_id) VALUES ($1, $2)")
                .bind(&a.id)
                .bind(r)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?;
        }
        w.commit().await.map_err(db_err)
    }

    async fn with_roles(&self, mut a: AppCred) -> Result<AppCred, Error> {
        let rows = sqlx::query("SELECT role_id FROM identity_app_cred_role WHERE app_cred_id = $1")
            .bind(&a.id)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        a.role_ids = rows.iter().map(|r| s(r, "role_id")).collect();
        Ok(a)
    }

    pub async fn get_app_cred(&self, id: &str) -> Result<Option<AppCred>, Error> {
        let r = sqlx::query("SELECT * FROM identity_app_cred WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        match r {
            Some(r) => Ok(Some(self.with_roles(app_cred(&r)).await?)),
            None => Ok(None),
        }
    }

    pub async fn get_app_cred_by_name(&self, user_id: &str, name: &str) -> Result<Option<AppCred>, Error> {
        let r = sqlx::query("SELECT * FROM identity_app_cred WHERE user_id = $1 AND name = $2")
            .bind(user_id)
            .bind(name)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        match r {
            Some(r) => Ok(Some(self.with_roles(app_cred(&r)).await?)),
            None => Ok(None),
        }
    }

    pub async fn list_app_creds(&self, user_id: &str, name: Option<&str>) -> Result<Vec<AppCred>, Error> {
        let rows = sqlx::query("SELECT * FROM identity_app_cred WHERE user_id = $1 ORDER BY name")
            .bind(user_id)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        let mut out = Vec::new();
        for r in rows.iter().map(app_cred).filter(|a| name.is_none_or(|n| a.name == n)) {
            out.push(self.with_roles(r).await?);
        }
        Ok(out)
    }

    pub async fn delete_app_cred(&self, id: &str) -> Result<(), Error> {
        self.delete_in_tx(
            &[
                "DELETE FROM identity_app_cred_role WHERE app_cred_id = $1",
                "DELETE FROM identity_app_cred WHERE id = $1",
            ],
            id,
        )
        .await
    }
}
