//! Malformed requests get a problem+json 4xx naming the problem, change
//! nothing, and never a 5xx.

use reqwest::Method;
use serde_json::{Value, json};
use warden_testkit::{STRONG_PASSWORD, assert_problem, spawn_app, unique_email};

async fn raw_post(
    app: &warden_testkit::TestApp,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn malformed_json_is_invalid_request() {
    let app = spawn_app().await;
    for body in [
        &b"{"[..],
        b"not json",
        b"[]",
        b"null",
        b"{\"email\": \"a@b.co\", \"password\": \"x\"} trailing",
    ] {
        for path in [
            "/v1/signup",
            "/v1/signin",
            "/v1/token/refresh",
            "/v1/validate",
        ] {
            let response = raw_post(&app, path, "application/json", body.to_vec()).await;
            assert!(
                response.status() == 400 || response.status() == 401,
                "{path} {:?} -> {}",
                String::from_utf8_lossy(body),
                response.status()
            );
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
        }
    }
}

#[tokio::test]
async fn wrong_types_and_missing_fields_name_the_field() {
    let app = spawn_app().await;
    let wrong = app
        .post(
            "/v1/signup",
            json!({"email": "a@example.com", "password": 12345678}),
        )
        .await;
    let body = assert_problem(wrong, 400, "invalid_request").await;
    assert!(
        body["detail"].as_str().unwrap().contains("password"),
        "{body}"
    );
    assert!(
        !body["detail"].as_str().unwrap().contains("12345678"),
        "{body}"
    );
    let missing = app
        .post("/v1/signin", json!({"email": "a@example.com"}))
        .await;
    let body = assert_problem(missing, 400, "invalid_request").await;
    assert!(
        body["detail"].as_str().unwrap().contains("password"),
        "{body}"
    );
    let unknown = app
        .post(
            "/v1/signup",
            json!({"email": unique_email(), "password": STRONG_PASSWORD, "roles": ["admin"]}),
        )
        .await;
    let body = assert_problem(unknown, 400, "invalid_request").await;
    assert!(body["detail"].as_str().unwrap().contains("roles"), "{body}");
}

#[tokio::test]
async fn a_rejected_signup_creates_nothing() {
    let app = spawn_app().await;
    let email = unique_email();
    let unknown_field = app
        .post(
            "/v1/signup",
            json!({"email": email, "password": STRONG_PASSWORD, "is_admin": true}),
        )
        .await;
    assert_eq!(unknown_field.status(), 400);
    let weak = app.signup(&email, "password").await;
    assert_eq!(weak.status(), 422);
    assert_eq!(
        app.signup(&email, STRONG_PASSWORD).await.status(),
        201,
        "the address is still free"
    );
}

#[tokio::test]
async fn invalid_emails_are_refused() {
    let app = spawn_app().await;
    for email in [
        "",
        "plain",
        "a@b",
        "a b@example.com",
        &format!("{}@example.com", "a".repeat(300)),
    ] {
        let response = app.signup(email, STRONG_PASSWORD).await;
        let body = assert_problem(response, 400, "invalid_request").await;
        assert!(body["detail"].as_str().unwrap().contains("email"), "{body}");
    }
}

#[tokio::test]
async fn oversize_bodies_are_413() {
    let app = spawn_app().await;
    let big = json!({"email": unique_email(), "password": "x".repeat(70 * 1024)});
    assert_problem(app.post("/v1/signup", big).await, 413, "payload_too_large").await;
    let huge = vec![b' '; 10 * 1024 * 1024];
    let response = raw_post(&app, "/v1/signin", "application/json", huge).await;
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn overlong_passwords_are_refused_before_hashing() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let long = "a".repeat(257);
    let body = assert_problem(
        app.signup(&unique_email(), &long).await,
        400,
        "invalid_request",
    )
    .await;
    assert!(body["detail"].as_str().unwrap().contains("password"));
    assert_problem(app.signin(&user.email, &long).await, 400, "invalid_request").await;
    // A refused attempt is not a failed guess: the account is not closer to lockout.
    for _ in 0..10 {
        assert_eq!(app.signin(&user.email, &long).await.status(), 400);
    }
    assert_eq!(app.signin(&user.email, STRONG_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn invalid_utf8_is_invalid_request() {
    let app = spawn_app().await;
    let response = raw_post(
        &app,
        "/v1/signin",
        "application/json",
        b"{\"email\": \"a\xff@example.com\", \"password\": \"x\"}".to_vec(),
    )
    .await;
    assert_problem(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn non_json_content_types_are_415() {
    let app = spawn_app().await;
    let body = format!(
        "{{\"email\":\"{}\",\"password\":\"{STRONG_PASSWORD}\"}}",
        unique_email()
    );
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ] {
        let response = raw_post(&app, "/v1/signup", content_type, body.clone().into_bytes()).await;
        assert_problem(response, 415, "unsupported_media_type").await;
    }
}

#[tokio::test]
async fn garbage_authorization_headers_are_401() {
    let app = spawn_app().await;
    for value in [
        "Bearer",
        "Bearer ",
        "Basic YWRtaW46YWRtaW4=",
        "bearer a b c",
        "Token abc",
        "Bearer \u{7f}",
    ] {
        let response = app
            .client
            .get(app.url("/v1/me"))
            .header("authorization", value)
            .send()
            .await;
        let Ok(response) = response else { continue };
        assert_problem(response, 401, "invalid_token").await;
    }
    let huge = format!("Bearer {}", "a".repeat(9000));
    let response = app
        .client
        .get(app.url("/v1/me"))
        .header("authorization", huge)
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn bad_query_strings_are_invalid_request() {
    let app = spawn_app().await;
    let response = app
        .client
        .post(app.url("/v1/signin?cookie=banana"))
        .json(&json!({"email": unique_email(), "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn empty_bodies_are_invalid_request() {
    let app = spawn_app().await;
    for path in ["/v1/signup", "/v1/signin"] {
        let response = app.call(Method::POST, path, None, None).await;
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "invalid_request", "{path}");
    }
}
