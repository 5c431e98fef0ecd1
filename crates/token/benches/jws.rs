//! Sign and verify throughput per algorithm.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use warden_token::{
    AccessClaims, Algorithm, Audience, JwkSet, SigningKey, Verifier, VerifierConfig,
};

const NOW: i64 = 1_700_000_000;

fn claims() -> AccessClaims {
    AccessClaims {
        iss: "https://auth.warden.test".into(),
        sub: "user-42".into(),
        aud: Audience::One("warden-api".into()),
        exp: NOW + 300,
        iat: NOW,
        nbf: NOW,
        jti: "0192f0c4-7d1e-7c3a-9a57-3f2b4c1d9e01".into(),
        sid: "0192f0c4-7d1e-7c3a-9a57-3f2b4c1d9e02".into(),
        roles: vec!["user".into(), "admin".into()],
        amr: vec!["pwd".into()],
        acr: "aal1".into(),
        auth_time: 0,
        client_id: None,
        scope: None,
    }
}

fn bench(c: &mut Criterion) {
    let claims = claims();
    for alg in Algorithm::ALL {
        let Ok(key) = SigningKey::generate(alg) else {
            continue;
        };
        let jwks = JwkSet {
            keys: vec![key.public_jwk()],
        };
        let Ok(verifier) = Verifier::from_jwks(
            VerifierConfig::new("https://auth.warden.test", "warden-api"),
            &jwks,
        ) else {
            continue;
        };
        let Ok(token) = key.sign(&claims) else {
            continue;
        };
        assert!(verifier.verify(&token, NOW).is_ok());

        let mut group = c.benchmark_group(alg.as_str());
        group.bench_function("sign", |b| b.iter(|| key.sign(black_box(&claims))));
        group.bench_function("verify", |b| {
            b.iter(|| verifier.verify(black_box(&token), black_box(NOW)))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
