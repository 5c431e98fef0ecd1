//! argon2id cost with the default (OWASP) parameters: the ceiling of sign-ins
//! per second per core is 1 / this.

use criterion::{Criterion, criterion_group, criterion_main};
use warden_core::{HashParams, Password, PasswordHasher, PoolLimits};

fn password_hashing(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let hasher = PasswordHasher::new(HashParams::default(), PoolLimits::default()).expect("hasher");
    let password = Password::parse("correct horse battery staple 9!", "password", 256).expect("pw");
    let phc = runtime.block_on(hasher.hash(&password)).expect("hash");
    let mut group = c.benchmark_group("argon2id_m19456_t2_p1");
    group.sample_size(20);
    group.bench_function("hash", |b| {
        b.iter(|| runtime.block_on(hasher.hash(&password)).expect("hash"))
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            runtime
                .block_on(hasher.verify(&password, &phc))
                .expect("verify")
        })
    });
    group.finish();
}

fn password_policy(c: &mut Criterion) {
    let policy = warden_core::PasswordPolicy::default();
    let password = Password::parse("correct horse battery staple 9!", "password", 256).expect("pw");
    c.bench_function("zxcvbn_policy_check", |b| {
        b.iter(|| policy.check(&password, &["alice@example.com", "alice", "warden"]))
    });
}

criterion_group!(benches, password_hashing, password_policy);
criterion_main!(benches);
