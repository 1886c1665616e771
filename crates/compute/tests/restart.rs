//! A restart of the compute service: the agent re-adopts its instances,
//! a boot cut off by the crash ends in ERROR with its allocation freed.

mod common;

use std::time::Duration;

use common::*;
use rustack_compute::{Compute, HypervisorDriver, Peers};
use rustack_test_utils::TestCloud;
use serde_json::json;

#[tokio::test]
async fn restart_readopts_and_fails_interrupted_boots() {
    // spawns take 3 s, so the second boot is still in flight at the "crash"
    let cloud =
        TestCloud::start_with(rustack_db::testing::sqlite().await, "[compute]\nfake_spawn_delay_ms = 3000\n").await;
    let admin = cloud.admin_token().await;
    let img = image(&cloud, &admin).await;
    let done = boot(&cloud, &admin, &img, json!({})).await;
    wait_status(&cloud, &admin, &done, "ACTIVE").await;
    let cut = boot(&cloud, &admin, &img, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = get_v(&cloud, &format!("/servers/{cut}"), &admin, "2.1").await.expect(200);
    assert_eq!(r.body["server"]["status"], "BUILD");

    // a second compute process on the same database (the first one "crashed")
    let peers = Peers {
        placement: cloud.placement.svc.clone(),
        image: cloud.image.svc.clone(),
        network: Some(cloud.network.svc.clone()),
    };
    let again = Compute::open(cloud.db.db.clone(), cloud.compute.svc.options().clone(), peers).await.unwrap();
    let host = again.hosts()[0].clone();
    let drv = again.fake_driver(&host).unwrap();
    assert_eq!(drv.power_state(&done), Some(1), "the running server is adopted by the new agent");
    assert_eq!(drv.power_state(&cut), None);
    let usage = again.host_usage(&host).await;
    assert_eq!(usage.vcpu, 1, "only the adopted server holds resources: {usage:?}");
    // the interrupted boot is ERROR in the database
    let r = get_v(&cloud, &format!("/servers/{cut}"), &admin, "2.1").await.expect(200);
    assert_eq!(r.body["server"]["status"], "ERROR", "{}", r.body);
    assert!(r.body["server"]["fault"]["message"].as_str().unwrap().contains("interrupted"));
}
