//! The five routes every resource family has, dispatched by kind, and the
//! `/tags` subresources.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::IntoResponse;
use rustack_common::Error;
use rustack_http::token_layer::Authenticated;
use serde_json::{json, Value};

use super::{authz, caller, fields_of, ok, parse_body, Res};
use crate::query::{project_fields, ListQuery};
use crate::service::{
    self, body_of, extras, floatingips, networks, ports, routers, secgroups, subnetpools, subnets, Caller, Doc,
};
use crate::Network;

/// The URL paging links point at.
pub fn base_url(net: &Network, u: &Uri) -> String {
    format!("{}{}", net.options().public_url.trim_end_matches('/'), u.path())
}

async fn do_list(net: &Network, c: &Caller, kind: &str, q: &ListQuery, base: &str) -> Result<Value, Error> {
    match kind {
        "network" => networks::list(net, c, q, base).await,
        "subnet" => subnets::list(net, c, q, base).await,
        "port" => ports::list(net, c, q, base).await,
        "router" => routers::list(net, c, q, base).await,
        "floatingip" => floatingips::list(net, c, q, base).await,
        "security_group" => secgroups::list(net, c, q, base).await,
        "security_group_rule" => secgroups::list_rules(net, c, q, base).await,
        "subnetpool" => subnetpools::list(net, c, q, base).await,
        "rbac_policy" => extras::list_rbac(net, c, q, base).await,
        "agent" => extras::list_agents(net, c, q, base).await,
        _ => Err(Error::not_found("The resource could not be found.")),
    }
}

pub async fn do_show(net: &Network, c: &Caller, kind: &str, id: &str) -> Result<Value, Error> {
    match kind {
        "network" => networks::show(net, c, id).await,
        "subnet" => subnets::show(net, c, id).await,
        "port" => ports::show(net, c, id).await,
        "router" => routers::show(net, c, id).await,
        "floatingip" => floatingips::show(net, c, id).await,
        "security_group" => secgroups::show(net, c, id).await,
        "security_group_rule" => secgroups::show_rule(net, c, id).await,
        "subnetpool" => subnetpools::show(net, c, id).await,
        "rbac_policy" => extras::show_rbac(net, c, id).await,
        "agent" => extras::show_agent(net, c, id).await,
        _ => Err(Error::not_found("The resource could not be found.")),
    }
}

async fn do_create(net: &Network, c: &Caller, kind: &str, d: Doc) -> Result<Value, Error> {
    match kind {
        "network" => networks::create(net, c, d).await,
        "subnet" => subnets::create(net, c, d).await,
        "port" => ports::create(net, c, d).await,
        "router" => routers::create(net, c, d).await,
        "floatingip" => floatingips::create(net, c, d).await,
        "security_group" => secgroups::create(net, c, d).await,
        "security_group_rule" => secgroups::create_rule(net, c, d).await,
        "subnetpool" => subnetpools::create(net, c, d).await,
        "rbac_policy" => extras::create_rbac(net, c, d).await,
        "agent" => {
            Err(Error::new(rustack_common::ErrorKind::MethodNotAllowed, "Agents are registered by the service."))
        }
        _ => Err(Error::not_found("The resource could not be found.")),
    }
}

async fn do_update(net: &Network, c: &Caller, kind: &str, id: &str, d: Doc) -> Result<Value, Error> {
    match kind {
        "network" => networks::update(net, c, id, d).await,
        "subnet" => subnets::update(net, c, id, d).await,
        "port" => ports::update(net, c, id, d).await,
        "router" => routers::update(net, c, id, d).await,
        "floatingip" => floatingips::update(net, c, id, d).await,
        "security_group" => secgroups::update(net, c, id, d).await,
        "subnetpool" => subnetpools::update(net, c, id, d).await,
        "rbac_policy" => extras::update_rbac(net, c, id, d).await,
        "agent" => extras::update_agent(net, c, id, d).await,
        "security_group_rule" => {
            Err(Error::new(rustack_common::ErrorKind::MethodNotAllowed, "Security group rules cannot be updated."))
        }
        _ => Err(Error::not_found("The resource could not be found.")),
    }
}

async fn do_delete(net: &Network, c: &Caller, kind: &str, id: &str) -> Result<(), Error> {
    match kind {
        "network" => networks::delete(net, c, id).await,
        "subnet" => subnets::delete(net, c, id).await,
        "port" => ports::delete(net, c, id).await,
        "router" => routers::delete(net, c, id).await,
        "floatingip" => floatingips::delete(net, c, id).await,
        "security_group" => secgroups::delete(net, c, id).await,
        "security_group_rule" => secgroups::delete_rule(net, c, id).await,
        "subnetpool" => subnetpools::delete(net, c, id).await,
        "rbac_policy" => extras::delete_rbac(net, c, id).await,
        "agent" => extras::delete_agent(net, c, id).await,
        _ => Err(Error::not_found("The resource could not be found.")),
    }
}

pub async fn list(
    State(net): State<Network>,
    a: Authenticated,
    u: Uri,
    RawQuery(q): RawQuery,
    kind: &'static str,
    coll: &'static str,
) -> Res {
    let q = ListQuery::parse(q.as_deref())?;
    let mut v = do_list(&net, &caller(&a), kind, &q, &base_url(&net, &u)).await?;
    if let Some(items) = v.get_mut(coll).and_then(Value::as_array_mut) {
        items.retain(|i| authz::can_get(&net, &a.0, kind, i));
    }
    ok(StatusCode::OK, v)
}

pub async fn create(
    State(net): State<Network>,
    a: Authenticated,
    b: Bytes,
    kind: &'static str,
    coll: &'static str,
    member: &'static str,
) -> Res {
    let c = caller(&a);
    let body = parse_body(&b)?;
    // bulk: {"ports": [...]}; all or nothing (what was made is undone on a failure)
    if let Some(items) = body.get(coll).and_then(Value::as_array).cloned() {
        let mut made: Vec<Value> = vec![];
        for item in items {
            let d = match item {
                Value::Object(m) => m,
                _ => return Err(Error::bad_request(format!("Invalid format: each {member} must be an object")).into()),
            };
            let made_one = match authz::create(&net, &a.0, kind, &d).await {
                Ok(granted) => do_create(&net, &Caller { granted, ..c.clone() }, kind, d).await,
                Err(e) => Err(e),
            };
            match made_one {
                Ok(v) => made.push(v),
                Err(e) => {
                    for v in made.iter().rev() {
                        let _ = do_delete(&net, &Caller::admin(), kind, v["id"].as_str().unwrap_or_default()).await;
                    }
                    return Err(e.into());
                }
            }
        }
        return ok(StatusCode::CREATED, json!({ coll: made }));
    }
    let d = body_of(body, member)?;
    let c = Caller { granted: authz::create(&net, &a.0, kind, &d).await?, ..c };
    ok(StatusCode::CREATED, json!({ member: do_create(&net, &c, kind, d).await? }))
}

pub async fn show(
    State(net): State<Network>,
    a: Authenticated,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    kind: &'static str,
    member: &'static str,
) -> Res {
    let fields = fields_of(&q)?;
    let v = do_show(&net, &caller(&a), kind, &id).await?;
    if !authz::can_get(&net, &a.0, kind, &v) {
        return Err(service::not_found(kind, &id).into());
    }
    ok(StatusCode::OK, json!({ member: project_fields(v, &fields) }))
}

pub async fn update(
    State(net): State<Network>,
    a: Authenticated,
    Path(id): Path<String>,
    b: Bytes,
    kind: &'static str,
    member: &'static str,
) -> Res {
    let d = body_of(parse_body(&b)?, member)?;
    let c = caller(&a);
    let c = Caller { granted: authz::change(&net, &a.0, &c, "update", kind, &id, Some(&d)).await?, ..c };
    ok(StatusCode::OK, json!({ member: do_update(&net, &c, kind, &id, d).await? }))
}

pub async fn delete(State(net): State<Network>, a: Authenticated, Path(id): Path<String>, kind: &'static str) -> Res {
    let c = caller(&a);
    authz::change(&net, &a.0, &c, "delete", kind, &id, None).await?;
    do_delete(&net, &c, kind, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn tags_get(State(net): State<Network>, a: Authenticated, Path(id): Path<String>, kind: &'static str) -> Res {
    ok(StatusCode::OK, extras::get_tags(&net, &caller(&a), kind, &id).await?)
}

pub async fn tags_replace(
    State(net): State<Network>,
    a: Authenticated,
    Path(id): Path<String>,
    b: Bytes,
    kind: &'static str,
) -> Res {
    let body = parse_body(&b)?;
    let tags: Vec<String> = body
        .get("tags")
        .and_then(Value::as_array)
        .ok_or_else(|| service::invalid("'tags' must be a list"))?
        .iter()
        .map(|t| t.as_str().map(String::from).ok_or_else(|| service::invalid("a tag must be a string")))
        .collect::<Result<_, _>>()?;
    let tags = extras::set_tags(&net, &caller(&a), kind, &id, move |t| {
        *t = tags;
        Ok(())
    })
    .await?;
    ok(StatusCode::OK, json!({ "tags": tags }))
}

pub async fn tags_clear(
    State(net): State<Network>,
    a: Authenticated,
    Path(id): Path<String>,
    kind: &'static str,
) -> Res {
    extras::set_tags(&net, &caller(&a), kind, &id, |t| {
        t.clear();
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn tag_check(
    State(net): State<Network>,
    a: Authenticated,
    Path((id, tag)): Path<(String, String)>,
    kind: &'static str,
) -> Res {
    extras::has_tag(&net, &caller(&a), kind, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

pub async fn tag_add(
    State(net): State<Network>,
    a: Authenticated,
    Path((id, tag)): Path<(String, String)>,
    kind: &'static str,
) -> Res {
    extras::set_tags(&net, &caller(&a), kind, &id, |t| {
        if !t.contains(&tag) {
            t.push(tag);
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::CREATED.into_response())
}

pub async fn tag_remove(
    State(net): State<Network>,
    a: Authenticated,
    Path((id, tag)): Path<(String, String)>,
    kind: &'static str,
) -> Res {
    extras::set_tags(&net, &caller(&a), kind, &id, |t| {
        let before = t.len();
        t.retain(|x| *x != tag);
        if t.len() == before {
            return Err(Error::not_found(format!("Tag {tag} could not be found.")).with_code("TagNotFound"));
        }
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
