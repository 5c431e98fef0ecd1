//! The refresh grace window (issue 21 item 5, decision 0018) against the real
//! binary on PostgreSQL and MySQL: a refresh whose answer is lost (the fault
//! proxy forwards the request and drops the reply, as a server that dies
//! right after its commit looks to the client) can be retried once inside
//! `sessions.refresh_reuse_grace_secs`; with the default (0) the retry is
//! reuse and signs the person out, as before.

use std::process::Stdio;
use std::time::Duration;

use reqwest::Client;
use serde_json::{Value, json};
use warden_testkit::proxy::{Fault, FaultProxy};
use warden_testkit::{STRONG_PASSWORD, ServerKind, TestDatabase, unique_email};

use warden_testkit::process::{Instance, command, is_backend_pass, random_kek, ready};

fn client() -> Client {
    Client::builder().no_proxy().build().unwrap()
}

async fn refresh(base: &str, token: &str) -> reqwest::Response {
    client()
        .post(format!("{base}/v1/token/refresh"))
        .json(&json!({ "refresh_token": token }))
        .send()
        .await
        .unwrap()
}

async fn problem_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

fn start(database_url: &str, kek: &str, dir: &std::path::Path, grace: Option<&str>) -> Instance {
    let env: Vec<(&str, &str)> = grace
        .map(|secs| vec![("WARDEN_SESSIONS_REFRESH_REUSE_GRACE_SECS", secs)])
        .unwrap_or_default();
    ready(
        command(database_url, kek, dir, &env)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Signs up, then refreshes through a proxy that loses the answer. Returns
/// the refresh token the client still holds (already rotated on the server).
async fn refresh_with_a_lost_answer(instance: &Instance) -> String {
    let signup: Value = client()
        .post(format!("{}/v1/signup", instance.base))
        .json(&json!({"email": unique_email(), "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let held = signup["tokens"]["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let addr = instance
        .base
        .trim_start_matches("http://")
        .parse()
        .expect("socket address");
    let proxy = FaultProxy::start(addr).await;
    proxy.set(Fault::DropReplies);
    let lost = Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap()
        .post(format!("http://{}/v1/token/refresh", proxy.addr()))
        .json(&json!({ "refresh_token": held }))
        .send()
        .await;
    assert!(lost.is_err(), "the answer was meant to be lost: {lost:?}");
    held
}

async fn check_backend(kind: ServerKind) {
    let Some(database) = TestDatabase::create(kind).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let kek = random_kek();

    // The default: the retry is reuse, the session is gone.
    {
        let instance = start(&database.url, &kek, dir.path(), None);
        let held = refresh_with_a_lost_answer(&instance).await;
        assert_eq!(
            problem_code(refresh(&instance.base, &held).await).await,
            (401, "refresh_token_reused".to_owned()),
            "{kind:?}: without a grace window a retry is reuse"
        );
    }

    // A 10 s window: the retry gets a new pair, once.
    let instance = start(&database.url, &kek, dir.path(), Some("10"));
    let held = refresh_with_a_lost_answer(&instance).await;
    let retried = refresh(&instance.base, &held).await;
    assert_eq!(retried.status(), 200, "{kind:?}: the retry is served");
    let pair: Value = retried.json().await.unwrap();
    let access = pair["access_token"].as_str().unwrap();
    let next = pair["refresh_token"].as_str().unwrap().to_owned();
    let validated = client()
        .post(format!("{}/v1/validate", instance.base))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        validated.status(),
        200,
        "{kind:?}: the new access token works"
    );
    // The chain goes on from the retry's token.
    let rotated = refresh(&instance.base, &next).await;
    assert_eq!(
        rotated.status(),
        200,
        "{kind:?}: the new refresh token works"
    );
    let after: Value = rotated.json().await.unwrap();
    // A second retry of the held token is reuse and ends the session.
    assert_eq!(
        problem_code(refresh(&instance.base, &held).await).await,
        (401, "refresh_token_reused".to_owned()),
        "{kind:?}: only one retry per rotation"
    );
    assert_eq!(
        problem_code(refresh(&instance.base, after["refresh_token"].as_str().unwrap()).await)
            .await
            .0,
        401,
        "{kind:?}: reuse revoked the whole family"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_whose_answer_was_lost_can_be_retried_inside_the_grace_window_on_postgres() {
    if is_backend_pass() {
        return;
    }
    check_backend(ServerKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_whose_answer_was_lost_can_be_retried_inside_the_grace_window_on_mysql() {
    if is_backend_pass() {
        return;
    }
    check_backend(ServerKind::MySql).await;
}
