//! Session-token mode (`tokens.access = "session"`): opaque `wst_` access
//! tokens checked against the store, so revocation is immediate without
//! any event; both kinds of token are accepted in either mode. With
//! `WARDEN_TEST_DATABASE_URL` this runs on PostgreSQL or MariaDB too.

use std::sync::Arc;

use reqwest::Method;
use serde_json::Value;
use warden_core::model::{Revocation, RevocationKind};
use warden_core::ports::Store;
use warden_core::{AccessTokenKind, SessionId};
use warden_grpc::pb;
use warden_testkit::{STRONG_PASSWORD, TestApp, assert_problem, spawn_app_with};

async fn session_app() -> TestApp {
    spawn_app_with(|c| c.tokens.access = AccessTokenKind::Session).await
}

async fn identity(app: &TestApp, token: &str) -> Value {
    let response = app.validate(token).await;
    assert_eq!(response.status(), 200, "{token}");
    response.json().await.unwrap()
}

/// Revokes `session` as another instance would: in the store, through a
/// connection of its own, with no event and nothing told to `app`.
async fn revoke_elsewhere(app: &TestApp, session: &str) {
    let store: Arc<dyn Store> = warden::app::open_store(&app.config)
        .await
        .expect("store opens")
        .into_store();
    let sid: SessionId = session.parse().unwrap();
    let now = chrono::Utc::now();
    let revocation = Revocation {
        kind: RevocationKind::Session,
        id: sid.as_uuid(),
        not_before: None,
        until: now + chrono::Duration::minutes(16),
    };
    assert!(
        store
            .revoke_session(sid, now, &revocation, &[])
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn session_mode_issues_opaque_tokens_that_validate_over_http_and_grpc() {
    let app = session_app().await;
    let user = app.new_user().await;
    assert!(user.access.starts_with("wst_"), "{}", user.access);
    assert_eq!(user.access.len(), 4 + 43);
    assert!(!user.access.contains('.'), "not a JWT");

    let body = identity(&app, &user.access).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], user.user_id);
    assert_eq!(body["sid"], user.session_id);
    assert_eq!(body["roles"], serde_json::json!(["user"]));
    assert_eq!(body["token_type"], "session_token");
    assert_eq!(
        body["exp"].as_i64().unwrap() - body["iat"].as_i64().unwrap(),
        900
    );

    let verify = app.get_auth("/v1/verify", &user.access).await;
    assert_eq!(verify.status(), 200);
    assert_eq!(verify.headers()["x-warden-user"], user.user_id.as_str());
    let me: Value = app
        .get_auth("/v1/me", &user.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], user.user_id);

    let mut grpc = app.auth_client().await;
    let checked = grpc
        .validate(pb::ValidateRequest {
            token: user.access.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(checked.sub, user.user_id);
    assert_eq!(checked.token_type, "session_token");
}

#[tokio::test]
async fn both_kinds_of_token_are_accepted_in_either_mode() {
    let mut app = spawn_app_with(|_| {}).await;
    let jwt_user = app.new_user().await;
    assert!(jwt_user.access.contains('.'), "a JWT");

    app.config.tokens.access = AccessTokenKind::Session;
    let mut app = app.restart().await;
    let session_user = app.sign_in_ok(&jwt_user.email, STRONG_PASSWORD).await;
    assert!(session_user.access.starts_with("wst_"));
    assert_eq!(
        identity(&app, &jwt_user.access).await["token_type"],
        "access_token"
    );
    assert_eq!(
        identity(&app, &session_user.access).await["token_type"],
        "session_token"
    );

    app.config.tokens.access = AccessTokenKind::Jwt;
    let app = app.restart().await;
    assert_eq!(
        identity(&app, &session_user.access).await["token_type"],
        "session_token"
    );
    assert_eq!(
        app.get_auth("/v1/verify", &session_user.access)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn signing_out_revokes_a_session_token_at_once_and_only_its_session() {
    let app = session_app().await;
    let user = app.new_user().await;
    let other = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    identity(&app, &user.access).await; // now cached
    let signout = app
        .call(Method::POST, "/v1/signout", Some(&user.access), None)
        .await;
    assert_eq!(signout.status(), 204);
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
    assert_problem(
        app.get_auth("/v1/verify", &user.access).await,
        401,
        "token_revoked",
    )
    .await;
    identity(&app, &other.access).await;
}

#[tokio::test]
async fn a_revocation_no_event_announced_ends_the_token_within_the_cache_ttl() {
    let app = session_app().await;
    let user = app.new_user().await;
    identity(&app, &user.access).await; // cached for 1 s of the app's clock
    // Another instance revokes the session in the store; this one hears nothing.
    revoke_elsewhere(&app, &user.session_id).await;
    // Still inside the bounded cache window...
    identity(&app, &user.access).await;
    // ...and refused as soon as it ends: the store is asked again.
    app.clock.advance(chrono::Duration::milliseconds(1001));
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
}

#[tokio::test]
async fn without_a_cache_every_use_asks_the_store() {
    let app = spawn_app_with(|c| {
        c.tokens.access = AccessTokenKind::Session;
        c.tokens.session_cache = std::time::Duration::ZERO;
    })
    .await;
    let user = app.new_user().await;
    identity(&app, &user.access).await;
    let admin = app.new_admin().await;
    // A role change shows on the very next check: roles are read live.
    let roles = app
        .call(
            Method::PUT,
            &format!("/v1/admin/users/{}/roles", user.user_id),
            Some(&admin.access),
            Some(serde_json::json!({"roles": ["user", "support"]})),
        )
        .await;
    assert_eq!(roles.status(), 200);
    assert_eq!(
        identity(&app, &user.access).await["roles"],
        serde_json::json!(["support", "user"])
    );
    revoke_elsewhere(&app, &user.session_id).await;
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
}

#[tokio::test]
async fn a_ban_refuses_the_users_session_tokens_at_once() {
    let app = session_app().await;
    let admin = app.new_admin().await;
    assert!(
        admin.access.starts_with("wst_"),
        "admins use session tokens too"
    );
    let user = app.new_user().await;
    identity(&app, &user.access).await;
    let ban = app
        .call(
            Method::POST,
            &format!("/v1/admin/users/{}/ban", user.user_id),
            Some(&admin.access),
            None,
        )
        .await;
    assert_eq!(ban.status(), 200);
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
}

#[tokio::test]
async fn session_tokens_expire_and_refresh_issues_a_new_one() {
    let app = session_app().await;
    let user = app.new_user().await;
    app.clock.advance(chrono::Duration::seconds(900));
    // No leeway: the server that issued it is the only one that checks it.
    assert_problem(app.validate(&user.access).await, 401, "token_expired").await;
    let refreshed = app.refresh(&user.refresh).await;
    assert_eq!(refreshed.status(), 200);
    let body: Value = refreshed.json().await.unwrap();
    let next = body["access_token"].as_str().unwrap().to_owned();
    assert!(next.starts_with("wst_") && next != user.access);
    assert_eq!(identity(&app, &next).await["sid"], user.session_id);

    // Reusing the first refresh token revokes the session and its tokens.
    let reused = app.refresh(&user.refresh).await;
    assert_problem(reused, 401, "refresh_token_reused").await;
    assert_problem(app.validate(&next).await, 401, "token_revoked").await;
}

#[tokio::test]
async fn malformed_and_unknown_session_tokens_are_invalid() {
    let app = session_app().await;
    let user = app.new_user().await;
    let unknown = format!("wst_{}", "A".repeat(43));
    assert_problem(app.validate(&unknown).await, 401, "invalid_token").await;
    for bad in ["wst_", "wst_short", &format!("{}x", user.access)] {
        assert_problem(app.validate(bad).await, 401, "invalid_token").await;
    }
}
