//! The image tables (portable SQL through rustack-db).

use std::collections::BTreeMap;

use rustack_common::Error;
use rustack_db::sqlx::any::AnyRow;
use rustack_db::sqlx::{self, Row};
use rustack_db::{Db, Migration};

use crate::model::{status, ImageRecord, Member};

pub mod metadefs;

pub static MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "images and members", sql: include_str!("../../migrations/0001_images.sql") },
    Migration { version: 2, name: "metadata definitions", sql: include_str!("../../migrations/0002_metadefs.sql") },
];

const COLS: &str = "id, name, status, visibility, protected, os_hidden, owner, disk_format, container_format, \
    size, virtual_size, checksum, os_hash_algo, os_hash_value, min_disk, min_ram, location, staged, properties, \
    tags, created_at, updated_at";

/// The image service's SQL storage.
#[derive(Clone)]
pub struct Store {
    pub db: Db,
}

impl Store {
    pub fn new(db: Db) -> Store {
        Store { db }
    }

    pub async fn migrate(&self) -> Result<usize, Error> {
        self.db.migrate("image", MIGRATIONS).await.map_err(db_err)
    }

    /// After a crash: uploads begun before `before` (this process's start)
    /// are over. Saving images go back to queued, importing ones to uploading
    /// (their staged data is kept); how many rows changed.
    pub async fn reset_interrupted(&self, before: &str) -> Result<u64, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let mut n = 0;
        for (from, to) in [(status::SAVING, status::QUEUED), (status::IMPORTING, status::UPLOADING)] {
            n += sqlx::query("UPDATE image_images SET status=$2 WHERE status=$1 AND deleted=0 AND updated_at < $3")
                .bind(from)
                .bind(to)
                .bind(before)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?
                .rows_affected();
        }
        w.commit().await.map_err(db_err)?;
        Ok(n)
    }

    /// Inserts a new image; 409 when the id is taken (even by a deleted image, as Glance).
    pub async fn insert_image(&self, img: &ImageRecord) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let sql = format!(
            "INSERT INTO image_images ({COLS}, deleted) VALUES \
             ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,0)"
        );
        let q = sqlx::query(&sql);
        bind_image(q, img).execute(&mut *w.tx).await.map_err(|e| {
            if rustack_db::is_unique_violation(&e) {
                Error::conflict(format!("Image with identifier {} already exists!", img.id))
            } else {
                Error::internal(&e)
            }
        })?;
        w.commit().await.map_err(db_err)
    }

    /// Writes every field of `img` (the row must exist and not be deleted).
    /// With `expect_status`, only when the stored status is that one; returns
    /// whether a row was written.
    pub async fn update_image(&self, img: &ImageRecord, expect_status: Option<&str>) -> Result<bool, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let mut sql = "UPDATE image_images SET name=$2, status=$3, visibility=$4, protected=$5, os_hidden=$6, \
            owner=$7, disk_format=$8, container_format=$9, size=$10, virtual_size=$11, checksum=$12, \
            os_hash_algo=$13, os_hash_value=$14, min_disk=$15, min_ram=$16, location=$17, staged=$18, \
            properties=$19, tags=$20, created_at=$21, updated_at=$22 WHERE id=$1 AND deleted=0"
            .to_string();
        if expect_status.is_some() {
            sql.push_str(" AND status=$23");
        }
        let mut q = bind_image(sqlx::query(&sql), img);
        if let Some(s) = expect_status {
            q = q.bind(s.to_string());
        }
        let n = q.execute(&mut *w.tx).await.map_err(db_err)?.rows_affected();
        w.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }

    /// Moves an image from `from` to `to` if it is in `from`; whether it moved.
    pub async fn transition(&self, id: &str, from: &str, to: &str) -> Result<bool, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let n = sqlx::query("UPDATE image_images SET status=$3, updated_at=$4 WHERE id=$1 AND status=$2 AND deleted=0")
            .bind(id)
            .bind(from)
            .bind(to)
            .bind(crate::model::now_iso())
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        w.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }

    pub async fn get_image(&self, id: &str) -> Result<Option<ImageRecord>, Error> {
        let r = sqlx::query(&format!("SELECT {COLS} FROM image_images WHERE id = $1 AND deleted = 0"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(r.as_ref().map(row_image))
    }

    /// Every image not deleted (the service filters, sorts and pages).
    pub async fn all_images(&self) -> Result<Vec<ImageRecord>, Error> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM image_images WHERE deleted = 0"))
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(row_image).collect())
    }

    /// Marks an image deleted and drops its members; whether it existed.
    pub async fn delete_image(&self, id: &str) -> Result<bool, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let n = sqlx::query("UPDATE image_images SET deleted=1, status=$2, updated_at=$3 WHERE id=$1 AND deleted=0")
            .bind(id)
            .bind(status::DELETED)
            .bind(crate::model::now_iso())
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        sqlx::query("DELETE FROM image_members WHERE image_id=$1")
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }

    /// The number of images and the bytes they hold, of a project.
    pub async fn usage(&self, owner: &str) -> Result<(i64, i64), Error> {
        let r = sqlx::query(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS bytes FROM image_images \
             WHERE owner=$1 AND deleted=0",
        )
        .bind(owner)
        .fetch_one(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok((r.try_get::<i64, _>("n").unwrap_or(0), r.try_get::<i64, _>("bytes").unwrap_or(0)))
    }

    // ---- members

    pub async fn members(&self, image_id: &str) -> Result<Vec<Member>, Error> {
        let rows = sqlx::query(
            "SELECT image_id, member, status, created_at, updated_at FROM image_members WHERE image_id=$1 \
             ORDER BY created_at, member",
        )
        .bind(image_id)
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(rows.iter().map(row_member).collect())
    }

    /// Every membership of a project (image id → status).
    pub async fn memberships_of(&self, project: &str) -> Result<BTreeMap<String, String>, Error> {
        let rows = sqlx::query("SELECT image_id, status FROM image_members WHERE member=$1")
            .bind(project)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| (s(r, "image_id"), s(r, "status"))).collect())
    }

    pub async fn get_member(&self, image_id: &str, member: &str) -> Result<Option<Member>, Error> {
        let r = sqlx::query(
            "SELECT image_id, member, status, created_at, updated_at FROM image_members \
             WHERE image_id=$1 AND member=$2",
        )
        .bind(image_id)
        .bind(member)
        .fetch_optional(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(r.as_ref().map(row_member))
    }

    pub async fn insert_member(&self, m: &Member) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO image_members (image_id, member, status, created_at, updated_at) VALUES ($1,$2,$3,$4,$5)",
        )
        .bind(&m.image_id)
        .bind(&m.member_id)
        .bind(&m.status)
        .bind(&m.created_at)
        .bind(&m.updated_at)
        .execute(&mut *w.tx)
        .await
        .map_err(|e| {
            if rustack_db::is_unique_violation(&e) {
                Error::conflict(format!("Member {} already associated with image {}", m.member_id, m.image_id))
            } else {
                Error::internal(&e)
            }
        })?;
        w.commit().await.map_err(db_err)
    }

    pub async fn set_member_status(&self, image_id: &str, member: &str, st: &str, now: &str) -> Result<bool, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let n = sqlx::query("UPDATE image_members SET status=$3, updated_at=$4 WHERE image_id=$1 AND member=$2")
            .bind(image_id)
            .bind(member)
            .bind(st)
            .bind(now)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        w.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }

    pub async fn delete_member(&self, image_id: &str, member: &str) -> Result<bool, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let n = sqlx::query("DELETE FROM image_members WHERE image_id=$1 AND member=$2")
            .bind(image_id)
            .bind(member)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        w.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }
}

type Q<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

fn bind_image<'q>(q: Q<'q>, i: &ImageRecord) -> Q<'q> {
    q.bind(i.id.clone())
        .bind(i.name.clone())
        .bind(i.status.clone())
        .bind(i.visibility.clone())
        .bind(i.protected as i64)
        .bind(i.os_hidden as i64)
        .bind(i.owner.clone())
        .bind(i.disk_format.clone())
        .bind(i.container_format.clone())
        .bind(i.size)
        .bind(i.virtual_size)
        .bind(i.checksum.clone())
        .bind(i.os_hash_algo.clone())
        .bind(i.os_hash_value.clone())
        .bind(i.min_disk)
        .bind(i.min_ram)
        .bind(i.location.clone())
        .bind(i.staged.clone())
        .bind(serde_json::to_string(&i.properties).unwrap_or_else(|_| "{}".into()))
        .bind(serde_json::to_string(&i.tags).unwrap_or_else(|_| "[]".into()))
        .bind(i.created_at.clone())
        .bind(i.updated_at.clone())
}

fn row_image(r: &AnyRow) -> ImageRecord {
    ImageRecord {
        id: s(r, "id"),
        name: os(r, "name"),
        status: s(r, "status"),
        visibility: s(r, "visibility"),
        protected: i(r, "protected").unwrap_or(0) != 0,
        os_hidden: i(r, "os_hidden").unwrap_or(0) != 0,
        owner: os(r, "owner"),
        disk_format: os(r, "disk_format"),
        container_format: os(r, "container_format"),
        size: i(r, "size"),
        virtual_size: i(r, "virtual_size"),
        checksum: os(r, "checksum"),
        os_hash_algo: os(r, "os_hash_algo"),
        os_hash_value: os(r, "os_hash_value"),
        min_disk: i(r, "min_disk").unwrap_or(0),
        min_ram: i(r, "min_ram").unwrap_or(0),
        location: os(r, "location"),
        staged: os(r, "staged"),
        properties: serde_json::from_str(&s(r, "properties")).unwrap_or_default(),
        tags: serde_json::from_str(&s(r, "tags")).unwrap_or_default(),
        created_at: s(r, "created_at"),
        updated_at: s(r, "updated_at"),
    }
}

fn row_member(r: &AnyRow) -> Member {
    Member {
        image_id: s(r, "image_id"),
        member_id: s(r, "member"),
        status: s(r, "status"),
        created_at: s(r, "created_at"),
        updated_at: s(r, "updated_at"),
    }
}

fn s(r: &AnyRow, c: &str) -> String {
    os(r, c).unwrap_or_default()
}

fn os(r: &AnyRow, c: &str) -> Option<String> {
    r.try_get::<Option<String>, _>(c).ok().flatten()
}

fn i(r: &AnyRow, c: &str) -> Option<i64> {
    r.try_get::<Option<i64>, _>(c).ok().flatten()
}

pub fn db_err(e: sqlx::Error) -> Error {
    Error::internal(&e)
}

/// An import task (Glance's `api_image_import`).
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    pub image_id: String,
    pub status: String,
    pub input: serde_json::Value,
    pub message: String,
    pub request_id: String,
    pub user_id: String,
    pub owner: String,
    pub created_at: String,
    pub updated_at: String,
}

impl Store {
    pub async fn insert_task(&self, t: &Task) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO image_tasks (id, image_id, status, input, message, request_id, user_id, owner, \
             created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
        )
        .bind(&t.id)
        .bind(&t.image_id)
        .bind(&t.status)
        .bind(t.input.to_string())
        .bind(&t.message)
        .bind(&t.request_id)
        .bind(&t.user_id)
        .bind(&t.owner)
        .bind(&t.created_at)
        .bind(&t.updated_at)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        w.commit().await.map_err(db_err)
    }

    pub async fn finish_task(&self, id: &str, status: &str, message: &str) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        sqlx::query("UPDATE image_tasks SET status=$2, message=$3, updated_at=$4 WHERE id=$1")
            .bind(id)
            .bind(status)
            .bind(message)
            .bind(crate::model::now_iso())
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)
    }

    pub async fn tasks_of(&self, image_id: &str) -> Result<Vec<Task>, Error> {
        let rows = sqlx::query(
            "SELECT id, image_id, status, input, message, request_id, user_id, owner, created_at, updated_at \
             FROM image_tasks WHERE image_id=$1 ORDER BY created_at",
        )
        .bind(image_id)
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(rows
            .iter()
            .map(|r| Task {
                id: s(r, "id"),
                image_id: s(r, "image_id"),
                status: s(r, "status"),
                input: serde_json::from_str(&s(r, "input")).unwrap_or_default(),
                message: s(r, "message"),
                request_id: s(r, "request_id"),
                user_id: s(r, "user_id"),
                owner: s(r, "owner"),
                created_at: s(r, "created_at"),
                updated_at: s(r, "updated_at"),
            })
            .collect())
    }
}
