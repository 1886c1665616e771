//! `/v3/roles` (global and domain-specific) and implied roles.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::{new_id, Error};
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use rustack_policy::Target;
use serde_json::{json, Value};

use super::body::Body;
use super::{created, list_response, no_content, ok, Query};
use crate::model::Role;
use crate::store::RevocationEvent;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/roles", get(list).post(create))
        .route("/v3/roles/{role_id}", get(show).patch(update).delete(delete))
        .route("/v3/roles/{role_id}/implies", get(list_implied))
        .route("/v3/roles/{prior}/implies/{implied}", get(show_implied).put(create_implied).delete(delete_implied))
        .route("/v3/role_inferences", get(inferences))
}

pub(crate) async fn find(id: &Identity, role_id: &str) -> Result<Role, Error> {
    id.store().get_role(role_id).await?.ok_or_else(|| Error::not_found_entity("role", role_id))
}

/// Domain-specific roles have their own rule names, as in Keystone.
fn rule(r: &Role, action: &str) -> String {
    if r.domain_id.is_some() {
        format!("identity:{action}_domain_role")
    } else {
        format!("identity:{action}_role")
    }
}

fn target(r: &Role) -> Target {
    let t = Target::new().with("target.role.id", r.id.as_str()).with("target.role.name", r.name.as_str());
    match &r.domain_id {
        Some(d) => t.with("target.role.domain_id", d.as_str()),
        None => t,
    }
}

async fn list(State(id): State<Identity>, Authenticated(ctx): Authenticated, q: Query) -> ApiResult<Json<Value>> {
    let domain = q.get("domain_id").filter(|d| !d.is_empty());
    let rule = if domain.is_some() { "identity:list_domain_roles" } else { "identity:list_roles" };
    id.enforce(rule, &ctx, Target::new())?;
    let roles = id.store().list_roles(q.get("name").map(String::as_str), domain.map(String::as_str)).await?;
    let items = roles
        .iter()
        .filter(|r| crate::store::inexact_match("name", &r.name, &q))
        .map(|r| r.to_json(id.public_url()))
        .collect();
    Ok(list_response(&id, "roles", "roles", &q, items))
}

async fn create(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut b = Body::new(v, "role")?;
    let mut r = Role {
        id: new_id(),
        name: b.name("name", 255, true)?.expect("required"),
        domain_id: b.id("domain_id")?,
        description: b.string("description", 255, true)?,
        extra: Default::default(),
    };
    b.forbid("id")?;
    b.take("options");
    r.extra = b.extra();
    id.enforce(&rule(&r, "create"), &ctx, target(&r))?;
    if let Some(d) = &r.domain_id {
        id.store().get_domain(d).await?.ok_or_else(|| Error::not_found_entity("domain", d))?;
    }
    id.store().create_role(&r).await?;
    Ok(created("role", r.to_json(id.public_url())))
}

async fn show(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(rid): Path<String>,
) -> ApiResult<Response> {
    let r = find(&id, &rid).await?;
    id.enforce(&rule(&r, "get"), &ctx, target(&r))?;
    Ok(ok("role", r.to_json(id.public_url())))
}

async fn update(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(rid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut r = find(&id, &rid).await?;
    id.enforce(&rule(&r, "update"), &ctx, target(&r))?;
    let mut b = Body::new(v, "role")?;
    for fixed in ["id", "domain_id"] {
        if let Some(v) = b.take(fixed) {
            let cur = if fixed == "id" { Some(r.id.as_str()) } else { r.domain_id.as_deref() };
            if v.as_str() != cur {
                return Err(Error::bad_request(format!(
                    "Invalid input for field 'role.{fixed}': it cannot be changed."
                ))
                .into());
            }
        }
    }
    if let Some(n) = b.name("name", 255, false)? {
        r.name = n;
    }
    if b.has("description") {
        r.description = b.string("description", 255, true)?;
    }
    b.take("options");
    for (k, v) in b.extra() {
        r.extra.insert(k, v);
    }
    id.store().update_role(&r).await?;
    id.changed();
    Ok(ok("role", r.to_json(id.public_url())))
}

async fn delete(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(rid): Path<String>,
) -> ApiResult<Response> {
    let r = find(&id, &rid).await?;
    id.enforce(&rule(&r, "delete"), &ctx, target(&r))?;
    id.store().delete_role(&r.id).await?;
    id.revoke(RevocationEvent { role_id: Some(r.id.clone()), ..Default::default() }).await?;
    Ok(no_content())
}

fn inference_link(id: &Identity, prior: &str, implied: &str) -> String {
    id.link(&format!("roles/{prior}/implies/{implied}"))
}

async fn pair(id: &Identity, prior: &str, implied: &str) -> Result<(Role, Role), Error> {
    Ok((find(id, prior).await?, find(id, implied).await?))
}

fn inference_body(id: &Identity, p: &Role, i: &Role) -> Value {
    json!({"role_inference": {"prior_role": p.brief(id.public_url()), "implies": i.brief(id.public_url())},
           "links": {"self": inference_link(id, &p.id, &i.id)}})
}

/// GET answers 200 with the rule; HEAD (same route) 204, as Keystone.
async fn show_implied(
    State(id): State<Identity>,
    method: axum::http::Method,
    Authenticated(ctx): Authenticated,
    Path((prior, implied)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (p, i) = pair(&id, &prior, &implied).await?;
    let exists = id.store().implied_roles().await?.contains(&(p.id.clone(), i.id.clone()));
    if method == axum::http::Method::HEAD {
        id.enforce("identity:check_implied_role", &ctx, Target::new())?;
    } else {
        id.enforce("identity:get_implied_role", &ctx, Target::new())?;
    }
    if !exists {
        return Err(Error::not_found(format!("{} does not imply {}.", p.id, i.id)).into());
    }
    if method == axum::http::Method::HEAD {
        return Ok(no_content());
    }
    Ok(Json(inference_body(&id, &p, &i)).into_response())
}

async fn create_implied(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((prior, implied)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (p, i) = pair(&id, &prior, &implied).await?;
    id.enforce("identity:create_implied_role", &ctx, Target::new())?;
    if p.domain_id.is_none() && i.domain_id.is_some() {
        return Err(Error::forbidden("Global role cannot imply a domain-specific role.").into());
    }
    if i.name == "admin" {
        return Err(Error::forbidden(format!("{} is not a permitted implied role.", i.id)).into());
    }
    if p.id == i.id || implies(&id, &i.id, &p.id).await? {
        return Err(Error::bad_request("Implied roles cannot form a cycle.").into());
    }
    if !id.store().implied_roles().await?.contains(&(p.id.clone(), i.id.clone())) {
        id.store().add_implied_role(&p.id, &i.id).await?;
        id.changed();
    }
    Ok((StatusCode::CREATED, Json(inference_body(&id, &p, &i))).into_response())
}

/// Does `from` imply `to`, directly or through others?
async fn implies(id: &Identity, from: &str, to: &str) -> Result<bool, Error> {
    let rules = id.store().implied_roles().await?;
    let mut stack = vec![from.to_string()];
    let mut seen = std::collections::HashSet::new();
    while let Some(r) = stack.pop() {
        if r == to {
            return Ok(true);
        }
        if seen.insert(r.clone()) {
            stack.extend(rules.iter().filter(|(p, _)| *p == r).map(|(_, i)| i.clone()));
        }
    }
    Ok(false)
}

async fn delete_implied(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((prior, implied)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (p, i) = pair(&id, &prior, &implied).await?;
    id.enforce("identity:delete_implied_role", &ctx, Target::new())?;
    if !id.store().remove_implied_role(&p.id, &i.id).await? {
        return Err(Error::not_found(format!("{} does not imply {}.", p.id, i.id)).into());
    }
    id.changed();
    Ok(no_content())
}

async fn list_implied(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(rid): Path<String>,
) -> ApiResult<Json<Value>> {
    let p = find(&id, &rid).await?;
    id.enforce("identity:list_implied_roles", &ctx, Target::new())?;
    let mut implied = Vec::new();
    for (_, i) in id.store().implied_roles().await?.into_iter().filter(|(pr, _)| *pr == p.id) {
        if let Some(r) = id.store().get_role(&i).await? {
            implied.push(r.brief(id.public_url()));
        }
    }
    Ok(Json(json!({"role_inference": {"prior_role": p.brief(id.public_url()), "implies": implied},
                   "links": {"self": id.link(&format!("roles/{}/implies", p.id))}})))
}

async fn inferences(State(id): State<Identity>, Authenticated(ctx): Authenticated) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_role_inference_rules", &ctx, Target::new())?;
    let roles: std::collections::HashMap<String, Role> =
        id.store().all_roles().await?.into_iter().map(|r| (r.id.clone(), r)).collect();
    let mut by_prior: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (p, i) in id.store().implied_roles().await? {
        if let Some(r) = roles.get(&i) {
            by_prior.entry(p).or_default().push(r.brief(id.public_url()));
        }
    }
    let items: Vec<Value> = by_prior
        .into_iter()
        .filter_map(|(p, implies)| {
            Some(json!({"prior_role": roles.get(&p)?.brief(id.public_url()), "implies": implies}))
        })
        .collect();
    Ok(Json(json!({"role_inferences": items})))
}
