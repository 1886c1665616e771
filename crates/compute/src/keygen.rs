//! Key pairs: fingerprints of imported keys and server-side generation
//! (before microversion 2.92), as Nova does.

use base64::Engine;
use md5::{Digest, Md5};
use rustack_common::Error;

/// The MD5 fingerprint of an OpenSSH public key (`aa:bb:…`); a key that does
/// not parse is a 400 with Nova's message.
pub fn ssh_fingerprint(public_key: &str) -> Result<String, Error> {
    let bad = || Error::bad_request("Keypair data is invalid: failed to generate fingerprint");
    let mut parts = public_key.split_whitespace();
    let kind = parts.next().ok_or_else(bad)?;
    let blob = parts.next().ok_or_else(bad)?;
    if !(kind.starts_with("ssh-") || kind.starts_with("ecdsa-") || kind.starts_with("sk-")) {
        return Err(bad());
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(blob).map_err(|_| bad())?;
    // the blob starts with its own key type as an SSH string
    if raw.len() < 4 {
        return Err(bad());
    }
    let n = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
    if raw.len() < 4 + n || &raw[4..4 + n] != kind.as_bytes() {
        return Err(bad());
    }
    Ok(colon_hex(&Md5::digest(&raw)))
}

/// The fingerprint of an x509 certificate (PEM): SHA-1 over the DER as Nova
/// (here MD5 of the DER body, in the same colon form).
pub fn x509_fingerprint(pem: &str) -> Result<String, Error> {
    let bad = || Error::bad_request("Keypair data is invalid: failed to generate fingerprint");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().join("");
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(bad());
    }
    let der = base64::engine::general_purpose::STANDARD.decode(body.trim()).map_err(|_| bad())?;
    Ok(colon_hex(&Md5::digest(&der)))
}

fn colon_hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// A new ed25519 key pair: (OpenSSH public key, OpenSSH private key PEM).
pub fn generate(comment: &str) -> Result<(String, String), Error> {
    let mut key = ssh_key::PrivateKey::random(&mut rand::rngs::OsRng, ssh_key::Algorithm::Ed25519)
        .map_err(|e| Error::internal(&std::io::Error::other(e.to_string())))?;
    key.set_comment(comment);
    let public = key.public_key().to_openssh().map_err(|e| Error::internal(&std::io::Error::other(e.to_string())))?;
    let private =
        key.to_openssh(ssh_key::LineEnding::LF).map_err(|e| Error::internal(&std::io::Error::other(e.to_string())))?;
    Ok((public, private.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_a_fingerprint() {
        let (public, private) = generate("k").unwrap();
        assert!(public.starts_with("ssh-ed25519 "));
        assert!(private.contains("OPENSSH PRIVATE KEY"));
        let fp = ssh_fingerprint(&public).unwrap();
        assert_eq!(fp.len(), 47);
        assert!(ssh_fingerprint("ssh-rsa not-base64!").is_err());
        assert!(ssh_fingerprint("garbage").is_err());
    }
}
