//! The operator's view of hosts: availability zones, hypervisors,
//! os-services and aggregates.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use serde_json::{json, Value};

use super::{no_content, ok, require_admin, Query};
use crate::model::{iso_naive, Aggregate, ServiceRecord};
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-availability-zone", get(az_list))
        .route("/os-availability-zone/detail", get(az_detail))
        .route("/os-hypervisors", get(hv_list))
        .route("/os-hypervisors/detail", get(hv_detail))
        .route("/os-hypervisors/statistics", get(hv_stats))
        .route("/os-hypervisors/{id}", get(hv_show))
        .route("/os-hypervisors/{id}/search", get(hv_search))
        .route("/os-hypervisors/{id}/servers", get(hv_servers))
        .route("/os-hypervisors/{id}/uptime", get(hv_uptime))
        .route("/os-services", get(svc_list))
        .route("/os-services/{id}", put(svc_update).delete(svc_delete))
        .route("/os-aggregates", get(agg_list).post(agg_create))
        .route("/os-aggregates/{id}", get(agg_show).put(agg_update).delete(agg_delete))
        .route("/os-aggregates/{id}/action", post(agg_action))
}

/// Zones and their compute hosts: hosts in an aggregate with a zone are in
/// it, the others in the default zone.
pub(crate) async fn zones(c: &Compute) -> Result<BTreeMap<String, Vec<String>>, Error> {
    let aggs = c.store().aggregate_list().await?;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for host in c.hosts() {
        let z = aggs
            .iter()
            .filter(|a| a.hosts.contains(&host))
            .find_map(|a| a.availability_zone.clone())
            .unwrap_or_else(|| c.cfg().default_az.clone());
        out.entry(z).or_default().push(host);
    }
    Ok(out)
}

async fn az_list(State(c): State<Compute>, Authenticated(_ctx): Authenticated) -> ApiResult<Response> {
    let list: Vec<Value> = zones(&c)
        .await?
        .keys()
        .map(|z| json!({"zoneName": z, "zoneState": {"available": true}, "hosts": null}))
        .collect();
    Ok(ok(json!({"availabilityZoneInfo": list})))
}

async fn az_detail(State(c): State<Compute>, Authenticated(ctx): Authenticated) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-availability-zone:detail")?;
    let services = c.store().service_list().await?;
    let svc_view = |s: &ServiceRecord| json!({"available": !s.disabled, "active": true, "updated_at": s.updated_at.as_deref().map(iso_naive)});
    let mut list = Vec::new();
    for (z, hosts) in zones(&c).await? {
        let mut hm = serde_json::Map::new();
        for h in hosts {
            let mut sm = serde_json::Map::new();
            for s in services.iter().filter(|s| s.host == h) {
                sm.insert(s.binary.clone(), svc_view(s));
            }
            hm.insert(h, Value::Object(sm));
        }
        list.push(json!({"zoneName": z, "zoneState": {"available": true}, "hosts": hm}));
    }
    let mut internal = serde_json::Map::new();
    for s in services.iter().filter(|s| s.binary != "nova-compute") {
        let e = internal.entry(s.host.clone()).or_insert_with(|| json!({}));
        e[&s.binary] = svc_view(s);
    }
    list.push(json!({"zoneName": "internal", "zoneState": {"available": true}, "hosts": internal}));
    Ok(ok(json!({"availabilityZoneInfo": list})))
}

async fn computes(c: &Compute) -> Result<Vec<ServiceRecord>, Error> {
    Ok(c.store().service_list().await?.into_iter().filter(|s| s.binary == "nova-compute").collect())
}

fn hv_id(s: &ServiceRecord, v: Version) -> Value {
    if v.at_least(2, 53) {
        json!(s.uuid)
    } else {
        json!(s.id)
    }
}

fn hv_summary(s: &ServiceRecord, v: Version) -> Value {
    json!({"id": hv_id(s, v), "hypervisor_hostname": s.host, "state": if s.forced_down { "down" } else { "up" },
           "status": if s.disabled { "disabled" } else { "enabled" }})
}

async fn hv_full(c: &Compute, s: &ServiceRecord, v: Version) -> Result<Value, Error> {
    let mut o = hv_summary(s, v);
    let res = c.agent(&s.host).map(|a| a.driver.host_resources());
    let used = c.host_usage(&s.host).await;
    let running = c.store().instances_on_host(&s.host).await?.len();
    if let Some(r) = res {
        let m = o.as_object_mut().expect("object");
        m.insert("vcpus".into(), json!(r.vcpus));
        m.insert("memory_mb".into(), json!(r.memory_mb));
        m.insert("local_gb".into(), json!(r.disk_gb));
        m.insert("vcpus_used".into(), json!(used.vcpu));
        m.insert("memory_mb_used".into(), json!(used.memory_mb));
        m.insert("local_gb_used".into(), json!(used.disk_gb));
        // as Nova's drivers report themselves (libvirt with qemu/kvm says QEMU)
        let (kind, model) = match c.cfg().driver {
            crate::config::DriverKind::Qemu => ("QEMU", "qemu64"),
            crate::config::DriverKind::Fake => ("fake", "fake"),
        };
        m.insert("hypervisor_type".into(), json!(kind));
        m.insert("hypervisor_version".into(), json!(1000));
        m.insert("free_ram_mb".into(), json!(r.memory_mb - used.memory_mb));
        m.insert("free_disk_gb".into(), json!(r.disk_gb - used.disk_gb));
        m.insert("current_workload".into(), json!(0));
        m.insert("running_vms".into(), json!(running));
        let cpu = json!({"arch": "x86_64", "model": model, "vendor": "rustack", "features": [],
                         "topology": {"cores": r.vcpus, "threads": 1, "sockets": 1}});
        m.insert("cpu_info".into(), if v.at_least(2, 28) { cpu } else { json!(cpu.to_string()) });
        m.insert("disk_available_least".into(), json!(r.disk_gb - used.disk_gb));
        m.insert("host_ip".into(), json!("127.0.0.1"));
        m.insert("service".into(), json!({"host": s.host, "id": hv_id(s, v), "disabled_reason": s.disabled_reason}));
    }
    Ok(o)
}

async fn hv_list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    q: Query,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-hypervisors:list")?;
    let mut list = computes(&c).await?;
    if let Some(p) = q.get("hypervisor_hostname_pattern") {
        list.retain(|s| s.host.contains(p.as_str()));
    }
    let mut out = Vec::new();
    for s in &list {
        let mut h = hv_summary(s, v);
        if v.at_least(2, 53) && q.get("with_servers").and_then(|x| super::bool_param(x)) == Some(true) {
            h["servers"] = servers_of(&c, &s.host).await?;
        }
        out.push(h);
    }
    Ok(ok(json!({"hypervisors": out})))
}

async fn hv_detail(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-hypervisors:detail")?;
    let mut out = Vec::new();
    for s in computes(&c).await? {
        out.push(hv_full(&c, &s, v).await?);
    }
    Ok(ok(json!({"hypervisors": out})))
}

async fn find_hv(c: &Compute, id: &str, v: Version) -> Result<ServiceRecord, Error> {
    computes(c)
        .await?
        .into_iter()
        .find(|s| if v.at_least(2, 53) { s.uuid == id } else { s.id.to_string() == id })
        .ok_or_else(|| Error::not_found(format!("Hypervisor with ID '{id}' could not be found.")))
}

async fn hv_show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-hypervisors:show")?;
    let s = find_hv(&c, &id, v).await?;
    Ok(ok(json!({"hypervisor": hv_full(&c, &s, v).await?})))
}

async fn servers_of(c: &Compute, host: &str) -> Result<Value, Error> {
    let list: Vec<Value> = c
        .store()
        .instances_on_host(host)
        .await?
        .iter()
        .map(|i| json!({"uuid": i.uuid, "name": crate::api::view::instance_name(i)}))
        .collect();
    Ok(Value::Array(list))
}

async fn hv_search(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(p): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-hypervisors:search")?;
    if v.at_least(2, 53) {
        return Err(Error::not_found("The resource could not be found.").into());
    }
    let list: Vec<Value> =
        computes(&c).await?.iter().filter(|s| s.host.contains(&p)).map(|s| hv_summary(s, v)).collect();
    if list.is_empty() {
        return Err(Error::not_found(format!("No hypervisor matching '{p}' could be found.")).into());
    }
    Ok(ok(json!({"hypervisors": list})))
}

async fn hv_servers(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(p): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-hypervisors:servers")?;
    if v.at_least(2, 53) {
        return Err(Error::not_found("The resource could not be found.").into());
    }
    let mut out = Vec::new();
    for s in computes(&c).await?.iter().filter(|s| s.host.contains(&p)) {
        let mut h = hv_summary(s, v);
        h["servers"] = servers_of(&c, &s.host).await?;
        out.push(h);
    }
    if out.is_empty() {
        return Err(Error::not_found(format!("No hypervisor matching '{p}' could be found.")).into());
    }
    Ok(ok(json!({"hypervisors": out})))
}

async fn hv_uptime(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-hypervisors:uptime")?;
    let s = find_hv(&c, &id, v).await?;
    let mut h = hv_summary(&s, v);
    h["uptime"] = json!(" 00:00:00 up 1 day,  1 user,  load average: 0.00, 0.00, 0.00");
    Ok(ok(json!({"hypervisor": h})))
}

async fn hv_stats(State(c): State<Compute>, Authenticated(ctx): Authenticated) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-hypervisors:statistics")?;
    let mut t = json!({"count": 0, "vcpus": 0, "memory_mb": 0, "local_gb": 0, "vcpus_used": 0, "memory_mb_used": 0,
        "local_gb_used": 0, "free_ram_mb": 0, "free_disk_gb": 0, "current_workload": 0, "running_vms": 0, "disk_available_least": 0});
    for s in computes(&c).await? {
        let Some(r) = c.agent(&s.host).map(|a| a.driver.host_resources()) else { continue };
        let u = c.host_usage(&s.host).await;
        let n = c.store().instances_on_host(&s.host).await?.len() as i64;
        let add = |t: &mut Value, k: &str, x: i64| t[k] = json!(t[k].as_i64().unwrap_or(0) + x);
        add(&mut t, "count", 1);
        add(&mut t, "vcpus", r.vcpus);
        add(&mut t, "memory_mb", r.memory_mb);
        add(&mut t, "local_gb", r.disk_gb);
        add(&mut t, "vcpus_used", u.vcpu);
        add(&mut t, "memory_mb_used", u.memory_mb);
        add(&mut t, "local_gb_used", u.disk_gb);
        add(&mut t, "free_ram_mb", r.memory_mb - u.memory_mb);
        add(&mut t, "free_disk_gb", r.disk_gb - u.disk_gb);
        add(&mut t, "disk_available_least", r.disk_gb - u.disk_gb);
        add(&mut t, "running_vms", n);
    }
    Ok(ok(json!({"hypervisor_statistics": t})))
}

fn svc_view(c: &Compute, s: &ServiceRecord, v: Version, zones: &BTreeMap<String, Vec<String>>) -> Value {
    let zone = if s.binary == "nova-compute" {
        zones
            .iter()
            .find(|(_, h)| h.contains(&s.host))
            .map(|(z, _)| z.clone())
            .unwrap_or_else(|| c.cfg().default_az.clone())
    } else {
        "internal".into()
    };
    let mut o = json!({
        "id": if v.at_least(2, 53) { json!(s.uuid) } else { json!(s.id) },
        "binary": s.binary, "host": s.host, "zone": zone,
        "status": if s.disabled { "disabled" } else { "enabled" },
        "state": if s.forced_down { "down" } else { "up" },
        "updated_at": s.updated_at.as_deref().map(iso_naive),
        "disabled_reason": s.disabled_reason,
    });
    if v.at_least(2, 11) {
        o["forced_down"] = json!(s.forced_down);
    }
    o
}

async fn svc_list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    q: Query,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-services:list")?;
    let zones = zones(&c).await?;
    let list: Vec<Value> = c
        .store()
        .service_list()
        .await?
        .iter()
        .filter(|s| q.get("host").is_none_or(|h| *h == s.host))
        .filter(|s| q.get("binary").is_none_or(|b| *b == s.binary))
        .map(|s| svc_view(&c, s, v, &zones))
        .collect();
    Ok(ok(json!({"services": list})))
}

async fn svc_update(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-services:update")?;
    let all = c.store().service_list().await?;
    if !v.at_least(2, 53) {
        // PUT /os-services/{enable|disable|disable-log-reason|force-down} with host and binary
        let host = body.get("host").and_then(Value::as_str).ok_or_else(|| {
            Error::bad_request("Invalid input for field/attribute host. 'host' is a required property")
        })?;
        let binary = body.get("binary").and_then(Value::as_str).ok_or_else(|| {
            Error::bad_request("Invalid input for field/attribute binary. 'binary' is a required property")
        })?;
        let mut s = all
            .into_iter()
            .find(|s| s.host == host && s.binary == binary)
            .ok_or_else(|| Error::not_found(format!("Host '{host}' is not mapped to any cell")))?;
        let mut out = json!({"host": host, "binary": binary});
        match id.as_str() {
            "enable" => {
                s.disabled = false;
                s.disabled_reason = None;
                out["status"] = json!("enabled");
            }
            "disable" => {
                s.disabled = true;
                out["status"] = json!("disabled");
            }
            "disable-log-reason" => {
                let r = body
                    .get("disabled_reason")
                    .and_then(Value::as_str)
                    .ok_or_else(|| Error::bad_request("Missing disabled reason field"))?;
                s.disabled = true;
                s.disabled_reason = Some(r.to_string());
                out["status"] = json!("disabled");
                out["disabled_reason"] = json!(r);
            }
            "force-down" if v.at_least(2, 11) => {
                let f = body
                    .get("forced_down")
                    .and_then(Value::as_bool)
                    .ok_or_else(|| Error::bad_request("Invalid input for field/attribute forced_down."))?;
                s.forced_down = f;
                out["forced_down"] = json!(f);
            }
            _ => return Err(Error::not_found("Unknown action").into()),
        }
        c.store().service_save(&s).await?;
        return Ok(ok(json!({"service": out})));
    }
    let mut s = all
        .into_iter()
        .find(|s| s.uuid == id)
        .ok_or_else(|| Error::not_found(format!("Service {id} could not be found.")))?;
    if let Some(st) = body.get("status") {
        match st.as_str() {
            Some("enabled") => {
                s.disabled = false;
                s.disabled_reason = None;
            }
            Some("disabled") => {
                s.disabled = true;
                s.disabled_reason = body.get("disabled_reason").and_then(Value::as_str).map(str::to_string);
            }
            _ => return Err(Error::bad_request("Invalid input for field/attribute status.").into()),
        }
    } else if body.get("disabled_reason").is_some() {
        return Err(Error::bad_request("Specifying 'disabled_reason' with status 'enabled' is invalid.").into());
    }
    if let Some(f) = body.get("forced_down") {
        s.forced_down =
            f.as_bool().ok_or_else(|| Error::bad_request("Invalid input for field/attribute forced_down."))?;
    }
    c.store().service_save(&s).await?;
    let s = c.store().service_list().await?.into_iter().find(|x| x.id == s.id).unwrap_or(s);
    let zones = zones(&c).await?;
    Ok(ok(json!({"service": svc_view(&c, &s, v, &zones)})))
}

async fn svc_delete(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-services:delete")?;
    let s = c
        .store()
        .service_list()
        .await?
        .into_iter()
        .find(|s| if v.at_least(2, 53) { s.uuid == id } else { s.id.to_string() == id })
        .ok_or_else(|| Error::not_found(format!("Service {id} could not be found.")))?;
    if s.binary == "nova-compute"
        && c.agent(&s.host).is_some()
        && !c.store().instances_on_host(&s.host).await?.is_empty()
    {
        return Err(Error::conflict("Unable to delete compute service that is hosting instances.").into());
    }
    c.store().service_delete(s.id).await?;
    Ok(no_content())
}

fn agg_view(a: &Aggregate, v: Version) -> Value {
    let mut md = a.metadata.clone();
    if let Some(z) = &a.availability_zone {
        md.insert("availability_zone".into(), z.clone());
    }
    let mut o = json!({
        "id": a.id, "name": a.name, "availability_zone": a.availability_zone, "hosts": a.hosts, "metadata": md,
        "created_at": iso_naive(&a.created_at), "updated_at": a.updated_at.as_deref().map(iso_naive),
        "deleted": false, "deleted_at": null,
    });
    if v.at_least(2, 41) {
        o["uuid"] = json!(a.uuid);
    }
    o
}

async fn agg_list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-aggregates:index")?;
    let list: Vec<Value> = c.store().aggregate_list().await?.iter().map(|a| agg_view(a, v)).collect();
    Ok(ok(json!({"aggregates": list})))
}

fn agg_fields(o: &Value, need_name: bool) -> Result<(Option<String>, Option<Option<String>>), Error> {
    let a = o.as_object().ok_or_else(|| Error::bad_request("Invalid input for field/attribute aggregate."))?;
    if let Some(k) = a.keys().find(|k| *k != "name" && *k != "availability_zone") {
        return Err(Error::bad_request(format!("Additional properties are not allowed ('{k}' was unexpected)")));
    }
    let name = match a.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 255 => Some(s.trim().to_string()),
        None if !need_name => None,
        _ => return Err(Error::bad_request("Invalid input for field/attribute name.")),
    };
    let az = match a.get("availability_zone") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.len() <= 255 && !s.contains(':') => Some(Some(s.clone())),
        _ => return Err(Error::bad_request("Invalid input for field/attribute availability_zone.")),
    };
    if !need_name && name.is_none() && az.is_none() {
        return Err(Error::bad_request("Invalid input for field/attribute aggregate."));
    }
    Ok((name, az))
}

async fn agg_create(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-aggregates:create")?;
    let a = body.get("aggregate").ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute aggregate. 'aggregate' is a required property")
    })?;
    let (name, az) = agg_fields(a, true)?;
    let mut agg = Aggregate {
        id: 0,
        uuid: uuid::Uuid::new_v4().to_string(),
        name: name.unwrap_or_default(),
        availability_zone: az.flatten(),
        hosts: vec![],
        metadata: BTreeMap::new(),
        created_at: crate::model::now(),
        updated_at: None,
    };
    c.store().aggregate_create(&mut agg).await?;
    let mut view = agg_view(&agg, v);
    // create answers without hosts and metadata, as Nova
    if let Some(o) = view.as_object_mut() {
        o.remove("hosts");
        o.remove("metadata");
    }
    Ok(ok(json!({"aggregate": view})))
}

async fn load_agg(c: &Compute, id: &str) -> Result<Aggregate, Error> {
    let n: i64 = id.parse().map_err(|_| Error::bad_request(format!("Invalid ID {id}")))?;
    c.store().aggregate_get(n).await?.ok_or_else(|| Error::not_found(format!("Aggregate {id} could not be found.")))
}

async fn agg_show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-aggregates:show")?;
    Ok(ok(json!({"aggregate": agg_view(&load_agg(&c, &id).await?, v)})))
}

async fn agg_update(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-aggregates:update")?;
    let a = body.get("aggregate").ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute aggregate. 'aggregate' is a required property")
    })?;
    let (name, az) = agg_fields(a, false)?;
    let mut agg = load_agg(&c, &id).await?;
    if let Some(n) = name {
        agg.name = n;
    }
    if let Some(z) = az {
        agg.availability_zone = z;
    }
    c.store().aggregate_save(&agg).await?;
    Ok(ok(json!({"aggregate": agg_view(&load_agg(&c, &id).await?, v)})))
}

async fn agg_delete(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-aggregates:delete")?;
    let agg = load_agg(&c, &id).await?;
    if !agg.hosts.is_empty() {
        return Err(Error::bad_request(format!("Aggregate {id} still has hosts.")).into());
    }
    c.store().aggregate_delete(agg.id).await?;
    Ok(axum::response::IntoResponse::into_response(axum::http::StatusCode::OK))
}

async fn agg_action(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    require_admin(&ctx, "os_compute_api:os-aggregates:add_host")?;
    let mut agg = load_agg(&c, &id).await?;
    let host_of = |k: &str| -> Result<String, Error> {
        body.get(k).and_then(|a| a.get("host")).and_then(Value::as_str).map(str::to_string).ok_or_else(|| {
            Error::bad_request(format!("Invalid input for field/attribute {k}. 'host' is a required property"))
        })
    };
    if body.get("add_host").is_some() {
        let h = host_of("add_host")?;
        if !c.store().service_list().await?.iter().any(|s| s.host == h && s.binary == "nova-compute") {
            return Err(Error::not_found(format!("Compute host {h} could not be found.")).into());
        }
        if agg.hosts.contains(&h) {
            return Err(Error::conflict(format!("Aggregate {id} already has host {h}.")).into());
        }
        // a host may be in one zone only
        if let Some(z) = &agg.availability_zone {
            for other in c.store().aggregate_list().await? {
                if other.id != agg.id
                    && other.hosts.contains(&h)
                    && other.availability_zone.as_ref().is_some_and(|oz| oz != z)
                {
                    return Err(Error::conflict(format!(
                        "Cannot add host {h} to aggregate {id}: host is already in zone {}",
                        other.availability_zone.unwrap_or_default()
                    ))
                    .into());
                }
            }
        }
        agg.hosts.push(h);
    } else if body.get("remove_host").is_some() {
        let h = host_of("remove_host")?;
        if !agg.hosts.contains(&h) {
            return Err(Error::not_found(format!("Cannot remove host {h} in aggregate {id}")).into());
        }
        agg.hosts.retain(|x| *x != h);
    } else if let Some(sm) = body.get("set_metadata") {
        let md = sm.get("metadata").and_then(Value::as_object).ok_or_else(|| {
            Error::bad_request("Invalid input for field/attribute set_metadata. 'metadata' is a required property")
        })?;
        for (k, val) in md {
            if k.is_empty() || k.len() > 255 {
                return Err(
                    Error::bad_request(format!("Invalid input for field/attribute metadata. Value: {k}.")).into()
                );
            }
            match val {
                Value::Null => {
                    agg.metadata.remove(k);
                    if k == "availability_zone" {
                        agg.availability_zone = None;
                    }
                }
                Value::String(s) if s.len() <= 255 => {
                    if k == "availability_zone" {
                        agg.availability_zone = Some(s.clone());
                    } else {
                        agg.metadata.insert(k.clone(), s.clone());
                    }
                }
                other => {
                    return Err(Error::bad_request(format!(
                        "Invalid input for field/attribute metadata. Value: {other}."
                    ))
                    .into())
                }
            }
        }
    } else {
        return Err(Error::bad_request("Invalid action.").into());
    }
    c.store().aggregate_save(&agg).await?;
    Ok(ok(json!({"aggregate": agg_view(&load_agg(&c, &id).await?, v)})))
}
