//! `/allocations/{consumer}`, `POST /allocations` (several consumers),
//! `/resource_providers/{uuid}/allocations` and `/usages`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::Router;
use rustack_common::Error;
use rustack_policy::Target;
use serde_json::{json, Map, Value};

use super::util::*;
use crate::model::{Allocations, ConsumerWrite, Resources};
use crate::Placement;

/// The project and user of consumers written before 1.8 named them (upstream's default).
const INCOMPLETE: &str = "00000000-0000-0000-0000-000000000000";

pub fn routes() -> Router<Placement> {
    Router::new()
        .route("/allocations", post(post_many))
        .route("/allocations/{consumer}", get(show).put(put_one).delete(delete_one))
        .route("/resource_providers/{uuid}/allocations", get(provider_allocations))
        .route("/usages", get(usages))
}

fn consumer_uuid(s: &str) -> Result<String, Error> {
    crate::validate::uuid(s).ok_or_else(|| Error::bad_request(format!("Malformed consumer_uuid: {s}")))
}

fn resources_of(v: Option<&Value>) -> Result<Resources, Error> {
    let Some(v) = v else { return Err(schema_error("required", "'resources' is a required property")) };
    let Value::Object(m) = v else { return Err(not_type(v, "object")) };
    if m.is_empty() {
        return Err(schema_error("minProperties", "{} does not have enough properties"));
    }
    let mut out = Resources::new();
    for (class, n) in m {
        if !crate::names::is_well_formed(class) {
            return Err(schema_error(
                "additionalProperties",
                format!("'{class}' does not match any of the regexes: '^[A-Z0-9_]+$'"),
            ));
        }
        match n.as_i64() {
            Some(k) if (1..=crate::validate::MAX_INT).contains(&k) => {
                out.insert(class.clone(), k);
            }
            Some(k) if k < 1 => return Err(schema_error("minimum", format!("{k} is less than the minimum of 1"))),
            Some(k) => {
                return Err(schema_error(
                    "maximum",
                    format!("{k} is greater than the maximum of {}", crate::validate::MAX_INT),
                ))
            }
            None => return Err(not_type(n, "integer")),
        }
    }
    Ok(out)
}

/// The `allocations` member: a list (before 1.12) or an object keyed by
/// provider uuid.
fn parse_allocations(c: &Caller, v: Option<&Value>, allow_empty: bool) -> Result<Allocations, Error> {
    let mut out = Allocations::new();
    match v {
        Some(Value::Array(list)) if !c.at(12) => {
            if list.is_empty() {
                return Err(schema_error("minItems", "[] is too short"));
            }
            for a in list {
                let rp = a
                    .get("resource_provider")
                    .and_then(|r| r.get("uuid"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad_field("allocations", "'resource_provider' is a required property"))?;
                let rp = uuid_of(rp)?;
                let res = resources_of(a.get("resources"))?;
                out.entry(rp).or_default().extend(res);
            }
        }
        Some(Value::Object(m)) if c.at(12) => {
            if m.is_empty() && !allow_empty {
                return Err(bad_field("allocations", "does not have enough properties"));
            }
            for (rp, a) in m {
                let rp = crate::validate::uuid(rp).ok_or_else(|| {
                    schema_error(
                        "additionalProperties",
                        format!("'{rp}' does not match any of the regexes: '^[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}$'"),
                    )
                })?;
                let Some(obj) = a.as_object() else { return Err(bad_field(&rp, "is not of type 'object'")) };
                for k in obj.keys() {
                    if k != "resources" && k != "generation" {
                        return Err(bad_field(k, "Additional properties are not allowed"));
                    }
                }
                let res = resources_of(obj.get("resources"))?;
                out.insert(rp, res);
            }
        }
        _ => return Err(bad_field("allocations", "is not of the expected type")),
    }
    Ok(out)
}

/// One consumer's body (`PUT /allocations/{c}`, or a member of `POST /allocations`).
fn parse_consumer(
    c: &Caller,
    consumer: &str,
    m: &Map<String, Value>,
    allow_empty: bool,
) -> Result<ConsumerWrite, Error> {
    let mut allowed = vec!["allocations"];
    if c.at(8) {
        allowed.extend(["project_id", "user_id"]);
    }
    if c.at(28) {
        allowed.push("consumer_generation");
    }
    if c.at(38) {
        allowed.push("consumer_type");
    }
    for k in m.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(Error::bad_request(format!(
                "JSON does not validate: Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
    }
    let mut required = vec!["allocations"];
    if c.at(8) {
        required.extend(["project_id", "user_id"]);
    }
    if c.at(28) {
        required.push("consumer_generation");
    }
    if c.at(38) {
        required.push("consumer_type");
    }
    for r in required {
        if !m.contains_key(r) {
            return Err(schema_error("required", format!("'{r}' is a required property")));
        }
    }
    let id = |k: &str| -> Result<String, Error> {
        match str_field(m, k)? {
            Some(s) => {
                length(s, 255)?;
                Ok(s.to_string())
            }
            None => Ok(INCOMPLETE.to_string()),
        }
    };
    let expected = if c.at(28) {
        match m.get("consumer_generation") {
            Some(Value::Null) => Some(None),
            Some(Value::Number(n)) if n.is_i64() => Some(n.as_i64()),
            _ => return Err(bad_field("consumer_generation", "must be null or an integer")),
        }
    } else {
        None
    };
    let consumer_type = match str_field(m, "consumer_type")? {
        Some(t)
            if !t.is_empty()
                && t.len() <= 255
                && t.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') =>
        {
            Some(t.to_string())
        }
        Some(t) => return Err(schema_error("pattern", format!("'{t}' does not match '^[A-Z0-9_]+$'"))),
        None => None,
    };
    Ok(ConsumerWrite {
        consumer: consumer.to_string(),
        allocations: parse_allocations(c, m.get("allocations"), allow_empty)?,
        project_id: id("project_id")?,
        user_id: id("user_id")?,
        consumer_type,
        expected_generation: expected,
    })
}

/// Every class named exists (else a 400, before any capacity check).
async fn check_classes(svc: &Placement, writes: &[ConsumerWrite]) -> Result<(), Error> {
    for w in writes {
        for class in w.allocations.values().flat_map(|r| r.keys()) {
            if svc.check_class(class).await.is_err() {
                return Err(Error::bad_request(format!(
                    "Unable to allocate inventory for consumer {}: No such resource class {class}.",
                    w.consumer
                )));
            }
        }
    }
    Ok(())
}

async fn put_one(State(svc): State<Placement>, c: Caller, Path(consumer): Path<String>, body: Body) -> Res {
    c.allow(&svc, "placement:allocations:update")?;
    let raw = body.json()?;
    let consumer = consumer_uuid(&consumer)?;
    let m = object(raw, &["allocations", "project_id", "user_id", "consumer_generation", "consumer_type"], &[])?;
    let w = parse_consumer(&c, &consumer, &m, c.at(28))?;
    check_classes(&svc, std::slice::from_ref(&w)).await?;
    svc.write_allocations(&[w]).await?;
    Ok(no_content())
}

async fn post_many(State(svc): State<Placement>, c: Caller, body: Body) -> Res {
    c.need(13)?;
    c.allow(&svc, "placement:allocations:manage")?;
    let raw = body.json()?;
    let v: Value = parse_body(raw)?;
    let Value::Object(all) = v else { return Err(bad_field("body", "is not of type 'object'").into()) };
    if all.is_empty() {
        return Err(bad_field("body", "does not have enough properties").into());
    }
    let mut writes = Vec::new();
    for (consumer, m) in &all {
        let consumer = consumer_uuid(consumer)?;
        let Value::Object(m) = m else { return Err(bad_field(&consumer, "is not of type 'object'").into()) };
        writes.push(parse_consumer(&c, &consumer, m, true)?);
    }
    check_classes(&svc, &writes).await?;
    svc.write_allocations(&writes).await?;
    Ok(no_content())
}

async fn show(State(svc): State<Placement>, c: Caller, Path(consumer): Path<String>) -> Res {
    c.allow(&svc, "placement:allocations:list")?;
    let Some((cons, allocs)) = svc.store().consumer_allocations(&consumer).await? else {
        return Ok(ok(json!({"allocations": {}})));
    };
    let rps = svc.store().providers_by_uuid(&allocs.keys().cloned().collect::<Vec<_>>()).await?;
    let m: Map<String, Value> = allocs
        .iter()
        .map(|(rp, res)| {
            let g = rps.get(rp).map(|p| p.generation).unwrap_or(0);
            (rp.clone(), json!({"generation": g, "resources": res}))
        })
        .collect();
    let mut body = json!({"allocations": m});
    if c.at(12) {
        body["project_id"] = json!(cons.project_id);
        body["user_id"] = json!(cons.user_id);
    }
    if c.at(28) {
        body["consumer_generation"] = json!(cons.generation);
    }
    if c.at(38) {
        body["consumer_type"] = json!(cons.consumer_type.unwrap_or_else(|| "unknown".into()));
    }
    Ok(ok(body))
}

async fn delete_one(State(svc): State<Placement>, c: Caller, Path(consumer): Path<String>) -> Res {
    c.allow(&svc, "placement:allocations:delete")?;
    if !svc.release(&consumer).await? {
        return Err(Error::not_found(format!("No allocations for consumer '{consumer}'")).into());
    }
    Ok(no_content())
}

async fn provider_allocations(State(svc): State<Placement>, c: Caller, Path(uuid): Path<String>) -> Res {
    c.allow(&svc, "placement:resource_providers:allocations:list")?;
    let p = provider_or_404(&svc, &uuid).await?;
    let allocs = svc.store().provider_allocations(&p.uuid).await?;
    let m: Map<String, Value> = allocs.iter().map(|(k, r)| (k.clone(), json!({"resources": r}))).collect();
    Ok(ok(json!({"allocations": m, "resource_provider_generation": p.generation})))
}

fn query_error(_name: &str, v: &str) -> Error {
    let (msg, validator) = if v.is_empty() { ("is too short", "minLength") } else { ("is too long", "maxLength") };
    Error::bad_request(format!(
        "Invalid query string parameters: '{v}' {msg}\n\nFailed validating '{validator}' in schema"
    ))
}

async fn usages(State(svc): State<Placement>, c: Caller, q: Pairs) -> Res {
    c.need(9)?;
    let q = &q.0;
    check_params(&c, q, &[("project_id", 9), ("user_id", 9), ("consumer_type", 38)])?;
    let project = one(q, "project_id")?
        .ok_or_else(|| Error::bad_request("Invalid query string parameters: 'project_id' is a required property"))?;
    c.allow_target(&svc, "placement:usages", Target::new().with("project_id", project))?;
    length(project, 255).map_err(|_| query_error("project_id", project))?;
    let user = one(q, "user_id")?;
    if let Some(u) = user {
        length(u, 255).map_err(|_| query_error("user_id", u))?;
    }
    let by_type = svc.store().project_usages(project, user).await?;
    if !c.at(38) {
        let mut sum = Resources::new();
        for u in by_type.values() {
            for (k, n) in &u.resources {
                *sum.entry(k.clone()).or_default() += n;
            }
        }
        return Ok(ok(json!({"usages": sum})));
    }
    let wanted = one(q, "consumer_type")?;
    let mut out = Map::new();
    let mut all_count = 0;
    let mut all_sum = Resources::new();
    for (t, u) in &by_type {
        let name = t.clone().unwrap_or_else(|| "unknown".into());
        all_count += u.consumer_count;
        for (k, n) in &u.resources {
            *all_sum.entry(k.clone()).or_default() += n;
        }
        if wanted.is_none() || wanted == Some(name.as_str()) {
            let mut g: Map<String, Value> = u.resources.iter().map(|(k, n)| (k.clone(), json!(n))).collect();
            g.insert("consumer_count".into(), json!(u.consumer_count));
            out.insert(name, Value::Object(g));
        }
    }
    if wanted == Some("all") {
        let mut g: Map<String, Value> = all_sum.iter().map(|(k, n)| (k.clone(), json!(n))).collect();
        g.insert("consumer_count".into(), json!(all_count));
        out.insert("all".into(), Value::Object(g));
    }
    Ok(ok(json!({"usages": out})))
}
