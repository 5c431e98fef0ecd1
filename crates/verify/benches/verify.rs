//! `Verifier::verify` against the bare signature check it wraps, with an
//! empty deny-list and with 100,000 live entries.

use criterion::{Criterion, criterion_group, criterion_main};
use warden_token::revocation::{Revocation, RevocationKind};
use warden_token::{AccessClaims, Algorithm, Audience, JwkSet, SigningKey, VerifierConfig};
use warden_verify::{RevocationFeed, Verifier};

fn token(key: &SigningKey) -> String {
    let now = chrono::Utc::now().timestamp();
    key.sign(&AccessClaims {
        iss: "https://auth.example".into(),
        sub: uuid::Uuid::now_v7().to_string(),
        aud: Audience::One("warden".into()),
        exp: now + 3600,
        iat: now,
        nbf: now,
        jti: "bench".into(),
        sid: uuid::Uuid::now_v7().to_string(),
        roles: vec!["user".into()],
        amr: vec!["pwd".into()],
        acr: "aal1".into(),
        auth_time: 0,
        client_id: None,
        scope: None,
    })
    .expect("sign")
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = SigningKey::generate(Algorithm::EdDSA).expect("key");
    let jwks = JwkSet {
        keys: vec![key.public_jwk()],
    };
    let token = token(&key);
    let bare = warden_token::Verifier::from_jwks(
        VerifierConfig::new("https://auth.example", "warden"),
        &jwks,
    )
    .expect("verifier");
    let build = |cached_tokens| {
        runtime
            .block_on(
                Verifier::builder()
                    .issuer("https://auth.example")
                    .jwks(jwks.clone())
                    .revocations(RevocationFeed::disabled())
                    .verified_cache(cached_tokens)
                    .build(),
            )
            .expect("build")
    };
    // The signature path every time (what a token seen for the first time
    // costs), and the default with the token already verified once.
    let verifier = build(0);
    let cached = build(10_000);

    let mut group = c.benchmark_group("verify");
    group.bench_function("bare signature and claims (warden-token)", |b| {
        b.iter(|| {
            bare.verify(&token, chrono::Utc::now().timestamp())
                .expect("valid")
        })
    });
    group.bench_function("warden-verify, empty deny-list", |b| {
        b.iter(|| runtime.block_on(verifier.verify(&token)).expect("valid"))
    });
    group.bench_function("warden-verify, token verified before (cache hit)", |b| {
        b.iter(|| runtime.block_on(cached.verify(&token)).expect("valid"))
    });
    let until = chrono::Utc::now() + chrono::Duration::hours(1);
    for i in 0..100_000 {
        verifier.deny_list().insert(&Revocation {
            kind: if i % 2 == 0 {
                RevocationKind::Session
            } else {
                RevocationKind::User
            },
            id: uuid::Uuid::now_v7(),
            not_before: Some(chrono::Utc::now()),
            until,
        });
    }
    group.bench_function("warden-verify, 100,000 deny-list entries", |b| {
        b.iter(|| runtime.block_on(verifier.verify(&token)).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
