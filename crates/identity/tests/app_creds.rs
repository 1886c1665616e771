//! `/v3/users/{id}/application_credentials` and the `application_credential`
//! auth method: secrets, roles, expiry, restriction and ownership.

mod common;

use common::*;
use rustack_test_utils::{TestCloud, ADMIN_PASSWORD};
use serde_json::{json, Value};

const NO_SUCH: &str = "0123456789abcdef0123456789abcdef";

fn path(uid: &str) -> String {
    format!("/v3/users/{uid}/application_credentials")
}

/// The credential with its role list in id order (the list is a set).
fn sorted_roles(ac: &Value) -> Value {
    let mut v = ac.clone();
    if let Some(a) = v["roles"].as_array_mut() {
        a.sort_by_key(|r| r["id"].as_str().unwrap_or_default().to_string());
    }
    v
}

async fn ac_auth(c: &TestCloud, id: &str, secret: &str) -> rustack_test_utils::Resp {
    auth(c, json!({"identity": {"methods": ["application_credential"], "application_credential": {"id": id, "secret": secret}}})).await
}

#[tokio::test]
async fn create_show_list_and_authenticate() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let pid = project_id(&c, "demo").await;
    let r = c.post(&path(&uid), &demo, json!({"application_credential": {"name": "ci"}})).await.expect(201);
    let ac = r.body["application_credential"].clone();
    assert_keys(
        &ac,
        &[
            "id",
            "name",
            "description",
            "user_id",
            "project_id",
            "system",
            "expires_at",
            "unrestricted",
            "roles",
            "links",
            "secret",
        ],
    );
    assert_hex_id(&ac["id"]);
    let acid = ac["id"].as_str().unwrap();
    let secret = ac["secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 32, "a generated secret: {secret}");
    assert_eq!(ac["user_id"], json!(uid));
    assert_eq!(ac["project_id"], json!(pid));
    assert_eq!(ac["description"], Value::Null);
    assert_eq!(ac["system"], Value::Null);
    assert_eq!(ac["expires_at"], Value::Null);
    assert_eq!(ac["unrestricted"], json!(false));
    assert_eq!(ac["links"], json!({"self": format!("{}/v3/users/{uid}/application_credentials/{acid}", c.base)}));
    // no roles given: the creating token's roles, as full role dicts
    let mut rn = names(&ac, "roles");
    rn.sort();
    assert_eq!(rn, strs(&["member", "reader"]));
    for role in ac["roles"].as_array().unwrap() {
        assert_keys(role, &["id", "name", "domain_id", "description", "options", "links"]);
    }
    // the secret is only in the POST answer
    let g = c.get(&format!("{}/{acid}", path(&uid)), &demo).await.expect(200);
    assert!(g.body["application_credential"].get("secret").is_none(), "{}", g.body);
    let mut without = ac.clone();
    without.as_object_mut().unwrap().remove("secret");
    assert_eq!(sorted_roles(&g.body["application_credential"]), sorted_roles(&without));
    let l = c.get(&path(&uid), &demo).await.expect(200);
    assert_eq!(l.body["application_credentials"].as_array().unwrap().len(), 1);
    assert_eq!(sorted_roles(&l.body["application_credentials"][0]), sorted_roles(&without));
    // authenticate: scoped to the creator's project, no scope asked for
    let t = ac_auth(&c, acid, &secret).await.expect(201);
    let tok = &t.body["token"];
    assert_eq!(tok["methods"], json!(["application_credential"]));
    assert_eq!(tok["project"]["id"], json!(pid));
    assert_eq!(tok["user"]["id"], json!(uid));
    assert_eq!(tok["application_credential"], json!({"id": acid, "name": "ci", "restricted": true}));
    assert_eq!(role_names(&t.body), strs(&["member", "reader"]));
    // the token works as a caller
    let at = subject(&t);
    c.get("/v3/auth/projects", &at).await.expect(200);
    // by name and user
    let r = auth(&c, json!({"identity": {"methods": ["application_credential"], "application_credential": {"name": "ci", "user": {"id": uid}, "secret": secret}}})).await.expect(201);
    assert_eq!(r.body["token"]["application_credential"]["id"], json!(acid));
    let r = auth(&c, json!({"identity": {"methods": ["application_credential"], "application_credential": {"name": "ci", "user": {"name": "demo", "domain": {"id": "default"}}, "secret": secret}}})).await.expect(201);
    assert_eq!(r.body["token"]["user"]["name"], "demo");
}

#[tokio::test]
async fn bad_secrets_are_401() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let ac =
        create(&c, &demo, &path(&uid)[4..], "application_credential", json!({"name": "x", "secret": "my-own-secret"}))
            .await;
    assert_eq!(ac["secret"], "my-own-secret");
    let acid = ac["id"].as_str().unwrap();
    ac_auth(&c, acid, "my-own-secret").await.expect(201);
    expect_401(ac_auth(&c, acid, "wrong").await);
    // a wrong secret by name and user too
    expect_401(auth(&c, json!({"identity": {"methods": ["application_credential"], "application_credential": {"name": "x", "user": {"id": uid}, "secret": "wrong"}}})).await);
    // neither id nor name; a name without its user: 400
    auth(&c, json!({"identity": {"methods": ["application_credential"], "application_credential": {"secret": "my-own-secret"}}}))
        .await
        .expect_error(400);
    auth(
        &c,
        json!({"identity": {"methods": ["application_credential"], "application_credential": {"name": "x", "secret": "my-own-secret"}}}),
    )
    .await
    .expect_error(400);
}

#[tokio::test]
async fn roles_must_be_a_subset_of_the_token() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let uid = demo_id(&c).await;
    let reader = c.role_id("reader").await;
    let r = c
        .post(&path(&uid), &demo, json!({"application_credential": {"name": "ro", "roles": [{"id": reader}]}}))
        .await
        .expect(201);
    let ac = &r.body["application_credential"];
    assert_eq!(names(ac, "roles"), strs(&["reader"]));
    let t = ac_auth(&c, ac["id"].as_str().unwrap(), ac["secret"].as_str().unwrap()).await.expect(201);
    assert_eq!(role_names(&t.body), strs(&["reader"]), "the token carries only the credential's roles");
    // roles the token does not have: 400, nothing made
    let admin_role = c.role_id("admin").await;
    expect_400_naming(
        c.post(&path(&uid), &demo, json!({"application_credential": {"name": "esc", "roles": [{"id": admin_role}]}}))
            .await,
        "roles",
    );
    expect_400_naming(
        c.post(&path(&uid), &demo, json!({"application_credential": {"name": "esc", "roles": [{"name": "manager"}]}}))
            .await,
        "roles",
    );
    assert_eq!(names(&c.get(&path(&uid), &demo).await.expect(200).body, "application_credentials"), strs(&["ro"]));
    // a role granted after the token was issued counts (roles are live; tempest
    // test_create_application_credential_with_roles)
    let custom = new_role(&c, &admin, "custom").await;
    let cid = custom["id"].as_str().unwrap();
    grant_project_user(&c, &admin, &project_id(&c, "demo").await, &uid, cid).await;
    let r = c
        .post(&path(&uid), &demo, json!({"application_credential": {"name": "withcustom", "roles": [{"id": cid}]}}))
        .await
        .expect(201);
    let ac = &r.body["application_credential"];
    let t = ac_auth(&c, ac["id"].as_str().unwrap(), ac["secret"].as_str().unwrap()).await.expect(201);
    assert_eq!(t.body["token"]["roles"], json!([{"id": cid, "name": "custom"}]));
    // when the user loses the role, the credential's token loses it too
    c.delete(&format!("/v3/projects/{}/users/{uid}/roles/{cid}", project_id(&c, "demo").await), &admin)
        .await
        .expect(204);
    expect_401(ac_auth(&c, ac["id"].as_str().unwrap(), ac["secret"].as_str().unwrap()).await);
}

#[tokio::test]
async fn roles_given_by_name_include_their_implied_roles() {
    // Keystone 30 adds the roles implied by the requested ones to the
    // credential (application_credential roles: member → member, reader).
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let r = c
        .post(&path(&uid), &demo, json!({"application_credential": {"name": "m", "roles": [{"name": "member"}]}}))
        .await
        .expect(201);
    let mut rn = names(&r.body["application_credential"], "roles");
    rn.sort();
    assert_eq!(rn, strs(&["member", "reader"]));
}

#[tokio::test]
async fn bad_input_and_duplicates() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    expect_400_naming(c.post(&path(&uid), &demo, json!({"application_credential": {}})).await, "name");
    expect_400_naming(c.post(&path(&uid), &demo, json!({"application_credential": {"name": ""}})).await, "name");
    expect_400_naming(
        c.post(
            &path(&uid),
            &demo,
            json!({"application_credential": {"name": "a", "expires_at": "2001-01-01T00:00:00"}}),
        )
        .await,
        "expires_at",
    );
    expect_400_naming(
        c.post(&path(&uid), &demo, json!({"application_credential": {"name": "a", "expires_at": "next tuesday"}}))
            .await,
        "expires_at",
    );
    expect_400_naming(
        c.post(&path(&uid), &demo, json!({"application_credential": {"name": "a", "unrestricted": "yes"}})).await,
        "unrestricted",
    );
    expect_400_naming(
        c.post(&path(&uid), &demo, json!({"application_credential": {"name": "a", "roles": "member"}})).await,
        "roles",
    );
    expect_400_naming(c.post(&path(&uid), &demo, json!({"app_cred": {"name": "a"}})).await, "application_credential");
    assert_eq!(c.get(&path(&uid), &demo).await.expect(200).body["application_credentials"], json!([]));
    create(&c, &demo, &path(&uid)[4..], "application_credential", json!({"name": "dup"})).await;
    c.post(&path(&uid), &demo, json!({"application_credential": {"name": "dup"}})).await.expect_error(409);
    assert_eq!(
        c.get(&path(&uid), &demo).await.expect(200).body["application_credentials"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn expires_at_is_echoed_and_caps_tokens_and_expiry_ends_it() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    // a far expiry is echoed as Keystone does: 6 fraction digits, no zone
    let r = c
        .post(
            &path(&uid),
            &demo,
            json!({"application_credential": {"name": "later", "expires_at": "2100-01-02T03:04:05.000000"}}),
        )
        .await
        .expect(201);
    assert_eq!(r.body["application_credential"]["expires_at"], "2100-01-02T03:04:05.000000");
    let r = c
        .post(
            &path(&uid),
            &demo,
            json!({"application_credential": {"name": "later-z", "expires_at": "2100-01-02T03:04:05Z"}}),
        )
        .await
        .expect(201);
    assert_eq!(r.body["application_credential"]["expires_at"], "2100-01-02T03:04:05.000000");
    // a near expiry caps the token and then ends the credential
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    let r = c
        .post(&path(&uid), &demo, json!({"application_credential": {"name": "soon", "expires_at": soon}}))
        .await
        .expect(201);
    let ac = r.body["application_credential"].clone();
    assert_eq!(ac["expires_at"], json!(soon));
    let t = ac_auth(&c, ac["id"].as_str().unwrap(), ac["secret"].as_str().unwrap()).await.expect(201);
    let exp = t.body["token"]["expires_at"].as_str().unwrap();
    assert!(exp <= format!("{soon}Z").as_str(), "token expiry {exp} is after the credential's {soon}");
    let tok = subject(&t);
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    let r = ac_auth(&c, ac["id"].as_str().unwrap(), ac["secret"].as_str().unwrap()).await;
    expect_401(r);
    validate(&c, &demo, &tok).await.expect_error(404);
}

#[tokio::test]
async fn a_restricted_credential_cannot_manage_credentials() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let ac = create(&c, &demo, &path(&uid)[4..], "application_credential", json!({"name": "restricted"})).await;
    let other = create(&c, &demo, &path(&uid)[4..], "application_credential", json!({"name": "other"})).await;
    let at = subject(&ac_auth(&c, ac["id"].as_str().unwrap(), ac["secret"].as_str().unwrap()).await.expect(201));
    c.post(&path(&uid), &at, json!({"application_credential": {"name": "child"}})).await.expect_error(403);
    c.delete(&format!("{}/{}", path(&uid), other["id"].as_str().unwrap()), &at).await.expect_error(403);
    let mut got = names(&c.get(&path(&uid), &demo).await.expect(200).body, "application_credentials");
    got.sort();
    assert_eq!(got, strs(&["other", "restricted"]));
    // an unrestricted one may
    let un =
        create(&c, &demo, &path(&uid)[4..], "application_credential", json!({"name": "free", "unrestricted": true}))
            .await;
    assert_eq!(un["unrestricted"], json!(true));
    let ut = ac_auth(&c, un["id"].as_str().unwrap(), un["secret"].as_str().unwrap()).await.expect(201);
    assert_eq!(ut.body["token"]["application_credential"]["restricted"], json!(false));
    c.post(&path(&uid), &subject(&ut), json!({"application_credential": {"name": "child"}})).await.expect(201);
}

#[tokio::test]
async fn access_rules_round_trip() {
    // Keystone serves access rules (tempest test_create_application_credential_access_rules).
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let rule = json!({"path": "/v2.1/servers/*/ips", "method": "GET", "service": "compute"});
    let r = c
        .post(&path(&uid), &demo, json!({"application_credential": {"name": "ar", "access_rules": [rule]}}))
        .await
        .expect(201);
    let got = &r.body["application_credential"]["access_rules"][0];
    assert!(got["id"].is_string());
    let mut without = got.clone();
    without.as_object_mut().unwrap().remove("id");
    assert_eq!(without, rule);
}

#[tokio::test]
async fn ownership_and_scope_rules() {
    let c = TestCloud::start().await;
    let (admin, demo) = tokens(&c).await;
    let demo_uid = demo_id(&c).await;
    let admin_uid = admin_id(&c).await;
    let ac = create(&c, &demo, &path(&demo_uid)[4..], "application_credential", json!({"name": "mine"})).await;
    let acid = ac["id"].as_str().unwrap();
    // nobody creates for someone else, not even the admin
    c.post(&path(&demo_uid), &admin, json!({"application_credential": {"name": "forged"}})).await.expect_error(403);
    c.post(&path(&admin_uid), &demo, json!({"application_credential": {"name": "forged"}})).await.expect_error(403);
    // a system-scoped token cannot create one
    let sys = subject(&c.password_auth("admin", ADMIN_PASSWORD, Some(system_scope())).await.expect(201));
    c.post(&path(&admin_uid), &sys, json!({"application_credential": {"name": "sys"}})).await.expect_error(403);
    // the member cannot see or delete the admin's
    let aac = create(&c, &admin, &path(&admin_uid)[4..], "application_credential", json!({"name": "admins"})).await;
    c.get(&path(&admin_uid), &demo).await.expect_error(403);
    c.get(&format!("{}/{}", path(&admin_uid), aac["id"].as_str().unwrap()), &demo).await.expect_error(403);
    c.delete(&format!("{}/{}", path(&admin_uid), aac["id"].as_str().unwrap()), &demo).await.expect_error(403);
    // the admin can read the member's
    assert_eq!(
        names(&c.get(&path(&demo_uid), &admin).await.expect(200).body, "application_credentials"),
        strs(&["mine"])
    );
    // a credential is only found under its own user
    c.get(&format!("{}/{acid}", path(&admin_uid)), &admin).await.expect_error(404);
    c.get(&format!("{}/{NO_SUCH}", path(&demo_uid)), &demo).await.expect_error(404);
    c.delete(&format!("{}/{NO_SUCH}", path(&demo_uid)), &demo).await.expect_error(404);
    c.get(&path(NO_SUCH), &admin).await.expect_error(404);
    assert_eq!(
        names(&c.get(&path(&demo_uid), &demo).await.expect(200).body, "application_credentials"),
        strs(&["mine"])
    );
    assert_eq!(
        names(&c.get(&path(&admin_uid), &admin).await.expect(200).body, "application_credentials"),
        strs(&["admins"])
    );
}

#[tokio::test]
async fn name_query_and_delete() {
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = demo_id(&c).await;
    let a =
        create(&c, &demo, &path(&uid)[4..], "application_credential", json!({"name": "one", "description": "first"}))
            .await;
    create(&c, &demo, &path(&uid)[4..], "application_credential", json!({"name": "two"})).await;
    assert_eq!(a["description"], "first");
    assert_eq!(
        c.get(&path(&uid), &demo).await.expect(200).body["application_credentials"].as_array().unwrap().len(),
        2
    );
    let l = c.get(&format!("{}?name=one", path(&uid)), &demo).await.expect(200);
    assert_eq!(ids(&l.body, "application_credentials"), vec![a["id"].as_str().unwrap().to_string()]);
    let acid = a["id"].as_str().unwrap();
    let t = subject(&ac_auth(&c, acid, a["secret"].as_str().unwrap()).await.expect(201));
    let r = c.delete(&format!("{}/{acid}", path(&uid)), &demo).await.expect(204);
    assert_eq!(r.body, Value::Null);
    c.get(&format!("{}/{acid}", path(&uid)), &demo).await.expect_error(404);
    expect_401(ac_auth(&c, acid, a["secret"].as_str().unwrap()).await);
    // its tokens end with it
    validate(&c, &demo, &t).await.expect_error(404);
    assert_eq!(names(&c.get(&path(&uid), &demo).await.expect(200).body, "application_credentials"), strs(&["two"]));
}

#[tokio::test]
async fn deleting_the_user_or_project_removes_credentials() {
    let c = TestCloud::start().await;
    let admin = c.admin_token().await;
    let p = new_project(&c, &admin, "acp", "default").await;
    let pid = p["id"].as_str().unwrap();
    let (uid, t) = user_on_project(&c, &admin, "acu", pid, "member").await;
    let ac = create(&c, &t, &path(&uid)[4..], "application_credential", json!({"name": "k"})).await;
    let acid = ac["id"].as_str().unwrap();
    let secret = ac["secret"].as_str().unwrap();
    ac_auth(&c, acid, secret).await.expect(201);
    c.delete(&format!("/v3/projects/{pid}"), &admin).await.expect(204);
    expect_401(ac_auth(&c, acid, secret).await);
    assert_eq!(c.get(&path(&uid), &admin).await.expect(200).body["application_credentials"], json!([]));
}

#[tokio::test]
async fn an_empty_role_list_means_the_tokens_roles() {
    // openstackclient sends "roles": [] when no --role is given
    let c = TestCloud::start().await;
    let demo = c.demo_token().await;
    let uid = c.identity.store().get_user_by_name("default", "demo").await.unwrap().unwrap().id;
    let r =
        c.post(&path(&uid), &demo, json!({"application_credential": {"name": "ci", "roles": []}})).await.expect(201);
    let mut names: Vec<&str> = r.body["application_credential"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, vec!["member", "reader"]);
    let (id, secret) = (
        r.body["application_credential"]["id"].as_str().unwrap(),
        r.body["application_credential"]["secret"].as_str().unwrap(),
    );
    ac_auth(&c, id, secret).await.expect(201);
}
