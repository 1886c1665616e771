//! `/v3/domains` and `/v3/projects`: shapes, create/list/show/update/delete,
//! filters, validation, duplicates, hierarchy, domain cascade, is_domain
//! projects, and the policy a member meets.

mod common;

use common::*;
use reqwest::Method;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

const NO_SUCH: &str = "0123456789abcdef0123456789abcdef";

fn long(n: usize) -> String {
    "x".repeat(n)
}

// ---------------------------------------------------------------- domains

#[tokio::test]
async fn domain_create_show_list_update_delete() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r = c.post("/v3/domains", &admin, json!({"domain": {"name": "d1", "description": "first"}})).await.expect(201);
    let d = r.body["domain"].clone();
    assert_keys(&d, &["id", "name", "description", "enabled", "tags", "options", "links"]);
    assert_hex_id(&d["id"]);
    let did = d["id"].as_str().unwrap().to_string();
    assert_eq!(d["name"], "d1");
    assert_eq!(d["description"], "first");
    assert_eq!(d["enabled"], json!(true));
    assert_eq!(d["tags"], json!([]));
    assert_eq!(d["options"], json!({}));
    assert_eq!(d["links"], json!({"self": format!("{}/v3/domains/{did}", c.base)}));
    // show and list give the same dict
    assert_eq!(c.get(&format!("/v3/domains/{did}"), &admin).await.expect(200).body["domain"], d);
    let l = c.get("/v3/domains", &admin).await.expect(200);
    assert!(l.body["domains"].as_array().unwrap().contains(&d), "{}", l.body);
    assert_eq!(l.body["links"], json!({"self": format!("{}/v3/domains", c.base), "previous": null, "next": null}));
    // update
    let r = c
        .patch(
            &format!("/v3/domains/{did}"),
            &admin,
            json!({"domain": {"name": "d1-renamed", "description": "changed", "enabled": false}}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["domain"]["name"], "d1-renamed");
    assert_eq!(r.body["domain"]["description"], "changed");
    assert_eq!(r.body["domain"]["enabled"], json!(false));
    assert_eq!(c.get(&format!("/v3/domains/{did}"), &admin).await.expect(200).body["domain"], r.body["domain"]);
    // delete (disabled) and gone
    let r = c.delete(&format!("/v3/domains/{did}"), &admin).await.expect(204);
    assert_eq!(r.body, Value::Null);
    c.get(&format!("/v3/domains/{did}"), &admin).await.expect_error(404);
    assert!(!ids(&c.get("/v3/domains", &admin).await.expect(200).body, "domains").contains(&did));
}

#[tokio::test]
async fn domain_defaults_and_disabled_create() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = create(&c, &admin, "domains", "domain", json!({"name": "nodesc"})).await;
    assert_eq!(d["description"], "");
    assert_eq!(d["enabled"], json!(true));
    let d = create(&c, &admin, "domains", "domain", json!({"name": "off", "enabled": false})).await;
    assert_eq!(d["enabled"], json!(false));
    // a disabled domain can be deleted straight away
    c.delete(&format!("/v3/domains/{}", d["id"].as_str().unwrap()), &admin).await.expect(204);
    // the default domain is there for everyone with a project in it
    let demo = c.demo_token().await;
    let r = c.get("/v3/domains/default", &demo).await.expect(200);
    assert_eq!(r.body["domain"]["name"], "Default");
    assert_eq!(r.body["domain"]["enabled"], json!(true));
}

#[tokio::test]
async fn domain_list_filters() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let a = create(&c, &admin, "domains", "domain", json!({"name": "fa", "description": "a"})).await;
    let b = create(&c, &admin, "domains", "domain", json!({"name": "fb", "description": "b"})).await;
    let off = create(&c, &admin, "domains", "domain", json!({"name": "fc", "enabled": false})).await;
    let l = c.get("/v3/domains?name=fa", &admin).await.expect(200);
    assert_eq!(l.body["domains"], json!([a]));
    let l = c.get("/v3/domains?enabled=True", &admin).await.expect(200);
    let items = l.body["domains"].as_array().unwrap();
    assert!(items.iter().all(|d| d["enabled"] == json!(true)));
    assert!(items.contains(&a) && items.contains(&b) && !items.contains(&off));
    let l = c.get("/v3/domains?enabled=False", &admin).await.expect(200);
    assert_eq!(l.body["domains"], json!([off]));
    assert_eq!(l.body["links"]["self"], json!(format!("{}/v3/domains?enabled=False", c.base)));
    let l = c.get("/v3/domains?name=nonesuch", &admin).await.expect(200);
    assert_eq!(l.body["domains"], json!([]));
}

#[tokio::test]
async fn domain_bad_input() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let post = |b: Value| c.post("/v3/domains", &admin, b);
    expect_400_naming(post(json!({"domain": {"name": ""}})).await, "name");
    expect_400_naming(post(json!({"domain": {"name": "   "}})).await, "name");
    expect_400_naming(post(json!({"domain": {"name": long(65)}})).await, "name");
    expect_400_naming(post(json!({"domain": {"description": "no name"}})).await, "name");
    expect_400_naming(post(json!({"domain": {"name": 5}})).await, "name");
    expect_400_naming(post(json!({"domain": {"name": "x", "enabled": "maybe"}})).await, "enabled");
    expect_400_naming(post(json!({"domains": {"name": "x"}})).await, "domain");
    expect_400_naming(post(json!({"domain": "x"})).await, "domain");
    // none of those made anything
    let l = c.get("/v3/domains", &admin).await.expect(200);
    assert_eq!(names(&l.body, "domains"), strs(&["Default"]));
    // 64 characters is fine; a string boolean is accepted for domains
    let d = create(&c, &admin, "domains", "domain", json!({"name": long(64), "enabled": "false"})).await;
    assert_eq!(d["enabled"], json!(false));
}

#[tokio::test]
async fn domain_duplicate_names_conflict() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "dup").await;
    c.post("/v3/domains", &admin, json!({"domain": {"name": "dup"}})).await.expect_error(409);
    c.post("/v3/domains", &admin, json!({"domain": {"name": "Default"}})).await.expect_error(409);
    // renaming onto an existing name conflicts and changes nothing
    let other = new_domain(&c, &admin, "other").await;
    let oid = other["id"].as_str().unwrap();
    c.patch(&format!("/v3/domains/{oid}"), &admin, json!({"domain": {"name": "dup"}})).await.expect_error(409);
    assert_eq!(c.get(&format!("/v3/domains/{oid}"), &admin).await.expect(200).body["domain"]["name"], "other");
    assert_eq!(names(&c.get("/v3/domains?name=dup", &admin).await.expect(200).body, "domains").len(), 1);
    let _ = d;
}

#[tokio::test]
async fn domain_unknown_ids_are_404() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    c.get(&format!("/v3/domains/{NO_SUCH}"), &admin).await.expect_error(404);
    c.patch(&format!("/v3/domains/{NO_SUCH}"), &admin, json!({"domain": {"name": "x"}})).await.expect_error(404);
    c.delete(&format!("/v3/domains/{NO_SUCH}"), &admin).await.expect_error(404);
    // 404 before the member's 403
    c.get(&format!("/v3/domains/{NO_SUCH}"), &demo).await.expect_error(404);
    c.delete(&format!("/v3/domains/{NO_SUCH}"), &demo).await.expect_error(404);
}

#[tokio::test]
async fn deleting_an_enabled_domain_is_forbidden() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "active").await;
    let did = d["id"].as_str().unwrap();
    c.delete(&format!("/v3/domains/{did}"), &admin).await.expect_error(403);
    assert_eq!(c.get(&format!("/v3/domains/{did}"), &admin).await.expect(200).body["domain"], d);
}

#[tokio::test]
async fn domain_delete_cascades_its_content() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "doomed").await;
    let did = d["id"].as_str().unwrap();
    let p = new_project(&c, &admin, "dp", did).await;
    let pid = p["id"].as_str().unwrap();
    let child = create(&c, &admin, "projects", "project", json!({"name": "dpc", "parent_id": pid})).await;
    let u = new_user(&c, &admin, "du", "pw-123456", did).await;
    let uid = u["id"].as_str().unwrap();
    let g = new_group(&c, &admin, "dg", did).await;
    let gid = g["id"].as_str().unwrap();
    let dr = create(&c, &admin, "roles", "role", json!({"name": "drole", "domain_id": did})).await;
    let drid = dr["id"].as_str().unwrap();
    let member = c.role_id("member").await;
    grant_project_user(&c, &admin, pid, uid, &member).await;
    grant(&c, &admin, "domains", did, "groups", gid, &member).await;
    // a Default user with a role on the doomed project
    let demo = demo_id(&c).await;
    grant_project_user(&c, &admin, pid, &demo, &member).await;
    let t = token_id(&c, uid, "pw-123456", Some(project_scope(pid))).await;
    c.patch(&format!("/v3/domains/{did}"), &admin, json!({"domain": {"enabled": false}})).await.expect(200);
    c.delete(&format!("/v3/domains/{did}"), &admin).await.expect(204);
    c.get(&format!("/v3/domains/{did}"), &admin).await.expect_error(404);
    c.get(&format!("/v3/projects/{pid}"), &admin).await.expect_error(404);
    c.get(&format!("/v3/projects/{}", child["id"].as_str().unwrap()), &admin).await.expect_error(404);
    c.get(&format!("/v3/users/{uid}"), &admin).await.expect_error(404);
    c.get(&format!("/v3/groups/{gid}"), &admin).await.expect_error(404);
    c.get(&format!("/v3/roles/{drid}"), &admin).await.expect_error(404);
    validate(&c, &admin, &t).await.expect_error(404);
    // the Default user's assignment on the deleted project is gone too
    let ra = c.get(&format!("/v3/role_assignments?user.id={demo}"), &admin).await.expect(200);
    assert!(
        ra.body["role_assignments"].as_array().unwrap().iter().all(|a| a["scope"]["project"]["id"] != json!(pid)),
        "{}",
        ra.body
    );
    let l = c.get(&format!("/v3/projects?domain_id={did}"), &admin).await.expect(200);
    assert_eq!(l.body["projects"], json!([]));
    // the name is free again
    new_domain(&c, &admin, "doomed").await;
}

#[tokio::test]
async fn member_policy_on_domains() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let d = new_domain(&c, &admin, "private").await;
    let did = d["id"].as_str().unwrap();
    c.get("/v3/domains", &demo).await.expect_error(403);
    c.get(&format!("/v3/domains/{did}"), &demo).await.expect_error(403);
    c.post("/v3/domains", &demo, json!({"domain": {"name": "mine"}})).await.expect_error(403);
    c.patch(&format!("/v3/domains/{did}"), &demo, json!({"domain": {"enabled": false}})).await.expect_error(403);
    c.patch("/v3/domains/default", &demo, json!({"domain": {"description": "pwned"}})).await.expect_error(403);
    c.delete(&format!("/v3/domains/{did}"), &demo).await.expect_error(403);
    // nothing changed
    assert_eq!(c.get(&format!("/v3/domains/{did}"), &admin).await.expect(200).body["domain"], d);
    assert_eq!(
        c.get("/v3/domains/default", &admin).await.expect(200).body["domain"]["description"],
        "The default domain"
    );
    assert_eq!(names(&c.get("/v3/domains?name=mine", &admin).await.expect(200).body, "domains").len(), 0);
}

// ---------------------------------------------------------------- projects

#[tokio::test]
async fn project_create_show_list_update_delete() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r = c.post("/v3/projects", &admin, json!({"project": {"name": "p1"}})).await.expect(201);
    let p = r.body["project"].clone();
    assert_keys(
        &p,
        &["id", "name", "domain_id", "description", "enabled", "parent_id", "is_domain", "tags", "options", "links"],
    );
    assert_hex_id(&p["id"]);
    let pid = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["domain_id"], "default", "the default domain when none is given");
    assert_eq!(p["parent_id"], "default", "a top-level project's parent is its domain");
    assert_eq!(p["description"], "");
    assert_eq!(p["enabled"], json!(true));
    assert_eq!(p["is_domain"], json!(false));
    assert_eq!(p["tags"], json!([]));
    assert_eq!(p["links"], json!({"self": format!("{}/v3/projects/{pid}", c.base)}));
    let g = c.get(&format!("/v3/projects/{pid}"), &admin).await.expect(200);
    assert_eq!(g.body["project"], p);
    let l = c.get("/v3/projects", &admin).await.expect(200);
    assert!(l.body["projects"].as_array().unwrap().contains(&p));
    // one field at a time
    let r = c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"name": "p1b"}})).await.expect(200);
    assert_eq!(r.body["project"]["name"], "p1b");
    let r = c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"description": "d"}})).await.expect(200);
    assert_eq!(r.body["project"]["description"], "d");
    assert_eq!(r.body["project"]["name"], "p1b");
    let r = c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"enabled": false}})).await.expect(200);
    assert_eq!(r.body["project"]["enabled"], json!(false));
    let g = c.get(&format!("/v3/projects/{pid}"), &admin).await.expect(200);
    assert_eq!(g.body["project"], r.body["project"]);
    c.delete(&format!("/v3/projects/{pid}"), &admin).await.expect(204);
    c.get(&format!("/v3/projects/{pid}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/projects/{pid}"), &admin).await.expect_error(404);
}

#[tokio::test]
async fn project_tags_and_extras_round_trip_and_show_equals_list() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let p = create(
        &c,
        &admin,
        "projects",
        "project",
        json!({"name": "tagged", "description": "with tags", "tags": ["a", "c", "b", "d"], "color": "blue"}),
    )
    .await;
    let mut tags: Vec<String> = p["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
    tags.sort();
    assert_eq!(tags, strs(&["a", "b", "c", "d"]));
    assert_eq!(p["color"], "blue");
    let pid = p["id"].as_str().unwrap();
    let g = c.get(&format!("/v3/projects/{pid}"), &admin).await.expect(200).body["project"].clone();
    let l = c.get("/v3/projects", &admin).await.expect(200);
    let item = l.body["projects"].as_array().unwrap().iter().find(|x| x["id"] == json!(pid)).unwrap().clone();
    assert_eq!(g, item);
    // bad tags: 400, the project is unchanged
    expect_400_naming(
        c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"name": "renamed", "tags": ["a/b"]}})).await,
        "tags",
    );
    expect_400_naming(
        c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"tags": "notalist"}})).await,
        "tags",
    );
    assert_eq!(c.get(&format!("/v3/projects/{pid}"), &admin).await.expect(200).body["project"], g);
    expect_400_naming(
        c.post("/v3/projects", &admin, json!({"project": {"name": "badtags", "tags": [""]}})).await,
        "tags",
    );
    assert_eq!(c.get("/v3/projects?name=badtags", &admin).await.expect(200).body["projects"], json!([]));
}

#[tokio::test]
async fn project_bad_input() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let post = |b: Value| c.post("/v3/projects", &admin, b);
    expect_400_naming(post(json!({"project": {"name": ""}})).await, "name");
    expect_400_naming(post(json!({"project": {"name": long(65)}})).await, "name");
    expect_400_naming(post(json!({"project": {"name": " \t "}})).await, "name");
    expect_400_naming(post(json!({"project": {"description": "x"}})).await, "name");
    expect_400_naming(post(json!({"project": {"name": "p", "enabled": "sometimes"}})).await, "enabled");
    expect_400_naming(post(json!({"project": {"name": "p", "description": 7}})).await, "description");
    expect_400_naming(post(json!({"projects": {"name": "p"}})).await, "project");
    // none of those made a project
    let before = ids(&c.get("/v3/projects", &admin).await.expect(200).body, "projects").len();
    assert_eq!(before, 3, "admin, service and demo only");
    // 64 characters, string booleans: accepted
    let p = create(&c, &admin, "projects", "project", json!({"name": long(64), "enabled": "False"})).await;
    assert_eq!(p["enabled"], json!(false));
}

#[tokio::test]
async fn project_with_unknown_domain_or_parent_is_400() {
    // Keystone's POST /v3/projects turns DomainNotFound/ProjectNotFound into
    // a ValidationError (400).
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    c.post("/v3/projects", &admin, json!({"project": {"name": "orphan", "domain_id": NO_SUCH}}))
        .await
        .expect_error(400);
    c.post("/v3/projects", &admin, json!({"project": {"name": "orphan", "parent_id": NO_SUCH}}))
        .await
        .expect_error(400);
    assert_eq!(c.get("/v3/projects?name=orphan", &admin).await.expect(200).body["projects"], json!([]));
}

#[tokio::test]
async fn project_names_are_unique_per_domain() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    new_project(&c, &admin, "same", "default").await;
    c.post("/v3/projects", &admin, json!({"project": {"name": "same"}})).await.expect_error(409);
    c.post("/v3/projects", &admin, json!({"project": {"name": "same", "domain_id": "default"}}))
        .await
        .expect_error(409);
    let d = new_domain(&c, &admin, "elsewhere").await;
    let other = new_project(&c, &admin, "same", d["id"].as_str().unwrap()).await;
    assert_eq!(other["domain_id"], d["id"]);
    // renaming onto a taken name: 409 and no change
    let p = new_project(&c, &admin, "free", "default").await;
    let pid = p["id"].as_str().unwrap();
    c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"name": "same"}})).await.expect_error(409);
    assert_eq!(c.get(&format!("/v3/projects/{pid}"), &admin).await.expect(200).body["project"]["name"], "free");
    assert_eq!(
        c.get("/v3/projects?name=same&domain_id=default", &admin).await.expect(200).body["projects"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn project_update_cannot_move_or_change_id() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let p = new_project(&c, &admin, "fixed", "default").await;
    let pid = p["id"].as_str().unwrap();
    let d = new_domain(&c, &admin, "d2").await;
    expect_400_naming(
        c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"domain_id": d["id"]}})).await,
        "domain_id",
    );
    expect_400_naming(c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"id": NO_SUCH}})).await, "id");
    expect_400_naming(c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"name": ""}})).await, "name");
    expect_400_naming(
        c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"enabled": 3}})).await,
        "enabled",
    );
    // the same id is accepted
    c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"id": pid, "description": "ok"}}))
        .await
        .expect(200);
    let g = c.get(&format!("/v3/projects/{pid}"), &admin).await.expect(200);
    assert_eq!(g.body["project"]["domain_id"], "default");
    assert_eq!(g.body["project"]["name"], "fixed");
    assert_eq!(g.body["project"]["description"], "ok");
    c.patch(&format!("/v3/projects/{NO_SUCH}"), &admin, json!({"project": {"name": "x"}})).await.expect_error(404);
}

#[tokio::test]
async fn project_hierarchy_and_leaf_only_delete() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "hd").await;
    let did = d["id"].as_str().unwrap();
    let root = new_project(&c, &admin, "root", did).await;
    assert_eq!(root["parent_id"], json!(did));
    let rid = root["id"].as_str().unwrap();
    let child =
        create(&c, &admin, "projects", "project", json!({"name": "child", "domain_id": did, "parent_id": rid})).await;
    assert_eq!(child["parent_id"], json!(rid));
    assert_eq!(child["domain_id"], json!(did));
    // no domain given: the parent's
    let child2 = create(&c, &admin, "projects", "project", json!({"name": "child2", "parent_id": rid})).await;
    assert_eq!(child2["domain_id"], json!(did));
    // a parent in another domain: 400, nothing made
    c.post("/v3/projects", &admin, json!({"project": {"name": "cross", "domain_id": "default", "parent_id": rid}}))
        .await
        .expect_error(400);
    assert_eq!(c.get("/v3/projects?name=cross", &admin).await.expect(200).body["projects"], json!([]));
    // ?parent_id
    let l = c.get(&format!("/v3/projects?parent_id={rid}"), &admin).await.expect(200);
    let mut got = names(&l.body, "projects");
    got.sort();
    assert_eq!(got, strs(&["child", "child2"]));
    assert!(l.body["projects"].as_array().unwrap().iter().all(|p| p["parent_id"] == json!(rid)));
    // a project with children cannot be deleted
    c.delete(&format!("/v3/projects/{rid}"), &admin).await.expect_error(403);
    c.get(&format!("/v3/projects/{rid}"), &admin).await.expect(200);
    c.delete(&format!("/v3/projects/{}", child["id"].as_str().unwrap()), &admin).await.expect(204);
    c.delete(&format!("/v3/projects/{rid}"), &admin).await.expect_error(403);
    c.delete(&format!("/v3/projects/{}", child2["id"].as_str().unwrap()), &admin).await.expect(204);
    c.delete(&format!("/v3/projects/{rid}"), &admin).await.expect(204);
}

#[tokio::test]
async fn project_hierarchy_enable_rules() {
    // Keystone: a project cannot be disabled while its subtree has enabled
    // projects, cannot be enabled under a disabled parent (403), and no
    // project is created in a branch with a disabled project (400).
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let root = new_project(&c, &admin, "er", "default").await;
    let rid = root["id"].as_str().unwrap();
    let child = create(&c, &admin, "projects", "project", json!({"name": "ec", "parent_id": rid})).await;
    let cid = child["id"].as_str().unwrap();
    c.patch(&format!("/v3/projects/{rid}"), &admin, json!({"project": {"enabled": false}})).await.expect_error(403);
    assert_eq!(c.get(&format!("/v3/projects/{rid}"), &admin).await.expect(200).body["project"]["enabled"], json!(true));
    c.patch(&format!("/v3/projects/{cid}"), &admin, json!({"project": {"enabled": false}})).await.expect(200);
    c.patch(&format!("/v3/projects/{rid}"), &admin, json!({"project": {"enabled": false}})).await.expect(200);
    c.post("/v3/projects", &admin, json!({"project": {"name": "under-disabled", "parent_id": rid}}))
        .await
        .expect_error(400);
    assert_eq!(c.get("/v3/projects?name=under-disabled", &admin).await.expect(200).body["projects"], json!([]));
    c.patch(&format!("/v3/projects/{cid}"), &admin, json!({"project": {"enabled": true}})).await.expect_error(403);
    assert_eq!(
        c.get(&format!("/v3/projects/{cid}"), &admin).await.expect(200).body["project"]["enabled"],
        json!(false)
    );
    c.patch(&format!("/v3/projects/{rid}"), &admin, json!({"project": {"enabled": true}})).await.expect(200);
    c.patch(&format!("/v3/projects/{cid}"), &admin, json!({"project": {"enabled": true}})).await.expect(200);
    // a disabled domain takes no new projects
    let d = create(&c, &admin, "domains", "domain", json!({"name": "offdom", "enabled": false})).await;
    c.post("/v3/projects", &admin, json!({"project": {"name": "in-off", "domain_id": d["id"]}}))
        .await
        .expect_error(400);
    assert_eq!(
        c.get(&format!("/v3/projects?domain_id={}", d["id"].as_str().unwrap()), &admin).await.expect(200).body
            ["projects"],
        json!([])
    );
}

#[tokio::test]
async fn project_list_filters() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let off =
        create(&c, &admin, "projects", "project", json!({"name": "off", "enabled": false, "domain_id": "default"}))
            .await;
    let d = new_domain(&c, &admin, "fd").await;
    let did = d["id"].as_str().unwrap();
    let indom = new_project(&c, &admin, "indom", did).await;
    let l = c.get("/v3/projects?enabled=False", &admin).await.expect(200);
    assert_eq!(l.body["projects"], json!([off]));
    let l = c.get("/v3/projects?enabled=true", &admin).await.expect(200);
    assert!(l.body["projects"].as_array().unwrap().iter().all(|p| p["enabled"] == json!(true)));
    assert!(!ids(&l.body, "projects").contains(&off["id"].as_str().unwrap().to_string()));
    let l = c.get(&format!("/v3/projects?domain_id={did}"), &admin).await.expect(200);
    assert_eq!(l.body["projects"], json!([indom]));
    let l = c.get("/v3/projects?name=demo", &admin).await.expect(200);
    assert_eq!(names(&l.body, "projects"), strs(&["demo"]));
    // domains never appear in a plain project list
    let l = c.get("/v3/projects", &admin).await.expect(200);
    assert!(l.body["projects"].as_array().unwrap().iter().all(|p| p["is_domain"] == json!(false)));
    assert!(!ids(&l.body, "projects").contains(&did.to_string()));
}

#[tokio::test]
async fn is_domain_projects_are_domains() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r = c
        .post(
            "/v3/projects",
            &admin,
            json!({"project": {"name": "pdom", "description": "a domain", "domain_id": null, "is_domain": true}}),
        )
        .await
        .expect(201);
    let p = r.body["project"].clone();
    assert_eq!(p["is_domain"], json!(true));
    assert_eq!(p["domain_id"], Value::Null);
    assert_eq!(p["parent_id"], Value::Null);
    assert_eq!(p["name"], "pdom");
    let pid = p["id"].as_str().unwrap();
    assert!(ids(&c.get("/v3/domains", &admin).await.expect(200).body, "domains").contains(&pid.to_string()));
    let l = c.get("/v3/projects?is_domain=True", &admin).await.expect(200);
    assert!(ids(&l.body, "projects").contains(&pid.to_string()));
    assert!(!ids(&c.get("/v3/projects", &admin).await.expect(200).body, "projects").contains(&pid.to_string()));
    // projects can live in it
    let inner = new_project(&c, &admin, "inner", pid).await;
    assert_eq!(inner["domain_id"], json!(pid));
    // deleting it is a domain delete: disabled first
    c.delete(&format!("/v3/projects/{pid}"), &admin).await.expect_error(403);
    let r = c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"enabled": false}})).await.expect(200);
    assert_eq!(r.body["project"]["enabled"], json!(false));
    c.delete(&format!("/v3/projects/{pid}"), &admin).await.expect(204);
    c.get(&format!("/v3/domains/{pid}"), &admin).await.expect_error(404);
    c.get(&format!("/v3/projects/{}", inner["id"].as_str().unwrap()), &admin).await.expect_error(404);
}

#[tokio::test]
async fn member_policy_on_projects() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let demo_pid = project_id(&c, "demo").await;
    let admin_pid = project_id(&c, "admin").await;
    let p = new_project(&c, &admin, "adminmade", "default").await;
    let pid = p["id"].as_str().unwrap();
    c.get("/v3/projects", &demo).await.expect_error(403);
    c.post("/v3/projects", &demo, json!({"project": {"name": "sneaky"}})).await.expect_error(403);
    c.delete(&format!("/v3/projects/{pid}"), &demo).await.expect_error(403);
    c.patch(&format!("/v3/projects/{pid}"), &demo, json!({"project": {"name": "hijacked"}})).await.expect_error(403);
    c.patch(&format!("/v3/projects/{demo_pid}"), &demo, json!({"project": {"name": "mine"}})).await.expect_error(403);
    c.get(&format!("/v3/projects/{admin_pid}"), &demo).await.expect_error(403);
    // its own project is readable
    let r = c.get(&format!("/v3/projects/{demo_pid}"), &demo).await.expect(200);
    assert_eq!(r.body["project"]["name"], "demo");
    // unknown ids are 404 even for the member
    c.get(&format!("/v3/projects/{NO_SUCH}"), &demo).await.expect_error(404);
    c.delete(&format!("/v3/projects/{NO_SUCH}"), &demo).await.expect_error(404);
    // nothing changed
    assert_eq!(c.get(&format!("/v3/projects/{pid}"), &admin).await.expect(200).body["project"], p);
    assert_eq!(c.get("/v3/projects?name=sneaky", &admin).await.expect(200).body["projects"], json!([]));
    assert_eq!(c.get(&format!("/v3/projects/{demo_pid}"), &admin).await.expect(200).body["project"]["name"], "demo");
}

#[tokio::test]
async fn deleting_a_project_removes_its_grants_and_tokens() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let p = new_project(&c, &admin, "short-lived", "default").await;
    let pid = p["id"].as_str().unwrap();
    let (uid, t) = user_on_project(&c, &admin, "pu", pid, "member").await;
    c.delete(&format!("/v3/projects/{pid}"), &admin).await.expect(204);
    validate(&c, &admin, &t).await.expect_error(404);
    let ra = c.get(&format!("/v3/role_assignments?user.id={uid}"), &admin).await.expect(200);
    assert_eq!(ra.body["role_assignments"], json!([]));
    // a new project with the same name does not inherit anything
    let p2 = new_project(&c, &admin, "short-lived", "default").await;
    expect_401(auth_id(&c, &uid, "pw-123456", Some(project_scope(p2["id"].as_str().unwrap()))).await);
}

#[tokio::test]
async fn project_string_booleans_in_queries() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    create(&c, &admin, "projects", "project", json!({"name": "q-off", "enabled": false})).await;
    for q in ["enabled=0", "enabled=no", "enabled=off", "enabled=FALSE"] {
        let l = c.get(&format!("/v3/projects?{q}"), &admin).await.expect(200);
        assert_eq!(names(&l.body, "projects"), strs(&["q-off"]), "{q}");
    }
    // an empty value means true, as oslo reads it
    let l = c.request(Method::GET, "/v3/projects?enabled", Some(&admin), None).await.expect(200);
    assert!(!names(&l.body, "projects").contains(&"q-off".to_string()));
}
