//! `/v3/users`, `/v3/groups`, group membership, a user's projects and groups:
//! shapes, validation, duplicates, filters, policy and atomicity.

mod common;

use common::*;
use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

const NO_SUCH: &str = "0123456789abcdef0123456789abcdef";

// ---------------------------------------------------------------- users

#[tokio::test]
async fn user_create_show_list_update_delete() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let r = c
        .post(
            "/v3/users",
            &admin,
            json!({"user": {"name": "alice", "password": "pw-123456", "email": "alice@testmail.tm"}}),
        )
        .await
        .expect(201);
    let u = r.body["user"].clone();
    assert_keys(&u, &["id", "name", "domain_id", "enabled", "password_expires_at", "options", "links", "email"]);
    assert_hex_id(&u["id"]);
    let uid = u["id"].as_str().unwrap().to_string();
    assert_eq!(u["domain_id"], "default");
    assert_eq!(u["enabled"], json!(true));
    assert_eq!(u["password_expires_at"], Value::Null);
    assert_eq!(u["options"], json!({}));
    assert_eq!(u["email"], "alice@testmail.tm");
    assert_eq!(u["links"], json!({"self": format!("{}/v3/users/{uid}", c.base)}));
    assert_eq!(c.get(&format!("/v3/users/{uid}"), &admin).await.expect(200).body["user"], u);
    let l = c.get("/v3/users", &admin).await.expect(200);
    assert!(l.body["users"].as_array().unwrap().contains(&u));
    // the user can authenticate
    auth_id(&c, &uid, "pw-123456", None).await.expect(201);
    // update (tempest sends the id back in the body)
    let r = c
        .patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"id": uid, "name": "alice2", "description": "d", "email": "a2@testmail.tm", "project_id": "pp", "enabled": false}}))
        .await
        .expect(200);
    let v = &r.body["user"];
    assert_eq!(v["name"], "alice2");
    assert_eq!(v["description"], "d");
    assert_eq!(v["email"], "a2@testmail.tm");
    assert_eq!(v["project_id"], "pp");
    assert_eq!(v["enabled"], json!(false));
    assert_eq!(c.get(&format!("/v3/users/{uid}"), &admin).await.expect(200).body["user"], r.body["user"]);
    let r = c.delete(&format!("/v3/users/{uid}"), &admin).await.expect(204);
    assert_eq!(r.body, Value::Null);
    c.get(&format!("/v3/users/{uid}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/users/{uid}"), &admin).await.expect_error(404);
}

#[tokio::test]
async fn user_extras_and_default_project_round_trip() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let demo_pid = project_id(&c, "demo").await;
    let u = create(
        &c,
        &admin,
        "users",
        "user",
        json!({"name": "bob", "description": "builder", "email": "b@x", "project_id": demo_pid, "default_project_id": demo_pid}),
    )
    .await;
    assert_eq!(u["description"], "builder");
    assert_eq!(u["project_id"], json!(demo_pid));
    assert_eq!(u["default_project_id"], json!(demo_pid));
    assert!(u.get("password").is_none());
    let uid = u["id"].as_str().unwrap();
    assert_eq!(c.get(&format!("/v3/users/{uid}"), &admin).await.expect(200).body["user"], u);
    // clearing default_project_id drops the key
    let r =
        c.patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"default_project_id": null}})).await.expect(200);
    assert!(r.body["user"].get("default_project_id").is_none(), "{}", r.body);
    // a user made without a password cannot authenticate
    expect_401(auth_id(&c, uid, "", None).await);
}

#[tokio::test]
async fn user_bad_input_makes_nothing() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let post = |b: Value| c.post("/v3/users", &admin, b);
    expect_400_naming(post(json!({"user": {"name": ""}})).await, "name");
    expect_400_naming(post(json!({"user": {"name": "  "}})).await, "name");
    expect_400_naming(post(json!({"user": {"name": "x".repeat(256)}})).await, "name");
    expect_400_naming(post(json!({"user": {"password": "p"}})).await, "name");
    expect_400_naming(post(json!({"user": {"name": "u", "enabled": "perhaps"}})).await, "enabled");
    expect_400_naming(post(json!({"user": {"name": "u", "password": 12}})).await, "password");
    expect_400_naming(post(json!({"user": {"name": "u", "domain_id": 5}})).await, "domain_id");
    expect_400_naming(post(json!({"usr": {"name": "u"}})).await, "user");
    // a domain that does not exist: 404 (tempest test_create_user_for_non_existent_domain)
    post(json!({"user": {"name": "u", "domain_id": NO_SUCH}})).await.expect_error(404);
    let l = c.get("/v3/users", &admin).await.expect(200);
    assert_eq!(names(&l.body, "users"), strs(&["admin", "demo", "rustack"]));
    // 255 characters is fine; a string boolean is accepted for users
    let u = create(&c, &admin, "users", "user", json!({"name": "y".repeat(255), "enabled": "False"})).await;
    assert_eq!(u["enabled"], json!(false));
}

#[tokio::test]
async fn default_project_id_need_not_exist_or_share_the_domain() {
    // Keystone only refuses a domain as default project: "the referenced
    // project does not need to exist within the user domain", and an unknown
    // project id is accepted ("should be idempotent if project is not found").
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "od").await;
    let p = new_project(&c, &admin, "op", d["id"].as_str().unwrap()).await;
    let u = create(&c, &admin, "users", "user", json!({"name": "cross", "default_project_id": p["id"]})).await;
    assert_eq!(u["default_project_id"], p["id"]);
    assert_eq!(u["domain_id"], "default");
    let u = create(&c, &admin, "users", "user", json!({"name": "dangling", "default_project_id": NO_SUCH})).await;
    assert_eq!(u["default_project_id"], NO_SUCH);
    // a domain is not a project to default to: 400, nothing made
    c.post("/v3/users", &admin, json!({"user": {"name": "domdef", "default_project_id": "default"}}))
        .await
        .expect_error(400);
    assert_eq!(c.get("/v3/users?name=domdef", &admin).await.expect(200).body["users"], json!([]));
}

#[tokio::test]
async fn user_names_are_unique_per_domain() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    c.post("/v3/users", &admin, json!({"user": {"name": "demo"}})).await.expect_error(409);
    let d = new_domain(&c, &admin, "ud").await;
    let did = d["id"].as_str().unwrap();
    let u = new_user(&c, &admin, "demo", "pw-123456", did).await;
    assert_eq!(u["domain_id"], json!(did));
    // renaming onto a taken name: 409, nothing changed
    let x = new_user(&c, &admin, "x", "pw-123456", "default").await;
    let xid = x["id"].as_str().unwrap();
    c.patch(&format!("/v3/users/{xid}"), &admin, json!({"user": {"name": "admin"}})).await.expect_error(409);
    assert_eq!(c.get(&format!("/v3/users/{xid}"), &admin).await.expect(200).body["user"], x);
}

#[tokio::test]
async fn user_update_rules() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let u = new_user(&c, &admin, "upd", "pw-123456", "default").await;
    let uid = u["id"].as_str().unwrap();
    let d = new_domain(&c, &admin, "elsewhere").await;
    expect_400_naming(
        c.patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"id": NO_SUCH, "name": "n"}})).await,
        "id",
    );
    expect_400_naming(
        c.patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"domain_id": d["id"]}})).await,
        "domain_id",
    );
    expect_400_naming(c.patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"name": ""}})).await, "name");
    expect_400_naming(c.patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"enabled": 1}})).await, "enabled");
    assert_eq!(c.get(&format!("/v3/users/{uid}"), &admin).await.expect(200).body["user"], u);
    c.patch(&format!("/v3/users/{NO_SUCH}"), &admin, json!({"user": {"name": "n"}})).await.expect_error(404);
}

#[tokio::test]
async fn a_failed_user_update_changes_nothing() {
    // The name is valid but the password is longer than max_password_length
    // (4096). Whatever the server answers, a failed update must not have
    // renamed the user, and the old password must still work.
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let u = new_user(&c, &admin, "atomic", "pw-123456", "default").await;
    let uid = u["id"].as_str().unwrap();
    let r = c
        .patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"name": "renamed", "password": "p".repeat(5000)}}))
        .await;
    if r.status.is_client_error() {
        let g = c.get(&format!("/v3/users/{uid}"), &admin).await.expect(200);
        assert_eq!(g.body["user"]["name"], "atomic", "a rejected PATCH renamed the user");
        auth_id(&c, uid, "pw-123456", None).await.expect(201);
    } else {
        r.expect(200);
    }
}

#[tokio::test]
async fn user_list_filters() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "ld").await;
    let did = d["id"].as_str().unwrap();
    let u1 =
        create(&c, &admin, "users", "user", json!({"name": "u1", "password": "p", "email": "u1@x", "domain_id": did}))
            .await;
    let u2 =
        create(&c, &admin, "users", "user", json!({"name": "u2", "password": "p", "email": "u2@x", "enabled": false}))
            .await;
    let l = c.get(&format!("/v3/users?domain_id={did}"), &admin).await.expect(200);
    assert_eq!(l.body["users"], json!([u1]));
    let l = c.get("/v3/users?enabled=False", &admin).await.expect(200);
    assert_eq!(l.body["users"], json!([u2]));
    let l = c.get("/v3/users?name=u1", &admin).await.expect(200);
    assert_eq!(names(&l.body, "users"), strs(&["u1"]));
    let l = c.get("/v3/users?domain_id=default", &admin).await.expect(200);
    assert_eq!(names(&l.body, "users"), strs(&["admin", "demo", "rustack", "u2"]));
    let l = c.get("/v3/users", &admin).await.expect(200);
    assert_eq!(l.body["users"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn member_policy_on_users() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let demo_uid = demo_id(&c).await;
    let admin_uid = admin_id(&c).await;
    c.get("/v3/users", &demo).await.expect_error(403);
    c.post("/v3/users", &demo, json!({"user": {"name": "sneaky"}})).await.expect_error(403);
    c.get(&format!("/v3/users/{admin_uid}"), &demo).await.expect_error(403);
    c.patch(&format!("/v3/users/{admin_uid}"), &demo, json!({"user": {"enabled": false}})).await.expect_error(403);
    c.patch(&format!("/v3/users/{demo_uid}"), &demo, json!({"user": {"name": "root"}})).await.expect_error(403);
    c.delete(&format!("/v3/users/{admin_uid}"), &demo).await.expect_error(403);
    c.get(&format!("/v3/users/{admin_uid}/projects"), &demo).await.expect_error(403);
    c.get(&format!("/v3/users/{admin_uid}/groups"), &demo).await.expect_error(403);
    // itself: readable
    let r = c.get(&format!("/v3/users/{demo_uid}"), &demo).await.expect(200);
    assert_eq!(r.body["user"]["name"], "demo");
    let r = c.get(&format!("/v3/users/{demo_uid}/projects"), &demo).await.expect(200);
    assert_eq!(names(&r.body, "projects"), strs(&["demo"]));
    c.get(&format!("/v3/users/{demo_uid}/groups"), &demo).await.expect(200);
    // 404 before 403
    c.get(&format!("/v3/users/{NO_SUCH}"), &demo).await.expect_error(404);
    // nothing changed
    assert_eq!(c.get(&format!("/v3/users/{admin_uid}"), &admin).await.expect(200).body["user"]["enabled"], json!(true));
    assert_eq!(c.get(&format!("/v3/users/{demo_uid}"), &admin).await.expect(200).body["user"]["name"], "demo");
    assert_eq!(c.get("/v3/users?name=sneaky", &admin).await.expect(200).body["users"], json!([]));
}

#[tokio::test]
async fn deleting_a_user_ends_tokens_memberships_and_grants() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let pid = project_id(&c, "demo").await;
    let (uid, t) = user_on_project(&c, &admin, "gone", &pid, "member").await;
    let g = new_group(&c, &admin, "gg", "default").await;
    let gid = g["id"].as_str().unwrap();
    c.put(&format!("/v3/groups/{gid}/users/{uid}"), &admin).await.expect(204);
    c.delete(&format!("/v3/users/{uid}"), &admin).await.expect(204);
    validate(&c, &admin, &t).await.expect_error(404);
    expect_401(c.get("/v3/auth/projects", &t).await);
    assert_eq!(c.get(&format!("/v3/groups/{gid}/users"), &admin).await.expect(200).body["users"], json!([]));
    assert_eq!(
        c.get(&format!("/v3/role_assignments?user.id={uid}"), &admin).await.expect(200).body["role_assignments"],
        json!([])
    );
    // a new user with the same name starts with nothing
    let again = new_user(&c, &admin, "gone", "pw-123456", "default").await;
    expect_401(auth_id(&c, again["id"].as_str().unwrap(), "pw-123456", Some(project_scope(&pid))).await);
}

#[tokio::test]
async fn user_projects_lists_direct_and_group_projects() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let u = create(&c, &admin, "users", "user", json!({"name": "multi", "password": "p", "enabled": false})).await;
    let uid = u["id"].as_str().unwrap();
    let p1 = new_project(&c, &admin, "mp1", "default").await;
    let p2 = new_project(&c, &admin, "mp2", "default").await;
    let p3 = new_project(&c, &admin, "mp3", "default").await;
    let member = c.role_id("member").await;
    grant_project_user(&c, &admin, p1["id"].as_str().unwrap(), uid, &member).await;
    grant_project_user(&c, &admin, p2["id"].as_str().unwrap(), uid, &member).await;
    let g = new_group(&c, &admin, "mg", "default").await;
    let gid = g["id"].as_str().unwrap();
    grant(&c, &admin, "projects", p3["id"].as_str().unwrap(), "groups", gid, &member).await;
    c.put(&format!("/v3/groups/{gid}/users/{uid}"), &admin).await.expect(204);
    let l = c.get(&format!("/v3/users/{uid}/projects"), &admin).await.expect(200);
    let items = l.body["projects"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    for p in [&p1, &p2, &p3] {
        assert!(items.contains(p), "{p} not in {}", l.body);
    }
    c.get(&format!("/v3/users/{NO_SUCH}/projects"), &admin).await.expect_error(404);
}

// ---------------------------------------------------------------- groups

#[tokio::test]
async fn group_create_show_list_update_delete() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "gd").await;
    let did = d["id"].as_str().unwrap();
    let g =
        create(&c, &admin, "groups", "group", json!({"name": "g1", "domain_id": did, "description": "first"})).await;
    assert_keys(&g, &["id", "name", "domain_id", "description", "links"]);
    assert_hex_id(&g["id"]);
    let gid = g["id"].as_str().unwrap();
    assert_eq!(g["domain_id"], json!(did));
    assert_eq!(g["links"], json!({"self": format!("{}/v3/groups/{gid}", c.base)}));
    assert_eq!(c.get(&format!("/v3/groups/{gid}"), &admin).await.expect(200).body["group"], g);
    assert!(c.get("/v3/groups", &admin).await.expect(200).body["groups"].as_array().unwrap().contains(&g));
    let r = c
        .patch(&format!("/v3/groups/{gid}"), &admin, json!({"group": {"name": "g1b", "description": "second"}}))
        .await
        .expect(200);
    assert_eq!(r.body["group"]["name"], "g1b");
    assert_eq!(r.body["group"]["description"], "second");
    // a name alone keeps the description and the domain
    let r = c.patch(&format!("/v3/groups/{gid}"), &admin, json!({"group": {"name": "g1c"}})).await.expect(200);
    assert_eq!(r.body["group"]["description"], "second");
    assert_eq!(r.body["group"]["domain_id"], json!(did));
    assert_eq!(c.get(&format!("/v3/groups/{gid}"), &admin).await.expect(200).body["group"], r.body["group"]);
    c.delete(&format!("/v3/groups/{gid}"), &admin).await.expect(204);
    c.get(&format!("/v3/groups/{gid}"), &admin).await.expect_error(404);
    c.delete(&format!("/v3/groups/{gid}"), &admin).await.expect_error(404);
}

#[tokio::test]
async fn group_without_description_shows_null() {
    // Keystone's group description column is nullable: not given → null.
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let g = new_group(&c, &admin, "nodesc", "default").await;
    assert_eq!(g["description"], Value::Null, "{g}");
}

#[tokio::test]
async fn group_bad_input_and_duplicates() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    expect_400_naming(c.post("/v3/groups", &admin, json!({"group": {"name": ""}})).await, "name");
    expect_400_naming(c.post("/v3/groups", &admin, json!({"group": {"name": "x".repeat(256)}})).await, "name");
    expect_400_naming(c.post("/v3/groups", &admin, json!({"group": {"description": "no name"}})).await, "name");
    c.post("/v3/groups", &admin, json!({"group": {"name": "g", "domain_id": NO_SUCH}})).await.expect_error(404);
    assert_eq!(c.get("/v3/groups", &admin).await.expect(200).body["groups"], json!([]));
    let g = new_group(&c, &admin, "g", "default").await;
    c.post("/v3/groups", &admin, json!({"group": {"name": "g"}})).await.expect_error(409);
    let d = new_domain(&c, &admin, "gd2").await;
    new_group(&c, &admin, "g", d["id"].as_str().unwrap()).await;
    let gid = g["id"].as_str().unwrap();
    expect_400_naming(
        c.patch(&format!("/v3/groups/{gid}"), &admin, json!({"group": {"domain_id": d["id"]}})).await,
        "domain_id",
    );
    c.patch(&format!("/v3/groups/{NO_SUCH}"), &admin, json!({"group": {"name": "x"}})).await.expect_error(404);
    assert_eq!(c.get(&format!("/v3/groups/{gid}"), &admin).await.expect(200).body["group"], g);
}

#[tokio::test]
async fn group_membership() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "md").await;
    let g = new_group(&c, &admin, "members", d["id"].as_str().unwrap()).await;
    let gid = g["id"].as_str().unwrap();
    let mut users = Vec::new();
    for n in ["m1", "m2", "m3"] {
        users.push(
            create(
                &c,
                &admin,
                "users",
                "user",
                json!({"name": n, "password": "p", "email": format!("{n}@testmail.tm")}),
            )
            .await,
        );
    }
    for u in &users {
        let r = c.put(&format!("/v3/groups/{gid}/users/{}", u["id"].as_str().unwrap()), &admin).await.expect(204);
        assert_eq!(r.body, Value::Null);
    }
    // adding twice is fine
    c.put(&format!("/v3/groups/{gid}/users/{}", users[0]["id"].as_str().unwrap()), &admin).await.expect(204);
    let l = c.get(&format!("/v3/groups/{gid}/users"), &admin).await.expect(200);
    let mut got = l.body["users"].as_array().unwrap().clone();
    got.sort_by_key(|u| u["name"].as_str().unwrap().to_string());
    assert_eq!(got, users, "member list items equal the create responses");
    assert_eq!(l.body["links"]["self"], json!(format!("{}/v3/groups/{gid}/users", c.base)));
    let u0 = users[0]["id"].as_str().unwrap();
    let r = c.head(&format!("/v3/groups/{gid}/users/{u0}"), &admin).await.expect(204);
    assert_eq!(r.body, Value::Null);
    // the user's groups: the group dict plus membership_expires_at: null
    let ug = c.get(&format!("/v3/users/{u0}/groups"), &admin).await.expect(200);
    let mut want = g.clone();
    want["membership_expires_at"] = Value::Null;
    assert_eq!(ug.body["groups"], json!([want]));
    c.delete(&format!("/v3/groups/{gid}/users/{u0}"), &admin).await.expect(204);
    assert_eq!(c.head(&format!("/v3/groups/{gid}/users/{u0}"), &admin).await.status.as_u16(), 404);
    c.delete(&format!("/v3/groups/{gid}/users/{u0}"), &admin).await.expect_error(404);
    assert_eq!(
        c.get(&format!("/v3/groups/{gid}/users"), &admin).await.expect(200).body["users"].as_array().unwrap().len(),
        2
    );
    assert_eq!(c.get(&format!("/v3/users/{u0}/groups"), &admin).await.expect(200).body["groups"], json!([]));
    // unknown user or group: 404, nothing added
    c.put(&format!("/v3/groups/{gid}/users/{NO_SUCH}"), &admin).await.expect_error(404);
    c.put(&format!("/v3/groups/{NO_SUCH}/users/{u0}"), &admin).await.expect_error(404);
    c.get(&format!("/v3/groups/{NO_SUCH}/users"), &admin).await.expect_error(404);
    assert_eq!(
        c.get(&format!("/v3/groups/{gid}/users"), &admin).await.expect(200).body["users"].as_array().unwrap().len(),
        2
    );
    // deleting the group ends the memberships
    c.delete(&format!("/v3/groups/{gid}"), &admin).await.expect(204);
    let u1 = users[1]["id"].as_str().unwrap();
    assert_eq!(c.get(&format!("/v3/users/{u1}/groups"), &admin).await.expect(200).body["groups"], json!([]));
}

#[tokio::test]
async fn deleting_a_group_takes_its_roles_out_of_tokens() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let pid = project_id(&c, "demo").await;
    let (uid, t) = user_on_project(&c, &admin, "gm", &pid, "reader").await;
    let g = new_group(&c, &admin, "admins", "default").await;
    let gid = g["id"].as_str().unwrap();
    grant(&c, &admin, "projects", &pid, "groups", gid, &c.role_id("admin").await).await;
    c.put(&format!("/v3/groups/{gid}/users/{uid}"), &admin).await.expect(204);
    assert_eq!(
        role_names(&validate(&c, &admin, &t).await.expect(200).body),
        strs(&["admin", "manager", "member", "reader"])
    );
    c.get("/v3/users", &t).await.expect(200);
    c.delete(&format!("/v3/groups/{gid}"), &admin).await.expect(204);
    assert_eq!(role_names(&validate(&c, &admin, &t).await.expect(200).body), strs(&["reader"]));
    c.get("/v3/users", &t).await.expect_error(403);
}

#[tokio::test]
async fn member_policy_on_groups() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let g = new_group(&c, &admin, "pg", "default").await;
    let gid = g["id"].as_str().unwrap();
    let demo_uid = demo_id(&c).await;
    c.get("/v3/groups", &demo).await.expect_error(403);
    c.get(&format!("/v3/groups/{gid}"), &demo).await.expect_error(403);
    c.post("/v3/groups", &demo, json!({"group": {"name": "mine"}})).await.expect_error(403);
    c.patch(&format!("/v3/groups/{gid}"), &demo, json!({"group": {"name": "x"}})).await.expect_error(403);
    c.delete(&format!("/v3/groups/{gid}"), &demo).await.expect_error(403);
    c.put(&format!("/v3/groups/{gid}/users/{demo_uid}"), &demo).await.expect_error(403);
    c.get(&format!("/v3/groups/{gid}/users"), &demo).await.expect_error(403);
    c.get(&format!("/v3/groups/{NO_SUCH}"), &demo).await.expect_error(404);
    assert_eq!(c.get(&format!("/v3/groups/{gid}/users"), &admin).await.expect(200).body["users"], json!([]));
    assert_eq!(c.get(&format!("/v3/groups/{gid}"), &admin).await.expect(200).body["group"], g);
    assert_eq!(names(&c.get("/v3/groups", &admin).await.expect(200).body, "groups"), strs(&["pg"]));
}

#[tokio::test]
async fn group_list_filters() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "fd").await;
    let did = d["id"].as_str().unwrap();
    let a = new_group(&c, &admin, "ga", "default").await;
    let b = new_group(&c, &admin, "gb", did).await;
    assert_eq!(c.get("/v3/groups?name=ga", &admin).await.expect(200).body["groups"], json!([a]));
    assert_eq!(c.get(&format!("/v3/groups?domain_id={did}"), &admin).await.expect(200).body["groups"], json!([b]));
    assert_eq!(c.get("/v3/groups", &admin).await.expect(200).body["groups"].as_array().unwrap().len(), 2);
}
