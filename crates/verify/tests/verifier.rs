//! warden-verify against a real HTTP issuer on loopback (an axum app that
//! serves discovery, a JWKS it can change, and a revocation feed, and
//! counts what it is asked), with a fake clock: key discovery and rotation,
//! the refetch limit, header-supplied keys, `kid` abuse, staleness, and the
//! deny-list fed by the feed.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use serde_json::{Value, json};
use warden_token::revocation::{Revocation, RevocationKind, RevocationPage};
use warden_token::{AccessClaims, Algorithm, Audience, Jwk, JwkSet, SigningKey};
use warden_verify::{
    BuildErrorKind, Clock, RevocationFeed, StalePolicy, Verifier, VerifyErrorKind,
};

#[derive(Clone)]
struct FakeClock(Arc<AtomicI64>);

impl FakeClock {
    fn new() -> Self {
        Self(Arc::new(AtomicI64::new(Utc::now().timestamp_millis())))
    }
    fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.0.load(Ordering::SeqCst)).unwrap()
    }
}

#[derive(Default)]
struct Issuer {
    base: Mutex<String>,
    advertised_issuer: Mutex<Option<String>>,
    keys: Mutex<Vec<Jwk>>,
    revocations: Mutex<Vec<Revocation>>,
    jwks_fetches: AtomicUsize,
    feed_polls: AtomicUsize,
    /// How many of the next feed polls answer 503.
    feed_failures: AtomicUsize,
    other_requests: AtomicUsize,
}

async fn discovery(State(issuer): State<Arc<Issuer>>) -> axum::Json<Value> {
    let base = issuer.base.lock().unwrap().clone();
    let advertised = issuer
        .advertised_issuer
        .lock()
        .unwrap()
        .clone()
        .unwrap_or_else(|| base.clone());
    axum::Json(json!({
        "issuer": advertised,
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "id_token_signing_alg_values_supported": ["EdDSA"],
    }))
}

async fn jwks(State(issuer): State<Arc<Issuer>>) -> axum::Json<JwkSet> {
    issuer.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    axum::Json(JwkSet {
        keys: issuer.keys.lock().unwrap().clone(),
    })
}

async fn feed(State(issuer): State<Arc<Issuer>>) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    issuer.feed_polls.fetch_add(1, Ordering::SeqCst);
    let failing = issuer
        .feed_failures
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        return axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let entries = issuer.revocations.lock().unwrap().clone();
    axum::Json(RevocationPage {
        cursor: entries.len().to_string(),
        entries,
        has_more: false,
    })
    .into_response()
}

async fn anything_else(State(issuer): State<Arc<Issuer>>) -> &'static str {
    issuer.other_requests.fetch_add(1, Ordering::SeqCst);
    "{}"
}

async fn start_issuer() -> Arc<Issuer> {
    let issuer = Arc::new(Issuer::default());
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/v1/revocations", get(feed))
        .fallback(anything_else)
        .with_state(issuer.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    *issuer.base.lock().unwrap() = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    issuer
}

/// An issuer that publishes one fresh EdDSA key, and a fake clock.
async fn issuer_with_key() -> (Arc<Issuer>, FakeClock, SigningKey) {
    let issuer = start_issuer().await;
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    issuer.keys.lock().unwrap().push(key.public_jwk());
    (issuer, FakeClock::new(), key)
}

/// Puts the session of `claims` on the issuer's feed until `until`.
fn revoke_session(issuer: &Issuer, claims: &AccessClaims, until: DateTime<Utc>) {
    issuer.revocations.lock().unwrap().push(Revocation {
        kind: RevocationKind::Session,
        id: claims.sid.parse().unwrap(),
        not_before: None,
        until,
    });
}

fn base(issuer: &Issuer) -> String {
    issuer.base.lock().unwrap().clone()
}

fn claims(issuer: &str, clock: &FakeClock) -> AccessClaims {
    let now = clock.now().timestamp();
    AccessClaims {
        iss: issuer.to_owned(),
        sub: uuid::Uuid::now_v7().to_string(),
        aud: Audience::One("warden".into()),
        exp: now + 900,
        iat: now,
        nbf: now,
        jti: uuid::Uuid::now_v7().to_string(),
        sid: uuid::Uuid::now_v7().to_string(),
        roles: vec!["user".into()],
        amr: vec!["pwd".into()],
        acr: "aal1".into(),
        auth_time: 0,
        client_id: None,
        scope: None,
    }
}

/// A compact JWS with any header, signed by an Ed25519 key.
fn forge(header: Value, claims: &AccessClaims, key: &ed25519_dalek::SigningKey) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!(
        "{}.{}",
        b64.encode(header.to_string()),
        b64.encode(serde_json::to_vec(claims).unwrap())
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64.encode(signature.to_bytes()))
}

fn dalek(key: &SigningKey) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_pkcs8_der(&key.to_pkcs8_der()).unwrap()
}

async fn verifier(issuer: &Issuer, clock: &FakeClock, feed: RevocationFeed) -> Verifier {
    Verifier::builder()
        .issuer(base(issuer))
        .audience("warden")
        .revocations(feed)
        .clock(Arc::new(clock.clone()))
        .min_refetch_interval(Duration::from_secs(10))
        .build()
        .await
        .expect("build")
}

#[tokio::test]
async fn keys_are_discovered_and_a_rotated_in_key_is_fetched_once() {
    let issuer = start_issuer().await;
    let clock = FakeClock::new();
    let k1 = SigningKey::generate(Algorithm::EdDSA).unwrap();
    issuer.keys.lock().unwrap().push(k1.public_jwk());
    let verifier = verifier(&issuer, &clock, RevocationFeed::disabled()).await;
    assert!(verifier.is_ready());
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 1);
    let t1 = k1.sign(&claims(&base(&issuer), &clock)).unwrap();
    verifier.verify(&t1).await.expect("K1 token");

    // K2 is published and signs: the first K2 token triggers one refetch.
    let k2 = SigningKey::generate(Algorithm::EdDSA).unwrap();
    issuer.keys.lock().unwrap().push(k2.public_jwk());
    clock.advance(Duration::from_secs(11));
    let t2 = k2.sign(&claims(&base(&issuer), &clock)).unwrap();
    verifier.verify(&t2).await.expect("K2 token after refetch");
    verifier.verify(&t2).await.expect("and again without one");
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 2);
    verifier.verify(&t1).await.expect("K1 still published");

    // K1 is removed from the JWKS: once the verifier has refetched, K1
    // tokens fail (checklist 30).
    issuer.keys.lock().unwrap().remove(0);
    clock.advance(Duration::from_secs(11));
    let k3 = SigningKey::generate(Algorithm::EdDSA).unwrap();
    issuer.keys.lock().unwrap().push(k3.public_jwk());
    let t3 = k3.sign(&claims(&base(&issuer), &clock)).unwrap();
    verifier.verify(&t3).await.expect("K3 token");
    let err = verifier.verify(&t1).await.unwrap_err();
    assert_eq!(err.kind(), VerifyErrorKind::Invalid);
    assert!(!verifier.key_ids().contains(&k1.kid().to_owned()));
}

#[tokio::test]
async fn forged_kids_cannot_make_the_verifier_hammer_the_issuer() {
    let (issuer, clock, _) = issuer_with_key().await;
    let verifier = verifier(&issuer, &clock, RevocationFeed::disabled()).await;
    let attacker = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let c = claims(&base(&issuer), &clock);
    clock.advance(Duration::from_secs(11));
    let started = std::time::Instant::now();
    for kid in [
        "../../dev/null".to_owned(),
        "' UNION SELECT '1".to_owned(),
        "|sleep 10".to_owned(),
        "x".repeat(2000),
    ]
    .into_iter()
    .chain((0..200).map(|i| format!("unknown-{i}")))
    {
        let token = forge(
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid}),
            &c,
            &attacker,
        );
        let err = verifier.verify(&token).await.unwrap_err();
        assert_eq!(err.kind(), VerifyErrorKind::Invalid);
    }
    assert!(started.elapsed() < Duration::from_secs(5), "no delay");
    // At most one refetch in the refetch interval, whatever was sent.
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 2);
    clock.advance(Duration::from_secs(11));
    let token = forge(
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": "again"}),
        &c,
        &attacker,
    );
    assert!(verifier.verify(&token).await.is_err());
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn header_supplied_keys_are_never_fetched_or_trusted() {
    let (issuer, clock, key) = issuer_with_key().await;
    let verifier = verifier(&issuer, &clock, RevocationFeed::disabled()).await;
    let attacker_key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let attacker = dalek(&attacker_key);
    let c = claims(&base(&issuer), &clock);
    let lure = format!("{}/attacker/jwks.json", base(&issuer));
    let headers = [
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": key.kid(), "jku": lure}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": key.kid(), "x5u": lure}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": attacker_key.kid(), "jwk": attacker_key.public_jwk()}),
        json!({"alg": "EdDSA", "typ": "at+jwt", "jku": lure}),
    ];
    for header in headers {
        let token = forge(header, &c, &attacker);
        let err = verifier.verify(&token).await.unwrap_err();
        assert_eq!(err.kind(), VerifyErrorKind::Invalid);
    }
    assert_eq!(
        issuer.other_requests.load(Ordering::SeqCst),
        0,
        "the lure was never fetched"
    );
}

#[tokio::test]
async fn a_kid_is_bound_to_its_algorithm_and_wrong_claims_fail() {
    let (issuer, clock, key) = issuer_with_key().await;
    let verifier = verifier(&issuer, &clock, RevocationFeed::disabled()).await;
    let c = claims(&base(&issuer), &clock);
    for alg in ["ES256", "RS256", "HS256", "none", "ES384"] {
        let token = forge(
            json!({"alg": alg, "typ": "at+jwt", "kid": key.kid()}),
            &c,
            &dalek(&key),
        );
        assert_eq!(
            verifier.verify(&token).await.unwrap_err().kind(),
            VerifyErrorKind::Invalid,
            "{alg}"
        );
    }
    let wrong_iss = AccessClaims {
        iss: "https://evil.example".into(),
        ..c.clone()
    };
    assert!(
        verifier
            .verify(&key.sign(&wrong_iss).unwrap())
            .await
            .is_err()
    );
    let wrong_aud = AccessClaims {
        aud: Audience::One("other".into()),
        ..c.clone()
    };
    assert!(
        verifier
            .verify(&key.sign(&wrong_aud).unwrap())
            .await
            .is_err()
    );
    let token = key.sign(&c).unwrap();
    clock.advance(Duration::from_secs(900 + 31));
    assert_eq!(
        verifier.verify(&token).await.unwrap_err().kind(),
        VerifyErrorKind::Expired
    );
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_refused() {
    let (issuer, clock, key) = issuer_with_key().await;
    *issuer.advertised_issuer.lock().unwrap() = Some("http://localhost:9500".into());
    let verifier = verifier(&issuer, &clock, RevocationFeed::disabled()).await;
    assert!(!verifier.is_ready());
    assert_eq!(issuer.jwks_fetches.load(Ordering::SeqCst), 0);
    let token = key.sign(&claims(&base(&issuer), &clock)).unwrap();
    assert_eq!(
        verifier.verify(&token).await.unwrap_err().kind(),
        VerifyErrorKind::KeysUnavailable
    );
}

#[tokio::test]
async fn the_feed_fills_the_deny_list_and_entries_expire() {
    let (issuer, clock, key) = issuer_with_key().await;
    let c = claims(&base(&issuer), &clock);
    let token = key.sign(&c).unwrap();
    revoke_session(&issuer, &c, clock.now() + chrono::Duration::seconds(60));
    let verifier = verifier(
        &issuer,
        &clock,
        RevocationFeed::poll(Duration::from_secs(3600)),
    )
    .await;
    assert_eq!(
        issuer.feed_polls.load(Ordering::SeqCst),
        1,
        "bootstrapped at build"
    );
    assert_eq!(
        verifier.verify(&token).await.unwrap_err().kind(),
        VerifyErrorKind::Revoked
    );

    // A user-wide entry matches tokens issued before not_before only.
    let user_token_claims = claims(&base(&issuer), &clock);
    let user: uuid::Uuid = user_token_claims.sub.parse().unwrap();
    let old = key.sign(&user_token_claims).unwrap();
    clock.advance(Duration::from_secs(2));
    issuer.revocations.lock().unwrap().push(Revocation {
        kind: RevocationKind::User,
        id: user,
        not_before: Some(clock.now()),
        until: clock.now() + chrono::Duration::seconds(60),
    });
    verifier.sync_revocations().await.unwrap();
    assert_eq!(
        verifier.verify(&old).await.unwrap_err().kind(),
        VerifyErrorKind::Revoked
    );
    let fresh = key
        .sign(&AccessClaims {
            iat: clock.now().timestamp(),
            nbf: clock.now().timestamp(),
            ..user_token_claims
        })
        .unwrap();
    verifier
        .verify(&fresh)
        .await
        .expect("issued after the ban was lifted");

    // Entries are forgotten after `until`.
    issuer.revocations.lock().unwrap().clear();
    clock.advance(Duration::from_secs(61));
    verifier.sync_revocations().await.unwrap();
    assert!(verifier.deny_list().is_empty());
}

#[tokio::test]
async fn a_stale_feed_reports_not_ready_and_the_strict_policy_rejects() {
    let (issuer, clock, key) = issuer_with_key().await;
    let build = |policy| {
        Verifier::builder()
            .issuer(base(&issuer))
            .revocations(RevocationFeed::poll(Duration::from_secs(3600)))
            .clock(Arc::new(clock.clone()))
            .max_staleness(Duration::from_secs(30))
            .stale_policy(policy)
            .build()
    };
    let lenient = build(StalePolicy::Report).await.unwrap();
    let strict = build(StalePolicy::Reject).await.unwrap();
    assert_eq!(lenient.staleness(), Some(Duration::ZERO));
    assert!(lenient.is_ready() && strict.is_ready());
    clock.advance(Duration::from_secs(31));
    let token = key.sign(&claims(&base(&issuer), &clock)).unwrap();
    assert_eq!(lenient.staleness(), Some(Duration::from_secs(31)));
    assert!(!lenient.is_ready() && !strict.is_ready());
    lenient
        .verify(&token)
        .await
        .expect("the default keeps verifying");
    assert_eq!(
        strict.verify(&token).await.unwrap_err().kind(),
        VerifyErrorKind::Stale
    );
    strict.sync_revocations().await.unwrap();
    strict.verify(&token).await.expect("fresh again");
}

#[tokio::test]
async fn an_unreachable_issuer_builds_a_verifier_that_is_not_ready() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let verifier = Verifier::builder()
        .issuer(dead)
        .build()
        .await
        .expect("configuration is fine");
    assert!(!verifier.is_ready());
    assert_eq!(verifier.staleness(), None);
    let kind = |result: Result<Verifier, warden_verify::BuildError>| result.err().map(|e| e.kind());
    assert_eq!(
        kind(Verifier::builder().build().await),
        Some(BuildErrorKind::Issuer),
        "an issuer is required"
    );
    assert_eq!(
        kind(Verifier::builder().issuer("ftp://x").build().await),
        Some(BuildErrorKind::Issuer)
    );
    assert_eq!(
        kind(
            Verifier::builder()
                .issuer("https://auth.example")
                .algorithms(&[])
                .build()
                .await
        ),
        Some(BuildErrorKind::Algorithms)
    );
}

/// A token seen again is answered from the cache of verified tokens, but
/// never past what the full check would allow: a revocation, its expiry
/// and the strict staleness policy still refuse it.
#[tokio::test]
async fn a_remembered_token_is_still_revoked_expired_and_stale_checked() {
    let (issuer, clock, key) = issuer_with_key().await;
    let verifier = Verifier::builder()
        .issuer(base(&issuer))
        .revocations(RevocationFeed::poll(Duration::from_secs(3600)))
        .clock(Arc::new(clock.clone()))
        .max_staleness(Duration::from_secs(30))
        .stale_policy(StalePolicy::Reject)
        .verified_cache(100)
        .build()
        .await
        .unwrap();
    let c = claims(&base(&issuer), &clock);
    let token = key.sign(&c).unwrap();
    let first = verifier.verify(&token).await.expect("verified");
    assert_eq!(verifier.verify(&token).await.unwrap(), first, "remembered");

    // Stale feed under the strict policy: refused, then fine once synced.
    clock.advance(Duration::from_secs(31));
    assert_eq!(
        verifier.verify(&token).await.unwrap_err().kind(),
        VerifyErrorKind::Stale
    );
    verifier.sync_revocations().await.unwrap();
    verifier.verify(&token).await.expect("fresh again");

    // Revoked after it was remembered.
    revoke_session(&issuer, &c, clock.now() + chrono::Duration::seconds(3600));
    verifier.sync_revocations().await.unwrap();
    assert_eq!(
        verifier.verify(&token).await.unwrap_err().kind(),
        VerifyErrorKind::Revoked
    );

    // Another remembered token expires on time (exp + 30 s leeway).
    let other = key.sign(&claims(&base(&issuer), &clock)).unwrap();
    verifier.verify(&other).await.expect("verified");
    clock.advance(Duration::from_secs(900 + 31));
    verifier.sync_revocations().await.unwrap();
    assert_eq!(
        verifier.verify(&other).await.unwrap_err().kind(),
        VerifyErrorKind::Expired
    );
}

/// A verifier whose first feed poll fails (Warden slow or starting) tries
/// again within seconds, not after its whole poll interval (an hour here),
/// and only then becomes ready with the revocations.
#[tokio::test]
async fn a_failed_feed_poll_is_retried_within_seconds() {
    let (issuer, clock, key) = issuer_with_key().await;
    let c = claims(&base(&issuer), &clock);
    let token = key.sign(&c).unwrap();
    revoke_session(&issuer, &c, clock.now() + chrono::Duration::seconds(3600));
    issuer.feed_failures.store(1, Ordering::SeqCst);
    let verifier = verifier(
        &issuer,
        &clock,
        RevocationFeed::poll(Duration::from_secs(3600)),
    )
    .await;
    assert_eq!(issuer.feed_polls.load(Ordering::SeqCst), 1);
    assert!(!verifier.is_ready(), "no snapshot of the revocations yet");

    let started = std::time::Instant::now();
    while issuer.feed_polls.load(Ordering::SeqCst) < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no retry within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    while !verifier.is_ready() {
        assert!(std::time::Instant::now() < deadline, "never became ready");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        verifier.verify(&token).await.unwrap_err().kind(),
        VerifyErrorKind::Revoked
    );
    assert_eq!(
        issuer.feed_polls.load(Ordering::SeqCst),
        2,
        "after a success, back to the hour-long interval"
    );
}

/// `verified_cache(0)` turns the cache off: every call takes the signature
/// path, with the same answers.
#[tokio::test]
async fn without_the_cache_every_call_is_checked_in_full() {
    let (issuer, clock, key) = issuer_with_key().await;
    let verifier = Verifier::builder()
        .issuer(base(&issuer))
        .revocations(RevocationFeed::disabled())
        .clock(Arc::new(clock.clone()))
        .verified_cache(0)
        .build()
        .await
        .unwrap();
    let token = key.sign(&claims(&base(&issuer), &clock)).unwrap();
    let first = verifier.verify(&token).await.expect("verified");
    assert_eq!(verifier.verify(&token).await.unwrap(), first);
    clock.advance(Duration::from_secs(900 + 31));
    assert_eq!(
        verifier.verify(&token).await.unwrap_err().kind(),
        VerifyErrorKind::Expired
    );
}
