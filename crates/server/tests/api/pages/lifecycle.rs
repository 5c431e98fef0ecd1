//! The account over e-mail on the pages: forgotten passwords, reset and
//! verification links (opened, then confirmed), e-mail change, deletion,
//! and the sign-up settings. Links are read from the mail queue.

use warden_core::mail::MailKind;
use warden_testkit::{STRONG_PASSWORD, TestApp, spawn_app, spawn_app_with, unique_email};

use super::{Jar, assert_page_headers, get, location, post_form, signed_in, visitor};

async fn text(response: reqwest::Response) -> String {
    response.text().await.unwrap()
}

/// `/v1/me` with the page's access cookie.
async fn me(app: &TestApp, jar: &Jar) -> serde_json::Value {
    let response = app
        .client
        .get(app.url("/v1/me"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn forgot_password_answers_the_same_page_for_known_and_unknown_addresses() {
    let app = spawn_app().await;
    let known = unique_email();
    app.signup(&known, STRONG_PASSWORD).await;
    let unknown = unique_email();
    let mut jar = visitor(&app).await;
    let signin = text(get(&app, "/signin?rd=%2Fapp", &mut jar).await).await;
    assert!(
        signin.contains(r#"href="/forgot-password?rd=%2Fapp""#),
        "{signin}"
    );

    let page = get(&app, "/forgot-password", &mut jar).await;
    assert_eq!(page.status(), 200);
    assert_page_headers(page.headers());
    assert!(text(page).await.contains(r#"action="/forgot-password""#));

    let mut answers = Vec::new();
    for address in [&known, &unknown] {
        let response = post_form(&app, "/forgot-password", &mut jar, &[("email", address)]).await;
        assert_eq!(response.status(), 200);
        answers.push(text(response).await.replace(address.as_str(), "ADDRESS"));
    }
    assert_eq!(answers[0], answers[1], "the page tells nobody which exists");
    assert!(answers[0].contains("Check your inbox"), "{}", answers[0]);
    assert_eq!(app.mail_to(MailKind::PasswordReset, &known).await.len(), 1);
    assert!(
        app.mail_to(MailKind::PasswordReset, &unknown)
            .await
            .is_empty()
    );

    // The per-address limit shows next to the field; nothing more is sent.
    let again = post_form(&app, "/forgot-password", &mut jar, &[("email", &known)]).await;
    assert_eq!(again.status(), 429);
    let html = text(again).await;
    assert!(
        html.contains(r#"id="email-error""#) && html.contains("seconds"),
        "{html}"
    );
    assert_eq!(app.mail_to(MailKind::PasswordReset, &known).await.len(), 1);

    let bad = post_form(
        &app,
        "/forgot-password",
        &mut jar,
        &[("email", "not-an-address")],
    )
    .await;
    assert_eq!(bad.status(), 400);
    assert!(text(bad).await.contains(r#"id="email-error""#));
    let forged = post_form(
        &app,
        "/forgot-password",
        &mut jar,
        &[
            ("email", &unknown),
            ("csrf_token", "forged-token-forged-token"),
        ],
    )
    .await;
    assert_eq!(forged.status(), 403);
}

#[tokio::test]
async fn a_reset_link_opens_a_form_and_only_its_post_spends_it() {
    let app = spawn_app().await;
    let (email, mut old_browser) = signed_in(&app).await;
    let elsewhere = app.sign_in_ok(&email, STRONG_PASSWORD).await;
    app.post("/v1/password/forgot", serde_json::json!({ "email": email }))
        .await;
    let token = app.mailed_token(MailKind::PasswordReset, &email).await;
    let path = format!("/reset-password?token={token}");

    // A mail scanner's GETs spend nothing.
    let mut jar = Jar::default();
    for _ in 0..2 {
        let page = get(&app, &path, &mut jar).await;
        assert_eq!(page.status(), 200);
        assert_page_headers(page.headers());
        let html = text(page).await;
        assert!(html.contains(&format!(r#"name="token" value="{token}""#)));
        assert!(html.contains(&email), "the page names the account");
        assert!(html.contains(r#"autocomplete="new-password""#));
    }

    let weak = post_form(
        &app,
        "/reset-password",
        &mut jar,
        &[("token", &token), ("new_password", "short")],
    )
    .await;
    assert_eq!(weak.status(), 422);
    let html = text(weak).await;
    assert!(html.contains(r#"id="new_password-error""#), "{html}");
    assert!(
        html.contains(&format!(r#"value="{token}""#)),
        "the form keeps its link"
    );

    let new_password = "a brand new passphrase for resets 5";
    let done = post_form(
        &app,
        "/reset-password",
        &mut jar,
        &[("token", &token), ("new_password", new_password)],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/signin?notice=password_reset");
    let notice = text(get(&app, "/signin?notice=password_reset", &mut jar).await).await;
    assert!(
        notice.contains("Sign in with your new password"),
        "{notice}"
    );
    assert_eq!(app.signin(&email, new_password).await.status(), 200);
    assert_eq!(app.signin(&email, STRONG_PASSWORD).await.status(), 401);
    // Every session ended, the browser that was signed in too.
    assert_eq!(app.validate(&elsewhere.access).await.status(), 401);
    let account = get(&app, "/account", &mut old_browser).await;
    assert_eq!(account.status(), 303);

    // Spent: the page says so at once, and so does a replayed post.
    let spent = get(&app, &path, &mut jar).await;
    assert_eq!(spent.status(), 400);
    let html = text(spent).await;
    assert!(html.contains("no longer works") && html.contains(r#"href="/forgot-password""#));
    let replay = post_form(
        &app,
        "/reset-password",
        &mut jar,
        &[
            ("token", &token),
            ("new_password", "yet another passphrase 12"),
        ],
    )
    .await;
    assert_eq!(replay.status(), 400);
    assert_eq!(app.signin(&email, new_password).await.status(), 200);
}

#[tokio::test]
async fn forged_truncated_and_missing_reset_links_get_the_spent_link_page() {
    let app = spawn_app().await;
    let email = unique_email();
    app.signup(&email, STRONG_PASSWORD).await;
    app.post("/v1/password/forgot", serde_json::json!({ "email": email }))
        .await;
    let token = app.mailed_token(MailKind::PasswordReset, &email).await;
    let mut jar = Jar::default();
    for bad in [
        "/reset-password",
        "/reset-password?token=",
        "/reset-password?token=wml_forged",
        &format!("/reset-password?token={}", &token[..token.len() - 2]),
        "/reset-password?token=<script>",
    ] {
        let page = get(&app, bad, &mut jar).await;
        assert_eq!(page.status(), 400, "{bad}");
        let html = text(page).await;
        assert!(html.contains("no longer works"), "{bad}");
        assert!(!html.contains("<script>"), "{bad}");
    }
    // A verification link is not a reset link.
    let verify = app.mailed_token(MailKind::VerifyEmail, &email).await;
    let wrong_kind = get(&app, &format!("/reset-password?token={verify}"), &mut jar).await;
    assert_eq!(wrong_kind.status(), 400);
    // The form's CSRF token missing: refused, the link still works.
    let response = app
        .client
        .post(app.url("/reset-password"))
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("token", token.as_str()),
            ("new_password", "whatever passphrase 99"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(text(response).await.contains(r#"id="new_password-error""#));
    let still = get(&app, &format!("/reset-password?token={token}"), &mut jar).await;
    assert_eq!(still.status(), 200);
}

#[tokio::test]
async fn a_verification_link_asks_for_confirmation_and_then_verifies() {
    let app = spawn_app().await;
    let email = unique_email();
    app.signup(&email, STRONG_PASSWORD).await;
    let token = app.mailed_token(MailKind::VerifyEmail, &email).await;
    let path = format!("/verify-email?token={token}");
    let mut jar = Jar::default();
    for _ in 0..2 {
        let page = get(&app, &path, &mut jar).await;
        assert_eq!(page.status(), 200);
        let html = text(page).await;
        assert!(html.contains("Confirm your email address") && html.contains(&email));
    }
    let tokens = app.sign_in_ok(&email, STRONG_PASSWORD).await;
    let before: serde_json::Value = app
        .get_auth("/v1/me", &tokens.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(before["email_verified"], false, "opening spent nothing");

    let done = post_form(&app, "/verify-email", &mut jar, &[("token", &token)]).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/signin?notice=email_verified");
    let after: serde_json::Value = app
        .get_auth("/v1/me", &tokens.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after["email_verified"], true);

    let again = post_form(&app, "/verify-email", &mut jar, &[("token", &token)]).await;
    assert_eq!(again.status(), 400);
    assert!(text(again).await.contains("no longer works"));
    assert_eq!(get(&app, &path, &mut jar).await.status(), 400);
}

#[tokio::test]
async fn a_signed_in_visitor_verifies_only_their_own_address() {
    let app = spawn_app().await;
    let (email, mut jar) = signed_in(&app).await;
    let other = unique_email();
    app.signup(&other, STRONG_PASSWORD).await;
    let others_link = app.mailed_token(MailKind::VerifyEmail, &other).await;
    let refused = post_form(&app, "/verify-email", &mut jar, &[("token", &others_link)]).await;
    assert_eq!(refused.status(), 400);
    assert!(text(refused).await.contains("sign out first"));

    // A fresh link from the account page, then followed here.
    let page = text(get(&app, "/account", &mut jar).await).await;
    assert!(page.contains("Not verified") && page.contains(r#"action="/account/email/verify""#));
    app.clock.advance(chrono::Duration::seconds(61));
    let sent = post_form(&app, "/account/email/verify", &mut jar, &[]).await;
    assert_eq!(location(&sent), "/account?notice=verification_sent");
    let throttled = post_form(&app, "/account/email/verify", &mut jar, &[]).await;
    assert_eq!(throttled.status(), 429);
    assert!(text(throttled).await.contains(r##"href="#verify_send""##));
    let own = app.mailed_token(MailKind::VerifyEmail, &email).await;
    let done = post_form(&app, "/verify-email", &mut jar, &[("token", &own)]).await;
    assert_eq!(location(&done), "/account?notice=email_verified");
    assert_eq!(me(&app, &jar).await["email_verified"], true);
    let page = text(get(&app, "/account?notice=email_verified", &mut jar).await).await;
    assert!(page.contains("Your email address is verified"));
    assert!(!page.contains(r#"action="/account/email/verify""#));
}

#[tokio::test]
async fn the_account_page_moves_the_account_to_a_new_address_by_its_link() {
    let app = spawn_app().await;
    let (email, mut jar) = signed_in(&app).await;
    let new_email = unique_email();

    let wrong = post_form(
        &app,
        "/account/email",
        &mut jar,
        &[
            ("new_email", &new_email),
            ("email_password", "not my password 1"),
        ],
    )
    .await;
    assert_eq!(wrong.status(), 401);
    let html = text(wrong).await;
    assert!(html.contains(r#"id="email_password-error""#), "{html}");
    assert!(
        html.contains(&format!(r#"value="{new_email}""#)),
        "the address is kept"
    );
    let missing = post_form(
        &app,
        "/account/email",
        &mut jar,
        &[("new_email", &new_email)],
    )
    .await;
    assert_eq!(missing.status(), 400);
    let taken = unique_email();
    app.signup(&taken, STRONG_PASSWORD).await;
    let response = post_form(
        &app,
        "/account/email",
        &mut jar,
        &[("new_email", &taken), ("email_password", STRONG_PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), 409);
    assert!(text(response).await.contains(r#"id="new_email-error""#));
    assert!(
        app.mail_to(MailKind::EmailChange, &new_email)
            .await
            .is_empty()
    );

    let sent = post_form(
        &app,
        "/account/email",
        &mut jar,
        &[
            ("new_email", &new_email),
            ("email_password", STRONG_PASSWORD),
        ],
    )
    .await;
    assert_eq!(location(&sent), "/account?notice=email_change_sent");
    assert_eq!(
        me(&app, &jar).await["email"],
        email.as_str(),
        "not yet moved"
    );
    let token = app.mailed_token(MailKind::EmailChange, &new_email).await;
    let page = text(get(&app, &format!("/verify-email?token={token}"), &mut jar).await).await;
    assert!(page.contains("Confirm your new email address") && page.contains(&new_email));
    let done = post_form(&app, "/verify-email", &mut jar, &[("token", &token)]).await;
    assert_eq!(location(&done), "/account?notice=email_changed");
    assert_eq!(me(&app, &jar).await["email"], new_email.as_str());
    assert_eq!(app.mail_to(MailKind::EmailChanged, &email).await.len(), 1);
}

#[tokio::test]
async fn deleting_the_account_from_the_page_needs_its_password_and_signs_out() {
    let app = spawn_app().await;
    let (email, mut jar) = signed_in(&app).await;
    let wrong = post_form(
        &app,
        "/account/delete",
        &mut jar,
        &[("delete_password", "not my password 2")],
    )
    .await;
    assert_eq!(wrong.status(), 401);
    assert!(text(wrong).await.contains(r#"id="delete_password-error""#));
    let empty = post_form(&app, "/account/delete", &mut jar, &[]).await;
    assert_eq!(empty.status(), 400);
    assert_eq!(app.signin(&email, STRONG_PASSWORD).await.status(), 200);

    let access = jar.get("__Host-warden_at").unwrap().to_owned();
    let done = post_form(
        &app,
        "/account/delete",
        &mut jar,
        &[("delete_password", STRONG_PASSWORD)],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/signin?notice=account_deleted");
    assert!(jar.get("__Host-warden_at").is_none());
    assert_eq!(app.validate(&access).await.status(), 401);
    assert_eq!(app.signin(&email, STRONG_PASSWORD).await.status(), 401);
    let page = text(get(&app, "/signin?notice=account_deleted", &mut jar).await).await;
    assert!(page.contains("Your account has been deleted"));
}

#[tokio::test]
async fn with_require_verified_email_sign_up_says_check_your_inbox() {
    let app = spawn_app_with(|c| c.signup.require_verified_email = true).await;
    let email = unique_email();
    let mut jar = visitor(&app).await;
    let response = post_form(
        &app,
        "/signup",
        &mut jar,
        &[("email", &email), ("password", STRONG_PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), 201);
    assert!(jar.get("__Host-warden_at").is_none(), "no session yet");
    let html = text(response).await;
    assert!(
        html.contains("Check your inbox") && html.contains(&email),
        "{html}"
    );

    let refused = post_form(
        &app,
        "/signin",
        &mut jar,
        &[("email", &email), ("password", STRONG_PASSWORD)],
    )
    .await;
    assert_eq!(refused.status(), 403);
    assert!(
        text(refused)
            .await
            .contains("Verify your email address first")
    );

    let token = app.mailed_token(MailKind::VerifyEmail, &email).await;
    post_form(&app, "/verify-email", &mut jar, &[("token", &token)]).await;
    let signed_in = post_form(
        &app,
        "/signin",
        &mut jar,
        &[("email", &email), ("password", STRONG_PASSWORD)],
    )
    .await;
    assert_eq!(location(&signed_in), "/account");
}

#[tokio::test]
async fn with_sign_up_closed_the_pages_say_so_and_create_nothing() {
    let app = spawn_app_with(|c| c.signup.enabled = false).await;
    let mut jar = visitor(&app).await;
    let signin = text(get(&app, "/signin", &mut jar).await).await;
    assert!(!signin.contains(r#"href="/signup""#), "{signin}");
    let page = get(&app, "/signup", &mut jar).await;
    assert_eq!(page.status(), 403);
    assert!(text(page).await.contains("Sign-up is closed"));
    let email = unique_email();
    let response = post_form(
        &app,
        "/signup",
        &mut jar,
        &[("email", &email), ("password", STRONG_PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), 403);
    assert_eq!(app.signin(&email, STRONG_PASSWORD).await.status(), 401);
}
