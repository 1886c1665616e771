//! Limits, quota sets and classes, and simple tenant usage.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use serde_json::{json, Map, Value};

use super::servers::limits_of;
use super::{accepted, is_admin, ok, project_of, require_admin, Query};
use crate::model::{iso_naive, Instance};
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/limits", get(limits))
        .route("/os-quota-sets/{project}", get(qs_show).put(qs_update).delete(qs_delete))
        .route("/os-quota-sets/{project}/defaults", get(qs_defaults))
        .route("/os-quota-sets/{project}/detail", get(qs_detail))
        .route("/os-quota-class-sets/{class}", get(qc_show).put(qc_update))
        .route("/os-simple-tenant-usage", get(usage_all))
        .route("/os-simple-tenant-usage/{project}", get(usage_one))
}

/// The resources a quota set shows at a microversion (2.36 drops the network
/// ones, 2.57 the injected files).
fn resources(v: Version) -> Vec<&'static str> {
    let mut r =
        vec!["cores", "instances", "ram", "key_pairs", "metadata_items", "server_groups", "server_group_members"];
    if !v.at_least(2, 57) {
        r.extend(["injected_files", "injected_file_content_bytes", "injected_file_path_bytes"]);
    }
    if !v.at_least(2, 36) {
        r.extend(["fixed_ips", "floating_ips", "security_groups", "security_group_rules"]);
    }
    r
}

fn legacy_default(k: &str) -> i64 {
    match k {
        "fixed_ips" => -1,
        "floating_ips" => 10,
        "security_groups" => 10,
        "security_group_rules" => 20,
        _ => -1,
    }
}

fn quota_view(lim: &BTreeMap<String, i64>, v: Version, id: Option<&str>) -> Value {
    let mut o = Map::new();
    if let Some(id) = id {
        o.insert("id".into(), json!(id));
    }
    for k in resources(v) {
        o.insert(k.into(), json!(lim.get(k).copied().unwrap_or_else(|| legacy_default(k))));
    }
    Value::Object(o)
}

async fn limits(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    q: Query,
) -> ApiResult<Response> {
    let project = match q.get("tenant_id") {
        Some(t) if is_admin(&ctx) => t.clone(),
        _ => project_of(&ctx)?.to_string(),
    };
    let lim = limits_of(&c, &project).await?;
    let used = c.store().usage(&project).await?;
    let groups = c.store().group_list(Some(&project)).await?.len();
    let l = |k: &str| lim.get(k).copied().unwrap_or(-1);
    let mut abs = json!({
        "maxServerMeta": l("metadata_items"), "maxTotalKeypairs": l("key_pairs"),
        "maxServerGroups": l("server_groups"), "maxServerGroupMembers": l("server_group_members"),
        "maxTotalCores": l("cores"), "maxTotalInstances": l("instances"), "maxTotalRAMSize": l("ram"),
        "maxImageMeta": 128, "totalCoresUsed": used.cores, "totalInstancesUsed": used.instances,
        "totalRAMUsed": used.ram, "totalServerGroupsUsed": groups,
    });
    if !v.at_least(2, 57) {
        abs["maxPersonality"] = json!(l("injected_files"));
        abs["maxPersonalitySize"] = json!(l("injected_file_content_bytes"));
    }
    if !v.at_least(2, 36) {
        abs["maxSecurityGroups"] = json!(10);
        abs["maxSecurityGroupRules"] = json!(20);
        abs["maxTotalFloatingIps"] = json!(10);
        abs["totalFloatingIpsUsed"] = json!(0);
        abs["totalSecurityGroupsUsed"] = json!(0);
    }
    Ok(ok(json!({"limits": {"rate": [], "absolute": abs}})))
}

fn may_read(ctx: &rustack_http::RequestContext, project: &str) -> Result<(), Error> {
    if is_admin(ctx) || ctx.project_id() == Some(project) {
        Ok(())
    } else {
        Err(Error::forbidden("Policy doesn't allow os_compute_api:os-quota-sets:show to be performed."))
    }
}

async fn qs_show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(p): Path<String>,
) -> ApiResult<Response> {
    may_read(&ctx, &p)?;
    let lim = limits_of(&c, &p).await?;
    Ok(ok(json!({"quota_set": quota_view(&lim, v, Some(&p))})))
}

async fn qs_defaults(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(p): Path<String>,
) -> ApiResult<Response> {
    // the defaults: every override but the project's own
    let mut lim = limits_of(&c, "").await?;
    for (k, val) in c.store().quota_overrides("class:default").await? {
        lim.insert(k, val);
    }
    Ok(ok(json!({"quota_set": quota_view(&lim, v, Some(&p))})))
}

async fn qs_detail(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(p): Path<String>,
) -> ApiResult<Response> {
    may_read(&ctx, &p)?;
    let lim = limits_of(&c, &p).await?;
    let used = c.store().usage(&p).await?;
    let groups = c.store().group_list(Some(&p)).await?.len() as i64;
    let mut o = Map::new();
    o.insert("id".into(), json!(p));
    for k in resources(v) {
        let in_use = match k {
            "cores" => used.cores,
            "instances" => used.instances,
            "ram" => used.ram,
            "server_groups" => groups,
            _ => 0,
        };
        o.insert(
            k.into(),
            json!({"limit": lim.get(k).copied().unwrap_or_else(|| legacy_default(k)), "in_use": in_use, "reserved": 0}),
        );
    }
    Ok(ok(json!({"quota_set": o})))
}

fn parse_quota_body(body: &Value, key: &str, v: Version) -> Result<BTreeMap<String, i64>, Error> {
    let o = body.get(key).and_then(Value::as_object).ok_or_else(|| {
        Error::bad_request(format!("Invalid input for field/attribute {key}. '{key}' is a required property"))
    })?;
    let allowed = resources(v);
    let mut out = BTreeMap::new();
    for (k, val) in o {
        if k == "force" || k == "id" {
            continue;
        }
        if !allowed.contains(&k.as_str()) {
            return Err(Error::bad_request(format!(
                "Invalid input for field/attribute {key}. Additional properties are not allowed ('{k}' was unexpected)"
            )));
        }
        let n = val
            .as_i64()
            .or_else(|| val.as_str().and_then(|s| s.parse().ok()))
            .filter(|n| *n >= -1 && *n <= i32::MAX as i64)
            .ok_or_else(|| Error::bad_request(format!("Invalid input for field/attribute {k}. Value: {val}.")))?;
        out.insert(k.clone(), n);
    }
    Ok(out)
}

async fn qs_update(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(p): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-quota-sets:update")?;
    let vals = parse_quota_body(&body, "quota_set", v)?;
    c.store().quota_set(&p, &vals).await?;
    let lim = limits_of(&c, &p).await?;
    Ok(ok(json!({"quota_set": quota_view(&lim, v, None)})))
}

async fn qs_delete(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(p): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-quota-sets:delete")?;
    c.store().quota_delete(&p).await?;
    Ok(accepted())
}

async fn qc_show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(class): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-quota-class-sets:show")?;
    let mut lim = limits_of(&c, "").await?;
    for (k, val) in c.store().quota_overrides(&format!("class:{class}")).await? {
        lim.insert(k, val);
    }
    Ok(ok(json!({"quota_class_set": quota_view(&lim, v, Some(&class))})))
}

async fn qc_update(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(class): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-quota-class-sets:update")?;
    if class.is_empty() || class.len() > 255 {
        return Err(Error::bad_request("Invalid quota class name").into());
    }
    let vals = parse_quota_body(&body, "quota_class_set", v)?;
    c.store().quota_set(&format!("class:{class}"), &vals).await?;
    let mut lim = limits_of(&c, "").await?;
    for (k, val) in c.store().quota_overrides(&format!("class:{class}")).await? {
        lim.insert(k, val);
    }
    Ok(ok(json!({"quota_class_set": quota_view(&lim, v, None)})))
}

fn period(
    q: &std::collections::HashMap<String, String>,
) -> Result<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>), Error> {
    let parse = |k: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, Error> {
        match q.get(k) {
            Some(s) => rustack_common::time::parse_iso(s)
                .map(Some)
                .ok_or_else(|| Error::bad_request(format!("Invalid input for query parameters {k}. Value: {s}."))),
            None => Ok(None),
        }
    };
    let end = parse("end")?.unwrap_or_else(chrono::Utc::now);
    let start = parse("start")?.unwrap_or(end - chrono::Duration::days(1));
    if start > end {
        return Err(Error::bad_request("Invalid start time. The start time cannot occur after the end time."));
    }
    Ok((start, end))
}

fn usage_of(
    project: &str,
    list: &[Instance],
    start: chrono::DateTime<chrono::Utc>,
    end: chrono::DateTime<chrono::Utc>,
    detailed: bool,
) -> Value {
    let (mut hours, mut vcpu_h, mut mem_h, mut disk_h) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut servers = Vec::new();
    for i in list.iter().filter(|i| i.project_id == project) {
        let Some(launched) = i.launched_at.as_deref().and_then(rustack_common::time::parse_iso) else { continue };
        let stopped = i.terminated_at.as_deref().and_then(rustack_common::time::parse_iso);
        let from = launched.max(start);
        let to = stopped.unwrap_or(end).min(end);
        if to <= from {
            continue;
        }
        let h = (to - from).num_milliseconds() as f64 / 3_600_000.0;
        let f = i.flavor.clone().unwrap_or(crate::model::FlavorSnap {
            id: String::new(),
            name: String::new(),
            vcpus: 0,
            ram: 0,
            disk: 0,
            ephemeral: 0,
            swap: 0,
            extra_specs: Default::default(),
        });
        hours += h;
        vcpu_h += h * f.vcpus as f64;
        mem_h += h * f.ram as f64;
        disk_h += h * (f.disk + f.ephemeral) as f64;
        if detailed {
            servers.push(json!({
                "instance_id": i.uuid, "name": i.name, "hours": h, "memory_mb": f.ram, "local_gb": f.disk + f.ephemeral,
                "vcpus": f.vcpus, "tenant_id": i.project_id, "flavor": f.name,
                "started_at": iso_naive(&launched.to_rfc3339()),
                "ended_at": stopped.map(|s| iso_naive(&s.to_rfc3339())),
                "state": if i.deleted { "terminated".to_string() } else { i.vm_state.clone() },
                "uptime": (end - launched).num_seconds(),
            }));
        }
    }
    let mut o = json!({
        "tenant_id": project, "total_local_gb_usage": disk_h, "total_vcpus_usage": vcpu_h,
        "total_memory_mb_usage": mem_h, "total_hours": hours,
        "start": iso_naive(&start.to_rfc3339()), "stop": iso_naive(&end.to_rfc3339()),
    });
    if detailed {
        o["server_usages"] = Value::Array(servers);
    }
    o
}

async fn usage_all(State(c): State<Compute>, Authenticated(ctx): Authenticated, q: Query) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-simple-tenant-usage:list")?;
    let (start, end) = period(&q)?;
    let detailed = q.get("detailed").and_then(|d| super::bool_param(d)).unwrap_or(false);
    let list = c.store().instance_list(None, true).await?;
    let mut projects: Vec<String> = list.iter().map(|i| i.project_id.clone()).collect();
    projects.sort();
    projects.dedup();
    let out: Vec<Value> = projects
        .iter()
        .map(|p| usage_of(p, &list, start, end, detailed))
        .filter(|u| u["total_hours"].as_f64().unwrap_or(0.0) > 0.0)
        .collect();
    Ok(ok(json!({"tenant_usages": out})))
}

async fn usage_one(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(p): Path<String>,
    q: Query,
) -> ApiResult<Response> {
    may_read(&ctx, &p)?;
    let (start, end) = period(&q)?;
    let list = c.store().instance_list(Some(&p), true).await?;
    let u = usage_of(&p, &list, start, end, true);
    if u["total_hours"].as_f64().unwrap_or(0.0) == 0.0 {
        return Ok(ok(json!({"tenant_usage": {}})));
    }
    Ok(ok(json!({"tenant_usage": u})))
}
