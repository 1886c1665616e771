//! What every service besides identity is opened with, and the layers every
//! API router gets (the same stack identity installs).

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::HeaderValue;
use axum::response::Response;
use axum::{middleware, Router};
use rustack_common::config::Config;

use crate::{ErrorStyle, TokenValidator};

/// A service's start-up inputs.
#[derive(Clone)]
pub struct ServiceOptions {
    pub config: Config,
    pub data_dir: PathBuf,
    /// The base URL clients reach this service at (`http://host:port`),
    /// for links and version discovery.
    pub public_url: String,
    /// The identity endpoint (`http://host:5000/v3`), named in 401s.
    pub identity_url: String,
    /// Validates the tokens of incoming requests.
    pub validator: Arc<dyn TokenValidator>,
    /// Unified limits (identity's registered limits and project overrides).
    pub limits: Arc<dyn LimitLookup>,
}

/// Reads unified limits: the limit of `resource_name` of service type
/// `service` for a project (its override, else the registered default);
/// None when no limit is registered (unlimited, or the service's own default).
pub trait LimitLookup: Send + Sync {
    fn limit<'a>(
        &'a self,
        project_id: &'a str,
        service: &'a str,
        resource_name: &'a str,
    ) -> crate::token_layer::BoxFuture<'a, Result<Option<i64>, rustack_common::Error>>;
}

/// Request id + access log, error rendering in `style`, panic catching and
/// the body limit, around `router`. `service` names the log lines.
pub fn api_layers(
    router: Router,
    service: &'static str,
    style: ErrorStyle,
    identity_url: &str,
    body_limit: usize,
) -> Router {
    let www = HeaderValue::from_str(&format!("Keystone uri=\"{identity_url}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("Keystone"));
    router
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(crate::error::panic_response))
        .layer(middleware::map_response(move |r: Response| {
            let www = www.clone();
            async move { style.render(r, &www).await }
        }))
        .layer(middleware::from_fn(move |req, next| crate::request_log::log_requests(service, req, next)))
}

/// The projects identity's bootstrap made, for the other services' own
/// first-start setup (the demo project's network, …).
#[derive(Debug, Clone)]
pub struct BootstrapProjects {
    pub admin_project_id: String,
    pub demo_project_id: String,
    pub service_project_id: String,
}
