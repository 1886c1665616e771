//! The Compute API v2.1 routes. Handlers are thin: parse, authorize, call
//! the service, render. Errors are rendered once, in Nova's shape, by the
//! layers `api_layers` installs; microversions are negotiated by
//! `rustack_http::microversion::layer` (handlers take `Extension<Version>`).

mod actions;
mod consoles;
mod evacuate;
mod extensions;
mod fixed_ips;
mod flavors;
mod floating_ips;
mod groups;
mod hosts;
mod keypairs;
mod legacy_hosts;
mod migrate;
mod proxies;
mod quotas;
mod secgroups;
mod server_extras;
mod server_floating_ips;
mod server_password;
mod servers;
mod versions;
mod view;

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{middleware, Json, Router};
use rustack_common::Error;
use rustack_http::microversion::{Microversions, Version};
use rustack_http::{ApiError, ErrorStyle, RequestContext};
use serde_json::Value;

use crate::Compute;

pub(crate) type Query = axum::extract::Query<HashMap<String, String>>;

pub fn router(svc: Compute) -> Router {
    let o = svc.options().clone();
    let mv = Microversions {
        service: "compute",
        legacy_header: Some("X-OpenStack-Nova-API-Version"),
        min: Version::new(2, 1),
        max: svc.cfg().max_version,
    };
    let v21 = Router::new()
        .merge(flavors::routes())
        .merge(keypairs::routes())
        .merge(servers::routes())
        .merge(actions::routes())
        .merge(migrate::routes())
        .merge(consoles::routes())
        .merge(server_extras::routes())
        .merge(server_password::routes())
        .merge(floating_ips::routes())
        .merge(groups::routes())
        .merge(hosts::routes())
        .merge(quotas::routes())
        .merge(legacy_hosts::routes())
        .merge(proxies::routes())
        .merge(secgroups::routes())
        .merge(extensions::routes())
        .fallback(|| async { ApiError(Error::not_found("The resource could not be found.")) });
    let api = Router::new()
        .merge(versions::routes())
        .nest("/v2.1", v21)
        .fallback(|| async { ApiError(Error::not_found("The resource could not be found.")) })
        .with_state(svc)
        .layer(middleware::from_fn_with_state(mv, rustack_http::microversion::layer));
    let api = rustack_http::token_layer::with_validator(api, "compute", o.validator.clone());
    // the project-id rewrite must run before routing, so it wraps the router
    let rewritten = tower::Layer::layer(&middleware::from_fn(strip_project_id), api);
    let api = Router::new().fallback_service(rewritten);
    // outside the layers, where the request log has named the request
    rustack_http::api_layers(api, "compute", ErrorStyle::Nova, &o.identity_url, o.config.max_request_body_size)
        .layer(middleware::map_response(compute_request_id))
}

/// Nova also serves every route under `/v2.1/{project_id}/…` (the legacy
/// catalog URL): the project id segment is dropped.
async fn strip_project_id(mut req: axum::extract::Request, next: middleware::Next) -> Response {
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix("/v2.1/") {
        let (seg, tail) = rest.split_once('/').unwrap_or((rest, ""));
        let is_project = seg.len() == 32 && seg.bytes().all(|b| b.is_ascii_hexdigit());
        if is_project {
            let q = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
            let new = format!("/v2.1/{tail}{q}");
            if let Ok(uri) = new.parse() {
                *req.uri_mut() = uri;
            }
        }
    }
    next.run(req).await
}

/// Nova names the request id twice: `X-Compute-Request-Id` as well.
async fn compute_request_id(mut r: Response) -> Response {
    if let Some(v) = r.headers().get("x-openstack-request-id").cloned() {
        r.headers_mut().insert("x-compute-request-id", v);
    }
    r
}

/// Whether the caller is an administrator (Nova's `rule:admin_api`).
pub(crate) fn is_admin(ctx: &RequestContext) -> bool {
    ctx.has_role("admin")
}

pub(crate) fn require_admin(ctx: &RequestContext, rule: &str) -> Result<(), Error> {
    if is_admin(ctx) {
        Ok(())
    } else {
        Err(Error::forbidden(format!("Policy doesn't allow {rule} to be performed.")))
    }
}

/// The caller's project; a token without one cannot use compute.
pub(crate) fn project_of(ctx: &RequestContext) -> Result<&str, Error> {
    ctx.project_id().ok_or_else(|| Error::forbidden("A project-scoped token is required."))
}

/// Nova's schema check of an action body's object: a key not in `allowed`
/// is a 400 naming it (additionalProperties false).
pub(crate) fn only_keys(o: &serde_json::Map<String, Value>, allowed: &[&str], attribute: &str) -> Result<(), Error> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(Error::bad_request(format!(
            "Invalid input for field/attribute {attribute}. Additional properties are not allowed ('{k}' was unexpected)"
        ))),
        None => Ok(()),
    }
}

pub(crate) fn ok(v: Value) -> Response {
    (StatusCode::OK, Json(v)).into_response()
}

pub(crate) fn status(code: u16, v: Value) -> Response {
    (StatusCode::from_u16(code).unwrap_or(StatusCode::OK), Json(v)).into_response()
}

pub(crate) fn accepted() -> Response {
    StatusCode::ACCEPTED.into_response()
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `(self link, bookmark link)` of a resource path such as `servers/<id>`.
pub(crate) fn links(c: &Compute, path: &str) -> Value {
    let base = &c.options().public_url;
    serde_json::json!([
        {"rel": "self", "href": format!("{base}/v2.1/{path}")},
        {"rel": "bookmark", "href": format!("{base}/{path}")},
    ])
}

/// Paging as Nova: `limit` (positive int) and `marker` (an id in the list).
pub(crate) fn page<T>(
    items: Vec<T>,
    q: &HashMap<String, String>,
    id_of: impl Fn(&T) -> &str,
    marker_missing: impl FnOnce(&str) -> Error,
) -> Result<(Vec<T>, bool), Error> {
    let limit = match q.get("limit") {
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            Error::bad_request(format!(
                "Invalid input for query parameters limit. Value: {l}. '{l}' does not match '^[0-9]*$'"
            ))
        })?),
        None => None,
    };
    let mut items = items;
    if let Some(m) = q.get("marker") {
        let pos = items.iter().position(|i| id_of(i) == m).ok_or_else(|| marker_missing(m))?;
        items.drain(..=pos);
    }
    let mut more = false;
    if let Some(l) = limit {
        if items.len() > l {
            items.truncate(l);
            more = true;
        }
        if l == 0 {
            more = false;
        }
    }
    Ok((items, more))
}

/// The `next` link of a truncated list.
pub(crate) fn next_link(c: &Compute, path: &str, q: &HashMap<String, String>, last_id: &str) -> Value {
    let mut params: Vec<String> =
        q.iter().filter(|(k, _)| k.as_str() != "marker").map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
    params.sort();
    params.push(format!("marker={last_id}"));
    serde_json::json!([{"rel": "next", "href": format!("{}/v2.1/{path}?{}", c.options().public_url, params.join("&"))}])
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub(crate) fn bool_param(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Some(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Some(false),
        _ => None,
    }
}

#[allow(dead_code)]
pub(crate) fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}
