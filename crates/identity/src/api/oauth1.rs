//! OS-OAUTH1: consumers (`/v3/OS-OAUTH1/consumers`), the three-legged flow
//! (`request_token`, `authorize/{id}`, `access_token`) and a user's access
//! tokens (`/v3/users/{user_id}/OS-OAUTH1/access_tokens...`). Authentication
//! with an access token is the `oauth1` method of `POST /v3/auth/tokens`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use rand::seq::SliceRandom;
use rustack_common::{new_id, Error};
use rustack_http::context::Scope;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, RequestContext};
use rustack_policy::Target;
use serde_json::{json, Map, Value};

use super::body::Body;
use super::credentials::is_delegated;
use super::{created, list_response, no_content, ok, projects, roles, Query};
use crate::model::TargetKind;
use crate::oauth1::{is_expired, SignedRequest};
use crate::store::oauth1::{AccessToken, Consumer, RequestToken};
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/OS-OAUTH1/consumers", get(list_consumers).post(create_consumer))
        .route(
            "/v3/OS-OAUTH1/consumers/{consumer_id}",
            get(show_consumer).patch(update_consumer).delete(delete_consumer),
        )
        .route("/v3/OS-OAUTH1/request_token", post(request_token))
        .route("/v3/OS-OAUTH1/access_token", post(access_token))
        .route("/v3/OS-OAUTH1/authorize/{request_token_id}", put(authorize))
        .route("/v3/users/{user_id}/OS-OAUTH1/access_tokens", get(list_access_tokens))
        .route(
            "/v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}",
            get(show_access_token).delete(delete_access_token),
        )
        .route("/v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles", get(list_access_token_roles))
        .route(
            "/v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles/{role_id}",
            get(show_access_token_role),
        )
}

const ADMIN: &str = "rule:admin_required";
const ADMIN_OR_SYSTEM_READER: &str = "rule:admin_required or (role:reader and system_scope:all)";

/// Policy rules of this API: (name, check string, allowed with a domain-scoped token).
pub(crate) const RULES: &[(&str, &str, bool)] = &[
    ("identity:get_consumer", ADMIN_OR_SYSTEM_READER, false),
    ("identity:list_consumers", ADMIN_OR_SYSTEM_READER, false),
    ("identity:create_consumer", ADMIN, false),
    ("identity:update_consumer", ADMIN, false),
    ("identity:delete_consumer", ADMIN, false),
    ("identity:authorize_request_token", ADMIN, false),
    ("identity:get_access_token", ADMIN, false),
    ("identity:get_access_token_role", ADMIN, false),
    ("identity:list_access_tokens", ADMIN, false),
    ("identity:list_access_token_roles", ADMIN, false),
    ("identity:delete_access_token", ADMIN, false),
];

/// Rules Keystone scopes to projects only (request tokens name a project).
fn enforce_project_scoped(id: &Identity, rule: &str, ctx: &RequestContext, t: Target) -> Result<(), Error> {
    if matches!(ctx.scope, Scope::System | Scope::Domain { .. }) {
        return Err(Error::forbidden(format!("You are not authorized to perform the requested action: {rule}.")));
    }
    id.enforce(rule, ctx, t)
}

fn request_duration(id: &Identity) -> u64 {
    id.config().ini.int("oauth1", "request_token_duration").unwrap_or(28800)
}

fn access_duration(id: &Identity) -> u64 {
    id.config().ini.int("oauth1", "access_token_duration").unwrap_or(86400)
}

fn expiry(seconds: u64) -> Option<String> {
    (seconds > 0).then(|| {
        rustack_common::time::iso_micro(&(rustack_common::time::now() + chrono::Duration::seconds(seconds as i64)))
    })
}

/// An optional JSON body: empty is `{}`.
fn lenient_json(body: &Bytes) -> Result<Value, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    rustack_http::json::parse_json(body)
}

// ---- consumers ----

fn render_consumer(id: &Identity, c: &Consumer) -> Value {
    let mut v = json!({"id": c.id, "description": c.description, "links": {"self": id.link(&format!("OS-OAUTH1/consumers/{}", c.id))}});
    if let Value::Object(m) = &mut v {
        for (k, x) in &c.extra {
            m.entry(k.clone()).or_insert_with(|| x.clone());
        }
    }
    v
}

async fn find_consumer(id: &Identity, cid: &str) -> Result<Consumer, Error> {
    id.store().get_consumer(cid).await?.ok_or_else(|| Error::not_found_entity("consumer", cid))
}

/// The `consumer` object of a body (absent: empty).
fn consumer_body(v: Value) -> Result<Body, Error> {
    match &v {
        Value::Object(m) if !m.contains_key("consumer") => Body::new(json!({"consumer": {}}), "consumer"),
        _ => Body::new(v, "consumer"),
    }
}

async fn list_consumers(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_consumers", &ctx, Target::new())?;
    let items = id.store().list_consumers().await?.iter().map(|c| render_consumer(&id, c)).collect();
    Ok(list_response(&id, "consumers", "OS-OAUTH1/consumers", &q, items))
}

async fn create_consumer(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    body: Bytes,
) -> ApiResult<Response> {
    id.enforce("identity:create_consumer", &ctx, Target::new())?;
    let mut b = consumer_body(lenient_json(&body)?)?;
    let description = b.string("description", 64, true)?;
    b.take("id");
    b.take("secret");
    let c = Consumer { id: new_id(), description, secret: new_id(), extra: b.extra() };
    id.store().create_consumer(&c).await?;
    let mut v = render_consumer(&id, &c);
    v["secret"] = json!(c.secret);
    Ok(created("consumer", v))
}

async fn show_consumer(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(cid): Path<String>,
) -> ApiResult<Response> {
    id.enforce("identity:get_consumer", &ctx, Target::new())?;
    Ok(ok("consumer", render_consumer(&id, &find_consumer(&id, &cid).await?)))
}

async fn update_consumer(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(cid): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    id.enforce("identity:update_consumer", &ctx, Target::new())?;
    let v = lenient_json(&body)?;
    let mut b = consumer_body(v)?;
    if b.has("secret") {
        return Err(
            Error::bad_request("Invalid input for field 'consumer.secret': the secret cannot be changed.").into()
        );
    }
    if let Some(bid) = b.take("id") {
        if bid.as_str() != Some(cid.as_str()) {
            return Err(Error::bad_request("Invalid input for field 'consumer.id': it cannot be changed.").into());
        }
    }
    let has_description = b.has("description");
    let description = b.string("description", 64, true)?;
    let extra: Map<String, Value> = b.extra();
    if !has_description && extra.is_empty() {
        return Err(Error::bad_request(
            "Invalid input for field 'consumer': at least one attribute to update is required.",
        )
        .into());
    }
    let mut c = find_consumer(&id, &cid).await?;
    if has_description {
        c.description = description;
    }
    for (k, x) in extra {
        c.extra.insert(k, x);
    }
    id.store().update_consumer(&c).await?;
    Ok(ok("consumer", render_consumer(&id, &c)))
}

async fn delete_consumer(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(cid): Path<String>,
) -> ApiResult<Response> {
    id.enforce("identity:delete_consumer", &ctx, Target::new())?;
    let c = find_consumer(&id, &cid).await?;
    id.store().delete_consumer(&c.id).await?;
    // tokens made with the consumer's access tokens end with them
    id.changed();
    Ok(no_content())
}

// ---- the three legs ----

fn signed(id: &Identity, method: &Method, uri: &Uri, headers: &HeaderMap) -> Result<SignedRequest, Error> {
    SignedRequest::new(
        id,
        method.as_str(),
        uri.path(),
        uri.query(),
        headers.iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?))),
    )
}

fn form_response(token: &str, secret: &str, expires_at: &Option<String>) -> Response {
    let mut body = format!("oauth_token={token}&oauth_token_secret={secret}");
    if let Some(e) = expires_at {
        body.push_str(&format!("&oauth_expires_at={e}"));
    }
    (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")], body).into_response()
}

fn missing(attribute: &str) -> Error {
    Error::bad_request(format!("Invalid input for field '{attribute}': expecting to find {attribute} in the request."))
}

/// `POST /v3/OS-OAUTH1/request_token`, signed by the consumer, with the
/// project in `Requested-Project-Id`.
async fn request_token(
    State(id): State<Identity>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let req = signed(&id, &method, &uri, &headers)?;
    let consumer_id = req.get("oauth_consumer_key").ok_or_else(|| missing("oauth_consumer_key"))?.to_string();
    let project_id = headers
        .get("requested-project-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| missing("Requested-Project-Id"))?
        .to_string();
    projects::find(&id, &project_id).await?;
    let consumer = find_consumer(&id, &consumer_id).await?;
    req.check_parameters(&["oauth_callback"])?;
    if !req.verify(&consumer.secret, "") {
        return Err(Error::unauthorized("Invalid signature").into());
    }
    let t = RequestToken {
        id: new_id(),
        request_secret: new_id(),
        verifier: None,
        authorizing_user_id: None,
        requested_project_id: project_id,
        role_ids: Vec::new(),
        consumer_id,
        expires_at: expiry(request_duration(&id)),
    };
    id.store().create_request_token(&t).await?;
    Ok(form_response(&t.id, &t.request_secret, &t.expires_at))
}

/// Characters of a verifier: letters and digits, without the ones that are
/// easily confused (`jiIl1oO0`), as Keystone makes them.
const VERIFIER_CHARS: &[u8] = b"abcdefghkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

fn new_verifier() -> String {
    let mut rng = rand::thread_rng();
    VERIFIER_CHARS.choose_multiple(&mut rng, 8).map(|b| *b as char).collect()
}

/// `PUT /v3/OS-OAUTH1/authorize/{request_token_id}` with `{"roles": [...]}`:
/// the caller lets the consumer act for them with those roles.
async fn authorize(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(rtid): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    enforce_project_scoped(&id, "identity:authorize_request_token", &ctx, Target::new())?;
    let v = lenient_json(&body)?;
    let wanted = match v.get("roles") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(Error::bad_request("Invalid input for field 'roles': expected a list.").into()),
    };
    let mut refs = Vec::new();
    for r in &wanted {
        let m = r.as_object().filter(|m| m.len() == 1).ok_or_else(|| {
            Error::bad_request("Invalid input for field 'roles': each role is an object with only an 'id' or a 'name'.")
        })?;
        match (m.get("id"), m.get("name")) {
            (Some(Value::String(s)), None) if !s.is_empty() && s.len() <= 64 => refs.push((Some(s.clone()), None)),
            (None, Some(Value::String(s))) if !s.trim().is_empty() && s.len() <= 255 => {
                refs.push((None, Some(s.clone())))
            }
            _ => {
                return Err(Error::bad_request(
                    "Invalid input for field 'roles': each role is an object with only an 'id' or a 'name'.",
                )
                .into())
            }
        }
    }
    if is_delegated(&ctx) {
        return Err(Error::forbidden("Cannot authorize a request token with a token issued via delegation.").into());
    }
    let t =
        id.store().get_request_token(&rtid).await?.ok_or_else(|| Error::not_found_entity("request token", &rtid))?;
    if is_expired(&t.expires_at) {
        return Err(Error::unauthorized("Request token is expired").into());
    }
    let mut role_ids = Vec::new();
    for r in refs {
        let rid = match r {
            (Some(rid), _) => rid,
            (None, Some(name)) => {
                id.store()
                    .get_role_by_name(&name, None)
                    .await?
                    .ok_or_else(|| Error::not_found_entity("role", &name))?
                    .id
            }
            _ => unreachable!(),
        };
        if !role_ids.contains(&rid) {
            role_ids.push(rid);
        }
    }
    let held = id.effective_roles(&ctx.user_id, TargetKind::Project, &t.requested_project_id).await?;
    if !role_ids.iter().all(|r| held.iter().any(|h| &h.id == r)) {
        return Err(Error::unauthorized("authorizing user does not have role required").into());
    }
    let verifier = new_verifier();
    id.store().authorize_request_token(&t.id, &ctx.user_id, &role_ids, &verifier).await?;
    Ok((StatusCode::OK, Json(json!({"token": {"oauth_verifier": verifier}}))).into_response())
}

/// `POST /v3/OS-OAUTH1/access_token`, signed by the consumer with the
/// authorized request token and its verifier.
async fn access_token(State(id): State<Identity>, method: Method, uri: Uri, headers: HeaderMap) -> ApiResult<Response> {
    let req = signed(&id, &method, &uri, &headers)?;
    let consumer_id = req.get("oauth_consumer_key").ok_or_else(|| missing("oauth_consumer_key"))?.to_string();
    let rtid = req.get("oauth_token").ok_or_else(|| missing("oauth_token"))?.to_string();
    let verifier = req.get("oauth_verifier").ok_or_else(|| missing("oauth_verifier"))?.to_string();
    let t =
        id.store().get_request_token(&rtid).await?.ok_or_else(|| Error::not_found_entity("request token", &rtid))?;
    if is_expired(&t.expires_at) {
        return Err(Error::unauthorized("Request token is expired").into());
    }
    req.check_parameters(&["oauth_token", "oauth_verifier"])?;
    let consumer = id
        .store()
        .get_consumer(&consumer_id)
        .await?
        .ok_or_else(|| Error::unauthorized("Provided consumer does not exist."))?;
    if t.consumer_id != consumer.id {
        return Err(Error::unauthorized("Provided consumer key does not match stored consumer key.").into());
    }
    if t.verifier.as_deref() != Some(verifier.as_str()) {
        return Err(Error::unauthorized("Provided verifier does not match stored verifier").into());
    }
    if !req.verify(&consumer.secret, &t.request_secret) {
        return Err(Error::unauthorized("Invalid signature").into());
    }
    let user_id = t
        .authorizing_user_id
        .clone()
        .ok_or_else(|| Error::unauthorized("Request Token does not have an authorizing user id."))?;
    let a = AccessToken {
        id: new_id(),
        access_secret: new_id(),
        authorizing_user_id: user_id,
        project_id: t.requested_project_id.clone(),
        role_ids: t.role_ids.clone(),
        consumer_id: consumer.id.clone(),
        expires_at: expiry(access_duration(&id)),
    };
    if !id.store().exchange_request_token(&t.id, &a).await? {
        return Err(Error::unauthorized("The request token has already been used.").into());
    }
    Ok(form_response(&a.id, &a.access_secret, &a.expires_at))
}

// ---- a user's access tokens ----

fn render_access_token(id: &Identity, a: &AccessToken) -> Value {
    let base = format!("users/{}/OS-OAUTH1/access_tokens/{}", a.authorizing_user_id, a.id);
    json!({
        "id": a.id, "consumer_id": a.consumer_id, "project_id": a.project_id,
        "authorizing_user_id": a.authorizing_user_id, "expires_at": a.expires_at,
        "links": {"self": id.link(&base), "roles": id.link(&format!("{base}/roles"))}
    })
}

fn no_delegation(ctx: &RequestContext) -> Result<(), Error> {
    if is_delegated(ctx) {
        return Err(Error::forbidden("Cannot manage OAuth access tokens with a token issued via delegation."));
    }
    Ok(())
}

async fn find_access_token(id: &Identity, atid: &str) -> Result<AccessToken, Error> {
    id.store().get_oauth_access_token(atid).await?.ok_or_else(|| Error::not_found_entity("access token", atid))
}

fn user_target(uid: &str) -> Target {
    Target::new().with("user_id", uid)
}

async fn list_access_tokens(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(uid): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    enforce_project_scoped(&id, "identity:list_access_tokens", &ctx, user_target(&uid))?;
    no_delegation(&ctx)?;
    let items = id.store().list_oauth_access_tokens(&uid).await?.iter().map(|a| render_access_token(&id, a)).collect();
    Ok(list_response(&id, "access_tokens", &format!("users/{uid}/OS-OAUTH1/access_tokens"), &q, items))
}

async fn show_access_token(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((uid, atid)): Path<(String, String)>,
) -> ApiResult<Response> {
    enforce_project_scoped(&id, "identity:get_access_token", &ctx, user_target(&uid))?;
    no_delegation(&ctx)?;
    let a = find_access_token(&id, &atid).await?;
    if a.authorizing_user_id != uid {
        return Err(Error::not_found_entity("access token", &atid).into());
    }
    Ok(ok("access_token", render_access_token(&id, &a)))
}

async fn delete_access_token(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((uid, atid)): Path<(String, String)>,
) -> ApiResult<Response> {
    enforce_project_scoped(&id, "identity:delete_access_token", &ctx, user_target(&uid))?;
    no_delegation(&ctx)?;
    let a = find_access_token(&id, &atid).await?;
    if a.authorizing_user_id != uid {
        return Err(Error::unauthorized("User IDs do not match").into());
    }
    id.store().delete_oauth_access_token(&a.id).await?;
    // tokens made with it end with it
    id.changed();
    Ok(no_content())
}

fn render_role(id: &Identity, r: &crate::model::Role) -> Value {
    let mut v = r.to_json(id.public_url());
    if let Value::Object(m) = &mut v {
        m.remove("description");
    }
    v
}

async fn list_access_token_roles(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((uid, atid)): Path<(String, String)>,
    q: Query,
) -> ApiResult<Json<Value>> {
    enforce_project_scoped(&id, "identity:list_access_token_roles", &ctx, user_target(&uid))?;
    let a = find_access_token(&id, &atid).await?;
    if a.authorizing_user_id != uid {
        return Err(Error::not_found_entity("access token", &atid).into());
    }
    let mut items = Vec::new();
    for rid in &a.role_ids {
        items.push(render_role(&id, &roles::find(&id, rid).await?));
    }
    Ok(list_response(&id, "roles", &format!("users/{uid}/OS-OAUTH1/access_tokens/{atid}/roles"), &q, items))
}

async fn show_access_token_role(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((uid, atid, rid)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    enforce_project_scoped(&id, "identity:get_access_token_role", &ctx, user_target(&uid))?;
    let a = find_access_token(&id, &atid).await?;
    if a.authorizing_user_id != uid {
        return Err(Error::unauthorized("User IDs do not match").into());
    }
    if !a.role_ids.contains(&rid) {
        return Err(Error::not_found_entity("role", &rid).into());
    }
    Ok(ok("role", render_role(&id, &roles::find(&id, &rid).await?)))
}
