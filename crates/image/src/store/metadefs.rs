//! The metadata definitions table: one row per namespace (kind `namespace`)
//! and per object, property, tag or resource type association inside one.

use rustack_common::Error;
use rustack_db::sqlx::{self, Row};
use serde_json::Value;

use super::{db_err, Store};

/// One row: its name, JSON body and times.
#[derive(Debug, Clone, PartialEq)]
pub struct Def {
    pub name: String,
    pub body: Value,
    pub created_at: String,
    pub updated_at: String,
}

fn row(r: &sqlx::any::AnyRow) -> Def {
    let s = |c: &str| r.try_get::<Option<String>, _>(c).ok().flatten().unwrap_or_default();
    Def {
        name: s("name"),
        body: serde_json::from_str(&s("body")).unwrap_or_default(),
        created_at: s("created_at"),
        updated_at: s("updated_at"),
    }
}

impl Store {
    /// Inserts a row; a conflict when the name is taken in that namespace and kind.
    pub async fn def_insert(&self, ns: &str, kind: &str, name: &str, body: &Value, now: &str) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        sqlx::query(
            "INSERT INTO image_metadefs (namespace, kind, name, body, created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$5)",
        )
        .bind(ns)
        .bind(kind)
        .bind(name)
        .bind(body.to_string())
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .map_err(|e| {
            if rustack_db::is_unique_violation(&e) {
                Error::conflict(format!("A metadata definition {kind} with name={name} already exists in namespace={ns}."))
            } else {
                Error::internal(&e)
            }
        })?;
        w.commit().await.map_err(db_err)
    }

    pub async fn def_get(&self, ns: &str, kind: &str, name: &str) -> Result<Option<Def>, Error> {
        let r = sqlx::query(
            "SELECT name, body, created_at, updated_at FROM image_metadefs WHERE namespace=$1 AND kind=$2 AND name=$3",
        )
        .bind(ns)
        .bind(kind)
        .bind(name)
        .fetch_optional(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(r.as_ref().map(row))
    }

    pub async fn def_list(&self, ns: Option<&str>, kind: &str) -> Result<Vec<Def>, Error> {
        let rows = match ns {
            Some(ns) => sqlx::query(
                "SELECT name, body, created_at, updated_at FROM image_metadefs WHERE namespace=$1 AND kind=$2 \
                 ORDER BY created_at, name",
            )
            .bind(ns)
            .bind(kind),
            None => sqlx::query(
                "SELECT name, body, created_at, updated_at FROM image_metadefs WHERE kind=$1 ORDER BY created_at, name",
            )
            .bind(kind),
        }
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(rows.iter().map(row).collect())
    }

    /// Rewrites a row, possibly under a new name (a namespace's rename moves
    /// what is inside it too); whether it existed.
    pub async fn def_update(
        &self,
        ns: &str,
        kind: &str,
        name: &str,
        new_name: &str,
        body: &Value,
        now: &str,
    ) -> Result<bool, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let conflict = |e: sqlx::Error| {
            if rustack_db::is_unique_violation(&e) {
                Error::conflict(format!("A metadata definition {kind} with name={new_name} already exists."))
            } else {
                Error::internal(&e)
            }
        };
        let n = sqlx::query(
            "UPDATE image_metadefs SET name=$4, body=$5, updated_at=$6 WHERE namespace=$1 AND kind=$2 AND name=$3",
        )
        .bind(ns)
        .bind(kind)
        .bind(name)
        .bind(new_name)
        .bind(body.to_string())
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .map_err(conflict)?
        .rows_affected();
        if kind == "namespace" && n > 0 && name != new_name {
            sqlx::query("UPDATE image_metadefs SET namespace=$2 WHERE namespace=$1")
                .bind(ns)
                .bind(new_name)
                .execute(&mut *w.tx)
                .await
                .map_err(conflict)?;
        }
        w.commit().await.map_err(db_err)?;
        Ok(n > 0)
    }

    /// Deletes one row, or with `name` None every row of `kind` in the namespace.
    pub async fn def_delete(&self, ns: &str, kind: &str, name: Option<&str>) -> Result<u64, Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let n = match (kind, name) {
            ("namespace", _) => sqlx::query("DELETE FROM image_metadefs WHERE namespace=$1").bind(ns),
            (_, Some(name)) => sqlx::query("DELETE FROM image_metadefs WHERE namespace=$1 AND kind=$2 AND name=$3")
                .bind(ns)
                .bind(kind)
                .bind(name),
            (_, None) => sqlx::query("DELETE FROM image_metadefs WHERE namespace=$1 AND kind=$2").bind(ns).bind(kind),
        }
        .execute(&mut *w.tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        w.commit().await.map_err(db_err)?;
        Ok(n)
    }
}
