//! What a Fernet token carries (MessagePack inside the Fernet envelope): who,
//! how they authenticated, the scope, expiry, audit ids, and the application
//! credential it came from. Everything else is looked up when validating.

use serde::{Deserialize, Serialize};

/// How the user proved who they are.
pub const METHOD_PASSWORD: u8 = 1;
pub const METHOD_TOKEN: u8 = 2;
pub const METHOD_APP_CRED: u8 = 4;
pub const METHOD_OAUTH1: u8 = 8;
pub const METHOD_EC2: u8 = 16;

pub fn method_names(bits: u8) -> Vec<String> {
    let mut v = Vec::new();
    if bits & METHOD_PASSWORD != 0 {
        v.push("password".to_string());
    }
    if bits & METHOD_TOKEN != 0 {
        v.push("token".to_string());
    }
    if bits & METHOD_APP_CRED != 0 {
        v.push("application_credential".to_string());
    }
    if bits & METHOD_OAUTH1 != 0 {
        v.push("oauth1".to_string());
    }
    if bits & METHOD_EC2 != 0 {
        v.push("ec2credential".to_string());
    }
    v
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PayloadScope {
    Unscoped,
    Project(String),
    Domain(String),
    System,
}

/// Version 1 of the payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub version: u8,
    pub user_id: String,
    pub methods: u8,
    pub scope: PayloadScope,
    /// Unix time, seconds with microseconds.
    pub issued_at: f64,
    pub expires_at: f64,
    pub audit_ids: Vec<String>,
    pub app_cred_id: Option<String>,
    /// The trust a trust-scoped token acts under (OS-TRUST).
    pub trust_id: Option<String>,
    /// The OAuth1 access token an oauth1 token was made with (OS-OAUTH1).
    pub access_token_id: Option<String>,
}

pub const VERSION: u8 = 1;

impl Payload {
    pub fn encode(&self) -> Vec<u8> {
        rmp_serde::to_vec(self).expect("payload serializes")
    }

    pub fn decode(bytes: &[u8]) -> Option<Payload> {
        let p: Payload = rmp_serde::from_slice(bytes).ok()?;
        (p.version == VERSION).then_some(p)
    }
}

/// A new audit id: 16 random bytes, URL-safe base64 without padding (22
/// characters), as Keystone makes them.
pub fn new_audit_id() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_rejects_other_versions() {
        let p = Payload {
            version: VERSION,
            user_id: "u".repeat(32),
            methods: METHOD_PASSWORD | METHOD_TOKEN,
            scope: PayloadScope::Project("p".repeat(32)),
            issued_at: 1.7e9,
            expires_at: 1.7e9 + 3600.0,
            audit_ids: vec![new_audit_id()],
            app_cred_id: None,
            trust_id: None,
            access_token_id: None,
        };
        assert_eq!(Payload::decode(&p.encode()), Some(p.clone()));
        let mut other = p;
        other.version = 9;
        assert_eq!(Payload::decode(&other.encode()), None);
        assert_eq!(Payload::decode(b"garbage"), None);
        assert_eq!(method_names(METHOD_PASSWORD | METHOD_APP_CRED), vec!["password", "application_credential"]);
        assert_eq!(new_audit_id().len(), 22);
    }
}
