//! Unified limits: registered limits (a service's default for a resource)
//! and limits (a project's or a domain's override), Keystone's flat model.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow, Row};
use serde_json::{json, Value};

use super::{db_err, os, s, Select, Store};
use crate::Identity;

#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredLimit {
    pub id: String,
    pub service_id: String,
    pub region_id: Option<String>,
    pub resource_name: String,
    pub default_limit: i64,
    pub description: Option<String>,
}

impl RegisteredLimit {
    pub fn to_json(&self, base: &str) -> Value {
        json!({"id": self.id, "service_id": self.service_id, "region_id": self.region_id,
               "resource_name": self.resource_name, "default_limit": self.default_limit,
               "description": self.description,
               "links": {"self": format!("{base}/v3/registered_limits/{}", self.id)}})
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub id: String,
    pub registered_limit_id: String,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
    pub resource_limit: i64,
    pub description: Option<String>,
    /// From the registered limit.
    pub service_id: String,
    pub region_id: Option<String>,
    pub resource_name: String,
}

impl Limit {
    pub fn to_json(&self, base: &str) -> Value {
        json!({"id": self.id, "project_id": self.project_id, "domain_id": self.domain_id,
               "service_id": self.service_id, "region_id": self.region_id,
               "resource_name": self.resource_name, "resource_limit": self.resource_limit,
               "description": self.description,
               "links": {"self": format!("{base}/v3/limits/{}", self.id)}})
    }
}

/// Filters of `GET /v3/registered_limits` and `GET /v3/limits`.
#[derive(Debug, Default, Clone)]
pub struct LimitFilter {
    pub service_id: Option<String>,
    pub region_id: Option<String>,
    pub resource_name: Option<String>,
    pub project_id: Option<String>,
    pub domain_id: Option<String>,
}

fn opt(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.is_empty())
}

fn int(r: &AnyRow, c: &str) -> i64 {
    r.try_get::<i64, _>(c).unwrap_or(0)
}

fn registered(r: &AnyRow) -> RegisteredLimit {
    RegisteredLimit {
        id: s(r, "id"),
        service_id: s(r, "service_id"),
        region_id: opt(os(r, "region_id")),
        resource_name: s(r, "resource_name"),
        default_limit: int(r, "default_limit"),
        description: os(r, "description"),
    }
}

fn limit(r: &AnyRow) -> Limit {
    Limit {
        id: s(r, "id"),
        registered_limit_id: s(r, "registered_limit_id"),
        project_id: opt(os(r, "project_id")),
        domain_id: opt(os(r, "domain_id")),
        resource_limit: int(r, "resource_limit"),
        description: os(r, "description"),
        service_id: s(r, "service_id"),
        region_id: opt(os(r, "region_id")),
        resource_name: s(r, "resource_name"),
    }
}

fn conflict(kind: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| {
        if rustack_db::is_unique_violation(&e) {
            Error::conflict(format!("Conflict occurred attempting to store {kind} - Duplicate entry."))
        } else {
            Error::internal(&e)
        }
    }
}

const LIMIT_SELECT: &str =
    "SELECT l.id AS id, l.registered_limit_id AS registered_limit_id, l.project_id AS project_id, \
     l.domain_id AS domain_id, l.resource_limit AS resource_limit, l.description AS description, \
     r.service_id AS service_id, r.region_id AS region_id, r.resource_name AS resource_name \
     FROM identity_limit l JOIN identity_registered_limit r ON r.id = l.registered_limit_id";

impl Store {
    /// Creates registered limits, all or none.
    pub async fn create_registered_limits(&self, items: &[RegisteredLimit]) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        for r in items {
            sqlx::query(
                "INSERT INTO identity_registered_limit (id, service_id, region_id, resource_name, default_limit, description) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&r.id)
            .bind(&r.service_id)
            .bind(r.region_id.clone().unwrap_or_default())
            .bind(&r.resource_name)
            .bind(r.default_limit)
            .bind(r.description.clone())
            .execute(&mut *w.tx)
            .await
            .map_err(conflict("registered_limit"))?;
        }
        w.commit().await.map_err(db_err)
    }

    pub async fn get_registered_limit(&self, id: &str) -> Result<Option<RegisteredLimit>, Error> {
        self.fetch_opt("SELECT * FROM identity_registered_limit WHERE id = $1", &[id], registered).await
    }

    pub async fn list_registered_limits(&self, f: &LimitFilter) -> Result<Vec<RegisteredLimit>, Error> {
        let mut q = Select::new("SELECT * FROM identity_registered_limit");
        q.eq_opt("service_id", f.service_id.as_deref())
            .eq_opt("region_id", f.region_id.as_deref())
            .eq_opt("resource_name", f.resource_name.as_deref());
        q.order("service_id, resource_name, region_id, id");
        Ok(q.fetch(&self.db).await?.iter().map(registered).collect())
    }

    /// The registered limit of a service's resource in a region (or in none).
    pub async fn find_registered_limit(
        &self,
        service_id: &str,
        region_id: Option<&str>,
        resource_name: &str,
    ) -> Result<Option<RegisteredLimit>, Error> {
        let r = sqlx::query(
            "SELECT * FROM identity_registered_limit WHERE service_id = $1 AND region_id = $2 AND resource_name = $3",
        )
        .bind(service_id)
        .bind(region_id.unwrap_or_default().to_string())
        .bind(resource_name)
        .fetch_optional(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(r.as_ref().map(registered))
    }

    pub async fn update_registered_limit(&self, r: &RegisteredLimit) -> Result<(), Error> {
        sqlx::query(
            "UPDATE identity_registered_limit SET service_id = $2, region_id = $3, resource_name = $4, default_limit = $5, \
             description = $6 WHERE id = $1",
        )
        .bind(&r.id)
        .bind(&r.service_id)
        .bind(r.region_id.clone().unwrap_or_default())
        .bind(&r.resource_name)
        .bind(r.default_limit)
        .bind(r.description.clone())
        .execute(self.db.pool())
        .await
        .map_err(conflict("registered_limit"))?;
        Ok(())
    }

    /// Whether any limit overrides this registered limit.
    pub async fn registered_limit_in_use(&self, id: &str) -> Result<bool, Error> {
        self.exists("SELECT id FROM identity_limit WHERE registered_limit_id = $1", &[id]).await
    }

    pub async fn delete_registered_limit(&self, id: &str) -> Result<bool, Error> {
        Ok(self.execute("DELETE FROM identity_registered_limit WHERE id = $1", &[id]).await? > 0)
    }

    /// Creates limits, all or none.
    pub async fn create_limits(&self, items: &[Limit]) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        for l in items {
            sqlx::query(
                "INSERT INTO identity_limit (id, registered_limit_id, project_id, domain_id, resource_limit, description) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&l.id)
            .bind(&l.registered_limit_id)
            .bind(l.project_id.clone().unwrap_or_default())
            .bind(l.domain_id.clone().unwrap_or_default())
            .bind(l.resource_limit)
            .bind(l.description.clone())
            .execute(&mut *w.tx)
            .await
            .map_err(conflict("limit"))?;
        }
        w.commit().await.map_err(db_err)
    }

    pub async fn get_limit(&self, id: &str) -> Result<Option<Limit>, Error> {
        let r = sqlx::query(&format!("{LIMIT_SELECT} WHERE l.id = $1"))
            .bind(id)
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(r.as_ref().map(limit))
    }

    pub async fn list_limits(&self, f: &LimitFilter) -> Result<Vec<Limit>, Error> {
        let mut q = Select::new(LIMIT_SELECT);
        q.eq_opt("r.service_id", f.service_id.as_deref())
            .eq_opt("r.region_id", f.region_id.as_deref())
            .eq_opt("r.resource_name", f.resource_name.as_deref())
            .eq_opt("l.project_id", f.project_id.as_deref())
            .eq_opt("l.domain_id", f.domain_id.as_deref());
        q.order("r.service_id, r.resource_name, l.project_id, l.domain_id, l.id");
        Ok(q.fetch(&self.db).await?.iter().map(limit).collect())
    }

    pub async fn update_limit(&self, l: &Limit) -> Result<(), Error> {
        sqlx::query("UPDATE identity_limit SET resource_limit = $2, description = $3 WHERE id = $1")
            .bind(&l.id)
            .bind(l.resource_limit)
            .bind(l.description.clone())
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn delete_limit(&self, id: &str) -> Result<bool, Error> {
        Ok(self.execute("DELETE FROM identity_limit WHERE id = $1", &[id]).await? > 0)
    }
}

impl Identity {
    /// The limit of `resource_name` of a service (its id or its type) that
    /// applies to a project, Keystone's flat model: the project's own limit,
    /// else the registered default. A registered limit without a region is
    /// preferred over regional ones. `Ok(None)` when nothing is registered.
    pub async fn limit_for(&self, project_id: &str, service: &str, resource_name: &str) -> Result<Option<i64>, Error> {
        let store = self.store();
        let mut service_ids: Vec<String> = Vec::new();
        if store.get_service(service).await?.is_some() {
            service_ids.push(service.to_string());
        }
        service_ids.extend(store.list_services(Some(service), None).await?.into_iter().map(|s| s.id));
        for sid in service_ids {
            let f = LimitFilter {
                service_id: Some(sid.clone()),
                resource_name: Some(resource_name.to_string()),
                ..Default::default()
            };
            let mut regs = store.list_registered_limits(&f).await?;
            // region-less first
            regs.sort_by_key(|r| r.region_id.is_some());
            let Some(reg) = regs.first() else { continue };
            let own = LimitFilter { project_id: Some(project_id.to_string()), ..Default::default() };
            let overrides = store.list_limits(&own).await?;
            if let Some(l) = overrides.iter().find(|l| l.registered_limit_id == reg.id) {
                return Ok(Some(l.resource_limit));
            }
            return Ok(Some(reg.default_limit));
        }
        Ok(None)
    }
}
