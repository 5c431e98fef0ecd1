//! Passkeys (front-door contract, section 5): registration, the list and
//! removal, the password-less sign-in and the passkey as a second step,
//! against the real webauthn-rs checks. The answers come from a software
//! authenticator (warden_testkit::passkey); the browser suite runs the
//! same ceremonies in Chromium with its virtual authenticator.

use chrono::Duration;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use warden_testkit::passkey::SoftPasskey;
use warden_testkit::{
    ISSUER, STRONG_PASSWORD, TestApp, Tokens, assert_problem, spawn_app, tokens_of,
};

async fn call(app: &TestApp, method: Method, path: &str, who: &Tokens, body: Value) -> Response {
    app.call(method, path, Some(&who.access), Some(body)).await
}

async fn json_of(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

async fn validated(app: &TestApp, access: &str) -> Value {
    json_of(app.validate(access).await, StatusCode::OK).await
}

async fn me(app: &TestApp, who: &Tokens) -> Value {
    json_of(app.get_auth("/v1/me", &who.access).await, StatusCode::OK).await
}

async fn register_options(app: &TestApp, who: &Tokens) -> Value {
    let response = call(
        app,
        Method::POST,
        "/v1/webauthn/register/options",
        who,
        json!({}),
    )
    .await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    json_of(response, StatusCode::OK).await
}

/// Creation options for a caller whose sign-in is not recent.
async fn options_with_password(app: &TestApp, who: &Tokens) -> Value {
    let body = json!({"current_password": STRONG_PASSWORD});
    let response = call(
        app,
        Method::POST,
        "/v1/webauthn/register/options",
        who,
        body,
    )
    .await;
    json_of(response, StatusCode::OK).await
}

/// Registers `key` for `who` under `name`; the 201 body.
async fn register(app: &TestApp, who: &Tokens, key: &mut SoftPasskey, name: &str) -> Value {
    let options = register_options(app, who).await;
    let credential = key.register(&options);
    let response = call(
        app,
        Method::POST,
        "/v1/webauthn/register",
        who,
        json!({"credential": credential, "name": name}),
    )
    .await;
    json_of(response, StatusCode::CREATED).await
}

/// Options for a password-less sign-in: `(challenge_id, options)`.
async fn sign_in_options(app: &TestApp) -> (String, Value) {
    let response = app.post("/v1/webauthn/signin/options", json!({})).await;
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body = json_of(response, StatusCode::OK).await;
    let id = body["challenge_id"].as_str().unwrap().to_owned();
    (id, body)
}

async fn passwordless(app: &TestApp, key: &mut SoftPasskey) -> Response {
    let (challenge_id, options) = sign_in_options(app).await;
    let credential = key.sign_in(&options);
    app.post(
        "/v1/webauthn/signin",
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await
}

#[tokio::test]
async fn a_passkey_signs_in_without_a_password_with_two_factors() {
    let app = spawn_app().await;
    let user = app.new_user().await;

    let options = register_options(&app, &user).await;
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rp"]["id"], "warden.test");
    assert_eq!(public_key["user"]["name"], user.email.as_str());
    let selection = &public_key["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required");
    assert_eq!(selection["userVerification"], "required");

    let mut key = SoftPasskey::new(ISSUER);
    let created = register(&app, &user, &mut key, "  Laptop  ").await;
    assert_eq!(created["name"], "Laptop");
    assert_eq!(created["synced"], false);
    assert_eq!(
        created["recovery_codes"].as_array().unwrap().len(),
        10,
        "the first second factor comes with recovery codes"
    );
    let mfa = &me(&app, &user).await["mfa"];
    assert_eq!(mfa["passkeys"], 1);
    assert_eq!(mfa["recovery_codes_left"], 10);
    let listed = json_of(
        app.get_auth("/v1/me/passkeys", &user.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["passkeys"][0]["id"], created["id"]);
    assert_eq!(listed["passkeys"][0]["last_used_at"], Value::Null);
    assert_eq!(
        app.mail_to(warden_testkit::MailKind::MfaChanged, &user.email)
            .await
            .len(),
        1
    );

    // No address, no password: the browser offers the passkey it holds.
    let (challenge_id, options) = sign_in_options(&app).await;
    assert!(challenge_id.starts_with("wpc_"));
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "nobody's passkeys are listed to an unknown caller"
    );
    let answer = key.sign_in(&options);
    let response = app
        .post(
            "/v1/webauthn/signin",
            json!({"challenge_id": challenge_id, "credential": answer}),
        )
        .await;
    let tokens = tokens_of(&user.email, &json_of(response, StatusCode::OK).await);
    let claims = validated(&app, &tokens.access).await;
    assert_eq!(claims["sub"], user.user_id.as_str());
    assert_eq!(claims["acr"], "aal2");
    assert_eq!(claims["amr"], json!(["hwk", "user", "mfa"]));
    let listed = json_of(
        app.get_auth("/v1/me/passkeys", &user.access).await,
        StatusCode::OK,
    )
    .await;
    assert!(listed["passkeys"][0]["last_used_at"].is_string());

    // One answer per ceremony: the same challenge again is refused.
    let replay = app
        .post(
            "/v1/webauthn/signin",
            json!({"challenge_id": challenge_id, "credential": key.sign_in(&options)}),
        )
        .await;
    assert_problem(replay, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn a_synced_passkey_says_swk() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut key = SoftPasskey::new(ISSUER);
    key.synced = true;
    let created = register(&app, &user, &mut key, "Phone").await;
    assert_eq!(created["synced"], true);
    let response = passwordless(&app, &mut key).await;
    let tokens = tokens_of(&user.email, &json_of(response, StatusCode::OK).await);
    assert_eq!(
        validated(&app, &tokens.access).await["amr"],
        json!(["swk", "user", "mfa"])
    );
}

#[tokio::test]
async fn a_passkey_answer_that_does_not_hold_is_refused() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut key = SoftPasskey::new(ISSUER);
    register(&app, &user, &mut key, "Key").await;

    // Without user verification (no PIN, no fingerprint).
    key.user_verified = false;
    assert_problem(
        passwordless(&app, &mut key).await,
        401,
        "invalid_credentials",
    )
    .await;
    key.user_verified = true;
    // Made for another site.
    let mut phished = SoftPasskey::new("https://warden.test.evil.example");
    phished.credential_id = key.credential_id.clone();
    phished.user_handle = key.user_handle.clone();
    assert_problem(
        passwordless(&app, &mut phished).await,
        401,
        "invalid_credentials",
    )
    .await;
    // A key Warden never registered, claiming the account.
    let mut stranger = SoftPasskey::new(ISSUER);
    stranger.user_handle = key.user_handle.clone();
    assert_problem(
        passwordless(&app, &mut stranger).await,
        401,
        "invalid_credentials",
    )
    .await;
    // The registered id with another key's signature.
    let mut forged = SoftPasskey::new(ISSUER);
    forged.credential_id = key.credential_id.clone();
    forged.user_handle = key.user_handle.clone();
    assert_problem(
        passwordless(&app, &mut forged).await,
        401,
        "invalid_credentials",
    )
    .await;
    // Unknown or malformed challenge ids, garbage credentials.
    let (_, options) = sign_in_options(&app).await;
    for (challenge_id, credential) in [
        ("wpc_unknown".to_owned(), key.sign_in(&options)),
        ("nope".to_owned(), key.sign_in(&options)),
        (sign_in_options(&app).await.0, json!({"id": 1})),
    ] {
        let response = app
            .post(
                "/v1/webauthn/signin",
                json!({"challenge_id": challenge_id, "credential": credential}),
            )
            .await;
        assert_problem(response, 401, "invalid_credentials").await;
    }
    assert_problem(
        app.post("/v1/webauthn/signin", json!({"credential": {}}))
            .await,
        400,
        "invalid_request",
    )
    .await;
    // A ceremony older than five minutes.
    let (challenge_id, options) = sign_in_options(&app).await;
    app.clock.advance(Duration::minutes(6));
    let late = app
        .post(
            "/v1/webauthn/signin",
            json!({"challenge_id": challenge_id, "credential": key.sign_in(&options)}),
        )
        .await;
    assert_problem(late, 401, "invalid_credentials").await;
    // The right key still works after all that.
    assert_eq!(passwordless(&app, &mut key).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn registration_needs_a_recent_sign_in_and_a_fresh_answer() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut key = SoftPasskey::new(ISSUER);

    // No ceremony started.
    let response = call(
        &app,
        Method::POST,
        "/v1/webauthn/register",
        &user,
        json!({"credential": key.register(&register_options(&app, &app.new_user().await).await)}),
    )
    .await;
    assert_problem(response, 400, "invalid_credential").await;
    // Garbage for a ceremony.
    register_options(&app, &user).await;
    let response = call(
        &app,
        Method::POST,
        "/v1/webauthn/register",
        &user,
        json!({"credential": {"id": "x"}}),
    )
    .await;
    assert_problem(response, 400, "invalid_credential").await;
    assert_problem(
        call(
            &app,
            Method::POST,
            "/v1/webauthn/register",
            &user,
            json!({}),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    // Without a token.
    assert_problem(
        app.post("/v1/webauthn/register/options", json!({})).await,
        401,
        "invalid_token",
    )
    .await;

    // An old sign-in needs the password; a wrong one is refused.
    app.clock.advance(Duration::minutes(10));
    let user = tokens_of(
        &user.email,
        &json_of(app.refresh(&user.refresh).await, StatusCode::OK).await,
    );
    assert_problem(
        call(
            &app,
            Method::POST,
            "/v1/webauthn/register/options",
            &user,
            json!({}),
        )
        .await,
        401,
        "reauthentication_required",
    )
    .await;
    assert_problem(
        call(
            &app,
            Method::POST,
            "/v1/webauthn/register/options",
            &user,
            json!({"current_password": "not the password"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    let options = options_with_password(&app, &user).await;
    let credential = key.register(&options);
    let response = call(
        &app,
        Method::POST,
        "/v1/webauthn/register",
        &user,
        json!({"credential": credential, "name": ""}),
    )
    .await;
    let created = json_of(response, StatusCode::CREATED).await;
    assert_eq!(created["name"], "Passkey", "a blank name gets the default");

    // The same authenticator twice: excluded by the options, refused if
    // answered anyway.
    let options = options_with_password(&app, &user).await;
    assert_eq!(
        options["publicKey"]["excludeCredentials"][0]["id"],
        key.id().as_str()
    );
    let again = key.register(&options);
    let response = call(
        &app,
        Method::POST,
        "/v1/webauthn/register",
        &user,
        json!({"credential": again}),
    )
    .await;
    assert_problem(response, 400, "invalid_credential").await;
    let listed = json_of(
        app.get_auth("/v1/me/passkeys", &user.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["passkeys"].as_array().unwrap().len(), 1);
}

/// Signs in with the password: the `mfa_required` problem body.
async fn first_step(app: &TestApp, email: &str) -> Value {
    assert_problem(
        app.signin(email, STRONG_PASSWORD).await,
        403,
        "mfa_required",
    )
    .await
}

#[tokio::test]
async fn a_password_sign_in_asks_for_the_passkey() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut key = SoftPasskey::new(ISSUER);
    register(&app, &user, &mut key, "Key").await;

    let problem = first_step(&app, &user.email).await;
    assert_eq!(problem["methods"], json!(["webauthn", "recovery_code"]));
    let mfa_token = problem["mfa_token"].as_str().unwrap().to_owned();
    let options = json_of(
        app.post(
            "/v1/webauthn/signin/options",
            json!({"mfa_token": mfa_token}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(options.get("challenge_id").is_none());
    assert_eq!(
        options["publicKey"]["allowCredentials"][0]["id"],
        key.id().as_str(),
        "the second step names the account's passkeys"
    );

    // Both kinds at once, or another key's answer, are refused.
    let response = app
        .post(
            "/v1/signin/mfa",
            json!({"mfa_token": mfa_token, "totp_code": "123456", "webauthn": key.sign_in(&options)}),
        )
        .await;
    assert_problem(response, 400, "invalid_request").await;
    let mut other = SoftPasskey::new(ISSUER);
    other.user_handle = key.user_handle.clone();
    let response = app
        .post(
            "/v1/signin/mfa",
            json!({"mfa_token": mfa_token, "webauthn": other.sign_in(&options)}),
        )
        .await;
    assert_problem(response, 401, "invalid_mfa_code").await;
    // The failed answer used the ceremony up: new options, then the key.
    let options = json_of(
        app.post(
            "/v1/webauthn/signin/options",
            json!({"mfa_token": mfa_token}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let response = app
        .post(
            "/v1/signin/mfa",
            json!({"mfa_token": mfa_token, "webauthn": key.sign_in(&options)}),
        )
        .await;
    let tokens = tokens_of(&user.email, &json_of(response, StatusCode::OK).await);
    assert_eq!(
        validated(&app, &tokens.access).await["amr"],
        json!(["pwd", "hwk", "mfa"])
    );
    // The mfa_token is spent.
    assert_problem(
        app.post(
            "/v1/webauthn/signin/options",
            json!({"mfa_token": mfa_token}),
        )
        .await,
        401,
        "mfa_token_invalid",
    )
    .await;
}

#[tokio::test]
async fn removing_passkeys_needs_a_recent_sign_in_and_turns_the_second_step_off() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut key = SoftPasskey::new(ISSUER);
    let created = register(&app, &user, &mut key, "Key").await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/v1/me/passkeys/{id}");

    let other = app.new_user().await;
    assert_problem(
        call(&app, Method::DELETE, &path, &other, json!({})).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        call(
            &app,
            Method::DELETE,
            "/v1/me/passkeys/nope",
            &user,
            json!({}),
        )
        .await,
        400,
        "invalid_request",
    )
    .await;
    app.clock.advance(Duration::minutes(10));
    let user = tokens_of(
        &user.email,
        &json_of(app.refresh(&user.refresh).await, StatusCode::OK).await,
    );
    assert_problem(
        call(&app, Method::DELETE, &path, &user, json!({})).await,
        401,
        "reauthentication_required",
    )
    .await;
    let response = call(
        &app,
        Method::DELETE,
        &path,
        &user,
        json!({"current_password": STRONG_PASSWORD}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let mfa = &me(&app, &user).await["mfa"];
    assert_eq!(mfa["passkeys"], 0);
    assert_eq!(
        mfa["recovery_codes_left"], 0,
        "the last factor took its codes"
    );
    // One step again, and the removed passkey no longer signs in.
    assert_eq!(
        app.signin(&user.email, STRONG_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_problem(
        passwordless(&app, &mut key).await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn an_admin_reset_removes_passkeys_too() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    let mut key = SoftPasskey::new(ISSUER);
    register(&app, &user, &mut key, "Key").await;
    let response = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/users/{}/mfa", user.user_id),
            Some(&admin.access),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        passwordless(&app, &mut key).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.signin(&user.email, STRONG_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn registering_a_passkey_makes_the_session_two_factor_at_its_next_refresh() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    assert_eq!(validated(&app, &user.access).await["acr"], "aal1");
    let mut key = SoftPasskey::new(ISSUER);
    register(&app, &user, &mut key, "Key").await;
    // The token in hand says what it said; the refreshed one has both.
    assert_eq!(validated(&app, &user.access).await["acr"], "aal1");
    let refreshed = tokens_of(
        &user.email,
        &json_of(app.refresh(&user.refresh).await, StatusCode::OK).await,
    );
    let claims = validated(&app, &refreshed.access).await;
    assert_eq!(claims["acr"], "aal2");
    assert_eq!(claims["amr"], json!(["pwd", "hwk", "mfa"]));
}

#[tokio::test]
async fn one_client_starts_a_bounded_number_of_passkey_ceremonies() {
    let app = spawn_app().await;
    for _ in 0..120 {
        let response = app.post("/v1/webauthn/signin/options", json!({})).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    let refused = app.post("/v1/webauthn/signin/options", json!({})).await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(refused, 429, "too_many_requests").await;
    app.clock.advance(Duration::minutes(1));
    let again = app.post("/v1/webauthn/signin/options", json!({})).await;
    assert_eq!(again.status(), StatusCode::OK);
}
