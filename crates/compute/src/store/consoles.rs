//! Console auth tokens (migration 0004): what a console URL's token grants,
//! kept under the token's sha256 so the table never holds a usable token.

use rustack_common::time::{iso_micro, now};
use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow, Row};
use sha2::{Digest, Sha256};

use super::{db_err, Store};

/// What a console token connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleToken {
    pub instance_uuid: String,
    /// `novnc`, …
    pub console_type: String,
    /// The compute host the instance runs on.
    pub host: String,
    /// The console's TCP port on the host; 0 for a Unix socket.
    pub port: i64,
    /// The Unix socket (or other path) of the console on the host.
    pub internal_access_path: Option<String>,
    /// ISO time (`iso_micro`) after which the token is refused.
    pub expires: String,
}

/// The token's hash as stored.
pub fn token_hash(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

fn row(r: &AnyRow) -> ConsoleToken {
    ConsoleToken {
        instance_uuid: r.get("instance_uuid"),
        console_type: r.get("console_type"),
        host: r.get("host"),
        port: r.get("port"),
        internal_access_path: r.get("internal_access_path"),
        expires: r.get("expires"),
    }
}

const COLS: &str = "instance_uuid, console_type, host, port, internal_access_path, expires";

impl Store {
    /// Stores a new token (and purges the expired ones on the way).
    pub async fn console_token_create(&self, token: &str, t: &ConsoleToken) -> Result<(), Error> {
        let at = iso_micro(&now());
        let mut w = self.write().await?;
        sqlx::query("DELETE FROM compute_console_token WHERE expires <= $1")
            .bind(&at)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO compute_console_token (token_hash, instance_uuid, console_type, host, port, \
             internal_access_path, created_at, expires) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        )
        .bind(token_hash(token))
        .bind(&t.instance_uuid)
        .bind(&t.console_type)
        .bind(&t.host)
        .bind(t.port)
        .bind(t.internal_access_path.as_deref())
        .bind(&at)
        .bind(&t.expires)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        w.commit().await.map_err(db_err)
    }

    /// The token's grant if it exists and has not expired; it stays usable
    /// (the admin API's view: `os-console-auth-tokens`).
    pub async fn console_token_get(&self, token: &str) -> Result<Option<ConsoleToken>, Error> {
        let q = format!("SELECT {COLS} FROM compute_console_token WHERE token_hash = $1 AND expires > $2");
        Ok(sqlx::query(&q)
            .bind(token_hash(token))
            .bind(iso_micro(&now()))
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?
            .as_ref()
            .map(row))
    }

    /// Takes the token: returns its grant if it exists and has not expired,
    /// and deletes it either way, so a second use finds nothing.
    pub async fn console_token_consume(&self, token: &str) -> Result<Option<ConsoleToken>, Error> {
        let hash = token_hash(token);
        let mut w = self.write().await?;
        let q = format!("SELECT {COLS} FROM compute_console_token WHERE token_hash = $1");
        let found = sqlx::query(&q).bind(&hash).fetch_optional(&mut *w.tx).await.map_err(db_err)?.as_ref().map(row);
        if found.is_some() {
            sqlx::query("DELETE FROM compute_console_token WHERE token_hash = $1")
                .bind(&hash)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?;
        }
        w.commit().await.map_err(db_err)?;
        let at = iso_micro(&now());
        Ok(found.filter(|t| t.expires > at))
    }

    /// Drops every token of an instance (it is deleted, or its console moved).
    pub async fn console_tokens_delete_instance(&self, uuid: &str) -> Result<u64, Error> {
        let mut w = self.write().await?;
        let n = sqlx::query("DELETE FROM compute_console_token WHERE instance_uuid = $1")
            .bind(uuid)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        w.commit().await.map_err(db_err)?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(uuid: &str, expires: String) -> ConsoleToken {
        ConsoleToken {
            instance_uuid: uuid.into(),
            console_type: "novnc".into(),
            host: "fake-0".into(),
            port: 0,
            internal_access_path: Some("/tmp/vnc.sock".into()),
            expires,
        }
    }

    fn in_secs(s: i64) -> String {
        iso_micro(&(now() + chrono::Duration::seconds(s)))
    }

    #[tokio::test]
    async fn tokens_are_hashed_single_use_and_expire() {
        for tdb in rustack_db::testing::all_backends().await {
            let store = Store::open(tdb.db.clone()).await.expect("open");
            let g = grant("u1", in_secs(600));
            store.console_token_create("tok-a", &g).await.expect("create");
            // stored under its hash only
            let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM compute_console_token WHERE token_hash = $1")
                .bind("tok-a")
                .fetch_one(store.db.pool())
                .await
                .expect("count")
                .get("n");
            assert_eq!(n, 0);
            // the admin view does not use it up
            assert_eq!(store.console_token_get("tok-a").await.expect("get"), Some(g.clone()));
            assert_eq!(store.console_token_get("tok-a").await.expect("get"), Some(g.clone()));
            assert_eq!(store.console_token_get("tok-b").await.expect("get"), None);
            // single use
            assert_eq!(store.console_token_consume("tok-a").await.expect("consume"), Some(g));
            assert_eq!(store.console_token_consume("tok-a").await.expect("consume"), None);
            assert_eq!(store.console_token_get("tok-a").await.expect("get"), None);
            // expired: refused, and purged by the next issue
            store.console_token_create("tok-old", &grant("u1", in_secs(-1))).await.expect("create");
            assert_eq!(store.console_token_get("tok-old").await.expect("get"), None);
            store.console_token_create("tok-old2", &grant("u2", in_secs(-1))).await.expect("create");
            let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM compute_console_token")
                .fetch_one(store.db.pool())
                .await
                .expect("count")
                .get("n");
            assert_eq!(n, 1, "the first expired token was purged when the second was issued");
            assert_eq!(store.console_token_consume("tok-old2").await.expect("consume"), None);
            // per instance
            store.console_token_create("tok-c", &grant("u3", in_secs(600))).await.expect("create");
            store.console_token_create("tok-d", &grant("u3", in_secs(600))).await.expect("create");
            assert_eq!(store.console_tokens_delete_instance("u3").await.expect("delete"), 2);
            assert_eq!(store.console_token_get("tok-c").await.expect("get"), None);
        }
    }
}
