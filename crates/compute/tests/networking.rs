//! Servers on real networks of the network service (fake hypervisor): the
//! security groups a boot asks for, by name or by id, are the ones its ports
//! get, and the server shows their names, as Nova does.

mod common;

use common::*;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

async fn network_id(cloud: &TestCloud, token: &str, name: &str) -> String {
    let r = cloud.get(&format!("{}/v2.0/networks?name={name}", cloud.network.url), token).await.expect(200);
    r.body["networks"][0]["id"].as_str().unwrap_or_else(|| panic!("no network {name}: {}", r.body)).to_string()
}

async fn port_groups(cloud: &TestCloud, token: &str, server: &str) -> Vec<String> {
    let r = cloud.get(&format!("{}/v2.0/ports?device_id={server}", cloud.network.url), token).await.expect(200);
    let ports = r.body["ports"].as_array().cloned().unwrap_or_default();
    assert_eq!(ports.len(), 1, "one port: {}", r.body);
    let mut g: Vec<String> =
        ports[0]["security_groups"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    g.sort();
    g
}

fn names(server: &Value) -> Vec<String> {
    server["security_groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn requested_security_groups_are_the_ports_groups() {
    let cloud = TestCloud::start().await;
    let token = cloud.demo_token().await;
    let img = image(&cloud, &cloud.admin_token().await).await;
    let net = network_id(&cloud, &token, "private").await;
    let r = cloud
        .post(
            &format!("{}/v2.0/security-groups", cloud.network.url),
            &token,
            json!({"security_group": {"name": "web"}}),
        )
        .await
        .expect(201);
    let web = r.body["security_group"]["id"].as_str().unwrap().to_string();
    let r = cloud.get(&format!("{}/v2.0/security-groups?name=default", cloud.network.url), &token).await.expect(200);
    let default = r.body["security_groups"][0]["id"].as_str().unwrap().to_string();

    // by name: only that group, and the server shows its name
    let a =
        boot(&cloud, &token, &img, json!({"networks": [{"uuid": net}], "security_groups": [{"name": "web"}]})).await;
    let s = wait_status(&cloud, &token, &a, "ACTIVE").await;
    assert_eq!(port_groups(&cloud, &token, &a).await, vec![web.clone()]);
    assert_eq!(names(&s), vec!["web"]);

    // by id (what the openstack CLI sends), with default beside it
    let b = boot(
        &cloud,
        &token,
        &img,
        json!({"networks": [{"uuid": net}], "security_groups": [{"name": web}, {"name": "default"}]}),
    )
    .await;
    let s = wait_status(&cloud, &token, &b, "ACTIVE").await;
    let mut want = vec![web.clone(), default.clone()];
    want.sort();
    assert_eq!(port_groups(&cloud, &token, &b).await, want);
    let mut shown = names(&s);
    shown.sort();
    assert_eq!(shown, vec!["default", "web"]);

    // none asked for: the project's default group
    let c = boot(&cloud, &token, &img, json!({"networks": [{"uuid": net}]})).await;
    wait_status(&cloud, &token, &c, "ACTIVE").await;
    assert_eq!(port_groups(&cloud, &token, &c).await, vec![default]);

    // an unknown group is Nova's 400, and nothing is made
    let r = post_v(
        &cloud,
        "/servers",
        &token,
        json!({"server": {"name": "x", "imageRef": img, "flavorRef": "1", "networks": [{"uuid": net}],
                          "security_groups": [{"name": "nope"}]}}),
        "2.37",
    )
    .await
    .expect(400);
    assert!(r.body["badRequest"]["message"].as_str().unwrap().contains("nope"), "{}", r.body);
}
