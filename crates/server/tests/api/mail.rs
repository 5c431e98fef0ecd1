//! Mail through `warden serve`. With the zero-config `log` transport a
//! queued message is rendered, written to `<data_dir>/mail/*.eml` and
//! counted in the metrics. With `transport = "smtp"` a person's request
//! reaches a real SMTP server (aiosmtpd, warden-testkit's `smtp`, when
//! `WARDEN_TEST_PYTHON` is set) over STARTTLS, trusted through
//! `smtp_ca_file`; the test reads the message as a mail client would and
//! follows its link. The worker's failure modes (outages, refused
//! recipients, two instances) are tested in `crates/mail/tests/smtp.rs`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use warden::config::{Config, MailSection, Overrides};
use warden_core::mail::{MailKind, QueuedMail};
use warden_core::ports::prelude::*;
use warden_testkit::smtp::{Delivered, ServerOptions, SmtpServer, Tls};
use warden_testkit::{STRONG_PASSWORD, TestApp, assert_problem, spawn_app_with, unique_email};

#[tokio::test]
async fn queued_mail_lands_in_the_data_dir_as_an_eml_file_and_is_counted() {
    // The test apps only queue (they read mail from the queue); this one
    // delivers.
    let app = spawn_app_with(|config| config.mail.deliver = true).await;
    let link = "http://127.0.0.1/verify-email?token=wml_logtransport123";
    let mail = QueuedMail::new(MailKind::VerifyEmail, "alice@example.com", app.clock.now())
        .with("link", link);
    app.auth.store().enqueue_mail(&[mail]).await.unwrap();

    let dir = app.data_dir().join("mail");
    let deadline = Instant::now() + Duration::from_secs(15);
    let file = loop {
        let found = std::fs::read_dir(&dir)
            .ok()
            .and_then(|entries| entries.filter_map(Result::ok).map(|e| e.path()).next());
        if let Some(file) = found {
            break file;
        }
        assert!(Instant::now() < deadline, "no .eml in {}", dir.display());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let name = file.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(name.ends_with("-verify_email.eml"), "{name}");
    let text = std::fs::read_to_string(&file).unwrap();
    for needle in [
        "To: alice@example.com",
        "Subject: Confirm your e-mail address for Warden",
        "Content-Type: multipart/alternative",
        "wml_logtransport123",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("warden_mail_sent_total{kind=\"verify_email\",outcome=\"sent\"} 1")
            && metrics.contains("warden_mail_queue_depth 0")
        {
            assert!(
                metrics.contains(
                    "warden_mail_sent_total{kind=\"password_reset\",outcome=\"failed\"} 0"
                )
            );
            assert!(!metrics.contains("wml_"), "a link in the metrics");
            break;
        }
        assert!(Instant::now() < deadline, "{metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.auth.store().mail_queue_depth().await.unwrap(), 0);
}

const FROM: &str = "Warden Accounts <accounts@warden.test>";
const NEW_PASSWORD: &str = "a brand new passphrase of 2026!";
/// A worker polls every 500 ms; a message should be out well within this.
const PATIENCE: Duration = Duration::from_secs(20);

/// `[mail]` as an operator sets it for a relay with a private CA, read
/// the way `warden serve` reads it (here from `WARDEN_MAIL_*`).
fn smtp_section(server: &SmtpServer) -> MailSection {
    let url = format!("smtp://warden:relay-s3cret@localhost:{}", server.port());
    let ca_file = server.ca_file().to_str().unwrap().to_owned();
    let env: Vec<(String, String)> = [
        ("WARDEN_MAIL_TRANSPORT", "smtp"),
        ("WARDEN_MAIL_SMTP_URL", url.as_str()),
        ("WARDEN_MAIL_SMTP_CA_FILE", ca_file.as_str()),
        ("WARDEN_MAIL_FROM", FROM),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    Config::load(None, &env, &Overrides::default())
        .unwrap()
        .mail
}

/// A Warden that delivers to `server`, or `None` (skipped) when no SMTP
/// server can run here.
async fn smtp_app() -> Option<(SmtpServer, TestApp)> {
    let options = ServerOptions::new(Tls::StartTls).user("warden", "relay-s3cret");
    let server = SmtpServer::start(&options)?;
    let mail = smtp_section(&server);
    // The loaded section delivers (`deliver = true`, the default), which
    // test apps otherwise turn off to read mail from the queue.
    let app = spawn_app_with(|c| c.mail = mail).await;
    Some((server, app))
}

/// The first message to `to` with `subject`, as it arrived.
async fn mail_to(server: &SmtpServer, to: &str, subject: &str) -> Delivered {
    server
        .wait_for_message(PATIENCE, |m| m.envelope_to == to && m.subject == subject)
        .await
}

/// Checks what any client shows of a message from Warden to `to`, and
/// returns the one link it carries (the same in its text and its HTML).
fn check_message(message: &Delivered, to: &str, link_prefix: &str) -> String {
    assert!(
        message.tls.starts_with("starttls TLSv1."),
        "{}",
        message.tls
    );
    assert_eq!(message.envelope_from, "accounts@warden.test");
    assert_eq!(message.envelope_to, to);
    assert_eq!(message.from, FROM);
    assert_eq!(message.to, to);
    assert!(message.message_id.ends_with("@warden.test>"), "{message:?}");
    assert!(!message.date.is_empty());
    assert_eq!(message.content_type, "multipart/alternative");
    assert_eq!(message.part_types(), ["text/plain", "text/html"]);
    let text = message.body("text/plain").unwrap();
    let html = message.body("text/html").unwrap();
    let start = text
        .find(link_prefix)
        .unwrap_or_else(|| panic!("no {link_prefix} link in:\n{text}"));
    let link = text[start..].split_whitespace().next().unwrap().to_owned();
    assert!(
        html.contains(&format!("href=\"{link}\"")),
        "{link} in:\n{html}"
    );
    assert!(!html.contains("{{"), "an unrendered template: {html}");
    link
}

fn token_of(link: &str) -> &str {
    let (_, token) = link.split_once("?token=").expect("a token in the link");
    assert!(token.starts_with("wml_"), "{link}");
    token
}

async fn me(app: &TestApp, access: &str) -> Value {
    let response = app.get_auth("/v1/me", access).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn reset(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post(
        "/v1/password/reset",
        json!({"token": token, "new_password": password}),
    )
    .await
}

#[tokio::test]
async fn a_password_reset_arrives_over_starttls_and_its_link_sets_the_new_password() {
    let Some((server, app)) = smtp_app().await else {
        return;
    };
    let user = app.new_user().await;
    let asked = Instant::now();
    let forgot = app
        .post("/v1/password/forgot", json!({"email": user.email}))
        .await;
    assert_eq!(forgot.status(), StatusCode::ACCEPTED);

    let message = mail_to(&server, &user.email, "Reset your Warden password").await;
    let took = asked.elapsed();
    let link = check_message(
        &message,
        &user.email,
        "https://warden.test/reset-password?token=",
    );
    let text = message.body("text/plain").unwrap();
    assert!(text.contains("only once"), "{text}");
    eprintln!("password reset: asked to delivered in {took:?}");

    let token = token_of(&link);
    let response = reset(&app, token, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.sign_in_ok(&user.email, NEW_PASSWORD).await;
    assert_problem(
        app.signin(&user.email, STRONG_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    // The same link, followed again, is spent.
    assert_problem(
        reset(&app, token, "yet another passphrase 3000").await,
        400,
        "invalid_link",
    )
    .await;
    // The change is announced to the address, over the same relay.
    mail_to(&server, &user.email, "Your Warden password was changed").await;
}

#[tokio::test]
async fn the_sign_up_verification_mail_arrives_over_starttls_and_its_link_verifies_the_address() {
    let Some((server, app)) = smtp_app().await else {
        return;
    };
    let email = unique_email();
    let signup = app.signup(&email, STRONG_PASSWORD).await;
    assert_eq!(signup.status(), StatusCode::CREATED);
    let body: Value = signup.json().await.unwrap();
    let access = body["tokens"]["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&app, &access).await["email_verified"], false);

    let message = mail_to(&server, &email, "Confirm your e-mail address for Warden").await;
    let link = check_message(&message, &email, "https://warden.test/verify-email?token=");
    let verify = app
        .post("/v1/email/verify", json!({"token": token_of(&link)}))
        .await;
    assert_eq!(verify.status(), StatusCode::OK);
    assert_eq!(me(&app, &access).await["email_verified"], true);
}
