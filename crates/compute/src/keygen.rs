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

/// A new self-signed X.509 certificate with an Ed25519 key, as Nova makes
/// for `type: x509` without a public key: (certificate PEM, PKCS#8 key PEM).
/// The DER is written here (it is small and fixed in shape).
pub fn generate_x509(common_name: &str) -> (String, String) {
    use ed25519_dalek::Signer;
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let public = key.verifying_key().to_bytes();
    let alg = der(0x30, &der(0x06, &[0x2b, 0x65, 0x70])); // id-Ed25519
    let name = der(
        0x30,
        &der(0x31, &der(0x30, &[der(0x06, &[0x55, 0x04, 0x03]), der(0x0c, common_name.as_bytes())].concat())),
    );
    let now = chrono::Utc::now();
    let t = |d: chrono::DateTime<chrono::Utc>| der(0x17, d.format("%y%m%d%H%M%SZ").to_string().as_bytes());
    let validity = der(0x30, &[t(now), t(now + chrono::Duration::days(3650))].concat());
    let mut serial = [0u8; 9];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut serial[1..]);
    serial[1] &= 0x7f;
    let spki = der(0x30, &[alg.clone(), der(0x03, &[&[0u8][..], &public[..]].concat())].concat());
    let tbs = der(
        0x30,
        &[der(0xa0, &der(0x02, &[2])), der(0x02, &serial[1..]), alg.clone(), name.clone(), validity, name, spki]
            .concat(),
    );
    let sig = key.sign(&tbs).to_bytes();
    let cert = der(0x30, &[tbs, alg.clone(), der(0x03, &[&[0u8][..], &sig[..]].concat())].concat());
    let pkcs8 = der(0x30, &[der(0x02, &[0]), alg, der(0x04, &der(0x04, &key.to_bytes()))].concat());
    (pem("CERTIFICATE", &cert), pem("PRIVATE KEY", &pkcs8))
}

/// One DER element.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes: Vec<u8> = n.to_be_bytes().iter().copied().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn pem(label: &str, der: &[u8]) -> String {
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", lines.join("\n"))
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
        let (cert, key) = generate_x509("k");
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----") && key.contains("PRIVATE KEY"));
        assert_eq!(x509_fingerprint(&cert).unwrap().len(), 47);
    }
}
