//! Reading and changing host objects: links, addresses, namespaces,
//! processes. Small named steps over `ip`; each is idempotent given a
//! snapshot taken at the start of the step.

use std::collections::{BTreeMap, BTreeSet};

use super::cmd::{ip, ip_json, run};
use crate::Error;

/// One link as `ip -j -d addr show` describes it.
#[derive(Debug, Clone, Default)]
pub struct Link {
    pub master: Option<String>,
    pub kind: Option<String>,
    pub mac: String,
    pub up: bool,
    pub mtu: u64,
    /// Global-scope addresses, `ip/prefix`.
    pub addrs: BTreeSet<String>,
}

/// Every link of the host (`ns = None`) or of a namespace, by name.
pub async fn links(ns: Option<&str>) -> Result<BTreeMap<String, Link>, Error> {
    let v = ip_json(ns, &["-d", "addr", "show"]).await?;
    let mut out = BTreeMap::new();
    for l in v.as_array().into_iter().flatten() {
        let Some(name) = l.get("ifname").and_then(|x| x.as_str()) else { continue };
        let flags: Vec<&str> =
            l.get("flags").and_then(|f| f.as_array()).into_iter().flatten().filter_map(|x| x.as_str()).collect();
        let addrs = l
            .get("addr_info")
            .and_then(|a| a.as_array())
            .into_iter()
            .flatten()
            .filter(|a| a.get("scope").and_then(|s| s.as_str()) == Some("global"))
            // Addresses the kernel made from router advertisements are not ours to sync.
            .filter(|a| a.get("dynamic").and_then(|d| d.as_bool()) != Some(true))
            .filter_map(|a| Some(format!("{}/{}", a.get("local")?.as_str()?, a.get("prefixlen")?.as_u64()?)))
            .collect();
        out.insert(
            name.to_string(),
            Link {
                master: l.get("master").and_then(|x| x.as_str()).map(String::from),
                kind: l.get("linkinfo").and_then(|i| i.get("info_kind")).and_then(|x| x.as_str()).map(String::from),
                mac: l.get("address").and_then(|x| x.as_str()).unwrap_or_default().to_ascii_lowercase(),
                up: flags.contains(&"UP"),
                mtu: l.get("mtu").and_then(|x| x.as_u64()).unwrap_or(0),
                addrs,
            },
        );
    }
    Ok(out)
}

/// Names of every network namespace.
pub async fn namespaces() -> Result<BTreeSet<String>, Error> {
    let v = ip_json(None, &["netns", "list"]).await?;
    Ok(v.as_array().into_iter().flatten().filter_map(|n| n.get("name")?.as_str().map(String::from)).collect())
}

pub async fn add_namespace(ns: &str) -> Result<(), Error> {
    ip(None, &["netns", "add", ns]).await?;
    ip(Some(ns), &["link", "set", "lo", "up"]).await?;
    Ok(())
}

/// Ends every process in `ns` (dnsmasq), then removes the namespace.
pub async fn delete_namespace(ns: &str) -> Result<(), Error> {
    if let Ok(out) = run("ip", &["netns", "pids", ns]).await {
        let pids: Vec<i32> = out.split_whitespace().filter_map(|p| p.parse().ok()).collect();
        for &pid in &pids {
            signal(pid, libc::SIGTERM);
        }
        for _ in 0..50 {
            if pids.iter().all(|&p| !alive(p)) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        for &pid in &pids {
            if alive(pid) {
                signal(pid, libc::SIGKILL);
            }
        }
    }
    ip(None, &["netns", "del", ns]).await.map(|_| ())
}

pub fn signal(pid: i32, sig: i32) -> bool {
    // SAFETY: kill(2) with a pid we read from a pid file or `ip netns pids`.
    pid > 1 && unsafe { libc::kill(pid, sig) } == 0
}

pub fn alive(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && std::fs::read_to_string(format!("/proc/{pid}/stat")).map(|s| !s.contains(") Z ")).unwrap_or(false)
}

pub async fn add_bridge(name: &str, mtu: u32) -> Result<(), Error> {
    ip(None, &["link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0"]).await?;
    ip(None, &["link", "set", name, "mtu", &mtu.to_string()]).await?;
    disable_ipv6(name);
    Ok(())
}

/// No IPv6 on a host device of ours (a bridge, a VLAN leg), as Neutron's
/// linuxbridge agent: the host must not configure itself from the router
/// advertisements of tenant networks, nor send on them. Best effort (a
/// kernel without IPv6 has nothing to disable).
pub fn disable_ipv6(name: &str) {
    let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6"), "1");
}

pub async fn delete_link(ns: Option<&str>, name: &str) -> Result<(), Error> {
    ip(ns, &["link", "del", name]).await.map(|_| ())
}

pub async fn set_up(ns: Option<&str>, name: &str, up: bool) -> Result<(), Error> {
    ip(ns, &["link", "set", name, if up { "up" } else { "down" }]).await.map(|_| ())
}

pub async fn set_master(name: &str, bridge: &str) -> Result<(), Error> {
    ip(None, &["link", "set", name, "master", bridge]).await.map(|_| ())
}

/// A veth pair: `host_dev` on the host, `ns_dev` inside `ns`.
pub async fn add_veth(host_dev: &str, ns: &str, ns_dev: &str, mtu: u32) -> Result<(), Error> {
    let mtu = mtu.to_string();
    ip(None, &["link", "add", host_dev, "mtu", &mtu, "type", "veth", "peer", "name", ns_dev, "mtu", &mtu, "netns", ns])
        .await
        .map(|_| ())
}

pub async fn set_mac(ns: Option<&str>, dev: &str, mac: &str) -> Result<(), Error> {
    ip(ns, &["link", "set", dev, "address", mac]).await.map(|_| ())
}

/// Makes the global addresses of `dev` exactly `want` (`ip/prefix`).
pub async fn sync_addrs(
    ns: Option<&str>,
    dev: &str,
    have: &BTreeSet<String>,
    want: &BTreeSet<String>,
) -> Result<bool, Error> {
    let mut changed = false;
    for a in have.difference(want) {
        ip(ns, &["addr", "del", a, "dev", dev]).await?;
        changed = true;
    }
    for a in want.difference(have) {
        if a.contains(':') {
            ip(ns, &["addr", "add", a, "dev", dev, "nodad"]).await?;
        } else {
            ip(ns, &["addr", "add", a, "dev", dev]).await?;
        }
        changed = true;
    }
    Ok(changed)
}

/// Makes the `proto static` routes of namespace `ns` exactly `want`
/// (destination → next hop; destination `default` for the default route).
pub async fn sync_routes(ns: &str, want: &BTreeMap<String, String>) -> Result<bool, Error> {
    let mut have = BTreeMap::new();
    for fam in ["-4", "-6"] {
        let v = ip_json(Some(ns), &[fam, "route", "show", "proto", "static"]).await?;
        for r in v.as_array().into_iter().flatten() {
            if let (Some(d), Some(g)) =
                (r.get("dst").and_then(|x| x.as_str()), r.get("gateway").and_then(|x| x.as_str()))
            {
                have.insert(d.to_string(), g.to_string());
            }
        }
    }
    let mut changed = false;
    for (d, g) in &have {
        if want.get(d) != Some(g) {
            let _ = ip(Some(ns), &["route", "del", d, "via", g, "proto", "static"]).await;
            changed = true;
        }
    }
    for (d, g) in want {
        if have.get(d) != Some(g) {
            ip(Some(ns), &["route", "replace", d, "via", g, "proto", "static"]).await?;
            changed = true;
        }
    }
    Ok(changed)
}
