//! Server groups (`os-server-groups`): affinity, anti-affinity and the soft
//! variants (2.15), with `policy` and `rules` from 2.64.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use serde_json::{json, Map, Value};

use super::{is_admin, no_content, ok, project_of, Query};
use crate::model::ServerGroup;
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-server-groups", get(list).post(create))
        .route("/os-server-groups/{id}", get(show).delete(delete))
}

fn view(g: &ServerGroup, v: Version) -> Value {
    let mut o = json!({"id": g.id, "name": g.name, "members": g.members});
    if v.at_least(2, 64) {
        o["policy"] = json!(g.policy);
        o["rules"] = json!(g.rules);
    } else {
        o["policies"] = json!([g.policy]);
        o["metadata"] = json!({});
    }
    if v.at_least(2, 13) {
        o["project_id"] = json!(g.project_id);
        o["user_id"] = json!(g.user_id);
    }
    o
}

async fn load(c: &Compute, ctx: &RequestContext, id: &str) -> Result<ServerGroup, Error> {
    let nf = || Error::not_found(format!("Instance group {id} could not be found."));
    let g = c.store().group_get(id).await?.ok_or_else(nf)?;
    if is_admin(ctx) || ctx.project_id() == Some(g.project_id.as_str()) {
        Ok(g)
    } else {
        Err(nf())
    }
}

async fn create(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let project = project_of(&ctx)?.to_string();
    let o = body.get("server_group").and_then(Value::as_object).ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute server_group. 'server_group' is a required property")
    })?;
    let name =
        o.get("name").and_then(Value::as_str).filter(|n| !n.trim().is_empty() && n.len() <= 255).ok_or_else(|| {
            Error::bad_request("Invalid input for field/attribute name. 'name' is a required property")
        })?;
    let mut allowed = vec!["affinity", "anti-affinity"];
    if v.at_least(2, 15) {
        allowed.extend(["soft-affinity", "soft-anti-affinity"]);
    }
    let (policy, rules) = if v.at_least(2, 64) {
        if o.contains_key("policies") {
            return Err(Error::bad_request("Additional properties are not allowed ('policies' was unexpected)").into());
        }
        let p = o.get("policy").and_then(Value::as_str).ok_or_else(|| {
            Error::bad_request("Invalid input for field/attribute server_group. 'policy' is a required property")
        })?;
        let rules = o.get("rules").and_then(Value::as_object).cloned().unwrap_or_default();
        for (k, val) in &rules {
            if k != "max_server_per_host" || p != "anti-affinity" || val.as_u64().is_none_or(|n| n < 1) {
                return Err(Error::bad_request(format!("Invalid input for field/attribute rules. Value: {k}.")).into());
            }
        }
        (p.to_string(), rules)
    } else {
        let ps = o.get("policies").and_then(Value::as_array).ok_or_else(|| {
            Error::bad_request("Invalid input for field/attribute server_group. 'policies' is a required property")
        })?;
        if ps.len() != 1 {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute policies. Value: {}.",
                Value::Array(ps.clone())
            ))
            .into());
        }
        (ps[0].as_str().unwrap_or_default().to_string(), Map::new())
    };
    if !allowed.contains(&policy.as_str()) {
        return Err(Error::bad_request(format!(
            "Invalid input for field/attribute policy. Value: {policy}. '{policy}' is not one of {allowed:?}"
        ))
        .into());
    }
    let g = ServerGroup {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        project_id: project.clone(),
        user_id: ctx.user_id.clone(),
        policy,
        rules,
        members: vec![],
        created_at: crate::model::now(),
    };
    let quota = super::servers::limits_of(&c, &project).await?.get("server_groups").copied().unwrap_or(10);
    c.store().group_create(&g, quota).await?;
    Ok(ok(json!({"server_group": view(&g, v)})))
}

async fn list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    q: Query,
) -> ApiResult<Response> {
    let all = is_admin(&ctx) && q.get("all_projects").is_some_and(|a| super::bool_param(a) != Some(false));
    let groups =
        if all { c.store().group_list(None).await? } else { c.store().group_list(Some(project_of(&ctx)?)).await? };
    let offset: usize = q.get("offset").and_then(|o| o.parse().ok()).unwrap_or(0);
    let limit: usize = q.get("limit").and_then(|o| o.parse().ok()).unwrap_or(usize::MAX);
    let list: Vec<Value> = groups.iter().skip(offset).take(limit).map(|g| view(g, v)).collect();
    Ok(ok(json!({"server_groups": list})))
}

async fn show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let g = load(&c, &ctx, &id).await?;
    Ok(ok(json!({"server_group": view(&g, v)})))
}

async fn delete(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    load(&c, &ctx, &id).await?;
    c.store().group_delete(&id).await?;
    Ok(no_content())
}
