//! The files of a config drive, as Nova's `metadata_for_config_drive` lays
//! them out: `ec2/<v>/meta-data.json` (and `user-data`) for every EC2
//! version and `latest`, `openstack/<v>/…` for every OpenStack version and
//! `latest`, each with the documents that version has.

use std::collections::BTreeMap;

use super::facts::Facts;
use super::tree::Node;
use super::{ec2, openstack};

pub(crate) fn files(f: &Facts) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for v in ec2::VERSIONS.iter().copied().chain(["latest"]) {
        let Some(resolved) = ec2::version(v) else { continue };
        let t = ec2::tree(f, resolved);
        if let Some(Node::Bytes(u)) = t.find(&["user-data"]) {
            out.insert(format!("ec2/{v}/user-data"), u.clone());
        }
        if let Some(md) = t.find(&["meta-data"]) {
            out.insert(format!("ec2/{v}/meta-data.json"), md.to_json().to_string().into_bytes());
        }
    }
    for v in openstack::VERSIONS.iter().copied().chain(["latest"]) {
        let Some(resolved) = openstack::version(v) else { continue };
        for name in openstack::documents(f, resolved) {
            // the password is the guest's to post; a drive carries none
            if let Some((bytes, _)) = openstack::document(f, resolved, name) {
                out.insert(format!("openstack/{v}/{name}"), bytes);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use serde_json::Value;

    use super::*;
    use crate::model::Instance;

    #[test]
    fn a_drive_holds_every_version_of_every_document() {
        let f = Facts {
            inst: Instance {
                uuid: "0a1b2c3d-1111-2222-3333-444455556666".into(),
                name: "vm".into(),
                hostname: "vm".into(),
                key_name: Some("k".into()),
                key_data: Some("ssh-ed25519 AAAA k".into()),
                user_data: Some(base64::engine::general_purpose::STANDARD.encode("#!/bin/sh\ntrue\n")),
                ..Default::default()
            },
            ..Default::default()
        };
        let files = files(&f);
        let md: Value = serde_json::from_slice(&files["openstack/latest/meta_data.json"]).unwrap();
        assert_eq!(md["uuid"], "0a1b2c3d-1111-2222-3333-444455556666");
        assert_eq!(md["hostname"], "vm.novalocal");
        assert_eq!(md["public_keys"]["k"], "ssh-ed25519 AAAA k");
        assert_eq!(files["openstack/latest/user_data"], b"#!/bin/sh\ntrue\n");
        assert_eq!(files["ec2/latest/user-data"], b"#!/bin/sh\ntrue\n");
        for name in ["vendor_data.json", "network_data.json", "vendor_data2.json"] {
            assert!(files.contains_key(&format!("openstack/latest/{name}")), "{name}");
        }
        assert!(files.contains_key("openstack/2012-08-10/meta_data.json"));
        assert!(!files.contains_key("openstack/2012-08-10/network_data.json"));
        assert!(!files.keys().any(|k| k.ends_with("/password")));
        let ec2: Value = serde_json::from_slice(&files["ec2/latest/meta-data.json"]).unwrap();
        assert_eq!(ec2["instance-id"], "i-0a1b2c3d");
        assert_eq!(ec2["public-keys"]["0"]["openssh-key"], "ssh-ed25519 AAAA k");
        assert!(files.contains_key("ec2/1.0/meta-data.json"));
    }
}
