//! Image data: `PUT`/`GET /v2/images/{id}/file`, `PUT …/stage`, `POST …/import`.
//! Bodies stream both ways; nothing holds a whole image in memory.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use futures_util::TryStreamExt;
use rustack_common::{Error, ErrorKind};
use rustack_http::request_log::RequestId;
use rustack_http::token_layer::Authenticated;
use rustack_http::JsonBody;
use serde_json::Value;

use super::{content_type, ApiResult};
use crate::data::ByteStream;
use crate::service::data::Download;
use crate::Image;

pub fn routes() -> Router<Image> {
    Router::new()
        .route("/v2/images/{id}/file", get(download).put(upload))
        .route("/v2/images/{id}/stage", put(stage))
        .route("/v2/images/{id}/import", post(import))
}

/// The request body as a byte stream, and its announced length.
fn body_stream(headers: &HeaderMap, body: Body) -> Result<(ByteStream, Option<u64>), Error> {
    match content_type(headers).as_deref() {
        None | Some("application/octet-stream") => {}
        Some(other) => {
            return Err(Error::new(
                ErrorKind::UnsupportedMediaType,
                format!("Content-Type {other} is not supported: image data is application/octet-stream"),
            ))
        }
    }
    let len = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    let stream = body.into_data_stream().map_err(std::io::Error::other);
    Ok((Box::pin(stream), len))
}

async fn upload(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let (stream, len) = body_stream(&headers, body)?;
    s.upload(&ctx, &id, stream, len).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn stage(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<StatusCode> {
    let (stream, len) = body_stream(&headers, body)?;
    s.stage(&ctx, &id, stream, len).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn import(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    rid: Option<Extension<RequestId>>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<StatusCode> {
    let method = body
        .get("method")
        .and_then(|m| m.get("name"))
        .and_then(Value::as_str)
        .ok_or_else(|| Error::bad_request("Import request requires a 'method' field with a 'name'."))?;
    let rid = rid.map(|Extension(r)| r.0).unwrap_or_default();
    s.import(&ctx, &id, method, &rid).await?;
    Ok(StatusCode::ACCEPTED)
}

async fn download(
    State(s): State<Image>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let d = match s.download(&ctx, &id, range).await {
        Ok(d) => d,
        Err(e) if e.kind == ErrorKind::RangeNotSatisfiable => {
            // the service names the unsatisfied range's Content-Range in `code`
            let cr = e.code.clone().unwrap_or_default();
            let mut r = rustack_http::ApiError(Error { code: None, ..e }).into_response();
            if let Ok(v) = HeaderValue::from_str(&cr) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
        Err(e) => return Err(e.into()),
    };
    let Download::Data { image, size, total, range, stream } = d else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut r = Response::new(Body::from_stream(stream));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    match range {
        Some((a, b)) => {
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{total}")) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
        }
        None => {
            if let Some(c) = image.checksum.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
                r.headers_mut().insert("content-md5", c);
            }
        }
    }
    Ok(r)
}
