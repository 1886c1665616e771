//! OS-OAUTH1: consumers, request tokens and access tokens.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};

use super::{db_err, extra, extra_text, os, s, Store};
use crate::model::Extra;

#[derive(Debug, Clone)]
pub struct Consumer {
    pub id: String,
    pub description: Option<String>,
    pub secret: String,
    pub extra: Extra,
}

#[derive(Debug, Clone)]
pub struct RequestToken {
    pub id: String,
    pub request_secret: String,
    pub verifier: Option<String>,
    pub authorizing_user_id: Option<String>,
    pub requested_project_id: String,
    pub role_ids: Vec<String>,
    pub consumer_id: String,
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub id: String,
    pub access_secret: String,
    pub authorizing_user_id: String,
    pub project_id: String,
    pub role_ids: Vec<String>,
    pub consumer_id: String,
    pub expires_at: Option<String>,
}

fn consumer(r: &AnyRow) -> Consumer {
    Consumer { id: s(r, "id"), description: os(r, "description"), secret: s(r, "secret"), extra: extra(r) }
}

fn role_ids(r: &AnyRow) -> Vec<String> {
    serde_json::from_str(&s(r, "role_ids")).unwrap_or_default()
}

fn request_token(r: &AnyRow) -> RequestToken {
    RequestToken {
        id: s(r, "id"),
        request_secret: s(r, "request_secret"),
        verifier: os(r, "verifier"),
        authorizing_user_id: os(r, "authorizing_user_id"),
        requested_project_id: s(r, "requested_project_id"),
        role_ids: role_ids(r),
        consumer_id: s(r, "consumer_id"),
        expires_at: os(r, "expires_at"),
    }
}

fn access_token(r: &AnyRow) -> AccessToken {
    AccessToken {
        id: s(r, "id"),
        access_secret: s(r, "access_secret"),
        authorizing_user_id: s(r, "authorizing_user_id"),
        project_id: s(r, "project_id"),
        role_ids: role_ids(r),
        consumer_id: s(r, "consumer_id"),
        expires_at: os(r, "expires_at"),
    }
}

fn ids_text(ids: &[String]) -> String {
    serde_json::to_string(ids).expect("a list of strings serializes")
}

impl Store {
    pub async fn create_consumer(&self, c: &Consumer) -> Result<(), Error> {
        sqlx::query("INSERT INTO identity_oauth_consumer (id, description, secret, extra) VALUES ($1, $2, $3, $4)")
            .bind(&c.id)
            .bind(&c.description)
            .bind(&c.secret)
            .bind(extra_text(&c.extra))
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn get_consumer(&self, id: &str) -> Result<Option<Consumer>, Error> {
        self.fetch_opt("SELECT * FROM identity_oauth_consumer WHERE id = $1", &[id], consumer).await
    }

    pub async fn list_consumers(&self) -> Result<Vec<Consumer>, Error> {
        let rows = sqlx::query("SELECT * FROM identity_oauth_consumer ORDER BY id")
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(consumer).collect())
    }

    pub async fn update_consumer(&self, c: &Consumer) -> Result<(), Error> {
        sqlx::query("UPDATE identity_oauth_consumer SET description = $2, extra = $3 WHERE id = $1")
            .bind(&c.id)
            .bind(&c.description)
            .bind(extra_text(&c.extra))
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Deletes a consumer with its request and access tokens.
    pub async fn delete_consumer(&self, id: &str) -> Result<(), Error> {
        self.delete_in_tx(
            &[
                "DELETE FROM identity_oauth_request_token WHERE consumer_id = $1",
                "DELETE FROM identity_oauth_access_token WHERE consumer_id = $1",
                "DELETE FROM identity_oauth_consumer WHERE id = $1",
            ],
            id,
        )
        .await
    }

    pub async fn create_request_token(&self, t: &RequestToken) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO identity_oauth_request_token (id, request_secret, verifier, authorizing_user_id, requested_project_id, role_ids, consumer_id, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&t.id)
        .bind(&t.request_secret)
        .bind(&t.verifier)
        .bind(&t.authorizing_user_id)
        .bind(&t.requested_project_id)
        .bind(if t.role_ids.is_empty() { None } else { Some(ids_text(&t.role_ids)) })
        .bind(&t.consumer_id)
        .bind(&t.expires_at)
        .execute(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub async fn get_request_token(&self, id: &str) -> Result<Option<RequestToken>, Error> {
        self.fetch_opt("SELECT * FROM identity_oauth_request_token WHERE id = $1", &[id], request_token).await
    }

    /// Records who authorized a request token, for which roles, and its verifier.
    pub async fn authorize_request_token(
        &self,
        id: &str,
        user_id: &str,
        role_ids: &[String],
        verifier: &str,
    ) -> Result<(), Error> {
        sqlx::query("UPDATE identity_oauth_request_token SET authorizing_user_id = $2, role_ids = $3, verifier = $4 WHERE id = $1")
            .bind(id)
            .bind(user_id)
            .bind(ids_text(role_ids))
            .bind(verifier)
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Exchanges an authorized request token for an access token, once: the
    /// request token is deleted in the same transaction. False when it was
    /// already used.
    pub async fn exchange_request_token(&self, request_token_id: &str, a: &AccessToken) -> Result<bool, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let gone = sqlx::query("DELETE FROM identity_oauth_request_token WHERE id = $1")
            .bind(request_token_id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        if gone.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO identity_oauth_access_token (id, access_secret, authorizing_user_id, project_id, role_ids, consumer_id, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&a.id)
        .bind(&a.access_secret)
        .bind(&a.authorizing_user_id)
        .bind(&a.project_id)
        .bind(ids_text(&a.role_ids))
        .bind(&a.consumer_id)
        .bind(&a.expires_at)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(true)
    }

    pub async fn get_oauth_access_token(&self, id: &str) -> Result<Option<AccessToken>, Error> {
        self.fetch_opt("SELECT * FROM identity_oauth_access_token WHERE id = $1", &[id], access_token).await
    }

    pub async fn list_oauth_access_tokens(&self, user_id: &str) -> Result<Vec<AccessToken>, Error> {
        let rows = sqlx::query("SELECT * FROM identity_oauth_access_token WHERE authorizing_user_id = $1 ORDER BY id")
            .bind(user_id)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(access_token).collect())
    }

    pub async fn delete_oauth_access_token(&self, id: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM identity_oauth_access_token WHERE id = $1")
            .bind(id)
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
