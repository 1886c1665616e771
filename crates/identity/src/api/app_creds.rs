//! `/v3/users/{user_id}/application_credentials`

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use rustack_common::{new_id, Error};
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use serde_json::{json, Value};

use super::body::Body;
use super::{created, list_response, no_content, ok, users, Query};
use crate::model::AppCred;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/users/{user_id}/application_credentials", get(list).post(create))
        .route("/v3/users/{user_id}/application_credentials/{cred_id}", get(show).delete(delete))
}

/// `expires_at` as Keystone shows it for application credentials: no zone,
/// always six fraction digits.
fn expires_text(t: &rustack_common::time::Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

async fn render(id: &Identity, a: &AppCred) -> Result<Value, Error> {
    let mut roles = Vec::new();
    for r in &a.role_ids {
        if let Some(role) = id.store().get_role(r).await? {
            roles.push(json!({"id": role.id, "name": role.name, "domain_id": role.domain_id, "description": role.description, "options": {}, "links": {"self": id.link(&format!("roles/{}", role.id))}}));
        }
    }
    Ok(json!({
        "id": a.id, "name": a.name,
        "description": if a.description.is_empty() { Value::Null } else { json!(a.description) },
        "user_id": a.user_id, "project_id": a.project_id, "system": null,
        "expires_at": a.expires_at, "unrestricted": a.unrestricted, "roles": roles,
        "links": {"self": id.link(&format!("users/{}/application_credentials/{}", a.user_id, a.id))}
    }))
}

async fn list(State(id): State<Identity>, Authenticated(ctx): Authenticated, Path(uid): Path<String>, q: Query) -> ApiResult<Json<Value>> {
    let u = users::find(&id, &uid).await?;
    id.enforce("identity:list_application_credentials", &ctx, users::target(&u))?;
    let mut items = Vec::new();
    for a in id.store().list_app_creds(&u.id, q.get("name").map(String::as_str)).await? {
        items.push(render(&id, &a).await?);
    }
    Ok(list_response(&id, "application_credentials", &format!("users/{uid}/application_credentials"), &q, items))
}

async fn find(id: &Identity, uid: &str, cid: &str) -> Result<AppCred, Error> {
    id.store()
        .get_app_cred(cid)
        .await?
        .filter(|a| a.user_id == uid)
        .ok_or_else(|| Error::not_found_entity("application credential", cid))
}

async fn show(State(id): State<Identity>, Authenticated(ctx): Authenticated, Path((uid, cid)): Path<(String, String)>) -> ApiResult<Response> {
    let u = users::find(&id, &uid).await?;
    id.enforce("identity:get_application_credential", &ctx, users::target(&u))?;
    let a = find(&id, &u.id, &cid).await?;
    Ok(ok("application_credential", render(&id, &a).await?))
}

async fn create(State(id): State<Identity>, Authenticated(ctx): Authenticated, Path(uid): Path<String>, JsonBody(v): JsonBody<Value>) -> ApiResult<Response> {
    let u = users::find(&id, &uid).await?;
    id.enforce("identity:create_application_credential", &ctx, users::target(&u))?;
    let project_id = ctx.project_id().ok_or_else(|| Error::forbidden("A project-scoped token is required to create an application credential."))?.to_string();
    if let Some(cid) = &ctx.application_credential_id {
        let caller = id.store().get_app_cred(cid).await?;
        if !caller.is_some_and(|c| c.unrestricted) {
            return Err(Error::forbidden("A restricted application credential cannot create application credentials.").into());
        }
    }
    let mut b = Body::new(v, "application_credential")?;
    let name = b.name("name", 255, true)?.expect("required");
    let description = b.string("description", 65535, true)?.unwrap_or_default();
    let secret = match b.string("secret", 4096, true)? {
        Some(s) if !s.is_empty() => s,
        _ => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>()),
    };
    let expires_at = match b.take("expires_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let t = rustack_common::time::parse_iso(&s).ok_or_else(|| Error::bad_request("Invalid input for field 'application_credential.expires_at': not an ISO 8601 time."))?;
            if t <= rustack_common::time::now() {
                return Err(Error::bad_request("Invalid input for field 'application_credential.expires_at': the time is in the past.").into());
            }
            Some(expires_text(&t))
        }
        Some(_) => return Err(Error::bad_request("Invalid input for field 'application_credential.expires_at': expected a string.").into()),
    };
    let unrestricted = b.boolean("unrestricted", false)?.unwrap_or(false);
    if b.take("access_rules").is_some_and(|r| !r.is_null()) {
        return Err(Error::not_implemented("Access rules on application credentials are not served yet.").into());
    }
    let role_ids = match b.take("roles") {
        None | Some(Value::Null) => ctx.roles.iter().map(|r| r.id.clone()).collect(),
        Some(Value::Array(list)) => {
            let mut ids = Vec::new();
            for r in list {
                let found = ctx.roles.iter().find(|t| Some(t.id.as_str()) == r.get("id").and_then(Value::as_str) || Some(t.name.as_str()) == r.get("name").and_then(Value::as_str));
                match found {
                    Some(t) => ids.push(t.id.clone()),
                    None => return Err(Error::bad_request(format!("Invalid input for field 'application_credential.roles': the role {r} is not one of the token's roles.")).into()),
                }
            }
            ids.sort();
            ids.dedup();
            ids
        }
        Some(_) => return Err(Error::bad_request("Invalid input for field 'application_credential.roles': expected a list.").into()),
    };
    let a = AppCred {
        id: new_id(),
        name,
        user_id: u.id.clone(),
        project_id: Some(project_id),
        secret_hash: id.hash_password(&secret).await?,
        description,
        expires_at,
        unrestricted,
        role_ids,
    };
    id.store().create_app_cred(&a).await?;
    let mut body = render(&id, &a).await?;
    body["secret"] = json!(secret);
    Ok(created("application_credential", body))
}

async fn delete(State(id): State<Identity>, Authenticated(ctx): Authenticated, Path((uid, cid)): Path<(String, String)>) -> ApiResult<Response> {
    let u = users::find(&id, &uid).await?;
    id.enforce("identity:delete_application_credential", &ctx, users::target(&u))?;
    if let Some(own) = &ctx.application_credential_id {
        let caller = id.store().get_app_cred(own).await?;
        if !caller.is_some_and(|c| c.unrestricted) {
            return Err(Error::forbidden("A restricted application credential cannot delete application credentials.").into());
        }
    }
    let a = find(&id, &u.id, &cid).await?;
    id.store().delete_app_cred(&a.id).await?;
    id.changed();
    Ok(no_content())
}
