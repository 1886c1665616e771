//! `/v2/images/{id}/members` and `/v2/images/{id}/members/{member}`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use rustack_common::Error;
use rustack_http::token_layer::Authenticated;
use rustack_http::JsonBody;
use serde_json::{json, Value};

use super::{json, ApiResult};
use crate::Image;

pub fn routes() -> Router<Image> {
    Router::new()
        .route("/v2/images/{id}/members", get(list).post(add))
        .route("/v2/images/{id}/members/{member}", get(show).put(update).delete(remove))
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str, Error> {
    body.get(name).and_then(Value::as_str).ok_or_else(|| {
        Error::bad_request(format!("Provided object does not match schema 'member': '{name}' is a required string"))
    })
}

async fn list(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let members: Vec<Value> = s.list_members(&ctx, &id).await?.iter().map(|m| m.to_json()).collect();
    Ok(json(200, json!({"members": members, "schema": "/v2/schemas/members"})))
}

async fn add(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let member = field(&body, "member")?;
    Ok(json(200, s.add_member(&ctx, &id, member).await?.to_json()))
}

async fn show(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<Response> {
    Ok(json(200, s.get_member(&ctx, &id, &member).await?.to_json()))
}

async fn update(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path((id, member)): Path<(String, String)>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let status = field(&body, "status")?;
    Ok(json(200, s.update_member(&ctx, &id, &member, status).await?.to_json()))
}

async fn remove(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path((id, member)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.delete_member(&ctx, &id, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}
