//! Revocation at the gateway: over the feed, over the bus, and for opaque
//! session tokens checked through Warden's `/v1/validate`.

use super::*;

#[tokio::test]
async fn a_sign_out_is_refused_within_a_second() {
    let s = setup().await;
    let (token, _) = s.signup().await;
    assert_eq!(
        s.get("/api/tickets/", Some(&token)).await.status(),
        StatusCode::OK
    );
    s.sign_out_and_wait_for_401(&token, "/api/tickets/").await;
}

/// With `revocation_feed` on the bus (and Warden's names for it), a
/// sign-out reaches the gateway as an event: the feed is polled every half hour
/// here, so only the bus can explain a 401 within a second.
async fn a_sign_out_reaches_the_gateway_over_the_bus(var: &str) {
    use warden_testkit::bus::{broker, delete_exchange, delete_stream, unique_names};
    use warden_testkit::process::is_backend_pass;
    if is_backend_pass() {
        return;
    }
    let Some(url) = broker(var) else { return };
    let names = unique_names();
    let warden = warden_testkit::spawn_app_with(|c| {
        c.events.url = Some(warden::config::Secret::new(url.clone()));
        c.events.subject_prefix = names.subject_prefix.clone();
        c.events.stream = names.stream.clone();
        c.events.exchange = names.exchange.clone();
    })
    .await;
    let top = format!(
        "revocation_feed = {url:?}\nrevocation_poll_interval = \"30m\"\n\n\
         [revocation_bus]\nsubject_prefix = {:?}\nstream = {:?}\nexchange = {:?}\n",
        names.subject_prefix, names.stream, names.exchange
    );
    let s = setup_on(warden, &top, "").await;
    let (token, _) = s.signup().await;
    assert_eq!(
        s.get("/api/tickets/", Some(&token)).await.status(),
        StatusCode::OK
    );
    s.sign_out_and_wait_for_401(&token, "/api/tickets/").await;
    if url.starts_with("nats") {
        delete_stream(&url, &names).await;
    } else {
        delete_exchange(&url, &names).await;
    }
}

#[tokio::test]
async fn a_sign_out_reaches_the_gateway_over_nats() {
    a_sign_out_reaches_the_gateway_over_the_bus("WARDEN_TEST_NATS_URL").await;
}

#[tokio::test]
async fn a_sign_out_reaches_the_gateway_over_rabbitmq() {
    a_sign_out_reaches_the_gateway_over_the_bus("WARDEN_TEST_AMQP_URL").await;
}

/// Session-token mode: the gateway accepts opaque `wst_` tokens by asking
/// Warden's `/v1/validate` with its service credential (cached briefly), and
/// a sign-out still bites within a second through the revocation feed.
#[tokio::test]
async fn session_tokens_pass_with_the_service_credential_and_are_revoked() {
    const CREDENTIAL: &str = "gateway-service-credential-0123456789";
    let warden = warden_testkit::spawn_app_with(|c| {
        c.tokens.access = warden_core::AccessTokenKind::Session;
        c.revocations_token = Some(warden::config::Secret::new(CREDENTIAL));
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let credential = dir.path().join("service-token");
    std::fs::write(&credential, format!("{CREDENTIAL}\n")).unwrap();
    let s = setup_on(
        warden,
        &format!(
            "service_token_file = {:?}",
            credential.display().to_string()
        ),
        "",
    )
    .await;
    let (token, user) = s.signup().await;
    assert!(token.starts_with("wst_"), "session mode: {token}");
    let response = s
        .client
        .get(s.gateway.url("/api/tickets/1"))
        .bearer_auth(&token)
        .header("X-Warden-User", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = s.echo.last();
    assert_eq!(seen.headers["x-warden-user"], user["id"].as_str().unwrap());
    assert_eq!(seen.headers["x-warden-roles"], "user");

    let forged = format!("wst_{}", "A".repeat(43));
    assert_problem(
        s.get("/api/tickets/1", Some(&forged)).await,
        401,
        "invalid_token",
    )
    .await;

    s.sign_out_and_wait_for_401(&token, "/api/tickets/1").await;
}

/// Without a service credential the gateway cannot check `wst_` tokens and
/// refuses them (no call to Warden, never a pass).
#[tokio::test]
async fn session_tokens_without_a_credential_are_refused() {
    let warden =
        warden_testkit::spawn_app_with(|c| c.tokens.access = warden_core::AccessTokenKind::Session)
            .await;
    let s = setup_on(warden, "", "").await;
    let (token, _) = s.signup().await;
    assert!(token.starts_with("wst_"));
    let response = s.get("/api/tickets/1", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(s.echo.seen().is_empty(), "the upstream must not be reached");
}
