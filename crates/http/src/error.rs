//! Errors leave a handler as [`ApiError`]: a status plus the internal error in
//! a response extension. The API's [`ErrorStyle`] layer then writes the body in
//! that API's upstream shape, so there is one renderer per API.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::response::IntoResponse;
use rustack_common::{Error, ErrorKind};

/// A handler's error.
#[derive(Debug)]
pub struct ApiError(pub Error);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> axum::response::Response {
        let status = StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = Response::new(Body::empty());
        *r.status_mut() = status;
        r.extensions_mut().insert(self.0);
        r
    }
}

/// How an API writes its error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorStyle {
    /// `{"error": {"code": 404, "title": "Not Found", "message": "…"}}`
    Keystone,
    /// webob's JSON error: `{"code": "404 Not Found", "title": "Not Found", "message": "…"}`
    Glance,
    /// `{"itemNotFound": {"code": 404, "message": "…"}}`, the key naming the fault.
    Nova,
    /// `{"NeutronError": {"type": "NetworkNotFound", "message": "…", "detail": ""}}`
    Neutron,
    /// `{"errors": [{"status": 404, "title": "Not Found", "detail": "…", "code": "placement.undefined_code"}]}`
    Placement,
}

impl ErrorStyle {
    pub fn body(self, e: &Error) -> serde_json::Value {
        use serde_json::json;
        // every service answers a bad or missing token as keystonemiddleware does
        if e.kind == ErrorKind::Unauthorized && self != ErrorStyle::Keystone {
            return ErrorStyle::Keystone.body(e);
        }
        match self {
            ErrorStyle::Keystone => json!({
                "error": {"code": e.status(), "title": e.kind.title(), "message": e.message}
            }),
            ErrorStyle::Glance => json!({
                "code": format!("{} {}", e.status(), e.kind.title()), "title": e.kind.title(), "message": e.message
            }),
            ErrorStyle::Nova => json!({ nova_fault_key(e.kind): {"code": e.status(), "message": e.message} }),
            ErrorStyle::Neutron => json!({
                "NeutronError": {
                    "type": e.code.clone().unwrap_or_else(|| neutron_type(e.kind).to_string()),
                    "message": e.message,
                    "detail": "",
                }
            }),
            ErrorStyle::Placement => json!({
                "errors": [{
                    "status": e.status(),
                    "title": e.kind.title(),
                    "detail": e.message,
                    "code": e.code.clone().unwrap_or_else(|| "placement.undefined_code".to_string()),
                }]
            }),
        }
    }

    /// Writes the body of an error response in this API's shape: errors
    /// from handlers, and the plain-text answers of axum's own extractors and
    /// router (bad query string or path, unknown route, wrong method).
    /// `www_authenticate` is sent with every 401 (Keystone names its own URL there).
    pub async fn render(
        self,
        resp: axum::response::Response,
        www_authenticate: &HeaderValue,
    ) -> axum::response::Response {
        let (mut parts, body) = resp.into_parts();
        let err = match parts.extensions.remove::<Error>() {
            Some(e) => e,
            None => {
                let status = parts.status;
                let is_json = parts
                    .headers
                    .get(header::CONTENT_TYPE)
                    .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
                if !(status.is_client_error() || status.is_server_error()) || is_json {
                    return Response::from_parts(parts, body);
                }
                let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
                let text = String::from_utf8_lossy(&text).trim().to_string();
                Error::new(kind_of(status), default_message(status, text))
            }
        };
        let body = serde_json::to_vec(&self.body(&err)).expect("error body serializes");
        parts.status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        parts.headers.remove(header::CONTENT_LENGTH);
        if err.kind == ErrorKind::Unauthorized {
            parts.headers.insert(header::WWW_AUTHENTICATE, www_authenticate.clone());
        }
        Response::from_parts(parts, Body::from(body))
    }
}

/// The key Nova wraps a fault in.
fn nova_fault_key(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::BadRequest => "badRequest",
        ErrorKind::Unauthorized => "unauthorized",
        ErrorKind::Forbidden => "forbidden",
        ErrorKind::NotFound => "itemNotFound",
        ErrorKind::MethodNotAllowed => "badMethod",
        ErrorKind::NotAcceptable => "notAcceptable",
        ErrorKind::Conflict => "conflictingRequest",
        ErrorKind::PayloadTooLarge => "overLimit",
        ErrorKind::UnsupportedMediaType => "badMediaType",
        ErrorKind::NotImplemented => "notImplemented",
        ErrorKind::ServiceUnavailable => "serviceUnavailable",
        ErrorKind::Gone | ErrorKind::PreconditionFailed | ErrorKind::RangeNotSatisfiable => "badRequest",
        ErrorKind::Internal => "computeFault",
    }
}

/// Neutron's `type` for an error that names none (webob's exception names).
fn neutron_type(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::BadRequest => "HTTPBadRequest",
        ErrorKind::Unauthorized => "HTTPUnauthorized",
        ErrorKind::Forbidden => "HTTPForbidden",
        ErrorKind::NotFound => "HTTPNotFound",
        ErrorKind::MethodNotAllowed => "HTTPMethodNotAllowed",
        ErrorKind::NotAcceptable => "HTTPNotAcceptable",
        ErrorKind::Conflict => "HTTPConflict",
        ErrorKind::Gone => "HTTPGone",
        ErrorKind::PreconditionFailed => "HTTPPreconditionFailed",
        ErrorKind::PayloadTooLarge => "HTTPRequestEntityTooLarge",
        ErrorKind::UnsupportedMediaType => "HTTPUnsupportedMediaType",
        ErrorKind::RangeNotSatisfiable => "HTTPRequestRangeNotSatisfiable",
        ErrorKind::NotImplemented => "HTTPNotImplemented",
        ErrorKind::ServiceUnavailable => "HTTPServiceUnavailable",
        ErrorKind::Internal => "HTTPInternalServerError",
    }
}

/// The error kind of a status axum or a layer produced on its own.
fn kind_of(status: StatusCode) -> ErrorKind {
    match status.as_u16() {
        400 | 422 => ErrorKind::BadRequest,
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        405 => ErrorKind::MethodNotAllowed,
        406 => ErrorKind::NotAcceptable,
        409 => ErrorKind::Conflict,
        410 => ErrorKind::Gone,
        412 => ErrorKind::PreconditionFailed,
        416 => ErrorKind::RangeNotSatisfiable,
        413 => ErrorKind::PayloadTooLarge,
        415 => ErrorKind::UnsupportedMediaType,
        501 => ErrorKind::NotImplemented,
        503 => ErrorKind::ServiceUnavailable,
        s if s < 500 => ErrorKind::BadRequest,
        _ => ErrorKind::Internal,
    }
}

fn default_message(status: StatusCode, text: String) -> String {
    match status {
        StatusCode::NOT_FOUND => "The resource could not be found.".into(),
        StatusCode::METHOD_NOT_ALLOWED => "The method is not allowed for the requested URL.".into(),
        StatusCode::PAYLOAD_TOO_LARGE => "Request is too large.".into(),
        s if s.is_server_error() => "An unexpected error prevented the server from fulfilling your request.".into(),
        _ if !text.is_empty() => text,
        s => s.canonical_reason().unwrap_or("Bad Request").to_string(),
    }
}

/// A handler that panicked: logged, and answered as a 500 instead of a
/// dropped connection (a panic is a bug; this keeps the server answering).
pub fn panic_response(err: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = msg, "handler panicked");
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r.extensions_mut().insert(Error::new(
        ErrorKind::Internal,
        "An unexpected error prevented the server from fulfilling your request.",
    ));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_has_its_shape() {
        let e = Error::not_found("No image found with ID x").with_code("ImageNotFound");
        assert_eq!(ErrorStyle::Glance.body(&e)["code"], "404 Not Found");
        assert_eq!(ErrorStyle::Nova.body(&e)["itemNotFound"]["code"], 404);
        assert_eq!(ErrorStyle::Neutron.body(&e)["NeutronError"]["type"], "ImageNotFound");
        assert_eq!(ErrorStyle::Placement.body(&e)["errors"][0]["code"], "ImageNotFound");
        assert_eq!(ErrorStyle::Neutron.body(&Error::conflict("x"))["NeutronError"]["type"], "HTTPConflict");
        // 401s come from the token layer, in keystonemiddleware's shape everywhere
        assert_eq!(ErrorStyle::Nova.body(&Error::unauthorized("x"))["error"]["code"], 401);
    }
}
