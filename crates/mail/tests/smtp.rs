//! Delivery to a real SMTP server: Python's aiosmtpd (warden-testkit's
//! `smtp`, run with `WARDEN_TEST_PYTHON`, a Python with `aiosmtpd==1.4.6`),
//! on port 0, with STARTTLS or implicit TLS under a certificate from a test
//! CA, and the real SQLite store (PostgreSQL too for the outage test, when
//! `WARDEN_TEST_POSTGRES_URL` is set). The worker is stepped by hand so
//! every assertion follows one known round.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use chrono::Utc;
use warden_core::mail::{MailKind, QueuedMail, RetryPolicy};
use warden_core::ports::{Store, SystemClock};
use warden_mail::{MailWorker, SmtpOptions, SmtpTransport, SmtpUrl, Templates, WorkerSettings};
use warden_store::testing::{ServerKind, TestDatabase};
use warden_store::{PgStore, SqliteStore, StoreOptions};
use warden_testkit::smtp::{Delivered, ServerOptions, SmtpServer, Tls};

async fn sqlite_store(dir: &Path) -> Arc<dyn Store> {
    let url = format!("sqlite://{}", dir.join("warden.db").display());
    let store = SqliteStore::connect(&url, [7; 32]).await.unwrap();
    store.migrate().await.unwrap();
    Arc::new(store)
}

/// Retries within a test's patience: 300 ms, doubling to 1 s.
fn fast_settings(holder: &str) -> WorkerSettings {
    let mut settings = WorkerSettings::new(holder);
    settings.poll_interval = Duration::from_millis(50);
    settings.lease_retry = Duration::from_millis(50);
    settings.retry = RetryPolicy {
        first: chrono::Duration::milliseconds(300),
        max: chrono::Duration::seconds(1),
        give_up_after: chrono::Duration::days(1),
    };
    settings
}

fn worker(store: &Arc<dyn Store>, url: &str, server: &SmtpServer, holder: &str) -> MailWorker {
    let transport = SmtpTransport::new(
        SmtpUrl::parse(url).unwrap(),
        &SmtpOptions {
            timeout: Duration::from_secs(5),
            ca_pem: Some(server.ca_pem().to_vec()),
        },
    )
    .unwrap();
    MailWorker::new(
        store.clone(),
        Arc::new(transport),
        Arc::new(Templates::built_in("Warden Test").unwrap()),
        "Warden Test <no-reply@warden.test>".parse().unwrap(),
        Arc::new(SystemClock),
        fast_settings(holder),
    )
}

fn reset_mail(to: &str) -> (QueuedMail, String) {
    let link = format!(
        "https://auth.example.com/reset-password?token=wml_{}",
        uuid::Uuid::new_v4().simple()
    );
    let mail = QueuedMail::new(MailKind::PasswordReset, to, Utc::now())
        .with("link", link.clone())
        .with("expires_in", "1 hour");
    (mail, link)
}

async fn step(worker: &MailWorker) -> warden_mail::StepReport {
    worker.step(&AtomicBool::new(false)).await.unwrap()
}

/// Steps until `done` says so, or fails after 20 s.
async fn step_until(
    worker: &MailWorker,
    done: impl FnMut(&warden_mail::StepReport) -> bool,
) -> warden_mail::StepReport {
    step_until_within(worker, Duration::from_secs(20), done).await
}

/// Steps until `done` says so (summing the reports), or fails after `patience`.
async fn step_until_within(
    worker: &MailWorker,
    patience: Duration,
    mut done: impl FnMut(&warden_mail::StepReport) -> bool,
) -> warden_mail::StepReport {
    let deadline = Instant::now() + patience;
    let mut total = warden_mail::StepReport::default();
    loop {
        let report = step(worker).await;
        total.sent += report.sent;
        total.retried += report.retried;
        total.failed += report.failed;
        if done(&total) {
            return total;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {total:?}");
        if !report.is_more_due {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn check_reset_message(message: &Delivered, to: &str, link: &str) {
    assert_eq!(message.envelope_to, to);
    assert_eq!(message.from, "Warden Test <no-reply@warden.test>");
    assert_eq!(message.to, to);
    assert_eq!(message.subject, "Reset your Warden Test password");
    assert!(message.message_id.ends_with("@warden.test>"));
    assert!(!message.date.is_empty());
    assert_eq!(message.content_type, "multipart/alternative");
    assert_eq!(message.part_types(), ["text/plain", "text/html"]);
    let text = &message.parts[0].body;
    let html = &message.parts[1].body;
    assert!(text.contains(link), "{text}");
    assert!(text.contains("works for 1 hour"), "{text}");
    assert!(html.contains(&format!("href=\"{link}\"")), "{html}");
    assert!(html.contains("Choose a new password"), "{html}");
}

#[tokio::test]
async fn starttls_with_credentials_delivers_a_multipart_message_with_the_link() {
    let options = ServerOptions::new(Tls::StartTls).user("mailer", "s3cret-pass");
    let Some(server) = SmtpServer::start(&options) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    let (mail, link) = reset_mail("alice@example.com");
    store.enqueue_mail(&[mail]).await.unwrap();

    // Wrong credentials: refused (535), kept and retried, not given up.
    let wrong = worker(
        &store,
        &format!("smtp://mailer:wrong-pass@localhost:{}", server.port()),
        &server,
        "wrong",
    );
    let report = step(&wrong).await;
    assert_eq!((report.sent, report.retried, report.failed), (0, 1, 0));
    assert!(server.delivered().is_empty());
    store.release_mail_lease("wrong").await.unwrap();

    let right = worker(
        &store,
        &format!("smtp://mailer:s3cret-pass@localhost:{}", server.port()),
        &server,
        "right",
    );
    step_until(&right, |r| r.sent == 1).await;
    let messages = server.delivered();
    assert_eq!(messages.len(), 1);
    check_reset_message(&messages[0], "alice@example.com", &link);
    assert_eq!(store.mail_queue_depth().await.unwrap(), 0);
    // Nothing is sent twice.
    assert_eq!(step(&right).await.sent, 0);
}

#[tokio::test]
async fn implicit_tls_delivers_too() {
    let options = ServerOptions::new(Tls::Implicit).user("mailer", "pw");
    let Some(server) = SmtpServer::start(&options) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    let (mail, link) = reset_mail("bob@example.com");
    store.enqueue_mail(&[mail]).await.unwrap();
    let worker = worker(
        &store,
        &format!("smtps://mailer:pw@localhost:{}", server.port()),
        &server,
        "w",
    );
    let report = step(&worker).await;
    assert_eq!((report.sent, report.retried, report.failed), (1, 0, 0));
    let messages = server.delivered();
    assert_eq!(messages.len(), 1);
    check_reset_message(&messages[0], "bob@example.com", &link);
}

#[tokio::test]
async fn a_server_without_starttls_gets_nothing_when_tls_is_required() {
    let Some(server) = SmtpServer::start(&ServerOptions::new(Tls::None)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    let (mail, _) = reset_mail("carol@example.com");
    store.enqueue_mail(&[mail]).await.unwrap();
    // smtp:// means STARTTLS required: no downgrade to plain text.
    let worker = worker(
        &store,
        &format!("smtp://mailer:pw@localhost:{}", server.port()),
        &server,
        "w",
    );
    let report = step(&worker).await;
    assert_eq!((report.sent, report.retried, report.failed), (0, 1, 0));
    assert!(server.delivered().is_empty());
    assert_eq!(store.mail_queue_depth().await.unwrap(), 1);
}

#[tokio::test]
async fn a_refused_recipient_is_given_up_and_the_others_go_out() {
    let options = ServerOptions::new(Tls::StartTls).refuse("nobody@example.com");
    let Some(server) = SmtpServer::start(&options) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    let (refused, _) = reset_mail("nobody@example.com");
    let (accepted, link) = reset_mail("dave@example.com");
    store.enqueue_mail(&[refused, accepted]).await.unwrap();
    let worker = worker(
        &store,
        &format!("smtp://localhost:{}", server.port()),
        &server,
        "w",
    );
    let report = step(&worker).await;
    assert_eq!((report.sent, report.retried, report.failed), (1, 0, 1));
    assert_eq!(store.mail_queue_depth().await.unwrap(), 0);
    // Past any retry time: nothing is tried again.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let report = step(&worker).await;
    assert_eq!((report.sent, report.retried, report.failed), (0, 0, 0));
    let messages = server.delivered();
    assert_eq!(messages.len(), 1);
    check_reset_message(&messages[0], "dave@example.com", &link);
}

/// Mail queued while the SMTP server is down waits; once it is back,
/// every message arrives exactly once.
async fn outage(store: Arc<dyn Store>) {
    let options = ServerOptions::new(Tls::StartTls).user("mailer", "pw");
    let Some(mut server) = SmtpServer::start(&options) else {
        return;
    };
    let url = format!("smtp://mailer:pw@localhost:{}", server.port());
    let worker = worker(&store, &url, &server, "w");
    server.stop();

    let mut links = BTreeSet::new();
    for i in 0..5 {
        let (mail, link) = reset_mail(&format!("user{i}@example.com"));
        store.enqueue_mail(&[mail]).await.unwrap();
        links.insert(link);
    }
    // Down: every message fails and is kept for later.
    let report = step(&worker).await;
    assert_eq!((report.sent, report.retried, report.failed), (0, 5, 0));
    assert_eq!(store.mail_queue_depth().await.unwrap(), 5);

    // Back, on the same port: all five arrive once the retries are due.
    server.restart();
    step_until(&worker, |r| r.sent == 5).await;
    assert_eq!(store.mail_queue_depth().await.unwrap(), 0);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(step(&worker).await.sent, 0);

    let messages = server.delivered();
    assert_eq!(messages.len(), 5, "each message exactly once");
    let arrived: BTreeSet<String> = messages
        .iter()
        .map(|m| {
            let text = &m.parts[0].body;
            links
                .iter()
                .find(|link| text.contains(link.as_str()))
                .cloned()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(arrived, links);
}

#[tokio::test]
async fn mail_queued_during_an_smtp_outage_arrives_exactly_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    outage(sqlite_store(dir.path()).await).await;
}

#[tokio::test]
async fn mail_queued_during_an_smtp_outage_arrives_exactly_once_on_postgres() {
    // Skips (or fails under WARDEN_TEST_REQUIRE_SERVICES=1) without
    // WARDEN_TEST_POSTGRES_URL.
    let Some(db) = TestDatabase::create(ServerKind::Postgres).await else {
        return;
    };
    let store = PgStore::connect(&db.url, [7; 32], &StoreOptions::default())
        .await
        .unwrap();
    store.migrate().await.unwrap();
    outage(Arc::new(store.clone())).await;
    store.close().await;
    db.drop_database().await;
}

/// Two instances' workers on one queue: each message goes out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_on_one_queue_send_each_message_once() {
    let Some(server) = SmtpServer::start(&ServerOptions::new(Tls::None)) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store = sqlite_store(dir.path()).await;
    let url = format!("smtp://127.0.0.1:{}?tls=none", server.port());
    let handles = [
        warden_mail::spawn(worker(&store, &url, &server, "a")),
        warden_mail::spawn(worker(&store, &url, &server, "b")),
    ];
    for i in 0..20 {
        let (mail, _) = reset_mail(&format!("u{i}@example.com"));
        store.enqueue_mail(&[mail]).await.unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.mail_queue_depth().await.unwrap() > 0 {
        assert!(Instant::now() < deadline, "not drained");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for handle in handles {
        handle.stop(Duration::from_secs(5)).await;
    }
    let messages = server.delivered();
    let recipients: BTreeSet<&str> = messages.iter().map(|m| m.to.as_str()).collect();
    assert_eq!(messages.len(), 20);
    assert_eq!(recipients.len(), 20);
}

/// `cargo test -p warden-mail --test smtp -- --ignored --nocapture
/// delivering_1000_messages`: messages per second to the local aiosmtpd
/// (docs/benchmarks.md).
#[tokio::test]
#[ignore = "benchmark"]
async fn delivering_1000_messages() {
    for (label, tls) in [("none", Tls::None), ("starttls", Tls::StartTls)] {
        let Some(server) = SmtpServer::start(&ServerOptions::new(tls)) else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let store = sqlite_store(dir.path()).await;
        let url = if tls == Tls::None {
            format!("smtp://127.0.0.1:{}?tls=none", server.port())
        } else {
            format!("smtp://localhost:{}", server.port())
        };
        let mails: Vec<QueuedMail> = (0..1000)
            .map(|i| reset_mail(&format!("u{i}@example.com")).0)
            .collect();
        for chunk in mails.chunks(100) {
            store.enqueue_mail(chunk).await.unwrap();
        }
        let worker = worker(&store, &url, &server, "bench");
        let started = Instant::now();
        step_until_within(&worker, Duration::from_secs(300), |r| r.sent == 1000).await;
        let elapsed = started.elapsed();
        assert_eq!(server.delivered().len(), 1000);
        println!(
            "tls={label}: 1000 messages in {:.2} s = {:.0} messages/s",
            elapsed.as_secs_f64(),
            1000.0 / elapsed.as_secs_f64()
        );
    }
}
