//! Access rules of application credentials: owned by a user, shared by the
//! user's credentials that name the same (service, path, method).

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};
use rustack_http::context::AccessRule;

use super::{db_err, s, Store};

fn rule(r: &AnyRow) -> AccessRule {
    AccessRule { id: s(r, "id"), service: s(r, "service"), method: s(r, "method"), path: s(r, "path") }
}

/// What deleting an access rule did.
#[derive(Debug, PartialEq, Eq)]
pub enum RuleDeletion {
    Deleted,
    NotFound,
    /// An application credential still uses it.
    InUse,
}

impl Store {
    /// The rules of one application credential, in a stable order.
    pub async fn app_cred_access_rules(&self, app_cred_id: &str) -> Result<Vec<AccessRule>, Error> {
        let rows = sqlx::query(
            "SELECT r.id, r.service, r.method, r.path FROM identity_access_rule r \
             JOIN identity_app_cred_access_rule l ON l.access_rule_id = r.id \
             WHERE l.app_cred_id = $1 ORDER BY r.service, r.path, r.method, r.id",
        )
        .bind(app_cred_id)
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(rows.iter().map(rule).collect())
    }

    pub async fn list_access_rules(&self, user_id: &str) -> Result<Vec<AccessRule>, Error> {
        let rows =
            sqlx::query("SELECT * FROM identity_access_rule WHERE user_id = $1 ORDER BY service, path, method, id")
                .bind(user_id)
                .fetch_all(self.db.pool())
                .await
                .map_err(db_err)?;
        Ok(rows.iter().map(rule).collect())
    }

    /// A rule and its owner, by id.
    pub async fn get_access_rule(&self, id: &str) -> Result<Option<(String, AccessRule)>, Error> {
        let r = sqlx::query("SELECT * FROM identity_access_rule WHERE id = $1")
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(r.map(|r| (s(&r, "user_id"), rule(&r))))
    }

    /// The user's rule for exactly this (service, path, method), if any.
    pub async fn find_access_rule(
        &self,
        user_id: &str,
        service: &str,
        path: &str,
        method: &str,
    ) -> Result<Option<AccessRule>, Error> {
        self.fetch_opt(
            "SELECT * FROM identity_access_rule WHERE user_id = $1 AND service = $2 AND path = $3 AND method = $4",
            &[user_id, service, path, method],
            rule,
        )
        .await
    }

    /// Attaches `rules` (resolved to ids) to an application credential,
    /// creating those of the user that do not exist yet; one transaction.
    pub async fn link_access_rules(&self, app_cred_id: &str, user_id: &str, rules: &[AccessRule]) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        for r in rules {
            let exists = sqlx::query("SELECT id FROM identity_access_rule WHERE id = $1")
                .bind(&r.id)
                .fetch_optional(&mut *w.tx)
                .await
                .map_err(db_err)?
                .is_some();
            if !exists {
                sqlx::query("INSERT INTO identity_access_rule (id, user_id, service, path, method) VALUES ($1, $2, $3, $4, $5)")
                    .bind(&r.id)
                    .bind(user_id)
                    .bind(&r.service)
                    .bind(&r.path)
                    .bind(&r.method)
                    .execute(&mut *w.tx)
                    .await
                    .map_err(|e| {
                        if rustack_db::is_unique_violation(&e) {
                            Error::conflict("Conflict occurred attempting to store access_rule - the same rule was stored concurrently.")
                        } else {
                            db_err(e)
                        }
                    })?;
            }
            let linked = sqlx::query(
                "SELECT 1 AS x FROM identity_app_cred_access_rule WHERE app_cred_id = $1 AND access_rule_id = $2",
            )
            .bind(app_cred_id)
            .bind(&r.id)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?
            .is_some();
            if !linked {
                sqlx::query("INSERT INTO identity_app_cred_access_rule (app_cred_id, access_rule_id) VALUES ($1, $2)")
                    .bind(app_cred_id)
                    .bind(&r.id)
                    .execute(&mut *w.tx)
                    .await
                    .map_err(db_err)?;
            }
        }
        w.commit().await.map_err(db_err)
    }

    /// Deletes a rule of `user_id` unless a credential uses it.
    pub async fn delete_access_rule(&self, id: &str, user_id: &str) -> Result<RuleDeletion, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let found = sqlx::query("SELECT id FROM identity_access_rule WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?
            .is_some();
        if !found {
            return Ok(RuleDeletion::NotFound);
        }
        let used = sqlx::query("SELECT 1 AS x FROM identity_app_cred_access_rule WHERE access_rule_id = $1")
            .bind(id)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?
            .is_some();
        if used {
            return Ok(RuleDeletion::InUse);
        }
        sqlx::query("DELETE FROM identity_access_rule WHERE id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(RuleDeletion::Deleted)
    }
}
