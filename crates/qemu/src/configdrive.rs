//! Config drives: an ISO 9660 volume labelled `config-2` (Rock Ridge and
//! Joliet names) holding `openstack/latest/meta_data.json` and friends, made
//! by `genisoimage` or, failing that, `xorriso -as mkisofs`.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};
use crate::host::run;

/// The volume label cloud-init and our test guest look for.
pub const LABEL: &str = "config-2";

fn tool() -> Option<(&'static str, &'static [&'static str])> {
    let on_path = |p: &str| {
        std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).any(|d| d.join(p).is_file()))
            .unwrap_or(false)
    };
    if on_path("genisoimage") {
        Some(("genisoimage", &[]))
    } else if on_path("xorriso") {
        Some(("xorriso", &["-as", "mkisofs"]))
    } else {
        None
    }
}

/// A relative path with no `..`, root or prefix parts.
fn safe_rel(p: &str) -> Result<PathBuf> {
    let path = Path::new(p);
    if p.is_empty() || !path.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Error::Invalid(format!("config drive path {p:?} must be relative, without ..")));
    }
    Ok(path.to_path_buf())
}

/// Writes the ISO `out` with `files` (path inside the volume → content).
/// The staging tree is made next to `out` and removed afterwards.
pub async fn build(files: &BTreeMap<String, Vec<u8>>, out: &Path) -> Result<()> {
    let (prog, pre) = tool().ok_or_else(|| Error::Command {
        command: "genisoimage".into(),
        message: "neither genisoimage nor xorriso is installed".into(),
    })?;
    let rels = files.keys().map(|k| safe_rel(k)).collect::<Result<Vec<_>>>()?;
    if let Some(parent) = out.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| Error::host(format!("mkdir {}", parent.display()), e))?;
    }
    let stage = out.with_extension("stage");
    let _ = tokio::fs::remove_dir_all(&stage).await;
    let result = async {
        for (rel, data) in rels.iter().zip(files.values()) {
            let p = stage.join(rel);
            if let Some(parent) = p.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| Error::host(format!("mkdir {}", parent.display()), e))?;
            }
            tokio::fs::write(&p, data).await.map_err(|e| Error::host(format!("write {}", p.display()), e))?;
        }
        tokio::fs::create_dir_all(&stage).await.map_err(|e| Error::host("mkdir stage", e))?;
        let out_s = out.to_string_lossy().into_owned();
        let stage_s = stage.to_string_lossy().into_owned();
        let mut args: Vec<&str> = pre.to_vec();
        args.extend_from_slice(&["-quiet", "-o", &out_s, "-V", LABEL, "-J", "-r", &stage_s]);
        run(prog, &args).await.map(|_| ())
    }
    .await;
    let _ = tokio::fs::remove_dir_all(&stage).await;
    result
}

/// The volume label of an ISO 9660 image (primary volume descriptor at
/// sector 16, label at offset 40, 32 bytes, space padded).
pub fn volume_label(iso: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(iso).ok()?;
    f.seek(SeekFrom::Start(16 * 2048)).ok()?;
    let mut pvd = [0u8; 72];
    f.read_exact(&mut pvd).ok()?;
    if &pvd[1..6] != b"CD001" {
        return None;
    }
    Some(String::from_utf8_lossy(&pvd[40..72]).trim_end().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn builds_a_labelled_iso_and_refuses_escaping_paths() {
        let dir = std::env::temp_dir().join(format!("rustack-cd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("config.iso");
        let mut bad = BTreeMap::new();
        bad.insert("../x".to_string(), b"no".to_vec());
        assert!(matches!(build(&bad, &out).await, Err(Error::Invalid(_))));
        if tool().is_none() {
            eprintln!("SKIP: neither genisoimage nor xorriso installed");
            return;
        }
        let mut files = BTreeMap::new();
        files.insert("openstack/latest/meta_data.json".to_string(), br#"{"uuid":"u1"}"#.to_vec());
        files.insert("openstack/latest/user_data".to_string(), b"#!/bin/sh\necho hi\n".to_vec());
        build(&files, &out).await.unwrap();
        assert_eq!(volume_label(&out).as_deref(), Some("config-2"));
        let iso = std::fs::read(&out).unwrap();
        assert!(iso.windows(13).any(|w| w == br#"{"uuid":"u1"}"#), "content is in the image");
        assert!(!out.with_extension("stage").exists(), "staging tree removed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
