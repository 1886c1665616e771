//! Placement's HTTP rules around every handler: microversion negotiation
//! in placement's words, the body's media type (415) and the `Accept`
//! header (406), the `Allow` of a 405, cache headers from 1.15, and the
//! request id inside error bodies.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rustack_common::{Error, ErrorKind};
use rustack_http::microversion::Version;
use rustack_http::ApiError;

use super::MICROVERSIONS;

/// The version asked for, as sent (for the error messages).
fn asked(headers: &HeaderMap) -> String {
    for v in headers.get_all("openstack-api-version") {
        let Ok(v) = v.to_str() else { continue };
        for part in v.split(',') {
            let mut it = part.split_whitespace();
            if it.next().is_some_and(|s| s.eq_ignore_ascii_case("placement")) {
                return it.collect::<Vec<_>>().join(" ");
            }
        }
    }
    String::new()
}

fn stamp(r: &mut Response, v: Version) {
    MICROVERSIONS.stamp(r.headers_mut(), v);
    r.headers_mut().insert(header::VARY, HeaderValue::from_static("openstack-api-version"));
}

/// Negotiates the version (406 "Unacceptable version header", 400 "invalid
/// version string" as upstream words them), then applies the rules.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let v = match MICROVERSIONS.negotiate(req.headers()) {
        Ok(v) => v,
        Err(e) => {
            let a = asked(req.headers());
            let msg = if e.status() == 406 {
                format!("Unacceptable version header: {a}")
            } else {
                format!("invalid version string: {a}")
            };
            let mut r = ApiError(Error::new(e.kind, msg)).into_response();
            stamp(&mut r, MICROVERSIONS.min);
            return r;
        }
    };
    req.extensions_mut().insert(v);
    if let Err(e) = check_request(&req, v) {
        let mut r = ApiError(e).into_response();
        stamp(&mut r, v);
        return r;
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // a GET whose answer would be JSON needs an Accept that takes JSON; the
    // route is found first (404/405 win)
    let refuses_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| !a.trim().is_empty() && !accepts_json(a));
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(String::from);
    let mut r = next.run(req).await;
    if refuses_json && method == Method::GET && path != "/" && r.status().is_success() {
        r = ApiError(Error::new(ErrorKind::NotAcceptable, "Only application/json is provided")).into_response();
    }
    stamp(&mut r, v);
    // a Location is absolute, as webob writes it
    if let (Some(host), Some(loc)) = (host, r.headers().get(header::LOCATION).and_then(|l| l.to_str().ok())) {
        if loc.starts_with('/') {
            if let Ok(val) = HeaderValue::from_str(&format!("http://{host}{loc}")) {
                r.headers_mut().insert(header::LOCATION, val);
            }
        }
    }
    // (upstream's resource class PUT sends none)
    let cacheable = method == Method::GET || (method == Method::PUT && !path.starts_with("/resource_classes/"));
    if v.at_least(1, 15) && cacheable && r.status().is_success() {
        let now = chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        if let Ok(val) = HeaderValue::from_str(&now) {
            r.headers_mut().insert(header::LAST_MODIFIED, val);
        }
        r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    r
}

fn check_request(req: &Request, _v: Version) -> Result<(), Error> {
    let h = req.headers();
    let ctype = h.get(header::CONTENT_TYPE).and_then(|c| c.to_str().ok()).unwrap_or("").trim();
    let clen = h.get(header::CONTENT_LENGTH).and_then(|c| c.to_str().ok()).map(str::trim);
    if let Some(l) = clen {
        let n: u64 = l.parse().map_err(|_| Error::bad_request("content-length header must be an integer"))?;
        if n > 0 && ctype.is_empty() {
            return Err(Error::bad_request("content-type header required when content-length > 0"));
        }
    }
    Ok(())
}

/// Whether an `Accept` header admits application/json (with q > 0).
fn accepts_json(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let t = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()))
            .next()
            .unwrap_or(1.0);
        q > 0.0 && matches!(t.as_str(), "application/json" | "application/*" | "*/*")
    })
}

/// Outside the error renderer: each error of a body names the request id
/// (`errors[].request_id`), as upstream's error formatter does.
/// Also writes the `Allow` of a 405 as upstream does ("GET, POST": axum
/// adds it, with HEAD, after the inner layers ran).
pub async fn request_id_in_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let mut r = next.run(req).await;
    let is_405 = r.status() == StatusCode::METHOD_NOT_ALLOWED;
    if r.status() == StatusCode::METHOD_NOT_ALLOWED {
        if let Some(allow) = r.headers().get(header::ALLOW).and_then(|a| a.to_str().ok()) {
            let list: Vec<&str> = allow.split(',').map(str::trim).filter(|m| *m != "HEAD").collect();
            if let Ok(val) = HeaderValue::from_str(&list.join(", ")) {
                r.headers_mut().insert(header::ALLOW, val);
            }
        }
    }
    if !(r.status().is_client_error() || r.status().is_server_error()) {
        return r;
    }
    let Some(id) = r.headers().get("x-openstack-request-id").and_then(|v| v.to_str().ok()).map(String::from) else {
        return r;
    };
    let (mut parts, body) = r.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let mut v: serde_json::Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(_) => return Response::from_parts(parts, Body::from(bytes)),
    };
    if let Some(errs) = v.get_mut("errors").and_then(|e| e.as_array_mut()) {
        for e in errs {
            e["request_id"] = serde_json::Value::String(id.clone());
            if is_405 {
                e["detail"] =
                    serde_json::Value::String(format!("The method {method} is not allowed for this resource."));
            }
        }
    }
    let out = serde_json::to_vec(&v).unwrap_or_else(|_| bytes.to_vec());
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_ranges() {
        assert!(accepts_json("application/json"));
        assert!(accepts_json("text/html, */*;q=0.1"));
        assert!(!accepts_json("text/plain"));
        assert!(!accepts_json("application/json;q=0"));
    }
}
