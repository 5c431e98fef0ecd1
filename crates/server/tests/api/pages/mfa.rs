//! Two-step verification on the pages: turning an authenticator app on
//! from the account page (QR code, first code, recovery codes shown once),
//! the sign-in's second step at `/signin/mfa` with the app or a recovery
//! code, and turning it off.

use chrono::Duration;
use warden_core::mfa::{TotpSecret, totp_code_at};
use warden_core::ports::Clock as _;
use warden_testkit::{STRONG_PASSWORD, TestApp, spawn_app};

use super::{Jar, get, location, post_form, signed_in};

fn step(app: &TestApp) -> i64 {
    app.clock.now().timestamp() / 30
}

/// The key the enrolment page shows, in its groups of four.
fn shown_key(page: &str) -> TotpSecret {
    let start = page.find("<code class=\"secret\">").expect("the key") + 21;
    let end = start + page[start..].find("</code>").unwrap();
    TotpSecret::from_base32(&page[start..end]).expect("a base32 key")
}

/// The recovery codes the page shows once.
fn shown_codes(page: &str) -> Vec<String> {
    page.split("<li><code>")
        .skip(1)
        .map(|rest| rest[..rest.find("</code>").unwrap()].to_owned())
        .collect()
}

/// Signs up, signs in through the page and turns the app on there.
async fn with_app_on(app: &TestApp) -> (String, Jar, TotpSecret, Vec<String>) {
    let (email, mut jar) = signed_in(app).await;
    let account = get(app, "/account", &mut jar).await.text().await.unwrap();
    assert!(account.contains("Set up an authenticator app"), "{account}");
    let page = post_form(app, "/account/mfa/totp", &mut jar, &[]).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("<svg") && page.contains("role=\"img\""),
        "QR code"
    );
    let secret = shown_key(&page);

    // A wrong code keeps the QR code on screen with the error.
    let wrong = post_form(
        app,
        "/account/mfa/totp/confirm",
        &mut jar,
        &[("totp_code", "000000")],
    )
    .await;
    assert_eq!(wrong.status(), 400);
    let wrong = wrong.text().await.unwrap();
    assert!(wrong.contains("That code is wrong"), "{wrong}");
    assert!(wrong.contains("<svg"), "still showing the QR code");

    let code = totp_code_at(&secret, step(app));
    let done = post_form(
        app,
        "/account/mfa/totp/confirm",
        &mut jar,
        &[("totp_code", &code)],
    )
    .await;
    assert_eq!(done.status(), 200);
    let done = done.text().await.unwrap();
    let codes = shown_codes(&done);
    assert_eq!(codes.len(), 10, "{done}");
    assert!(done.contains("Recovery codes left: 10"), "{done}");
    // Shown once: the next visit lists none.
    let again = get(app, "/account", &mut jar).await.text().await.unwrap();
    assert!(shown_codes(&again).is_empty());
    app.clock.advance(Duration::seconds(30));
    (email, jar, secret, codes)
}

/// The first step through the sign-in page: on to `/signin/mfa`.
async fn first_step(app: &TestApp, email: &str) -> Jar {
    let mut jar = Jar::default();
    get(app, "/signin", &mut jar).await;
    let response = post_form(
        app,
        "/signin",
        &mut jar,
        &[("email", email), ("password", STRONG_PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/signin/mfa");
    assert!(
        jar.get("__Host-warden_mfa")
            .is_some_and(|t| t.starts_with("wmf_"))
    );
    assert!(jar.get("__Host-warden_at").is_none(), "no session yet");
    jar
}

#[tokio::test]
async fn the_account_page_turns_on_an_app_and_sign_in_then_asks_for_its_code() {
    let app = spawn_app().await;
    let (email, _, secret, _) = with_app_on(&app).await;
    let mut jar = first_step(&app, &email).await;
    let page = get(&app, "/signin/mfa", &mut jar).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("autocomplete=\"one-time-code\""), "{page}");
    assert!(page.contains("inputmode=\"numeric\""), "{page}");
    assert!(page.contains("/signin/mfa?method=recovery"), "{page}");

    let wrong = post_form(&app, "/signin/mfa", &mut jar, &[("totp_code", "000000")]).await;
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("That code is wrong"));
    let empty = post_form(&app, "/signin/mfa", &mut jar, &[("totp_code", "")]).await;
    assert_eq!(empty.status(), 400);

    let code = totp_code_at(&secret, step(&app));
    let done = post_form(&app, "/signin/mfa", &mut jar, &[("totp_code", &code)]).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/account");
    assert!(jar.get("__Host-warden_mfa").is_none(), "spent, and cleared");
    let access = jar.get("__Host-warden_at").expect("signed in").to_owned();
    let claims: serde_json::Value = app.validate(&access).await.json().await.unwrap();
    assert_eq!(claims["acr"], "aal2");
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_and_the_step_without_a_token_starts_over() {
    let app = spawn_app().await;
    let (email, _, _, codes) = with_app_on(&app).await;
    let mut jar = first_step(&app, &email).await;
    let page = get(&app, "/signin/mfa?method=recovery", &mut jar).await;
    let page = page.text().await.unwrap();
    assert!(page.contains("name=\"recovery_code\""), "{page}");
    let done = post_form(
        &app,
        "/signin/mfa",
        &mut jar,
        &[("recovery_code", &codes[0])],
    )
    .await;
    assert_eq!(done.status(), 303);

    let mut jar = first_step(&app, &email).await;
    let reused = post_form(
        &app,
        "/signin/mfa",
        &mut jar,
        &[("recovery_code", &codes[0])],
    )
    .await;
    assert_eq!(reused.status(), 401);

    // No token (never signed in, or it expired): back to the sign-in page.
    let mut stranger = Jar::default();
    let page = get(&app, "/signin/mfa", &mut stranger).await;
    assert_eq!(page.status(), 303);
    assert_eq!(location(&page), "/signin?notice=mfa_expired");
}

#[tokio::test]
async fn the_account_page_turns_the_app_off_with_a_code() {
    let app = spawn_app().await;
    let (email, mut jar, secret, _) = with_app_on(&app).await;
    let wrong = post_form(
        &app,
        "/account/mfa/totp/remove",
        &mut jar,
        &[("remove_code", "000000")],
    )
    .await;
    assert_eq!(wrong.status(), 400);
    let code = totp_code_at(&secret, step(&app));
    let off = post_form(
        &app,
        "/account/mfa/totp/remove",
        &mut jar,
        &[("remove_code", &code)],
    )
    .await;
    assert_eq!(off.status(), 303);
    assert_eq!(location(&off), "/account?notice=totp_removed");
    // The password alone signs in again.
    let mut fresh = Jar::default();
    get(&app, "/signin", &mut fresh).await;
    let response = post_form(
        &app,
        "/signin",
        &mut fresh,
        &[("email", &email), ("password", STRONG_PASSWORD)],
    )
    .await;
    assert_eq!(location(&response), "/account");
}

#[tokio::test]
async fn the_passkey_forms_say_why_without_a_browser_answer_or_a_passkey() {
    let app = spawn_app().await;
    let (_, mut jar) = signed_in(&app).await;
    let account = get(&app, "/account", &mut jar).await.text().await.unwrap();
    assert!(
        account.contains("data-passkey-register"),
        "the add form is on the page"
    );
    // Posted without the script's answer (no JavaScript): the page says so.
    let added = post_form(
        &app,
        "/account/passkeys",
        &mut jar,
        &[("passkey_name", "Laptop")],
    )
    .await;
    assert_eq!(added.status(), 400);
    let html = added.text().await.unwrap();
    assert!(
        html.contains("create a passkey. Please try again"),
        "{html}"
    );
    assert!(html.contains(r#"id="passkey_name-error""#));
    // Removing one that is not there, or not an id at all.
    for id in ["0190c0de-0000-7000-8000-000000000001", "not-an-id"] {
        let path = format!("/account/passkeys/{id}/remove");
        let gone = post_form(&app, &path, &mut jar, &[]).await;
        assert_eq!(gone.status(), 404);
        assert!(gone.text().await.unwrap().contains("already been removed"));
    }
}
