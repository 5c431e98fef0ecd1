//! `GET /v1/revocations`: who may read it, the snapshot, paging by cursor,
//! bad cursors, and expiry.

use reqwest::StatusCode;
use serde_json::{Value, json};
use warden::config::Secret;
use warden_testkit::{TestApp, assert_problem, spawn_app, spawn_app_with};

const FEED_TOKEN: &str = "feed-credential-0123456789";

async fn feed(app: &TestApp, since: Option<&str>, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(app.url("/v1/revocations"));
    if let Some(since) = since {
        request = request.query(&[("since", since)]);
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request")
}

async fn page(app: &TestApp, since: Option<&str>) -> Value {
    let response = feed(app, since, Some(FEED_TOKEN)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.expect("json")
}

fn with_token(config: &mut warden::config::Config) {
    config.revocations_token = Some(Secret::new(FEED_TOKEN));
}

fn ids(page: &Value) -> Vec<String> {
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn the_feed_needs_the_service_credential_when_one_is_configured() {
    let app = spawn_app_with(with_token).await;
    assert_problem(feed(&app, None, None).await, 401, "invalid_token").await;
    assert_problem(
        feed(&app, None, Some("wrong-credential-0123456789")).await,
        401,
        "invalid_token",
    )
    .await;
    // A user's access token is not the service credential.
    let user = app.new_user().await;
    assert_problem(
        feed(&app, None, Some(&user.access)).await,
        401,
        "invalid_token",
    )
    .await;
    assert_eq!(feed(&app, None, Some(FEED_TOKEN)).await.status(), 200);
}

#[tokio::test]
async fn without_a_credential_configured_loopback_peers_may_read() {
    let app = spawn_app().await;
    // The test client is on loopback; a forwarded header claiming
    // otherwise (or claiming loopback) changes nothing either way.
    let response = app
        .client
        .get(app.url("/v1/revocations"))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_snapshot_then_only_what_came_after_its_cursor() {
    let app = spawn_app_with(with_token).await;
    let first = app.new_user().await;
    let snapshot = page(&app, None).await;
    assert!(ids(&snapshot).is_empty());
    let cursor = snapshot["cursor"].as_str().unwrap().to_owned();

    let signout = app
        .call(
            reqwest::Method::POST,
            "/v1/signout",
            Some(&first.access),
            None,
        )
        .await;
    assert_eq!(signout.status(), 204);
    let after = page(&app, Some(&cursor)).await;
    assert_eq!(ids(&after), std::slice::from_ref(&first.session_id));
    assert_eq!(after["entries"][0]["kind"], "session");
    assert!(after["entries"][0].get("not_before").is_none());
    assert_eq!(after["has_more"], false);
    let cursor2 = after["cursor"].as_str().unwrap().to_owned();
    assert_ne!(cursor, cursor2);
    assert!(
        ids(&page(&app, Some(&cursor2)).await).is_empty(),
        "nothing new"
    );

    // A ban: a user-wide entry with not_before, plus one per session.
    let target = app.new_user().await;
    let admin = app.new_admin().await;
    let ban = app
        .call(
            reqwest::Method::POST,
            &format!("/v1/admin/users/{}/ban", target.user_id),
            Some(&admin.access),
            Some(json!({"reason": "test"})),
        )
        .await;
    assert_eq!(ban.status(), 200);
    let after_ban = page(&app, Some(&cursor2)).await;
    let entries = after_ban["entries"].as_array().unwrap();
    let user_entry = entries
        .iter()
        .find(|e| e["kind"] == "user")
        .expect("a user entry");
    assert_eq!(user_entry["id"], target.user_id.as_str());
    assert!(user_entry["not_before"].is_string());
    assert!(ids(&after_ban).contains(&target.session_id));

    // The full snapshot has everything in force.
    let all = ids(&page(&app, None).await);
    for id in [&first.session_id, &target.user_id, &target.session_id] {
        assert!(all.contains(id), "{id} in {all:?}");
    }
}

#[tokio::test]
async fn bad_cursors_are_refused_and_unknown_ones_get_a_snapshot() {
    let app = spawn_app_with(with_token).await;
    let user = app.new_user().await;
    app.call(
        reqwest::Method::POST,
        "/v1/signout",
        Some(&user.access),
        None,
    )
    .await;
    for bad in ["abc", "-1", "1.5", ""] {
        let response = feed(&app, Some(bad), Some(FEED_TOKEN)).await;
        let problem = assert_problem(response, 400, "invalid_request").await;
        assert!(
            problem["detail"].as_str().unwrap().contains("since"),
            "{problem}"
        );
    }
    let unknown = app
        .client
        .get(app.url("/v1/revocations?since=1&extra=1"))
        .bearer_auth(FEED_TOKEN)
        .send()
        .await
        .unwrap();
    assert_problem(unknown, 400, "invalid_request").await;
    // A cursor from another (or a reset) database: everything in force again.
    let reset = page(&app, Some("999999999")).await;
    assert_eq!(ids(&reset), [user.session_id]);
}

#[tokio::test]
async fn revocations_leave_the_feed_once_no_token_they_match_can_be_valid() {
    let app = spawn_app_with(with_token).await;
    let user = app.new_user().await;
    app.call(
        reqwest::Method::POST,
        "/v1/signout",
        Some(&user.access),
        None,
    )
    .await;
    assert_eq!(ids(&page(&app, None).await).len(), 1);
    assert_eq!(ids(&page(&app, Some("0")).await).len(), 1);
    // Access tokens live 15 minutes plus 30 s leeway.
    app.clock.advance(chrono::Duration::minutes(16));
    assert!(ids(&page(&app, None).await).is_empty());
    assert!(ids(&page(&app, Some("0")).await).is_empty());
}
