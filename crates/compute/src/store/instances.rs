//! Instances: one JSON document per row, with the columns lists and quota
//! counts read (project, host, states, vcpus, memory, deleted) beside it.
//! Every change is a read-modify-write in one write transaction.

use futures_util::TryStreamExt;
use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow, Row};

use super::{db_err, json_err, Store};
use crate::model::{Instance, InstanceAction};

fn doc(r: &AnyRow) -> Result<Instance, Error> {
    let d: String = r.get("doc");
    let mut i: Instance = serde_json::from_str(&d).map_err(json_err)?;
    i.version = r.get("version");
    Ok(i)
}

/// A migration as `os-migrations` shows it: a row of `compute_migration`
/// (store/migrations.rs), or, for a resize made before that table existed,
/// one derived from the instance's actions (a resize and its confirm or
/// revert).
#[derive(Debug, Clone)]
pub struct MigrationRecord {
    /// A UUID: Nova's migration `uuid` from 2.59 (the action's id for a
    /// resize or cold migration).
    pub id: String,
    /// Nova's integer id: the migrations table's (None for a resize older
    /// than the table, found in the action log).
    pub num: Option<i64>,
    pub instance_uuid: String,
    /// `resize`, `migrate` or `live-migration`
    pub action: String,
    /// Where the instance is (the destination once known).
    pub host: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// Nova's migration status (`finished`, `confirmed`, `reverted`,
    /// `completed`, `error`, …).
    pub status: &'static str,
    /// Nova's `migration_type`: `resize`, `migration` or `live-migration`.
    pub migration_type: &'static str,
    pub source_compute: Option<String>,
    pub dest_compute: Option<String>,
}

/// The statuses a migration may have, as static strings (the API filters
/// and renders them).
fn static_status(s: &str) -> &'static str {
    const ALL: &[&str] = &[
        "pre-migrating",
        "migrating",
        "post-migrating",
        "finished",
        "confirming",
        "confirmed",
        "reverting",
        "reverted",
        "accepted",
        "queued",
        "preparing",
        "running",
        "completed",
        "cancelled",
        "failed",
        "error",
        "done",
    ];
    ALL.iter().find(|x| **x == s).copied().unwrap_or("error")
}

/// What a project uses now: servers, VCPUs and RAM of its live instances.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
}

/// Limits a create must stay within (-1: unlimited).
#[derive(Debug, Clone, Copy)]
pub struct QuotaLimits {
    pub instances: i64,
    pub cores: i64,
    pub ram: i64,
}

async fn usage_in(tx: &mut sqlx::Transaction<'static, sqlx::Any>, project_id: &str) -> Result<Usage, Error> {
    let r = sqlx::query(
        // PostgreSQL's SUM of BIGINT is NUMERIC: cast back for the Any driver
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(vcpus), 0) AS BIGINT) AS c, \
         CAST(COALESCE(SUM(memory_mb), 0) AS BIGINT) AS m \
         FROM compute_instance WHERE project_id = $1 AND deleted = 0",
    )
    .bind(project_id)
    .fetch_one(&mut **tx)
    .await
    .map_err(db_err)?;
    let col = |name: &str| r.try_get::<i64, _>(name).map_err(db_err);
    Ok(Usage { instances: col("n")?, cores: col("c")?, ram: col("m")? })
}

impl Store {
    pub async fn usage(&self, project_id: &str) -> Result<Usage, Error> {
        let mut tx = self.db.pool().begin().await.map_err(db_err)?;
        let u = usage_in(&mut tx, project_id).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(u)
    }

    /// Inserts the instances of one create request (and their `create`
    /// actions) if the project stays within `limits`; checked and written in
    /// one write transaction so concurrent creates never overshoot.
    pub async fn instances_create(
        &self,
        instances: &[Instance],
        actions: &[InstanceAction],
        limits: QuotaLimits,
        min_count: usize,
    ) -> Result<(), Error> {
        let mut w = self.write().await?;
        let Some(first) = instances.first() else { return Ok(()) };
        let used = usage_in(&mut w.tx, &first.project_id).await?;
        let per = first.resources();
        let n = instances.len() as i64;
        let over = |limit: i64, used: i64, each: i64, what: &str| -> Result<(), Error> {
            if limit >= 0 && used + each * n > limit {
                let allowed = if each > 0 { ((limit - used).max(0)) / each } else { n };
                let _ = min_count;
                return Err(Error::forbidden(format!(
                    "Quota exceeded for {what}: Requested {}, but already used {used} of {limit} {what}",
                    each * n
                ))
                .with_code(format!("allowed={allowed}")));
            }
            Ok(())
        };
        over(limits.instances, used.instances, 1, "instances")?;
        over(limits.cores, used.cores, per.vcpu, "cores")?;
        over(limits.ram, used.ram, per.memory_mb, "ram")?;
        for i in instances {
            sqlx::query(
                "INSERT INTO compute_instance (uuid, project_id, user_id, host, vm_state, task_state, vcpus, memory_mb, \
                 created_at, updated_at, deleted, version, doc) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,0,1,$11)",
            )
            .bind(&i.uuid)
            .bind(&i.project_id)
            .bind(&i.user_id)
            .bind(i.host.clone())
            .bind(&i.vm_state)
            .bind(i.task_state.clone())
            .bind(per.vcpu)
            .bind(per.memory_mb)
            .bind(&i.created_at)
            .bind(&i.updated_at)
            .bind(serde_json::to_string(i).map_err(json_err)?)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        }
        for a in actions {
            super::actions::insert_action(&mut w.tx, a).await?;
        }
        w.commit().await.map_err(db_err)
    }

    /// A live (not deleted) instance.
    pub async fn instance_get(&self, uuid: &str) -> Result<Option<Instance>, Error> {
        let r = sqlx::query("SELECT doc, version FROM compute_instance WHERE uuid = $1 AND deleted = 0")
            .bind(uuid)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        r.as_ref().map(doc).transpose()
    }

    /// An instance, deleted or not.
    pub async fn instance_get_any(&self, uuid: &str) -> Result<Option<Instance>, Error> {
        let r = sqlx::query("SELECT doc, version FROM compute_instance WHERE uuid = $1")
            .bind(uuid)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        r.as_ref().map(doc).transpose()
    }

    /// Instances newest first; `project` None means every project.
    pub async fn instance_list(&self, project: Option<&str>, with_deleted: bool) -> Result<Vec<Instance>, Error> {
        self.instance_list_since(project, with_deleted, None).await
    }

    /// Instances newest first, `since` (an ISO time) keeping those updated at
    /// or after it (a coarse SQL filter: every `updated_at` column is written
    /// by `model::now()` in one fixed-width format, so text order is time
    /// order; callers apply the exact comparison). Rows are decoded as they
    /// arrive, so a list of thousands never holds every raw row and every
    /// decoded instance at once.
    pub async fn instance_list_since(
        &self,
        project: Option<&str>,
        with_deleted: bool,
        since: Option<&str>,
    ) -> Result<Vec<Instance>, Error> {
        let mut q = String::from("SELECT doc, version FROM compute_instance WHERE 1 = 1");
        let mut n = 0;
        if project.is_some() {
            n += 1;
            q.push_str(&format!(" AND project_id = ${n}"));
        }
        if since.is_some() {
            n += 1;
            q.push_str(&format!(" AND updated_at >= ${n}"));
        }
        if !with_deleted {
            q.push_str(" AND deleted = 0");
        }
        q.push_str(" ORDER BY created_at DESC, uuid DESC");
        let mut query = sqlx::query(&q);
        if let Some(p) = project {
            query = query.bind(p);
        }
        if let Some(t) = since {
            query = query.bind(t);
        }
        let mut rows = query.fetch(self.db.pool());
        let mut out = Vec::new();
        while let Some(r) = rows.try_next().await.map_err(db_err)? {
            out.push(doc(&r)?);
        }
        Ok(out)
    }

    /// Every migration, oldest first (see [`MigrationRecord`]): the
    /// migrations table, and the resizes of the action log from before it.
    pub async fn migrations(&self) -> Result<Vec<MigrationRecord>, Error> {
        let rows = sqlx::query(
            "SELECT a.id, a.instance_uuid, a.action, a.start_time, a.updated_at, i.host \
             FROM compute_instance_action a JOIN compute_instance i ON i.uuid = a.instance_uuid \
             WHERE a.action IN ('resize', 'migrate', 'confirmResize', 'revertResize') \
             ORDER BY a.start_time, a.id",
        )
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        let mut legacy: Vec<MigrationRecord> = Vec::new();
        for r in &rows {
            let action: String = r.try_get("action").map_err(db_err)?;
            let instance_uuid: String = r.try_get("instance_uuid").map_err(db_err)?;
            let ending = match action.as_str() {
                "confirmResize" => Some("confirmed"),
                "revertResize" => Some("reverted"),
                _ => None,
            };
            if let Some(status) = ending {
                // closes the instance's last open resize
                if let Some(m) =
                    legacy.iter_mut().rev().find(|m| m.instance_uuid == instance_uuid && m.status == "finished")
                {
                    m.status = status;
                    m.updated_at = r.try_get("start_time").map_err(db_err)?;
                }
                continue;
            }
            let host: Option<String> = r.try_get("host").map_err(db_err)?;
            legacy.push(MigrationRecord {
                id: r.try_get("id").map_err(db_err)?,
                num: None,
                instance_uuid,
                migration_type: if action == "resize" { "resize" } else { "migration" },
                action,
                source_compute: host.clone(),
                dest_compute: host.clone(),
                host,
                created_at: r.try_get("start_time").map_err(db_err)?,
                updated_at: r.try_get("updated_at").map_err(db_err)?,
                status: "finished",
            });
        }
        let table = self.migration_list().await?;
        legacy.retain(|l| !table.iter().any(|m| m.uuid == l.id));
        let mut out: Vec<MigrationRecord> = table
            .into_iter()
            .map(|m| {
                let migration_type = match m.migration_type.as_str() {
                    "resize" => "resize",
                    "live-migration" => "live-migration",
                    "evacuation" => "evacuation",
                    _ => "migration",
                };
                MigrationRecord {
                    id: m.uuid,
                    num: Some(m.id),
                    instance_uuid: m.instance_uuid,
                    action: match migration_type {
                        "resize" => "resize",
                        "live-migration" => "live-migration",
                        "evacuation" => "evacuate",
                        _ => "migrate",
                    }
                    .to_string(),
                    host: m.dest_compute.clone().or_else(|| m.source_compute.clone()),
                    created_at: m.created_at,
                    updated_at: m.updated_at,
                    status: static_status(&m.status),
                    migration_type,
                    source_compute: m.source_compute,
                    dest_compute: m.dest_compute,
                }
            })
            .collect();
        out.extend(legacy);
        // stable: the table keeps its id order among equal times
        out.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        Ok(out)
    }

    /// Live instances placed on `host`.
    pub async fn instances_on_host(&self, host: &str) -> Result<Vec<Instance>, Error> {
        let rows = sqlx::query("SELECT doc, version FROM compute_instance WHERE host = $1 AND deleted = 0")
            .bind(host)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        rows.iter().map(doc).collect()
    }

    /// Live instances with a task in flight or still building (for the
    /// crash recovery at start).
    pub async fn instances_in_flight(&self) -> Result<Vec<Instance>, Error> {
        let rows = sqlx::query(
            "SELECT doc, version FROM compute_instance WHERE deleted = 0 AND (vm_state = 'building' OR task_state IS NOT NULL)",
        )
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        rows.iter().map(doc).collect()
    }

    /// Live instances waiting for a resize or cold migration's confirm
    /// (VERIFY_RESIZE).
    pub async fn instances_resized(&self) -> Result<Vec<Instance>, Error> {
        let rows = sqlx::query("SELECT doc, version FROM compute_instance WHERE deleted = 0 AND vm_state = 'resized'")
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        rows.iter().map(doc).collect()
    }

    /// Loads a live instance, applies `f` and writes it back, in one write
    /// transaction. `f` may refuse (its error is returned, nothing written).
    /// A missing instance is a 404.
    pub async fn instance_modify<T>(
        &self,
        uuid: &str,
        f: impl FnOnce(&mut Instance) -> Result<T, Error>,
    ) -> Result<(Instance, T), Error> {
        let mut w = self.write().await?;
        let r = sqlx::query("SELECT doc, version FROM compute_instance WHERE uuid = $1 AND deleted = 0")
            .bind(uuid)
            .fetch_optional(&mut *w.tx)
            .await
            .map_err(db_err)?;
        let Some(r) = r else {
            return Err(Error::not_found(format!("Instance {uuid} could not be found.")));
        };
        let mut i = doc(&r)?;
        let out = f(&mut i)?;
        i.updated_at = crate::model::now();
        let res = i.resources();
        sqlx::query(
            "UPDATE compute_instance SET host = $1, vm_state = $2, task_state = $3, vcpus = $4, memory_mb = $5, \
             updated_at = $6, deleted = $7, version = version + 1, doc = $8 WHERE uuid = $9",
        )
        .bind(i.host.clone())
        .bind(&i.vm_state)
        .bind(i.task_state.clone())
        .bind(res.vcpu)
        .bind(res.memory_mb)
        .bind(&i.updated_at)
        .bind(i.deleted as i64)
        .bind(serde_json::to_string(&i).map_err(json_err)?)
        .bind(uuid)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        i.version += 1;
        Ok((i, out))
    }
}
