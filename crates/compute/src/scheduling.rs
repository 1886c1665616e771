//! Host selection over placement's candidates: filters (compute service
//! enabled, availability zone, requested host, server group affinity and
//! anti-affinity, aggregate metadata against flavor extra specs) then weighers
//! (free RAM, VCPU, disk, each times its multiplier, normalised as Nova does).
//! Pure functions: the conductor gathers the inputs.

use std::collections::{BTreeMap, HashMap, HashSet};

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
}

#[derive(Debug, Clone, Copy)]
pub struct Weights {
    pub ram: f64,
    pub cpu: f64,
    pub disk: f64,
}

/// Hosts that pass every filter, best first.
pub fn select_hosts(
    req: &Request,
    candidates: &[Candidate],
    hosts: &HashMap<String, HostInfo>,
    weights: Weights,
) -> Vec<String> {
    let group_hosts: HashSet<&str> = req.group_hosts.iter().map(String::as_str).collect();
    let passing: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| {
            let info = hosts.get(&c.host).cloned().unwrap_or_default();
            if !info.enabled || req.exclude.contains(&c.host) {
                return false;
            }
            if let Some(az) = &req.az {
                if &info.az != az {
                    return false;
                }
            }
            if let Some(h) = &req.host {
                if &c.host != h {
                    return false;
                }
            }
            match req.group_policy.as_deref() {
                Some("affinity") if !group_hosts.is_empty() && !group_hosts.contains(c.host.as_str()) => return false,
                Some("anti-affinity") => {
                    let n = req.group_hosts.iter().filter(|h| **h == c.host).count();
                    if n >= req.group_max_per_host.unwrap_or(1) {
                        return false;
                    }
                }
                _ => {}
            }
            // AggregateInstanceExtraSpecsFilter: scoped extra specs must match
            for (k, v) in &req.flavor_extra_specs {
                if let Some(key) = k.strip_prefix("aggregate_instance_extra_specs:") {
                    if info.aggregate_metadata.get(key) != Some(v) {
                        return false;
                    }
                }
            }
            true
        })
        .collect();
    if passing.is_empty() {
        return vec![];
    }
    // normalise each resource to 0..1 over the passing hosts, as Nova's weighers
    let norm = |f: &dyn Fn(&Candidate) -> i64| -> Vec<f64> {
        let vals: Vec<f64> = passing.iter().map(|c| f(c) as f64).collect();
        let (lo, hi) = vals.iter().fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        vals.iter().map(|v| if hi > lo { (v - lo) / (hi - lo) } else { 0.0 }).collect()
    };
    let ram = norm(&|c| c.free.memory_mb);
    let cpu = norm(&|c| c.free.vcpu);
    let disk = norm(&|c| c.free.disk_gb);
    let mut scored: Vec<(f64, &str)> = passing
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut w = weights.ram * ram[i] + weights.cpu * cpu[i] + weights.disk * disk[i];
            // soft policies are weighers, not filters
            match req.group_policy.as_deref() {
                Some("soft-anti-affinity") => {
                    w -= 10.0 * req.group_hosts.iter().filter(|h| **h == c.host).count() as f64
                }
                Some("soft-affinity") => w += 10.0 * req.group_hosts.iter().filter(|h| **h == c.host).count() as f64,
                _ => {}
            }
            (w, c.host.as_str())
        })
        .collect();
    scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal).then(a.1.cmp(b.1)));
    scored.into_iter().map(|(_, h)| h.to_string()).collect()
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
        assert_eq!(select_hosts(&Request::default(), &c, &h, W), vec!["b", "c", "a"]);
        let req =
            Request { group_policy: Some("anti-affinity".into()), group_hosts: vec!["b".into()], ..Default::default() };
        assert_eq!(select_hosts(&req, &c, &h, W), vec!["c", "a"]);
        let req =
            Request { group_policy: Some("affinity".into()), group_hosts: vec!["a".into()], ..Default::default() };
        assert_eq!(select_hosts(&req, &c, &h, W), vec!["a"]);
        let stack = Weights { ram: -1.0, cpu: 0.0, disk: 0.0 };
        assert_eq!(select_hosts(&Request::default(), &c, &h, stack)[0], "a");
    }

    #[test]
    fn disabled_hosts_and_other_zones_are_filtered() {
        let c = vec![cand("a", 1000), cand("b", 4000)];
        let mut h = hosts(&["a", "b"]);
        h.get_mut("b").unwrap().enabled = false;
        assert_eq!(select_hosts(&Request::default(), &c, &h, W), vec!["a"]);
        let req = Request { az: Some("other".into()), ..Default::default() };
        assert!(select_hosts(&req, &c, &h, W).is_empty());
    }
}
