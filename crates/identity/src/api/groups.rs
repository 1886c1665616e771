//! `/v3/groups` and group membership.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::{new_id, Error};
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use rustack_policy::Target;
use serde_json::Value;

use super::body::Body;
use super::{created, list_response, no_content, ok, projects, users, Query};
use crate::model::Group;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/groups", get(list).post(create))
        .route("/v3/groups/{group_id}", get(show).patch(update).delete(delete))
        .route("/v3/groups/{group_id}/users", get(members))
        .route("/v3/groups/{group_id}/users/{user_id}", get(check_member).put(add_member).delete(remove_member))
}

pub(crate) async fn find(id: &Identity, group_id: &str) -> Result<Group, Error> {
    id.store().get_group(group_id).await?.ok_or_else(|| Error::not_found_entity("group", group_id))
}

pub(crate) fn target(g: &Group) -> Target {
    Target::new().with("target.group.id", g.id.as_str()).with("target.group.domain_id", g.domain_id.as_str())
}

async fn list(State(id): State<Identity>, Authenticated(ctx): Authenticated, q: Query) -> ApiResult<Json<Value>> {
    let t = match q.get("domain_id") {
        Some(d) => Target::new().with("target.domain_id", d.as_str()),
        None => Target::new(),
    };
    id.enforce("identity:list_groups", &ctx, t)?;
    let domain = ctx.domain_id().map(String::from).or_else(|| q.get("domain_id").cloned());
    let groups = id.store().list_groups(q.get("name").map(String::as_str), domain.as_deref()).await?;
    let items = groups
        .iter()
        .filter(|g| crate::store::inexact_match("name", &g.name, &q))
        .map(|g| g.to_json(id.public_url()))
        .collect();
    Ok(list_response(&id, "groups", "groups", &q, items))
}

async fn create(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut b = Body::new(v, "group")?;
    let mut g = Group {
        id: new_id(),
        name: b.name("name", 255, true)?.expect("required"),
        domain_id: b.id("domain_id")?.unwrap_or_else(|| projects::default_domain(&ctx)),
        description: b.string("description", 65535, true)?,
        extra: Default::default(),
    };
    b.forbid("id")?;
    g.extra = b.extra();
    id.enforce("identity:create_group", &ctx, target(&g))?;
    id.store().get_domain(&g.domain_id).await?.ok_or_else(|| Error::not_found_entity("domain", &g.domain_id))?;
    id.store().create_group(&g).await?;
    Ok(created("group", g.to_json(id.public_url())))
}

async fn show(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(gid): Path<String>,
) -> ApiResult<Response> {
    let g = find(&id, &gid).await?;
    id.enforce("identity:get_group", &ctx, target(&g))?;
    Ok(ok("group", g.to_json(id.public_url())))
}

async fn update(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(gid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut g = find(&id, &gid).await?;
    id.enforce("identity:update_group", &ctx, target(&g))?;
    let mut b = Body::new(v, "group")?;
    for fixed in ["id", "domain_id"] {
        if let Some(v) = b.take(fixed) {
            let cur = if fixed == "id" { &g.id } else { &g.domain_id };
            if v.as_str() != Some(cur.as_str()) {
                return Err(Error::bad_request(format!(
                    "Invalid input for field 'group.{fixed}': it cannot be changed."
                ))
                .into());
            }
        }
    }
    if let Some(n) = b.name("name", 255, false)? {
        g.name = n;
    }
    if b.has("description") {
        g.description = b.string("description", 65535, true)?;
    }
    for (k, v) in b.extra() {
        g.extra.insert(k, v);
    }
    id.store().update_group(&g).await?;
    Ok(ok("group", g.to_json(id.public_url())))
}

async fn delete(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(gid): Path<String>,
) -> ApiResult<Response> {
    let g = find(&id, &gid).await?;
    id.enforce("identity:delete_group", &ctx, target(&g))?;
    id.store().delete_group(&g.id).await?;
    id.changed();
    Ok(no_content())
}

async fn members(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(gid): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let g = find(&id, &gid).await?;
    id.enforce("identity:list_users_in_group", &ctx, target(&g))?;
    let items = id.store().users_of_group(&g.id).await?.iter().map(|u| u.to_json(id.public_url())).collect();
    Ok(list_response(&id, "users", &format!("groups/{gid}/users"), &q, items))
}

fn membership_target(g: &Group, u: &crate::model::User) -> Target {
    let mut t = target(g);
    t.values.extend(users::target(u).values);
    t
}

async fn check_member(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let g = find(&id, &gid).await?;
    let u = users::find(&id, &uid).await?;
    id.enforce("identity:check_user_in_group", &ctx, membership_target(&g, &u))?;
    if !id.store().is_group_member(&g.id, &u.id).await? {
        return Err(Error::not_found(format!("User '{uid}' not found in group '{gid}'")).into());
    }
    Ok(no_content())
}

async fn add_member(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let g = find(&id, &gid).await?;
    let u = users::find(&id, &uid).await?;
    id.enforce("identity:add_user_to_group", &ctx, membership_target(&g, &u))?;
    id.store().add_group_member(&g.id, &u.id).await?;
    id.changed();
    Ok(no_content())
}

async fn remove_member(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((gid, uid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let g = find(&id, &gid).await?;
    let u = users::find(&id, &uid).await?;
    id.enforce("identity:remove_user_from_group", &ctx, membership_target(&g, &u))?;
    if !id.store().remove_group_member(&g.id, &u.id).await? {
        return Err(Error::not_found(format!("User '{uid}' not found in group '{gid}'")).into());
    }
    // tokens are rebuilt with the roles the user still holds
    id.changed();
    Ok(no_content())
}
