//! `/traits`, `/resource_classes`, and a provider's traits and aggregates.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use rustack_common::Error;
use serde_json::{json, Value};

use super::util::*;
use crate::names::{is_custom_name, is_standard_class, is_standard_trait, STANDARD_RESOURCE_CLASSES, STANDARD_TRAITS};
use crate::Placement;

pub fn routes() -> Router<Placement> {
    Router::new()
        .route("/traits", get(list_traits))
        .route("/traits/{name}", get(show_trait).put(put_trait).delete(delete_trait))
        .route("/resource_classes", get(list_classes).post(create_class))
        .route("/resource_classes/{name}", get(show_class).put(put_class).delete(delete_class))
        .route("/resource_providers/{uuid}/traits", get(rp_traits).put(set_rp_traits).delete(delete_rp_traits))
        .route("/resource_providers/{uuid}/aggregates", get(rp_aggregates).put(set_rp_aggregates))
}

const BAD_CUSTOM: &str = "The trait is invalid. A valid trait must be no longer than 255 characters, start with the prefix \"CUSTOM_\" and use following characters: \"A\"-\"Z\", \"0\"-\"9\" and \"_\"";

// ---- traits ----

async fn list_traits(State(svc): State<Placement>, c: Caller, q: Pairs) -> Res {
    c.need(6)?;
    c.allow(&svc, "placement:traits:list")?;
    let q = &q.0;
    check_params(&c, q, &[("name", 6), ("associated", 6)])?;
    let mut names: Vec<String> = STANDARD_TRAITS.iter().map(|s| s.to_string()).collect();
    names.extend(svc.store().custom_traits().await?);
    if let Some(f) = one(q, "name")? {
        if let Some(prefix) = f.strip_prefix("startswith:") {
            names.retain(|n| n.starts_with(prefix));
        } else if let Some(list) = f.strip_prefix("in:") {
            let set: BTreeSet<&str> = list.split(',').map(str::trim).collect();
            names.retain(|n| set.contains(n.as_str()));
        } else {
            return Err(Error::bad_request(format!(
                "Badly formatted name parameter. Expected name query string parameter in form: ?name=[in|startswith]:[name1,name2|prefix]. Got: \"{f}\""
            ))
            .into());
        }
    }
    if let Some(a) = one(q, "associated")? {
        let used = svc.store().traits_in_use().await?;
        match a.to_ascii_lowercase().as_str() {
            "true" => names.retain(|n| used.contains(n)),
            "false" => names.retain(|n| !used.contains(n)),
            _ => {
                return Err(
                    Error::bad_request("The query parameter \"associated\" only accepts \"true\" or \"false\"").into()
                )
            }
        }
    }
    names.sort();
    Ok(ok(json!({ "traits": names })))
}

async fn show_trait(State(svc): State<Placement>, c: Caller, Path(name): Path<String>) -> Res {
    c.need(6)?;
    c.allow(&svc, "placement:traits:show")?;
    if !trait_exists(&svc, &name).await? {
        return Err(Error::not_found(format!("No such trait(s): {name}")).into());
    }
    Ok(no_content())
}

async fn put_trait(State(svc): State<Placement>, c: Caller, Path(name): Path<String>) -> Res {
    c.need(6)?;
    c.allow(&svc, "placement:traits:update")?;
    if !is_custom_name(&name) {
        return Err(Error::bad_request(BAD_CUSTOM).into());
    }
    let loc = format!("/traits/{name}");
    if svc.store().create_custom_trait(&name).await? {
        Ok(created(&loc, None))
    } else {
        Ok(with_location(no_content(), &loc))
    }
}

async fn delete_trait(State(svc): State<Placement>, c: Caller, Path(name): Path<String>) -> Res {
    c.need(6)?;
    c.allow(&svc, "placement:traits:delete")?;
    if is_standard_trait(&name) {
        return Err(Error::bad_request(format!("Cannot delete standard trait {name}.")).into());
    }
    if !svc.store().delete_custom_trait(&name).await? {
        return Err(Error::not_found(format!("No such trait(s): {name}")).into());
    }
    Ok(no_content())
}

async fn rp_traits(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>) -> Res {
    c.need(6)?;
    c.allow(&svc, "placement:resource_providers:traits:list")?;
    let p = provider_or_404(&svc, &uuid).await?;
    let t = svc.store().provider_traits(&p.uuid).await?;
    Ok(ok(json!({"traits": t, "resource_provider_generation": p.generation})))
}

async fn set_rp_traits(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>, body: Body) -> Res {
    c.need(6)?;
    c.allow(&svc, "placement:resource_providers:traits:update")?;
    let raw = body.json()?;
    let p = provider_or_404(&svc, &uuid).await?;
    let m = object(raw, &["traits", "resource_provider_generation"], &["traits", "resource_provider_generation"])?;
    let gen = generation(&m)?;
    let list = match m.get("traits") {
        Some(Value::Array(list)) => list,
        Some(v) => return Err(not_type(v, "array").into()),
        None => return Err(schema_error("required", "'traits' is a required property").into()),
    };
    let mut set = BTreeSet::new();
    let mut unknown = Vec::new();
    for t in list {
        let Some(t) = t.as_str() else { return Err(bad_field("traits", "items must be strings").into()) };
        if !set.insert(t.to_string()) {
            return Err(bad_field("traits", "has non-unique elements").into());
        }
        if !trait_exists(&svc, t).await? {
            unknown.push(t.to_string());
        }
    }
    if !unknown.is_empty() {
        return Err(Error::bad_request(format!("No such trait(s): {}", unknown.join(", "))).into());
    }
    let g = svc.store().set_provider_names(&p.uuid, Some(gen), &set, false).await?;
    Ok(ok(json!({"traits": set, "resource_provider_generation": g})))
}

async fn delete_rp_traits(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>) -> Res {
    c.need(6)?;
    c.allow(&svc, "placement:resource_providers:traits:delete")?;
    let p = provider_or_404(&svc, &uuid).await?;
    svc.store().set_provider_names(&p.uuid, None, &BTreeSet::new(), false).await?;
    Ok(no_content())
}

// ---- aggregates ----

async fn rp_aggregates(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>) -> Res {
    c.need(1)?;
    c.allow(&svc, "placement:resource_providers:aggregates:list")?;
    let p = provider_or_404(&svc, &uuid).await?;
    let a = svc.store().provider_aggregates(&p.uuid).await?;
    let mut body = json!({ "aggregates": a });
    if c.at(19) {
        body["resource_provider_generation"] = json!(p.generation);
    }
    Ok(ok(body))
}

async fn set_rp_aggregates(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>, body: Body) -> Res {
    c.need(1)?;
    c.allow(&svc, "placement:resource_providers:aggregates:update")?;
    let raw = body.json()?;
    let p = provider_or_404(&svc, &uuid).await?;
    let (list, gen) = if c.at(19) {
        let m = object(
            raw,
            &["aggregates", "resource_provider_generation"],
            &["aggregates", "resource_provider_generation"],
        )?;
        (m.get("aggregates").cloned().unwrap_or(Value::Null), Some(generation(&m)?))
    } else {
        (parse_body(raw)?, None)
    };
    let Value::Array(list) = list else { return Err(not_type(&list, "array").into()) };
    let mut set = BTreeSet::new();
    // the answer keeps the request's order
    let mut ordered = Vec::new();
    for a in &list {
        let u = a
            .as_str()
            .and_then(crate::validate::uuid)
            .ok_or_else(|| schema_error("format", format!("{} is not a 'uuid'", py_repr(a))))?;
        if !set.insert(u.clone()) {
            return Err(
                schema_error("uniqueItems", format!("{} has non-unique elements", Value::Array(list.clone()))).into()
            );
        }
        ordered.push(u);
    }
    let g = svc.store().set_provider_names(&p.uuid, gen, &set, true).await?;
    let mut body = json!({ "aggregates": ordered });
    if c.at(19) {
        body["resource_provider_generation"] = json!(g);
    }
    Ok(ok(body))
}

// ---- resource classes ----

fn class_json(name: &str) -> Value {
    json!({"name": name, "links": [{"rel": "self", "href": format!("/resource_classes/{name}")}]})
}

async fn list_classes(State(svc): State<Placement>, c: Caller) -> Res {
    c.need(2)?;
    c.allow(&svc, "placement:resource_classes:list")?;
    let mut v: Vec<Value> = STANDARD_RESOURCE_CLASSES.iter().map(|n| class_json(n)).collect();
    v.extend(svc.store().custom_classes().await?.iter().map(|n| class_json(n)));
    Ok(ok(json!({ "resource_classes": v })))
}

/// A custom class name per upstream's schema (`^CUSTOM_[A-Z0-9_]+$`, at most 255).
fn check_custom_class(name: &str) -> Result<(), Error> {
    max_len(name, 255)?;
    if !is_custom_name(name) {
        return Err(schema_error("pattern", format!("'{name}' does not match '^CUSTOM_[A-Z0-9_]+$'")));
    }
    Ok(())
}

async fn create_class(State(svc): State<Placement>, c: Caller, body: Body) -> Res {
    c.need(2)?;
    c.allow(&svc, "placement:resource_classes:create")?;
    let raw = body.json()?;
    let m = object(raw, &["name"], &["name"])?;
    let name = str_field(&m, "name")?.unwrap_or_default().to_string();
    check_custom_class(&name)?;
    if !svc.store().create_custom_class(&name).await? {
        return Err(Error::conflict(format!("Conflicting resource class already exists: {name}"))
            .with_code("placement.duplicate_name")
            .into());
    }
    Ok(created(&format!("/resource_classes/{name}"), None))
}

async fn show_class(State(svc): State<Placement>, c: Caller, Path(name): Path<String>) -> Res {
    c.need(2)?;
    c.allow(&svc, "placement:resource_classes:show")?;
    if !(is_standard_class(&name) || svc.store().custom_class_exists(&name).await?) {
        return Err(Error::not_found(format!("No such resource class {name}.")).into());
    }
    Ok(ok(class_json(&name)))
}

async fn put_class(State(svc): State<Placement>, c: Caller, Path(name): Path<String>, body: Body) -> Res {
    c.need(2)?;
    c.allow(&svc, "placement:resource_classes:update")?;
    if c.at(7) {
        // create-or-confirm, no body
        check_custom_class(&name)?;
        let loc = format!("/resource_classes/{name}");
        return if svc.store().create_custom_class(&name).await? {
            Ok(created(&loc, None))
        } else {
            Ok(with_location(no_content(), &loc))
        };
    }
    // 1.2–1.6: rename a custom class
    let m = object(body.json()?, &["name"], &["name"])?;
    let new = str_field(&m, "name")?.unwrap_or_default().to_string();
    check_custom_class(&new)?;
    if is_standard_class(&name) {
        return Err(Error::bad_request(format!("Cannot update standard resource class {name}")).into());
    }
    if !svc.store().custom_class_exists(&name).await? {
        return Err(Error::not_found(format!("No such resource class {name}.")).into());
    }
    if svc.store().custom_class_exists(&new).await? {
        return Err(Error::conflict(format!("Resource class already exists: {new}")).into());
    }
    if svc.store().inventories_of_classes(std::slice::from_ref(&name)).await?.is_empty() {
        svc.store().delete_custom_class(&name).await?;
        svc.store().create_custom_class(&new).await?;
        return Ok(ok(class_json(&new)));
    }
    Err(Error::conflict(format!("Cannot rename resource class {name}: it is in use in inventory.")).into())
}

async fn delete_class(State(svc): State<Placement>, c: Caller, Path(name): Path<String>) -> Res {
    c.need(2)?;
    c.allow(&svc, "placement:resource_classes:delete")?;
    if is_standard_class(&name) {
        return Err(Error::bad_request(format!("Cannot delete standard resource class {name}")).into());
    }
    if !svc.store().delete_custom_class(&name).await? {
        return Err(Error::not_found(format!("No such resource class {name}.")).into());
    }
    Ok(no_content())
}
