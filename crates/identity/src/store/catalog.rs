//! Regions, services and endpoints: the service catalog.

use rustack_common::Error;
use rustack_db::sqlx::any::{AnyArguments, AnyRow};
use rustack_db::sqlx::query::Query;
use rustack_db::sqlx::{self, Any};

use super::{b, db_err, extra, extra_text, int, os, s, Select, Store};
use crate::model::{Endpoint, Region, Service};

/// Binds an entity's columns in the order its INSERT and UPDATE both use.
trait BindEntity<'q> {
    fn bind_service(self, sv: &'q Service) -> Self;
    fn bind_endpoint(self, e: &'q Endpoint) -> Self;
}

impl<'q> BindEntity<'q> for Query<'q, Any, AnyArguments<'q>> {
    fn bind_service(self, sv: &'q Service) -> Self {
        self.bind(&sv.id)
            .bind(&sv.service_type)
            .bind(&sv.name)
            .bind(&sv.description)
            .bind(int(sv.enabled))
            .bind(extra_text(&sv.extra))
    }

    fn bind_endpoint(self, e: &'q Endpoint) -> Self {
        self.bind(&e.id)
            .bind(&e.service_id)
            .bind(&e.interface)
            .bind(&e.region_id)
            .bind(&e.url)
            .bind(int(e.enabled))
            .bind(extra_text(&e.extra))
    }
}

fn region(r: &AnyRow) -> Region {
    Region {
        id: s(r, "id"),
        description: s(r, "description"),
        parent_region_id: os(r, "parent_region_id"),
        extra: extra(r),
    }
}

fn service(r: &AnyRow) -> Service {
    Service {
        id: s(r, "id"),
        service_type: s(r, "type"),
        name: s(r, "name"),
        description: os(r, "description"),
        enabled: b(r, "enabled"),
        extra: extra(r),
    }
}

fn endpoint(r: &AnyRow) -> Endpoint {
    Endpoint {
        id: s(r, "id"),
        service_id: s(r, "service_id"),
        interface: s(r, "interface"),
        region_id: os(r, "region_id"),
        url: s(r, "url"),
        enabled: b(r, "enabled"),
        extra: extra(r),
    }
}

impl Store {
    pub async fn create_region(&self, r: &Region) -> Result<(), Error> {
        sqlx::query("INSERT INTO identity_region (id, description, parent_region_id, extra) VALUES ($1, $2, $3, $4)")
            .bind(&r.id)
            .bind(&r.description)
            .bind(&r.parent_region_id)
            .bind(extra_text(&r.extra))
            .execute(self.db.pool())
            .await
            .map_err(|e| {
                if rustack_db::is_unique_violation(&e) {
                    Error::conflict(format!("Conflict occurred attempting to store region - Duplicate ID, {}.", r.id))
                } else {
                    db_err(e)
                }
            })?;
        Ok(())
    }

    pub async fn get_region(&self, id: &str) -> Result<Option<Region>, Error> {
        self.fetch_opt("SELECT * FROM identity_region WHERE id = $1", &[id], region).await
    }

    pub async fn list_regions(&self, parent_region_id: Option<&str>) -> Result<Vec<Region>, Error> {
        let mut q = Select::new("SELECT * FROM identity_region");
        q.eq_opt("parent_region_id", parent_region_id).order("id");
        Ok(q.fetch(&self.db).await?.iter().map(region).collect())
    }

    pub async fn update_region(&self, r: &Region) -> Result<(), Error> {
        sqlx::query("UPDATE identity_region SET description = $2, parent_region_id = $3, extra = $4 WHERE id = $1")
            .bind(&r.id)
            .bind(&r.description)
            .bind(&r.parent_region_id)
            .bind(extra_text(&r.extra))
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn delete_region(&self, id: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM identity_region WHERE id = $1")
            .bind(id)
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Deletes regions in one transaction, in the order given (children first).
    pub async fn delete_regions(&self, ids: &[String]) -> Result<(), Error> {
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        for id in ids {
            sqlx::query("DELETE FROM identity_region WHERE id = $1")
                .bind(id)
                .execute(&mut *w.tx)
                .await
                .map_err(db_err)?;
        }
        w.commit().await.map_err(db_err)
    }

    pub async fn create_service(&self, sv: &Service) -> Result<(), Error> {
        sqlx::query("INSERT INTO identity_service (id, type, name, description, enabled, extra) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind_service(sv)
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn get_service(&self, id: &str) -> Result<Option<Service>, Error> {
        self.fetch_opt("SELECT * FROM identity_service WHERE id = $1", &[id], service).await
    }

    pub async fn list_services(&self, service_type: Option<&str>, name: Option<&str>) -> Result<Vec<Service>, Error> {
        let mut q = Select::new("SELECT * FROM identity_service");
        q.eq_opt("type", service_type).eq_opt("name", name).order("type, name");
        Ok(q.fetch(&self.db).await?.iter().map(service).collect())
    }

    pub async fn update_service(&self, sv: &Service) -> Result<(), Error> {
        sqlx::query("UPDATE identity_service SET type = $2, name = $3, description = $4, enabled = $5, extra = $6 WHERE id = $1")
            .bind_service(sv)
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// Deletes a service and its endpoints.
    pub async fn delete_service(&self, id: &str) -> Result<(), Error> {
        self.delete_in_tx(
            &[
            "DELETE FROM identity_project_endpoint WHERE endpoint_id IN (SELECT id FROM identity_endpoint WHERE service_id = $1)",
            "DELETE FROM identity_endpoint WHERE service_id = $1",
            "DELETE FROM identity_service WHERE id = $1",
            ],
            id,
        )
        .await
    }

    pub async fn create_endpoint(&self, e: &Endpoint) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO identity_endpoint (id, service_id, interface, region_id, url, enabled, extra) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind_endpoint(e)
        .execute(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    pub async fn get_endpoint(&self, id: &str) -> Result<Option<Endpoint>, Error> {
        self.fetch_opt("SELECT * FROM identity_endpoint WHERE id = $1", &[id], endpoint).await
    }

    pub async fn list_endpoints(
        &self,
        interface: Option<&str>,
        service_id: Option<&str>,
        region_id: Option<&str>,
    ) -> Result<Vec<Endpoint>, Error> {
        let mut q = Select::new("SELECT * FROM identity_endpoint");
        q.eq_opt("interface", interface).eq_opt("service_id", service_id).eq_opt("region_id", region_id).order("id");
        Ok(q.fetch(&self.db).await?.iter().map(endpoint).collect())
    }

    pub async fn update_endpoint(&self, e: &Endpoint) -> Result<(), Error> {
        sqlx::query(
            "UPDATE identity_endpoint SET service_id = $2, interface = $3, region_id = $4, url = $5, enabled = $6, extra = $7 WHERE id = $1",
        )
        .bind_endpoint(e)
        .execute(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// Deletes an endpoint and its project associations.
    pub async fn delete_endpoint(&self, id: &str) -> Result<(), Error> {
        self.delete_in_tx(
            &[
                "DELETE FROM identity_project_endpoint WHERE endpoint_id = $1",
                "DELETE FROM identity_endpoint WHERE id = $1",
            ],
            id,
        )
        .await
    }
}
