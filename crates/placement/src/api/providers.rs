//! `/resource_providers`: list (with filters), create, show, update, delete.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use rustack_common::Error;
use serde_json::json;

use super::util::*;
use crate::store::ProviderFilter;
use crate::Placement;

pub fn routes() -> Router<Placement> {
    Router::new()
        .route("/resource_providers", get(list).post(create))
        .route("/resource_providers/{uuid}", get(show).put(update).delete(delete))
}

async fn list(State(svc): State<Placement>, c: Caller, q: Pairs) -> Res {
    c.allow(&svc, "placement:resource_providers:list")?;
    let q = &q.0;
    check_params(
        &c,
        q,
        &[("name", 0), ("uuid", 0), ("member_of", 3), ("resources", 4), ("in_tree", 14), ("required", 18)],
    )?;
    let mut f = ProviderFilter { name: one(q, "name")?.map(String::from), ..Default::default() };
    if let Some(u) = one(q, "uuid")? {
        f.uuid = Some(query_uuid(u)?);
    }
    if let Some(t) = one(q, "in_tree")? {
        f.in_tree = Some(query_uuid(t)?);
    }
    let (any, forbidden) = parse_member_of(&c, &all(q, "member_of"))?;
    f.member_of = any;
    f.forbidden_aggregates = forbidden;
    if let Some(r) = one(q, "resources")? {
        f.resources = parse_resources(&svc, r).await?;
    }
    let req = all(q, "required");
    if !req.is_empty() {
        let (r, forb) = parse_required(&svc, &c, &req).await?;
        f.required = r;
        f.forbidden = forb;
    }
    let list = svc.store().list_providers(&f).await?;
    Ok(ok(json!({"resource_providers": list.iter().map(|p| provider_json(&c, p)).collect::<Vec<_>>()})))
}

fn check_name(name: Option<&str>) -> Result<String, Error> {
    match name {
        Some("") => Err(schema_error("minLength", "'' is too short")),
        Some(n) => {
            max_len(n, 200)?;
            Ok(n.to_string())
        }
        None => Err(schema_error("type", "None is not of type 'string'")),
    }
}

async fn create(State(svc): State<Placement>, c: Caller, body: Body) -> Res {
    c.allow(&svc, "placement:resource_providers:create")?;
    let raw = body.json()?;
    let allowed: &[&str] = if c.at(14) { &["name", "uuid", "parent_provider_uuid"] } else { &["name", "uuid"] };
    let m = object(raw, allowed, &["name"])?;
    let name = check_name(str_field(&m, "name")?)?;
    let uuid = match str_field(&m, "uuid")? {
        Some(u) => uuid_of(u)?,
        None => uuid::Uuid::new_v4().hyphenated().to_string(),
    };
    let parent = match str_field(&m, "parent_provider_uuid")? {
        Some(p) => Some(uuid_of(p)?),
        None => None,
    };
    let p = svc.store().create_provider(&uuid, &name, parent.as_deref()).await?;
    let loc = format!("/resource_providers/{}", p.uuid);
    if c.at(20) {
        let mut r = ok(provider_json(&c, &p));
        if let Ok(v) = loc.parse() {
            r.headers_mut().insert(axum::http::header::LOCATION, v);
        }
        return Ok(r);
    }
    Ok(created(&loc, None))
}

async fn show(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>) -> Res {
    c.allow(&svc, "placement:resource_providers:show")?;
    let p = provider_or_404(&svc, &uuid).await?;
    Ok(ok(provider_json(&c, &p)))
}

async fn update(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>, body: Body) -> Res {
    c.allow(&svc, "placement:resource_providers:update")?;
    let raw = body.json()?;
    let cur = provider_or_404(&svc, &uuid).await?;
    let allowed: &[&str] = if c.at(14) { &["name", "parent_provider_uuid"] } else { &["name"] };
    let m = object(raw, allowed, &["name"])?;
    let name = check_name(str_field(&m, "name")?)?;
    let parent = if m.contains_key("parent_provider_uuid") {
        match str_field(&m, "parent_provider_uuid")? {
            Some(p) => Some(uuid_of(p)?),
            None => {
                if cur.parent_provider_uuid.is_some() && !c.at(37) {
                    return Err(Error::bad_request("un-parenting a provider is not currently allowed.").into());
                }
                None
            }
        }
    } else {
        cur.parent_provider_uuid.clone()
    };
    let p = svc.store().update_provider(&cur.uuid, &name, parent.as_deref(), None, c.at(37)).await?;
    Ok(ok(provider_json(&c, &p)))
}

async fn delete(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>) -> Res {
    c.allow(&svc, "placement:resource_providers:delete")?;
    let p = provider_or_404(&svc, &uuid)
        .await
        .map_err(|_| Error::not_found(format!("No resource provider with uuid {uuid} found for delete")))?;
    svc.store().delete_provider(&p.uuid).await?;
    Ok(no_content())
}
