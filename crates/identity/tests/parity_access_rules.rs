//! Access rules of application credentials: stored per user and shared,
//! shown in credentials and tokens, `/v3/users/{id}/access_rules`, and
//! enforced wherever the credential's token is used (identity's own API, a
//! router guarded by `require_token`, and remote validation).

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use reqwest::Method;
use rustack_http::remote::{RemoteValidator, ServiceCredentials};
use rustack_http::token_layer::Validator;
use rustack_http::TokenValidator;
use rustack_test_utils::{Resp, TestCloud, ADMIN_PASSWORD};
use serde_json::{json, Value};

const NO_SUCH: &str = "0123456789abcdef0123456789abcdef";

fn subject(r: &Resp) -> String {
    r.header("x-subject-token").expect("X-Subject-Token").to_string()
}

async fn demo_id(c: &TestCloud) -> String {
    c.identity.store().get_user_by_name("default", "demo").await.unwrap().unwrap().id
}

fn creds(uid: &str) -> String {
    format!("/v3/users/{uid}/application_credentials")
}

fn rules_path(uid: &str) -> String {
    format!("/v3/users/{uid}/access_rules")
}

async fn new_cred(c: &TestCloud, token: &str, uid: &str, name: &str, rules: Value) -> Value {
    c.post(&creds(uid), token, json!({"application_credential": {"name": name, "access_rules": rules}}))
        .await
        .expect(201)
        .body["application_credential"]
        .clone()
}

async fn cred_token(c: &TestCloud, ac: &Value) -> (String, Value) {
    let r = c
        .request(
            Method::POST,
            "/v3/auth/tokens",
            None,
            Some(json!({"auth": {"identity": {"methods": ["application_credential"],
                "application_credential": {"id": ac["id"], "secret": ac["secret"]}}}})),
        )
        .await
        .expect(201);
    (subject(&r), r.body["token"].clone())
}

fn without_id(v: &Value) -> Value {
    let mut v = v.clone();
    v.as_object_mut().unwrap().remove("id");
    v
}

#[tokio::test]
async fn rules_are_stored_shared_and_shown() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let rule = json!({"path": "/v2.1/servers/*/ips", "method": "GET", "service": "compute"});
    let ac = new_cred(&c, &demo, &uid, "one", json!([rule])).await;
    let rules = ac["access_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1);
    let mut k: Vec<&str> = rules[0].as_object().unwrap().keys().map(String::as_str).collect();
    k.sort();
    assert_eq!(k, ["id", "method", "path", "service"]);
    assert_eq!(without_id(&rules[0]), rule);
    let rid = rules[0]["id"].as_str().unwrap().to_string();
    assert_eq!(rid.len(), 32);
    // shown on GET and in lists, never the secret
    let g = c.get(&format!("{}/{}", creds(&uid), ac["id"].as_str().unwrap()), &demo).await.expect(200);
    assert_eq!(g.body["application_credential"]["access_rules"], ac["access_rules"]);
    let l = c.get(&creds(&uid), &demo).await.expect(200);
    assert_eq!(l.body["application_credentials"][0]["access_rules"], ac["access_rules"]);
    // the same rule again is the same rule; by id too
    let ac2 = new_cred(&c, &demo, &uid, "two", json!([rule])).await;
    assert_eq!(ac2["access_rules"][0]["id"], json!(rid));
    let ac3 = new_cred(&c, &demo, &uid, "three", json!([{"id": rid}])).await;
    assert_eq!(ac3["access_rules"], ac["access_rules"]);
    // a new rule may bring its own id
    let ac4 = new_cred(
        &c,
        &demo,
        &uid,
        "four",
        json!([{"id": "my-rule-1", "service": "image", "method": "HEAD", "path": "/v2/images"}]),
    )
    .await;
    assert_eq!(ac4["access_rules"][0]["id"], "my-rule-1");
    // a credential without rules has no access_rules key; [] is none
    let plain = new_cred(&c, &demo, &uid, "plain", json!([])).await;
    assert!(plain.get("access_rules").is_none(), "{plain}");
    // the user's rules
    let l = c.get(&rules_path(&uid), &demo).await.expect(200);
    let items = l.body["access_rules"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let compute = items.iter().find(|r| r["id"] == json!(rid)).unwrap();
    assert_eq!(compute["links"]["self"], json!(format!("{}/v3/users/{uid}/access_rules/{rid}", c.base)));
    assert_eq!(l.body["links"]["self"], json!(format!("{}/v3/users/{uid}/access_rules", c.base)));
    let f = c.get(&format!("{}?service=image", rules_path(&uid)), &demo).await.expect(200);
    assert_eq!(f.body["access_rules"].as_array().unwrap().len(), 1);
    assert_eq!(f.body["access_rules"][0]["id"], "my-rule-1");
    assert_eq!(
        c.get(&format!("{}?method=POST", rules_path(&uid)), &demo).await.expect(200).body["access_rules"],
        json!([])
    );
    let s = c.get(&format!("{}/{rid}", rules_path(&uid)), &demo).await.expect(200);
    assert_eq!(
        without_id(&s.body["access_rule"]),
        json!({"path": "/v2.1/servers/*/ips", "method": "GET", "service": "compute",
        "links": {"self": format!("{}/v3/users/{uid}/access_rules/{rid}", c.base)}})
    );
    c.head(&format!("{}/{rid}", rules_path(&uid)), &demo).await.expect(200);
    c.get(&format!("{}/{NO_SUCH}", rules_path(&uid)), &demo).await.expect_error(404);
}

#[tokio::test]
async fn bad_rules_are_refused() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let post = |rules: Value| {
        let (c, demo, uid) = (&c, &demo, &uid);
        async move {
            c.post(&creds(uid), demo, json!({"application_credential": {"name": "x", "access_rules": rules}})).await
        }
    };
    for bad in [
        json!("GET /"),
        json!({"path": "/", "method": "GET", "service": "compute"}),
        json!([{"path": "/", "method": "FETCH", "service": "compute"}]),
        json!([{"path": "no-slash", "method": "GET", "service": "compute"}]),
        json!([{"path": format!("/{}", "a".repeat(225)), "method": "GET", "service": "compute"}]),
        json!([{"path": "/", "method": "GET", "service": "com pute"}]),
        json!([{"path": "/", "method": "GET", "service": "compute", "extra": 1}]),
        json!([{"path": "/", "method": "GET"}]),
        json!([{"id": NO_SUCH}]),
        json!([{"path": 1, "method": "GET", "service": "compute"}]),
        json!(["rule"]),
        Value::Null,
    ] {
        let r = post(bad.clone()).await.expect_error(400);
        let m = r.body["error"]["message"].as_str().unwrap();
        assert!(m.contains("access_rules"), "{bad}: {m}");
    }
    // nothing was made by the refused requests
    assert_eq!(c.get(&creds(&uid), &demo).await.expect(200).body["application_credentials"], json!([]));
    // another user's rule is not found
    let admin = c.admin_token().await;
    let admin_uid = c.identity.store().get_user_by_name("default", "admin").await.unwrap().unwrap().id;
    let theirs =
        new_cred(&c, &admin, &admin_uid, "a", json!([{"path": "/", "method": "GET", "service": "compute"}])).await;
    post(json!([{"id": theirs["access_rules"][0]["id"]}])).await.expect_error(404);
}

#[tokio::test]
async fn delete_is_refused_while_in_use() {
    // tempest test_delete_access_rule
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let ac = new_cred(
        &c,
        &demo,
        &uid,
        "m",
        json!([{"path": "/v2.1/servers/*/ips", "method": "GET", "service": "monitoring"}]),
    )
    .await;
    let rid = ac["access_rules"][0]["id"].as_str().unwrap().to_string();
    let r = c.delete(&format!("{}/{rid}", rules_path(&uid)), &demo).await.expect_error(403);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("in use"));
    c.delete(&format!("{}/{}", creds(&uid), ac["id"].as_str().unwrap()), &demo).await.expect(204);
    // the rule outlives the credential
    let l = c.get(&rules_path(&uid), &demo).await.expect(200);
    assert!(l.body["access_rules"].as_array().unwrap().iter().any(|r| r["id"] == json!(rid)));
    let d = c.delete(&format!("{}/{rid}", rules_path(&uid)), &demo).await.expect(204);
    assert_eq!(d.body, Value::Null);
    assert_eq!(c.get(&rules_path(&uid), &demo).await.expect(200).body["access_rules"], json!([]));
    c.delete(&format!("{}/{rid}", rules_path(&uid)), &demo).await.expect_error(404);
}

#[tokio::test]
async fn only_the_owner_and_system_readers_see_rules() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let ac = new_cred(&c, &demo, &uid, "m", json!([{"path": "/x", "method": "GET", "service": "compute"}])).await;
    let rid = ac["access_rules"][0]["id"].as_str().unwrap();
    // a project admin is not the owner: Keystone's rule has no admin clause
    let admin = c.admin_token().await;
    c.get(&rules_path(&uid), &admin).await.expect_error(403);
    c.get(&format!("{}/{rid}", rules_path(&uid)), &admin).await.expect_error(403);
    c.delete(&format!("{}/{rid}", rules_path(&uid)), &admin).await.expect_error(403);
    let sys =
        subject(&c.password_auth("admin", ADMIN_PASSWORD, Some(json!({"system": {"all": true}}))).await.expect(201));
    assert_eq!(c.get(&rules_path(&uid), &sys).await.expect(200).body["access_rules"].as_array().unwrap().len(), 1);
    c.get(&format!("{}/{rid}", rules_path(&uid)), &sys).await.expect(200);
    // another user's path does not show this user's rule
    let admin_uid = c.identity.store().get_user_by_name("default", "admin").await.unwrap().unwrap().id;
    c.get(&format!("{}/{rid}", rules_path(&admin_uid)), &sys).await.expect_error(404);
    c.get(&rules_path(&uid), "bogus").await.expect_error(401);
}

#[tokio::test]
async fn the_token_carries_the_rules_and_identity_enforces_them() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let ac = new_cred(
        &c,
        &demo,
        &uid,
        "limited",
        json!([
            {"service": "identity", "method": "GET", "path": "/v3/users/*/access_rules"},
            {"service": "identity", "method": "GET", "path": "/v3/users/*/application_credentials/**"},
            {"service": "compute", "method": "GET", "path": "/v3/users/*"}
        ]),
    )
    .await;
    let (tok, body) = cred_token(&c, &ac).await;
    let rules = body["application_credential"]["access_rules"].as_array().unwrap();
    assert_eq!(rules.len(), 3);
    assert_eq!(body["application_credential"]["restricted"], json!(true));
    // allowed: what a rule names
    c.get(&rules_path(&uid), &tok).await.expect(200);
    c.get(&format!("{}/{}", creds(&uid), ac["id"].as_str().unwrap()), &tok).await.expect(200);
    // denied with 401: another path, another method, a rule of another service
    c.get(&format!("/v3/users/{uid}"), &tok).await.expect_error(401);
    c.get(&creds(&uid), &tok).await.expect_error(401);
    let rid = ac["access_rules"][0]["id"].as_str().unwrap();
    c.delete(&format!("{}/{rid}", rules_path(&uid)), &tok).await.expect_error(401);
    c.get("/v3/projects", &tok).await.expect_error(401);
    // validating the token itself is always allowed
    let v = c
        .request_with(Method::GET, "/v3/auth/tokens", Some(&tok), None, &[("X-Subject-Token", &tok)])
        .await
        .expect(200);
    assert_eq!(v.body["token"]["application_credential"]["access_rules"].as_array().unwrap().len(), 3);
    // a credential without rules is not restricted that way
    let free = new_cred(&c, &demo, &uid, "free", json!([])).await;
    let (ftok, fbody) = cred_token(&c, &free).await;
    assert!(fbody["application_credential"].get("access_rules").is_none());
    c.get(&format!("/v3/users/{uid}"), &ftok).await.expect(200);
}

#[tokio::test]
async fn require_token_and_remote_validation_enforce_the_rules() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let ac = new_cred(
        &c,
        &demo,
        &uid,
        "servers",
        json!([{"service": "compute", "method": "GET", "path": "/v2.1/servers/*/ips"}]),
    )
    .await;
    let (tok, _) = cred_token(&c, &ac).await;
    let serve = |validator: Arc<dyn TokenValidator>| async move {
        let app = Router::new()
            .route("/v2.1/servers/{id}/ips", get(|| async { "ips" }).post(|| async { "made" }))
            .route("/v2.1/servers/{id}", get(|| async { "server" }))
            .layer(axum::middleware::from_fn_with_state(
                Validator::new("compute", validator),
                rustack_http::require_token,
            ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    };
    let remote: Arc<dyn TokenValidator> = Arc::new(RemoteValidator::new(
        ServiceCredentials {
            auth_url: c.base.clone(),
            username: "admin".into(),
            password: ADMIN_PASSWORD.into(),
            project_name: "admin".into(),
            domain_id: "default".into(),
        },
        Duration::from_secs(60),
    ));
    let http = reqwest::Client::new();
    for base in [serve(c.identity.validator()).await, serve(remote.clone()).await] {
        let status = |m: Method, p: &str, t: &str| {
            let (http, base, t) = (http.clone(), base.clone(), t.to_string());
            let p = p.to_string();
            async move {
                http.request(m, format!("{base}{p}")).header("X-Auth-Token", t).send().await.unwrap().status().as_u16()
            }
        };
        assert_eq!(status(Method::GET, "/v2.1/servers/abc/ips", &tok).await, 200);
        assert_eq!(status(Method::POST, "/v2.1/servers/abc/ips", &tok).await, 401);
        assert_eq!(status(Method::GET, "/v2.1/servers/abc", &tok).await, 401);
        // an unrestricted token goes everywhere
        assert_eq!(status(Method::GET, "/v2.1/servers/abc", &demo).await, 200);
        assert_eq!(status(Method::POST, "/v2.1/servers/abc/ips", &demo).await, 200);
    }
    // the remote validator reads the rules from the token body
    let ctx = remote.validate(&tok).await.unwrap();
    let rules = ctx.access_rules.as_ref().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0].service.as_str(), rules[0].method.as_str(), rules[0].path.as_str()),
        ("compute", "GET", "/v2.1/servers/*/ips")
    );
    // the same rule's token is refused by a service of another type
    let image = Validator::new("image", c.identity.validator());
    assert_eq!(image.check(&tok, "GET", "/v2.1/servers/abc/ips").await.unwrap_err().status(), 401);
    assert!(image.check(&demo, "GET", "/v2/images").await.is_ok());
}

#[tokio::test]
async fn deleting_the_user_removes_the_rules() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r = c
        .post("/v3/users", &admin, json!({"user": {"name": "gone", "password": "pw-123456", "domain_id": "default"}}))
        .await
        .expect(201);
    let uid = r.body["user"]["id"].as_str().unwrap().to_string();
    let pid = c.identity.store().get_project_by_name("default", "demo").await.unwrap().unwrap().id;
    let member = c.role_id("member").await;
    c.put(&format!("/v3/projects/{pid}/users/{uid}/roles/{member}"), &admin).await.expect(204);
    let t = subject(
        &c.request(
            Method::POST,
            "/v3/auth/tokens",
            None,
            Some(json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": uid, "password": "pw-123456"}}},
                "scope": {"project": {"id": pid}}}})),
        )
        .await
        .expect(201),
    );
    new_cred(&c, &t, &uid, "k", json!([{"path": "/", "method": "GET", "service": "compute"}])).await;
    assert_eq!(c.identity.store().list_access_rules(&uid).await.unwrap().len(), 1);
    c.delete(&format!("/v3/users/{uid}"), &admin).await.expect(204);
    assert!(c.identity.store().list_access_rules(&uid).await.unwrap().is_empty());
}

// ---------------------------------------------------------------- both backends

/// The access rule SQL on every configured backend (PostgreSQL when
/// RUSTACK_TEST_POSTGRES_URL is set).
#[tokio::test]
async fn access_rules_on_every_backend() {
    for db in rustack_db::testing::all_backends().await {
        let c = TestCloud::start_with(db, "").await;
        let demo = c.demo_token().await;
        let uid = demo_id(&c).await;
        let rule = json!({"path": "/v3/users/*/access_rules", "method": "GET", "service": "identity"});
        let ac = new_cred(&c, &demo, &uid, "one", json!([rule, {"path": "/x", "method": "PUT", "service": "compute"}]))
            .await;
        assert_eq!(ac["access_rules"].as_array().unwrap().len(), 2);
        let ac2 = new_cred(&c, &demo, &uid, "two", json!([rule])).await;
        let rid = ac2["access_rules"][0]["id"].as_str().unwrap().to_string();
        assert!(ac["access_rules"].as_array().unwrap().iter().any(|r| r["id"] == json!(rid)), "shared");
        assert_eq!(c.get(&rules_path(&uid), &demo).await.expect(200).body["access_rules"].as_array().unwrap().len(), 2);
        let (tok, _) = cred_token(&c, &ac2).await;
        c.get(&rules_path(&uid), &tok).await.expect(200);
        c.get(&creds(&uid), &tok).await.expect_error(401);
        c.delete(&format!("{}/{rid}", rules_path(&uid)), &demo).await.expect_error(403);
        for a in [&ac, &ac2] {
            c.delete(&format!("{}/{}", creds(&uid), a["id"].as_str().unwrap()), &demo).await.expect(204);
        }
        c.delete(&format!("{}/{rid}", rules_path(&uid)), &demo).await.expect(204);
        assert_eq!(c.get(&rules_path(&uid), &demo).await.expect(200).body["access_rules"].as_array().unwrap().len(), 1);
    }
}
