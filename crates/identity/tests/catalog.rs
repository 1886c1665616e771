//! `/v3/regions`, `/v3/services`, `/v3/endpoints`, and how they make the
//! token catalog and `/v3/auth/catalog`.

mod common;

use common::*;
use reqwest::Method;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

const NO_SUCH: &str = "0123456789abcdef0123456789abcdef";

async fn put_region(c: &TestCloud, t: &str, id: &str, body: Value) -> rustack_test_utils::Resp {
    send(c, Method::PUT, &format!("/v3/regions/{id}"), t, body).await
}

async fn new_service(c: &TestCloud, t: &str, ty: &str, name: &str) -> Value {
    create(c, t, "services", "service", json!({"type": ty, "name": name, "description": format!("{name} service")}))
        .await
}

// ---------------------------------------------------------------- regions

#[tokio::test]
async fn region_create_list_update_delete() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r0 = create(&c, &admin, "regions", "region", json!({"description": "r0"})).await;
    assert_keys(&r0, &["id", "description", "parent_region_id", "links"]);
    assert_hex_id(&r0["id"]);
    assert_eq!(r0["parent_region_id"], Value::Null);
    let r0id = r0["id"].as_str().unwrap();
    assert_eq!(r0["links"], json!({"self": format!("{}/v3/regions/{r0id}", c.base)}));
    let r1 = create(&c, &admin, "regions", "region", json!({"description": "r1"})).await;
    let r1id = r1["id"].as_str().unwrap();
    let l = c.get("/v3/regions", &admin).await.expect(200);
    let items = l.body["regions"].as_array().unwrap();
    assert!(items.contains(&r0) && items.contains(&r1));
    // a child, moved to another parent
    let child =
        create(&c, &admin, "regions", "region", json!({"description": "child", "parent_region_id": r0id})).await;
    assert_eq!(child["parent_region_id"], json!(r0id));
    let cid = child["id"].as_str().unwrap();
    let l = c.get(&format!("/v3/regions?parent_region_id={r0id}"), &admin).await.expect(200);
    assert_eq!(l.body["regions"], json!([child]));
    let r = c
        .patch(
            &format!("/v3/regions/{cid}"),
            &admin,
            json!({"region": {"description": "moved", "parent_region_id": r1id}}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["region"]["description"], "moved");
    assert_eq!(r.body["region"]["parent_region_id"], json!(r1id));
    assert_eq!(c.get(&format!("/v3/regions/{cid}"), &admin).await.expect(200).body["region"], r.body["region"]);
    assert_eq!(
        c.get(&format!("/v3/regions?parent_region_id={r0id}"), &admin).await.expect(200).body["regions"],
        json!([])
    );
    c.delete(&format!("/v3/regions/{cid}"), &admin).await.expect(204);
    c.get(&format!("/v3/regions/{cid}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/regions/{cid}"), &admin).await.expect_error(404);
    assert!(!ids(&c.get("/v3/regions", &admin).await.expect(200).body, "regions").contains(&cid.to_string()));
}

#[tokio::test]
async fn region_put_creates_with_the_url_id() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let id = "5d3a7c43-0f2b-4c77-9b8a-1c2d3e4f5a6b";
    let r = put_region(&c, &admin, id, json!({"region": {"description": "explicit"}})).await.expect(201);
    assert_eq!(r.body["region"]["id"], id);
    assert_eq!(r.body["region"]["description"], "explicit");
    assert_eq!(c.get(&format!("/v3/regions/{id}"), &admin).await.expect(200).body["region"], r.body["region"]);
    // again: 409, unchanged
    put_region(&c, &admin, id, json!({"region": {"description": "again"}})).await.expect_error(409);
    assert_eq!(c.get(&format!("/v3/regions/{id}"), &admin).await.expect(200).body["region"]["description"], "explicit");
    // a body id different from the URL: 400, nothing made
    expect_400_naming(put_region(&c, &admin, "other-id", json!({"region": {"id": "not-other"}})).await, "id");
    c.get("/v3/regions/other-id", &admin).await.expect_error(404);
    c.get("/v3/regions/not-other", &admin).await.expect_error(404);
    // POST with an existing id: 409
    c.post("/v3/regions", &admin, json!({"region": {"id": "RegionOne"}})).await.expect_error(409);
}

#[tokio::test]
async fn region_bad_input() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    // an unknown parent: 404 (RegionNotFound), nothing made
    c.post("/v3/regions", &admin, json!({"region": {"id": "orphan", "parent_region_id": "nowhere"}}))
        .await
        .expect_error(404);
    c.get("/v3/regions/orphan", &admin).await.expect_error(404);
    expect_400_naming(c.post("/v3/regions", &admin, json!({"region": {"description": 5}})).await, "description");
    expect_400_naming(c.post("/v3/regions", &admin, json!({"regions": {}})).await, "region");
    // a cycle: 400, unchanged
    let a = create(&c, &admin, "regions", "region", json!({"id": "ra"})).await;
    let b = create(&c, &admin, "regions", "region", json!({"id": "rb", "parent_region_id": "ra"})).await;
    c.patch("/v3/regions/ra", &admin, json!({"region": {"parent_region_id": "rb"}})).await.expect_error(400);
    c.patch("/v3/regions/ra", &admin, json!({"region": {"parent_region_id": "ra"}})).await.expect_error(400);
    assert_eq!(c.get("/v3/regions/ra", &admin).await.expect(200).body["region"], a);
    assert_eq!(c.get("/v3/regions/rb", &admin).await.expect(200).body["region"], b);
    c.patch(&format!("/v3/regions/{NO_SUCH}"), &admin, json!({"region": {"description": "x"}})).await.expect_error(404);
    // an unknown query parameter: 400
    c.get("/v3/regions?colour=blue", &admin).await.expect_error(400);
    assert_eq!(ids(&c.get("/v3/regions", &admin).await.expect(200).body, "regions").len(), 3);
}

#[tokio::test]
async fn region_delete_rules() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    // a region with an endpoint cannot be deleted (403)
    let s = new_service(&c, &admin, "compute", "nova").await;
    create(
        &c,
        &admin,
        "endpoints",
        "endpoint",
        json!({"service_id": s["id"], "interface": "public", "url": "http://nova", "region_id": "RegionOne"}),
    )
    .await;
    c.delete("/v3/regions/RegionOne", &admin).await.expect_error(403);
    c.get("/v3/regions/RegionOne", &admin).await.expect(200);
    // a parent with an endpoint under a child cannot either
    create(&c, &admin, "regions", "region", json!({"id": "top"})).await;
    create(&c, &admin, "regions", "region", json!({"id": "sub", "parent_region_id": "top"})).await;
    create(
        &c,
        &admin,
        "endpoints",
        "endpoint",
        json!({"service_id": s["id"], "interface": "internal", "url": "http://nova-sub", "region_id": "sub"}),
    )
    .await;
    c.delete("/v3/regions/top", &admin).await.expect_error(403);
    c.get("/v3/regions/top", &admin).await.expect(200);
}

#[tokio::test]
async fn deleting_a_region_deletes_its_child_regions() {
    // Keystone's delete_region removes child regions that have no endpoints.
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    create(&c, &admin, "regions", "region", json!({"id": "parent"})).await;
    create(&c, &admin, "regions", "region", json!({"id": "kid", "parent_region_id": "parent"})).await;
    c.delete("/v3/regions/parent", &admin).await.expect(204);
    c.get("/v3/regions/parent", &admin).await.expect_error(404);
    c.get("/v3/regions/kid", &admin).await.expect_error(404);
}

#[tokio::test]
async fn region_policy() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    // any token reads regions
    c.get("/v3/regions", &demo).await.expect(200);
    c.get("/v3/regions/RegionOne", &demo).await.expect(200);
    c.post("/v3/regions", &demo, json!({"region": {"id": "mine"}})).await.expect_error(403);
    put_region(&c, &demo, "mine2", json!({"region": {}})).await.expect_error(403);
    c.patch("/v3/regions/RegionOne", &demo, json!({"region": {"description": "x"}})).await.expect_error(403);
    c.delete("/v3/regions/RegionOne", &demo).await.expect_error(403);
    assert_eq!(ids(&c.get("/v3/regions", &admin).await.expect(200).body, "regions"), strs(&["RegionOne"]));
    assert_eq!(c.get("/v3/regions/RegionOne", &admin).await.expect(200).body["region"]["description"], "");
    expect_401(c.request(Method::GET, "/v3/regions", None, None).await);
}

// ---------------------------------------------------------------- services

#[tokio::test]
async fn service_create_show_list_update_delete() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let s = new_service(&c, &admin, "compute", "nova").await;
    assert_hex_id(&s["id"]);
    assert_eq!(s["type"], "compute");
    assert_eq!(s["name"], "nova");
    assert_eq!(s["description"], "nova service");
    assert_eq!(s["enabled"], json!(true));
    let sid = s["id"].as_str().unwrap();
    assert_eq!(s["links"], json!({"self": format!("{}/v3/services/{sid}", c.base)}));
    assert_eq!(c.get(&format!("/v3/services/{sid}"), &admin).await.expect(200).body["service"], s);
    let r = c
        .patch(&format!("/v3/services/{sid}"), &admin, json!({"service": {"description": "changed"}}))
        .await
        .expect(200);
    assert_eq!(r.body["service"]["description"], "changed");
    let g = c.get(&format!("/v3/services/{sid}"), &admin).await.expect(200);
    assert_eq!(g.body["service"], r.body["service"]);
    // list and filters
    new_service(&c, &admin, "image", "glance").await;
    new_service(&c, &admin, "volumev3", "cinder").await;
    let l = c.get("/v3/services", &admin).await.expect(200);
    assert_eq!(l.body["services"].as_array().unwrap().len(), 4, "three plus identity");
    let l = c.get("/v3/services?type=image", &admin).await.expect(200);
    assert_eq!(names(&l.body, "services"), strs(&["glance"]));
    let l = c.get("/v3/services?name=nova", &admin).await.expect(200);
    assert_eq!(l.body["services"], json!([g.body["service"]]));
    c.delete(&format!("/v3/services/{sid}"), &admin).await.expect(204);
    c.get(&format!("/v3/services/{sid}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/services/{sid}"), &admin).await.expect_error(404);
}

#[tokio::test]
async fn service_without_description_has_no_description_key() {
    // Keystone keeps a service's description in its extras: not given, not shown.
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let s = create(&c, &admin, "services", "service", json!({"type": "dns", "name": "designate"})).await;
    assert_keys(&s, &["id", "type", "name", "enabled", "links"]);
}

#[tokio::test]
async fn service_bad_input() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    expect_400_naming(c.post("/v3/services", &admin, json!({"service": {"name": "notype"}})).await, "type");
    expect_400_naming(
        c.post("/v3/services", &admin, json!({"service": {"type": "x", "enabled": "True"}})).await,
        "enabled",
    );
    expect_400_naming(
        c.post("/v3/services", &admin, json!({"service": {"type": "x", "enabled": "False"}})).await,
        "enabled",
    );
    expect_400_naming(c.post("/v3/services", &admin, json!({"service": {"type": 3}})).await, "type");
    assert_eq!(c.get("/v3/services", &admin).await.expect(200).body["services"].as_array().unwrap().len(), 1);
    let s = new_service(&c, &admin, "compute", "nova").await;
    let sid = s["id"].as_str().unwrap();
    expect_400_naming(
        c.patch(&format!("/v3/services/{sid}"), &admin, json!({"service": {"enabled": "False"}})).await,
        "enabled",
    );
    expect_400_naming(c.patch(&format!("/v3/services/{sid}"), &admin, json!({"service": {"id": NO_SUCH}})).await, "id");
    c.patch(&format!("/v3/services/{NO_SUCH}"), &admin, json!({"service": {"name": "x"}})).await.expect_error(404);
    assert_eq!(c.get(&format!("/v3/services/{sid}"), &admin).await.expect(200).body["service"], s);
    // the member: no access
    c.get("/v3/services", &demo).await.expect_error(403);
    c.get(&format!("/v3/services/{sid}"), &demo).await.expect_error(403);
    c.post("/v3/services", &demo, json!({"service": {"type": "x"}})).await.expect_error(403);
    c.delete(&format!("/v3/services/{sid}"), &demo).await.expect_error(403);
    c.get(&format!("/v3/services/{sid}"), &admin).await.expect(200);
}

// ---------------------------------------------------------------- endpoints

#[tokio::test]
async fn endpoint_create_show_list_update_delete() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let s0 = new_service(&c, &admin, "compute", "nova").await;
    let s1 = new_service(&c, &admin, "image", "glance").await;
    let (s0id, s1id) = (s0["id"].as_str().unwrap(), s1["id"].as_str().unwrap());
    // the legacy `region` creates the region
    let e0 = create(
        &c,
        &admin,
        "endpoints",
        "endpoint",
        json!({"service_id": s0id, "interface": "public", "url": "https://url-a.com", "region": "autoregion", "enabled": true}),
    )
    .await;
    assert_hex_id(&e0["id"]);
    assert_eq!(e0["region"], "autoregion");
    assert_eq!(e0["region_id"], "autoregion");
    assert_eq!(e0["url"], "https://url-a.com");
    assert_eq!(e0["enabled"], json!(true));
    let e0id = e0["id"].as_str().unwrap();
    assert_eq!(e0["links"], json!({"self": format!("{}/v3/endpoints/{e0id}", c.base)}));
    assert_eq!(c.get("/v3/regions/autoregion", &admin).await.expect(200).body["region"]["id"], "autoregion");
    let e1 = create(
        &c,
        &admin,
        "endpoints",
        "endpoint",
        json!({"service_id": s1id, "interface": "internal", "url": "https://url-b.com", "region_id": "RegionOne"}),
    )
    .await;
    assert_eq!(e1["enabled"], json!(true), "enabled defaults to true");
    assert_eq!(c.get(&format!("/v3/endpoints/{e0id}"), &admin).await.expect(200).body["endpoint"], e0);
    // filters
    let l = c.get(&format!("/v3/endpoints?service_id={s0id}"), &admin).await.expect(200);
    assert_eq!(l.body["endpoints"], json!([e0]));
    let l = c.get(&format!("/v3/endpoints?service_id={s1id}"), &admin).await.expect(200);
    assert_eq!(l.body["endpoints"], json!([e1]));
    let l = c.get("/v3/endpoints?interface=internal", &admin).await.expect(200);
    assert!(l.body["endpoints"].as_array().unwrap().contains(&e1));
    assert!(l.body["endpoints"].as_array().unwrap().iter().all(|e| e["interface"] == "internal"));
    let l = c.get("/v3/endpoints", &admin).await.expect(200);
    assert_eq!(l.body["endpoints"].as_array().unwrap().len(), 5, "two plus the three identity endpoints");
    // update everything; a new legacy region is created
    let s2 = new_service(&c, &admin, "network", "neutron").await;
    let r = c
        .patch(&format!("/v3/endpoints/{e0id}"), &admin, json!({"endpoint": {"service_id": s2["id"], "interface": "internal", "url": "https://url-c.com", "region": "newregion", "enabled": false}}))
        .await
        .expect(200);
    let e = &r.body["endpoint"];
    assert_eq!(e["service_id"], s2["id"]);
    assert_eq!(e["interface"], "internal");
    assert_eq!(e["url"], "https://url-c.com");
    assert_eq!(e["region"], "newregion");
    assert_eq!(e["region_id"], "newregion");
    assert_eq!(e["enabled"], json!(false));
    c.get("/v3/regions/newregion", &admin).await.expect(200);
    assert_eq!(c.get(&format!("/v3/endpoints/{e0id}"), &admin).await.expect(200).body["endpoint"], r.body["endpoint"]);
    c.delete(&format!("/v3/endpoints/{e0id}"), &admin).await.expect(204);
    c.get(&format!("/v3/endpoints/{e0id}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/endpoints/{e0id}"), &admin).await.expect_error(404);
    assert!(!ids(&c.get("/v3/endpoints", &admin).await.expect(200).body, "endpoints").contains(&e0id.to_string()));
}

#[tokio::test]
async fn endpoint_bad_input_makes_nothing() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let s = new_service(&c, &admin, "compute", "nova").await;
    let sid = s["id"].as_str().unwrap();
    let ep = |extra: Value| {
        let mut b = json!({"service_id": sid, "interface": "public", "url": "https://nova.example"});
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                b.as_object_mut().unwrap().remove(k);
            } else {
                b[k] = v.clone();
            }
        }
        json!({ "endpoint": b })
    };
    // string booleans are rejected for endpoints (tempest test_endpoints_negative)
    expect_400_naming(c.post("/v3/endpoints", &admin, ep(json!({"enabled": "False"}))).await, "enabled");
    expect_400_naming(c.post("/v3/endpoints", &admin, ep(json!({"enabled": "True"}))).await, "enabled");
    expect_400_naming(c.post("/v3/endpoints", &admin, ep(json!({"interface": "sideways"}))).await, "interface");
    expect_400_naming(c.post("/v3/endpoints", &admin, ep(json!({"interface": null}))).await, "interface");
    expect_400_naming(c.post("/v3/endpoints", &admin, ep(json!({"url": null}))).await, "url");
    expect_400_naming(c.post("/v3/endpoints", &admin, ep(json!({"url": "not a url"}))).await, "url");
    expect_400_naming(
        c.post("/v3/endpoints", &admin, ep(json!({"url": format!("https://{}", "a".repeat(218))}))).await,
        "url",
    );
    expect_400_naming(c.post("/v3/endpoints", &admin, ep(json!({"service_id": null}))).await, "service_id");
    expect_400_naming(c.post("/v3/endpoints", &admin, ep(json!({"service_id": NO_SUCH}))).await, "service_id");
    expect_400_naming(c.post("/v3/endpoints", &admin, ep(json!({"region_id": "nowhere"}))).await, "region_id");
    // a failed create with a legacy region does not leave the region behind
    expect_400_naming(
        c.post("/v3/endpoints", &admin, ep(json!({"region": "halfmade", "enabled": "yes"}))).await,
        "enabled",
    );
    expect_400_naming(
        c.post("/v3/endpoints", &admin, ep(json!({"region": "halfmade", "service_id": NO_SUCH}))).await,
        "service_id",
    );
    c.get("/v3/regions/halfmade", &admin).await.expect_error(404);
    assert_eq!(
        c.get(&format!("/v3/endpoints?service_id={sid}"), &admin).await.expect(200).body["endpoints"],
        json!([])
    );
    // 225 characters is the limit
    create(
        &c,
        &admin,
        "endpoints",
        "endpoint",
        ep(json!({"url": format!("https://{}", "a".repeat(217))}))["endpoint"].clone(),
    )
    .await;
    // updates: the same checks, nothing changed
    let e = create(&c, &admin, "endpoints", "endpoint", ep(json!({}))["endpoint"].clone()).await;
    let eid = e["id"].as_str().unwrap();
    for bad in [
        json!({"enabled": "False"}),
        json!({"enabled": "True"}),
        json!({"interface": "x"}),
        json!({"url": "nope"}),
        json!({"service_id": NO_SUCH}),
        json!({"region_id": "nowhere"}),
    ] {
        c.patch(&format!("/v3/endpoints/{eid}"), &admin, json!({ "endpoint": bad })).await.expect_error(400);
    }
    assert_eq!(c.get(&format!("/v3/endpoints/{eid}"), &admin).await.expect(200).body["endpoint"], e);
    c.patch(&format!("/v3/endpoints/{NO_SUCH}"), &admin, json!({"endpoint": {"url": "http://x"}}))
        .await
        .expect_error(404);
}

#[tokio::test]
async fn endpoint_policy() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let s = new_service(&c, &admin, "compute", "nova").await;
    c.get("/v3/endpoints", &demo).await.expect_error(403);
    c.post(
        "/v3/endpoints",
        &demo,
        json!({"endpoint": {"service_id": s["id"], "interface": "public", "url": "http://evil"}}),
    )
    .await
    .expect_error(403);
    let l = c.get(&format!("/v3/endpoints?service_id={}", s["id"].as_str().unwrap()), &admin).await.expect(200);
    assert_eq!(l.body["endpoints"], json!([]));
}

// ---------------------------------------------------------------- the catalog in tokens

fn find_service<'a>(catalog: &'a Value, ty: &str) -> Option<&'a Value> {
    catalog.as_array().unwrap().iter().find(|s| s["type"] == ty)
}

#[tokio::test]
async fn the_catalog_follows_services_and_endpoints() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let demo_pid = project_id(&c, "demo").await;
    let s = new_service(&c, &admin, "compute", "nova").await;
    let sid = s["id"].as_str().unwrap();
    let pub_ep = create(
        &c,
        &admin,
        "endpoints",
        "endpoint",
        json!({"service_id": sid, "interface": "public", "url": "http://nova/v2.1/$(project_id)s", "region_id": "RegionOne"}),
    )
    .await;
    let off_ep = create(
        &c,
        &admin,
        "endpoints",
        "endpoint",
        json!({"service_id": sid, "interface": "internal", "url": "http://nova-int/v2.1", "region_id": "RegionOne", "enabled": false}),
    )
    .await;
    // the same token's catalog, validated again, shows the new service with the project id filled in
    let cat = &validate(&c, &admin, &demo).await.expect(200).body["token"]["catalog"].clone();
    let nova = find_service(cat, "compute").expect("compute in catalog");
    assert_eq!(nova["id"], json!(sid));
    assert_eq!(nova["name"], "nova");
    assert_eq!(
        nova["endpoints"],
        json!([{"id": pub_ep["id"], "interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": format!("http://nova/v2.1/{demo_pid}")}]),
        "disabled endpoints are left out"
    );
    let ac = c.get("/v3/auth/catalog", &demo).await.expect(200);
    assert_eq!(find_service(&ac.body["catalog"], "compute").unwrap(), nova);
    // enabling the endpoint adds it; disabling the service removes the whole entry
    c.patch(
        &format!("/v3/endpoints/{}", off_ep["id"].as_str().unwrap()),
        &admin,
        json!({"endpoint": {"enabled": true}}),
    )
    .await
    .expect(200);
    let ac = c.get("/v3/auth/catalog", &demo).await.expect(200);
    assert_eq!(find_service(&ac.body["catalog"], "compute").unwrap()["endpoints"].as_array().unwrap().len(), 2);
    c.patch(&format!("/v3/services/{sid}"), &admin, json!({"service": {"enabled": false}})).await.expect(200);
    let ac = c.get("/v3/auth/catalog", &demo).await.expect(200);
    assert!(find_service(&ac.body["catalog"], "compute").is_none(), "{}", ac.body);
    let r = c.demo_token().await;
    assert!(find_service(&validate(&c, &admin, &r).await.expect(200).body["token"]["catalog"], "compute").is_none());
    // deleting a service removes its endpoints
    c.delete(&format!("/v3/services/{sid}"), &admin).await.expect(204);
    c.get(&format!("/v3/endpoints/{}", pub_ep["id"].as_str().unwrap()), &admin).await.expect_error(404);
    // a system token's catalog has endpoints without a project id left out
    let sys =
        subject(&c.password_auth("admin", rustack_test_utils::ADMIN_PASSWORD, Some(system_scope())).await.expect(201));
    let s2 = new_service(&c, &admin, "volumev3", "cinder").await;
    create(
        &c,
        &admin,
        "endpoints",
        "endpoint",
        json!({"service_id": s2["id"], "interface": "public", "url": "http://cinder/v3/%(tenant_id)s", "region_id": "RegionOne"}),
    )
    .await;
    let st = validate(&c, &admin, &sys).await.expect(200);
    let cinder = find_service(&st.body["token"]["catalog"], "volumev3").unwrap();
    assert_eq!(cinder["endpoints"], json!([]));
}
