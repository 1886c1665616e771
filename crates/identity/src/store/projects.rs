//! Domains and projects.

use rustack_common::Error;
use rustack_db::sqlx::{self, any::AnyRow};

use super::{b, db_err, duplicate, extra, extra_text, int, os, s, Arg, Select, Store};
use crate::model::{Domain, Project};

fn domain(r: &AnyRow) -> Domain {
    Domain {
        id: s(r, "id"),
        name: s(r, "name"),
        description: s(r, "description"),
        enabled: b(r, "enabled"),
        extra: extra(r),
    }
}

fn project(r: &AnyRow) -> Project {
    Project {
        id: s(r, "id"),
        name: s(r, "name"),
        domain_id: s(r, "domain_id"),
        parent_id: os(r, "parent_id"),
        description: s(r, "description"),
        enabled: b(r, "enabled"),
        extra: extra(r),
    }
}

/// Filters of `GET /v3/projects`.
#[derive(Debug, Default)]
pub struct ProjectFilter<'a> {
    pub name: Option<&'a str>,
    pub domain_id: Option<&'a str>,
    pub parent_id: Option<&'a str>,
    pub enabled: Option<bool>,
    pub ids: Option<&'a [String]>,
}

impl Store {
    pub async fn create_domain(&self, d: &Domain) -> Result<(), Error> {
        sqlx::query("INSERT INTO identity_domain (id, name, description, enabled, extra) VALUES ($1, $2, $3, $4, $5)")
            .bind(&d.id)
            .bind(&d.name)
            .bind(&d.description)
            .bind(int(d.enabled))
            .bind(extra_text(&d.extra))
            .execute(self.db.pool())
            .await
            .map_err(duplicate("domain", &d.name))?;
        Ok(())
    }

    pub async fn get_domain(&self, id: &str) -> Result<Option<Domain>, Error> {
        self.fetch_opt("SELECT * FROM identity_domain WHERE id = $1", &[id], domain).await
    }

    pub async fn get_domain_by_name(&self, name: &str) -> Result<Option<Domain>, Error> {
        self.fetch_opt("SELECT * FROM identity_domain WHERE name = $1", &[name], domain).await
    }

    pub async fn list_domains(&self, name: Option<&str>, enabled: Option<bool>) -> Result<Vec<Domain>, Error> {
        let mut q = Select::new("SELECT * FROM identity_domain");
        q.eq_opt("name", name);
        if let Some(e) = enabled {
            q.eq("enabled", Arg::Int(int(e)));
        }
        q.order("name");
        Ok(q.fetch(&self.db).await?.iter().map(domain).collect())
    }

    pub async fn update_domain(&self, d: &Domain) -> Result<(), Error> {
        sqlx::query("UPDATE identity_domain SET name = $2, description = $3, enabled = $4, extra = $5 WHERE id = $1")
            .bind(&d.id)
            .bind(&d.name)
            .bind(&d.description)
            .bind(int(d.enabled))
            .bind(extra_text(&d.extra))
            .execute(self.db.pool())
            .await
            .map_err(duplicate("domain", &d.name))?;
        Ok(())
    }

    /// Deletes a domain with everything in it: projects, users, groups,
    /// domain-specific roles and the role assignments on or of them.
    pub async fn delete_domain(&self, id: &str) -> Result<(), Error> {
        let _changed = self.users_changed(); // users go with a domain; default projects are cleared
        let mut w = self.db.begin_write().await.map_err(db_err)?;
        let stmts = [
            // assignments on the domain, on its projects, of its users and groups
            "DELETE FROM identity_limit WHERE domain_id = $1 \
             OR project_id IN (SELECT id FROM identity_project WHERE domain_id = $1)",
            "DELETE FROM identity_domain_config WHERE domain_id = $1",
            "DELETE FROM identity_assignment WHERE target_id = $1 \
             OR target_id IN (SELECT id FROM identity_project WHERE domain_id = $1) \
             OR actor_id IN (SELECT id FROM identity_user WHERE domain_id = $1) \
             OR actor_id IN (SELECT id FROM identity_group WHERE domain_id = $1) \
             OR role_id IN (SELECT id FROM identity_role WHERE domain_id = $1)",
            "DELETE FROM identity_app_cred WHERE project_id IN (SELECT id FROM identity_project WHERE domain_id = $1)",
            // what hangs off its users and projects (credentials, OAuth tokens, endpoint filters)
            "DELETE FROM identity_credential WHERE user_id IN (SELECT id FROM identity_user WHERE domain_id = $1) \
             OR project_id IN (SELECT id FROM identity_project WHERE domain_id = $1)",
            "DELETE FROM identity_oauth_request_token WHERE authorizing_user_id IN (SELECT id FROM identity_user WHERE domain_id = $1)",
            "DELETE FROM identity_oauth_access_token WHERE authorizing_user_id IN (SELECT id FROM identity_user WHERE domain_id = $1)",
            "DELETE FROM identity_project_endpoint WHERE project_id IN (SELECT id FROM identity_project WHERE domain_id = $1)",
            "DELETE FROM identity_project_endpoint_group WHERE project_id IN (SELECT id FROM identity_project WHERE domain_id = $1)",
            "DELETE FROM identity_role WHERE domain_id = $1",
            "DELETE FROM identity_group WHERE domain_id = $1",
            "DELETE FROM identity_user WHERE domain_id = $1",
            // children before parents: clear parent links inside the domain first
            "UPDATE identity_project SET parent_id = NULL WHERE domain_id = $1",
            "DELETE FROM identity_project WHERE domain_id = $1",
            "DELETE FROM identity_domain WHERE id = $1",
        ];
        for st in stmts {
            sqlx::query(st).bind(id).execute(&mut *w.tx).await.map_err(db_err)?;
        }
        w.commit().await.map_err(db_err)
    }

    pub async fn create_project(&self, p: &Project) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO identity_project (id, name, domain_id, parent_id, description, enabled, extra) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&p.id)
        .bind(&p.name)
        .bind(&p.domain_id)
        .bind(&p.parent_id)
        .bind(&p.description)
        .bind(int(p.enabled))
        .bind(extra_text(&p.extra))
        .execute(self.db.pool())
        .await
        .map_err(duplicate("project", &p.name))?;
        Ok(())
    }

    pub async fn get_project(&self, id: &str) -> Result<Option<Project>, Error> {
        self.fetch_opt("SELECT * FROM identity_project WHERE id = $1", &[id], project).await
    }

    pub async fn get_project_by_name(&self, domain_id: &str, name: &str) -> Result<Option<Project>, Error> {
        self.fetch_opt("SELECT * FROM identity_project WHERE domain_id = $1 AND name = $2", &[domain_id, name], project)
            .await
    }

    pub async fn list_projects(&self, f: &ProjectFilter<'_>) -> Result<Vec<Project>, Error> {
        let mut q = Select::new("SELECT * FROM identity_project");
        q.eq_opt("name", f.name).eq_opt("domain_id", f.domain_id);
        if let Some(p) = f.parent_id {
            // a top-level project's parent is its domain
            q.eq("(CASE WHEN parent_id IS NULL THEN domain_id ELSE parent_id END)", Arg::Text(p.to_string()));
        }
        if let Some(e) = f.enabled {
            q.eq("enabled", Arg::Int(int(e)));
        }
        q.order("name");
        let mut v: Vec<Project> = q.fetch(&self.db).await?.iter().map(project).collect();
        if let Some(ids) = f.ids {
            v.retain(|p| ids.contains(&p.id));
        }
        Ok(v)
    }

    pub async fn project_children(&self, id: &str) -> Result<Vec<Project>, Error> {
        let rows = sqlx::query("SELECT * FROM identity_project WHERE parent_id = $1")
            .bind(id)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        Ok(rows.iter().map(project).collect())
    }

    /// The ancestors of a project, its parent first, up to its top-level
    /// project (the domain is not included).
    pub async fn project_ancestors(&self, p: &Project) -> Result<Vec<Project>, Error> {
        let mut out: Vec<Project> = Vec::new();
        let mut next = p.parent_id.clone();
        while let Some(pid) = next {
            if pid == p.id || out.iter().any(|x| x.id == pid) {
                break; // a cycle: never written by this code, but do not loop
            }
            let Some(parent) = self.get_project(&pid).await? else { break };
            next = parent.parent_id.clone();
            out.push(parent);
        }
        Ok(out)
    }

    /// Every project below `p` (not `p` itself), level by level.
    pub async fn project_subtree(&self, p: &Project) -> Result<Vec<Project>, Error> {
        let rows = sqlx::query("SELECT * FROM identity_project WHERE domain_id = $1 ORDER BY name")
            .bind(&p.domain_id)
            .fetch_all(self.db.pool())
            .await
            .map_err(db_err)?;
        let all: Vec<Project> = rows.iter().map(project).collect();
        let mut out: Vec<Project> = Vec::new();
        let mut level = vec![p.id.clone()];
        while !level.is_empty() {
            let children: Vec<Project> = all
                .iter()
                .filter(|c| c.parent_id.as_ref().is_some_and(|pid| level.contains(pid)))
                .filter(|c| c.id != p.id && !out.iter().any(|o| o.id == c.id))
                .cloned()
                .collect();
            level = children.iter().map(|c| c.id.clone()).collect();
            out.extend(children);
        }
        Ok(out)
    }

    pub async fn update_project(&self, p: &Project) -> Result<(), Error> {
        sqlx::query("UPDATE identity_project SET name = $2, description = $3, enabled = $4, extra = $5 WHERE id = $1")
            .bind(&p.id)
            .bind(&p.name)
            .bind(&p.description)
            .bind(int(p.enabled))
            .bind(extra_text(&p.extra))
            .execute(self.db.pool())
            .await
            .map_err(duplicate("project", &p.name))?;
        Ok(())
    }

    /// Deletes a leaf project and the role assignments on it.
    pub async fn delete_project(&self, id: &str) -> Result<(), Error> {
        let _changed = self.users_changed(); // users go with a domain; default projects are cleared
        self.delete_in_tx(
            &[
                "DELETE FROM identity_assignment WHERE target_id = $1",
                "DELETE FROM identity_limit WHERE project_id = $1",
                "UPDATE identity_user SET default_project_id = NULL WHERE default_project_id = $1",
                "DELETE FROM identity_app_cred WHERE project_id = $1",
                "DELETE FROM identity_credential WHERE project_id = $1",
                "DELETE FROM identity_project_endpoint WHERE project_id = $1",
                "DELETE FROM identity_project_endpoint_group WHERE project_id = $1",
                "DELETE FROM identity_project WHERE id = $1",
            ],
            id,
        )
        .await
    }
}
