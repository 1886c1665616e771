//! The faults of the image service: cut-off uploads, a full disk, deletes
//! during a download, crafted disk images, quotas.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use rustack_image::data::{BoxFuture, ByteStream, DataStore, FilesystemStore, StoreError};
use rustack_image::Image;
use rustack_test_utils::TestCloud;
use serde_json::json;
use tokio::io::AsyncWriteExt;

/// Serves a second image service over the cloud's database with `store`;
/// its base URL.
async fn serve_with_store(cloud: &TestCloud, store: Arc<dyn DataStore>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let opts = rustack_http::ServiceOptions {
        config: cloud.identity.config().clone(),
        data_dir: cloud.data_dir(),
        public_url: base.clone(),
        identity_url: format!("{}/v3", cloud.base),
        validator: cloud.identity.validator(),
        limits: cloud.identity.limits(),
    };
    let img = Image::open_with_store(cloud.db.db.clone(), opts, store).await.unwrap();
    let router = img.router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    base
}

async fn wait_status(cloud: &TestCloud, t: &str, id: &str, want: &str) -> serde_json::Value {
    let mut img = show(cloud, t, id).await;
    for _ in 0..200 {
        if img["status"] == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        img = show(cloud, t, id).await;
    }
    img
}

#[tokio::test]
async fn a_cut_off_upload_leaves_the_image_queued_and_no_file() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    let id = create_raw(&cloud, &t, "cut").await;
    let addr = cloud.image.url.trim_start_matches("http://").to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: {addr}\r\nX-Auth-Token: {t}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 10485760\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    sock.write_all(&bytes(300_000)).await.unwrap();
    sock.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(show(&cloud, &t, &id).await["status"], "saving");
    drop(sock); // the client goes away halfway
    let img = wait_status(&cloud, &t, &id, "queued").await;
    assert_eq!(img["status"], "queued");
    assert_eq!(img["size"], serde_json::Value::Null);
    // give the store's clean-up a moment, then nothing is left behind
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(files_in(&cloud.data_dir().join("images")).is_empty(), "{:?}", files_in(&cloud.data_dir().join("images")));
    // and the image can be uploaded again
    assert_eq!(upload(&cloud, &t, &id, bytes(1000)).await.0, 204);
    assert_eq!(show(&cloud, &t, &id).await["status"], "active");
}

/// A filesystem store whose disk "fills up" after `budget` bytes of a put.
struct FullDisk {
    inner: FilesystemStore,
    budget: u64,
}

#[derive(Debug)]
struct Enospc;
impl std::fmt::Display for Enospc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "no space left on device")
    }
}
impl std::error::Error for Enospc {}

impl DataStore for FullDisk {
    fn id(&self) -> &'static str {
        "file"
    }
    fn put<'a>(&'a self, key: &'a str, data: ByteStream) -> BoxFuture<'a, Result<u64, StoreError>> {
        use futures_util::StreamExt;
        let budget = self.budget;
        let mut seen = 0u64;
        let limited = data.map(move |c| {
            let c = c?;
            seen += c.len() as u64;
            if seen > budget {
                return Err(std::io::Error::other(Enospc));
            }
            Ok(c)
        });
        Box::pin(async move {
            match self.inner.put(key, Box::pin(limited)).await {
                Err(StoreError::Source(e)) if e.get_ref().is_some_and(|i| i.is::<Enospc>()) => Err(StoreError::Full),
                r => r,
            }
        })
    }
    fn get<'a>(
        &'a self,
        key: &'a str,
        range: Option<(u64, u64)>,
    ) -> BoxFuture<'a, Result<(u64, ByteStream), StoreError>> {
        self.inner.get(key, range)
    }
    fn size<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<u64, StoreError>> {
        self.inner.size(key)
    }
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.delete(key)
    }
}

#[tokio::test]
async fn a_full_disk_is_a_413_and_leaves_nothing() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    let dir = cloud.data_dir().join("full-disk");
    let store = FullDisk { inner: FilesystemStore::new(&dir).unwrap(), budget: 1 << 20 };
    let base = serve_with_store(&cloud, Arc::new(store)).await;
    let id = create_raw(&cloud, &t, "full").await;
    let r = cloud
        .http
        .put(format!("{base}/v2/images/{id}/file"))
        .header("X-Auth-Token", &t)
        .header("Content-Type", "application/octet-stream")
        .body(bytes(3 << 20))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("Image storage media is full"), "{body}");
    assert_eq!(body["code"], "413 Request Entity Too Large");
    assert_eq!(show(&cloud, &t, &id).await["status"], "queued");
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
}

/// The real thing where this runs as root: a 1 MiB tmpfs fills up (ENOSPC).
#[tokio::test]
async fn a_real_full_tmpfs_is_a_413() {
    let cloud = TestCloud::start().await;
    let dir = cloud.data_dir().join("tmpfs");
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&dir)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (not root); the injected full disk test covers the path");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(dir.clone());
    let t = cloud.demo_token().await;
    let base = serve_with_store(&cloud, Arc::new(FilesystemStore::new(&dir).unwrap())).await;
    let id = create_raw(&cloud, &t, "tmpfs").await;
    let r = cloud
        .http
        .put(format!("{base}/v2/images/{id}/file"))
        .header("X-Auth-Token", &t)
        .body(bytes(4 << 20))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 413);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("Image storage media is full"), "{body}");
    assert_eq!(show(&cloud, &t, &id).await["status"], "queued");
    assert!(files_in(&dir).is_empty(), "{:?}", files_in(&dir));
    // a smaller image still fits afterwards
    let r = cloud
        .http
        .put(format!("{base}/v2/images/{id}/file"))
        .header("X-Auth-Token", &t)
        .body(bytes(100_000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 204);
}

#[tokio::test]
async fn deleting_during_a_download_does_not_corrupt_it() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    let id = create_raw(&cloud, &t, "dl").await;
    let data = bytes(32 << 20);
    assert_eq!(upload(&cloud, &t, &id, data.clone()).await.0, 204);
    let mut r =
        cloud.http.get(url(&cloud, &format!("/v2/images/{id}/file"))).header("X-Auth-Token", &t).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let mut got = r.chunk().await.unwrap().unwrap().to_vec();
    cloud.delete(&url(&cloud, &format!("/v2/images/{id}")), &t).await.expect(204);
    assert!(!cloud.data_dir().join("images").join(&id).exists(), "the file is unlinked at once");
    while let Some(c) = r.chunk().await.unwrap() {
        got.extend_from_slice(&c);
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the download is intact");
}

#[tokio::test]
async fn crafted_and_mismatched_disk_images_are_refused() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    let qcow = |name: &'static str| {
        let (cloud, t) = (&cloud, &t);
        async move {
            let img = create(cloud, t, json!({"name": name, "disk_format": "qcow2", "container_format": "bare"})).await;
            img["id"].as_str().unwrap().to_string()
        }
    };
    let pad = |mut h: Vec<u8>| {
        h.resize(200_000, 0);
        h
    };
    // a backing file: the host's files could be read through it
    let id = qcow("backing").await;
    let (st, body) = upload(&cloud, &t, &id, pad(rustack_image::format::qcow2_header(1 << 30, 512, false))).await;
    assert_eq!(st, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("backing file"), "{body}");
    assert_eq!(show(&cloud, &t, &id).await["status"], "queued");
    // an external data file
    let id2 = qcow("datafile").await;
    let (st, body) = upload(&cloud, &t, &id2, pad(rustack_image::format::qcow2_header(1 << 30, 0, true))).await;
    assert_eq!(st, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("external data file"), "{body}");
    // not a qcow2 at all
    let id3 = qcow("notqcow").await;
    assert_eq!(upload(&cloud, &t, &id3, bytes(100_000)).await.0, 400);
    // a qcow2 declared raw
    let raw = create_raw(&cloud, &t, "rawqcow").await;
    assert_eq!(upload(&cloud, &t, &raw, pad(rustack_image::format::qcow2_header(1 << 20, 0, false))).await.0, 400);
    assert!(files_in(&cloud.data_dir().join("images")).is_empty());
    // a good one is accepted, with its virtual size from the header
    let good = qcow("good").await;
    assert_eq!(upload(&cloud, &t, &good, pad(rustack_image::format::qcow2_header(1 << 30, 0, false))).await.0, 204);
    let img = show(&cloud, &t, &good).await;
    assert_eq!(img["virtual_size"], 1u64 << 30);
    assert_eq!(img["size"], 200_000);
}

/// Sets a registered (default) limit of the image service in identity.
async fn set_limit(cloud: &TestCloud, name: &str, value: i64) {
    let admin = cloud.admin_token().await;
    let mut r = cloud.get("/v3/services?type=image", &admin).await.expect(200);
    if r.body["services"].as_array().is_none_or(|a| a.is_empty()) {
        // the test cloud puts only identity in the catalog unless asked
        cloud.register("image", "glance", &cloud.image.url).await;
        r = cloud.get("/v3/services?type=image", &admin).await.expect(200);
    }
    let service_id = r.body["services"][0]["id"].as_str().unwrap().to_string();
    cloud
        .post(
            "/v3/registered_limits",
            &admin,
            json!({"registered_limits": [{"service_id": service_id, "resource_name": name, "default_limit": value}]}),
        )
        .await
        .expect(201);
}

#[tokio::test]
async fn quotas_from_unified_limits() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    set_limit(&cloud, "image_count_total", 2).await;
    set_limit(&cloud, "image_size_total", 1).await; // MiB
    let a = create_raw(&cloud, &t, "a").await;
    let b = create_raw(&cloud, &t, "b").await;
    let r = cloud.post(&url(&cloud, "/v2/images"), &t, json!({"name": "c"})).await;
    let r = glance_error(r, 413);
    assert!(r.body["message"].as_str().unwrap().contains("image_count_total"), "{}", r.body);
    // 1 MiB of data in all
    assert_eq!(upload(&cloud, &t, &a, bytes(700_000)).await.0, 204);
    let (st, body) = upload(&cloud, &t, &b, bytes(700_000)).await;
    assert_eq!(st, 413, "{body}");
    assert_eq!(show(&cloud, &t, &b).await["status"], "queued");
    assert_eq!(upload(&cloud, &t, &b, bytes(300_000)).await.0, 204);
    let r = cloud.get(&url(&cloud, "/v2/info/usage"), &t).await.expect(200);
    assert_eq!(r.body["usage"]["image_count_total"], json!({"limit": 2, "usage": 2}));
    // the admin's project is not the demo project's quota
    let admin = cloud.admin_token().await;
    create_raw(&cloud, &admin, "admin's").await;
}

#[tokio::test]
async fn a_huge_announced_upload_is_refused_at_once() {
    let cloud = TestCloud::start_with(rustack_db::testing::sqlite().await, "[image]\nimage_size_cap = 1000\n").await;
    let t = cloud.demo_token().await;
    let id = create_raw(&cloud, &t, "cap").await;
    let (st, body) = upload(&cloud, &t, &id, bytes(5000)).await;
    assert_eq!(st, 413, "{body}");
    assert_eq!(show(&cloud, &t, &id).await["status"], "queued");
    assert_eq!(upload(&cloud, &t, &id, bytes(1000)).await.0, 204);
}
