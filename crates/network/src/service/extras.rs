//! The smaller families: quotas (with usage), RBAC policies, agents,
//! availability zones, network IP availability, tags.

use rustack_common::Error;
use serde_json::{json, Value};

use super::subnets::pools_of;
use super::*;
use crate::ipam;
use crate::query::ListQuery;

/// Neutron's default quotas, and the resource kind each counts.
pub const QUOTAS: &[(&str, i64, &str)] = &[
    ("network", 100, "network"),
    ("subnet", 100, "subnet"),
    ("port", 500, "port"),
    ("router", 10, "router"),
    ("floatingip", 50, "floatingip"),
    ("security_group", 10, "security_group"),
    ("security_group_rule", 100, "security_group_rule"),
    ("subnetpool", -1, "subnetpool"),
    ("rbac_policy", 10, "rbac_policy"),
];

pub async fn quota_limit(c: &mut Conn, project: &str, resource: &str) -> Result<i64, Error> {
    let default = QUOTAS.iter().find(|q| q.0 == resource).map(|q| q.1).unwrap_or(-1);
    Ok(store::get(c, "quota", project).await?.and_then(|q| q[resource].as_i64()).unwrap_or(default))
}

async fn quota_of(c: &mut Conn, project: &str) -> Result<Value, Error> {
    let stored = store::get(c, "quota", project).await?;
    let mut q = serde_json::Map::new();
    for (name, default, _) in QUOTAS {
        let v = stored.as_ref().and_then(|s| s[*name].as_i64()).unwrap_or(*default);
        q.insert((*name).into(), json!(v));
    }
    Ok(Value::Object(q))
}

fn may_read(caller: &Caller, project: &str) -> Result<(), Error> {
    if caller.is_admin || caller.project_id == project {
        Ok(())
    } else {
        Err(forbidden("get_quota"))
    }
}

pub async fn list_quotas(net: &Network, caller: &Caller) -> Result<Value, Error> {
    if !caller.is_admin {
        return Err(forbidden("get_quota"));
    }
    let mut c = conn(net).await?;
    let mut out = vec![];
    for q in store::list(&mut c, "quota").await? {
        let p = q["id"].as_str().unwrap_or_default().to_string();
        let mut v = quota_of(&mut c, &p).await?;
        v["tenant_id"] = json!(p);
        v["project_id"] = json!(p);
        out.push(v);
    }
    Ok(json!({ "quotas": out }))
}

pub async fn show_quota(net: &Network, caller: &Caller, project: &str) -> Result<Value, Error> {
    may_read(caller, project)?;
    let mut c = conn(net).await?;
    Ok(json!({ "quota": quota_of(&mut c, project).await? }))
}

pub async fn default_quota(caller: &Caller, project: &str) -> Result<Value, Error> {
    may_read(caller, project)?;
    let q: serde_json::Map<String, Value> = QUOTAS.iter().map(|(n, d, _)| ((*n).to_string(), json!(d))).collect();
    Ok(json!({ "quota": q }))
}

pub async fn quota_details(net: &Network, caller: &Caller, project: &str) -> Result<Value, Error> {
    may_read(caller, project)?;
    let mut c = conn(net).await?;
    let limits = quota_of(&mut c, project).await?;
    let mut q = serde_json::Map::new();
    for (name, _, kind) in QUOTAS {
        let used = store::count(&mut c, kind, project).await?;
        q.insert((*name).into(), json!({"limit": limits[*name], "used": used, "reserved": 0}));
    }
    Ok(json!({ "quota": q }))
}

pub async fn update_quota(net: &Network, caller: &Caller, project: &str, body: Value) -> Result<Value, Error> {
    if !caller.is_admin {
        return Err(forbidden("update_quota"));
    }
    let upd = body_of(body, "quota")?;
    let mut w = begin(net).await?;
    let mut stored = store::get(&mut w, "quota", project).await?;
    let fresh = stored.is_none();
    let doc = stored.get_or_insert_with(|| json!({"id": project, "project_id": project}));
    for (k, v) in &upd {
        if k == "force" || k == "check_limit" {
            continue;
        }
        if !QUOTAS.iter().any(|q| q.0 == k) {
            return Err(invalid(format!("Unrecognized attribute(s) '{k}'")));
        }
        let n = match v {
            Value::Number(n) if n.is_i64() => n.as_i64().unwrap_or(-1),
            Value::String(s) => s.parse::<i64>().map_err(|_| invalid(format!("'{s}' is not an integer")))?,
            _ => return Err(invalid(format!("'{v}' is not an integer"))),
        };
        if n < -1 {
            return Err(invalid(format!("'{n}' should be greater than or equal to -1")));
        }
        doc[k.as_str()] = json!(n);
    }
    if fresh {
        store::insert(&mut w, "quota", "", doc).await?;
    } else {
        store::update(&mut w, "quota", doc).await?;
    }
    let q = quota_of(&mut w, project).await?;
    commit(net, w).await?;
    Ok(json!({ "quota": q }))
}

pub async fn delete_quota(net: &Network, caller: &Caller, project: &str) -> Result<(), Error> {
    if !caller.is_admin {
        return Err(forbidden("delete_quota"));
    }
    let mut w = begin(net).await?;
    store::delete(&mut w, "quota", project).await?;
    commit(net, w).await
}

// ---- RBAC ------------------------------------------------------------------

/// The actions RBAC policies grant `project` on network `object_id`.
pub async fn rbac_grants(c: &mut Conn, object_id: &str, project: &str) -> Result<Vec<String>, Error> {
    Ok(store::list(c, "rbac_policy")
        .await?
        .into_iter()
        .filter(|r| {
            r["object_id"] == json!(object_id)
                && (r["target_tenant"] == json!("*") || (!project.is_empty() && r["target_tenant"] == json!(project)))
        })
        .filter_map(|r| r["action"].as_str().map(String::from))
        .collect())
}

pub async fn list_rbac(net: &Network, caller: &Caller, q: &ListQuery, base: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    let items = store::list(&mut c, "rbac_policy")
        .await?
        .into_iter()
        .filter(|r| caller.owns(r) || r["target_tenant"] == json!(caller.project_id))
        .collect();
    q.apply("rbac_policies", base, items)
}

pub async fn show_rbac(net: &Network, caller: &Caller, id: &str) -> Result<Value, Error> {
    let mut c = conn(net).await?;
    let r = must_get(&mut c, "rbac_policy", id).await?;
    if !caller.owns(&r) && r["target_tenant"] != json!(caller.project_id) {
        return Err(not_found("rbac_policy", id));
    }
    Ok(r)
}

pub async fn create_rbac(net: &Network, caller: &Caller, doc: Doc) -> Result<Value, Error> {
    only(&doc, &["object_type", "object_id", "action", "target_tenant", "target_project", "project_id", "tenant_id"])?;
    let project = owner_of_new(caller, &doc)?;
    let ty = get_str(&doc, "object_type")?.ok_or_else(|| invalid("object_type is required"))?;
    if ty != "network" {
        return Err(invalid(format!("'{ty}' is not in ['network']")));
    }
    let oid = get_str(&doc, "object_id")?.ok_or_else(|| invalid("object_id is required"))?;
    let action = get_str(&doc, "action")?.ok_or_else(|| invalid("action is required"))?;
    if action != "access_as_shared" && action != "access_as_external" {
        return Err(invalid(format!("'{action}' is not in ['access_as_external', 'access_as_shared']")));
    }
    let target = get_str(&doc, "target_tenant")?
        .or(get_str(&doc, "target_project")?)
        .ok_or_else(|| invalid("target_tenant is required"))?;
    if target == "*" && !caller.is_admin {
        return Err(forbidden("create_rbac_policy:target_tenant"));
    }
    let mut w = begin(net).await?;
    let n = store::get(&mut w, "network", &oid).await?.ok_or_else(|| not_found("network", &oid))?;
    if !caller.owns(&n) {
        return Err(not_found("network", &oid));
    }
    for r in store::list(&mut w, "rbac_policy").await? {
        if r["object_id"] == json!(oid) && r["action"] == json!(action) && r["target_tenant"] == json!(target) {
            return Err(
                Error::conflict("An RBAC policy already exists with those values.").with_code("DuplicateRbacPolicy")
            );
        }
    }
    check_quota(&mut w, &project, "rbac_policy", "rbac_policy", 1).await?;
    let id = new_id();
    let v = json!({
        "id": id, "object_type": ty, "object_id": oid, "action": action, "target_tenant": target,
        "target_project": target, "tenant_id": project, "project_id": project,
    });
    store::insert(&mut w, "rbac_policy", &oid, &v).await?;
    commit(net, w).await?;
    Ok(v)
}

pub async fn update_rbac(net: &Network, caller: &Caller, id: &str, upd: Doc) -> Result<Value, Error> {
    only(&upd, &["target_tenant", "target_project"])?;
    let mut w = begin(net).await?;
    let mut r = must_get(&mut w, "rbac_policy", id).await?;
    if !caller.owns(&r) {
        return Err(not_found("rbac_policy", id));
    }
    if let Some(t) = get_str(&upd, "target_tenant")?.or(get_str(&upd, "target_project")?) {
        r["target_tenant"] = json!(t);
        r["target_project"] = json!(t);
    }
    store::update(&mut w, "rbac_policy", &r).await?;
    commit(net, w).await?;
    Ok(r)
}

pub async fn delete_rbac(net: &Network, caller: &Caller, id: &str) -> Result<(), Error> {
    let mut w = begin(net).await?;
    let r = must_get(&mut w, "rbac_policy", id).await?;
    if !caller.owns(&r) {
        return Err(not_found("rbac_policy", id));
    }
    // the target project's ports keep a sharing policy in use
    let target = r["target_tenant"].as_str().unwrap_or_default().to_string();
    let oid = r["object_id"].as_str().unwrap_or_default().to_string();
    let owner = store::get(&mut w, "network", &oid).await?.map(|n| n["project_id"].clone()).unwrap_or(Value::Null);
    let in_use = store::children(&mut w, "port", &oid).await?.iter().any(|p| {
        p["project_id"] != owner && (target == "*" || p["project_id"] == json!(target)) && p["project_id"] != json!("")
    });
    if in_use && r["action"] == json!("access_as_shared") {
        return Err(Error::conflict(format!(
            "RBAC policy on object {oid} cannot be removed because other objects depend on it."
        ))
        .with_code("RbacPolicyInUse"));
    }
    store::delete(&mut w, "rbac_policy", id).await?;
    commit(net, w).await
}

// ---- agents, availability zones ------------------------------------------------

/// The agents this host runs (one process does all of their jobs).
pub const AGENTS: &[(&str, &str, &str)] = &[
    ("Linux bridge agent", "neutron-linuxbridge-agent", "N/A"),
    ("DHCP agent", "neutron-dhcp-agent", "dhcp"),
    ("L3 agent", "neutron-l3-agent", "l3_agent"),
    ("Metadata agent", "neutron-metadata-agent", "N/A"),
];

pub async fn ensure_agents(net: &Network) -> Result<(), Error> {
    let mut w = begin(net).await?;
    let have = store::list(&mut w, "agent").await?;
    let host = net.cfg().host.clone();
    for (ty, binary, topic) in AGENTS {
        if have.iter().any(|a| a["agent_type"] == json!(ty) && a["host"] == json!(host)) {
            continue;
        }
        let t = now();
        let id = new_id();
        let v = json!({
            "id": id, "agent_type": ty, "binary": binary, "topic": topic, "host": host,
            "admin_state_up": true, "alive": true, "availability_zone": if *ty == "DHCP agent" || *ty == "L3 agent" { json!("nova") } else { Value::Null },
            "configurations": {}, "created_at": t, "started_at": t, "heartbeat_timestamp": t,
            "description": Value::Null, "resources_synced": Value::Null, "resource_versions": {},
        });
        store::insert(&mut w, "agent", "", &v).await?;
    }
    commit(net, w).await
}

fn fresh(mut a: Value) -> Value {
    // the agent is this process: alive while it answers
    a["heartbeat_timestamp"] = json!(chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string());
    a["alive"] = json!(true);
    a
}

pub async fn list_agents(net: &Network, caller: &Caller, q: &ListQuery, base: &str) -> Result<Value, Error> {
    if !caller.is_admin {
        // upstream filters what policy hides: an empty list
        return q.apply("agents", base, vec![]);
    }
    let mut c = conn(net).await?;
    let items = store::list(&mut c, "agent").await?.into_iter().map(fresh).collect();
    q.apply("agents", base, items)
}

pub async fn show_agent(net: &Network, caller: &Caller, id: &str) -> Result<Value, Error> {
    if !caller.is_admin {
        return Err(forbidden("get_agent"));
    }
    let mut c = conn(net).await?;
    Ok(fresh(must_get(&mut c, "agent", id).await?))
}

pub async fn update_agent(net: &Network, caller: &Caller, id: &str, upd: Doc) -> Result<Value, Error> {
    if !caller.is_admin {
        return Err(forbidden("update_agent"));
    }
    only(&upd, &["admin_state_up", "description"])?;
    let mut w = begin(net).await?;
    let mut a = must_get(&mut w, "agent", id).await?;
    if let Some(b) = get_bool(&upd, "admin_state_up")? {
        a["admin_state_up"] = json!(b);
    }
    if upd.contains_key("description") {
        a["description"] = json!(get_str(&upd, "description")?);
    }
    store::update(&mut w, "agent", &a).await?;
    commit(net, w).await?;
    Ok(fresh(a))
}

pub async fn delete_agent(net: &Network, caller: &Caller, id: &str) -> Result<(), Error> {
    if !caller.is_admin {
        return Err(forbidden("delete_agent"));
    }
    let mut w = begin(net).await?;
    if !store::delete(&mut w, "agent", id).await? {
        return Err(not_found("agent", id));
    }
    commit(net, w).await
}

pub fn availability_zones(q: &ListQuery, base: &str) -> Result<Value, Error> {
    let items = vec![
        json!({"name": "nova", "resource": "network", "state": "available"}),
        json!({"name": "nova", "resource": "router", "state": "available"}),
    ];
    let mut body = q.apply(
        "availability_zones",
        base,
        items
            .into_iter()
            .enumerate()
            .map(|(i, mut v)| {
                v["id"] = json!(i.to_string());
                v
            })
            .collect(),
    )?;
    if let Some(a) = body["availability_zones"].as_array_mut() {
        for v in a {
            if let Some(m) = v.as_object_mut() {
                m.remove("id");
            }
        }
    }
    Ok(body)
}

// ---- network IP availability ---------------------------------------------------------

async fn availability_of(c: &mut Conn, n: &Value) -> Result<Value, Error> {
    let nid = n["id"].as_str().unwrap_or_default();
    let mut subs = vec![];
    let (mut total, mut used) = (0u128, 0i64);
    for s in store::children(c, "subnet", nid).await? {
        let sid = s["id"].as_str().unwrap_or_default();
        let t = ipam::pool_size(&pools_of(&s));
        let u = store::count_allocated(c, sid).await?;
        total = total.saturating_add(t);
        used += u;
        subs.push(json!({
            "subnet_id": sid, "subnet_name": s["name"], "cidr": s["cidr"], "ip_version": s["ip_version"],
            "total_ips": t.min(u64::MAX as u128) as u64, "used_ips": u,
        }));
    }
    Ok(json!({
        "network_id": nid, "network_name": n["name"], "tenant_id": n["project_id"], "project_id": n["project_id"],
        "total_ips": total.min(u64::MAX as u128) as u64, "used_ips": used, "subnet_ip_availability": subs,
    }))
}

pub async fn list_availability(net: &Network, caller: &Caller, q: &ListQuery, base: &str) -> Result<Value, Error> {
    if !caller.is_admin {
        return Err(forbidden("get_network_ip_availability"));
    }
    let mut c = conn(net).await?;
    let mut items = vec![];
    for n in store::list(&mut c, "network").await? {
        let mut a = availability_of(&mut c, &n).await?;
        a["id"] = n["id"].clone();
        a["ip_version"] = json!(null);
        items.push(a);
    }
    // `ip_version` filters on the subnets' versions
    let ip_version = q.filter("ip_version").map(String::from);
    let mut q = q.clone();
    q.filters.retain(|(k, _)| k != "ip_version");
    let items = items
        .into_iter()
        .filter(|a| {
            ip_version.as_ref().is_none_or(|v| {
                a["subnet_ip_availability"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|s| s["ip_version"].as_i64().is_some_and(|n| n.to_string() == *v)))
            })
        })
        .map(|mut a| {
            if let Some(m) = a.as_object_mut() {
                m.remove("ip_version");
            }
            a
        })
        .collect::<Vec<_>>();
    let mut body = q.apply("network_ip_availabilities", base, items)?;
    if let Some(a) = body["network_ip_availabilities"].as_array_mut() {
        for v in a {
            if let Some(m) = v.as_object_mut() {
                m.remove("id");
            }
        }
    }
    Ok(body)
}

pub async fn show_availability(net: &Network, caller: &Caller, id: &str) -> Result<Value, Error> {
    if !caller.is_admin {
        return Err(forbidden("get_network_ip_availability"));
    }
    let mut c = conn(net).await?;
    let n = must_get(&mut c, "network", id).await?;
    Ok(json!({ "network_ip_availability": availability_of(&mut c, &n).await? }))
}

// ---- tags --------------------------------------------------------------------

fn check_tag(t: &str) -> Result<(), Error> {
    if t.is_empty() || t.len() > 255 || t.contains(',') || t.contains('/') {
        return Err(invalid(format!("'{t}' is not a valid tag")));
    }
    Ok(())
}

async fn tagged(net: &Network, caller: &Caller, kind: &str, id: &str) -> Result<Value, Error> {
    // visibility as for a show of the resource
    match kind {
        "network" => {
            networks::show(net, caller, id).await?;
        }
        "subnet" => {
            subnets::show(net, caller, id).await?;
        }
        "port" => {
            ports::show(net, caller, id).await?;
        }
        _ => {
            let mut c = conn(net).await?;
            let v = must_get(&mut c, kind, id).await?;
            if !caller.owns(&v) && v["shared"] != json!(true) {
                return Err(not_found(kind, id));
            }
        }
    }
    let mut c = conn(net).await?;
    must_get(&mut c, kind, id).await
}

pub async fn get_tags(net: &Network, caller: &Caller, kind: &str, id: &str) -> Result<Value, Error> {
    let v = tagged(net, caller, kind, id).await?;
    Ok(json!({"tags": v["tags"]}))
}

pub async fn has_tag(net: &Network, caller: &Caller, kind: &str, id: &str, tag: &str) -> Result<(), Error> {
    let v = tagged(net, caller, kind, id).await?;
    if v["tags"].as_array().is_some_and(|a| a.contains(&json!(tag))) {
        Ok(())
    } else {
        Err(Error::not_found(format!("Tag {tag} could not be found.")).with_code("TagNotFound"))
    }
}

/// Replaces (`tags` Some) or edits the tags of a resource.
pub async fn set_tags(
    net: &Network,
    caller: &Caller,
    kind: &str,
    id: &str,
    edit: impl FnOnce(&mut Vec<String>) -> Result<(), Error>,
) -> Result<Vec<String>, Error> {
    tagged(net, caller, kind, id).await?;
    let mut w = begin(net).await?;
    let mut v = must_get(&mut w, kind, id).await?;
    if !caller.owns(&v) {
        return Err(forbidden(&format!("update_{kind}:tags")));
    }
    let mut tags: Vec<String> = v["tags"]
        .as_array()
        .map(|a| a.iter().filter_map(|t| t.as_str().map(String::from)).collect())
        .unwrap_or_default();
    edit(&mut tags)?;
    for t in &tags {
        check_tag(t)?;
    }
    tags.dedup();
    v["tags"] = json!(tags);
    bump(&mut v);
    store::update(&mut w, kind, &v).await?;
    commit(net, w).await?;
    Ok(tags)
}
