//! OS-TRUST: `/v3/OS-TRUST/trusts` and trust-scoped tokens (impersonation,
//! remaining uses, redelegation, revocation), as Keystone 30 serves them.

use reqwest::Method;
use rustack_test_utils::{Resp, TestCloud, ADMIN_PASSWORD};
use serde_json::{json, Value};

const PW: &str = "pw-123456";
const NO_SUCH: &str = "0123456789abcdef0123456789abcdef";
const TRUSTS: &str = "/v3/OS-TRUST/trusts";

fn subject(r: &Resp) -> String {
    r.header("x-subject-token").expect("X-Subject-Token").to_string()
}

async fn auth(c: &TestCloud, a: Value) -> Resp {
    c.request(Method::POST, "/v3/auth/tokens", None, Some(json!({ "auth": a }))).await
}

fn pw(uid: &str) -> Value {
    json!({"methods": ["password"], "password": {"user": {"id": uid, "password": PW}}})
}

async fn project_token(c: &TestCloud, uid: &str, pid: &str) -> String {
    subject(&auth(c, json!({"identity": pw(uid), "scope": {"project": {"id": pid}}})).await.expect(201))
}

async fn trust_auth(c: &TestCloud, uid: &str, trust_id: &str) -> Resp {
    auth(c, json!({"identity": pw(uid), "scope": {"OS-TRUST:trust": {"id": trust_id}}})).await
}

async fn trust_token(c: &TestCloud, uid: &str, trust_id: &str) -> (String, Value) {
    let r = trust_auth(c, uid, trust_id).await.expect(201);
    (subject(&r), r.body["token"].clone())
}

async fn validate(c: &TestCloud, caller: &str, subject: &str) -> Resp {
    c.request_with(Method::GET, "/v3/auth/tokens", Some(caller), None, &[("X-Subject-Token", subject)]).await
}

async fn created(c: &TestCloud, t: &str, collection: &str, key: &str, body: Value) -> String {
    let r = c.post(&format!("/v3/{collection}"), t, json!({ key: body })).await.expect(201);
    r.body[key]["id"].as_str().unwrap().to_string()
}

/// The scene of tempest's trust tests: a project, a trustor with a delegated
/// and a not-delegated role on it, a trustee, and tokens.
struct Scene {
    c: TestCloud,
    admin: String,
    project: String,
    trustor: String,
    trustor_token: String,
    trustee: String,
    delegated: String,
    not_delegated: String,
}

async fn scene() -> Scene {
    scene_on(TestCloud::start().await).await
}

async fn scene_on(c: TestCloud) -> Scene {
    let admin = c.admin_token().await;
    let project = created(&c, &admin, "projects", "project", json!({"name": "trusting", "domain_id": "default"})).await;
    let trustor =
        created(&c, &admin, "users", "user", json!({"name": "trustor", "password": PW, "domain_id": "default"})).await;
    let trustee =
        created(&c, &admin, "users", "user", json!({"name": "trustee", "password": PW, "domain_id": "default"})).await;
    let delegated = created(&c, &admin, "roles", "role", json!({"name": "Delegated"})).await;
    let not_delegated = created(&c, &admin, "roles", "role", json!({"name": "NotDelegated"})).await;
    for r in [&delegated, &not_delegated] {
        c.put(&format!("/v3/projects/{project}/users/{trustor}/roles/{r}"), &admin).await.expect(204);
    }
    let trustor_token = project_token(&c, &trustor, &project).await;
    Scene { c, admin, project, trustor, trustor_token, trustee, delegated, not_delegated }
}

impl Scene {
    fn body(&self, extra: Value) -> Value {
        let mut t = json!({
            "trustor_user_id": self.trustor, "trustee_user_id": self.trustee, "project_id": self.project,
            "impersonation": true, "roles": [{"name": "Delegated"}]
        });
        for (k, v) in extra.as_object().unwrap() {
            t[k] = v.clone();
        }
        json!({ "trust": t })
    }

    async fn create(&self, extra: Value) -> Value {
        self.c.post(TRUSTS, &self.trustor_token, self.body(extra)).await.expect(201).body["trust"].clone()
    }

    async fn revoke_delegated(&self) {
        self.c
            .delete(
                &format!("/v3/projects/{}/users/{}/roles/{}", self.project, self.trustor, self.delegated),
                &self.admin,
            )
            .await
            .expect(204);
    }
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn create_show_roles_and_delete() {
    let s = scene().await;
    let c = &s.c;
    let t = s.create(json!({})).await;
    let tid = t["id"].as_str().unwrap();
    assert_eq!(tid.len(), 32);
    assert_eq!(
        keys(&t),
        [
            "deleted_at",
            "expires_at",
            "id",
            "impersonation",
            "links",
            "project_id",
            "redelegated_trust_id",
            "redelegation_count",
            "remaining_uses",
            "roles",
            "roles_links",
            "trustee_user_id",
            "trustor_user_id"
        ]
    );
    assert_eq!(t["trustor_user_id"], json!(s.trustor));
    assert_eq!(t["trustee_user_id"], json!(s.trustee));
    assert_eq!(t["project_id"], json!(s.project));
    assert_eq!(t["impersonation"], json!(true));
    assert_eq!(t["expires_at"], Value::Null);
    assert_eq!(t["remaining_uses"], Value::Null);
    assert_eq!(t["redelegation_count"], json!(0));
    assert_eq!(t["links"]["self"], json!(format!("{}/v3/OS-TRUST/trusts/{tid}", c.base)));
    assert_eq!(t["roles"].as_array().unwrap().len(), 1);
    assert_eq!(t["roles"][0]["id"], json!(s.delegated));
    assert_eq!(t["roles"][0]["name"], json!("Delegated"));
    assert_eq!(t["roles"][0]["links"]["self"], json!(format!("{}/v3/roles/{}", c.base, s.delegated)));
    // show, by the trustor and by the admin
    let g = c.get(&format!("{TRUSTS}/{tid}"), &s.trustor_token).await.expect(200).body["trust"].clone();
    assert_eq!(g, t);
    c.get(&format!("{TRUSTS}/{tid}"), &s.admin).await.expect(200);
    // the delegated roles
    let roles = c.get(&format!("{TRUSTS}/{tid}/roles"), &s.trustor_token).await.expect(200);
    assert_eq!(roles.body["roles"].as_array().unwrap().len(), 1);
    assert_eq!(roles.body["roles"][0]["id"], json!(s.delegated));
    assert_eq!(roles.body["links"]["self"], json!(format!("{}/v3/OS-TRUST/trusts/{tid}/roles", c.base)));
    let r = c.get(&format!("{TRUSTS}/{tid}/roles/{}", s.delegated), &s.trustor_token).await.expect(200);
    assert_eq!(r.body["role"]["name"], "Delegated");
    let h = c.head(&format!("{TRUSTS}/{tid}/roles/{}", s.delegated), &s.trustor_token).await.expect(200);
    assert_eq!(h.body, Value::Null);
    c.get(&format!("{TRUSTS}/{tid}/roles/{}", s.not_delegated), &s.trustor_token).await.expect_error(404);
    c.head(&format!("{TRUSTS}/{tid}/roles/{}", s.not_delegated), &s.trustor_token).await.expect(404);
    // a stranger sees nothing of it
    let demo = c.demo_token().await;
    c.get(&format!("{TRUSTS}/{tid}"), &demo).await.expect_error(403);
    c.get(&format!("{TRUSTS}/{tid}/roles"), &demo).await.expect_error(403);
    c.delete(&format!("{TRUSTS}/{tid}"), &demo).await.expect_error(403);
    // unknown trusts are 404s, before any policy check
    c.get(&format!("{TRUSTS}/{NO_SUCH}"), &demo).await.expect_error(404);
    c.delete(&format!("{TRUSTS}/{NO_SUCH}"), &s.trustor_token).await.expect_error(404);
    // delete
    let d = c.delete(&format!("{TRUSTS}/{tid}"), &s.trustor_token).await.expect(204);
    assert_eq!(d.body, Value::Null);
    c.get(&format!("{TRUSTS}/{tid}"), &s.trustor_token).await.expect_error(404);
    c.delete(&format!("{TRUSTS}/{tid}"), &s.trustor_token).await.expect_error(404);
}

#[tokio::test]
async fn list_filters_and_policy() {
    let s = scene().await;
    let c = &s.c;
    let t = s.create(json!({"impersonation": false})).await;
    let tid = t["id"].as_str().unwrap();
    let l = c.get(&format!("{TRUSTS}?trustor_user_id={}", s.trustor), &s.trustor_token).await.expect(200);
    let items = l.body["trusts"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], json!(tid));
    assert!(items[0].get("roles").is_none(), "lists leave the roles out: {}", items[0]);
    assert_eq!(items[0]["impersonation"], json!(false));
    assert_eq!(l.body["links"]["self"], json!(format!("{}/v3/OS-TRUST/trusts?trustor_user_id={}", c.base, s.trustor)));
    // the trustee lists by trustee
    let trustee_token = subject(&auth(c, json!({"identity": pw(&s.trustee)})).await.expect(201));
    let l = c.get(&format!("{TRUSTS}?trustee_user_id={}", s.trustee), &trustee_token).await.expect(200);
    assert_eq!(l.body["trusts"].as_array().unwrap().len(), 1);
    // with a trailing slash too, as tempest asks
    let l = c.get(&format!("{TRUSTS}/?trustor_user_id={}", s.trustor), &s.trustor_token).await.expect(200);
    assert_eq!(l.body["trusts"].as_array().unwrap().len(), 1);
    // listing all is for admins
    let all = c.get(TRUSTS, &s.admin).await.expect(200);
    assert!(all.body["trusts"].as_array().unwrap().iter().any(|x| x["id"] == json!(tid)));
    c.get(TRUSTS, &s.trustor_token).await.expect_error(403);
    // nobody lists another user's trusts but admins
    let demo = c.demo_token().await;
    c.get(&format!("{TRUSTS}?trustor_user_id={}", s.trustor), &demo).await.expect_error(403);
    c.get(&format!("{TRUSTS}?trustee_user_id={}", s.trustee), &demo).await.expect_error(403);
    assert_eq!(
        c.get(&format!("{TRUSTS}?trustor_user_id={}", s.trustor), &s.admin).await.expect(200).body["trusts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // an unknown filter lists nothing, as Keystone
    assert_eq!(c.get(&format!("{TRUSTS}?foo=bar"), &s.admin).await.expect(200).body["trusts"], json!([]));
    // a domain-scoped token is refused (project and system scope only)
    let admin_uid = user(c, "admin").await;
    let admin_role = c.role_id("admin").await;
    c.put(&format!("/v3/domains/default/users/{admin_uid}/roles/{admin_role}"), &s.admin).await.expect(204);
    let dom = subject(
        &c.password_auth("admin", ADMIN_PASSWORD, Some(json!({"domain": {"id": "default"}}))).await.expect(201),
    );
    c.get(TRUSTS, &dom).await.expect_error(403);
    // system readers may list
    let sys =
        subject(&c.password_auth("admin", ADMIN_PASSWORD, Some(json!({"system": {"all": true}}))).await.expect(201));
    c.get(TRUSTS, &sys).await.expect(200);
    c.get(&format!("{TRUSTS}/{tid}"), &sys).await.expect(200);
    // but cannot create trusts
    c.post(TRUSTS, &sys, s.body(json!({"trustor_user_id": user(c, "admin").await}))).await.expect_error(403);
}

async fn user(c: &TestCloud, name: &str) -> String {
    c.identity.store().get_user_by_name("default", name).await.unwrap().unwrap().id
}

#[tokio::test]
async fn bad_input_and_refusals() {
    let s = scene().await;
    let c = &s.c;
    let tok: &str = &s.trustor_token;
    let post = |body: Value| async move { c.post(TRUSTS, tok, body).await };
    let naming = |r: Resp, field: &str| {
        let r = r.expect_error(400);
        let m = r.body["error"]["message"].as_str().unwrap().to_string();
        assert!(m.contains(field), "400 should name {field}: {m}");
    };
    naming(post(json!({})).await, "trust");
    naming(post(json!({"trust": "x"})).await, "trust");
    for f in ["trustor_user_id", "trustee_user_id", "impersonation"] {
        let mut b = s.body(json!({}));
        b["trust"].as_object_mut().unwrap().remove(f);
        naming(post(b).await, f);
    }
    naming(post(s.body(json!({"impersonation": "yes"}))).await, "impersonation");
    naming(post(s.body(json!({"expires_at": "bad.123Z"}))).await, "expires_at");
    naming(post(s.body(json!({"expires_at": "2001-01-01T00:00:00Z"}))).await, "expires_at");
    naming(post(s.body(json!({"remaining_uses": 0}))).await, "remaining_uses");
    naming(post(s.body(json!({"remaining_uses": "1"}))).await, "remaining_uses");
    naming(post(s.body(json!({"redelegation_count": -1}))).await, "redelegation_count");
    naming(post(s.body(json!({"allow_redelegation": 1}))).await, "allow_redelegation");
    naming(post(s.body(json!({"roles": [{"id": "a", "name": "b"}]}))).await, "roles");
    naming(post(s.body(json!({"roles": [{"color": "red"}]}))).await, "roles");
    naming(post(s.body(json!({"roles": "Delegated"}))).await, "roles");
    // only the trustor creates a trust
    post(s.body(json!({"trustor_user_id": s.trustee}))).await.expect_error(403);
    // a project needs roles
    post(s.body(json!({"roles": []}))).await.expect_error(403);
    // things that do not exist, or roles the trustor lacks: 404
    post(s.body(json!({"trustee_user_id": NO_SUCH}))).await.expect_error(404);
    post(s.body(json!({"roles": [{"name": "NoSuchRole"}]}))).await.expect_error(404);
    post(s.body(json!({"roles": [{"name": "admin"}]}))).await.expect_error(404);
    post(s.body(json!({"roles": [{"id": NO_SUCH}]}))).await.expect_error(404);
    post(s.body(json!({"project_id": NO_SUCH}))).await.expect_error(404);
    // a trust without a project delegates no role
    let t = c
        .post(
            TRUSTS,
            &s.trustor_token,
            json!({"trust": {"trustor_user_id": s.trustor, "trustee_user_id": s.trustee, "impersonation": false}}),
        )
        .await
        .expect(201);
    assert_eq!(t.body["trust"]["project_id"], Value::Null);
    assert_eq!(t.body["trust"]["roles"], json!([]));
    // unknown attributes are kept, as Keystone keeps extras
    let t = s.create(json!({"purpose": "backups"})).await;
    assert_eq!(t["purpose"], "backups");
    // no token, bad token
    c.request(Method::POST, TRUSTS, None, Some(s.body(json!({})))).await.expect_error(401);
}

#[tokio::test]
async fn impersonating_and_plain_trust_tokens() {
    let s = scene().await;
    let c = &s.c;
    let imp = s.create(json!({"impersonation": true})).await;
    let plain = s.create(json!({"impersonation": false})).await;
    // impersonation: the token is the trustor's
    let (tok, body) = trust_token(c, &s.trustee, imp["id"].as_str().unwrap()).await;
    assert_eq!(body["user"]["id"], json!(s.trustor));
    assert_eq!(body["user"]["name"], "trustor");
    assert_eq!(
        body["OS-TRUST:trust"],
        json!({"id": imp["id"], "impersonation": true, "trustor_user": {"id": s.trustor}, "trustee_user": {"id": s.trustee}})
    );
    assert_eq!(body["project"]["id"], json!(s.project));
    assert!(body.get("is_domain").is_none());
    let roles: Vec<&str> = body["roles"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(roles, vec!["Delegated"], "only the delegated role");
    assert!(body["catalog"].is_array());
    // validation shows the same
    let v = validate(c, &s.admin, &tok).await.expect(200);
    assert_eq!(v.body["token"]["OS-TRUST:trust"]["id"], imp["id"]);
    assert_eq!(v.body["token"]["user"]["id"], json!(s.trustor));
    // without impersonation: the trustee's, with the trustor's delegated roles
    let (tok2, body2) = trust_token(c, &s.trustee, plain["id"].as_str().unwrap()).await;
    assert_eq!(body2["user"]["id"], json!(s.trustee));
    assert_eq!(body2["OS-TRUST:trust"]["impersonation"], json!(false));
    assert_eq!(body2["roles"][0]["id"], json!(s.delegated));
    // the token works as a token: the trustee reads the trust with it
    c.get(&format!("{TRUSTS}/{}", plain["id"].as_str().unwrap()), &tok2).await.expect(200);
    // by rescoping an unscoped token of the trustee too
    let unscoped = subject(&auth(c, json!({"identity": pw(&s.trustee)})).await.expect(201));
    let r = auth(c, json!({"identity": {"methods": ["token"], "token": {"id": unscoped}}, "scope": {"OS-TRUST:trust": {"id": plain["id"]}}})).await.expect(201);
    assert!(r.body["token"]["methods"].as_array().unwrap().contains(&json!("token")));
    assert_eq!(r.body["token"]["OS-TRUST:trust"]["id"], plain["id"]);
    // a trust-scoped token is not rescoped
    let r = auth(
        c,
        json!({"identity": {"methods": ["token"], "token": {"id": tok2}}, "scope": {"project": {"id": s.project}}}),
    )
    .await;
    r.expect_error(403);
    // nobody but the trustee uses the trust
    let demo = user(c, "demo").await;
    let r = auth(c, json!({"identity": {"methods": ["password"], "password": {"user": {"id": demo, "password": rustack_test_utils::DEMO_PASSWORD}}},
                          "scope": {"OS-TRUST:trust": {"id": plain["id"]}}})).await;
    r.expect_error(403);
    trust_auth(c, &s.trustor, plain["id"].as_str().unwrap()).await.expect_error(403);
    // unknown trusts and malformed scopes
    trust_auth(c, &s.trustee, NO_SUCH).await.expect_error(401);
    auth(c, json!({"identity": pw(&s.trustee), "scope": {"OS-TRUST:trust": ""}})).await.expect_error(400);
    auth(c, json!({"identity": pw(&s.trustee), "scope": {"OS-TRUST:trust": {}}})).await.expect_error(400);
    auth(c, json!({"identity": pw(&s.trustee), "scope": {"OS-TRUST:trust": {"id": plain["id"]}, "project": {"id": s.project}}})).await.expect_error(400);
    // trust-scoped tokens do not manage application credentials
    c.post(
        &format!("/v3/users/{}/application_credentials", s.trustee),
        &tok2,
        json!({"application_credential": {"name": "x"}}),
    )
    .await
    .expect_error(403);
}

#[tokio::test]
async fn remaining_uses_are_counted() {
    let s = scene().await;
    let c = &s.c;
    let t = s.create(json!({"remaining_uses": 2, "impersonation": false})).await;
    let tid = t["id"].as_str().unwrap();
    assert_eq!(t["remaining_uses"], json!(2));
    let (first, _) = trust_token(c, &s.trustee, tid).await;
    assert_eq!(
        c.get(&format!("{TRUSTS}/{tid}"), &s.trustor_token).await.expect(200).body["trust"]["remaining_uses"],
        json!(1)
    );
    let (second, _) = trust_token(c, &s.trustee, tid).await;
    // used up: Keystone hides the trust and refuses more tokens
    c.get(&format!("{TRUSTS}/{tid}"), &s.trustor_token).await.expect_error(404);
    trust_auth(c, &s.trustee, tid).await.expect_error(401);
    // the tokens already made stay valid
    validate(c, &s.admin, &first).await.expect(200);
    validate(c, &s.admin, &second).await.expect(200);
    // a failed authentication does not take a use
    let t = s.create(json!({"remaining_uses": 1, "impersonation": false})).await;
    let tid = t["id"].as_str().unwrap();
    let demo = user(c, "demo").await;
    let r = auth(c, json!({"identity": {"methods": ["password"], "password": {"user": {"id": demo, "password": rustack_test_utils::DEMO_PASSWORD}}},
                          "scope": {"OS-TRUST:trust": {"id": tid}}})).await;
    r.expect_error(403);
    trust_token(c, &s.trustee, tid).await;
    trust_auth(c, &s.trustee, tid).await.expect_error(401);
}

#[tokio::test]
async fn concurrent_uses_never_exceed_the_limit() {
    let s = scene().await;
    let t = s.create(json!({"remaining_uses": 3, "impersonation": false})).await;
    let tid = t["id"].as_str().unwrap().to_string();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let (store, tid) = (s.c.identity.store().clone(), tid.clone());
        handles.push(tokio::spawn(async move { store.consume_trust_use(&tid).await.unwrap() }));
    }
    let mut taken = 0;
    for h in handles {
        if h.await.unwrap() {
            taken += 1;
        }
    }
    assert_eq!(taken, 3);
}

#[tokio::test]
async fn expiry_is_echoed_and_caps_the_token() {
    let s = scene().await;
    let c = &s.c;
    let exp = (chrono::Utc::now() + chrono::Duration::minutes(30)).format("%Y-%m-%dT%H:%M:%S").to_string();
    let t = s.create(json!({"expires_at": format!("{exp}Z"), "impersonation": false})).await;
    assert_eq!(t["expires_at"], json!(format!("{exp}.000000Z")));
    // the token ends with the trust, not an hour from now
    let (_, body) = trust_token(c, &s.trustee, t["id"].as_str().unwrap()).await;
    assert_eq!(body["expires_at"], json!(format!("{exp}.000000Z")));
    // no zone means UTC
    let t = s.create(json!({"expires_at": exp.clone(), "impersonation": false})).await;
    assert_eq!(t["expires_at"], json!(format!("{exp}.000000Z")));
}

#[tokio::test]
async fn losing_the_role_or_the_trust_ends_the_tokens() {
    let s = scene().await;
    let c = &s.c;
    let t = s.create(json!({"impersonation": false})).await;
    let tid = t["id"].as_str().unwrap();
    let (tok, _) = trust_token(c, &s.trustee, tid).await;
    validate(c, &s.admin, &tok).await.expect(200);
    c.get(&format!("{TRUSTS}/{tid}"), &tok).await.expect(200);
    // the trustor loses the delegated role: the token is no longer valid
    s.revoke_delegated().await;
    validate(c, &s.admin, &tok).await.expect_error(404);
    c.get(&format!("{TRUSTS}/{tid}"), &tok).await.expect_error(401);
    trust_auth(c, &s.trustee, tid).await.expect_error(401);
    // and back
    c.put(&format!("/v3/projects/{}/users/{}/roles/{}", s.project, s.trustor, s.delegated), &s.admin).await.expect(204);
    validate(c, &s.admin, &tok).await.expect(200);
    // the trustee cannot delete it; the trustor can, and its tokens end
    c.delete(&format!("{TRUSTS}/{tid}"), &tok).await.expect_error(403);
    c.delete(&format!("{TRUSTS}/{tid}"), &s.trustor_token).await.expect(204);
    validate(c, &s.admin, &tok).await.expect_error(404);
    // the trustee's tokens revoked (a password change) end its impersonating trust tokens
    let imp = s.create(json!({"impersonation": true})).await;
    let (itok, ibody) = trust_token(c, &s.trustee, imp["id"].as_str().unwrap()).await;
    assert_eq!(ibody["user"]["id"], json!(s.trustor));
    validate(c, &s.admin, &itok).await.expect(200);
    c.patch(&format!("/v3/users/{}", s.trustee), &s.admin, json!({"user": {"password": "another-pw-1"}}))
        .await
        .expect(200);
    validate(c, &s.admin, &itok).await.expect_error(404);
    c.patch(&format!("/v3/users/{}", s.trustee), &s.admin, json!({"user": {"password": PW}})).await.expect(200);
    // a disabled trustor ends them too
    let t = s.create(json!({"impersonation": false})).await;
    let (tok, _) = trust_token(c, &s.trustee, t["id"].as_str().unwrap()).await;
    c.patch(&format!("/v3/users/{}", s.trustor), &s.admin, json!({"user": {"enabled": false}})).await.expect(200);
    validate(c, &s.admin, &tok).await.expect_error(404);
    trust_auth(c, &s.trustee, t["id"].as_str().unwrap()).await.expect_error(403);
}

#[tokio::test]
async fn deleting_a_party_or_the_project_removes_the_trust() {
    let s = scene().await;
    let c = &s.c;
    let t1 = s.create(json!({})).await;
    c.delete(&format!("/v3/users/{}", s.trustee), &s.admin).await.expect(204);
    c.get(&format!("{TRUSTS}/{}", t1["id"].as_str().unwrap()), &s.admin).await.expect_error(404);
    let s = scene().await;
    let t2 = s.create(json!({})).await;
    s.c.delete(&format!("/v3/projects/{}", s.project), &s.admin).await.expect(204);
    s.c.get(&format!("{TRUSTS}/{}", t2["id"].as_str().unwrap()), &s.admin).await.expect_error(404);
}

#[tokio::test]
async fn redelegation() {
    let s = scene().await;
    let c = &s.c;
    let third =
        created(c, &s.admin, "users", "user", json!({"name": "third", "password": PW, "domain_id": "default"})).await;
    let parent = s.create(json!({"allow_redelegation": true})).await;
    assert_eq!(parent["redelegation_count"], json!(3), "the maximum by default");
    assert!(parent.get("allow_redelegation").is_none());
    let pid = parent["id"].as_str().unwrap();
    let (tok, _) = trust_token(c, &s.trustee, pid).await;
    // the trustee (impersonating the trustor) passes a subset on to a third user
    let child = json!({"trust": {"trustor_user_id": s.trustor, "trustee_user_id": third, "project_id": s.project,
                                 "impersonation": true, "roles": [{"id": s.delegated}], "allow_redelegation": true}});
    let r = c.post(TRUSTS, &tok, child.clone()).await.expect(201);
    let ct = r.body["trust"].clone();
    assert_eq!(ct["redelegated_trust_id"], json!(pid));
    assert_eq!(ct["redelegation_count"], json!(2));
    let (third_tok, body) = trust_token(c, &third, ct["id"].as_str().unwrap()).await;
    assert_eq!(body["roles"][0]["id"], json!(s.delegated));
    // roles beyond the parent's, a use limit, a changed count, a longer life: 403
    let mut more = child.clone();
    more["trust"]["roles"] = json!([{"id": s.delegated}, {"id": s.not_delegated}]);
    c.post(TRUSTS, &tok, more).await.expect_error(403);
    let mut limited = child.clone();
    limited["trust"]["allow_redelegation"] = json!(false);
    limited["trust"]["remaining_uses"] = json!(3);
    c.post(TRUSTS, &tok, limited).await.expect_error(403);
    let mut recount = child.clone();
    recount["trust"]["redelegation_count"] = json!(1);
    c.post(TRUSTS, &tok, recount).await.expect_error(403);
    // a plain trust is not redelegated
    let plain = s.create(json!({})).await;
    let (plain_tok, _) = trust_token(c, &s.trustee, plain["id"].as_str().unwrap()).await;
    c.post(TRUSTS, &plain_tok, child.clone()).await.expect_error(403);
    // the depth runs out: count 1 lets one more trust be made, which cannot be redelegated
    let short = s.create(json!({"allow_redelegation": true, "redelegation_count": 1})).await;
    let (short_tok, _) = trust_token(c, &s.trustee, short["id"].as_str().unwrap()).await;
    let mut last = child.clone();
    last["trust"]["allow_redelegation"] = json!(false);
    let end = c.post(TRUSTS, &short_tok, last.clone()).await.expect(201).body["trust"].clone();
    assert_eq!(end["redelegation_count"], json!(0));
    let (end_tok, _) = trust_token(c, &third, end["id"].as_str().unwrap()).await;
    c.post(TRUSTS, &end_tok, last).await.expect_error(403);
    // above the maximum
    c.post(TRUSTS, &s.trustor_token, s.body(json!({"allow_redelegation": true, "redelegation_count": 4})))
        .await
        .expect_error(403);
    // remaining_uses with redelegation allowed is a 400
    c.post(TRUSTS, &s.trustor_token, s.body(json!({"allow_redelegation": true, "remaining_uses": 2})))
        .await
        .expect_error(400);
    // deleting the parent deletes the redelegated trust and ends its tokens
    c.delete(&format!("{TRUSTS}/{pid}"), &s.trustor_token).await.expect(204);
    c.get(&format!("{TRUSTS}/{}", ct["id"].as_str().unwrap()), &s.admin).await.expect_error(404);
    validate(c, &s.admin, &third_tok).await.expect_error(404);
}

#[tokio::test]
async fn application_credential_tokens_do_not_touch_trusts() {
    let s = scene().await;
    let c = &s.c;
    let t = s.create(json!({})).await;
    let ac = c
        .post(
            &format!("/v3/users/{}/application_credentials", s.trustor),
            &s.trustor_token,
            json!({"application_credential": {"name": "k", "unrestricted": true}}),
        )
        .await
        .expect(201);
    let (acid, secret) =
        (ac.body["application_credential"]["id"].clone(), ac.body["application_credential"]["secret"].clone());
    let act = subject(
        &auth(c, json!({"identity": {"methods": ["application_credential"], "application_credential": {"id": acid, "secret": secret}}})).await.expect(201),
    );
    c.get(&format!("{TRUSTS}/{}", t["id"].as_str().unwrap()), &act).await.expect_error(403);
    c.get(&format!("{TRUSTS}?trustor_user_id={}", s.trustor), &act).await.expect_error(403);
    c.post(TRUSTS, &act, s.body(json!({}))).await.expect_error(403);
    c.delete(&format!("{TRUSTS}/{}", t["id"].as_str().unwrap()), &act).await.expect_error(403);
    // nor get a trust-scoped token
    let r = auth(c, json!({"identity": {"methods": ["application_credential"], "application_credential": {"id": acid, "secret": secret}},
                          "scope": {"OS-TRUST:trust": {"id": t["id"]}}})).await;
    assert!(r.status == 403 || r.status == 401, "{}", r.status);
}

// ---------------------------------------------------------------- both backends

/// The trust SQL on every configured backend (PostgreSQL when
/// RUSTACK_TEST_POSTGRES_URL is set): create, list, the atomic use count,
/// redelegation chains deleted together, and the cascades from users,
/// projects and domains.
#[tokio::test]
async fn trusts_on_every_backend() {
    for db in rustack_db::testing::all_backends().await {
        let s = scene_on(TestCloud::start_with(db, "").await).await;
        let c = &s.c;
        let t = s
            .create(
                json!({"remaining_uses": 2, "impersonation": false, "expires_at": "2100-01-01T00:00:00Z", "note": "x"}),
            )
            .await;
        let tid = t["id"].as_str().unwrap();
        assert_eq!(t["expires_at"], "2100-01-01T00:00:00.000000Z");
        assert_eq!(t["note"], "x");
        let (tok, body) = trust_token(c, &s.trustee, tid).await;
        assert_eq!(body["roles"][0]["id"], json!(s.delegated));
        assert_eq!(
            c.get(&format!("{TRUSTS}/{tid}"), &s.trustor_token).await.expect(200).body["trust"]["remaining_uses"],
            json!(1)
        );
        trust_token(c, &s.trustee, tid).await;
        trust_auth(c, &s.trustee, tid).await.expect_error(401);
        validate(c, &s.admin, &tok).await.expect(200);
        assert_eq!(
            c.get(&format!("{TRUSTS}?trustee_user_id={}", s.trustee), &s.admin).await.expect(200).body["trusts"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        // a chain goes with its root
        let root = s.create(json!({"allow_redelegation": true})).await;
        let (rtok, _) = trust_token(c, &s.trustee, root["id"].as_str().unwrap()).await;
        let child = c
            .post(TRUSTS, &rtok, s.body(json!({"trustee_user_id": s.trustee, "allow_redelegation": true})))
            .await
            .expect(201)
            .body["trust"]
            .clone();
        assert_eq!(child["redelegated_trust_id"], root["id"]);
        let (ctok, _) = trust_token(c, &s.trustee, child["id"].as_str().unwrap()).await;
        let grandchild = c.post(TRUSTS, &ctok, s.body(json!({"trustee_user_id": s.trustee}))).await.expect(201).body
            ["trust"]
            .clone();
        assert_eq!(grandchild["redelegation_count"], json!(0));
        c.delete(&format!("{TRUSTS}/{}", root["id"].as_str().unwrap()), &s.trustor_token).await.expect(204);
        for gone in [&child, &grandchild] {
            c.get(&format!("{TRUSTS}/{}", gone["id"].as_str().unwrap()), &s.admin).await.expect_error(404);
        }
        // cascades: the trustee user, the project, a whole domain
        let t1 = s.create(json!({})).await;
        c.delete(&format!("/v3/users/{}", s.trustee), &s.admin).await.expect(204);
        c.get(&format!("{TRUSTS}/{}", t1["id"].as_str().unwrap()), &s.admin).await.expect_error(404);
        let other =
            created(c, &s.admin, "users", "user", json!({"name": "other", "password": PW, "domain_id": "default"}))
                .await;
        let t2 = s.create(json!({"trustee_user_id": other})).await;
        c.delete(&format!("/v3/projects/{}", s.project), &s.admin).await.expect(204);
        c.get(&format!("{TRUSTS}/{}", t2["id"].as_str().unwrap()), &s.admin).await.expect_error(404);
        let did = created(c, &s.admin, "domains", "domain", json!({"name": "gone"})).await;
        let dp = created(c, &s.admin, "projects", "project", json!({"name": "dp", "domain_id": did})).await;
        let du = created(c, &s.admin, "users", "user", json!({"name": "du", "password": PW, "domain_id": did})).await;
        c.put(&format!("/v3/projects/{dp}/users/{du}/roles/{}", s.delegated), &s.admin).await.expect(204);
        let dtok = project_token(c, &du, &dp).await;
        let dt = c
            .post(
                TRUSTS,
                &dtok,
                json!({"trust": {"trustor_user_id": du, "trustee_user_id": other, "project_id": dp,
                                                 "impersonation": false, "roles": [{"id": s.delegated}]}}),
            )
            .await
            .expect(201)
            .body["trust"]
            .clone();
        c.patch(&format!("/v3/domains/{did}"), &s.admin, json!({"domain": {"enabled": false}})).await.expect(200);
        c.delete(&format!("/v3/domains/{did}"), &s.admin).await.expect(204);
        assert!(c.identity.store().get_trust(dt["id"].as_str().unwrap()).await.unwrap().is_none());
    }
}
