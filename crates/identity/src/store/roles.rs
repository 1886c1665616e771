//! Roles and implied roles.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};

use super::{db_err, extra, extra_text, os, s, Arg, Select, Store};
use crate::model::Role;

fn role(r: &AnyRow) -> Role {
    let d = s(r, "domain_id");
    Role {
        id: s(r, "id"),
        name: s(r, "name"),
        domain_id: (!d.is_empty()).then_some(d),
        description: os(r, "description"),
        extra: extra(r),
    }
}

impl Store {
    pub async fn create_role(&self, r: &Role) -> Result<(), Error> {
        sqlx::query("INSERT INTO identity_role (id, name, domain_id, description, extra) VALUES ($1, $2, $3, $4, $5)")
            .bind(&r.id)
            .bind(&r.name)
            .bind(r.domain_id.clone().unwrap_or_default())
            .bind(&r.description)
            .bind(extra_text(&r.extra))
            .execute(self.db.pool())
            .await
            .map_err(super::duplicate("role", &r.name))?;
        Ok(())
    }

    pub async fn get_role(&self, id: &str) -> Result<Option<Role>, Error> {
        self.fetch_opt("SELECT * FROM identity_role WHERE id = $1", &[id], role).await
    }

    /// A global role (domain_id None) or a domain's role by name.
    pub async fn get_role_by_name(&self, name: &str, domain_id: Option<&str>) -> Result<Option<Role>, Error> {
        let r = sqlx::query("SELECT * FROM identity_role WHERE name = $1 AND domain_id = $2")
            .bind(name)
            .bind(domain_id.unwrap_or(""))
            .fetch_optional(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(r.as_ref().map(role))
    }

    /// Lists global roles, or one domain's roles when `domain_id` is given.
    pub async fn list_roles(&self, name: Option<&str>, domain_id: Option<&str>) -> Result<Vec<Role>, Error> {
        let mut q = Select::new("SELECT * FROM identity_role");
        q.eq_opt("name", name).eq("domain_id", Arg::Text(domain_id.unwrap_or("").to_string())).order("name");
        Ok(q.fetch(&self.db).await?.iter().map(role).collect())
    }

    pub async fn all_roles(&self) -> Result<Vec<Role>, Error> {
        let rows = sqlx::query("SELECT * FROM identity_role").fetch_all(self.db.pool()).await.map_err(db_err)?;
        Ok(rows.iter().map(role).collect())
    }

    pub async fn update_role(&self, r: &Role) -> Result<(), Error> {
        sqlx::query("UPDATE identity_role SET name = $2, description = $3, extra = $4 WHERE id = $1")
            .bind(&r.id)
            .bind(&r.name)
            .bind(&r.description)
            .bind(extra_text(&r.extra))
            .execute(self.db.pool())
            .await
            .map_err(super::duplicate("role", &r.name))?;
        Ok(())
    }

    pub async fn delete_role(&self, id: &str) -> Result<(), Error> {
        self.delete_in_tx(
            &[
                "DELETE FROM identity_assignment WHERE role_id = $1",
                "DELETE FROM identity_implied_role WHERE prior_role_id = $1 OR implied_role_id = $1",
                "DELETE FROM identity_app_cred_role WHERE role_id = $1",
                "DELETE FROM identity_role WHERE id = $1",
            ],
            id,
        )
        .await
    }

    pub async fn add_implied_role(&self, prior: &str, implied: &str) -> Result<(), Error> {
        sqlx::query("INSERT INTO identity_implied_role (prior_role_id, implied_role_id) VALUES ($1, $2)")
            .bind(prior)
            .bind(implied)
            .execute(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    pub async fn remove_implied_role(&self, prior: &str, implied: &str) -> Result<bool, Error> {
        Ok(self
            .execute(
                "DELETE FROM identity_implied_role WHERE prior_role_id = $1 AND implied_role_id = $2",
                &[prior, implied],
            )
            .await?
            > 0)
    }

    /// Every (prior, implied) pair.
    pub async fn implied_roles(&self) -> Result<Vec<(String, String)>, Error> {
        let rows = sqlx::query("SELECT prior_role_id, implied_role_id FROM identity_implied_role")
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(|r| (s(r, "prior_role_id"), s(r, "implied_role_id"))).collect())
    }
}
