//! Deleting a user, project, domain, endpoint or service removes what hangs
//! off it (credentials, OAuth tokens, endpoint filters) in the same step.

use rustack_test_utils::TestCloud;
use serde_json::json;

async fn id_of(r: rustack_test_utils::Resp, key: &str) -> String {
    r.body[key]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn credentials_go_with_their_user_and_project() {
    let c = TestCloud::start().await;
    let t = c.admin_token().await;
    let uid = id_of(c.post("/v3/users", &t, json!({"user": {"name": "cu"}})).await.expect(201), "user").await;
    let pid = id_of(c.post("/v3/projects", &t, json!({"project": {"name": "cp"}})).await.expect(201), "project").await;
    let by_user = id_of(
        c.post("/v3/credentials", &t, json!({"credential": {"user_id": uid, "type": "cert", "blob": "x"}}))
            .await
            .expect(201),
        "credential",
    )
    .await;
    let admin_uid = c.identity.store().get_user_by_name("default", "admin").await.unwrap().unwrap().id;
    let by_project = id_of(
        c.post(
            "/v3/credentials",
            &t,
            json!({"credential": {"user_id": admin_uid, "project_id": pid, "type": "cert", "blob": "y"}}),
        )
        .await
        .expect(201),
        "credential",
    )
    .await;
    c.delete(&format!("/v3/users/{uid}"), &t).await.expect(204);
    c.get(&format!("/v3/credentials/{by_user}"), &t).await.expect_error(404);
    c.get(&format!("/v3/credentials/{by_project}"), &t).await.expect(200);
    c.delete(&format!("/v3/projects/{pid}"), &t).await.expect(204);
    c.get(&format!("/v3/credentials/{by_project}"), &t).await.expect_error(404);
}

#[tokio::test]
async fn endpoint_associations_go_with_endpoint_and_project() {
    let c = TestCloud::start().await;
    let t = c.admin_token().await;
    let sid =
        id_of(c.post("/v3/services", &t, json!({"service": {"type": "x-svc"}})).await.expect(201), "service").await;
    let eid = id_of(
        c.post(
            "/v3/endpoints",
            &t,
            json!({"endpoint": {"service_id": sid, "interface": "public", "url": "http://x.example/"}}),
        )
        .await
        .expect(201),
        "endpoint",
    )
    .await;
    let pid = id_of(c.post("/v3/projects", &t, json!({"project": {"name": "ep"}})).await.expect(201), "project").await;
    c.put(&format!("/v3/OS-EP-FILTER/projects/{pid}/endpoints/{eid}"), &t).await.expect(204);
    let r = c.get(&format!("/v3/OS-EP-FILTER/projects/{pid}/endpoints"), &t).await.expect(200);
    assert_eq!(r.body["endpoints"].as_array().unwrap().len(), 1);
    c.delete(&format!("/v3/services/{sid}"), &t).await.expect(204);
    let r = c.get(&format!("/v3/OS-EP-FILTER/projects/{pid}/endpoints"), &t).await.expect(200);
    assert!(r.body["endpoints"].as_array().unwrap().is_empty(), "{}", r.body);
}
