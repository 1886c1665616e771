//! The API routes. Handlers are thin: parse, authorize, call the service, render.

use axum::Router;
use rustack_common::Error;
use rustack_http::{ApiError, ErrorStyle};

use crate::Image;

pub fn router(svc: Image) -> Router {
    let o = svc.options().clone();
    let api = Router::new()
        .fallback(|| async { ApiError(Error::not_found("The resource could not be found.")) })
        .with_state(svc);
    rustack_http::api_layers(api, "image", ErrorStyle::Glance, &o.identity_url, o.config.max_request_body_size)
}
