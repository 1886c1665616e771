//! Compute's entities as they are stored and handed between the API, the
//! conductor and the agents. An instance is one JSON document (`doc`) plus the
//! few columns lists filter on; the view layer renders it per microversion.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Nova's vm_state values.
pub mod vm {
    pub const BUILDING: &str = "building";
    pub const ACTIVE: &str = "active";
    pub const STOPPED: &str = "stopped";
    pub const PAUSED: &str = "paused";
    pub const SUSPENDED: &str = "suspended";
    pub const RESCUED: &str = "rescued";
    pub const RESIZED: &str = "resized";
    pub const SHELVED: &str = "shelved";
    pub const SHELVED_OFFLOADED: &str = "shelved_offloaded";
    pub const ERROR: &str = "error";
    pub const DELETED: &str = "deleted";
}

/// Nova's task_state values used here.
pub mod task {
    pub const SCHEDULING: &str = "scheduling";
    pub const NETWORKING: &str = "networking";
    pub const SPAWNING: &str = "spawning";
    pub const REBOOTING: &str = "rebooting";
    pub const REBOOTING_HARD: &str = "rebooting_hard";
    pub const POWERING_OFF: &str = "powering-off";
    pub const POWERING_ON: &str = "powering-on";
    pub const PAUSING: &str = "pausing";
    pub const UNPAUSING: &str = "unpausing";
    pub const SUSPENDING: &str = "suspending";
    pub const RESUMING: &str = "resuming";
    pub const RESCUING: &str = "rescuing";
    pub const UNRESCUING: &str = "unrescuing";
    pub const RESIZE_PREP: &str = "resize_prep";
    pub const RESIZE_MIGRATING: &str = "resize_migrating";
    pub const RESIZE_MIGRATED: &str = "resize_migrated";
    pub const MIGRATING: &str = "migrating";
    pub const RESIZE_FINISH: &str = "resize_finish";
    pub const RESIZE_REVERTING: &str = "resize_reverting";
    pub const RESIZE_CONFIRMING: &str = "resize_confirming";
    pub const REBUILDING: &str = "rebuilding";
    pub const IMAGE_SNAPSHOT: &str = "image_snapshot";
    pub const SHELVING: &str = "shelving";
    pub const UNSHELVING: &str = "unshelving";
    pub const DELETING: &str = "deleting";
}

/// Nova's power_state numbers.
pub mod power {
    pub const NOSTATE: i64 = 0;
    pub const RUNNING: i64 = 1;
    pub const PAUSED: i64 = 3;
    pub const SHUTDOWN: i64 = 4;
    pub const SUSPENDED: i64 = 7;
}

/// A flavor as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Flavor {
    pub id: String,
    pub name: String,
    pub vcpus: i64,
    pub ram: i64,
    pub disk: i64,
    pub ephemeral: i64,
    pub swap: i64,
    pub rxtx_factor: f64,
    pub is_public: bool,
    pub disabled: bool,
    pub description: Option<String>,
    pub extra_specs: BTreeMap<String, String>,
}

/// The flavor an instance was built with, copied into the instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FlavorSnap {
    pub id: String,
    pub name: String,
    pub vcpus: i64,
    pub ram: i64,
    pub disk: i64,
    pub ephemeral: i64,
    pub swap: i64,
    #[serde(default)]
    pub extra_specs: BTreeMap<String, String>,
}

impl From<&Flavor> for FlavorSnap {
    fn from(f: &Flavor) -> Self {
        FlavorSnap {
            id: f.id.clone(),
            name: f.name.clone(),
            vcpus: f.vcpus,
            ram: f.ram,
            disk: f.disk,
            ephemeral: f.ephemeral,
            swap: f.swap,
            extra_specs: f.extra_specs.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Fault {
    pub code: i64,
    pub message: String,
    pub details: String,
    pub created: String,
}

/// One address of an instance on a network (`addresses` of a server).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Address {
    pub addr: String,
    pub version: i64,
    pub mac: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Instance {
    pub uuid: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub hostname: String,
    pub description: Option<String>,
    pub vm_state: String,
    pub task_state: Option<String>,
    pub power_state: i64,
    pub host: Option<String>,
    pub flavor: Option<FlavorSnap>,
    /// The flavor before a resize, kept until confirm or revert.
    pub old_flavor: Option<FlavorSnap>,
    /// Empty for a server booted from a volume.
    pub image_ref: String,
    pub key_name: Option<String>,
    pub key_data: Option<String>,
    pub user_data: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub tags: Vec<String>,
    /// The zone asked for at boot (None: any).
    pub requested_az: Option<String>,
    /// The zone the instance is in once scheduled.
    pub availability_zone: Option<String>,
    pub security_groups: Vec<String>,
    /// The `networks` of the request: "none", "auto" or a list.
    pub requested_networks: serde_json::Value,
    pub addresses: BTreeMap<String, Vec<Address>>,
    pub port_ids: Vec<String>,
    pub access_ipv4: String,
    pub access_ipv6: String,
    pub config_drive: String,
    pub disk_config: String,
    pub locked: bool,
    pub locked_reason: Option<String>,
    /// "owner" or "admin": who may unlock.
    pub locked_by: Option<String>,
    pub launch_index: i64,
    pub reservation_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub launched_at: Option<String>,
    pub terminated_at: Option<String>,
    pub fault: Option<Fault>,
    pub server_group: Option<String>,
    /// The vm_state to go back to after rescue or a reverted resize.
    pub previous_vm_state: Option<String>,
    /// A host asked for at boot (2.74) or with `az:host`.
    pub requested_host: Option<String>,
    pub scheduler_hints: serde_json::Value,
    pub deleted: bool,
    pub deleted_at: Option<String>,
    pub progress: i64,
    /// The `<name>-shelved` snapshot of a shelved instance: unshelve boots
    /// from it and deletes it.
    #[serde(default)]
    pub shelved_image_id: Option<String>,
    /// A cold migration (or resize) waiting for its confirm or revert.
    #[serde(default)]
    pub migration_context: Option<MigrationContext>,
    /// Optimistic-concurrency counter, mirrored in the row.
    pub version: i64,
}

impl Instance {
    /// The API status Nova derives from vm_state and task_state.
    pub fn status(&self) -> &'static str {
        let t = self.task_state.as_deref();
        match self.vm_state.as_str() {
            vm::BUILDING => "BUILD",
            vm::ACTIVE | vm::STOPPED => match t {
                Some(task::REBOOTING) => "REBOOT",
                Some(task::REBOOTING_HARD) => "HARD_REBOOT",
                Some(task::REBUILDING) => "REBUILD",
                Some(task::RESIZE_PREP)
                | Some(task::RESIZE_MIGRATING)
                | Some(task::RESIZE_MIGRATED)
                | Some(task::RESIZE_FINISH) => "RESIZE",
                Some(task::MIGRATING) if self.vm_state == vm::ACTIVE => "MIGRATING",
                _ if self.vm_state == vm::ACTIVE => "ACTIVE",
                _ => "SHUTOFF",
            },
            vm::RESIZED => match t {
                Some(task::RESIZE_REVERTING) => "REVERT_RESIZE",
                _ => "VERIFY_RESIZE",
            },
            vm::PAUSED => match t {
                Some(task::MIGRATING) => "MIGRATING",
                _ => "PAUSED",
            },
            vm::SUSPENDED => "SUSPENDED",
            vm::RESCUED => "RESCUE",
            vm::ERROR => match t {
                Some(task::REBUILDING) => "REBUILD",
                _ => "ERROR",
            },
            vm::DELETED => "DELETED",
            vm::SHELVED => "SHELVED",
            vm::SHELVED_OFFLOADED => "SHELVED_OFFLOADED",
            _ => "UNKNOWN",
        }
    }

    /// The resources this instance takes on its host.
    pub fn resources(&self) -> Resources {
        self.flavor.as_ref().map(Resources::of).unwrap_or_default()
    }
}

/// A resize or cold migration in VERIFY_RESIZE: where the instance came
/// from, so confirm can clean the source up and revert can go back to it.
/// While it lasts the source's allocation is held by the migration (its
/// uuid is the placement consumer), the instance's by the destination.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct MigrationContext {
    /// The `compute_migration` row's uuid.
    pub migration_uuid: String,
    pub source_host: String,
    pub dest_host: String,
    /// The zone of the source host (revert goes back to it).
    pub source_az: Option<String>,
}

impl MigrationContext {
    /// True when the instance changed hosts (a cold migration, not a resize
    /// in place).
    pub fn moved(&self) -> bool {
        self.source_host != self.dest_host
    }
}

/// What one instance claims on a host.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resources {
    pub vcpu: i64,
    pub memory_mb: i64,
    pub disk_gb: i64,
}

impl Resources {
    pub fn of(f: &FlavorSnap) -> Resources {
        Resources { vcpu: f.vcpus, memory_mb: f.ram, disk_gb: f.disk + f.ephemeral + f.swap / 1024 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Keypair {
    pub id: i64,
    pub name: String,
    pub user_id: String,
    pub key_type: String,
    pub fingerprint: String,
    pub public_key: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServerGroup {
    pub id: String,
    pub name: String,
    pub project_id: String,
    pub user_id: String,
    pub policy: String,
    pub rules: serde_json::Map<String, serde_json::Value>,
    pub members: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ActionEvent {
    pub event: String,
    pub start_time: String,
    pub finish_time: Option<String>,
    pub result: Option<String>,
    pub traceback: Option<String>,
    pub host: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InstanceAction {
    pub id: String,
    pub instance_uuid: String,
    pub request_id: String,
    pub action: String,
    pub project_id: String,
    pub user_id: String,
    pub start_time: String,
    pub updated_at: String,
    pub message: Option<String>,
    pub events: Vec<ActionEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Aggregate {
    pub id: i64,
    pub uuid: String,
    pub name: String,
    pub availability_zone: Option<String>,
    pub hosts: Vec<String>,
    pub metadata: BTreeMap<String, String>,
    pub created_at: String,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ServiceRecord {
    pub id: i64,
    pub uuid: String,
    pub host: String,
    pub binary: String,
    pub disabled: bool,
    pub disabled_reason: Option<String>,
    pub forced_down: bool,
    pub created_at: String,
    pub updated_at: Option<String>,
}

/// Nova's time format in server bodies: `2024-01-01T00:00:00Z`.
pub fn iso_seconds(t: &str) -> String {
    match rustack_common::time::parse_iso(t) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        None => t.to_string(),
    }
}

/// Nova's time format in most other bodies: `2024-01-01T00:00:00.000000`.
pub fn iso_naive(t: &str) -> String {
    match rustack_common::time::parse_iso(t) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        None => t.to_string(),
    }
}

pub fn now() -> String {
    rustack_common::time::iso_micro(&rustack_common::time::now())
}
