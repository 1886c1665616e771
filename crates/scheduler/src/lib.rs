//! The compute scheduler's filters and weighers: pure functions over host
//! state, no I/O.
//!
//! The caller (compute's scheduler step) asks placement for allocation
//! candidates, turns each candidate host into a [`HostState`], describes the
//! boot in a [`RequestSpec`] and calls [`select_hosts`]: every filter of
//! [`filters::ALL`] keeps or drops each host (the first filter that leaves
//! none is named in the [`NoValidHost`] reason), the weighers rank what is
//! left (free RAM, CPU, disk and server group members, each normalised to
//! 0..1 and scaled by its multiplier, as Nova does), and the best host is
//! taken; for several instances its resources are consumed and the next one
//! is chosen the same way.

pub mod filters;
pub mod host;
pub mod weighers;

pub use filters::{Filter, ALL as ALL_FILTERS};
pub use host::{Aggregate, GroupPolicy, HostState, RequestSpec, ServerGroup};
pub use weighers::Multipliers;

use std::fmt;

/// No host passes: Nova's `NoValidHost`, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoValidHost {
    pub reason: String,
}

impl fmt::Display for NoValidHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "No valid host was found. {}", self.reason)
    }
}

impl std::error::Error for NoValidHost {}

/// Chooses a host for each of `n` instances of `spec` among `hosts`, best
/// first: the returned hosts are copies with the earlier picks' resources
/// (and group membership) consumed. A host may be chosen more than once
/// unless a filter forbids it.
pub fn select_hosts(
    spec: &RequestSpec,
    hosts: &[HostState],
    n: usize,
    multipliers: &Multipliers,
) -> Result<Vec<HostState>, NoValidHost> {
    let mut pool: Vec<HostState> = hosts.to_vec();
    let mut spec = spec.clone();
    let mut chosen = Vec::with_capacity(n);
    for k in 0..n {
        let passing = filters::run(&spec, &pool).map_err(|reason| NoValidHost {
            reason: if n > 1 { format!("{reason} (instance {} of {n})", k + 1) } else { reason },
        })?;
        let ranked = weighers::rank(&spec, &passing, multipliers);
        let best = ranked[0].clone();
        let idx = pool.iter().position(|h| h.name == best.name).unwrap_or(0);
        pool[idx].consume(&spec);
        if let Some(g) = spec.server_group.as_mut() {
            *g.members_per_host.entry(best.name.clone()).or_default() += 1;
        }
        chosen.push(pool[idx].clone());
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn host(name: &str, vcpus: i64, ram: i64, disk: i64) -> HostState {
        HostState::new(name, &format!("rp-{name}"), vcpus, ram, disk)
    }

    #[test]
    fn picks_the_host_with_most_free_ram_and_consumes_it() {
        let hosts = vec![host("a", 8, 4096, 100), host("b", 8, 8192, 100)];
        let spec = RequestSpec::new(1, 4096, 10);
        let got = select_hosts(&spec, &hosts, 2, &Multipliers::default()).unwrap();
        assert_eq!(got[0].name, "b");
        // b has 4096 left, as a; then the CPU and disk weighers agree, so
        // the first of equals (a) wins
        assert_eq!(got[1].name, "a");
        assert_eq!(got[0].free_ram_mb, 4096);
    }

    #[test]
    fn no_valid_host_names_the_filter() {
        let mut a = host("a", 8, 4096, 100);
        a.enabled = false;
        let e = select_hosts(&RequestSpec::new(1, 512, 1), &[a], 1, &Multipliers::default()).unwrap_err();
        assert!(e.to_string().starts_with("No valid host was found. "), "{e}");
        assert!(e.reason.contains("ComputeFilter"), "{e}");
        let e = select_hosts(&RequestSpec::new(1, 512, 1), &[], 1, &Multipliers::default()).unwrap_err();
        assert!(e.reason.contains("There are not enough hosts available"), "{e}");
    }

    #[test]
    fn anti_affinity_spreads_instances_and_fails_when_hosts_run_out() {
        let hosts = vec![host("a", 8, 8192, 100), host("b", 8, 8192, 100)];
        let mut spec = RequestSpec::new(1, 512, 1);
        spec.server_group = Some(ServerGroup::new(GroupPolicy::AntiAffinity));
        let got = select_hosts(&spec, &hosts, 2, &Multipliers::default()).unwrap();
        assert_ne!(got[0].name, got[1].name);
        let e = select_hosts(&spec, &hosts, 3, &Multipliers::default()).unwrap_err();
        assert!(e.reason.contains("ServerGroupAntiAffinityFilter"), "{e}");
    }

    #[test]
    fn affinity_keeps_instances_together() {
        let hosts = vec![host("a", 8, 8192, 100), host("b", 8, 16384, 100)];
        let mut spec = RequestSpec::new(1, 512, 1);
        spec.server_group = Some(ServerGroup::new(GroupPolicy::Affinity));
        let got = select_hosts(&spec, &hosts, 3, &Multipliers::default()).unwrap();
        assert!(got.iter().all(|h| h.name == "b"));
    }
}
