//! The auto-allocated topology (`/v2.0/auto-allocated-topology/{project_id}`)
//! and what it rests on: the default external network (`is_default`) and
//! the default subnet pool bootstrap makes.

use std::collections::HashSet;
use std::sync::Arc;

use rustack_network::netplane::FakeDataPlane;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

fn url(cloud: &TestCloud, path: &str) -> String {
    format!("{}/v2.0{path}", cloud.network.url)
}

/// A new project with a member user (and no networks); (project id, token).
async fn project(cloud: &TestCloud, name: &str) -> (String, String) {
    cloud.project_with_user(name, "member").await
}

fn ids(v: &Value, coll: &str) -> Vec<String> {
    v[coll].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_string()).collect()
}

async fn put(cloud: &TestCloud, path: &str, token: &str, body: Value) -> rustack_test_utils::Resp {
    cloud.request(reqwest::Method::PUT, &url(cloud, path), Some(token), Some(body)).await
}

#[tokio::test]
async fn bootstrap_makes_public_the_default_and_a_shared_default_pool() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let demo = cloud.demo_token().await;
    let r = cloud.get(&url(&cloud, "/networks?name=public"), &admin).await.expect(200);
    assert_eq!(r.body["networks"][0]["is_default"], json!(true), "{}", r.body);
    // the pool is shared: every project sees it
    let r = cloud.get(&url(&cloud, "/subnetpools"), &demo).await.expect(200);
    let pools = r.body["subnetpools"].as_array().unwrap();
    assert_eq!(pools.len(), 1, "{}", r.body);
    let pool = &pools[0];
    assert_eq!(pool["name"], "shared-default-subnetpool-v4");
    assert_eq!(pool["prefixes"], json!(["10.0.0.0/16"]));
    assert_eq!(pool["default_prefixlen"], 26);
    assert_eq!((pool["shared"].clone(), pool["is_default"].clone()), (json!(true), json!(true)));
    assert_eq!(pool["project_id"], cloud.projects.admin_project_id.as_str());
    // the demo project's private subnet is carved from it, so it is never handed out again
    let r = cloud.get(&url(&cloud, "/subnets?name=private-subnet"), &demo).await.expect(200);
    assert_eq!(r.body["subnets"][0]["cidr"], "10.0.0.0/26");
    assert_eq!(r.body["subnets"][0]["subnetpool_id"], pool["id"]);
    // the extension is listed now that it is served
    let r = cloud.get(&url(&cloud, "/extensions/auto-allocated-topology"), &demo).await.expect(200);
    assert_eq!(r.body["extension"]["alias"], "auto-allocated-topology");
    // bootstrap again changes nothing, and does not overrule the operator
    let public = cloud.get(&url(&cloud, "/networks?name=public"), &admin).await.expect(200);
    let public_id = public.body["networks"][0]["id"].as_str().unwrap().to_string();
    put(&cloud, &format!("/networks/{public_id}"), &admin, json!({"network": {"is_default": false}})).await.expect(200);
    cloud.network.svc.bootstrap(&cloud.projects).await.unwrap();
    let r = cloud.get(&url(&cloud, "/subnetpools"), &admin).await.expect(200);
    assert_eq!(ids(&r.body, "subnetpools"), vec![pool["id"].as_str().unwrap().to_string()]);
    let r = cloud.get(&url(&cloud, &format!("/networks/{public_id}")), &admin).await.expect(200);
    assert_eq!(r.body["network"]["is_default"], json!(false));
}

#[tokio::test]
async fn without_a_default_pool_prefix_bootstrap_makes_no_pool() {
    let cloud =
        TestCloud::start_with(rustack_db::testing::sqlite().await, "[network]\ndefault_subnetpool_prefix =\n").await;
    let admin = cloud.admin_token().await;
    let r = cloud.get(&url(&cloud, "/subnetpools"), &admin).await.expect(200);
    assert!(r.body["subnetpools"].as_array().unwrap().is_empty(), "{}", r.body);
    let r = cloud.get(&url(&cloud, "/subnets?name=private-subnet"), &admin).await.expect(200);
    assert_eq!(r.body["subnets"][0]["subnetpool_id"], Value::Null);
    let r = cloud
        .get(
            &url(&cloud, &format!("/auto-allocated-topology/{}?fields=dry-run", cloud.projects.demo_project_id)),
            &admin,
        )
        .await
        .expect(409);
    assert_eq!(r.body["NeutronError"]["type"], "AutoAllocationFailure");
}

#[tokio::test]
async fn a_project_gets_one_topology_routed_to_the_default_external_network() {
    let cloud = TestCloud::start().await;
    let (pid, tok) = project(&cloud, "p1").await;
    let r = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}?fields=dry-run")), &tok).await.expect(200);
    assert_eq!(r.body["auto_allocated_topology"]["id"], "dry-run=pass");
    // the dry run made nothing
    let r = cloud.get(&url(&cloud, &format!("/networks?project_id={pid}")), &tok).await.expect(200);
    assert!(r.body["networks"].as_array().unwrap().is_empty(), "{}", r.body);

    let r = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &tok).await.expect(200);
    let topo = &r.body["auto_allocated_topology"];
    assert_eq!(topo["tenant_id"], pid.as_str());
    let nid = topo["id"].as_str().unwrap().to_string();
    let n = cloud.get(&url(&cloud, &format!("/networks/{nid}")), &tok).await.expect(200);
    let n = &n.body["network"];
    assert_eq!(n["name"], "auto_allocated_network");
    assert_eq!((n["admin_state_up"].clone(), n["shared"].clone()), (json!(true), json!(false)));
    assert_eq!(n["project_id"], pid.as_str());
    let s = cloud.get(&url(&cloud, &format!("/subnets?network_id={nid}")), &tok).await.expect(200);
    let s = &s.body["subnets"][0];
    assert_eq!(s["name"], "auto_allocated_subnet_v4");
    // the next /26 of the pool: the first one is the demo project's private subnet
    assert_eq!(s["cidr"], "10.0.0.64/26");
    let public = cloud.get(&url(&cloud, "/networks?name=public"), &tok).await.expect(200);
    let public_id = public.body["networks"][0]["id"].clone();
    let r = cloud.get(&url(&cloud, "/routers"), &tok).await.expect(200);
    let routers = r.body["routers"].as_array().unwrap();
    assert_eq!(routers.len(), 1, "{}", r.body);
    assert_eq!(routers[0]["name"], "auto_allocated_router");
    assert_eq!(routers[0]["external_gateway_info"]["network_id"], public_id);
    let rid = routers[0]["id"].as_str().unwrap().to_string();
    let ports = cloud.get(&url(&cloud, &format!("/ports?device_id={rid}&network_id={nid}")), &tok).await.expect(200);
    assert_eq!(ports.body["ports"][0]["device_owner"], "network:router_interface");
    assert_eq!(ports.body["ports"][0]["fixed_ips"][0]["subnet_id"], s["id"]);

    // asked again (also as `None`, the caller's project): the same network
    let again = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &tok).await.expect(200);
    assert_eq!(again.body["auto_allocated_topology"]["id"], nid.as_str());
    let none = cloud.get(&url(&cloud, "/auto-allocated-topology/None"), &tok).await.expect(200);
    assert_eq!(none.body["auto_allocated_topology"]["id"], nid.as_str());

    // delete: all of it goes; the next request builds anew
    cloud.delete(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &tok).await.expect(204);
    cloud.get(&url(&cloud, &format!("/networks/{nid}")), &tok).await.expect(404);
    cloud.get(&url(&cloud, &format!("/routers/{rid}")), &tok).await.expect(404);
    let r = cloud.get(&url(&cloud, &format!("/ports?project_id={pid}")), &tok).await.expect(200);
    assert!(r.body["ports"].as_array().unwrap().is_empty(), "{}", r.body);
    // deleting what is not there is no error
    cloud.delete(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &tok).await.expect(204);
    let r = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &tok).await.expect(200);
    assert_ne!(r.body["auto_allocated_topology"]["id"], nid.as_str());
}

#[tokio::test]
async fn concurrent_requests_of_a_project_make_one_topology() {
    for db in rustack_db::testing::all_backends().await {
        concurrent_requests_make_one(TestCloud::start_with(db, "").await).await;
    }
}

async fn concurrent_requests_make_one(cloud: TestCloud) {
    let (pid, tok) = project(&cloud, "p1").await;
    // a second node on the same database: its own locks, so only the
    // database's key keeps the two apart
    let node2 = rustack_network::Network::open_with(
        cloud.db.db.clone(),
        cloud.network.svc.options().clone(),
        Arc::new(FakeDataPlane::new()),
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url2 = format!("http://{}", listener.local_addr().unwrap());
    let router = node2.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let mut calls = vec![];
    for i in 0..8 {
        let base = if i % 2 == 0 { cloud.network.url.clone() } else { url2.clone() };
        let u = format!("{base}/v2.0/auto-allocated-topology/{pid}");
        let (http, tok) = (cloud.http.clone(), tok.clone());
        calls.push(tokio::spawn(async move {
            let r = http.get(u).header("X-Auth-Token", tok).send().await.unwrap();
            assert_eq!(r.status().as_u16(), 200);
            let v: Value = r.json().await.unwrap();
            v["auto_allocated_topology"]["id"].as_str().unwrap().to_string()
        }));
    }
    let mut got = HashSet::new();
    for c in calls {
        got.insert(c.await.unwrap());
    }
    assert_eq!(got.len(), 1, "{got:?}");
    // what a losing node built is gone again
    let r = cloud.get(&url(&cloud, &format!("/networks?project_id={pid}")), &tok).await.expect(200);
    assert_eq!(ids(&r.body, "networks"), got.into_iter().collect::<Vec<_>>());
    let r = cloud.get(&url(&cloud, "/routers"), &tok).await.expect(200);
    assert_eq!(r.body["routers"].as_array().unwrap().len(), 1, "{}", r.body);
    let r = cloud.get(&url(&cloud, &format!("/subnets?project_id={pid}")), &tok).await.expect(200);
    assert_eq!(r.body["subnets"].as_array().unwrap().len(), 1, "{}", r.body);
}

#[tokio::test]
async fn errors_are_neutrons() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let (pid, tok) = project(&cloud, "p1").await;
    let demo = cloud.demo_token().await;
    // another project's topology is the admin's business
    let r = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &demo).await.expect(403);
    assert_eq!(r.body["NeutronError"]["type"], "NotAuthorized");
    cloud.delete(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &demo).await.expect(403);
    let r = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}?fields=id")), &tok).await.expect(400);
    assert!(r.body["NeutronError"]["message"].as_str().unwrap().contains("Unrecognized field"), "{}", r.body);

    // only one default external network; only an admin says which
    let public = cloud.get(&url(&cloud, "/networks?name=public"), &admin).await.expect(200);
    let public_id = public.body["networks"][0]["id"].as_str().unwrap().to_string();
    let r = cloud
        .post(
            &url(&cloud, "/networks"),
            &admin,
            json!({"network": {"name": "ext2", "router:external": true, "is_default": true}}),
        )
        .await
        .expect(409);
    assert_eq!(r.body["NeutronError"]["type"], "DefaultExternalNetworkExists");
    assert_eq!(r.body["NeutronError"]["message"], format!("A default external network already exists: {public_id}."));
    let ext2 = cloud
        .post(&url(&cloud, "/networks"), &admin, json!({"network": {"name": "ext2", "router:external": true}}))
        .await
        .expect(201);
    let ext2 = ext2.body["network"]["id"].as_str().unwrap().to_string();
    put(&cloud, &format!("/networks/{ext2}"), &admin, json!({"network": {"is_default": true}})).await.expect(409);
    put(&cloud, &format!("/networks/{public_id}"), &tok, json!({"network": {"is_default": false}})).await.expect(403);

    // no default external network: Neutron's deployment error, dry run or not
    put(&cloud, &format!("/networks/{public_id}"), &admin, json!({"network": {"is_default": false}})).await.expect(200);
    for q in ["?fields=dry-run", ""] {
        let r = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}{q}")), &tok).await.expect(409);
        assert_eq!(r.body["NeutronError"]["type"], "AutoAllocationFailure");
        assert_eq!(r.body["NeutronError"]["message"], "Deployment error: No default router:external network.");
    }
    // the other one can be the default now
    put(&cloud, &format!("/networks/{ext2}"), &admin, json!({"network": {"is_default": true}})).await.expect(200);
    // no longer external: no longer the default either
    let r = put(&cloud, &format!("/networks/{ext2}"), &admin, json!({"network": {"router:external": false}}))
        .await
        .expect(200);
    assert_eq!(r.body["network"]["is_default"], json!(false));
    put(&cloud, &format!("/networks/{public_id}"), &admin, json!({"network": {"is_default": true}})).await.expect(200);

    // one default subnet pool per IP version
    let pools = cloud.get(&url(&cloud, "/subnetpools"), &admin).await.expect(200);
    let pool = pools.body["subnetpools"][0]["id"].as_str().unwrap().to_string();
    let second = json!({"subnetpool": {"name": "p2", "prefixes": ["10.9.0.0/16"], "is_default": true}});
    let r = cloud.post(&url(&cloud, "/subnetpools"), &admin, second).await.expect(400);
    assert!(r.body["NeutronError"]["message"].as_str().unwrap().contains("Only one default"), "{}", r.body);
    let v6 = json!({"subnetpool": {"name": "p6", "prefixes": ["fd00:1::/48"], "is_default": true}});
    let v6 = cloud.post(&url(&cloud, "/subnetpools"), &admin, v6).await.expect(201);
    let v6 = v6.body["subnetpool"]["id"].as_str().unwrap().to_string();
    cloud.delete(&url(&cloud, &format!("/subnetpools/{v6}")), &admin).await.expect(204);

    // no default subnet pool
    put(&cloud, &format!("/subnetpools/{pool}"), &admin, json!({"subnetpool": {"is_default": false}}))
        .await
        .expect(200);
    let r = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}?fields=dry-run")), &tok).await.expect(409);
    assert_eq!(r.body["NeutronError"]["message"], "Deployment error: No default subnetpools defined.");
    let r = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &tok).await.expect(409);
    assert_eq!(r.body["NeutronError"]["message"], "Deployment error: Unable to provide tenant private network.");
    // nothing was left behind by the failures
    let r = cloud.get(&url(&cloud, &format!("/networks?project_id={pid}")), &admin).await.expect(200);
    assert!(r.body["networks"].as_array().unwrap().is_empty(), "{}", r.body);
    let r = cloud.get(&url(&cloud, &format!("/routers?project_id={pid}")), &admin).await.expect(200);
    assert!(r.body["routers"].as_array().unwrap().is_empty(), "{}", r.body);
}

#[tokio::test]
async fn an_admin_builds_another_projects_and_ports_in_use_keep_it() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let (pid, tok) = project(&cloud, "p1").await;
    let r = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &admin).await.expect(200);
    let nid = r.body["auto_allocated_topology"]["id"].as_str().unwrap().to_string();
    // it is the project's, and the project's own request finds it
    let n = cloud.get(&url(&cloud, &format!("/networks/{nid}")), &tok).await.expect(200);
    assert_eq!(n.body["network"]["project_id"], pid.as_str());
    let r = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &tok).await.expect(200);
    assert_eq!(r.body["auto_allocated_topology"]["id"], nid.as_str());
    // an instance's port keeps the topology
    let p = cloud
        .post(
            &url(&cloud, "/ports"),
            &tok,
            json!({"port": {"network_id": nid, "device_owner": "compute:nova", "device_id": "vm1"}}),
        )
        .await
        .expect(201);
    let port = p.body["port"]["id"].as_str().unwrap().to_string();
    let r = cloud.delete(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &tok).await.expect(409);
    assert_eq!(r.body["NeutronError"]["type"], "NetworkInUse");
    let r = cloud.get(&url(&cloud, "/routers"), &tok).await.expect(200);
    assert_eq!(r.body["routers"].as_array().unwrap().len(), 1, "nothing was removed: {}", r.body);
    cloud.delete(&url(&cloud, &format!("/ports/{port}")), &tok).await.expect(204);
    cloud.delete(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &admin).await.expect(204);
    cloud.get(&url(&cloud, &format!("/networks/{nid}")), &tok).await.expect(404);
}

#[tokio::test]
async fn deleting_the_network_by_hand_forgets_the_topology() {
    // Tempest's cleanup takes the topology apart resource by resource
    let cloud = TestCloud::start().await;
    let (pid, tok) = project(&cloud, "p1").await;
    let r = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &tok).await.expect(200);
    let nid = r.body["auto_allocated_topology"]["id"].as_str().unwrap().to_string();
    let r = cloud.get(&url(&cloud, "/routers"), &tok).await.expect(200);
    let rid = r.body["routers"][0]["id"].as_str().unwrap().to_string();
    let s = cloud.get(&url(&cloud, &format!("/subnets?network_id={nid}")), &tok).await.expect(200);
    let sid = s.body["subnets"][0]["id"].as_str().unwrap().to_string();
    put(&cloud, &format!("/routers/{rid}/remove_router_interface"), &tok, json!({"subnet_id": sid})).await.expect(200);
    cloud.delete(&url(&cloud, &format!("/routers/{rid}")), &tok).await.expect(204);
    cloud.delete(&url(&cloud, &format!("/subnets/{sid}")), &tok).await.expect(204);
    cloud.delete(&url(&cloud, &format!("/networks/{nid}")), &tok).await.expect(204);
    let r = cloud.get(&url(&cloud, &format!("/auto-allocated-topology/{pid}")), &tok).await.expect(200);
    let again = r.body["auto_allocated_topology"]["id"].as_str().unwrap();
    assert_ne!(again, nid);
    cloud.get(&url(&cloud, &format!("/networks/{again}")), &tok).await.expect(200);
}
