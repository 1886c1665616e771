//! Every error, wherever it comes from (handler, extractor, router), is in
//! Keystone's shape with the right status; no input is a 500.

use reqwest::Method;
use rustack_test_utils::TestCloud;
use serde_json::json;

#[tokio::test]
async fn router_and_extractor_errors_are_in_keystone_shape() {
    let c = TestCloud::start().await;
    let t = c.admin_token().await;
    c.get("/v3/no-such-thing", &t).await.expect_error(404);
    c.request(Method::PUT, "/v3/users", Some(&t), None).await.expect_error(405);
    // a path segment that is not UTF-8 once decoded
    c.get("/v3/users/%FF%FE", &t).await.expect_error(400);
    // a body that is not JSON, and one of the wrong shape
    let r = c
        .request_with(Method::POST, "/v3/projects", Some(&t), None, &[("content-type", "application/json")])
        .await
        .expect_error(400);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("empty"));
    c.post("/v3/projects", &t, json!({"project": {"name": 5}})).await.expect_error(400);
    c.post("/v3/projects", &t, json!(["project"])).await.expect_error(400);
    let r =
        c.post("/v3/auth/tokens", &t, json!({"auth": {"identity": {"methods": "password"}}})).await.expect_error(400);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("auth.identity.methods"), "{}", r.body);
}

#[tokio::test]
async fn unauthorized_names_the_identity_endpoint() {
    let c = TestCloud::start().await;
    let r = c.request(Method::GET, "/v3/users", None, None).await.expect_error(401);
    assert_eq!(r.header("www-authenticate").unwrap(), format!("Keystone uri=\"{}/v3\"", c.base));
    let r = c.password_auth("admin", "wrong", None).await.expect_error(401);
    assert!(r.header("www-authenticate").is_some());
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let c = TestCloud::start().await;
    let t = c.admin_token().await;
    let big = "x".repeat(200_000);
    c.post("/v3/projects", &t, json!({"project": {"name": "p", "description": big}})).await.expect_error(413);
}

#[tokio::test]
async fn unserved_parts_of_the_api_answer_501() {
    let c = TestCloud::start().await;
    let t = c.admin_token().await;
    for path in ["/v3/OS-FEDERATION/identity_providers", "/v3/OS-REVOKE/events", "/v3/s3tokens"] {
        let r = c.get(path, &t).await.expect_error(501);
        assert!(r.body["error"]["message"].as_str().unwrap().contains("not served"), "{}", r.body);
    }
}
