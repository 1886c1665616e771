//! Host selection over placement's candidates with `rustack-scheduler`'s
//! filters (compute service enabled, availability zone, forced host, image
//! properties, server group affinity and anti-affinity, aggregate metadata)
//! and weighers (free RAM, VCPU, disk, soft affinity). Pure functions: the
//! conductor gathers the inputs.

use std::collections::{BTreeMap, HashMap};

use rustack_scheduler::{Aggregate, GroupPolicy, HostState, Multipliers, RequestSpec, ServerGroup};

use crate::model::Resources;
use crate::peers::Candidate;

/// What the scheduler knows of a host besides its free resources.
#[derive(Debug, Clone, Default)]
pub struct HostInfo {
    pub enabled: bool,
    pub az: String,
    /// Merged metadata of the host's aggregates.
    pub aggregate_metadata: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct Request {
    pub resources: Resources,
    pub az: Option<String>,
    pub host: Option<String>,
    /// The group's policy and the hosts its other members are on.
    pub group_policy: Option<String>,
    pub group_hosts: Vec<String>,
    /// `max_server_per_host` of an anti-affinity group (rules, 2.64).
    pub group_max_per_host: Option<usize>,
    pub flavor_extra_specs: BTreeMap<String, String>,
    /// Hosts already tried by this boot (a failed spawn reschedules).
    pub exclude: Vec<String>,
    pub project_id: String,
    /// The image's properties, for the ImagePropertiesFilter.
    pub image_properties: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy)]
pub struct Weights {
    pub ram: f64,
    pub cpu: f64,
    pub disk: f64,
}

/// Hosts that pass every filter, best first; or why there is none (the
/// filter that removed the last host, for the instance's fault). The
/// filters and weighers are `rustack-scheduler`'s; this only maps the
/// conductor's view of the candidates onto its host states.
pub fn select_hosts(
    req: &Request,
    candidates: &[Candidate],
    hosts: &HashMap<String, HostInfo>,
    weights: Weights,
) -> Result<Vec<String>, String> {
    let spec = request_spec(req);
    let states: Vec<HostState> = candidates.iter().map(|c| host_state(c, hosts.get(&c.host))).collect();
    let passing = rustack_scheduler::filters::run(&spec, &states)?;
    let m = Multipliers { ram: weights.ram, cpu: weights.cpu, disk: weights.disk, ..Multipliers::default() };
    Ok(rustack_scheduler::weighers::rank(&spec, &passing, &m).into_iter().map(|h| h.name).collect())
}

/// A candidate as the scheduler sees it: placement's free resources (they
/// already count every claim) and the host's service and aggregate facts.
fn host_state(c: &Candidate, info: Option<&HostInfo>) -> HostState {
    let mut h = HostState::new(&c.host, &c.host, c.free.vcpu, c.free.memory_mb, c.free.disk_gb);
    let info = info.cloned().unwrap_or_default();
    h.enabled = info.enabled;
    h.availability_zone = info.az;
    if !info.aggregate_metadata.is_empty() {
        h.aggregates.push(Aggregate { name: String::new(), metadata: info.aggregate_metadata });
    }
    h
}

fn request_spec(req: &Request) -> RequestSpec {
    let mut spec = RequestSpec::new(req.resources.vcpu, req.resources.memory_mb, req.resources.disk_gb);
    spec.project_id = req.project_id.clone();
    spec.availability_zone = req.az.clone();
    spec.force_host = req.host.clone();
    spec.ignore_hosts = req.exclude.clone();
    spec.flavor_extra_specs = req.flavor_extra_specs.clone();
    spec.image_properties = req.image_properties.clone();
    spec.server_group = req.group_policy.as_deref().and_then(GroupPolicy::parse).map(|policy| {
        let mut g = ServerGroup::new(policy);
        g.max_server_per_host = req.group_max_per_host.map(|n| n as i64);
        for h in &req.group_hosts {
            *g.members_per_host.entry(h.clone()).or_default() += 1;
        }
        g
    });
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(h: &str, ram: i64) -> Candidate {
        Candidate { host: h.into(), free: Resources { vcpu: 8, memory_mb: ram, disk_gb: 100 } }
    }

    fn hosts(names: &[&str]) -> HashMap<String, HostInfo> {
        names
            .iter()
            .map(|n| (n.to_string(), HostInfo { enabled: true, az: "nova".into(), ..Default::default() }))
            .collect()
    }

    const W: Weights = Weights { ram: 1.0, cpu: 0.0, disk: 0.0 };

    #[test]
    fn spreads_by_free_ram_and_honours_anti_affinity() {
        let c = vec![cand("a", 1000), cand("b", 4000), cand("c", 2000)];
        let h = hosts(&["a", "b", "c"]);
        assert_eq!(select_hosts(&Request::default(), &c, &h, W).unwrap(), vec!["b", "c", "a"]);
        let req =
            Request { group_policy: Some("anti-affinity".into()), group_hosts: vec!["b".into()], ..Default::default() };
        assert_eq!(select_hosts(&req, &c, &h, W).unwrap(), vec!["c", "a"]);
        let req =
            Request { group_policy: Some("affinity".into()), group_hosts: vec!["a".into()], ..Default::default() };
        assert_eq!(select_hosts(&req, &c, &h, W).unwrap(), vec!["a"]);
        let stack = Weights { ram: -1.0, cpu: 0.0, disk: 0.0 };
        assert_eq!(select_hosts(&Request::default(), &c, &h, stack).unwrap()[0], "a");
    }

    #[test]
    fn disabled_hosts_and_other_zones_are_filtered() {
        let c = vec![cand("a", 1000), cand("b", 4000)];
        let mut h = hosts(&["a", "b"]);
        h.get_mut("b").unwrap().enabled = false;
        assert_eq!(select_hosts(&Request::default(), &c, &h, W).unwrap(), vec!["a"]);
        let req = Request { az: Some("other".into()), ..Default::default() };
        let why = select_hosts(&req, &c, &h, W).unwrap_err();
        assert!(why.contains("AvailabilityZoneFilter"), "{why}");
    }
}
