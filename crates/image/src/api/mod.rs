//! The Image API v2 routes. Handlers are thin: parse, call the service,
//! render; errors are rendered once, in Glance's shape, by `api_layers`.

mod data;
mod images;
mod members;
mod metadefs;
mod schemas;
mod versions;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use rustack_common::Error;
use rustack_http::{ApiError, ErrorStyle};
use serde_json::Value;

use crate::Image;

pub type ApiResult<T> = Result<T, ApiError>;

pub fn router(svc: Image) -> Router {
    let o = svc.options().clone();
    let api = Router::new()
        .merge(versions::routes())
        .merge(images::routes())
        .merge(data::routes())
        .merge(members::routes())
        .merge(schemas::routes())
        .merge(metadefs::routes())
        // parts of Glance's API this cloud does not serve
        .route("/v2/tasks", axum::routing::post(create_task).fallback(unserved))
        .route("/v2/tasks/{*rest}", any(unserved))
        .route("/v2/cache", any(unserved))
        .route("/v2/cache/{*rest}", any(unserved))
        .route("/v2/images/{id}/locations", any(unserved))
        .fallback(|| async { ApiError(Error::not_found("The resource could not be found.")) })
        .with_state(svc);
    let api = rustack_http::token_layer::with_validator(api, "image", o.validator.clone());
    rustack_http::api_layers(api, "image", ErrorStyle::Glance, &o.identity_url, o.config.max_request_body_size)
}

/// `POST /v2/tasks` (the legacy tasks API): its only task type imports from a
/// URI, which this cloud does not fetch (no web-download): refused with 400
/// at create time, as current Glance refuses URIs that do not pass its filter.
async fn create_task(_: rustack_http::token_layer::Authenticated) -> ApiError {
    ApiError(Error::bad_request(
        "Task import from a URI is not available in this cloud: the URI does not pass filtering.",
    ))
}

async fn unserved() -> ApiError {
    ApiError(Error::not_implemented("This part of the Image API is not served by this cloud."))
}

/// A JSON response with a status.
pub fn json(status: u16, v: Value) -> Response {
    let s = axum::http::StatusCode::from_u16(status).unwrap_or(axum::http::StatusCode::OK);
    (s, Json(v)).into_response()
}

/// The Content-Type of a request, without parameters.
pub fn content_type(h: &HeaderMap) -> Option<String> {
    h.get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
}
