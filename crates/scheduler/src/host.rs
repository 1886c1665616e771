//! What the scheduler knows about a host and about the request.

use std::collections::BTreeMap;

/// A host aggregate the host is in (its metadata drives some filters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregate {
    pub name: String,
    pub metadata: BTreeMap<String, String>,
}

/// One compute host, as filters and weighers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostState {
    /// The compute host name.
    pub name: String,
    /// Its resource provider in placement.
    pub provider_uuid: String,
    /// The compute service is enabled and up.
    pub enabled: bool,
    pub availability_zone: String,
    pub total_vcpus: i64,
    pub free_vcpus: i64,
    pub total_ram_mb: i64,
    pub free_ram_mb: i64,
    pub total_disk_gb: i64,
    pub free_disk_gb: i64,
    pub aggregates: Vec<Aggregate>,
    /// The instances on the host.
    pub instances: Vec<String>,
    /// What the hypervisor runs: (architecture, hypervisor type, vm mode),
    /// e.g. ("x86_64", "qemu", "hvm"). Empty: anything.
    pub supported_instances: Vec<(String, String, String)>,
    /// The hypervisor's version as an integer (Nova's: 8000000 for 8.0.0).
    pub hypervisor_version: i64,
}

impl HostState {
    /// An enabled host in zone `nova` with all of these resources free.
    pub fn new(name: &str, provider_uuid: &str, vcpus: i64, ram_mb: i64, disk_gb: i64) -> HostState {
        HostState {
            name: name.into(),
            provider_uuid: provider_uuid.into(),
            enabled: true,
            availability_zone: "nova".into(),
            total_vcpus: vcpus,
            free_vcpus: vcpus,
            total_ram_mb: ram_mb,
            free_ram_mb: ram_mb,
            total_disk_gb: disk_gb,
            free_disk_gb: disk_gb,
            aggregates: Vec::new(),
            instances: Vec::new(),
            supported_instances: Vec::new(),
            hypervisor_version: 0,
        }
    }

    /// Takes a request's resources off the host (a pick for one instance).
    pub fn consume(&mut self, spec: &RequestSpec) {
        self.free_vcpus -= spec.vcpus;
        self.free_ram_mb -= spec.memory_mb;
        self.free_disk_gb -= spec.disk_gb;
        if let Some(id) = &spec.instance_uuid {
            self.instances.push(id.clone());
        }
    }

    /// Every value of metadata `key` over the host's aggregates (a value may
    /// list several, comma-separated).
    pub fn aggregate_values(&self, key: &str) -> Vec<String> {
        self.aggregates
            .iter()
            .filter_map(|a| a.metadata.get(key))
            .flat_map(|v| v.split(',').map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .collect()
    }
}

/// A server group policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupPolicy {
    Affinity,
    AntiAffinity,
    SoftAffinity,
    SoftAntiAffinity,
}

impl GroupPolicy {
    /// Nova's names: `affinity`, `anti-affinity`, `soft-affinity`, `soft-anti-affinity`.
    pub fn parse(s: &str) -> Option<GroupPolicy> {
        match s {
            "affinity" => Some(GroupPolicy::Affinity),
            "anti-affinity" => Some(GroupPolicy::AntiAffinity),
            "soft-affinity" => Some(GroupPolicy::SoftAffinity),
            "soft-anti-affinity" => Some(GroupPolicy::SoftAntiAffinity),
            _ => None,
        }
    }
}

/// The server group an instance boots into, and where its members are.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerGroup {
    pub policy: GroupPolicy,
    /// anti-affinity's `max_server_per_host` rule (default 1).
    pub max_server_per_host: Option<i64>,
    /// How many members each host already has.
    pub members_per_host: BTreeMap<String, i64>,
}

impl ServerGroup {
    pub fn new(policy: GroupPolicy) -> ServerGroup {
        ServerGroup { policy, max_server_per_host: None, members_per_host: BTreeMap::new() }
    }

    pub fn members_on(&self, host: &str) -> i64 {
        self.members_per_host.get(host).copied().unwrap_or(0)
    }

    /// Hosts that have members.
    pub fn hosts(&self) -> impl Iterator<Item = &String> {
        self.members_per_host.iter().filter(|(_, n)| **n > 0).map(|(h, _)| h)
    }
}

/// What is being placed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RequestSpec {
    pub instance_uuid: Option<String>,
    pub project_id: String,
    pub vcpus: i64,
    pub memory_mb: i64,
    pub disk_gb: i64,
    pub flavor_extra_specs: BTreeMap<String, String>,
    /// The image's properties (`hw_architecture`, `img_hv_type`, `hw_vm_mode`, …).
    pub image_properties: BTreeMap<String, String>,
    pub availability_zone: Option<String>,
    pub server_group: Option<ServerGroup>,
    /// An admin's `zone:host`: only this host, and no filter but the resources.
    pub force_host: Option<String>,
    /// Hosts not to use (a reschedule's failed hosts, a resize's source).
    pub ignore_hosts: Vec<String>,
}

impl RequestSpec {
    pub fn new(vcpus: i64, memory_mb: i64, disk_gb: i64) -> RequestSpec {
        RequestSpec { vcpus, memory_mb, disk_gb, ..Default::default() }
    }
}
