//! Servers: create, list (with Nova's filters and paging), show, update,
//! delete. A create is validated here (flavor, image, key, networks, quota)
//! and written in one transaction; the boot itself is cast to the conductor.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use base64::Engine;
use rustack_common::Error;
use rustack_http::microversion::Version;
use rustack_http::request_log::RequestId;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use serde_json::{json, Map, Value};

use super::{is_admin, links, next_link, no_content, ok, page, project_of, status, view};
use crate::bus::{Op, Task};
use crate::model::{task, vm, FlavorSnap, Instance, InstanceAction};
use crate::peers::{NetItem, NetRequest};
use crate::store::instances::QuotaLimits;
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/servers", get(list).post(create))
        .route("/servers/detail", get(list_detail))
        .route("/servers/{id}", get(show).put(update).delete(delete))
}

/// A server the caller may act on: their project's, or any for an admin.
pub(crate) async fn load(c: &Compute, ctx: &RequestContext, id: &str) -> Result<Instance, Error> {
    let nf = || Error::not_found(format!("Instance {id} could not be found."));
    let i = c.store().instance_get(id).await?.ok_or_else(nf)?;
    if is_admin(ctx) || ctx.project_id() == Some(i.project_id.as_str()) {
        Ok(i)
    } else {
        Err(nf())
    }
}

/// The effective limits of a project: os-quota-sets override, else the
/// unified limit registered in identity, else the configured default.
pub(crate) async fn limits_of(c: &Compute, project: &str) -> Result<BTreeMap<String, i64>, Error> {
    let cfg = c.cfg();
    let mut out: BTreeMap<String, i64> = [
        ("instances", cfg.quota_instances),
        ("cores", cfg.quota_cores),
        ("ram", cfg.quota_ram),
        ("key_pairs", cfg.quota_key_pairs),
        ("metadata_items", cfg.quota_metadata_items),
        ("server_groups", cfg.quota_server_groups),
        ("server_group_members", cfg.quota_server_group_members),
        ("injected_files", 5),
        ("injected_file_content_bytes", 10240),
        ("injected_file_path_bytes", 255),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in c.store().quota_overrides("class:default").await? {
        out.insert(k, v);
    }
    let unified = [("instances", "servers"), ("cores", "class:VCPU"), ("ram", "class:MEMORY_MB")];
    for (k, name) in unified {
        if let Ok(Some(v)) = c.options().limits.limit(project, "compute", name).await {
            out.insert(k.to_string(), v);
        }
    }
    for (k, v) in c.store().quota_overrides(project).await? {
        out.insert(k, v);
    }
    Ok(out)
}

fn bad(msg: impl Into<String>) -> Error {
    Error::bad_request(msg)
}

fn str_field<'a>(o: &'a Map<String, Value>, k: &str, max: usize) -> Result<Option<&'a str>, Error> {
    match o.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() <= max => Ok(Some(s.as_str())),
        Some(v) => Err(bad(format!("Invalid input for field/attribute {k}. Value: {v}."))),
    }
}

fn count_field(o: &Map<String, Value>, k: &str) -> Result<Option<usize>, Error> {
    match o.get(k) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_u64().filter(|n| *n >= 1).map(|n| Some(n as usize)).ok_or_else(|| {
            bad(format!("Invalid input for field/attribute {k}. Value: {n}. {n} is less than the minimum of 1"))
        }),
        Some(Value::String(s)) => s
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .map(Some)
            .ok_or_else(|| bad(format!("Invalid input for field/attribute {k}. Value: {s}."))),
        Some(v) => Err(bad(format!("Invalid input for field/attribute {k}. Value: {v}."))),
    }
}

/// Validates a metadata map (server create and the metadata API).
pub(crate) fn parse_metadata(v: &Value, limit: i64) -> Result<BTreeMap<String, String>, Error> {
    let o = v.as_object().ok_or_else(|| {
        bad(format!("Invalid input for field/attribute metadata. Value: {v}. {v} is not of type 'object'"))
    })?;
    let mut out = BTreeMap::new();
    for (k, val) in o {
        if k.is_empty() || k.len() > 255 {
            return Err(bad(format!("Invalid input for field/attribute metadata. Value: {k}.")));
        }
        let s = val.as_str().ok_or_else(|| {
            bad(format!("Invalid input for field/attribute {k}. Value: {val}. {val} is not of type 'string'"))
        })?;
        if s.len() > 255 {
            return Err(bad(format!("Invalid input for field/attribute {k}. Value: {s}. is too long")));
        }
        out.insert(k.clone(), s.to_string());
    }
    if limit >= 0 && out.len() as i64 > limit {
        return Err(Error::forbidden(format!(
            "Quota exceeded for metadata_items: Maximum number of metadata items exceeds {limit}"
        )));
    }
    Ok(out)
}

fn parse_networks(v: Option<&Value>, ver: Version) -> Result<NetRequest, Error> {
    match v {
        None if ver.at_least(2, 37) => {
            Err(bad("Invalid input for field/attribute server. 'networks' is a required property"))
        }
        None => Ok(NetRequest::Auto),
        Some(Value::String(s)) if ver.at_least(2, 37) && s == "none" => Ok(NetRequest::None),
        Some(Value::String(s)) if ver.at_least(2, 37) && s == "auto" => Ok(NetRequest::AutoAllocate),
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for it in items {
                let o = it
                    .as_object()
                    .ok_or_else(|| bad(format!("Invalid input for field/attribute networks. Value: {it}.")))?;
                let item = NetItem {
                    network_id: o.get("uuid").and_then(Value::as_str).map(str::to_string),
                    port_id: o.get("port").and_then(Value::as_str).map(str::to_string),
                    fixed_ip: o.get("fixed_ip").and_then(Value::as_str).map(str::to_string),
                };
                if let Some(n) = &item.network_id {
                    if uuid::Uuid::parse_str(n).is_err() {
                        return Err(bad(format!("Bad networks format: network uuid is not in proper format ({n})")));
                    }
                }
                if item.network_id.is_none() && item.port_id.is_none() {
                    return Err(bad("Bad networks format: network uuid is not in proper format (None)"));
                }
                out.push(item);
            }
            if ver.at_least(2, 37) && out.is_empty() {
                return Err(bad("Invalid input for field/attribute networks. Value: []. [] is too short"));
            }
            Ok(NetRequest::List(out))
        }
        Some(v) => Err(bad(format!("Invalid input for field/attribute networks. Value: {v}."))),
    }
}

/// Reads the image the server boots from: `imageRef`, or a
/// block_device_mapping_v2 entry with boot_index 0 and source image.
fn boot_image(o: &Map<String, Value>) -> Result<Option<String>, Error> {
    if let Some(Value::Array(bdms)) = o.get("block_device_mapping_v2") {
        for b in bdms {
            let boot0 = matches!(b.get("boot_index"), Some(Value::Number(n)) if n.as_i64() == Some(0))
                || matches!(b.get("boot_index"), Some(Value::String(s)) if s == "0");
            if boot0 {
                return match b.get("source_type").and_then(Value::as_str) {
                    Some("image") => Ok(b.get("uuid").and_then(Value::as_str).map(str::to_string)),
                    Some("volume") | Some("snapshot") => Err(Error::bad_request(
                        "Block device mapping is invalid: booting from a volume needs the block storage service.",
                    )),
                    _ => Err(bad("Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid.")),
                };
            }
        }
    }
    match o.get("imageRef") {
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        None => Ok(None),
        Some(v) => Err(bad(format!("Invalid input for field/attribute imageRef. Value: {v}."))),
    }
}

const CREATE_KEYS: &[&str] = &[
    "name",
    "imageRef",
    "flavorRef",
    "networks",
    "security_groups",
    "key_name",
    "user_data",
    "metadata",
    "availability_zone",
    "min_count",
    "max_count",
    "block_device_mapping_v2",
    "block_device_mapping",
    "accessIPv4",
    "accessIPv6",
    "adminPass",
    "OS-DCF:diskConfig",
    "config_drive",
    "return_reservation_id",
    "personality",
    "description",
    "tags",
    "host",
    "hypervisor_hostname",
    "trusted_image_certificates",
    "hostname",
];

async fn create(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    rid: Option<Extension<RequestId>>,
    headers: axum::http::HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let project = project_of(&ctx)?.to_string();
    let o = body
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute server. 'server' is a required property"))?;
    if let Some(k) = o.keys().find(|k| !CREATE_KEYS.contains(&k.as_str())) {
        return Err(bad(format!(
            "Invalid input for field/attribute server. Additional properties are not allowed ('{k}' was unexpected)"
        ))
        .into());
    }
    let name = str_field(o, "name", 255)?
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            bad("Invalid input for field/attribute name. 'name' is a required property and may not be blank")
        })?
        .to_string();
    let min_count = count_field(o, "min_count")?.unwrap_or(1);
    let max_count = count_field(o, "max_count")?.unwrap_or(min_count);
    if min_count > max_count {
        return Err(bad("min_count must be <= max_count").into());
    }
    // flavor
    let flavor_ref = match o.get("flavorRef") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        None => return Err(bad("Invalid input for field/attribute server. 'flavorRef' is a required property").into()),
        Some(_) => return Err(bad("Invalid flavorRef provided.").into()),
    };
    let flavor_ref = flavor_ref.rsplit('/').next().unwrap_or_default().to_string();
    let flavor = super::flavors::usable(&c, &ctx, &flavor_ref)
        .await?
        .filter(|f| !f.disabled)
        .ok_or_else(|| bad("Invalid flavorRef provided."))?;
    // image
    let image_ref = boot_image(o)?.map(|s| s.rsplit('/').next().unwrap_or_default().to_string());
    let image_ref =
        image_ref.ok_or_else(|| bad("Invalid input for field/attribute server. 'imageRef' is a required property"))?;
    if uuid::Uuid::parse_str(&image_ref).is_err() {
        return Err(bad("Invalid imageRef provided.").into());
    }
    let image = c.inner.set.images.get(&ctx, &image_ref).await?.ok_or_else(|| bad("Can not find requested image"))?;
    if image.status != "active" {
        return Err(bad(format!("Image {image_ref} is not active.")).into());
    }
    const GIB: i64 = 1 << 30;
    if flavor.disk > 0 && image.size > flavor.disk * GIB {
        return Err(bad(format!(
            "Flavor's disk is too small for requested image. Flavor disk is {} bytes, image is {} bytes.",
            flavor.disk * GIB,
            image.size
        ))
        .into());
    }
    if flavor.disk > 0 && image.min_disk > flavor.disk {
        return Err(bad(format!(
            "Flavor's disk is smaller than the minimum size specified in image metadata. Flavor disk is {} bytes, minimum size is {} bytes.",
            flavor.disk * GIB,
            image.min_disk * GIB
        ))
        .into());
    }
    if image.min_ram > flavor.ram {
        return Err(bad("Flavor's memory is too small for requested image.").into());
    }
    // key pair (the caller's own)
    let key = match str_field(o, "key_name", 255)? {
        Some(k) => {
            Some(c.store().keypair_get(&ctx.user_id, k).await?.ok_or_else(|| bad("Invalid key_name provided."))?)
        }
        None => None,
    };
    let limits = limits_of(&c, &project).await?;
    let metadata = match o.get("metadata") {
        Some(m) => parse_metadata(m, limits.get("metadata_items").copied().unwrap_or(128))?,
        None => BTreeMap::new(),
    };
    let user_data = match str_field(o, "user_data", 65535)? {
        Some(u) => {
            base64::engine::general_purpose::STANDARD
                .decode(u.trim())
                .map_err(|_| bad("User data needs to be valid base 64."))?;
            Some(u.to_string())
        }
        None => None,
    };
    let networks = parse_networks(o.get("networks"), v)?;
    c.inner.set.ports.validate(&ctx, &networks).await?;
    // zone, and `zone:host` for admins
    let (mut az, mut host) = (None, None);
    if let Some(z) = str_field(o, "availability_zone", 255)? {
        let (zone, h) = match z.split_once(':') {
            Some((zz, hh)) => (zz, Some(hh.split(':').next().unwrap_or(hh))),
            None => (z, None),
        };
        if let Some(h) = h.filter(|h| !h.is_empty()) {
            super::require_admin(&ctx, "os_compute_api:servers:create:forced_host")?;
            host = Some(h.to_string());
        }
        if !zone.is_empty() {
            let zones = super::hosts::zones(&c).await?;
            if !zones.contains_key(zone) {
                return Err(bad("The requested availability zone is not available").into());
            }
            az = Some(zone.to_string());
        }
    }
    if v.at_least(2, 74) {
        if let Some(h) = str_field(o, "host", 255)?.or(str_field(o, "hypervisor_hostname", 255)?) {
            super::require_admin(&ctx, "compute:servers:create:requested_destination")?;
            if c.agent(h).is_none() {
                return Err(bad(format!("Compute host {h} could not be found.")).into());
            }
            host = Some(h.to_string());
        }
    }
    let security_groups: Vec<String> = match o.get("security_groups") {
        Some(Value::Array(a)) => a
            .iter()
            .map(|g| {
                g.get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| bad("Invalid input for field/attribute security_groups."))
            })
            .collect::<Result<_, _>>()?,
        None => vec!["default".into()],
        Some(_) => return Err(bad("Invalid input for field/attribute security_groups.").into()),
    };
    // the ids the ports get, and the names the server shows (a group may be
    // asked for by name or by id, as Nova accepts both)
    let mut security_group_ids: Vec<String> = Vec::new();
    let mut security_groups = security_groups;
    if c.inner.peers.network.is_some() && security_groups.iter().any(|g| g != "default") {
        let tok = headers.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or_default();
        let (s, known) = super::secgroups::neutron(
            &c,
            tok,
            reqwest::Method::GET,
            &format!("/security-groups?project_id={project}"),
            None,
        )
        .await?;
        if s == 200 {
            let known = known["security_groups"].as_array().cloned().unwrap_or_default();
            let mut names = Vec::new();
            for g in &security_groups {
                let found = known
                    .iter()
                    .find(|k| k["id"] == g.as_str())
                    .or_else(|| known.iter().find(|k| k["name"] == g.as_str() && k["project_id"] == project.as_str()));
                let Some(k) = found.or_else(|| known.iter().find(|k| k["name"] == g.as_str())) else {
                    return Err(bad(format!("Security group {g} not found for project {project}.")).into());
                };
                let id = k["id"].as_str().unwrap_or_default().to_string();
                if !security_group_ids.contains(&id) {
                    security_group_ids.push(id);
                    names.push(k["name"].as_str().unwrap_or(g).to_string());
                }
            }
            security_groups = names;
        }
    }
    let description = if v.at_least(2, 19) { str_field(o, "description", 255)?.map(str::to_string) } else { None };
    let tags: Vec<String> = match o.get("tags") {
        Some(Value::Array(a)) if v.at_least(2, 52) => a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect(),
        _ => vec![],
    };
    let disk_config = match str_field(o, "OS-DCF:diskConfig", 10)? {
        None => "MANUAL".to_string(),
        Some(d @ ("AUTO" | "MANUAL")) => d.to_string(),
        Some(d) => return Err(bad(format!("Invalid input for field/attribute OS-DCF:diskConfig. Value: {d}.")).into()),
    };
    // the server group of the scheduler hints
    let hints =
        body.get("os:scheduler_hints").or_else(|| body.get("OS-SCH-HNT:scheduler_hints")).cloned().unwrap_or(json!({}));
    let group = match hints.get("group").and_then(Value::as_str) {
        Some(g) => {
            let grp = c.store().group_get(g).await?.filter(|grp| grp.project_id == project || is_admin(&ctx));
            Some(grp.ok_or_else(|| bad(format!("Invalid input for field/attribute group. Value: {g}.")))?.id)
        }
        None => None,
    };
    if let Some(a) = str_field(o, "accessIPv4", 64)?.filter(|a| !a.is_empty()) {
        a.parse::<std::net::Ipv4Addr>().map_err(|_| {
            bad(format!("Invalid input for field/attribute accessIPv4. Value: {a}. '{a}' is not a 'ipv4'"))
        })?;
    }
    let access_v6 = match str_field(o, "accessIPv6", 64)?.filter(|a| !a.is_empty()) {
        Some(a) => a
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| {
                bad(format!("Invalid input for field/attribute accessIPv6. Value: {a}. '{a}' is not a 'ipv6'"))
            })?
            .to_string(),
        None => String::new(),
    };
    // how many servers fit the quota (between min_count and max_count)
    let used = c.store().usage(&project).await?;
    let per = crate::model::Resources::of(&FlavorSnap::from(&flavor));
    let lim = |k: &str| limits.get(k).copied().unwrap_or(-1);
    let room = |limit: i64, used: i64, each: i64| -> usize {
        if limit < 0 || each == 0 {
            usize::MAX
        } else {
            ((limit - used).max(0) / each) as usize
        }
    };
    let fits = room(lim("instances"), used.instances, 1).min(room(lim("cores"), used.cores, per.vcpu)).min(room(
        lim("ram"),
        used.ram,
        per.memory_mb,
    ));
    let count = max_count.min(fits).max(min_count);
    let now = crate::model::now();
    let reservation_id = format!("r-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let request_id = rid.map(|r| r.0 .0).unwrap_or_else(|| format!("req-{}", uuid::Uuid::new_v4()));
    let mut instances = Vec::with_capacity(count);
    let mut actions = Vec::with_capacity(count);
    for n in 0..count {
        let uuid = uuid::Uuid::new_v4().to_string();
        let nm = if count > 1 { format!("{name}-{}", n + 1) } else { name.clone() };
        instances.push(Instance {
            uuid: uuid.clone(),
            hostname: hostname_of(&nm),
            name: nm,
            project_id: project.clone(),
            user_id: ctx.user_id.clone(),
            description: description.clone(),
            vm_state: vm::BUILDING.into(),
            task_state: Some(task::SCHEDULING.into()),
            flavor: Some(FlavorSnap::from(&flavor)),
            image_ref: image_ref.clone(),
            key_name: key.as_ref().map(|k| k.name.clone()),
            key_data: key.as_ref().map(|k| k.public_key.clone()),
            user_data: user_data.clone(),
            metadata: metadata.clone(),
            tags: tags.clone(),
            requested_az: az.clone(),
            security_groups: security_groups.clone(),
            requested_networks: o.get("networks").cloned().unwrap_or(Value::Null),
            access_ipv4: str_field(o, "accessIPv4", 64)?.unwrap_or_default().to_string(),
            access_ipv6: access_v6.clone(),
            config_drive: match o.get("config_drive") {
                Some(Value::Bool(true)) => "True".into(),
                _ => String::new(),
            },
            disk_config: disk_config.clone(),
            launch_index: n as i64,
            reservation_id: reservation_id.clone(),
            created_at: now.clone(),
            updated_at: now.clone(),
            server_group: group.clone(),
            requested_host: host.clone(),
            scheduler_hints: hints.clone(),
            ..Default::default()
        });
        actions.push(InstanceAction {
            id: uuid::Uuid::new_v4().to_string(),
            instance_uuid: uuid,
            request_id: request_id.clone(),
            action: "create".into(),
            project_id: project.clone(),
            user_id: ctx.user_id.clone(),
            start_time: now.clone(),
            updated_at: now.clone(),
            message: None,
            events: vec![],
        });
    }
    let ql = QuotaLimits { instances: lim("instances"), cores: lim("cores"), ram: lim("ram") };
    c.store().instances_create(&instances, &actions, ql, min_count).await.map_err(|mut e| {
        e.code = None;
        e
    })?;
    if let Some(g) = &group {
        let uuids: Vec<String> = instances.iter().map(|i| i.uuid.clone()).collect();
        if let Err(e) = c.store().group_members(g, &uuids, true, lim("server_group_members")).await {
            for i in &instances {
                let _ = c
                    .store()
                    .instance_modify(&i.uuid, |i| {
                        i.deleted = true;
                        i.vm_state = vm::DELETED.into();
                        Ok(())
                    })
                    .await;
            }
            return Err(e.into());
        }
    }
    let ctx_arc = Arc::new((*ctx).clone());
    for (i, a) in instances.iter().zip(&actions) {
        c.cast(Task {
            uuid: i.uuid.clone(),
            ctx: Some(ctx_arc.clone()),
            action_id: Some(a.id.clone()),
            op: Op::Build { networks: networks.clone(), security_groups: security_group_ids.clone() },
        })?;
    }
    if o.get("return_reservation_id").and_then(Value::as_bool) == Some(true) {
        return Ok(status(202, json!({"reservation_id": reservation_id})));
    }
    let first = &instances[0];
    let admin_pass = o.get("adminPass").and_then(Value::as_str).map(str::to_string).unwrap_or_else(gen_password);
    let sgs: Vec<Value> = security_groups.iter().map(|n| json!({"name": n})).collect();
    let body = json!({"server": {
        "id": first.uuid,
        "links": links(&c, &format!("servers/{}", first.uuid)),
        "OS-DCF:diskConfig": disk_config,
        "security_groups": sgs,
        "adminPass": admin_pass,
    }});
    let loc = format!("{}/v2.1/servers/{}", c.options().public_url, first.uuid);
    let mut r = status(202, body);
    if let Ok(h) = loc.parse() {
        r.headers_mut().insert(LOCATION, h);
    }
    Ok(r)
}

fn gen_password() -> String {
    use rand::Rng;
    const CH: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut r = rand::thread_rng();
    (0..12).map(|_| CH[r.gen_range(0..CH.len())] as char).collect()
}

/// The guest hostname Nova derives from a display name.
fn hostname_of(name: &str) -> String {
    let mut h: String = name
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() || ch == '-' { ch.to_ascii_lowercase() } else { '-' })
        .collect();
    h = h.trim_matches('-').to_string();
    h.truncate(63);
    if h.is_empty() {
        "server".into()
    } else {
        h
    }
}

const STATUSES: &[&str] = &[
    "ACTIVE",
    "BUILD",
    "DELETED",
    "ERROR",
    "HARD_REBOOT",
    "MIGRATING",
    "PASSWORD",
    "PAUSED",
    "REBOOT",
    "REBUILD",
    "RESCUE",
    "RESIZE",
    "REVERT_RESIZE",
    "SHELVED",
    "SHELVED_OFFLOADED",
    "SHUTOFF",
    "SOFT_DELETED",
    "SUSPENDED",
    "UNKNOWN",
    "VERIFY_RESIZE",
];

/// Nova's name filter: a regular expression searched in the name (an
/// invalid one is taken literally).
fn name_matches(pattern: &str, name: &str) -> bool {
    match regex::Regex::new(pattern) {
        Ok(re) => re.is_match(name),
        Err(_) => name.contains(pattern),
    }
}

fn tag_list(v: &str) -> Vec<String> {
    v.split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()
}

async fn listing(
    c: &Compute,
    ctx: &RequestContext,
    v: Version,
    q: &HashMap<String, String>,
    detail: bool,
    tok: &str,
) -> ApiResult<Response> {
    let admin = is_admin(ctx);
    let all_tenants =
        admin && q.get("all_tenants").is_some_and(|a| a.is_empty() || super::bool_param(a) != Some(false));
    let project_filter = q.get("project_id").or_else(|| q.get("tenant_id")).filter(|_| all_tenants);
    let scope: Option<String> = if let Some(p) = project_filter {
        Some(p.clone())
    } else if all_tenants {
        None
    } else {
        Some(project_of(ctx)?.to_string())
    };
    let deleted = admin && q.get("deleted").and_then(|d| super::bool_param(d)) == Some(true);
    let changes_since = match q.get("changes-since") {
        Some(t) => Some(
            rustack_common::time::parse_iso(t)
                .ok_or_else(|| bad(format!("Invalid input for query parameters changes-since. Value: {t}.")))?,
        ),
        None => None,
    };
    // changes-since is what pollers send every fraction of a second: let SQL
    // drop the unchanged servers (one second early: the exact test follows)
    let since = changes_since.map(|cs| rustack_common::time::iso_micro(&(cs - chrono::Duration::seconds(1))));
    let mut items =
        c.store().instance_list_since(scope.as_deref(), deleted || changes_since.is_some(), since.as_deref()).await?;
    if deleted {
        items.retain(|i| i.deleted);
    }
    if let Some(cs) = changes_since {
        items.retain(|i| rustack_common::time::parse_iso(&i.updated_at).is_some_and(|u| u >= cs));
    }
    if let Some(s) = q.get("status") {
        let s = s.to_ascii_uppercase();
        if !STATUSES.contains(&s.as_str()) {
            if v.at_least(2, 38) {
                return Err(bad("Invalid status value").into());
            }
            items.clear();
        }
        items.retain(|i| i.status() == s);
    }
    if let Some(n) = q.get("name") {
        items.retain(|i| name_matches(n, &i.name));
    }
    if let Some(img) = q.get("image") {
        let img = img.rsplit('/').next().unwrap_or_default();
        items.retain(|i| i.image_ref == img);
    }
    if let Some(f) = q.get("flavor") {
        let f = f.rsplit('/').next().unwrap_or_default();
        items.retain(|i| i.flavor.as_ref().is_some_and(|x| x.id == f));
    }
    if let Some(r) = q.get("reservation_id") {
        items.retain(|i| &i.reservation_id == r);
    }
    if let Some(k) = q.get("key_name") {
        items.retain(|i| i.key_name.as_deref() == Some(k.as_str()));
    }
    if let Some(z) = q.get("availability_zone") {
        items.retain(|i| i.availability_zone.as_deref() == Some(z.as_str()));
    }
    if let Some(ip) = q.get("ip") {
        items.retain(|i| i.addresses.values().flatten().any(|a| a.version == 4 && name_matches(ip, &a.addr)));
    }
    if let Some(ip) = q.get("ip6") {
        items.retain(|i| i.addresses.values().flatten().any(|a| a.version == 6 && name_matches(ip, &a.addr)));
    }
    if admin {
        if let Some(h) = q.get("host").or_else(|| q.get("node")) {
            items.retain(|i| i.host.as_deref() == Some(h.as_str()));
        }
        if let Some(u) = q.get("user_id") {
            items.retain(|i| &i.user_id == u);
        }
    }
    if v.at_least(2, 73) {
        if let Some(l) = q.get("locked") {
            let want = super::bool_param(l).ok_or_else(|| {
                bad(format!("Unrecognized value '{l}', acceptable values are: '1', '0', 'true', 'false'"))
            })?;
            items.retain(|i| i.locked == want);
        }
    }
    if v.at_least(2, 26) {
        if let Some(t) = q.get("tags") {
            let t = tag_list(t);
            items.retain(|i| t.iter().all(|x| i.tags.contains(x)));
        }
        if let Some(t) = q.get("tags-any") {
            let t = tag_list(t);
            items.retain(|i| t.iter().any(|x| i.tags.contains(x)));
        }
        if let Some(t) = q.get("not-tags") {
            let t = tag_list(t);
            items.retain(|i| !t.iter().all(|x| i.tags.contains(x)));
        }
        if let Some(t) = q.get("not-tags-any") {
            let t = tag_list(t);
            items.retain(|i| !t.iter().any(|x| i.tags.contains(x)));
        }
    }
    if let Some(k) = q.get("sort_key") {
        let desc = q.get("sort_dir").map(String::as_str) != Some("asc");
        match k.as_str() {
            "display_name" => items.sort_by(|a, b| a.name.cmp(&b.name)),
            "created_at" => items.sort_by(|a, b| a.created_at.cmp(&b.created_at)),
            "updated_at" => items.sort_by(|a, b| a.updated_at.cmp(&b.updated_at)),
            "uuid" => items.sort_by(|a, b| a.uuid.cmp(&b.uuid)),
            "vm_state" => items.sort_by(|a, b| a.vm_state.cmp(&b.vm_state)),
            "host" if admin => items.sort_by(|a, b| a.host.cmp(&b.host)),
            _ => return Err(bad(format!("Invalid input for query parameters sort_key. Value: {k}.")).into()),
        }
        if desc {
            items.reverse();
        }
    }
    let (items, more) = page(items, q, |i| i.uuid.as_str(), |m| bad(format!("marker [{m}] not found")))?;
    let links = match items.last() {
        Some(last) if more => Some(next_link(c, if detail { "servers/detail" } else { "servers" }, q, &last.uuid)),
        _ => None,
    };
    let items = if detail { super::server_floating_ips::refresh_all(c, tok, items).await } else { items };
    Ok(view::servers_body(c, ctx, v, items, detail, links))
}

async fn list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    axum::extract::Query(q): super::Query,
) -> ApiResult<Response> {
    listing(&c, &ctx, v, &q, false, "").await
}

async fn list_detail(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    axum::extract::Query(q): super::Query,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let tok = headers.get("x-auth-token").and_then(|t| t.to_str().ok()).unwrap_or_default();
    listing(&c, &ctx, v, &q, true, tok).await
}

async fn show(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    let tok = headers.get("x-auth-token").and_then(|t| t.to_str().ok()).unwrap_or_default();
    let i = super::server_floating_ips::refresh(&c, tok, i).await;
    Ok(ok(json!({"server": view::detail(&c, &ctx, v, &i, true)})))
}

async fn update(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Extension(v): Extension<Version>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let o = body
        .get("server")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("Invalid input for field/attribute server. 'server' is a required property"))?;
    let mut allowed = vec!["name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"];
    if v.at_least(2, 19) {
        allowed.push("description");
    }
    if v.at_least(2, 90) {
        allowed.push("hostname");
    }
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(bad(format!(
            "Invalid input for field/attribute server. Additional properties are not allowed ('{k}' was unexpected)"
        ))
        .into());
    }
    let name = match str_field(o, "name", 255)? {
        Some(n) if n.trim().is_empty() => {
            return Err(bad("Invalid input for field/attribute name. Value: . may not be blank").into())
        }
        n => n.map(str::to_string),
    };
    let a4 = str_field(o, "accessIPv4", 64)?.map(str::to_string);
    let a6 = str_field(o, "accessIPv6", 64)?.map(str::to_string);
    if let Some(a) = &a4 {
        if !a.is_empty() && a.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(bad(format!(
                "Invalid input for field/attribute accessIPv4. Value: {a}. '{a}' is not a 'ipv4'"
            ))
            .into());
        }
    }
    let a6 = match a6 {
        Some(a) if !a.is_empty() => Some(
            a.parse::<std::net::Ipv6Addr>()
                .map_err(|_| {
                    bad(format!("Invalid input for field/attribute accessIPv6. Value: {a}. '{a}' is not a 'ipv6'"))
                })?
                .to_string(),
        ),
        other => other,
    };
    let desc = o.get("description").cloned();
    let dc = match str_field(o, "OS-DCF:diskConfig", 10)? {
        Some(d @ ("AUTO" | "MANUAL")) => Some(d.to_string()),
        Some(d) => return Err(bad(format!("Invalid input for field/attribute OS-DCF:diskConfig. Value: {d}.")).into()),
        None => None,
    };
    load(&c, &ctx, &id).await?;
    let (i, ()) = c
        .store()
        .instance_modify(&id, move |i| {
            if let Some(n) = name {
                i.hostname = hostname_of(&n);
                i.name = n;
            }
            if let Some(a) = a4 {
                i.access_ipv4 = a;
            }
            if let Some(a) = a6 {
                i.access_ipv6 = a;
            }
            match desc {
                Some(Value::String(s)) => i.description = Some(s),
                Some(Value::Null) => i.description = None,
                _ => {}
            }
            if let Some(d) = dc {
                i.disk_config = d;
            }
            Ok(())
        })
        .await?;
    Ok(ok(json!({"server": view::reduced(&c, &ctx, v, &i)})))
}

async fn delete(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    Path(id): Path<String>,
    rid: Option<Extension<RequestId>>,
) -> ApiResult<Response> {
    let i = load(&c, &ctx, &id).await?;
    super::actions::start_delete(&c, &ctx, &i, rid.map(|r| r.0 .0)).await?;
    Ok(no_content().into_response())
}
