//! Users.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};

use super::{b, db_err, duplicate, extra, extra_text, int, os, s, Arg, Select, Store};
use rustack_db::sqlx::Row;

use crate::model::{User, UserSecurity};

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
        options: serde_json::from_str(&s(r, "options")).unwrap_or_default(),
        security: UserSecurity {
            failed_auth_count: r.try_get::<i64, _>("failed_auth_count").unwrap_or(0),
            failed_auth_at: os(r, "failed_auth_at"),
            last_active_at: os(r, "last_active_at"),
            password_created_at: os(r, "password_created_at"),
        },
    }
}

impl Store {
    pub async fn create_user(&self, u: &User) -> Result<(), Error> {
        let _changed = self.users_changed();
        let now = rustack_common::time::iso_micro(&rustack_common::time::now());
        sqlx::query(
            "INSERT INTO identity_user (id, name, domain_id, enabled, default_project_id, password_hash, \
             password_created_at, password_expires_at, created_at, extra, options) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $9, $10)",
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
        .bind(extra_text(&u.options))
        .execute(self.db.pool())
        .await
        .map_err(duplicate("user", &u.name))?;
        if let Some(h) = &u.password_hash {
            self.add_password_history(&u.id, h).await?;
        }
        Ok(())
    }

    pub async fn get_user(&self, id: &str) -> Result<Option<User>, Error> {
        self.fetch_opt("SELECT * FROM identity_user WHERE id = $1", &[id], user).await
    }

    pub async fn get_user_by_name(&self, domain_id: &str, name: &str) -> Result<Option<User>, Error> {
        self.fetch_opt("SELECT * FROM identity_user WHERE domain_id = $1 AND name = $2", &[domain_id, name], user).await
    }

    pub async fn list_users(
        &self,
        name: Option<&str>,
        domain_id: Option<&str>,
        enabled: Option<bool>,
    ) -> Result<Vec<User>, Error> {
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
        let _changed = self.users_changed();
        sqlx::query(
            "UPDATE identity_user SET name = $2, enabled = $3, default_project_id = $4, extra = $5, options = $6 WHERE id = $1",
        )
        .bind(&u.id)
        .bind(&u.name)
        .bind(int(u.enabled))
        .bind(&u.default_project_id)
        .bind(extra_text(&u.extra))
        .bind(extra_text(&u.options))
        .execute(self.db.pool())
        .await
        .map_err(duplicate("user", &u.name))?;
        Ok(())
    }

    /// Sets a password (a bcrypt hash) and when it expires, records it in the
    /// history and clears failed authentications.
    pub async fn set_password(&self, user_id: &str, hash: &str, expires_at: Option<&str>) -> Result<(), Error> {
        let _changed = self.users_changed();
        let now = rustack_common::time::iso_micro(&rustack_common::time::now());
        sqlx::query(
            "UPDATE identity_user SET password_hash = $2, password_created_at = $3, password_expires_at = $4, \
             failed_auth_count = 0, failed_auth_at = NULL WHERE id = $1",
        )
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .bind(expires_at)
        .execute(self.db.pool())
        .await
        .map_err(db_err)?;
        self.add_password_history(user_id, hash).await
    }

    async fn add_password_history(&self, user_id: &str, hash: &str) -> Result<(), Error> {
        let now = rustack_common::time::iso_micro(&rustack_common::time::now());
        sqlx::query(
            "INSERT INTO identity_password_history (id, user_id, password_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(rustack_common::new_id())
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// The user's last `n` password hashes, newest first.
    pub async fn password_history(&self, user_id: &str, n: usize) -> Result<Vec<String>, Error> {
        let rows = sqlx::query(
            "SELECT password_hash FROM identity_password_history WHERE user_id = $1 ORDER BY created_at DESC",
        )
        .bind(user_id)
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(rows.iter().take(n).map(|r| s(r, "password_hash")).collect())
    }

    /// Counts a failed password authentication.
    pub async fn record_auth_failure(&self, user_id: &str) -> Result<(), Error> {
        let _changed = self.users_changed();
        let now = rustack_common::time::iso_micro(&rustack_common::time::now());
        sqlx::query(
            "UPDATE identity_user SET failed_auth_count = failed_auth_count + 1, failed_auth_at = $2 WHERE id = $1",
        )
        .bind(user_id)
        .bind(now)
        .execute(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// After a successful authentication: no failures, and active `today`.
    pub async fn record_auth_success(&self, user_id: &str, today: &str) -> Result<(), Error> {
        let _changed = self.users_changed();
        sqlx::query(
            "UPDATE identity_user SET failed_auth_count = 0, failed_auth_at = NULL, last_active_at = $2 WHERE id = $1",
        )
        .bind(user_id)
        .bind(today)
        .execute(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Deletes a user, its group memberships, role assignments and
    /// application credentials.
    pub async fn delete_user(&self, id: &str) -> Result<(), Error> {
        let _changed = self.users_changed();
        self.delete_in_tx(
            &[
            "DELETE FROM identity_assignment WHERE actor_id = $1",
            "DELETE FROM identity_group_member WHERE user_id = $1",
            "DELETE FROM identity_app_cred_role WHERE app_cred_id IN (SELECT id FROM identity_app_cred WHERE user_id = $1)",
            "DELETE FROM identity_app_cred WHERE user_id = $1",
            "DELETE FROM identity_credential WHERE user_id = $1",
            "DELETE FROM identity_oauth_request_token WHERE authorizing_user_id = $1",
            "DELETE FROM identity_oauth_access_token WHERE authorizing_user_id = $1",
            "DELETE FROM identity_user WHERE id = $1",
            ],
            id,
        )
        .await
    }
}
