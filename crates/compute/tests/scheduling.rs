//! Several fake hosts in one process: spreading, anti-affinity across
//! hosts, capacity exhaustion, injected spawn failures, quota under
//! concurrency, the power-state reconciler.

mod common;

use std::collections::HashSet;

use common::*;
use rustack_test_utils::TestCloud;
use serde_json::json;

async fn cloud_with(conf: &str) -> TestCloud {
    TestCloud::start_with(rustack_db::testing::sqlite().await, conf).await
}

async fn host_of(cloud: &TestCloud, admin: &str, id: &str) -> String {
    let s = wait_status(cloud, admin, id, "ACTIVE").await;
    s["OS-EXT-SRV-ATTR:host"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn anti_affinity_spreads_and_then_fails() {
    let cloud = cloud_with("[compute]\nfake_hosts = 3\n").await;
    let admin = cloud.admin_token().await;
    let img = image(&cloud, &admin).await;
    let r = cloud
        .post(
            &url(&cloud, "/os-server-groups"),
            &admin,
            json!({"server_group": {"name": "g", "policies": ["anti-affinity"]}}),
        )
        .await
        .expect(200);
    let g = r.body["server_group"]["id"].as_str().unwrap().to_string();
    let mut hosts = HashSet::new();
    for _ in 0..3 {
        let body = json!({"server": {"name": "aa", "imageRef": img, "flavorRef": "1", "networks": "none"},
                          "os:scheduler_hints": {"group": g}});
        let r = post_v(&cloud, "/servers", &admin, body, "2.37").await.expect(202);
        let id = r.body["server"]["id"].as_str().unwrap().to_string();
        hosts.insert(host_of(&cloud, &admin, &id).await);
    }
    assert_eq!(hosts.len(), 3, "one member per host: {hosts:?}");
    let body = json!({"server": {"name": "aa", "imageRef": img, "flavorRef": "1", "networks": "none"},
                      "os:scheduler_hints": {"group": g}});
    let r = post_v(&cloud, "/servers", &admin, body, "2.37").await.expect(202);
    let id = r.body["server"]["id"].as_str().unwrap().to_string();
    let s = wait_status(&cloud, &admin, &id, "ERROR").await;
    assert!(s["fault"]["message"].as_str().unwrap().starts_with("No valid host was found"), "{s}");
    let r = cloud.get(&url(&cloud, &format!("/os-server-groups/{g}")), &admin).await.expect(200);
    assert_eq!(r.body["server_group"]["members"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn capacity_is_never_exceeded_under_concurrency() {
    // 2 hosts x 2 VCPU, no overcommit: 4 m1.tiny fit, the rest go ERROR
    let cloud = cloud_with("[compute]\nfake_hosts = 2\nfake_host_vcpus = 2\ncpu_allocation_ratio = 1.0\n").await;
    let admin = cloud.admin_token().await;
    let p = cloud.projects.admin_project_id.clone();
    cloud
        .request_with(
            http::Method::PUT,
            &url(&cloud, &format!("/os-quota-sets/{p}")),
            Some(&admin),
            Some(json!({"quota_set": {"instances": 100, "cores": 100}})),
            &[],
        )
        .await
        .expect(200);
    let img = image(&cloud, &admin).await;
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (c, a, i) = (&cloud, admin.clone(), img.clone());
        tasks.push(async move { boot(c, &a, &i, json!({})).await });
    }
    let ids = futures_util::future::join_all(tasks).await;
    let mut active = 0;
    let mut error = 0;
    for id in &ids {
        loop {
            let r = get_v(&cloud, &format!("/servers/{id}"), &admin, "2.1").await.expect(200);
            match r.body["server"]["status"].as_str().unwrap() {
                "ACTIVE" => {
                    active += 1;
                    break;
                }
                "ERROR" => {
                    error += 1;
                    break;
                }
                _ => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        }
    }
    assert_eq!((active, error), (4, 4));
    for h in cloud.compute.svc.hosts() {
        assert_eq!(cloud.compute.svc.host_usage(&h).await.vcpu, 2, "{h} full, not over");
    }
    let r = cloud.get(&url(&cloud, "/os-hypervisors/statistics"), &admin).await.expect(200);
    assert_eq!(r.body["hypervisor_statistics"]["vcpus_used"], 4);
}

#[tokio::test]
async fn a_failing_host_is_skipped_and_all_failing_is_an_error() {
    let cloud = cloud_with("[compute]\nfake_hosts = 2\nfake_fail_spawn = fake-compute-1\n").await;
    let admin = cloud.admin_token().await;
    let img = image(&cloud, &admin).await;
    for _ in 0..3 {
        let id = boot(&cloud, &admin, &img, json!({})).await;
        assert_eq!(host_of(&cloud, &admin, &id).await, "fake-compute-2");
    }
    assert_eq!(cloud.compute.svc.host_usage("fake-compute-1").await.vcpu, 0, "the failed claim was undone");

    let cloud = cloud_with("[compute]\nfake_hosts = 2\nfake_fail_spawn = *\n").await;
    let admin = cloud.admin_token().await;
    let img = image(&cloud, &admin).await;
    let id = boot(&cloud, &admin, &img, json!({})).await;
    let s = wait_status(&cloud, &admin, &id, "ERROR").await;
    let msg = s["fault"]["message"].as_str().unwrap();
    assert!(msg.starts_with("No valid host was found. Exceeded max scheduling attempts 2"), "{msg}");
    for h in cloud.compute.svc.hosts() {
        assert_eq!(cloud.compute.svc.host_usage(&h).await.vcpu, 0);
    }
    // an ERROR server deletes cleanly
    cloud.delete(&url(&cloud, &format!("/servers/{id}")), &admin).await.expect(204);
    wait_status(&cloud, &admin, &id, "DELETED").await;
}

#[tokio::test]
async fn quota_holds_under_concurrent_creates() {
    for db in rustack_db::testing::all_backends().await {
        quota_holds_under_concurrent_creates_on(db).await;
    }
}

async fn quota_holds_under_concurrent_creates_on(db: rustack_db::testing::TestDb) {
    let cloud = TestCloud::start_with(db, "").await;
    let admin = cloud.admin_token().await;
    let demo = cloud.demo_token().await;
    let p = cloud.projects.demo_project_id.clone();
    cloud
        .request_with(
            http::Method::PUT,
            &url(&cloud, &format!("/os-quota-sets/{p}")),
            Some(&admin),
            Some(json!({"quota_set": {"instances": 3}})),
            &[],
        )
        .await
        .expect(200);
    let img = image(&cloud, &admin).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (c, d, i) = (&cloud, demo.clone(), img.clone());
        tasks.push(async move {
            post_v(
                c,
                "/servers",
                &d,
                json!({"server": {"name": "q", "imageRef": i, "flavorRef": "1", "networks": "none"}}),
                "2.37",
            )
            .await
        });
    }
    let rs = futures_util::future::join_all(tasks).await;
    let ok = rs.iter().filter(|r| r.status.as_u16() == 202).count();
    let over: Vec<_> = rs.iter().filter(|r| r.status.as_u16() == 403).collect();
    assert_eq!(ok, 3, "{:?}", rs.iter().map(|r| (r.status, r.body.to_string())).collect::<Vec<_>>());
    assert_eq!(over.len(), 7);
    assert!(over[0].body["forbidden"]["message"].as_str().unwrap().starts_with("Quota exceeded for instances"));
    let r = cloud.get(&url(&cloud, "/limits"), &demo).await.expect(200);
    assert_eq!(r.body["limits"]["absolute"]["totalInstancesUsed"], 3);
    assert_eq!(r.body["limits"]["absolute"]["maxTotalInstances"], 3);
}

#[tokio::test]
async fn the_reconciler_syncs_power_state_from_the_driver() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let img = image(&cloud, &admin).await;
    let id = boot(&cloud, &admin, &img, json!({})).await;
    let host = host_of(&cloud, &admin, &id).await;
    let drv = cloud.compute.svc.fake_driver(&host).unwrap();
    assert_eq!(cloud.compute.svc.sync_power_states().await.unwrap(), 0, "nothing to do");
    assert!(drv.force_power_state(&id, 4));
    assert_eq!(cloud.compute.svc.sync_power_states().await.unwrap(), 1);
    let s = wait_status(&cloud, &admin, &id, "SHUTOFF").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 4);
    assert_eq!(cloud.compute.svc.sync_power_states().await.unwrap(), 0, "idempotent");
}
