//! Keystone parity for resources: project tags and tag filters, project
//! hierarchy listings and cascade rules, OS-INHERIT (grants, token roles,
//! `role_assignments`), domain-specific configuration, the v3 policy blobs,
//! and unified limits.

use reqwest::Method;
use rustack_test_utils::{Resp, TestCloud};
use serde_json::{json, Value};

const NO_SUCH: &str = "0123456789abcdef0123456789abcdef";

// ---------------------------------------------------------------- helpers

async fn put_json(c: &TestCloud, path: &str, token: &str, body: Value) -> Resp {
    c.request(Method::PUT, path, Some(token), Some(body)).await
}

fn s(v: &Value) -> String {
    v.as_str().expect("a string").to_string()
}

async fn project(c: &TestCloud, admin: &str, body: Value) -> Value {
    c.post("/v3/projects", admin, json!({ "project": body })).await.expect(201).body["project"].clone()
}

async fn domain(c: &TestCloud, admin: &str, name: &str) -> String {
    s(&c.post("/v3/domains", admin, json!({"domain": {"name": name}})).await.expect(201).body["domain"]["id"])
}

async fn user(c: &TestCloud, admin: &str, name: &str, domain_id: &str) -> String {
    let b = json!({"user": {"name": name, "password": "secret-pw-1", "domain_id": domain_id}});
    s(&c.post("/v3/users", admin, b).await.expect(201).body["user"]["id"])
}

async fn group(c: &TestCloud, admin: &str, name: &str, domain_id: &str) -> String {
    s(&c.post("/v3/groups", admin, json!({"group": {"name": name, "domain_id": domain_id}})).await.expect(201).body
        ["group"]["id"])
}

async fn role(c: &TestCloud, admin: &str, name: &str) -> String {
    s(&c.post("/v3/roles", admin, json!({"role": {"name": name}})).await.expect(201).body["role"]["id"])
}

async fn project_id(c: &TestCloud, name: &str) -> String {
    c.identity.store().get_project_by_name("default", name).await.unwrap().expect("project").id
}

/// A token of a user (by id) scoped to a project (by id).
async fn token_for(c: &TestCloud, user_id: &str, project_id: &str) -> Resp {
    let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": user_id, "password": "secret-pw-1"}}},
                                "scope": {"project": {"id": project_id}}}});
    c.request(Method::POST, "/v3/auth/tokens", None, Some(body)).await
}

fn role_names(token_body: &Value) -> Vec<String> {
    let mut v: Vec<String> = token_body["token"]["roles"].as_array().unwrap().iter().map(|r| s(&r["name"])).collect();
    v.sort();
    v
}

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v.as_array().expect("a list").iter().map(s).collect();
    out.sort();
    out
}

fn ids(list: &Value) -> Vec<String> {
    let mut out: Vec<String> = list.as_array().expect("a list").iter().map(|x| s(&x["id"])).collect();
    out.sort();
    out
}

#[track_caller]
fn expect_message(r: Resp, status: u16, needle: &str) -> Resp {
    let r = r.expect_error(status);
    let m = r.body["error"]["message"].as_str().unwrap();
    assert!(m.contains(needle), "message should contain '{needle}': {m}");
    r
}

// ---------------------------------------------------------------- project tags

#[tokio::test]
async fn project_tags_single_and_whole_list() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let p = project(&c, &admin, json!({"name": "tagged"})).await;
    let pid = s(&p["id"]);
    let base = format!("/v3/projects/{pid}/tags");

    // add one: 201, no body, a Location
    let r = c.put(&format!("{base}/alpha"), &admin).await.expect(201);
    assert_eq!(r.body, Value::Null);
    assert_eq!(r.header("location"), Some(format!("{}/v3/projects/{pid}/tags/alpha", c.base).as_str()));
    // tempest sends '{}' as the body of this PUT
    put_json(&c, &format!("{base}/beta"), &admin, json!({})).await.expect(201);
    // check: GET and HEAD are 204 without a body
    let r = c.get(&format!("{base}/alpha"), &admin).await.expect(204);
    assert_eq!(r.body, Value::Null);
    c.head(&format!("{base}/alpha"), &admin).await.expect(204);
    expect_message(c.get(&format!("{base}/gamma"), &admin).await, 404, "Could not find project tag: gamma");
    c.head(&format!("{base}/gamma"), &admin).await.expect(404);
    // list
    let r = c.get(&base, &admin).await.expect(200);
    assert_eq!(sorted(&r.body["tags"]), vec!["alpha", "beta"]);
    assert_eq!(r.body["links"], json!({"self": format!("{}/v3/projects/{pid}/tags", c.base)}));
    // the project shows them too
    let shown = c.get(&format!("/v3/projects/{pid}"), &admin).await.expect(200).body["project"].clone();
    assert_eq!(sorted(&shown["tags"]), vec!["alpha", "beta"]);

    // a tag twice, a bad tag: 400 and nothing changes
    c.put(&format!("{base}/alpha"), &admin).await.expect_error(400);
    c.put(&format!("{base}/a,b"), &admin).await.expect_error(400);
    c.put(&format!("{base}/{}", "x".repeat(256)), &admin).await.expect_error(400);
    assert_eq!(sorted(&c.get(&base, &admin).await.expect(200).body["tags"]), vec!["alpha", "beta"]);

    // replace the whole list
    let r = put_json(&c, &base, &admin, json!({"tags": ["one", "two", "three"]})).await.expect(200);
    assert_eq!(sorted(&r.body["tags"]), vec!["one", "three", "two"]);
    assert!(r.body["links"]["self"].is_string());
    assert_eq!(sorted(&c.get(&base, &admin).await.expect(200).body["tags"]), vec!["one", "three", "two"]);
    // bad whole lists
    put_json(&c, &base, &admin, json!({"tags": ["dup", "dup"]})).await.expect_error(400);
    put_json(&c, &base, &admin, json!({"tags": ["a/b"]})).await.expect_error(400);
    put_json(&c, &base, &admin, json!({"tags": "one"})).await.expect_error(400);
    put_json(&c, &base, &admin, json!({})).await.expect_error(400);
    put_json(&c, &base, &admin, json!({"tags": [], "other": 1})).await.expect_error(400);
    let many: Vec<String> = (0..81).map(|i| format!("t{i}")).collect();
    put_json(&c, &base, &admin, json!({ "tags": many })).await.expect_error(400);
    let eighty: Vec<String> = (0..80).map(|i| format!("t{i}")).collect();
    put_json(&c, &base, &admin, json!({ "tags": eighty })).await.expect(200);
    // the 81st by the single form: 400
    c.put(&format!("{base}/t80"), &admin).await.expect_error(400);
    put_json(&c, &base, &admin, json!({"tags": ["one", "two"]})).await.expect(200);

    // delete one, then all
    c.delete(&format!("{base}/one"), &admin).await.expect(204);
    c.get(&format!("{base}/one"), &admin).await.expect_error(404);
    expect_message(c.delete(&format!("{base}/one"), &admin).await, 404, "project tag");
    c.delete(&base, &admin).await.expect(204);
    assert_eq!(c.get(&base, &admin).await.expect(200).body["tags"], json!([]));

    // a project that does not exist
    c.get(&format!("/v3/projects/{NO_SUCH}/tags"), &admin).await.expect_error(404);
    c.put(&format!("/v3/projects/{NO_SUCH}/tags/x"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/projects/{NO_SUCH}/tags"), &admin).await.expect_error(404);
}

#[tokio::test]
async fn project_tags_policy_for_a_member() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let demo = c.demo_token().await;
    let demo_pid = project_id(&c, "demo").await;
    let other = s(&project(&c, &admin, json!({"name": "other"})).await["id"]);
    c.put(&format!("/v3/projects/{demo_pid}/tags/mine"), &admin).await.expect(201);
    // a member reads the tags of its own project, and changes none
    c.get(&format!("/v3/projects/{demo_pid}/tags"), &demo).await.expect(200);
    c.get(&format!("/v3/projects/{demo_pid}/tags/mine"), &demo).await.expect(204);
    c.put(&format!("/v3/projects/{demo_pid}/tags/more"), &demo).await.expect_error(403);
    put_json(&c, &format!("/v3/projects/{demo_pid}/tags"), &demo, json!({"tags": []})).await.expect_error(403);
    c.delete(&format!("/v3/projects/{demo_pid}/tags/mine"), &demo).await.expect_error(403);
    c.delete(&format!("/v3/projects/{demo_pid}/tags"), &demo).await.expect_error(403);
    // another project: nothing
    c.get(&format!("/v3/projects/{other}/tags"), &demo).await.expect_error(403);
}

#[tokio::test]
async fn project_list_tag_filters() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let ab = s(&project(&c, &admin, json!({"name": "ab", "tags": ["a", "b"]})).await["id"]);
    let a = s(&project(&c, &admin, json!({"name": "a", "tags": ["a"]})).await["id"]);
    let c_ = s(&project(&c, &admin, json!({"name": "c", "tags": ["c"]})).await["id"]);
    let plain = s(&project(&c, &admin, json!({"name": "plain"})).await["id"]);
    let list = |q: &str| {
        let q = q.to_string();
        let c = &c;
        let admin = admin.clone();
        async move { ids(&c.get(&format!("/v3/projects?{q}"), &admin).await.expect(200).body["projects"]) }
    };
    let mut want = vec![ab.clone()];
    want.sort();
    assert_eq!(list("tags=a,b").await, want);
    let mut want = vec![ab.clone(), a.clone()];
    want.sort();
    assert_eq!(list("tags=a").await, want);
    let mut want = vec![ab.clone(), a.clone(), c_.clone()];
    want.sort();
    assert_eq!(list("tags-any=a,c").await, want);
    let all = list("").await;
    assert!(all.contains(&plain));
    // not-tags: lacks at least one of them
    let want: Vec<String> = all.iter().filter(|p| **p != ab).cloned().collect();
    assert_eq!(list("not-tags=a,b").await, want);
    // not-tags-any: has none of them
    let want: Vec<String> = all.iter().filter(|p| ![&ab, &a, &c_].contains(p)).cloned().collect();
    assert_eq!(list("not-tags-any=a,c").await, want);
    // combined
    assert_eq!(list("tags=a&not-tags=b").await, vec![a.clone()]);
    assert_eq!(list("tags=zzz").await, Vec::<String>::new());
    // the list item equals the show, tags included
    let shown = c.get(&format!("/v3/projects/{ab}"), &admin).await.expect(200).body["project"].clone();
    let listed = c.get("/v3/projects?tags=a,b", &admin).await.expect(200).body["projects"][0].clone();
    assert_eq!(shown, listed);
}

// ---------------------------------------------------------------- hierarchy

#[tokio::test]
async fn project_hierarchy_listings() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let did = domain(&c, &admin, "tree").await;
    let root = s(&project(&c, &admin, json!({"name": "root", "domain_id": did})).await["id"]);
    let mid = s(&project(&c, &admin, json!({"name": "mid", "parent_id": root})).await["id"]);
    let leaf = s(&project(&c, &admin, json!({"name": "leaf", "parent_id": mid})).await["id"]);
    let side = s(&project(&c, &admin, json!({"name": "side", "parent_id": root})).await["id"]);

    let get = |pid: &str, q: &str| {
        let path = format!("/v3/projects/{pid}?{q}");
        let c = &c;
        let admin = admin.clone();
        async move { c.get(&path, &admin).await }
    };
    // ids forms: nested objects, null at the ends
    let r = get(&leaf, "parents_as_ids").await.expect(200);
    assert_eq!(r.body["project"]["parents"], json!({ mid.clone(): { root.clone(): { did.clone(): null } } }));
    let r = get(&root, "parents_as_ids").await.expect(200);
    assert_eq!(r.body["project"]["parents"], json!({ did.clone(): null }));
    let r = get(&root, "subtree_as_ids").await.expect(200);
    assert_eq!(r.body["project"]["subtree"], json!({ mid.clone(): { leaf.clone(): null }, side.clone(): null }));
    let r = get(&leaf, "subtree_as_ids").await.expect(200);
    assert_eq!(r.body["project"]["subtree"], Value::Null);
    // both directions at once
    let r = get(&mid, "parents_as_ids&subtree_as_ids").await.expect(200);
    assert_eq!(r.body["project"]["parents"], json!({ root.clone(): { did.clone(): null } }));
    assert_eq!(r.body["project"]["subtree"], json!({ leaf.clone(): null }));
    // "0" is false; without the flags nothing is added
    let r = get(&mid, "parents_as_ids=0").await.expect(200);
    assert!(r.body["project"].get("parents").is_none());

    // list forms show only projects the caller has a role on
    let r = get(&root, "subtree_as_list").await.expect(200);
    assert_eq!(r.body["project"]["subtree"], json!([]));
    let member = c.role_id("member").await;
    let adm_user = c.identity.store().get_user_by_name("default", "admin").await.unwrap().unwrap().id;
    for p in [&root, &mid, &leaf] {
        c.put(&format!("/v3/projects/{p}/users/{adm_user}/roles/{member}"), &admin).await.expect(204);
    }
    let r = get(&root, "subtree_as_list").await.expect(200);
    let subtree = r.body["project"]["subtree"].as_array().unwrap().clone();
    let got: Vec<String> = subtree.iter().map(|x| s(&x["project"]["id"])).collect();
    assert_eq!(got, vec![mid.clone(), leaf.clone()], "level by level, visible ones only");
    // each entry is the project as GET shows it
    let mid_shown = c.get(&format!("/v3/projects/{mid}"), &admin).await.expect(200).body["project"].clone();
    assert_eq!(subtree[0]["project"], mid_shown);
    let r = get(&leaf, "parents_as_list").await.expect(200);
    let got: Vec<String> =
        r.body["project"]["parents"].as_array().unwrap().iter().map(|x| s(&x["project"]["id"])).collect();
    assert_eq!(got, vec![mid.clone(), root.clone()], "parent first, the domain is not a project here");
    // include_limits adds each project's limits
    let r = get(&leaf, "parents_as_list&include_limits").await.expect(200);
    assert_eq!(r.body["project"]["parents"][0]["project"]["limits"], json!([]));

    // contradictory flags
    expect_message(get(&mid, "parents_as_list&parents_as_ids").await, 400, "parents_as_list");
    expect_message(get(&mid, "subtree_as_list&subtree_as_ids").await, 400, "subtree_as_list");
}

#[tokio::test]
async fn project_cascade_rules() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let did = domain(&c, &admin, "casc").await;
    let parent = s(&project(&c, &admin, json!({"name": "parent", "domain_id": did})).await["id"]);
    let child = s(&project(&c, &admin, json!({"name": "child", "parent_id": parent})).await["id"]);
    let patch = |pid: &str, body: Value| {
        let path = format!("/v3/projects/{pid}");
        let c = &c;
        let admin = admin.clone();
        async move { c.patch(&path, &admin, json!({ "project": body })).await }
    };
    // a parent with an enabled child cannot be disabled
    expect_message(patch(&parent, json!({"enabled": false})).await, 403, "subtree contains enabled projects");
    assert_eq!(
        c.get(&format!("/v3/projects/{parent}"), &admin).await.expect(200).body["project"]["enabled"],
        json!(true)
    );
    // bottom up it can
    patch(&child, json!({"enabled": false})).await.expect(200);
    patch(&parent, json!({"enabled": false})).await.expect(200);
    // a child of a disabled parent cannot be enabled, nor created
    expect_message(patch(&child, json!({"enabled": true})).await, 403, "disabled parents");
    expect_message(
        c.post("/v3/projects", &admin, json!({"project": {"name": "late", "parent_id": parent}})).await,
        400,
        "branch containing a disabled project",
    );
    // top down again
    patch(&parent, json!({"enabled": true})).await.expect(200);
    patch(&child, json!({"enabled": true})).await.expect(200);
    // the parent cannot change; delete is leaves first
    expect_message(patch(&child, json!({"parent_id": did})).await, 403, "parent_id");
    patch(&child, json!({"parent_id": parent})).await.expect(200);
    c.delete(&format!("/v3/projects/{parent}"), &admin).await.expect_error(403);

    // a disabled domain takes no new projects
    let off = domain(&c, &admin, "off").await;
    let offp = s(&project(&c, &admin, json!({"name": "inoff", "domain_id": off})).await["id"]);
    c.patch(&format!("/v3/domains/{off}"), &admin, json!({"domain": {"enabled": false}})).await.expect(200);
    expect_message(
        c.post("/v3/projects", &admin, json!({"project": {"name": "x", "domain_id": off}})).await,
        400,
        off.as_str(),
    );
    // nor can its projects be re-enabled once disabled
    patch(&offp, json!({"enabled": false})).await.expect(200);
    patch(&offp, json!({"enabled": true})).await.expect_error(403);

    // a parent given as the domain makes a top-level project
    let top = project(&c, &admin, json!({"name": "top", "parent_id": did})).await;
    assert_eq!(top["parent_id"], json!(did));
    assert_eq!(top["domain_id"], json!(did));
    // a parent that does not exist: 400
    c.post("/v3/projects", &admin, json!({"project": {"name": "orphan", "parent_id": NO_SUCH}}))
        .await
        .expect_error(400);

    // at most 5 levels of projects below a domain
    let mut p = s(&project(&c, &admin, json!({"name": "l1", "domain_id": did})).await["id"]);
    for i in 2..=5 {
        p = s(&project(&c, &admin, json!({"name": format!("l{i}"), "parent_id": p})).await["id"]);
    }
    expect_message(
        c.post("/v3/projects", &admin, json!({"project": {"name": "l6", "parent_id": p}})).await,
        403,
        "Max hierarchy depth",
    );
}

// ---------------------------------------------------------------- OS-INHERIT

#[tokio::test]
async fn inherited_grants_on_domains() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let did = domain(&c, &admin, "inh").await;
    let uid = user(&c, &admin, "iu", &did).await;
    let gid = group(&c, &admin, "ig", &did).await;
    let rid = role(&c, &admin, "inherited-role").await;
    for (kind, actor) in [("users", &uid), ("groups", &gid)] {
        let base = format!("/v3/OS-INHERIT/domains/{did}/{kind}/{actor}/roles");
        let one = format!("{base}/{rid}/inherited_to_projects");
        c.head(&one, &admin).await.expect(404);
        let r = c.put(&one, &admin).await.expect(204);
        assert_eq!(r.body, Value::Null);
        c.put(&one, &admin).await.expect(204); // again: still 204
        c.head(&one, &admin).await.expect(204);
        c.get(&one, &admin).await.expect(204);
        let l = c.get(&format!("{base}/inherited_to_projects"), &admin).await.expect(200);
        assert_eq!(ids(&l.body["roles"]), vec![rid.clone()]);
        assert_eq!(l.body["roles"][0]["links"]["self"], json!(format!("{}/v3/roles/{rid}", c.base)));
        assert_eq!(
            l.body["links"]["self"],
            json!(format!("{}/v3{}/inherited_to_projects", c.base, base.trim_start_matches("/v3")))
        );
        // an inherited grant is not a direct one
        let direct = c.get(&format!("/v3/domains/{did}/{kind}/{actor}/roles"), &admin).await.expect(200);
        assert_eq!(direct.body["roles"], json!([]));
        c.head(&format!("/v3/domains/{did}/{kind}/{actor}/roles/{rid}"), &admin).await.expect(404);
        c.delete(&one, &admin).await.expect(204);
        expect_message(c.delete(&one, &admin).await, 404, "role assignment");
        c.head(&one, &admin).await.expect(404);
        assert_eq!(c.get(&format!("{base}/inherited_to_projects"), &admin).await.expect(200).body["roles"], json!([]));
    }
    // what does not exist: 404
    c.put(&format!("/v3/OS-INHERIT/domains/{did}/users/{uid}/roles/{NO_SUCH}/inherited_to_projects"), &admin)
        .await
        .expect_error(404);
    c.put(&format!("/v3/OS-INHERIT/domains/{NO_SUCH}/users/{uid}/roles/{rid}/inherited_to_projects"), &admin)
        .await
        .expect_error(404);
    c.put(&format!("/v3/OS-INHERIT/domains/{did}/users/{NO_SUCH}/roles/{rid}/inherited_to_projects"), &admin)
        .await
        .expect_error(404);
    c.put(&format!("/v3/OS-INHERIT/domains/{did}/groups/{NO_SUCH}/roles/{rid}/inherited_to_projects"), &admin)
        .await
        .expect_error(404);
    c.get(&format!("/v3/OS-INHERIT/domains/{NO_SUCH}/users/{uid}/roles/inherited_to_projects"), &admin)
        .await
        .expect_error(404);
    // a member: 403
    let demo = c.demo_token().await;
    c.put(&format!("/v3/OS-INHERIT/domains/{did}/users/{uid}/roles/{rid}/inherited_to_projects"), &demo)
        .await
        .expect_error(403);
    c.get(&format!("/v3/OS-INHERIT/domains/{did}/users/{uid}/roles/inherited_to_projects"), &demo)
        .await
        .expect_error(403);
}

#[tokio::test]
async fn inherited_roles_reach_token_and_effective_assignments() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let did = domain(&c, &admin, "eff").await;
    let uid = user(&c, &admin, "eu", &did).await;
    let top = s(&project(&c, &admin, json!({"name": "top", "domain_id": did})).await["id"]);
    let below = s(&project(&c, &admin, json!({"name": "below", "parent_id": top})).await["id"]);
    let member = c.role_id("member").await;
    let reader = c.role_id("reader").await;

    // nothing yet: no token for either project
    token_for(&c, &uid, &top).await.expect_error(401);

    // inherited on the domain: every project of the domain
    let dgrant = format!("/v3/OS-INHERIT/domains/{did}/users/{uid}/roles/{member}/inherited_to_projects");
    c.put(&dgrant, &admin).await.expect(204);
    for p in [&top, &below] {
        let r = token_for(&c, &uid, p).await.expect(201);
        assert_eq!(role_names(&r.body), vec!["member", "reader"]);
    }
    // but not the domain itself
    let dscope = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {"id": uid, "password": "secret-pw-1"}}},
                                  "scope": {"domain": {"id": did}}}});
    c.request(Method::POST, "/v3/auth/tokens", None, Some(dscope)).await.expect_error(401);
    // the projects are the user's
    let t = token_for(&c, &uid, &top).await.expect(201).header("x-subject-token").unwrap().to_string();
    let mine = c.get("/v3/auth/projects", &t).await.expect(200);
    let mut want = vec![top.clone(), below.clone()];
    want.sort();
    assert_eq!(ids(&mine.body["projects"]), want);
    let mine = c.get(&format!("/v3/users/{uid}/projects"), &admin).await.expect(200);
    assert_eq!(ids(&mine.body["projects"]), want);

    // role_assignments: plain shows the one inherited assignment on the domain
    let r = c.get(&format!("/v3/role_assignments?user.id={uid}"), &admin).await.expect(200);
    assert_eq!(
        r.body["role_assignments"],
        json!([{"role": {"id": member}, "user": {"id": uid},
                "scope": {"domain": {"id": did}, "OS-INHERIT:inherited_to": "projects"},
                "links": {"assignment": format!("{}/v3/OS-INHERIT/domains/{did}/users/{uid}/roles/{member}/inherited_to_projects", c.base)}}])
    );
    // the inherited filter
    let r = c
        .get(&format!("/v3/role_assignments?user.id={uid}&scope.OS-INHERIT:inherited_to=projects"), &admin)
        .await
        .expect(200);
    assert_eq!(r.body["role_assignments"].as_array().unwrap().len(), 1);
    let r = c.get(&format!("/v3/role_assignments?user.id={uid}&scope.domain.id={did}"), &admin).await.expect(200);
    assert_eq!(r.body["role_assignments"].as_array().unwrap().len(), 1);
    // effective: one entry per project, and the implied reader
    let r = c.get(&format!("/v3/role_assignments?user.id={uid}&effective"), &admin).await.expect(200);
    let items = r.body["role_assignments"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{}", r.body);
    let on_below: Vec<&Value> = items.iter().filter(|i| i["scope"]["project"]["id"] == json!(below)).collect();
    assert_eq!(on_below.len(), 2);
    let direct = on_below.iter().find(|i| i["role"]["id"] == json!(member)).unwrap();
    assert_eq!(direct["scope"]["OS-INHERIT:inherited_to"], "projects");
    assert_eq!(
        direct["links"]["assignment"],
        json!(format!("{}/v3/OS-INHERIT/domains/{did}/users/{uid}/roles/{member}/inherited_to_projects", c.base))
    );
    let implied = on_below.iter().find(|i| i["role"]["id"] == json!(reader)).unwrap();
    assert!(implied["links"]["prior_role"].is_string());
    // effective, one project
    let r = c
        .get(&format!("/v3/role_assignments?user.id={uid}&scope.project.id={below}&effective"), &admin)
        .await
        .expect(200);
    assert_eq!(r.body["role_assignments"].as_array().unwrap().len(), 2);
    // effective with domain and inherited filters cannot match anything
    c.get(
        &format!("/v3/role_assignments?effective&scope.domain.id={did}&scope.OS-INHERIT:inherited_to=projects"),
        &admin,
    )
    .await
    .expect_error(400);
    // effective on the domain: nothing (domains inherit nothing)
    let r =
        c.get(&format!("/v3/role_assignments?user.id={uid}&scope.domain.id={did}&effective"), &admin).await.expect(200);
    assert_eq!(r.body["role_assignments"], json!([]));

    c.delete(&dgrant, &admin).await.expect(204);
    let r = c
        .get(&format!("/v3/role_assignments?user.id={uid}&scope.project.id={below}&effective"), &admin)
        .await
        .expect(200);
    assert_eq!(r.body["role_assignments"], json!([]));
    token_for(&c, &uid, &below).await.expect_error(401);

    // inherited on a project: the projects below it, not the project itself
    let pgrant = format!("/v3/OS-INHERIT/projects/{top}/users/{uid}/roles/{member}/inherited_to_projects");
    c.put(&pgrant, &admin).await.expect(204);
    c.head(&pgrant, &admin).await.expect(204);
    token_for(&c, &uid, &top).await.expect_error(401);
    let r = token_for(&c, &uid, &below).await.expect(201);
    assert_eq!(role_names(&r.body), vec!["member", "reader"]);
    let r = c
        .get(&format!("/v3/role_assignments?user.id={uid}&scope.project.id={below}&effective"), &admin)
        .await
        .expect(200);
    let items = r.body["role_assignments"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["scope"]["project"]["id"] == json!(below)));
    let r = c
        .get(&format!("/v3/role_assignments?user.id={uid}&scope.project.id={top}&effective"), &admin)
        .await
        .expect(200);
    assert_eq!(r.body["role_assignments"], json!([]));
    // include_subtree: the project and everything below it
    let r = c
        .get(&format!("/v3/role_assignments?scope.project.id={top}&include_subtree=true&effective"), &admin)
        .await
        .expect(200);
    assert_eq!(r.body["role_assignments"].as_array().unwrap().len(), 2);
    let r =
        c.get(&format!("/v3/role_assignments?scope.project.id={top}&include_subtree=true"), &admin).await.expect(200);
    assert_eq!(
        r.body["role_assignments"],
        json!([{"role": {"id": member}, "user": {"id": uid},
                "scope": {"project": {"id": top}, "OS-INHERIT:inherited_to": "projects"},
                "links": {"assignment": format!("{}/v3/OS-INHERIT/projects/{top}/users/{uid}/roles/{member}/inherited_to_projects", c.base)}}])
    );
    c.get("/v3/role_assignments?include_subtree=true", &admin).await.expect_error(400);
    c.get(&format!("/v3/role_assignments?include_subtree=true&scope.project.id={NO_SUCH}"), &admin)
        .await
        .expect_error(404);
    c.delete(&pgrant, &admin).await.expect(204);
    token_for(&c, &uid, &below).await.expect_error(401);
    c.delete(&pgrant, &admin).await.expect_error(404);
    c.put(&format!("/v3/OS-INHERIT/projects/{NO_SUCH}/users/{uid}/roles/{member}/inherited_to_projects"), &admin)
        .await
        .expect_error(404);
}

#[tokio::test]
async fn inherited_group_grants_on_projects() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let top = s(&project(&c, &admin, json!({"name": "gtop"})).await["id"]);
    let below = s(&project(&c, &admin, json!({"name": "gbelow", "parent_id": top})).await["id"]);
    let gid = group(&c, &admin, "gg", "default").await;
    let uid = user(&c, &admin, "gu", "default").await;
    c.put(&format!("/v3/groups/{gid}/users/{uid}"), &admin).await.expect(204);
    let member = c.role_id("member").await;
    let grant = format!("/v3/OS-INHERIT/projects/{top}/groups/{gid}/roles/{member}/inherited_to_projects");
    c.put(&grant, &admin).await.expect(204);
    c.get(&grant, &admin).await.expect(204);
    let r = token_for(&c, &uid, &below).await.expect(201);
    assert_eq!(role_names(&r.body), vec!["member", "reader"]);
    // effective: the member, through the group, inherited
    let r = c.get(&format!("/v3/role_assignments?scope.project.id={below}&effective"), &admin).await.expect(200);
    let e = r.body["role_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["role"]["id"] == json!(member))
        .unwrap()
        .clone();
    assert_eq!(e["user"]["id"], json!(uid));
    assert_eq!(e["links"]["membership"], json!(format!("{}/v3/groups/{gid}/users/{uid}", c.base)));
    assert_eq!(
        e["links"]["assignment"],
        json!(format!("{}/v3/OS-INHERIT/projects/{top}/groups/{gid}/roles/{member}/inherited_to_projects", c.base))
    );
    // a domain-specific role of another domain cannot be granted on the project
    let other = domain(&c, &admin, "elsewhere").await;
    let dr =
        s(&c.post("/v3/roles", &admin, json!({"role": {"name": "dr", "domain_id": other}})).await.expect(201).body
            ["role"]["id"]);
    c.put(&format!("/v3/OS-INHERIT/projects/{top}/groups/{gid}/roles/{dr}/inherited_to_projects"), &admin)
        .await
        .expect_error(403);
    c.delete(&grant, &admin).await.expect(204);
    token_for(&c, &uid, &below).await.expect_error(401);
}

// ---------------------------------------------------------------- domain configuration

#[tokio::test]
async fn domain_config_defaults() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r = c.get("/v3/domains/config/default", &admin).await.expect(200);
    let cfg = &r.body["config"];
    assert_eq!(cfg["identity"], json!({"driver": "sql", "list_limit": null}));
    assert_eq!(cfg["ldap"]["url"], "ldap://localhost");
    assert_eq!(cfg["ldap"]["pool_retry_delay"], json!(0.1));
    assert!(cfg["ldap"].get("password").is_none(), "sensitive options have no readable default");
    let r = c.get("/v3/domains/config/ldap/default", &admin).await.expect(200);
    assert_eq!(r.body["config"].as_object().unwrap().keys().collect::<Vec<_>>(), vec!["ldap"]);
    let r = c.get("/v3/domains/config/identity/driver/default", &admin).await.expect(200);
    assert_eq!(r.body, json!({"config": {"driver": "sql"}}));
    expect_message(c.get("/v3/domains/config/nonesuch/default", &admin).await, 403, "Group nonesuch is not supported");
    c.get("/v3/domains/config/ldap/nonesuch/default", &admin).await.expect_error(403);
    c.get("/v3/domains/config/ldap/password/default", &admin).await.expect_error(403);
    let demo = c.demo_token().await;
    c.get("/v3/domains/config/default", &demo).await.expect_error(403);
}

#[tokio::test]
async fn domain_config_create_show_update_delete() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let did = domain(&c, &admin, "cfg").await;
    let base = format!("/v3/domains/{did}/config");
    let cfg = json!({"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://myldap.com:389/", "user_tree_dn": "ou=Users,dc=my_new_root,dc=org"}});
    // nothing yet
    expect_message(c.get(&base, &admin).await, 404, "Could not find any options in domain configuration");
    // create: 201, then replace: 200
    let r = put_json(&c, &base, &admin, json!({ "config": cfg })).await.expect(201);
    assert_eq!(r.body["config"], cfg);
    let mut with_secret = cfg.clone();
    with_secret["ldap"]["password"] = json!("s3cret");
    let r = put_json(&c, &base, &admin, json!({ "config": with_secret })).await.expect(200);
    assert_eq!(r.body["config"], cfg, "the password is never shown");
    assert_eq!(c.get(&base, &admin).await.expect(200).body["config"], cfg);
    // groups and options
    assert_eq!(c.get(&format!("{base}/ldap"), &admin).await.expect(200).body, json!({"config": {"ldap": cfg["ldap"]}}));
    assert_eq!(
        c.get(&format!("{base}/identity/driver"), &admin).await.expect(200).body,
        json!({"config": {"driver": "ldap"}})
    );
    c.head(&format!("{base}/identity/driver"), &admin).await.expect(200);
    c.get(&format!("{base}/ldap/password"), &admin).await.expect_error(404);
    c.get(&format!("{base}/ldap/user"), &admin).await.expect_error(404);
    c.get(&format!("{base}/nonesuch"), &admin).await.expect_error(403);
    c.get(&format!("{base}/ldap/nonesuch"), &admin).await.expect_error(403);

    // update the whole config (merge), a group, an option
    let r = c.patch(&base, &admin, json!({"config": {"ldap": {"url": "ldap://other"}}})).await.expect(200);
    assert_eq!(r.body["config"]["ldap"]["url"], "ldap://other");
    assert_eq!(r.body["config"]["ldap"]["user_tree_dn"], cfg["ldap"]["user_tree_dn"]);
    let r = c
        .patch(&format!("{base}/identity"), &admin, json!({"config": {"identity": {"driver": "d2", "list_limit": 42}}}))
        .await
        .expect(200);
    assert_eq!(r.body["config"]["identity"], json!({"driver": "d2", "list_limit": 42}));
    let r = c.patch(&format!("{base}/identity/driver"), &admin, json!({"config": {"driver": "d3"}})).await.expect(200);
    assert_eq!(r.body["config"]["identity"]["driver"], "d3");
    // bad updates: 403 for what Keystone does not support, 404 for what is not there
    c.patch(&format!("{base}/identity"), &admin, json!({"config": {"ldap": {"url": "x"}}})).await.expect_error(403);
    c.patch(&format!("{base}/identity/driver"), &admin, json!({"config": {"list_limit": 1}})).await.expect_error(403);
    c.patch(&format!("{base}/identity/driver"), &admin, json!({"config": {"driver": "a", "list_limit": 1}}))
        .await
        .expect_error(403);
    c.patch(&base, &admin, json!({"config": {"ldap": {"nonesuch": 1}}})).await.expect_error(403);
    c.patch(&base, &admin, json!({"config": {"ldap": {}}})).await.expect_error(403);
    c.patch(&base, &admin, json!({"config": {}})).await.expect_error(403);
    c.patch(&format!("{base}/ldap/user"), &admin, json!({"config": {"user": "cn=x"}})).await.expect_error(404);
    c.patch(&base, &admin, json!({"config": "x"})).await.expect_error(400);
    // bad creates
    put_json(&c, &base, &admin, json!({"config": {}})).await.expect_error(403);
    put_json(&c, &base, &admin, json!({"config": {"nonesuch": {"a": 1}}})).await.expect_error(403);
    put_json(&c, &base, &admin, json!({"config": {"ldap": "flat"}})).await.expect_error(403);

    // delete an option, a group, the rest
    c.delete(&format!("{base}/identity/driver"), &admin).await.expect(204);
    c.get(&format!("{base}/identity/driver"), &admin).await.expect_error(404);
    c.delete(&format!("{base}/identity/driver"), &admin).await.expect_error(404);
    c.delete(&format!("{base}/identity"), &admin).await.expect(204);
    c.get(&format!("{base}/identity"), &admin).await.expect_error(404);
    c.delete(&format!("{base}/identity"), &admin).await.expect_error(404);
    c.delete(&base, &admin).await.expect(204);
    c.get(&base, &admin).await.expect_error(404);
    // again from scratch: 201
    put_json(&c, &base, &admin, json!({ "config": cfg })).await.expect(201);

    // a domain that does not exist; a member
    c.get(&format!("/v3/domains/{NO_SUCH}/config"), &admin).await.expect_error(404);
    put_json(&c, &format!("/v3/domains/{NO_SUCH}/config"), &admin, json!({ "config": cfg })).await.expect_error(404);
    let demo = c.demo_token().await;
    c.get(&base, &demo).await.expect_error(403);
    put_json(&c, &base, &demo, json!({ "config": cfg })).await.expect_error(403);
    c.delete(&base, &demo).await.expect_error(403);

    // deleting the domain deletes its configuration
    c.patch(&format!("/v3/domains/{did}"), &admin, json!({"domain": {"enabled": false}})).await.expect(200);
    c.delete(&format!("/v3/domains/{did}"), &admin).await.expect(204);
    assert!(c.identity.store().domain_config(&did, None, None).await.unwrap().is_empty());
}

#[tokio::test]
async fn domain_config_security_compliance() {
    let c = TestCloud::start_with(
        rustack_db::testing::sqlite().await,
        "[security_compliance]\npassword_regex = ^.{8,}$\npassword_regex_description = at least 8 characters\n",
    )
    .await;
    let admin = c.admin_token().await;
    let demo = c.demo_token().await;
    let r = c.get("/v3/domains/default/config/security_compliance", &demo).await.expect(200);
    assert_eq!(
        r.body,
        json!({"config": {"security_compliance": {"password_regex": "^.{8,}$", "password_regex_description": "at least 8 characters"}}})
    );
    let r = c.get("/v3/domains/default/config/security_compliance/password_regex", &demo).await.expect(200);
    assert_eq!(r.body, json!({"config": {"password_regex": "^.{8,}$"}}));
    c.get("/v3/domains/default/config/security_compliance/lockout_duration", &demo).await.expect_error(403);
    let did = domain(&c, &admin, "notdefault").await;
    c.get(&format!("/v3/domains/{did}/config/security_compliance"), &admin).await.expect_error(403);
}

// ---------------------------------------------------------------- policies

#[tokio::test]
async fn policy_blobs_crud() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r = c
        .post(
            "/v3/policies",
            &admin,
            json!({"policy": {"blob": "{\"a\": 1}", "type": "application/json", "owner": "ops"}}),
        )
        .await
        .expect(201);
    let p = r.body["policy"].clone();
    let pid = s(&p["id"]);
    assert_eq!(pid.len(), 32);
    assert_eq!(
        p,
        json!({"id": pid, "blob": "{\"a\": 1}", "type": "application/json", "owner": "ops",
               "links": {"self": format!("{}/v3/policies/{pid}", c.base)}})
    );
    assert_eq!(c.get(&format!("/v3/policies/{pid}"), &admin).await.expect(200).body["policy"], p);
    c.post("/v3/policies", &admin, json!({"policy": {"blob": "b2", "type": "text/plain"}})).await.expect(201);
    let l = c.get("/v3/policies", &admin).await.expect(200);
    assert_eq!(l.body["policies"].as_array().unwrap().len(), 2);
    assert_eq!(l.body["links"]["self"], json!(format!("{}/v3/policies", c.base)));
    let l = c.get("/v3/policies?type=application/json", &admin).await.expect(200);
    assert_eq!(l.body["policies"], json!([p]));
    // update
    let r = c.patch(&format!("/v3/policies/{pid}"), &admin, json!({"policy": {"type": "text/yaml"}})).await.expect(200);
    assert_eq!(r.body["policy"]["type"], "text/yaml");
    assert_eq!(r.body["policy"]["blob"], p["blob"]);
    assert_eq!(c.get(&format!("/v3/policies/{pid}"), &admin).await.expect(200).body["policy"]["type"], "text/yaml");
    // bad input
    c.post("/v3/policies", &admin, json!({"policy": {"type": "x"}})).await.expect_error(400);
    c.post("/v3/policies", &admin, json!({"policy": {"blob": "x"}})).await.expect_error(400);
    c.post("/v3/policies", &admin, json!({"policy": {"blob": 1, "type": "x"}})).await.expect_error(400);
    c.post("/v3/policies", &admin, json!({"policy": {"blob": "x", "type": "t".repeat(256)}})).await.expect_error(400);
    c.post("/v3/policies", &admin, json!({"blob": "x", "type": "x"})).await.expect_error(400);
    c.patch(&format!("/v3/policies/{pid}"), &admin, json!({"policy": {}})).await.expect_error(400);
    c.patch(&format!("/v3/policies/{pid}"), &admin, json!({"policy": {"id": NO_SUCH}})).await.expect_error(400);
    // what is not there
    c.get(&format!("/v3/policies/{NO_SUCH}"), &admin).await.expect_error(404);
    c.patch(&format!("/v3/policies/{NO_SUCH}"), &admin, json!({"policy": {"type": "x"}})).await.expect_error(404);
    c.delete(&format!("/v3/policies/{NO_SUCH}"), &admin).await.expect_error(404);
    // a member
    let demo = c.demo_token().await;
    c.get("/v3/policies", &demo).await.expect_error(403);
    c.get(&format!("/v3/policies/{pid}"), &demo).await.expect_error(403);
    c.post("/v3/policies", &demo, json!({"policy": {"blob": "x", "type": "x"}})).await.expect_error(403);
    // delete
    c.delete(&format!("/v3/policies/{pid}"), &admin).await.expect(204);
    c.get(&format!("/v3/policies/{pid}"), &admin).await.expect_error(404);
}

// ---------------------------------------------------------------- limits

async fn service(c: &TestCloud, admin: &str, kind: &str) -> String {
    s(&c.post("/v3/services", admin, json!({"service": {"type": kind, "name": kind}})).await.expect(201).body
        ["service"]["id"])
}

#[tokio::test]
async fn registered_limits_crud() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let svc = service(&c, &admin, "compute").await;
    let r = c
        .post(
            "/v3/registered_limits",
            &admin,
            json!({"registered_limits": [
                {"service_id": svc, "resource_name": "cores", "default_limit": 10},
                {"service_id": svc, "region_id": "RegionOne", "resource_name": "ram", "default_limit": 1024, "description": "MB"}]}),
        )
        .await
        .expect(201);
    let created = r.body["registered_limits"].as_array().unwrap().clone();
    assert_eq!(r.body.as_object().unwrap().len(), 1, "no links on create");
    let cores = created[0].clone();
    let cid = s(&cores["id"]);
    assert_eq!(
        cores,
        json!({"id": cid, "service_id": svc, "region_id": null, "resource_name": "cores", "default_limit": 10, "description": null,
               "links": {"self": format!("{}/v3/registered_limits/{cid}", c.base)}})
    );
    assert_eq!(created[1]["region_id"], "RegionOne");
    assert_eq!(
        c.get(&format!("/v3/registered_limits/{cid}"), &admin).await.expect(200).body["registered_limit"],
        cores
    );
    // any token reads them
    let demo = c.demo_token().await;
    let l = c.get("/v3/registered_limits", &demo).await.expect(200);
    assert_eq!(l.body["registered_limits"].as_array().unwrap().len(), 2);
    let l = c.get("/v3/registered_limits?resource_name=ram", &admin).await.expect(200);
    assert_eq!(l.body["registered_limits"], json!([created[1]]));
    let l = c.get("/v3/registered_limits?region_id=RegionOne", &admin).await.expect(200);
    assert_eq!(l.body["registered_limits"].as_array().unwrap().len(), 1);
    // duplicates: 409, none of the batch is made
    c.post(
        "/v3/registered_limits",
        &admin,
        json!({"registered_limits": [{"service_id": svc, "resource_name": "disk", "default_limit": 1},
                                     {"service_id": svc, "resource_name": "cores", "default_limit": 5}]}),
    )
    .await
    .expect_error(409);
    assert!(c.get("/v3/registered_limits?resource_name=disk", &admin).await.expect(200).body["registered_limits"]
        .as_array()
        .unwrap()
        .is_empty());
    // bad input
    let bad = |item: Value| json!({ "registered_limits": [item] });
    for b in [
        json!({"registered_limits": []}),
        json!({}),
        bad(json!({"resource_name": "x", "default_limit": 1})),
        bad(json!({"service_id": svc, "default_limit": 1})),
        bad(json!({"service_id": svc, "resource_name": "x"})),
        bad(json!({"service_id": svc, "resource_name": "x", "default_limit": -2})),
        bad(json!({"service_id": svc, "resource_name": "x", "default_limit": 2147483648i64})),
        bad(json!({"service_id": svc, "resource_name": "x", "default_limit": "1"})),
        bad(json!({"service_id": svc, "resource_name": " ", "default_limit": 1})),
        bad(json!({"service_id": svc, "resource_name": "x", "default_limit": 1, "extra": 1})),
        bad(json!({"service_id": NO_SUCH, "resource_name": "x", "default_limit": 1})),
        bad(json!({"service_id": svc, "region_id": "nowhere", "resource_name": "x", "default_limit": 1})),
    ] {
        let r = c.post("/v3/registered_limits", &admin, b.clone()).await;
        assert_eq!(r.status.as_u16(), 400, "{b}: {}", r.body);
    }
    c.post("/v3/registered_limits", &demo, bad(json!({"service_id": svc, "resource_name": "x", "default_limit": 1})))
        .await
        .expect_error(403);
    // update
    let r = c
        .patch(
            &format!("/v3/registered_limits/{cid}"),
            &admin,
            json!({"registered_limit": {"default_limit": 20, "description": "cpu"}}),
        )
        .await
        .expect(200);
    assert_eq!(r.body["registered_limit"]["default_limit"], 20);
    assert_eq!(r.body["registered_limit"]["description"], "cpu");
    let rid = s(&created[1]["id"]);
    c.patch(
        &format!("/v3/registered_limits/{rid}"),
        &admin,
        json!({"registered_limit": {"region_id": null, "resource_name": "cores"}}),
    )
    .await
    .expect_error(409);
    c.patch(&format!("/v3/registered_limits/{cid}"), &admin, json!({"registered_limit": {"nonesuch": 1}}))
        .await
        .expect_error(400);
    c.patch(&format!("/v3/registered_limits/{NO_SUCH}"), &admin, json!({"registered_limit": {"default_limit": 1}}))
        .await
        .expect_error(404);
    // delete
    c.delete(&format!("/v3/registered_limits/{rid}"), &admin).await.expect(204);
    c.get(&format!("/v3/registered_limits/{rid}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/registered_limits/{rid}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/registered_limits/{cid}"), &demo).await.expect_error(403);
}

#[tokio::test]
async fn project_and_domain_limits() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let demo = c.demo_token().await;
    let svc = service(&c, &admin, "volume").await;
    let demo_pid = project_id(&c, "demo").await;
    let admin_pid = project_id(&c, "admin").await;
    let r = c
        .post(
            "/v3/registered_limits",
            &admin,
            json!({"registered_limits": [{"service_id": svc, "resource_name": "volumes", "default_limit": 10}]}),
        )
        .await
        .expect(201);
    let reg = s(&r.body["registered_limits"][0]["id"]);
    // model
    let m = c.get("/v3/limits/model", &demo).await.expect(200);
    assert_eq!(m.body["model"]["name"], "flat");
    assert!(m.body["model"]["description"].is_string());

    // limit_for: the registered default, by service id or type
    assert_eq!(c.identity.limit_for(&demo_pid, &svc, "volumes").await.unwrap(), Some(10));
    assert_eq!(c.identity.limit_for(&demo_pid, "volume", "volumes").await.unwrap(), Some(10));
    assert_eq!(c.identity.limit_for(&demo_pid, "volume", "snapshots").await.unwrap(), None);

    let r = c
        .post(
            "/v3/limits",
            &admin,
            json!({"limits": [
                {"service_id": svc, "resource_name": "volumes", "project_id": demo_pid, "resource_limit": 5},
                {"service_id": svc, "resource_name": "volumes", "project_id": admin_pid, "resource_limit": 50, "description": "more"},
                {"service_id": svc, "resource_name": "volumes", "domain_id": "default", "resource_limit": 100}]}),
        )
        .await
        .expect(201);
    let made = r.body["limits"].as_array().unwrap().clone();
    let lid = s(&made[0]["id"]);
    assert_eq!(
        made[0],
        json!({"id": lid, "project_id": demo_pid, "domain_id": null, "service_id": svc, "region_id": null,
               "resource_name": "volumes", "resource_limit": 5, "description": null,
               "links": {"self": format!("{}/v3/limits/{lid}", c.base)}})
    );
    assert_eq!(made[2]["domain_id"], "default");
    assert_eq!(made[2]["project_id"], Value::Null);
    assert_eq!(c.identity.limit_for(&demo_pid, "volume", "volumes").await.unwrap(), Some(5));
    // the admin sees all; a project member its project's
    assert_eq!(c.get("/v3/limits", &admin).await.expect(200).body["limits"].as_array().unwrap().len(), 3);
    let l = c.get("/v3/limits", &demo).await.expect(200);
    assert_eq!(l.body["limits"], json!([made[0]]));
    assert_eq!(c.get(&format!("/v3/limits?project_id={admin_pid}"), &demo).await.expect(200).body["limits"], json!([]));
    assert_eq!(
        c.get(&format!("/v3/limits?project_id={admin_pid}"), &admin).await.expect(200).body["limits"],
        json!([made[1]])
    );
    assert_eq!(c.get("/v3/limits?domain_id=default", &admin).await.expect(200).body["limits"], json!([made[2]]));
    // show: the member its own only
    assert_eq!(c.get(&format!("/v3/limits/{lid}"), &demo).await.expect(200).body["limit"], made[0]);
    c.get(&format!("/v3/limits/{}", s(&made[1]["id"])), &demo).await.expect_error(403);
    c.get(&format!("/v3/limits/{NO_SUCH}"), &admin).await.expect_error(404);

    // bad creates
    let one = |item: Value| json!({ "limits": [item] });
    for (b, status) in [
        (one(json!({"service_id": svc, "resource_name": "volumes", "resource_limit": 1})), 400),
        (
            one(
                json!({"service_id": svc, "resource_name": "volumes", "resource_limit": 1, "project_id": demo_pid, "domain_id": "default"}),
            ),
            400,
        ),
        (one(json!({"service_id": svc, "resource_name": "volumes", "project_id": demo_pid})), 400),
        (
            one(json!({"service_id": svc, "resource_name": "volumes", "resource_limit": -5, "project_id": demo_pid})),
            400,
        ),
        (one(json!({"service_id": svc, "resource_name": "volumes", "resource_limit": 1, "project_id": NO_SUCH})), 400),
        (one(json!({"service_id": svc, "resource_name": "volumes", "resource_limit": 1, "domain_id": NO_SUCH})), 400),
        (
            one(
                json!({"service_id": NO_SUCH, "resource_name": "volumes", "resource_limit": 1, "project_id": demo_pid}),
            ),
            400,
        ),
        (
            one(json!({"service_id": svc, "resource_name": "snapshots", "resource_limit": 1, "project_id": demo_pid})),
            403,
        ),
        (one(json!({"service_id": svc, "resource_name": "volumes", "resource_limit": 1, "project_id": demo_pid})), 409),
    ] {
        let r = c.post("/v3/limits", &admin, b.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{b}: {}", r.body);
    }
    c.post(
        "/v3/limits",
        &demo,
        one(json!({"service_id": svc, "resource_name": "volumes", "resource_limit": 1, "domain_id": "default"})),
    )
    .await
    .expect_error(403);

    // a registered limit in use cannot change or go
    c.patch(&format!("/v3/registered_limits/{reg}"), &admin, json!({"registered_limit": {"default_limit": 3}}))
        .await
        .expect_error(403);
    c.delete(&format!("/v3/registered_limits/{reg}"), &admin).await.expect_error(403);

    // update a limit
    let r = c
        .patch(&format!("/v3/limits/{lid}"), &admin, json!({"limit": {"resource_limit": 7, "description": "seven"}}))
        .await
        .expect(200);
    assert_eq!(r.body["limit"]["resource_limit"], 7);
    assert_eq!(r.body["limit"]["description"], "seven");
    assert_eq!(c.identity.limit_for(&demo_pid, &svc, "volumes").await.unwrap(), Some(7));
    c.patch(&format!("/v3/limits/{lid}"), &admin, json!({"limit": {"service_id": svc}})).await.expect_error(400);
    c.patch(&format!("/v3/limits/{lid}"), &admin, json!({"limit": {"resource_limit": "7"}})).await.expect_error(400);
    c.patch(&format!("/v3/limits/{lid}"), &demo, json!({"limit": {"resource_limit": 8}})).await.expect_error(403);
    c.patch(&format!("/v3/limits/{NO_SUCH}"), &admin, json!({"limit": {"resource_limit": 8}})).await.expect_error(404);

    // deleting a project deletes its limits
    let p = s(&project(&c, &admin, json!({"name": "limited"})).await["id"]);
    c.post(
        "/v3/limits",
        &admin,
        one(json!({"service_id": svc, "resource_name": "volumes", "resource_limit": 1, "project_id": p})),
    )
    .await
    .expect(201);
    c.delete(&format!("/v3/projects/{p}"), &admin).await.expect(204);
    assert_eq!(c.get(&format!("/v3/limits?project_id={p}"), &admin).await.expect(200).body["limits"], json!([]));

    // delete the rest, then the registered limit can go
    for l in c.get("/v3/limits", &admin).await.expect(200).body["limits"].as_array().unwrap() {
        c.delete(&format!("/v3/limits/{}", s(&l["id"])), &admin).await.expect(204);
    }
    c.delete(&format!("/v3/limits/{lid}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/registered_limits/{reg}"), &admin).await.expect(204);
    assert_eq!(c.identity.limit_for(&demo_pid, &svc, "volumes").await.unwrap(), None);
}

// ---------------------------------------------------------------- both backends

/// The SQL of these resources on every configured backend (PostgreSQL when
/// RUSTACK_TEST_POSTGRES_URL is set): tags, subtree, inheritance, domain
/// configuration, policies, limits, and the domain cascade over them.
#[tokio::test]
async fn resources_on_every_backend() {
    for db in rustack_db::testing::all_backends().await {
        let c = TestCloud::start_with(db, "").await;
        let admin = c.admin_token().await;
        let did = domain(&c, &admin, "everywhere").await;
        let top = s(&project(&c, &admin, json!({"name": "top", "domain_id": did, "tags": ["x"]})).await["id"]);
        let below = s(&project(&c, &admin, json!({"name": "below", "parent_id": top})).await["id"]);
        c.put(&format!("/v3/projects/{top}/tags/y"), &admin).await.expect(201);
        assert_eq!(ids(&c.get("/v3/projects?tags=x,y", &admin).await.expect(200).body["projects"]), vec![top.clone()]);
        let r = c.get(&format!("/v3/projects/{top}?subtree_as_ids"), &admin).await.expect(200);
        assert_eq!(r.body["project"]["subtree"], json!({ below.clone(): null }));
        // inheritance
        let uid = user(&c, &admin, "eu", &did).await;
        let member = c.role_id("member").await;
        c.put(&format!("/v3/OS-INHERIT/projects/{top}/users/{uid}/roles/{member}/inherited_to_projects"), &admin)
            .await
            .expect(204);
        assert_eq!(role_names(&token_for(&c, &uid, &below).await.expect(201).body), vec!["member", "reader"]);
        // configuration
        let base = format!("/v3/domains/{did}/config");
        put_json(
            &c,
            &base,
            &admin,
            json!({"config": {"identity": {"driver": "ldap", "list_limit": 5}, "ldap": {"password": "p"}}}),
        )
        .await
        .expect(201);
        c.patch(&format!("{base}/identity/driver"), &admin, json!({"config": {"driver": "sql"}})).await.expect(200);
        assert_eq!(
            c.get(&base, &admin).await.expect(200).body["config"],
            json!({"identity": {"driver": "sql", "list_limit": 5}})
        );
        c.delete(&format!("{base}/identity/list_limit"), &admin).await.expect(204);
        // policies
        let pid = s(&c
            .post("/v3/policies", &admin, json!({"policy": {"blob": "b", "type": "t", "k": 1}}))
            .await
            .expect(201)
            .body["policy"]["id"]);
        c.patch(&format!("/v3/policies/{pid}"), &admin, json!({"policy": {"blob": "b2"}})).await.expect(200);
        assert_eq!(c.get("/v3/policies?type=t", &admin).await.expect(200).body["policies"][0]["blob"], "b2");
        // limits
        let svc = service(&c, &admin, "compute").await;
        let r = c
            .post(
                "/v3/registered_limits",
                &admin,
                json!({"registered_limits": [{"service_id": svc, "resource_name": "cores", "default_limit": 4}]}),
            )
            .await
            .expect(201);
        let reg = s(&r.body["registered_limits"][0]["id"]);
        c.post(
            "/v3/limits",
            &admin,
            json!({"limits": [{"service_id": svc, "resource_name": "cores", "project_id": below, "resource_limit": 2},
                              {"service_id": svc, "resource_name": "cores", "domain_id": did, "resource_limit": 8}]}),
        )
        .await
        .expect(201);
        assert_eq!(c.identity.limit_for(&below, "compute", "cores").await.unwrap(), Some(2));
        assert_eq!(c.identity.limit_for(&top, "compute", "cores").await.unwrap(), Some(4));
        let l = c.get(&format!("/v3/limits?service_id={svc}&resource_name=cores"), &admin).await.expect(200);
        assert_eq!(l.body["limits"].as_array().unwrap().len(), 2);
        // the domain goes, with its configuration and limits
        c.patch(&format!("/v3/domains/{did}"), &admin, json!({"domain": {"enabled": false}})).await.expect(200);
        c.delete(&format!("/v3/domains/{did}"), &admin).await.expect(204);
        assert!(c.identity.store().domain_config(&did, None, None).await.unwrap().is_empty());
        assert_eq!(c.get("/v3/limits", &admin).await.expect(200).body["limits"], json!([]));
        c.delete(&format!("/v3/registered_limits/{reg}"), &admin).await.expect(204);
    }
}
