//! The weighers, as Nova's: each scores every host, the scores are
//! normalised to 0..1 over the hosts (min → 0, max → 1; all equal → 0),
//! scaled by the weigher's multiplier and summed; the highest total wins.

use crate::host::{GroupPolicy, HostState, RequestSpec};

/// Multipliers of the weighers (Nova's `[filter_scheduler] *_weight_multiplier`;
/// a negative one stacks instead of spreading).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Multipliers {
    pub ram: f64,
    pub cpu: f64,
    pub disk: f64,
    pub soft_affinity: f64,
    pub soft_anti_affinity: f64,
}

impl Default for Multipliers {
    fn default() -> Self {
        Multipliers { ram: 1.0, cpu: 1.0, disk: 1.0, soft_affinity: 1.0, soft_anti_affinity: 1.0 }
    }
}

/// One weigher: its raw score of a host, and its multiplier.
type Weigher = (&'static str, fn(&HostState, &RequestSpec) -> f64, fn(&Multipliers) -> f64);

pub static ALL: &[Weigher] = &[
    ("RAMWeigher", |h, _| h.free_ram_mb as f64, |m| m.ram),
    ("CPUWeigher", |h, _| h.free_vcpus as f64, |m| m.cpu),
    ("DiskWeigher", |h, _| h.free_disk_gb as f64, |m| m.disk),
    ("ServerGroupSoftAffinityWeigher", soft_affinity, |m| m.soft_affinity),
    ("ServerGroupSoftAntiAffinityWeigher", soft_anti_affinity, |m| m.soft_anti_affinity),
];

fn soft_affinity(h: &HostState, s: &RequestSpec) -> f64 {
    match &s.server_group {
        Some(g) if g.policy == GroupPolicy::SoftAffinity => g.members_on(&h.name) as f64,
        _ => 0.0,
    }
}

fn soft_anti_affinity(h: &HostState, s: &RequestSpec) -> f64 {
    match &s.server_group {
        Some(g) if g.policy == GroupPolicy::SoftAntiAffinity => -(g.members_on(&h.name) as f64),
        _ => 0.0,
    }
}

/// Scales `raw` to 0..1 (Nova's `normalize`).
fn normalize(raw: &[f64]) -> Vec<f64> {
    let (lo, hi) = raw.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(*x), h.max(*x)));
    if raw.is_empty() || hi <= lo {
        return vec![0.0; raw.len()];
    }
    raw.iter().map(|x| (x - lo) / (hi - lo)).collect()
}

/// The total weight of each host, in the order given.
pub fn weights(spec: &RequestSpec, hosts: &[HostState], m: &Multipliers) -> Vec<f64> {
    let mut total = vec![0.0; hosts.len()];
    for (_, score, mult) in ALL {
        let k = mult(m);
        if k == 0.0 {
            continue;
        }
        let raw: Vec<f64> = hosts.iter().map(|h| score(h, spec)).collect();
        for (t, w) in total.iter_mut().zip(normalize(&raw)) {
            *t += k * w;
        }
    }
    total
}

/// The hosts, best first (equal weights keep their order).
pub fn rank(spec: &RequestSpec, hosts: &[HostState], m: &Multipliers) -> Vec<HostState> {
    let w = weights(spec, hosts, m);
    let mut idx: Vec<usize> = (0..hosts.len()).collect();
    idx.sort_by(|a, b| w[*b].partial_cmp(&w[*a]).unwrap_or(std::cmp::Ordering::Equal));
    idx.into_iter().map(|i| hosts[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::ServerGroup;

    fn h(name: &str, vcpus: i64, ram: i64, disk: i64) -> HostState {
        HostState::new(name, name, vcpus, ram, disk)
    }

    fn only(ram: f64, cpu: f64, disk: f64) -> Multipliers {
        Multipliers { ram, cpu, disk, ..Default::default() }
    }

    #[test]
    fn ram_weigher_spreads_and_stacks() {
        let hosts = vec![h("small", 8, 1024, 10), h("big", 8, 8192, 10)];
        let s = RequestSpec::new(1, 1, 1);
        assert_eq!(rank(&s, &hosts, &only(1.0, 0.0, 0.0))[0].name, "big");
        assert_eq!(rank(&s, &hosts, &only(-1.0, 0.0, 0.0))[0].name, "small");
    }

    #[test]
    fn cpu_weigher() {
        let hosts = vec![h("a", 2, 1024, 10), h("b", 16, 1024, 10)];
        let s = RequestSpec::new(1, 1, 1);
        assert_eq!(rank(&s, &hosts, &only(0.0, 1.0, 0.0))[0].name, "b");
        assert_eq!(rank(&s, &hosts, &only(0.0, -1.0, 0.0))[0].name, "a");
    }

    #[test]
    fn disk_weigher() {
        let hosts = vec![h("a", 2, 1024, 500), h("b", 2, 1024, 10)];
        let s = RequestSpec::new(1, 1, 1);
        assert_eq!(rank(&s, &hosts, &only(0.0, 0.0, 1.0))[0].name, "a");
    }

    #[test]
    fn multipliers_weigh_against_each_other() {
        // a: much more RAM; b: more CPU. RAM counts double.
        let hosts = vec![h("a", 2, 8192, 10), h("b", 16, 1024, 10)];
        let s = RequestSpec::new(1, 1, 1);
        assert_eq!(rank(&s, &hosts, &only(2.0, 1.0, 0.0))[0].name, "a");
        assert_eq!(rank(&s, &hosts, &only(1.0, 2.0, 0.0))[0].name, "b");
        assert_eq!(normalize(&[3.0, 3.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn soft_affinity_weighers() {
        let hosts = vec![h("a", 8, 8192, 10), h("b", 8, 8192, 10)];
        let mut g = ServerGroup::new(GroupPolicy::SoftAffinity);
        g.members_per_host.insert("b".into(), 2);
        let mut s = RequestSpec::new(1, 1, 1);
        s.server_group = Some(g.clone());
        assert_eq!(rank(&s, &hosts, &Multipliers::default())[0].name, "b");
        g.policy = GroupPolicy::SoftAntiAffinity;
        s.server_group = Some(g);
        assert_eq!(rank(&s, &hosts, &Multipliers::default())[0].name, "a");
    }
}
