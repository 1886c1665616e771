//! The same API scenarios on every database backend: SQLite always,
//! PostgreSQL when `RUSTACK_TEST_POSTGRES_URL` is set (CI sets it, with
//! `RUSTACK_REQUIRE_POSTGRES=1`). Each scenario runs on a fresh database per
//! backend, through a whole TestCloud, so what differs between backends
//! (unique-violation detection, booleans, transactions, ordering, text) is
//! exercised through the API.

mod common;

use std::future::Future;

use common::*;
use reqwest::Method;
use rustack_test_utils::{TestCloud, ADMIN_PASSWORD};
use serde_json::json;

/// Runs `scenario` on a cloud over each backend; checks PostgreSQL really ran
/// when it is configured.
async fn on_every_backend<F, Fut>(scenario: F)
where
    F: Fn(TestCloud, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let dbs = rustack_db::testing::all_backends().await;
    let n = dbs.len();
    if std::env::var("RUSTACK_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty()) {
        assert_eq!(n, 2, "PostgreSQL is configured but did not run");
    }
    for db in dbs {
        let label = format!("{:?}", db.db.backend());
        eprintln!("--- backend {label} ({})", db.url.split('@').next_back().unwrap_or(""));
        let c = TestCloud::start_with(db, "").await;
        scenario(c, label).await;
    }
}

#[tokio::test]
async fn entities_create_list_update_delete() {
    on_every_backend(|c, b| async move {
        let admin = c.admin_token().await;
        // a domain, a project (with tags, an extra and non-ASCII text), a child, a user, a group
        let d = new_domain(&c, &admin, "Dömain-β").await;
        let did = d["id"].as_str().unwrap().to_string();
        let p = create(
            &c,
            &admin,
            "projects",
            "project",
            json!({"name": "projet-été-项目", "domain_id": did, "tags": ["x", "y"], "cost_center": 42}),
        )
        .await;
        let pid = p["id"].as_str().unwrap().to_string();
        assert_eq!(p["name"], "projet-été-项目", "{b}");
        assert_eq!(p["cost_center"], json!(42), "{b}");
        let child = create(&c, &admin, "projects", "project", json!({"name": "child", "parent_id": pid})).await;
        assert_eq!(child["domain_id"], json!(did), "{b}");
        let u = create(
            &c,
            &admin,
            "users",
            "user",
            json!({"name": "üser", "password": "pw-123456", "domain_id": did, "email": "u@x", "default_project_id": pid}),
        )
        .await;
        let uid = u["id"].as_str().unwrap().to_string();
        let g = create(&c, &admin, "groups", "group", json!({"name": "grp", "domain_id": did, "description": "a group"})).await;
        let gid = g["id"].as_str().unwrap().to_string();
        // show == create
        assert_eq!(c.get(&format!("/v3/domains/{did}"), &admin).await.expect(200).body["domain"], d, "{b}");
        assert_eq!(c.get(&format!("/v3/projects/{pid}"), &admin).await.expect(200).body["project"], p, "{b}");
        assert_eq!(c.get(&format!("/v3/users/{uid}"), &admin).await.expect(200).body["user"], u, "{b}");
        assert_eq!(c.get(&format!("/v3/groups/{gid}"), &admin).await.expect(200).body["group"], g, "{b}");
        // filtered lists
        let l = c.get(&format!("/v3/projects?domain_id={did}"), &admin).await.expect(200);
        let mut got = names(&l.body, "projects");
        got.sort();
        assert_eq!(got, strs(&["child", "projet-été-项目"]), "{b}");
        assert_eq!(c.get(&format!("/v3/projects?parent_id={pid}"), &admin).await.expect(200).body["projects"], json!([child]), "{b}");
        assert_eq!(c.get(&format!("/v3/users?domain_id={did}"), &admin).await.expect(200).body["users"], json!([u]), "{b}");
        assert_eq!(c.get(&format!("/v3/groups?domain_id={did}"), &admin).await.expect(200).body["groups"], json!([g]), "{b}");
        assert_eq!(c.get("/v3/users?name=%C3%BCser", &admin).await.expect(200).body["users"], json!([u]), "{b}");
        // updates, booleans both ways
        // a parent with an enabled child cannot be disabled; the child first, then the parent
        c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"enabled": false}})).await.expect_error(403);
        let cid = child["id"].as_str().unwrap().to_string();
        let rc = c.patch(&format!("/v3/projects/{cid}"), &admin, json!({"project": {"enabled": false}})).await.expect(200);
        let r =
            c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"enabled": false, "description": "off"}})).await.expect(200);
        assert_eq!(r.body["project"]["enabled"], json!(false), "{b}");
        assert_eq!(r.body["project"]["cost_center"], json!(42), "{b}: extras survive updates");
        let mut off = c.get("/v3/projects?enabled=False", &admin).await.expect(200).body["projects"].as_array().unwrap().clone();
        off.sort_by_key(|p| p["name"].as_str().unwrap().to_string());
        assert_eq!(off, vec![rc.body["project"].clone(), r.body["project"].clone()], "{b}");
        c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"enabled": true}})).await.expect(200);
        c.patch(&format!("/v3/projects/{cid}"), &admin, json!({"project": {"enabled": true}})).await.expect(200);
        assert_eq!(c.get("/v3/projects?enabled=False", &admin).await.expect(200).body["projects"], json!([]), "{b}");
        let r = c.patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"enabled": false, "email": "new@x"}})).await.expect(200);
        assert_eq!(c.get("/v3/users?enabled=false", &admin).await.expect(200).body["users"], json!([r.body["user"]]), "{b}");
        let r = c.patch(&format!("/v3/groups/{gid}"), &admin, json!({"group": {"name": "grp2"}})).await.expect(200);
        assert_eq!(r.body["group"]["description"], "a group", "{b}");
        // duplicates: 409 on every entity, nothing changed
        c.post("/v3/domains", &admin, json!({"domain": {"name": "Dömain-β"}})).await.expect_error(409);
        c.post("/v3/projects", &admin, json!({"project": {"name": "child", "domain_id": did}})).await.expect_error(409);
        c.post("/v3/users", &admin, json!({"user": {"name": "üser", "domain_id": did}})).await.expect_error(409);
        c.post("/v3/groups", &admin, json!({"group": {"name": "grp2", "domain_id": did}})).await.expect_error(409);
        c.post("/v3/roles", &admin, json!({"role": {"name": "member"}})).await.expect_error(409);
        c.patch(&format!("/v3/projects/{}", child["id"].as_str().unwrap()), &admin, json!({"project": {"name": "projet-été-项目"}}))
            .await
            .expect_error(409);
        assert_eq!(
            c.get(&format!("/v3/projects?domain_id={did}"), &admin).await.expect(200).body["projects"].as_array().unwrap().len(),
            2,
            "{b}"
        );
        assert_eq!(
            c.get(&format!("/v3/projects/{}", child["id"].as_str().unwrap()), &admin).await.expect(200).body["project"]["name"],
            "child",
            "{b}"
        );
        // the same names in another domain are fine
        create(&c, &admin, "users", "user", json!({"name": "üser"})).await;
        create(&c, &admin, "projects", "project", json!({"name": "child"})).await;
        // deletes
        c.delete(&format!("/v3/projects/{pid}"), &admin).await.expect_error(403);
        c.delete(&format!("/v3/projects/{}", child["id"].as_str().unwrap()), &admin).await.expect(204);
        c.delete(&format!("/v3/projects/{pid}"), &admin).await.expect(204);
        c.delete(&format!("/v3/users/{uid}"), &admin).await.expect(204);
        c.delete(&format!("/v3/groups/{gid}"), &admin).await.expect(204);
        for path in [format!("/v3/projects/{pid}"), format!("/v3/users/{uid}"), format!("/v3/groups/{gid}")] {
            c.get(&path, &admin).await.expect_error(404);
        }
        c.patch(&format!("/v3/domains/{did}"), &admin, json!({"domain": {"enabled": false}})).await.expect(200);
        c.delete(&format!("/v3/domains/{did}"), &admin).await.expect(204);
        c.get(&format!("/v3/domains/{did}"), &admin).await.expect_error(404);
    })
    .await;
}

#[tokio::test]
async fn grants_tokens_and_revocation() {
    on_every_backend(|c, b| async move {
        let admin = c.admin_token().await;
        let p = new_project(&c, &admin, "work", "default").await;
        let pid = p["id"].as_str().unwrap().to_string();
        let u = new_user(&c, &admin, "worker", "pw-123456", "default").await;
        let uid = u["id"].as_str().unwrap().to_string();
        let member = c.role_id("member").await;
        let admin_role = c.role_id("admin").await;
        expect_401(auth_id(&c, &uid, "pw-123456", Some(project_scope(&pid))).await);
        grant_project_user(&c, &admin, &pid, &uid, &member).await;
        grant_project_user(&c, &admin, &pid, &uid, &member).await;
        assert_eq!(
            names(&c.get(&format!("/v3/projects/{pid}/users/{uid}/roles"), &admin).await.expect(200).body, "roles"),
            strs(&["member"]),
            "{b}"
        );
        // issue and validate
        let r = auth_id(&c, &uid, "pw-123456", Some(project_scope(&pid))).await.expect(201);
        let t = subject(&r);
        assert_eq!(role_names(&r.body), strs(&["member", "reader"]), "{b}");
        let v = validate(&c, &admin, &t).await.expect(200);
        assert_eq!(v.body, r.body, "{b}");
        check(&c, &admin, &t).await.expect(200);
        // live roles: a group grant and a direct grant
        let g = new_group(&c, &admin, "wg", "default").await;
        let gid = g["id"].as_str().unwrap().to_string();
        grant(&c, &admin, "projects", &pid, "groups", &gid, &admin_role).await;
        c.put(&format!("/v3/groups/{gid}/users/{uid}"), &admin).await.expect(204);
        assert_eq!(
            role_names(&validate(&c, &admin, &t).await.expect(200).body),
            strs(&["admin", "manager", "member", "reader"]),
            "{b}"
        );
        let ra = c
            .get(&format!("/v3/role_assignments?scope.project.id={pid}&user.id={uid}&effective"), &admin)
            .await
            .expect(200);
        // direct member (+reader) and the group's admin (+manager, member, reader)
        assert_eq!(ra.body["role_assignments"].as_array().unwrap().len(), 6, "{b}: {}", ra.body);
        c.delete(&format!("/v3/groups/{gid}/users/{uid}"), &admin).await.expect(204);
        assert_eq!(role_names(&validate(&c, &admin, &t).await.expect(200).body), strs(&["member", "reader"]), "{b}");
        // rescope and revoke the child only
        let t0 = token_id(&c, &uid, "pw-123456", None).await;
        let t1 = subject(&rescope(&c, &t0, Some(project_scope(&pid))).await.expect(201));
        revoke(&c, &admin, &t1).await.expect(204);
        validate(&c, &admin, &t1).await.expect_error(404);
        validate(&c, &admin, &t0).await.expect(200);
        // system and domain scope
        c.put(&format!("/v3/system/users/{uid}/roles/{}", c.role_id("reader").await), &admin).await.expect(204);
        let r = auth_id(&c, &uid, "pw-123456", Some(system_scope())).await.expect(201);
        assert_eq!(r.body["token"]["system"], json!({"all": true}), "{b}");
        grant(&c, &admin, "domains", "default", "users", &uid, &member).await;
        let r = auth_id(&c, &uid, "pw-123456", Some(domain_scope("default"))).await.expect(201);
        assert_eq!(r.body["token"]["domain"]["id"], "default", "{b}");
        // events that end tokens, persisted in the revocation table
        c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"enabled": false}})).await.expect(200);
        validate(&c, &admin, &t).await.expect_error(404);
        c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"enabled": true}})).await.expect(200);
        validate(&c, &admin, &t).await.expect_error(404);
        let t2 = token_id(&c, &uid, "pw-123456", Some(project_scope(&pid))).await;
        c.request(
            Method::POST,
            &format!("/v3/users/{uid}/password"),
            None,
            Some(json!({"user": {"original_password": "pw-123456", "password": "pw-654321"}})),
        )
        .await
        .expect(204);
        validate(&c, &admin, &t2).await.expect_error(404);
        validate(&c, &admin, &t0).await.expect_error(404);
        expect_401(auth_id(&c, &uid, "pw-123456", None).await);
        let t3 = token_id(&c, &uid, "pw-654321", Some(project_scope(&pid))).await;
        // the revocation events are in the database, not only in memory
        let events = c.identity.store().list_revocations(None).await.unwrap();
        assert!(events.iter().any(|e| e.user_id.as_deref() == Some(uid.as_str())), "{b}: {events:?}");
        assert!(events.iter().any(|e| e.project_id.as_deref() == Some(pid.as_str())), "{b}");
        // revoking the grant ends the token
        c.delete(&format!("/v3/projects/{pid}/users/{uid}/roles/{member}"), &admin).await.expect(204);
        validate(&c, &admin, &t3).await.expect_error(404);
        c.delete(&format!("/v3/projects/{pid}/users/{uid}/roles/{member}"), &admin).await.expect_error(404);
        // the admin's own token never stopped working
        validate(&c, &admin, &admin).await.expect(200);
        let _ = ADMIN_PASSWORD;
    })
    .await;
}

#[tokio::test]
async fn domain_delete_cascades_in_one_transaction() {
    on_every_backend(|c, b| async move {
        let admin = c.admin_token().await;
        let d = new_domain(&c, &admin, "cascade").await;
        let did = d["id"].as_str().unwrap().to_string();
        let p = new_project(&c, &admin, "cp", &did).await;
        let pid = p["id"].as_str().unwrap().to_string();
        let child = create(&c, &admin, "projects", "project", json!({"name": "cpc", "parent_id": pid})).await;
        let u = new_user(&c, &admin, "cu", "pw-123456", &did).await;
        let uid = u["id"].as_str().unwrap().to_string();
        let g = new_group(&c, &admin, "cg", &did).await;
        let dr = create(&c, &admin, "roles", "role", json!({"name": "cr", "domain_id": did})).await;
        grant_project_user(&c, &admin, &pid, &uid, &c.role_id("member").await).await;
        grant_project_user(&c, &admin, &pid, &uid, dr["id"].as_str().unwrap()).await;
        c.put(&format!("/v3/groups/{}/users/{uid}", g["id"].as_str().unwrap()), &admin).await.expect(204);
        c.delete(&format!("/v3/domains/{did}"), &admin).await.expect_error(403);
        c.get(&format!("/v3/projects/{pid}"), &admin).await.expect(200);
        c.patch(&format!("/v3/domains/{did}"), &admin, json!({"domain": {"enabled": false}})).await.expect(200);
        c.delete(&format!("/v3/domains/{did}"), &admin).await.expect(204);
        for path in [
            format!("/v3/domains/{did}"),
            format!("/v3/projects/{pid}"),
            format!("/v3/projects/{}", child["id"].as_str().unwrap()),
            format!("/v3/users/{uid}"),
            format!("/v3/groups/{}", g["id"].as_str().unwrap()),
            format!("/v3/roles/{}", dr["id"].as_str().unwrap()),
        ] {
            let r = c.get(&path, &admin).await;
            assert_eq!(r.status.as_u16(), 404, "{b}: {path} survived the cascade");
        }
        assert_eq!(
            c.get(&format!("/v3/role_assignments?user.id={uid}"), &admin).await.expect(200).body["role_assignments"],
            json!([]),
            "{b}"
        );
        let l = c.get("/v3/role_assignments", &admin).await.expect(200);
        assert_eq!(l.body["role_assignments"].as_array().unwrap().len(), 5, "{b}: only the bootstrap grants remain");
        // the names are free again
        let d2 = new_domain(&c, &admin, "cascade").await;
        new_project(&c, &admin, "cp", d2["id"].as_str().unwrap()).await;
    })
    .await;
}

#[tokio::test]
async fn catalog_and_application_credentials() {
    on_every_backend(|c, b| async move {
        let (admin, demo) = tokens(&c).await;
        let id = "2c4e6a80-1b3d-4f5a-8c7e-9d0b1a2c3e4f";
        let r = send(&c, Method::PUT, &format!("/v3/regions/{id}"), &admin, json!({"region": {"description": "put"}})).await.expect(201);
        assert_eq!(r.body["region"]["id"], id, "{b}");
        send(&c, Method::PUT, &format!("/v3/regions/{id}"), &admin, json!({"region": {}})).await.expect_error(409);
        let s = create(&c, &admin, "services", "service", json!({"type": "compute", "name": "nova"})).await;
        let e = create(
            &c,
            &admin,
            "endpoints",
            "endpoint",
            json!({"service_id": s["id"], "interface": "public", "url": "http://nova/$(project_id)s", "region": "legacy-r"}),
        )
        .await;
        assert_eq!(e["region_id"], "legacy-r", "{b}");
        c.get("/v3/regions/legacy-r", &admin).await.expect(200);
        c.post(
            "/v3/endpoints",
            &admin,
            json!({"endpoint": {"service_id": s["id"], "interface": "public", "url": "http://x", "enabled": "True"}}),
        )
        .await
        .expect_error(400);
        let cat = c.get("/v3/auth/catalog", &demo).await.expect(200);
        let nova = cat.body["catalog"].as_array().unwrap().iter().find(|x| x["type"] == "compute").unwrap().clone();
        assert_eq!(nova["endpoints"][0]["url"], json!(format!("http://nova/{}", project_id(&c, "demo").await)), "{b}");
        c.patch(&format!("/v3/endpoints/{}", e["id"].as_str().unwrap()), &admin, json!({"endpoint": {"enabled": false}})).await.expect(200);
        let cat = c.get("/v3/auth/catalog", &demo).await.expect(200);
        let nova = cat.body["catalog"].as_array().unwrap().iter().find(|x| x["type"] == "compute").unwrap().clone();
        assert_eq!(nova["endpoints"], json!([]), "{b}");
        // application credentials
        let uid = demo_id(&c).await;
        let p = format!("/v3/users/{uid}/application_credentials");
        let r = c
            .post(&p, &demo, json!({"application_credential": {"name": "k", "expires_at": "2100-06-07T08:09:10.123456"}}))
            .await
            .expect(201);
        let ac = r.body["application_credential"].clone();
        assert_eq!(ac["expires_at"], "2100-06-07T08:09:10.123456", "{b}");
        c.post(&p, &demo, json!({"application_credential": {"name": "k"}})).await.expect_error(409);
        let acid = ac["id"].as_str().unwrap();
        let t = auth(
            &c,
            json!({"identity": {"methods": ["application_credential"], "application_credential": {"id": acid, "secret": ac["secret"]}}}),
        )
        .await
        .expect(201);
        assert_eq!(role_names(&t.body), strs(&["member", "reader"]), "{b}");
        let g = c.get(&format!("{p}/{acid}"), &demo).await.expect(200);
        assert!(g.body["application_credential"].get("secret").is_none(), "{b}");
        assert_eq!(g.body["application_credential"]["expires_at"], "2100-06-07T08:09:10.123456", "{b}");
        assert_eq!(g.body["application_credential"]["unrestricted"], json!(false), "{b}");
        c.delete(&format!("{p}/{acid}"), &demo).await.expect(204);
        validate(&c, &demo, &subject(&t)).await.expect_error(404);
        assert_eq!(c.get(&p, &demo).await.expect(200).body["application_credentials"], json!([]), "{b}");
    })
    .await;
}
