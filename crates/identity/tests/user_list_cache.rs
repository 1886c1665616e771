//! `GET /v3/users` serves a list kept in memory on SQLite: every write to
//! users must show in the next list, whichever path made it.

use rustack_test_utils::TestCloud;
use serde_json::json;

fn names(r: &rustack_test_utils::Resp) -> Vec<String> {
    r.body["users"].as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn every_write_shows_in_the_next_list() {
    let c = TestCloud::start_with(
        rustack_db::testing::sqlite().await,
        "[security_compliance]\npassword_expires_days = 10\n",
    )
    .await;
    let t = c.admin_token().await;
    assert_eq!(names(&c.get("/v3/users", &t).await.expect(200)), vec!["admin", "demo", "rustack"]);
    let r = c.post("/v3/users", &t, json!({"user": {"name": "bob"}})).await.expect(201);
    let uid = r.body["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(names(&c.get("/v3/users", &t).await.expect(200)), vec!["admin", "bob", "demo", "rustack"]);
    c.patch(&format!("/v3/users/{uid}"), &t, json!({"user": {"name": "alice", "enabled": false}})).await.expect(200);
    let r = c.get("/v3/users?enabled=false", &t).await.expect(200);
    assert_eq!(names(&r), vec!["alice"]);
    c.patch(&format!("/v3/users/{uid}"), &t, json!({"user": {"password": "pw-1"}})).await.expect(200);
    let r = c.get("/v3/users?name=alice", &t).await.expect(200);
    assert!(r.body["users"][0]["password_expires_at"].is_string(), "{}", r.body);
    // a domain delete takes its users along
    let d = c.post("/v3/domains", &t, json!({"domain": {"name": "gone"}})).await.expect(201);
    let did = d.body["domain"]["id"].as_str().unwrap().to_string();
    c.post("/v3/users", &t, json!({"user": {"name": "in-domain", "domain_id": did}})).await.expect(201);
    assert!(names(&c.get("/v3/users", &t).await.expect(200)).contains(&"in-domain".to_string()));
    c.patch(&format!("/v3/domains/{did}"), &t, json!({"domain": {"enabled": false}})).await.expect(200);
    c.delete(&format!("/v3/domains/{did}"), &t).await.expect(204);
    c.delete(&format!("/v3/users/{uid}"), &t).await.expect(204);
    assert_eq!(names(&c.get("/v3/users", &t).await.expect(200)), vec!["admin", "demo", "rustack"]);
    let r = c.get("/v3/users?name__icontains=ADM", &t).await.expect(200);
    assert_eq!(names(&r), vec!["admin"]);
    assert_eq!(r.body["links"]["self"], json!(format!("{}/v3/users?name__icontains=ADM", c.base)));
}
