//! `/v2/images` and `/v2/images/{id}`: create, list, show, patch, delete;
//! deactivate/reactivate; tags; `/v2/info/*`; an image's import tasks.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use rustack_common::{Error, ErrorKind};
use rustack_http::token_layer::Authenticated;
use rustack_http::JsonBody;
use serde_json::{json, Map, Value};

use super::{content_type, json, ApiResult};
use crate::model::glance_time;
use crate::service::patch::{parse_patch, Dialect};
use crate::Image;

pub fn routes() -> Router<Image> {
    Router::new()
        .route("/v2/images", get(list).post(create))
        .route("/v2/images/{id}", get(show).patch(update).delete(delete))
        .route("/v2/images/{id}/actions/deactivate", post(deactivate))
        .route("/v2/images/{id}/actions/reactivate", post(reactivate))
        .route("/v2/images/{id}/tags/{tag}", put(add_tag).delete(delete_tag))
        .route("/v2/images/{id}/tasks", get(tasks))
        .route("/v2/info/import", get(info_import))
        .route("/v2/info/stores", get(info_stores))
        .route("/v2/info/usage", get(info_usage))
}

async fn list(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    q: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(params) = q.map_err(|e| Error::bad_request(format!("Invalid query string: {e}")))?;
    let page = s.list(&ctx, &params).await?;
    let mut body = json!({
        "images": page.images.iter().map(|i| i.to_json()).collect::<Vec<_>>(),
        "schema": "/v2/schemas/images",
        "first": "/v2/images",
    });
    if let Some(next) = page.next {
        body["next"] = json!(format!("/v2/images?{next}"));
    }
    Ok(json(200, body))
}

async fn create(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let Value::Object(map) = body else {
        return Err(Error::bad_request("Request body must be a JSON object.").into());
    };
    let img = s.create(&ctx, map).await?;
    let mut r = json(201, img.to_json());
    if let Ok(v) = format!("/v2/images/{}", img.id).parse() {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

async fn show(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    Ok(json(200, s.get_for(&ctx, &id).await?.to_json()))
}

async fn update(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let dialect = match content_type(&headers).as_deref() {
        Some("application/openstack-images-v2.1-json-patch") => Dialect::V21,
        Some("application/openstack-images-v2.0-json-patch") => Dialect::V20,
        _ => {
            return Err(Error::new(
                ErrorKind::UnsupportedMediaType,
                "Unsupported Content-Type: use application/openstack-images-v2.1-json-patch",
            )
            .into())
        }
    };
    let v: Value = rustack_http::json::parse_json(&body)?;
    let ops = parse_patch(&v, dialect)?;
    Ok(json(200, s.update(&ctx, &id, &ops).await?.to_json()))
}

async fn delete(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.delete(&ctx, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn deactivate(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.set_active(&ctx, &id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn reactivate(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    s.set_active(&ctx, &id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn add_tag(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.add_tag(&ctx, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_tag(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path((id, tag)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    s.delete_tag(&ctx, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn tasks(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let tasks: Vec<Value> = s
        .image_tasks(&ctx, &id)
        .await?
        .into_iter()
        .map(|t| {
            json!({
                "id": t.id, "type": "api_image_import", "status": t.status, "input": t.input,
                "result": null, "owner": t.owner, "message": t.message, "image_id": t.image_id,
                "request_id": t.request_id, "user_id": t.user_id,
                "created_at": glance_time(&t.created_at), "updated_at": glance_time(&t.updated_at),
                "expires_at": null,
            })
        })
        .collect();
    Ok(json(200, json!({ "tasks": tasks })))
}

async fn info_import(Authenticated(_ctx): Authenticated) -> Response {
    json(
        200,
        json!({"import-methods": {
            "description": "Import methods available.", "type": "array", "value": ["glance-direct"]
        }}),
    )
}

async fn info_stores(State(s): State<Image>, Authenticated(_ctx): Authenticated) -> Response {
    let id = s.data_store().id();
    json(200, json!({"stores": [{"id": id, "description": "Local filesystem store", "default": true}]}))
}

/// `GET /v2/info/usage`: the project's image quota usage (Glance 2.14).
async fn info_usage(State(s): State<Image>, Authenticated(ctx): Authenticated) -> ApiResult<Response> {
    let project = ctx.project_id().unwrap_or_default().to_string();
    let (count, bytes) = s.store().usage(&project).await?;
    let lim = |v: Option<i64>| v.unwrap_or(-1);
    let count_limit = s.limit(&project, "image_count_total").await?;
    let size_limit = s.limit(&project, "image_size_total").await?;
    let mut usage = Map::new();
    usage.insert("image_count_total".into(), json!({"limit": lim(count_limit), "usage": count}));
    usage.insert(
        "image_size_total".into(),
        json!({"limit": lim(size_limit), "usage": (bytes as u64).div_ceil(1024 * 1024)}),
    );
    Ok((StatusCode::OK, axum::Json(json!({ "usage": usage }))).into_response())
}
