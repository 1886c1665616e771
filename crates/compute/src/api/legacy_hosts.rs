//! The deprecated host APIs (removed in 2.43) and the usage audit log:
//! `os-hosts` and `os-instance_usage_audit_log`.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use serde_json::{json, Value};

use super::{ok, require_admin, Query};
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-hosts", get(list))
        .route("/os-hosts/{host}", get(show).put(update))
        .route("/os-hosts/{host}/{action}", get(power))
        .route("/os-instance_usage_audit_log", get(audit_list))
        .route("/os-instance_usage_audit_log/{before}", get(audit_show))
}

fn gone(v: Version) -> Result<(), Error> {
    if v.at_least(2, 43) {
        Err(Error::not_found("The resource could not be found."))
    } else {
        Ok(())
    }
}

async fn list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    q: Query,
) -> ApiResult<Response> {
    gone(v)?;
    require_admin(&ctx, "os_compute_api:os-hosts:list")?;
    let zones = super::hosts::zones(&c).await?;
    let mut out = Vec::new();
    for s in c.store().service_list().await? {
        let (service, zone) = match s.binary.as_str() {
            "nova-compute" => (
                "compute",
                zones
                    .iter()
                    .find(|(_, h)| h.contains(&s.host))
                    .map(|(z, _)| z.clone())
                    .unwrap_or_else(|| c.cfg().default_az.clone()),
            ),
            b => (b.trim_start_matches("nova-"), "internal".to_string()),
        };
        if q.get("zone").is_some_and(|z| !z.is_empty() && *z != zone) {
            continue;
        }
        out.push(json!({"host_name": s.host, "service": service, "zone": zone}));
    }
    Ok(ok(json!({"hosts": out})))
}

async fn known(c: &Compute, host: &str) -> Result<(), Error> {
    if c.store().service_list().await?.iter().any(|s| s.host == host && s.binary == "nova-compute") {
        Ok(())
    } else {
        Err(Error::not_found(format!("Compute host {host} could not be found.")))
    }
}

async fn show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(host): Path<String>,
) -> ApiResult<Response> {
    gone(v)?;
    require_admin(&ctx, "os_compute_api:os-hosts:show")?;
    known(&c, &host).await?;
    let total = c.agent(&host).map(|a| a.driver.host_resources());
    let used = c.host_usage(&host).await;
    let mut rows = vec![];
    if let Some(t) = total {
        rows.push(json!({"resource": {"host": host, "project": "(total)", "cpu": t.vcpus, "memory_mb": t.memory_mb, "disk_gb": t.disk_gb}}));
    }
    rows.push(json!({"resource": {"host": host, "project": "(used_now)", "cpu": used.vcpu, "memory_mb": used.memory_mb, "disk_gb": used.disk_gb}}));
    rows.push(json!({"resource": {"host": host, "project": "(used_max)", "cpu": used.vcpu, "memory_mb": used.memory_mb, "disk_gb": used.disk_gb}}));
    let mut per: std::collections::BTreeMap<String, (i64, i64, i64)> = Default::default();
    for i in c.store().instances_on_host(&host).await? {
        let r = i.resources();
        let e = per.entry(i.project_id.clone()).or_default();
        e.0 += r.vcpu;
        e.1 += r.memory_mb;
        e.2 += r.disk_gb;
    }
    for (p, (cpu, mem, disk)) in per {
        rows.push(json!({"resource": {"host": host, "project": p, "cpu": cpu, "memory_mb": mem, "disk_gb": disk}}));
    }
    Ok(ok(json!({"host": rows})))
}

async fn update(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(host): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    gone(v)?;
    require_admin(&ctx, "os_compute_api:os-hosts:update")?;
    let o = body.as_object().ok_or_else(|| Error::bad_request("Malformed request body"))?;
    let status = o.get("status").map(|s| s.as_str().unwrap_or_default().to_string());
    let maint = o.get("maintenance_mode").map(|s| s.as_str().unwrap_or_default().to_string());
    if let Some(k) = o.keys().find(|k| *k != "status" && *k != "maintenance_mode") {
        return Err(Error::bad_request(format!("Additional properties are not allowed ('{k}' was unexpected)")).into());
    }
    if status.is_none() && maint.is_none() {
        return Err(Error::bad_request("'status' or 'maintenance_mode' needed for host update").into());
    }
    if status.as_deref().is_some_and(|s| s != "enable" && s != "disable") {
        return Err(Error::bad_request("Invalid input for field/attribute status.").into());
    }
    if maint.as_deref().is_some_and(|s| s != "enable" && s != "disable") {
        return Err(Error::bad_request("Invalid input for field/attribute maintenance_mode.").into());
    }
    known(&c, &host).await?;
    let mut out = json!({"host": host});
    if let Some(s) = status {
        let disable = s == "disable";
        for mut svc in
            c.store().service_list().await?.into_iter().filter(|x| x.host == host && x.binary == "nova-compute")
        {
            svc.disabled = disable;
            c.store().service_save(&svc).await?;
        }
        out["status"] = json!(if disable { "disabled" } else { "enabled" });
    }
    if let Some(m) = maint {
        out["maintenance_mode"] = json!(if m == "enable" { "on_maintenance" } else { "off_maintenance" });
    }
    Ok(ok(out))
}

async fn power(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path((host, action)): Path<(String, String)>,
) -> ApiResult<Response> {
    gone(v)?;
    if !["startup", "shutdown", "reboot"].contains(&action.as_str()) {
        return Err(Error::not_found("The resource could not be found.").into());
    }
    require_admin(&ctx, "os_compute_api:os-hosts:start")?;
    known(&c, &host).await?;
    // the fake hypervisor's host has no power to act on; it says it did
    Ok(ok(json!({"host": host, "power_action": action})))
}

fn audit(c: &Compute, hosts: &[String], begin: &str, end: &str) -> Value {
    let _ = c;
    json!({
        "hosts_not_run": hosts, "log": {}, "num_hosts": hosts.len(), "num_hosts_done": 0,
        "num_hosts_not_run": hosts.len(), "num_hosts_running": 0,
        "overall_status": format!("0 of {} hosts done. 0 errors.", hosts.len()),
        "period_beginning": begin, "period_ending": end, "total_errors": 0, "total_instances": 0,
    })
}

fn month_period(t: chrono::DateTime<chrono::Utc>) -> (String, String) {
    use chrono::Datelike;
    let first = t.date_naive().with_day(1).unwrap_or(t.date_naive());
    let prev = (first - chrono::Duration::days(1)).with_day(1).unwrap_or(first);
    (format!("{} 00:00:00", prev.format("%Y-%m-%d")), format!("{} 00:00:00", first.format("%Y-%m-%d")))
}

async fn audit_list(State(c): State<Compute>, Authenticated(ctx): Authenticated) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-instance-usage-audit-log:list")?;
    let (b, e) = month_period(chrono::Utc::now());
    Ok(ok(json!({"instance_usage_audit_logs": audit(&c, &c.hosts(), &b, &e)})))
}

async fn audit_show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(before): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-instance-usage-audit-log:show")?;
    let t = rustack_common::time::parse_iso(&before.replace(' ', "T"))
        .ok_or_else(|| Error::bad_request(format!("Invalid timestamp for date {before}")))?;
    let (b, e) = month_period(t);
    Ok(ok(json!({"instance_usage_audit_log": audit(&c, &c.hosts(), &b, &e)})))
}
