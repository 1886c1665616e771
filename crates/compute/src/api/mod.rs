//! The API routes. Handlers are thin: parse, authorize, call the service, render.

use axum::Router;
use rustack_common::Error;
use rustack_http::{ApiError, ErrorStyle};

use crate::Compute;

pub fn router(svc: Compute) -> Router {
    let o = svc.options().clone();
    let api = Router::new()
        .fallback(|| async { ApiError(Error::not_found("The resource could not be found.")) })
        .with_state(svc);
    rustack_http::api_layers(api, "compute", ErrorStyle::Nova, &o.identity_url, o.config.max_request_body_size)
}
