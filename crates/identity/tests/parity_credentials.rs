//! Credentials (`/v3/credentials`, encrypted at rest, key rotation), OS-EC2
//! with `POST /v3/ec2tokens`, OS-OAUTH1 (consumers and the three-legged flow
//! ending in an oauth1 token), and OS-EP-FILTER (endpoint groups, project
//! endpoints and their effect on the catalog).

use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::Method;
use rustack_test_utils::{Resp, TestCloud, ADMIN_PASSWORD};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

fn subject(r: &Resp) -> String {
    r.header("x-subject-token").expect("X-Subject-Token").to_string()
}

async fn user_id(c: &TestCloud, name: &str) -> String {
    c.identity.store().get_user_by_name("default", name).await.unwrap().expect("user").id
}

async fn project_id(c: &TestCloud, name: &str) -> String {
    c.identity.store().get_project_by_name("default", name).await.unwrap().expect("project").id
}

// ---- /v3/credentials ----

#[tokio::test]
async fn credentials_crud_shapes_and_validation() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let demo_id = user_id(&c, "demo").await;
    let demo_project = project_id(&c, "demo").await;
    let blob = r#"{"access": "ak1", "secret": "sk1"}"#;
    let r = c
        .post("/v3/credentials", &admin, json!({"credential": {"user_id": demo_id, "project_id": demo_project, "type": "ec2", "blob": blob, "color": "blue"}}))
        .await
        .expect(201);
    let cred = r.body["credential"].clone();
    // an ec2 credential's id is the SHA-256 of its access key
    assert_eq!(cred["id"], json!(hex(&Sha256::digest(b"ak1"))));
    assert_eq!(cred["user_id"], json!(demo_id));
    assert_eq!(cred["project_id"], json!(demo_project));
    assert_eq!(cred["type"], "ec2");
    assert_eq!(cred["blob"], blob);
    assert_eq!(cred["color"], "blue", "extra attributes are kept");
    let cid = cred["id"].as_str().unwrap().to_string();
    assert_eq!(cred["links"]["self"], json!(format!("{}/v3/credentials/{cid}", c.base)));

    // stored encrypted, with the hash of the key
    let raw = c.identity.store().get_credential(&cid).await.unwrap().unwrap();
    assert!(!raw.encrypted_blob.contains("sk1"));
    assert_eq!(raw.key_hash.len(), 64);

    let r = c.get(&format!("/v3/credentials/{cid}"), &admin).await.expect(200);
    assert_eq!(r.body["credential"], cred);

    // a second credential with the same access key is a conflict
    c.post(
        "/v3/credentials",
        &admin,
        json!({"credential": {"user_id": demo_id, "project_id": demo_project, "type": "ec2", "blob": blob}}),
    )
    .await
    .expect_error(409);

    // only the blob can change
    let new_blob = r#"{"access": "ak2", "secret": "sk2"}"#;
    let r =
        c.patch(&format!("/v3/credentials/{cid}"), &admin, json!({"credential": {"blob": new_blob}})).await.expect(200);
    assert_eq!(r.body["credential"]["id"], json!(cid));
    assert_eq!(r.body["credential"]["blob"], new_blob);
    assert_eq!(r.body["credential"]["project_id"], json!(demo_project));
    let r = c.get(&format!("/v3/credentials/{cid}"), &admin).await.expect(200);
    assert_eq!(r.body["credential"]["blob"], new_blob);
    let r = c
        .patch(&format!("/v3/credentials/{cid}"), &admin, json!({"credential": {"blob": new_blob, "type": "cert"}}))
        .await
        .expect_error(400);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("credential.type"));
    c.patch(&format!("/v3/credentials/{cid}"), &admin, json!({"credential": {}})).await.expect_error(400);
    c.patch(&format!("/v3/credentials/{cid}"), &admin, json!({"credential": {"blob": "not json"}}))
        .await
        .expect_error(400);
    let r = c
        .patch(
            &format!("/v3/credentials/{cid}"),
            &admin,
            json!({"credential": {"blob": r#"{"access": "ak2", "secret": "x", "trust_id": "t"}"#}}),
        )
        .await
        .expect_error(400);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("trust_id"));
    c.patch("/v3/credentials/nope", &admin, json!({"credential": {"blob": "x"}})).await.expect_error(404);

    // other types: no project needed, a generated id
    let r = c
        .post(
            "/v3/credentials",
            &admin,
            json!({"credential": {"user_id": demo_id, "type": "cert", "blob": "-----BEGIN CERT-----"}}),
        )
        .await
        .expect(201);
    assert_eq!(r.body["credential"]["project_id"], Value::Null);
    assert_eq!(r.body["credential"]["id"].as_str().unwrap().len(), 32);
    let cert = r.body["credential"]["id"].as_str().unwrap().to_string();
    let r = c
        .patch(&format!("/v3/credentials/{cert}"), &admin, json!({"credential": {"blob": "free text"}}))
        .await
        .expect(200);
    assert_eq!(r.body["credential"]["blob"], "free text");

    // bad bodies name the field
    for (body, field) in [
        (json!({"credential": {"type": "cert", "blob": "b"}}), "user_id"),
        (json!({"credential": {"user_id": demo_id, "blob": "b"}}), "type"),
        (json!({"credential": {"user_id": demo_id, "type": "cert"}}), "blob"),
        (json!({"credential": {"user_id": demo_id, "type": "ec2", "blob": "{\"access\": \"z\"}"}}), "project_id"),
        (json!({"credential": {"user_id": demo_id, "type": "cert", "blob": 5}}), "credential.blob"),
    ] {
        let r = c.post("/v3/credentials", &admin, body).await.expect_error(400);
        assert!(r.body["error"]["message"].as_str().unwrap().contains(field), "{}", r.body);
    }
    for blob in ["not json", "[]", "{}", r#"{"secret": "s"}"#] {
        c.post(
            "/v3/credentials",
            &admin,
            json!({"credential": {"user_id": demo_id, "project_id": demo_project, "type": "ec2", "blob": blob}}),
        )
        .await
        .expect_error(400);
    }
    c.post("/v3/credentials", &admin, json!({"nope": {}})).await.expect_error(400);

    // list with filters
    let r = c.get("/v3/credentials", &admin).await.expect(200);
    assert_eq!(r.body["credentials"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["links"]["self"], json!(format!("{}/v3/credentials", c.base)));
    let r = c.get("/v3/credentials?type=cert", &admin).await.expect(200);
    assert_eq!(r.body["credentials"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["credentials"][0]["id"], json!(cert));
    let r = c.get(&format!("/v3/credentials?user_id={demo_id}&type=ec2"), &admin).await.expect(200);
    assert_eq!(r.body["credentials"][0]["id"], json!(cid));
    let r = c.get("/v3/credentials?user_id=nobody", &admin).await.expect(200);
    assert_eq!(r.body["credentials"], json!([]));

    let r = c.delete(&format!("/v3/credentials/{cid}"), &admin).await.expect(204);
    assert_eq!(r.body, Value::Null);
    c.get(&format!("/v3/credentials/{cid}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/credentials/{cid}"), &admin).await.expect_error(404);
    c.get("/v3/credentials", "garbage").await.expect_error(401);
}

#[tokio::test]
async fn users_manage_only_their_own_credentials() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let demo = c.demo_token().await;
    let demo_id = user_id(&c, "demo").await;
    let admin_id = user_id(&c, "admin").await;
    let own = c
        .post("/v3/credentials", &demo, json!({"credential": {"user_id": demo_id, "type": "totp", "blob": "seed"}}))
        .await
        .expect(201);
    let own_id = own.body["credential"]["id"].as_str().unwrap().to_string();
    c.post("/v3/credentials", &demo, json!({"credential": {"user_id": admin_id, "type": "totp", "blob": "seed"}}))
        .await
        .expect_error(403);
    let theirs = c
        .post("/v3/credentials", &admin, json!({"credential": {"user_id": admin_id, "type": "cert", "blob": "c"}}))
        .await
        .expect(201);
    let theirs_id = theirs.body["credential"]["id"].as_str().unwrap().to_string();

    // the list shows a user only their own
    let r = c.get("/v3/credentials", &demo).await.expect(200);
    let ids: Vec<&str> = r.body["credentials"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![own_id.as_str()]);
    let r = c.get("/v3/credentials", &admin).await.expect(200);
    assert_eq!(r.body["credentials"].as_array().unwrap().len(), 2);

    c.get(&format!("/v3/credentials/{own_id}"), &demo).await.expect(200);
    c.patch(&format!("/v3/credentials/{own_id}"), &demo, json!({"credential": {"blob": "seed2"}})).await.expect(200);
    c.get(&format!("/v3/credentials/{theirs_id}"), &demo).await.expect_error(403);
    c.patch(&format!("/v3/credentials/{theirs_id}"), &demo, json!({"credential": {"blob": "x"}}))
        .await
        .expect_error(403);
    c.delete(&format!("/v3/credentials/{theirs_id}"), &demo).await.expect_error(403);
    // a missing credential: 403 for a non-owner, 404 for an admin (Keystone's order)
    c.get("/v3/credentials/missing", &demo).await.expect_error(403);
    c.get("/v3/credentials/missing", &admin).await.expect_error(404);
    c.delete(&format!("/v3/credentials/{own_id}"), &demo).await.expect(204);
}

#[tokio::test]
async fn credential_key_rotation_reencrypts_every_credential() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let demo_id = user_id(&c, "demo").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = c
            .post(
                "/v3/credentials",
                &admin,
                json!({"credential": {"user_id": demo_id, "type": "cert", "blob": format!("blob-{i}")}}),
            )
            .await
            .expect(201);
        ids.push(r.body["credential"]["id"].as_str().unwrap().to_string());
    }
    let dir = c.identity.credential_key_dir();
    assert_eq!(dir, c.data_dir().join("credential-keys"));
    let before = c.identity.store().get_credential(&ids[0]).await.unwrap().unwrap().key_hash;
    // more rotations than there are keys: nothing is lost
    for _ in 0..4 {
        let rep = c.identity.rotate_credential_keys().await.unwrap();
        assert_eq!(rep.reencrypted, 3);
        assert_eq!(rep.keys, 3);
    }
    let after = c.identity.store().get_credential(&ids[0]).await.unwrap().unwrap().key_hash;
    assert_ne!(before, after);
    assert_eq!(c.identity.credential_keys().unwrap().primary_hash, after);
    for (i, id) in ids.iter().enumerate() {
        let r = c.get(&format!("/v3/credentials/{id}"), &admin).await.expect(200);
        assert_eq!(r.body["credential"]["blob"], json!(format!("blob-{i}")));
    }
    assert_eq!(c.identity.migrate_credentials().await.unwrap(), 0, "everything is under the primary key");
}

// ---- OS-EC2 ----

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn hmac256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    let mut m = Hmac::<Sha256>::new_from_slice(key).unwrap();
    m.update(msg);
    m.finalize().into_bytes().to_vec()
}

/// An EC2 signature version 2 request as an EC2 API server forwards it.
fn ec2_v2(access: &str, secret: &str, timestamp: &str) -> Value {
    let mut params = vec![
        ("AWSAccessKeyId", access.to_string()),
        ("Action", "DescribeInstances".to_string()),
        ("SignatureMethod", "HmacSHA256".to_string()),
        ("SignatureVersion", "2".to_string()),
        ("Timestamp", timestamp.to_string()),
        ("Version", "2013-10-15".to_string()),
    ];
    params.sort();
    let qs: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    let to_sign = format!("GET\nec2.example.com:8773\n/\n{}", qs.join("&"));
    let sig = base64::engine::general_purpose::STANDARD.encode(hmac256(secret.as_bytes(), to_sign.as_bytes()));
    let p: serde_json::Map<String, Value> = params.into_iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    json!({"credentials": {"access": access, "signature": sig, "host": "ec2.example.com:8773", "verb": "GET", "path": "/", "params": p}})
}

/// An AWS signature version 4 request (Authorization header form).
fn ec2_v4(access: &str, secret: &str) -> Value {
    let now = chrono::Utc::now();
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let day = now.format("%Y%m%d").to_string();
    let body_hash = hex(&Sha256::digest(b""));
    let canonical = format!(
        "GET\n/\nAction=DescribeRegions\nhost:ec2.example.com\nx-amz-date:{amz_date}\n\nhost;x-amz-date\n{body_hash}"
    );
    let scope = format!("{day}/RegionOne/ec2/aws4_request");
    let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex(&Sha256::digest(canonical.as_bytes())));
    let mut k = hmac256(format!("AWS4{secret}").as_bytes(), day.as_bytes());
    for part in ["RegionOne", "ec2", "aws4_request"] {
        k = hmac256(&k, part.as_bytes());
    }
    let sig = hex(&hmac256(&k, to_sign.as_bytes()));
    let auth = format!("AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders=host;x-amz-date, Signature={sig}");
    json!({"credentials": {"access": access, "signature": sig, "host": "ec2.example.com", "verb": "GET", "path": "/",
           "params": {"Action": "DescribeRegions"},
           "headers": {"Host": "ec2.example.com", "X-Amz-Date": amz_date, "Authorization": auth},
           "body_hash": body_hash}})
}

#[tokio::test]
async fn os_ec2_credentials_of_a_user() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let admin = c.admin_token().await;
    let demo_id = user_id(&c, "demo").await;
    let admin_id = user_id(&c, "admin").await;
    let demo_project = project_id(&c, "demo").await;
    let base = format!("/v3/users/{demo_id}/credentials/OS-EC2");
    let r = c.post(&base, &demo, json!({"tenant_id": demo_project})).await.expect(201);
    let cred = r.body["credential"].clone();
    let access = cred["access"].as_str().unwrap().to_string();
    assert_eq!(access.len(), 32);
    assert_eq!(cred["secret"].as_str().unwrap().len(), 32);
    assert_eq!(cred["user_id"], json!(demo_id));
    assert_eq!(cred["tenant_id"], json!(demo_project));
    assert_eq!(cred["trust_id"], Value::Null);
    assert_eq!(cred["links"]["self"], json!(format!("{}{base}/{access}", c.base)));

    // it is a credential of type ec2 too
    let r = c.get(&format!("/v3/credentials/{}", hex(&Sha256::digest(access.as_bytes()))), &demo).await.expect(200);
    assert_eq!(r.body["credential"]["type"], "ec2");
    let blob: Value = serde_json::from_str(r.body["credential"]["blob"].as_str().unwrap()).unwrap();
    assert_eq!(blob["secret"], cred["secret"]);

    let second = c.post(&base, &demo, json!({"tenant_id": demo_project})).await.expect(201);
    let r = c.get(&base, &demo).await.expect(200);
    let listed: Vec<&str> =
        r.body["credentials"].as_array().unwrap().iter().map(|x| x["access"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 2);
    assert!(
        listed.contains(&access.as_str()) && listed.contains(&second.body["credential"]["access"].as_str().unwrap())
    );
    let r = c.get(&format!("{base}/{access}"), &demo).await.expect(200);
    assert_eq!(r.body["credential"], cred);

    // bad input and other users
    c.post(&base, &demo, json!({})).await.expect_error(400);
    c.post(&base, &demo, json!({"tenant_id": 5})).await.expect_error(400);
    c.post(&base, &demo, json!({"tenant_id": "nope"})).await.expect_error(404);
    c.post("/v3/users/nobody/credentials/OS-EC2", &admin, json!({"tenant_id": demo_project})).await.expect_error(404);
    c.post(&format!("/v3/users/{admin_id}/credentials/OS-EC2"), &demo, json!({"tenant_id": demo_project}))
        .await
        .expect_error(403);
    c.get(&format!("/v3/users/{admin_id}/credentials/OS-EC2"), &demo).await.expect_error(403);
    c.get(&format!("{base}/unknown"), &demo).await.expect_error(404);
    // an admin sees and lists any user's
    c.get(&format!("{base}/{access}"), &admin).await.expect(200);
    c.get(&base, &admin).await.expect(200);

    c.delete(&format!("{base}/{access}"), &demo).await.expect(204);
    c.get(&format!("{base}/{access}"), &demo).await.expect_error(404);
    c.delete(&format!("{base}/{access}"), &demo).await.expect_error(404);
    let r = c.get(&base, &demo).await.expect(200);
    assert_eq!(r.body["credentials"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn ec2tokens_checks_the_signature_and_issues_a_project_token() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let admin = c.admin_token().await;
    let demo_id = user_id(&c, "demo").await;
    let demo_project = project_id(&c, "demo").await;
    let r = c
        .post(&format!("/v3/users/{demo_id}/credentials/OS-EC2"), &demo, json!({"tenant_id": demo_project}))
        .await
        .expect(201);
    let access = r.body["credential"]["access"].as_str().unwrap().to_string();
    let secret = r.body["credential"]["secret"].as_str().unwrap().to_string();
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();

    let r = c.post("/v3/ec2tokens", &admin, ec2_v2(&access, &secret, &now)).await.expect(200);
    let ec2_token = subject(&r);
    let t = &r.body["token"];
    assert_eq!(t["methods"], json!(["ec2credential"]));
    assert_eq!(t["user"]["id"], json!(demo_id));
    assert_eq!(t["project"]["id"], json!(demo_project));
    let roles: Vec<&str> = t["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(roles, vec!["member", "reader"]);
    assert!(t["catalog"].as_array().is_some_and(|c| !c.is_empty()));
    let r = c
        .request_with(Method::GET, "/v3/auth/tokens", Some(&admin), None, &[("X-Subject-Token", &ec2_token)])
        .await
        .expect(200);
    assert_eq!(r.body["token"]["methods"], json!(["ec2credential"]));

    // version 4 too
    let r = c.post("/v3/ec2tokens", &admin, ec2_v4(&access, &secret)).await.expect(200);
    assert_eq!(r.body["token"]["project"]["id"], json!(demo_project));

    // a token made from an EC2 credential is delegated: no credential management with it
    c.get(&format!("/v3/users/{demo_id}/credentials/OS-EC2"), &ec2_token).await.expect_error(403);
    c.post("/v3/credentials", &ec2_token, json!({"credential": {"user_id": demo_id, "type": "cert", "blob": "x"}}))
        .await
        .expect_error(403);
    let r = c.get("/v3/credentials", &ec2_token).await.expect(200);
    assert_eq!(r.body["credentials"], json!([]));
    // nor can it be exchanged for another token
    let rescope = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": ec2_token}}, "scope": {"project": {"id": demo_project}}}});
    c.request(Method::POST, "/v3/auth/tokens", None, Some(rescope)).await.expect_error(403);

    // failures
    let r = c.post("/v3/ec2tokens", &admin, ec2_v2(&access, "wrong-secret", &now)).await.expect_error(401);
    assert_eq!(r.body["error"]["message"], "Invalid EC2 signature.");
    c.post("/v3/ec2tokens", &admin, ec2_v2("unknown", &secret, &now)).await.expect_error(404);
    let mut unsigned = ec2_v2(&access, &secret, &now);
    unsigned["credentials"].as_object_mut().unwrap().remove("signature");
    c.post("/v3/ec2tokens", &admin, unsigned).await.expect_error(401);
    c.post("/v3/ec2tokens", &admin, json!({"credentials": {"signature": "x"}})).await.expect_error(401);
    let r = c.post("/v3/ec2tokens", &admin, ec2_v2(&access, &secret, "2001-01-01T00:00:00Z")).await.expect_error(401);
    assert_eq!(r.body["error"]["message"], "Credential is expired");
    // the caller must be an admin or a service
    c.post("/v3/ec2tokens", &demo, ec2_v2(&access, &secret, &now)).await.expect_error(403);
    c.request(Method::POST, "/v3/ec2tokens", None, Some(ec2_v2(&access, &secret, &now))).await.expect_error(401);
    c.request(Method::POST, "/v3/ec2tokens", Some(&admin), None).await.expect_error(400);
    c.get("/v3/ec2tokens", &admin).await.expect(405);
}

// ---- OS-OAUTH1 ----

/// An `Authorization: OAuth ...` header signed with HMAC-SHA1, as clients make them.
fn oauth_header(url: &str, consumer: (&str, &str), token: Option<(&str, &str)>, extra: &[(&str, &str)]) -> String {
    let ts = chrono::Utc::now().timestamp().to_string();
    let nonce = format!("{}{ts}", rand::random::<u32>());
    let mut params: Vec<(String, String)> = vec![
        ("oauth_nonce".into(), nonce),
        ("oauth_timestamp".into(), ts),
        ("oauth_version".into(), "1.0".into()),
        ("oauth_signature_method".into(), "HMAC-SHA1".into()),
        ("oauth_consumer_key".into(), consumer.0.into()),
    ];
    if let Some((k, _)) = token {
        params.push(("oauth_token".into(), k.into()));
    }
    for (k, v) in extra {
        params.push((k.to_string(), v.to_string()));
    }
    let mut sorted: Vec<(String, String)> = params.iter().map(|(k, v)| (enc(k), enc(v))).collect();
    sorted.sort();
    let norm: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let base = format!("POST&{}&{}", enc(url), enc(&norm.join("&")));
    let key = format!("{}&{}", enc(consumer.1), enc(token.map(|t| t.1).unwrap_or("")));
    let mut m = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
    m.update(base.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes());
    params.push(("oauth_signature".into(), sig));
    let parts: Vec<String> = params.iter().map(|(k, v)| format!("{}=\"{}\"", enc(k), enc(v))).collect();
    format!("OAuth realm=\"\", {}", parts.join(", "))
}

fn form(r: &Resp) -> std::collections::HashMap<String, String> {
    let s = r.body.as_str().expect("a form body");
    s.split('&').map(|p| p.split_once('=').unwrap()).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[tokio::test]
async fn oauth1_consumers_crud() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let demo = c.demo_token().await;
    let r = c
        .post("/v3/OS-OAUTH1/consumers", &admin, json!({"consumer": {"description": "my app", "color": "red"}}))
        .await
        .expect(201);
    let cons = r.body["consumer"].clone();
    let cid = cons["id"].as_str().unwrap().to_string();
    assert_eq!(cons["secret"].as_str().unwrap().len(), 32);
    assert_eq!(cons["description"], "my app");
    assert_eq!(cons["color"], "red");
    assert_eq!(cons["links"]["self"], json!(format!("{}/v3/OS-OAUTH1/consumers/{cid}", c.base)));
    let r = c.get(&format!("/v3/OS-OAUTH1/consumers/{cid}"), &admin).await.expect(200);
    assert!(r.body["consumer"].get("secret").is_none(), "the secret is shown once");
    for k in ["id", "description", "links", "color"] {
        assert_eq!(r.body["consumer"][k], cons[k]);
    }
    // no body at all, or a null description
    let r = c.request(Method::POST, "/v3/OS-OAUTH1/consumers", Some(&admin), None).await.expect(201);
    assert_eq!(r.body["consumer"]["description"], Value::Null);
    c.post("/v3/OS-OAUTH1/consumers", &admin, json!({"consumer": {"description": null}})).await.expect(201);
    c.post("/v3/OS-OAUTH1/consumers", &admin, json!({"consumer": {"description": 5}})).await.expect_error(400);
    c.post("/v3/OS-OAUTH1/consumers", &demo, json!({"consumer": {}})).await.expect_error(403);
    c.get("/v3/OS-OAUTH1/consumers", &demo).await.expect_error(403);

    let r = c.get("/v3/OS-OAUTH1/consumers", &admin).await.expect(200);
    assert_eq!(r.body["consumers"].as_array().unwrap().len(), 3);
    assert!(r.body["consumers"].as_array().unwrap().iter().all(|x| x.get("secret").is_none()));

    let r = c
        .patch(&format!("/v3/OS-OAUTH1/consumers/{cid}"), &admin, json!({"consumer": {"description": "renamed"}}))
        .await
        .expect(200);
    assert_eq!(r.body["consumer"]["description"], "renamed");
    let r = c.get(&format!("/v3/OS-OAUTH1/consumers/{cid}"), &admin).await.expect(200);
    assert_eq!(r.body["consumer"]["description"], "renamed");
    c.patch(&format!("/v3/OS-OAUTH1/consumers/{cid}"), &admin, json!({"consumer": {"secret": "mine"}}))
        .await
        .expect_error(400);
    c.patch(&format!("/v3/OS-OAUTH1/consumers/{cid}"), &admin, json!({"consumer": {}})).await.expect_error(400);
    c.patch(&format!("/v3/OS-OAUTH1/consumers/{cid}"), &admin, json!({"consumer": {"id": "other"}}))
        .await
        .expect_error(400);
    c.patch("/v3/OS-OAUTH1/consumers/nope", &admin, json!({"consumer": {"description": "x"}})).await.expect_error(404);

    c.delete(&format!("/v3/OS-OAUTH1/consumers/{cid}"), &admin).await.expect(204);
    c.get(&format!("/v3/OS-OAUTH1/consumers/{cid}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/OS-OAUTH1/consumers/{cid}"), &admin).await.expect_error(404);
}

#[tokio::test]
async fn oauth1_round_trip_ends_in_a_delegated_project_token() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let admin_id = user_id(&c, "admin").await;
    let project = project_id(&c, "admin").await;
    let member = c.role_id("member").await;
    let r = c.post("/v3/OS-OAUTH1/consumers", &admin, json!({"consumer": {"description": "app"}})).await.expect(201);
    let ck = r.body["consumer"]["id"].as_str().unwrap().to_string();
    let cs = r.body["consumer"]["secret"].as_str().unwrap().to_string();

    // 1. the consumer asks for a request token
    let url = format!("{}/v3/OS-OAUTH1/request_token", c.base);
    let h = oauth_header(&url, (&ck, &cs), None, &[("oauth_callback", "oob")]);
    let r = c
        .request_with(
            Method::POST,
            "/v3/OS-OAUTH1/request_token",
            None,
            None,
            &[("Authorization", &h), ("Requested-Project-Id", &project)],
        )
        .await
        .expect(201);
    assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"));
    let rt = form(&r);
    let (rtk, rts) = (rt["oauth_token"].clone(), rt["oauth_token_secret"].clone());
    assert!(rt["oauth_expires_at"].ends_with('Z'));

    // bad request-token requests
    let bad = oauth_header(&url, (&ck, "wrong"), None, &[("oauth_callback", "oob")]);
    c.request_with(
        Method::POST,
        "/v3/OS-OAUTH1/request_token",
        None,
        None,
        &[("Authorization", &bad), ("Requested-Project-Id", &project)],
    )
    .await
    .expect_error(401);
    c.request_with(Method::POST, "/v3/OS-OAUTH1/request_token", None, None, &[("Authorization", &h)])
        .await
        .expect_error(400);
    c.request_with(Method::POST, "/v3/OS-OAUTH1/request_token", None, None, &[("Requested-Project-Id", &project)])
        .await
        .expect_error(400);
    c.request_with(
        Method::POST,
        "/v3/OS-OAUTH1/request_token",
        None,
        None,
        &[("Authorization", &h), ("Requested-Project-Id", "nope")],
    )
    .await
    .expect_error(404);
    let no_cb = oauth_header(&url, (&ck, &cs), None, &[]);
    c.request_with(
        Method::POST,
        "/v3/OS-OAUTH1/request_token",
        None,
        None,
        &[("Authorization", &no_cb), ("Requested-Project-Id", &project)],
    )
    .await
    .expect_error(400);

    // 2. the user authorizes it for some of their roles
    c.request(
        Method::PUT,
        &format!("/v3/OS-OAUTH1/authorize/{rtk}"),
        Some(&admin),
        Some(json!({"roles": [{"id": "not-held"}]})),
    )
    .await
    .expect_error(401);
    c.request(
        Method::PUT,
        &format!("/v3/OS-OAUTH1/authorize/{rtk}"),
        Some(&admin),
        Some(json!({"roles": [{"id": member, "name": "member"}]})),
    )
    .await
    .expect_error(400);
    c.request(Method::PUT, "/v3/OS-OAUTH1/authorize/nope", Some(&admin), Some(json!({"roles": [{"id": member}]})))
        .await
        .expect_error(404);
    let demo = c.demo_token().await;
    c.request(
        Method::PUT,
        &format!("/v3/OS-OAUTH1/authorize/{rtk}"),
        Some(&demo),
        Some(json!({"roles": [{"id": member}]})),
    )
    .await
    .expect_error(403);
    let r = c
        .request(
            Method::PUT,
            &format!("/v3/OS-OAUTH1/authorize/{rtk}"),
            Some(&admin),
            Some(json!({"roles": [{"name": "member"}]})),
        )
        .await
        .expect(200);
    let verifier = r.body["token"]["oauth_verifier"].as_str().unwrap().to_string();
    assert_eq!(verifier.len(), 8);

    // 3. the consumer trades it for an access token
    let aurl = format!("{}/v3/OS-OAUTH1/access_token", c.base);
    let wrong = oauth_header(&aurl, (&ck, &cs), Some((&rtk, &rts)), &[("oauth_verifier", "xxxxxxxx")]);
    let r = c
        .request_with(Method::POST, "/v3/OS-OAUTH1/access_token", None, None, &[("Authorization", &wrong)])
        .await
        .expect_error(401);
    assert_eq!(r.body["error"]["message"], "Provided verifier does not match stored verifier");
    let h = oauth_header(&aurl, (&ck, &cs), Some((&rtk, &rts)), &[("oauth_verifier", &verifier)]);
    let r = c
        .request_with(Method::POST, "/v3/OS-OAUTH1/access_token", None, None, &[("Authorization", &h)])
        .await
        .expect(201);
    let at = form(&r);
    let (atk, ats) = (at["oauth_token"].clone(), at["oauth_token_secret"].clone());
    // a request token is good once
    c.request_with(Method::POST, "/v3/OS-OAUTH1/access_token", None, None, &[("Authorization", &h)])
        .await
        .expect_error(404);

    // 4. the consumer gets a token with the oauth1 method
    let turl = format!("{}/v3/auth/tokens", c.base);
    let body = json!({"auth": {"identity": {"methods": ["oauth1"], "oauth1": {}}}});
    let h = oauth_header(&turl, (&ck, &cs), Some((&atk, &ats)), &[]);
    let r = c
        .request_with(Method::POST, "/v3/auth/tokens", None, Some(body.clone()), &[("Authorization", &h)])
        .await
        .expect(201);
    let oauth_token = subject(&r);
    let t = &r.body["token"];
    assert_eq!(t["methods"], json!(["oauth1"]));
    assert_eq!(t["OS-OAUTH1"], json!({"access_token_id": atk, "consumer_id": ck}), "{t}");
    assert_eq!(t["user"]["id"], json!(admin_id));
    assert_eq!(t["project"]["id"], json!(project));
    let roles: Vec<&str> = t["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(roles, vec!["member", "reader"], "the authorized role and what it implies, not admin");
    let bad = oauth_header(&turl, (&ck, &cs), Some((&atk, "wrong")), &[]);
    c.request_with(Method::POST, "/v3/auth/tokens", None, Some(body.clone()), &[("Authorization", &bad)])
        .await
        .expect_error(401);
    c.request_with(Method::POST, "/v3/auth/tokens", None, Some(body.clone()), &[]).await.expect_error(400);
    // an oauth1 token can neither be exchanged for another token nor authorize request tokens
    let rescope = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": oauth_token}}, "scope": {"project": {"id": project}}}});
    c.request(Method::POST, "/v3/auth/tokens", None, Some(rescope)).await.expect_error(403);
    c.request(Method::PUT, &format!("/v3/OS-OAUTH1/authorize/{rtk}"), Some(&oauth_token), Some(json!({"roles": []})))
        .await
        .expect_error(403);

    // the user's access tokens
    let base = format!("/v3/users/{admin_id}/OS-OAUTH1/access_tokens");
    let r = c.get(&base, &admin).await.expect(200);
    let list = r.body["access_tokens"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], json!(atk));
    assert_eq!(list[0]["consumer_id"], json!(ck));
    assert_eq!(list[0]["project_id"], json!(project));
    assert!(list[0].get("access_secret").is_none() && list[0].get("role_ids").is_none());
    assert_eq!(
        list[0]["links"]["roles"],
        json!(format!("{}/v3{}/{atk}/roles", c.base, base.trim_start_matches("/v3")))
    );
    c.get(&format!("{base}/{atk}"), &admin).await.expect(200);
    let r = c.get(&format!("{base}/{atk}/roles"), &admin).await.expect(200);
    assert_eq!(r.body["roles"][0]["id"], json!(member));
    let r = c.get(&format!("{base}/{atk}/roles/{member}"), &admin).await.expect(200);
    assert_eq!(r.body["role"]["name"], "member");
    c.get(&format!("{base}/{atk}/roles/other"), &admin).await.expect_error(404);
    c.get(&format!("{base}/nope"), &admin).await.expect_error(404);
    c.get(&base, &oauth_token).await.expect_error(403);

    // revoking the access token ends the tokens made with it
    c.delete(&format!("{base}/{atk}"), &admin).await.expect(204);
    c.request_with(Method::GET, "/v3/auth/tokens", Some(&admin), None, &[("X-Subject-Token", &oauth_token)])
        .await
        .expect_error(404);
    c.request_with(Method::POST, "/v3/auth/tokens", None, Some(body), &[("Authorization", &h)]).await.expect_error(401);
    let r = c.get(&base, &admin).await.expect(200);
    assert_eq!(r.body["access_tokens"], json!([]));
    let _ = ADMIN_PASSWORD;
}

// ---- OS-EP-FILTER ----

async fn new_service_endpoint(c: &TestCloud, admin: &str, kind: &str) -> (String, String) {
    let r = c.post("/v3/services", admin, json!({"service": {"type": kind, "name": kind}})).await.expect(201);
    let sid = r.body["service"]["id"].as_str().unwrap().to_string();
    let r = c
        .post("/v3/endpoints", admin, json!({"endpoint": {"service_id": sid, "interface": "public", "url": format!("http://{kind}.example.com"), "region_id": "RegionOne"}}))
        .await
        .expect(201);
    (sid, r.body["endpoint"]["id"].as_str().unwrap().to_string())
}

async fn demo_auth(c: &TestCloud, project: &str) -> Resp {
    c.password_auth("demo", rustack_test_utils::DEMO_PASSWORD, Some(json!({"project": {"id": project}})))
        .await
        .expect(201)
}

fn catalog_types(token_body: &Value) -> Vec<String> {
    let mut v: Vec<String> = token_body["token"]["catalog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn endpoint_groups_crud_and_validation() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let demo = c.demo_token().await;
    let (sid, _) = new_service_endpoint(&c, &admin, "compute").await;
    let r = c
        .post(
            "/v3/OS-EP-FILTER/endpoint_groups",
            &admin,
            json!({"endpoint_group": {"name": "g1", "description": "d", "filters": {"service_id": sid}}}),
        )
        .await
        .expect(201);
    let g = r.body["endpoint_group"].clone();
    let gid = g["id"].as_str().unwrap().to_string();
    assert_eq!(g["filters"], json!({"service_id": sid}));
    assert_eq!(g["links"]["self"], json!(format!("{}/v3/OS-EP-FILTER/endpoint_groups/{gid}", c.base)));
    let r = c
        .post(
            "/v3/OS-EP-FILTER/endpoint_groups",
            &admin,
            json!({"endpoint_group": {"name": "g2", "filters": {"interface": "public"}}}),
        )
        .await
        .expect(201);
    assert_eq!(r.body["endpoint_group"]["description"], Value::Null);

    let r = c.get("/v3/OS-EP-FILTER/endpoint_groups", &admin).await.expect(200);
    assert!(r.body["endpoint_groups"].as_array().unwrap().contains(&g), "list and create agree");
    let r = c.get("/v3/OS-EP-FILTER/endpoint_groups?name=g2", &admin).await.expect(200);
    assert_eq!(r.body["endpoint_groups"].as_array().unwrap().len(), 1);
    c.get("/v3/OS-EP-FILTER/endpoint_groups?color=x", &admin).await.expect_error(400);
    let r = c.get(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}"), &admin).await.expect(200);
    assert_eq!(r.body["endpoint_group"], g);
    let r = c.head(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}"), &admin).await.expect(200);
    assert_eq!(r.body, Value::Null);
    let r = c.get(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}/endpoints"), &admin).await.expect(200);
    assert_eq!(r.body["endpoints"].as_array().unwrap().len(), 1);

    for body in [
        json!({"endpoint_group": {"filters": {"service_id": sid}}}),
        json!({"endpoint_group": {"name": "x"}}),
        json!({"endpoint_group": {"name": "x", "filters": {}}}),
        json!({"endpoint_group": {"name": "x", "filters": {"url": "u"}}}),
        json!({"endpoint_group": {"name": "x", "filters": {"interface": "private"}}}),
        json!({"endpoint_group": {"name": "x", "filters": "service_id"}}),
        json!({"endpoint_group": {"name": "", "filters": {"interface": "public"}}}),
        json!({"endpoint_group": {"name": "x", "filters": {"interface": "public"}, "color": "red"}}),
    ] {
        c.post("/v3/OS-EP-FILTER/endpoint_groups", &admin, body).await.expect_error(400);
    }
    c.post(
        "/v3/OS-EP-FILTER/endpoint_groups",
        &demo,
        json!({"endpoint_group": {"name": "x", "filters": {"interface": "public"}}}),
    )
    .await
    .expect_error(403);
    c.get("/v3/OS-EP-FILTER/endpoint_groups", &demo).await.expect_error(403);

    let r = c
        .patch(
            &format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}"),
            &admin,
            json!({"endpoint_group": {"name": "g1b", "description": null, "filters": {"interface": "admin"}}}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["endpoint_group"]["name"], "g1b");
    assert_eq!(r.body["endpoint_group"]["description"], Value::Null);
    assert_eq!(r.body["endpoint_group"]["filters"], json!({"interface": "admin"}));
    c.patch(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}"), &admin, json!({"endpoint_group": {}}))
        .await
        .expect_error(400);
    c.patch(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}"), &admin, json!({"endpoint_group": {"id": "x"}}))
        .await
        .expect_error(400);
    c.patch("/v3/OS-EP-FILTER/endpoint_groups/nope", &admin, json!({"endpoint_group": {"name": "n"}}))
        .await
        .expect_error(404);

    c.delete(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}"), &admin).await.expect(204);
    c.get(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}"), &admin).await.expect_error(404);
}

#[tokio::test]
async fn project_endpoints_and_groups_limit_the_catalog() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let demo_project = project_id(&c, "demo").await;
    let (_, compute_ep) = new_service_endpoint(&c, &admin, "compute").await;
    let (volume_sid, volume_ep) = new_service_endpoint(&c, &admin, "volumev3").await;

    let full = demo_auth(&c, &demo_project).await;
    assert_eq!(catalog_types(&full.body), vec!["compute", "identity", "volumev3"]);

    // one endpoint associated: the catalog has only it
    let pe = format!("/v3/OS-EP-FILTER/projects/{demo_project}/endpoints/{compute_ep}");
    c.put(&pe, &admin).await.expect(204);
    c.put(&pe, &admin).await.expect_error(409);
    c.head(&pe, &admin).await.expect(204);
    c.get(&pe, &admin).await.expect(204);
    c.head(&format!("/v3/OS-EP-FILTER/projects/{demo_project}/endpoints/{volume_ep}"), &admin).await.expect(404);
    c.put(&format!("/v3/OS-EP-FILTER/projects/{demo_project}/endpoints/nope"), &admin).await.expect_error(404);
    c.put(&format!("/v3/OS-EP-FILTER/projects/nope/endpoints/{compute_ep}"), &admin).await.expect_error(404);
    let r = demo_auth(&c, &demo_project).await;
    assert_eq!(catalog_types(&r.body), vec!["compute"]);
    let demo_token = subject(&r);
    let r = c.get("/v3/auth/catalog", &demo_token).await.expect(200);
    assert_eq!(r.body["catalog"].as_array().unwrap().len(), 1);
    let r = c.get(&format!("/v3/OS-EP-FILTER/projects/{demo_project}/endpoints"), &admin).await.expect(200);
    assert_eq!(r.body["endpoints"][0]["id"], json!(compute_ep));
    let r = c.get(&format!("/v3/OS-EP-FILTER/endpoints/{compute_ep}/projects"), &admin).await.expect(200);
    assert_eq!(r.body["projects"][0]["id"], json!(demo_project));
    // other projects are not affected
    let r = c
        .password_auth(
            "admin",
            ADMIN_PASSWORD,
            Some(json!({"project": {"name": "admin", "domain": {"id": "default"}}})),
        )
        .await
        .expect(201);
    assert_eq!(catalog_types(&r.body).len(), 3);

    // plus an endpoint group: its endpoints join
    let r = c
        .post(
            "/v3/OS-EP-FILTER/endpoint_groups",
            &admin,
            json!({"endpoint_group": {"name": "volumes", "filters": {"service_id": volume_sid}}}),
        )
        .await
        .expect(201);
    let gid = r.body["endpoint_group"]["id"].as_str().unwrap().to_string();
    let gp = format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}/projects/{demo_project}");
    c.get(&gp, &admin).await.expect_error(404);
    c.put(&gp, &admin).await.expect(204);
    c.put(&gp, &admin).await.expect_error(409);
    let r = c.get(&gp, &admin).await.expect(200);
    assert_eq!(r.body["project_endpoint_group"]["endpoint_group_id"], json!(gid));
    assert_eq!(r.body["project_endpoint_group"]["project_id"], json!(demo_project));
    let r = c.get(&format!("/v3/OS-EP-FILTER/projects/{demo_project}/endpoint_groups"), &admin).await.expect(200);
    assert_eq!(r.body["endpoint_groups"][0]["id"], json!(gid));
    let r = c.get(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}/projects"), &admin).await.expect(200);
    assert_eq!(r.body["projects"][0]["id"], json!(demo_project));
    let r = demo_auth(&c, &demo_project).await;
    assert_eq!(catalog_types(&r.body), vec!["compute", "volumev3"]);
    // a token issued before the change shows the new catalog on validation
    let r = c
        .request_with(Method::GET, "/v3/auth/tokens", Some(&admin), None, &[("X-Subject-Token", &demo_token)])
        .await
        .expect(200);
    assert_eq!(catalog_types(&r.body), vec!["compute", "volumev3"]);

    // removing both brings the whole catalog back
    c.delete(&pe, &admin).await.expect(204);
    c.delete(&pe, &admin).await.expect_error(404);
    c.delete(&gp, &admin).await.expect(204);
    c.delete(&gp, &admin).await.expect_error(404);
    let r = demo_auth(&c, &demo_project).await;
    assert_eq!(catalog_types(&r.body), vec!["compute", "identity", "volumev3"]);
    let r = c.get(&format!("/v3/OS-EP-FILTER/projects/{demo_project}/endpoints"), &admin).await.expect(200);
    assert_eq!(r.body["endpoints"], json!([]));
    let demo = c.demo_token().await;
    c.put(&pe, &demo).await.expect_error(403);
    c.get(&format!("/v3/OS-EP-FILTER/projects/{demo_project}/endpoints"), &demo).await.expect_error(403);
}

#[tokio::test]
async fn an_empty_catalog_without_filters_when_configured() {
    let c = TestCloud::start_with(
        rustack_db::testing::sqlite().await,
        "[endpoint_filter]\nreturn_all_endpoints_if_no_filter = false\n",
    )
    .await;
    let r = c
        .password_auth(
            "demo",
            rustack_test_utils::DEMO_PASSWORD,
            Some(json!({"project": {"name": "demo", "domain": {"id": "default"}}})),
        )
        .await
        .expect(201);
    assert_eq!(r.body["token"]["catalog"], json!([]));
}

// ---- both database backends ----

#[tokio::test]
async fn the_tables_work_on_every_backend() {
    for db in rustack_db::testing::all_backends().await {
        let c = TestCloud::start_with(db, "").await;
        let admin = c.admin_token().await;
        let demo_id = user_id(&c, "demo").await;
        let demo_project = project_id(&c, "demo").await;
        // credentials, with a null project and with extras
        let r = c
            .post(
                "/v3/credentials",
                &admin,
                json!({"credential": {"user_id": demo_id, "type": "cert", "blob": "b", "x": 1}}),
            )
            .await
            .expect(201);
        let cid = r.body["credential"]["id"].as_str().unwrap().to_string();
        c.patch(&format!("/v3/credentials/{cid}"), &admin, json!({"credential": {"blob": "b2"}})).await.expect(200);
        let r = c.get(&format!("/v3/credentials?user_id={demo_id}&type=cert"), &admin).await.expect(200);
        assert_eq!(r.body["credentials"][0]["blob"], "b2");
        assert_eq!(c.identity.rotate_credential_keys().await.unwrap().reencrypted, 1);
        let r = c
            .post(&format!("/v3/users/{demo_id}/credentials/OS-EC2"), &admin, json!({"tenant_id": demo_project}))
            .await
            .expect(201);
        let access = r.body["credential"]["access"].as_str().unwrap().to_string();
        c.delete(&format!("/v3/users/{demo_id}/credentials/OS-EC2/{access}"), &admin).await.expect(204);
        c.delete(&format!("/v3/credentials/{cid}"), &admin).await.expect(204);
        // consumers and a request token
        let r = c.post("/v3/OS-OAUTH1/consumers", &admin, json!({"consumer": {"description": null}})).await.expect(201);
        let (ck, cs) = (
            r.body["consumer"]["id"].as_str().unwrap().to_string(),
            r.body["consumer"]["secret"].as_str().unwrap().to_string(),
        );
        let h = oauth_header(
            &format!("{}/v3/OS-OAUTH1/request_token", c.base),
            (&ck, &cs),
            None,
            &[("oauth_callback", "oob")],
        );
        c.request_with(
            Method::POST,
            "/v3/OS-OAUTH1/request_token",
            None,
            None,
            &[("Authorization", &h), ("Requested-Project-Id", &demo_project)],
        )
        .await
        .expect(201);
        c.delete(&format!("/v3/OS-OAUTH1/consumers/{ck}"), &admin).await.expect(204);
        // endpoint groups and associations
        let (sid, eid) = new_service_endpoint(&c, &admin, "compute").await;
        let r = c
            .post(
                "/v3/OS-EP-FILTER/endpoint_groups",
                &admin,
                json!({"endpoint_group": {"name": "g", "filters": {"service_id": sid}}}),
            )
            .await
            .expect(201);
        let gid = r.body["endpoint_group"]["id"].as_str().unwrap().to_string();
        c.put(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}/projects/{demo_project}"), &admin).await.expect(204);
        c.put(&format!("/v3/OS-EP-FILTER/projects/{demo_project}/endpoints/{eid}"), &admin).await.expect(204);
        c.put(&format!("/v3/OS-EP-FILTER/projects/{demo_project}/endpoints/{eid}"), &admin).await.expect_error(409);
        assert_eq!(catalog_types(&demo_auth(&c, &demo_project).await.body), vec!["compute"]);
        c.delete(&format!("/v3/OS-EP-FILTER/endpoint_groups/{gid}"), &admin).await.expect(204);
        c.get(&format!("/v3/OS-EP-FILTER/projects/{demo_project}/endpoint_groups"), &admin).await.expect(200);
    }
}
