//! In-process API tests of the network service on the fake data plane.

use std::collections::HashSet;
use std::time::Duration;

use rustack_network::netplane::FakeDataPlane;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

fn url(cloud: &TestCloud, path: &str) -> String {
    format!("{}/v2.0{path}", cloud.network.url)
}

async fn net_subnet(cloud: &TestCloud, token: &str, cidr: &str) -> (String, String) {
    let n = cloud.post(&url(cloud, "/networks"), token, json!({"network": {"name": "n"}})).await.expect(201);
    let nid = n.body["network"]["id"].as_str().unwrap().to_string();
    let s = cloud
        .post(&url(cloud, "/subnets"), token, json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": cidr}}))
        .await
        .expect(201);
    (nid, s.body["subnet"]["id"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn bootstrap_makes_devstacks_public_private_and_router1() {
    let cloud = TestCloud::start().await;
    let demo = cloud.demo_token().await;
    let r = cloud.get(&url(&cloud, "/networks"), &demo).await.expect(200);
    let names: HashSet<&str> =
        r.body["networks"].as_array().unwrap().iter().filter_map(|n| n["name"].as_str()).collect();
    assert!(names.contains("public") && names.contains("private"), "{}", r.body);
    let public = r.body["networks"].as_array().unwrap().iter().find(|n| n["name"] == "public").unwrap().clone();
    assert_eq!(public["router:external"], json!(true));
    // provider attributes are the admin's business
    assert!(public.get("provider:network_type").is_none());
    let r = cloud.get(&url(&cloud, "/routers?name=router1"), &demo).await.expect(200);
    let router = &r.body["routers"][0];
    assert_eq!(router["external_gateway_info"]["network_id"], public["id"]);
    let gw = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"].as_str().unwrap();
    assert!(gw.starts_with("172.24.4."), "{gw}");
    let r = cloud.get(&url(&cloud, "/subnets?name=private-subnet"), &demo).await.expect(200);
    assert_eq!(r.body["subnets"][0]["cidr"], "10.0.0.0/26");
    // bootstrap again changes nothing
    cloud.network.svc.bootstrap(&cloud.projects).await.unwrap();
    let admin = cloud.admin_token().await;
    let r = cloud.get(&url(&cloud, "/networks"), &admin).await.expect(200);
    assert_eq!(r.body["networks"].as_array().unwrap().len(), 2);
    let r = cloud.get(&url(&cloud, "/routers"), &admin).await.expect(200);
    assert_eq!(r.body["routers"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn errors_are_in_neutrons_shape() {
    let cloud = TestCloud::start().await;
    let demo = cloud.demo_token().await;
    let r = cloud.get(&url(&cloud, "/networks/nope"), &demo).await.expect(404);
    assert_eq!(r.body["NeutronError"]["type"], "NetworkNotFound");
    assert_eq!(r.body["NeutronError"]["message"], "Network nope could not be found.");
    let r = cloud.post(&url(&cloud, "/networks"), &demo, json!({"network": {"bogus": 1}})).await.expect(400);
    assert!(r.body["NeutronError"]["message"].as_str().unwrap().contains("Unrecognized attribute"));
    let r = cloud.post(&url(&cloud, "/networks"), &demo, json!({"network": {"shared": true}})).await.expect(403);
    assert_eq!(r.body["NeutronError"]["type"], "PolicyNotAuthorized");
    let r = cloud.request(reqwest::Method::GET, &url(&cloud, "/networks"), None, None).await;
    assert_eq!(r.status, 401);
    let (nid, _) = net_subnet(&cloud, &demo, "10.9.0.0/24").await;
    let r = cloud
        .post(
            &url(&cloud, "/subnets"),
            &demo,
            json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.9.0.128/25"}}),
        )
        .await
        .expect(400);
    assert!(r.body["NeutronError"]["message"].as_str().unwrap().contains("overlaps"));
    let r = cloud
        .post(
            &url(&cloud, "/subnets"),
            &demo,
            json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.8.0.1/24"}}),
        )
        .await
        .expect(400);
    assert_eq!(r.body["NeutronError"]["type"], "InvalidInput");
}

#[tokio::test]
async fn ports_get_addresses_from_the_pools_and_never_twice() {
    let cloud = TestCloud::start().await;
    let demo = cloud.demo_token().await;
    let (nid, sid) = net_subnet(&cloud, &demo, "10.1.0.0/24").await;
    let p = cloud.post(&url(&cloud, "/ports"), &demo, json!({"port": {"network_id": nid}})).await.expect(201);
    let ip = p.body["port"]["fixed_ips"][0]["ip_address"].as_str().unwrap().to_string();
    // .1 is the gateway, .2 the DHCP port
    assert_eq!(ip, "10.1.0.3");
    assert!(p.body["port"]["mac_address"].as_str().unwrap().starts_with("fa:16:3e:"));
    assert_eq!(p.body["port"]["security_groups"].as_array().unwrap().len(), 1);
    // the next address is taken by a chosen one: allocation moves past it
    let body = json!({"port": {"network_id": nid, "fixed_ips": [{"subnet_id": sid, "ip_address": "10.1.0.4"}]}});
    cloud.post(&url(&cloud, "/ports"), &demo, body).await.expect(201);
    let p2 = cloud.post(&url(&cloud, "/ports"), &demo, json!({"port": {"network_id": nid}})).await.expect(201);
    assert_eq!(p2.body["port"]["fixed_ips"][0]["ip_address"], "10.1.0.5");
    // a chosen address; then the same one again
    let body = json!({"port": {"network_id": nid, "fixed_ips": [{"subnet_id": sid, "ip_address": "10.1.0.50"}]}});
    cloud.post(&url(&cloud, "/ports"), &demo, body.clone()).await.expect(201);
    let r = cloud.post(&url(&cloud, "/ports"), &demo, body).await.expect(409);
    assert_eq!(r.body["NeutronError"]["type"], "IpAddressAlreadyAllocated");
    let r = cloud
        .post(
            &url(&cloud, "/ports"),
            &demo,
            json!({"port": {"network_id": nid, "fixed_ips": [{"subnet_id": sid, "ip_address": "10.2.0.5"}]}}),
        )
        .await
        .expect(400);
    assert_eq!(r.body["NeutronError"]["type"], "InvalidIpForSubnet");
    // a small pool runs out with a 409
    let s2 = cloud
        .post(
            &url(&cloud, "/subnets"),
            &demo,
            json!({"subnet": {"network_id": nid, "ip_version": 4, "cidr": "10.3.0.0/24", "enable_dhcp": false,
                "allocation_pools": [{"start": "10.3.0.10", "end": "10.3.0.11"}]}}),
        )
        .await
        .expect(201);
    let s2 = s2.body["subnet"]["id"].as_str().unwrap().to_string();
    let mk = json!({"port": {"network_id": nid, "fixed_ips": [{"subnet_id": s2}]}});
    let a = cloud.post(&url(&cloud, "/ports"), &demo, mk.clone()).await.expect(201);
    let b = cloud.post(&url(&cloud, "/ports"), &demo, mk.clone()).await.expect(201);
    assert_eq!(a.body["port"]["fixed_ips"][0]["ip_address"], "10.3.0.10");
    assert_eq!(b.body["port"]["fixed_ips"][0]["ip_address"], "10.3.0.11");
    let r = cloud.post(&url(&cloud, "/ports"), &demo, mk.clone()).await.expect(409);
    assert_eq!(r.body["NeutronError"]["type"], "IpAddressGenerationFailure");
    // deleting a port frees its address for the next
    let aid = a.body["port"]["id"].as_str().unwrap();
    cloud.delete(&url(&cloud, &format!("/ports/{aid}")), &demo).await.expect(204);
    let c = cloud.post(&url(&cloud, "/ports"), &demo, mk).await.expect(201);
    assert_eq!(c.body["port"]["fixed_ips"][0]["ip_address"], "10.3.0.10");
    // the network is in use while ports are on it
    let r = cloud.delete(&url(&cloud, &format!("/networks/{nid}")), &demo).await.expect(409);
    assert_eq!(r.body["NeutronError"]["type"], "NetworkInUse");
}

/// On every backend (PostgreSQL when RUSTACK_TEST_POSTGRES_URL is set): there
/// the transactions really run side by side and the (subnet, ip) key decides.
#[tokio::test]
async fn sixteen_concurrent_creators_never_share_an_address() {
    for db in rustack_db::testing::all_backends().await {
        concurrent_creators(TestCloud::start_with(db, "").await).await;
    }
}

async fn concurrent_creators(cloud: TestCloud) {
    let demo = cloud.demo_token().await;
    // 10.5.0.0/25: 125 addresses in the pool (.2–.126), one for DHCP
    let (nid, _) = net_subnet(&cloud, &demo, "10.5.0.0/25").await;
    let u = url(&cloud, "/ports");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (http, u, demo, nid) = (cloud.http.clone(), u.clone(), demo.clone(), nid.clone());
        tasks.spawn(async move {
            let mut got = vec![];
            for _ in 0..8 {
                let r = http
                    .post(&u)
                    .header("X-Auth-Token", &demo)
                    .json(&json!({"port": {"network_id": nid}}))
                    .send()
                    .await
                    .unwrap();
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap();
                got.push((status, body));
            }
            got
        });
    }
    let mut ips = vec![];
    let mut exhausted = 0;
    while let Some(r) = tasks.join_next().await {
        for (status, body) in r.unwrap() {
            match status {
                201 => ips.push(body["port"]["fixed_ips"][0]["ip_address"].as_str().unwrap().to_string()),
                409 => {
                    assert_eq!(body["NeutronError"]["type"], "IpAddressGenerationFailure", "{body}");
                    exhausted += 1
                }
                s => panic!("unexpected {s}: {body}"),
            }
        }
    }
    // 128 asked, 124 free: 124 distinct addresses inside the pool, 4 refused
    let distinct: HashSet<&String> = ips.iter().collect();
    assert_eq!(distinct.len(), ips.len(), "an address was handed out twice");
    assert_eq!(ips.len(), 124);
    assert_eq!(exhausted, 4);
    for ip in &ips {
        let last: u32 = ip.rsplit('.').next().unwrap().parse().unwrap();
        assert!(ip.starts_with("10.5.0.") && (2..=126).contains(&last), "{ip} is outside the pool");
    }
}

#[tokio::test]
async fn routers_floating_ips_and_the_fake_data_plane() {
    let cloud = TestCloud::start().await;
    let demo = cloud.demo_token().await;
    let admin = cloud.admin_token().await;
    let r = cloud.get(&url(&cloud, "/networks?router:external=true"), &demo).await.expect(200);
    let public = r.body["networks"][0]["id"].as_str().unwrap().to_string();
    let (nid, sid) = net_subnet(&cloud, &demo, "10.20.0.0/24").await;
    let router = cloud
        .post(
            &url(&cloud, "/routers"),
            &demo,
            json!({"router": {"name": "r", "external_gateway_info": {"network_id": public}}}),
        )
        .await
        .expect(201);
    let rid = router.body["router"]["id"].as_str().unwrap().to_string();
    // a FIP needs a router between the port's subnet and the external network
    let port = cloud.post(&url(&cloud, "/ports"), &demo, json!({"port": {"network_id": nid}})).await.expect(201);
    let pid = port.body["port"]["id"].as_str().unwrap().to_string();
    let r = cloud
        .post(
            &url(&cloud, "/floatingips"),
            &demo,
            json!({"floatingip": {"floating_network_id": public, "port_id": pid}}),
        )
        .await
        .expect(404);
    assert_eq!(r.body["NeutronError"]["type"], "ExternalGatewayForFloatingIPNotFound");
    let r = cloud.put(&url(&cloud, &format!("/routers/{rid}/add_router_interface")), &demo).await;
    assert_eq!(r.status, 400);
    let r = cloud
        .request(
            reqwest::Method::PUT,
            &url(&cloud, &format!("/routers/{rid}/add_router_interface")),
            Some(&demo),
            Some(json!({"subnet_id": sid})),
        )
        .await
        .expect(200);
    assert_eq!(r.body["subnet_id"], json!(sid));
    let fip = cloud
        .post(
            &url(&cloud, "/floatingips"),
            &demo,
            json!({"floatingip": {"floating_network_id": public, "port_id": pid}}),
        )
        .await
        .expect(201);
    assert_eq!(fip.body["floatingip"]["router_id"], json!(rid));
    assert_eq!(fip.body["floatingip"]["status"], "ACTIVE");
    let fip_addr = fip.body["floatingip"]["floating_ip_address"].as_str().unwrap().to_string();
    // the router cannot go while it has interfaces
    let r = cloud.delete(&url(&cloud, &format!("/routers/{rid}")), &demo).await.expect(409);
    assert_eq!(r.body["NeutronError"]["type"], "RouterInUse");
    // bind the port to this host as compute does; the data plane gets the whole picture
    let host = cloud.network.svc.desired_state().await.unwrap();
    assert!(host.ports.is_empty());
    cloud.network.svc.bind_port(&pid, &hostname()).await.unwrap();
    assert!(cloud.network.svc.wait_applied(Duration::from_secs(5)).await);
    let fake = cloud.network.svc.dataplane().as_any().downcast_ref::<FakeDataPlane>().unwrap();
    let state = fake.last_applied().expect("the agent applied a state");
    let router = state.routers.iter().find(|r| r.id == rid).expect("router in the state");
    assert_eq!(router.interfaces.len(), 1);
    assert!(router.gateway.as_ref().is_some_and(|g| g.enable_snat && g.network_id == public));
    assert_eq!(router.floating_ips[0].floating_ip_address, fip_addr);
    let p = state.ports.iter().find(|p| p.id == pid).expect("bound port in the state");
    assert_eq!(p.device_name, rustack_network::netplane::tap_name(&pid));
    assert_eq!(p.security_group_ids.len(), 1);
    let sg = state.security_groups.iter().find(|g| g.id == p.security_group_ids[0]).unwrap();
    assert_eq!(sg.rules.len(), 4, "default group: 2 egress + 2 ingress from itself");
    assert!(sg.member_ips.contains(&p.fixed_ips[0].ip_address));
    let n = state.networks.iter().find(|n| n.id == nid).unwrap();
    assert!(n.dhcp_port.is_some());
    assert!(n.dhcp_hosts.iter().any(|h| h.ip == p.fixed_ips[0].ip_address && h.mac == p.mac));
    // disassociate, remove the interface, delete everything: the state empties
    let fid = fip.body["floatingip"]["id"].as_str().unwrap();
    cloud.delete(&url(&cloud, &format!("/floatingips/{fid}")), &demo).await.expect(204);
    cloud
        .request(
            reqwest::Method::PUT,
            &url(&cloud, &format!("/routers/{rid}/remove_router_interface")),
            Some(&demo),
            Some(json!({"subnet_id": sid})),
        )
        .await
        .expect(200);
    cloud.delete(&url(&cloud, &format!("/routers/{rid}")), &demo).await.expect(204);
    cloud.delete(&url(&cloud, &format!("/ports/{pid}")), &demo).await.expect(204);
    cloud.delete(&url(&cloud, &format!("/networks/{nid}")), &demo).await.expect(204);
    assert!(cloud.network.svc.wait_applied(Duration::from_secs(5)).await);
    let state = fake.last_applied().unwrap();
    assert!(state.routers.iter().all(|r| r.id != rid));
    assert!(state.networks.iter().all(|n| n.id != nid));
    assert!(state.ports.is_empty());
    let _ = admin;
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or("localhost".into())
}

#[tokio::test]
async fn security_groups_default_rules_and_validation() {
    let cloud = TestCloud::start().await;
    let demo = cloud.demo_token().await;
    let r = cloud.get(&url(&cloud, "/security-groups"), &demo).await.expect(200);
    let groups = r.body["security_groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["name"], "default");
    assert_eq!(groups[0]["security_group_rules"].as_array().unwrap().len(), 4);
    let r = cloud
        .post(&url(&cloud, "/security-groups"), &demo, json!({"security_group": {"name": "default"}}))
        .await
        .expect(409);
    assert_eq!(r.body["NeutronError"]["type"], "SecurityGroupDefaultAlreadyExists");
    let g = cloud
        .post(&url(&cloud, "/security-groups"), &demo, json!({"security_group": {"name": "web"}}))
        .await
        .expect(201);
    let gid = g.body["security_group"]["id"].as_str().unwrap().to_string();
    assert_eq!(g.body["security_group"]["security_group_rules"].as_array().unwrap().len(), 2);
    let rule = json!({"security_group_rule": {"security_group_id": gid, "direction": "ingress", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "10.0.0.0/8"}});
    cloud.post(&url(&cloud, "/security-group-rules"), &demo, rule.clone()).await.expect(201);
    let r = cloud.post(&url(&cloud, "/security-group-rules"), &demo, rule).await.expect(409);
    assert_eq!(r.body["NeutronError"]["type"], "SecurityGroupRuleExists");
    for (bad, ty) in [
        (json!({"direction": "sideways"}), "InvalidInput"),
        (json!({"direction": "ingress", "ethertype": "IPv5"}), "SecurityGroupRuleInvalidEtherType"),
        (json!({"direction": "ingress", "protocol": "bogus"}), "SecurityGroupRuleInvalidProtocol"),
        (
            json!({"direction": "ingress", "protocol": "tcp", "port_range_min": 90, "port_range_max": 80}),
            "SecurityGroupInvalidPortRange",
        ),
        (json!({"direction": "ingress", "remote_ip_prefix": "::/0"}), "SecurityGroupRuleParameterConflict"),
    ] {
        let mut b = bad.clone();
        b["security_group_id"] = json!(gid);
        let r = cloud
            .post(&url(&cloud, "/security-group-rules"), &demo, json!({"security_group_rule": b}))
            .await
            .expect(400);
        assert_eq!(r.body["NeutronError"]["type"], ty, "{bad}");
    }
    let r = cloud
        .post(&url(&cloud, "/security-group-rules"), &demo, json!({"security_group_rule": {"security_group_id": gid, "direction": "ingress", "remote_group_id": "nope"}}))
        .await
        .expect(404);
    assert_eq!(r.body["NeutronError"]["type"], "SecurityGroupNotFound");
    cloud.delete(&url(&cloud, &format!("/security-groups/{gid}")), &demo).await.expect(204);
}

#[tokio::test]
async fn lists_filter_select_fields_sort_and_page() {
    let cloud = TestCloud::start().await;
    let demo = cloud.demo_token().await;
    for i in 0..5 {
        cloud.post(&url(&cloud, "/networks"), &demo, json!({"network": {"name": format!("pg{i}")}})).await.expect(201);
    }
    let r =
        cloud.get(&url(&cloud, "/networks?fields=id&fields=name&sort_key=name&sort_dir=desc"), &demo).await.expect(200);
    let first = &r.body["networks"][0];
    assert_eq!(first.as_object().unwrap().len(), 2);
    assert_eq!(first["name"], "public");
    let r = cloud.get(&url(&cloud, "/networks?limit=2&sort_key=name"), &demo).await.expect(200);
    assert_eq!(r.body["networks"].as_array().unwrap().len(), 2);
    let next = r.body["networks_links"][0]["href"].as_str().unwrap();
    assert!(next.contains("marker="));
    let r2 = cloud.get(next, &demo).await.expect(200);
    assert_ne!(r2.body["networks"][0]["id"], r.body["networks"][0]["id"]);
    let r = cloud.get(&url(&cloud, "/networks?name=pg3"), &demo).await.expect(200);
    assert_eq!(r.body["networks"].as_array().unwrap().len(), 1);
    // tags
    let id = r.body["networks"][0]["id"].as_str().unwrap().to_string();
    cloud.put(&url(&cloud, &format!("/networks/{id}/tags/red")), &demo).await.expect(201);
    let r = cloud.get(&url(&cloud, "/networks?tags=red"), &demo).await.expect(200);
    assert_eq!(r.body["networks"].as_array().unwrap().len(), 1);
    cloud.delete(&url(&cloud, &format!("/networks/{id}/tags/red")), &demo).await.expect(204);
    cloud.delete(&url(&cloud, &format!("/networks/{id}/tags/red")), &demo).await.expect(404);
}

#[tokio::test]
async fn quotas_count_usage_and_refuse_beyond_the_limit() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let demo = cloud.demo_token().await;
    let p = cloud.projects.demo_project_id.clone();
    cloud
        .request(
            reqwest::Method::PUT,
            &url(&cloud, &format!("/quotas/{p}")),
            Some(&admin),
            Some(json!({"quota": {"network": 2}})),
        )
        .await
        .expect(200);
    // `private` is one already
    cloud.post(&url(&cloud, "/networks"), &demo, json!({"network": {}})).await.expect(201);
    let r = cloud.post(&url(&cloud, "/networks"), &demo, json!({"network": {}})).await.expect(409);
    assert_eq!(r.body["NeutronError"]["type"], "OverQuota");
    let r = cloud.get(&url(&cloud, &format!("/quotas/{p}/details")), &demo).await.expect(200);
    assert_eq!(r.body["quota"]["network"], json!({"limit": 2, "used": 2, "reserved": 0}));
    cloud.delete(&url(&cloud, &format!("/quotas/{p}")), &admin).await.expect(204);
    let r = cloud.get(&url(&cloud, &format!("/quotas/{p}")), &demo).await.expect(200);
    assert_eq!(r.body["quota"]["network"], 100);
}

#[tokio::test]
async fn compute_calls_create_bind_and_delete_ports() {
    let cloud = TestCloud::start().await;
    let demo = cloud.demo_token().await;
    let ctx = cloud.network.svc.options().validator.validate(&demo).await.unwrap();
    let nets = cloud.network.svc.list_networks_for(&ctx).await.unwrap();
    let private = nets.iter().find(|n| n["name"] == "private").unwrap()["id"].as_str().unwrap().to_string();
    let req = rustack_network::PortRequest {
        network_id: private.clone(),
        device_id: "vm-1".into(),
        device_owner: "compute:nova".into(),
        ..Default::default()
    };
    let port = cloud.network.svc.create_port_for(&ctx, req).await.unwrap();
    assert_eq!(port.fixed_ips.len(), 1);
    assert_eq!(port.status, "DOWN");
    let bound = cloud.network.svc.bind_port(&port.id, "host-a").await.unwrap();
    assert_eq!(
        (bound.status.as_str(), bound.vif_type.as_str(), bound.binding_host_id.as_str()),
        ("ACTIVE", "bridge", "host-a")
    );
    assert_eq!(cloud.network.svc.ports_of_device("vm-1").await.unwrap().len(), 1);
    cloud.network.svc.delete_port(&port.id).await.unwrap();
    assert!(cloud.network.svc.ports_of_device("vm-1").await.unwrap().is_empty());
    assert_eq!(cloud.network.svc.get_network_for(&ctx, "nope").await.unwrap_err().status(), 404);
}

/// The agent hands a change to the data plane at once (debounced), without
/// waiting for the periodic reconciliation (30 s).
#[tokio::test]
async fn a_new_bound_port_reaches_the_data_plane_within_a_second() {
    let cloud = TestCloud::start().await;
    let demo = cloud.demo_token().await;
    let r = cloud.get(&url(&cloud, "/networks?name=private"), &demo).await.expect(200);
    let nid = r.body["networks"][0]["id"].as_str().unwrap().to_string();
    assert!(cloud.network.svc.wait_applied(Duration::from_secs(5)).await);
    let fake = cloud.network.svc.dataplane().as_any().downcast_ref::<FakeDataPlane>().unwrap();
    let t0 = std::time::Instant::now();
    let admin = cloud.admin_token().await;
    let p = cloud
        .post(&url(&cloud, "/ports"), &admin, json!({"port": {"network_id": nid, "binding:host_id": "host-a"}}))
        .await
        .expect(201);
    let pid = p.body["port"]["id"].as_str().unwrap().to_string();
    let mac = p.body["port"]["mac_address"].as_str().unwrap().to_string();
    loop {
        let s = fake.last_applied().unwrap_or_default();
        let plugged = s.ports.iter().any(|x| x.id == pid);
        let leased = s.networks.iter().any(|n| n.id == nid && n.dhcp_hosts.iter().any(|h| h.mac == mac));
        if plugged && leased {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(1), "the data plane did not get the port within a second");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("port create to desired state applied: {:?}", t0.elapsed());
}

/// A VLAN provider network with an IPv6 SLAAC subnet on a router reaches the
/// data plane with its segment and the subnet's IPv6 modes (the router's
/// advertisements depend on them).
#[tokio::test]
async fn vlan_and_ipv6_modes_reach_the_data_plane() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let body = json!({"network": {"name": "v", "provider:network_type": "vlan",
        "provider:physical_network": "physnet1", "provider:segmentation_id": 100}});
    let nid = cloud.post(&url(&cloud, "/networks"), &admin, body).await.expect(201).body["network"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"subnet": {"network_id": nid, "ip_version": 6, "cidr": "fd00:100::/64",
        "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}});
    let sid = cloud.post(&url(&cloud, "/subnets"), &admin, body).await.expect(201).body["subnet"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let rid = cloud.post(&url(&cloud, "/routers"), &admin, json!({"router": {"name": "r6"}})).await.expect(201).body
        ["router"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    cloud
        .request(
            reqwest::Method::PUT,
            &url(&cloud, &format!("/routers/{rid}/add_router_interface")),
            Some(&admin),
            Some(json!({"subnet_id": sid})),
        )
        .await
        .expect(200);
    assert!(cloud.network.svc.wait_applied(Duration::from_secs(5)).await);
    let fake = cloud.network.svc.dataplane().as_any().downcast_ref::<FakeDataPlane>().unwrap();
    let state = fake.last_applied().expect("applied");
    let n = state.networks.iter().find(|n| n.id == nid).expect("the VLAN network is on this host");
    assert_eq!(n.network_type, rustack_network::netplane::NetworkType::Vlan);
    assert_eq!((n.segmentation_id, n.physical_network.as_deref()), (Some(100), Some("physnet1")));
    let m = n.ipv6_modes_of(&sid);
    assert_eq!(m.ra_mode, Some(rustack_network::netplane::Ipv6Mode::Slaac));
    assert_eq!(m.address_mode, Some(rustack_network::netplane::Ipv6Mode::Slaac));
    let r = state.routers.iter().find(|r| r.id == rid).expect("router");
    assert_eq!(r.interfaces[0].fixed_ips[0].ip_address, "fd00:100::1", "the router holds the gateway");
}
