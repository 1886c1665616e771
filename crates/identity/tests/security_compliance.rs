//! `[security_compliance]`: lockout, history, minimum age, regex, expiry,
//! change upon first use, and the user options that exempt a user.

use rustack_test_utils::TestCloud;
use serde_json::{json, Value};

async fn cloud(conf: &str) -> TestCloud {
    TestCloud::start_with(rustack_db::testing::sqlite().await, &format!("[security_compliance]\n{conf}")).await
}

async fn new_user(c: &TestCloud, admin: &str, name: &str, password: &str, extra: Value) -> String {
    let mut user = json!({"name": name, "password": password, "domain_id": "default"});
    if let (Some(u), Some(e)) = (user.as_object_mut(), extra.as_object()) {
        u.extend(e.clone());
    }
    let r = c.post("/v3/users", admin, json!({ "user": user })).await.expect(201);
    r.body["user"]["id"].as_str().unwrap().to_string()
}

async fn unscoped(c: &TestCloud, name: &str, password: &str) -> u16 {
    c.password_auth(name, password, None).await.status.as_u16()
}

async fn change_own(c: &TestCloud, uid: &str, original: &str, new: &str) -> rustack_test_utils::Resp {
    c.request(
        reqwest::Method::POST,
        &format!("/v3/users/{uid}/password"),
        None,
        Some(json!({"user": {"original_password": original, "password": new}})),
    )
    .await
}

#[tokio::test]
async fn lockout_after_failed_attempts_and_unlock_after_duration() {
    let c = cloud("lockout_failure_attempts = 2\nlockout_duration = 1\n").await;
    let admin = c.admin_token().await;
    new_user(&c, &admin, "lock-me", "right-pass", json!({})).await;
    assert_eq!(unscoped(&c, "lock-me", "wrong").await, 401);
    assert_eq!(unscoped(&c, "lock-me", "wrong").await, 401);
    let r = c.password_auth("lock-me", "right-pass", None).await.expect_error(401);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("locked"), "{}", r.body);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(unscoped(&c, "lock-me", "right-pass").await, 201);
    // a success resets the count: one more failure does not lock
    assert_eq!(unscoped(&c, "lock-me", "wrong").await, 401);
    assert_eq!(unscoped(&c, "lock-me", "right-pass").await, 201);
}

#[tokio::test]
async fn the_ignore_lockout_option_exempts_a_user() {
    let c = cloud("lockout_failure_attempts = 1\nlockout_duration = 600\n").await;
    let admin = c.admin_token().await;
    let uid =
        new_user(&c, &admin, "exempt", "pw-1", json!({"options": {"ignore_lockout_failure_attempts": true}})).await;
    assert_eq!(unscoped(&c, "exempt", "bad").await, 401);
    assert_eq!(unscoped(&c, "exempt", "pw-1").await, 201);
    let r = c.get(&format!("/v3/users/{uid}"), &admin).await.expect(200);
    assert_eq!(r.body["user"]["options"]["ignore_lockout_failure_attempts"], json!(true));
    c.post("/v3/users", &admin, json!({"user": {"name": "x", "options": {"bogus": true}}})).await.expect_error(400);
    c.patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"options": {"lock_password": "yes"}}}))
        .await
        .expect_error(400);
}

#[tokio::test]
async fn self_service_change_respects_history_but_admin_reset_does_not() {
    let c = cloud("unique_last_password_count = 2\n").await;
    let admin = c.admin_token().await;
    let uid = new_user(&c, &admin, "hist", "first-pw", json!({})).await;
    change_own(&c, &uid, "first-pw", "second-pw").await.expect(204);
    let r = change_own(&c, &uid, "second-pw", "second-pw").await.expect_error(400);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("previous password"));
    change_own(&c, &uid, "second-pw", "first-pw").await.expect_error(400);
    change_own(&c, &uid, "second-pw", "third-pw").await.expect(204);
    assert_eq!(unscoped(&c, "hist", "third-pw").await, 201);
    assert_eq!(unscoped(&c, "hist", "second-pw").await, 401);
    // an administrator may set a previous password again
    c.patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"password": "third-pw"}})).await.expect(200);
    c.patch(&format!("/v3/users/{uid}"), &admin, json!({"user": {"password": "third-pw"}})).await.expect(200);
}

#[tokio::test]
async fn password_change_ends_old_tokens_and_a_revoked_token_cannot_be_rescoped() {
    let c = cloud("").await;
    let admin = c.admin_token().await;
    let uid = new_user(&c, &admin, "chg", "old-pw", json!({})).await;
    let r = c.password_auth("chg", "old-pw", None).await.expect(201);
    let old = r.header("x-subject-token").unwrap().to_string();
    change_own(&c, &uid, "wrong", "new-pw").await.expect_error(401);
    change_own(&c, &uid, "old-pw", "new-pw").await.expect(204);
    let body = json!({"auth": {"identity": {"methods": ["token"], "token": {"id": old}}}});
    c.request(reqwest::Method::POST, "/v3/auth/tokens", None, Some(body)).await.expect_error(404);
    assert_eq!(unscoped(&c, "chg", "old-pw").await, 401);
    assert_eq!(unscoped(&c, "chg", "new-pw").await, 201);
}

#[tokio::test]
async fn minimum_age_and_regex_are_enforced() {
    let c = cloud(
        "minimum_password_age = 1\npassword_regex = ^.*[0-9].*$\npassword_regex_description = at least one digit\n",
    )
    .await;
    let admin = c.admin_token().await;
    c.post("/v3/users", &admin, json!({"user": {"name": "nodigit", "password": "abcdef"}})).await.expect_error(400);
    let uid = new_user(&c, &admin, "aged", "pass1", json!({})).await;
    let r = change_own(&c, &uid, "pass1", "pass2").await.expect_error(400);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("minimum password age"), "{}", r.body);
    let r = change_own(&c, &uid, "pass1", "nodigits").await.expect_error(400);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("at least one digit"), "{}", r.body);
}

#[tokio::test]
async fn change_upon_first_use_expires_admin_set_passwords() {
    let c = cloud("change_password_upon_first_use = true\n").await;
    let admin = c.admin_token().await;
    let uid = new_user(&c, &admin, "fresh", "given-pw", json!({})).await;
    let r = c.password_auth("fresh", "given-pw", None).await.expect_error(401);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("expired"), "{}", r.body);
    // the user may still change it, and then authenticate
    change_own(&c, &uid, "given-pw", "own-pw").await.expect(204);
    assert_eq!(unscoped(&c, "fresh", "own-pw").await, 201);
    let u = c.get(&format!("/v3/users/{uid}"), &admin).await.expect(200);
    assert!(u.body["user"]["password_expires_at"].is_null());
    new_user(&c, &admin, "svc", "svc-pw", json!({"options": {"ignore_change_password_upon_first_use": true}})).await;
    assert_eq!(unscoped(&c, "svc", "svc-pw").await, 201);
}

#[tokio::test]
async fn password_expiry_is_shown_and_exemptable() {
    let c = cloud("password_expires_days = 30\n").await;
    let admin = c.admin_token().await;
    let uid = new_user(&c, &admin, "exp", "exp-pw", json!({})).await;
    let u = c.get(&format!("/v3/users/{uid}"), &admin).await.expect(200);
    let at = u.body["user"]["password_expires_at"].as_str().expect("an expiry");
    assert!(at > "2026", "{at}");
    let r = c.password_auth("exp", "exp-pw", None).await.expect(201);
    assert_eq!(r.body["token"]["user"]["password_expires_at"], json!(at));
}

#[tokio::test]
async fn an_overlong_password_is_refused_with_403() {
    let c = TestCloud::start_with(rustack_db::testing::sqlite().await, "[identity]\nmax_password_length = 8\n").await;
    let admin = c.admin_token().await;
    c.post("/v3/users", &admin, json!({"user": {"name": "long", "password": "123456789"}})).await.expect_error(403);
    assert!(
        c.get("/v3/users?name=long", &admin).await.body["users"].as_array().unwrap().is_empty(),
        "nothing half-made"
    );
}
