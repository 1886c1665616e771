//! `/v3/users/{user_id}/access_rules`: the access rules a user's application
//! credentials use (made with the credentials, listed, shown, and deleted
//! once no credential uses them).

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::Error;
use rustack_http::context::AccessRule;
use rustack_http::token_layer::Authenticated;
use rustack_http::ApiResult;
use rustack_policy::Target;
use serde_json::Value;

use super::app_creds::{check_not_delegated, rule_json};
use super::{list_response, no_content, ok, users, Query};
use crate::store::access_rules::RuleDeletion;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/users/{user_id}/access_rules", get(list))
        .route("/v3/users/{user_id}/access_rules/{rule_id}", get(show).delete(delete))
}

/// Policy rules of this API: (name, check string, allowed with a domain-scoped token).
pub(crate) const RULES: &[(&str, &str, bool)] = &[
    ("identity:get_access_rule", "(role:reader and system_scope:all) or user_id:%(target.user.id)s", false),
    ("identity:list_access_rules", "(role:reader and system_scope:all) or user_id:%(target.user.id)s", false),
    ("identity:delete_access_rule", "(role:admin and system_scope:all) or user_id:%(target.user.id)s", false),
];

/// The policy target: the user when it exists (Keystone defers a missing
/// user to the lookup that follows).
async fn target(id: &Identity, user_id: &str) -> Result<Target, Error> {
    Ok(match id.store().get_user(user_id).await? {
        Some(u) => users::target(&u),
        None => Target::new(),
    })
}

fn render(id: &Identity, user_id: &str, r: &AccessRule) -> Value {
    let mut v = rule_json(r);
    v["links"] = serde_json::json!({"self": id.link(&format!("users/{user_id}/access_rules/{}", r.id))});
    v
}

fn not_found(rule_id: &str) -> Error {
    Error::not_found_entity("access rule", rule_id)
}

async fn list(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(uid): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_access_rules", &ctx, target(&id, &uid).await?)?;
    check_not_delegated(&ctx)?;
    let items = id
        .store()
        .list_access_rules(&uid)
        .await?
        .iter()
        .filter(|r| {
            [("service", &r.service), ("path", &r.path), ("method", &r.method)]
                .iter()
                .all(|(k, v)| q.get(*k).is_none_or(|want| want == *v))
        })
        .map(|r| render(&id, &uid, r))
        .collect();
    Ok(list_response(&id, "access_rules", &format!("users/{uid}/access_rules"), &q, items))
}

async fn show(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((uid, rid)): Path<(String, String)>,
) -> ApiResult<Response> {
    id.enforce("identity:get_access_rule", &ctx, target(&id, &uid).await?)?;
    check_not_delegated(&ctx)?;
    let (_, r) =
        id.store().get_access_rule(&rid).await?.filter(|(owner, _)| *owner == uid).ok_or_else(|| not_found(&rid))?;
    Ok(ok("access_rule", render(&id, &uid, &r)))
}

async fn delete(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((uid, rid)): Path<(String, String)>,
) -> ApiResult<Response> {
    id.enforce("identity:delete_access_rule", &ctx, target(&id, &uid).await?)?;
    check_not_delegated(&ctx)?;
    match id.store().delete_access_rule(&rid, &uid).await? {
        RuleDeletion::Deleted => Ok(no_content()),
        RuleDeletion::NotFound => Err(not_found(&rid).into()),
        RuleDeletion::InUse => Err(Error::forbidden("May not delete access rule in use.").into()),
    }
}
