//! The Placement API routes. Handlers are thin: parse, authorize, call the
//! store or the service, render. Errors are rendered once, in placement's
//! shape (`{"errors": [{status, title, detail, code}]}`), by the layers
//! `api_layers` installs; microversions (1.0–1.39) are negotiated by
//! [`http_rules::layer`], handlers read them from [`util::Caller`].

mod allocations;
mod candidates;
mod http_rules;
mod inventories;
mod names;
mod providers;
mod root;
mod util;

use axum::middleware;
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
        .layer(middleware::from_fn(http_rules::layer));
    let api = rustack_http::token_layer::with_validator(api, "placement", o.validator.clone());
    let api = rustack_http::api_layers(
        api,
        "placement",
        ErrorStyle::Placement,
        &o.identity_url,
        o.config.max_request_body_size,
    );
    // around the whole router as one service: axum writes a 405's Allow
    // after any route layer has run
    let outer = tower::Layer::layer(&middleware::from_fn(http_rules::request_id_in_errors), api);
    Router::new().fallback_service(outer)
}
