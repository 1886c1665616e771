//! The Image API v2 endpoints against an in-process cloud.

mod common;

use common::*;
use reqwest::Method;
use rustack_test_utils::TestCloud;
use serde_json::json;

#[tokio::test]
async fn version_discovery() {
    let cloud = TestCloud::start().await;
    let r = cloud.request(Method::GET, &url(&cloud, "/"), None, None).await.expect(300);
    let versions = r.body["versions"].as_array().unwrap();
    assert_eq!(versions[0]["id"], "v2.17");
    assert_eq!(versions[0]["status"], "CURRENT");
    assert!(versions.iter().any(|v| v["id"] == "v2.0"));
    assert!(versions[0]["links"][0]["href"].as_str().unwrap().ends_with("/v2/"));
    cloud.request(Method::GET, &url(&cloud, "/versions"), None, None).await.expect(200);
    // everything else needs a token
    let r = cloud.request(Method::GET, &url(&cloud, "/v2/images"), None, None).await.expect(401);
    assert_eq!(r.body["error"]["code"], 401);
}

#[tokio::test]
async fn create_show_list_update_delete() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    let img = create(
        &cloud,
        &t,
        json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "min_ram": 64,
               "tags": ["a", "b"], "os_distro": "cirros"}),
    )
    .await;
    let id = img["id"].as_str().unwrap();
    assert_eq!(img["status"], "queued");
    assert_eq!(img["visibility"], "shared", "Glance's default visibility");
    assert_eq!(img["size"], serde_json::Value::Null);
    assert_eq!(img["os_distro"], "cirros");
    assert_eq!(img["self"], format!("/v2/images/{id}"));
    assert_eq!(img["file"], format!("/v2/images/{id}/file"));
    assert_eq!(img["schema"], "/v2/schemas/image");
    assert_eq!(img["owner"], cloud.projects.demo_project_id.as_str());
    let shown = show(&cloud, &t, id).await;
    assert_eq!(shown["name"], "cirros");
    assert!(shown["created_at"].as_str().unwrap().ends_with('Z'));

    // a given id is kept; the same id again is a conflict
    let fixed = "11111111-2222-3333-4444-555555555555";
    create(&cloud, &t, json!({"id": fixed, "name": "fixed"})).await;
    glance_error(cloud.post(&url(&cloud, "/v2/images"), &t, json!({"id": fixed})).await, 409);

    // patch: replace a core field, add/replace/remove custom properties
    let r = patch(
        &cloud,
        &t,
        id,
        json!([{"op": "replace", "path": "/name", "value": "cirros-2"},
               {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
               {"op": "replace", "path": "/os_distro", "value": "other"},
               {"op": "remove", "path": "/min_ram"}]),
    )
    .await;
    glance_error(r, 403); // min_ram is a base property: it cannot be removed
    let r = patch(
        &cloud,
        &t,
        id,
        json!([{"op": "replace", "path": "/name", "value": "cirros-2"},
               {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
               {"op": "replace", "path": "/os_distro", "value": "other"},
               {"op": "replace", "path": "/tags", "value": ["x"]},
               {"op": "replace", "path": "/min_disk", "value": 2}]),
    )
    .await
    .expect(200);
    assert_eq!(r.body["name"], "cirros-2");
    assert_eq!(r.body["hw_disk_bus"], "virtio");
    assert_eq!(r.body["os_distro"], "other");
    assert_eq!(r.body["tags"], json!(["x"]));
    assert_eq!(r.body["min_disk"], 2);
    let r = patch(&cloud, &t, id, json!([{"op": "remove", "path": "/hw_disk_bus"}])).await.expect(200);
    assert!(r.body.get("hw_disk_bus").is_none());
    // the v2.0 dialect Tempest uses
    let r = cloud
        .request_with(
            Method::PATCH,
            &url(&cloud, &format!("/v2/images/{id}")),
            Some(&t),
            Some(json!([{"replace": "/name", "value": "v20"}])),
            &[("Content-Type", "application/openstack-images-v2.0-json-patch")],
        )
        .await
        .expect(200);
    assert_eq!(r.body["name"], "v20");

    // list sees it; filters apply
    let r = cloud.get(&url(&cloud, "/v2/images?name=v20"), &t).await.expect(200);
    assert_eq!(r.body["images"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["schema"], "/v2/schemas/images");
    assert_eq!(r.body["first"], "/v2/images");
    let r = cloud.get(&url(&cloud, "/v2/images?tag=x&disk_format=qcow2"), &t).await.expect(200);
    assert_eq!(r.body["images"][0]["id"], id);
    let r = cloud.get(&url(&cloud, "/v2/images?tag=x&tag=nope"), &t).await.expect(200);
    assert!(r.body["images"].as_array().unwrap().is_empty());

    // delete; then 404
    cloud.delete(&url(&cloud, &format!("/v2/images/{id}")), &t).await.expect(204);
    glance_error(cloud.get(&url(&cloud, &format!("/v2/images/{id}")), &t).await, 404);
    glance_error(cloud.delete(&url(&cloud, &format!("/v2/images/{id}")), &t).await, 404);
}

#[tokio::test]
async fn bad_input_has_glance_codes() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    let post = |b| {
        let (cloud, t) = (&cloud, &t);
        async move { cloud.post(&url(cloud, "/v2/images"), t, b).await }
    };
    glance_error(post(json!({"disk_format": "bogus"})).await, 400);
    glance_error(post(json!({"container_format": "bogus"})).await, 400);
    glance_error(post(json!({"status": "active"})).await, 403);
    glance_error(post(json!({"checksum": "x"})).await, 403);
    glance_error(post(json!({"self": "x"})).await, 403);
    glance_error(post(json!({"os_glance_foo": "bar"})).await, 403);
    glance_error(post(json!({"location": "file:///etc/passwd"})).await, 403);
    glance_error(post(json!({"min_ram": -1})).await, 400);
    glance_error(post(json!({"min_ram": "a"})).await, 400);
    glance_error(post(json!({"protected": "yes"})).await, 400);
    glance_error(post(json!({"custom": 5})).await, 400);
    glance_error(post(json!({"id": "not-a-uuid"})).await, 400);
    glance_error(post(json!({"name": "x".repeat(256)})).await, 400);
    glance_error(post(json!({"visibility": "public"})).await, 403); // only admins publicize
    glance_error(post(json!({"visibility": "everyone"})).await, 400);
    glance_error(post(json!([1])).await, 400);
    let r = cloud.request_with(Method::POST, &url(&cloud, "/v2/images"), Some(&t), None, &[]).await;
    glance_error(r, 400);

    let id = create_raw(&cloud, &t, "img").await;
    let path = format!("/v2/images/{id}");
    glance_error(patch(&cloud, &t, &id, json!([{"op": "replace", "path": "/status", "value": "active"}])).await, 403);
    glance_error(patch(&cloud, &t, &id, json!([{"op": "add", "path": "/os_glance_x", "value": "v"}])).await, 403);
    glance_error(patch(&cloud, &t, &id, json!([{"op": "replace", "path": "/nope", "value": "v"}])).await, 409);
    glance_error(patch(&cloud, &t, &id, json!([{"op": "remove", "path": "/nope"}])).await, 409);
    glance_error(patch(&cloud, &t, &id, json!([{"op": "move", "path": "/name"}])).await, 400);
    glance_error(patch(&cloud, &t, &id, json!([{"op": "add", "path": "/a/b", "value": "v"}])).await, 400);
    glance_error(patch(&cloud, &t, &id, json!({"op": "add"})).await, 400);
    glance_error(
        patch(&cloud, &t, &id, json!([{"op": "replace", "path": "/visibility", "value": "public"}])).await,
        403,
    );
    let r = cloud
        .request_with(
            Method::PATCH,
            &url(&cloud, &path),
            Some(&t),
            Some(json!([])),
            &[("Content-Type", "application/json")],
        )
        .await;
    glance_error(r, 415);
    // list parameters
    for q in [
        "limit=x",
        "limit=-1",
        "sort_key=bogus",
        "sort_dir=up",
        "visibility=x",
        "member_status=x",
        "status=x",
        "size_min=a",
        "created_at=gt:notatime",
        "marker=00000000-0000-0000-0000-000000000000",
    ] {
        glance_error(cloud.get(&url(&cloud, &format!("/v2/images?{q}")), &t).await, 400);
    }
    glance_error(cloud.get(&url(&cloud, "/v2/images/nope"), &t).await, 404);
    glance_error(cloud.get(&url(&cloud, "/v2/cache"), &t).await, 501);
}

#[tokio::test]
async fn paging_and_sorting() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            create(&cloud, &t, json!({"name": format!("img-{i}"), "min_disk": i})).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    // default order: newest first
    let r = cloud.get(&url(&cloud, "/v2/images?limit=2"), &t).await.expect(200);
    let page: Vec<&str> = r.body["images"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(page, vec![ids[4].as_str(), ids[3].as_str()]);
    let next = r.body["next"].as_str().unwrap().to_string();
    assert!(next.contains(&format!("marker={}", ids[3])), "{next}");
    let mut seen: Vec<String> = page.iter().map(|s| s.to_string()).collect();
    let mut next = Some(next);
    while let Some(n) = next {
        let r = cloud.get(&url(&cloud, &n), &t).await.expect(200);
        seen.extend(r.body["images"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()));
        next = r.body["next"].as_str().map(String::from);
    }
    let mut expect = ids.clone();
    expect.reverse();
    assert_eq!(seen, expect);
    let r = cloud.get(&url(&cloud, "/v2/images?sort=min_disk:asc"), &t).await.expect(200);
    let order: Vec<i64> =
        r.body["images"].as_array().unwrap().iter().map(|i| i["min_disk"].as_i64().unwrap()).collect();
    assert_eq!(order, vec![0, 1, 2, 3, 4]);
    let r = cloud.get(&url(&cloud, "/v2/images?sort_key=name&sort_dir=desc"), &t).await.expect(200);
    assert_eq!(r.body["images"][0]["name"], "img-4");
    let r = cloud.get(&url(&cloud, "/v2/images?name=in:img-1,img-2"), &t).await.expect(200);
    assert_eq!(r.body["images"].as_array().unwrap().len(), 2);
    let r = cloud.get(&url(&cloud, "/v2/images?created_at=gte:2000-01-01T00:00:00Z"), &t).await.expect(200);
    assert_eq!(r.body["images"].as_array().unwrap().len(), 5);
    let r = cloud.get(&url(&cloud, "/v2/images?updated_at=lt:2000-01-01T00:00:00Z"), &t).await.expect(200);
    assert!(r.body["images"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn data_round_trip_with_hashes_and_ranges() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    let id = create_raw(&cloud, &t, "data").await;
    // no data yet: 204
    let (st, _, body) = download(&cloud, &t, &id, &[]).await;
    assert_eq!((st, body.len()), (204, 0));
    let data = bytes(3 * 1024 * 1024 + 17);
    let (st, body) = upload(&cloud, &t, &id, data.clone()).await;
    assert_eq!(st, 204, "{body}");
    let img = show(&cloud, &t, &id).await;
    assert_eq!(img["status"], "active");
    assert_eq!(img["size"], data.len());
    assert_eq!(img["virtual_size"], data.len());
    use md5::Digest;
    let md5 = hex::encode(md5::Md5::digest(&data));
    let sha = hex::encode(sha2::Sha512::digest(&data));
    assert_eq!(img["checksum"], md5.as_str());
    assert_eq!(img["os_hash_algo"], "sha512");
    assert_eq!(img["os_hash_value"], sha.as_str());
    assert_eq!(img["stores"], "file");

    let (st, h, body) = download(&cloud, &t, &id, &[]).await;
    assert_eq!(st, 200);
    assert_eq!(body, data);
    assert_eq!(h.get("content-md5").unwrap(), md5.as_str());
    assert_eq!(h.get("content-type").unwrap(), "application/octet-stream");

    let (st, h, body) = download(&cloud, &t, &id, &[("Range", "bytes=10-19")]).await;
    assert_eq!(st, 206);
    assert_eq!(body, &data[10..20]);
    assert_eq!(h.get("content-range").unwrap().to_str().unwrap(), format!("bytes 10-19/{}", data.len()));
    let (st, _, body) = download(&cloud, &t, &id, &[("Range", "bytes=-5")]).await;
    assert_eq!((st, body.as_slice()), (206, &data[data.len() - 5..]));
    let (st, h, _) = download(&cloud, &t, &id, &[("Range", &format!("bytes={}-", data.len()))]).await;
    assert_eq!(st, 416);
    assert_eq!(h.get("content-range").unwrap().to_str().unwrap(), format!("bytes */{}", data.len()));

    // a second upload to an active image is a conflict
    let (st, body) = upload(&cloud, &t, &id, b"more".to_vec()).await;
    assert_eq!(st, 409, "{body}");
    assert_eq!(body["code"], "409 Conflict");

    // data needs formats first
    let bare = create(&cloud, &t, json!({"name": "noformat"})).await;
    let (st, _) = upload(&cloud, &t, bare["id"].as_str().unwrap(), b"x".to_vec()).await;
    assert_eq!(st, 400);
    // wrong media type
    let r = cloud
        .http
        .put(url(&cloud, &format!("/v2/images/{}/file", create_raw(&cloud, &t, "ct").await)))
        .header("X-Auth-Token", &t)
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
}

#[tokio::test]
async fn deactivate_reactivate_protected_tags() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    let admin = cloud.admin_token().await;
    let id = create_raw(&cloud, &t, "d").await;
    let act = |what: &'static str| {
        let (cloud, t, id) = (&cloud, &t, &id);
        async move { cloud.post(&url(cloud, &format!("/v2/images/{id}/actions/{what}")), t, json!({})).await }
    };
    glance_error(act("deactivate").await, 403); // queued
    assert_eq!(upload(&cloud, &t, &id, bytes(1000)).await.0, 204);
    act("deactivate").await.expect(204);
    assert_eq!(show(&cloud, &t, &id).await["status"], "deactivated");
    assert_eq!(download(&cloud, &t, &id, &[]).await.0, 403);
    assert_eq!(download(&cloud, &admin, &id, &[]).await.0, 200, "admins still download");
    act("reactivate").await.expect(204);
    assert_eq!(show(&cloud, &t, &id).await["status"], "active");
    assert_eq!(download(&cloud, &t, &id, &[]).await.0, 200);

    // tags
    let tag = |m: Method, tag: &str| {
        let (cloud, t, id) = (&cloud, &t, &id);
        let path = url(cloud, &format!("/v2/images/{id}/tags/{tag}"));
        async move { cloud.request(m, &path, Some(t), None).await }
    };
    tag(Method::PUT, "blue").await.expect(204);
    tag(Method::PUT, "blue").await.expect(204);
    assert_eq!(show(&cloud, &t, &id).await["tags"], json!(["blue"]));
    tag(Method::DELETE, "blue").await.expect(204);
    glance_error(tag(Method::DELETE, "blue").await, 404);
    let r = cloud.request(Method::PUT, &url(&cloud, "/v2/images/nope/tags/x"), Some(&t), None).await;
    glance_error(r, 404);

    // protected images are not deleted
    patch(&cloud, &t, &id, json!([{"op": "replace", "path": "/protected", "value": true}])).await.expect(200);
    glance_error(cloud.delete(&url(&cloud, &format!("/v2/images/{id}")), &t).await, 403);
    patch(&cloud, &t, &id, json!([{"op": "replace", "path": "/protected", "value": false}])).await.expect(200);
    cloud.delete(&url(&cloud, &format!("/v2/images/{id}")), &t).await.expect(204);
}

#[tokio::test]
async fn visibility_and_members() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let demo = cloud.demo_token().await;
    let demo_project = cloud.projects.demo_project_id.clone();
    let (other, other_project) = user_with_project(&cloud, "other", "member").await;

    // private: the owner only
    let private =
        create(&cloud, &admin, json!({"name": "p", "visibility": "private"})).await["id"].as_str().unwrap().to_string();
    glance_error(cloud.get(&url(&cloud, &format!("/v2/images/{private}")), &demo).await, 404);
    // public: everyone sees it, only the owner (or admin) changes it
    let public = create(&cloud, &admin, json!({"name": "pub", "visibility": "public"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    show(&cloud, &demo, &public).await;
    glance_error(patch(&cloud, &demo, &public, json!([{"op": "replace", "path": "/name", "value": "x"}])).await, 403);
    glance_error(cloud.delete(&url(&cloud, &format!("/v2/images/{public}")), &demo).await, 403);
    // community: shown to all, listed only when asked
    let community = create(&cloud, &demo, json!({"name": "com", "visibility": "community"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    show(&cloud, &other, &community).await;
    let listed = |tok: &str, q: &str| {
        let (cloud, tok, q) = (&cloud, tok.to_string(), q.to_string());
        async move {
            let r = cloud.get(&url(cloud, &format!("/v2/images{q}")), &tok).await.expect(200);
            r.body["images"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    assert!(!listed(&other, "").await.contains(&community));
    assert!(listed(&other, "?visibility=community").await.contains(&community));
    assert!(listed(&other, "").await.contains(&public));
    assert!(!listed(&other, "").await.contains(&private));

    // shared: members
    let shared =
        create(&cloud, &demo, json!({"name": "sh", "visibility": "shared"})).await["id"].as_str().unwrap().to_string();
    let members = url(&cloud, &format!("/v2/images/{shared}/members"));
    glance_error(cloud.get(&url(&cloud, &format!("/v2/images/{shared}")), &other).await, 404);
    let m = cloud.post(&members, &demo, json!({"member": other_project})).await.expect(200);
    assert_eq!(m.body["status"], "pending");
    assert_eq!(m.body["schema"], "/v2/schemas/member");
    glance_error(cloud.post(&members, &demo, json!({"member": other_project})).await, 409);
    glance_error(cloud.post(&members, &demo, json!({})).await, 400);
    // a member sees the image, but it is listed only once accepted
    show(&cloud, &other, &shared).await;
    assert!(!listed(&other, "").await.contains(&shared));
    assert!(listed(&other, "?member_status=pending").await.contains(&shared));
    // only the member changes its status; only the owner adds members
    let mine = format!("{members}/{other_project}");
    glance_error(cloud.request(Method::PUT, &mine, Some(&demo), Some(json!({"status": "accepted"}))).await, 403);
    glance_error(cloud.request(Method::PUT, &mine, Some(&other), Some(json!({"status": "bogus"}))).await, 400);
    glance_error(cloud.post(&members, &other, json!({"member": demo_project})).await, 403);
    let r = cloud.request(Method::PUT, &mine, Some(&other), Some(json!({"status": "accepted"}))).await.expect(200);
    assert_eq!(r.body["status"], "accepted");
    assert!(listed(&other, "").await.contains(&shared));
    assert!(listed(&other, "?visibility=shared").await.contains(&shared));
    // the member sees itself only; the owner sees all
    let r = cloud.get(&members, &other).await.expect(200);
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["schema"], "/v2/schemas/members");
    cloud.get(&mine, &other).await.expect(200);
    cloud.get(&mine, &demo).await.expect(200);
    // rejecting hides it from the list again
    cloud.request(Method::PUT, &mine, Some(&other), Some(json!({"status": "rejected"}))).await.expect(200);
    assert!(!listed(&other, "").await.contains(&shared));
    // the member may not delete its membership; the owner may
    glance_error(cloud.delete(&mine, &other).await, 403);
    cloud.delete(&mine, &demo).await.expect(204);
    glance_error(cloud.delete(&mine, &demo).await, 404);
    glance_error(cloud.get(&url(&cloud, &format!("/v2/images/{shared}")), &other).await, 404);
    // members only on shared images
    let r = cloud
        .post(&url(&cloud, &format!("/v2/images/{private}/members")), &admin, json!({"member": other_project}))
        .await;
    glance_error(r, 403);
    // admins see everything
    show(&cloud, &admin, &shared).await;
}

#[tokio::test]
async fn schemas_and_info() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    for name in ["image", "images", "member", "members"] {
        let r = cloud.get(&url(&cloud, &format!("/v2/schemas/{name}")), &t).await.expect(200);
        assert_eq!(r.body["name"], name);
    }
    let r = cloud.get(&url(&cloud, "/v2/schemas/image"), &t).await.expect(200);
    assert!(r.body["properties"]["disk_format"]["enum"].as_array().unwrap().contains(&json!("qcow2")));
    let r = cloud.get(&url(&cloud, "/v2/info/import"), &t).await.expect(200);
    assert_eq!(r.body["import-methods"]["value"], json!(["glance-direct"]));
    let r = cloud.get(&url(&cloud, "/v2/info/stores"), &t).await.expect(200);
    assert_eq!(r.body["stores"][0]["id"], "file");
    let r = cloud.get(&url(&cloud, "/v2/info/usage"), &t).await.expect(200);
    assert_eq!(r.body["usage"]["image_count_total"]["usage"], 0);
}

#[tokio::test]
async fn glance_direct_import() {
    let cloud = TestCloud::start().await;
    let t = cloud.demo_token().await;
    let id = create_raw(&cloud, &t, "imp").await;
    let data = bytes(200_000);
    let r = cloud
        .post(&url(&cloud, &format!("/v2/images/{id}/import")), &t, json!({"method": {"name": "glance-direct"}}))
        .await;
    glance_error(r, 409); // nothing staged
    let (st, body) = put_bytes(&cloud, &t, &format!("/v2/images/{id}/stage"), data.clone()).await;
    assert_eq!(st, 204, "{body}");
    assert_eq!(show(&cloud, &t, &id).await["status"], "uploading");
    let r = cloud
        .post(&url(&cloud, &format!("/v2/images/{id}/import")), &t, json!({"method": {"name": "web-download"}}))
        .await;
    glance_error(r, 400);
    cloud
        .post(&url(&cloud, &format!("/v2/images/{id}/import")), &t, json!({"method": {"name": "glance-direct"}}))
        .await
        .expect(202);
    let mut img = show(&cloud, &t, &id).await;
    for _ in 0..100 {
        if img["status"] == "active" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        img = show(&cloud, &t, &id).await;
    }
    assert_eq!(img["status"], "active");
    assert_eq!(img["size"], data.len());
    assert_eq!(download(&cloud, &t, &id, &[]).await.2, data);
    let r = cloud.get(&url(&cloud, &format!("/v2/images/{id}/tasks")), &t).await.expect(200);
    assert_eq!(r.body["tasks"][0]["status"], "success");
    assert_eq!(r.body["tasks"][0]["input"]["import_req"]["method"]["name"], "glance-direct");
    let staged: Vec<String> =
        files_in(&cloud.data_dir().join("images")).into_iter().filter(|f| f.starts_with("staging")).collect();
    assert!(staged.is_empty(), "staged data is removed: {staged:?}");
}

#[tokio::test]
async fn metadata_definitions() {
    let cloud = TestCloud::start().await;
    let admin = cloud.admin_token().await;
    let demo = cloud.demo_token().await;
    let r = cloud.get(&url(&cloud, "/v2/metadefs/resource_types"), &demo).await.expect(200);
    let rt = r.body["resource_types"][0]["name"].as_str().unwrap().to_string();
    let ns_url = url(&cloud, "/v2/metadefs/namespaces");
    let body = json!({"namespace": "ns1", "visibility": "public", "protected": true, "display_name": "NS",
                      "resource_type_associations": [{"name": rt}]});
    glance_error(cloud.post(&ns_url, &demo, body.clone()).await, 403); // admins write
    let r = cloud.post(&ns_url, &admin, body.clone()).await.expect(201);
    assert_eq!(r.body["namespace"], "ns1");
    glance_error(cloud.post(&ns_url, &admin, body).await, 409);
    let r = cloud.get(&ns_url, &demo).await.expect(200);
    assert_eq!(r.body["namespaces"][0]["namespace"], "ns1");
    let one = url(&cloud, "/v2/metadefs/namespaces/ns1");
    let r = cloud.get(&one, &demo).await.expect(200);
    assert_eq!(r.body["resource_type_associations"][0]["name"], rt.as_str());
    glance_error(cloud.delete(&one, &admin).await, 403); // protected
                                                         // objects, properties, tags
    let objs = format!("{one}/objects");
    cloud.post(&objs, &admin, json!({"name": "o1", "description": "d"})).await.expect(201);
    let r =
        cloud.request(Method::PUT, &format!("{objs}/o1"), Some(&admin), Some(json!({"name": "o2"}))).await.expect(200);
    assert_eq!(r.body["name"], "o2");
    glance_error(cloud.get(&format!("{objs}/o1"), &demo).await, 404);
    let r = cloud.get(&objs, &demo).await.expect(200);
    assert_eq!(r.body["objects"][0]["name"], "o2");
    let props = format!("{one}/properties");
    let r =
        cloud.post(&props, &admin, json!({"name": "hypervisor", "title": "HV", "type": "string"})).await.expect(201);
    assert_eq!(r.body["title"], "HV");
    let r = cloud.get(&props, &demo).await.expect(200);
    assert_eq!(r.body["properties"]["hypervisor"]["title"], "HV");
    let tags = format!("{one}/tags");
    let r = cloud.post(&tags, &admin, json!({"tags": [{"name": "a"}, {"name": "b"}]})).await.expect(201);
    assert_eq!(r.body["tags"].as_array().unwrap().len(), 2);
    cloud.request(Method::POST, &format!("{tags}/c"), Some(&admin), None).await.expect(201);
    assert_eq!(cloud.get(&tags, &demo).await.expect(200).body["tags"].as_array().unwrap().len(), 3);
    cloud.delete(&tags, &admin).await.expect(204);
    assert!(cloud.get(&tags, &demo).await.expect(200).body["tags"].as_array().unwrap().is_empty());
    // unprotect, rename, delete
    let r = cloud
        .request(
            Method::PUT,
            &one,
            Some(&admin),
            Some(json!({"namespace": "ns2", "visibility": "private", "protected": false})),
        )
        .await
        .expect(200);
    assert_eq!(r.body["visibility"], "private");
    glance_error(cloud.get(&url(&cloud, "/v2/metadefs/namespaces/ns2"), &demo).await, 404); // private now
    cloud.get(&url(&cloud, "/v2/metadefs/namespaces/ns2/objects/o2"), &admin).await.expect(200);
    cloud.delete(&url(&cloud, "/v2/metadefs/namespaces/ns2"), &admin).await.expect(204);
    glance_error(cloud.get(&url(&cloud, "/v2/metadefs/namespaces/ns2"), &admin).await, 404);
    for name in ["namespace", "namespaces", "object", "objects", "property", "properties", "tag", "tags"] {
        let r = cloud.get(&url(&cloud, &format!("/v2/schemas/metadefs/{name}")), &demo).await.expect(200);
        assert_eq!(r.body["name"], name);
    }
}
