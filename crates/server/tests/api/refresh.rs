//! Refresh-token rotation, reuse detection, the concurrent race, lifetimes.

use std::collections::HashMap;

use chrono::Duration;
use serde_json::Value;
use warden_testkit::{assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn a_refresh_rotates_both_tokens() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = app.refresh(&user.refresh).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let new_refresh = body["refresh_token"].as_str().unwrap();
    assert!(new_refresh.starts_with("wrt_"));
    assert_ne!(new_refresh, user.refresh);
    assert_eq!(body["session_id"], user.session_id);
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(app.validate(access).await.status(), 200);
    assert_eq!(app.refresh(new_refresh).await.status(), 200);
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_whole_session() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let body: Value = app.refresh(&user.refresh).await.json().await.unwrap();
    let rt2 = body["refresh_token"].as_str().unwrap().to_owned();
    let at2 = body["access_token"].as_str().unwrap().to_owned();

    assert_problem(
        app.refresh(&user.refresh).await,
        401,
        "refresh_token_reused",
    )
    .await;
    assert_problem(app.refresh(&rt2).await, 401, "session_revoked").await;
    assert_problem(app.validate(&at2).await, 401, "token_revoked").await;
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
}

#[tokio::test]
async fn unknown_and_malformed_refresh_tokens_are_invalid() {
    let app = spawn_app().await;
    let made_up = format!("wrt_{}", "A".repeat(43));
    for token in [
        made_up.as_str(),
        "wrt_short",
        "",
        "eyJhbGciOi.x.y",
        &"x".repeat(5000),
    ] {
        assert_problem(app.refresh(token).await, 401, "invalid_refresh_token").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_many_concurrent_refreshes_of_one_token_exactly_one_succeeds() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let attempts = (0..50).map(|_| app.refresh(&user.refresh));
    let responses = futures::future::join_all(attempts).await;
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    let mut codes = Vec::new();
    for response in responses {
        let status = response.status().as_u16();
        *by_status.entry(status).or_default() += 1;
        if status != 200 {
            let body: Value = response.json().await.unwrap();
            codes.push(body["code"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(by_status.get(&200), Some(&1), "{by_status:?}");
    assert_eq!(by_status.get(&401), Some(&49), "{by_status:?}");
    assert!(
        codes.iter().all(|c| c == "refresh_token_reused"
            || c == "session_revoked"
            || c == "invalid_refresh_token"),
        "{codes:?}"
    );
    // The race counts as reuse: the session is revoked for everyone.
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
}

#[tokio::test]
async fn an_idle_session_expires() {
    let app =
        spawn_app_with(|c| c.sessions.idle_timeout = std::time::Duration::from_secs(3600)).await;
    let user = app.new_user().await;
    app.clock.advance(Duration::minutes(59));
    let body: Value = app.refresh(&user.refresh).await.json().await.unwrap();
    let rt2 = body["refresh_token"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::minutes(61));
    assert_problem(app.refresh(&rt2).await, 401, "invalid_refresh_token").await;
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_even_when_active() {
    let app = spawn_app_with(|c| {
        c.sessions.ttl = std::time::Duration::from_secs(24 * 3600);
        c.sessions.idle_timeout = std::time::Duration::from_secs(3600);
    })
    .await;
    let user = app.new_user().await;
    let mut refresh = user.refresh.clone();
    for _ in 0..24 {
        app.clock.advance(Duration::minutes(59));
        let response = app.refresh(&refresh).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        refresh = body["refresh_token"].as_str().unwrap().to_owned();
    }
    app.clock.advance(Duration::minutes(30));
    assert_problem(app.refresh(&refresh).await, 401, "invalid_refresh_token").await;
}

#[tokio::test]
async fn new_roles_reach_the_access_token_at_the_next_refresh() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    let response = app
        .call(
            reqwest::Method::PUT,
            &format!("/v1/admin/users/{}/roles", user.user_id),
            Some(&admin.access),
            Some(serde_json::json!({"roles": ["user", "support"]})),
        )
        .await;
    assert_eq!(response.status(), 200);
    let before: Value = app.validate(&user.access).await.json().await.unwrap();
    assert_eq!(before["roles"], serde_json::json!(["user"]));
    let body: Value = app.refresh(&user.refresh).await.json().await.unwrap();
    let after: Value = app
        .validate(body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["roles"], serde_json::json!(["support", "user"]));
}

/// SQLite, in process: the grace window (decision 0018). The answer to the
/// first refresh is taken as lost; the retry gets a new pair and voids the
/// successor the client never saw.
#[tokio::test]
async fn inside_the_grace_window_a_retry_gets_a_new_pair_and_voids_the_unseen_successor() {
    let app =
        spawn_app_with(|c| c.sessions.refresh_reuse_grace = std::time::Duration::from_secs(10))
            .await;
    let user = app.new_user().await;
    let lost: Value = app.refresh(&user.refresh).await.json().await.unwrap();
    let unseen = lost["refresh_token"].as_str().unwrap().to_owned();

    let retried = app.refresh(&user.refresh).await;
    assert_eq!(retried.status(), 200);
    let pair: Value = retried.json().await.unwrap();
    let next = pair["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(next, unseen);
    assert_eq!(pair["session_id"], user.session_id);
    assert_eq!(
        app.validate(pair["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    assert!(
        app.outbox_names()
            .await
            .iter()
            .all(|n| n != "session.revoked")
    );

    // The unseen successor is void: presenting it is reuse, and the family
    // (the retry's tokens included) is revoked.
    assert_problem(app.refresh(&unseen).await, 401, "refresh_token_reused").await;
    assert_problem(app.refresh(&next).await, 401, "session_revoked").await;
    assert_problem(
        app.validate(pair["access_token"].as_str().unwrap()).await,
        401,
        "token_revoked",
    )
    .await;
}

#[tokio::test]
async fn inside_the_grace_window_only_one_retry_is_allowed() {
    let app =
        spawn_app_with(|c| c.sessions.refresh_reuse_grace = std::time::Duration::from_secs(10))
            .await;
    let user = app.new_user().await;
    assert_eq!(app.refresh(&user.refresh).await.status(), 200);
    assert_eq!(app.refresh(&user.refresh).await.status(), 200);
    assert_problem(
        app.refresh(&user.refresh).await,
        401,
        "refresh_token_reused",
    )
    .await;
}
