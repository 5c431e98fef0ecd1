//! Scale-out: two `warden serve` processes on one PostgreSQL database,
//! started at the same moment on an empty schema.

use reqwest::Client;
use serde_json::{Value, json};
use warden_testkit::{STRONG_PASSWORD, ServerKind, TestDatabase, unique_email};

use warden_testkit::process::{random_kek, ready};

fn spawn(database_url: &str, kek: &str, data_dir: &std::path::Path) -> std::process::Child {
    // Long enough for the test to see the lock, whatever the machine's load.
    warden_testkit::process::spawn(
        database_url,
        kek,
        data_dir,
        &[("WARDEN_SIGNIN_LOCKOUT_BASE_SECS", "60")],
    )
}

async fn post(client: &Client, base: &str, path: &str, body: Value) -> reqwest::Response {
    client
        .post(format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .expect("request")
}

async fn validate(client: &Client, base: &str, token: &str) -> u16 {
    client
        .post(format!("{base}/v1/validate"))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
        .status()
        .as_u16()
}

async fn code_of(response: reqwest::Response) -> String {
    let body: Value = response.json().await.expect("problem body");
    body["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_users_sessions_keys_and_lockouts() {
    let Some(database) = TestDatabase::create(ServerKind::Postgres).await else {
        return;
    };
    let kek = random_kek();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());

    // Both start at once against the empty database: one migrates, the
    // other waits; both come up.
    let (a, b) = (
        spawn(&database.url, &kek, dir_a.path()),
        spawn(&database.url, &kek, dir_b.path()),
    );
    let (a, b) = tokio::task::spawn_blocking(move || (ready(a), ready(b)))
        .await
        .unwrap();
    let client = Client::builder().no_proxy().build().unwrap();
    for instance in [&a, &b] {
        let ready = client
            .get(format!("{}/readyz", instance.base))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
    }

    // Sign up on A; the token validates on B (shared signing keys).
    let email = unique_email();
    let signup = post(
        &client,
        &a.base,
        "/v1/signup",
        json!({"email": email, "password": STRONG_PASSWORD}),
    )
    .await;
    assert_eq!(signup.status(), 201);
    let body: Value = signup.json().await.unwrap();
    let tokens = &body["tokens"];
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(validate(&client, &b.base, access).await, 200);
    // And the other way round.
    let on_b: Value = post(
        &client,
        &b.base,
        "/v1/signin",
        json!({"email": email, "password": STRONG_PASSWORD}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        validate(&client, &a.base, on_b["access_token"].as_str().unwrap()).await,
        200
    );

    // Refresh on B what A issued; the old refresh token is then spent on A too.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let refreshed = post(
        &client,
        &b.base,
        "/v1/token/refresh",
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_eq!(
        validate(
            &client,
            &a.base,
            refreshed["access_token"].as_str().unwrap()
        )
        .await,
        200
    );
    let replay = post(
        &client,
        &a.base,
        "/v1/token/refresh",
        json!({"refresh_token": refresh}),
    )
    .await;
    assert_eq!(replay.status(), 401);
    assert_eq!(code_of(replay).await, "refresh_token_reused");

    // Failed sign-ins count across both instances: five wrong passwords,
    // alternating, lock the account on both.
    let victim = unique_email();
    let created = post(
        &client,
        &b.base,
        "/v1/signup",
        json!({"email": victim, "password": STRONG_PASSWORD}),
    )
    .await;
    assert_eq!(created.status(), 201);
    for attempt in 0..5 {
        let base = if attempt % 2 == 0 { &a.base } else { &b.base };
        let wrong = post(
            &client,
            base,
            "/v1/signin",
            json!({"email": victim, "password": "wrong password wrong 1"}),
        )
        .await;
        assert_eq!(wrong.status(), 401, "attempt {attempt}");
    }
    for base in [&a.base, &b.base] {
        let locked = post(
            &client,
            base,
            "/v1/signin",
            json!({"email": victim, "password": STRONG_PASSWORD}),
        )
        .await;
        assert_eq!(locked.status(), 429);
        assert_eq!(code_of(locked).await, "too_many_attempts");
    }

    drop((a, b));
    database.drop_database().await;
}

/// Eight instances' key managers load at once from an empty database of
/// `kind`; all must sign with the same key, which all of them publish.
async fn first_start_race(kind: ServerKind) {
    use std::collections::HashSet;
    use std::sync::Arc;
    use warden_core::keys::KeyManager;
    use warden_core::ports::SystemClock;
    use warden_store::{AnyStore, StoreOptions};
    use warden_token::{Algorithm, VerifierConfig};

    let Some(database) = TestDatabase::create(kind).await else {
        return;
    };
    let options = StoreOptions::default();
    let store = AnyStore::connect(&database.url, [7; 32], &options)
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let store = store.into_store();
    let loads = (0..8).map(|_| {
        let store = store.clone();
        tokio::spawn(async move {
            KeyManager::load(
                store,
                Arc::new(SystemClock),
                Algorithm::EdDSA,
                VerifierConfig {
                    issuer: "https://warden.test".into(),
                    audience: "warden".into(),
                    algorithms: vec![Algorithm::EdDSA],
                    leeway_secs: 30,
                },
                chrono::Duration::minutes(15),
                chrono::Duration::seconds(60),
            )
            .await
            .expect("keys load")
        })
    });
    let managers: Vec<KeyManager> = futures::future::join_all(loads)
        .await
        .into_iter()
        .map(|joined| joined.expect("task"))
        .collect();
    let signers: HashSet<String> = managers
        .iter()
        .map(|m| m.ring().signer.kid().to_owned())
        .collect();
    assert_eq!(signers.len(), 1, "{signers:?}");
    let signer = signers.into_iter().next().unwrap();
    for manager in &managers {
        assert!(manager.ring().jwks.keys.iter().any(|k| k.kid == signer));
    }
    database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_on_postgres_agree_on_one_signing_key() {
    first_start_race(ServerKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_on_mysql_agree_on_one_signing_key() {
    first_start_race(ServerKind::MySql).await;
}
