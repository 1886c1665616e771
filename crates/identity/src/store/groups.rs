//! Groups and their members.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};

use super::{db_err, duplicate, extra, extra_text, os, s, Select, Store};
use crate::model::{Group, User};

fn group(r: &AnyRow) -> Group {
    Group {
        id: s(r, "id"),
        name: s(r, "name"),
        domain_id: s(r, "domain_id"),
        description: os(r, "description"),
        extra: extra(r),
    }
}

impl Store {
    pub async fn create_group(&self, g: &Group) -> Result<(), Error> {
        sqlx::query("INSERT INTO identity_group (id, name, domain_id, description, extra) VALUES ($1, $2, $3, $4, $5)")
            .bind(&g.id)
            .bind(&g.name)
            .bind(&g.domain_id)
            .bind(&g.description)
            .bind(extra_text(&g.extra))
            .execute(self.db.pool())
            .await
            .map_err(duplicate("group", &g.name))?;
        Ok(())
    }

    pub async fn get_group(&self, id: &str) -> Result<Option<Group>, Error> {
        self.fetch_opt("SELECT * FROM identity_group WHERE id = $1", &[id], group).await
    }

    pub async fn list_groups(&self, name: Option<&str>, domain_id: Option<&str>) -> Result<Vec<Group>, Error> {
        let mut q = Select::new("SELECT * FROM identity_group");
        q.eq_opt("name", name).eq_opt("domain_id", domain_id).order("name");
        Ok(q.fetch(&self.db).await?.iter().map(group).collect())
    }

    pub async fn update_group(&self, g: &Group) -> Result<(), Error> {
        sqlx::query("UPDATE identity_group SET name = $2, description = $3, extra = $4 WHERE id = $1")
            .bind(&g.id)
            .bind(&g.name)
            .bind(&g.description)
            .bind(extra_text(&g.extra))
            .execute(self.db.pool())
            .await
            .map_err(duplicate("group", &g.name))?;
        Ok(())
    }

    pub async fn delete_group(&self, id: &str) -> Result<(), Error> {
        self.delete_in_tx(
            &[
                "DELETE FROM identity_assignment WHERE actor_id = $1",
                "DELETE FROM identity_group_member WHERE group_id = $1",
                "DELETE FROM identity_group WHERE id = $1",
            ],
            id,
        )
        .await
    }

    /// Adds a member; adding one twice is not an error (Keystone answers 204).
    pub async fn add_group_member(&self, group_id: &str, user_id: &str) -> Result<(), Error> {
        if self.is_group_member(group_id, user_id).await? {
            return Ok(());
        }
        sqlx::query("INSERT INTO identity_group_member (group_id, user_id) VALUES ($1, $2)")
            .bind(group_id)
            .bind(user_id)
            .execute(self.db.pool())
            .await
            .map(|_| ())
            .or_else(|e| if rustack_db::is_unique_violation(&e) { Ok(()) } else { Err(db_err(e)) })
    }

    pub async fn remove_group_member(&self, group_id: &str, user_id: &str) -> Result<bool, Error> {
        Ok(self
            .execute("DELETE FROM identity_group_member WHERE group_id = $1 AND user_id = $2", &[group_id, user_id])
            .await?
            > 0)
    }

    pub async fn is_group_member(&self, group_id: &str, user_id: &str) -> Result<bool, Error> {
        self.exists("SELECT 1 FROM identity_group_member WHERE group_id = $1 AND user_id = $2", &[group_id, user_id])
            .await
    }

    pub async fn groups_of_user(&self, user_id: &str) -> Result<Vec<Group>, Error> {
        let rows = sqlx::query(
            "SELECT g.* FROM identity_group g JOIN identity_group_member m ON m.group_id = g.id \
             WHERE m.user_id = $1 ORDER BY g.name",
        )
        .bind(user_id)
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(rows.iter().map(group).collect())
    }

    pub async fn users_of_group(&self, group_id: &str) -> Result<Vec<User>, Error> {
        let rows = sqlx::query(
            "SELECT u.* FROM identity_user u JOIN identity_group_member m ON m.user_id = u.id \
             WHERE m.group_id = $1 ORDER BY u.name",
        )
        .bind(group_id)
        .fetch_all(self.db.pool())
        .await
        .map_err(db_err)?;
        Ok(rows.iter().map(super::users::user).collect())
    }
}
