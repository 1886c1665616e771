use rustack_test_utils::TestCloud;
use serde_json::json;

#[tokio::test]
async fn version_discovery_and_admin_token() {
    let c = TestCloud::start().await;
    let r = c.request(reqwest::Method::GET, "/", None, None).await.expect(300);
    assert_eq!(r.body["versions"]["values"][0]["id"], "v3.14");
    assert!(r.header("x-openstack-request-id").unwrap().starts_with("req-"));
    let r = c.request(reqwest::Method::GET, "/v3", None, None).await.expect(200);
    assert_eq!(r.body["version"]["status"], "stable");
    let t = c.admin_token().await;
    let r = c.get("/v3/users", &t).await.expect(200);
    let names: Vec<&str> = r.body["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["admin", "demo", "rustack"]);
    c.get("/v3/users", "garbage").await.expect_error(401);
    c.post("/v3/users", &t, json!({"user": {"name": ""}})).await.expect_error(400);
}
