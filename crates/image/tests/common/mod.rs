//! Helpers of the image API tests.
#![allow(dead_code)]

use reqwest::Method;
use rustack_test_utils::{Resp, TestCloud};
use serde_json::{json, Value};

pub const PATCH_21: &str = "application/openstack-images-v2.1-json-patch";

pub fn url(cloud: &TestCloud, path: &str) -> String {
    format!("{}{path}", cloud.image.url)
}

/// `POST /v2/images` expecting 201; the image.
pub async fn create(cloud: &TestCloud, token: &str, body: Value) -> Value {
    cloud.post(&url(cloud, "/v2/images"), token, body).await.expect(201).body
}

/// A raw image ready for data.
pub async fn create_raw(cloud: &TestCloud, token: &str, name: &str) -> String {
    let img = create(cloud, token, json!({"name": name, "disk_format": "raw", "container_format": "bare"})).await;
    img["id"].as_str().unwrap().to_string()
}

pub async fn patch(cloud: &TestCloud, token: &str, id: &str, ops: Value) -> Resp {
    cloud
        .request_with(
            Method::PATCH,
            &url(cloud, &format!("/v2/images/{id}")),
            Some(token),
            Some(ops),
            &[("Content-Type", PATCH_21)],
        )
        .await
}

/// `PUT …/file` with `data`; status and JSON body.
pub async fn upload(cloud: &TestCloud, token: &str, id: &str, data: Vec<u8>) -> (u16, Value) {
    put_bytes(cloud, token, &format!("/v2/images/{id}/file"), data).await
}

pub async fn put_bytes(cloud: &TestCloud, token: &str, path: &str, data: Vec<u8>) -> (u16, Value) {
    let r = cloud
        .http
        .put(url(cloud, path))
        .header("X-Auth-Token", token)
        .header("Content-Type", "application/octet-stream")
        .body(data)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// `GET …/file` with extra headers: status, headers, bytes.
pub async fn download(
    cloud: &TestCloud,
    token: &str,
    id: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut rb = cloud.http.get(url(cloud, &format!("/v2/images/{id}/file"))).header("X-Auth-Token", token);
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let h = r.headers().clone();
    (status, h, r.bytes().await.unwrap().to_vec())
}

pub async fn show(cloud: &TestCloud, token: &str, id: &str) -> Value {
    cloud.get(&url(cloud, &format!("/v2/images/{id}")), token).await.expect(200).body
}

/// Asserts an error in Glance's shape with this status.
#[track_caller]
pub fn glance_error(r: Resp, status: u16) -> Resp {
    let r = r.expect(status);
    assert!(r.body["code"].as_str().is_some_and(|c| c.starts_with(&status.to_string())), "body: {}", r.body);
    assert!(r.body["message"].is_string(), "body: {}", r.body);
    r
}

/// Deterministic bytes that are no known disk format.
pub fn bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + 3) % 251) as u8 | 1).collect()
}

/// Files (not directories) under `dir`, hidden ones included.
pub fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default()
}

/// The id of project `name`.
pub async fn project_id(cloud: &TestCloud, name: &str) -> String {
    let t = cloud.admin_token().await;
    let r = cloud.get(&format!("/v3/projects?name={name}"), &t).await.expect(200);
    r.body["projects"][0]["id"].as_str().unwrap().to_string()
}

/// A user `name` with role `role` on a new project `name`; (their token, project id).
pub async fn user_with_project(cloud: &TestCloud, name: &str, role: &str) -> (String, String) {
    let (pid, token) = cloud.project_with_user(name, role).await;
    (token, pid)
}
