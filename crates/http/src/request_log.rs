//! Request ids and the access log: every response carries
//! `X-Openstack-Request-Id`, and every request is one log line with its id,
//! method, path, status and latency.

use std::time::Instant;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-openstack-request-id";

/// The id of the request being served, for handlers that want to log it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub async fn log_requests(service: &'static str, mut req: Request, next: Next) -> Response {
    let id = format!("req-{}", uuid::Uuid::new_v4());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, service);
    let start = Instant::now();
    let mut resp = next.run(req).instrument(span).await;
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let status = resp.status().as_u16();
    tracing::info!(
        target: "rustack::access",
        request_id = %id,
        service,
        method = %method,
        path = %path,
        status,
        latency_ms = format_args!("{latency_ms:.2}"),
    );
    resp
}
