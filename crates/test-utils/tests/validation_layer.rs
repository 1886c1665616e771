//! The token-validation layer other services use: remote (over HTTP, as
//! keystonemiddleware) and in-process, guarding a router with `require_token`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Extension;
use axum::routing::get;
use axum::Router;
use rustack_http::remote::{RemoteValidator, ServiceCredentials};
use rustack_http::token_layer::Validator;
use rustack_http::{RequestContext, TokenValidator};
use rustack_test_utils::{TestCloud, ADMIN_PASSWORD, DEMO_PASSWORD};

fn remote(c: &TestCloud, cache: Duration) -> RemoteValidator {
    RemoteValidator::new(
        ServiceCredentials {
            auth_url: c.base.clone(),
            username: "admin".into(),
            password: ADMIN_PASSWORD.into(),
            project_name: "admin".into(),
            domain_id: "default".into(),
        },
        cache,
    )
}

#[tokio::test]
async fn remote_validator_gives_the_caller_and_rejects_bad_tokens() {
    let c = TestCloud::start().await;
    let v = remote(&c, Duration::from_secs(300));
    let demo = c.demo_token().await;
    let ctx = v.validate(&demo).await.expect("valid token");
    assert_eq!(ctx.user_name, "demo");
    assert_eq!(ctx.project_id().is_some(), true);
    assert!(ctx.has_role("member") && ctx.has_role("reader") && !ctx.has_role("admin"));
    let e = v.validate("not-a-token").await.unwrap_err();
    assert_eq!(e.status(), 401);
}

#[tokio::test]
async fn remote_cache_expires_and_then_sees_revocation() {
    let c = TestCloud::start().await;
    let v = remote(&c, Duration::from_millis(300));
    let demo = c.demo_token().await;
    v.validate(&demo).await.expect("valid");
    let admin = c.admin_token().await;
    c.request_with(reqwest::Method::DELETE, "/v3/auth/tokens", Some(&admin), None, &[("X-Subject-Token", &demo)])
        .await
        .expect(204);
    // within cache_time the answer is the cached one (keystonemiddleware's trade-off)
    assert!(v.validate(&demo).await.is_ok());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(v.validate(&demo).await.unwrap_err().status(), 401);
}

#[tokio::test]
async fn in_process_validator_sees_revocation_at_once() {
    let c = TestCloud::start().await;
    let v = c.identity.validator();
    let demo = c.demo_token().await;
    assert_eq!(v.validate(&demo).await.unwrap().user_name, "demo");
    let admin = c.admin_token().await;
    c.request_with(reqwest::Method::DELETE, "/v3/auth/tokens", Some(&admin), None, &[("X-Subject-Token", &demo)])
        .await
        .expect(204);
    assert_eq!(v.validate(&demo).await.unwrap_err().status(), 401);
}

#[tokio::test]
async fn require_token_guards_a_router_and_hands_over_the_context() {
    let c = TestCloud::start().await;
    let validator: Arc<dyn TokenValidator> = c.identity.validator();
    let app = Router::new()
        .route("/whoami", get(|Extension(ctx): Extension<Arc<RequestContext>>| async move { ctx.user_name.clone() }))
        .layer(axum::middleware::from_fn_with_state(Validator::new("compute", validator), rustack_http::require_token));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let r = http.get(format!("http://{addr}/whoami")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = http.get(format!("http://{addr}/whoami")).header("X-Auth-Token", "bogus").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let t = c.project_token("demo", DEMO_PASSWORD, "demo").await;
    let r = http.get(format!("http://{addr}/whoami")).header("X-Auth-Token", &t).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "demo");
}

#[tokio::test]
async fn rotated_keys_are_picked_up_and_old_tokens_stay_valid() {
    let c = TestCloud::start().await;
    let before = c.demo_token().await;
    let mut state = rustack_identity::ReconcileState::default();
    c.identity.reconcile(&mut state).await;
    let dir = rustack_identity::key_repository(c.identity.config(), &c.data_dir());
    rustack_identity::token::fernet_keys::rotate(&dir, 3).unwrap();
    c.identity.reconcile(&mut state).await;
    let after = c.demo_token().await;
    let v = c.identity.validator();
    assert!(v.validate(&before).await.is_ok(), "a token of the old primary stays valid");
    assert!(v.validate(&after).await.is_ok());
    // with 3 active keys (staged, primary, one secondary) one more rotation
    // drops the key the first token was made with
    rustack_identity::token::fernet_keys::rotate(&dir, 3).unwrap();
    c.identity.reconcile(&mut state).await;
    assert_eq!(v.validate(&before).await.unwrap_err().status(), 401);
    assert!(v.validate(&after).await.is_ok());
}

#[tokio::test]
async fn old_revocation_events_are_pruned_and_recent_ones_kept() {
    use rustack_identity::store::RevocationEvent;
    let c = TestCloud::start().await;
    let old = RevocationEvent {
        id: "old-event".into(),
        user_id: Some("someone".into()),
        issued_before: "2000-01-01T00:00:00.000000Z".into(),
        revoked_at: "2000-01-01T00:00:00.000000Z".into(),
        ..Default::default()
    };
    c.identity.store().add_revocation(&old).await.unwrap();
    let demo = c.demo_token().await;
    let admin = c.admin_token().await;
    c.request_with(reqwest::Method::DELETE, "/v3/auth/tokens", Some(&admin), None, &[("X-Subject-Token", &demo)])
        .await
        .expect(204);
    assert_eq!(c.identity.prune_revocations().await.unwrap(), 1, "only the event older than any live token goes");
    let left = c.identity.store().list_revocations(None).await.unwrap();
    assert!(left.iter().all(|e| e.id != "old-event") && !left.is_empty());
    // the recent revocation still holds after the in-memory list was rebuilt
    assert_eq!(c.identity.validator().validate(&demo).await.unwrap_err().status(), 401);
}
