//! `/v3/users`, the user's own password change, and the user's projects and groups.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use rustack_common::{new_id, Error};
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use rustack_policy::Target;
use serde_json::{json, Value};

use super::body::Body;
use super::{created, list_response, no_content, ok, projects, query_bool, Query};
use crate::model::{TargetKind, User};
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/users", get(list).post(create))
        .route("/v3/users/{user_id}", get(show).patch(update).delete(delete))
        .route("/v3/users/{user_id}/password", post(change_password))
        .route("/v3/users/{user_id}/projects", get(user_projects))
        .route("/v3/users/{user_id}/groups", get(user_groups))
}

pub(crate) async fn find(id: &Identity, user_id: &str) -> Result<User, Error> {
    id.store().get_user(user_id).await?.ok_or_else(|| Error::not_found_entity("user", user_id))
}

pub(crate) fn target(u: &User) -> Target {
    Target::new()
        .with("target.user.id", u.id.as_str())
        .with("target.user.domain_id", u.domain_id.as_str())
        .with("user_id", u.id.as_str())
}

async fn list(State(id): State<Identity>, Authenticated(ctx): Authenticated, q: Query) -> ApiResult<Response> {
    let t = match q.get("domain_id") {
        Some(d) => Target::new().with("target.domain_id", d.as_str()),
        None => Target::new(),
    };
    id.enforce("identity:list_users", &ctx, t)?;
    let domain = ctx.domain_id().map(String::from).or_else(|| q.get("domain_id").cloned());
    let (users, rendered) = id.all_users().await?;
    let (name, enabled) = (q.get("name"), query_bool(&q, "enabled"));
    let items = users
        .iter()
        .zip(rendered.iter())
        .filter(|(u, _)| {
            name.is_none_or(|n| *n == u.name)
                && domain.as_ref().is_none_or(|d| *d == u.domain_id)
                && enabled.is_none_or(|e| e == u.enabled)
                && crate::store::inexact_match("name", &u.name, &q)
        })
        .map(|(_, json)| json.as_str())
        .collect();
    Ok(super::list_response_raw(&id, "users", "users", &q, items))
}

async fn create(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut b = Body::new(v, "user")?;
    let name = b.name("name", 255, true)?.expect("required");
    let domain_id = b.id("domain_id")?.unwrap_or_else(|| projects::default_domain(&ctx));
    let password = b.string("password", usize::MAX, true)?;
    let mut u = User {
        id: new_id(),
        name,
        domain_id,
        enabled: b.boolean("enabled", true)?.unwrap_or(true),
        default_project_id: b.id("default_project_id")?,
        password_hash: None,
        password_expires_at: None,
        extra: Default::default(),
        options: Default::default(),
        security: Default::default(),
    };
    b.forbid("id")?;
    if let Some(o) = b.take("options") {
        u.options = crate::security::merge_user_options(&Default::default(), &o)?;
    }
    u.extra = b.extra();
    id.enforce("identity:create_user", &ctx, target(&u))?;
    id.store().get_domain(&u.domain_id).await?.ok_or_else(|| Error::not_found_entity("domain", &u.domain_id))?;
    check_default_project(&id, u.default_project_id.as_deref()).await?;
    if let Some(pw) = &password {
        id.check_password_rules(pw)?;
        u.password_hash = Some(id.hash_password(pw).await?);
        u.password_expires_at = id.password_expiry(&u, true);
    }
    id.store().create_user(&u).await?;
    Ok(created("user", u.to_json(id.public_url())))
}

/// Keystone accepts any default project id (even one that does not exist
/// yet) except a domain's.
async fn check_default_project(id: &Identity, project_id: Option<&str>) -> Result<(), Error> {
    if let Some(pid) = project_id {
        if id.store().get_domain(pid).await?.is_some() {
            return Err(Error::bad_request(format!("User's default project ID cannot be a domain ID: {pid}")));
        }
    }
    Ok(())
}

async fn show(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<Response> {
    let u = find(&id, &uid).await?;
    id.enforce("identity:get_user", &ctx, target(&u))?;
    Ok(ok("user", u.to_json(id.public_url())))
}

async fn update(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(uid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut u = find(&id, &uid).await?;
    id.enforce("identity:update_user", &ctx, target(&u))?;
    let mut b = Body::new(v, "user")?;
    if let Some(bid) = b.take("id") {
        if bid.as_str() != Some(u.id.as_str()) {
            return Err(Error::bad_request("Invalid input for field 'user.id': the id cannot be changed.").into());
        }
    }
    if let Some(d) = b.take("domain_id") {
        if d.as_str() != Some(u.domain_id.as_str()) {
            return Err(Error::bad_request(
                "Invalid input for field 'user.domain_id': a user cannot move to another domain.",
            )
            .into());
        }
    }
    if let Some(n) = b.name("name", 255, false)? {
        u.name = n;
    }
    let was_enabled = u.enabled;
    if let Some(e) = b.boolean("enabled", true)? {
        u.enabled = e;
    }
    if b.has("default_project_id") {
        u.default_project_id = b.id("default_project_id")?;
        check_default_project(&id, u.default_project_id.as_deref()).await?;
    }
    let password = b.string("password", usize::MAX, true)?;
    if let Some(pw) = &password {
        id.check_password_rules(pw)?;
    }
    if let Some(o) = b.take("options") {
        u.options = crate::security::merge_user_options(&u.options, &o)?;
    }
    for (k, v) in b.extra() {
        u.extra.insert(k, v);
    }
    id.store().update_user(&u).await?;
    if let Some(pw) = &password {
        // an administrator's reset: not held to the history or minimum age
        id.set_user_password(&u, pw, false).await?;
        u = find(&id, &u.id).await?;
    }
    if was_enabled && !u.enabled {
        id.revoke_user_tokens(&u.id).await?;
    }
    id.changed();
    Ok(ok("user", u.to_json(id.public_url())))
}

async fn delete(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(uid): Path<String>,
) -> ApiResult<Response> {
    let u = find(&id, &uid).await?;
    id.enforce("identity:delete_user", &ctx, target(&u))?;
    id.store().delete_user(&u.id).await?;
    id.revoke_user_tokens(&u.id).await?;
    Ok(no_content())
}

/// `POST /v3/users/{id}/password`: the user changes their own password,
/// proving it with the original one. Not policy-checked, as in Keystone.
async fn change_password(
    State(id): State<Identity>,
    Path(uid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut b = Body::new(v, "user")?;
    let original = b.string("original_password", usize::MAX, false)?.ok_or_else(|| {
        Error::bad_request("Invalid input for field 'user': 'original_password' is a required property.")
    })?;
    let new = b
        .string("password", usize::MAX, false)?
        .ok_or_else(|| Error::bad_request("Invalid input for field 'user': 'password' is a required property."))?;
    let u = id
        .store()
        .get_user(&uid)
        .await?
        .ok_or_else(|| Error::unauthorized("The request you have made requires authentication."))?;
    if !u.enabled {
        return Err(Error::unauthorized("The request you have made requires authentication.").into());
    }
    id.check_not_locked(&u)?;
    let ok = match &u.password_hash {
        Some(h) => id.verify_password(&original, h).await?,
        None => false,
    };
    // an expired password may still be used to change it
    id.after_password_check(&u, ok, true).await?;
    id.set_user_password(&u, &new, true).await?;
    Ok(no_content())
}

async fn user_projects(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(uid): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let u = find(&id, &uid).await?;
    id.enforce("identity:list_user_projects", &ctx, target(&u))?;
    let ids = id.scopable_targets(&u.id, TargetKind::Project).await?;
    let f = crate::store::projects::ProjectFilter {
        name: q.get("name").map(String::as_str),
        domain_id: q.get("domain_id").map(String::as_str),
        enabled: query_bool(&q, "enabled"),
        ids: Some(&ids),
        ..Default::default()
    };
    let out = id.store().list_projects(&f).await?.iter().map(|p| p.to_json(id.public_url())).collect();
    Ok(list_response(&id, "projects", &format!("users/{uid}/projects"), &q, out))
}

async fn user_groups(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(uid): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let u = find(&id, &uid).await?;
    id.enforce("identity:list_groups_for_user", &ctx, target(&u))?;
    let items = id
        .store()
        .groups_of_user(&u.id)
        .await?
        .iter()
        .map(|g| {
            let mut v = g.to_json(id.public_url());
            v["membership_expires_at"] = json!(null);
            v
        })
        .collect();
    Ok(list_response(&id, "groups", &format!("users/{uid}/groups"), &q, items))
}

impl Identity {
    /// Every user with its rendered JSON, in name order. On SQLite (one node
    /// owns the database) the list is kept until the users table changes; on
    /// PostgreSQL another node may write it, so it is read every time.
    pub(crate) async fn all_users(&self) -> Result<(Arc<Vec<User>>, Arc<Vec<String>>), Error> {
        let cacheable = self.store().db.backend() == rustack_db::Backend::Sqlite;
        let version = self.store().users_version();
        if cacheable {
            if let Some((v, users, rendered)) = self.inner.users_list.read().unwrap().as_ref() {
                if *v == version {
                    return Ok((users.clone(), rendered.clone()));
                }
            }
        }
        let users = self.store().list_users(None, None, None).await?;
        let rendered: Vec<String> = users.iter().map(|u| u.to_json(self.public_url()).to_string()).collect();
        let (users, rendered) = (Arc::new(users), Arc::new(rendered));
        if cacheable {
            *self.inner.users_list.write().unwrap() = Some((version, users.clone(), rendered.clone()));
        }
        Ok((users, rendered))
    }
}
