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
}

impl ErrorStyle {
    pub fn body(self, e: &Error) -> serde_json::Value {
        match self {
            ErrorStyle::Keystone => serde_json::json!({
                "error": {"code": e.status(), "title": e.kind.title(), "message": e.message}
            }),
        }
    }

    /// Writes the body of an error response; also gives axum's own bodiless
    /// 404/405 answers the API's shape.
    /// `www_authenticate` is sent with every 401 (Keystone names its own URL there).
    pub fn render(self, mut resp: axum::response::Response, www_authenticate: &HeaderValue) -> axum::response::Response {
        let err = match resp.extensions_mut().remove::<Error>() {
            Some(e) => e,
            None => match resp.status() {
                StatusCode::NOT_FOUND if is_empty(&resp) => Error::not_found("The resource could not be found."),
                StatusCode::METHOD_NOT_ALLOWED => {
                    Error::new(ErrorKind::MethodNotAllowed, "The method is not allowed for the requested URL.")
                }
                StatusCode::PAYLOAD_TOO_LARGE => {
                    Error::new(ErrorKind::PayloadTooLarge, "Request is too large.")
                }
                _ => return resp,
            },
        };
        let body = serde_json::to_vec(&self.body(&err)).expect("error body serializes");
        let (mut parts, _) = resp.into_parts();
        parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        parts.headers.remove(header::CONTENT_LENGTH);

        if err.kind == ErrorKind::Unauthorized {
            parts.headers.insert(header::WWW_AUTHENTICATE, www_authenticate.clone());
        }
        Response::from_parts(parts, Body::from(body))
    }
}

fn is_empty(resp: &axum::response::Response) -> bool {
    use axum::body::HttpBody;
    resp.body().size_hint().exact() == Some(0)
}
