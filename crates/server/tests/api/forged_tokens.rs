//! Forged and tampered access tokens (security checklist C19-C28): every one
//! is refused with 401 problem+json, through `POST /v1/validate` (bearer and
//! `{token}` body) and forward-auth `GET /v1/verify`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::Signer as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use warden_testkit::{TestApp, Tokens, assert_problem, spawn_app};
use warden_token::{AccessClaims, Audience};

// ----- helpers -----

fn b64(data: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

fn unb64(data: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(data).expect("base64url")
}

/// The decoded header and payload, and the raw signature segment.
fn split(token: &str) -> (Value, Value, String) {
    let mut parts = token.split('.');
    let header = serde_json::from_slice(&unb64(parts.next().expect("header"))).expect("json");
    let payload = serde_json::from_slice(&unb64(parts.next().expect("payload"))).expect("json");
    let signature = parts.next().expect("signature").to_owned();
    (header, payload, signature)
}

/// `header.payload` of a compact JWS.
fn signing_input(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}",
        b64(serde_json::to_vec(header).expect("json")),
        b64(serde_json::to_vec(payload).expect("json"))
    )
}

fn with_signature(input: &str, signature: &str) -> String {
    format!("{input}.{signature}")
}

/// Warden's real private signing key (Ed25519 by default).
fn real_key(app: &TestApp) -> ed25519_dalek::SigningKey {
    let der = app.auth.keys().ring().signer.to_pkcs8_der();
    ed25519_dalek::SigningKey::from_pkcs8_der(&der).expect("the default key is Ed25519")
}

fn real_kid(app: &TestApp) -> String {
    app.auth.keys().ring().signer.kid().to_owned()
}

/// Signs an arbitrary header and payload with Warden's real key, so only the
/// claim or header under test can make the token invalid.
fn sign_with_real_key(app: &TestApp, header: &Value, payload: &Value) -> String {
    let input = signing_input(header, payload);
    let signature = real_key(app).sign(input.as_bytes());
    with_signature(&input, &b64(signature.to_bytes()))
}

/// Signs with a key Warden has never seen.
fn sign_with_attacker_key(
    key: &ed25519_dalek::SigningKey,
    header: &Value,
    payload: &Value,
) -> String {
    let input = signing_input(header, payload);
    with_signature(&input, &b64(key.sign(input.as_bytes()).to_bytes()))
}

fn attacker_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[0x42; 32])
}

fn hs256(key: &[u8], input: &str) -> String {
    use jsonwebtoken::crypto::sign;
    sign(
        input.as_bytes(),
        &jsonwebtoken::EncodingKey::from_secret(key),
        jsonwebtoken::Algorithm::HS256,
    )
    .expect("hmac")
}

/// The claims of a real token, to start forgeries from.
fn claims_of(token: &str) -> AccessClaims {
    let (_, payload, _) = split(token);
    serde_json::from_value(payload).expect("access claims")
}

fn now(app: &TestApp) -> i64 {
    use warden_core::ports::Clock as _;
    app.clock.now().timestamp()
}

/// Asserts the token is refused with 401 `code` by every way of presenting it.
async fn assert_rejected_as(app: &TestApp, token: &str, code: &str) {
    let response = app.validate(token).await;
    assert_problem(response, 401, code).await;
    let response = app.post("/v1/validate", json!({ "token": token })).await;
    assert_problem(response, 401, code).await;
    let response = app.get_auth("/v1/verify", token).await;
    assert!(
        response.headers().get("x-warden-user").is_none(),
        "a refused token must not yield identity headers"
    );
    assert_problem(response, 401, code).await;
}

async fn assert_rejected(app: &TestApp, token: &str) {
    assert_rejected_as(app, token, "invalid_token").await;
}

/// Sanity check that the untouched token works, so a rejection means something.
async fn assert_accepted(app: &TestApp, token: &str) {
    let response = app.validate(token).await;
    assert_eq!(response.status(), StatusCode::OK, "the genuine token works");
    let response = app.get_auth("/v1/verify", token).await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn app_and_user() -> (TestApp, Tokens) {
    let app = spawn_app().await;
    let user = app.new_user().await;
    assert_accepted(&app, &user.access).await;
    (app, user)
}

// ----- C19: alg none -----

#[tokio::test]
async fn alg_none_is_rejected_in_every_spelling_with_or_without_a_signature() {
    let (app, user) = app_and_user().await;
    let (header, payload, signature) = split(&user.access);
    for alg in ["none", "None", "NONE", "nOnE"] {
        let mut forged = header.clone();
        forged["alg"] = json!(alg);
        let input = signing_input(&forged, &payload);
        for sig in ["", signature.as_str(), "AAAA"] {
            assert_rejected(&app, &with_signature(&input, sig)).await;
        }
        // Two-segment form, as some libraries emit for unsecured JWTs.
        assert_rejected(&app, &input).await;
    }
}

// ----- C20: signature stripping and tampering -----

#[tokio::test]
async fn a_null_or_stripped_signature_is_rejected() {
    let (app, user) = app_and_user().await;
    let (header, payload, _) = split(&user.access);
    let input = signing_input(&header, &payload);
    assert_rejected(&app, &with_signature(&input, "")).await;
    assert_rejected(&app, &with_signature(&input, &b64([0_u8; 64]))).await;
    assert_rejected(&app, &with_signature(&input, "null")).await;
    assert_rejected(&app, &input).await;
}

#[tokio::test]
async fn a_truncated_signature_is_rejected() {
    let (app, user) = app_and_user().await;
    let (header, payload, signature) = split(&user.access);
    let input = signing_input(&header, &payload);
    let bytes = unb64(&signature);
    for keep in [63, 48, 32, 1] {
        assert_rejected(&app, &with_signature(&input, &b64(&bytes[..keep]))).await;
    }
    // Cut at the character level too (leaves a non-canonical base64 tail).
    assert_rejected(&app, &user.access[..user.access.len() - 1]).await;
    assert_rejected(&app, &user.access[..user.access.len() - 2]).await;
}

#[tokio::test]
async fn one_changed_payload_byte_is_rejected() {
    let (app, user) = app_and_user().await;
    let mut parts = user.access.split('.');
    let (h, p, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let payload = unb64(p);
    for index in [0, payload.len() / 3, payload.len() / 2, payload.len() - 2] {
        let mut changed = payload.clone();
        changed[index] ^= 0x01;
        assert_rejected(&app, &format!("{h}.{}.{s}", b64(&changed))).await;
    }
    // A privilege-escalating edit that is still valid JSON.
    let (_, mut claims, _) = split(&user.access);
    claims["roles"] = json!(["user", "admin"]);
    assert_rejected(&app, &format!("{h}.{}.{s}", b64(claims.to_string()))).await;
    // One flipped bit in the signature.
    let mut signature = unb64(s);
    signature[10] ^= 0x80;
    assert_rejected(&app, &format!("{h}.{p}.{}", b64(signature))).await;
    assert_accepted(&app, &user.access).await;
}

// ----- C21: key/algorithm confusion -----

#[tokio::test]
async fn an_hs256_token_macd_with_the_public_key_is_rejected() {
    let (app, user) = app_and_user().await;
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwk = &jwks["keys"][0];
    let x = jwk["x"].as_str().expect("Ed25519 JWK has x").to_owned();
    let raw = unb64(&x);
    assert_eq!(raw.len(), 32);
    let mut spki = hex_bytes("302a300506032b6570032100");
    spki.extend_from_slice(&raw);
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        STANDARD.encode(&spki)
    );
    let secrets: Vec<Vec<u8>> = vec![
        x.as_bytes().to_vec(),
        raw,
        jwk.to_string().into_bytes(),
        pem.into_bytes(),
        spki,
    ];
    let (header, payload, _) = split(&user.access);
    for alg in ["HS256", "HS384", "HS512"] {
        let mut forged = header.clone();
        forged["alg"] = json!(alg);
        let input = signing_input(&forged, &payload);
        for secret in &secrets {
            assert_rejected(&app, &with_signature(&input, &hs256(secret, &input))).await;
        }
    }
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test]
async fn another_algorithm_with_the_ed25519_kid_is_rejected() {
    let (app, user) = app_and_user().await;
    let (header, payload, _) = split(&user.access);
    assert_eq!(header["alg"], "EdDSA");
    for alg in [
        "ES384", "RS256", "ES256", "HS256", "PS256", "EdDSA2", "eddsa", "",
    ] {
        let mut forged = header.clone();
        forged["alg"] = json!(alg);
        // Genuinely signed by the Ed25519 key: only the alg/key binding is wrong.
        assert_rejected(&app, &sign_with_real_key(&app, &forged, &payload)).await;
        let input = signing_input(&forged, &payload);
        let x = app
            .auth
            .keys()
            .ring()
            .signer
            .public_jwk()
            .x
            .clone()
            .unwrap();
        assert_rejected(&app, &with_signature(&input, &hs256(x.as_bytes(), &input))).await;
    }
    let mut no_alg = header.clone();
    no_alg.as_object_mut().unwrap().remove("alg");
    assert_rejected(&app, &sign_with_real_key(&app, &no_alg, &payload)).await;
    // The same edits signed properly are fine: the real key still works.
    assert_accepted(&app, &sign_with_real_key(&app, &header, &payload)).await;
}

// ----- C22: header-supplied keys -----

#[tokio::test]
async fn an_embedded_jwk_header_is_rejected() {
    let (app, user) = app_and_user().await;
    let (header, payload, _) = split(&user.access);
    let attacker = attacker_key();
    let attacker_jwk = json!({
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
        "x": b64(attacker.verifying_key().as_bytes()),
    });
    for kid in [Some(real_kid(&app)), Some("attacker".to_owned()), None] {
        let mut forged = header.clone();
        forged["jwk"] = attacker_jwk.clone();
        match kid {
            Some(kid) => forged["kid"] = json!(kid),
            None => {
                forged.as_object_mut().unwrap().remove("kid");
            }
        }
        assert_rejected(&app, &sign_with_attacker_key(&attacker, &forged, &payload)).await;
    }
    // Even the real key's own JWK, embedded in a genuinely signed token, is not honoured.
    let mut forged = header.clone();
    forged["jwk"] = serde_json::to_value(app.auth.keys().ring().signer.public_jwk()).unwrap();
    assert_rejected(&app, &sign_with_real_key(&app, &forged, &payload)).await;
}

#[tokio::test]
async fn jku_and_x5u_headers_are_rejected_without_fetching_anything() {
    let (app, user) = app_and_user().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let accept = tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let attacker = attacker_key();
    let (header, payload, _) = split(&user.access);
    for member in ["jku", "x5u"] {
        for kid in [real_kid(&app), "attacker-key".to_owned()] {
            let mut forged = header.clone();
            forged[member] = json!(format!("http://127.0.0.1:{port}/jwks.json"));
            forged["kid"] = json!(kid);
            assert_rejected(&app, &sign_with_attacker_key(&attacker, &forged, &payload)).await;
            assert_rejected(&app, &sign_with_real_key(&app, &forged, &payload)).await;
        }
    }
    let mut forged = header.clone();
    forged["x5c"] = json!([STANDARD.encode(b"not a certificate")]);
    assert_rejected(&app, &sign_with_real_key(&app, &forged, &payload)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "Warden must never fetch keys from a URL in a token header"
    );
    accept.abort();
}

// ----- C23: kid abuse -----

#[tokio::test]
async fn abusive_or_unknown_kids_are_rejected_quickly_without_a_server_error() {
    let (app, user) = app_and_user().await;
    let (header, payload, signature) = split(&user.access);
    let long_kid = "k".repeat(4000);
    let kids = [
        json!("../../dev/null"),
        json!("../../../../../../etc/passwd"),
        json!("' UNION SELECT '1"),
        json!("1' OR '1'='1"),
        json!("|sleep 10"),
        json!("$(sleep 10)"),
        json!("`sleep 10`"),
        json!("/dev/random"),
        json!("unknown-key-id"),
        json!(""),
        json!("\u{0000}"),
        json!(long_kid),
        json!(null),
        json!(42),
        json!(["a"]),
        json!({"kid": "x"}),
    ];
    for kid in kids {
        let mut forged = header.clone();
        forged["kid"] = kid.clone();
        let input = signing_input(&forged, &payload);
        for token in [
            with_signature(&input, &signature),
            sign_with_real_key(&app, &forged, &payload),
        ] {
            let started = Instant::now();
            assert_rejected(&app, &token).await;
            assert!(
                started.elapsed() < Duration::from_secs(2),
                "kid {kid} took {:?}",
                started.elapsed()
            );
        }
    }
}

// ----- C25: time claims -----

#[tokio::test]
async fn an_expired_token_is_rejected_as_expired() {
    let (app, user) = app_and_user().await;
    // Still inside the leeway just after the 15 minutes.
    app.clock
        .advance(chrono::Duration::minutes(15) + chrono::Duration::seconds(10));
    assert_accepted(&app, &user.access).await;
    app.clock.advance(chrono::Duration::seconds(61));
    assert_rejected_as(&app, &user.access, "token_expired").await;
}

#[tokio::test]
async fn a_token_signed_with_an_exp_in_the_past_is_rejected_as_expired() {
    let (app, user) = app_and_user().await;
    let mut claims = claims_of(&user.access);
    claims.exp = now(&app) - 61;
    claims.iat = now(&app) - 1000;
    claims.nbf = claims.iat;
    let token = app.auth.keys().ring().signer.sign(&claims).unwrap();
    assert_rejected_as(&app, &token, "token_expired").await;
}

#[tokio::test]
async fn a_token_not_valid_yet_is_rejected() {
    let (app, user) = app_and_user().await;
    let mut claims = claims_of(&user.access);
    claims.nbf = now(&app) + 120;
    claims.exp = now(&app) + 900;
    let token = app.auth.keys().ring().signer.sign(&claims).unwrap();
    assert_rejected(&app, &token).await;
    let mut claims = claims_of(&user.access);
    claims.iat = now(&app) + 120;
    claims.exp = now(&app) + 900;
    let token = app.auth.keys().ring().signer.sign(&claims).unwrap();
    assert_rejected(&app, &token).await;
}

#[tokio::test]
async fn a_token_without_exp_or_other_required_claims_is_rejected() {
    let (app, user) = app_and_user().await;
    let (header, payload, _) = split(&user.access);
    for claim in [
        "exp", "nbf", "iat", "iss", "aud", "sub", "sid", "jti", "roles",
    ] {
        let mut forged = payload.clone();
        forged.as_object_mut().unwrap().remove(claim);
        assert_rejected(&app, &sign_with_real_key(&app, &header, &forged)).await;
    }
    let mut forged = payload.clone();
    forged["exp"] = Value::Null;
    assert_rejected(&app, &sign_with_real_key(&app, &header, &forged)).await;
}

// ----- C26: audience and issuer -----

#[tokio::test]
async fn a_wrong_or_missing_audience_or_issuer_is_rejected() {
    let (app, user) = app_and_user().await;
    let signer = app.auth.keys().ring().signer.clone();
    let genuine = claims_of(&user.access);
    let audience = match &genuine.aud {
        Audience::One(a) => a.clone(),
        Audience::Many(v) => v[0].clone(),
    };
    let mut wrong_aud = genuine.clone();
    wrong_aud.aud = Audience::One("some-other-service".into());
    assert_rejected(&app, &signer.sign(&wrong_aud).unwrap()).await;
    let mut empty_aud = genuine.clone();
    empty_aud.aud = Audience::Many(vec![]);
    assert_rejected(&app, &signer.sign(&empty_aud).unwrap()).await;
    let mut upper_aud = genuine.clone();
    upper_aud.aud = Audience::One(audience.to_uppercase() + "x");
    assert_rejected(&app, &signer.sign(&upper_aud).unwrap()).await;
    for iss in [
        "https://evil.example",
        "https://warden.test/",
        "http://warden.test",
        "",
    ]
    .into_iter()
    .filter(|iss| *iss != genuine.iss)
    {
        let mut wrong_iss = genuine.clone();
        wrong_iss.iss = iss.into();
        assert_rejected(&app, &signer.sign(&wrong_iss).unwrap()).await;
    }
    // An array containing our audience is fine (RFC 7519 §4.1.3).
    let mut many = genuine.clone();
    many.aud = Audience::Many(vec!["other".into(), audience]);
    assert_accepted(&app, &signer.sign(&many).unwrap()).await;
}

// ----- C27: type confusion -----

#[tokio::test]
async fn a_jwt_whose_typ_is_not_at_jwt_is_rejected() {
    let (app, user) = app_and_user().await;
    let (header, payload, _) = split(&user.access);
    for typ in [
        json!("JWT"),
        json!("jwt"),
        json!("id_token+jwt"),
        json!(""),
        json!(null),
    ] {
        let mut forged = header.clone();
        forged["typ"] = typ;
        assert_rejected(&app, &sign_with_real_key(&app, &forged, &payload)).await;
    }
    let mut missing = header.clone();
    missing.as_object_mut().unwrap().remove("typ");
    assert_rejected(&app, &sign_with_real_key(&app, &missing, &payload)).await;
    // An ID-token-shaped JWT (typ JWT, nonce, aud = a client id).
    let mut id_header = header.clone();
    id_header["typ"] = json!("JWT");
    let mut id_claims = payload.clone();
    id_claims["nonce"] = json!("n-0S6_WzA2Mj");
    id_claims["aud"] = json!("some-client");
    assert_rejected(&app, &sign_with_real_key(&app, &id_header, &id_claims)).await;
}

#[tokio::test]
async fn a_refresh_token_used_as_a_bearer_token_is_rejected() {
    let (app, user) = app_and_user().await;
    assert!(user.refresh.starts_with("wrt_"));
    assert_rejected(&app, &user.refresh).await;
    // ... and it still works as a refresh token afterwards.
    let response = app.refresh(&user.refresh).await;
    assert_eq!(response.status(), StatusCode::OK);
}

// ----- C28: claim fuzzing -----

/// Values of every JSON type plus extremes.
fn fuzz_values() -> Vec<Value> {
    vec![
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1e308),
        json!(""),
        json!("x"),
        json!("admin"),
        json!("a".repeat(2000)),
        json!([]),
        json!(["admin"]),
        json!({}),
        json!({"$ne": null}),
        json!("none"),
        json!(" "),
        json!("\u{0000}"),
        json!(-0.0),
        json!(1e-300),
        json!("1700000000"),
        json!(1_u64 << 53),
        json!("EdDSA"),
    ]
}

fn mutations(object: &Value, extra_keys: &[&str]) -> Vec<Value> {
    let map = object.as_object().expect("object");
    let mut out = Vec::new();
    for key in map.keys() {
        let mut removed = map.clone();
        removed.remove(key);
        out.push(Value::Object(removed));
        for value in fuzz_values() {
            let mut changed = map.clone();
            changed.insert(key.clone(), value);
            out.push(Value::Object(changed));
        }
        let mut upper = map.clone();
        let value = upper.remove(key).unwrap();
        upper.insert(key.to_uppercase(), value);
        out.push(Value::Object(upper));
    }
    for key in extra_keys {
        for value in [json!("x"), json!(true), json!(["admin"])] {
            let mut added = map.clone();
            added.insert((*key).to_owned(), value);
            out.push(Value::Object(added));
        }
    }
    out.push(json!([object.clone()]));
    out.push(json!(null));
    out.push(json!("string"));
    out
}

#[tokio::test]
async fn hundreds_of_mutated_tokens_keeping_the_original_signature_are_all_rejected() {
    let (app, user) = app_and_user().await;
    let (header, payload, signature) = split(&user.access);
    let mut mutated = Vec::new();
    for h in mutations(&header, &["jwk", "jku", "crit", "b64", "zip", "cty", "x5t"]) {
        mutated.push(with_signature(&signing_input(&h, &payload), &signature));
    }
    for p in mutations(&payload, &["admin", "scope", "act", "cnf", "nonce"]) {
        mutated.push(with_signature(&signing_input(&header, &p), &signature));
    }
    // Duplicate members (the last one usually wins in lax parsers).
    let h = b64(format!(
        "{{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"{}\",\"alg\":\"none\"}}",
        real_kid(&app)
    ));
    let p = user.access.split('.').nth(1).unwrap();
    mutated.push(format!("{h}.{p}.{signature}"));
    // Whitespace and padding variants of the same segments.
    let mut segments = user.access.split('.');
    let (h0, p0) = (segments.next().unwrap(), segments.next().unwrap());
    mutated.push(format!("{h0}=.{p0}.{signature}"));
    mutated.push(format!("{h0}.{p0}=.{signature}"));
    mutated.push(format!("{h0}.{p0}.{signature}="));
    mutated.push(format!("{h0}..{p0}.{signature}"));
    mutated.push(format!("{h0}.{p0}.{signature}.{signature}"));
    mutated.push(format!("{h0}.{p0}.{signature}."));
    mutated.push(format!(".{h0}.{p0}.{signature}"));
    mutated.push(user.access.replace('-', "+").replace('_', "/"));
    mutated.retain(|t| *t != user.access);
    assert!(mutated.len() >= 300, "only {} mutations", mutated.len());

    let mut accepted = Vec::new();
    for token in &mutated {
        for response in [
            app.validate(token).await,
            app.get_auth("/v1/verify", token).await,
        ] {
            let status = response.status();
            assert!(
                !status.is_server_error(),
                "{status} for a mutated token: {token}"
            );
            if status.is_success() {
                accepted.push(token.clone());
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{token}");
            }
        }
    }
    assert!(
        accepted.is_empty(),
        "accepted mutated tokens: {accepted:#?}"
    );
    assert_accepted(&app, &user.access).await;
}

#[tokio::test]
async fn correctly_signed_tokens_with_missing_or_mistyped_claims_are_rejected() {
    // The signature is valid here, so only claim validation stands in the way.
    let (app, user) = app_and_user().await;
    let (header, payload, _) = split(&user.access);
    let map = payload.as_object().unwrap();
    let mut tokens = Vec::new();
    // Tokens minted before Warden emitted `amr`, `acr` and `auth_time`
    // lack them, so a token without them is valid: it reads as one factor.
    const OPTIONAL: [&str; 3] = ["amr", "acr", "auth_time"];
    for key in map.keys() {
        let mut removed = map.clone();
        removed.remove(key);
        if OPTIONAL.contains(&key.as_str()) {
            let token = sign_with_real_key(&app, &header, &Value::Object(removed));
            let response = app.validate(&token).await;
            assert_eq!(response.status(), 200, "without {key}");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["acr"], "aal1", "without {key}");
        } else {
            tokens.push(Value::Object(removed));
        }
        let wrong_types: Vec<Value> = match map[key] {
            Value::String(_) => vec![json!(null), json!(1), json!(["x"]), json!({})],
            Value::Number(_) => vec![json!(null), json!("1"), json!(1.5), json!([1]), json!(true)],
            Value::Array(_) => vec![json!(null), json!("admin"), json!([1]), json!({})],
            _ => vec![json!(null)],
        };
        for value in wrong_types {
            let mut changed = map.clone();
            changed.insert(key.clone(), value);
            tokens.push(Value::Object(changed));
        }
    }
    for sub in ["", "not-a-uuid", "00000000-0000-0000-0000-000000000000x"] {
        let mut changed = map.clone();
        changed.insert("sub".into(), json!(sub));
        tokens.push(Value::Object(changed));
    }
    let mut future = map.clone();
    future.insert("nbf".into(), json!(i64::MAX));
    tokens.push(Value::Object(future));
    let mut past = map.clone();
    past.insert("exp".into(), json!(i64::MIN));
    tokens.push(Value::Object(past));
    for claims in tokens {
        let token = sign_with_real_key(&app, &header, &claims);
        for response in [
            app.validate(&token).await,
            app.get_auth("/v1/verify", &token).await,
        ] {
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "claims {claims} were accepted or crashed"
            );
        }
    }
}

// ----- transport-level oddities -----

#[tokio::test]
async fn an_oversize_authorization_header_is_refused_cleanly() {
    let (app, _) = app_and_user().await;
    let huge = format!("Bearer {}", "a".repeat(20 * 1024));
    for path in ["/v1/validate", "/v1/verify", "/v1/me"] {
        let method = if path == "/v1/validate" {
            Method::POST
        } else {
            Method::GET
        };
        let response = app
            .client
            .request(method, app.url(path))
            .header("authorization", huge.clone())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            !status.is_success() && !status.is_server_error(),
            "{path}: {status}"
        );
        if status != StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE {
            assert_problem(response, 401, "invalid_token").await;
        }
    }
}

#[tokio::test]
async fn non_bearer_authorization_schemes_are_rejected() {
    let (app, user) = app_and_user().await;
    let basic = format!("Basic {}", STANDARD.encode(format!("{}:pw", user.email)));
    let cases = [
        basic,
        format!("Token {}", user.access),
        format!("Bearer{}", user.access),
        format!("Bearer  {} extra", user.access),
        user.access.clone(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
    ];
    for value in cases {
        for (method, path) in [(Method::POST, "/v1/validate"), (Method::GET, "/v1/verify")] {
            let response = app
                .client
                .request(method, app.url(path))
                .header("authorization", value.clone())
                .send()
                .await
                .unwrap();
            assert_problem(response, 401, "invalid_token").await;
        }
    }
    // Without any credential at all.
    let response = app.call(Method::GET, "/v1/verify", None, None).await;
    assert_problem(response, 401, "invalid_token").await;
    let response = app.call(Method::POST, "/v1/validate", None, None).await;
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn a_genuinely_signed_token_with_an_extreme_expiry_never_crashes_the_server() {
    let (app, user) = app_and_user().await;
    let signer = app.auth.keys().ring().signer.clone();
    for exp in [i64::MAX, i64::MAX - 1, i64::MAX - 30] {
        let mut claims = claims_of(&user.access);
        claims.exp = exp;
        let token = signer.sign(&claims).unwrap();
        // Twice: the second answer may come from the verified-token cache.
        for attempt in 0..2 {
            let response = app
                .client
                .post(app.url("/v1/validate"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap_or_else(|e| panic!("exp {exp}, attempt {attempt}: no answer: {e}"));
            assert!(
                !response.status().is_server_error(),
                "exp {exp}, attempt {attempt}: {}",
                response.status()
            );
        }
    }
}
