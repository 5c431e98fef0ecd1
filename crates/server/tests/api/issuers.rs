//! Instances that share a database must agree on who they are: `issuer` is
//! required there, and a token refused for its `iss` says which issuer made
//! it and which one this instance expects, rather than "forged".

use std::process::Stdio;
use std::time::Duration;

use reqwest::Client;
use serde_json::{Value, json};
use warden_testkit::{STRONG_PASSWORD, ServerKind, TestDatabase, unique_email};
use warden_verify::Verifier;

use warden_testkit::process::{command, is_backend_pass, random_kek, ready};

#[tokio::test]
async fn with_a_shared_database_warden_refuses_to_start_without_an_issuer() {
    if is_backend_pass() {
        return;
    }
    let Some(database) = TestDatabase::create(ServerKind::Postgres).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut serve = command(&database.url, &random_kek(), dir.path(), &[]);
    serve.env_remove("WARDEN_ISSUER");
    let mut child = serve
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warden runs");
    let waited = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if waited.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("warden started on a shared database without an issuer");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success());
    assert!(
        stderr.contains("issuer") && stderr.contains("WARDEN_ISSUER"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_another_issuer_is_refused_naming_both_issuers() {
    if is_backend_pass() {
        return;
    }
    let Some(database) = TestDatabase::create(ServerKind::Postgres).await else {
        return;
    };
    // One database, one key-encryption key, two issuers: the mistake of
    // issue 21, made explicitly.
    let kek = random_kek();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = ready(
        command(
            &database.url,
            &kek,
            dir_a.path(),
            &[("WARDEN_ISSUER", "https://a.warden.test")],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let b = ready(
        command(
            &database.url,
            &kek,
            dir_b.path(),
            &[("WARDEN_ISSUER", "https://b.warden.test")],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let client = Client::builder().no_proxy().build().unwrap();
    let signup: Value = client
        .post(format!("{}/v1/signup", a.base))
        .json(&json!({"email": unique_email(), "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = signup["tokens"]["access_token"].as_str().unwrap();

    let refused = client
        .post(format!("{}/v1/validate", b.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let problem: Value = refused.json().await.unwrap();
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("issued by https://a.warden.test")
            && detail.contains("this instance expects https://b.warden.test"),
        "{problem}"
    );
    assert!(!detail.contains("forged"), "{problem}");

    // warden-verify, trusting B, says the same.
    let verifier = Verifier::builder()
        .issuer("https://b.warden.test")
        .endpoint(&b.base)
        .build()
        .await
        .expect("verifier");
    let error = verifier.verify(token).await.expect_err("wrong issuer");
    let message = error.to_string();
    assert!(
        message.contains("issued by https://a.warden.test")
            && message.contains("expects https://b.warden.test"),
        "{message}"
    );
}
