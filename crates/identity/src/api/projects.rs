//! `/v3/projects` (a project with `is_domain: true` is a domain, as in Keystone).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::{new_id, Error};
use rustack_http::context::Scope;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use rustack_policy::Target;
use serde_json::Value;

use super::body::Body;
use super::{created, domains, list_response, no_content, ok, query_bool, Query};
use crate::bootstrap::DEFAULT_DOMAIN_ID;
use crate::model::Project;
use crate::store::RevocationEvent;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/projects", get(list).post(create))
        .route("/v3/projects/{project_id}", get(show).patch(update).delete(delete))
}

pub(crate) async fn find(id: &Identity, project_id: &str) -> Result<Project, Error> {
    id.store().get_project(project_id).await?.ok_or_else(|| Error::not_found_entity("project", project_id))
}

pub(crate) fn target(p: &Project) -> Target {
    Target::new()
        .with("target.project.id", p.id.as_str())
        .with("target.project.domain_id", p.domain_id.as_str())
        .with("target.project.name", p.name.as_str())
}

/// The domain a new entity goes to when the body names none: the caller's
/// domain scope, else the default domain.
pub(crate) fn default_domain(ctx: &RequestContext) -> String {
    match &ctx.scope {
        Scope::Domain { id, .. } => id.clone(),
        _ => DEFAULT_DOMAIN_ID.to_string(),
    }
}

async fn list(State(id): State<Identity>, Authenticated(ctx): Authenticated, q: Query) -> ApiResult<Json<Value>> {
    let t = match q.get("domain_id") {
        Some(d) => Target::new().with("target.domain_id", d.as_str()),
        None => Target::new(),
    };
    id.enforce("identity:list_projects", &ctx, t)?;
    if query_bool(&q, "is_domain") == Some(true) {
        let domains = id.store().list_domains(q.get("name").map(String::as_str), query_bool(&q, "enabled")).await?;
        let items = domains.iter().map(|d| d.as_project_json(id.public_url())).collect();
        return Ok(list_response(&id, "projects", "projects", &q, items));
    }
    let mut domain_filter = q.get("domain_id").cloned();
    if let Scope::Domain { id: did, .. } = &ctx.scope {
        domain_filter = Some(did.clone());
    }
    let f = crate::store::projects::ProjectFilter {
        name: q.get("name").map(String::as_str),
        domain_id: domain_filter.as_deref(),
        parent_id: q.get("parent_id").map(String::as_str),
        enabled: query_bool(&q, "enabled"),
        ids: None,
    };
    let projects = id.store().list_projects(&f).await?;
    let items = projects
        .iter()
        .filter(|p| crate::store::inexact_match("name", &p.name, &q))
        .map(|p| p.to_json(id.public_url()))
        .collect();
    Ok(list_response(&id, "projects", "projects", &q, items))
}

fn tags(b: &mut Body) -> Result<Option<Value>, Error> {
    match b.take("tags") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => {
            for t in &a {
                match t.as_str() {
                    Some(s) if !s.is_empty() && s.chars().count() <= 255 && !s.contains('/') && !s.contains(',') => {}
                    _ => return Err(Error::bad_request("Invalid input for field 'project.tags': each tag is a string of 1 to 255 characters without '/' or ','.")),
                }
            }
            if a.len() > 80 {
                return Err(Error::bad_request("Invalid input for field 'project.tags': at most 80 tags."));
            }
            Ok(Some(Value::Array(a)))
        }
        Some(_) => Err(Error::bad_request("Invalid input for field 'project.tags': expected a list.")),
    }
}

async fn create(State(id): State<Identity>, Authenticated(ctx): Authenticated, JsonBody(v): JsonBody<Value>) -> ApiResult<Response> {
    let mut b = Body::new(v, "project")?;
    if b.boolean("is_domain", true)? == Some(true) {
        id.enforce("identity:create_domain", &ctx, Target::new())?;
        b.take("domain_id");
        b.take("parent_id");
        let d = domains::create_from(&id, &mut b).await?;
        return Ok(created("project", d.as_project_json(id.public_url())));
    }
    let name = b.name("name", 64, true)?.expect("required");
    let parent_id = b.id("parent_id")?;
    let parent = match &parent_id {
        Some(pid) => Some(id.store().get_project(pid).await?.ok_or_else(|| Error::not_found_entity("project", pid))?),
        None => None,
    };
    let domain_id = match (b.id("domain_id")?, &parent) {
        (Some(d), Some(p)) if d != p.domain_id => {
            return Err(Error::bad_request("Invalid input for field 'project.domain_id': it must be the parent's domain.").into())
        }
        (Some(d), _) => d,
        (None, Some(p)) => p.domain_id.clone(),
        (None, None) => default_domain(&ctx),
    };
    let mut p = Project {
        id: new_id(),
        name,
        domain_id,
        parent_id: parent.map(|p| p.id),
        description: b.string("description", 65535, true)?.unwrap_or_default(),
        enabled: b.boolean("enabled", true)?.unwrap_or(true),
        extra: Default::default(),
    };
    let tags = tags(&mut b)?;
    b.forbid("id")?;
    p.extra = b.extra();
    if let Some(t) = tags {
        p.extra.insert("tags".into(), t);
    }
    id.enforce("identity:create_project", &ctx, target(&p))?;
    id.store().get_domain(&p.domain_id).await?.ok_or_else(|| Error::not_found_entity("domain", &p.domain_id))?;
    id.store().create_project(&p).await?;
    Ok(created("project", p.to_json(id.public_url())))
}

async fn show(State(id): State<Identity>, Authenticated(ctx): Authenticated, Path(pid): Path<String>) -> ApiResult<Response> {
    if let Some(d) = id.store().get_project(&pid).await? {
        id.enforce("identity:get_project", &ctx, target(&d))?;
        return Ok(ok("project", d.to_json(id.public_url())));
    }
    let d = id.store().get_domain(&pid).await?.ok_or_else(|| Error::not_found_entity("project", &pid))?;
    id.enforce("identity:get_domain", &ctx, Target::new().with("target.domain.id", d.id.as_str()))?;
    Ok(ok("project", d.as_project_json(id.public_url())))
}

async fn update(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(pid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut b = Body::new(v, "project")?;
    let Some(mut p) = id.store().get_project(&pid).await? else {
        let d = domains::find(&id, &pid).await.map_err(|_| Error::not_found_entity("project", &pid))?;
        id.enforce("identity:update_domain", &ctx, Target::new().with("target.domain.id", d.id.as_str()))?;
        b.take("is_domain");
        b.take("id");
        let d = domains::update_from(&id, d, &mut b).await?;
        return Ok(ok("project", d.as_project_json(id.public_url())));
    };
    id.enforce("identity:update_project", &ctx, target(&p))?;
    if let Some(Value::String(bid)) = b.take("id") {
        if bid != p.id {
            return Err(Error::bad_request("Invalid input for field 'project.id': the id cannot be changed.").into());
        }
    }
    for fixed in ["domain_id", "parent_id", "is_domain"] {
        if let Some(v) = b.take(fixed) {
            let same = match fixed {
                "domain_id" => v.as_str() == Some(p.domain_id.as_str()),
                "parent_id" => v.as_str() == Some(p.parent_id.as_deref().unwrap_or(&p.domain_id)),
                _ => v == Value::Bool(false),
            };
            if !same {
                return Err(Error::bad_request(format!("Invalid input for field 'project.{fixed}': it cannot be changed.")).into());
            }
        }
    }
    if let Some(n) = b.name("name", 64, false)? {
        p.name = n;
    }
    if let Some(d) = b.string("description", 65535, true)? {
        p.description = d;
    }
    let was_enabled = p.enabled;
    if let Some(e) = b.boolean("enabled", true)? {
        p.enabled = e;
    }
    let tags = tags(&mut b)?;
    for (k, v) in b.extra() {
        p.extra.insert(k, v);
    }
    if let Some(t) = tags {
        p.extra.insert("tags".into(), t);
    }
    id.store().update_project(&p).await?;
    if was_enabled && !p.enabled {
        id.revoke(RevocationEvent { project_id: Some(p.id.clone()), ..Default::default() }).await?;
    }
    id.changed();
    Ok(ok("project", p.to_json(id.public_url())))
}

async fn delete(State(id): State<Identity>, Authenticated(ctx): Authenticated, Path(pid): Path<String>) -> ApiResult<Response> {
    let Some(p) = id.store().get_project(&pid).await? else {
        let d = domains::find(&id, &pid).await.map_err(|_| Error::not_found_entity("project", &pid))?;
        id.enforce("identity:delete_domain", &ctx, Target::new().with("target.domain.id", d.id.as_str()))?;
        domains::delete_domain(&id, &d).await?;
        return Ok(no_content());
    };
    id.enforce("identity:delete_project", &ctx, target(&p))?;
    if !id.store().project_children(&p.id).await?.is_empty() {
        return Err(Error::forbidden(format!(
            "Cannot delete the project {} since it is not a leaf in the hierarchy. Use the cascade option if you want to delete a subtree.",
            p.id
        ))
        .into());
    }
    id.store().delete_project(&p.id).await?;
    id.revoke(RevocationEvent { project_id: Some(p.id.clone()), ..Default::default() }).await?;
    Ok(no_content())
}
