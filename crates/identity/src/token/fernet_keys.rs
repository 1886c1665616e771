//! The Fernet key repository, as `keystone-manage fernet_setup/fernet_rotate`
//! keeps it: files named by integers in one directory; `0` is the staged key
//! (next primary), the highest number is the primary (encrypts), the rest are
//! secondaries (decrypt only). Rotation promotes the staged key, stages a new
//! one and drops the oldest secondaries beyond `max_active_keys`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use fernet::{Fernet, MultiFernet};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("fernet key repository {0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("fernet key repository {0}: key file {1} is not a valid Fernet key")]
    BadKey(PathBuf, String),
    #[error("fernet key repository {0} has no keys; run `rustack token rotate` or start `rustack up` once")]
    Empty(PathBuf),
}

/// The keys of a repository, primary first.
pub struct Keys {
    multi: MultiFernet,
    pub count: usize,
}

impl Keys {
    /// Encrypts with the primary key; the result has no base64 padding, as
    /// Keystone's tokens.
    pub fn encrypt(&self, payload: &[u8]) -> String {
        self.multi.encrypt(payload).trim_end_matches('=').to_string()
    }

    /// Decrypts with any key; None when no key opens it.
    pub fn decrypt(&self, token: &str) -> Option<Vec<u8>> {
        if token.len() > 1024
            || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
        {
            return None;
        }
        let trimmed = token.trim_end_matches('=');
        let pad = (4 - trimmed.len() % 4) % 4;
        let padded = format!("{trimmed}{}", "=".repeat(pad));
        self.multi.decrypt(&padded).ok()
    }
}

fn key_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, KeyError> {
    let rd = fs::read_dir(dir).map_err(|e| KeyError::Io(dir.into(), e))?;
    let mut v: Vec<(u64, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_str()?.parse::<u64>().ok()?;
            Some((n, e.path()))
        })
        .collect();
    v.sort_by_key(|(n, _)| *n);
    Ok(v)
}

fn write_key(dir: &Path, n: u64) -> Result<(), KeyError> {
    let path = dir.join(n.to_string());
    let tmp = dir.join(format!(".{n}.tmp"));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| KeyError::Io(dir.into(), e))?;
    f.write_all(Fernet::generate_key().as_bytes()).map_err(|e| KeyError::Io(dir.into(), e))?;
    f.sync_all().map_err(|e| KeyError::Io(dir.into(), e))?;
    fs::rename(&tmp, &path).map_err(|e| KeyError::Io(dir.into(), e))
}

/// Creates the repository with a staged and a primary key if it has none.
/// Returns true when it created keys.
pub fn setup(dir: &Path) -> Result<bool, KeyError> {
    fs::create_dir_all(dir).map_err(|e| KeyError::Io(dir.into(), e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| KeyError::Io(dir.into(), e))?;
    if !key_files(dir)?.is_empty() {
        return Ok(false);
    }
    write_key(dir, 0)?;
    write_key(dir, 1)?;
    Ok(true)
}

/// Rotates: staged `0` becomes the new primary, a new staged key is written,
/// and the oldest secondaries are removed so at most `max_active` remain.
pub fn rotate(dir: &Path, max_active: usize) -> Result<(), KeyError> {
    let files = key_files(dir)?;
    if files.is_empty() {
        setup(dir)?;
        return Ok(());
    }
    let max = files.last().map(|(n, _)| *n).unwrap_or(0);
    let staged = dir.join("0");
    if staged.exists() {
        fs::rename(&staged, dir.join((max + 1).to_string())).map_err(|e| KeyError::Io(dir.into(), e))?;
    }
    write_key(dir, 0)?;
    let mut files = key_files(dir)?;
    // keep the staged key plus the newest (max_active - 1) numbered keys
    files.retain(|(n, _)| *n != 0);
    let keep = max_active.max(2) - 1;
    while files.len() > keep {
        let (_, p) = files.remove(0);
        fs::remove_file(&p).map_err(|e| KeyError::Io(dir.into(), e))?;
    }
    Ok(())
}

/// Names and sizes+mtimes of the key files: changes when keys are rotated.
pub fn signature(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = key_files(dir)
        .unwrap_or_default()
        .into_iter()
        .map(|(n, p)| {
            let m = fs::metadata(&p).ok();
            let stamp = m
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            (n.to_string(), stamp)
        })
        .collect();
    v.sort();
    v
}

/// Loads every key, primary (highest number) first, staged (`0`) last.
pub fn load(dir: &Path) -> Result<Keys, KeyError> {
    let mut files = key_files(dir)?;
    if files.is_empty() {
        return Err(KeyError::Empty(dir.into()));
    }
    // primary first: highest number, then the others descending, staged 0 last
    files.sort_by(|a, b| b.0.cmp(&a.0));
    let mut fernets = Vec::new();
    for (n, p) in &files {
        let k = fs::read_to_string(p).map_err(|e| KeyError::Io(dir.into(), e))?;
        let f = Fernet::new(k.trim()).ok_or_else(|| KeyError::BadKey(dir.into(), n.to_string()))?;
        fernets.push(f);
    }
    let count = fernets.len();
    Ok(Keys { multi: MultiFernet::new(fernets), count })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_old_tokens_readable_until_their_key_is_dropped() {
        let dir = std::env::temp_dir().join(format!("fernet-test-{}-{}", std::process::id(), line!()));
        let _ = fs::remove_dir_all(&dir);
        assert!(setup(&dir).unwrap());
        assert!(!setup(&dir).unwrap(), "setup is idempotent");
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let t1 = load(&dir).unwrap().encrypt(b"one");
        assert!(!t1.ends_with('='));
        rotate(&dir, 3).unwrap();
        let k = load(&dir).unwrap();
        assert_eq!(k.count, 3);
        assert_eq!(k.decrypt(&t1).as_deref(), Some(&b"one"[..]), "secondary still decrypts");
        // a token made with the staged key (after rotation) is readable before it is primary
        rotate(&dir, 3).unwrap();
        rotate(&dir, 3).unwrap();
        let k = load(&dir).unwrap();
        assert_eq!(k.count, 3);
        assert!(k.decrypt(&t1).is_none(), "key 1 was rotated out");
        assert!(k.decrypt("not-a-token").is_none());
        assert!(k.decrypt("").is_none());
        let names: Vec<u64> = key_files(&dir).unwrap().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, vec![0, 3, 4]);
        fs::remove_dir_all(&dir).unwrap();
    }
}
