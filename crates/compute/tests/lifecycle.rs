//! The Compute API in-process with the fake driver: discovery,
//! microversions, flavors, key pairs, a server's life and its 409s.

mod common;

use common::*;
use rustack_test_utils::TestCloud;
use serde_json::json;

#[tokio::test]
async fn discovery_and_microversions() {
    let cloud = TestCloud::start().await;
    let r = cloud.get(&format!("{}/", cloud.compute.url), "").await.expect(200);
    assert_eq!(r.body["versions"][1]["id"], "v2.1");
    assert_eq!(r.body["versions"][1]["version"], "2.79");
    let r = cloud.get(&format!("{}/v2.1", cloud.compute.url), "").await.expect(200);
    assert_eq!(r.body["version"]["min_version"], "2.1");
    let t = cloud.admin_token().await;
    let r = get_v(&cloud, "/flavors", &t, "2.80").await.expect(406);
    assert!(r.body["notAcceptable"]["message"].as_str().unwrap().contains("not supported"));
    get_v(&cloud, "/flavors", &t, "2.x").await.expect(400);
    let r = get_v(&cloud, "/flavors", &t, "latest").await.expect(200);
    assert_eq!(r.header("openstack-api-version"), Some("compute 2.79"));
    assert_eq!(r.header("x-compute-request-id"), r.header("x-openstack-request-id"));
    assert!(r.header("x-compute-request-id").is_some_and(|id| id.starts_with("req-")));
    // no token: 401 in keystonemiddleware's shape
    cloud.get(&url(&cloud, "/servers"), "").await.expect(401);
    // the legacy URL with the project id works too
    let p = &cloud.projects.admin_project_id;
    cloud.get(&url(&cloud, &format!("/{p}/flavors")), &t).await.expect(200);
}

#[tokio::test]
async fn flavors_and_keypairs() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let demo = cloud.demo_token().await;
    let r = cloud.get(&url(&cloud, "/flavors/detail"), &demo).await.expect(200);
    let names: Vec<&str> = r.body["flavors"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"m1.tiny") && names.contains(&"m1.xlarge"), "{names:?}");
    let r = cloud.get(&url(&cloud, "/flavors/1"), &demo).await.expect(200);
    assert_eq!(r.body["flavor"]["ram"], 512);
    assert_eq!(r.body["flavor"]["swap"], "");
    // private flavor: invisible to demo until access is given
    let body =
        json!({"flavor": {"name": "priv", "ram": 64, "vcpus": 1, "disk": 0, "os-flavor-access:is_public": false}});
    let r = cloud.post(&url(&cloud, "/flavors"), &admin, body.clone()).await.expect(200);
    let fid = r.body["flavor"]["id"].as_str().unwrap().to_string();
    cloud.post(&url(&cloud, "/flavors"), &admin, body).await.expect(409);
    cloud
        .post(&url(&cloud, "/flavors"), &demo, json!({"flavor": {"name": "x", "ram": 1, "vcpus": 1, "disk": 0}}))
        .await
        .expect(403);
    cloud.get(&url(&cloud, &format!("/flavors/{fid}")), &demo).await.expect(404);
    let demo_project = &cloud.projects.demo_project_id;
    cloud
        .post(
            &url(&cloud, &format!("/flavors/{fid}/action")),
            &admin,
            json!({"addTenantAccess": {"tenant": demo_project}}),
        )
        .await
        .expect(200);
    cloud.get(&url(&cloud, &format!("/flavors/{fid}")), &demo).await.expect(200);
    // extra specs
    cloud
        .post(
            &url(&cloud, &format!("/flavors/{fid}/os-extra_specs")),
            &admin,
            json!({"extra_specs": {"hw:cpu_policy": "dedicated"}}),
        )
        .await
        .expect(200);
    let r = cloud.get(&url(&cloud, &format!("/flavors/{fid}/os-extra_specs/hw:cpu_policy")), &admin).await.expect(200);
    assert_eq!(r.body["hw:cpu_policy"], "dedicated");
    cloud.get(&url(&cloud, &format!("/flavors/{fid}/os-extra_specs/nope")), &admin).await.expect(404);
    // key pairs: generated at 2.1, imported with a fingerprint; bad keys are 400
    let r = cloud.post(&url(&cloud, "/os-keypairs"), &demo, json!({"keypair": {"name": "k1"}})).await.expect(200);
    let public = r.body["keypair"]["public_key"].as_str().unwrap().to_string();
    assert!(r.body["keypair"]["private_key"].as_str().unwrap().contains("PRIVATE KEY"));
    let r = post_v(&cloud, "/os-keypairs", &demo, json!({"keypair": {"name": "k2", "public_key": public}}), "2.2")
        .await
        .expect(201);
    assert_eq!(r.body["keypair"]["type"], "ssh");
    assert!(r.body["keypair"].get("private_key").is_none());
    cloud.post(&url(&cloud, "/os-keypairs"), &demo, json!({"keypair": {"name": "k1"}})).await.expect(409);
    let r = cloud
        .post(&url(&cloud, "/os-keypairs"), &demo, json!({"keypair": {"name": "k3", "public_key": "ssh-rsa bogus"}}))
        .await
        .expect(400);
    assert!(r.body["badRequest"]["message"].as_str().unwrap().contains("Keypair data is invalid"));
    cloud.post(&url(&cloud, "/os-keypairs"), &demo, json!({"keypair": {"name": "bad/name"}})).await.expect(400);
    let r = cloud.get(&url(&cloud, "/os-keypairs"), &demo).await.expect(200);
    assert_eq!(r.body["keypairs"].as_array().unwrap().len(), 2);
    // another user's key pair is not theirs to use or see
    cloud.get(&url(&cloud, "/os-keypairs/k1"), &admin).await.expect(404);
    cloud.delete(&url(&cloud, "/os-keypairs/k2"), &demo).await.expect(202);
}

#[tokio::test]
async fn a_server_lives_and_dies() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let demo = cloud.demo_token().await;
    let img = image(&cloud, &admin).await;
    cloud.post(&url(&cloud, "/os-keypairs"), &demo, json!({"keypair": {"name": "mine"}})).await.expect(200);
    let id = boot(&cloud, &demo, &img, json!({"key_name": "mine", "metadata": {"a": "b"}})).await;
    let s = wait_status(&cloud, &demo, &id, "ACTIVE").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 1);
    assert_eq!(s["key_name"], "mine");
    assert_eq!(s["metadata"]["a"], "b");
    assert_eq!(s["flavor"]["original_name"], "m1.tiny");
    assert!(s.get("OS-EXT-SRV-ATTR:host").is_none(), "host is for admins only");
    assert_eq!(s["hostId"].as_str().unwrap().len(), 56);
    // 2.1 shape: flavor by id and link
    let r = cloud.get(&url(&cloud, &format!("/servers/{id}")), &demo).await.expect(200);
    assert_eq!(r.body["server"]["flavor"]["id"], "1");
    assert!(r.body["server"].get("locked").is_none());
    // list and detail
    let r = cloud.get(&url(&cloud, "/servers"), &demo).await.expect(200);
    assert_eq!(r.body["servers"][0]["id"], id.as_str());
    let r = cloud.get(&url(&cloud, "/servers/detail?status=ACTIVE"), &demo).await.expect(200);
    assert_eq!(r.body["servers"].as_array().unwrap().len(), 1);
    let r = cloud.get(&url(&cloud, "/servers/detail?status=SHUTOFF"), &demo).await.expect(200);
    assert!(r.body["servers"].as_array().unwrap().is_empty());
    // state machine: stop, start while active is a 409, start, reboot, pause...
    action(&cloud, &demo, &id, json!({"os-start": null})).await.expect(409);
    action(&cloud, &demo, &id, json!({"os-stop": null})).await.expect(202);
    let s = wait_status(&cloud, &demo, &id, "SHUTOFF").await;
    assert_eq!(s["OS-EXT-STS:power_state"], 4);
    let r = action(&cloud, &demo, &id, json!({"pause": null})).await.expect(409);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'pause' instance {id} while it is in vm_state stopped")
    );
    action(&cloud, &demo, &id, json!({"os-start": null})).await.expect(202);
    wait_status(&cloud, &demo, &id, "ACTIVE").await;
    action(&cloud, &demo, &id, json!({"reboot": {"type": "HARD"}})).await.expect(202);
    wait_status(&cloud, &demo, &id, "ACTIVE").await;
    action(&cloud, &demo, &id, json!({"pause": null})).await.expect(202);
    wait_status(&cloud, &demo, &id, "PAUSED").await;
    action(&cloud, &demo, &id, json!({"reboot": {"type": "SOFT"}})).await.expect(409);
    action(&cloud, &demo, &id, json!({"unpause": null})).await.expect(202);
    wait_status(&cloud, &demo, &id, "ACTIVE").await;
    action(&cloud, &demo, &id, json!({"suspend": null})).await.expect(202);
    wait_status(&cloud, &demo, &id, "SUSPENDED").await;
    action(&cloud, &demo, &id, json!({"resume": null})).await.expect(202);
    wait_status(&cloud, &demo, &id, "ACTIVE").await;
    action(&cloud, &demo, &id, json!({"rescue": null})).await.expect(200);
    wait_status(&cloud, &demo, &id, "RESCUE").await;
    action(&cloud, &demo, &id, json!({"unrescue": null})).await.expect(202);
    wait_status(&cloud, &demo, &id, "ACTIVE").await;
    // resize and confirm; revert brings the old flavor back
    action(&cloud, &demo, &id, json!({"resize": {"flavorRef": "2"}})).await.expect(202);
    let s = wait_status(&cloud, &demo, &id, "VERIFY_RESIZE").await;
    assert_eq!(s["flavor"]["original_name"], "m1.small");
    action(&cloud, &demo, &id, json!({"confirmResize": null})).await.expect(204);
    wait_status(&cloud, &demo, &id, "ACTIVE").await;
    action(&cloud, &demo, &id, json!({"resize": {"flavorRef": "3"}})).await.expect(202);
    wait_status(&cloud, &demo, &id, "VERIFY_RESIZE").await;
    action(&cloud, &demo, &id, json!({"revertResize": null})).await.expect(202);
    let s = wait_status(&cloud, &demo, &id, "ACTIVE").await;
    assert_eq!(s["flavor"]["original_name"], "m1.small");
    // rebuild, console output, lock
    action(&cloud, &demo, &id, json!({"rebuild": {"imageRef": img, "name": "renamed"}})).await.expect(202);
    let s = wait_status(&cloud, &demo, &id, "ACTIVE").await;
    assert_eq!(s["name"], "renamed");
    let r = action(&cloud, &demo, &id, json!({"os-getConsoleOutput": {"length": 2}})).await.expect(200);
    assert!(r.body["output"].as_str().unwrap().contains("fake console"));
    action(&cloud, &demo, &id, json!({"lock": null})).await.expect(202);
    let r = action(&cloud, &demo, &id, json!({"os-stop": null})).await.expect(409);
    assert!(r.body["conflictingRequest"]["message"].as_str().unwrap().contains("is locked"));
    cloud.delete(&url(&cloud, &format!("/servers/{id}")), &demo).await.expect(409);
    action(&cloud, &demo, &id, json!({"unlock": null})).await.expect(202);
    // snapshot through the image service
    let r = action(&cloud, &demo, &id, json!({"createImage": {"name": "snap"}})).await.expect(202);
    let snap = r.body["image_id"].as_str().unwrap().to_string();
    wait_status(&cloud, &demo, &id, "ACTIVE").await;
    let r = cloud.get(&format!("{}/v2/images/{snap}", cloud.image.url), &demo).await.expect(200);
    assert_eq!(r.body["status"], "active");
    // shelve / unshelve
    action(&cloud, &demo, &id, json!({"shelve": null})).await.expect(202);
    wait_status(&cloud, &demo, &id, "SHELVED_OFFLOADED").await;
    action(&cloud, &demo, &id, json!({"unshelve": null})).await.expect(202);
    wait_status(&cloud, &demo, &id, "ACTIVE").await;
    // instance actions record it all
    let r = cloud.get(&url(&cloud, &format!("/servers/{id}/os-instance-actions")), &demo).await.expect(200);
    let acts: Vec<&str> =
        r.body["instanceActions"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert!(acts.contains(&"create") && acts.contains(&"resize") && acts.contains(&"stop"), "{acts:?}");
    // delete frees the host
    cloud.delete(&url(&cloud, &format!("/servers/{id}")), &demo).await.expect(204);
    wait_status(&cloud, &demo, &id, "DELETED").await;
    let used = cloud.compute.svc.host_usage("fake-compute-1").await;
    assert_eq!(used.vcpu, 0, "allocation released");
}

#[tokio::test]
async fn bad_requests_get_novas_errors() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let demo = cloud.demo_token().await;
    let img = image(&cloud, &admin).await;
    let create = |server: serde_json::Value| {
        let cloud = &cloud;
        let demo = demo.clone();
        async move { post_v(cloud, "/servers", &demo, json!({ "server": server }), "2.37").await }
    };
    let r = create(json!({"name": "x", "imageRef": img, "flavorRef": "999", "networks": "none"})).await.expect(400);
    assert_eq!(r.body["badRequest"]["message"], "Invalid flavorRef provided.");
    let r = create(
        json!({"name": "x", "imageRef": uuid::Uuid::new_v4().to_string(), "flavorRef": "1", "networks": "none"}),
    )
    .await
    .expect(400);
    assert_eq!(r.body["badRequest"]["message"], "Can not find requested image");
    let r = create(json!({"name": "x", "imageRef": img, "flavorRef": "1", "networks": "none", "key_name": "nokey"}))
        .await
        .expect(400);
    assert_eq!(r.body["badRequest"]["message"], "Invalid key_name provided.");
    create(json!({"name": "x", "imageRef": img, "flavorRef": "1"})).await.expect(400);
    create(json!({"name": "", "imageRef": img, "flavorRef": "1", "networks": "none"})).await.expect(400);
    create(json!({"name": "x", "imageRef": img, "flavorRef": "1", "networks": "none", "bogus": 1})).await.expect(400);
    // min_ram above the flavor's memory
    let r = cloud
        .post(&format!("{}/v2/images", cloud.image.url), &admin, json!({"name": "big", "disk_format": "raw", "container_format": "bare", "visibility": "public", "min_ram": 4096}))
        .await
        .expect(201);
    let big = r.body["id"].as_str().unwrap().to_string();
    let _ = reqwest::Client::new()
        .put(format!("{}/v2/images/{big}/file", cloud.image.url))
        .header("X-Auth-Token", &admin)
        .header("Content-Type", "application/octet-stream")
        .body(vec![0u8; 16])
        .send()
        .await
        .unwrap();
    let r = create(json!({"name": "x", "imageRef": big, "flavorRef": "1", "networks": "none"})).await.expect(400);
    assert_eq!(r.body["badRequest"]["message"], "Flavor's memory is too small for requested image.");
    // a malformed body
    let r = cloud
        .request_with(
            http::Method::POST,
            &url(&cloud, "/servers"),
            Some(&demo),
            None,
            &[("Content-Type", "application/json")],
        )
        .await;
    assert_eq!(r.status.as_u16(), 400);
    // someone else's server is not found
    let id = boot(&cloud, &demo, &img, json!({})).await;
    let other = cloud.admin_token().await;
    let _ = other;
    cloud.get(&url(&cloud, &format!("/servers/{}", uuid::Uuid::new_v4())), &demo).await.expect(404);
    let r = action(&cloud, &demo, &id, json!({"nope": null})).await.expect(400);
    assert!(r.body["badRequest"].is_object());
}
