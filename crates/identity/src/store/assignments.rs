//! Role assignments: a user or group holds a role on a project, a domain or
//! the system.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};

use super::{b, db_err, int, s, Arg, Select, Store};
use crate::model::{Assignment, AssignmentKind};

fn assignment(r: &AnyRow) -> Option<Assignment> {
    Some(Assignment {
        kind: AssignmentKind::parse(&s(r, "kind"))?,
        actor_id: s(r, "actor_id"),
        target_id: s(r, "target_id"),
        role_id: s(r, "role_id"),
        inherited: b(r, "inherited"),
    })
}

/// Which assignments to list; None matches anything.
#[derive(Debug, Default, Clone)]
pub struct AssignmentFilter {
    pub kinds: Option<Vec<AssignmentKind>>,
    pub actor_ids: Option<Vec<String>>,
    pub target_id: Option<String>,
    pub role_id: Option<String>,
}

impl Store {
    /// Grants a role; granting it twice is not an error.
    pub async fn grant(&self, a: &Assignment) -> Result<(), Error> {
        let r = sqlx::query(
            "INSERT INTO identity_assignment (kind, actor_id, target_id, role_id, inherited) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(a.kind.as_str())
        .bind(&a.actor_id)
        .bind(&a.target_id)
        .bind(&a.role_id)
        .bind(int(a.inherited))
        .execute(self.db.pool())
        .await;
        match r {
            Ok(_) => Ok(()),
            Err(e) if rustack_db::is_unique_violation(&e) => Ok(()),
            Err(e) => Err(db_err(e)),
        }
    }

    /// Revokes a role; false when there was no such assignment.
    pub async fn revoke(&self, a: &Assignment) -> Result<bool, Error> {
        let r = sqlx::query(
            "DELETE FROM identity_assignment WHERE kind = $1 AND actor_id = $2 AND target_id = $3 AND role_id = $4 AND inherited = $5",
        )
        .bind(a.kind.as_str())
        .bind(&a.actor_id)
        .bind(&a.target_id)
        .bind(&a.role_id)
        .bind(int(a.inherited))
        .execute(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(r.rows_affected() > 0)
    }

    pub async fn assignment_exists(&self, a: &Assignment) -> Result<bool, Error> {
        let r = sqlx::query(
            "SELECT 1 FROM identity_assignment WHERE kind = $1 AND actor_id = $2 AND target_id = $3 AND role_id = $4 AND inherited = $5",
        )
        .bind(a.kind.as_str())
        .bind(&a.actor_id)
        .bind(&a.target_id)
        .bind(&a.role_id)
        .bind(int(a.inherited))
        .fetch_optional(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(r.is_some())
    }

    pub async fn list_assignments(&self, f: &AssignmentFilter) -> Result<Vec<Assignment>, Error> {
        let mut q = Select::new("SELECT * FROM identity_assignment");
        if let Some(t) = &f.target_id {
            q.eq("target_id", Arg::Text(t.clone()));
        }
        if let Some(r) = &f.role_id {
            q.eq("role_id", Arg::Text(r.clone()));
        }
        if let Some(actors) = &f.actor_ids {
            if actors.len() == 1 {
                q.eq("actor_id", Arg::Text(actors[0].clone()));
            }
        }
        q.order("kind, actor_id, target_id, role_id");
        let rows = q.fetch(&self.db).await?;
        Ok(rows
            .iter()
            .filter_map(assignment)
            .filter(|a| f.kinds.as_ref().is_none_or(|k| k.contains(&a.kind)))
            .filter(|a| f.actor_ids.as_ref().is_none_or(|ids| ids.contains(&a.actor_id)))
            .collect())
    }
}
