//! `networks: "auto"` (2.37): the project's one network, else its
//! auto-allocated topology from the network service (made once, also for a
//! multi-create); several networks are Nova's 409; before 2.37 a missing
//! `networks` never allocates a topology.

mod common;

use std::collections::HashSet;

use common::{get_v, image, post_v, wait_status};
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

fn net_url(cloud: &TestCloud, path: &str) -> String {
    format!("{}/v2.0{path}", cloud.network.url)
}

/// A new project with a member user (and no networks); (project id, token).
async fn project(cloud: &TestCloud, name: &str) -> (String, String) {
    cloud.project_with_user(name, "member").await
}

fn server(img: &str, networks: Value) -> Value {
    json!({"server": {"name": "vm", "imageRef": img, "flavorRef": "1", "networks": networks}})
}

/// The project's networks as the network API lists them.
async fn networks_of(cloud: &TestCloud, token: &str, pid: &str) -> Vec<Value> {
    let r = cloud.get(&net_url(cloud, &format!("/networks?project_id={pid}")), token).await.expect(200);
    r.body["networks"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_multi_create_with_auto_lands_on_one_auto_allocated_network() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let img = image(&cloud, &admin).await;
    let (pid, tok) = project(&cloud, "auto1").await;
    let mut body = server(&img, json!("auto"));
    body["server"]["min_count"] = json!(3);
    post_v(&cloud, "/servers", &tok, body, "2.37").await.expect(202);
    let r = get_v(&cloud, "/servers", &tok, "2.37").await.expect(200);
    let ids: Vec<String> =
        r.body["servers"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), 3, "{}", r.body);
    let mut nets = HashSet::new();
    for id in &ids {
        let s = wait_status(&cloud, &tok, id, "ACTIVE").await;
        let addrs = s["addresses"].as_object().unwrap();
        assert_eq!(addrs.len(), 1, "{s}");
        nets.insert(addrs.keys().next().unwrap().clone());
    }
    assert_eq!(nets, HashSet::from(["auto_allocated_network".to_string()]));
    // one topology: one network (up), one router
    let mine = networks_of(&cloud, &tok, &pid).await;
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["admin_state_up"], json!(true));
    let r = cloud.get(&net_url(&cloud, "/routers"), &tok).await.expect(200);
    assert_eq!(r.body["routers"].as_array().unwrap().len(), 1, "{}", r.body);
    // the ports are on it, one per server
    let nid = mine[0]["id"].as_str().unwrap();
    let r = cloud.get(&net_url(&cloud, &format!("/ports?network_id={nid}&device_owner=compute:nova")), &tok).await;
    let devices: HashSet<String> =
        r.body["ports"].as_array().unwrap().iter().map(|p| p["device_id"].as_str().unwrap().to_string()).collect();
    assert_eq!(devices, ids.iter().cloned().collect::<HashSet<_>>());

    // a later `auto` server takes the same network
    let r = post_v(&cloud, "/servers", &tok, server(&img, json!("auto")), "2.37").await.expect(202);
    let s = wait_status(&cloud, &tok, r.body["server"]["id"].as_str().unwrap(), "ACTIVE").await;
    assert!(s["addresses"].get("auto_allocated_network").is_some(), "{s}");
    assert_eq!(networks_of(&cloud, &tok, &pid).await.len(), 1);
}

#[tokio::test]
async fn auto_takes_the_projects_own_network_and_refuses_to_guess() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let img = image(&cloud, &admin).await;
    let (pid, tok) = project(&cloud, "auto2").await;
    let n = cloud.post(&net_url(&cloud, "/networks"), &tok, json!({"network": {"name": "mine"}})).await.expect(201);
    let nid = n.body["network"]["id"].as_str().unwrap().to_string();
    cloud
        .post(
            &net_url(&cloud, "/subnets"),
            &tok,
            json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "192.168.7.0/24"}}),
        )
        .await
        .expect(201);
    let r = post_v(&cloud, "/servers", &tok, server(&img, json!("auto")), "2.37").await.expect(202);
    let s = wait_status(&cloud, &tok, r.body["server"]["id"].as_str().unwrap(), "ACTIVE").await;
    assert!(s["addresses"].get("mine").is_some(), "{s}");
    assert_eq!(networks_of(&cloud, &tok, &pid).await.len(), 1, "no topology was made");

    // two networks: which one is not for compute to guess, at 2.37 nor before
    cloud.post(&net_url(&cloud, "/networks"), &tok, json!({"network": {"name": "mine2"}})).await.expect(201);
    let r = post_v(&cloud, "/servers", &tok, server(&img, json!("auto")), "2.37").await.expect(409);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        "Multiple possible networks found, use a Network ID to be more specific."
    );
    let mut old = server(&img, Value::Null);
    old["server"].as_object_mut().unwrap().remove("networks");
    post_v(&cloud, "/servers", &tok, old, "2.1").await.expect(409);
}

#[tokio::test]
async fn before_237_no_networks_means_none_and_auto_needs_the_deployment() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let img = image(&cloud, &admin).await;
    let (pid, tok) = project(&cloud, "auto3").await;
    // 2.1 without networks and a project without any: no network, no topology
    let mut old = server(&img, Value::Null);
    old["server"].as_object_mut().unwrap().remove("networks");
    let r = post_v(&cloud, "/servers", &tok, old, "2.1").await.expect(202);
    let s = wait_status(&cloud, &tok, r.body["server"]["id"].as_str().unwrap(), "ACTIVE").await;
    assert_eq!(s["addresses"], json!({}), "{s}");
    assert!(networks_of(&cloud, &tok, &pid).await.is_empty());

    // no default external network: `auto` cannot be honoured, a 400 at the API
    let r = cloud.get(&net_url(&cloud, "/networks?name=public"), &admin).await.expect(200);
    let public = r.body["networks"][0]["id"].as_str().unwrap().to_string();
    cloud
        .request(
            reqwest::Method::PUT,
            &net_url(&cloud, &format!("/networks/{public}")),
            Some(&admin),
            Some(json!({"network": {"is_default": false}})),
        )
        .await
        .expect(200);
    let r = post_v(&cloud, "/servers", &tok, server(&img, json!("auto")), "2.37").await.expect(400);
    assert_eq!(
        r.body["badRequest"]["message"],
        format!("Unable to automatically allocate a network for project {pid}").as_str()
    );
    assert!(networks_of(&cloud, &tok, &pid).await.is_empty());
    // `none` still boots
    let r = post_v(&cloud, "/servers", &tok, server(&img, json!("none")), "2.37").await.expect(202);
    wait_status(&cloud, &tok, r.body["server"]["id"].as_str().unwrap(), "ACTIVE").await;
}

#[tokio::test]
async fn an_admin_never_lands_on_another_projects_network() {
    // the admin sees the demo project's `private`, but it is not the admin's to use
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let img = image(&cloud, &admin).await;
    let r = post_v(&cloud, "/servers", &admin, server(&img, json!("auto")), "2.37").await.expect(202);
    let s = wait_status(&cloud, &admin, r.body["server"]["id"].as_str().unwrap(), "ACTIVE").await;
    let nets: Vec<&String> = s["addresses"].as_object().unwrap().keys().collect();
    assert_eq!(nets, ["auto_allocated_network"], "{s}");
    let mine = networks_of(&cloud, &admin, &cloud.projects.admin_project_id).await;
    let names: HashSet<&str> = mine.iter().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(names, HashSet::from(["public", "auto_allocated_network"]));
}
