//! The EC2 format (`/<version>/meta-data/…`, `/<version>/user-data`), with
//! Nova's version gates. EC2 ids are Nova's `i-%08x`/`ami-%08x` shape, made
//! from the first 32 bits of the uuid (rustack keeps no integer ids).

use std::collections::BTreeMap;

use super::facts::Facts;
use super::tree::Node;

/// Every EC2 version, oldest first.
pub(crate) const VERSIONS: &[&str] = &[
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
];

/// The listing of `/`: the versions, then `latest`.
pub(crate) fn version_list() -> String {
    let mut v = VERSIONS.to_vec();
    v.push("latest");
    v.join("\n")
}

/// The version a path names (`latest` is the newest); None when unknown.
pub(crate) fn version(v: &str) -> Option<&'static str> {
    if v == "latest" {
        return VERSIONS.last().copied();
    }
    VERSIONS.iter().copied().find(|x| *x == v)
}

fn since(v: &str, required: &str) -> bool {
    let pos = |x: &str| VERSIONS.iter().position(|y| *y == x);
    pos(v) >= pos(required)
}

/// `prefix-%08x` from the first eight hex digits of a uuid.
pub(crate) fn ec2_id(prefix: &str, uuid: &str) -> String {
    let hex: String = uuid.chars().filter(char::is_ascii_hexdigit).take(8).collect::<String>().to_lowercase();
    format!("{prefix}-{hex:0>8}")
}

/// The tree of version `v`: `meta-data` and, when the instance has some,
/// `user-data`.
pub(crate) fn tree(f: &Facts, v: &str) -> Node {
    let i = &f.inst;
    let hostname = f.hostname();
    let mut md = Node::dir()
        .with("ami-id", Node::text(ec2_id("ami", &i.image_ref)))
        .with("ami-launch-index", Node::Int(i.launch_index))
        .with("ami-manifest-path", Node::text("FIXME"))
        .with("instance-id", Node::text(ec2_id("i", &i.uuid)))
        .with("hostname", Node::text(hostname.clone()))
        .with("local-ipv4", Node::text(f.fixed_ipv4().unwrap_or_default()))
        .with("reservation-id", Node::text(i.reservation_id.clone()))
        .with("security-groups", Node::List(i.security_groups.clone()));
    if let (Some(name), Some(key)) = (&i.key_name, &i.key_data) {
        let zero = Node::Dir(
            BTreeMap::from([("openssh-key".to_string(), Node::text(key.clone()))]),
            Some(format!("0={name}")),
        );
        md = md.with("public-keys", Node::dir().with("0", zero));
    }
    if since(v, "2007-01-19") {
        md = md
            .with("local-hostname", Node::text(hostname.clone()))
            .with("public-hostname", Node::text(hostname))
            .with("public-ipv4", Node::text(f.floating_ip().unwrap_or_default()));
    }
    if since(v, "2007-08-29") {
        md = md.with("instance-type", Node::text(i.flavor.as_ref().map(|x| x.name.clone()).unwrap_or_default()));
    }
    if since(v, "2007-12-15") {
        md = md.with("block-device-mapping", block_devices(f));
    }
    if since(v, "2008-02-01") {
        md = md.with("placement", Node::dir().with("availability-zone", Node::text(f.availability_zone())));
    }
    if since(v, "2008-09-01") {
        md = md.with("instance-action", Node::text("none"));
    }
    // the first port's MAC (a field EC2 has and cloud-init's EC2 source reads)
    if let Some(p) = f.ports.first() {
        md = md.with("mac", Node::text(p.mac.clone()));
    }
    let mut t = Node::dir().with("meta-data", md);
    if let Some(u) = f.user_data() {
        t = t.with("user-data", Node::Bytes(u));
    }
    t
}

/// Nova's mapping for an image-backed instance on virtio disks.
fn block_devices(f: &Facts) -> Node {
    let mut m = Node::dir().with("ami", Node::text("vda")).with("root", Node::text("/dev/vda"));
    let mut next = b'b';
    if let Some(fl) = &f.inst.flavor {
        if fl.ephemeral > 0 {
            m = m.with("ephemeral0", Node::text(format!("/dev/vd{}", next as char)));
            next += 1;
        }
        if fl.swap > 0 {
            m = m.with("swap", Node::text(format!("/dev/vd{}", next as char)));
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Instance;

    #[test]
    fn ids_and_gates() {
        assert_eq!(ec2_id("i", "0a1b2c3d-0000-0000-0000-000000000000"), "i-0a1b2c3d");
        assert_eq!(ec2_id("ami", ""), "ami-00000000");
        let f = Facts {
            inst: Instance {
                uuid: "0a1b2c3d-0000-0000-0000-000000000000".into(),
                hostname: "vm".into(),
                key_name: Some("k".into()),
                key_data: Some("ssh-ed25519 AAAA k".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let old = tree(&f, "1.0");
        assert!(old.find(&["meta-data", "local-hostname"]).is_none());
        let t = tree(&f, "2009-04-04");
        assert_eq!(t.find(&["meta-data", "hostname"]), Some(&Node::text("vm.novalocal")));
        let keys = t.find(&["meta-data", "public-keys"]).unwrap();
        assert_eq!(keys.print(), b"0=k");
        assert_eq!(t.find(&["meta-data", "public-keys", "0", "openssh-key"]).unwrap().print(), b"ssh-ed25519 AAAA k");
        assert!(t.find(&["user-data"]).is_none());
        assert_eq!(t.print(), b"meta-data/");
    }
}
