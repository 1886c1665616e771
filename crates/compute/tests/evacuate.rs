//! Evacuation across fake hosts: refused while the source's compute service
//! is up (and for bad bodies, unknown or same hosts, non-admins, a lone
//! host), otherwise the server is rebuilt on the other host with its
//! allocation, an `evacuation` migration is recorded, and the source host,
//! once up again, destroys the copy it still held.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

const TWO_HOSTS: &str = "[compute]\nfake_hosts = 2\nsync_power_state_interval = 1\n";

fn other(cloud: &TestCloud, host: &str) -> String {
    cloud.compute.svc.hosts().into_iter().find(|h| h != host).expect("a second host")
}

fn runs_on(cloud: &TestCloud, host: &str, id: &str) -> bool {
    cloud.compute.svc.driver(host).and_then(|d| d.power_state(id)).is_some()
}

async fn force_down(cloud: &TestCloud, admin: &str, host: &str, down: bool) {
    let r = cloud
        .request_with(
            http::Method::PUT,
            &url(cloud, "/os-services/force-down"),
            Some(admin),
            Some(json!({"host": host, "binary": "nova-compute", "forced_down": down})),
            &[("OpenStack-API-Version", "compute 2.11")],
        )
        .await;
    r.expect(200);
}

async fn evacuate(cloud: &TestCloud, token: &str, id: &str, body: Value, v: &str) -> rustack_test_utils::Resp {
    post_v(cloud, &format!("/servers/{id}/action"), token, json!({ "evacuate": body }), v).await
}

async fn booted(cloud: &TestCloud, admin: &str) -> (String, String) {
    let img = image(cloud, admin).await;
    let id = boot(cloud, admin, &img, json!({})).await;
    let host = host_when(cloud, admin, &id, "ACTIVE").await;
    (id, host)
}

#[tokio::test]
async fn evacuate_rebuilds_elsewhere_and_the_returning_host_drops_its_copy() {
    let cloud = cloud_with(TWO_HOSTS).await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    let dst = other(&cloud, &src);

    // the source still runs its compute service: Nova's ComputeServiceInUse
    let r = evacuate(&cloud, &admin, &id, json!({}), "2.14").await.expect(400);
    assert!(r.body["badRequest"]["message"].as_str().unwrap().contains("is still in use"), "{}", r.body);

    force_down(&cloud, &admin, &src, true).await;
    evacuate(&cloud, &admin, &id, json!({}), "2.14").await.expect(200);
    let s = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], dst.as_str(), "{s}");
    assert!(runs_on(&cloud, &dst, &id));
    assert_eq!(cloud.compute.svc.host_usage(&dst).await.vcpu, 1);
    assert_eq!(cloud.compute.svc.host_usage(&src).await.vcpu, 0, "the allocation moved");
    let m = migrations_of(&cloud, &admin, &id, "2.23").await;
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0]["migration_type"], "evacuation");
    assert_eq!(m[0]["status"], "done");
    assert_eq!((m[0]["source_compute"].as_str(), m[0]["dest_compute"].as_str()), (Some(&*src), Some(&*dst)));
    // the down host still holds its old guest until it is back
    assert!(runs_on(&cloud, &src, &id));

    force_down(&cloud, &admin, &src, false).await;
    let start = Instant::now();
    while runs_on(&cloud, &src, &id) {
        assert!(start.elapsed() < Duration::from_secs(10), "the returning host kept the evacuated guest");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start = Instant::now();
    loop {
        let m = migrations_of(&cloud, &admin, &id, "2.23").await;
        if m[0]["status"] == "completed" {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{m:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(runs_on(&cloud, &dst, &id), "the evacuated server runs once, on its new host");
    let s = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], dst.as_str());
}

#[tokio::test]
async fn evacuate_refusals_and_old_microversions() {
    let cloud = cloud_with(TWO_HOSTS).await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    let dst = other(&cloud, &src);
    force_down(&cloud, &admin, &src, true).await;

    // not an admin: 403
    let demo = cloud.demo_token().await;
    let img = image(&cloud, &admin).await;
    let mine = boot(&cloud, &demo, &img, json!({})).await;
    wait_status(&cloud, &demo, &mine, "ACTIVE").await;
    evacuate(&cloud, &demo, &mine, json!({}), "2.14").await.expect(403);
    // bad bodies, unknown and same hosts
    evacuate(&cloud, &admin, &id, json!({}), "2.1").await.expect(400);
    evacuate(&cloud, &admin, &id, json!({"onSharedStorage": false}), "2.14").await.expect(400);
    evacuate(&cloud, &admin, &id, json!({"force": true}), "2.68").await.expect(400);
    evacuate(&cloud, &admin, &id, json!({"host": 7}), "2.29").await.expect(400);
    evacuate(&cloud, &admin, &id, json!({"onSharedStorage": true, "adminPass": "x"}), "2.1").await.expect(400);
    evacuate(&cloud, &admin, &id, json!({"host": "nowhere"}), "2.29").await.expect(404);
    evacuate(&cloud, &admin, &id, json!({"host": src}), "2.29").await.expect(400);
    // a paused server: 409
    action(&cloud, &admin, &id, json!({"pause": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "PAUSED").await;
    evacuate(&cloud, &admin, &id, json!({}), "2.14").await.expect(409);
    action(&cloud, &admin, &id, json!({"unpause": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "ACTIVE").await;
    let m = migrations_of(&cloud, &admin, &id, "2.23").await;
    assert!(m.is_empty(), "refusals leave no migration: {m:?}");

    // a stopped server, the host named, before 2.14: adminPass answered,
    // and it stays stopped on its new host
    action(&cloud, &admin, &id, json!({"os-stop": null})).await.expect(202);
    wait_status(&cloud, &admin, &id, "SHUTOFF").await;
    let r = evacuate(&cloud, &admin, &id, json!({"host": dst, "onSharedStorage": false, "adminPass": "s3cret"}), "2.1")
        .await
        .expect(200);
    assert_eq!(r.body["adminPass"], "s3cret");
    let s = wait_status(&cloud, &admin, &id, "SHUTOFF").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], dst.as_str());
    assert_eq!(s["OS-EXT-STS:power_state"], 4);
    let a = get_v(&cloud, &format!("/servers/{id}/os-instance-actions"), &admin, "2.79").await.expect(200);
    assert!(a.body["instanceActions"].as_array().unwrap().iter().any(|x| x["action"] == "evacuate"), "{}", a.body);
}

#[tokio::test]
async fn a_lone_host_has_nowhere_to_evacuate_to() {
    let cloud = cloud_with("[compute]\nfake_hosts = 1\n").await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    force_down(&cloud, &admin, &src, true).await;
    let r = evacuate(&cloud, &admin, &id, json!({}), "2.14").await.expect(400);
    assert!(r.body["badRequest"]["message"].as_str().unwrap().starts_with("No valid host"), "{}", r.body);
    let s = wait_status(&cloud, &admin, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-SRV-ATTR:host"], src.as_str());
}

#[tokio::test]
async fn a_restart_fails_an_interrupted_evacuation() {
    use rustack_compute::{Compute, Peers};
    // spawns take 4 s, so the evacuation's rebuild is in flight at the "crash"
    // (with room for a loaded CI machine)
    let cloud = cloud_with("[compute]\nfake_hosts = 2\nfake_spawn_delay_ms = 4000\n").await;
    let admin = cloud.admin_token().await;
    let (id, src) = booted(&cloud, &admin).await;
    force_down(&cloud, &admin, &src, true).await;
    evacuate(&cloud, &admin, &id, json!({}), "2.14").await.expect(200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(migrations_of(&cloud, &admin, &id, "2.23").await[0]["status"], "pre-migrating");

    // a second compute process on the same database (the first one "crashed")
    let peers = Peers {
        placement: cloud.placement.svc.clone(),
        image: cloud.image.svc.clone(),
        network: Some(cloud.network.svc.clone()),
    };
    let again = Compute::open(cloud.db.db.clone(), cloud.compute.svc.options().clone(), peers).await.unwrap();
    assert!(again.driver(&src).and_then(|d| d.power_state(&id)).is_some(), "the source re-adopts it");
    let m = migrations_of(&cloud, &admin, &id, "2.23").await;
    assert_eq!(m[0]["status"], "error", "{m:?}");
    let r = get_v(&cloud, &format!("/servers/{id}"), &admin, "2.79").await.expect(200);
    assert!(r.body["server"]["OS-EXT-STS:task_state"].is_null(), "{}", r.body);
    assert_eq!(r.body["server"]["OS-EXT-SRV-ATTR:host"], src.as_str());
}
