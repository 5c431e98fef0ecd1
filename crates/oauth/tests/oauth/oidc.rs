use chrono::{TimeDelta, Utc};
use serde_json::json;
use warden_oauth::{
    AuthorizationRequest, Callback, IdTokenProblem, OAuthError, Pkce, ProviderKind,
};

use crate::keys::{self, TestKey};
use crate::op::{CLIENT_SECRET, Op, REDIRECT_URI};
use crate::{NONCE, claims, config, discover, sign_in};

async fn oidc_with(key: &TestKey) -> (Op, warden_oauth::Provider) {
    let op = Op::start().await;
    op.set_jwks(keys::jwks(&[key]));
    let provider = discover(config(ProviderKind::Oidc, &op.base)).await;
    (op, provider)
}

fn rejected_because(result: Result<warden_oauth::ExternalProfile, OAuthError>) -> IdTokenProblem {
    match result {
        Err(OAuthError::InvalidIdToken { reason, .. }) => reason,
        other => panic!("expected an invalid ID token, got {other:?}"),
    }
}

#[tokio::test]
async fn a_valid_id_token_signs_the_user_in() {
    let key = TestKey::rsa(0, "k1");
    let (op, provider) = oidc_with(&key).await;
    assert!(provider.uses_pkce(), "discovery lists S256");
    let url = provider.authorization_url(&AuthorizationRequest {
        redirect_uri: REDIRECT_URI,
        state: "st",
        nonce: NONCE,
        pkce_challenge: Some("ch"),
    });
    assert!(url.starts_with(&format!(
        "{}/authorize?response_type=code&client_id=warden-client",
        op.base
    )));
    for part in [
        "scope=openid+email+profile",
        "state=st",
        "nonce=the-flow-nonce",
        "code_challenge=ch",
        "code_challenge_method=S256",
    ] {
        assert!(url.contains(part), "{part} missing from {url}");
    }
    assert!(!url.contains("response_mode"));

    let now = Utc::now();
    let profile = sign_in(&provider, &op, Some(key.sign(&claims(&op, now))), now)
        .await
        .unwrap();
    assert_eq!(profile.issuer, op.base);
    assert_eq!(profile.subject, "user-42");
    assert_eq!(profile.email.as_deref(), Some("ada@example.com"));
    assert!(profile.email_verified);
    assert_eq!(profile.name.as_deref(), Some("Ada"));
    assert_eq!(op.jwks_hits(), 1);
}

#[tokio::test]
async fn es256_and_eddsa_id_tokens_are_accepted() {
    let (ec, _) = TestKey::ec("ec");
    let ed = TestKey::ed("ed");
    let (op, provider) = oidc_with(&ec).await;
    op.set_jwks(keys::jwks(&[&ec, &ed]));
    let now = Utc::now();
    for key in [&ec, &ed] {
        let profile = sign_in(&provider, &op, Some(key.sign(&claims(&op, now))), now)
            .await
            .unwrap();
        assert_eq!(profile.subject, "user-42");
    }
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_by_the_provider() {
    let key = TestKey::rsa(0, "k1");
    let (op, provider) = oidc_with(&key).await;
    let now = Utc::now();
    let code = op.issue_code(
        Some(key.sign(&claims(&op, now))),
        Some(&Pkce::generate().challenge),
    );
    let result = provider
        .finish(&Callback {
            code: &code,
            redirect_uri: REDIRECT_URI,
            nonce: NONCE,
            pkce_verifier: Some(Pkce::generate().verifier.expose()),
            now,
        })
        .await;
    let Err(error @ OAuthError::ProviderError { .. }) = result else {
        panic!("expected a provider error, got {result:?}");
    };
    let text = error.to_string();
    assert!(text.contains("invalid_grant"), "{text}");
    assert!(
        !text.contains(&code) && !text.contains(CLIENT_SECRET) && !text.contains("secret-ish"),
        "{text}"
    );
}

#[tokio::test]
async fn tampered_id_tokens_are_refused_for_the_right_reason() {
    let key = TestKey::rsa(0, "k1");
    let (op, provider) = oidc_with(&key).await;
    let now = Utc::now();
    let with = |field: &str, value: serde_json::Value| {
        let mut c = claims(&op, now);
        c[field] = value;
        c
    };
    let impostor = TestKey::rsa(1, "k1");
    let cases = [
        (
            "wrong aud",
            key.sign(&with("aud", json!("another-client"))),
            IdTokenProblem::Audience,
        ),
        (
            "wrong iss",
            key.sign(&with("iss", json!("https://evil.example"))),
            IdTokenProblem::Issuer,
        ),
        (
            "wrong nonce",
            key.sign(&with("nonce", json!("other-flow"))),
            IdTokenProblem::Nonce,
        ),
        (
            "expired",
            key.sign(&with("exp", json!(now.timestamp() - 61))),
            IdTokenProblem::Expired,
        ),
        (
            "issued in the future",
            key.sign(&with("iat", json!(now.timestamp() + 120))),
            IdTokenProblem::Expired,
        ),
        (
            "other key, same kid",
            impostor.sign(&claims(&op, now)),
            IdTokenProblem::Signature,
        ),
        (
            "alg none",
            keys::unsigned("k1", &claims(&op, now)),
            IdTokenProblem::Algorithm,
        ),
        (
            "HS256 with the client secret",
            keys::hmac_signed("k1", CLIENT_SECRET, &claims(&op, now)),
            IdTokenProblem::Algorithm,
        ),
        (
            "azp of another client",
            key.sign(&with("aud", json!(["warden-client", "other"]))),
            IdTokenProblem::Audience,
        ),
        (
            "no sub",
            key.sign(&with("sub", json!(null))),
            IdTokenProblem::MissingClaim,
        ),
    ];
    for (case, token, problem) in cases {
        let reason = rejected_because(sign_in(&provider, &op, Some(token), now).await);
        assert_eq!(reason, problem, "{case}");
    }
}

#[tokio::test]
async fn an_expired_token_is_accepted_within_the_leeway() {
    let key = TestKey::rsa(0, "k1");
    let (op, provider) = oidc_with(&key).await;
    let now = Utc::now();
    let mut c = claims(&op, now);
    c["exp"] = json!(now.timestamp() - 30);
    assert!(
        sign_in(&provider, &op, Some(key.sign(&c)), now)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn rotated_keys_are_fetched_when_a_new_kid_appears() {
    let old = TestKey::rsa(0, "2026-01");
    let (op, provider) = oidc_with(&old).await;
    let t0 = Utc::now();
    sign_in(&provider, &op, Some(old.sign(&claims(&op, t0))), t0)
        .await
        .unwrap();

    let new = TestKey::rsa(1, "2026-02");
    op.set_jwks(keys::jwks(&[&new]));
    let t1 = t0 + TimeDelta::seconds(31);
    let profile = sign_in(&provider, &op, Some(new.sign(&claims(&op, t1))), t1)
        .await
        .unwrap();
    assert_eq!(profile.subject, "user-42");
    assert_eq!(op.jwks_hits(), 2);
}

#[tokio::test]
async fn unknown_kids_refetch_the_jwks_at_most_once_per_30_seconds() {
    let key = TestKey::rsa(0, "k1");
    let (op, provider) = oidc_with(&key).await;
    let stranger = TestKey::rsa(1, "invented");
    let t0 = Utc::now();
    for now in [t0, t0 + TimeDelta::seconds(29)] {
        let token = stranger.sign(&claims(&op, now));
        let reason = rejected_because(sign_in(&provider, &op, Some(token), now).await);
        assert_eq!(reason, IdTokenProblem::UnknownKey);
    }
    assert_eq!(op.jwks_hits(), 1);

    // Known keys keep working meanwhile, without a fetch.
    sign_in(&provider, &op, Some(key.sign(&claims(&op, t0))), t0)
        .await
        .unwrap();
    assert_eq!(op.jwks_hits(), 1);

    let later = t0 + TimeDelta::seconds(31);
    let _ = sign_in(
        &provider,
        &op,
        Some(stranger.sign(&claims(&op, later))),
        later,
    )
    .await;
    assert_eq!(op.jwks_hits(), 2);
}
