//! The credential key repository and the credentials it protects.
//!
//! Credential blobs (EC2 secrets, certificates, TOTP seeds, …) are stored
//! encrypted with Fernet keys kept like the token keys (files named by
//! integers: `0` staged, the highest number primary, the rest secondaries; see
//! [`crate::token::fernet_keys`]), in `[credential] key_repository`, by default
//! `credential-keys` beside the token key repository (`<data dir>/credential-keys`).
//! Each row records a hash of the primary key that encrypted it, so a rotation
//! can re-encrypt what an old key protects before that key is dropped.

use std::fs;
use std::path::{Path, PathBuf};

use fernet::{Fernet, MultiFernet};
use rustack_common::Error;
use sha2::{Digest, Sha256};

use crate::model::Extra;
use crate::store::credentials::StoredCredential;
use crate::token::fernet_keys::{self, KeyError};
use crate::Identity;

/// Keys a credential repository keeps: staged, primary and one secondary, as
/// Keystone does for credentials (it has no option for this).
pub const MAX_ACTIVE_KEYS: usize = 3;

/// A credential, decrypted.
#[derive(Debug, Clone)]
pub struct Credential {
    pub id: String,
    pub user_id: String,
    pub project_id: Option<String>,
    pub cred_type: String,
    pub blob: String,
    pub extra: Extra,
}

/// The loaded keys of a credential repository.
pub struct CredentialKeys {
    multi: MultiFernet,
    primary: Fernet,
    /// Hash of the primary key, stored beside what it encrypts.
    pub primary_hash: String,
    pub count: usize,
}

impl CredentialKeys {
    /// Encrypts with the primary key; returns the ciphertext and the key hash.
    pub fn encrypt(&self, plain: &[u8]) -> (String, String) {
        (self.primary.encrypt(plain), self.primary_hash.clone())
    }

    /// Decrypts with whichever key opens it.
    pub fn decrypt(&self, cipher: &str) -> Option<Vec<u8>> {
        self.multi.decrypt(cipher).ok()
    }
}

fn numbered_files(dir: &Path) -> Result<Vec<(u64, PathBuf)>, KeyError> {
    let rd = fs::read_dir(dir).map_err(|e| KeyError::Io(dir.into(), e))?;
    let mut v: Vec<(u64, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse::<u64>().ok()?, e.path())))
        .collect();
    // primary (highest) first, staged (0) last
    v.sort_by_key(|(n, _)| std::cmp::Reverse(*n));
    Ok(v)
}

fn key_hash(key: &str) -> String {
    let d = Sha256::digest(key.trim().as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Creates the repository if it has no keys (as `keystone-manage credential_setup`).
pub fn setup(dir: &Path) -> Result<bool, KeyError> {
    fernet_keys::setup(dir)
}

/// Loads the keys of `dir`, primary first.
pub fn load(dir: &Path) -> Result<CredentialKeys, KeyError> {
    let files = numbered_files(dir)?;
    if files.is_empty() {
        return Err(KeyError::Empty(dir.into()));
    }
    let mut fernets = Vec::new();
    let mut primary = None;
    for (n, p) in &files {
        let k = fs::read_to_string(p).map_err(|e| KeyError::Io(dir.into(), e))?;
        let f = Fernet::new(k.trim()).ok_or_else(|| KeyError::BadKey(dir.into(), n.to_string()))?;
        if primary.is_none() {
            primary = Some((Fernet::new(k.trim()).expect("parsed above"), key_hash(&k)));
        }
        fernets.push(f);
    }
    let (primary, primary_hash) = primary.expect("at least one key");
    let count = fernets.len();
    Ok(CredentialKeys { multi: MultiFernet::new(fernets), primary, primary_hash, count })
}

/// Where the credential keys live: `[credential] key_repository`, else
/// `credential-keys` beside the token key repository.
pub fn repository(config: &rustack_common::config::Config, token_key_dir: &Path) -> PathBuf {
    if let Some(d) = config.ini.str("credential", "key_repository") {
        return PathBuf::from(d);
    }
    token_key_dir.parent().map(|p| p.join("credential-keys")).unwrap_or_else(|| PathBuf::from("credential-keys"))
}

fn key_error(e: KeyError) -> Error {
    tracing::error!(error = %e, "credential key repository");
    Error::new(
        rustack_common::ErrorKind::Internal,
        "An unexpected error prevented the server from accessing encrypted credentials.",
    )
}

/// What [`Identity::rotate_credential_keys`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RotationReport {
    /// Credentials re-encrypted with the new primary key.
    pub reencrypted: usize,
    /// Keys in the repository afterwards.
    pub keys: usize,
}

impl Identity {
    /// The credential key repository of this service.
    pub fn credential_key_dir(&self) -> PathBuf {
        repository(self.config(), &self.inner.key_dir)
    }

    /// The credential keys, creating the repository on first use. Read from
    /// disk each time: keys rotated by another process apply at once.
    pub fn credential_keys(&self) -> Result<CredentialKeys, Error> {
        let dir = self.credential_key_dir();
        let empty = numbered_files(&dir).map(|f| f.is_empty()).unwrap_or(true);
        if empty {
            // one creator at a time: two racing setups would each write keys
            static SETUP: std::sync::Mutex<()> = std::sync::Mutex::new(());
            let _guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
            setup(&dir).map_err(key_error)?;
        }
        load(&dir).map_err(key_error)
    }

    fn open_credential(&self, keys: &CredentialKeys, c: StoredCredential) -> Result<Credential, Error> {
        let plain = keys.decrypt(&c.encrypted_blob).ok_or_else(|| {
            tracing::error!(credential_id = %c.id, key_hash = %c.key_hash, "credential could not be decrypted: its key is gone");
            Error::new(rustack_common::ErrorKind::Internal, "Credential could not be decrypted. Please contact the administrator")
        })?;
        let blob = String::from_utf8(plain).map_err(|e| Error::internal(&e))?;
        Ok(Credential {
            id: c.id,
            user_id: c.user_id,
            project_id: c.project_id,
            cred_type: c.cred_type,
            blob,
            extra: c.extra,
        })
    }

    /// Stores a new credential, its blob encrypted.
    pub async fn create_credential(&self, c: &Credential) -> Result<(), Error> {
        let keys = self.credential_keys()?;
        let (encrypted_blob, key_hash) = keys.encrypt(c.blob.as_bytes());
        self.store()
            .create_credential(&StoredCredential {
                id: c.id.clone(),
                user_id: c.user_id.clone(),
                project_id: c.project_id.clone(),
                cred_type: c.cred_type.clone(),
                encrypted_blob,
                key_hash,
                extra: c.extra.clone(),
            })
            .await
    }

    pub async fn get_credential(&self, id: &str) -> Result<Option<Credential>, Error> {
        match self.store().get_credential(id).await? {
            None => Ok(None),
            Some(c) => Ok(Some(self.open_credential(&self.credential_keys()?, c)?)),
        }
    }

    pub async fn list_credentials(
        &self,
        user_id: Option<&str>,
        cred_type: Option<&str>,
    ) -> Result<Vec<Credential>, Error> {
        let rows = self.store().list_credentials(user_id, cred_type).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let keys = self.credential_keys()?;
        rows.into_iter().map(|c| self.open_credential(&keys, c)).collect()
    }

    /// Replaces a credential's blob.
    pub async fn update_credential_blob(&self, id: &str, blob: &str) -> Result<(), Error> {
        let keys = self.credential_keys()?;
        let (enc, hash) = keys.encrypt(blob.as_bytes());
        self.store().set_credential_blob(id, &enc, &hash, None).await?;
        Ok(())
    }

    /// Re-encrypts every credential not encrypted with the primary key (as
    /// `keystone-manage credential_migrate`); returns how many it changed.
    pub async fn migrate_credentials(&self) -> Result<usize, Error> {
        let keys = self.credential_keys()?;
        let mut n = 0;
        for c in self.store().credentials_not_under_key(&keys.primary_hash).await? {
            let old_hash = c.key_hash.clone();
            let id = c.id.clone();
            let open = self.open_credential(&keys, c)?;
            let (enc, hash) = keys.encrypt(open.blob.as_bytes());
            if self.store().set_credential_blob(&id, &enc, &hash, Some(&old_hash)).await? {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Rotates the credential keys without losing a credential: everything
    /// is first re-encrypted with the current primary key (so the oldest key,
    /// which rotation drops, protects nothing), then the staged key becomes
    /// primary and everything is re-encrypted with it.
    pub async fn rotate_credential_keys(&self) -> Result<RotationReport, Error> {
        self.migrate_credentials().await?;
        let dir = self.credential_key_dir();
        fernet_keys::rotate(&dir, MAX_ACTIVE_KEYS).map_err(key_error)?;
        let reencrypted = self.migrate_credentials().await?;
        let keys = self.credential_keys()?.count;
        Ok(RotationReport { reencrypted, keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primary_is_the_highest_key_and_rotation_keeps_secondaries_readable() {
        let dir = std::env::temp_dir().join(format!("cred-keys-test-{}-{}", std::process::id(), line!()));
        let _ = fs::remove_dir_all(&dir);
        assert!(setup(&dir).unwrap());
        let k1 = load(&dir).unwrap();
        assert_eq!(k1.count, 2);
        let (c, h1) = k1.encrypt(b"secret blob");
        assert_eq!(h1.len(), 64);
        fernet_keys::rotate(&dir, MAX_ACTIVE_KEYS).unwrap();
        let k2 = load(&dir).unwrap();
        assert_ne!(k2.primary_hash, h1, "the staged key became primary");
        assert_eq!(k2.decrypt(&c).as_deref(), Some(&b"secret blob"[..]));
        // a long blob (a certificate) is fine: no token-size limit here
        let big = vec![b'x'; 10_000];
        let (c2, _) = k2.encrypt(&big);
        assert_eq!(k2.decrypt(&c2).unwrap().len(), 10_000);
        assert!(k2.decrypt("garbage").is_none());
        fs::remove_dir_all(&dir).unwrap();
    }
}
