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
use rustack_http::context::AccessRule;
use rustack_http::RequestContext;

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
    let mut v = json!({
        "id": a.id, "name": a.name,
        "description": if a.description.is_empty() { Value::Null } else { json!(a.description) },
        "user_id": a.user_id, "project_id": a.project_id, "system": null,
        "expires_at": a.expires_at, "unrestricted": a.unrestricted, "roles": roles,
        "links": {"self": id.link(&format!("users/{}/application_credentials/{}", a.user_id, a.id))}
    });
    let rules = id.store().app_cred_access_rules(&a.id).await?;
    if !rules.is_empty() {
        v["access_rules"] = rules.iter().map(rule_json).collect();
    }
    Ok(v)
}

/// An access rule as application credentials and tokens show it.
pub(crate) fn rule_json(r: &AccessRule) -> Value {
    json!({"id": r.id, "path": r.path, "method": r.method, "service": r.service})
}

/// Keystone keeps tokens from a trust, an OAuth1 access token or an EC2
/// credential away from application credentials and access rules (a
/// credential made that way would outlive the delegation).
pub(crate) fn check_not_delegated(ctx: &RequestContext) -> Result<(), Error> {
    if ctx.methods.iter().any(|m| m == "application_credential") {
        return Ok(());
    }
    if ctx.trust.is_some() || crate::trusts::is_delegated_method(ctx) {
        return Err(Error::forbidden("Cannot manage application credentials with a token issued via delegation."));
    }
    Ok(())
}

const METHODS: &[&str] = &["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"];

/// An `^[a-zA-Z0-9-]+$` string of 1 to 64 characters (Keystone's id_string).
fn id_string(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
}

/// One requested access rule: an existing rule by id, or a (service, path,
/// method), with an optional id for a new rule.
struct RuleRequest {
    id: Option<String>,
    service: Option<String>,
    path: Option<String>,
    method: Option<String>,
}

fn parse_access_rules(v: Value) -> Result<Vec<RuleRequest>, Error> {
    let bad =
        |why: &str| Error::bad_request(format!("Invalid input for field 'application_credential.access_rules': {why}"));
    let Value::Array(items) = v else {
        return Err(bad("expected a list."));
    };
    let mut out = Vec::new();
    for item in items {
        let Value::Object(m) = item else {
            return Err(bad("each access rule is an object."));
        };
        let mut r = RuleRequest { id: None, service: None, path: None, method: None };
        for (k, x) in m {
            let s = x.as_str().ok_or_else(|| bad(&format!("'{k}' must be a string.")))?.to_string();
            match k.as_str() {
                "id" if id_string(&s) => r.id = Some(s),
                "service" if id_string(&s) => r.service = Some(s),
                "path" if s.starts_with('/') && s.chars().count() <= 225 => r.path = Some(s),
                "method" if METHODS.contains(&s.as_str()) => r.method = Some(s),
                "id" | "service" => {
                    return Err(bad(&format!("'{k}' must match ^[a-zA-Z0-9-]+$ and have 1 to 64 characters.")))
                }
                "path" => return Err(bad("'path' must start with '/' and have at most 225 characters.")),
                "method" => return Err(bad(&format!("'method' must be one of {}.", METHODS.join(", ")))),
                _ => return Err(bad(&format!("unexpected '{k}' in an access rule."))),
            }
        }
        out.push(r);
    }
    Ok(out)
}

/// Resolves requested rules against the user's: an id names an existing rule
/// of the user (another user's is a 404) or a new one; an existing rule with
/// the same (service, path, method) is reused, as in Keystone.
async fn resolve_access_rules(id: &Identity, user_id: &str, reqs: Vec<RuleRequest>) -> Result<Vec<AccessRule>, Error> {
    let mut out: Vec<AccessRule> = Vec::new();
    for r in reqs {
        if let Some(rid) = &r.id {
            if let Some((owner, existing)) = id.store().get_access_rule(rid).await? {
                if owner != user_id {
                    return Err(Error::not_found_entity("access rule", rid));
                }
                if !out.iter().any(|o| o.id == existing.id) {
                    out.push(existing);
                }
                continue;
            }
        }
        let (Some(service), Some(path), Some(method)) = (r.service, r.path, r.method) else {
            return Err(Error::bad_request(
                "Invalid input for field 'application_credential.access_rules': a new access rule needs 'service', 'path' and 'method'.",
            ));
        };
        let rule = match id.store().find_access_rule(user_id, &service, &path, &method).await? {
            Some(existing) => existing,
            None => match out.iter().find(|o| o.service == service && o.path == path && o.method == method) {
                Some(same) => same.clone(),
                None => AccessRule { id: r.id.unwrap_or_else(new_id), service, method, path },
            },
        };
        if !out.iter().any(|o| o.id == rule.id) {
            out.push(rule);
        }
    }
    Ok(out)
}

async fn list(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(uid): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    let u = users::find(&id, &uid).await?;
    id.enforce("identity:list_application_credentials", &ctx, users::target(&u))?;
    check_not_delegated(&ctx)?;
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

async fn show(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((uid, cid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let u = users::find(&id, &uid).await?;
    id.enforce("identity:get_application_credential", &ctx, users::target(&u))?;
    check_not_delegated(&ctx)?;
    let a = find(&id, &u.id, &cid).await?;
    Ok(ok("application_credential", render(&id, &a).await?))
}

async fn create(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(uid): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let u = users::find(&id, &uid).await?;
    id.enforce("identity:create_application_credential", &ctx, users::target(&u))?;
    check_not_delegated(&ctx)?;
    let project_id = ctx
        .project_id()
        .ok_or_else(|| Error::forbidden("A project-scoped token is required to create an application credential."))?
        .to_string();
    if let Some(cid) = &ctx.application_credential_id {
        let caller = id.store().get_app_cred(cid).await?;
        if !caller.is_some_and(|c| c.unrestricted) {
            return Err(
                Error::forbidden("A restricted application credential cannot create application credentials.").into()
            );
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
            let t = rustack_common::time::parse_iso(&s).ok_or_else(|| {
                Error::bad_request("Invalid input for field 'application_credential.expires_at': not an ISO 8601 time.")
            })?;
            if t <= rustack_common::time::now() {
                return Err(Error::bad_request(
                    "Invalid input for field 'application_credential.expires_at': the time is in the past.",
                )
                .into());
            }
            Some(expires_text(&t))
        }
        Some(_) => {
            return Err(Error::bad_request(
                "Invalid input for field 'application_credential.expires_at': expected a string.",
            )
            .into())
        }
    };
    let unrestricted = b.boolean("unrestricted", false)?.unwrap_or(false);
    let access_rules = match b.take("access_rules") {
        None => Vec::new(),
        Some(r) => parse_access_rules(r)?,
    };
    let role_ids = match b.take("roles") {
        // no roles, or an empty list (openstackclient's default): the token's roles
        None | Some(Value::Null) => ctx.roles.iter().map(|r| r.id.clone()).collect(),
        Some(Value::Array(list)) if list.is_empty() => ctx.roles.iter().map(|r| r.id.clone()).collect(),
        Some(Value::Array(list)) => {
            let mut ids = Vec::new();
            for r in list {
                let found = ctx.roles.iter().find(|t| {
                    Some(t.id.as_str()) == r.get("id").and_then(Value::as_str)
                        || Some(t.name.as_str()) == r.get("name").and_then(Value::as_str)
                });
                match found {
                    Some(t) => ids.push(t.id.clone()),
                    None => return Err(Error::bad_request(format!("Invalid input for field 'application_credential.roles': the role {r} is not one of the token's roles.")).into()),
                }
            }
            // as Keystone, the roles the given ones imply come along
            let mut ids: Vec<String> = id.expand_implied(&ids).await?.into_iter().map(|r| r.id).collect();
            ids.retain(|r| ctx.roles.iter().any(|t| t.id == *r));
            // as Keystone, the roles the requested ones imply come along, and
            // must be in the token too
            let implied = id.store().implied_roles().await?;
            let mut i = 0;
            while i < ids.len() {
                for (prior, next) in &implied {
                    if *prior == ids[i] && !ids.contains(next) {
                        ids.push(next.clone());
                    }
                }
                i += 1;
            }
            if let Some(missing) = ids.iter().find(|r| !ctx.roles.iter().any(|t| t.id == **r)) {
                return Err(Error::bad_request(format!(
                    "Invalid input for field 'application_credential.roles': the implied role {missing} is not one of the token's roles."
                ))
                .into());
            }
            ids.sort();
            ids.dedup();
            ids
        }
        Some(_) => {
            return Err(
                Error::bad_request("Invalid input for field 'application_credential.roles': expected a list.").into()
            )
        }
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
    let rules = resolve_access_rules(&id, &u.id, access_rules).await?;
    id.store().create_app_cred(&a).await?;
    if !rules.is_empty() {
        if let Err(e) = id.store().link_access_rules(&a.id, &u.id, &rules).await {
            let _ = id.store().delete_app_cred(&a.id).await;
            return Err(e.into());
        }
    }
    let mut body = render(&id, &a).await?;
    body["secret"] = json!(secret);
    Ok(created("application_credential", body))
}

async fn delete(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((uid, cid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let u = users::find(&id, &uid).await?;
    id.enforce("identity:delete_application_credential", &ctx, users::target(&u))?;
    check_not_delegated(&ctx)?;
    if let Some(own) = &ctx.application_credential_id {
        let caller = id.store().get_app_cred(own).await?;
        if !caller.is_some_and(|c| c.unrestricted) {
            return Err(
                Error::forbidden("A restricted application credential cannot delete application credentials.").into()
            );
        }
    }
    let a = find(&id, &u.id, &cid).await?;
    id.store().delete_app_cred(&a.id).await?;
    id.changed();
    Ok(no_content())
}
