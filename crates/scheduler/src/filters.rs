//! The filters, Nova's names and rules: each keeps or drops one host for
//! one request.

use crate::host::{GroupPolicy, HostState, RequestSpec};

/// A named host filter.
pub type Filter = (&'static str, fn(&HostState, &RequestSpec) -> bool);

/// The filters, in the order they run.
pub static ALL: &[Filter] = &[
    ("ComputeFilter", compute),
    ("ResourceFilter", resources),
    ("AvailabilityZoneFilter", availability_zone),
    ("ImagePropertiesFilter", image_properties),
    ("ServerGroupAffinityFilter", group_affinity),
    ("ServerGroupAntiAffinityFilter", group_anti_affinity),
    ("AggregateInstanceExtraSpecsFilter", aggregate_extra_specs),
    ("AggregateMultiTenancyIsolation", tenant_isolation),
];

/// Runs every filter; the hosts left, or why none is (naming the filter
/// that removed the last ones).
pub fn run(spec: &RequestSpec, hosts: &[HostState]) -> Result<Vec<HostState>, String> {
    let mut left: Vec<HostState> = hosts.iter().filter(|h| !spec.ignore_hosts.contains(&h.name)).cloned().collect();
    if left.is_empty() {
        return Err("There are not enough hosts available.".into());
    }
    if let Some(forced) = &spec.force_host {
        left.retain(|h| &h.name == forced);
        if left.is_empty() {
            return Err(format!("There are not enough hosts available: the forced host {forced} is not a candidate."));
        }
        // a forced host skips the filters, except that it must have room
        left.retain(|h| resources(h, spec));
        if left.is_empty() {
            return Err(format!(
                "There are not enough hosts available: the forced host {forced} lacks the resources (ResourceFilter)."
            ));
        }
        return Ok(left);
    }
    for (name, f) in ALL {
        let before = left.len();
        left.retain(|h| f(h, spec));
        if left.is_empty() {
            return Err(format!(
                "There are not enough hosts available. Filter {name} returned 0 hosts (it removed the last {before})."
            ));
        }
    }
    Ok(left)
}

/// The compute service is enabled and up.
pub fn compute(h: &HostState, _: &RequestSpec) -> bool {
    h.enabled
}

/// Room for the flavor (placement checked it for the first instance; this
/// keeps later instances of one request honest).
pub fn resources(h: &HostState, s: &RequestSpec) -> bool {
    h.free_vcpus >= s.vcpus && h.free_ram_mb >= s.memory_mb && h.free_disk_gb >= s.disk_gb
}

/// In the requested zone (if any).
pub fn availability_zone(h: &HostState, s: &RequestSpec) -> bool {
    match &s.availability_zone {
        None => true,
        Some(z) if z.is_empty() => true,
        Some(z) => &h.availability_zone == z,
    }
}

/// The image's architecture, hypervisor type and vm mode are among what
/// the host supports (a host that declares nothing supports anything).
pub fn image_properties(h: &HostState, s: &RequestSpec) -> bool {
    let p =
        |a: &str, b: &str| s.image_properties.get(a).or_else(|| s.image_properties.get(b)).map(|v| v.to_lowercase());
    let arch = p("hw_architecture", "architecture");
    let hv = p("img_hv_type", "hypervisor_type");
    let mode = p("hw_vm_mode", "vm_mode");
    if arch.is_none() && hv.is_none() && mode.is_none() {
        return true;
    }
    if h.supported_instances.is_empty() {
        return true;
    }
    h.supported_instances.iter().any(|(a, t, m)| {
        arch.as_ref().is_none_or(|x| x == &a.to_lowercase())
            && hv.as_ref().is_none_or(|x| x == &t.to_lowercase())
            && mode.as_ref().is_none_or(|x| x == &m.to_lowercase())
    })
}

/// `affinity`: once a member is placed, only its host.
pub fn group_affinity(h: &HostState, s: &RequestSpec) -> bool {
    match &s.server_group {
        Some(g) if g.policy == GroupPolicy::Affinity => {
            let mut hosts = g.hosts().peekable();
            hosts.peek().is_none() || g.members_on(&h.name) > 0
        }
        _ => true,
    }
}

/// `anti-affinity`: fewer than `max_server_per_host` (1) members here.
pub fn group_anti_affinity(h: &HostState, s: &RequestSpec) -> bool {
    match &s.server_group {
        Some(g) if g.policy == GroupPolicy::AntiAffinity => {
            g.members_on(&h.name) < g.max_server_per_host.unwrap_or(1).max(1)
        }
        _ => true,
    }
}

/// Flavor extra specs without a scope, or scoped
/// `aggregate_instance_extra_specs:`, must match the metadata of one of the
/// host's aggregates (`<in> x`, `s== x`, `<or> a <or> b`, or equality).
pub fn aggregate_extra_specs(h: &HostState, s: &RequestSpec) -> bool {
    const SCOPE: &str = "aggregate_instance_extra_specs:";
    for (k, want) in &s.flavor_extra_specs {
        let key = match k.strip_prefix(SCOPE) {
            Some(k) => k,
            None if k.contains(':') => continue,
            None => k.as_str(),
        };
        let have = h.aggregate_values(key);
        if have.is_empty() || !have.iter().any(|v| spec_matches(v, want)) {
            return false;
        }
    }
    true
}

/// Nova's extra spec operators, the common ones.
fn spec_matches(value: &str, req: &str) -> bool {
    let req = req.trim();
    if let Some(x) = req.strip_prefix("<in>") {
        return value.contains(x.trim());
    }
    if let Some(x) = req.strip_prefix("s==") {
        return value == x.trim();
    }
    if let Some(x) = req.strip_prefix("s!=") {
        return value != x.trim();
    }
    if req.starts_with("<or>") {
        return req.split("<or>").map(str::trim).filter(|x| !x.is_empty()).any(|x| x == value);
    }
    let num = |x: &str| x.trim().parse::<f64>().ok();
    for (op, f) in [(">=", (|a, b| a >= b) as fn(f64, f64) -> bool), ("<=", |a, b| a <= b), ("==", |a, b| a == b)] {
        if let Some(x) = req.strip_prefix(op) {
            return matches!((num(value), num(x)), (Some(a), Some(b)) if f(a, b));
        }
    }
    value.eq_ignore_ascii_case(req)
}

/// A host in an aggregate with `filter_tenant_id*` metadata takes only
/// those projects.
pub fn tenant_isolation(h: &HostState, s: &RequestSpec) -> bool {
    let mut allowed: Vec<String> = Vec::new();
    for a in &h.aggregates {
        for (k, v) in &a.metadata {
            if k.starts_with("filter_tenant_id") {
                allowed.extend(v.split(',').map(|x| x.trim().to_string()));
            }
        }
    }
    allowed.is_empty() || allowed.contains(&s.project_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::{Aggregate, ServerGroup};

    fn host() -> HostState {
        HostState::new("h1", "rp1", 4, 4096, 40)
    }

    fn spec() -> RequestSpec {
        RequestSpec::new(1, 512, 1)
    }

    #[test]
    fn compute_filter_drops_disabled_hosts() {
        let mut h = host();
        assert!(compute(&h, &spec()));
        h.enabled = false;
        assert!(!compute(&h, &spec()));
    }

    #[test]
    fn resource_filter() {
        let h = host();
        assert!(resources(&h, &RequestSpec::new(4, 4096, 40)));
        assert!(!resources(&h, &RequestSpec::new(5, 512, 1)));
        assert!(!resources(&h, &RequestSpec::new(1, 4097, 1)));
        assert!(!resources(&h, &RequestSpec::new(1, 512, 41)));
    }

    #[test]
    fn availability_zone_filter() {
        let mut s = spec();
        assert!(availability_zone(&host(), &s));
        s.availability_zone = Some("nova".into());
        assert!(availability_zone(&host(), &s));
        s.availability_zone = Some("az2".into());
        assert!(!availability_zone(&host(), &s));
    }

    #[test]
    fn image_properties_filter() {
        let mut h = host();
        let mut s = spec();
        s.image_properties.insert("hw_architecture".into(), "aarch64".into());
        assert!(image_properties(&h, &s), "a host that declares nothing takes anything");
        h.supported_instances = vec![("x86_64".into(), "qemu".into(), "hvm".into())];
        assert!(!image_properties(&h, &s));
        s.image_properties.insert("hw_architecture".into(), "x86_64".into());
        s.image_properties.insert("img_hv_type".into(), "QEMU".into());
        assert!(image_properties(&h, &s));
        s.image_properties.insert("hw_vm_mode".into(), "xen".into());
        assert!(!image_properties(&h, &s));
    }

    #[test]
    fn group_filters() {
        let h = host();
        let mut s = spec();
        let mut g = ServerGroup::new(GroupPolicy::Affinity);
        s.server_group = Some(g.clone());
        assert!(group_affinity(&h, &s), "no member placed yet: any host");
        g.members_per_host.insert("h2".into(), 1);
        s.server_group = Some(g.clone());
        assert!(!group_affinity(&h, &s));
        assert!(group_anti_affinity(&h, &s), "anti-affinity does not apply to an affinity group");
        g.policy = GroupPolicy::AntiAffinity;
        g.members_per_host.insert("h1".into(), 1);
        s.server_group = Some(g.clone());
        assert!(!group_anti_affinity(&h, &s));
        g.max_server_per_host = Some(2);
        s.server_group = Some(g);
        assert!(group_anti_affinity(&h, &s));
    }

    #[test]
    fn aggregate_extra_specs_filter() {
        let mut h = host();
        let mut s = spec();
        s.flavor_extra_specs.insert("hw:cpu_policy".into(), "dedicated".into());
        assert!(aggregate_extra_specs(&h, &s), "other scopes are not this filter's");
        s.flavor_extra_specs.insert("aggregate_instance_extra_specs:ssd".into(), "true".into());
        assert!(!aggregate_extra_specs(&h, &s));
        h.aggregates.push(Aggregate { name: "fast".into(), metadata: [("ssd".into(), "true".into())].into() });
        assert!(aggregate_extra_specs(&h, &s));
        s.flavor_extra_specs.insert("gpus".into(), ">= 2".into());
        assert!(!aggregate_extra_specs(&h, &s));
        h.aggregates[0].metadata.insert("gpus".into(), "4".into());
        assert!(aggregate_extra_specs(&h, &s));
        assert!(spec_matches("a", "<or> b <or> a") && spec_matches("xyz", "<in> y") && !spec_matches("x", "s!= x"));
    }

    #[test]
    fn tenant_isolation_filter() {
        let mut h = host();
        let mut s = spec();
        s.project_id = "p1".into();
        assert!(tenant_isolation(&h, &s));
        h.aggregates
            .push(Aggregate { name: "private".into(), metadata: [("filter_tenant_id".into(), "p2,p3".into())].into() });
        assert!(!tenant_isolation(&h, &s));
        s.project_id = "p3".into();
        assert!(tenant_isolation(&h, &s));
    }

    #[test]
    fn forced_host_skips_filters_but_not_resources() {
        let mut a = host();
        a.enabled = false;
        let mut s = spec();
        s.force_host = Some("h1".into());
        assert_eq!(run(&s, std::slice::from_ref(&a)).unwrap().len(), 1);
        s.force_host = Some("h9".into());
        assert!(run(&s, &[a]).unwrap_err().contains("h9"));
    }
}
