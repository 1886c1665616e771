//! The compute API's last legacy gaps, as Nova answers them: floating IPs
//! associated through server actions (and shown in the server's addresses),
//! a resize's disk config, the console log, standardized diagnostics, the
//! extension list and security group rules through the Nova proxy.

mod common;

use common::*;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

async fn network_id(cloud: &TestCloud, token: &str, name: &str) -> String {
    let r = cloud.get(&format!("{}/v2.0/networks?name={name}", cloud.network.url), token).await.expect(200);
    r.body["networks"][0]["id"].as_str().unwrap_or_else(|| panic!("no network {name}: {}", r.body)).to_string()
}

/// A floating IP from `public` through Nova's proxy: (id, address).
async fn allocate(cloud: &TestCloud, token: &str) -> (String, String) {
    let r = post_v(cloud, "/os-floating-ips", token, json!({"pool": "public"}), "2.35").await.expect(200);
    let f = &r.body["floating_ip"];
    (f["id"].as_str().unwrap().to_string(), f["ip"].as_str().unwrap().to_string())
}

async fn fip_action(cloud: &TestCloud, token: &str, server: &str, body: Value) -> rustack_test_utils::Resp {
    post_v(cloud, &format!("/servers/{server}/action"), token, body, "2.43").await
}

/// Every (address, type) the server lists, over all its networks.
async fn addresses(cloud: &TestCloud, token: &str, server: &str) -> Vec<(String, String)> {
    let s = wait_status(cloud, token, server, "ACTIVE").await;
    let mut out = vec![];
    for list in s["addresses"].as_object().unwrap().values() {
        for a in list.as_array().unwrap() {
            out.push((a["addr"].as_str().unwrap().to_string(), a["OS-EXT-IPS:type"].as_str().unwrap().to_string()));
        }
    }
    out
}

#[tokio::test]
async fn floating_ips_associate_move_and_disassociate_through_server_actions() {
    let cloud = TestCloud::start().await;
    let token = cloud.demo_token().await;
    let img = image(&cloud, &cloud.admin_token().await).await;
    let net = network_id(&cloud, &token, "private").await;
    let a = boot(&cloud, &token, &img, json!({"networks": [{"uuid": net}]})).await;
    let b = boot(&cloud, &token, &img, json!({"networks": [{"uuid": net}]})).await;
    let fixed_a = addresses(&cloud, &token, &a).await[0].0.clone();
    addresses(&cloud, &token, &b).await;
    let (fip_id, fip) = allocate(&cloud, &token).await;

    fip_action(&cloud, &token, &a, json!({"addFloatingIp": {"address": fip}})).await.expect(202);
    let listed = addresses(&cloud, &token, &a).await;
    assert!(listed.contains(&(fip.clone(), "floating".to_string())), "{listed:?}");
    assert!(listed.contains(&(fixed_a.clone(), "fixed".to_string())), "{listed:?}");
    let r = get_v(&cloud, &format!("/os-floating-ips/{fip_id}"), &token, "2.35").await.expect(200);
    assert_eq!(r.body["floating_ip"]["instance_id"], a.as_str());
    assert_eq!(r.body["floating_ip"]["fixed_ip"], fixed_a.as_str());
    // /ips shows it too, under the same network
    let r = get_v(&cloud, &format!("/servers/{a}/ips"), &token, "2.43").await.expect(200);
    assert!(r.body["addresses"]["private"].as_array().unwrap().iter().any(|x| x["addr"] == fip.as_str()), "{}", r.body);

    // a second floating IP for the same fixed address: Neutron refuses, Nova says 400
    let (second_id, second) = allocate(&cloud, &token).await;
    fip_action(&cloud, &token, &a, json!({"addFloatingIp": {"address": second}})).await.expect(400);
    assert!(!addresses(&cloud, &token, &a).await.iter().any(|(x, _)| *x == second));

    // associating it elsewhere moves it: the first server no longer lists it
    fip_action(&cloud, &token, &b, json!({"addFloatingIp": {"address": fip}})).await.expect(202);
    assert!(!addresses(&cloud, &token, &a).await.iter().any(|(x, _)| *x == fip));
    assert!(addresses(&cloud, &token, &b).await.contains(&(fip.clone(), "floating".to_string())));
    let r = fip_action(&cloud, &token, &a, json!({"removeFloatingIp": {"address": fip}})).await.expect(409);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Floating IP {fip} is not associated with instance {a}.")
    );

    // bad input and unknown addresses
    fip_action(&cloud, &token, &a, json!({"addFloatingIp": {"address": "0.0.0.0"}})).await.expect(404);
    fip_action(&cloud, &token, &a, json!({"removeFloatingIp": {"address": "0.0.0.0"}})).await.expect(404);
    fip_action(&cloud, &token, &a, json!({"addFloatingIp": {"address": ""}})).await.expect(400);
    fip_action(&cloud, &token, &a, json!({"addFloatingIp": {}})).await.expect(400);
    fip_action(&cloud, &token, &a, json!({"addFloatingIp": {"address": second, "bogus": 1}})).await.expect(400);
    let r = fip_action(&cloud, &token, &a, json!({"addFloatingIp": {"address": second, "fixed_address": "10.9.9.9"}}))
        .await
        .expect(400);
    assert_eq!(r.body["badRequest"]["message"], "Specified fixed address not assigned to instance");
    // gone from 2.44 on
    post_v(&cloud, &format!("/servers/{a}/action"), &token, json!({"addFloatingIp": {"address": second}}), "2.44")
        .await
        .expect(404);

    // the explicit fixed address works
    fip_action(&cloud, &token, &a, json!({"addFloatingIp": {"address": second, "fixed_address": fixed_a}}))
        .await
        .expect(202);
    assert!(addresses(&cloud, &token, &a).await.contains(&(second.clone(), "floating".to_string())));

    // disassociation: the address leaves the server and the floating IP
    fip_action(&cloud, &token, &b, json!({"removeFloatingIp": {"address": fip}})).await.expect(202);
    assert!(!addresses(&cloud, &token, &b).await.iter().any(|(x, _)| *x == fip));
    let r = get_v(&cloud, &format!("/os-floating-ips/{fip_id}"), &token, "2.35").await.expect(200);
    assert_eq!(r.body["floating_ip"]["instance_id"], Value::Null);
    fip_action(&cloud, &token, &b, json!({"removeFloatingIp": {"address": fip}})).await.expect(409);

    // releasing an associated floating IP takes it off the server as well
    cloud.delete(&url(&cloud, &format!("/os-floating-ips/{second_id}")), &token).await.expect(202);
    assert!(!addresses(&cloud, &token, &a).await.iter().any(|(x, _)| *x == second));
}

#[tokio::test]
async fn a_floating_ip_set_through_the_network_api_shows_on_the_server() {
    let cloud = TestCloud::start().await;
    let token = cloud.demo_token().await;
    let img = image(&cloud, &cloud.admin_token().await).await;
    let net = network_id(&cloud, &token, "private").await;
    let id = boot(&cloud, &token, &img, json!({"networks": [{"uuid": net}]})).await;
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    let neutron = format!("{}/v2.0", cloud.network.url);
    let r = cloud.get(&format!("{neutron}/ports?device_id={id}"), &token).await.expect(200);
    let port = r.body["ports"][0]["id"].as_str().unwrap().to_string();
    let (fip_id, fip) = allocate(&cloud, &token).await;

    // what `openstack server add floating ip` does: Neutron alone
    let body = json!({"floatingip": {"port_id": port}});
    cloud
        .request(http::Method::PUT, &format!("{neutron}/floatingips/{fip_id}"), Some(&token), Some(body))
        .await
        .expect(200);
    // the detailed list (what `openstack server show <name>` reads) has it
    let r = cloud.get(&url(&cloud, "/servers/detail?name=vm"), &token).await.expect(200);
    let listed = r.body["servers"][0]["addresses"]["private"].as_array().unwrap().clone();
    assert!(listed.iter().any(|a| a["addr"] == fip.as_str() && a["OS-EXT-IPS:type"] == "floating"), "{listed:?}");
    assert!(addresses(&cloud, &token, &id).await.contains(&(fip.clone(), "floating".to_string())));
    let r = cloud.get(&url(&cloud, &format!("/servers/{id}/ips/private")), &token).await.expect(200);
    assert!(r.body["private"].as_array().unwrap().iter().any(|a| a["addr"] == fip.as_str()));

    let body = json!({"floatingip": {"port_id": null}});
    cloud
        .request(http::Method::PUT, &format!("{neutron}/floatingips/{fip_id}"), Some(&token), Some(body))
        .await
        .expect(200);
    let r = cloud.get(&url(&cloud, "/servers/detail"), &token).await.expect(200);
    assert_eq!(r.body["servers"][0]["addresses"]["private"].as_array().map(Vec::len), Some(1), "{}", r.body);
    assert!(!addresses(&cloud, &token, &id).await.iter().any(|(a, _)| *a == fip));
}

#[tokio::test]
async fn a_resize_takes_the_disk_config_it_is_given() {
    let cloud = TestCloud::start().await;
    let token = cloud.demo_token().await;
    let img = image(&cloud, &cloud.admin_token().await).await;
    let id = boot(&cloud, &token, &img, json!({"OS-DCF:diskConfig": "MANUAL"})).await;
    assert_eq!(wait_status(&cloud, &token, &id, "ACTIVE").await["OS-DCF:diskConfig"], "MANUAL");

    let r = action(&cloud, &token, &id, json!({"resize": {"flavorRef": "2", "OS-DCF:diskConfig": "SOMETIMES"}})).await;
    r.expect(400);
    assert_eq!(wait_status(&cloud, &token, &id, "ACTIVE").await["flavor"]["original_name"], "m1.tiny");

    action(&cloud, &token, &id, json!({"resize": {"flavorRef": "2", "OS-DCF:diskConfig": "AUTO"}})).await.expect(202);
    assert_eq!(wait_status(&cloud, &token, &id, "VERIFY_RESIZE").await["OS-DCF:diskConfig"], "AUTO");
    action(&cloud, &token, &id, json!({"confirmResize": null})).await.expect(204);
    let s = wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert_eq!(s["OS-DCF:diskConfig"], "AUTO");

    // without one, the disk config stays
    action(&cloud, &token, &id, json!({"resize": {"flavorRef": "3"}})).await.expect(202);
    assert_eq!(wait_status(&cloud, &token, &id, "VERIFY_RESIZE").await["OS-DCF:diskConfig"], "AUTO");
}

#[tokio::test]
async fn the_console_log_is_whole_unless_a_length_is_given() {
    let cloud = TestCloud::start().await;
    let token = cloud.demo_token().await;
    let img = image(&cloud, &cloud.admin_token().await).await;
    let id = boot(&cloud, &token, &img, json!({})).await;
    wait_status(&cloud, &token, &id, "ACTIVE").await;

    let r = action(&cloud, &token, &id, json!({"os-getConsoleOutput": {}})).await.expect(200);
    let whole = r.body["output"].as_str().unwrap().to_string();
    assert!(whole.split('\n').count() > 3, "{whole}");
    let r = action(&cloud, &token, &id, json!({"os-getConsoleOutput": {"length": 3}})).await.expect(200);
    let tail = r.body["output"].as_str().unwrap();
    assert_eq!(tail.split('\n').count(), 3, "{tail}");
    assert!(whole.trim_end().ends_with(tail.trim_end()));
    let r = action(&cloud, &token, &id, json!({"os-getConsoleOutput": {"length": -1}})).await.expect(200);
    assert_eq!(r.body["output"], whole.as_str());
    action(&cloud, &token, &id, json!({"os-getConsoleOutput": {"length": -2}})).await.expect(400);
}

#[tokio::test]
async fn diagnostics_are_standardized_at_2_48_and_for_running_servers_only() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let demo = cloud.demo_token().await;
    let img = image(&cloud, &admin).await;
    let net = network_id(&cloud, &admin, "public").await;
    let id = boot(&cloud, &admin, &img, json!({"networks": [{"uuid": net}]})).await;
    let s = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    let mac = s["addresses"]["public"][0]["OS-EXT-IPS-MAC:mac_addr"].clone();

    let r = get_v(&cloud, &format!("/servers/{id}/diagnostics"), &admin, "2.48").await.expect(200);
    let d = &r.body;
    let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "config_drive",
            "cpu_details",
            "disk_details",
            "driver",
            "hypervisor",
            "hypervisor_os",
            "memory_details",
            "nic_details",
            "num_cpus",
            "num_disks",
            "num_nics",
            "state",
            "uptime"
        ]
    );
    assert_eq!(d["state"], "running");
    assert_eq!(d["driver"], "libvirt");
    assert_eq!(d["num_cpus"], 1);
    assert_eq!(d["memory_details"]["maximum"], 512);
    assert_eq!(d["num_nics"], 1);
    assert_eq!(d["nic_details"][0]["mac_address"], mac);
    assert_eq!(d["nic_details"][0].as_object().unwrap().len(), 11);
    assert_eq!(d["cpu_details"], json!([{"id": 0, "time": 0, "utilisation": 0}]));
    assert_eq!(d["disk_details"].as_array().unwrap().len(), d["num_disks"].as_u64().unwrap() as usize);

    // before 2.48: the flat libvirt-style shape
    let r = get_v(&cloud, &format!("/servers/{id}/diagnostics"), &admin, "2.47").await.expect(200);
    assert_eq!(r.body["memory"], 512 * 1024);
    assert_eq!(r.body["cpu0_time"], 0);
    assert!(r.body.get("state").is_none());

    // admin only; a stopped server has nothing to tell (409)
    get_v(&cloud, &format!("/servers/{id}/diagnostics"), &demo, "2.48").await.expect(403);
    action(&cloud, &admin, &id, json!({"os-stop": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "SHUTOFF").await;
    let r = get_v(&cloud, &format!("/servers/{id}/diagnostics"), &admin, "2.48").await.expect(409);
    assert!(r.body["conflictingRequest"]["message"].as_str().unwrap().contains("power state shutdown"), "{}", r.body);
}

#[tokio::test]
async fn the_extension_list_names_what_compute_serves() {
    let cloud = TestCloud::start().await;
    let token = cloud.demo_token().await;
    let r = cloud.get(&url(&cloud, "/extensions"), &token).await.expect(200);
    let list = r.body["extensions"].as_array().unwrap();
    assert!(list.iter().any(|e| e["name"] == "Hosts" && e["alias"] == "os-hosts"));
    for e in list {
        let o = e.as_object().unwrap();
        let mut keys: Vec<&str> = o.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["alias", "description", "links", "name", "namespace", "updated"]);
    }
    let r = cloud.get(&url(&cloud, "/extensions/os-consoles"), &token).await.expect(200);
    assert_eq!(r.body["extension"]["alias"], "os-consoles");
    assert_eq!(r.body["extension"]["name"], "Consoles");
    // never served here: cells, volumes, evacuate
    for gone in ["os-cells", "os-volumes", "os-evacuate"] {
        cloud.get(&url(&cloud, &format!("/extensions/{gone}")), &token).await.expect(404);
    }
}

#[tokio::test]
async fn security_group_rules_keep_the_cidr_and_name_the_source_group() {
    let cloud = TestCloud::start().await;
    let token = cloud.demo_token().await;
    let group = |name: &'static str| {
        let cloud = &cloud;
        let token = &token;
        async move {
            let r = cloud
                .post(
                    &url(cloud, "/os-security-groups"),
                    token,
                    json!({"security_group": {"name": name, "description": "d"}}),
                )
                .await
                .expect(200);
            r.body["security_group"]["id"].as_str().unwrap().to_string()
        }
    };
    let parent = group("parent").await;
    let source = group("source").await;
    let rules = url(&cloud, "/os-security-group-rules");
    let rule = |extra: Value| {
        let mut r = json!({"parent_group_id": parent, "ip_protocol": "tcp", "from_port": 22, "to_port": 22});
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            r[k] = v;
        }
        json!({ "security_group_rule": r })
    };

    let r = cloud.post(&rules, &token, rule(json!({"cidr": "10.2.3.124/24"}))).await.expect(200);
    assert_eq!(r.body["security_group_rule"]["ip_range"], json!({"cidr": "10.2.3.124/24"}));
    assert_eq!(r.body["security_group_rule"]["group"], json!({}));
    assert_eq!(r.body["security_group_rule"]["parent_group_id"], parent.as_str());

    let r = cloud.post(&rules, &token, rule(json!({"group_id": source, "from_port": 80, "to_port": 80}))).await;
    let r = r.expect(200);
    assert_eq!(
        r.body["security_group_rule"]["group"],
        json!({"name": "source", "tenant_id": cloud.projects.demo_project_id})
    );
    assert_eq!(r.body["security_group_rule"]["ip_range"], json!({}));

    let r = cloud.post(&rules, &token, rule(json!({"cidr": "2001:db8::/64", "from_port": 443, "to_port": 443}))).await;
    assert_eq!(r.expect(200).body["security_group_rule"]["ip_range"]["cidr"], "2001:db8::/64");

    // ids that are not UUIDs are 400s, unknown UUIDs 404s
    let mut bad = rule(json!({}));
    bad["security_group_rule"]["parent_group_id"] = json!("non_int_id-123");
    cloud.post(&rules, &token, bad).await.expect(400);
    cloud.post(&rules, &token, rule(json!({"group_id": "not-a-uuid"}))).await.expect(400);
    let mut missing = rule(json!({}));
    missing["security_group_rule"]["parent_group_id"] = json!(uuid::Uuid::new_v4().to_string());
    cloud.post(&rules, &token, missing).await.expect(404);
    cloud.post(&rules, &token, rule(json!({"group_id": uuid::Uuid::new_v4().to_string()}))).await.expect(404);
    // a zero-length prefix that is not "everything", and a malformed range
    cloud.post(&rules, &token, rule(json!({"cidr": "10.0.0.1/0", "from_port": 23, "to_port": 23}))).await.expect(400);
    cloud.post(&rules, &token, rule(json!({"cidr": "10.0.0.0/33", "from_port": 24, "to_port": 24}))).await.expect(400);
}
