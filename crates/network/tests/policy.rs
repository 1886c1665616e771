//! Neutron's authorization through rustack-policy: the defaults, and
//! overrides from `[oslo_policy] policy_file`.

use rustack_test_utils::TestCloud;
use serde_json::json;

fn url(cloud: &TestCloud, path: &str) -> String {
    format!("{}/v2.0{path}", cloud.network.url)
}

async fn put(cloud: &TestCloud, path: &str, token: &str, body: serde_json::Value) -> rustack_test_utils::Resp {
    cloud.request(reqwest::Method::PUT, path, Some(token), Some(body)).await
}

async fn cloud_with_policy(rules: serde_json::Value) -> TestCloud {
    let dir = rustack_db::testing::temp_dir("network-policy");
    let file = dir.join("policy.json");
    std::fs::write(&file, rules.to_string()).unwrap();
    let conf = format!("[oslo_policy]\npolicy_file = {}\n", file.display());
    TestCloud::start_with(rustack_db::testing::sqlite().await, &conf).await
}

#[tokio::test]
async fn an_override_forbids_members_what_the_defaults_allow() {
    let cloud = cloud_with_policy(json!({
        "create_network": "rule:admin_only",
        "update_router": "rule:admin_only",
        "get_network": "rule:admin_or_owner",
    }))
    .await;
    let (demo, admin) = (cloud.demo_token().await, cloud.admin_token().await);

    // create_network: a member is refused, in Neutron's shape; an admin is not.
    let r = cloud.post(&url(&cloud, "/networks"), &demo, json!({"network": {"name": "n"}})).await.expect(403);
    assert_eq!(r.body["NeutronError"]["type"], "PolicyNotAuthorized");
    assert_eq!(r.body["NeutronError"]["message"], "rule:create_network is disallowed by policy");
    // In bulk too.
    let bulk = json!({"networks": [{"name": "a"}, {"name": "b"}]});
    cloud.post(&url(&cloud, "/networks"), &demo, bulk).await.expect(403);
    cloud.post(&url(&cloud, "/networks"), &admin, json!({"network": {"name": "n"}})).await.expect(201);

    // update_router: demo's own router1 can no longer be renamed by demo (it
    // sees it: 403), but still read.
    let r = cloud.get(&url(&cloud, "/routers?name=router1"), &demo).await.expect(200);
    let rid = r.body["routers"][0]["id"].as_str().expect("demo's router1").to_string();
    let r = put(&cloud, &url(&cloud, &format!("/routers/{rid}")), &demo, json!({"router": {"name": "x"}}))
        .await
        .expect(403);
    assert_eq!(r.body["NeutronError"]["message"], "rule:update_router is disallowed by policy");
    put(&cloud, &url(&cloud, &format!("/routers/{rid}")), &admin, json!({"router": {"name": "x"}})).await.expect(200);

    // get_network narrowed to owners: the shared external `public` is gone
    // from demo's list and its show is a 404; demo's `private` stays.
    let r = cloud.get(&url(&cloud, "/networks"), &demo).await.expect(200);
    let names: Vec<&str> = r.body["networks"].as_array().unwrap().iter().filter_map(|n| n["name"].as_str()).collect();
    assert!(names.contains(&"private") && !names.contains(&"public"), "{names:?}");
    let r = cloud.get(&url(&cloud, "/networks?name=public"), &admin).await.expect(200);
    let public = r.body["networks"][0]["id"].as_str().unwrap().to_string();
    let r = cloud.get(&url(&cloud, &format!("/networks/{public}")), &demo).await.expect(404);
    assert_eq!(r.body["NeutronError"]["type"], "NetworkNotFound");
}

#[tokio::test]
async fn the_defaults_are_neutrons() {
    let cloud = TestCloud::start().await;
    let (demo, admin) = (cloud.demo_token().await, cloud.admin_token().await);
    // A member creates its own network; admin-only attributes are refused
    // by their attribute rule, set to their default they are not checked.
    let r = cloud
        .post(&url(&cloud, "/networks"), &demo, json!({"network": {"name": "n", "shared": false}}))
        .await
        .expect(201);
    let nid = r.body["network"]["id"].as_str().unwrap().to_string();
    let r = cloud
        .post(&url(&cloud, "/networks"), &demo, json!({"network": {"provider:network_type": "vxlan"}}))
        .await
        .expect(403);
    assert_eq!(r.body["NeutronError"]["message"], "rule:create_network:provider:network_type is disallowed by policy");
    // Another project's network: not visible → 404 on update and delete.
    let r = cloud.post(&url(&cloud, "/networks"), &admin, json!({"network": {"name": "adm"}})).await.expect(201);
    let adm = r.body["network"]["id"].as_str().unwrap().to_string();
    put(&cloud, &url(&cloud, &format!("/networks/{adm}")), &demo, json!({"network": {"name": "x"}})).await.expect(404);
    cloud.delete(&url(&cloud, &format!("/networks/{adm}")), &demo).await.expect(404);
    // A subnet on someone else's (visible, shared) network: admin_or_network_owner.
    let r = cloud.get(&url(&cloud, "/networks?name=public"), &admin).await.expect(200);
    let public = r.body["networks"][0]["id"].as_str().unwrap().to_string();
    let body = json!({"subnet": {"network_id": public, "ip_version": 4, "cidr": "10.77.0.0/24"}});
    let r = cloud.post(&url(&cloud, "/subnets"), &demo, body).await.expect(403);
    assert_eq!(r.body["NeutronError"]["type"], "PolicyNotAuthorized");
    cloud.delete(&url(&cloud, &format!("/networks/{nid}")), &demo).await.expect(204);
}

#[tokio::test]
async fn an_override_can_grant_members_an_admin_only_attribute() {
    let cloud = cloud_with_policy(json!({
        "create_network:shared": "rule:owner",
        "create_floatingip:floating_ip_address": "rule:regular_user",
    }))
    .await;
    let demo = cloud.demo_token().await;
    let r = cloud
        .post(&url(&cloud, "/networks"), &demo, json!({"network": {"name": "s", "shared": true}}))
        .await
        .expect(201);
    assert_eq!(r.body["network"]["shared"], true);
    // Not granted: still admin-only.
    let r =
        cloud.post(&url(&cloud, "/networks"), &demo, json!({"network": {"router:external": true}})).await.expect(403);
    assert_eq!(r.body["NeutronError"]["message"], "rule:create_network:router:external is disallowed by policy");
    // A chosen floating IP address on `public`.
    let r = cloud.get(&url(&cloud, "/networks?name=public"), &demo).await.expect(200);
    let public = r.body["networks"][0]["id"].as_str().unwrap().to_string();
    let body = json!({"floatingip": {"floating_network_id": public, "floating_ip_address": "172.24.4.77"}});
    let r = cloud.post(&url(&cloud, "/floatingips"), &demo, body).await.expect(201);
    assert_eq!(r.body["floatingip"]["floating_ip_address"], "172.24.4.77");
}
