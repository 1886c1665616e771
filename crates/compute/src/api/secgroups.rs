//! Nova's security group proxy (`os-security-groups`,
//! `os-security-group-rules`, a server's groups and add/removeSecurityGroup):
//! it calls the network service's Neutron API with the caller's own token,
//! as Nova calls Neutron, and renders Nova's shapes and codes.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{delete, get};
use axum::Router;
use rustack_common::{Error, ErrorKind};
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody, RequestContext};
use serde_json::{json, Value};

use super::{accepted, ok, project_of};
use crate::model::Instance;
use crate::Compute;

pub(super) fn routes() -> Router<Compute> {
    Router::new()
        .route("/os-security-groups", get(list).post(create))
        .route("/os-security-groups/{id}", get(show).put(update).delete(remove))
        .route("/os-security-group-rules", axum::routing::post(rule_create))
        .route("/os-security-group-rules/{id}", delete(rule_delete))
}

fn client() -> &'static reqwest::Client {
    static C: OnceLock<reqwest::Client> = OnceLock::new();
    C.get_or_init(reqwest::Client::new)
}

fn token(h: &HeaderMap) -> String {
    h.get("x-auth-token").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// One Neutron call: (status, body).
pub(crate) async fn neutron(
    c: &Compute,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<(u16, Value), Error> {
    let net = c
        .inner
        .peers
        .network
        .as_ref()
        .ok_or_else(|| Error::new(ErrorKind::NotImplemented, "The network service is not running."))?;
    let url = format!("{}/v2.0{path}", net.options().public_url);
    let mut rb = client().request(method, url).header("X-Auth-Token", token);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.map_err(|e| Error::internal(&e))?;
    let status = r.status().as_u16();
    let v = r.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, v))
}

fn neutron_error(status: u16, v: &Value, what: &str) -> Error {
    let msg = v["NeutronError"]["message"].as_str().unwrap_or(what).to_string();
    match status {
        404 => Error::not_found(msg),
        409 => Error::bad_request(msg),
        403 => Error::forbidden(msg),
        _ => Error::bad_request(msg),
    }
}

fn rule_view(r: &Value, groups: &[Value]) -> Value {
    let mut o = json!({
        "id": r["id"], "parent_group_id": r["security_group_id"],
        "ip_protocol": r["protocol"], "from_port": r["port_range_min"], "to_port": r["port_range_max"],
        "ip_range": {}, "group": {},
    });
    if let Some(g) = r["remote_group_id"].as_str() {
        let name = groups.iter().find(|x| x["id"] == g).and_then(|x| x["name"].as_str()).unwrap_or_default();
        o["group"] = json!({"name": name, "tenant_id": r["project_id"]});
    } else {
        let cidr =
            r["remote_ip_prefix"].as_str().unwrap_or(if r["ethertype"] == "IPv6" { "::/0" } else { "0.0.0.0/0" });
        o["ip_range"] = json!({"cidr": cidr});
    }
    if o["ip_protocol"].is_string() && o["from_port"].is_null() {
        o["from_port"] = json!(-1);
        o["to_port"] = json!(-1);
    }
    o
}

fn sg_view(g: &Value, all: &[Value]) -> Value {
    // Nova shows ingress rules only
    let rules: Vec<Value> = g["security_group_rules"]
        .as_array()
        .map(|rs| rs.iter().filter(|r| r["direction"] == "ingress").map(|r| rule_view(r, all)).collect())
        .unwrap_or_default();
    json!({"id": g["id"], "name": g["name"], "description": g["description"].as_str().unwrap_or(""),
           "tenant_id": g["project_id"], "rules": rules})
}

async fn groups_of_project(c: &Compute, tok: &str, project: &str) -> Result<Vec<Value>, Error> {
    let (s, v) = neutron(c, tok, reqwest::Method::GET, &format!("/security-groups?project_id={project}"), None).await?;
    if s != 200 {
        return Err(neutron_error(s, &v, "cannot list security groups"));
    }
    Ok(v["security_groups"].as_array().cloned().unwrap_or_default())
}

async fn list(
    State(c): State<Compute>,
    Authenticated(ctx): Authenticated,
    h: HeaderMap,
    q: super::Query,
) -> ApiResult<Response> {
    let tok = token(&h);
    let every = super::is_admin(&ctx) && q.get("all_tenants").is_some_and(|a| super::bool_param(a) != Some(false));
    let all = if every {
        let (s, v) = neutron(&c, &tok, reqwest::Method::GET, "/security-groups", None).await?;
        if s != 200 {
            return Err(neutron_error(s, &v, "cannot list security groups").into());
        }
        v["security_groups"].as_array().cloned().unwrap_or_default()
    } else {
        groups_of_project(&c, &tok, project_of(&ctx)?).await?
    };
    let list: Vec<Value> = all.iter().map(|g| sg_view(g, &all)).collect();
    Ok(ok(json!({"security_groups": list})))
}

fn not_found(id: &str) -> Error {
    Error::not_found(format!("Security group {id} not found."))
}

async fn get_group(c: &Compute, tok: &str, id: &str) -> Result<Value, Error> {
    let (s, v) = neutron(c, tok, reqwest::Method::GET, &format!("/security-groups/{id}"), None).await?;
    match s {
        200 => Ok(v["security_group"].clone()),
        404 | 400 => Err(not_found(id)),
        _ => Err(neutron_error(s, &v, "cannot read the security group")),
    }
}

fn sg_fields(body: &Value) -> Result<(String, String), Error> {
    let o = body.get("security_group").and_then(Value::as_object).ok_or_else(|| {
        Error::bad_request("Invalid input for field/attribute security_group. 'security_group' is a required property")
    })?;
    let field = |k: &str| -> Result<String, Error> {
        match o.get(k) {
            Some(Value::String(s)) if s.len() <= 255 => Ok(s.clone()),
            Some(Value::String(_)) => {
                Err(Error::bad_request(format!("Security group {k} should not be greater than 255 characters.")))
            }
            None => Err(Error::bad_request(format!("Security group {k} is not a string or unicode"))),
            Some(_) => Err(Error::bad_request(format!("Security group {k} is not a string or unicode"))),
        }
    };
    let name = field("name")?;
    let description = field("description")?;
    if name.trim().is_empty() {
        return Err(Error::bad_request("Security group name cannot be empty"));
    }
    Ok((name, description))
}

async fn create(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let (name, description) = sg_fields(&body)?;
    let (s, v) = neutron(
        &c,
        &token(&h),
        reqwest::Method::POST,
        "/security-groups",
        Some(json!({"security_group": {"name": name, "description": description}})),
    )
    .await?;
    if s != 201 && s != 200 {
        return Err(neutron_error(s, &v, "cannot create the security group").into());
    }
    Ok(ok(json!({"security_group": sg_view(&v["security_group"], &[])})))
}

async fn show(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let g = get_group(&c, &token(&h), &id).await?;
    Ok(ok(json!({"security_group": sg_view(&g, &[])})))
}

async fn update(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: HeaderMap,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let (name, description) = sg_fields(&body)?;
    let tok = token(&h);
    get_group(&c, &tok, &id).await?;
    let (s, v) = neutron(
        &c,
        &tok,
        reqwest::Method::PUT,
        &format!("/security-groups/{id}"),
        Some(json!({"security_group": {"name": name, "description": description}})),
    )
    .await?;
    if s != 200 {
        return Err(neutron_error(s, &v, "cannot update the security group").into());
    }
    Ok(ok(json!({"security_group": sg_view(&v["security_group"], &[])})))
}

async fn remove(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let tok = token(&h);
    let g = get_group(&c, &tok, &id).await?;
    if g["name"] == "default" {
        return Err(Error::bad_request("Removing default security group not allowed.").into());
    }
    let (s, v) = neutron(&c, &tok, reqwest::Method::DELETE, &format!("/security-groups/{id}"), None).await?;
    if s != 204 && s != 200 {
        return Err(neutron_error(s, &v, "cannot delete the security group").into());
    }
    Ok(accepted())
}

async fn rule_create(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Response> {
    let r = body
        .get("security_group_rule")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::bad_request("Invalid input for field/attribute security_group_rule."))?;
    // Neutron's groups have UUIDs: anything else is a 400 before any lookup
    let parent = uuid_field(r.get("parent_group_id"))?;
    let tok = token(&h);
    get_group(&c, &tok, &parent).await?;
    let source = match r.get("group_id") {
        None | Some(Value::Null) => None,
        g => Some(get_group(&c, &tok, &uuid_field(g)?).await?),
    };
    let proto = r.get("ip_protocol").and_then(Value::as_str).map(str::to_lowercase);
    if let Some(p) = &proto {
        if !["tcp", "udp", "icmp"].contains(&p.as_str()) {
            return Err(Error::bad_request(format!("Invalid IP protocol {p}.")).into());
        }
    }
    let port = |k: &str| -> Result<Option<i64>, Error> {
        match r.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                .map(Some)
                .ok_or_else(|| Error::bad_request(format!("Invalid port range {v}."))),
        }
    };
    let (from, to) = (port("from_port")?, port("to_port")?);
    let icmp = proto.as_deref() == Some("icmp");
    if let (Some(f), Some(t)) = (from, to) {
        if !icmp && (f < 1 || t > 65535 || f > t) {
            return Err(Error::bad_request(format!("Invalid port range {f}:{t}.")).into());
        }
    }
    // a source group wins over a cidr (Nova ignores the cidr then)
    let cidr = match (&source, r.get("cidr")) {
        (Some(_), _) | (None, None | Some(Value::Null)) => None,
        (None, Some(Value::String(c))) if c.is_empty() => None,
        (None, Some(Value::String(c))) => {
            if network_of(c).is_none() {
                return Err(Error::bad_request(format!("Invalid cidr {c}.")).into());
            }
            // a zero-length prefix is only meaningful as "everything"
            if let Some((addr, "0")) = c.split_once('/') {
                if addr != "0.0.0.0" && addr != "::" {
                    return Err(Error::bad_request(format!("Bad prefix for network in cidr {c}")).into());
                }
            }
            Some(c.clone())
        }
        (None, Some(other)) => return Err(Error::bad_request(format!("Invalid cidr {other}.")).into()),
    };
    let ethertype = if cidr.as_deref().is_some_and(|c| c.contains(':')) { "IPv6" } else { "IPv4" };
    let mut nr = json!({"security_group_id": parent, "direction": "ingress", "ethertype": ethertype});
    if let Some(p) = proto {
        nr["protocol"] = json!(p);
        if !(icmp && from == Some(-1)) {
            nr["port_range_min"] = json!(from);
            nr["port_range_max"] = json!(to);
        }
    }
    if let Some(g) = &source {
        nr["remote_group_id"] = g["id"].clone();
    } else if let Some(c) = &cidr {
        nr["remote_ip_prefix"] = json!(c);
    }
    let (s, v) =
        neutron(&c, &tok, reqwest::Method::POST, "/security-group-rules", Some(json!({"security_group_rule": nr})))
            .await?;
    if s != 201 && s != 200 {
        return Err(neutron_error(s, &v, "cannot create the rule").into());
    }
    let sources: Vec<Value> = source.into_iter().collect();
    let mut view = rule_view(&v["security_group_rule"], &sources);
    if let Some(g) = sources.first() {
        // the source group's own project, as Nova names it
        view["group"]["tenant_id"] = g["project_id"].clone();
    }
    if let Some(c) = cidr {
        // the range as given: Neutron keeps the prefix as the user wrote it
        view["ip_range"] = json!({"cidr": c});
    }
    Ok(ok(json!({"security_group_rule": view})))
}

/// A security group id of a rule body: a UUID (Nova's "should be uuid" 400).
fn uuid_field(v: Option<&Value>) -> Result<String, Error> {
    let s = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(Error::bad_request("Security group id should be uuid")),
    };
    if uuid::Uuid::parse_str(&s).is_err() {
        return Err(Error::bad_request(format!("Security group id should be uuid: {s}")));
    }
    Ok(s)
}

/// `10.2.3.124/24` → `10.2.3.0/24`, as Neutron stores a prefix.
fn network_of(cidr: &str) -> Option<String> {
    let (ip, len) = cidr.split_once('/')?;
    let len: u32 = len.parse().ok()?;
    if let Ok(v4) = ip.parse::<std::net::Ipv4Addr>() {
        if len > 32 {
            return None;
        }
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        return Some(format!("{}/{len}", std::net::Ipv4Addr::from(u32::from(v4) & mask)));
    }
    let v6 = ip.parse::<std::net::Ipv6Addr>().ok()?;
    if len > 128 {
        return None;
    }
    let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
    Some(format!("{}/{len}", std::net::Ipv6Addr::from(u128::from(v6) & mask)))
}

async fn rule_delete(
    State(c): State<Compute>,
    Authenticated(_ctx): Authenticated,
    h: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (s, v) = neutron(&c, &token(&h), reqwest::Method::DELETE, &format!("/security-group-rules/{id}"), None).await?;
    match s {
        200 | 204 => Ok(accepted()),
        404 | 400 => Err(Error::not_found(format!("Rule ({id}) not found")).into()),
        _ => Err(neutron_error(s, &v, "cannot delete the rule").into()),
    }
}

/// The groups of a server: those of its ports (names kept on the instance
/// when it has none).
pub(crate) async fn of_server(c: &Compute, ctx: &RequestContext, tok: &str, i: &Instance) -> Result<Vec<Value>, Error> {
    if i.port_ids.is_empty() || c.inner.peers.network.is_none() {
        return Ok(i
            .security_groups
            .iter()
            .map(|n| json!({"id": n, "name": n, "description": "", "tenant_id": i.project_id, "rules": []}))
            .collect());
    }
    let all = groups_of_project(c, tok, project_of(ctx).unwrap_or(&i.project_id)).await.unwrap_or_default();
    let mut ids: Vec<String> = Vec::new();
    for p in &i.port_ids {
        let (s, v) = neutron(c, tok, reqwest::Method::GET, &format!("/ports/{p}"), None).await?;
        if s == 200 {
            for g in v["port"]["security_groups"].as_array().into_iter().flatten() {
                if let Some(g) = g.as_str() {
                    if !ids.iter().any(|x| x == g) {
                        ids.push(g.to_string());
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for id in ids {
        match all.iter().find(|g| g["id"] == id.as_str()) {
            Some(g) => out.push(sg_view(g, &all)),
            None => {
                if let Ok(g) = get_group(c, tok, &id).await {
                    out.push(sg_view(&g, &all));
                }
            }
        }
    }
    Ok(out)
}

/// add/removeSecurityGroup on a server with ports: the group (by name) is
/// added to or removed from each port.
pub(crate) async fn change_server_group(
    c: &Compute,
    ctx: &RequestContext,
    tok: &str,
    i: &Instance,
    name: &str,
    add: bool,
) -> Result<(), Error> {
    let all = groups_of_project(c, tok, project_of(ctx).unwrap_or(&i.project_id)).await?;
    let g = all
        .iter()
        .find(|g| g["name"] == name || g["id"] == name)
        .ok_or_else(|| Error::not_found(format!("Security group {name} not found for project {}.", i.project_id)))?;
    let gid = g["id"].as_str().unwrap_or_default().to_string();
    let mut touched = false;
    for p in &i.port_ids {
        let (s, v) = neutron(c, tok, reqwest::Method::GET, &format!("/ports/{p}"), None).await?;
        if s != 200 {
            continue;
        }
        let mut sgs: Vec<String> = v["port"]["security_groups"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        let has = sgs.contains(&gid);
        if add && has {
            return Err(Error::bad_request(format!(
                "Security group {name} is already associated with the instance {}",
                i.uuid
            )));
        }
        if !add && !has {
            return Err(Error::bad_request(format!(
                "Security group {name} not associated with the instance {}",
                i.uuid
            )));
        }
        if add {
            sgs.push(gid.clone());
        } else {
            sgs.retain(|x| *x != gid);
        }
        let (s, v) = neutron(
            c,
            tok,
            reqwest::Method::PUT,
            &format!("/ports/{p}"),
            Some(json!({"port": {"security_groups": sgs}})),
        )
        .await?;
        if s != 200 {
            return Err(neutron_error(s, &v, "cannot update the port"));
        }
        touched = true;
    }
    let _ = touched;
    Ok(())
}
