//! `/v3/auth/tokens` and the token life cycle: issue (password, token), scope
//! (project, domain, system, unscoped, default project), validate/check/revoke,
//! rescoping and the audit chain, and the events that end tokens (disabling a
//! user, project or domain, a password change, losing the last role, expiry).

mod common;

use common::*;
use reqwest::Method;
use rustack_test_utils::{TestCloud, ADMIN_PASSWORD, DEMO_PASSWORD};
use serde_json::{json, Value};

fn is_keystone_time(s: &str) -> bool {
    // %Y-%m-%dT%H:%M:%S.%fZ, the format tempest parses
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.6fZ").is_ok() && s.len() == 27
}

fn parse_time(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.6fZ").unwrap().and_utc()
}

#[tokio::test]
async fn project_scoped_password_token_has_keystone_shape() {
    let c = TestCloud::start().await;
    let r = c
        .password_auth(
            "admin",
            ADMIN_PASSWORD,
            Some(json!({"project": {"name": "admin", "domain": {"id": "default"}}})),
        )
        .await
        .expect(201);
    subject(&r);
    let t = &r.body["token"];
    assert_keys(
        t,
        &["methods", "user", "audit_ids", "expires_at", "issued_at", "project", "is_domain", "roles", "catalog"],
    );
    assert_eq!(t["methods"], json!(["password"]));
    assert_eq!(t["user"]["name"], "admin");
    assert_eq!(t["user"]["id"], json!(admin_id(&c).await));
    assert_eq!(t["user"]["domain"], json!({"id": "default", "name": "Default"}));
    assert_eq!(t["user"]["password_expires_at"], Value::Null);
    assert_eq!(t["project"]["name"], "admin");
    assert_eq!(t["project"]["id"], json!(project_id(&c, "admin").await));
    assert_eq!(t["project"]["domain"], json!({"id": "default", "name": "Default"}));
    assert_eq!(t["is_domain"], json!(false));
    // admin ⇒ manager ⇒ member ⇒ reader, each role only {id, name}
    assert_eq!(role_names(&r.body), strs(&["admin", "manager", "member", "reader"]));
    for role in t["roles"].as_array().unwrap() {
        assert_keys(role, &["id", "name"]);
    }
    // audit id: 22 characters of URL-safe base64
    let audit = t["audit_ids"].as_array().unwrap();
    assert_eq!(audit.len(), 1);
    let a = audit[0].as_str().unwrap();
    assert_eq!(a.len(), 22, "{a}");
    assert!(a.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'), "{a}");
    // times: Keystone's format, one hour apart by default
    let (iss, exp) = (t["issued_at"].as_str().unwrap(), t["expires_at"].as_str().unwrap());
    assert!(is_keystone_time(iss) && is_keystone_time(exp), "{iss} / {exp}");
    let life = parse_time(exp) - parse_time(iss);
    assert!((3599..=3600).contains(&life.num_seconds()), "lifetime {life}");
    assert!(parse_time(exp) > chrono::Utc::now());
    // the catalog has the identity service with its public URL in RegionOne
    let cat = t["catalog"].as_array().unwrap();
    let idsvc = cat.iter().find(|s| s["type"] == "identity").expect("identity in catalog");
    assert_eq!(idsvc["name"], "keystone");
    assert_keys(idsvc, &["endpoints", "id", "type", "name"]);
    let eps = idsvc["endpoints"].as_array().unwrap();
    let public = eps.iter().find(|e| e["interface"] == "public").expect("public endpoint");
    assert_keys(public, &["id", "interface", "region_id", "url", "region"]);
    assert_eq!(public["url"], json!(format!("{}/v3/", c.base)));
    assert_eq!(public["region_id"], "RegionOne");
    assert_eq!(public["region"], "RegionOne");
}

#[tokio::test]
async fn unscoped_token_has_no_roles_catalog_or_project() {
    let c = TestCloud::start().await;
    let r = unscoped(&c, "demo").await.expect(201);
    let t = &r.body["token"];
    assert_keys(t, &["methods", "user", "audit_ids", "expires_at", "issued_at"]);
    assert_eq!(t["user"]["name"], "demo");
    assert_eq!(t["user"]["domain"]["id"], "default");
    assert_eq!(t["user"]["domain"]["name"], "Default");
    assert!(t["expires_at"].as_str().unwrap() > t["issued_at"].as_str().unwrap());
}

#[tokio::test]
async fn password_auth_by_id_by_name_and_domain_id_and_by_domain_name() {
    let c = TestCloud::start().await;
    let demo = demo_id(&c).await;
    let r = auth_id(&c, &demo, DEMO_PASSWORD, None).await.expect(201);
    assert_eq!(r.body["token"]["user"]["id"], json!(demo));
    // id together with a domain, as tempest sends it
    let r = auth(&c, json!({"identity": {"methods": ["password"], "password": {"user": {"id": demo, "password": DEMO_PASSWORD, "domain": {"id": "default"}}}}})).await.expect(201);
    assert_eq!(r.body["token"]["user"]["id"], json!(demo));
    let r = auth(&c, json!({"identity": {"methods": ["password"], "password": {"user": {"name": "demo", "password": DEMO_PASSWORD, "domain": {"name": "Default"}}}},
                            "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}})).await.expect(201);
    assert_eq!(r.body["token"]["project"]["name"], "demo");
    assert_eq!(role_names(&r.body), strs(&["member", "reader"]));
    // project by id, user by name
    let pid = project_id(&c, "demo").await;
    let r = c.password_auth("demo", DEMO_PASSWORD, Some(project_scope(&pid))).await.expect(201);
    assert_eq!(r.body["token"]["project"]["id"], json!(pid));
}

#[tokio::test]
async fn authentication_failures_are_401_with_challenge() {
    let c = TestCloud::start().await;
    let demo = demo_id(&c).await;
    // wrong password, by name and by id
    expect_401(c.password_auth("demo", "wrong", None).await);
    expect_401(auth_id(&c, &demo, "wrong", None).await);
    // unknown user name, unknown id, unknown domain
    expect_401(c.password_auth("nobody", "x", None).await);
    expect_401(auth_id(&c, "0123456789abcdef0123456789abcdef", "x", None).await);
    expect_401(auth(&c, json!({"identity": {"methods": ["password"], "password": {"user": {"name": "demo", "password": DEMO_PASSWORD, "domain": {"id": "nodomain"}}}}})).await);
    // no role on the project asked for
    expect_401(
        c.password_auth(
            "demo",
            DEMO_PASSWORD,
            Some(json!({"project": {"name": "admin", "domain": {"id": "default"}}})),
        )
        .await,
    );
    // a project or domain that does not exist
    expect_401(c.password_auth("demo", DEMO_PASSWORD, Some(project_scope("0123456789abcdef0123456789abcdef"))).await);
    expect_401(c.password_auth("demo", DEMO_PASSWORD, Some(domain_scope("nodomain"))).await);
    // a role-less system or domain scope
    expect_401(c.password_auth("demo", DEMO_PASSWORD, Some(system_scope())).await);
    expect_401(c.password_auth("demo", DEMO_PASSWORD, Some(domain_scope("default"))).await);
    // an unsupported method
    expect_401(auth(&c, json!({"identity": {"methods": ["kerberos"], "kerberos": {}}})).await);
}

#[tokio::test]
async fn malformed_auth_requests_are_400_naming_the_field() {
    let c = TestCloud::start().await;
    // a user name without its domain
    expect_400_naming(
        auth(&c, json!({"identity": {"methods": ["password"], "password": {"user": {"name": "demo", "password": DEMO_PASSWORD}}}})).await,
        "domain",
    );
    // a listed method without its object
    expect_400_naming(auth(&c, json!({"identity": {"methods": ["password"]}})).await, "password");
    expect_400_naming(auth(&c, json!({"identity": {"methods": ["token"]}})).await, "token");
    // no identity, no auth, not JSON
    expect_400_naming(auth(&c, json!({})).await, "identity");
    auth_body(&c, json!({"notauth": {}})).await.expect_error(400);
    let r = c
        .http
        .post(format!("{}/v3/auth/tokens", c.base))
        .header("content-type", "application/json")
        .body("{\"auth\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // two scopes at once
    let demo = demo_id(&c).await;
    let pid = project_id(&c, "demo").await;
    auth_id(&c, &demo, DEMO_PASSWORD, Some(json!({"project": {"id": pid}, "domain": {"id": "default"}})))
        .await
        .expect_error(400);
    // a project name without its domain
    expect_400_naming(auth_id(&c, &demo, DEMO_PASSWORD, Some(json!({"project": {"name": "demo"}}))).await, "domain");
}

#[tokio::test]
async fn an_empty_method_list_is_401() {
    // Keystone's schema has no minItems on methods; with no method run, no
    // user is found: "User not found by auth plugin; authentication failed" (401).
    let c = TestCloud::start().await;
    expect_401(auth(&c, json!({"identity": {"methods": [], "password": {"user": {"name": "demo", "password": DEMO_PASSWORD, "domain": {"id": "default"}}}}})).await);
    // methods is required, though
    auth(&c, json!({"identity": {"password": {"user": {"name": "demo", "password": DEMO_PASSWORD, "domain": {"id": "default"}}}}}))
        .await
        .expect_error(400);
}

#[tokio::test]
async fn nocatalog_leaves_the_catalog_out_of_issue_and_validate() {
    let c = TestCloud::start().await;
    let r = c
        .request(Method::POST, "/v3/auth/tokens?nocatalog", None, Some(json!({"auth": {"identity": pw_id(&demo_id(&c).await, DEMO_PASSWORD), "scope": project_scope(&project_id(&c, "demo").await)}})))
        .await
        .expect(201);
    assert!(r.body["token"].get("catalog").is_none(), "{}", r.body);
    assert_eq!(role_names(&r.body), strs(&["member", "reader"]));
    let t = subject(&r);
    let admin = c.admin_token().await;
    let v = validate_q(&c, &admin, &t, "?nocatalog").await.expect(200);
    assert!(v.body["token"].get("catalog").is_none());
    assert_eq!(v.body["token"]["project"]["name"], "demo");
    let v = validate(&c, &admin, &t).await.expect(200);
    assert!(v.body["token"]["catalog"].as_array().is_some_and(|c| !c.is_empty()));
}

#[tokio::test]
async fn validate_returns_exactly_what_issue_returned() {
    let c = TestCloud::start().await;
    let demo_project_token = c.demo_token().await;
    // unscoped (tempest test_validate_token)
    let issued = unscoped(&c, "demo").await.expect(201);
    let t = subject(&issued);
    let v = validate(&c, &demo_project_token, &t).await.expect(200);
    assert_eq!(v.body, issued.body);
    assert_eq!(v.header("x-subject-token"), Some(t.as_str()));
    // project-scoped, catalog and all
    let issued =
        c.password_auth("demo", DEMO_PASSWORD, Some(project_scope(&project_id(&c, "demo").await))).await.expect(201);
    let t = subject(&issued);
    let v = validate(&c, &demo_project_token, &t).await.expect(200);
    assert_eq!(v.body, issued.body);
}

#[tokio::test]
async fn head_checks_a_token_with_200_and_no_body() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let t = subject(&unscoped(&c, "demo").await.expect(201));
    let r = check(&c, &demo, &t).await.expect(200);
    assert_eq!(r.body, Value::Null);
    assert_eq!(r.header("x-subject-token"), Some(t.as_str()));
    revoke(&c, &demo, &t).await.expect(204);
    let r = check(&c, &demo, &t).await.expect(404);
    assert_eq!(r.body, Value::Null, "a HEAD answer has no body");
}

#[tokio::test]
async fn revoked_token_is_404_as_subject_and_401_as_caller() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let t = c.demo_token().await;
    c.get("/v3/auth/projects", &t).await.expect(200);
    let r = revoke(&c, &t, &t).await.expect(204);
    assert_eq!(r.body, Value::Null);
    validate(&c, &admin, &t).await.expect_error(404);
    revoke(&c, &admin, &t).await.expect_error(404);
    expect_401(c.get("/v3/auth/projects", &t).await);
    // the user can still get a new token
    let t2 = c.demo_token().await;
    validate(&c, &admin, &t2).await.expect(200);
}

#[tokio::test]
async fn bad_subject_and_caller_tokens() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    validate(&c, &admin, "garbage").await.expect_error(404);
    validate(&c, &admin, "gAAAAABnot-a-real-fernet-token").await.expect_error(404);
    // no caller token, or a garbage one
    let r = c.request_with(Method::GET, "/v3/auth/tokens", None, None, &[("X-Subject-Token", &admin)]).await;
    expect_401(r);
    expect_401(validate(&c, "garbage", &admin).await);
    let r = c.request_with(Method::DELETE, "/v3/auth/tokens", None, None, &[("X-Subject-Token", &admin)]).await;
    expect_401(r);
    // nothing was revoked by the failed calls
    validate(&c, &admin, &admin).await.expect(200);
}

#[tokio::test]
async fn a_member_validates_and_revokes_only_its_own_tokens() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    // own token: fine
    validate(&c, &demo, &demo).await.expect(200);
    check(&c, &demo, &demo).await.expect(200);
    // someone else's: 403, and it stays valid
    validate(&c, &demo, &admin).await.expect_error(403);
    assert_eq!(check(&c, &demo, &admin).await.status.as_u16(), 403);
    revoke(&c, &demo, &admin).await.expect_error(403);
    validate(&c, &admin, &admin).await.expect(200);
    // the admin may validate anyone's
    let v = validate(&c, &admin, &demo).await.expect(200);
    assert_eq!(v.body["token"]["user"]["name"], "demo");
    // and revoke it
    revoke(&c, &admin, &demo).await.expect(204);
    validate(&c, &admin, &demo).await.expect_error(404);
}

#[tokio::test]
async fn rescoping_keeps_expiry_user_and_audit_chain() {
    let c = TestCloud::start().await;
    let u = unscoped(&c, "demo").await.expect(201);
    let t0 = subject(&u);
    let root_audit = u.body["token"]["audit_ids"][0].clone();
    let r = rescope(&c, &t0, Some(json!({"project": {"name": "demo", "domain": {"id": "default"}}}))).await.expect(201);
    let t1 = &r.body["token"];
    assert_eq!(t1["expires_at"], u.body["token"]["expires_at"], "a rescoped token keeps its parent's expiry");
    assert_eq!(t1["user"], u.body["token"]["user"]);
    let mut methods: Vec<String> =
        t1["methods"].as_array().unwrap().iter().map(|m| m.as_str().unwrap().to_string()).collect();
    methods.sort();
    assert_eq!(methods, strs(&["password", "token"]));
    let audit = t1["audit_ids"].as_array().unwrap();
    assert_eq!(audit.len(), 2, "{t1}");
    assert_eq!(audit[1], root_audit);
    assert_ne!(audit[0], root_audit);
    assert!(t1["catalog"].is_array());
    assert_eq!(t1["project"]["domain"], json!({"id": "default", "name": "Default"}));
    assert_eq!(role_names(&r.body), strs(&["member", "reader"]));
    // rescoping the rescoped token keeps the chain's root
    let r2 = rescope(&c, &subject(&r), Some(project_scope(&project_id(&c, "demo").await))).await.expect(201);
    assert_eq!(r2.body["token"]["audit_ids"][1], root_audit);
    assert_eq!(r2.body["token"]["expires_at"], u.body["token"]["expires_at"]);
    // a token method alone, unscoped: the same user, no roles
    let r3 = rescope(&c, &t0, None).await.expect(201);
    assert!(r3.body["token"].get("roles").is_none());
    assert_eq!(r3.body["token"]["user"]["name"], "demo");
}

#[tokio::test]
async fn rescoping_cannot_reach_a_project_without_a_role() {
    let c = TestCloud::start().await;
    let t0 = subject(&unscoped(&c, "demo").await.expect(201));
    expect_401(rescope(&c, &t0, Some(project_scope(&project_id(&c, "admin").await))).await);
    expect_401(rescope(&c, &t0, Some(system_scope())).await);
}

#[tokio::test]
async fn revoking_a_rescoped_token_leaves_its_parent_valid() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let demo_pid = project_id(&c, "demo").await;
    // a second project for the demo user (tempest test_rescope_token)
    let p2 = new_project(&c, &admin, "p2", "default").await;
    let p2id = p2["id"].as_str().unwrap();
    grant_project_user(&c, &admin, p2id, &demo_id(&c).await, &c.role_id("member").await).await;
    let t0 = subject(&unscoped(&c, "demo").await.expect(201));
    let t1 = subject(&rescope(&c, &t0, Some(project_scope(&demo_pid))).await.expect(201));
    revoke(&c, &t1, &t1).await.expect(204);
    validate(&c, &admin, &t1).await.expect_error(404);
    validate(&c, &admin, &t0).await.expect(200);
    let r = rescope(&c, &t0, Some(project_scope(p2id))).await.expect(201);
    assert_eq!(r.body["token"]["project"]["id"], json!(p2id));
}

#[tokio::test]
async fn revoking_a_token_revokes_the_tokens_made_from_it() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let t0 = subject(&unscoped(&c, "demo").await.expect(201));
    let t1 = subject(&rescope(&c, &t0, Some(project_scope(&project_id(&c, "demo").await))).await.expect(201));
    let t2 = subject(&rescope(&c, &t1, None).await.expect(201));
    revoke(&c, &admin, &t0).await.expect(204);
    validate(&c, &admin, &t1).await.expect_error(404);
    validate(&c, &admin, &t2).await.expect_error(404);
}

#[tokio::test]
async fn rescoping_with_a_revoked_or_garbage_token_is_404() {
    // Keystone's token method validates the token with validate_token, whose
    // TokenNotFound is a 404 (tempest: "authorize with old token should lead
    // to IdentityError (404 code)").
    let c = TestCloud::start().await;
    let t0 = subject(&unscoped(&c, "demo").await.expect(201));
    revoke(&c, &t0, &t0).await.expect(204);
    rescope(&c, &t0, None).await.expect_error(404);
    rescope(&c, "garbage", None).await.expect_error(404);
}

#[tokio::test]
async fn system_scoped_token() {
    let c = TestCloud::start().await;
    let r = c.password_auth("admin", ADMIN_PASSWORD, Some(system_scope())).await.expect(201);
    let t = &r.body["token"];
    assert_eq!(t["system"], json!({"all": true}));
    assert!(t.get("project").is_none() && t.get("domain").is_none());
    assert_eq!(role_names(&r.body), strs(&["admin", "manager", "member", "reader"]));
    assert!(t["catalog"].is_array());
    // a system token works as a caller (system admin lists users)
    let st = subject(&r);
    c.get("/v3/users", &st).await.expect(200);
    // a user given a system role can get a system token
    let admin = c.admin_token().await;
    let u = new_user(&c, &admin, "sysreader", "pw-123456", "default").await;
    let uid = u["id"].as_str().unwrap();
    c.put(&format!("/v3/system/users/{uid}/roles/{}", c.role_id("reader").await), &admin).await.expect(204);
    let r = auth_id(&c, uid, "pw-123456", Some(system_scope())).await.expect(201);
    assert_eq!(role_names(&r.body), strs(&["reader"]));
    // a system reader can list users but not create them
    let srt = subject(&r);
    c.get("/v3/users", &srt).await.expect(200);
    c.post("/v3/users", &srt, json!({"user": {"name": "x"}})).await.expect_error(403);
}

#[tokio::test]
async fn domain_scoped_token() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "dom1").await;
    let did = d["id"].as_str().unwrap();
    let u = new_user(&c, &admin, "domuser", "pw-123456", did).await;
    let uid = u["id"].as_str().unwrap();
    expect_401(auth_id(&c, uid, "pw-123456", Some(domain_scope(did))).await);
    grant(&c, &admin, "domains", did, "users", uid, &c.role_id("member").await).await;
    let r = auth_id(&c, uid, "pw-123456", Some(json!({"domain": {"name": "dom1"}}))).await.expect(201);
    let t = &r.body["token"];
    assert_eq!(t["domain"], json!({"id": did, "name": "dom1"}));
    assert!(t.get("project").is_none());
    assert_eq!(role_names(&r.body), strs(&["member", "reader"]));
    assert_eq!(t["user"]["domain"], json!({"id": did, "name": "dom1"}));
    // /auth/domains lists it
    let dt = subject(&r);
    let l = c.get("/v3/auth/domains", &dt).await.expect(200);
    assert_eq!(ids(&l.body, "domains"), vec![did.to_string()]);
}

#[tokio::test]
async fn default_project_id_scopes_an_unscoped_request() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "dpdom").await;
    let did = d["id"].as_str().unwrap();
    let p = new_project(&c, &admin, "dpproj", did).await;
    let pid = p["id"].as_str().unwrap();
    let u = create(
        &c,
        &admin,
        "users",
        "user",
        json!({"name": "dpuser", "password": "pw-123456", "domain_id": did, "default_project_id": pid}),
    )
    .await;
    assert_eq!(u["default_project_id"], json!(pid));
    let uid = u["id"].as_str().unwrap();
    let by_name = || json!({"identity": {"methods": ["password"], "password": {"user": {"name": "dpuser", "password": "pw-123456", "domain": {"name": "dpdom"}}}}});
    // no role there yet: unscoped
    let r = auth(&c, by_name()).await.expect(201);
    assert!(r.body["token"].get("project").is_none(), "{}", r.body);
    grant_project_user(&c, &admin, pid, uid, &c.role_id("admin").await).await;
    let r = auth(&c, by_name()).await.expect(201);
    assert_eq!(r.body["token"]["project"]["id"], json!(pid));
    assert_eq!(r.body["token"]["project"]["domain"]["id"], json!(did));
    assert_eq!(role_names(&r.body), strs(&["admin", "manager", "member", "reader"]));
    // the token validates as scoped to that project
    let t = subject(&r);
    let v = validate(&c, &t, &t).await.expect(200);
    assert_eq!(v.body["token"]["project"]["id"], json!(pid));
    // a disabled default project: unscoped again
    c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"enabled": false}})).await.expect(200);
    let r = auth(&c, by_name()).await.expect(201);
    assert!(r.body["token"].get("project").is_none(), "{}", r.body);
}

#[tokio::test]
async fn disabling_a_user_ends_its_tokens() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let pid = project_id(&c, "demo").await;
    let (uid, t) = user_on_project(&c, &admin, "u1", &pid, "member").await;
    c.get("/v3/auth/projects", &t).await.expect(200);
    let r = c.patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"enabled": false}})).await.expect(200);
    assert_eq!(r.body["user"]["enabled"], json!(false));
    validate(&c, &admin, &t).await.expect_error(404);
    expect_401(c.get("/v3/auth/projects", &t).await);
    expect_401(auth_id(&c, &uid, "pw-123456", None).await);
    expect_401(c.password_auth("u1", "pw-123456", None).await);
    // enabling again lets the user in, but the old token stays dead
    c.patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"enabled": true}})).await.expect(200);
    let t2 = token_id(&c, &uid, "pw-123456", Some(project_scope(&pid))).await;
    validate(&c, &admin, &t2).await.expect(200);
    validate(&c, &admin, &t).await.expect_error(404);
}

#[tokio::test]
async fn disabling_a_project_ends_tokens_scoped_to_it() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let pid = project_id(&c, "demo").await;
    let unscoped_t = subject(&unscoped(&c, "demo").await.expect(201));
    c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"enabled": false}})).await.expect(200);
    validate(&c, &admin, &demo).await.expect_error(404);
    expect_401(c.get("/v3/auth/projects", &demo).await);
    expect_401(demo_project_auth(&c).await);
    // the user's unscoped token is not about that project
    validate(&c, &admin, &unscoped_t).await.expect(200);
    c.patch(&format!("/v3/projects/{pid}"), &admin, json!({"project": {"enabled": true}})).await.expect(200);
    let t2 = c.demo_token().await;
    validate(&c, &admin, &t2).await.expect(200);
    validate(&c, &admin, &demo).await.expect_error(404);
}

async fn demo_project_auth(c: &TestCloud) -> rustack_test_utils::Resp {
    c.password_auth("demo", DEMO_PASSWORD, Some(json!({"project": {"name": "demo", "domain": {"id": "default"}}})))
        .await
}

#[tokio::test]
async fn disabling_a_domain_ends_the_tokens_of_its_users_and_projects() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let d = new_domain(&c, &admin, "dd").await;
    let did = d["id"].as_str().unwrap();
    let p = new_project(&c, &admin, "ddp", did).await;
    let pid = p["id"].as_str().unwrap();
    let u = new_user(&c, &admin, "ddu", "pw-123456", did).await;
    let uid = u["id"].as_str().unwrap();
    grant_project_user(&c, &admin, pid, uid, &c.role_id("member").await).await;
    let t = token_id(&c, uid, "pw-123456", Some(project_scope(pid))).await;
    let tu = token_id(&c, uid, "pw-123456", None).await;
    // the admin (in Default) gets a role on the project too
    grant_project_user(&c, &admin, pid, &admin_id(&c).await, &c.role_id("member").await).await;
    let ta = token_id(&c, &admin_id(&c).await, ADMIN_PASSWORD, Some(project_scope(pid))).await;
    c.patch(&format!("/v3/domains/{did}"), &admin, json!({"domain": {"enabled": false}})).await.expect(200);
    validate(&c, &admin, &t).await.expect_error(404);
    validate(&c, &admin, &tu).await.expect_error(404);
    validate(&c, &admin, &ta).await.expect_error(404);
    expect_401(auth_id(&c, uid, "pw-123456", None).await);
    expect_401(auth_id(&c, &admin_id(&c).await, ADMIN_PASSWORD, Some(project_scope(pid))).await);
    // the admin's own tokens elsewhere are unaffected
    validate(&c, &admin, &admin).await.expect(200);
}

#[tokio::test]
async fn changing_the_password_ends_tokens_and_the_new_one_works() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let pid = project_id(&c, "demo").await;
    let (uid, t) = user_on_project(&c, &admin, "pwuser", &pid, "member").await;
    let path = format!("/v3/users/{uid}/password");
    // wrong original password: 401, and nothing changes
    let r = c
        .request(
            Method::POST,
            &path,
            None,
            Some(json!({"user": {"password": "new-pw-1", "original_password": "wrong"}})),
        )
        .await;
    expect_401(r);
    validate(&c, &admin, &t).await.expect(200);
    // missing fields: 400 naming them
    expect_400_naming(
        c.request(Method::POST, &path, None, Some(json!({"user": {"password": "new-pw-1"}}))).await,
        "original_password",
    );
    expect_400_naming(
        c.request(Method::POST, &path, None, Some(json!({"user": {"original_password": "pw-123456"}}))).await,
        "password",
    );
    auth_id(&c, &uid, "pw-123456", None).await.expect(201);
    // unknown user: 401
    let r = c
        .request(
            Method::POST,
            "/v3/users/0123456789abcdef0123456789abcdef/password",
            None,
            Some(json!({"user": {"password": "a", "original_password": "b"}})),
        )
        .await;
    expect_401(r);
    // the change itself: 204, empty body, no token needed
    let r = c
        .request(
            Method::POST,
            &path,
            None,
            Some(json!({"user": {"password": "new-pw-1", "original_password": "pw-123456"}})),
        )
        .await
        .expect(204);
    assert_eq!(r.body, Value::Null);
    validate(&c, &admin, &t).await.expect_error(404);
    expect_401(c.get("/v3/auth/projects", &t).await);
    expect_401(auth_id(&c, &uid, "pw-123456", None).await);
    let t2 = token_id(&c, &uid, "new-pw-1", Some(project_scope(&pid))).await;
    let v = validate(&c, &admin, &t2).await.expect(200);
    assert_eq!(v.body["token"]["user"]["id"], json!(uid));
    assert_eq!(v.body["token"]["user"]["name"], "pwuser");
}

#[tokio::test]
async fn admin_password_reset_ends_tokens() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let pid = project_id(&c, "demo").await;
    let (uid, t) = user_on_project(&c, &admin, "resetme", &pid, "member").await;
    let r = c.patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"password": "reset-pw"}})).await.expect(200);
    assert!(r.body["user"].get("password").is_none());
    validate(&c, &admin, &t).await.expect_error(404);
    expect_401(auth_id(&c, &uid, "pw-123456", None).await);
    auth_id(&c, &uid, "reset-pw", Some(project_scope(&pid))).await.expect(201);
}

#[tokio::test]
async fn roles_are_computed_when_a_token_is_validated() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let pid = project_id(&c, "demo").await;
    let did = demo_id(&c).await;
    let admin_role = c.role_id("admin").await;
    assert_eq!(role_names(&validate(&c, &demo, &demo).await.expect(200).body), strs(&["member", "reader"]));
    c.get("/v3/users", &demo).await.expect_error(403);
    grant_project_user(&c, &admin, &pid, &did, &admin_role).await;
    // the same token now carries admin and what it implies, and policy sees it
    assert_eq!(
        role_names(&validate(&c, &demo, &demo).await.expect(200).body),
        strs(&["admin", "manager", "member", "reader"])
    );
    c.get("/v3/users", &demo).await.expect(200);
    c.delete(&format!("/v3/projects/{pid}/users/{did}/roles/{admin_role}"), &admin).await.expect(204);
    assert_eq!(role_names(&validate(&c, &demo, &demo).await.expect(200).body), strs(&["member", "reader"]));
    c.get("/v3/users", &demo).await.expect_error(403);
}

#[tokio::test]
async fn losing_the_last_role_ends_a_scoped_token() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let pid = project_id(&c, "demo").await;
    let (uid, t) = user_on_project(&c, &admin, "onerole", &pid, "member").await;
    let member = c.role_id("member").await;
    c.delete(&format!("/v3/projects/{pid}/users/{uid}/roles/{member}"), &admin).await.expect(204);
    validate(&c, &admin, &t).await.expect_error(404);
    expect_401(c.get("/v3/auth/projects", &t).await);
    expect_401(auth_id(&c, &uid, "pw-123456", Some(project_scope(&pid))).await);
}

#[tokio::test]
async fn group_roles_reach_tokens_and_leave_with_membership() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let p = new_project(&c, &admin, "gp", "default").await;
    let pid = p["id"].as_str().unwrap();
    let g = new_group(&c, &admin, "g1", "default").await;
    let gid = g["id"].as_str().unwrap();
    let u = new_user(&c, &admin, "gu", "pw-123456", "default").await;
    let uid = u["id"].as_str().unwrap();
    grant(&c, &admin, "projects", pid, "groups", gid, &c.role_id("member").await).await;
    expect_401(auth_id(&c, uid, "pw-123456", Some(project_scope(pid))).await);
    c.put(&format!("/v3/groups/{gid}/users/{uid}"), &admin).await.expect(204);
    let r = auth_id(&c, uid, "pw-123456", Some(project_scope(pid))).await.expect(201);
    assert_eq!(role_names(&r.body), strs(&["member", "reader"]));
    let t = subject(&r);
    // /auth/projects and /users/{id}/projects see the group's project
    assert_eq!(ids(&c.get("/v3/auth/projects", &t).await.expect(200).body, "projects"), vec![pid.to_string()]);
    assert_eq!(
        ids(&c.get(&format!("/v3/users/{uid}/projects"), &t).await.expect(200).body, "projects"),
        vec![pid.to_string()]
    );
    c.delete(&format!("/v3/groups/{gid}/users/{uid}"), &admin).await.expect(204);
    validate(&c, &admin, &t).await.expect_error(404);
}

#[tokio::test]
async fn auth_projects_domains_system_and_catalog() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let demo_pid = project_id(&c, "demo").await;
    // /auth/projects: what the caller can scope to, live
    let l = c.get("/v3/auth/projects", &demo).await.expect(200);
    assert_eq!(ids(&l.body, "projects"), vec![demo_pid.clone()]);
    assert_eq!(l.body["links"]["self"], json!(format!("{}/v3/auth/projects", c.base)));
    let p2 = new_project(&c, &admin, "extra", "default").await;
    let p2id = p2["id"].as_str().unwrap().to_string();
    grant_project_user(&c, &admin, &p2id, &demo_id(&c).await, &c.role_id("reader").await).await;
    let mut got = ids(&c.get("/v3/auth/projects", &demo).await.expect(200).body, "projects");
    got.sort();
    let mut want = vec![demo_pid.clone(), p2id.clone()];
    want.sort();
    assert_eq!(got, want);
    // /auth/domains: none for demo; a direct and a group domain role count
    assert!(c.get("/v3/auth/domains", &demo).await.expect(200).body["domains"].as_array().unwrap().is_empty());
    let d1 = new_domain(&c, &admin, "ad1").await;
    let d2 = new_domain(&c, &admin, "ad2").await;
    let (d1, d2) = (d1["id"].as_str().unwrap(), d2["id"].as_str().unwrap());
    grant(&c, &admin, "domains", d1, "users", &demo_id(&c).await, &c.role_id("reader").await).await;
    let g = new_group(&c, &admin, "adg", "default").await;
    let gid = g["id"].as_str().unwrap();
    grant(&c, &admin, "domains", d2, "groups", gid, &c.role_id("reader").await).await;
    c.put(&format!("/v3/groups/{gid}/users/{}", demo_id(&c).await), &admin).await.expect(204);
    let mut got = ids(&c.get("/v3/auth/domains", &demo).await.expect(200).body, "domains");
    got.sort();
    let mut want = vec![d1.to_string(), d2.to_string()];
    want.sort();
    assert_eq!(got, want);
    // /auth/system
    let s = c.get("/v3/auth/system", &admin).await.expect(200);
    assert_eq!(s.body["system"], json!([{"all": true}]));
    let s = c.get("/v3/auth/system", &demo).await.expect(200);
    assert_eq!(s.body["system"], json!([]));
    // /auth/catalog: project-scoped tokens only
    let cat = c.get("/v3/auth/catalog", &demo).await.expect(200);
    assert!(cat.body["catalog"].as_array().unwrap().iter().any(|s| s["type"] == "identity"));
    assert_eq!(cat.body["links"]["self"], json!(format!("{}/v3/auth/catalog", c.base)));
    let sys = subject(&c.password_auth("admin", ADMIN_PASSWORD, Some(system_scope())).await.expect(201));
    c.get("/v3/auth/catalog", &sys).await.expect_error(403);
    let un = subject(&unscoped(&c, "demo").await.expect(201));
    c.get("/v3/auth/catalog", &un).await.expect_error(403);
    // without a token: 401
    expect_401(c.request(Method::GET, "/v3/auth/projects", None, None).await);
    expect_401(c.request(Method::GET, "/v3/auth/catalog", None, None).await);
}

#[tokio::test]
async fn expired_tokens_are_gone() {
    let c = TestCloud::start_with(rustack_db::testing::sqlite().await, "[token]\nexpiration = 2\n").await;
    let r = c
        .password_auth(
            "admin",
            ADMIN_PASSWORD,
            Some(json!({"project": {"name": "admin", "domain": {"id": "default"}}})),
        )
        .await
        .expect(201);
    let t = &r.body["token"];
    let life = parse_time(t["expires_at"].as_str().unwrap()) - parse_time(t["issued_at"].as_str().unwrap());
    assert_eq!(life.num_seconds(), 2);
    let tok = subject(&r);
    c.get("/v3/users", &tok).await.expect(200);
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    expect_401(c.get("/v3/users", &tok).await);
    let fresh = c.admin_token().await;
    validate(&c, &fresh, &tok).await.expect_error(404);
}

#[tokio::test]
async fn a_system_token_cannot_become_a_project_or_domain_token() {
    // Keystone's token method: "Using a system-scoped token to create a
    // project-scoped or domain-scoped token is not allowed." (403)
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    grant(&c, &admin, "domains", "default", "users", &admin_id(&c).await, &c.role_id("admin").await).await;
    let sys = subject(&c.password_auth("admin", ADMIN_PASSWORD, Some(system_scope())).await.expect(201));
    rescope(&c, &sys, Some(project_scope(&project_id(&c, "admin").await))).await.expect_error(403);
    rescope(&c, &sys, Some(domain_scope("default"))).await.expect_error(403);
    // system to system is a plain rescope
    let r = rescope(&c, &sys, Some(system_scope())).await.expect(201);
    assert_eq!(r.body["token"]["system"], json!({"all": true}));
}

#[tokio::test]
async fn an_application_credential_token_cannot_be_exchanged() {
    // Keystone: "Using a delegated token to create another token is not allowed." (403)
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let r = c
        .post(
            &format!("/v3/users/{uid}/application_credentials"),
            &demo,
            json!({"application_credential": {"name": "k"}}),
        )
        .await
        .expect(201);
    let ac = &r.body["application_credential"];
    let t = subject(
        &auth(&c, json!({"identity": {"methods": ["application_credential"], "application_credential": {"id": ac["id"], "secret": ac["secret"]}}}))
            .await
            .expect(201),
    );
    rescope(&c, &t, None).await.expect_error(403);
    rescope(&c, &t, Some(project_scope(&project_id(&c, "demo").await))).await.expect_error(403);
}

#[tokio::test]
async fn revoking_with_cascade_false_spares_the_rescoped_tokens() {
    // Keystone 30: DELETE /v3/auth/tokens?cascade=false revokes only the
    // subject token (by its audit id), not the tokens rescoped from it.
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let t0 = subject(&unscoped(&c, "demo").await.expect(201));
    let t1 = subject(&rescope(&c, &t0, Some(project_scope(&project_id(&c, "demo").await))).await.expect(201));
    let r = c
        .request_with(Method::DELETE, "/v3/auth/tokens?cascade=false", Some(&admin), None, &[("X-Subject-Token", &t0)])
        .await
        .expect(204);
    assert_eq!(r.body, Value::Null);
    validate(&c, &admin, &t0).await.expect_error(404);
    validate(&c, &admin, &t1).await.expect(200);
}
