//! `/v3/roles` (global and domain-specific), implied roles, role grants on
//! projects, domains and the system (users and groups), and
//! `/v3/role_assignments` with its filters, `effective` and `include_names`.

mod common;

use common::*;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

const NO_SUCH: &str = "0123456789abcdef0123456789abcdef";

// ---------------------------------------------------------------- roles

#[tokio::test]
async fn bootstrap_roles_and_inferences() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let l = c.get("/v3/roles", &admin).await.expect(200);
    let mut got = names(&l.body, "roles");
    got.sort();
    assert_eq!(got, strs(&["admin", "manager", "member", "reader", "service"]));
    let inf = c.get("/v3/role_inferences", &admin).await.expect(200);
    let mut pairs: Vec<(String, String)> = Vec::new();
    for e in inf.body["role_inferences"].as_array().unwrap() {
        assert_keys(e, &["prior_role", "implies"]);
        for i in e["implies"].as_array().unwrap() {
            assert_keys(i, &["id", "name", "links"]);
            pairs.push((e["prior_role"]["name"].as_str().unwrap().into(), i["name"].as_str().unwrap().into()));
        }
    }
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            ("admin".into(), "manager".into()),
            ("manager".into(), "member".into()),
            ("member".into(), "reader".into())
        ]
    );
}

#[tokio::test]
async fn role_create_show_list_update_delete() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r =
        c.post("/v3/roles", &admin, json!({"role": {"name": "observer", "description": "looks"}})).await.expect(201);
    let role = r.body["role"].clone();
    assert_keys(&role, &["id", "name", "domain_id", "description", "options", "links"]);
    assert_hex_id(&role["id"]);
    let rid = role["id"].as_str().unwrap();
    assert_eq!(role["domain_id"], Value::Null);
    assert_eq!(role["description"], "looks");
    assert_eq!(role["links"], json!({"self": format!("{}/v3/roles/{rid}", c.base)}));
    assert_eq!(c.get(&format!("/v3/roles/{rid}"), &admin).await.expect(200).body["role"], role);
    assert!(c.get("/v3/roles", &admin).await.expect(200).body["roles"].as_array().unwrap().contains(&role));
    assert_eq!(c.get("/v3/roles?name=observer", &admin).await.expect(200).body["roles"], json!([role]));
    let r = c.patch(&format!("/v3/roles/{rid}"), &admin, json!({"role": {"name": "watcher"}})).await.expect(200);
    assert_eq!(r.body["role"]["name"], "watcher");
    assert_eq!(r.body["role"]["id"], json!(rid));
    assert_eq!(r.body["role"]["description"], "looks");
    assert_eq!(c.get(&format!("/v3/roles/{rid}"), &admin).await.expect(200).body["role"]["name"], "watcher");
    c.delete(&format!("/v3/roles/{rid}"), &admin).await.expect(204);
    c.get(&format!("/v3/roles/{rid}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/roles/{rid}"), &admin).await.expect_error(404);
}

#[tokio::test]
async fn role_without_description_shows_null() {
    // Keystone's role description column is nullable: not given → null.
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r = new_role(&c, &admin, "plain").await;
    assert_eq!(r["description"], Value::Null, "{r}");
}

#[tokio::test]
async fn role_bad_input_and_duplicates() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    expect_400_naming(c.post("/v3/roles", &admin, json!({"role": {"name": ""}})).await, "name");
    expect_400_naming(c.post("/v3/roles", &admin, json!({"role": {"name": "x".repeat(256)}})).await, "name");
    expect_400_naming(c.post("/v3/roles", &admin, json!({"role": {}})).await, "name");
    c.post("/v3/roles", &admin, json!({"role": {"name": "member"}})).await.expect_error(409);
    let l = c.get("/v3/roles", &admin).await.expect(200);
    assert_eq!(l.body["roles"].as_array().unwrap().len(), 5);
    // the same name as a global role is fine inside a domain
    let d = new_domain(&c, &admin, "rd").await;
    let dr = create(&c, &admin, "roles", "role", json!({"name": "member", "domain_id": d["id"]})).await;
    assert_eq!(dr["domain_id"], d["id"]);
    c.post("/v3/roles", &admin, json!({"role": {"name": "member", "domain_id": d["id"]}})).await.expect_error(409);
    // renaming onto a taken name: 409, unchanged
    let r = new_role(&c, &admin, "spare").await;
    let rid = r["id"].as_str().unwrap();
    c.patch(&format!("/v3/roles/{rid}"), &admin, json!({"role": {"name": "admin"}})).await.expect_error(409);
    assert_eq!(c.get(&format!("/v3/roles/{rid}"), &admin).await.expect(200).body["role"], r);
}

#[tokio::test]
async fn domain_roles_are_listed_only_by_domain() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "rd").await;
    let did = d["id"].as_str().unwrap();
    let dr = create(&c, &admin, "roles", "role", json!({"name": "local", "domain_id": did})).await;
    let l = c.get(&format!("/v3/roles?domain_id={did}"), &admin).await.expect(200);
    assert_eq!(l.body["roles"], json!([dr]));
    let l = c.get("/v3/roles", &admin).await.expect(200);
    assert!(l.body["roles"].as_array().unwrap().iter().all(|r| r["domain_id"].is_null()));
    c.delete(&format!("/v3/roles/{}", dr["id"].as_str().unwrap()), &admin).await.expect(204);
    assert_eq!(c.get(&format!("/v3/roles?domain_id={did}"), &admin).await.expect(200).body["roles"], json!([]));
}

#[tokio::test]
async fn member_policy_on_roles() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let member = c.role_id("member").await;
    c.get("/v3/roles", &demo).await.expect_error(403);
    c.get(&format!("/v3/roles/{member}"), &demo).await.expect_error(403);
    c.post("/v3/roles", &demo, json!({"role": {"name": "mine"}})).await.expect_error(403);
    c.patch(&format!("/v3/roles/{member}"), &demo, json!({"role": {"name": "x"}})).await.expect_error(403);
    c.delete(&format!("/v3/roles/{member}"), &demo).await.expect_error(403);
    c.get("/v3/role_inferences", &demo).await.expect_error(403);
    c.get(&format!("/v3/roles/{NO_SUCH}"), &demo).await.expect_error(404);
    assert_eq!(c.get(&format!("/v3/roles/{member}"), &admin).await.expect(200).body["role"]["name"], "member");
    assert_eq!(c.get("/v3/roles", &admin).await.expect(200).body["roles"].as_array().unwrap().len(), 5);
}

// ---------------------------------------------------------------- implied roles

#[tokio::test]
async fn implied_role_create_check_show_delete() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r0 = new_role(&c, &admin, "r0").await;
    let r1 = new_role(&c, &admin, "r1").await;
    let (a, b) = (r0["id"].as_str().unwrap(), r1["id"].as_str().unwrap());
    let path = format!("/v3/roles/{a}/implies/{b}");
    let brief = |r: &Value| json!({"id": r["id"], "name": r["name"], "links": r["links"]});
    let created = c.put(&path, &admin).await.expect(201);
    assert_eq!(
        created.body,
        json!({"role_inference": {"prior_role": brief(&r0), "implies": brief(&r1)}, "links": {"self": format!("{}{path}", c.base)}})
    );
    let r = c.head(&path, &admin).await.expect(204);
    assert_eq!(r.body, Value::Null);
    let g = c.get(&path, &admin).await.expect(200);
    assert_eq!(g.body["role_inference"]["implies"], brief(&r1));
    assert_eq!(g.body["role_inference"]["prior_role"], brief(&r0));
    let l = c.get(&format!("/v3/roles/{a}/implies"), &admin).await.expect(200);
    assert_eq!(l.body["role_inference"]["implies"], json!([brief(&r1)]));
    assert_eq!(l.body["links"]["self"], json!(format!("{}/v3/roles/{a}/implies", c.base)));
    c.delete(&path, &admin).await.expect(204);
    c.get(&path, &admin).await.expect_error(404);
    assert_eq!(c.head(&path, &admin).await.status.as_u16(), 404);
    c.delete(&path, &admin).await.expect_error(404);
    // unknown roles
    c.put(&format!("/v3/roles/{a}/implies/{NO_SUCH}"), &admin).await.expect_error(404);
    c.put(&format!("/v3/roles/{NO_SUCH}/implies/{a}"), &admin).await.expect_error(404);
    // the member may not
    let demo = c.demo_token().await;
    c.put(&path, &demo).await.expect_error(403);
    c.get(&path, &admin).await.expect_error(404);
}

#[tokio::test]
async fn implied_role_hierarchy_and_inference_list() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r0 = new_role(&c, &admin, "h0").await;
    let r1 = new_role(&c, &admin, "h1").await;
    let r2 = new_role(&c, &admin, "h2").await;
    let r3 = new_role(&c, &admin, "h3").await;
    let id = |r: &Value| r["id"].as_str().unwrap().to_string();
    for (p, i) in [(&r0, &r1), (&r0, &r2), (&r2, &r3)] {
        c.put(&format!("/v3/roles/{}/implies/{}", id(p), id(i)), &admin).await.expect(201);
    }
    let l = c.get(&format!("/v3/roles/{}/implies", id(&r2)), &admin).await.expect(200);
    assert_eq!(ids(&l.body["role_inference"], "implies"), vec![id(&r3)]);
    let l = c.get(&format!("/v3/roles/{}/implies", id(&r0)), &admin).await.expect(200);
    let mut got = ids(&l.body["role_inference"], "implies");
    got.sort();
    let mut want = vec![id(&r1), id(&r2)];
    want.sort();
    assert_eq!(got, want);
    let inf = c.get("/v3/role_inferences", &admin).await.expect(200);
    let entries = inf.body["role_inferences"].as_array().unwrap();
    let of = |r: &Value| entries.iter().find(|e| e["prior_role"]["id"] == r["id"]).cloned();
    assert_eq!(of(&r0).unwrap()["implies"].as_array().unwrap().len(), 2, "one entry per prior role");
    assert_eq!(of(&r2).unwrap()["implies"].as_array().unwrap().len(), 1);
    assert!(of(&r1).is_none());
    // a user granted h0 gets h0, h1, h2 and h3 in its token
    let pid = project_id(&c, "demo").await;
    let u = new_user(&c, &admin, "hu", "pw-123456", "default").await;
    let uid = u["id"].as_str().unwrap();
    grant_project_user(&c, &admin, &pid, uid, &id(&r0)).await;
    let r = auth_id(&c, uid, "pw-123456", Some(project_scope(&pid))).await.expect(201);
    assert_eq!(role_names(&r.body), strs(&["h0", "h1", "h2", "h3"]));
}

#[tokio::test]
async fn implied_role_restrictions() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "ird").await;
    let d2 = new_domain(&c, &admin, "ird2").await;
    let global = new_role(&c, &admin, "glob").await;
    let dr1 = create(&c, &admin, "roles", "role", json!({"name": "dr1", "domain_id": d["id"]})).await;
    let dr2 = create(&c, &admin, "roles", "role", json!({"name": "dr2", "domain_id": d["id"]})).await;
    let dr3 = create(&c, &admin, "roles", "role", json!({"name": "dr3", "domain_id": d2["id"]})).await;
    let id = |r: &Value| r["id"].as_str().unwrap().to_string();
    // domain role ⇒ domain role (same or other domain) and ⇒ global: fine
    c.put(&format!("/v3/roles/{}/implies/{}", id(&dr1), id(&dr2)), &admin).await.expect(201);
    c.put(&format!("/v3/roles/{}/implies/{}", id(&dr1), id(&dr3)), &admin).await.expect(201);
    c.put(&format!("/v3/roles/{}/implies/{}", id(&dr1), id(&global)), &admin).await.expect(201);
    // global ⇒ domain role: 403
    c.put(&format!("/v3/roles/{}/implies/{}", id(&global), id(&dr1)), &admin).await.expect_error(403);
    c.get(&format!("/v3/roles/{}/implies/{}", id(&global), id(&dr1)), &admin).await.expect_error(404);
    // nothing may imply admin (prohibited_implied_role)
    c.put(&format!("/v3/roles/{}/implies/{}", id(&global), c.role_id("admin").await), &admin).await.expect_error(403);
    c.get(&format!("/v3/roles/{}/implies", id(&global)), &admin).await.expect(200);
    assert_eq!(
        c.get(&format!("/v3/roles/{}/implies", id(&global)), &admin).await.expect(200).body["role_inference"]
            ["implies"],
        json!([])
    );
}

// ---------------------------------------------------------------- grants

#[tokio::test]
async fn user_grants_on_a_project() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let p = new_project(&c, &admin, "gp", "default").await;
    let pid = p["id"].as_str().unwrap();
    let u = new_user(&c, &admin, "gu", "pw-123456", "default").await;
    let uid = u["id"].as_str().unwrap();
    let role = new_role(&c, &admin, "grole").await;
    let rid = role["id"].as_str().unwrap();
    let base = format!("/v3/projects/{pid}/users/{uid}/roles");
    c.head(&format!("{base}/{rid}"), &admin).await.expect(404);
    grant_project_user(&c, &admin, pid, uid, rid).await;
    // granting again is idempotent
    grant_project_user(&c, &admin, pid, uid, rid).await;
    let l = c.get(&base, &admin).await.expect(200);
    assert_eq!(l.body["roles"], json!([role]));
    assert_eq!(l.body["links"]["self"], json!(format!("{}{base}", c.base)));
    let r = c.head(&format!("{base}/{rid}"), &admin).await.expect(204);
    assert_eq!(r.body, Value::Null);
    let r = c.get(&format!("{base}/{rid}"), &admin).await.expect(204);
    assert_eq!(r.body, Value::Null);
    // the grant list is direct grants only: member implies reader, reader is not listed
    grant_project_user(&c, &admin, pid, uid, &c.role_id("member").await).await;
    let mut got = names(&c.get(&base, &admin).await.expect(200).body, "roles");
    got.sort();
    assert_eq!(got, strs(&["grole", "member"]));
    c.delete(&format!("{base}/{rid}"), &admin).await.expect(204);
    assert_eq!(c.head(&format!("{base}/{rid}"), &admin).await.status.as_u16(), 404);
    c.delete(&format!("{base}/{rid}"), &admin).await.expect_error(404);
    assert_eq!(names(&c.get(&base, &admin).await.expect(200).body, "roles"), strs(&["member"]));
}

#[tokio::test]
async fn grants_on_unknown_things_are_404_and_make_nothing() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let pid = project_id(&c, "demo").await;
    let uid = demo_id(&c).await;
    let rid = c.role_id("reader").await;
    c.put(&format!("/v3/projects/{pid}/users/{uid}/roles/{NO_SUCH}"), &admin).await.expect_error(404);
    c.put(&format!("/v3/projects/{NO_SUCH}/users/{uid}/roles/{rid}"), &admin).await.expect_error(404);
    c.put(&format!("/v3/projects/{pid}/users/{NO_SUCH}/roles/{rid}"), &admin).await.expect_error(404);
    c.put(&format!("/v3/projects/{pid}/groups/{NO_SUCH}/roles/{rid}"), &admin).await.expect_error(404);
    c.put(&format!("/v3/domains/{NO_SUCH}/users/{uid}/roles/{rid}"), &admin).await.expect_error(404);
    c.put(&format!("/v3/system/users/{NO_SUCH}/roles/{rid}"), &admin).await.expect_error(404);
    c.get(&format!("/v3/projects/{NO_SUCH}/users/{uid}/roles"), &admin).await.expect_error(404);
    c.get(&format!("/v3/system/groups/{NO_SUCH}/roles"), &admin).await.expect_error(404);
    let ra = c.get(&format!("/v3/role_assignments?user.id={uid}"), &admin).await.expect(200);
    assert_eq!(
        ra.body["role_assignments"].as_array().unwrap().len(),
        1,
        "only the bootstrap member grant: {}",
        ra.body
    );
}

#[tokio::test]
async fn user_grants_on_a_domain_and_the_system() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "gd").await;
    let did = d["id"].as_str().unwrap();
    let u = new_user(&c, &admin, "gdu", "pw-123456", did).await;
    let uid = u["id"].as_str().unwrap();
    let role = new_role(&c, &admin, "dgrole").await;
    let rid = role["id"].as_str().unwrap();
    for base in [format!("/v3/domains/{did}/users/{uid}/roles"), format!("/v3/system/users/{uid}/roles")] {
        c.put(&format!("{base}/{rid}"), &admin).await.expect(204);
        assert_eq!(c.get(&base, &admin).await.expect(200).body["roles"], json!([role]), "{base}");
        c.head(&format!("{base}/{rid}"), &admin).await.expect(204);
        c.delete(&format!("{base}/{rid}"), &admin).await.expect(204);
        assert_eq!(c.get(&base, &admin).await.expect(200).body["roles"], json!([]), "{base}");
        assert_eq!(c.head(&format!("{base}/{rid}"), &admin).await.status.as_u16(), 404);
    }
}

#[tokio::test]
async fn group_grants_reach_members_tokens() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "ggd").await;
    let did = d["id"].as_str().unwrap();
    let p = new_project(&c, &admin, "ggp", did).await;
    let pid = p["id"].as_str().unwrap();
    let g = create(&c, &admin, "groups", "group", json!({"name": "gg", "domain_id": did, "project_id": pid})).await;
    let gid = g["id"].as_str().unwrap();
    let u = new_user(&c, &admin, "ggu", "pw-123456", did).await;
    let uid = u["id"].as_str().unwrap();
    let role = new_role(&c, &admin, "ggrole").await;
    let rid = role["id"].as_str().unwrap();
    for (base, scope) in [
        (
            format!("/v3/projects/{pid}/groups/{gid}/roles"),
            json!({"project": {"name": "ggp", "domain": {"name": "ggd"}}}),
        ),
        (format!("/v3/domains/{did}/groups/{gid}/roles"), json!({"domain": {"name": "ggd"}})),
        (format!("/v3/system/groups/{gid}/roles"), system_scope()),
    ] {
        c.put(&format!("{base}/{rid}"), &admin).await.expect(204);
        assert_eq!(c.get(&base, &admin).await.expect(200).body["roles"], json!([role]), "{base}");
        c.put(&format!("/v3/groups/{gid}/users/{uid}"), &admin).await.expect(204);
        let r = auth(&c, json!({"identity": {"methods": ["password"], "password": {"user": {"id": uid, "password": "pw-123456", "domain": {"name": "ggd"}}}}, "scope": scope})).await.expect(201);
        assert_eq!(r.body["token"]["roles"], json!([{"id": rid, "name": "ggrole"}]), "{base}");
        c.head(&format!("{base}/{rid}"), &admin).await.expect(204);
        c.delete(&format!("{base}/{rid}"), &admin).await.expect(204);
        let t = subject(&r);
        validate(&c, &admin, &t).await.expect_error(404);
    }
}

#[tokio::test]
async fn domain_specific_roles_stay_in_their_domain() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "dsd").await;
    let did = d["id"].as_str().unwrap();
    let dr = create(&c, &admin, "roles", "role", json!({"name": "dsrole", "domain_id": did})).await;
    let drid = dr["id"].as_str().unwrap();
    let pin = new_project(&c, &admin, "inside", did).await;
    let pout = new_project(&c, &admin, "outside", "default").await;
    let u = new_user(&c, &admin, "dsu", "pw-123456", "default").await;
    let uid = u["id"].as_str().unwrap();
    // granting it on a project of another domain: 403, nothing made
    c.put(&format!("/v3/projects/{}/users/{uid}/roles/{drid}", pout["id"].as_str().unwrap()), &admin)
        .await
        .expect_error(403);
    assert_eq!(
        c.get(&format!("/v3/role_assignments?user.id={uid}"), &admin).await.expect(200).body["role_assignments"],
        json!([])
    );
    // inside its domain: 204, but it gives no access by itself (no roles in a token)
    let pin_id = pin["id"].as_str().unwrap();
    grant_project_user(&c, &admin, pin_id, uid, drid).await;
    expect_401(auth_id(&c, uid, "pw-123456", Some(project_scope(pin_id))).await);
    // and the effective assignment list leaves it out
    let ra = c
        .get(&format!("/v3/role_assignments?scope.project.id={pin_id}&user.id={uid}&effective"), &admin)
        .await
        .expect(200);
    assert_eq!(ra.body["role_assignments"], json!([]));
    // when it implies a global role, that role is effective
    c.put(&format!("/v3/roles/{drid}/implies/{}", c.role_id("reader").await), &admin).await.expect(201);
    let r = auth_id(&c, uid, "pw-123456", Some(project_scope(pin_id))).await.expect(201);
    assert_eq!(role_names(&r.body), strs(&["reader"]));
}

#[tokio::test]
async fn member_cannot_grant_or_read_grants() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let pid = project_id(&c, "demo").await;
    let uid = demo_id(&c).await;
    let admin_role = c.role_id("admin").await;
    c.put(&format!("/v3/projects/{pid}/users/{uid}/roles/{admin_role}"), &demo).await.expect_error(403);
    c.put(&format!("/v3/system/users/{uid}/roles/{admin_role}"), &demo).await.expect_error(403);
    c.put(&format!("/v3/domains/default/users/{uid}/roles/{admin_role}"), &demo).await.expect_error(403);
    c.get(&format!("/v3/projects/{pid}/users/{uid}/roles"), &demo).await.expect_error(403);
    c.delete(&format!("/v3/projects/{pid}/users/{uid}/roles/{}", c.role_id("member").await), &demo)
        .await
        .expect_error(403);
    c.get("/v3/role_assignments", &demo).await.expect_error(403);
    // nothing changed
    assert_eq!(role_names(&validate(&c, &admin, &demo).await.expect(200).body), strs(&["member", "reader"]));
    assert_eq!(c.get(&format!("/v3/system/users/{uid}/roles"), &admin).await.expect(200).body["roles"], json!([]));
}

#[tokio::test]
async fn deleting_a_role_removes_its_grants() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let pid = project_id(&c, "demo").await;
    let uid = demo_id(&c).await;
    let role = new_role(&c, &admin, "temp").await;
    let rid = role["id"].as_str().unwrap();
    grant_project_user(&c, &admin, &pid, &uid, rid).await;
    assert!(role_names(&validate(&c, &admin, &demo).await.expect(200).body).contains(&"temp".to_string()));
    c.delete(&format!("/v3/roles/{rid}"), &admin).await.expect(204);
    // the old token either ended or lost the role
    let v = validate(&c, &admin, &demo).await;
    if v.status.as_u16() == 200 {
        assert!(!role_names(&v.body).contains(&"temp".to_string()));
    } else {
        v.expect_error(404);
    }
    assert_eq!(
        names(&c.get(&format!("/v3/projects/{pid}/users/{uid}/roles"), &admin).await.expect(200).body, "roles"),
        strs(&["member"])
    );
    let ra = c.get(&format!("/v3/role_assignments?role.id={rid}"), &admin).await.expect(200);
    assert_eq!(ra.body["role_assignments"], json!([]));
    let t = c.demo_token().await;
    assert_eq!(role_names(&validate(&c, &admin, &t).await.expect(200).body), strs(&["member", "reader"]));
}

// ---------------------------------------------------------------- role assignments

#[tokio::test]
async fn role_assignments_list_and_filters() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let demo_pid = project_id(&c, "demo").await;
    let admin_pid = project_id(&c, "admin").await;
    let demo = demo_id(&c).await;
    let adm = admin_id(&c).await;
    let member = c.role_id("member").await;
    let admin_role = c.role_id("admin").await;
    let base = &c.base;
    let l = c.get("/v3/role_assignments", &admin).await.expect(200);
    let all = l.body["role_assignments"].as_array().unwrap();
    assert_eq!(all.len(), 5, "{}", l.body); // admin ×2, demo, the service user ×2
    assert!(all.contains(&json!({"role": {"id": member}, "user": {"id": demo}, "scope": {"project": {"id": demo_pid}},
                                 "links": {"assignment": format!("{base}/v3/projects/{demo_pid}/users/{demo}/roles/{member}")}})));
    assert!(all.contains(&json!({"role": {"id": admin_role}, "user": {"id": adm}, "scope": {"project": {"id": admin_pid}},
                                 "links": {"assignment": format!("{base}/v3/projects/{admin_pid}/users/{adm}/roles/{admin_role}")}})));
    assert!(
        all.contains(&json!({"role": {"id": admin_role}, "user": {"id": adm}, "scope": {"system": {"all": true}},
                                 "links": {"assignment": format!("{base}/v3/system/users/{adm}/roles/{admin_role}")}}))
    );
    assert_eq!(l.body["links"]["self"], json!(format!("{base}/v3/role_assignments")));
    // filters
    let l = c.get(&format!("/v3/role_assignments?user.id={demo}"), &admin).await.expect(200);
    assert_eq!(l.body["role_assignments"].as_array().unwrap().len(), 1);
    let l = c.get(&format!("/v3/role_assignments?scope.project.id={admin_pid}"), &admin).await.expect(200);
    assert_eq!(l.body["role_assignments"].as_array().unwrap().len(), 1);
    let l = c.get(&format!("/v3/role_assignments?role.id={admin_role}"), &admin).await.expect(200);
    assert_eq!(l.body["role_assignments"].as_array().unwrap().len(), 3, "admin ×2 and the service user");
    let l = c.get("/v3/role_assignments?scope.system=all", &admin).await.expect(200);
    assert_eq!(l.body["role_assignments"].as_array().unwrap().len(), 1);
    let l = c.get(&format!("/v3/role_assignments?user.id={NO_SUCH}"), &admin).await.expect(200);
    assert_eq!(l.body["role_assignments"], json!([]));
    // contradictory filters
    c.get(&format!("/v3/role_assignments?scope.project.id={demo_pid}&scope.domain.id=default"), &admin)
        .await
        .expect_error(400);
    c.get(&format!("/v3/role_assignments?group.id={NO_SUCH}&effective"), &admin).await.expect_error(400);
}

#[tokio::test]
async fn effective_role_assignments_expand_implied_roles() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "ed").await;
    let p = new_project(&c, &admin, "ep", d["id"].as_str().unwrap()).await;
    let pid = p["id"].as_str().unwrap();
    let u = new_user(&c, &admin, "eu", "pw-123456", d["id"].as_str().unwrap()).await;
    let uid = u["id"].as_str().unwrap();
    let r0 = new_role(&c, &admin, "e0").await;
    let r1 = new_role(&c, &admin, "e1").await;
    let (a, b) = (r0["id"].as_str().unwrap(), r1["id"].as_str().unwrap());
    grant_project_user(&c, &admin, pid, uid, a).await;
    c.put(&format!("/v3/roles/{a}/implies/{b}"), &admin).await.expect(201);
    // the bare `effective` flag, as tempest sends it
    let q = format!("/v3/role_assignments?scope.project.id={pid}&user.id={uid}&effective");
    let l = c.get(&q, &admin).await.expect(200);
    let items = l.body["role_assignments"].as_array().unwrap();
    let mut roles: Vec<String> = items.iter().map(|i| i["role"]["id"].as_str().unwrap().to_string()).collect();
    roles.sort();
    let mut want = vec![a.to_string(), b.to_string()];
    want.sort();
    assert_eq!(roles, want);
    let implied = items.iter().find(|i| i["role"]["id"] == json!(b)).unwrap();
    assert_eq!(implied["links"]["assignment"], json!(format!("{}/v3/projects/{pid}/users/{uid}/roles/{a}", c.base)));
    assert!(implied["links"]["prior_role"].is_string());
    // without effective: the one direct grant
    let l = c.get(&format!("/v3/role_assignments?scope.project.id={pid}&user.id={uid}"), &admin).await.expect(200);
    assert_eq!(l.body["role_assignments"].as_array().unwrap().len(), 1);
    // removing the rule: one entry again
    c.delete(&format!("/v3/roles/{a}/implies/{b}"), &admin).await.expect(204);
    let l = c.get(&q, &admin).await.expect(200);
    let roles: Vec<&Value> = l.body["role_assignments"].as_array().unwrap().iter().map(|i| &i["role"]["id"]).collect();
    assert_eq!(roles, vec![&json!(a)]);
}

#[tokio::test]
async fn implied_assignment_prior_role_link_is_keystones() {
    // keystone/api/role_assignments.py (Keystone 30) builds it as
    // '/prior_role/{prior}/implies/{implied}'.format(prior=entity['role_id'],
    // implied=entity['indirect']['role_id']): the entry's own (implied) role
    // comes first, the role it came from second.
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let pid = project_id(&c, "demo").await;
    let uid = demo_id(&c).await;
    let member = c.role_id("member").await;
    let reader = c.role_id("reader").await;
    let l = c
        .get(&format!("/v3/role_assignments?scope.project.id={pid}&user.id={uid}&effective"), &admin)
        .await
        .expect(200);
    let e = l.body["role_assignments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["role"]["id"] == json!(reader))
        .unwrap()
        .clone();
    assert_eq!(e["links"]["assignment"], json!(format!("{}/v3/projects/{pid}/users/{uid}/roles/{member}", c.base)));
    assert_eq!(e["links"]["prior_role"], json!(format!("{}/v3/prior_role/{reader}/implies/{member}", c.base)));
}

#[tokio::test]
async fn effective_role_assignments_expand_groups_and_include_names() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let p = new_project(&c, &admin, "np", "default").await;
    let pid = p["id"].as_str().unwrap();
    let g = new_group(&c, &admin, "ng", "default").await;
    let gid = g["id"].as_str().unwrap();
    let u = new_user(&c, &admin, "nu", "pw-123456", "default").await;
    let uid = u["id"].as_str().unwrap();
    let reader = c.role_id("reader").await;
    grant(&c, &admin, "projects", pid, "groups", gid, &reader).await;
    c.put(&format!("/v3/groups/{gid}/users/{uid}"), &admin).await.expect(204);
    // plain: the group assignment
    let l = c.get(&format!("/v3/role_assignments?scope.project.id={pid}"), &admin).await.expect(200);
    assert_eq!(
        l.body["role_assignments"],
        json!([{"role": {"id": reader}, "group": {"id": gid}, "scope": {"project": {"id": pid}},
                "links": {"assignment": format!("{}/v3/projects/{pid}/groups/{gid}/roles/{reader}", c.base)}}])
    );
    let l = c.get(&format!("/v3/role_assignments?group.id={gid}"), &admin).await.expect(200);
    assert_eq!(l.body["role_assignments"].as_array().unwrap().len(), 1);
    // effective: the member, with the membership link
    let l = c.get(&format!("/v3/role_assignments?scope.project.id={pid}&effective"), &admin).await.expect(200);
    assert_eq!(
        l.body["role_assignments"],
        json!([{"role": {"id": reader}, "user": {"id": uid}, "scope": {"project": {"id": pid}},
                "links": {"assignment": format!("{}/v3/projects/{pid}/groups/{gid}/roles/{reader}", c.base),
                          "membership": format!("{}/v3/groups/{gid}/users/{uid}", c.base)}}])
    );
    let l = c.get(&format!("/v3/role_assignments?user.id={uid}&effective"), &admin).await.expect(200);
    assert_eq!(l.body["role_assignments"].as_array().unwrap().len(), 1);
    // include_names
    let l = c
        .get(&format!("/v3/role_assignments?scope.project.id={pid}&effective&include_names"), &admin)
        .await
        .expect(200);
    let e = &l.body["role_assignments"][0];
    assert_eq!(e["role"], json!({"id": reader, "name": "reader"}));
    assert_eq!(e["user"], json!({"id": uid, "name": "nu", "domain": {"id": "default", "name": "Default"}}));
    assert_eq!(e["scope"]["project"], json!({"id": pid, "name": "np", "domain": {"id": "default", "name": "Default"}}));
    let l = c.get(&format!("/v3/role_assignments?group.id={gid}&include_names=True"), &admin).await.expect(200);
    assert_eq!(
        l.body["role_assignments"][0]["group"],
        json!({"id": gid, "name": "ng", "domain": {"id": "default", "name": "Default"}})
    );
}
