//! `/v3/OS-TRUST/trusts`: create, list, show and delete trusts, and the
//! roles a trust delegates.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::Error;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use rustack_policy::Target;
use serde_json::{json, Value};

use super::body::Body;
use super::{created, list_response, no_content, ok, Query};
use crate::store::trusts::Trust;
use crate::trusts::{check_not_delegated, NewTrust, RoleRef};
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/OS-TRUST/trusts", get(list).post(create))
        // tempest lists with a trailing slash; Keystone serves both
        .route("/v3/OS-TRUST/trusts/", get(list).post(create))
        .route("/v3/OS-TRUST/trusts/{trust_id}", get(show).delete(delete))
        .route("/v3/OS-TRUST/trusts/{trust_id}/roles", get(list_roles))
        .route("/v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}", get(show_role))
}

const ADMIN_OR_READER_OR_PARTY: &str = "(rule:admin_required) or ((role:reader and system_scope:all) or \
     user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)";

/// Policy rules of this API: (name, check string, allowed with a domain-scoped token).
pub(crate) const RULES: &[(&str, &str, bool)] = &[
    ("identity:create_trust", "user_id:%(target.trust.trustor_user_id)s", false),
    ("identity:list_trusts", "rule:admin_required or (role:reader and system_scope:all)", false),
    (
        "identity:list_trusts_for_trustor",
        "(rule:admin_required) or ((role:reader and system_scope:all) or user_id:%(target.trust.trustor_user_id)s)",
        false,
    ),
    (
        "identity:list_trusts_for_trustee",
        "(rule:admin_required) or ((role:reader and system_scope:all) or user_id:%(target.trust.trustee_user_id)s)",
        false,
    ),
    ("identity:list_roles_for_trust", ADMIN_OR_READER_OR_PARTY, false),
    ("identity:get_role_for_trust", ADMIN_OR_READER_OR_PARTY, false),
    ("identity:delete_trust", "rule:admin_required or user_id:%(target.trust.trustor_user_id)s", false),
    ("identity:get_trust", ADMIN_OR_READER_OR_PARTY, false),
];

fn target(t: &Trust) -> Target {
    let v = Target::new()
        .with("target.trust.id", t.id.as_str())
        .with("target.trust.trustor_user_id", t.trustor_user_id.as_str())
        .with("target.trust.trustee_user_id", t.trustee_user_id.as_str());
    match &t.project_id {
        Some(p) => v.with("target.trust.project_id", p.as_str()),
        None => v,
    }
}

/// A trust without its roles (as lists show it). Keystone shows times with
/// the microseconds zeroed.
fn render(id: &Identity, t: &Trust) -> Value {
    let mut v = json!({
        "id": t.id,
        "trustor_user_id": t.trustor_user_id,
        "trustee_user_id": t.trustee_user_id,
        "project_id": t.project_id,
        "impersonation": t.impersonation,
        "expires_at": t.expires().map(|e| e.format("%Y-%m-%dT%H:%M:%S.000000Z").to_string()),
        "remaining_uses": t.remaining_uses,
        "redelegated_trust_id": t.redelegated_trust_id,
        "redelegation_count": t.redelegation_count,
        "deleted_at": null,
        "links": {"self": id.link(&format!("OS-TRUST/trusts/{}", t.id))},
    });
    if let Value::Object(m) = &mut v {
        for (k, x) in &t.extra {
            m.entry(k.clone()).or_insert_with(|| x.clone());
        }
    }
    v
}

async fn trust_roles(id: &Identity, t: &Trust) -> Result<Vec<Value>, Error> {
    let mut roles = Vec::new();
    for rid in &t.role_ids {
        if let Some(r) = id.store().get_role(rid).await? {
            roles.push(r.to_json(id.public_url()));
        }
    }
    Ok(roles)
}

/// A trust with its roles (create and show).
async fn render_full(id: &Identity, t: &Trust) -> Result<Value, Error> {
    let mut v = render(id, t);
    v["roles"] = Value::Array(trust_roles(id, t).await?);
    v["roles_links"] =
        json!({"self": id.link(&format!("OS-TRUST/trusts/{}/roles", t.id)), "previous": null, "next": null});
    Ok(v)
}

fn invalid(field: &str, why: &str) -> Error {
    Error::bad_request(format!("Invalid input for field 'trust.{field}': {why}"))
}

/// An integer field with a minimum, or null.
fn int_field(b: &mut Body, field: &str, min: i64) -> Result<Option<i64>, Error> {
    match b.take(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) if i >= min => Ok(Some(i)),
            Some(_) => Err(invalid(field, &format!("must be at least {min}."))),
            None => Err(invalid(field, "expected an integer.")),
        },
        Some(_) => Err(invalid(field, "expected an integer or null.")),
    }
}

/// Reads a trust request with Keystone's schema: 400s naming the field.
fn parse(v: Value) -> Result<NewTrust, Error> {
    let mut b = Body::new(v, "trust")?;
    let required =
        |f: &str| Error::bad_request(format!("Invalid input for field 'trust': '{f}' is a required property."));
    let trustor_user_id = b.string("trustor_user_id", 255, false)?.ok_or_else(|| required("trustor_user_id"))?;
    let trustee_user_id = b.string("trustee_user_id", 255, false)?.ok_or_else(|| required("trustee_user_id"))?;
    let impersonation = b.boolean("impersonation", false)?.ok_or_else(|| required("impersonation"))?;
    let project_id = b.string("project_id", 255, true)?.filter(|p| !p.is_empty());
    let remaining_uses = int_field(&mut b, "remaining_uses", 1)?;
    let redelegation_count = int_field(&mut b, "redelegation_count", 0)?;
    let allow_redelegation = match b.take("allow_redelegation") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(x)) => x,
        Some(_) => return Err(invalid("allow_redelegation", "expected a boolean or null.")),
    };
    let expires_at = match b.take("expires_at") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let t =
                rustack_common::time::parse_iso(&s).ok_or_else(|| invalid("expires_at", "not an ISO 8601 time."))?;
            if t <= rustack_common::time::now() {
                return Err(invalid("expires_at", "the time is in the past."));
            }
            Some(t)
        }
        Some(_) => return Err(invalid("expires_at", "expected a string or null.")),
    };
    let roles = match b.take("roles") {
        None => Vec::new(),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for item in items {
                let obj = item
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .ok_or_else(|| invalid("roles", "each role is an object with one of 'id' or 'name'."))?;
                let (k, val) = obj.iter().next().expect("one entry");
                let s = val
                    .as_str()
                    .filter(|s| !s.trim().is_empty() && s.chars().count() <= 255)
                    .ok_or_else(|| invalid("roles", &format!("'{k}' must be a non-empty string.")))?;
                out.push(match k.as_str() {
                    "id" if s.len() <= 64 => RoleRef::Id(s.to_string()),
                    "name" => RoleRef::Name(s.to_string()),
                    _ => return Err(invalid("roles", &format!("unexpected '{k}' in a role."))),
                });
            }
            out
        }
        Some(_) => return Err(invalid("roles", "expected a list.")),
    };
    // set by the server, never by the client
    for f in ["id", "links", "roles_links", "deleted_at", "redelegated_trust_id"] {
        b.take(f);
    }
    Ok(NewTrust {
        trustor_user_id,
        trustee_user_id,
        project_id,
        impersonation,
        roles,
        expires_at,
        remaining_uses,
        allow_redelegation,
        redelegation_count,
        extra: b.extra(),
    })
}

async fn create(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let n = parse(v)?;
    id.enforce(
        "identity:create_trust",
        &ctx,
        Target::new().with("target.trust.trustor_user_id", n.trustor_user_id.as_str()),
    )?;
    if ctx.is_system() {
        // create_trust's scope types are project only
        return Err(
            Error::forbidden("You are not authorized to perform the requested action: identity:create_trust.").into()
        );
    }
    check_not_delegated(&ctx)?;
    let t = id.create_trust(&ctx, n).await?;
    Ok(created("trust", render_full(&id, &t).await?))
}

async fn list(State(id): State<Identity>, Authenticated(ctx): Authenticated, q: Query) -> ApiResult<Json<Value>> {
    let trustor = q.get("trustor_user_id").filter(|s| !s.is_empty());
    let trustee = q.get("trustee_user_id").filter(|s| !s.is_empty());
    if let Some(u) = trustor {
        id.enforce(
            "identity:list_trusts_for_trustor",
            &ctx,
            Target::new().with("target.trust.trustor_user_id", u.as_str()),
        )?;
    } else if let Some(u) = trustee {
        id.enforce(
            "identity:list_trusts_for_trustee",
            &ctx,
            Target::new().with("target.trust.trustee_user_id", u.as_str()),
        )?;
    } else {
        id.enforce("identity:list_trusts", &ctx, Target::new())?;
    }
    check_not_delegated(&ctx)?;
    // as Keystone: any query without a trustor or trustee filter lists nothing
    let trusts = match (q.is_empty(), trustor, trustee) {
        (true, _, _) => id.store().list_trusts(None, None).await?,
        (false, Some(u), _) => id.store().list_trusts(Some(u), None).await?,
        (false, None, Some(u)) => id.store().list_trusts(None, Some(u)).await?,
        (false, None, None) => Vec::new(),
    };
    let items = trusts.iter().map(|t| render(&id, t)).collect();
    Ok(list_response(&id, "trusts", "OS-TRUST/trusts", &q, items))
}

async fn show(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(tid): Path<String>,
) -> ApiResult<Response> {
    // a missing trust is a 404 before any policy check (lp#1840288)
    let t = id.find_usable_trust(&tid).await?;
    id.enforce("identity:get_trust", &ctx, target(&t))?;
    check_not_delegated(&ctx)?;
    Ok(ok("trust", render_full(&id, &t).await?))
}

async fn delete(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(tid): Path<String>,
) -> ApiResult<Response> {
    let t = id.find_usable_trust(&tid).await?;
    id.enforce("identity:delete_trust", &ctx, target(&t))?;
    check_not_delegated(&ctx)?;
    if !id.store().delete_trust(&t.id).await? {
        return Err(Error::not_found_entity("trust", &tid).into());
    }
    // tokens made from it (and from trusts redelegated from it) end now
    id.changed();
    Ok(no_content())
}

async fn list_roles(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(tid): Path<String>,
) -> ApiResult<Json<Value>> {
    let t = id.find_usable_trust(&tid).await?;
    id.enforce("identity:list_roles_for_trust", &ctx, target(&t))?;
    check_not_delegated(&ctx)?;
    let roles = trust_roles(&id, &t).await?;
    Ok(Json(json!({
        "roles": roles,
        "links": {"self": id.link(&format!("OS-TRUST/trusts/{}/roles", t.id)), "previous": null, "next": null}
    })))
}

async fn show_role(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((tid, rid)): Path<(String, String)>,
) -> ApiResult<Response> {
    let t = id.find_usable_trust(&tid).await?;
    id.enforce("identity:get_role_for_trust", &ctx, target(&t))?;
    check_not_delegated(&ctx)?;
    if !t.role_ids.contains(&rid) {
        return Err(Error::not_found_entity("role", &rid).into());
    }
    let r = id.store().get_role(&rid).await?.ok_or_else(|| Error::not_found_entity("role", &rid))?;
    Ok(ok("role", r.to_json(id.public_url())))
}
