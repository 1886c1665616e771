//! The service's public functions (what compute calls) on both database
//! backends, and the filesystem data store on its own.

use std::sync::Arc;

use futures_util::StreamExt;
use rustack_common::config::{Config, Ini};
use rustack_common::Error;
use rustack_http::context::{Scope, TokenRole};
use rustack_http::token_layer::{BoxFuture, TokenValidator};
use rustack_http::{LimitLookup, RequestContext, ServiceOptions};
use rustack_image::data::{ByteStream, DataStore, FilesystemStore, StoreError};
use rustack_image::Image;
use serde_json::{json, Map, Value};

struct NoTokens;
impl TokenValidator for NoTokens {
    fn validate<'a>(&'a self, _t: &'a str) -> BoxFuture<'a, Result<Arc<RequestContext>, Error>> {
        Box::pin(async { Err(Error::unauthorized("no tokens here")) })
    }
}
/// `image_size_total` = 2 MiB for every project, nothing else limited.
struct TwoMib;
impl LimitLookup for TwoMib {
    fn limit<'a>(&'a self, _p: &'a str, _s: &'a str, r: &'a str) -> BoxFuture<'a, Result<Option<i64>, Error>> {
        Box::pin(async move { Ok((r == "image_size_total").then_some(2)) })
    }
}

fn ctx(project: &str, roles: &[&str]) -> RequestContext {
    let now = rustack_common::time::now();
    RequestContext {
        user_id: format!("user-{project}"),
        user_name: "u".into(),
        user_domain_id: "default".into(),
        user_domain_name: "Default".into(),
        scope: Scope::Project {
            id: project.into(),
            name: project.into(),
            domain_id: "default".into(),
            domain_name: "Default".into(),
        },
        roles: roles.iter().map(|r| TokenRole { id: r.to_string(), name: r.to_string() }).collect(),
        methods: vec!["password".into()],
        audit_ids: vec![],
        expires_at: now + chrono::Duration::hours(1),
        issued_at: now,
        application_credential_id: None,
        is_admin_project: false,
        access_rules: None,
        trust: None,
    }
}

fn stream_of(data: Vec<u8>, chunk: usize) -> ByteStream {
    let chunks: Vec<std::io::Result<bytes::Bytes>> =
        data.chunks(chunk).map(|c| Ok(bytes::Bytes::copy_from_slice(c))).collect();
    Box::pin(futures_util::stream::iter(chunks))
}

async fn collect(mut s: ByteStream) -> Vec<u8> {
    let mut v = Vec::new();
    while let Some(c) = s.next().await {
        v.extend_from_slice(&c.unwrap());
    }
    v
}

async fn open(db: rustack_db::Db, dir: &std::path::Path) -> Image {
    let config = Config::from_ini(Ini::parse("t.conf", "").unwrap()).unwrap();
    let opts = ServiceOptions {
        config,
        data_dir: dir.to_path_buf(),
        public_url: "http://127.0.0.1:9292".into(),
        identity_url: "http://127.0.0.1:5000/v3".into(),
        validator: Arc::new(NoTokens),
        limits: Arc::new(TwoMib),
    };
    Image::open(db, opts).await.unwrap()
}

#[tokio::test]
async fn public_functions_on_every_backend() {
    for tdb in rustack_db::testing::all_backends().await {
        let dir = rustack_db::testing::temp_dir("image-store");
        let svc = open(tdb.db.clone(), &dir).await;
        // opening twice (a restart) keeps the schema
        let svc2 = open(tdb.db.clone(), &dir).await;
        let alice = ctx("p-alice", &["member", "reader"]);
        let bob = ctx("p-bob", &["member", "reader"]);
        let mut fields = Map::new();
        fields.insert("disk_format".into(), json!("raw"));
        fields.insert("container_format".into(), json!("bare"));
        fields.insert("image_type".into(), json!("snapshot"));
        fields.insert("visibility".into(), json!("private"));
        let img = svc.create_for(&alice, "snap", &fields).await.unwrap();
        assert_eq!(img.status, "queued");
        assert_eq!(img.owner.as_deref(), Some("p-alice"));
        assert_eq!(img.properties["image_type"], "snapshot");
        // bob may not see alice's private image
        assert_eq!(svc.get_for(&bob, &img.id).await.unwrap_err().kind, rustack_common::ErrorKind::NotFound);
        let data: Vec<u8> = (0..500_000u32).map(|i| (i % 253) as u8 | 1).collect();
        let up = svc.upload_data(&alice, &img.id, stream_of(data.clone(), 65536)).await.unwrap();
        assert_eq!(up.status, "active");
        assert_eq!(up.size, Some(data.len() as i64));
        let got = svc2.get_for(&alice, &img.id).await.unwrap();
        assert_eq!(got.checksum, up.checksum);
        assert_eq!(got.properties, up.properties);
        let d = svc2.open_data(&alice, &img.id).await.unwrap();
        assert_eq!(d.size, data.len() as u64);
        assert_eq!(collect(d.stream).await, data);
        // a second upload is a conflict
        let e = svc.upload_data(&alice, &img.id, stream_of(vec![1], 1)).await.unwrap_err();
        assert_eq!(e.kind, rustack_common::ErrorKind::Conflict);
        // a failing stream puts the image back to queued with nothing stored
        let img2 = svc.create_for(&alice, "broken", &fields).await.unwrap();
        let broken: ByteStream = Box::pin(futures_util::stream::iter(vec![
            Ok(bytes::Bytes::from_static(b"abc")),
            Err(std::io::Error::other("connection reset")),
        ]));
        assert!(svc.upload_data(&alice, &img2.id, broken).await.is_err());
        assert_eq!(svc.get_for(&alice, &img2.id).await.unwrap().status, "queued");
        assert!(!dir.join("images").join(&img2.id).exists());
        // the size quota sums the project's images (2 MiB; 500,000 bytes used)
        let big = svc.create_for(&alice, "big", &fields).await.unwrap();
        let e = svc.upload_data(&alice, &big.id, stream_of(vec![7u8; 1_700_000], 65536)).await.unwrap_err();
        assert_eq!(e.kind, rustack_common::ErrorKind::PayloadTooLarge, "{}", e.message);
        svc.upload_data(&alice, &big.id, stream_of(vec![7u8; 1_500_000], 65536)).await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test]
async fn filesystem_store_is_all_or_nothing() {
    let dir = rustack_db::testing::temp_dir("fs-store");
    let fs = FilesystemStore::new(&dir).unwrap();
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(fs.put("k1", stream_of(data.clone(), 100_000)).await.unwrap(), data.len() as u64);
    assert_eq!(fs.size("k1").await.unwrap(), data.len() as u64);
    let (size, s) = fs.get("k1", None).await.unwrap();
    assert_eq!(size, data.len() as u64);
    assert_eq!(collect(s).await, data);
    let (_, s) = fs.get("k1", Some((1_000_000, 2_500_000))).await.unwrap();
    assert_eq!(collect(s).await, &data[1_000_000..=2_500_000]);
    // a failing put keeps the old value and leaves no temporary file
    let broken: ByteStream = Box::pin(futures_util::stream::iter(vec![
        Ok(bytes::Bytes::from_static(b"new")),
        Err(std::io::Error::other("cut")),
    ]));
    assert!(matches!(fs.put("k1", broken).await, Err(StoreError::Source(_))));
    assert_eq!(fs.size("k1").await.unwrap(), data.len() as u64);
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
    assert_eq!(names, vec!["k1".to_string()]);
    // an open stream survives the delete
    let (_, mut s) = fs.get("k1", None).await.unwrap();
    let first = s.next().await.unwrap().unwrap();
    fs.delete("k1").await.unwrap();
    assert!(matches!(fs.get("k1", None).await, Err(StoreError::NotFound)));
    let mut rest = first.to_vec();
    rest.extend(collect(s).await);
    assert_eq!(rest, data);
    fs.delete("k1").await.unwrap(); // deleting again is fine
    assert!(fs.put("../escape", stream_of(vec![1], 1)).await.is_err(), "keys are plain names");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn filesystem_store_is_exact_past_its_writeback_steps() {
    // several of the put's writeback steps (8 MiB) and the get's chunks
    // (1 MiB), in pieces that align with neither
    let dir = rustack_db::testing::temp_dir("fs-big");
    let fs = FilesystemStore::new(&dir).unwrap();
    let data: Vec<u8> = (0..(40u32 << 20) + 12_345).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    assert_eq!(fs.put("big", stream_of(data.clone(), 777_777)).await.unwrap(), data.len() as u64);
    let (_, s) = fs.get("big", None).await.unwrap();
    assert!(collect(s).await == data, "the whole image reads back as written");
    let n = data.len() as u64;
    for (a, b) in [(17 << 20, n - 1), (5, (33 << 20) + 3), (n - 1, n - 1)] {
        let (_, s) = fs.get("big", Some((a, b))).await.unwrap();
        assert!(collect(s).await == data[a as usize..=b as usize], "range {a}-{b}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_dropped_put_leaves_no_temporary_file() {
    let dir = rustack_db::testing::temp_dir("fs-drop");
    let fs = FilesystemStore::new(&dir).unwrap();
    let pending: ByteStream = Box::pin(
        futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b"x"))]).chain(futures_util::stream::pending()),
    );
    let r = tokio::time::timeout(std::time::Duration::from_millis(200), fs.put("k", pending)).await;
    assert!(r.is_err(), "still waiting for data");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let left: Vec<Value> =
        std::fs::read_dir(&dir).unwrap().flatten().map(|e| json!(e.file_name().to_string_lossy())).collect();
    assert!(left.is_empty(), "{left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_restart_puts_interrupted_uploads_back_to_queued() {
    let tdb = rustack_db::testing::sqlite().await;
    let dir = rustack_db::testing::temp_dir("image-restart");
    let svc = open(tdb.db.clone(), &dir).await;
    let alice = ctx("p-alice", &["member", "reader"]);
    let mut fields = Map::new();
    fields.insert("disk_format".into(), json!("raw"));
    fields.insert("container_format".into(), json!("bare"));
    let img = svc.create_for(&alice, "stuck", &fields).await.unwrap();
    // an upload that never ends, as if the process died under it
    let never: ByteStream = Box::pin(
        futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b"x"))]).chain(futures_util::stream::pending()),
    );
    let (svc2, id) = (svc.clone(), img.id.clone());
    let _upload =
        tokio::spawn(async move { svc2.upload_data(&ctx("p-alice", &["member", "reader"]), &id, never).await });
    for _ in 0..100 {
        if svc.get_for(&alice, &img.id).await.unwrap().status == "saving" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(svc.get_for(&alice, &img.id).await.unwrap().status, "saving");
    // a handle that only opens (compute's peer) leaves it alone
    let peer = open(tdb.db.clone(), &dir).await;
    assert_eq!(peer.get_for(&alice, &img.id).await.unwrap().status, "saving");
    // a crash left a temporary file behind
    let stale = dir.join("images").join(".tmp-dead-upload");
    std::fs::write(&stale, b"partial").unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let restarted = open(tdb.db.clone(), &dir).await;
    restarted.recover().await.unwrap();
    assert_eq!(restarted.get_for(&alice, &img.id).await.unwrap().status, "queued");
    assert!(!stale.exists(), "the stale temporary file is removed");
    // an upload begun after the start is not touched by the repair
    let img2 = restarted.create_for(&alice, "fresh", &fields).await.unwrap();
    let never: ByteStream = Box::pin(
        futures_util::stream::iter(vec![Ok(bytes::Bytes::from_static(b"x"))]).chain(futures_util::stream::pending()),
    );
    let (r2, id2) = (restarted.clone(), img2.id.clone());
    let _up2 = tokio::spawn(async move { r2.upload_data(&ctx("p-alice", &["member", "reader"]), &id2, never).await });
    for _ in 0..100 {
        if restarted.get_for(&alice, &img2.id).await.unwrap().status == "saving" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    restarted.recover().await.unwrap();
    assert_eq!(restarted.get_for(&alice, &img2.id).await.unwrap().status, "saving");
    let _ = std::fs::remove_dir_all(&dir);
}
