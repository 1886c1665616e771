//! The logic of each resource family. Resources are JSON objects in the
//! API's shape (what the store keeps and the API returns); every write runs
//! in one `begin_write` transaction and then wakes the agent.

pub mod auto_topology;
pub mod compute;
pub mod extras;
pub mod floatingips;
pub mod networks;
pub mod ports;
pub mod routers;
pub mod secgroups;
pub mod subnetpools;
pub mod subnets;

use rustack_common::Error;
use rustack_http::RequestContext;
use serde_json::{json, Map, Value};

use crate::store::{self, Conn};
use crate::Network;

/// Who is asking, as far as Neutron's default policy cares.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's project ("" for a system-scoped or unscoped token).
    pub project_id: String,
    pub is_admin: bool,
    /// Attribute rules (`create_network:shared`, …) the policy allowed for
    /// this request (`api::authz`): an operator's override that grants one
    /// to non-admins lifts the service's admin-only check of it.
    pub granted: Vec<String>,
}

impl Caller {
    pub fn from_ctx(ctx: &RequestContext) -> Caller {
        Caller {
            project_id: ctx.project_id().unwrap_or_default().to_string(),
            is_admin: ctx.has_role("admin"),
            granted: vec![],
        }
    }
    /// The service itself (bootstrap, compute's calls).
    pub fn admin() -> Caller {
        Caller { project_id: String::new(), is_admin: true, granted: vec![] }
    }
    /// Whether an admin-only attribute rule lets this caller through: an
    /// admin, or the policy allowed the rule for this request.
    pub fn may(&self, rule: &str) -> bool {
        self.is_admin || self.granted.iter().any(|g| g == rule)
    }
    pub fn owns(&self, doc: &Value) -> bool {
        self.is_admin || (!self.project_id.is_empty() && doc["project_id"].as_str() == Some(&self.project_id))
    }
}

pub type Doc = Map<String, Value>;

pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn invalid(msg: impl Into<String>) -> Error {
    Error::bad_request(format!("Invalid input for operation: {}", msg.into())).with_code("InvalidInput")
}

pub fn not_found(what: &str, id: &str) -> Error {
    let (code, word) = match what {
        "network" => ("NetworkNotFound", "Network"),
        "subnet" => ("SubnetNotFound", "Subnet"),
        "port" => ("PortNotFound", "Port"),
        "router" => ("RouterNotFound", "Router"),
        "floatingip" => ("FloatingIPNotFound", "Floating IP"),
        "security_group" => ("SecurityGroupNotFound", "Security group"),
        "security_group_rule" => ("SecurityGroupRuleNotFound", "Security group rule"),
        "subnetpool" => ("SubnetPoolNotFound", "Subnet pool"),
        "rbac_policy" => ("RbacPolicyNotFound", "RBAC policy"),
        "agent" => ("AgentNotFound", "Agent"),
        _ => ("HTTPNotFound", "Resource"),
    };
    let msg = match what {
        "security_group_rule" => format!("Security group rule {id} does not exist"),
        "security_group" => format!("Security group {id} does not exist"),
        "rbac_policy" => format!("RBAC policy of type network with ID {id} not found"),
        _ => format!("{word} {id} could not be found."),
    };
    Error::not_found(msg).with_code(code)
}

pub fn forbidden(action: &str) -> Error {
    Error::forbidden(format!("rule:{action} is disallowed by policy")).with_code("PolicyNotAuthorized")
}

/// `{"network": {...}}` → the inner object; 400 when missing or not an object.
pub fn body_of(body: Value, key: &str) -> Result<Doc, Error> {
    match body {
        Value::Object(mut m) => match m.remove(key) {
            Some(Value::Object(inner)) => Ok(inner),
            Some(_) => Err(Error::bad_request(format!("Invalid format: {key} must be an object"))),
            None => Err(Error::bad_request("Resource body required")),
        },
        _ => Err(Error::bad_request("Body contains invalid data")),
    }
}

/// Refuses attributes a request may not carry (Neutron: "Unrecognized attribute(s)").
pub fn only(doc: &Doc, allowed: &[&str]) -> Result<(), Error> {
    let bad: Vec<&str> = doc.keys().map(String::as_str).filter(|k| !allowed.contains(k)).collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(Error::bad_request(format!("Unrecognized attribute(s) '{}'", bad.join(", "))))
    }
}

pub fn get_bool(doc: &Doc, key: &str) -> Result<Option<bool>, Error> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") || s == "1" => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") || s == "0" => Ok(Some(false)),
        Some(v) => Err(invalid(format!("'{}' cannot be converted to boolean", v_str(v)))),
    }
}

pub fn get_str(doc: &Doc, key: &str) -> Result<Option<String>, Error> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            if s.len() > 255 {
                return Err(invalid(format!("'{s}' exceeds maximum length of 255")));
            }
            Ok(Some(s.clone()))
        }
        Some(v) => Err(invalid(format!("'{}' is not a valid string", v_str(v)))),
    }
}

pub fn get_int(doc: &Doc, key: &str) -> Result<Option<i64>, Error> {
    match doc.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| invalid(format!("'{s}' is not an integer"))),
        Some(v) => Err(invalid(format!("'{}' is not an integer", v_str(v)))),
    }
}

pub fn v_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

/// The project a new resource belongs to: the caller's, or (admin only)
/// the one named by `project_id`/`tenant_id`.
pub fn owner_of_new(caller: &Caller, doc: &Doc) -> Result<String, Error> {
    let named = get_str(doc, "project_id")?.or(get_str(doc, "tenant_id")?);
    if let (Some(p), Some(t)) = (get_str(doc, "project_id")?, get_str(doc, "tenant_id")?) {
        if p != t {
            return Err(invalid("'project_id' and 'tenant_id' do not match"));
        }
    }
    match named {
        Some(p) if p != caller.project_id && !caller.is_admin => Err(Error::bad_request(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated project in request requires admin privileges",
        )),
        Some(p) => Ok(p),
        None if caller.project_id.is_empty() => Err(invalid("'project_id' is required for a token without a project")),
        None => Ok(caller.project_id.clone()),
    }
}

/// The standard attributes of a new resource.
pub fn std_attrs(doc: &mut Doc, id: &str, project: &str, name: Option<String>, description: Option<String>) {
    let t = now();
    doc.insert("id".into(), json!(id));
    doc.insert("name".into(), json!(name.unwrap_or_default()));
    doc.insert("tenant_id".into(), json!(project));
    doc.insert("project_id".into(), json!(project));
    doc.insert("description".into(), json!(description.unwrap_or_default()));
    doc.insert("tags".into(), json!([]));
    doc.insert("created_at".into(), json!(t));
    doc.insert("updated_at".into(), json!(t));
    doc.insert("revision_number".into(), json!(0));
}

/// Marks a resource as changed: revision + 1, updated_at now.
pub fn bump(doc: &mut Value) {
    let r = doc["revision_number"].as_i64().unwrap_or(0) + 1;
    doc["revision_number"] = json!(r);
    doc["updated_at"] = json!(now());
}

/// Applies `name` and `description` of an update body.
pub fn update_std(doc: &mut Value, upd: &Doc) -> Result<(), Error> {
    if upd.contains_key("name") {
        doc["name"] = json!(get_str(upd, "name")?.unwrap_or_default());
    }
    if upd.contains_key("description") {
        doc["description"] = json!(get_str(upd, "description")?.unwrap_or_default());
    }
    Ok(())
}

pub async fn conn(net: &Network) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, Error> {
    net.db().pool().acquire().await.map_err(store::db_err)
}

pub async fn begin(net: &Network) -> Result<rustack_db::WriteTx, Error> {
    let mut w = net.db().begin_write().await.map_err(store::db_err)?;
    if net.db().backend() == rustack_db::Backend::Sqlite {
        // A deferred SQLite transaction that reads first and writes later
        // fails with SQLITE_BUSY_SNAPSHOT when another connection (identity,
        // in this process) wrote in between; a first (empty) write takes the
        // write lock before any read, waiting for it under busy_timeout.
        sqlx::query("DELETE FROM network_default_sg WHERE 1 = 0").execute(&mut *w.tx).await.map_err(store::db_err)?;
    }
    Ok(w)
}

pub async fn commit(net: &Network, w: rustack_db::WriteTx) -> Result<(), Error> {
    w.commit().await.map_err(store::db_err)?;
    net.changed();
    Ok(())
}

/// A resource by id, or its kind's 404.
pub async fn must_get(c: &mut Conn, kind: &str, id: &str) -> Result<Value, Error> {
    store::get(c, kind, id).await?.ok_or_else(|| not_found(kind, id))
}

/// The quota of a resource for a project (its override, else the default).
pub async fn check_quota(c: &mut Conn, project: &str, resource: &str, kind: &str, adding: i64) -> Result<(), Error> {
    if project.is_empty() {
        return Ok(());
    }
    let limit = extras::quota_limit(c, project, resource).await?;
    if limit < 0 {
        return Ok(());
    }
    let used = store::count(c, kind, project).await?;
    if used + adding > limit {
        return Err(Error::conflict(format!("Quota exceeded for resources: ['{resource}'].")).with_code("OverQuota"));
    }
    Ok(())
}

/// Whether a network is visible to the caller: own, shared, external, or
/// shared with the caller's project by an RBAC policy.
pub async fn network_visible(c: &mut Conn, caller: &Caller, net: &Value) -> Result<bool, Error> {
    if caller.owns(net) || net["shared"] == json!(true) || net["router:external"] == json!(true) {
        return Ok(true);
    }
    let id = net["id"].as_str().unwrap_or_default();
    Ok(extras::rbac_grants(c, id, &caller.project_id)
        .await?
        .iter()
        .any(|a| a == "access_as_shared" || a == "access_as_external"))
}

/// Whether the caller may attach things (subnets, ports) to a network.
pub async fn network_usable(c: &mut Conn, caller: &Caller, net: &Value) -> Result<bool, Error> {
    if caller.owns(net) || net["shared"] == json!(true) {
        return Ok(true);
    }
    let id = net["id"].as_str().unwrap_or_default();
    Ok(extras::rbac_grants(c, id, &caller.project_id).await?.iter().any(|a| a == "access_as_shared"))
}

/// The collection names of the resources `/tags` works on.
pub const TAGGABLE: &[(&str, &str)] = &[
    ("networks", "network"),
    ("subnets", "subnet"),
    ("ports", "port"),
    ("routers", "router"),
    ("floatingips", "floatingip"),
    ("security-groups", "security_group"),
    ("subnetpools", "subnetpool"),
];
