//! createBackup's rotation (the newest `rotation` backups of a type stay,
//! older ones are deleted) and shelve's `<name>-shelved` snapshot (uploaded
//! by the shelve, deleted by the unshelve), against the image service.

mod common;

use std::time::{Duration, Instant};

use common::*;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

async fn images(cloud: &TestCloud, token: &str, query: &str) -> Vec<Value> {
    let r = cloud.get(&format!("{}/v2/images?{query}", cloud.image.url), token).await.expect(200);
    r.body["images"].as_array().cloned().unwrap_or_default()
}

fn names(list: &[Value]) -> Vec<&str> {
    list.iter().filter_map(|i| i["name"].as_str()).collect()
}

/// Waits until an image shows `status` (panics after 10 s).
async fn wait_image(cloud: &TestCloud, token: &str, id: &str, status: &str) {
    let start = Instant::now();
    loop {
        let r = cloud.get(&format!("{}/v2/images/{id}", cloud.image.url), token).await;
        if r.status.as_u16() == 200 && r.body["status"] == status {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "image {id} never {status}: {}", r.body);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn backup(cloud: &TestCloud, token: &str, id: &str, name: &str, rotation: i64) -> String {
    let body = json!({"createBackup": {"name": name, "backup_type": "daily", "rotation": rotation}});
    let r = post_v(cloud, &format!("/servers/{id}/action"), token, body, "2.45").await.expect(202);
    let image = r.body["image_id"].as_str().unwrap().to_string();
    wait_status(cloud, token, id, "ACTIVE").await;
    image
}

#[tokio::test]
async fn backups_rotate_out_the_oldest() {
    let cloud = TestCloud::start().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let id = boot(&cloud, &token, &img, json!({})).await;
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    let query = format!("instance_uuid={id}&image_type=backup&backup_type=daily&sort_key=created_at&sort_dir=asc");
    let b1 = backup(&cloud, &token, &id, "b1", 2).await;
    wait_image(&cloud, &token, &b1, "active").await;
    backup(&cloud, &token, &id, "b2", 2).await;
    assert_eq!(names(&images(&cloud, &token, &query).await), ["b1", "b2"]);
    // the third pushes the first out (Tempest's test_create_backup)
    backup(&cloud, &token, &id, "b3", 2).await;
    assert_eq!(names(&images(&cloud, &token, &query).await), ["b2", "b3"]);
    cloud.get(&format!("{}/v2/images/{b1}", cloud.image.url), &token).await.expect(404);
    // another backup type is rotated on its own
    let body = json!({"createBackup": {"name": "w1", "backup_type": "weekly", "rotation": 1}});
    action(&cloud, &token, &id, body).await.expect(202);
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert_eq!(images(&cloud, &token, &query).await.len(), 2);
    // rotation 1 keeps only the new one; rotation 0 keeps none (Nova's)
    backup(&cloud, &token, &id, "b4", 1).await;
    assert_eq!(names(&images(&cloud, &token, &query).await), ["b4"]);
    backup(&cloud, &token, &id, "b5", 0).await;
    assert!(images(&cloud, &token, &query).await.is_empty());
    let weekly = images(&cloud, &token, &format!("instance_uuid={id}&backup_type=weekly")).await;
    assert_eq!(names(&weekly), ["w1"]);
}

#[tokio::test]
async fn shelve_uploads_a_snapshot_and_unshelve_deletes_it() {
    let cloud = TestCloud::start().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let id = boot(&cloud, &token, &img, json!({"name": "shelf"})).await;
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    action(&cloud, &token, &id, json!({"shelve": null})).await.expect(202);
    let s = wait_status(&cloud, &token, &id, "SHELVED_OFFLOADED").await;
    assert!(s["OS-EXT-SRV-ATTR:host"].is_null(), "{s}");
    let shelved = images(&cloud, &token, "name=shelf-shelved").await;
    assert_eq!(shelved.len(), 1, "{shelved:?}");
    assert_eq!(shelved[0]["status"], "active");
    assert_eq!(shelved[0]["instance_uuid"], id.as_str());
    let image_id = shelved[0]["id"].as_str().unwrap().to_string();
    // shelving again is Nova's 409 (Tempest's test_shelve_shelved_server)
    let r = action(&cloud, &token, &id, json!({"shelve": null})).await.expect(409);
    assert_eq!(
        r.body["conflictingRequest"]["message"],
        format!("Cannot 'shelve' instance {id} while it is in vm_state shelved_offloaded")
    );
    assert_eq!(images(&cloud, &token, "name=shelf-shelved").await.len(), 1);
    action(&cloud, &token, &id, json!({"unshelve": null})).await.expect(202);
    let s = wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert!(s["OS-EXT-SRV-ATTR:host"].is_string());
    cloud.get(&format!("{}/v2/images/{image_id}", cloud.image.url), &token).await.expect(404);
    // a second shelve makes a fresh snapshot
    action(&cloud, &token, &id, json!({"shelve": null})).await.expect(202);
    wait_status(&cloud, &token, &id, "SHELVED_OFFLOADED").await;
    let again = images(&cloud, &token, "name=shelf-shelved").await;
    assert_eq!(again.len(), 1);
    assert_ne!(again[0]["id"], image_id.as_str());
}

#[tokio::test]
async fn a_paused_server_shelves() {
    let cloud = TestCloud::start().await;
    let token = cloud.admin_token().await;
    let img = image(&cloud, &token).await;
    let id = boot(&cloud, &token, &img, json!({"name": "p"})).await;
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    action(&cloud, &token, &id, json!({"pause": null})).await.expect(202);
    wait_status(&cloud, &token, &id, "PAUSED").await;
    action(&cloud, &token, &id, json!({"shelve": null})).await.expect(202);
    wait_status(&cloud, &token, &id, "SHELVED_OFFLOADED").await;
    action(&cloud, &token, &id, json!({"unshelve": null})).await.expect(202);
    wait_status(&cloud, &token, &id, "ACTIVE").await;
    assert!(images(&cloud, &token, "name=p-shelved").await.is_empty());
}
