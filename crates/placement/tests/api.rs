//! The Placement API over HTTP, in-process: every resource family, the
//! generation and in-use conflicts, the shapes that change with the
//! microversion, and who may call it.

use reqwest::Method;
use rustack_test_utils::{Resp, TestCloud};
use serde_json::{json, Value};

struct Api<'a> {
    cloud: &'a TestCloud,
    token: String,
}

impl Api<'_> {
    async fn call(&self, method: Method, path: &str, v: &str, body: Option<Value>) -> Resp {
        let url = format!("{}{path}", self.cloud.placement.url);
        let hv = format!("placement {v}");
        self.cloud.request_with(method, &url, Some(&self.token), body, &[("OpenStack-API-Version", &hv)]).await
    }
    async fn get(&self, path: &str, v: &str) -> Resp {
        self.call(Method::GET, path, v, None).await
    }
    async fn post(&self, path: &str, v: &str, body: Value) -> Resp {
        self.call(Method::POST, path, v, Some(body)).await
    }
    async fn put(&self, path: &str, v: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, v, Some(body)).await
    }
    async fn delete(&self, path: &str, v: &str) -> Resp {
        self.call(Method::DELETE, path, v, None).await
    }
    /// A root provider with VCPU and MEMORY_MB; its uuid.
    async fn host(&self, name: &str, vcpus: i64, ram: i64) -> String {
        let r = self.post("/resource_providers", "1.20", json!({ "name": name })).await.expect(200);
        let uuid = r.body["uuid"].as_str().unwrap().to_string();
        self.put(
            &format!("/resource_providers/{uuid}/inventories"),
            "1.26",
            json!({"resource_provider_generation": 0, "inventories": {
                "VCPU": {"total": vcpus}, "MEMORY_MB": {"total": ram, "max_unit": ram}}}),
        )
        .await
        .expect(200);
        uuid
    }
}

fn code(r: &Resp) -> &str {
    r.body["errors"][0]["code"].as_str().unwrap_or_default()
}

#[track_caller]
fn expect_error(r: Resp, status: u16, code_: &str) -> Resp {
    let r = r.expect(status);
    assert_eq!(r.body["errors"][0]["status"], json!(status), "{}", r.body);
    assert_eq!(code(&r), code_, "{}", r.body);
    r
}

async fn api(cloud: &TestCloud) -> Api<'_> {
    Api { cloud, token: cloud.admin_token().await }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tokio::test]
async fn version_document_and_microversions() {
    let cloud = TestCloud::start().await;
    let r = cloud.request(Method::GET, &format!("{}/", cloud.placement.url), None, None).await.expect(200);
    assert_eq!(r.body["versions"][0]["min_version"], "1.0");
    assert_eq!(r.body["versions"][0]["max_version"], "1.39");
    let a = api(&cloud).await;
    let r = a.get("/resource_providers", "1.40").await;
    expect_error(r, 406, "placement.undefined_code");
    a.get("/resource_providers", "1.x").await.expect(400);
    let r = a.get("/resource_providers", "latest").await.expect(200);
    assert_eq!(r.header("openstack-api-version"), Some("placement 1.39"));
    assert!(r.header("last-modified").is_some() && r.header("cache-control") == Some("no-cache"));
    let r = a.get("/resource_providers", "1.14").await.expect(200);
    assert!(r.header("last-modified").is_none());
    // routes that come with a later version are 404 before it
    a.get("/traits", "1.5").await.expect(404);
    a.get("/traits", "1.6").await.expect(200);
    a.get("/usages?project_id=x", "1.8").await.expect(404);
    a.get("/allocation_candidates?resources=VCPU:1", "1.9").await.expect(404);
    let r = a.post("/reshaper", "1.30", json!({})).await;
    expect_error(r, 501, "placement.undefined_code");
}

#[tokio::test]
async fn only_admin_or_service_may_call() {
    let cloud = TestCloud::start().await;
    let url = format!("{}/resource_providers", cloud.placement.url);
    cloud.request(Method::GET, &url, None, None).await.expect(401);
    let demo = Api { cloud: &cloud, token: cloud.demo_token().await };
    let r = demo.get("/resource_providers", "1.0").await;
    let r = expect_error(r, 403, "placement.undefined_code");
    assert!(r.body["errors"][0]["detail"].as_str().unwrap().contains("placement:resource_providers:list"));
    // a reader may read the usages of its own project only
    demo.get(&format!("/usages?project_id={}", cloud.projects.demo_project_id), "1.9").await.expect(200);
    demo.get(&format!("/usages?project_id={}", cloud.projects.admin_project_id), "1.9").await.expect(403);
}

#[tokio::test]
async fn resource_providers_crud_and_nesting() {
    let cloud = TestCloud::start().await;
    let a = api(&cloud).await;
    // before 1.20: 201, a Location and no body
    let r = a.post("/resource_providers", "1.0", json!({"name": "rp-old"})).await.expect(201);
    let loc = r.header("location").unwrap().to_string();
    let path = loc.strip_prefix(&cloud.placement.url).expect("an absolute Location").to_string();
    assert!(path.starts_with("/resource_providers/"), "{loc}");
    let r = a.get(&path, "1.0").await.expect(200);
    assert_eq!(r.body["generation"], 0);
    assert!(r.body.get("root_provider_uuid").is_none(), "no nesting fields before 1.14");
    assert_eq!(r.body["links"].as_array().unwrap().len(), 3);
    // 1.20: 200 and the provider
    let u = uuid();
    let r = a.post("/resource_providers", "1.20", json!({"name": "root", "uuid": u})).await.expect(200);
    assert_eq!(r.body["uuid"], json!(u));
    assert_eq!(r.body["root_provider_uuid"], json!(u));
    assert!(r.body["parent_provider_uuid"].is_null());
    let r = a.post("/resource_providers", "1.20", json!({"name": "root"})).await;
    expect_error(r, 409, "placement.duplicate_name");
    a.post("/resource_providers", "1.20", json!({"name": ""})).await.expect(400);
    a.post("/resource_providers", "1.20", json!({"name": "x", "bogus": 1})).await.expect(400);
    a.post("/resource_providers", "1.13", json!({"name": "x", "parent_provider_uuid": u})).await.expect(400);
    a.post("/resource_providers", "1.20", json!({"name": "x", "uuid": "not-a-uuid"})).await.expect(400);
    // a child
    let r =
        a.post("/resource_providers", "1.20", json!({"name": "child", "parent_provider_uuid": u})).await.expect(200);
    let child = r.body["uuid"].as_str().unwrap().to_string();
    assert_eq!(r.body["root_provider_uuid"], json!(u));
    a.post("/resource_providers", "1.20", json!({"name": "orphan", "parent_provider_uuid": uuid()})).await.expect(400);
    let r = a.get(&format!("/resource_providers?in_tree={child}"), "1.14").await.expect(200);
    assert_eq!(r.body["resource_providers"].as_array().unwrap().len(), 2);
    let r = a.get("/resource_providers?name=child", "1.14").await.expect(200);
    assert_eq!(r.body["resource_providers"][0]["uuid"], json!(child));
    let r = a.get(&format!("/resource_providers?uuid={u}"), "1.14").await.expect(200);
    assert_eq!(r.body["resource_providers"].as_array().unwrap().len(), 1);
    a.get("/resource_providers?in_tree=x", "1.13").await.expect(400);
    a.get("/resource_providers?nope=1", "1.14").await.expect(400);
    // the parent cannot go while it has a child
    let r = a.delete(&format!("/resource_providers/{u}"), "1.14").await;
    expect_error(r, 409, "placement.resource_provider.cannot_delete_parent");
    // update: rename; re-parenting only from 1.37
    let r = a.put(&format!("/resource_providers/{child}"), "1.14", json!({"name": "renamed"})).await.expect(200);
    assert_eq!(r.body["name"], "renamed");
    assert_eq!(r.body["generation"], 0, "a rename keeps the generation");
    a.put(&format!("/resource_providers/{child}"), "1.14", json!({"name": "renamed", "parent_provider_uuid": null}))
        .await
        .expect(400);
    let r = a
        .put(&format!("/resource_providers/{child}"), "1.37", json!({"name": "renamed", "parent_provider_uuid": null}))
        .await
        .expect(200);
    assert_eq!(r.body["root_provider_uuid"], json!(child));
    a.put(&format!("/resource_providers/{u}"), "1.37", json!({"name": "root", "parent_provider_uuid": u}))
        .await
        .expect(400);
    a.delete(&format!("/resource_providers/{child}"), "1.14").await.expect(204);
    a.delete(&format!("/resource_providers/{child}"), "1.14").await.expect(404);
    a.get("/resource_providers/not-a-uuid", "1.14").await.expect(404);
    a.delete(&format!("/resource_providers/{u}"), "1.14").await.expect(204);
}

#[tokio::test]
async fn inventories_generations_and_in_use() {
    let cloud = TestCloud::start().await;
    let a = api(&cloud).await;
    let r = a.post("/resource_providers", "1.20", json!({"name": "h"})).await.expect(200);
    let rp = r.body["uuid"].as_str().unwrap().to_string();
    let inv = format!("/resource_providers/{rp}/inventories");
    let r = a
        .put(
            &inv,
            "1.0",
            json!({"resource_provider_generation": 0, "inventories": {
            "VCPU": {"total": 8, "allocation_ratio": 2.0}, "MEMORY_MB": {"total": 4096, "reserved": 512}}}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["resource_provider_generation"], 1);
    assert_eq!(r.body["inventories"]["VCPU"]["max_unit"], 2147483647);
    assert_eq!(r.body["inventories"]["VCPU"]["allocation_ratio"], 2.0);
    // a stale generation
    let r = a.put(&inv, "1.0", json!({"resource_provider_generation": 0, "inventories": {}})).await;
    expect_error(r, 409, "placement.concurrent_update");
    // bad input
    let bad = |body: Value| async { a.put(&inv, "1.25", body).await.status.as_u16() };
    assert_eq!(bad(json!({"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 0}}})).await, 400);
    assert_eq!(bad(json!({"resource_provider_generation": 1, "inventories": {"NOPE": {"total": 1}}})).await, 400);
    assert_eq!(
        bad(json!({"resource_provider_generation": 1, "inventories": {"VCPU": {"total": 2, "reserved": 2}}})).await,
        400,
        "reserved == total before 1.26"
    );
    assert_eq!(bad(json!({"inventories": {}})).await, 400);
    // one class
    let r = a.get(&format!("{inv}/VCPU"), "1.0").await.expect(200);
    assert_eq!(r.body["total"], 8);
    a.get(&format!("{inv}/DISK_GB"), "1.0").await.expect(404);
    let r = a
        .post(&inv, "1.0", json!({"resource_class": "DISK_GB", "total": 100, "resource_provider_generation": 1}))
        .await
        .expect(201);
    assert_eq!(r.body["resource_provider_generation"], 2);
    let r = a.put(&format!("{inv}/DISK_GB"), "1.0", json!({"total": 200, "resource_provider_generation": 2})).await;
    assert_eq!(r.expect(200).body["total"], 200);
    a.put(&format!("{inv}/VGPU"), "1.0", json!({"total": 2, "resource_provider_generation": 3})).await.expect(400);
    a.delete(&format!("{inv}/DISK_GB"), "1.0").await.expect(204);
    // allocations make a class in use
    let consumer = uuid();
    a.put(
        &format!("/allocations/{consumer}"),
        "1.12",
        json!({"allocations": {&rp: {"resources": {"VCPU": 4, "MEMORY_MB": 1024}}}, "project_id": "p", "user_id": "u"}),
    )
    .await
    .expect(204);
    let r = a.get(&format!("/resource_providers/{rp}/usages"), "1.0").await.expect(200);
    assert_eq!(r.body["usages"], json!({"VCPU": 4, "MEMORY_MB": 1024}));
    let r = a.delete(&format!("{inv}/VCPU"), "1.0").await;
    expect_error(r, 409, "placement.inventory.inuse");
    let g = a.get(&inv, "1.0").await.body["resource_provider_generation"].clone();
    let r = a.put(&inv, "1.0", json!({"resource_provider_generation": g, "inventories": {"VCPU": {"total": 8}}})).await;
    expect_error(r, 409, "placement.inventory.inuse");
    let r = a.delete(&inv, "1.5").await;
    expect_error(r, 409, "placement.inventory.inuse");
    a.delete(&format!("/allocations/{consumer}"), "1.0").await.expect(204);
    a.delete(&inv, "1.4").await.expect(405);
    a.delete(&inv, "1.5").await.expect(204);
    assert_eq!(a.get(&inv, "1.0").await.body["inventories"], json!({}));
}

#[tokio::test]
async fn allocations_consumers_and_usages() {
    let cloud = TestCloud::start().await;
    let a = api(&cloud).await;
    let rp = a.host("h1", 4, 2048).await;
    let c1 = uuid();
    let path = format!("/allocations/{c1}");
    let body = |gen: Value, vcpu: i64| {
        json!({"allocations": {&rp: {"resources": {"VCPU": vcpu, "MEMORY_MB": 512}}},
               "project_id": "proj", "user_id": "user", "consumer_generation": gen})
    };
    // 1.28 needs consumer_generation: null for a new consumer
    let mut no_gen = body(Value::Null, 1);
    no_gen.as_object_mut().unwrap().remove("consumer_generation");
    a.put(&path, "1.28", no_gen).await.expect(400);
    a.put(&path, "1.28", body(Value::Null, 1)).await.expect(204);
    let r = a.get(&path, "1.28").await.expect(200);
    assert_eq!(r.body["consumer_generation"], 1);
    assert_eq!(r.body["project_id"], "proj");
    assert_eq!(r.body["allocations"][&rp]["resources"]["VCPU"], 1);
    assert!(r.body["allocations"][&rp]["generation"].is_i64());
    let r = a.put(&path, "1.28", body(Value::Null, 2)).await;
    expect_error(r, 409, "placement.concurrent_update");
    let r = a.put(&path, "1.28", body(json!(5), 2)).await;
    expect_error(r, 409, "placement.concurrent_update");
    a.put(&path, "1.28", body(json!(1), 2)).await.expect(204);
    // older shapes
    let r = a.get(&path, "1.11").await.expect(200);
    assert!(r.body.get("project_id").is_none() && r.body.get("consumer_generation").is_none());
    let r = a.get(&path, "1.38").await.expect(200);
    assert_eq!(r.body["consumer_type"], "unknown");
    // the list format before 1.12
    let c2 = uuid();
    a.put(
        &format!("/allocations/{c2}"),
        "1.8",
        json!({"allocations": [{"resource_provider": {"uuid": &rp}, "resources": {"VCPU": 1}}],
               "project_id": "proj", "user_id": "other"}),
    )
    .await
    .expect(204);
    a.put(
        &format!("/allocations/{c2}"),
        "1.8",
        json!({"allocations": [{"resources": {"VCPU": 1}}], "project_id": "p", "user_id": "u"}),
    )
    .await
    .expect(400);
    // over capacity: 2 + 1 used of 4; 2 more do not fit
    let r = a
        .put(
            &format!("/allocations/{}", uuid()),
            "1.12",
            json!({"allocations": {&rp: {"resources": {"VCPU": 2}}}, "project_id": "p", "user_id": "u"}),
        )
        .await;
    let r = expect_error(r, 409, "placement.undefined_code");
    assert!(r.body["errors"][0]["detail"].as_str().unwrap().contains("capacity"));
    // bad amounts
    a.put(
        &format!("/allocations/{}", uuid()),
        "1.12",
        json!({"allocations": {&rp: {"resources": {"VCPU": 0}}}, "project_id": "p", "user_id": "u"}),
    )
    .await
    .expect(400);
    // usages
    let r = a.get("/usages?project_id=proj", "1.9").await.expect(200);
    assert_eq!(r.body["usages"], json!({"VCPU": 3, "MEMORY_MB": 512}));
    let r = a.get("/usages?project_id=proj&user_id=other", "1.9").await.expect(200);
    assert_eq!(r.body["usages"], json!({"VCPU": 1}));
    a.get("/usages", "1.9").await.expect(400);
    let r = a.get("/usages?project_id=proj", "1.38").await.expect(200);
    assert_eq!(r.body["usages"]["unknown"]["consumer_count"], 2);
    let r = a.get(&format!("/resource_providers/{rp}/allocations"), "1.0").await.expect(200);
    assert_eq!(r.body["allocations"].as_object().unwrap().len(), 2);
    // POST /allocations: move c1's allocation to c3 and drop c2 at once
    let c3 = uuid();
    a.post(
        "/allocations",
        "1.28",
        json!({
            &c1: {"allocations": {}, "project_id": "proj", "user_id": "user", "consumer_generation": 2},
            &c2: {"allocations": {}, "project_id": "proj", "user_id": "other", "consumer_generation": 1},
            &c3: {"allocations": {&rp: {"resources": {"VCPU": 4}}}, "project_id": "proj", "user_id": "user",
                  "consumer_generation": null},
        }),
    )
    .await
    .expect(204);
    assert_eq!(a.get(&path, "1.28").await.body["allocations"], json!({}));
    let r = a.get(&format!("/resource_providers/{rp}/usages"), "1.0").await.expect(200);
    assert_eq!(r.body["usages"]["VCPU"], 4);
    a.post("/allocations", "1.12", json!({})).await.expect(404);
    a.delete(&format!("/allocations/{c3}"), "1.0").await.expect(204);
    a.delete(&format!("/allocations/{c3}"), "1.0").await.expect(404);
}

#[tokio::test]
async fn allocation_candidates_shapes_and_filters() {
    let cloud = TestCloud::start().await;
    let a = api(&cloud).await;
    let h1 = a.host("c1", 8, 8192).await;
    let h2 = a.host("c2", 2, 1024).await;
    let r = a.get("/allocation_candidates?resources=VCPU:2,MEMORY_MB:1024", "1.12").await.expect(200);
    assert_eq!(r.body["allocation_requests"].as_array().unwrap().len(), 2);
    let s = &r.body["provider_summaries"][&h1];
    assert_eq!(s["resources"]["VCPU"], json!({"capacity": 8, "used": 0}));
    assert!(s.get("traits").is_none());
    // 1.10: the list form of allocations
    let r = a.get("/allocation_candidates?resources=VCPU:4", "1.10").await.expect(200);
    assert_eq!(r.body["allocation_requests"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["allocation_requests"][0]["allocations"][0]["resource_provider"]["uuid"], json!(h1));
    // limit, traits, mappings, nesting fields
    let r = a.get("/allocation_candidates?resources=VCPU:1&limit=1", "1.16").await.expect(200);
    assert_eq!(r.body["allocation_requests"].as_array().unwrap().len(), 1);
    a.put("/traits/CUSTOM_FAST", "1.6", Value::Null).await.expect(201);
    a.put(
        &format!("/resource_providers/{h2}/traits"),
        "1.6",
        json!({"traits": ["CUSTOM_FAST"], "resource_provider_generation": 1}),
    )
    .await
    .expect(200);
    let r = a.get("/allocation_candidates?resources=VCPU:1&required=CUSTOM_FAST", "1.34").await.expect(200);
    let reqs = r.body["allocation_requests"].as_array().unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0]["allocations"][&h2]["resources"]["VCPU"], 1);
    assert_eq!(reqs[0]["mappings"][""], json!([h2]));
    assert_eq!(r.body["provider_summaries"][&h2]["traits"], json!(["CUSTOM_FAST"]));
    assert_eq!(r.body["provider_summaries"][&h2]["root_provider_uuid"], json!(h2));
    let r = a.get("/allocation_candidates?resources=VCPU:1&required=!CUSTOM_FAST", "1.22").await.expect(200);
    assert_eq!(r.body["allocation_requests"].as_array().unwrap().len(), 1);
    a.get("/allocation_candidates?resources=VCPU:1&required=CUSTOM_NOPE", "1.17").await.expect(400);
    // member_of
    let agg = uuid();
    a.put(
        &format!("/resource_providers/{h1}/aggregates"),
        "1.19",
        json!({"aggregates": [&agg], "resource_provider_generation": 1}),
    )
    .await
    .expect(200);
    let r = a.get(&format!("/allocation_candidates?resources=VCPU:1&member_of={agg}"), "1.21").await.expect(200);
    assert_eq!(r.body["allocation_requests"].as_array().unwrap().len(), 1);
    let r = a.get(&format!("/allocation_candidates?resources=VCPU:1&member_of=!{agg}"), "1.32").await.expect(200);
    assert_eq!(r.body["allocation_requests"][0]["allocations"].as_object().unwrap().keys().next().unwrap(), &h2);
    // granular groups
    let r = a
        .get("/allocation_candidates?resources1=VCPU:1&resources2=VCPU:1&group_policy=isolate", "1.25")
        .await
        .expect(200);
    for req in r.body["allocation_requests"].as_array().unwrap() {
        assert_eq!(req["allocations"].as_object().unwrap().len(), 2, "two providers: {req}");
    }
    a.get("/allocation_candidates?resources1=VCPU:1&resources2=VCPU:1", "1.25").await.expect(400);
    // bad requests
    a.get("/allocation_candidates", "1.10").await.expect(400);
    a.get("/allocation_candidates?resources=VCPU", "1.10").await.expect(400);
    a.get("/allocation_candidates?resources=NOPE:1", "1.10").await.expect(400);
    a.get("/allocation_candidates?resources=VCPU:1&limit=0", "1.16").await.expect(400);
    a.get("/allocation_candidates?resources=VCPU:1&limit=1", "1.15").await.expect(400);
    // nothing fits
    let r = a.get("/allocation_candidates?resources=VCPU:100", "1.10").await.expect(200);
    assert_eq!(r.body, json!({"allocation_requests": [], "provider_summaries": {}}));
    // resources filter on the provider list
    let r = a.get("/resource_providers?resources=VCPU:4", "1.4").await.expect(200);
    assert_eq!(r.body["resource_providers"].as_array().unwrap().len(), 1);
    let r = a.get("/resource_providers?required=CUSTOM_FAST", "1.18").await.expect(200);
    assert_eq!(r.body["resource_providers"][0]["uuid"], json!(h2));
    let r = a.get(&format!("/resource_providers?member_of=in:{agg},{}", uuid()), "1.3").await.expect(200);
    assert_eq!(r.body["resource_providers"][0]["uuid"], json!(h1));
}

#[tokio::test]
async fn traits_classes_and_aggregates() {
    let cloud = TestCloud::start().await;
    let a = api(&cloud).await;
    let r = a.get("/traits", "1.6").await.expect(200);
    let n = r.body["traits"].as_array().unwrap().len();
    assert!(n > 300, "the standard traits: {n}");
    a.put("/traits/CUSTOM_GOLD", "1.6", Value::Null).await.expect(201);
    a.put("/traits/CUSTOM_GOLD", "1.6", Value::Null).await.expect(204);
    a.put("/traits/GOLD", "1.6", Value::Null).await.expect(400);
    a.get("/traits/CUSTOM_GOLD", "1.6").await.expect(204);
    a.get("/traits/HW_CPU_X86_AVX2", "1.6").await.expect(204);
    a.get("/traits/CUSTOM_NONE", "1.6").await.expect(404);
    let r = a.get("/traits?name=startswith:CUSTOM", "1.6").await.expect(200);
    assert_eq!(r.body["traits"], json!(["CUSTOM_GOLD"]));
    let r = a.get("/traits?name=in:CUSTOM_GOLD,HW_CPU_X86_AVX2", "1.6").await.expect(200);
    assert_eq!(r.body["traits"].as_array().unwrap().len(), 2);
    a.get("/traits?name=CUSTOM", "1.6").await.expect(400);
    a.delete("/traits/HW_CPU_X86_AVX2", "1.6").await.expect(400);
    let r = a.post("/resource_providers", "1.20", json!({"name": "t"})).await.expect(200);
    let rp = r.body["uuid"].as_str().unwrap().to_string();
    let tp = format!("/resource_providers/{rp}/traits");
    let r = a
        .put(&tp, "1.6", json!({"traits": ["CUSTOM_GOLD", "HW_CPU_X86_AVX2"], "resource_provider_generation": 0}))
        .await;
    assert_eq!(r.expect(200).body["resource_provider_generation"], 1);
    let r = a.put(&tp, "1.6", json!({"traits": ["CUSTOM_GOLD"], "resource_provider_generation": 0})).await;
    expect_error(r, 409, "placement.concurrent_update");
    a.put(&tp, "1.6", json!({"traits": ["CUSTOM_NOPE"], "resource_provider_generation": 1})).await.expect(400);
    let r = a.get("/traits?associated=true", "1.6").await.expect(200);
    assert_eq!(r.body["traits"].as_array().unwrap().len(), 2);
    a.delete("/traits/CUSTOM_GOLD", "1.6").await.expect(409);
    a.delete(&tp, "1.6").await.expect(204);
    assert_eq!(a.get(&tp, "1.6").await.body["traits"], json!([]));
    a.delete("/traits/CUSTOM_GOLD", "1.6").await.expect(204);
    a.delete("/traits/CUSTOM_GOLD", "1.6").await.expect(404);

    // resource classes
    let r = a.get("/resource_classes", "1.2").await.expect(200);
    assert!(r.body["resource_classes"].as_array().unwrap().iter().any(|c| c["name"] == "VCPU"));
    a.post("/resource_classes", "1.2", json!({"name": "CUSTOM_FPGA"})).await.expect(201);
    let r = a.post("/resource_classes", "1.2", json!({"name": "CUSTOM_FPGA"})).await;
    expect_error(r, 409, "placement.duplicate_name");
    a.post("/resource_classes", "1.2", json!({"name": "FPGA"})).await.expect(400);
    a.get("/resource_classes/CUSTOM_FPGA", "1.2").await.expect(200);
    a.get("/resource_classes/CUSTOM_NONE", "1.2").await.expect(404);
    a.put("/resource_classes/CUSTOM_NEW", "1.7", Value::Null).await.expect(201);
    a.put("/resource_classes/CUSTOM_NEW", "1.7", Value::Null).await.expect(204);
    a.delete("/resource_classes/VCPU", "1.2").await.expect(400);
    // a custom class in inventory is in use
    a.put(
        &format!("/resource_providers/{rp}/inventories"),
        "1.2",
        json!({"resource_provider_generation": 2,
        "inventories": {"CUSTOM_FPGA": {"total": 2}}}),
    )
    .await
    .expect(200);
    a.delete("/resource_classes/CUSTOM_FPGA", "1.2").await.expect(409);
    a.delete("/resource_classes/CUSTOM_NEW", "1.2").await.expect(204);
    a.get("/resource_classes", "1.1").await.expect(404);

    // aggregates: a bare list before 1.19, with the generation after
    let ap = format!("/resource_providers/{rp}/aggregates");
    let agg = uuid();
    let r = a.put(&ap, "1.1", json!([&agg])).await.expect(200);
    assert_eq!(r.body, json!({"aggregates": [&agg]}));
    let r = a.get(&ap, "1.19").await.expect(200);
    let g = r.body["resource_provider_generation"].as_i64().unwrap();
    let r = a.put(&ap, "1.19", json!({"aggregates": [], "resource_provider_generation": g - 1})).await;
    expect_error(r, 409, "placement.concurrent_update");
    a.put(&ap, "1.19", json!({"aggregates": ["nope"], "resource_provider_generation": g})).await.expect(400);
    let r = a.put(&ap, "1.19", json!({"aggregates": [], "resource_provider_generation": g})).await.expect(200);
    assert_eq!(r.body["resource_provider_generation"], g + 1);
    a.get(&ap, "1.0").await.expect(404);
}
