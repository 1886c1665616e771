//! Helpers of the compute API tests: an image to boot, server waits.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

/// Uploads a small public image and returns its id.
pub async fn image(cloud: &TestCloud, token: &str) -> String {
    cloud.tiny_image(token, "tiny", true).await
}

pub fn url(cloud: &TestCloud, path: &str) -> String {
    format!("{}/v2.1{path}", cloud.compute.url)
}

pub async fn get_v(cloud: &TestCloud, path: &str, token: &str, v: &str) -> rustack_test_utils::Resp {
    cloud
        .request_with(
            http::Method::GET,
            &url(cloud, path),
            Some(token),
            None,
            &[("OpenStack-API-Version", &format!("compute {v}"))],
        )
        .await
}

pub async fn post_v(cloud: &TestCloud, path: &str, token: &str, body: Value, v: &str) -> rustack_test_utils::Resp {
    cloud
        .request_with(
            http::Method::POST,
            &url(cloud, path),
            Some(token),
            Some(body),
            &[("OpenStack-API-Version", &format!("compute {v}"))],
        )
        .await
}

/// Boots a server and returns its id (202 expected).
pub async fn boot(cloud: &TestCloud, token: &str, image: &str, extra: Value) -> String {
    let mut server = json!({"name": "vm", "imageRef": image, "flavorRef": "1", "networks": "none"});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        server[k] = v;
    }
    let r = post_v(cloud, "/servers", token, json!({ "server": server }), "2.37").await.expect(202);
    r.body["server"]["id"].as_str().unwrap().to_string()
}

/// Waits until the server shows `status` (panics after 10 s) and returns it.
pub async fn wait_status(cloud: &TestCloud, token: &str, id: &str, status: &str) -> Value {
    let start = Instant::now();
    loop {
        let r = get_v(cloud, &format!("/servers/{id}"), token, "2.79").await;
        if r.status.as_u16() == 200 {
            let s = r.body["server"].clone();
            if s["status"] == status && s["OS-EXT-STS:task_state"].is_null() {
                return s;
            }
            if start.elapsed() > Duration::from_secs(10) {
                panic!("server {id} never reached {status}: {s}");
            }
        } else if status == "DELETED" && r.status.as_u16() == 404 {
            return Value::Null;
        } else {
            panic!("GET server {id}: {} {}", r.status, r.body);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub async fn action(cloud: &TestCloud, token: &str, id: &str, body: Value) -> rustack_test_utils::Resp {
    post_v(cloud, &format!("/servers/{id}/action"), token, body, "2.79").await
}

/// A cloud whose compute runs with `conf` added (e.g. several fake hosts).
pub async fn cloud_with(conf: &str) -> TestCloud {
    TestCloud::start_with(rustack_db::testing::sqlite().await, conf).await
}

/// The host of a server once it shows `status` (admin token).
pub async fn host_when(cloud: &TestCloud, admin: &str, id: &str, status: &str) -> String {
    let s = wait_status(cloud, admin, id, status).await;
    s["OS-EXT-SRV-ATTR:host"].as_str().unwrap_or_default().to_string()
}

/// `os-migrations` at microversion `v`, filtered on one instance.
pub async fn migrations_of(cloud: &TestCloud, admin: &str, id: &str, v: &str) -> Vec<Value> {
    let r = get_v(cloud, &format!("/os-migrations?instance_uuid={id}"), admin, v).await.expect(200);
    r.body["migrations"].as_array().cloned().unwrap_or_default()
}
