//! Mail through `warden serve` with the zero-config `log` transport: a
//! queued message is rendered, written to `<data_dir>/mail/*.eml` and
//! counted in the metrics. Delivery over SMTP is tested in
//! `crates/mail/tests/smtp.rs` against a real server.

use std::time::{Duration, Instant};

use warden_core::mail::{MailKind, QueuedMail};
use warden_core::ports::prelude::*;
use warden_testkit::spawn_app_with;

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
