//! The typed calls compute makes in-process (see the crate docs).

use rustack_common::Error;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::*;

/// A fixed IP asked for: a subnet, an address, or both.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FixedIpRequest {
    pub subnet_id: Option<String>,
    pub ip_address: Option<String>,
}

/// What compute asks for when it plugs an instance into a network.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PortRequest {
    pub network_id: String,
    /// Empty: one address allocated as for an API port without `fixed_ips`.
    #[serde(default)]
    pub fixed_ips: Vec<FixedIpRequest>,
    /// Security group ids; `None`: the project's `default` group.
    #[serde(default)]
    pub security_groups: Option<Vec<String>>,
    /// The instance's id.
    #[serde(default)]
    pub device_id: String,
    /// `compute:nova` (or `compute:<az>`) for instances.
    #[serde(default)]
    pub device_owner: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub mac_address: Option<String>,
    #[serde(default)]
    pub port_security_enabled: Option<bool>,
}

/// A fixed IP of a port.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FixedIp {
    pub subnet_id: String,
    pub ip_address: String,
}

/// A port as compute needs it; `raw` is the full API representation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PortRecord {
    pub id: String,
    pub network_id: String,
    pub project_id: String,
    pub mac_address: String,
    pub fixed_ips: Vec<FixedIp>,
    pub device_id: String,
    pub device_owner: String,
    pub status: String,
    pub binding_host_id: String,
    pub vif_type: String,
    pub security_groups: Vec<String>,
    /// The network's MTU (for the guest's interface).
    pub mtu: Option<i64>,
    /// The port in the API's JSON shape.
    pub raw: Value,
}

impl PortRecord {
    pub fn from_json(p: &Value, mtu: Option<i64>) -> PortRecord {
        let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
        PortRecord {
            id: s("id"),
            network_id: s("network_id"),
            project_id: s("project_id"),
            mac_address: s("mac_address"),
            fixed_ips: p["fixed_ips"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|f| FixedIp {
                            subnet_id: f["subnet_id"].as_str().unwrap_or_default().into(),
                            ip_address: f["ip_address"].as_str().unwrap_or_default().into(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            device_id: s("device_id"),
            device_owner: s("device_owner"),
            status: s("status"),
            binding_host_id: s("binding:host_id"),
            vif_type: s("binding:vif_type"),
            security_groups: p["security_groups"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                .unwrap_or_default(),
            mtu,
            raw: p.clone(),
        }
    }
}

async fn record(c: &mut Conn, p: &Value) -> Result<PortRecord, Error> {
    let mtu =
        store::get(c, "network", p["network_id"].as_str().unwrap_or_default()).await?.and_then(|n| n["mtu"].as_i64());
    Ok(PortRecord::from_json(p, mtu))
}

pub async fn create_port_for(net: &Network, caller: &Caller, req: PortRequest) -> Result<PortRecord, Error> {
    let mut doc = Doc::new();
    doc.insert("network_id".into(), json!(req.network_id));
    if !req.fixed_ips.is_empty() {
        doc.insert("fixed_ips".into(), serde_json::to_value(&req.fixed_ips).unwrap_or(json!([])));
    }
    if let Some(sgs) = &req.security_groups {
        doc.insert("security_groups".into(), json!(sgs));
    }
    doc.insert("device_id".into(), json!(req.device_id));
    doc.insert("device_owner".into(), json!(req.device_owner));
    if let Some(n) = &req.name {
        doc.insert("name".into(), json!(n));
    }
    if let Some(m) = &req.mac_address {
        doc.insert("mac_address".into(), json!(m));
    }
    if let Some(b) = req.port_security_enabled {
        doc.insert("port_security_enabled".into(), json!(b));
    }
    let mut w = begin(net).await?;
    let p = ports::create_in(&mut w, caller, doc).await?;
    let rec = record(&mut w, &p).await?;
    commit(net, w).await?;
    Ok(rec)
}

pub async fn bind_port(net: &Network, port_id: &str, host: &str) -> Result<PortRecord, Error> {
    set_binding(net, port_id, host, None).await
}

/// Binds a port (`host`) and, when `device` is given, names its device
/// (`device_id`, `device_owner`; empty strings release it), as Nova does with
/// a port the user brought.
pub async fn set_binding(
    net: &Network,
    port_id: &str,
    host: &str,
    device: Option<(&str, &str)>,
) -> Result<PortRecord, Error> {
    let mut w = begin(net).await?;
    let mut p = must_get(&mut w, "port", port_id).await?;
    if let Some((id, owner)) = device {
        p["device_id"] = json!(id);
        p["device_owner"] = json!(owner);
    }
    ports::bind(&mut p, host);
    bump(&mut p);
    store::update(&mut w, "port", &p).await?;
    let rec = record(&mut w, &p).await?;
    commit(net, w).await?;
    Ok(rec)
}

pub async fn ports_of_device(net: &Network, device_id: &str) -> Result<Vec<PortRecord>, Error> {
    let mut c = conn(net).await?;
    let mut out = vec![];
    for p in store::list(&mut c, "port").await? {
        if p["device_id"] == json!(device_id) {
            out.push(record(&mut c, &p).await?);
        }
    }
    Ok(out)
}
