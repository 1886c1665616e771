//! The Placement API routes. Handlers are thin: parse, authorize, call the
//! store or the service, render. Errors are rendered once, in placement's
//! shape (`{"errors": [{status, title, detail, code}]}`), by the layers
//! `api_layers` installs; microversions (1.0–1.39) are negotiated by
//! `rustack_http::microversion::layer`, handlers read them from [`util::Caller`].

mod allocations;
mod candidates;
mod inventories;
mod names;
mod providers;
mod root;
mod util;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use rustack_common::Error;
use rustack_http::microversion::{Microversions, Version};
use rustack_http::{ApiError, ErrorStyle};

use crate::Placement;

pub const MICROVERSIONS: Microversions =
    Microversions { service: "placement", legacy_header: None, min: Version::new(1, 0), max: Version::new(1, 39) };

pub fn router(svc: Placement) -> Router {
    let o = svc.options().clone();
    let api = Router::new()
        .merge(root::routes())
        .merge(providers::routes())
        .merge(inventories::routes())
        .merge(allocations::routes())
        .merge(candidates::routes())
        .merge(names::routes())
        .fallback(|| async { ApiError(Error::not_found("The resource could not be found.")) })
        .with_state(svc)
        .layer(middleware::from_fn(cache_headers))
        .layer(middleware::from_fn_with_state(MICROVERSIONS, rustack_http::microversion::layer));
    let api = rustack_http::token_layer::with_validator(api, "placement", o.validator.clone());
    rustack_http::api_layers(api, "placement", ErrorStyle::Placement, &o.identity_url, o.config.max_request_body_size)
}

/// From 1.15 a successful GET says when it was computed and not to cache it
/// (`last-modified` is the time of the answer: placement's objects are
/// read live).
async fn cache_headers(req: Request, next: Next) -> Response {
    let late = req.extensions().get::<Version>().is_some_and(|v| v.at_least(1, 15));
    let is_get = req.method() == Method::GET;
    let mut r = next.run(req).await;
    if late && is_get && r.status().is_success() {
        let now = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        if let Ok(v) = HeaderValue::from_str(&now) {
            r.headers_mut().insert(header::LAST_MODIFIED, v);
        }
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    r
}
