//! The metadata API (port 8775): what a guest reads at 169.254.169.254,
//! reached through the network service's proxy, which names the instance
//! (`X-Instance-ID`, signed when a shared secret is set; see `identify`).
//! The same content fills config drives (`config_drive`).
//!
//! Paths as Nova serves them: `/` lists the EC2 versions, `/openstack` the
//! OpenStack ones; `/openstack/<v>/<document>` (`openstack`), anything else
//! is EC2 (`/<v>/meta-data/…`, `/<v>/user-data`; `ec2`). Errors are Nova's
//! plain-text webob pages.

mod config_drive;
mod ec2;
mod facts;
mod identify;
mod openstack;
mod tree;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use rustack_common::Error;

use crate::model::Instance;
use crate::Compute;
use identify::{IdentifyError, Refusal};

/// Nova keeps at most 4 × 255 characters of password.
const PASSWORD_MAX: usize = 4 * 255;

#[derive(Clone)]
struct Ctx {
    c: Compute,
    secret: Option<Arc<str>>,
}

/// The metadata API's routes.
pub(crate) fn router(c: Compute) -> axum::Router {
    let secret = c.options().config.ini.str("metadata", "shared_secret").map(Arc::from);
    axum::Router::new()
        .fallback(handle)
        .with_state(Ctx { c, secret })
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(middleware::from_fn(|req, next| rustack_http::request_log::log_requests("metadata", req, next)))
}

/// The files of an instance's config drive (`openstack/latest/meta_data.json`
/// and the rest), paths relative to the volume's root.
#[allow(dead_code)] // the QEMU driver calls it (being wired)
pub(crate) async fn config_drive_files(c: &Compute, inst: &Instance) -> Result<BTreeMap<String, Vec<u8>>, Error> {
    let f = facts::gather(c, inst.clone()).await?;
    Ok(config_drive::files(&f))
}

/// A plain-text page as webob renders Nova's errors.
fn page(status: StatusCode, explanation: &str) -> Response {
    let reason = status.canonical_reason().unwrap_or("");
    let body = format!("{} {reason}\n\n{explanation}\n\n   ", status.as_u16());
    (status, [(http::header::CONTENT_TYPE, "text/plain; charset=UTF-8")], body).into_response()
}

fn not_found() -> Response {
    page(StatusCode::NOT_FOUND, "The resource could not be found.")
}

fn ok(body: impl Into<Body>, json: bool) -> Response {
    let ct = if json { "application/json" } else { "text/plain; charset=UTF-8" };
    (StatusCode::OK, [(http::header::CONTENT_TYPE, ct)], body.into()).into_response()
}

/// The path's tokens after normalising it as Nova does (`posixpath.normpath`:
/// empty and `.` segments go, `..` pops).
fn tokens(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for seg in percent_decode(path).split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s.to_string()),
        }
    }
    out
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(State(ctx): State<Ctx>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let t = tokens(uri.path());
    let t: Vec<&str> = t.iter().map(String::as_str).collect();
    if !matches!(method, Method::GET | Method::HEAD | Method::POST) {
        return page(StatusCode::METHOD_NOT_ALLOWED, "The method is not allowed for the requested route.");
    }
    // version listings need no instance (Nova answers `/` before identifying)
    if t.is_empty() {
        return ok(ec2::version_list(), false);
    }
    let inst = match identify::instance(&ctx.c, &headers, ctx.secret.as_deref()).await {
        Ok(i) => i,
        Err(IdentifyError::Refused(Refusal::NotFound)) => return not_found(),
        Err(IdentifyError::Refused(Refusal::Forbidden)) => {
            return page(
                StatusCode::FORBIDDEN,
                "Access was denied to this resource.\n\n Invalid proxy request signature.",
            )
        }
        Err(IdentifyError::Refused(Refusal::BadRequest(m))) => return page(StatusCode::BAD_REQUEST, &m),
        Err(IdentifyError::Failed(e)) => return failed(e),
    };
    let f = match facts::gather(&ctx.c, inst).await {
        Ok(f) => f,
        Err(e) => return failed(e),
    };
    if t[0] == "openstack" {
        return openstack_path(&ctx, &f, &t[1..], &method, &body).await;
    }
    if method == Method::POST {
        return page(StatusCode::METHOD_NOT_ALLOWED, "The method is not allowed for the requested route.");
    }
    let rest = if t[0] == "ec2" { &t[1..] } else { &t[..] };
    let Some((v, path)) = rest.split_first() else { return ok(ec2::version_list(), false) };
    let Some(v) = ec2::version(v) else { return not_found() };
    match ec2::tree(&f, v).find(path) {
        Some(n) => ok(n.print(), false),
        None => not_found(),
    }
}

async fn openstack_path(ctx: &Ctx, f: &facts::Facts, t: &[&str], method: &Method, body: &Bytes) -> Response {
    let Some((v, rest)) = t.split_first() else {
        return if *method == Method::POST { not_found() } else { ok(openstack::version_list(), false) };
    };
    let Some(v) = openstack::version(v) else { return not_found() };
    let name = rest.join("/");
    if name == "password" && openstack::documents(f, v).contains(&"password") {
        return password(ctx, f, method, body).await;
    }
    if *method == Method::POST {
        return page(StatusCode::METHOD_NOT_ALLOWED, "The method is not allowed for the requested route.");
    }
    if rest.is_empty() {
        return ok(openstack::documents(f, v).join("\n"), false);
    }
    match openstack::document(f, v, &name) {
        Some((bytes, json)) => ok(bytes, json),
        None => not_found(),
    }
}

/// Nova's metadata password: GET gives what the guest stored (empty when
/// nothing), POST stores it once (409 after), at most 1020 bytes.
async fn password(ctx: &Ctx, f: &facts::Facts, method: &Method, body: &Bytes) -> Response {
    let store = ctx.c.store();
    if *method != Method::POST {
        return match store.metadata_password_get(&f.inst.uuid).await {
            Ok(p) => ok(p.unwrap_or_default(), false),
            Err(e) => failed(e),
        };
    }
    if body.len() > PASSWORD_MAX {
        return page(StatusCode::BAD_REQUEST, "Request is too large.");
    }
    let pw = String::from_utf8_lossy(body);
    match store.metadata_password_set(&f.inst.uuid, &pw).await {
        Ok(true) => ok("", false),
        Ok(false) => page(StatusCode::CONFLICT, "There was a conflict when trying to complete your request."),
        Err(e) => failed(e),
    }
}

fn failed(e: Error) -> Response {
    tracing::error!(error = %e.message, "metadata request failed");
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        page(StatusCode::INTERNAL_SERVER_ERROR, "An unknown error has occurred. Please try your request again.")
    } else {
        page(status, &e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_normalise_as_posix() {
        assert_eq!(tokens("/latest/meta-data/"), vec!["latest", "meta-data"]);
        assert_eq!(
            tokens("//openstack/./latest/../latest/meta_data.json"),
            vec!["openstack", "latest", "meta_data.json"]
        );
        assert!(tokens("/").is_empty());
        assert_eq!(tokens("/a%2Fb"), vec!["a", "b"]);
        assert_eq!(tokens("/a%zz%4"), vec!["a%zz%4"]);
    }
}
