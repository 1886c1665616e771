//! Key pairs (`os-keypairs`): import, generate (before 2.92), list, show,
//! delete; per user, with `user_id` for admins from 2.10.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use serde_json::{json, Value};

use super::{accepted, is_admin, next_link, no_content, ok, page, status, Query};
use crate::keygen;
use crate::model::{iso_naive, Keypair};
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new().route("/os-keypairs", get(list).post(create)).route("/os-keypairs/{name}", get(show).delete(delete))
}

/// The user whose key pairs a request is about (`user_id` needs admin, 2.10).
fn target_user(ctx: &RequestContext, v: Version, asked: Option<&str>) -> Result<String, Error> {
    match asked {
        Some(u) if v.at_least(2, 10) && u != ctx.user_id => {
            if is_admin(ctx) {
                Ok(u.to_string())
            } else {
                Err(Error::forbidden("Policy doesn't allow os_compute_api:os-keypairs:index to be performed."))
            }
        }
        _ => Ok(ctx.user_id.clone()),
    }
}

fn not_found(name: &str) -> Error {
    Error::not_found(format!("Keypair {name} not found for user"))
}

async fn list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    q: Query,
) -> ApiResult<Response> {
    let user = target_user(&ctx, v, q.get("user_id").map(String::as_str))?;
    let all = c.store().keypair_list(&user).await?;
    let (items, more) = if v.at_least(2, 35) {
        page(all, &q, |k| k.name.as_str(), |m| Error::bad_request(format!("marker [{m}] not found")))?
    } else {
        (all, false)
    };
    let list: Vec<Value> = items
        .iter()
        .map(|k| {
            let mut o = json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint});
            if v.at_least(2, 2) {
                o["type"] = json!(k.key_type);
            }
            json!({ "keypair": o })
        })
        .collect();
    let mut body = json!({"keypairs": list});
    if more {
        if let Some(last) = items.last() {
            body["keypairs_links"] = next_link(&c, "os-keypairs", &q, &last.name);
        }
    }
    Ok(ok(body))
}

fn valid_name(name: &str, v: Version) -> bool {
    let extra: &str = if v.at_least(2, 92) { "_- @." } else { "_- " };
    !name.trim().is_empty()
        && name.len() <= 255
        && name.chars().all(|ch| ch.is_ascii_alphanumeric() || extra.contains(ch))
}

async fn create(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let o = body.get("keypair").and_then(Value::as_object).ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute keypair. 'keypair' is a required property")
    })?;
    let allowed: &[&str] = match (v.at_least(2, 2), v.at_least(2, 10)) {
        (_, true) => &["name", "public_key", "type", "user_id"],
        (true, false) => &["name", "public_key", "type"],
        _ => &["name", "public_key"],
    };
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(Error::bad_request(format!("Additional properties are not allowed ('{k}' was unexpected)")).into());
    }
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::bad_request("Invalid input for field/attribute name. 'name' is a required property"))?;
    if !valid_name(name, v) {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute name. Value: {name}. Keypair name contains unsafe characters or is too long"
        ))
        .into());
    }
    let key_type = match o.get("type") {
        None => "ssh",
        Some(Value::String(t)) if t == "ssh" || t == "x509" => t.as_str(),
        Some(t) => {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute type. Value: {t}. is not one of ['ssh', 'x509']"
            ))
            .into())
        }
    };
    let user = target_user(&ctx, v, o.get("user_id").and_then(Value::as_str))?;
    let public = match o.get("public_key") {
        Some(Value::String(p)) => Some(p.trim().to_string()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(Error::bad_request("Invalid input for field/attribute public_key.").into()),
    };
    if public.is_none() && v.at_least(2, 92) {
        return Err(Error::bad_request(
            "Invalid input for field/attribute keypair. 'public_key' is a required property",
        )
        .into());
    }
    let (public_key, private_key) = match public {
        Some(p) => (p, None),
        None if key_type == "x509" => {
            let (cert, key) = keygen::generate_x509(name);
            (cert, Some(key))
        }
        None => {
            let (p, s) = keygen::generate(name)?;
            (p, Some(s))
        }
    };
    let fingerprint =
        if key_type == "x509" { keygen::x509_fingerprint(&public_key)? } else { keygen::ssh_fingerprint(&public_key)? };
    let mut k = Keypair {
        id: 0,
        name: name.to_string(),
        user_id: user.clone(),
        key_type: key_type.to_string(),
        fingerprint,
        public_key,
        created_at: crate::model::now(),
    };
    c.store().keypair_create(&mut k, c.cfg().quota_key_pairs).await?;
    let mut out =
        json!({"name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint, "user_id": k.user_id});
    if let Some(s) = private_key {
        out["private_key"] = json!(s);
    }
    if v.at_least(2, 2) {
        out["type"] = json!(k.key_type);
        return Ok(status(201, json!({"keypair": out})));
    }
    Ok(ok(json!({"keypair": out})))
}

async fn show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(name): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let user = target_user(&ctx, v, q.get("user_id").map(String::as_str))?;
    let k = c.store().keypair_get(&user, &name).await?.ok_or_else(|| not_found(&name))?;
    let mut o = json!({
        "name": k.name, "public_key": k.public_key, "fingerprint": k.fingerprint, "user_id": k.user_id,
        "id": k.id, "created_at": iso_naive(&k.created_at), "deleted": false, "deleted_at": null, "updated_at": null,
    });
    if v.at_least(2, 2) {
        o["type"] = json!(k.key_type);
    }
    Ok(ok(json!({ "keypair": o })))
}

async fn delete(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(name): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    let user = target_user(&ctx, v, q.get("user_id").map(String::as_str))?;
    if !c.store().keypair_delete(&user, &name).await? {
        return Err(not_found(&name).into());
    }
    Ok(if v.at_least(2, 2) { no_content() } else { accepted() })
}
