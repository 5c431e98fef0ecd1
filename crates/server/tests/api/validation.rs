//! `/v1/validate` and forward-auth `/v1/verify` with valid tokens; the
//! forged ones are in `forged_tokens`.

use reqwest::Method;
use serde_json::{Value, json};
use warden_testkit::{assert_problem, spawn_app};

#[tokio::test]
async fn validate_returns_the_identity_from_a_bearer_token() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = app.validate(&user.access).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], user.user_id);
    assert_eq!(body["sid"], user.session_id);
    assert_eq!(body["roles"], json!(["user"]));
    assert_eq!(body["token_type"], "access_token");
    let exp = body["exp"].as_i64().unwrap();
    let iat = body["iat"].as_i64().unwrap();
    assert_eq!(exp - iat, 900);
}

#[tokio::test]
async fn validate_accepts_the_token_in_the_body() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = app
        .post("/v1/validate", json!({"token": user.access}))
        .await;
    assert_eq!(response.status(), 200);
    let missing = app.call(Method::POST, "/v1/validate", None, None).await;
    assert_problem(missing, 401, "invalid_token").await;
    let garbage = app.post("/v1/validate", json!({"token": "nope"})).await;
    assert_problem(garbage, 401, "invalid_token").await;
}

#[tokio::test]
async fn validate_rejects_an_expired_token() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    app.clock.advance(chrono::Duration::seconds(900 + 31));
    assert_problem(app.validate(&user.access).await, 401, "token_expired").await;
}

#[tokio::test]
async fn a_cached_validation_never_outlives_the_token() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    assert_eq!(app.validate(&user.access).await.status(), 200);
    assert_eq!(app.validate(&user.access).await.status(), 200);
    app.clock.advance(chrono::Duration::seconds(900 + 31));
    assert_problem(app.validate(&user.access).await, 401, "token_expired").await;
}

#[tokio::test]
async fn verify_answers_200_with_identity_headers() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = app.get_auth("/v1/verify", &user.access).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-warden-user"], user.user_id.as_str());
    assert_eq!(
        response.headers()["x-warden-session"],
        user.session_id.as_str()
    );
    assert_eq!(response.headers()["x-warden-roles"], "user");
    assert!(response.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn verify_checks_the_required_role() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    assert_eq!(
        app.get_auth("/v1/verify?role=user", &user.access)
            .await
            .status(),
        200
    );
    let denied = app.get_auth("/v1/verify?role=admin", &user.access).await;
    assert_problem(denied, 403, "forbidden").await;
    let admin = app.new_admin().await;
    assert_eq!(
        app.get_auth("/v1/verify?role=admin", &admin.access)
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn verify_without_a_token_is_401_and_ignores_spoofed_identity_headers() {
    let app = spawn_app().await;
    let response = app
        .client
        .get(app.url("/v1/verify"))
        .header("x-warden-user", "admin")
        .header("x-auth-user", "admin")
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "invalid_token").await;
    let user = app.new_user().await;
    let response = app
        .client
        .get(app.url("/v1/verify"))
        .bearer_auth(&user.access)
        .header("x-warden-user", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-warden-user"], user.user_id.as_str());
}

/// RFC 6750 section 3: a 401 without any credential names no error; a
/// token that was presented and refused (forged, expired, revoked) gets
/// `error="invalid_token"`, so a client knows to refresh or sign in again.
#[tokio::test]
async fn the_401_challenge_names_an_error_only_for_a_refused_token() {
    let app = spawn_app().await;
    let challenge = |response: &reqwest::Response| {
        assert_eq!(response.status(), 401);
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    const NONE: &str = "Bearer realm=\"warden\"";
    const REFUSED: &str = "Bearer realm=\"warden\", error=\"invalid_token\"";
    for path in ["/v1/verify", "/v1/me"] {
        let missing = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(challenge(&missing), NONE, "{path}");
        let forged = app.get_auth(path, "not.a.token").await;
        assert_eq!(challenge(&forged), REFUSED, "{path}");
    }
    let validate = app
        .client
        .post(app.url("/v1/validate"))
        .send()
        .await
        .unwrap();
    assert_eq!(challenge(&validate), NONE);

    let user = app.new_user().await;
    app.call(Method::POST, "/v1/signout", Some(&user.access), None)
        .await;
    let revoked = app.get_auth("/v1/verify", &user.access).await;
    assert_eq!(challenge(&revoked), REFUSED);
    let other = app.new_user().await;
    app.clock.advance(chrono::Duration::seconds(900 + 31));
    let expired = app.get_auth("/v1/me", &other.access).await;
    assert_eq!(challenge(&expired), REFUSED);
    assert_problem(expired, 401, "token_expired").await;
}

#[tokio::test]
async fn a_ban_takes_effect_on_a_live_token_at_once() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    assert_eq!(app.get_auth("/v1/verify", &user.access).await.status(), 200);
    let ban = app
        .call(
            Method::POST,
            &format!("/v1/admin/users/{}/ban", user.user_id),
            Some(&admin.access),
            Some(json!({"reason": "spam"})),
        )
        .await;
    assert_eq!(ban.status(), 200);
    assert_problem(
        app.get_auth("/v1/verify", &user.access).await,
        401,
        "token_revoked",
    )
    .await;
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
}

#[tokio::test]
async fn es256_and_rs256_are_selectable_and_published_in_the_jwks() {
    for (algorithm, kty) in [("ES256", "EC"), ("RS256", "RSA")] {
        let app =
            warden_testkit::spawn_app_with(|c| c.tokens.algorithm = algorithm.parse().unwrap())
                .await;
        let user = app.new_user().await;
        let header = user.access.split('.').next().unwrap();
        let header: Value = serde_json::from_slice(
            &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], algorithm);
        assert_eq!(header["typ"], "at+jwt");
        assert_eq!(app.validate(&user.access).await.status(), 200);
        let jwks: Value = app
            .client
            .get(app.url("/.well-known/jwks.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let key = &jwks["keys"][0];
        assert_eq!(key["kty"], kty);
        assert_eq!(key["alg"], algorithm);
        assert_eq!(key["kid"], header["kid"]);
    }
}
