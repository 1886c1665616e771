//! Cold and live migration across fake hosts: the scheduler's choice of a
//! destination, the allocations on both hosts, VERIFY_RESIZE with confirm
//! and revert, the os-migrations records, and Nova's refusals (409 for a
//! bad state, 400 for an unknown or the same host and for no other host).

mod common;

use common::*;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

const TWO_HOSTS: &str = "[compute]\nfake_hosts = 2\n";

async fn booted(cloud: &TestCloud, admin: &str) -> (String, String) {
    let img = image(cloud, admin).await;
    let id = boot(cloud, admin, &img, json!({})).await;
    let host = host_when(cloud, admin, &id, "ACTIVE").await;
    (id, host)
}

fn other(cloud: &TestCloud, host: &str) -> String {
    cloud.compute.svc.hosts().into_iter().find(|h| h != host).expect("a second host")
}

async fn used_vcpus(cloud: &TestCloud, host: &str) -> i64 {
    cloud.compute.svc.host_usage(host).await.vcpu
}

fn runs_on(cloud: &TestCloud, host: &str, id: &str) -> bool {
    cloud.compute.svc.driver(host).and_then(|d| d.power_state(id)).is_some()
}

#[tokio::test]
async fn cold_migration_moves_the_server_and_confirm_frees_the_source() {
    let cloud = cloud_with(TWO_HOSTS).await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    let dst = other(&cloud, &src);
    // `{}` as Tempest's client sends it
    action(&cloud, &admin, &id, json!({"migrate": {}})).await.expect(202);
    let s = wait_status(&cloud, &admin, &id, "VERIFY_RESIZE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], dst.as_str(), "{s}");
    assert_eq!(s["OS-EXT-STS:vm_state"], "resized");
    // both hosts hold the server until the migration is confirmed
    assert_eq!((used_vcpus(&cloud, &src).await, used_vcpus(&cloud, &dst).await), (1, 1));
    assert!(runs_on(&cloud, &dst, &id) && runs_on(&cloud, &src, &id));
    let m = migrations_of(&cloud, &admin, &id, "2.59").await;
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!((m[0]["status"].as_str(), m[0]["migration_type"].as_str()), (Some("finished"), Some("migration")));
    assert!(m[0]["uuid"].is_string());

    action(&cloud, &admin, &id, json!({"confirmResize": null})).await.expect(204);
    let s = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], dst.as_str());
    assert_eq!((used_vcpus(&cloud, &src).await, used_vcpus(&cloud, &dst).await), (0, 1));
    assert!(!runs_on(&cloud, &src, &id), "the source's guest is destroyed on confirm");
    let m = migrations_of(&cloud, &admin, &id, "2.23").await;
    assert_eq!(m[0]["status"], "confirmed");
    // the action log names the cold migration
    let r = get_v(&cloud, &format!("/servers/{id}/os-instance-actions"), &admin, "2.79").await.expect(200);
    let actions: Vec<&str> =
        r.body["instanceActions"].as_array().unwrap().iter().filter_map(|a| a["action"].as_str()).collect();
    assert!(actions.contains(&"migrate") && actions.contains(&"confirmResize"), "{actions:?}");
}

#[tokio::test]
async fn reverting_a_cold_migration_goes_back_to_the_source() {
    let cloud = cloud_with(TWO_HOSTS).await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    let dst = other(&cloud, &src);
    action(&cloud, &admin, &id, json!({"migrate": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "VERIFY_RESIZE").await;
    action(&cloud, &admin, &id, json!({"revertResize": null})).await.expect(202);
    let s = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], src.as_str(), "{s}");
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    assert_eq!((used_vcpus(&cloud, &src).await, used_vcpus(&cloud, &dst).await), (1, 0));
    assert!(runs_on(&cloud, &src, &id) && !runs_on(&cloud, &dst, &id));
    assert_eq!(migrations_of(&cloud, &admin, &id, "2.23").await[0]["status"], "reverted");
}

#[tokio::test]
async fn a_stopped_server_migrates_and_stays_stopped() {
    let cloud = cloud_with(TWO_HOSTS).await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    action(&cloud, &admin, &id, json!({"os-stop": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "SHUTOFF").await;
    // a named destination at 2.56
    let dst = other(&cloud, &src);
    post_v(&cloud, &format!("/servers/{id}/action"), &admin, json!({"migrate": {"host": dst}}), "2.56")
        .await
        .expect(202);
    let s = wait_status(&cloud, &admin, &id, "VERIFY_RESIZE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], dst.as_str());
    assert_eq!(s["OS-EXT-STS:power_state"], 4);
    action(&cloud, &admin, &id, json!({"confirmResize": null})).await.expect(204);
    let s = wait_status(&cloud, &admin, &id, "SHUTOFF").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], dst.as_str());
}

#[tokio::test]
async fn cold_migration_refusals_are_nova_s() {
    let cloud = cloud_with(TWO_HOSTS).await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    // not an admin, on their own server
    let demo = cloud.demo_token().await;
    let img = image(&cloud, &admin).await;
    let theirs = boot(&cloud, &demo, &img, json!({})).await;
    wait_status(&cloud, &demo, &theirs, "ACTIVE").await;
    action(&cloud, &demo, &theirs, json!({"migrate": null})).await.expect(403);
    // a host before 2.56, an unknown host, the server's own host
    action(&cloud, &admin, &id, json!({"migrate": {"host": "x"}})).await.expect(400);
    let path = format!("/servers/{id}/action");
    let r = post_v(&cloud, &path, &admin, json!({"migrate": {"host": "nowhere"}}), "2.56").await.expect(400);
    assert!(r.body["badRequest"]["message"].as_str().unwrap().contains("Compute host nowhere could not be found"));
    let r = post_v(&cloud, &path, &admin, json!({"migrate": {"host": src}}), "2.56").await.expect(400);
    assert_eq!(r.body["badRequest"]["message"], "Cannot migrate to the host where the server exists.");
    // a suspended server: 409 with Nova's message, and nothing changed
    action(&cloud, &admin, &id, json!({"suspend": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "SUSPENDED").await;
    let r = action(&cloud, &admin, &id, json!({"migrate": null})).await.expect(409);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'migrate' instance {id} while it is in vm_state suspended")
    );
    assert!(migrations_of(&cloud, &admin, &id, "2.23").await.is_empty());
}

#[tokio::test]
async fn with_one_host_there_is_no_valid_host() {
    let cloud = cloud_with("[compute]\nfake_hosts = 1\n").await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    let r = action(&cloud, &admin, &id, json!({"migrate": null})).await.expect(400);
    assert_eq!(r.body["badRequest"]["message"], "No valid host was found. No valid host found for cold migrate");
    let body = json!({"os-migrateLive": {"host": null, "block_migration": "auto"}});
    post_v(&cloud, &format!("/servers/{id}/action"), &admin, body, "2.25").await.expect(400);
    // the server is untouched
    let s = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], src.as_str());
}

async fn live(cloud: &TestCloud, admin: &str, id: &str, body: Value, v: &str) -> rustack_test_utils::Resp {
    post_v(cloud, &format!("/servers/{id}/action"), admin, json!({ "os-migrateLive": body }), v).await
}

#[tokio::test]
async fn live_migration_moves_a_running_or_paused_server() {
    let cloud = cloud_with(TWO_HOSTS).await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    let dst = other(&cloud, &src);
    live(&cloud, &admin, &id, json!({"host": dst, "block_migration": "auto"}), "2.25").await.expect(202);
    let s = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], dst.as_str(), "{s}");
    assert_eq!((used_vcpus(&cloud, &src).await, used_vcpus(&cloud, &dst).await), (0, 1));
    assert!(runs_on(&cloud, &dst, &id) && !runs_on(&cloud, &src, &id));
    let m = migrations_of(&cloud, &admin, &id, "2.23").await;
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["status"], "completed");
    // a paused server, the scheduler choosing (back to the first host)
    action(&cloud, &admin, &id, json!({"pause": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "PAUSED").await;
    live(&cloud, &admin, &id, json!({"host": null, "block_migration": false, "disk_over_commit": false}), "2.1")
        .await
        .expect(202);
    let s = wait_status(&cloud, &admin, &id, "PAUSED").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], src.as_str());
    assert_eq!(cloud.compute.svc.driver(&src).unwrap().power_state(&id), Some(3));
    // nothing left in progress: the server's migrations list is empty, and
    // a finished migration cannot be aborted or hurried
    let r = get_v(&cloud, &format!("/servers/{id}/migrations"), &admin, "2.23").await.expect(200);
    assert_eq!(r.body["migrations"], json!([]));
    let mid = m[0]["id"].as_i64().unwrap();
    let r = cloud
        .request_with(
            http::Method::DELETE,
            &url(&cloud, &format!("/servers/{id}/migrations/{mid}")),
            Some(&admin),
            None,
            &[("OpenStack-API-Version", "compute 2.24")],
        )
        .await;
    assert_eq!(r.status.as_u16(), 409, "{}", r.body);
    let path = format!("/servers/{id}/migrations/{mid}/action");
    post_v(&cloud, &path, &admin, json!({"force_complete": null}), "2.22").await.expect(409);
    get_v(&cloud, &format!("/servers/{id}/migrations/{mid}"), &admin, "2.23").await.expect(404);
}

#[tokio::test]
async fn live_migration_refusals_are_nova_s() {
    let cloud = cloud_with(TWO_HOSTS).await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    let dst = other(&cloud, &src);
    // Tempest's test_invalid_host_for_migration: 400, the server still ACTIVE
    let r =
        live(&cloud, &admin, &id, json!({"host": "no-such-host", "block_migration": false}), "2.30").await.expect(400);
    assert_eq!(r.body["badRequest"]["message"], "Compute host no-such-host could not be found.");
    let r = live(&cloud, &admin, &id, json!({"host": src, "block_migration": false}), "2.30").await.expect(400);
    assert!(r.body["badRequest"]["message"].as_str().unwrap().contains("to current host"), "{}", r.body);
    // malformed bodies
    live(&cloud, &admin, &id, json!({"block_migration": false}), "2.30").await.expect(400);
    live(&cloud, &admin, &id, json!({"host": dst, "block_migration": "auto"}), "2.24").await.expect(400);
    let bad = json!({"host": dst, "block_migration": false, "disk_over_commit": false});
    live(&cloud, &admin, &id, bad, "2.25").await.expect(400);
    wait_status(&cloud, &admin, &id, "ACTIVE").await;
    // Tempest's test_live_block_migration_suspended: 409
    action(&cloud, &admin, &id, json!({"suspend": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "SUSPENDED").await;
    let r = live(&cloud, &admin, &id, json!({"host": dst, "block_migration": "auto"}), "2.25").await.expect(409);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'os-migrateLive' instance {id} while it is in vm_state suspended")
    );
    let s = wait_status(&cloud, &admin, &id, "SUSPENDED").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], src.as_str());
}

#[tokio::test]
async fn a_resize_in_place_is_a_resize_migration() {
    let cloud = cloud_with(TWO_HOSTS).await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    action(&cloud, &admin, &id, json!({"resize": {"flavorRef": "2"}})).await.expect(202);
    let s = wait_status(&cloud, &admin, &id, "VERIFY_RESIZE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], src.as_str());
    let m = migrations_of(&cloud, &admin, &id, "2.23").await;
    assert_eq!((m[0]["status"].as_str(), m[0]["migration_type"].as_str()), (Some("finished"), Some("resize")));
    action(&cloud, &admin, &id, json!({"revertResize": null})).await.expect(202);
    let s = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(s["flavor"]["original_name"], "m1.tiny", "{s}");
    assert_eq!(migrations_of(&cloud, &admin, &id, "2.23").await[0]["status"], "reverted");
}

#[tokio::test]
async fn a_restart_rolls_an_interrupted_migration_back() {
    // spawns take 4 s: the migration's spawn on the destination is still
    // under way when a second compute process opens the same database (with
    // room for a loaded CI machine)
    let cloud = cloud_with("[compute]\nfake_hosts = 2\nfake_spawn_delay_ms = 4000\n").await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    let dst = other(&cloud, &src);
    // a second server waits in VERIFY_RESIZE across the restart
    let img = image(&cloud, &admin).await;
    let waiting = boot(&cloud, &admin, &img, json!({})).await;
    let w_src = host_when(&cloud, &admin, &waiting, "ACTIVE").await;
    action(&cloud, &admin, &waiting, json!({"migrate": null})).await.expect(202);
    wait_status(&cloud, &admin, &waiting, "VERIFY_RESIZE").await;
    action(&cloud, &admin, &id, json!({"migrate": null})).await.expect(202);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let r = get_v(&cloud, &format!("/servers/{id}"), &admin, "2.1").await.expect(200);
    assert_eq!(r.body["server"]["status"], "RESIZE");

    let peers = rustack_compute::Peers {
        placement: cloud.placement.svc.clone(),
        image: cloud.image.svc.clone(),
        network: Some(cloud.network.svc.clone()),
    };
    let opts = cloud.compute.svc.options().clone();
    let again = rustack_compute::Compute::open(cloud.db.db.clone(), opts, peers).await.unwrap();
    let r = get_v(&cloud, &format!("/servers/{id}"), &admin, "2.79").await.expect(200);
    let s = &r.body["server"];
    assert_eq!((s["status"].as_str(), s["OS-EXT-SRV-ATTR:host"].as_str()), (Some("ACTIVE"), Some(src.as_str())), "{s}");
    assert_eq!(again.driver(&src).unwrap().power_state(&id), Some(1), "running on the source again");
    let m = migrations_of(&cloud, &admin, &id, "2.23").await;
    assert_eq!(m[0]["status"], "error");
    // the waiting migration still holds both hosts; the rolled-back one only its source
    let w_dst = other(&cloud, &w_src);
    let usage = |h: &str| {
        let again = again.clone();
        let h = h.to_string();
        async move { again.host_usage(&h).await.vcpu }
    };
    let expect_src = 1 + i64::from(w_src == src) + i64::from(w_dst == src);
    assert_eq!(usage(&src).await, expect_src);
    assert_eq!(usage(&dst).await, 3 - expect_src);
}

#[tokio::test]
async fn deleting_a_migrated_server_frees_both_hosts() {
    let cloud = cloud_with(TWO_HOSTS).await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    let dst = other(&cloud, &src);
    action(&cloud, &admin, &id, json!({"migrate": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "VERIFY_RESIZE").await;
    cloud.delete(&url(&cloud, &format!("/servers/{id}")), &admin).await.expect(204);
    wait_status(&cloud, &admin, &id, "DELETED").await;
    assert_eq!((used_vcpus(&cloud, &src).await, used_vcpus(&cloud, &dst).await), (0, 0));
    assert!(!runs_on(&cloud, &src, &id) && !runs_on(&cloud, &dst, &id));
}

/// DELETE of a server's migration (abort) at 2.24.
async fn abort(cloud: &TestCloud, admin: &str, id: &str, mid: i64) -> rustack_test_utils::Resp {
    let u = url(cloud, &format!("/servers/{id}/migrations/{mid}"));
    cloud.request_with(http::Method::DELETE, &u, Some(admin), None, &[("OpenStack-API-Version", "compute 2.24")]).await
}

/// Polls the server's in-progress migrations until one is `running` (it is
/// `preparing` first, while the destination is claimed).
async fn running_migration(cloud: &TestCloud, admin: &str, id: &str) -> Value {
    let start = std::time::Instant::now();
    loop {
        let r = get_v(cloud, &format!("/servers/{id}/migrations"), admin, "2.79").await.expect(200);
        if let Some(m) = r.body["migrations"].as_array().and_then(|l| l.first()).filter(|m| m["status"] == "running") {
            return m.clone();
        }
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "no migration in progress");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_live_migration_under_way_is_listed_and_can_be_aborted() {
    // the destination's spawn takes 1 s: the migration is `running` meanwhile
    let cloud = cloud_with("[compute]\nfake_hosts = 2\nfake_spawn_delay_ms = 1000\n").await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    let dst = other(&cloud, &src);
    live(&cloud, &admin, &id, json!({"host": dst, "block_migration": "auto"}), "2.25").await.expect(202);
    let m = running_migration(&cloud, &admin, &id).await;
    assert_eq!((m["status"].as_str(), m["dest_compute"].as_str()), (Some("running"), Some(dst.as_str())), "{m}");
    assert_eq!(m["server_uuid"], id.as_str());
    assert!(m["uuid"].is_string(), "{m}");
    let mid = m["id"].as_i64().unwrap();
    let r = get_v(&cloud, &format!("/servers/{id}"), &admin, "2.79").await.expect(200);
    assert_eq!(r.body["server"]["status"], "MIGRATING");
    let r = get_v(&cloud, &format!("/servers/{id}/migrations/{mid}"), &admin, "2.23").await.expect(200);
    assert_eq!(r.body["migration"]["id"], mid);
    let path = format!("/servers/{id}/migrations/{mid}/action");
    post_v(&cloud, &path, &admin, json!({"force_complete": null}), "2.22").await.expect(202);
    let r = abort(&cloud, &admin, &id, mid).await;
    assert_eq!(r.status.as_u16(), 202, "{}", r.body);
    // the guest stays on its source, the destination is cleaned up
    let s = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], src.as_str());
    assert_eq!((used_vcpus(&cloud, &src).await, used_vcpus(&cloud, &dst).await), (1, 0));
    assert!(runs_on(&cloud, &src, &id) && !runs_on(&cloud, &dst, &id));
    let listed = migrations_of(&cloud, &admin, &id, "2.23").await;
    assert_eq!(listed[0]["status"], "cancelled");
    // os-migrations and the server's migrations name it by the same id
    assert_eq!(listed[0]["id"], mid, "{}", listed[0]);
    // over now: a second abort is refused
    assert_eq!(abort(&cloud, &admin, &id, mid).await.status.as_u16(), 409);
}

#[tokio::test]
async fn migrations_are_recorded_on_postgresql_too() {
    // runs where a PostgreSQL server is configured (RUSTACK_TEST_POSTGRES_URL)
    let Some(db) = rustack_db::testing::postgres().await else { return };
    let cloud = TestCloud::start_with(db, TWO_HOSTS).await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    action(&cloud, &admin, &id, json!({"migrate": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "VERIFY_RESIZE").await;
    action(&cloud, &admin, &id, json!({"revertResize": null})).await.expect(202);
    let s = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], src.as_str());
    let dst = other(&cloud, &src);
    live(&cloud, &admin, &id, json!({"host": dst, "block_migration": "auto"}), "2.25").await.expect(202);
    let s = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], dst.as_str());
    let m = migrations_of(&cloud, &admin, &id, "2.59").await;
    let statuses: Vec<&str> = m.iter().filter_map(|m| m["status"].as_str()).collect();
    assert_eq!(statuses, ["completed", "reverted"], "newest first: {m:?}");
}

/// The `binding:host_id` of the server's one port (admin's view).
async fn port_host(cloud: &TestCloud, admin: &str, server: &str) -> String {
    let r = cloud.get(&format!("{}/v2.0/ports?device_id={server}", cloud.network.url), admin).await.expect(200);
    let ports = r.body["ports"].as_array().cloned().unwrap_or_default();
    assert_eq!(ports.len(), 1, "one port: {}", r.body);
    ports[0]["binding:host_id"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn the_ports_follow_the_server_between_hosts() {
    let cloud = cloud_with(TWO_HOSTS).await;
    let admin = cloud.admin_token().await;
    let demo = cloud.demo_token().await;
    let img = image(&cloud, &admin).await;
    let r = cloud.get(&format!("{}/v2.0/networks?name=private", cloud.network.url), &demo).await.expect(200);
    let net = r.body["networks"][0]["id"].as_str().unwrap().to_string();
    let id = boot(&cloud, &demo, &img, json!({"networks": [{"uuid": net}]})).await;
    let src = host_when(&cloud, &admin, &id, "ACTIVE").await;
    let dst = other(&cloud, &src);
    let addresses = wait_status(&cloud, &demo, &id, "ACTIVE").await["addresses"].clone();
    assert_eq!(port_host(&cloud, &admin, &id).await, src);
    action(&cloud, &admin, &id, json!({"migrate": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "VERIFY_RESIZE").await;
    assert_eq!(port_host(&cloud, &admin, &id).await, dst);
    action(&cloud, &admin, &id, json!({"revertResize": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(port_host(&cloud, &admin, &id).await, src);
    live(&cloud, &admin, &id, json!({"host": null, "block_migration": "auto"}), "2.25").await.expect(202);
    let s = wait_status(&cloud, &demo, &id, "ACTIVE").await;
    assert_eq!(port_host(&cloud, &admin, &id).await, dst);
    assert_eq!(s["addresses"], addresses, "the server keeps its addresses");
}
