//! `/resource_providers/{uuid}/inventories[/{class}]` and the provider's usages.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use rustack_common::Error;
use serde_json::{json, Map, Value};

use super::util::*;
use crate::model::{Inventory, InventoryUsage};
use crate::validate::MAX_INT;
use crate::Placement;

pub fn routes() -> Router<Placement> {
    Router::new()
        .route("/resource_providers/{uuid}/inventories", get(list).put(replace).post(create).delete(delete_all))
        .route("/resource_providers/{uuid}/inventories/{class}", get(show).put(update_one).delete(delete_one))
        .route("/resource_providers/{uuid}/usages", get(usages))
}

const FIELDS: &[&str] = &["total", "reserved", "min_unit", "max_unit", "step_size", "allocation_ratio"];

fn inventory_json(i: &Inventory) -> Value {
    json!({
        "total": i.total, "reserved": i.reserved, "min_unit": i.min_unit, "max_unit": i.max_unit,
        "step_size": i.step_size, "allocation_ratio": i.allocation_ratio,
    })
}

fn listing(invs: &BTreeMap<String, InventoryUsage>, generation: i64) -> Value {
    let m: Map<String, Value> = invs.iter().map(|(c, u)| (c.clone(), inventory_json(&u.inventory))).collect();
    json!({"inventories": m, "resource_provider_generation": generation})
}

/// An inventory object of a body; `extra` names keys also allowed.
fn parse_inventory(m: &Map<String, Value>, extra: &[&str]) -> Result<Inventory, Error> {
    for k in m.keys() {
        if !FIELDS.contains(&k.as_str()) && !extra.contains(&k.as_str()) {
            return Err(schema_error(
                "additionalProperties",
                format!("Additional properties are not allowed ('{k}' was unexpected)"),
            ));
        }
    }
    let total = int_field(m, "total")?.ok_or_else(|| schema_error("required", "'total' is a required property"))?;
    let ratio = match m.get("allocation_ratio") {
        None => 1.0,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::INFINITY),
        Some(v) => return Err(not_type(v, "number")),
    };
    Ok(Inventory {
        total,
        reserved: int_field(m, "reserved")?.unwrap_or(0),
        min_unit: int_field(m, "min_unit")?.unwrap_or(1),
        max_unit: int_field(m, "max_unit")?.unwrap_or(MAX_INT),
        step_size: int_field(m, "step_size")?.unwrap_or(1),
        allocation_ratio: ratio,
    })
}

/// The class exists and the inventory is valid; `verb` is "create" or "update".
async fn checked(svc: &Placement, c: &Caller, p: &str, class: &str, inv: &Inventory, verb: &str) -> Result<(), Error> {
    crate::validate::inventory(p, class, inv, c.at(26)).map_err(|e| {
        if e.message.starts_with("JSON does not validate") {
            e
        } else {
            Error::bad_request(format!("Unable to {verb} inventory for resource provider {p}: {}", e.message))
        }
    })?;
    svc.check_class(class).await.map_err(|_| {
        if verb == "create" {
            Error::bad_request(format!(
                "Unable to create inventory for resource provider {p}: No such resource class {class}."
            ))
        } else {
            Error::bad_request(format!(
                "Unknown resource class in inventory for resource provider {p}: No such resource class {class}."
            ))
        }
    })
}

async fn list(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>) -> Res {
    c.allow(&svc, "placement:resource_providers:inventories:list")?;
    let p = provider_or_404(&svc, &uuid).await?;
    let invs = svc.store().inventories(&p.uuid).await?;
    Ok(ok(listing(&invs, p.generation)))
}

async fn replace(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>, body: Body) -> Res {
    c.allow(&svc, "placement:resource_providers:inventories:update")?;
    let raw = body.json()?;
    let p = provider_or_404(&svc, &uuid).await?;
    let m = object(
        raw,
        &["inventories", "resource_provider_generation"],
        &["inventories", "resource_provider_generation"],
    )?;
    let gen = generation(&m)?;
    let Some(Value::Object(invs)) = m.get("inventories") else {
        return Err(bad_field("inventories", "is not of type 'object'").into());
    };
    let mut new = BTreeMap::new();
    for (class, v) in invs {
        let Value::Object(o) = v else { return Err(bad_field(class, "is not of type 'object'").into()) };
        let inv = parse_inventory(o, &[])?;
        crate::validate::inventory_ranges(&inv)?;
        if gen != p.generation {
            return Err(crate::store::generation_conflict("resource provider").into());
        }
        checked(&svc, &c, &p.uuid, class, &inv, "update").await?;
        new.insert(class.clone(), inv);
    }
    let g = svc.store().set_inventories(&p.uuid, Some(gen), &new).await?;
    let invs = svc.store().inventories(&p.uuid).await?;
    Ok(ok(listing(&invs, g)))
}

async fn create(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>, body: Body) -> Res {
    c.allow(&svc, "placement:resource_providers:inventories:create")?;
    let raw = body.json()?;
    let p = provider_or_404(&svc, &uuid).await?;
    let m = object(
        raw,
        &[FIELDS, &["resource_class", "resource_provider_generation"]].concat(),
        &["resource_class", "total"],
    )?;
    int_field(&m, "resource_provider_generation")?;
    let class = str_field(&m, "resource_class")?.unwrap_or_default().to_string();
    let inv = parse_inventory(&m, &["resource_class", "resource_provider_generation"])?;
    checked(&svc, &c, &p.uuid, &class, &inv, "create").await?;
    if svc.store().inventories(&p.uuid).await?.contains_key(&class) {
        return Err(Error::conflict(format!(
            "Update conflict: Inventory for {class} on resource provider {} already exists.",
            p.uuid
        ))
        .into());
    }
    let g = svc.store().set_inventory(&p.uuid, &class, None, &inv).await?;
    let mut body = inventory_json(&inv);
    body["resource_provider_generation"] = json!(g);
    Ok(created(&format!("/resource_providers/{}/inventories/{class}", p.uuid), Some(body)))
}

async fn delete_all(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>) -> Res {
    c.allow(&svc, "placement:resource_providers:inventories:delete")?;
    if !c.at(5) {
        return Err(Error::new(
            rustack_common::ErrorKind::MethodNotAllowed,
            "The method is not allowed for the requested URL.",
        )
        .into());
    }
    let p = provider_or_404(&svc, &uuid).await?;
    svc.store().set_inventories(&p.uuid, None, &BTreeMap::new()).await?;
    Ok(no_content())
}

async fn show(State(svc): State<Placement>, c: Caller, Path((uuid, class)): Path<(String, String)>) -> Res {
    c.allow(&svc, "placement:resource_providers:inventories:show")?;
    let p = provider_or_404(&svc, &uuid).await?;
    let invs = svc.store().inventories(&p.uuid).await?;
    let u =
        invs.get(&class).ok_or_else(|| Error::not_found(format!("No inventory of class {class} for {}", p.uuid)))?;
    let mut body = inventory_json(&u.inventory);
    body["resource_provider_generation"] = json!(p.generation);
    Ok(ok(body))
}

async fn update_one(
    State(svc): State<Placement>,
    c: Caller,
    Path((uuid, class)): Path<(String, String)>,
    body: Body,
) -> Res {
    c.allow(&svc, "placement:resource_providers:inventories:update")?;
    let p = provider_or_404(&svc, &uuid).await?;
    let m = object(
        body.json()?,
        &[FIELDS, &["resource_provider_generation"]].concat(),
        &["total", "resource_provider_generation"],
    )?;
    let gen = generation(&m)?;
    let inv = parse_inventory(&m, &["resource_provider_generation"])?;
    crate::validate::inventory_ranges(&inv)?;
    if gen != p.generation {
        return Err(crate::store::generation_conflict("resource provider").into());
    }
    checked(&svc, &c, &p.uuid, &class, &inv, "update").await?;
    if !svc.store().inventories(&p.uuid).await?.contains_key(&class) {
        return Err(Error::bad_request(format!(
            "No inventory record with resource class for resource provider {}: {class}",
            p.uuid
        ))
        .into());
    }
    let g = svc.store().set_inventory(&p.uuid, &class, Some(gen), &inv).await?;
    let mut body = inventory_json(&inv);
    body["resource_provider_generation"] = json!(g);
    Ok(ok(body))
}

async fn delete_one(State(svc): State<Placement>, c: Caller, Path((uuid, class)): Path<(String, String)>) -> Res {
    c.allow(&svc, "placement:resource_providers:inventories:delete")?;
    let p = provider_or_404(&svc, &uuid).await?;
    svc.store().delete_inventory(&p.uuid, &class, None).await?;
    Ok(no_content())
}

async fn usages(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>) -> Res {
    c.allow(&svc, "placement:resource_providers:usages")?;
    let p = provider_or_404(&svc, &uuid).await?;
    let invs = svc.store().inventories(&p.uuid).await?;
    let m: Map<String, Value> = invs.iter().map(|(c, u)| (c.clone(), json!(u.used))).collect();
    Ok(ok(json!({"usages": m, "resource_provider_generation": p.generation})))
}
