//! OS-EC2: a user's EC2 credentials (`/v3/users/{user_id}/credentials/OS-EC2`,
//! stored as credentials of type `ec2`) and `POST /v3/ec2tokens`, which checks
//! the signature of a request an EC2 client signed with the secret and answers
//! with a project-scoped token (method `ec2credential`).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use hmac::{Hmac, Mac};
use rustack_common::Error;
use rustack_http::token_layer::Authenticated;
use rustack_http::{ApiResult, JsonBody};
use rustack_policy::Target;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::credentials::{ec2_credential_id, require_primary_auth};
use super::{created, list_response, no_content, ok, projects, users, Query};
use crate::credential_keys::Credential;
use crate::oauth1::pct_encode;
use crate::token::payload::{self, PayloadScope};
use crate::token::NewToken;
use crate::Identity;

pub(super) fn routes() -> Router<Identity> {
    Router::new()
        .route("/v3/users/{user_id}/credentials/OS-EC2", get(list).post(create))
        .route("/v3/users/{user_id}/credentials/OS-EC2/{credential_id}", get(show).delete(delete))
        .route("/v3/ec2tokens", post(ec2tokens))
}

/// Policy rules of this API: (name, check string, allowed with a domain-scoped token).
pub(crate) const RULES: &[(&str, &str, bool)] = &[
    (
        "identity:ec2_get_credential",
        "(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s",
        false,
    ),
    (
        "identity:ec2_list_credentials",
        "(rule:admin_required) or (role:reader and system_scope:all) or rule:owner",
        false,
    ),
    (
        "identity:ec2_create_credential",
        "(rule:admin_required) or (role:member and user_id:%(target.credential.user_id)s)",
        false,
    ),
    (
        "identity:ec2_delete_credential",
        "(rule:admin_required) or (role:member and user_id:%(target.credential.user_id)s)",
        false,
    ),
    ("identity:ec2tokens_validate", "rule:service_or_admin", true),
];

/// The OS-EC2 view of an ec2 credential.
fn render(id: &Identity, c: &Credential) -> Value {
    let blob: serde_json::Map<String, Value> = serde_json::from_str(&c.blob).unwrap_or_default();
    let get = |k: &str| blob.get(k).cloned().unwrap_or(Value::Null);
    let access = get("access");
    json!({
        "user_id": c.user_id, "tenant_id": c.project_id,
        "access": access, "secret": get("secret"), "trust_id": get("trust_id"),
        "links": {"self": id.link(&format!("users/{}/credentials/OS-EC2/{}", c.user_id, access.as_str().unwrap_or_default()))}
    })
}

async fn list(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(uid): Path<String>,
    q: Query,
) -> ApiResult<Json<Value>> {
    id.enforce("identity:ec2_list_credentials", &ctx, Target::new().with("user_id", uid.as_str()))?;
    require_primary_auth(&ctx)?;
    let u = users::find(&id, &uid).await?;
    let items = id.list_credentials(Some(&u.id), Some("ec2")).await?.iter().map(|c| render(&id, c)).collect();
    Ok(list_response(&id, "credentials", &format!("users/{uid}/credentials/OS-EC2"), &q, items))
}

async fn create(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path(uid): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    id.enforce("identity:ec2_create_credential", &ctx, Target::new().with("target.credential.user_id", uid.as_str()))?;
    let u = users::find(&id, &uid).await?;
    let v: Value =
        if body.iter().all(u8::is_ascii_whitespace) { json!({}) } else { rustack_http::json::parse_json(&body)? };
    let tenant = match v.get("tenant_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(
                Error::bad_request("Invalid input for field 'tenant_id': 'tenant_id' is a required property.").into()
            )
        }
        Some(_) => return Err(Error::bad_request("Invalid input for field 'tenant_id': expected a string.").into()),
    };
    let p = projects::find(&id, &tenant).await?;
    require_primary_auth(&ctx)?;
    let access = uuid::Uuid::new_v4().simple().to_string();
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let blob = json!({"access": access, "secret": secret, "trust_id": null});
    let c = Credential {
        id: ec2_credential_id(&access),
        user_id: u.id.clone(),
        project_id: Some(p.id.clone()),
        cred_type: "ec2".into(),
        blob: blob.to_string(),
        extra: Default::default(),
    };
    id.create_credential(&c).await?;
    Ok(created("credential", render(&id, &c)))
}

/// The credential of access key `access`: 404 when there is none (before the
/// policy check, as Keystone loads it to build the target).
async fn find(id: &Identity, access: &str) -> Result<Credential, Error> {
    id.get_credential(&ec2_credential_id(access))
        .await?
        .ok_or_else(|| Error::not_found_entity("credential", &ec2_credential_id(access)))
}

async fn show(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((uid, access)): Path<(String, String)>,
) -> ApiResult<Response> {
    let c = find(&id, &access).await?;
    id.enforce(
        "identity:ec2_get_credential",
        &ctx,
        Target::new().with("target.credential.user_id", c.user_id.as_str()).with("user_id", uid.as_str()),
    )?;
    users::find(&id, &uid).await?;
    if c.cred_type != "ec2" {
        return Err(Error::unauthorized("EC2 access key not found.").into());
    }
    require_primary_auth(&ctx)?;
    Ok(ok("credential", render(&id, &c)))
}

async fn delete(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    Path((uid, access)): Path<(String, String)>,
) -> ApiResult<Response> {
    let c = find(&id, &access).await?;
    id.enforce(
        "identity:ec2_delete_credential",
        &ctx,
        Target::new().with("target.credential.user_id", c.user_id.as_str()).with("user_id", uid.as_str()),
    )?;
    users::find(&id, &uid).await?;
    if c.cred_type != "ec2" {
        return Err(Error::unauthorized("EC2 access key not found.").into());
    }
    require_primary_auth(&ctx)?;
    id.store().delete_credential(&c.id).await?;
    Ok(no_content())
}

// ---- POST /v3/ec2tokens ----

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// What an EC2 client sends for verification: the parts of the request it signed.
#[derive(Debug, Clone, Default)]
pub struct SignedRequest {
    pub access: String,
    pub signature: Option<String>,
    pub host: String,
    pub verb: String,
    pub path: String,
    pub params: BTreeMap<String, String>,
    pub headers: Vec<(String, String)>,
    pub body_hash: String,
}

impl SignedRequest {
    fn from_json(v: &Value) -> SignedRequest {
        let s = |k: &str| v.get(k).map(text).unwrap_or_default();
        let map = |k: &str| -> Vec<(String, String)> {
            v.get(k)
                .and_then(Value::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
                .unwrap_or_default()
        };
        SignedRequest {
            access: s("access"),
            signature: v.get("signature").filter(|x| !x.is_null()).map(text).filter(|x| !x.is_empty()),
            host: s("host"),
            verb: s("verb"),
            path: s("path"),
            params: map("params").into_iter().collect(),
            headers: map("headers"),
            body_hash: s("body_hash"),
        }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn is_v4(&self) -> bool {
        match self.header("Authorization") {
            Some(a) => a.starts_with("AWS4-HMAC-SHA256"),
            None => self.params.get("X-Amz-Algorithm").map(String::as_str) == Some("AWS4-HMAC-SHA256"),
        }
    }

    /// When the client signed the request, if it said.
    fn timestamp(&self) -> Option<&str> {
        self.params
            .get("Timestamp")
            .map(String::as_str)
            .or_else(|| self.header("X-Amz-Date"))
            .or_else(|| self.params.get("X-Amz-Date").map(String::as_str))
    }
}

fn hmac_sha1(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Sorted `key=value` pairs, RFC 3986 encoded (AWS signature versions 2 and 4).
fn canonical_qs(params: &BTreeMap<String, String>) -> String {
    params.iter().map(|(k, v)| format!("{}={}", pct_encode(k), pct_encode(v))).collect::<Vec<_>>().join("&")
}

fn bad_signature() -> Error {
    Error::unauthorized("Invalid EC2 signature.")
}

/// The signature the client should have sent (AWS signature versions 0, 1, 2
/// and 4, as Keystone computes them). An unknown version is an error.
pub fn ec2_signature(secret: &str, r: &SignedRequest) -> Result<String, Error> {
    let key = secret.as_bytes();
    match r.params.get("SignatureVersion").map(String::as_str) {
        Some("0") => {
            let p = |k: &str| r.params.get(k).cloned().unwrap_or_default();
            Ok(b64(&hmac_sha1(key, format!("{}{}", p("Action"), p("Timestamp")).as_bytes())))
        }
        Some("1") => {
            let mut keys: Vec<&String> = r.params.keys().collect();
            keys.sort_by_key(|k| k.to_lowercase());
            let mut msg = Vec::new();
            for k in keys {
                msg.extend_from_slice(k.as_bytes());
                msg.extend_from_slice(r.params[k].as_bytes());
            }
            Ok(b64(&hmac_sha1(key, &msg)))
        }
        Some("2") => {
            let mut params = r.params.clone();
            params.insert("SignatureMethod".into(), "HmacSHA256".into());
            let to_sign = format!("{}\n{}\n{}\n{}", r.verb, r.host, r.path, canonical_qs(&params));
            Ok(b64(&hmac_sha256(key, to_sign.as_bytes())))
        }
        _ if r.is_v4() => signature_v4(secret, r),
        Some(v) => Err(Error::unauthorized(format!("Unknown signature version: {v}"))),
        None => Err(Error::unauthorized("Unexpected signature format")),
    }
}

fn signature_v4(secret: &str, r: &SignedRequest) -> Result<String, Error> {
    let auth_param = |name: &str| -> String {
        match r.header("Authorization") {
            Some(a) => a
                .split_once(&format!("{name}="))
                .map(|(_, rest)| rest.split(',').next().unwrap_or_default().to_string())
                .unwrap_or_default(),
            None => r.params.get(&format!("X-Amz-{name}")).cloned().unwrap_or_default(),
        }
    };
    let date =
        r.header("X-Amz-Date").map(str::to_string).or_else(|| r.params.get("X-Amz-Date").cloned()).unwrap_or_default();
    let signed_headers = auth_param("SignedHeaders");
    let lower: Vec<(String, String)> =
        r.headers.iter().map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())).collect();
    let mut header_lines = String::new();
    for h in signed_headers.split(';') {
        if let Some((_, v)) = lower.iter().rev().find(|(k, _)| k == h) {
            header_lines.push_str(&format!("{h}:{v}\n"));
        }
    }
    if header_lines.is_empty() {
        header_lines.push('\n');
    }
    let qs = if r.verb.eq_ignore_ascii_case("POST") { String::new() } else { canonical_qs(&r.params) };
    let canonical =
        [r.verb.to_uppercase(), r.path.clone(), qs, header_lines, signed_headers.clone(), r.body_hash.clone()]
            .join("\n");
    let credential = auth_param("Credential");
    let parts: Vec<&str> = credential.split('/').collect();
    if parts.len() < 4 {
        return Err(bad_signature());
    }
    let scope = parts[1..].join("/");
    if !date.starts_with(parts[1]) {
        return Err(Error::unauthorized("Request date mismatch error"));
    }
    let to_sign = format!("AWS4-HMAC-SHA256\n{date}\n{scope}\n{}", hex(&Sha256::digest(canonical.as_bytes())));
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), parts[1].as_bytes());
    let k_region = hmac_sha256(&k_date, parts[2].as_bytes());
    let k_service = hmac_sha256(&k_region, parts[3].as_bytes());
    let k_signing = hmac_sha256(&k_service, b"aws4_request");
    Ok(hex(&hmac_sha256(&k_signing, to_sign.as_bytes())))
}

/// Checks the client's signature; some clients sign without the port, so a
/// host with a port is tried again without it.
pub fn check_signature(secret: &str, r: &SignedRequest) -> Result<(), Error> {
    let Some(given) = &r.signature else {
        return Err(Error::unauthorized("EC2 signature not supplied."));
    };
    let expected = ec2_signature(secret, r)?;
    if Identity::secrets_equal(given, &expected) {
        return Ok(());
    }
    if let Some((host, _port)) =
        r.host.rsplit_once(':').filter(|(h, p)| !h.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    {
        let mut r2 = r.clone();
        r2.host = host.trim_start_matches('[').trim_end_matches(']').to_lowercase();
        let expected = ec2_signature(secret, &r2)?;
        if Identity::secrets_equal(given, &expected) {
            return Ok(());
        }
    }
    Err(bad_signature())
}

/// A signing time: ISO 8601 (`2026-01-01T00:00:00Z`) or AWS's basic form
/// (`20260101T000000Z`).
fn parse_timestamp(s: &str) -> Option<rustack_common::time::Timestamp> {
    rustack_common::time::parse_iso(s).or_else(|| {
        chrono::NaiveDateTime::parse_from_str(s.trim_end_matches('Z'), "%Y%m%dT%H%M%S").ok().map(|n| n.and_utc())
    })
}

fn check_timestamp(id: &Identity, r: &SignedRequest) -> Result<(), Error> {
    let Some(ts) = r.timestamp() else { return Ok(()) };
    let t = parse_timestamp(ts).ok_or_else(|| Error::unauthorized(format!("Credential timestamp is invalid: {ts}")))?;
    let ttl_minutes = id.config().ini.int("credential", "auth_ttl").unwrap_or(15) as i64;
    if rustack_common::time::now() > t + chrono::Duration::minutes(ttl_minutes) {
        return Err(Error::unauthorized("Credential is expired"));
    }
    Ok(())
}

async fn ec2tokens(
    State(id): State<Identity>,
    Authenticated(ctx): Authenticated,
    JsonBody(v): JsonBody<Value>,
) -> ApiResult<Response> {
    id.enforce("identity:ec2tokens_validate", &ctx, Target::new())?;
    let creds = ["credentials", "credential", "ec2Credentials"]
        .iter()
        .find_map(|k| v.get(*k).filter(|c| c.as_object().is_some_and(|m| !m.is_empty())))
        .cloned()
        .unwrap_or_else(|| json!({}));
    if creds.get("access").is_none() {
        return Err(Error::unauthorized("EC2 Signature not supplied").into());
    }
    let req = SignedRequest::from_json(&creds);
    let not_found = || Error::not_found("EC2 access key not found.");
    let c = id
        .get_credential(&ec2_credential_id(&req.access))
        .await?
        .filter(|c| c.cred_type == "ec2")
        .ok_or_else(not_found)?;
    let blob: serde_json::Map<String, Value> = serde_json::from_str(&c.blob).unwrap_or_default();
    let field = |k: &str| blob.get(k).and_then(Value::as_str).map(str::to_string);
    check_signature(&field("secret").unwrap_or_default(), &req)?;
    let project_id = c.project_id.clone().ok_or_else(|| Error::unauthorized("The EC2 credential has no project."))?;
    let project = projects::find(&id, &project_id).await?;
    let user = users::find(&id, &c.user_id).await?;
    if !user.enabled || !project.enabled {
        return Err(Error::unauthorized("The request you have made requires authentication.").into());
    }
    check_timestamp(&id, &req)?;
    let mut new = NewToken {
        user,
        scope: PayloadScope::Project(project.id.clone()),
        methods: payload::METHOD_EC2,
        audit_ids: vec![payload::new_audit_id()],
        expires_at: None,
        app_cred: None,
        trust_id: field("trust_id"),
        access_token_id: None,
    };
    if let Some(acid) = field("app_cred_id") {
        let a = id
            .store()
            .get_app_cred(&acid)
            .await?
            .ok_or_else(|| Error::unauthorized("The application credential of this EC2 credential is gone."))?;
        if a.project_id.as_deref() != Some(project.id.as_str()) {
            return Err(Error::unauthorized(
                "EC2 credential project does not match the application credential project.",
            )
            .into());
        }
        new.app_cred = Some(a);
    } else if let Some(atid) = field("access_token_id") {
        let at = id
            .store()
            .get_oauth_access_token(&atid)
            .await?
            .ok_or_else(|| Error::unauthorized("The OAuth1 access token of this EC2 credential is gone."))?;
        if at.project_id != project.id {
            return Err(
                Error::unauthorized("EC2 credential project does not match the OAuth1 access token project.").into()
            );
        }
        new.access_token_id = Some(atid);
    }
    let t = id.issue_token(new).await.map_err(|e| match e.kind {
        rustack_common::ErrorKind::Unauthorized => Error::unauthorized("User not valid for project."),
        _ => e,
    })?;
    let catalog = id.catalog(t.project_id()).await?;
    let body = serde_json::to_vec(&json!({"token": t.to_json(Some(catalog))})).expect("token serializes");
    let mut r = (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    if let Ok(h) = HeaderValue::from_str(&t.id) {
        r.headers_mut().insert("x-subject-token", h);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(params: &[(&str, &str)]) -> SignedRequest {
        SignedRequest {
            access: "ak".into(),
            signature: None,
            host: "ec2.example.com:8773".into(),
            verb: "GET".into(),
            path: "/".into(),
            params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            headers: Vec::new(),
            body_hash: String::new(),
        }
    }

    #[test]
    fn signature_v2_matches_a_known_value() {
        // computed independently with Python's hmac over the same string to sign
        let r = req(&[
            ("Action", "DescribeInstances"),
            ("SignatureVersion", "2"),
            ("Timestamp", "2026-01-01T00:00:00Z"),
            ("AWSAccessKeyId", "ak"),
        ]);
        let s = ec2_signature("secret", &r).unwrap();
        let to_sign = "GET\nec2.example.com:8773\n/\nAWSAccessKeyId=ak&Action=DescribeInstances&SignatureMethod=HmacSHA256&SignatureVersion=2&Timestamp=2026-01-01T00%3A00%3A00Z";
        assert_eq!(s, b64(&hmac_sha256(b"secret", to_sign.as_bytes())));
        assert_eq!(s, "dvYYVM3DBFtKd5u16Pcw9udh+A83in5NR39nN+ju8/8=");
        let mut signed = r.clone();
        signed.signature = Some(s);
        check_signature("secret", &signed).unwrap();
        check_signature("other", &signed).unwrap_err();
        // signed without the port: still accepted
        let mut noport = r.clone();
        noport.host = "ec2.example.com".into();
        let mut sent = r.clone();
        sent.signature = Some(ec2_signature("secret", &noport).unwrap());
        check_signature("secret", &sent).unwrap();
        let mut none = r;
        none.signature = None;
        assert_eq!(check_signature("secret", &none).unwrap_err().message, "EC2 signature not supplied.");
    }

    #[test]
    fn signature_v4_follows_the_aws_example() {
        // AWS's published example (sigv4 "get-vanilla" style request)
        let mut r = req(&[]);
        r.host = "example.amazonaws.com".into();
        r.headers = vec![
            ("Host".into(), "example.amazonaws.com".into()),
            ("X-Amz-Date".into(), "20150830T123600Z".into()),
            ("Authorization".into(), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=x".into()),
        ];
        r.body_hash = hex(&Sha256::digest(b""));
        let s = ec2_signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &r).unwrap();
        assert_eq!(s, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        // a date outside the credential scope is refused
        r.headers[1].1 = "20150831T000000Z".into();
        assert!(ec2_signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", &r).is_err());
    }

    #[test]
    fn signature_versions_0_and_1_and_timestamps() {
        let r = req(&[("Action", "A"), ("Timestamp", "T"), ("SignatureVersion", "0")]);
        assert_eq!(ec2_signature("k", &r).unwrap(), b64(&hmac_sha1(b"k", b"AT")));
        let r = req(&[("b", "2"), ("A", "1"), ("SignatureVersion", "1")]);
        assert_eq!(ec2_signature("k", &r).unwrap(), b64(&hmac_sha1(b"k", b"A1b2SignatureVersion1")));
        assert!(ec2_signature("k", &req(&[("SignatureVersion", "9")])).is_err());
        assert!(ec2_signature("k", &req(&[])).is_err());
        assert!(parse_timestamp("20260101T000000Z").is_some());
        assert!(parse_timestamp("2026-01-01T00:00:00Z").is_some());
        assert!(parse_timestamp("yesterday").is_none());
    }
}
