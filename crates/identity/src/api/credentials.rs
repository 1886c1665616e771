//! `/v3/credentials`: credentials of any type (ec2, cert, totp, …), their
//! blobs encrypted at rest. Users manage their own; a token made by delegation
//! (application credential, OAuth1, EC2, trust) cannot touch credentials.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::{new_id, Error};
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use rustack_policy::Target;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::body::Body;
use super::{created, list_response, no_content, ok, Query};
use crate::credential_keys::Credential;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/credentials", get(list).post(create))
        .route("/v3/credentials/{credential_id}", get(show).patch(update).delete(delete))
}

const OWNER_OR_ADMIN: &str = "(rule:admin_required) or user_id:%(target.credential.user_id)s";
const READER_OWNER_OR_ADMIN: &str =
    "(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s";

/// Policy rules of this API: (name, check string, allowed with a domain-scoped token).
pub(crate) const RULES: &[(&str, &str, bool)] = &[
    ("identity:get_credential", READER_OWNER_OR_ADMIN, true),
    ("identity:list_credentials", READER_OWNER_OR_ADMIN, true),
    ("identity:create_credential", OWNER_OR_ADMIN, true),
    ("identity:update_credential", OWNER_OR_ADMIN, true),
    ("identity:delete_credential", OWNER_OR_ADMIN, true),
];

/// Keystone's primary authentication methods. A token made any other way
/// (application credential, OAuth1 access token, EC2 credential) is delegated.
const PRIMARY_METHODS: &[&str] =
    &["external", "kerberos", "mapped", "openid", "password", "saml2", "token", "totp", "x509"];

/// Whether the caller's token was made by delegation: a method that is not
/// primary, or a trust scope.
pub(super) fn is_delegated(ctx: &RequestContext) -> bool {
    ctx.methods.is_empty() || ctx.methods.iter().any(|m| !PRIMARY_METHODS.contains(&m.as_str())) || ctx.trust.is_some()
}

fn delegated_forbidden() -> Error {
    Error::forbidden(
        "You are not authorized to perform the requested action: Delegated tokens cannot access credentials directly.",
    )
}

pub(super) fn require_primary_auth(ctx: &RequestContext) -> Result<(), Error> {
    if is_delegated(ctx) {
        return Err(delegated_forbidden());
    }
    Ok(())
}

/// The id of an EC2 credential: the SHA-256 of its access key, in hex.
pub(crate) fn ec2_credential_id(access: &str) -> String {
    Sha256::digest(access.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

pub(super) fn render(id: &Identity, c: &Credential) -> Value {
    let mut v = json!({
        "id": c.id, "user_id": c.user_id, "project_id": c.project_id, "type": c.cred_type,
        "blob": c.blob, "links": {"self": id.link(&format!("credentials/{}", c.id))}
    });
    if let Value::Object(m) = &mut v {
        for (k, x) in &c.extra {
            m.entry(k.clone()).or_insert_with(|| x.clone());
        }
    }
    v
}

fn target(c: &Credential) -> Target {
    let mut t = Target::new()
        .with("target.credential.id", c.id.as_str())
        .with("target.credential.user_id", c.user_id.as_str())
        .with("target.credential.type", c.cred_type.as_str());
    if let Some(p) = &c.project_id {
        t = t.with("target.credential.project_id", p.as_str());
    }
    t
}

/// The parsed blob of an EC2 credential: a JSON object with an `access` key.
pub(super) fn ec2_blob(blob: &str) -> Result<Map<String, Value>, Error> {
    let v: Value = serde_json::from_str(blob).map_err(|_| {
        Error::bad_request("Invalid input for field 'credential.blob': Invalid blob in credential (not JSON).")
    })?;
    let m = match v {
        Value::Object(m) if !m.is_empty() => m,
        _ => {
            return Err(Error::bad_request("Invalid input for field 'credential.blob': an EC2 blob is a JSON object."))
        }
    };
    if m.get("access").is_none_or(Value::is_null) {
        return Err(Error::bad_request("Invalid input for field 'credential.blob': an EC2 blob needs 'access'."));
    }
    Ok(m)
}

fn is_ec2(t: &str) -> bool {
    t.eq_ignore_ascii_case("ec2")
}

fn required(field: &str) -> Error {
    Error::bad_request(format!("Invalid input for field 'credential': '{field}' is a required property."))
}

/// Loads a credential; a missing one is answered after the policy check, as
/// Keystone does (non-owners get 403 either way).
async fn load(id: &Identity, cid: &str) -> Result<(Option<Credential>, Target), Error> {
    let c = id.get_credential(cid).await?;
    let t = c.as_ref().map(target).unwrap_or_default();
    Ok((c, t))
}

fn not_found(cid: &str) -> Error {
    Error::not_found_entity("credential", cid)
}

async fn list(State(id): State<Identity>, Authenticated(ctx): Authenticated, q: Query) -> ApiResult<Json<Value>> {
    let t = if ctx.is_system() {
        Target::new()
    } else {
        Target::new().with("target.credential.user_id", ctx.user_id.as_str())
    };
    id.enforce("identity:list_credentials", &ctx, t)?;
    let delegated = is_delegated(&ctx);
    let mut items = Vec::new();
    if !delegated {
        for c in id.list_credentials(q.get("user_id").map(String::as_str), q.get("type").map(String::as_str)).await? {
            // only what the caller may see, one by one
            if id.enforce("identity:get_credential", &ctx, target(&c)).is_ok() {
                items.push(render(&id, &c));
            }
        }
    }
    Ok(list_response(&id, "credentials", "credentials", &q, items))
}

async fn create(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut b = Body::new(v, "credential")?;
    let blob = b.string("blob", usize::MAX, false)?.ok_or_else(|| required("blob"))?;
    let cred_type = b.string("type", 255, false)?.ok_or_else(|| required("type"))?;
    let user_id = b.string("user_id", 64, false)?.ok_or_else(|| required("user_id"))?;
    let has_project = b.has("project_id");
    let project_id = b.string("project_id", 64, true)?;
    if is_ec2(&cred_type) && !has_project {
        return Err(required("project_id").into());
    }
    b.string("id", 64, true)?; // a client-chosen id is ignored, as in Keystone
    let extra = b.extra();
    let mut c = Credential { id: String::new(), user_id, project_id, cred_type, blob, extra };
    id.enforce("identity:create_credential", &ctx, target(&c))?;
    require_primary_auth(&ctx)?;
    c.id = if is_ec2(&c.cred_type) {
        let m = ec2_blob(&c.blob)?;
        let access = match &m["access"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        ec2_credential_id(&access)
    } else {
        new_id()
    };
    id.create_credential(&c).await?;
    Ok(created("credential", render(&id, &c)))
}

async fn show(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(cid): Path<String>,
) -> ApiResult<Response> {
    let (c, t) = load(&id, &cid).await?;
    id.enforce("identity:get_credential", &ctx, t)?;
    let c = c.ok_or_else(|| not_found(&cid))?;
    require_primary_auth(&ctx)?;
    Ok(ok("credential", render(&id, &c)))
}

/// Fields of an EC2 blob that fix what the credential can do: they cannot change.
const EC2_FIXED: &[&str] = &["trust_id", "app_cred_id", "access_token_id", "access_id"];

async fn update(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(cid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let mut b = Body::new(v, "credential")?;
    let blob = b.string("blob", usize::MAX, false)?;
    if let Some((k, _)) = b.extra().into_iter().next() {
        return Err(Error::bad_request(format!("Invalid input for field 'credential.{k}': only 'blob' can be updated; delete the credential and create a new one to change anything else.")).into());
    }
    let blob = blob.ok_or_else(|| required("blob"))?;
    let (c, t) = load(&id, &cid).await?;
    id.enforce("identity:update_credential", &ctx, t)?;
    let mut c = c.ok_or_else(|| not_found(&cid))?;
    require_primary_auth(&ctx)?;
    if is_ec2(&c.cred_type) {
        let new = ec2_blob(&blob)?;
        let old: Map<String, Value> = serde_json::from_str(&c.blob).unwrap_or_default();
        for k in EC2_FIXED {
            let get = |m: &Map<String, Value>| m.get(*k).filter(|v| !v.is_null()).cloned();
            if get(&old) != get(&new) {
                return Err(Error::bad_request(format!(
                    "Invalid input for field 'credential.blob': {k} can not be updated for credential."
                ))
                .into());
            }
        }
    }
    id.update_credential_blob(&c.id, &blob).await?;
    c.blob = blob;
    Ok(ok("credential", render(&id, &c)))
}

async fn delete(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(cid): Path<String>,
) -> ApiResult<Response> {
    let (c, t) = load(&id, &cid).await?;
    id.enforce("identity:delete_credential", &ctx, t)?;
    let c = c.ok_or_else(|| not_found(&cid))?;
    require_primary_auth(&ctx)?;
    id.store().delete_credential(&c.id).await?;
    Ok(no_content())
}
