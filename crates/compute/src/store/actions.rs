//! Instance actions and their events (`os-instance-actions`).

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow, Row};

use super::{db_err, json_err, Store};
use crate::model::{ActionEvent, InstanceAction};

fn row(r: &AnyRow) -> Result<InstanceAction, Error> {
    let events: String = r.get("events");
    Ok(InstanceAction {
        id: r.get("id"),
        instance_uuid: r.get("instance_uuid"),
        request_id: r.get("request_id"),
        action: r.get("action"),
        project_id: r.get("project_id"),
        user_id: r.get("user_id"),
        start_time: r.get("start_time"),
        updated_at: r.get("updated_at"),
        message: r.get("message"),
        events: serde_json::from_str(&events).map_err(json_err)?,
    })
}

pub(crate) async fn insert_action(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    a: &InstanceAction,
) -> Result<(), Error> {
    sqlx::query(
        "INSERT INTO compute_instance_action (id, instance_uuid, request_id, action, project_id, user_id, \
         start_time, updated_at, message, events) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
    )
    .bind(&a.id)
    .bind(&a.instance_uuid)
    .bind(&a.request_id)
    .bind(&a.action)
    .bind(&a.project_id)
    .bind(&a.user_id)
    .bind(&a.start_time)
    .bind(&a.updated_at)
    .bind(a.message.clone())
    .bind(serde_json::to_string(&a.events).map_err(json_err)?)
    .execute(&mut **tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

const COLS: &str =
    "id, instance_uuid, request_id, action, project_id, user_id, start_time, updated_at, message, events";

impl Store {
    pub async fn action_create(&self, a: &InstanceAction) -> Result<(), Error> {
        let mut w = self.write().await?;
        insert_action(&mut w.tx, a).await?;
        w.commit().await.map_err(db_err)
    }

    pub async fn actions_of(&self, instance_uuid: &str) -> Result<Vec<InstanceAction>, Error> {
        let q = format!(
            "SELECT {COLS} FROM compute_instance_action WHERE instance_uuid = $1 ORDER BY start_time DESC, id DESC"
        );
        let rows = sqlx::query(&q).bind(instance_uuid).fetch_all(self.db.pool()).await.map_err(db_err)?;
        rows.iter().map(row).collect()
    }

    pub async fn action_by_request(
        &self,
        instance_uuid: &str,
        request_id: &str,
    ) -> Result<Option<InstanceAction>, Error> {
        let q = format!("SELECT {COLS} FROM compute_instance_action WHERE instance_uuid = $1 AND request_id = $2");
        let r = sqlx::query(&q)
            .bind(instance_uuid)
            .bind(request_id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        r.as_ref().map(row).transpose()
    }

    /// Records an event of the action `action_id` (a new one, or the end of
    /// the event of the same name); an error sets the action's message.
    pub async fn action_event(&self, action_id: &str, ev: ActionEvent) -> Result<(), Error> {
        let mut w = self.write().await?;
        let q = format!("SELECT {COLS} FROM compute_instance_action WHERE id = $1");
        let Some(r) = sqlx::query(&q).bind(action_id).fetch_optional(&mut *w.tx).await.map_err(db_err)? else {
            return Ok(());
        };
        let mut a = row(&r)?;
        match a.events.iter_mut().find(|e| e.event == ev.event) {
            Some(e) => {
                e.finish_time = ev.finish_time.clone();
                e.result = ev.result.clone();
                e.traceback = ev.traceback.clone();
            }
            None => a.events.push(ev.clone()),
        }
        if ev.result.as_deref() == Some("Error") {
            a.message = Some("Error".into());
        }
        sqlx::query("UPDATE compute_instance_action SET events = $1, message = $2, updated_at = $3 WHERE id = $4")
            .bind(serde_json::to_string(&a.events).map_err(json_err)?)
            .bind(a.message.clone())
            .bind(crate::model::now())
            .bind(action_id)
            .execute(&mut *w.tx)
            .await
            .map_err(db_err)?;
        w.commit().await.map_err(db_err)
    }
}
