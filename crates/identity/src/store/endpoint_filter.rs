//! OS-EP-FILTER: endpoint groups, and which endpoints and endpoint groups a
//! project's catalog is limited to.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};
use serde_json::{Map, Value};

use super::{db_err, os, s, Store};

#[derive(Debug, Clone, PartialEq)]
pub struct EndpointGroup {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    /// Endpoint attributes (`service_id`, `region_id`, `interface`) and the
    /// values an endpoint must have to be in the group.
    pub filters: Map<String, Value>,
}

fn group(r: &AnyRow) -> EndpointGroup {
    EndpointGroup {
        id: s(r, "id"),
        name: s(r, "name"),
        description: os(r, "description"),
        filters: serde_json::from_str(&s(r, "filters")).unwrap_or_default(),
    }
}

fn conflict(what: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| {
        if rustack_db::is_unique_violation(&e) {
            Error::conflict(format!("Conflict occurred attempting to store {what} - the association already exists."))
        } else {
            db_err(e)
        }
    }
}

impl Store {
    pub async fn create_endpoint_group(&self, g: &EndpointGroup) -> Result<(), Error> {
        sqlx::query("INSERT INTO identity_endpoint_group (id, name, description, filters) VALUES ($1, $2, $3, $4)")
            .bind(&g.id)
            .bind(&g.name)
            .bind(&g.description)
            .bind(Value::Object(g.filters.clone()).to_string())
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn get_endpoint_group(&self, id: &str) -> Result<Option<EndpointGroup>, Error> {
        self.fetch_opt("SELECT * FROM identity_endpoint_group WHERE id = $1", &[id], group).await
    }

    pub async fn list_endpoint_groups(&self, name: Option<&str>) -> Result<Vec<EndpointGroup>, Error> {
        let rows = sqlx::query("SELECT * FROM identity_endpoint_group ORDER BY name, id")
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(group).filter(|g| name.is_none_or(|n| g.name == n)).collect())
    }

    pub async fn update_endpoint_group(&self, g: &EndpointGroup) -> Result<(), Error> {
        sqlx::query("UPDATE identity_endpoint_group SET name = $2, description = $3, filters = $4 WHERE id = $1")
            .bind(&g.id)
            .bind(&g.name)
            .bind(&g.description)
            .bind(Value::Object(g.filters.clone()).to_string())
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Deletes an endpoint group and its project associations.
    pub async fn delete_endpoint_group(&self, id: &str) -> Result<(), Error> {
        self.delete_in_tx(
            &[
                "DELETE FROM identity_project_endpoint_group WHERE endpoint_group_id = $1",
                "DELETE FROM identity_endpoint_group WHERE id = $1",
            ],
            id,
        )
        .await
    }

    // ---- project - endpoint ----

    pub async fn add_project_endpoint(&self, project_id: &str, endpoint_id: &str) -> Result<(), Error> {
        sqlx::query("INSERT INTO identity_project_endpoint (endpoint_id, project_id) VALUES ($1, $2)")
            .bind(endpoint_id)
            .bind(project_id)
            .execute(self.db.pool())
            .await
            .map_err(conflict("project_endpoint"))?;
        Ok(())
    }

    pub async fn remove_project_endpoint(&self, project_id: &str, endpoint_id: &str) -> Result<bool, Error> {
        Ok(self
            .execute(
                "DELETE FROM identity_project_endpoint WHERE endpoint_id = $1 AND project_id = $2",
                &[endpoint_id, project_id],
            )
            .await?
            > 0)
    }

    pub async fn project_endpoint_exists(&self, project_id: &str, endpoint_id: &str) -> Result<bool, Error> {
        self.exists(
            "SELECT 1 FROM identity_project_endpoint WHERE endpoint_id = $1 AND project_id = $2",
            &[endpoint_id, project_id],
        )
        .await
    }

    /// Endpoints associated with a project directly.
    pub async fn project_endpoint_ids(&self, project_id: &str) -> Result<Vec<String>, Error> {
        self.fetch_column(
            "SELECT endpoint_id FROM identity_project_endpoint WHERE project_id = $1 ORDER BY endpoint_id",
            &[project_id],
            "endpoint_id",
        )
        .await
    }

    /// Projects an endpoint is associated with directly.
    pub async fn endpoint_project_ids(&self, endpoint_id: &str) -> Result<Vec<String>, Error> {
        self.fetch_column(
            "SELECT project_id FROM identity_project_endpoint WHERE endpoint_id = $1 ORDER BY project_id",
            &[endpoint_id],
            "project_id",
        )
        .await
    }

    // ---- project - endpoint group ----

    pub async fn add_project_endpoint_group(&self, project_id: &str, group_id: &str) -> Result<(), Error> {
        sqlx::query("INSERT INTO identity_project_endpoint_group (endpoint_group_id, project_id) VALUES ($1, $2)")
            .bind(group_id)
            .bind(project_id)
            .execute(self.db.pool())
            .await
            .map_err(conflict("project_endpoint_group"))?;
        Ok(())
    }

    pub async fn remove_project_endpoint_group(&self, project_id: &str, group_id: &str) -> Result<bool, Error> {
        Ok(self
            .execute(
                "DELETE FROM identity_project_endpoint_group WHERE endpoint_group_id = $1 AND project_id = $2",
                &[group_id, project_id],
            )
            .await?
            > 0)
    }

    pub async fn project_endpoint_group_exists(&self, project_id: &str, group_id: &str) -> Result<bool, Error> {
        let r = sqlx::query(
            "SELECT 1 FROM identity_project_endpoint_group WHERE endpoint_group_id = $1 AND project_id = $2",
        )
        .bind(group_id)
        .bind(project_id)
        .fetch_optional(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(r.is_some())
    }

    /// The endpoint groups associated with a project.
    pub async fn project_endpoint_groups(&self, project_id: &str) -> Result<Vec<EndpointGroup>, Error> {
        let rows = sqlx::query(
            "SELECT g.* FROM identity_endpoint_group g JOIN identity_project_endpoint_group pg ON pg.endpoint_group_id = g.id \
             WHERE pg.project_id = $1 ORDER BY g.name, g.id",
        )
        .bind(project_id)
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(rows.iter().map(group).collect())
    }

    /// Projects an endpoint group is associated with.
    pub async fn endpoint_group_project_ids(&self, group_id: &str) -> Result<Vec<String>, Error> {
        let rows = sqlx::query(
            "SELECT project_id FROM identity_project_endpoint_group WHERE endpoint_group_id = $1 ORDER BY project_id",
        )
        .bind(group_id)
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(rows.iter().map(|r| s(r, "project_id")).collect())
    }
}
