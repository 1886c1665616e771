//! Helpers shared by the identity API tests (each test file is its own crate
//! and uses the subset it needs).
#![allow(dead_code)]

use reqwest::Method;
use rustack_test_utils::{Resp, TestCloud, ADMIN_PASSWORD, DEMO_PASSWORD};
use serde_json::{json, Value};

/// The token in `X-Subject-Token` of a response.
#[track_caller]
pub fn subject(r: &Resp) -> String {
    let t = r.header("x-subject-token").expect("X-Subject-Token header").to_string();
    assert!(!t.is_empty(), "empty X-Subject-Token");
    t
}

/// `POST /v3/auth/tokens` with `{"auth": auth}`.
pub async fn auth(c: &TestCloud, auth: Value) -> Resp {
    c.request(Method::POST, "/v3/auth/tokens", None, Some(json!({ "auth": auth }))).await
}

/// `POST /v3/auth/tokens` with a raw JSON body.
pub async fn auth_body(c: &TestCloud, body: Value) -> Resp {
    c.request(Method::POST, "/v3/auth/tokens", None, Some(body)).await
}

/// Password identity by user id.
pub fn pw_id(user_id: &str, password: &str) -> Value {
    json!({"methods": ["password"], "password": {"user": {"id": user_id, "password": password}}})
}

/// Password auth by user id with an optional scope.
pub async fn auth_id(c: &TestCloud, user_id: &str, password: &str, scope: Option<Value>) -> Resp {
    let mut a = json!({ "identity": pw_id(user_id, password) });
    if let Some(s) = scope {
        a["scope"] = s;
    }
    auth(c, a).await
}

/// A token by user id, scoped or not; asserts 201.
pub async fn token_id(c: &TestCloud, user_id: &str, password: &str, scope: Option<Value>) -> String {
    let r = auth_id(c, user_id, password, scope).await.expect(201);
    subject(&r)
}

/// `{"project": {"id": pid}}`
pub fn project_scope(pid: &str) -> Value {
    json!({"project": {"id": pid}})
}

pub fn domain_scope(did: &str) -> Value {
    json!({"domain": {"id": did}})
}

pub fn system_scope() -> Value {
    json!({"system": {"all": true}})
}

/// Token-method auth (rescoping) with an optional scope.
pub async fn rescope(c: &TestCloud, token: &str, scope: Option<Value>) -> Resp {
    let mut a = json!({"identity": {"methods": ["token"], "token": {"id": token}}});
    if let Some(s) = scope {
        a["scope"] = s;
    }
    auth(c, a).await
}

/// `GET /v3/auth/tokens` (validate) with `path_suffix` e.g. `?nocatalog`.
pub async fn validate_q(c: &TestCloud, caller: &str, subject: &str, query: &str) -> Resp {
    c.request_with(Method::GET, &format!("/v3/auth/tokens{query}"), Some(caller), None, &[("X-Subject-Token", subject)])
        .await
}

pub async fn validate(c: &TestCloud, caller: &str, subject: &str) -> Resp {
    validate_q(c, caller, subject, "").await
}

/// `HEAD /v3/auth/tokens`
pub async fn check(c: &TestCloud, caller: &str, subject: &str) -> Resp {
    c.request_with(Method::HEAD, "/v3/auth/tokens", Some(caller), None, &[("X-Subject-Token", subject)]).await
}

/// `DELETE /v3/auth/tokens`
pub async fn revoke(c: &TestCloud, caller: &str, subject: &str) -> Resp {
    c.request_with(Method::DELETE, "/v3/auth/tokens", Some(caller), None, &[("X-Subject-Token", subject)]).await
}

/// A request with a JSON body and any method.
pub async fn send(c: &TestCloud, method: Method, path: &str, token: &str, body: Value) -> Resp {
    c.request(method, path, Some(token), Some(body)).await
}

/// Asserts a Keystone 401: error body, JSON, and a `WWW-Authenticate: Keystone uri=...` challenge.
#[track_caller]
pub fn expect_401(r: Resp) -> Resp {
    let r = r.expect_error(401);
    let w = r.header("www-authenticate").unwrap_or_else(|| panic!("401 without WWW-Authenticate; body {}", r.body));
    assert!(w.starts_with("Keystone uri="), "WWW-Authenticate: {w}");
    r
}

/// Asserts a 400 whose message names `field`.
#[track_caller]
pub fn expect_400_naming(r: Resp, field: &str) -> Resp {
    let r = r.expect_error(400);
    let m = r.body["error"]["message"].as_str().unwrap();
    assert!(m.contains(field), "400 message should name '{field}': {m}");
    r
}

/// The id of the bootstrap user `name` (in Default).
pub async fn user_id(c: &TestCloud, name: &str) -> String {
    c.identity.store().get_user_by_name("default", name).await.unwrap().expect("user exists").id
}

/// The id of the bootstrap project `name` (in Default).
pub async fn project_id(c: &TestCloud, name: &str) -> String {
    c.identity.store().get_project_by_name("default", name).await.unwrap().expect("project exists").id
}

pub async fn admin_id(c: &TestCloud) -> String {
    user_id(c, "admin").await
}

pub async fn demo_id(c: &TestCloud) -> String {
    user_id(c, "demo").await
}

/// POST an entity and return its JSON (asserts 201).
pub async fn create(c: &TestCloud, token: &str, collection: &str, key: &str, body: Value) -> Value {
    let r = c.post(&format!("/v3/{collection}"), token, json!({ key: body })).await.expect(201);
    r.body[key].clone()
}

pub async fn new_domain(c: &TestCloud, t: &str, name: &str) -> Value {
    create(c, t, "domains", "domain", json!({"name": name, "description": format!("{name} desc")})).await
}

pub async fn new_project(c: &TestCloud, t: &str, name: &str, domain_id: &str) -> Value {
    create(c, t, "projects", "project", json!({"name": name, "domain_id": domain_id})).await
}

pub async fn new_user(c: &TestCloud, t: &str, name: &str, password: &str, domain_id: &str) -> Value {
    create(c, t, "users", "user", json!({"name": name, "password": password, "domain_id": domain_id})).await
}

pub async fn new_group(c: &TestCloud, t: &str, name: &str, domain_id: &str) -> Value {
    create(c, t, "groups", "group", json!({"name": name, "domain_id": domain_id})).await
}

pub async fn new_role(c: &TestCloud, t: &str, name: &str) -> Value {
    create(c, t, "roles", "role", json!({"name": name})).await
}

/// `PUT /v3/{target}/{tid}/{actors}/{aid}/roles/{rid}` → 204.
pub async fn grant(c: &TestCloud, t: &str, target: &str, tid: &str, actors: &str, aid: &str, rid: &str) {
    let r = c.put(&format!("/v3/{target}/{tid}/{actors}/{aid}/roles/{rid}"), t).await.expect(204);
    assert_eq!(r.body, Value::Null, "204 must have an empty body");
}

pub async fn grant_project_user(c: &TestCloud, t: &str, pid: &str, uid: &str, rid: &str) {
    grant(c, t, "projects", pid, "users", uid, rid).await
}

/// A user in Default with `role` on project `pid`; returns (user id, token scoped to pid).
pub async fn user_on_project(c: &TestCloud, admin: &str, name: &str, pid: &str, role: &str) -> (String, String) {
    let u = new_user(c, admin, name, "pw-123456", "default").await;
    let uid = u["id"].as_str().unwrap().to_string();
    let rid = c.role_id(role).await;
    grant_project_user(c, admin, pid, &uid, &rid).await;
    let t = token_id(c, &uid, "pw-123456", Some(project_scope(pid))).await;
    (uid, t)
}

/// Values of `field` of each item in `body[key]`.
#[track_caller]
pub fn field(body: &Value, key: &str, field: &str) -> Vec<String> {
    body[key]
        .as_array()
        .unwrap_or_else(|| panic!("'{key}' is not a list in {body}"))
        .iter()
        .map(|v| v[field].as_str().unwrap_or_default().to_string())
        .collect()
}

pub fn ids(body: &Value, key: &str) -> Vec<String> {
    field(body, key, "id")
}

pub fn names(body: &Value, key: &str) -> Vec<String> {
    field(body, key, "name")
}

/// Sorted role names of a token body (`{"token": {...}}`).
#[track_caller]
pub fn role_names(token_body: &Value) -> Vec<String> {
    let mut v = names(&token_body["token"], "roles");
    v.sort();
    v
}

pub fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Asserts the exact key set of a JSON object.
#[track_caller]
pub fn assert_keys(v: &Value, keys: &[&str]) {
    let mut got: Vec<&str> =
        v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().map(String::as_str).collect();
    got.sort();
    let mut want = keys.to_vec();
    want.sort();
    assert_eq!(got, want, "keys of {v}");
}

/// A 32-character lowercase hex id, as Keystone generates.
#[track_caller]
pub fn assert_hex_id(v: &Value) {
    let s = v.as_str().unwrap_or_else(|| panic!("id is not a string: {v}"));
    assert!(
        s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "not a uuid4 hex: {s}"
    );
}

/// The `X-Auth-Token` of the admin (project admin) and the demo user.
pub async fn tokens(c: &TestCloud) -> (String, String) {
    (c.admin_token().await, c.demo_token().await)
}

/// Password auth of a bootstrap user by name, unscoped.
pub async fn unscoped(c: &TestCloud, name: &str) -> Resp {
    let pw = if name == "admin" { ADMIN_PASSWORD } else { DEMO_PASSWORD };
    c.password_auth(name, pw, None).await
}
