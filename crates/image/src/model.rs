//! Images and members as the service sees them, and their Glance JSON.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

/// The disk formats Glance accepts by default.
pub const DISK_FORMATS: &[&str] = &["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"];
/// The container formats Glance accepts by default.
pub const CONTAINER_FORMATS: &[&str] = &["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"];
pub const VISIBILITIES: &[&str] = &["public", "private", "shared", "community"];
pub const MEMBER_STATUSES: &[&str] = &["pending", "accepted", "rejected"];

/// Fields the service computes: a client may never set them (403 "read-only").
pub const READ_ONLY: &[&str] = &[
    "id",
    "status",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "size",
    "virtual_size",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
    "stores",
];
/// Names Glance keeps for itself (403 "reserved"); `os_glance_*` too.
pub const RESERVED: &[&str] = &["location", "deleted", "deleted_at"];

/// Image statuses (Glance's state machine).
pub mod status {
    pub const QUEUED: &str = "queued";
    pub const SAVING: &str = "saving";
    pub const UPLOADING: &str = "uploading";
    pub const IMPORTING: &str = "importing";
    pub const ACTIVE: &str = "active";
    pub const DEACTIVATED: &str = "deactivated";
    pub const KILLED: &str = "killed";
    pub const DELETED: &str = "deleted";
    pub const ALL: &[&str] = &[QUEUED, SAVING, UPLOADING, IMPORTING, ACTIVE, DEACTIVATED, KILLED, DELETED];
}

/// One image: what other services read (compute boots from it).
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRecord {
    pub id: String,
    pub name: Option<String>,
    pub status: String,
    pub visibility: String,
    pub protected: bool,
    pub os_hidden: bool,
    pub owner: Option<String>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub size: Option<i64>,
    pub virtual_size: Option<i64>,
    pub checksum: Option<String>,
    pub os_hash_algo: Option<String>,
    pub os_hash_value: Option<String>,
    pub min_disk: i64,
    pub min_ram: i64,
    /// Custom properties (string values, as Glance keeps them).
    pub properties: BTreeMap<String, String>,
    pub tags: Vec<String>,
    /// ISO times with microseconds (Glance shows them to the second).
    pub created_at: String,
    pub updated_at: String,
    /// The data store key of the image's bytes, once uploaded.
    pub location: Option<String>,
    /// The data store key of staged bytes (interoperable import).
    pub staged: Option<String>,
}

impl ImageRecord {
    /// A new queued image, owned by `owner`, with Glance's defaults.
    pub fn new(id: String, owner: Option<String>, now: &str) -> ImageRecord {
        ImageRecord {
            id,
            name: None,
            status: status::QUEUED.into(),
            visibility: "shared".into(),
            protected: false,
            os_hidden: false,
            owner,
            disk_format: None,
            container_format: None,
            size: None,
            virtual_size: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            min_disk: 0,
            min_ram: 0,
            properties: BTreeMap::new(),
            tags: Vec::new(),
            created_at: now.into(),
            updated_at: now.into(),
            location: None,
            staged: None,
        }
    }

    /// The value of a property (core or custom) as JSON, as Glance shows it.
    pub fn get(&self, key: &str) -> Option<Value> {
        let o = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
        let oi = |v: Option<i64>| v.map(Value::from).unwrap_or(Value::Null);
        Some(match key {
            "id" => json!(self.id),
            "name" => o(&self.name),
            "status" => json!(self.status),
            "visibility" => json!(self.visibility),
            "protected" => json!(self.protected),
            "os_hidden" => json!(self.os_hidden),
            "owner" => o(&self.owner),
            "disk_format" => o(&self.disk_format),
            "container_format" => o(&self.container_format),
            "size" => oi(self.size),
            "virtual_size" => oi(self.virtual_size),
            "checksum" => o(&self.checksum),
            "os_hash_algo" => o(&self.os_hash_algo),
            "os_hash_value" => o(&self.os_hash_value),
            "min_disk" => json!(self.min_disk),
            "min_ram" => json!(self.min_ram),
            "tags" => json!(self.tags),
            "created_at" => json!(glance_time(&self.created_at)),
            "updated_at" => json!(glance_time(&self.updated_at)),
            _ => return self.properties.get(key).map(|v| json!(v)),
        })
    }

    /// The image in Glance's JSON.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for k in CORE_SHOWN {
            m.insert((*k).to_string(), self.get(k).unwrap_or(Value::Null));
        }
        for (k, v) in &self.properties {
            m.insert(k.clone(), json!(v));
        }
        m.insert("self".into(), json!(format!("/v2/images/{}", self.id)));
        m.insert("file".into(), json!(format!("/v2/images/{}/file", self.id)));
        m.insert("schema".into(), json!("/v2/schemas/image"));
        if self.location.is_some() {
            m.insert("stores".into(), json!("file"));
        }
        Value::Object(m)
    }
}

/// The core fields every image shows.
pub const CORE_SHOWN: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "os_hidden",
    "owner",
    "disk_format",
    "container_format",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "min_disk",
    "min_ram",
    "tags",
    "created_at",
    "updated_at",
];

/// A project an image is shared with.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    pub image_id: String,
    pub member_id: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
}

impl Member {
    pub fn to_json(&self) -> Value {
        json!({
            "image_id": self.image_id,
            "member_id": self.member_id,
            "status": self.status,
            "created_at": glance_time(&self.created_at),
            "updated_at": glance_time(&self.updated_at),
            "schema": "/v2/schemas/member",
        })
    }
}

/// Glance shows times to the second: `2026-01-01T00:00:00Z`.
pub fn glance_time(iso: &str) -> String {
    match rustack_common::time::parse_iso(iso) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => iso.to_string(),
    }
}

pub fn now_iso() -> String {
    rustack_common::time::iso_micro(&rustack_common::time::now())
}
