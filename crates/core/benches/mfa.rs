//! Cost of checking a second factor. A TOTP check is at most three
//! HMAC-SHA1s and a recovery code one SHA-256, so neither should show next to
//! the argon2id verify that precedes it in a sign-in.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use warden_core::mfa::{
    TOTP_PERIOD, TotpSecret, generate_recovery_codes, match_recovery_code, otpauth_uri, qr_svg,
    totp_code_at, verify_totp,
};

fn totp(c: &mut Criterion) {
    let secret = TotpSecret::generate();
    let now = 1_700_000_015_i64;
    let valid = totp_code_at(&secret, now / TOTP_PERIOD);
    let near: Vec<String> = (-1..=1)
        .map(|o| totp_code_at(&secret, now / TOTP_PERIOD + o))
        .collect();
    let wrong = (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|code| !near.contains(code))
        .expect("a code outside the window");
    let mut group = c.benchmark_group("totp");
    group.bench_function("verify_valid", |b| {
        b.iter(|| {
            assert!(verify_totp(&secret, black_box(&valid), black_box(now), None).is_some());
        })
    });
    // A wrong code has to be compared against all three steps in the window.
    group.bench_function("verify_wrong", |b| {
        b.iter(|| {
            assert!(verify_totp(&secret, black_box(&wrong), black_box(now), None).is_none());
        })
    });
    group.finish();
}

/// An account id, the codes' salt.
const SALT: &str = "0190e0c4-0000-7000-8000-000000000001";

fn recovery(c: &mut Criterion) {
    let codes = generate_recovery_codes();
    let stored: Vec<String> = codes.iter().map(|c| c.hash(SALT)).collect();
    let typed = codes[7].display().to_uppercase();
    c.bench_function("recovery_code_match_of_10", |b| {
        b.iter(|| {
            assert_eq!(
                match_recovery_code(SALT, black_box(&typed), &stored),
                Some(7)
            );
        })
    });
}

fn qr(c: &mut Criterion) {
    let uri = otpauth_uri(&TotpSecret::generate(), "Warden", "alice@example.com");
    c.bench_function("qr_svg_otpauth", |b| {
        b.iter(|| qr_svg(black_box(&uri)).expect("fits in a QR code"))
    });
}

criterion_group!(benches, totp, recovery, qr);
criterion_main!(benches);
