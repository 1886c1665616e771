//! `/v3/domains`

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use rustack_common::{new_id, Error};
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use rustack_policy::Target;
use serde_json::{Map, Value};

use super::body::Body;
use super::{created, list_response, no_content, ok, query_bool, Query};
use crate::model::Domain;
use crate::store::RevocationEvent;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/domains", get(list).post(create))
        .route("/v3/domains/{domain_id}", get(show).patch(update).delete(delete))
}

pub(crate) async fn find(id: &Identity, domain_id: &str) -> Result<Domain, Error> {
    id.store().get_domain(domain_id).await?.ok_or_else(|| Error::not_found_entity("domain", domain_id))
}

fn target(d: &Domain) -> Target {
    Target::new().with("target.domain.id", d.id.as_str()).with("target.domain.name", d.name.as_str())
}

async fn list(State(id): State<Identity>, Authenticated(ctx): Authenticated, q: Query) -> ApiResult<Json<Value>> {
    id.enforce("identity:list_domains", &ctx, Target::new())?;
    let domains = id.store().list_domains(q.get("name").map(String::as_str), query_bool(&q, "enabled")).await?;
    let items = domains
        .iter()
        .filter(|d| crate::store::inexact_match("name", &d.name, &q))
        .map(|d| d.to_json(id.public_url()))
        .collect();
    Ok(list_response(&id, "domains", "domains", &q, items))
}

/// Creates a domain from a body already read (also used by `POST /projects`
/// with `is_domain: true`).
pub(crate) async fn create_from(id: &Identity, b: &mut Body) -> Result<Domain, Error> {
    let d = Domain {
        id: b.id("explicit_domain_id")?.unwrap_or_else(new_id),
        name: b.name("name", 64, true)?.expect("required"),
        description: b.string("description", 65535, true)?.unwrap_or_default(),
        enabled: b.boolean("enabled", true)?.unwrap_or(true),
        extra: Map::new(),
    };
    id.store().create_domain(&d).await?;
    Ok(d)
}

async fn create(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:create_domain", &ctx, Target::new())?;
    let mut b = Body::new(v, "domain")?;
    let d = create_from(&id, &mut b).await?;
    Ok(created("domain", d.to_json(id.public_url())))
}

async fn show(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(did): Path<String>,
) -> ApiResult<Response> {
    let d = find(&id, &did).await?;
    id.enforce("identity:get_domain", &ctx, target(&d))?;
    Ok(ok("domain", d.to_json(id.public_url())))
}

pub(crate) async fn update_from(id: &Identity, mut d: Domain, b: &mut Body) -> Result<Domain, Error> {
    if let Some(n) = b.name("name", 64, false)? {
        d.name = n;
    }
    if let Some(desc) = b.string("description", 65535, true)? {
        d.description = desc;
    }
    let was_enabled = d.enabled;
    if let Some(e) = b.boolean("enabled", true)? {
        d.enabled = e;
    }
    id.store().update_domain(&d).await?;
    if was_enabled && !d.enabled {
        id.revoke(RevocationEvent { domain_id: Some(d.id.clone()), ..Default::default() }).await?;
    }
    id.changed();
    Ok(d)
}

async fn update(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(did): Path<String>,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    let d = find(&id, &did).await?;
    id.enforce("identity:update_domain", &ctx, target(&d))?;
    let mut b = Body::new(v, "domain")?;
    if let Some(Value::String(bid)) = b.take("id") {
        if bid != d.id {
            return Err(Error::bad_request("Invalid input for field 'domain.id': the id cannot be changed.").into());
        }
    }
    let d = update_from(&id, d, &mut b).await?;
    Ok(ok("domain", d.to_json(id.public_url())))
}

/// Deletes a disabled domain and everything in it.
pub(crate) async fn delete_domain(id: &Identity, d: &Domain) -> Result<(), Error> {
    if d.enabled {
        return Err(Error::forbidden(format!(
            "Cannot delete a domain that is enabled, please disable it first ({}).",
            d.id
        )));
    }
    if d.id == crate::bootstrap::DEFAULT_DOMAIN_ID {
        return Err(Error::forbidden("The default domain cannot be deleted."));
    }
    id.store().delete_domain(&d.id).await?;
    id.revoke(RevocationEvent { domain_id: Some(d.id.clone()), ..Default::default() }).await?;
    Ok(())
}

async fn delete(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(did): Path<String>,
) -> ApiResult<Response> {
    let d = find(&id, &did).await?;
    id.enforce("identity:delete_domain", &ctx, target(&d))?;
    delete_domain(&id, &d).await?;
    Ok(no_content())
}
