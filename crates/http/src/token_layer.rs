//! Token validation for every service (keystonemiddleware's job).
//!
//! A [`TokenValidator`] turns an `X-Auth-Token` into a [`RequestContext`]:
//! in-process by asking the identity service directly, or remotely over HTTP
//! ([`crate::remote::RemoteValidator`]). Handlers get the caller through the
//! [`Authenticated`] extractor, or a whole router is guarded by [`require_token`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustack_common::Error;

use crate::{ApiError, RequestContext};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub const AUTH_TOKEN_HEADER: &str = "x-auth-token";

/// Validates tokens. Implementations cache; a revoked or expired token is an
/// `Unauthorized` error.
pub trait TokenValidator: Send + Sync + 'static {
    fn validate<'a>(&'a self, token: &'a str) -> BoxFuture<'a, Result<Arc<RequestContext>, Error>>;
}

/// The validator a router uses and the service type it serves (`identity`,
/// `compute`, …; access rules of application credentials name it). Put in
/// request extensions by [`with_validator`], or the state of [`require_token`].
#[derive(Clone)]
pub struct Validator {
    pub validator: Arc<dyn TokenValidator>,
    pub service_type: &'static str,
}

impl Validator {
    pub fn new(service_type: &'static str, validator: Arc<dyn TokenValidator>) -> Self {
        Validator { validator, service_type }
    }

    /// Validates `token` for a request (`method`, `path`): a token from an
    /// application credential whose access rules do not allow the request is
    /// rejected with 401, as keystonemiddleware rejects it.
    pub async fn check(&self, token: &str, method: &str, path: &str) -> Result<Arc<RequestContext>, Error> {
        let ctx = self.validator.validate(token).await?;
        if !ctx.allows_request(self.service_type, method, path) {
            tracing::info!(service = self.service_type, method, path, "request refused by the token's access rules");
            return Err(missing_token());
        }
        Ok(ctx)
    }
}

/// Makes `validator` available to the [`Authenticated`] extractor of a router
/// serving `service_type`.
pub fn with_validator(
    router: axum::Router,
    service_type: &'static str,
    validator: Arc<dyn TokenValidator>,
) -> axum::Router {
    router.layer(axum::Extension(Validator::new(service_type, validator)))
}

pub fn missing_token() -> Error {
    Error::unauthorized("The request you have made requires authentication.")
}

/// The authenticated caller of a request; rejects with 401 when the token is
/// missing, invalid, expired or revoked.
pub struct Authenticated(pub Arc<RequestContext>);

/// The `X-Auth-Token` of a request, if any.
pub fn auth_token(parts: &Parts) -> Option<&str> {
    parts.headers.get(AUTH_TOKEN_HEADER).and_then(|v| v.to_str().ok()).map(str::trim).filter(|t| !t.is_empty())
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(ctx) = parts.extensions.get::<Arc<RequestContext>>() {
            return Ok(Authenticated(ctx.clone()));
        }
        let token = auth_token(parts).ok_or_else(missing_token)?.to_string();
        let v = parts
            .extensions
            .get::<Validator>()
            .cloned()
            .ok_or_else(|| Error::internal(&std::io::Error::other("no token validator installed")))?;
        let ctx = v.check(&token, parts.method.as_str(), parts.uri.path()).await?;
        parts.extensions.insert(ctx.clone());
        Ok(Authenticated(ctx))
    }
}

/// Middleware guarding a whole router: every request needs a valid token
/// that allows it. Install with
/// `from_fn_with_state(Validator::new("compute", validator), require_token)`.
pub async fn require_token(
    axum::extract::State(v): axum::extract::State<Validator>,
    mut req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let token = match auth_token(&parts) {
        Some(t) => t.to_string(),
        None => return ApiError(missing_token()).into_response(),
    };
    match v.check(&token, parts.method.as_str(), parts.uri.path()).await {
        Ok(ctx) => {
            parts.extensions.insert(ctx);
            req = Request::from_parts(parts, body);
            next.run(req).await
        }
        Err(e) => ApiError(e).into_response(),
    }
}
