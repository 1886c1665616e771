//! Server groups; members are a JSON list on the group's row.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow, Row};

use super::{db_err, json_err, Store};
use crate::model::ServerGroup;

fn row(r: &AnyRow) -> Result<ServerGroup, Error> {
    let rules: String = r.get("rules");
    let members: String = r.get("members");
    Ok(ServerGroup {
        id: r.get("id"),
        name: r.get("name"),
        project_id: r.get("project_id"),
        user_id: r.get("user_id"),
        policy: r.get("policy"),
        rules: serde_json::from_str(&rules).map_err(json_err)?,
        members: serde_json::from_str(&members).map_err(json_err)?,
        created_at: r.get("created_at"),
    })
}

const COLS: &str = "id, name, project_id, user_id, policy, rules, members, created_at";

impl Store {
    pub async fn group_create(&self, g: &ServerGroup, quota: i64) -> Result<(), Error> {
        let mut w = self.write().await?;
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM compute_server_group WHERE project_id = $1")
            .bind(&g.project_id)
            .fetch_one(&mut *w.tx)
            .await
            .map_err(db_err)?
            .get("n");
        if quota >= 0 && n >= quota {
            return Err(Error::forbidden("Quota exceeded, too many server groups."));
        }
        sqlx::query(
            "INSERT INTO compute_server_group (id, name, project_id, user_id, policy, rules, members, created_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        )
        .bind(&g.id)
        .bind(&g.name)
        .bind(&g.project_id)
        .bind(&g.user_id)
        .bind(&g.policy)
        .bind(serde_json::to_string(&g.rules).map_err(json_err)?)
        .bind(serde_json::to_string(&g.members).map_err(json_err)?)
        .bind(&g.created_at)
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?;
        w.commit().await.map_err(db_err)
    }

    pub async fn group_get(&self, id: &str) -> Result<Option<ServerGroup>, Error> {
        let q = format!("SELECT {COLS} FROM compute_server_group WHERE id = $1");
        let r = sqlx::query(&q).bind(id).fetch_optional(self.db.pool()).await.map_err(db_err)?;
        r.as_ref().map(row).transpose()
    }

    pub async fn group_list(&self, project: Option<&str>) -> Result<Vec<ServerGroup>, Error> {
        let rows = match project {
            Some(p) => {
                let q = format!("SELECT {COLS} FROM compute_server_group WHERE project_id = $1 ORDER BY created_at");
                sqlx::query(&q).bind(p).fetch_all(self.db.pool()).await
            }
            None => {
                let q = format!("SELECT {COLS} FROM compute_server_group ORDER BY created_at");
                sqlx::query(&q).fetch_all(self.db.pool()).await
            }
        }
        .map_err(db_err)?;
        rows.iter().map(row).collect()
    }

    pub async fn group_delete(&self, id: &str) -> Result<bool, Error> {
        let mut w = self.write().await?;
        let r = sqlx::query("DELETE FROM compute_server_group WHERE id = $1")
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    /// Adds (or with `add` false removes) members; adding beyond
    /// `max_members` is a 403.
    pub async fn group_members(&self, id: &str, uuids: &[String], add: bool, max_members: i64) -> Result<(), Error> {
        let mut w = self.write().await?;
        let q = format!("SELECT {COLS} FROM compute_server_group WHERE id = $1");
        let Some(r) = sqlx::query(&q).bind(id).fetch_optional(&mut *w.tx).await.map_err(db_err)? else {
            return Ok(());
        };
        let mut g = row(&r)?;
        if add {
            for u in uuids {
                if !g.members.contains(u) {
                    g.members.push(u.clone());
                }
            }
            if max_members >= 0 && g.members.len() as i64 > max_members {
                return Err(Error::forbidden("Quota exceeded, too many servers in group"));
            }
        } else {
            g.members.retain(|m| !uuids.contains(m));
        }
        sqlx::query("UPDATE compute_server_group SET members = $1 WHERE id = $2")
            .bind(serde_json::to_string(&g.members).map_err(json_err)?)
            .bind(id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)
    }
}
