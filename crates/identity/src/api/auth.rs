//! `/v3/auth/*`: issue, validate, check and revoke tokens; the catalog,
//! projects, domains and system a token's user can scope to.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::{Error, ErrorKind};
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use rustack_policy::Target;
use serde_json::{json, Value};

use super::{list_response, Query as Q};
use crate::auth::{AuthHttp, AuthRequest};
use crate::model::{TargetKind, SYSTEM_TARGET};
use crate::token::ValidToken;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/auth/tokens", get(validate).post(issue).delete(revoke))
        .route("/v3/auth/catalog", get(catalog))
        .route("/v3/auth/projects", get(projects))
        .route("/v3/auth/domains", get(domains))
        .route("/v3/auth/system", get(system))
}

const SUBJECT: &str = "x-subject-token";

fn wants_catalog(q: &Q) -> bool {
    !q.contains_key("nocatalog")
}

async fn token_body(id: &Identity, t: &ValidToken, with_catalog: bool) -> Result<Bytes, Error> {
    let slot = &t.rendered[with_catalog as usize];
    if let Some(b) = slot.get() {
        return Ok(b.clone());
    }
    let catalog = if with_catalog && !matches!(t.scope, crate::token::TokenScope::Unscoped) {
        Some(id.catalog(t.project_id()).await?)
    } else {
        None
    };
    let body = Bytes::from(serde_json::to_vec(&json!({"token": t.to_json(catalog)})).expect("token serializes"));
    let _ = slot.set(body.clone());
    Ok(body)
}

fn with_subject(status: StatusCode, token: &str, body: Option<Bytes>) -> Response {
    let mut r = match body {
        Some(b) => (status, [(header::CONTENT_TYPE, "application/json")], b).into_response(),
        None => status.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(token) {
        r.headers_mut().insert(SUBJECT, v);
    }
    r
}

async fn issue(
    State(id): State<Identity>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    q: Q,
    JsonBody(req): JsonBody<AuthRequest>,
) -> ApiResult<Response> {
    let http = AuthHttp {
        method: method.to_string(),
        // the URL as signed (OAuth1 signs the query string too)
        url: format!("{}{}", id.public_url(), uri.path_and_query().map(|p| p.as_str()).unwrap_or(uri.path())),
        headers: headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect(),
    };
    let t = id.authenticate(&req, &http).await?;
    let body = token_body(&id, &t, wants_catalog(&q)).await?;
    Ok(with_subject(StatusCode::CREATED, &t.id, Some(body)))
}

/// The subject token of a validate/check/revoke call, after the caller's
/// policy check. A bad subject token is a 404.
async fn subject(
    id: &Identity,
    ctx: &RequestContext,
    headers: &HeaderMap,
    rule: &str,
) -> Result<Arc<ValidToken>, Error> {
    let s = headers
        .get(SUBJECT)
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::bad_request("The X-Subject-Token header is required."))?;
    let t = id.validate_token(s).await.map_err(|e| match e.kind {
        ErrorKind::Unauthorized => Error::not_found("Could not find token."),
        _ => e,
    })?;
    id.enforce(rule, ctx, Target::new().with("target.token.user_id", t.user.id.as_str()))?;
    Ok(t)
}

/// GET validates (200 with the token), HEAD checks (200, no body).
async fn validate(
    State(id): State<Identity>,
    method: axum::http::Method,
    Authenticated(ctx): Authenticated,
    headers: HeaderMap,
    q: Q,
) -> ApiResult<Response> {
    if method == axum::http::Method::HEAD {
        let t = subject(&id, &ctx, &headers, "identity:check_token").await?;
        return Ok(with_subject(StatusCode::OK, &t.id, None));
    }
    let t = subject(&id, &ctx, &headers, "identity:validate_token").await?;
    let body = token_body(&id, &t, wants_catalog(&q)).await?;
    Ok(with_subject(StatusCode::OK, &t.id, Some(body)))
}

async fn revoke(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    headers: HeaderMap,
    q: Q,
) -> ApiResult<StatusCode> {
    let t = subject(&id, &ctx, &headers, "identity:revoke_token").await?;
    id.revoke_token(&t, super::query_bool(&q, "cascade").unwrap_or(true)).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn catalog(State(id): State<Identity>, Authenticated(ctx): Authenticated) -> ApiResult<Json<Value>> {
    let pid = ctx
        .project_id()
        .ok_or_else(|| Error::forbidden("A project-scoped token is required to produce a service catalog."))?;
    let c = id.catalog(Some(pid)).await?;
    Ok(Json(json!({"catalog": c, "links": {"self": id.link("auth/catalog")}})))
}

async fn projects(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    q: Query<std::collections::HashMap<String, String>>,
) -> ApiResult<Json<Value>> {
    let ids = id.scopable_targets(&ctx.user_id, TargetKind::Project).await?;
    let mut out = Vec::new();
    for pid in ids {
        if let Some(p) = id.store().get_project(&pid).await? {
            if p.enabled {
                out.push(p.to_json(id.public_url()));
            }
        }
    }
    Ok(list_response(&id, "projects", "auth/projects", &q, out))
}

async fn domains(State(id): State<Identity>, Authenticated(ctx): Authenticated, q: Q) -> ApiResult<Json<Value>> {
    let ids = id.scopable_targets(&ctx.user_id, TargetKind::Domain).await?;
    let mut out = Vec::new();
    for did in ids {
        if let Some(d) = id.store().get_domain(&did).await? {
            if d.enabled {
                out.push(d.to_json(id.public_url()));
            }
        }
    }
    Ok(list_response(&id, "domains", "auth/domains", &q, out))
}

async fn system(State(id): State<Identity>, Authenticated(ctx): Authenticated) -> ApiResult<Json<Value>> {
    let roles = id.effective_roles(&ctx.user_id, TargetKind::System, SYSTEM_TARGET).await?;
    let system: Vec<Value> = if roles.is_empty() { vec![] } else { vec![json!({"all": true})] };
    Ok(Json(json!({"system": system, "links": {"self": id.link("auth/system")}})))
}
