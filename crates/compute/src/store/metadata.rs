//! What the metadata API keeps: the password a guest posts to
//! `/openstack/<v>/password` (Nova keeps it in the instance's system
//! metadata), one row per instance. The table has its own migration track
//! (`compute_metadata`), applied on first use, so it needs nothing of the
//! service's main migration list.

use rustack_common::Error;
use rustack_db::sqlx::{self, Row};
use rustack_db::Migration;

use super::{db_err, Store};

static MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "metadata password",
    sql: "CREATE TABLE IF NOT EXISTS compute_metadata_password (instance_uuid TEXT NOT NULL PRIMARY KEY, \
          password TEXT NOT NULL, created_at TEXT NOT NULL)",
}];

impl Store {
    async fn metadata_tables(&self) -> Result<(), Error> {
        // two first uses at once: the loser's bookkeeping insert conflicts,
        // the table exists by then, so one retry settles it
        if self.db.migrate("compute_metadata", MIGRATIONS).await.is_err() {
            self.db.migrate("compute_metadata", MIGRATIONS).await.map_err(db_err)?;
        }
        Ok(())
    }

    /// The password a guest stored, if any.
    pub async fn metadata_password_get(&self, instance_uuid: &str) -> Result<Option<String>, Error> {
        self.metadata_tables().await?;
        let r = sqlx::query("SELECT password FROM compute_metadata_password WHERE instance_uuid = $1")
            .bind(instance_uuid)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(r.map(|r| r.get("password")))
    }

    /// Stores the password unless one is set already (false then: Nova's 409).
    pub async fn metadata_password_set(&self, instance_uuid: &str, password: &str) -> Result<bool, Error> {
        self.metadata_tables().await?;
        let mut w = self.write().await?;
        let have = sqlx::query("SELECT password FROM compute_metadata_password WHERE instance_uuid = $1")
            .bind(instance_uuid)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        if have.is_some_and(|r| !r.get::<String, _>("password").is_empty()) {
            return Ok(false);
        }
        sqlx::query("DELETE FROM compute_metadata_password WHERE instance_uuid = $1")
            .bind(instance_uuid)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        sqlx::query("INSERT INTO compute_metadata_password (instance_uuid, password, created_at) VALUES ($1, $2, $3)")
            .bind(instance_uuid)
            .bind(password)
            .bind(crate::model::now())
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(true)
    }
}

impl Store {
    /// Forgets the password (Nova's `DELETE /servers/{id}/os-server-password`,
    /// and a deleted or rebuilt instance's).
    pub async fn metadata_password_clear(&self, instance_uuid: &str) -> Result<(), Error> {
        self.metadata_tables().await?;
        let mut w = self.write().await?;
        sqlx::query("DELETE FROM compute_metadata_password WHERE instance_uuid = $1")
            .bind(instance_uuid)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use rustack_db::testing::all_backends;

    use super::*;

    #[tokio::test]
    async fn a_password_is_set_once() {
        for t in all_backends().await {
            let s = Store::open(t.db.clone()).await.unwrap();
            assert_eq!(s.metadata_password_get("i1").await.unwrap(), None);
            assert!(s.metadata_password_set("i1", "secret").await.unwrap());
            assert!(!s.metadata_password_set("i1", "other").await.unwrap());
            assert_eq!(s.metadata_password_get("i1").await.unwrap().as_deref(), Some("secret"));
            assert_eq!(s.metadata_password_get("i2").await.unwrap(), None);
            s.metadata_password_clear("i1").await.unwrap();
            assert_eq!(s.metadata_password_get("i1").await.unwrap(), None);
            assert!(s.metadata_password_set("i1", "new").await.unwrap());
        }
    }
}
