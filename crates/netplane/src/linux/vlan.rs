//! VLAN networks on a mapped physical interface, tagged by tc eBPF (see
//! `bpf`; docs/dataplane.md "VLAN networks"). For VLAN `vid` on interface P:
//!
//! - a veth `vl<tag>-<hhh>-<vid>` (in the network's bridge) ↔ `vp<tag>-<hhh>-<vid>`
//!   (not bridged; `hhh` from P's name); on `vp`'s ingress a program tags every frame with `vid`
//!   and redirects it out of P;
//! - on P's ingress one filter per VLAN id (preference = the id): a frame
//!   tagged `vid` is untagged and redirected out of `vp` (so it enters the
//!   bridge through `vl`); anything else falls through to the next filter
//!   and then to the stack, so a flat network bridged on P keeps its
//!   untagged traffic.
//!
//! A program's name says what it does and where it sends frames
//! (`vt<vid>_<ifindex hex>`, `vu<vid>_<ifindex hex>`): an attached filter
//! whose program has the wanted name is left alone, so an apply with
//! nothing to change loads nothing. The ledger records `vlan:<P>:<vid>`
//! before anything is attached, and `clsact:<P>` when the qdisc on P is ours.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use super::{bpf, cmd, host, Ledger, Names};
use crate::{ApplyReport, Error};

/// One VLAN network made real on a physical interface.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Want {
    pub physdev: String,
    pub vid: u16,
    pub bridge: String,
    pub mtu: u32,
}

impl Want {
    pub fn ledger_entry(&self) -> String {
        entry(&self.physdev, self.vid)
    }
}

fn entry(physdev: &str, vid: u16) -> String {
    format!("vlan:{physdev}:{vid}")
}

/// Whether eBPF VLAN tagging works here (probed once per process).
pub fn supported() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE.get_or_init(bpf::probe).clone()
}

fn pin_dir(names: &Names) -> PathBuf {
    PathBuf::from(bpf::BPFFS).join(names.bpf_dir())
}

fn ifindex(dev: &str) -> Result<u32, Error> {
    let p = format!("/sys/class/net/{dev}/ifindex");
    std::fs::read_to_string(&p)
        .map_err(|e| Error::host(format!("read {p}"), e))?
        .trim()
        .parse()
        .map_err(|e| Error::host(format!("parse {p}"), e))
}

/// `tc -j <what> show dev <dev> [ingress]`, parsed (empty output: empty list).
async fn tc_json(args: &[&str]) -> Result<Vec<serde_json::Value>, Error> {
    let mut v = vec!["-j"];
    v.extend_from_slice(args);
    let out = cmd::run("tc", &v).await?;
    if out.trim().is_empty() {
        return Ok(vec![]);
    }
    let j: serde_json::Value =
        serde_json::from_str(&out).map_err(|e| Error::host(format!("parse `tc {}`", args.join(" ")), e))?;
    Ok(j.as_array().cloned().unwrap_or_default())
}

async fn has_clsact(dev: &str) -> Result<bool, Error> {
    Ok(tc_json(&["qdisc", "show", "dev", dev])
        .await?
        .iter()
        .any(|q| q.get("kind").and_then(|k| k.as_str()) == Some("clsact")))
}

/// The ingress filters of `dev`: preference → program name.
async fn ingress_programs(dev: &str) -> Result<BTreeMap<u64, String>, Error> {
    let mut out = BTreeMap::new();
    for f in tc_json(&["filter", "show", "dev", dev, "ingress"]).await? {
        let Some(pref) = f.get("pref").and_then(|p| p.as_u64()) else { continue };
        let name = f.pointer("/options/prog/name").and_then(|n| n.as_str());
        if let Some(name) = name {
            out.insert(pref, name.to_string());
        } else {
            out.entry(pref).or_default();
        }
    }
    Ok(out)
}

/// Attaches the program `name` at `dev`'s ingress with preference `pref`
/// unless a program of that name is there already.
#[allow(clippy::too_many_arguments)]
async fn ensure_filter(
    names: &Names,
    dev: &str,
    pref: u16,
    have: &BTreeMap<u64, String>,
    name: &str,
    pin_file: &str,
    prog: Vec<bpf::Insn>,
    rep: &mut ApplyReport,
) -> Result<(), Error> {
    if have.get(&(pref as u64)).map(String::as_str) == Some(name) {
        return Ok(());
    }
    let fd = bpf::load(name, &prog)?;
    let dir = pin_dir(names);
    std::fs::create_dir_all(&dir).map_err(|e| Error::host(format!("create {}", dir.display()), e))?;
    let path = dir.join(pin_file);
    bpf::pin(&fd, &path)?;
    let path_s = path.to_string_lossy().to_string();
    let pref_s = pref.to_string();
    cmd::run(
        "tc",
        &[
            "filter",
            "replace",
            "dev",
            dev,
            "ingress",
            "pref",
            &pref_s,
            "handle",
            "1",
            "bpf",
            "da",
            "object-pinned",
            &path_s,
        ],
    )
    .await?;
    rep.actions.push(format!("attached eBPF {name} at {dev} ingress"));
    Ok(())
}

/// Makes one VLAN network's leg and programs exist. The caller has checked
/// that P exists and recorded `link:vl…` in the ledger.
pub async fn ensure(
    names: &Names,
    ledger: &mut Ledger,
    links: &BTreeMap<String, host::Link>,
    w: &Want,
    rep: &mut ApplyReport,
) -> Result<(), Error> {
    let (leg, peer) = (names.vlan_leg(&w.physdev, w.vid as u32), names.vlan_trunk_leg(&w.physdev, w.vid as u32));
    let (l, p) = (links.get(&leg), links.get(&peer));
    if l.is_none() || p.is_none() {
        for (name, have) in [(&leg, l), (&peer, p)] {
            if have.is_some() {
                host::delete_link(None, name).await?;
            }
        }
        let mtu = w.mtu.to_string();
        cmd::ip(None, &["link", "add", &leg, "mtu", &mtu, "type", "veth", "peer", "name", &peer, "mtu", &mtu]).await?;
        host::disable_ipv6(&leg);
        host::disable_ipv6(&peer);
        rep.actions.push(format!("created veth {leg} <-> {peer}"));
    }
    if l.and_then(|l| l.master.as_deref()) != Some(w.bridge.as_str()) {
        host::set_master(&leg, &w.bridge).await?;
    }
    for (dev, have) in [(&leg, l), (&peer, p), (&w.physdev, links.get(&w.physdev))] {
        if !have.is_some_and(|h| h.up) {
            host::set_up(None, dev, true).await?;
        }
    }
    if l.is_some_and(|l| l.mtu != w.mtu as u64) || p.is_some_and(|p| p.mtu != w.mtu as u64) {
        for dev in [&leg, &peer] {
            cmd::ip(None, &["link", "set", dev, "mtu", &w.mtu.to_string()]).await?;
        }
    }

    // A wanted program in place implies its clsact qdisc: an unchanged VLAN
    // costs two `tc filter show` and nothing else.
    let (phys_ix, peer_ix) = (ifindex(&w.physdev)?, ifindex(&peer)?);
    let vid = w.vid;
    let (tag_name, untag_name) = (format!("vt{vid}_{phys_ix:x}"), format!("vu{vid}_{peer_ix:x}"));
    let peer_have = ingress_programs(&peer).await?;
    let phys_have = ingress_programs(&w.physdev).await?;
    if phys_have.get(&(vid as u64)) != Some(&untag_name) && !has_clsact(&w.physdev).await? {
        ledger.extend(std::iter::once(format!("clsact:{}", w.physdev)));
        ledger.save()?;
        cmd::run("tc", &["qdisc", "add", "dev", &w.physdev, "clsact"]).await?;
        rep.actions.push(format!("added clsact qdisc on {}", w.physdev));
    }
    if peer_have.get(&1) != Some(&tag_name) && !has_clsact(&peer).await? {
        cmd::run("tc", &["qdisc", "add", "dev", &peer, "clsact"]).await?;
    }
    ensure_filter(
        names,
        &peer,
        1,
        &peer_have,
        &tag_name,
        &format!("tag-{}-{vid}", w.physdev),
        bpf::tag_program(vid, phys_ix),
        rep,
    )
    .await?;
    ensure_filter(
        names,
        &w.physdev,
        vid,
        &phys_have,
        &untag_name,
        &format!("untag-{}-{vid}", w.physdev),
        bpf::untag_program(vid, peer_ix),
        rep,
    )
    .await?;
    Ok(())
}

/// Removes the filters and pins of every `vlan:` entry of the ledger not in
/// `wanted`, and the clsact qdiscs we added on interfaces left without VLANs.
/// The legs go with the stale links. Returns the entries it could not remove.
pub async fn remove_stale(
    names: &Names,
    ledger: &mut Ledger,
    wanted: &BTreeSet<Want>,
    rep: &mut ApplyReport,
) -> Vec<String> {
    let want_entries: BTreeSet<String> = wanted.iter().map(Want::ledger_entry).collect();
    let stale: Vec<(String, u16)> = ledger
        .entries
        .iter()
        .filter(|e| !want_entries.contains(*e))
        .filter_map(|e| {
            let (dev, vid) = e.strip_prefix("vlan:")?.rsplit_once(':')?;
            Some((dev.to_string(), vid.parse().ok()?))
        })
        .collect();
    let mut failed = Vec::new();
    for (dev, vid) in stale {
        let present = std::path::Path::new("/sys/class/net").join(&dev).exists();
        let r = async {
            if present {
                let have = ingress_programs(&dev).await?;
                if have.get(&(vid as u64)).is_some_and(|n| n.starts_with(&format!("vu{vid}_"))) {
                    cmd::run("tc", &["filter", "del", "dev", &dev, "ingress", "pref", &vid.to_string()]).await?;
                    rep.actions.push(format!("detached eBPF of VLAN {vid} from {dev}"));
                }
            }
            Ok::<(), Error>(())
        }
        .await;
        match r {
            Ok(()) => {
                let dir = pin_dir(names);
                for f in [format!("tag-{dev}-{vid}"), format!("untag-{dev}-{vid}")] {
                    let _ = std::fs::remove_file(dir.join(f));
                }
                ledger.entries.remove(&entry(&dev, vid));
            }
            Err(e) => failed.push(format!("VLAN {vid} on {dev}: {e}")),
        }
    }
    // Our clsact qdiscs on interfaces no VLAN network uses any more.
    let clsacts: Vec<String> =
        ledger.entries.iter().filter_map(|e| e.strip_prefix("clsact:")).map(String::from).collect();
    for dev in clsacts {
        if wanted.iter().any(|w| w.physdev == dev)
            || ledger.entries.iter().any(|e| e.starts_with(&format!("vlan:{dev}:")))
        {
            continue;
        }
        let present = std::path::Path::new("/sys/class/net").join(&dev).exists();
        if present {
            // Only when nobody else's filter is left on it.
            match (ingress_programs(&dev).await, tc_json(&["filter", "show", "dev", &dev, "egress"]).await) {
                (Ok(i), Ok(e)) if i.is_empty() && e.is_empty() => {
                    if let Err(e) = cmd::run("tc", &["qdisc", "del", "dev", &dev, "clsact"]).await {
                        failed.push(format!("clsact on {dev}: {e}"));
                        continue;
                    }
                    rep.actions.push(format!("removed clsact qdisc from {dev}"));
                }
                (Ok(_), Ok(_)) => {}
                (Err(e), _) | (_, Err(e)) => {
                    failed.push(format!("clsact on {dev}: {e}"));
                    continue;
                }
            }
        }
        ledger.entries.remove(&format!("clsact:{dev}"));
    }
    if wanted.is_empty() {
        let _ = std::fs::remove_dir(pin_dir(names));
    }
    failed
}
