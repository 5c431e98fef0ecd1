//! `warden-verify` with opaque `wst_` session tokens, against a real
//! `warden serve` in session mode: it asks `POST /v1/validate` with its
//! service credential (header `X-Warden-Service-Token`, the token in the
//! body), caches answers briefly, and lets revocations override the cache.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Client;
use serde_json::{Value, json};
use warden_testkit::{ISSUER, STRONG_PASSWORD, unique_email};
use warden_verify::{
    Clock, Principal, RevocationFeed, SERVICE_TOKEN_HEADER, Verifier, VerifyErrorKind,
};

use warden_testkit::process::{Instance, random_kek, ready, spawn};

const SERVICE_TOKEN: &str = "verify-service-credential-0123";

/// A clock the test moves, so the cache's lifetime is crossed without sleeping.
#[derive(Clone)]
struct TestClock(Arc<Mutex<DateTime<Utc>>>);

impl TestClock {
    fn new() -> Self {
        Self(Arc::new(Mutex::new(Utc::now())))
    }

    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += chrono::Duration::from_std(by).unwrap();
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

struct Warden {
    instance: Instance,
    _dir: tempfile::TempDir,
}

fn start_warden() -> Warden {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("warden.db").display());
    let instance = ready(spawn(
        &url,
        &random_kek(),
        dir.path(),
        &[
            ("WARDEN_TOKENS_ACCESS", "session"),
            ("WARDEN_REVOCATIONS_TOKEN", SERVICE_TOKEN),
        ],
    ));
    Warden {
        instance,
        _dir: dir,
    }
}

/// Signs up; returns (wst_ access token, user id, session id).
async fn new_user(client: &Client, base: &str) -> (String, String, String) {
    let response = client
        .post(format!("{base}/v1/signup"))
        .json(&json!({"email": unique_email(), "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    let access = body["tokens"]["access_token"].as_str().unwrap().to_owned();
    assert!(access.starts_with("wst_"), "session mode: {access}");
    (
        access,
        body["user"]["id"].as_str().unwrap().to_owned(),
        body["tokens"]["session_id"].as_str().unwrap().to_owned(),
    )
}

/// A verifier reaching Warden at `endpoint`; `feed`: poll the revocation
/// feed (only when told to, through `sync_revocations`).
async fn verifier(
    endpoint: &str,
    credential: Option<&str>,
    feed: bool,
    clock: &TestClock,
) -> Verifier {
    let revocations = if feed {
        RevocationFeed::poll(Duration::from_secs(3600))
    } else {
        RevocationFeed::disabled()
    };
    Verifier::builder()
        .issuer(ISSUER)
        .endpoint(endpoint)
        .revocations(revocations.service_token(credential.unwrap_or_default()))
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .unwrap()
}

async fn sign_out(client: &Client, base: &str, access: &str) {
    let response = client
        .post(format!("{base}/v1/signout"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_tokens_are_answered_by_warden_and_sign_out_ends_them() {
    let warden = start_warden();
    let base = warden.instance.base.clone();
    let client = Client::builder().no_proxy().build().unwrap();
    let (access, user_id, session_id) = new_user(&client, &base).await;
    let clock = TestClock::new();
    let cached = verifier(&base, Some(SERVICE_TOKEN), false, &clock).await;
    let fed = verifier(&base, Some(SERVICE_TOKEN), true, &clock).await;

    for verifier in [&cached, &fed] {
        let principal: Principal = verifier.verify(&access).await.unwrap();
        assert_eq!(principal.user_id.to_string(), user_id);
        assert_eq!(principal.session_id.to_string(), session_id);
        assert_eq!(principal.roles, vec!["user".to_owned()]);
        assert!(principal.expires_at > principal.issued_at);
    }

    sign_out(&client, &base, &access).await;

    // The revocation reaches the fed verifier's deny-list: refused at once,
    // though its cached answer is still fresh.
    fed.sync_revocations().await.unwrap();
    let err = fed.verify(&access).await.unwrap_err();
    assert_eq!(err.kind(), VerifyErrorKind::Revoked);

    // The other hears nothing: its cached answer holds for the cache's
    // lifetime (at most 5 s), then Warden is asked again and refuses.
    cached.verify(&access).await.unwrap();
    clock.advance(warden_verify::MAX_SESSION_CACHE_TTL);
    let err = cached.verify(&access).await.unwrap_err();
    assert_eq!(err.kind(), VerifyErrorKind::Revoked, "{err}");
    assert!(err.is_client_error());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_forged_session_tokens_are_refused() {
    let warden = start_warden();
    let base = warden.instance.base.clone();
    let client = Client::builder().no_proxy().build().unwrap();
    let (access, ..) = new_user(&client, &base).await;
    let verifier = verifier(&base, Some(SERVICE_TOKEN), false, &TestClock::new()).await;
    let mut tampered = access.clone().into_bytes();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    for forged in [
        "wst_".to_owned(),
        format!("wst_{}", "A".repeat(43)),
        String::from_utf8(tampered).unwrap(),
        format!("{access}x"),
    ] {
        let err = verifier.verify(&forged).await.unwrap_err();
        assert_eq!(err.kind(), VerifyErrorKind::Invalid, "{forged}");
    }
    verifier.verify(&access).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_credential_session_tokens_are_refused_without_asking() {
    // Nothing listens on the endpoint: an attempt to ask would be
    // `Unavailable`, not this.
    let verifier = verifier("http://127.0.0.1:9", None, false, &TestClock::new()).await;
    let err = verifier
        .verify(&format!("wst_{}", "A".repeat(43)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), VerifyErrorKind::SessionTokenUnsupported);
    assert!(err.is_client_error());
    assert!(err.to_string().contains("service credential"), "{err}");

    let (status, body) = through_extractor(verifier, &format!("wst_{}", "A".repeat(43))).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warden_down_or_refusing_the_credential_is_a_503_not_a_401() {
    let warden = start_warden();
    let base = warden.instance.base.clone();
    let client = Client::builder().no_proxy().build().unwrap();
    let (access, ..) = new_user(&client, &base).await;

    // A wrong credential: Warden answers 403 and the verifier says so.
    let wrong = verifier(
        &base,
        Some("not-the-credential-000"),
        false,
        &TestClock::new(),
    )
    .await;
    let err = wrong.verify(&access).await.unwrap_err();
    assert_eq!(err.kind(), VerifyErrorKind::Unavailable);
    let (status, _) = through_extractor(wrong, &access).await;
    assert_eq!(status, 503);

    let verifier = verifier(&base, Some(SERVICE_TOKEN), false, &TestClock::new()).await;
    drop(warden);
    let err = verifier.verify(&access).await.unwrap_err();
    assert_eq!(err.kind(), VerifyErrorKind::Unavailable);
    assert!(!err.is_client_error());
    let (status, body) = through_extractor(verifier, &access).await;
    assert_eq!(status, 503);
    assert_eq!(body["code"], "warden_unavailable");
    assert!(
        !body.to_string().contains(&access),
        "no token in the answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_keeps_its_contract_and_checks_a_presented_credential() {
    let warden = start_warden();
    let base = warden.instance.base.clone();
    let client = Client::builder().no_proxy().build().unwrap();
    let (access, user_id, _) = new_user(&client, &base).await;
    let validate = |credential: Option<&str>, bearer: bool| {
        let mut request = client.post(format!("{base}/v1/validate"));
        if let Some(credential) = credential {
            request = request.header(SERVICE_TOKEN_HEADER, credential);
        }
        if bearer {
            request.bearer_auth(&access)
        } else {
            request.json(&json!({ "token": access }))
        }
    };
    for (credential, bearer) in [(None, true), (None, false), (Some(SERVICE_TOKEN), false)] {
        let response = validate(credential, bearer).send().await.unwrap();
        assert_eq!(response.status(), 200, "{credential:?} {bearer}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["sub"], user_id.as_str());
        assert_eq!(body["token_type"], "session_token");
    }
    for credential in ["wrong-credential-0000000", ""] {
        let response = validate(Some(credential), false).send().await.unwrap();
        assert_eq!(response.status(), 403, "{credential:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "forbidden");
        assert!(!body.to_string().contains(SERVICE_TOKEN));
    }
}

/// Answers a request bearing `token` through the `Principal` extractor.
async fn through_extractor(verifier: Verifier, token: &str) -> (u16, Value) {
    let app = axum::Router::new()
        .route(
            "/",
            axum::routing::get(|principal: Principal| async move { principal.user_id.to_string() }),
        )
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let response = Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{addr}/"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    server.abort();
    (status, body)
}
