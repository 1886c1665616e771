//! The noVNC console proxy (port 6080, `[vnc] port`), nova-novncproxy's job:
//! serves noVNC's page and files from `[vnc] novnc_path`, and on a websocket
//! upgrade (any path) checks the console token — the `token` query
//! parameter, else the `token=` inside the `path` parameter, else a `token`
//! cookie, as websockify takes it — then relays the websocket to the
//! instance's VNC socket on its host.
//!
//! A token is single-use: the upgrade consumes it whether or not the relay
//! then works. Refusals happen before the upgrade, as an HTTP status with an
//! empty body and `Connection: close` (a websocket client sees the
//! connection close without data).

mod files;
mod relay;
pub(crate) mod tokens;

use std::collections::HashMap;
use std::path::PathBuf;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{middleware, Router};

use crate::Compute;

/// The console proxy's routes.
pub(crate) fn router(c: Compute) -> Router {
    Router::new()
        .fallback(handle)
        .with_state(c)
        .layer(middleware::from_fn(|req, next| rustack_http::request_log::log_requests("novncproxy", req, next)))
}

async fn handle(State(c): State<Compute>, req: Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    if !is_upgrade(&parts.headers) {
        let root = c
            .options()
            .config
            .ini
            .str("vnc", "novnc_path")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/share/novnc"));
        return files::serve(&root, &parts.method, parts.uri.path()).await;
    }
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(e) => return e.into_response(),
    };
    websocket(c, parts, ws).await
}

fn is_upgrade(h: &HeaderMap) -> bool {
    h.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
}

async fn websocket(c: Compute, parts: Parts, ws: WebSocketUpgrade) -> Response {
    if let Err(why) = check_origin(&parts.headers) {
        return refuse(StatusCode::FORBIDDEN, why);
    }
    let Some(token) = token_of(&parts) else {
        return refuse(StatusCode::FORBIDDEN, "no console token");
    };
    let grant = match c.store().console_token_consume(&token).await {
        Ok(Some(g)) => g,
        Ok(None) => return refuse(StatusCode::FORBIDDEN, "invalid, used or expired console token"),
        Err(e) => {
            tracing::warn!(error = %e.message, "console token lookup failed");
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "console token lookup failed");
        }
    };
    // the instance's host now (it may have moved since the token was issued)
    let host = match c.store().instance_get(&grant.instance_uuid).await {
        Ok(Some(i)) => i.host,
        _ => None,
    };
    let Some(host) = host else {
        return refuse(StatusCode::NOT_FOUND, "the console's instance is gone");
    };
    let Some(path) = c.agent(&host).and_then(|a| a.driver.vnc_socket(&grant.instance_uuid)) else {
        return refuse(StatusCode::NOT_FOUND, "the instance has no VNC console on this node");
    };
    let vnc = match tokio::net::UnixStream::connect(&path).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(instance = %grant.instance_uuid, error = %e, "cannot reach the VNC socket");
            return refuse(StatusCode::BAD_GATEWAY, "the instance's VNC server does not answer");
        }
    };
    tracing::info!(instance = %grant.instance_uuid, host = %host, "console session opened");
    let instance = grant.instance_uuid;
    ws.protocols(["binary"])
        .max_frame_size(relay::MAX_CLIENT_MESSAGE)
        .max_message_size(relay::MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| relay::relay(socket, vnc, instance))
}

/// An HTTP refusal of an upgrade: no body, and the connection closes.
fn refuse(status: StatusCode, why: &str) -> Response {
    tracing::info!(status = status.as_u16(), reason = why, "console connection refused");
    let mut r = status.into_response();
    r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    r
}

/// The token as websockify finds it: `?token=`, else `token=` in the `path`
/// parameter (noVNC ≥ 1.1), else a `token` cookie (older noVNC).
fn token_of(parts: &Parts) -> Option<String> {
    let q: HashMap<String, String> = Query::try_from_uri(&parts.uri).map(|q| q.0).unwrap_or_default();
    let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    if let Some(t) = q.get("token").and_then(|t| nonempty(t)) {
        return Some(t);
    }
    if let Some(p) = q.get("path") {
        let inner = p.split_once('?').map_or(p.as_str(), |(_, q)| q);
        if let Some(t) = inner.split('&').find_map(|kv| kv.strip_prefix("token=")).and_then(nonempty) {
            return Some(t);
        }
    }
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| kv.trim().strip_prefix("token="))
        .and_then(nonempty)
}

/// Nova's check: a browser's `Origin` must name the host the proxy was
/// reached at (another site's page cannot use a user's console URL); no
/// `Origin` is a non-browser client, which is fine.
fn check_origin(h: &HeaderMap) -> Result<(), &'static str> {
    let Some(origin) = h.get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().map_err(|_| "Origin header not valid.")?;
    let (scheme, rest) = origin.split_once("://").ok_or("Origin header not valid.")?;
    let origin_host = hostname(rest.split('/').next().unwrap_or_default());
    if scheme.is_empty() || origin_host.is_empty() {
        return Err("Origin header not valid.");
    }
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok()).map(hostname).unwrap_or_default();
    if !origin_host.eq_ignore_ascii_case(host) {
        return Err("Origin header does not match this host.");
    }
    Ok(())
}

/// `host[:port]` → host; `[v6][:port]` → v6.
fn hostname(authority: &str) -> &str {
    if let Some(r) = authority.strip_prefix('[') {
        r.split(']').next().unwrap_or_default()
    } else {
        authority.split(':').next().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = axum::http::Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request").into_parts().0
    }

    #[test]
    fn token_from_query_path_or_cookie() {
        assert_eq!(token_of(&parts("/?token=abc", &[])), Some("abc".into()));
        assert_eq!(token_of(&parts("/websockify?path=%3Ftoken%3Dxyz", &[])), Some("xyz".into()));
        assert_eq!(token_of(&parts("/?path=websockify%3Fa%3D1%26token%3Dq", &[])), Some("q".into()));
        assert_eq!(token_of(&parts("/websockify", &[("cookie", "a=b; token=ck")])), Some("ck".into()));
        // Tempest sends its URL's query as a cookie; the query wins
        assert_eq!(token_of(&parts("/?token=t1", &[("cookie", "path=%3Ftoken%3Dt2")])), Some("t1".into()));
        assert_eq!(token_of(&parts("/websockify", &[("cookie", "path=%3Ftoken%3Dt2")])), None);
        assert_eq!(token_of(&parts("/?token=", &[])), None);
        assert_eq!(token_of(&parts("/", &[])), None);
    }

    #[test]
    fn origin_must_match_host() {
        let h = |pairs: &[(&str, &str)]| parts("/", pairs).headers;
        assert!(check_origin(&h(&[("host", "10.0.0.1:6080")])).is_ok());
        assert!(check_origin(&h(&[("host", "10.0.0.1:6080"), ("origin", "http://10.0.0.1:6080")])).is_ok());
        assert!(check_origin(&h(&[("host", "[::1]:6080"), ("origin", "http://[::1]:6080")])).is_ok());
        assert!(check_origin(&h(&[("host", "Cloud:6080"), ("origin", "https://cloud")])).is_ok());
        assert!(check_origin(&h(&[("host", "10.0.0.1:6080"), ("origin", "http://evil.example")])).is_err());
        assert!(check_origin(&h(&[("host", "10.0.0.1:6080"), ("origin", "null")])).is_err());
    }
}
