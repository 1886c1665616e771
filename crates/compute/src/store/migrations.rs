//! Migration records (migration 0005): Nova's `migrations` table, one row per
//! resize, cold migration and live migration, its status moved on by the
//! conductor's workflows.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow, Row};

use super::{db_err, Store};

/// Nova's `migration_type` values.
pub mod kind {
    pub const RESIZE: &str = "resize";
    pub const MIGRATION: &str = "migration";
    pub const LIVE: &str = "live-migration";
    /// An evacuation: rebuilt on another host while its own host is down.
    pub const EVACUATION: &str = "evacuation";
}

/// One migration as stored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Migration {
    /// Nova's integer id (assigned by [`Store::migration_create`]).
    pub id: i64,
    pub uuid: String,
    pub instance_uuid: String,
    /// `resize`, `migration` or `live-migration` (see [`kind`]).
    pub migration_type: String,
    pub status: String,
    pub source_compute: Option<String>,
    pub dest_compute: Option<String>,
    pub old_flavor_id: Option<String>,
    pub new_flavor_id: Option<String>,
    pub project_id: String,
    pub user_id: String,
    pub created_at: String,
    pub updated_at: String,
}

impl Migration {
    /// Still under way (Nova's "in progress": neither finished well nor
    /// failed). A cold migration in VERIFY_RESIZE (`finished`) counts.
    pub fn in_progress(&self) -> bool {
        !["confirmed", "reverted", "completed", "error", "failed", "cancelled", "done"].contains(&self.status.as_str())
    }
}

fn row(r: &AnyRow) -> Migration {
    Migration {
        id: r.get("id"),
        uuid: r.get("uuid"),
        instance_uuid: r.get("instance_uuid"),
        migration_type: r.get("migration_type"),
        status: r.get("status"),
        source_compute: r.get("source_compute"),
        dest_compute: r.get("dest_compute"),
        old_flavor_id: r.get("old_flavor_id"),
        new_flavor_id: r.get("new_flavor_id"),
        project_id: r.get("project_id"),
        user_id: r.get("user_id"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

const COLS: &str = "id, uuid, instance_uuid, migration_type, status, source_compute, dest_compute, \
                    old_flavor_id, new_flavor_id, project_id, user_id, created_at, updated_at";

impl Store {
    /// Stores `m` with the next id (returned, and set on `m`); its times
    /// are set to now.
    pub async fn migration_create(&self, m: &mut Migration) -> Result<i64, Error> {
        let now = crate::model::now();
        let mut w = self.write().await?;
        let next: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM compute_migration")
            .fetch_one(&mut *w.tx)
            .await
            .map_err(db_err)?
            .try_get("n")
            .map_err(db_err)?;
        m.id = next;
        m.created_at = now.clone();
        m.updated_at = now;
        sqlx::query(
            "INSERT INTO compute_migration (id, uuid, instance_uuid, migration_type, status, source_compute, \
             dest_compute, old_flavor_id, new_flavor_id, project_id, user_id, created_at, updated_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)",
        )
        .bind(m.id)
        .bind(&m.uuid)
        .bind(&m.instance_uuid)
        .bind(&m.migration_type)
        .bind(&m.status)
        .bind(m.source_compute.clone())
        .bind(m.dest_compute.clone())
        .bind(m.old_flavor_id.clone())
        .bind(m.new_flavor_id.clone())
        .bind(&m.project_id)
        .bind(&m.user_id)
        .bind(&m.created_at)
        .bind(&m.updated_at)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(next)
    }

    /// Moves a migration to `status` (and records its destination when
    /// known); false when there is no such migration.
    pub async fn migration_set_status(&self, uuid: &str, status: &str, dest: Option<&str>) -> Result<bool, Error> {
        let mut w = self.write().await?;
        let r = sqlx::query(
            "UPDATE compute_migration SET status = $1, dest_compute = COALESCE($2, dest_compute), updated_at = $3 \
             WHERE uuid = $4",
        )
        .bind(status)
        .bind(dest.map(str::to_string))
        .bind(crate::model::now())
        .bind(uuid)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    /// Moves a migration to `to` only from one of the statuses `from` (an
    /// abort racing the workflow's end: one of the two wins); false when it
    /// was in none of them.
    pub async fn migration_set_status_if(&self, uuid: &str, from: &[&str], to: &str) -> Result<bool, Error> {
        let mut w = self.write().await?;
        let cur: Option<String> = sqlx::query("SELECT status FROM compute_migration WHERE uuid = $1")
            .bind(uuid)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?
            .map(|r| r.get("status"));
        if !cur.as_deref().is_some_and(|c| from.contains(&c)) {
            return Ok(false);
        }
        sqlx::query("UPDATE compute_migration SET status = $1, updated_at = $2 WHERE uuid = $3")
            .bind(to)
            .bind(crate::model::now())
            .bind(uuid)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(true)
    }

    pub async fn migration_get(&self, uuid: &str) -> Result<Option<Migration>, Error> {
        let q = format!("SELECT {COLS} FROM compute_migration WHERE uuid = $1");
        let r = sqlx::query(&q).bind(uuid).fetch_optional(self.db.pool()).await.map_err(db_err)?;
        Ok(r.as_ref().map(row))
    }

    /// Every migration, oldest first.
    pub async fn migration_list(&self) -> Result<Vec<Migration>, Error> {
        let q = format!("SELECT {COLS} FROM compute_migration ORDER BY id");
        let rows = sqlx::query(&q).fetch_all(self.db.pool()).await.map_err(db_err)?;
        Ok(rows.iter().map(row).collect())
    }

    /// The migrations of one instance, oldest first.
    pub async fn migrations_of(&self, instance_uuid: &str) -> Result<Vec<Migration>, Error> {
        let q = format!("SELECT {COLS} FROM compute_migration WHERE instance_uuid = $1 ORDER BY id");
        let rows = sqlx::query(&q).bind(instance_uuid).fetch_all(self.db.pool()).await.map_err(db_err)?;
        Ok(rows.iter().map(row).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(uuid: &str, inst: &str) -> Migration {
        Migration {
            uuid: uuid.into(),
            instance_uuid: inst.into(),
            migration_type: kind::MIGRATION.into(),
            status: "pre-migrating".into(),
            source_compute: Some("h1".into()),
            project_id: "p".into(),
            user_id: "u".into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn ids_follow_and_status_moves_on_both_backends() {
        for t in rustack_db::testing::all_backends().await {
            let s = Store::open(t.db.clone()).await.unwrap();
            let mut a = sample("m-a", "i-1");
            let mut b = sample("m-b", "i-2");
            assert_eq!(s.migration_create(&mut a).await.unwrap(), 1);
            assert_eq!(s.migration_create(&mut b).await.unwrap(), 2);
            assert!(s.migration_set_status("m-a", "finished", Some("h2")).await.unwrap());
            assert!(!s.migration_set_status("nope", "finished", None).await.unwrap());
            // a later status without a destination keeps the one recorded
            assert!(!s.migration_set_status_if("m-a", &["running"], "cancelled").await.unwrap());
            assert!(s.migration_set_status_if("m-a", &["finished"], "confirmed").await.unwrap());
            let got = s.migration_get("m-a").await.unwrap().unwrap();
            assert_eq!((got.status.as_str(), got.dest_compute.as_deref()), ("confirmed", Some("h2")));
            assert!(!got.in_progress());
            assert_eq!(s.migrations_of("i-2").await.unwrap(), vec![b]);
            assert_eq!(s.migration_list().await.unwrap().len(), 2);
        }
    }
}
