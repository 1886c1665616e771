//! `/v3/policies`: policy blobs stored for other services (Keystone keeps
//! them and never interprets them).

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
use super::{created, list_response, no_content, ok, Query};
use crate::store::policies::PolicyBlob;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/policies", get(list).post(create))
        .route("/v3/policies/{policy_id}", get(show).patch(update).delete(delete))
}

const ADMIN: &str = "rule:admin_required";
const ADMIN_OR_SYSTEM_READER: &str = "rule:admin_required or (role:reader and system_scope:all)";

/// Policy rules of this API: (name, check string, allowed with a domain-scoped token).
pub(crate) const RULES: &[(&str, &str, bool)] = &[
    ("identity:get_policy", ADMIN_OR_SYSTEM_READER, false),
    ("identity:list_policies", ADMIN_OR_SYSTEM_READER, false),
    ("identity:create_policy", ADMIN, false),
    ("identity:update_policy", ADMIN, false),
    ("identity:delete_policy", ADMIN, false),
];

async fn find(id: &Identity, policy_id: &str) -> Result<PolicyBlob, Error> {
    id.store()
        .get_policy(policy_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("Could not find policy: {policy_id}.")))
}

/// `blob` (a string) and `type` (a string of at most 255 characters).
fn fields(b: &mut Body) -> Result<(Option<String>, Option<String>), Error> {
    let blob = b.string("blob", usize::MAX, false)?;
    let kind = b.string("type", 255, false)?;
    Ok((blob, kind))
}

async fn list(State(id): State<Identity>, Authenticated(ctx): Authenticated, q: Query) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_policies", &ctx, Target::new())?;
    let items = id
        .store()
        .list_policies(q.get("type").map(String::as_str))
        .await?
        .iter()
        .map(|p| p.to_json(id.public_url()))
        .collect();
    Ok(list_response(&id, "policies", "policies", &q, items))
}

async fn create(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:create_policy", &ctx, Target::new())?;
    let mut b = Body::new(v, "policy")?;
    let (blob, kind) = fields(&mut b)?;
    let blob =
        blob.ok_or_else(|| Error::bad_request("Invalid input for field 'policy': 'blob' is a required property."))?;
    let kind =
        kind.ok_or_else(|| Error::bad_request("Invalid input for field 'policy': 'type' is a required property."))?;
    // as Keystone, a client-given id is replaced
    b.take("id");
    let p = PolicyBlob { id: new_id(), policy_type: kind, blob, extra: b.extra() };
    id.store().create_policy(&p).await?;
    Ok(created("policy", p.to_json(id.public_url())))
}

async fn show(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(pid): Path<String>,
) -> ApiResult<Response> {
    id.enforce("identity:get_policy", &ctx, Target::new())?;
    let p = find(&id, &pid).await?;
    Ok(ok("policy", p.to_json(id.public_url())))
}

async fn update(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(pid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:update_policy", &ctx, Target::new())?;
    if v.get("policy").and_then(Value::as_object).is_some_and(|m| m.is_empty()) {
        return Err(Error::bad_request(
            "Invalid input for field 'policy': it must name at least one attribute to change.",
        )
        .into());
    }
    let mut b = Body::new(v, "policy")?;
    let (blob, kind) = fields(&mut b)?;
    match b.take("id") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s == pid => {}
        Some(_) => return Err(Error::bad_request("Cannot change policy ID").into()),
    }
    let mut p = find(&id, &pid).await?;
    if let Some(blob) = blob {
        p.blob = blob;
    }
    if let Some(kind) = kind {
        p.policy_type = kind;
    }
    for (k, v) in b.extra() {
        p.extra.insert(k, v);
    }
    id.store().update_policy(&p).await?;
    Ok(ok("policy", p.to_json(id.public_url())))
}

async fn delete(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(pid): Path<String>,
) -> ApiResult<Response> {
    id.enforce("identity:delete_policy", &ctx, Target::new())?;
    if !id.store().delete_policy(&pid).await? {
        return Err(Error::not_found(format!("Could not find policy: {pid}.")).into());
    }
    Ok(no_content())
}
