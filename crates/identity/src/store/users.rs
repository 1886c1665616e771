//! Users.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};

use super::{b, db_err, duplicate, extra, extra_text, int, os, s, Arg, Select, Store};
use crate::model::User;

pub(super) fn user(r: &AnyRow) -> User {
    User {
        id: s(r, "id"),
        name: s(r, "name"),
        domain_id: s(r, "domain_id"),
        enabled: b(r, "enabled"),
        default_project_id: os(r, "default_project_id"),
        password_hash: os(r, "password_hash"),
        password_expires_at: os(r, "password_expires_at"),
        extra: extra(r),
    }
}

impl Store {
    pub async fn create_user(&self, u: &User) -> Result<(), Error> {
        let now = rustack_common::time::iso_micro(&rustack_common::time::now());
        sqlx::query(
            "INSERT INTO identity_user (id, name, domain_id, enabled, default_project_id, password_hash, \
             password_created_at, password_expires_at, created_at, extra) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $9)",
        )
        .bind(&u.id)
        .bind(&u.name)
        .bind(&u.domain_id)
        .bind(int(u.enabled))
        .bind(&u.default_project_id)
        .bind(&u.password_hash)
        .bind(now)
        .bind(&u.password_expires_at)
        .bind(extra_text(&u.extra))
        .execute(self.db.pool())
        .await
        .map_err(duplicate("user", &u.name))?;
        Ok(())
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<User>, Error> {
        let r = sqlx::query("SELECT * FROM identity_user WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(r.as_ref().map(user))
    }

    pub async fn get_user_by_name(&self, domain_id: &str, name: &str) -> Result<Option<User>, Error> {
        let r = sqlx::query("SELECT * FROM identity_user WHERE domain_id = $1 AND name = $2")
            .bind(domain_id)
            .bind(name)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(r.as_ref().map(user))
    }

    pub async fn list_users(&self, name: Option<&str>, domain_id: Option<&str>, enabled: Option<bool>) -> Result<Vec<User>, Error> {
        let mut q = Select::new("SELECT * FROM identity_user");
        q.eq_opt("name", name).eq_opt("domain_id", domain_id);
        if let Some(e) = enabled {
            q.eq("enabled", Arg::Int(int(e)));
        }
        q.order("name");
        Ok(q.fetch(&self.db).await?.iter().map(user).collect())
    }

    /// Writes every attribute but the password.
    pub async fn update_user(&self, u: &User) -> Result<(), Error> {
        sqlx::query(
            "UPDATE identity_user SET name = $2, enabled = $3, default_project_id = $4, extra = $5 WHERE id = $1",
        )
        .bind(&u.id)
        .bind(&u.name)
        .bind(int(u.enabled))
        .bind(&u.default_project_id)
        .bind(extra_text(&u.extra))
        .execute(self.db.pool())
        .await
        .map_err(duplicate("user", &u.name))?;
        Ok(())
    }

    pub async fn set_password(&self, user_id: &str, hash: Option<&str>) -> Result<(), Error> {
        let now = rustack_common::time::iso_micro(&rustack_common::time::now());
        sqlx::query("UPDATE identity_user SET password_hash = $2, password_created_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(hash)
            .bind(now)
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Deletes a user, its group memberships, role assignments and
    /// application credentials.
    pub async fn delete_user(&self, id: &str) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        for st in [
            "DELETE FROM identity_assignment WHERE actor_id = $1",
            "DELETE FROM identity_group_member WHERE user_id = $1",
            "DELETE FROM identity_app_cred_role WHERE app_cred_id IN (SELECT id FROM identity_app_cred WHERE user_id = $1)",
            "DELETE FROM identity_app_cred WHERE user_id = $1",
            "DELETE FROM identity_user WHERE id = $1",
        ] {
            sqlx::query(st).bind(id).execute(&mut *w.tx).await.map_err(db_err)?;
        }
        w.commit().await.map_err(db_err)
    }
}
