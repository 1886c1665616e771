//! Junk requests against every image route: always an answer in Glance's
//! shape, never a 5xx.

mod common;

use common::*;
use reqwest::Method;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

#[tokio::test]
async fn junk_never_gets_a_5xx() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    let id = create_raw(&cloud, &t, "junk").await;
    let routes = [
        "/v2/images".to_string(),
        format!("/v2/images/{id}"),
        format!("/v2/images/{id}/file"),
        format!("/v2/images/{id}/stage"),
        format!("/v2/images/{id}/import"),
        format!("/v2/images/{id}/tasks"),
        format!("/v2/images/{id}/actions/deactivate"),
        format!("/v2/images/{id}/tags/x"),
        format!("/v2/images/{id}/members"),
        format!("/v2/images/{id}/members/p"),
        "/v2/images/%00/members/%ff".to_string(),
        "/v2/schemas/image".to_string(),
        "/v2/schemas/metadefs/nope".to_string(),
        "/v2/info/usage".to_string(),
        "/v2/metadefs/namespaces".to_string(),
        "/v2/metadefs/namespaces/x/objects/y".to_string(),
        "/v2/metadefs/namespaces/x/bogus".to_string(),
        "/v2/images?limit=99999999999999999999&sort=:&tag=&created_at=gt:".to_string(),
        "/v2/images?size_min=-1&os_hidden=maybe&protected=2".to_string(),
    ];
    let bodies: Vec<Option<Value>> = vec![
        None,
        Some(json!(null)),
        Some(json!("text")),
        Some(json!([{"op": "add", "path": "/", "value": {"a": [1]}}])),
        Some(json!({"name": {"nested": true}, "tags": [1, 2], "min_ram": 1e40, "member": 5, "status": 7,
                    "method": {"name": 5}, "namespace": "", "tags_x": null})),
        Some(json!({"method": {"name": "glance-direct"}, "member": "p", "status": "accepted"})),
    ];
    let media =
        ["application/json", "application/openstack-images-v2.1-json-patch", "application/octet-stream", "text/plain"];
    let mut n = 0;
    for path in &routes {
        for m in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            for (i, b) in bodies.iter().enumerate() {
                let ct = media[i % media.len()];
                let mut rb = cloud
                    .http
                    .request(m.clone(), url(&cloud, path))
                    .header("X-Auth-Token", &t)
                    .header("Content-Type", ct);
                if let Some(b) = b {
                    rb = rb.body(serde_json::to_vec(b).unwrap());
                }
                let r = rb.send().await.unwrap();
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                assert!(status < 500 || status == 501, "{m} {path} ({ct}) -> {status}: {text}");
                if status >= 400 && status != 401 {
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    assert!(v["code"].is_string() && v["message"].is_string(), "{m} {path} -> {status}: {text}");
                }
                n += 1;
            }
        }
    }
    assert!(n > 500);
}
