//! The deprecated multinic actions (fake hypervisor, real network service):
//! addFixedIp gives the server a new port on the network, removeFixedIp
//! detaches and deletes the port holding the address; bad bodies, unknown
//! addresses and microversions past 2.43 are refused as Nova refuses them.

mod common;

use common::*;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

async fn network_id(cloud: &TestCloud, token: &str, name: &str) -> String {
    let r = cloud.get(&format!("{}/v2.0/networks?name={name}", cloud.network.url), token).await.expect(200);
    r.body["networks"][0]["id"].as_str().unwrap_or_else(|| panic!("no network {name}: {}", r.body)).to_string()
}

/// The server's ports as the network service has them: (port id, first IP).
async fn ports(cloud: &TestCloud, token: &str, server: &str) -> Vec<(String, String)> {
    let r = cloud.get(&format!("{}/v2.0/ports?device_id={server}", cloud.network.url), token).await.expect(200);
    r.body["ports"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|p| (p["id"].as_str().unwrap().to_string(), p["fixed_ips"][0]["ip_address"].as_str().unwrap().to_string()))
        .collect()
}

fn fixed_addrs(server: &Value) -> Vec<String> {
    let mut out = vec![];
    for list in server["addresses"].as_object().cloned().unwrap_or_default().values() {
        for a in list.as_array().cloned().unwrap_or_default() {
            out.push(a["addr"].as_str().unwrap().to_string());
        }
    }
    out.sort();
    out
}

async fn act(cloud: &TestCloud, token: &str, id: &str, body: Value, v: &str) -> rustack_test_utils::Resp {
    post_v(cloud, &format!("/servers/{id}/action"), token, body, v).await
}

#[tokio::test]
async fn add_then_remove_a_fixed_ip() {
    let cloud = TestCloud::start().await;
    let token = cloud.demo_token().await;
    let img = image(&cloud, &cloud.admin_token().await).await;
    let net = network_id(&cloud, &token, "private").await;
    let id = boot(&cloud, &token, &img, json!({"networks": [{"uuid": net}]})).await;
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    let before = ports(&cloud, &token, &id).await;
    assert_eq!(before.len(), 1);

    // addFixedIp: a second port on the network, shown in the addresses
    act(&cloud, &token, &id, json!({"addFixedIp": {"networkId": net}}), "2.1").await.expect(202);
    let after = ports(&cloud, &token, &id).await;
    assert_eq!(after.len(), 2, "{after:?}");
    let (new_port, new_ip) = after.iter().find(|p| p.0 != before[0].0).cloned().unwrap();
    let s = wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert!(fixed_addrs(&s).contains(&new_ip), "{s}");
    let r = get_v(&cloud, &format!("/servers/{id}/os-interface"), &token, "2.1").await.expect(200);
    assert_eq!(r.body["interfaceAttachments"].as_array().unwrap().len(), 2);

    // removeFixedIp: that port detached and deleted, the address gone
    act(&cloud, &token, &id, json!({"removeFixedIp": {"address": new_ip}}), "2.43").await.expect(202);
    assert_eq!(ports(&cloud, &token, &id).await, before);
    let r = cloud.get(&format!("{}/v2.0/ports/{new_port}", cloud.network.url), &token).await;
    assert_eq!(r.status.as_u16(), 404, "the port made by addFixedIp is deleted");
    let s = wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert!(!fixed_addrs(&s).contains(&new_ip), "{s}");
    assert!(fixed_addrs(&s).contains(&before[0].1));

    // an address the server does not have: 400, nothing changes
    let r = act(&cloud, &token, &id, json!({"removeFixedIp": {"address": "10.99.99.99"}}), "2.1").await.expect(400);
    assert!(r.body["badRequest"]["message"].as_str().unwrap().contains("doesn't have fixed IP"), "{}", r.body);
    assert_eq!(ports(&cloud, &token, &id).await, before);
}

#[tokio::test]
async fn bad_requests_are_refused() {
    let cloud = TestCloud::start().await;
    let token = cloud.demo_token().await;
    let img = image(&cloud, &cloud.admin_token().await).await;
    let net = network_id(&cloud, &token, "private").await;
    let id = boot(&cloud, &token, &img, json!({"networks": [{"uuid": net}]})).await;
    wait_status(&cloud, &token, &id, "ACTIVE").await;

    for body in [
        json!({"addFixedIp": {}}),
        json!({"addFixedIp": {"networkId": net, "extra": 1}}),
        json!({"addFixedIp": {"networkId": true}}),
        json!({"addFixedIp": "x"}),
        json!({"removeFixedIp": {}}),
        json!({"removeFixedIp": {"address": "not-an-ip"}}),
        json!({"removeFixedIp": {"address": 12}}),
    ] {
        act(&cloud, &token, &id, body, "2.1").await.expect(400);
    }
    // gone from the API after 2.43
    act(&cloud, &token, &id, json!({"addFixedIp": {"networkId": net}}), "2.44").await.expect(404);
    act(&cloud, &token, &id, json!({"removeFixedIp": {"address": "10.0.0.1"}}), "2.44").await.expect(404);
    // an unknown network makes no port
    let r =
        act(&cloud, &token, &id, json!({"addFixedIp": {"networkId": uuid::Uuid::new_v4().to_string()}}), "2.1").await;
    assert!(r.status.is_client_error(), "{} {}", r.status, r.body);
    assert_eq!(ports(&cloud, &token, &id).await.len(), 1);
    // a locked server refuses its owner
    let admin = cloud.admin_token().await;
    action(&cloud, &admin, &id, json!({"lock": null})).await.expect(202);
    act(&cloud, &token, &id, json!({"addFixedIp": {"networkId": net}}), "2.1").await.expect(409);
}
