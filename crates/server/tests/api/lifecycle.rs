//! The account over e-mail (front-door contract, section 3): verification,
//! forgotten passwords, e-mail change, deleting one's account, and the
//! `[signup]` switches. Mail is read from the queue, as the mail worker
//! would, and its links followed.

use std::sync::Arc;

use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use warden_core::links::{
    LINK_VALUE, LinkLifetimes, LinkMailer, LinkPurpose, SendLimit, SendThrottle,
};
use warden_core::ports::prelude::*;
use warden_core::{Email, UserId};
use warden_testkit::{
    MailKind, STRONG_PASSWORD, TestApp, Tokens, assert_problem, spawn_app, spawn_app_with,
    unique_email,
};

const NEW_PASSWORD: &str = "a brand new passphrase of 2026!";

async fn me(app: &TestApp, access: &str) -> Value {
    let response = app.get_auth("/v1/me", access).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn verify(app: &TestApp, token: &str) -> reqwest::Response {
    app.post("/v1/email/verify", json!({"token": token})).await
}

async fn forgot(app: &TestApp, email: &str) -> reqwest::Response {
    app.post("/v1/password/forgot", json!({"email": email}))
        .await
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post(
        "/v1/password/reset",
        json!({"token": token, "new_password": password}),
    )
    .await
}

async fn change_email(
    app: &TestApp,
    who: &Tokens,
    new_email: &str,
    password: &str,
) -> reqwest::Response {
    app.call(
        Method::POST,
        "/v1/email/change",
        Some(&who.access),
        Some(json!({"new_email": new_email, "current_password": password})),
    )
    .await
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After")
}

/// A reset link for `email`, asked for and read from the queue.
async fn reset_token(app: &TestApp, email: &str) -> String {
    assert_eq!(forgot(app, email).await.status(), StatusCode::ACCEPTED);
    app.mailed_token(MailKind::PasswordReset, email).await
}

#[tokio::test]
async fn signup_queues_a_verification_mail_whose_link_verifies_the_address() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let body = me(&app, &user.access).await;
    assert_eq!(body["email_verified"], false);
    assert_eq!(body["has_password"], true);

    let mail = app.mail_to(MailKind::VerifyEmail, &user.email).await;
    assert_eq!(
        mail.len(),
        1,
        "one verification mail, queued with the account"
    );
    let link = &mail[0].values["link"];
    assert!(
        link.starts_with("https://warden.test/verify-email?token=wml_"),
        "{link}"
    );
    let token = app.mailed_token(MailKind::VerifyEmail, &user.email).await;
    let response = verify(&app, &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], user.user_id);
    assert_eq!(body["email_verified"], true);
    assert_eq!(me(&app, &user.access).await["email_verified"], true);

    assert_problem(verify(&app, &token).await, 400, "invalid_link").await;
}

#[tokio::test]
async fn links_point_at_the_configured_public_url() {
    let app = spawn_app_with(|c| c.public_url = Some("https://id.example.com".into())).await;
    let user = app.new_user().await;
    let mail = app.mail_to(MailKind::VerifyEmail, &user.email).await;
    assert!(mail[0].values["link"].starts_with("https://id.example.com/verify-email?token=wml_"));
}

#[tokio::test]
async fn a_new_verification_link_is_sent_at_most_once_a_minute_and_never_once_verified() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let send = || {
        app.call(
            Method::POST,
            "/v1/email/verify/send",
            Some(&user.access),
            None,
        )
    };

    let throttled = send().await;
    assert!((1..=60).contains(&retry_after(&throttled)));
    assert_problem(throttled, 429, "too_many_requests").await;
    assert_eq!(
        app.mail_to(MailKind::VerifyEmail, &user.email).await.len(),
        1
    );

    app.clock.advance(Duration::seconds(61));
    let response = send().await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(
        app.mail_to(MailKind::VerifyEmail, &user.email).await.len(),
        2
    );

    // Either link works: a re-sent mail does not break the first one.
    let first = app.mail_to(MailKind::VerifyEmail, &user.email).await[0].values["link"].clone();
    let (_, first) = first.split_once("?token=").unwrap();
    assert_eq!(verify(&app, first).await.status(), StatusCode::OK);

    app.clock.advance(Duration::seconds(61));
    assert_problem(send().await, 409, "already_verified").await;
    let anonymous = app
        .call(Method::POST, "/v1/email/verify/send", None, None)
        .await;
    assert_problem(anonymous, 401, "invalid_token").await;
}

#[tokio::test]
async fn expired_forged_truncated_reused_and_misdirected_link_tokens_are_invalid_links() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let token = app.mailed_token(MailKind::VerifyEmail, &user.email).await;
    let other = app.new_user().await;
    let reset_link = reset_token(&app, &user.email).await;

    let forged = format!("wml_{}", "A".repeat(43));
    for bad in [
        forged.as_str(),
        &token[..token.len() - 1],
        &token[4..],
        "wrt_x",
        "",
        &format!("{token}A"),
        reset_link.as_str(), // a reset link on the verification endpoint
    ] {
        assert_problem(verify(&app, bad).await, 400, "invalid_link").await;
    }
    // A verification link on the reset endpoint.
    assert_problem(reset(&app, &token, NEW_PASSWORD).await, 400, "invalid_link").await;
    // Another signed-in user presenting it.
    let misdirected = app
        .call(
            Method::POST,
            "/v1/email/verify",
            Some(&other.access),
            Some(json!({"token": token})),
        )
        .await;
    assert_problem(misdirected, 400, "invalid_link").await;
    // Expired: 24 h.
    app.clock
        .advance(Duration::hours(24) + Duration::seconds(1));
    assert_problem(verify(&app, &token).await, 400, "invalid_link").await;
    // Nothing changed.
    let fresh = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    assert_eq!(me(&app, &fresh.access).await["email_verified"], false);
}

#[tokio::test]
async fn twenty_concurrent_uses_of_one_link_succeed_exactly_once() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let token = app.mailed_token(MailKind::VerifyEmail, &user.email).await;
    let answers = futures_join(&app, &token).await;
    let ok = answers.iter().filter(|s| **s == 200).count();
    let invalid = answers.iter().filter(|s| **s == 400).count();
    assert_eq!((ok, invalid), (1, 19), "{answers:?}");
}

async fn futures_join(app: &TestApp, token: &str) -> Vec<u16> {
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = app.client.clone();
        let url = app.url("/v1/email/verify");
        let token = token.to_owned();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"token": token}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

#[tokio::test]
async fn forgot_password_answers_known_unknown_and_banned_addresses_alike_and_mails_only_the_first()
{
    let app = spawn_app().await;
    let known = app.new_user().await;
    let banned = app.new_user().await;
    let admin = app.new_admin().await;
    let ban = app
        .call(
            Method::POST,
            &format!("/v1/admin/users/{}/ban", banned.user_id),
            Some(&admin.access),
            Some(json!({"reason": "test"})),
        )
        .await;
    assert_eq!(ban.status(), StatusCode::OK);

    let mut bodies = Vec::new();
    for email in [known.email.clone(), unique_email(), banned.email.clone()] {
        let response = forgot(&app, &email).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED, "{email}");
        bodies.push(response.text().await.unwrap());
    }
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[0], bodies[2]);

    let resets: Vec<String> = app
        .queued_mail()
        .await
        .into_iter()
        .filter(|m| m.kind == MailKind::PasswordReset)
        .map(|m| m.to)
        .collect();
    assert_eq!(resets, std::slice::from_ref(&known.email));
    let link = &app.mail_to(MailKind::PasswordReset, &known.email).await[0].values["link"];
    assert!(
        link.starts_with("https://warden.test/reset-password?token=wml_"),
        "{link}"
    );

    assert_problem(forgot(&app, "not an address").await, 400, "invalid_request").await;
}

#[tokio::test]
async fn forgot_password_is_limited_per_address_whether_or_not_it_has_an_account() {
    let app = spawn_app().await;
    let known = app.new_user().await;
    let unknown = unique_email();
    for email in [&known.email, &unknown] {
        assert_eq!(forgot(&app, email).await.status(), StatusCode::ACCEPTED);
        let again = forgot(&app, email).await;
        assert_eq!(retry_after(&again), 60);
        assert_problem(again, 429, "too_many_requests").await;
    }
    // One a minute, five an hour.
    for _ in 0..4 {
        app.clock.advance(Duration::seconds(60));
        for email in [&known.email, &unknown] {
            assert_eq!(forgot(&app, email).await.status(), StatusCode::ACCEPTED);
        }
    }
    app.clock.advance(Duration::seconds(60));
    for email in [&known.email, &unknown] {
        let sixth = forgot(&app, email).await;
        assert_eq!(retry_after(&sixth), 55 * 60);
        assert_problem(sixth, 429, "too_many_requests").await;
    }
    assert_eq!(
        app.mail_to(MailKind::PasswordReset, &known.email)
            .await
            .len(),
        5
    );
    app.clock.advance(Duration::minutes(55));
    assert_eq!(
        forgot(&app, &known.email).await.status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn forgot_password_is_limited_per_client() {
    let app = spawn_app().await;
    for _ in 0..20 {
        assert_eq!(
            forgot(&app, &unique_email()).await.status(),
            StatusCode::ACCEPTED
        );
    }
    let throttled = forgot(&app, &unique_email()).await;
    assert!(retry_after(&throttled) >= 1);
    assert_problem(throttled, 429, "too_many_requests").await;
    app.clock.advance(Duration::seconds(61));
    assert_eq!(
        forgot(&app, &unique_email()).await.status(),
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn a_reset_sets_the_new_password_and_ends_every_session() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let second = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    let token = reset_token(&app, &user.email).await;

    // A weak password is refused and the link stays usable.
    assert_problem(reset(&app, &token, "password").await, 422, "weak_password").await;
    let response = reset(&app, &token, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    for old in [&user, &second] {
        assert_eq!(
            app.refresh(&old.refresh).await.status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            app.validate(&old.access).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_problem(
        app.signin(&user.email, STRONG_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let fresh = app.sign_in_ok(&user.email, NEW_PASSWORD).await;
    assert_eq!(me(&app, &fresh.access).await["email_verified"], true);
    assert_eq!(
        app.mail_to(MailKind::PasswordChanged, &user.email)
            .await
            .len(),
        1
    );
    assert!(
        app.outbox_names()
            .await
            .iter()
            .any(|n| n == "user.tokens_revoked")
    );
    assert_problem(
        reset(&app, &token, "another fine passphrase 77").await,
        400,
        "invalid_link",
    )
    .await;
}

#[tokio::test]
async fn a_reset_lifts_the_lockout() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for _ in 0..6 {
        app.signin(&user.email, "wrong password entirely").await;
    }
    assert_problem(
        app.signin(&user.email, STRONG_PASSWORD).await,
        429,
        "too_many_attempts",
    )
    .await;
    let token = reset_token(&app, &user.email).await;
    assert_eq!(
        reset(&app, &token, NEW_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    app.sign_in_ok(&user.email, NEW_PASSWORD).await;
}

#[tokio::test]
async fn a_new_reset_link_voids_the_older_one_and_a_password_change_voids_them_all() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let first = reset_token(&app, &user.email).await;
    app.clock.advance(Duration::seconds(61));
    let second = reset_token(&app, &user.email).await;
    assert_ne!(first, second);
    assert_problem(reset(&app, &first, NEW_PASSWORD).await, 400, "invalid_link").await;

    let change = app
        .call(
            Method::POST,
            "/v1/password",
            Some(&user.access),
            Some(json!({"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD})),
        )
        .await;
    assert_eq!(change.status(), StatusCode::NO_CONTENT);
    assert_problem(
        reset(&app, &second, "yet another passphrase 3000").await,
        400,
        "invalid_link",
    )
    .await;
    app.sign_in_ok(&user.email, NEW_PASSWORD).await;
}

async fn change_password(app: &TestApp, who: &Tokens, current: &str) -> reqwest::Response {
    app.call(
        Method::POST,
        "/v1/password",
        Some(&who.access),
        Some(json!({"current_password": current, "new_password": NEW_PASSWORD})),
    )
    .await
}

#[tokio::test]
async fn a_password_change_mails_one_notice_to_the_address_and_a_wrong_one_none() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let bystander = app.new_user().await;

    assert_problem(
        change_password(&app, &user, "not my password at all 5").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert!(
        app.mail_to(MailKind::PasswordChanged, &user.email)
            .await
            .is_empty(),
        "a refused change sends no notice"
    );

    let change = change_password(&app, &user, STRONG_PASSWORD).await;
    assert_eq!(change.status(), StatusCode::NO_CONTENT);
    let notices: Vec<_> = app
        .queued_mail()
        .await
        .into_iter()
        .filter(|mail| mail.kind == MailKind::PasswordChanged)
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].to, user.email);
    assert!(
        app.mail_to(MailKind::PasswordChanged, &bystander.email)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_placeholder_link_of_an_unknown_address_resets_nothing_even_once_the_address_signs_up() {
    let app = spawn_app().await;
    let stranger = unique_email();
    assert_eq!(forgot(&app, &stranger).await.status(), StatusCode::ACCEPTED);
    assert!(
        app.mail_to(MailKind::PasswordReset, &stranger)
            .await
            .is_empty()
    );

    // What forgot_password stores for an unknown address: a link naming a
    // fresh user id no account has, whose token is never mailed. Stored
    // here with its token kept, as if it had leaked, for an address that
    // has an account by now.
    let user = app.new_user().await;
    let store: Arc<dyn Store> = warden::app::open_store(&app.config)
        .await
        .expect("store opens")
        .into_store();
    let mailer = LinkMailer {
        public_url: "https://warden.test".into(),
        lifetimes: LinkLifetimes::default(),
    };
    let email = Email::parse(&user.email).unwrap();
    let now = app.clock.now();
    let (link, mail) = mailer.link(LinkPurpose::PasswordReset, UserId::new(), &email, now);
    let throttle = SendThrottle {
        key: "placeholder-test",
        limit: SendLimit::default(),
        now,
    };
    store
        .request_link(&throttle, Some(&link), std::slice::from_ref(&mail))
        .await
        .unwrap();
    let url = &mail.values[LINK_VALUE];
    let token = url.split("token=").nth(1).expect("token in the link");

    assert_problem(reset(&app, token, NEW_PASSWORD).await, 400, "invalid_link").await;
    assert!(
        app.mail_to(MailKind::PasswordChanged, &user.email)
            .await
            .is_empty()
    );
    app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
}

#[tokio::test]
async fn a_reset_link_expires_after_an_hour() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let token = reset_token(&app, &user.email).await;
    app.clock.advance(Duration::hours(1));
    assert_problem(reset(&app, &token, NEW_PASSWORD).await, 400, "invalid_link").await;
    app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
}

#[tokio::test]
async fn a_reset_for_a_banned_account_changes_nothing_and_sends_nothing() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let admin = app.new_admin().await;
    let token = reset_token(&app, &user.email).await;
    let ban_path = format!("/v1/admin/users/{}/ban", user.user_id);
    let unban_path = format!("/v1/admin/users/{}/unban", user.user_id);
    let ban = app
        .call(
            Method::POST,
            &ban_path,
            Some(&admin.access),
            Some(json!({})),
        )
        .await;
    assert_eq!(ban.status(), StatusCode::OK);
    assert_problem(reset(&app, &token, NEW_PASSWORD).await, 400, "invalid_link").await;
    assert!(
        app.mail_to(MailKind::PasswordChanged, &user.email)
            .await
            .is_empty()
    );
    let unban = app
        .call(Method::POST, &unban_path, Some(&admin.access), None)
        .await;
    assert_eq!(unban.status(), StatusCode::OK);
    app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    assert_problem(
        app.signin(&user.email, NEW_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
}

#[tokio::test]
async fn an_email_change_moves_the_account_once_the_new_address_follows_its_link() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let taken = app.new_user().await;
    let new_email = unique_email();

    assert_problem(
        change_email(&app, &user, &new_email, "not my password at all").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(
        change_email(&app, &user, &taken.email, STRONG_PASSWORD).await,
        409,
        "email_taken",
    )
    .await;
    // Cyrillic е for e: renders as the taken address.
    let look_alike = taken.email.replacen("user", "us\u{435}r", 1);
    assert_problem(
        change_email(&app, &user, &look_alike, STRONG_PASSWORD).await,
        409,
        "email_taken",
    )
    .await;
    assert_problem(
        change_email(&app, &user, "nope", STRONG_PASSWORD).await,
        400,
        "invalid_request",
    )
    .await;
    assert_problem(
        change_email(&app, &user, &user.email, STRONG_PASSWORD).await,
        400,
        "invalid_request",
    )
    .await;

    let response = change_email(&app, &user, &new_email, STRONG_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_problem(
        change_email(&app, &user, &unique_email(), STRONG_PASSWORD).await,
        429,
        "too_many_requests",
    )
    .await;
    // Nothing moves until the new address follows the link.
    assert_eq!(me(&app, &user.access).await["email"], user.email);
    assert!(
        app.mail_to(MailKind::EmailChanged, &user.email)
            .await
            .is_empty()
    );

    let token = app.mailed_token(MailKind::EmailChange, &new_email).await;
    let response = verify(&app, &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["email"], new_email);
    assert_eq!(body["email_verified"], true);

    let notice = app.mail_to(MailKind::EmailChanged, &user.email).await;
    assert_eq!(notice.len(), 1, "the old address is told");
    assert_eq!(notice[0].values["new_email"], new_email);
    assert!(
        app.outbox_names()
            .await
            .iter()
            .any(|n| n == "user.email_changed")
    );
    app.sign_in_ok(&new_email, STRONG_PASSWORD).await;
    assert_problem(
        app.signin(&user.email, STRONG_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(verify(&app, &token).await, 400, "invalid_link").await;
}

#[tokio::test]
async fn an_email_change_to_an_address_taken_meanwhile_is_a_conflict_that_changes_nothing() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let wanted = unique_email();
    assert_eq!(
        change_email(&app, &user, &wanted, STRONG_PASSWORD)
            .await
            .status(),
        StatusCode::ACCEPTED
    );
    let token = app.mailed_token(MailKind::EmailChange, &wanted).await;
    assert_eq!(
        app.signup(&wanted, STRONG_PASSWORD).await.status(),
        StatusCode::CREATED
    );
    assert_problem(verify(&app, &token).await, 409, "email_taken").await;
    assert_eq!(me(&app, &user.access).await["email"], user.email);
    assert!(
        app.mail_to(MailKind::EmailChanged, &user.email)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn deleting_ones_account_needs_the_password_and_ends_everything() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let delete = |password: &'static str| {
        app.call(
            Method::DELETE,
            "/v1/me",
            Some(&user.access),
            Some(json!({"current_password": password})),
        )
    };
    assert_problem(
        delete("not the password at all").await,
        401,
        "invalid_credentials",
    )
    .await;
    let anonymous = app
        .call(
            Method::DELETE,
            "/v1/me",
            None,
            Some(json!({"current_password": STRONG_PASSWORD})),
        )
        .await;
    assert_problem(anonymous, 401, "invalid_token").await;
    me(&app, &user.access).await;

    assert_eq!(
        delete(STRONG_PASSWORD).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get_auth("/v1/me", &user.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.validate(&user.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.refresh(&user.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_problem(
        app.signin(&user.email, STRONG_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert!(app.outbox_names().await.iter().any(|n| n == "user.deleted"));
    // The address is free again.
    assert_eq!(
        app.signup(&user.email, STRONG_PASSWORD).await.status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn with_require_verified_email_only_a_verified_address_signs_in() {
    let app = spawn_app_with(|c| c.signup.require_verified_email = true).await;
    let email = unique_email();
    let response = app.signup(&email, STRONG_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["tokens"].is_null(),
        "no session before verification: {body}"
    );
    assert_eq!(body["user"]["email_verified"], false);

    // A wrong password reveals nothing.
    assert_problem(
        app.signin(&email, "wrong password entirely").await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_problem(
        app.signin(&email, STRONG_PASSWORD).await,
        403,
        "email_not_verified",
    )
    .await;
    assert_eq!(
        app.mail_to(MailKind::VerifyEmail, &email).await.len(),
        1,
        "re-sent at most once a minute"
    );
    app.clock.advance(Duration::seconds(61));
    assert_problem(
        app.signin(&email, STRONG_PASSWORD).await,
        403,
        "email_not_verified",
    )
    .await;
    assert_eq!(app.mail_to(MailKind::VerifyEmail, &email).await.len(), 2);

    let token = app.mailed_token(MailKind::VerifyEmail, &email).await;
    assert_eq!(verify(&app, &token).await.status(), StatusCode::OK);
    app.sign_in_ok(&email, STRONG_PASSWORD).await;
}

#[tokio::test]
async fn without_require_verified_email_an_unverified_address_signs_in() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let tokens = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    assert_eq!(me(&app, &tokens.access).await["email_verified"], false);
}

#[tokio::test]
async fn with_signup_disabled_only_admins_and_the_cli_create_accounts() {
    let app = spawn_app_with(|c| c.signup.enabled = false).await;
    let email = unique_email();
    assert_problem(
        app.signup(&email, STRONG_PASSWORD).await,
        403,
        "signup_disabled",
    )
    .await;
    assert_problem(
        app.signin(&email, STRONG_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    // `warden user add` and the admin path still work.
    let admin = app.new_admin().await;
    me(&app, &admin.access).await;
}

#[tokio::test]
async fn an_account_with_a_password_gives_it_to_move_or_delete_even_just_after_signing_in() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let moved = app
        .call(
            Method::POST,
            "/v1/email/change",
            Some(&user.access),
            Some(json!({"new_email": unique_email()})),
        )
        .await;
    assert_problem(moved, 401, "reauthentication_required").await;
    let delete = |body: Value| app.call(Method::DELETE, "/v1/me", Some(&user.access), Some(body));
    assert_problem(delete(json!({})).await, 401, "reauthentication_required").await;
    assert_problem(
        delete(json!({"current_password": "not the password at all"})).await,
        401,
        "invalid_credentials",
    )
    .await;
    me(&app, &user.access).await;
    let deleted = delete(json!({"current_password": STRONG_PASSWORD})).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
}
