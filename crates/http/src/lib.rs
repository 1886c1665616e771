//! HTTP glue shared by every rustack API (axum): the error response and its
//! per-API rendering, the JSON body extractor, request ids and the access log,
//! and the token-validation layer that hands handlers a [`RequestContext`].

pub mod context;
pub mod error;
pub mod json;
pub mod microversion;
pub mod remote;
pub mod request_log;
pub mod service;
pub mod token_layer;

pub use context::RequestContext;
pub use error::{ApiError, ApiResult, ErrorStyle};
pub use json::JsonBody;
pub use service::{api_layers, BootstrapProjects, LimitLookup, ServiceOptions};
pub use token_layer::{require_token, TokenValidator};

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router).with_graceful_shutdown(shutdown).await
}
