//! Second factors (front-door contract, section 5): the authenticator app
//! and recovery codes, the two-step sign-in, re-authentication, the admin
//! reset, `amr`/`acr`/`auth_time`, step-up rules and `[mfa]
//! required_for_roles`. TOTP codes are computed here from the secret the
//! API hands out, at the app's fake clock.

use chrono::Duration;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use warden::config::VerifyRule;
use warden_core::mfa::{TotpSecret, totp_code_at};
use warden_core::ports::Clock as _;
use warden_testkit::{
    MailKind, STRONG_PASSWORD, TestApp, Tokens, assert_problem, spawn_app, spawn_app_with,
    tokens_of,
};

/// A user with a confirmed authenticator app: its secret and the codes.
pub(crate) struct Enrolled {
    pub(crate) user: Tokens,
    pub(crate) secret: TotpSecret,
    pub(crate) recovery_codes: Vec<String>,
}

fn step(app: &TestApp) -> i64 {
    app.clock.now().timestamp() / 30
}

fn code(secret: &TotpSecret, step: i64) -> String {
    totp_code_at(secret, step)
}

async fn call(app: &TestApp, method: Method, path: &str, who: &Tokens, body: Value) -> Response {
    app.call(method, path, Some(&who.access), Some(body)).await
}

async fn me(app: &TestApp, who: &Tokens) -> Value {
    let response = app.get_auth("/v1/me", &who.access).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn start_totp(app: &TestApp, who: &Tokens) -> TotpSecret {
    let response = call(app, Method::POST, "/v1/mfa/totp", who, json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    let secret = body["secret"].as_str().unwrap();
    let uri = body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Warden:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(body["qr_svg"].as_str().unwrap().starts_with("<svg"));
    TotpSecret::from_base32(secret).expect("base32 secret")
}

/// Signs up, enrols an authenticator app and moves the clock a step on,
/// so the confirming code is not the next one asked for.
pub(crate) async fn enrolled(app: &TestApp) -> Enrolled {
    enrol(app, app.new_user().await).await
}

/// Enrols an authenticator app for `user` and moves the clock a step on.
async fn enrol(app: &TestApp, user: Tokens) -> Enrolled {
    let secret = start_totp(app, &user).await;
    let response = call(
        app,
        Method::POST,
        "/v1/mfa/totp/confirm",
        &user,
        json!({"code": code(&secret, step(app))}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let recovery_codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    app.clock.advance(Duration::seconds(30));
    Enrolled {
        user,
        secret,
        recovery_codes,
    }
}

/// The first step: the password, answered with `mfa_required`.
async fn first_step(app: &TestApp, email: &str) -> String {
    let body = assert_problem(
        app.signin(email, STRONG_PASSWORD).await,
        403,
        "mfa_required",
    )
    .await;
    assert_eq!(body["methods"], json!(["totp", "recovery_code"]));
    assert!(body.get("access_token").is_none());
    let token = body["mfa_token"].as_str().unwrap();
    assert!(token.starts_with("wmf_"), "{token}");
    token.to_owned()
}

async fn second_step(app: &TestApp, mfa_token: &str, field: &str, code: &str) -> Response {
    app.post(
        "/v1/signin/mfa",
        json!({"mfa_token": mfa_token, field: code}),
    )
    .await
}

async fn validated(app: &TestApp, access: &str) -> Value {
    let response = app.validate(access).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

#[tokio::test]
async fn an_authenticator_app_is_set_up_then_asked_for_at_every_sign_in() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let before = validated(&app, &user.access).await;
    assert_eq!(before["acr"], "aal1");
    assert_eq!(before["amr"], json!(["pwd"]));
    assert_eq!(me(&app, &user).await["mfa"]["totp"], false);

    let secret = start_totp(&app, &user).await;
    let now = step(&app);
    let wrong = format!(
        "{:06}",
        (code(&secret, now).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    for bad in [wrong.as_str(), "12345", "abcdef", ""] {
        assert_problem(
            call(
                &app,
                Method::POST,
                "/v1/mfa/totp/confirm",
                &user,
                json!({"code": bad}),
            )
            .await,
            400,
            "invalid_mfa_code",
        )
        .await;
    }
    assert_eq!(me(&app, &user).await["mfa"]["totp"], false, "still pending");
    let response = call(
        &app,
        Method::POST,
        "/v1/mfa/totp/confirm",
        &user,
        json!({"code": code(&secret, now)}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let codes: Value = response.json().await.unwrap();
    let codes = codes["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    let mfa = &me(&app, &user).await["mfa"];
    assert_eq!(mfa["totp"], true);
    assert_eq!(mfa["recovery_codes_left"], 10);
    assert_eq!(
        app.mail_to(MailKind::MfaChanged, &user.email).await.len(),
        1
    );
    assert!(
        app.outbox_names()
            .await
            .contains(&"user.mfa_changed".to_owned())
    );
    // A second app cannot be started over a confirmed one.
    assert_problem(
        call(&app, Method::POST, "/v1/mfa/totp", &user, json!({})).await,
        409,
        "mfa_already_enabled",
    )
    .await;

    let mfa_token = first_step(&app, &user.email).await;
    // The confirming code was spent: a replay in its window is refused.
    assert_problem(
        second_step(&app, &mfa_token, "totp_code", &code(&secret, now)).await,
        401,
        "invalid_mfa_code",
    )
    .await;
    app.clock.advance(Duration::seconds(30));
    let response = second_step(&app, &mfa_token, "totp_code", &code(&secret, step(&app))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens = tokens_of(&user.email, &response.json().await.unwrap());
    let claims = validated(&app, &tokens.access).await;
    assert_eq!(claims["acr"], "aal2");
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(claims["auth_time"], app.clock.now().timestamp());
    // The token is single use: a spent mfa_token is refused.
    app.clock.advance(Duration::seconds(30));
    assert_problem(
        second_step(&app, &mfa_token, "totp_code", &code(&secret, step(&app))).await,
        401,
        "mfa_token_invalid",
    )
    .await;
    // A refreshed token keeps the session's authentication.
    let refreshed = app.refresh(&tokens.refresh).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = tokens_of(&user.email, &refreshed.json().await.unwrap());
    assert_eq!(validated(&app, &refreshed.access).await["acr"], "aal2");
}

#[tokio::test]
async fn a_code_one_step_off_is_accepted_and_two_steps_off_is_not() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    // One more step, so the step behind is not the one confirming spent.
    app.clock.advance(Duration::seconds(30));
    let mfa_token = first_step(&app, &enrolled.user.email).await;
    let now = step(&app);
    for off in [now - 2, now + 2] {
        assert_problem(
            second_step(&app, &mfa_token, "totp_code", &code(&enrolled.secret, off)).await,
            401,
            "invalid_mfa_code",
        )
        .await;
    }
    let response = second_step(
        &app,
        &mfa_token,
        "totp_code",
        &code(&enrolled.secret, now - 1),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "one step behind");
    let mfa_token = first_step(&app, &enrolled.user.email).await;
    let response = second_step(
        &app,
        &mfa_token,
        "totp_code",
        &code(&enrolled.secret, now + 1),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "one step ahead");
    // A code older than the last one used is refused too.
    let mfa_token = first_step(&app, &enrolled.user.email).await;
    assert_problem(
        second_step(&app, &mfa_token, "totp_code", &code(&enrolled.secret, now)).await,
        401,
        "invalid_mfa_code",
    )
    .await;
}

#[tokio::test]
async fn each_recovery_code_works_once_and_a_new_set_voids_the_old() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let first = enrolled.recovery_codes[0].clone();
    let mfa_token = first_step(&app, &enrolled.user.email).await;
    // Typed in capitals with spaces: still the code.
    let typed = first.to_uppercase().replace('-', " ");
    let response = second_step(&app, &mfa_token, "recovery_code", &typed).await;
    assert_eq!(response.status(), StatusCode::OK);
    let tokens = tokens_of(&enrolled.user.email, &response.json().await.unwrap());
    assert_eq!(validated(&app, &tokens.access).await["acr"], "aal2");
    assert_eq!(me(&app, &tokens).await["mfa"]["recovery_codes_left"], 9);

    let mfa_token = first_step(&app, &enrolled.user.email).await;
    assert_problem(
        second_step(&app, &mfa_token, "recovery_code", &first).await,
        401,
        "invalid_mfa_code",
    )
    .await;

    // A new set, given an app code; the old set stops working.
    assert_problem(
        call(
            &app,
            Method::POST,
            "/v1/mfa/recovery-codes",
            &tokens,
            json!({"code": "000000"}),
        )
        .await,
        400,
        "invalid_mfa_code",
    )
    .await;
    let response = call(
        &app,
        Method::POST,
        "/v1/mfa/recovery-codes",
        &tokens,
        json!({"code": code(&enrolled.secret, step(&app))}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let fresh: Value = response.json().await.unwrap();
    let fresh = fresh["recovery_codes"][0].as_str().unwrap().to_owned();
    assert_eq!(me(&app, &tokens).await["mfa"]["recovery_codes_left"], 10);
    let response = second_step(
        &app,
        &mfa_token,
        "recovery_code",
        &enrolled.recovery_codes[1],
    )
    .await;
    assert_problem(response, 401, "invalid_mfa_code").await;
    let response = second_step(&app, &mfa_token, "recovery_code", &fresh).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn five_wrong_codes_void_the_mfa_token_and_count_toward_the_lockout() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let mfa_token = first_step(&app, &enrolled.user.email).await;
    for _ in 0..5 {
        assert_problem(
            second_step(&app, &mfa_token, "totp_code", "000000").await,
            401,
            "invalid_mfa_code",
        )
        .await;
    }
    let right = code(&enrolled.secret, step(&app));
    assert_problem(
        second_step(&app, &mfa_token, "totp_code", &right).await,
        401,
        "mfa_token_invalid",
    )
    .await;
    // The five failures locked the account like five wrong passwords.
    assert_problem(
        app.signin(&enrolled.user.email, STRONG_PASSWORD).await,
        429,
        "too_many_attempts",
    )
    .await;
}

#[tokio::test]
async fn a_right_password_does_not_wipe_the_count_of_wrong_codes() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let first = first_step(&app, &enrolled.user.email).await;
    for _ in 0..3 {
        let wrong = second_step(&app, &first, "totp_code", "000000").await;
        assert_problem(wrong, 401, "invalid_mfa_code").await;
    }
    // Signing in again with the password buys no fresh guesses.
    let second = first_step(&app, &enrolled.user.email).await;
    for _ in 0..2 {
        let wrong = second_step(&app, &second, "totp_code", "000000").await;
        assert_problem(wrong, 401, "invalid_mfa_code").await;
    }
    assert_problem(
        app.signin(&enrolled.user.email, STRONG_PASSWORD).await,
        429,
        "too_many_attempts",
    )
    .await;
}

#[tokio::test]
async fn the_second_step_refuses_bad_input_clearly() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let mfa_token = first_step(&app, &enrolled.user.email).await;
    for body in [
        json!({"mfa_token": mfa_token}),
        json!({"mfa_token": mfa_token, "totp_code": "123456", "recovery_code": "x"}),
        json!({"mfa_token": mfa_token, "totp_code": "123456", "extra": 1}),
    ] {
        assert_problem(
            app.post("/v1/signin/mfa", body).await,
            400,
            "invalid_request",
        )
        .await;
    }
    for token in [
        "",
        "wmf_",
        "wrt_abc",
        "wmf_unknown0000000000000000000000000000000",
    ] {
        assert_problem(
            second_step(&app, token, "totp_code", "123456").await,
            401,
            "mfa_token_invalid",
        )
        .await;
    }
    // None of that spent the token.
    let response = second_step(
        &app,
        &mfa_token,
        "totp_code",
        &code(&enrolled.secret, step(&app)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn changing_factors_needs_a_recent_sign_in_or_the_password() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    app.clock.advance(Duration::minutes(6));
    assert_problem(
        call(&app, Method::POST, "/v1/mfa/totp", &user, json!({})).await,
        401,
        "reauthentication_required",
    )
    .await;
    assert_problem(
        call(
            &app,
            Method::POST,
            "/v1/mfa/totp",
            &user,
            json!({"current_password": "not the password at all"}),
        )
        .await,
        401,
        "invalid_credentials",
    )
    .await;
    let response = call(
        &app,
        Method::POST,
        "/v1/mfa/totp",
        &user,
        json!({"current_password": STRONG_PASSWORD}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn removing_the_app_needs_one_of_its_codes_and_then_the_password_suffices() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    let who = &enrolled.user;
    assert_problem(
        call(&app, Method::DELETE, "/v1/mfa/totp", who, json!({})).await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        call(
            &app,
            Method::DELETE,
            "/v1/mfa/totp",
            who,
            json!({"code": "000000"}),
        )
        .await,
        400,
        "invalid_mfa_code",
    )
    .await;
    let response = call(
        &app,
        Method::DELETE,
        "/v1/mfa/totp",
        who,
        json!({"recovery_code": enrolled.recovery_codes[3]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&app, who).await["mfa"]["totp"], false);
    assert_eq!(app.mail_to(MailKind::MfaChanged, &who.email).await.len(), 2);
    // One factor again: the password alone signs in.
    let tokens = app.sign_in_ok(&who.email, STRONG_PASSWORD).await;
    assert_eq!(validated(&app, &tokens.access).await["acr"], "aal1");
    assert_problem(
        call(
            &app,
            Method::DELETE,
            "/v1/mfa/totp",
            who,
            json!({"code": "000000"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn an_admin_resets_a_users_factors_and_ends_their_sessions() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let enrolled = enrolled(&app).await;
    let target = format!("/v1/admin/users/{}/mfa", enrolled.user.user_id);
    assert_problem(
        call(&app, Method::DELETE, &target, &enrolled.user, json!({})).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.call(
            Method::DELETE,
            "/v1/admin/users/0190e0c4-0000-7000-8000-000000000000/mfa",
            Some(&admin.access),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let response = app
        .call(Method::DELETE, &target, Some(&admin.access), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.validate(&enrolled.user.access).await,
        401,
        "token_revoked",
    )
    .await;
    let tokens = app.sign_in_ok(&enrolled.user.email, STRONG_PASSWORD).await;
    assert_eq!(validated(&app, &tokens.access).await["acr"], "aal1");
    let mail = app
        .mail_to(MailKind::MfaChanged, &enrolled.user.email)
        .await;
    assert_eq!(mail.len(), 2, "enrolled, then reset");
}

/// Signs in with both factors.
pub(crate) async fn two_factor_tokens(app: &TestApp, enrolled: &Enrolled) -> Tokens {
    let mfa_token = first_step(app, &enrolled.user.email).await;
    let response = second_step(
        app,
        &mfa_token,
        "totp_code",
        &code(&enrolled.secret, step(app)),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    app.clock.advance(Duration::seconds(30));
    tokens_of(&enrolled.user.email, &response.json().await.unwrap())
}

#[tokio::test]
async fn a_step_up_rule_answers_one_factor_with_the_rfc_9470_challenge() {
    let app = spawn_app_with(|config| {
        config.verify.policy = VerifyRule::policy(&[VerifyRule {
            prefix: "/payments/".into(),
            methods: Vec::new(),
            roles: Vec::new(),
            public: false,
            mfa: true,
            scopes: Vec::new(),
        }])
        .unwrap();
    })
    .await;
    let enrolled = enrolled(&app).await;
    let forward = |token: String, path: &'static str| {
        let app = &app;
        async move {
            app.client
                .get(app.url("/v1/verify"))
                .bearer_auth(token)
                .header("x-original-uri", path)
                .send()
                .await
                .unwrap()
        }
    };
    let one_factor = forward(enrolled.user.access.clone(), "/payments/send").await;
    assert_eq!(one_factor.status(), StatusCode::UNAUTHORIZED);
    let challenge = one_factor.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_user_authentication\"")
            && challenge.contains("acr_values=\"aal2\""),
        "{challenge}"
    );
    assert_problem(one_factor, 401, "insufficient_user_authentication").await;
    // Elsewhere one factor is enough.
    let elsewhere = forward(enrolled.user.access.clone(), "/profile").await;
    assert_eq!(elsewhere.status(), StatusCode::OK);
    assert_eq!(elsewhere.headers()["x-warden-acr"], "aal1");

    let tokens = two_factor_tokens(&app, &enrolled).await;
    let two_factors = forward(tokens.access.clone(), "/payments/send").await;
    assert_eq!(two_factors.status(), StatusCode::OK);
    assert_eq!(two_factors.headers()["x-warden-acr"], "aal2");
    assert_eq!(two_factors.headers()["x-warden-amr"], "pwd,otp,mfa");
}

#[tokio::test]
async fn a_role_that_requires_a_second_factor_reaches_only_enrolment_until_it_has_one() {
    let app = spawn_app_with(|config| config.mfa.required_for_roles = vec!["admin".into()]).await;
    let admin = app.new_admin().await;
    assert_problem(
        app.get_auth("/v1/admin/users", &admin.access).await,
        403,
        "mfa_enrollment_required",
    )
    .await;
    assert_problem(
        app.get_auth("/v1/sessions", &admin.access).await,
        403,
        "mfa_enrollment_required",
    )
    .await;
    assert_eq!(
        app.get_auth("/v1/me", &admin.access).await.status(),
        StatusCode::OK
    );
    let enrolled = enrol(&app, admin.clone()).await;
    let tokens = two_factor_tokens(&app, &enrolled).await;
    assert_eq!(
        app.get_auth("/v1/admin/users", &tokens.access)
            .await
            .status(),
        StatusCode::OK
    );
    // A plain user is not concerned.
    let user = app.new_user().await;
    assert_eq!(
        app.get_auth("/v1/sessions", &user.access).await.status(),
        StatusCode::OK
    );
}

/// The `roles` claim of a JWT, read as a downstream service would.
fn roles_in(jwt: &str) -> Vec<String> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let claims: warden_token::AccessClaims = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64url"),
    )
    .expect("access claims");
    claims.roles
}

/// What a service embedding warden-verify answers on a route requiring
/// `admin` (`VerifyLayer::require_any_role`), checking the JWT locally.
async fn admin_route_status(app: &TestApp, access: &str) -> StatusCode {
    use tower::ServiceExt as _;
    let verifier = warden_verify::Verifier::builder()
        .issuer(warden_testkit::ISSUER)
        .endpoint(app.url(""))
        .revocations(warden_verify::RevocationFeed::disabled())
        .clock(std::sync::Arc::new(app.clock.clone()))
        .build()
        .await
        .expect("verifier");
    let route = axum::Router::new()
        .route("/admin", axum::routing::get(|| async { "admin only" }))
        .layer(warden_verify::VerifyLayer::new(verifier).require_any_role(["admin"]));
    let request = axum::http::Request::get("/admin")
        .header("authorization", format!("Bearer {access}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let status = route.oneshot(request).await.unwrap().status();
    StatusCode::from_u16(status.as_u16()).unwrap()
}

fn has_role(roles: &Value, role: &str) -> bool {
    roles.as_array().unwrap().iter().any(|r| r == role)
}

/// Warden's own API still asks `admin`, signed in with one factor, to
/// enrol (it reads the account's roles); once they have, their tokens of a
/// sign-in with both factors.
async fn enrol_when_asked(app: &TestApp, admin: &Tokens) -> Tokens {
    assert_problem(
        app.get_auth("/v1/sessions", &admin.access).await,
        403,
        "mfa_enrollment_required",
    )
    .await;
    let enrolled = enrol(app, admin.clone()).await;
    two_factor_tokens(app, &enrolled).await
}

/// Downstream verifiers cannot know `[mfa] required_for_roles`, so a token
/// of a one-factor session leaves those roles out (and its refresh does
/// too): `/v1/validate`, gRPC `Validate` and warden-verify see a plain user.
/// Signed in with both factors, the same account's token carries them.
#[tokio::test]
async fn a_one_factor_token_leaves_out_the_roles_that_need_a_second_factor() {
    let app = spawn_app_with(|config| config.mfa.required_for_roles = vec!["admin".into()]).await;
    let admin = app.new_admin().await;
    assert_eq!(roles_in(&admin.access), ["user"]);
    let seen = validated(&app, &admin.access).await;
    assert_eq!(seen["acr"], "aal1");
    assert!(!has_role(&seen["roles"], "admin"), "{seen}");
    let mut grpc = app.auth_client().await;
    let principal = grpc
        .validate(warden_grpc::pb::ValidateRequest {
            token: admin.access.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(principal.roles, ["user"]);
    assert_eq!(
        admin_route_status(&app, &admin.access).await,
        StatusCode::FORBIDDEN
    );
    let refreshed = app.refresh(&admin.refresh).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = tokens_of(&admin.email, &refreshed.json().await.unwrap());
    assert_eq!(roles_in(&refreshed.access), ["user"]);
    // The account keeps the role.
    assert!(has_role(&me(&app, &admin).await["roles"], "admin"));

    let tokens = enrol_when_asked(&app, &admin).await;
    assert!(roles_in(&tokens.access).contains(&"admin".to_owned()));
    let seen = validated(&app, &tokens.access).await;
    assert_eq!(seen["acr"], "aal2");
    assert!(has_role(&seen["roles"], "admin"), "{seen}");
    assert_eq!(
        admin_route_status(&app, &tokens.access).await,
        StatusCode::OK
    );
    let refreshed = app.refresh(&tokens.refresh).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let refreshed = tokens_of(&admin.email, &refreshed.json().await.unwrap());
    assert!(roles_in(&refreshed.access).contains(&"admin".to_owned()));
}

/// The same rule for opaque `wst_` session tokens, whose roles
/// `/v1/validate` reads from the store.
#[tokio::test]
async fn a_one_factor_session_token_validates_without_the_gated_roles() {
    let app = spawn_app_with(|config| {
        config.mfa.required_for_roles = vec!["admin".into()];
        config.tokens.access = warden_core::AccessTokenKind::Session;
    })
    .await;
    let admin = app.new_admin().await;
    assert!(admin.access.starts_with("wst_"), "{}", admin.access);
    let seen = validated(&app, &admin.access).await;
    assert!(!has_role(&seen["roles"], "admin"), "{seen}");
    assert!(has_role(&seen["roles"], "user"), "{seen}");

    let tokens = enrol_when_asked(&app, &admin).await;
    let seen = validated(&app, &tokens.access).await;
    assert!(has_role(&seen["roles"], "admin"), "{seen}");
}

#[tokio::test]
async fn wrong_codes_while_managing_factors_count_toward_the_lockout_too() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    // Each attempt is counted before its code is checked (so a burst of
    // concurrent guesses cannot outrun the lockout): four wrong codes, and
    // the fifth attempt finds the account locked.
    for _ in 0..4 {
        assert_problem(
            call(
                &app,
                Method::POST,
                "/v1/mfa/recovery-codes",
                &enrolled.user,
                json!({"code": "000000"}),
            )
            .await,
            400,
            "invalid_mfa_code",
        )
        .await;
    }
    // Locked at the fifth attempt: even the right code waits, and so does
    // the password.
    let right = code(&enrolled.secret, step(&app));
    assert_problem(
        call(
            &app,
            Method::POST,
            "/v1/mfa/recovery-codes",
            &enrolled.user,
            json!({"code": right}),
        )
        .await,
        429,
        "too_many_attempts",
    )
    .await;
    assert_problem(
        app.signin(&enrolled.user.email, STRONG_PASSWORD).await,
        429,
        "too_many_attempts",
    )
    .await;
}

#[tokio::test]
async fn confirming_the_app_makes_the_session_two_factor_at_its_next_refresh() {
    let app = spawn_app().await;
    let enrolled = enrolled(&app).await;
    assert_eq!(validated(&app, &enrolled.user.access).await["acr"], "aal1");
    let response = app.refresh(&enrolled.user.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
    let refreshed = tokens_of(&enrolled.user.email, &response.json().await.unwrap());
    let claims = validated(&app, &refreshed.access).await;
    assert_eq!(claims["acr"], "aal2");
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
}
