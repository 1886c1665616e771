//! The NAT table inside a router namespace: SNAT of the internal subnets to
//! the gateway address, and floating IPs as DNAT/SNAT pairs.

use std::fmt::Write;

use ipnet::IpNet;

use super::addr;
use crate::Error;

/// Name of the table inside every router namespace (the namespace is ours).
pub const TABLE: &str = "rustack_nat";

/// What the router's NAT does.
pub struct NatPlan<'a> {
    /// The gateway device (`qg-…`), if the router has a gateway.
    pub gw_dev: Option<&'a str>,
    /// The gateway's IPv4 address, when SNAT is on.
    pub snat_to: Option<String>,
    /// The internal IPv4 subnets behind the router.
    pub internal: Vec<IpNet>,
    /// (floating, fixed) IPv4 pairs.
    pub floating: Vec<(String, String)>,
}

/// The script replacing the router's NAT table (deleting it when there is nothing to do).
pub fn render(plan: &NatPlan) -> Result<String, Error> {
    let mut s = format!("table ip {TABLE}\ndelete table ip {TABLE}\n");
    let Some(dev) = plan.gw_dev else { return Ok(s) };
    if plan.floating.is_empty() && (plan.snat_to.is_none() || plan.internal.is_empty()) {
        return Ok(s);
    }
    let _ = writeln!(s, "table ip {TABLE} {{");
    let mut pre = String::new();
    let mut post = String::new();
    for (fip, fixed) in &plan.floating {
        let (fip, fixed) = (addr::ip(fip)?, addr::ip(fixed)?);
        let _ = writeln!(pre, "    ip daddr {fip} dnat to {fixed}");
        let _ = writeln!(post, "    oifname \"{dev}\" ip saddr {fixed} snat to {fip}");
    }
    if !plan.floating.is_empty() && !plan.internal.is_empty() {
        // Hairpin: an instance reaching another's floating IP through this
        // router; the answer must come back through the router too.
        let nets: Vec<String> = plan.internal.iter().map(|n| n.to_string()).collect();
        let _ = writeln!(post, "    oifname \"qr-*\" ct status dnat ip saddr {{ {} }} masquerade", nets.join(", "));
    }
    if let Some(gw) = &plan.snat_to {
        let gw = addr::ip(gw)?;
        if !plan.internal.is_empty() {
            let nets: Vec<String> = plan.internal.iter().map(|n| n.to_string()).collect();
            let _ = writeln!(post, "    oifname \"{dev}\" ip saddr {{ {} }} snat to {gw}", nets.join(", "));
        }
    }
    let _ =
        writeln!(s, "  chain prerouting {{\n    type nat hook prerouting priority dstnat; policy accept;\n{pre}  }}");
    let _ = writeln!(s, "  chain output {{\n    type nat hook output priority -100; policy accept;\n{pre}  }}");
    let _ = writeln!(
        s,
        "  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n{post}  }}"
    );
    let _ = writeln!(s, "}}");
    Ok(s)
}

/// The host table masquerading the external subnets out of the uplink.
pub fn render_uplink(table: &str, uplink: Option<&str>, external: &[IpNet]) -> String {
    let mut s = format!("table ip {table}\ndelete table ip {table}\n");
    if let (Some(dev), false) = (uplink, external.is_empty()) {
        let nets: Vec<String> = external.iter().map(|n| n.to_string()).collect();
        let _ = writeln!(
            s,
            "table ip {table} {{\n  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n    oifname \"{dev}\" ip saddr {{ {} }} masquerade\n  }}\n}}",
            nets.join(", ")
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snat_and_floating_ips() {
        let plan = NatPlan {
            gw_dev: Some("qg-1"),
            snat_to: Some("172.24.4.10".into()),
            internal: vec!["10.0.0.0/24".parse().unwrap()],
            floating: vec![("172.24.4.20".into(), "10.0.0.5".into())],
        };
        let s = render(&plan).unwrap();
        assert!(s.contains("ip daddr 172.24.4.20 dnat to 10.0.0.5"));
        assert!(s.contains("oifname \"qg-1\" ip saddr 10.0.0.5 snat to 172.24.4.20"));
        assert!(s.contains("ip saddr { 10.0.0.0/24 } snat to 172.24.4.10"));
        assert!(s.contains("oifname \"qr-*\" ct status dnat ip saddr { 10.0.0.0/24 } masquerade"));
        let none = NatPlan { gw_dev: None, snat_to: None, internal: vec![], floating: vec![] };
        assert!(!render(&none).unwrap().contains("chain"));
        let bad = NatPlan { floating: vec![("x".into(), "10.0.0.5".into())], ..plan };
        assert!(render(&bad).is_err());
    }
}
