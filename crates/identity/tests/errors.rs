//! HTTP-level behaviour every identity route shares: authentication first
//! (401 with a Keystone challenge), Keystone's error body, unknown routes and
//! methods, malformed bodies, oversized bodies, HEAD, and version discovery.

mod common;

use common::*;
use reqwest::Method;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

const NO_SUCH: &str = "0123456789abcdef0123456789abcdef";

/// A sample of protected routes, with a body where the route takes one.
fn protected(uid: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/v3/users".into(), None),
        (Method::POST, "/v3/users".into(), Some(json!({"user": {"name": "x"}}))),
        (Method::GET, format!("/v3/users/{uid}"), None),
        (Method::PATCH, format!("/v3/users/{uid}"), Some(json!({"user": {"name": "x"}}))),
        (Method::DELETE, format!("/v3/users/{uid}"), None),
        (Method::GET, "/v3/projects".into(), None),
        (Method::GET, "/v3/domains".into(), None),
        (Method::POST, "/v3/domains".into(), Some(json!({"domain": {"name": "x"}}))),
        (Method::GET, "/v3/groups".into(), None),
        (Method::GET, "/v3/roles".into(), None),
        (Method::GET, "/v3/role_assignments".into(), None),
        (Method::GET, "/v3/role_inferences".into(), None),
        (Method::GET, "/v3/regions".into(), None),
        (Method::GET, "/v3/services".into(), None),
        (Method::GET, "/v3/endpoints".into(), None),
        (Method::GET, "/v3/auth/tokens".into(), None),
        (Method::DELETE, "/v3/auth/tokens".into(), None),
        (Method::GET, "/v3/auth/projects".into(), None),
        (Method::GET, "/v3/auth/domains".into(), None),
        (Method::GET, "/v3/auth/system".into(), None),
        (Method::GET, "/v3/auth/catalog".into(), None),
        (Method::GET, format!("/v3/users/{uid}/application_credentials"), None),
        (
            Method::POST,
            format!("/v3/users/{uid}/application_credentials"),
            Some(json!({"application_credential": {"name": "x"}})),
        ),
        (Method::PUT, format!("/v3/system/users/{uid}/roles/{NO_SUCH}"), None),
    ]
}

#[tokio::test]
async fn every_protected_route_wants_a_valid_token() {
    let c = TestCloud::start().await;
    let uid = demo_id(&c).await;
    let admin = c.admin_token().await;
    let revoked = {
        let t = c.admin_token().await;
        revoke(&c, &admin, &t).await.expect(204);
        t
    };
    for (m, path, body) in protected(&uid) {
        for token in [None, Some("garbage"), Some(revoked.as_str())] {
            let r = c.request(m.clone(), &path, token, body.clone()).await;
            assert_eq!(r.status.as_u16(), 401, "{m} {path} with {token:?}: {}", r.body);
            let r = expect_401(r);
            assert!(r.header("x-openstack-request-id").is_some_and(|id| id.starts_with("req-")));
        }
    }
    // and nothing was made by any of them
    let l = c.get("/v3/users", &admin).await.expect(200);
    assert_eq!(names(&l.body, "users"), strs(&["admin", "demo", "rustack"]));
    assert_eq!(names(&c.get("/v3/domains", &admin).await.expect(200).body, "domains"), strs(&["Default"]));
}

#[tokio::test]
async fn the_challenge_names_the_identity_endpoint() {
    // Keystone: `WWW-Authenticate: Keystone uri="http://h:5000/v3"`.
    let c = TestCloud::start().await;
    let r = expect_401(c.request(Method::GET, "/v3/users", None, None).await);
    assert_eq!(r.header("www-authenticate"), Some(format!("Keystone uri=\"{}/v3\"", c.base).as_str()));
    let r = expect_401(c.password_auth("demo", "wrong", None).await);
    assert_eq!(r.header("www-authenticate"), Some(format!("Keystone uri=\"{}/v3\"", c.base).as_str()));
}

#[tokio::test]
async fn authentication_comes_before_lookup_and_validation() {
    let c = TestCloud::start().await;
    // an unknown id without a token: 401, not 404
    expect_401(c.request(Method::GET, &format!("/v3/users/{NO_SUCH}"), None, None).await);
    expect_401(c.request(Method::DELETE, &format!("/v3/projects/{NO_SUCH}"), None, None).await);
    // a bad body without a token: 401, not 400
    expect_401(c.request(Method::POST, "/v3/users", None, Some(json!({"user": {"name": ""}}))).await);
    expect_401(c.request(Method::POST, "/v3/projects", None, Some(json!("not an object"))).await);
}

#[tokio::test]
async fn lookup_comes_before_policy() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    for path in [
        format!("/v3/users/{NO_SUCH}"),
        format!("/v3/projects/{NO_SUCH}"),
        format!("/v3/domains/{NO_SUCH}"),
        format!("/v3/groups/{NO_SUCH}"),
        format!("/v3/roles/{NO_SUCH}"),
        format!("/v3/services/{NO_SUCH}"),
        format!("/v3/endpoints/{NO_SUCH}"),
        format!("/v3/regions/{NO_SUCH}"),
    ] {
        let r = c.get(&path, &demo).await;
        assert_eq!(r.status.as_u16(), 404, "GET {path}: {}", r.body);
        r.expect_error(404);
    }
    c.delete(&format!("/v3/users/{NO_SUCH}"), &demo).await.expect_error(404);
    c.delete(&format!("/v3/groups/{NO_SUCH}"), &demo).await.expect_error(404);
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r = c.get("/v3/nonexistent", &admin).await.expect_error(404);
    assert_eq!(r.body["error"]["title"], "Not Found");
    c.get("/v3/users/x/y/z", &admin).await.expect_error(404);
    let r = c.request(Method::PUT, "/v3/users", Some(&admin), Some(json!({}))).await.expect_error(405);
    assert!(r.body["error"]["message"].is_string());
    c.request(Method::POST, &format!("/v3/users/{}", demo_id(&c).await), Some(&admin), Some(json!({})))
        .await
        .expect_error(405);
    c.request(Method::PATCH, "/v3/auth/tokens", Some(&admin), Some(json!({}))).await.expect_error(405);
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let raw = |method: Method, path: &str, body: &'static str| {
        c.http
            .request(method, format!("{}{path}", c.base))
            .header("X-Auth-Token", admin.as_str())
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for (m, path) in [
        (Method::POST, "/v3/users"),
        (Method::POST, "/v3/projects"),
        (Method::PATCH, "/v3/domains/default"),
        (Method::POST, "/v3/auth/tokens"),
    ] {
        for body in ["{\"user\": ", "", "not json", "{} trailing"] {
            let r = raw(m.clone(), path, body).await.unwrap();
            assert_eq!(r.status().as_u16(), 400, "{m} {path} {body:?}");
            assert_eq!(r.headers().get("content-type").unwrap(), "application/json");
            let b: Value = r.json().await.unwrap();
            assert_eq!(b["error"]["code"], 400);
            assert_eq!(b["error"]["title"], "Bad Request");
        }
    }
    // JSON but the wrong shape
    expect_400_naming(c.post("/v3/users", &admin, json!([1, 2])).await, "");
    expect_400_naming(c.post("/v3/users", &admin, json!({"user": [1]})).await, "user");
    expect_400_naming(c.patch("/v3/domains/default", &admin, json!({"domain": null})).await, "domain");
    assert_eq!(c.get("/v3/domains/default", &admin).await.expect(200).body["domain"]["name"], "Default");
    assert_eq!(names(&c.get("/v3/users", &admin).await.expect(200).body, "users"), strs(&["admin", "demo", "rustack"]));
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let big = "x".repeat(200 * 1024);
    let r = c.post("/v3/users", &admin, json!({"user": {"name": "big", "description": big}})).await;
    assert_eq!(r.status.as_u16(), 413, "{}", r.body);
    r.expect_error(413);
    assert_eq!(c.get("/v3/users?name=big", &admin).await.expect(200).body["users"], json!([]));
}

#[tokio::test]
async fn head_on_get_routes_is_empty() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let pid = project_id(&c, "demo").await;
    for path in
        ["/v3/users".to_string(), format!("/v3/projects/{pid}"), "/v3/regions".into(), "/v3/auth/projects".into()]
    {
        let r = c.head(&path, &admin).await;
        assert_eq!(r.status.as_u16(), 200, "HEAD {path}");
        assert_eq!(r.body, Value::Null, "HEAD {path} has a body");
    }
    let r = c.head(&format!("/v3/projects/{NO_SUCH}"), &admin).await;
    assert_eq!(r.status.as_u16(), 404);
    assert_eq!(r.body, Value::Null);
}

#[tokio::test]
async fn version_discovery() {
    let c = TestCloud::start().await;
    // no token, no Accept header
    let r = c.http.get(format!("{}/", c.base)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 300);
    assert_eq!(r.headers().get("content-type").unwrap(), "application/json");
    let b: Value = r.json().await.unwrap();
    let v = &b["versions"]["values"][0];
    for k in ["id", "links", "media-types", "status", "updated"] {
        assert!(v.get(k).is_some(), "{k} missing in {v}");
    }
    assert!(v["id"].as_str().unwrap().contains("v3"));
    assert_eq!(v["links"][0]["href"], json!(format!("{}/v3/", c.base)));
    let r = c.request(Method::GET, "/v3", None, None).await.expect(200);
    assert_eq!(
        r.body["version"]["media-types"],
        json!([{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}])
    );
    assert_eq!(r.body["version"]["status"], "stable");
    assert_eq!(r.body["version"]["links"][0]["href"], json!(format!("{}/v3/", c.base)));
}

#[tokio::test]
async fn success_answers_are_json_with_a_request_id() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r = c.get("/v3/users", &admin).await.expect(200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let a = r.header("x-openstack-request-id").unwrap().to_string();
    let r = c.get("/v3/users", &admin).await.expect(200);
    assert_ne!(r.header("x-openstack-request-id").unwrap(), a, "one id per request");
    let r = c.get(&format!("/v3/users/{NO_SUCH}"), &admin).await.expect_error(404);
    assert!(r.header("x-openstack-request-id").unwrap().starts_with("req-"));
    // 204 answers are empty
    let g = new_group(&c, &admin, "g", "default").await;
    let r = c
        .put(&format!("/v3/groups/{}/users/{}", g["id"].as_str().unwrap(), demo_id(&c).await), &admin)
        .await
        .expect(204);
    assert_eq!(r.body, Value::Null);
}
