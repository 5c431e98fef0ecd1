//! Integration tests: happy paths, forged tokens and claim fuzzing.
//! Forged and re-signed tokens are produced with jsonwebtoken's own signer
//! (an independent code path from `SigningKey::sign`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use warden_token::{
    AccessClaims, Algorithm, Audience, Jwk, JwkSet, KeyError, MAX_TOKEN_LEN, SigningKey,
    TOKEN_TYPE, Verifier, VerifierConfig, VerifyError,
};

const ISS: &str = "https://auth.warden.test";
const AUD: &str = "warden-api";
const NOW: i64 = 1_700_000_000;
const LEEWAY: i64 = 30;

fn keys() -> &'static [SigningKey; 3] {
    static KEYS: OnceLock<[SigningKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| Algorithm::ALL.map(|alg| SigningKey::generate(alg).expect("generate")))
}

fn key(alg: Algorithm) -> &'static SigningKey {
    keys().iter().find(|k| k.algorithm() == alg).unwrap()
}

fn ed() -> &'static SigningKey {
    key(Algorithm::EdDSA)
}

fn verifier() -> Verifier {
    let jwks = JwkSet {
        keys: keys().iter().map(SigningKey::public_jwk).collect(),
    };
    Verifier::from_jwks(VerifierConfig::new(ISS, AUD), &jwks).unwrap()
}

fn claims() -> AccessClaims {
    AccessClaims {
        iss: ISS.into(),
        sub: "user-42".into(),
        aud: Audience::One(AUD.into()),
        exp: NOW + 300,
        iat: NOW,
        nbf: NOW,
        jti: "jti-1".into(),
        sid: "sid-1".into(),
        roles: vec!["admin".into(), "user".into()],
    }
}

fn header(k: &SigningKey) -> Value {
    json!({"alg": k.algorithm().as_str(), "typ": TOKEN_TYPE, "kid": k.kid()})
}

fn payload() -> Value {
    serde_json::to_value(claims()).unwrap()
}

fn encoding_key(k: &SigningKey) -> jsonwebtoken::EncodingKey {
    let der = k.to_pkcs8_der();
    match k.algorithm() {
        Algorithm::EdDSA => jsonwebtoken::EncodingKey::from_ed_der(&der),
        Algorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_der(&der),
        Algorithm::RS256 => {
            use rsa::pkcs1::EncodeRsaPrivateKey as _;
            use rsa::pkcs8::DecodePrivateKey as _;
            let rsa = rsa::RsaPrivateKey::from_pkcs8_der(&der).unwrap();
            jsonwebtoken::EncodingKey::from_rsa_der(rsa.to_pkcs1_der().unwrap().as_bytes())
        }
    }
}

fn jwt_alg(alg: Algorithm) -> jsonwebtoken::Algorithm {
    alg.as_str().parse().unwrap()
}

/// Sign raw header/payload bytes with `k` using jsonwebtoken's signer.
fn sign_raw(k: &SigningKey, header: &[u8], payload: &[u8]) -> String {
    let msg = format!("{}.{}", B64.encode(header), B64.encode(payload));
    let sig = jsonwebtoken::crypto::sign(msg.as_bytes(), &encoding_key(k), jwt_alg(k.algorithm()))
        .unwrap();
    if k.algorithm() != Algorithm::ES256 {
        return format!("{msg}.{sig}");
    }
    // jsonwebtoken's ES256 leaves S as it comes; the verifier wants it low.
    let es = p256::ecdsa::Signature::from_slice(&B64.decode(&sig).unwrap()).unwrap();
    let es = es.normalize_s().unwrap_or(es);
    format!("{msg}.{}", B64.encode(es.to_bytes()))
}

fn sign_json(k: &SigningKey, header: &Value, payload: &Value) -> String {
    sign_raw(
        k,
        &serde_json::to_vec(header).unwrap(),
        &serde_json::to_vec(payload).unwrap(),
    )
}

fn unsigned(header: &Value, payload: &Value, sig: &str) -> String {
    format!(
        "{}.{}.{}",
        B64.encode(serde_json::to_vec(header).unwrap()),
        B64.encode(serde_json::to_vec(payload).unwrap()),
        sig
    )
}

fn split(token: &str) -> (&str, &str, &str) {
    let mut it = token.split('.');
    (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
}

// ---------------------------------------------------------------- happy paths

#[test]
fn sign_and_verify_all_algorithms() {
    let v = verifier();
    for k in keys() {
        let token = k.sign(&claims()).unwrap();
        assert_eq!(
            v.verify(&token, NOW).unwrap(),
            claims(),
            "{}",
            k.algorithm()
        );
        let (h, _, _) = split(&token);
        let h: Value = serde_json::from_slice(&B64.decode(h).unwrap()).unwrap();
        assert_eq!(h, header(k), "header must be exactly alg/typ/kid");
        // jsonwebtoken-signed tokens (independent signer) verify too.
        let token = sign_json(k, &header(k), &payload());
        assert_eq!(v.verify(&token, NOW).unwrap(), claims());
        // The full jsonwebtoken decoder accepts our tokens.
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(serde_json::to_value(k.public_jwk()).unwrap()).unwrap();
        let dk = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut val = jsonwebtoken::Validation::new(jwt_alg(k.algorithm()));
        val.set_audience(&[AUD]);
        val.validate_exp = false;
        let token = k.sign(&claims()).unwrap();
        let data = jsonwebtoken::decode::<AccessClaims>(&token, &dk, &val).unwrap();
        assert_eq!(data.claims, claims());
    }
}

#[test]
fn application_typ_accepted_case_insensitively() {
    let v = verifier();
    for typ in [
        "at+jwt",
        "AT+JWT",
        "application/at+jwt",
        "Application/AT+JWT",
    ] {
        let mut h = header(ed());
        h["typ"] = json!(typ);
        assert!(
            v.verify(&sign_json(ed(), &h, &payload()), NOW).is_ok(),
            "{typ}"
        );
    }
}

#[test]
fn pkcs8_round_trip_keeps_kid() {
    for k in keys() {
        let der = k.to_pkcs8_der();
        let again = SigningKey::from_pkcs8_der(k.algorithm(), &der).unwrap();
        assert_eq!(again.kid(), k.kid());
        assert_eq!(again.public_jwk(), k.public_jwk());
        assert_eq!(*again.to_pkcs8_der(), *der);
        let token = again.sign(&claims()).unwrap();
        assert!(verifier().verify(&token, NOW).is_ok());
    }
}

#[test]
fn jwk_is_public_only_and_well_formed() {
    for k in keys() {
        let jwk = k.public_jwk();
        let v = serde_json::to_value(&jwk).unwrap();
        let obj = v.as_object().unwrap();
        for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
            assert!(!obj.contains_key(private), "{private}");
        }
        assert_eq!(obj["use"], "sig");
        assert_eq!(obj["kid"], k.kid());
        assert_eq!(obj["alg"], k.algorithm().as_str());
        let (kty, crv) = match k.algorithm() {
            Algorithm::EdDSA => ("OKP", Some("Ed25519")),
            Algorithm::ES256 => ("EC", Some("P-256")),
            Algorithm::RS256 => ("RSA", None),
        };
        assert_eq!(obj["kty"], kty);
        assert_eq!(obj.get("crv").and_then(Value::as_str), crv);
        let mut members: Vec<_> = obj.keys().map(String::as_str).collect();
        members.sort_unstable();
        let expected: &[&str] = match k.algorithm() {
            Algorithm::EdDSA => &["alg", "crv", "kid", "kty", "use", "x"],
            Algorithm::ES256 => &["alg", "crv", "kid", "kty", "use", "x", "y"],
            Algorithm::RS256 => &["alg", "e", "kid", "kty", "n", "use"],
        };
        assert_eq!(members, expected);
        // Debug of the private key is redacted.
        assert!(format!("{k:?}").contains("[redacted]"));
        // Round trip through JSON.
        let back: Jwk = serde_json::from_value(v).unwrap();
        assert_eq!(back, jwk);
    }
}

/// Recompute RFC 7638 thumbprints independently: required members, sorted
/// (BTreeMap), compact JSON, SHA-256, base64url.
#[test]
fn kid_is_rfc7638_thumbprint() {
    for k in keys() {
        let jwk = serde_json::to_value(k.public_jwk()).unwrap();
        let required: &[&str] = match k.algorithm() {
            Algorithm::EdDSA => &["crv", "kty", "x"],
            Algorithm::ES256 => &["crv", "kty", "x", "y"],
            Algorithm::RS256 => &["e", "kty", "n"],
        };
        let canonical: BTreeMap<&str, &str> = required
            .iter()
            .map(|m| (*m, jwk[*m].as_str().unwrap()))
            .collect();
        let json = serde_json::to_string(&canonical).unwrap();
        let expected = B64.encode(Sha256::digest(json.as_bytes()));
        assert_eq!(k.kid(), expected);
        assert_eq!(k.public_jwk().thumbprint().unwrap(), expected);
    }
}

// ------------------------------------------------------------ forged tokens

#[test]
fn alg_none_rejected() {
    let v = verifier();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let h = json!({"alg": alg, "typ": TOKEN_TYPE, "kid": ed().kid()});
        // Empty signature: fails the shape check.
        let t = unsigned(&h, &payload(), "");
        assert_eq!(v.verify(&t, NOW), Err(VerifyError::Malformed), "{alg}");
        let t = format!("{}.", &t[..t.len() - 1]);
        assert_eq!(v.verify(&t, NOW), Err(VerifyError::Malformed), "{alg}");
        // With a (real, copied) signature.
        let real = ed().sign(&claims()).unwrap();
        let t = unsigned(&h, &payload(), split(&real).2);
        assert_eq!(
            v.verify(&t, NOW),
            Err(VerifyError::UnsupportedAlgorithm),
            "{alg}"
        );
    }
}

#[test]
fn hs256_with_public_key_as_secret_rejected() {
    use rsa::pkcs8::EncodePublicKey as _;
    let v = verifier();
    for k in keys() {
        let jwk = k.public_jwk();
        let mut secrets: Vec<Vec<u8>> = vec![serde_json::to_vec(&jwk).unwrap()];
        if let Some(x) = &jwk.x {
            secrets.push(B64.decode(x).unwrap());
        }
        if k.algorithm() == Algorithm::RS256 {
            use rsa::pkcs8::DecodePrivateKey as _;
            let rsa = rsa::RsaPrivateKey::from_pkcs8_der(&k.to_pkcs8_der()).unwrap();
            let pem = rsa
                .to_public_key()
                .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
                .unwrap();
            secrets.push(pem.into_bytes());
        }
        for alg in [
            jsonwebtoken::Algorithm::HS256,
            jsonwebtoken::Algorithm::HS384,
            jsonwebtoken::Algorithm::HS512,
        ] {
            for secret in &secrets {
                let mut h = jsonwebtoken::Header::new(alg);
                h.typ = Some(TOKEN_TYPE.into());
                h.kid = Some(k.kid().into());
                let t = jsonwebtoken::encode(
                    &h,
                    &claims(),
                    &jsonwebtoken::EncodingKey::from_secret(secret),
                )
                .unwrap();
                assert_eq!(v.verify(&t, NOW), Err(VerifyError::UnsupportedAlgorithm));
            }
        }
    }
}

#[test]
fn bad_signatures_rejected() {
    let v = verifier();
    for k in keys() {
        let token = k.sign(&claims()).unwrap();
        let (h, p, s) = split(&token);
        let sig = B64.decode(s).unwrap();
        // Null signature of the right length.
        let t = format!("{h}.{p}.{}", B64.encode(vec![0u8; sig.len()]));
        assert_eq!(v.verify(&t, NOW), Err(VerifyError::BadSignature));
        // Truncated (byte-wise) and extended signatures.
        for bad in [&sig[..sig.len() - 1], &sig[..sig.len() / 2], &sig[..1]] {
            let t = format!("{h}.{p}.{}", B64.encode(bad));
            assert_eq!(v.verify(&t, NOW), Err(VerifyError::BadSignature));
        }
        let mut longer = sig.clone();
        longer.push(0);
        let t = format!("{h}.{p}.{}", B64.encode(longer));
        assert_eq!(v.verify(&t, NOW), Err(VerifyError::BadSignature));
        // Character-truncated signature: rejected one way or another.
        assert!(v.verify(&token[..token.len() - 3], NOW).is_err());
        // Flipped signature bit.
        let mut flipped = sig.clone();
        flipped[sig.len() / 2] ^= 1;
        let t = format!("{h}.{p}.{}", B64.encode(flipped));
        assert_eq!(v.verify(&t, NOW), Err(VerifyError::BadSignature));
        // One changed payload byte (still valid JSON with valid claims).
        let mut body = B64.decode(p).unwrap();
        let pos = body.windows(7).position(|w| w == b"user-42").unwrap();
        body[pos + 5] = b'3';
        let t = format!("{h}.{}.{s}", B64.encode(&body));
        assert_eq!(v.verify(&t, NOW), Err(VerifyError::BadSignature));
        // Signature from another key with the same algorithm.
        let other = SigningKey::generate(Algorithm::EdDSA).unwrap();
        if k.algorithm() == Algorithm::EdDSA {
            let forged = sign_json(&other, &header(k), &payload());
            assert_eq!(v.verify(&forged, NOW), Err(VerifyError::BadSignature));
        }
        // Signature swapped in from another token of the same key.
        let mut c = claims();
        c.roles.push("root".into());
        let t2 = k.sign(&c).unwrap();
        let t = format!("{}.{}.{s}", split(&t2).0, split(&t2).1);
        assert_eq!(v.verify(&t, NOW), Err(VerifyError::BadSignature));
    }
}

/// ECDSA signatures are malleable: `(r, n - s)` verifies wherever `(r, s)`
/// does. Only the low-S form is accepted, so a token has exactly one valid
/// encoding (a cache or replay check keyed by the token string cannot be
/// sidestepped by a second one).
#[test]
fn es256_signatures_with_a_high_s_are_refused() {
    let v = verifier();
    let k = key(Algorithm::ES256);
    for _ in 0..4 {
        let token = k.sign(&claims()).unwrap();
        let (h, p, s) = split(&token);
        let sig = p256::ecdsa::Signature::from_slice(&B64.decode(s).unwrap()).unwrap();
        assert!(
            sig.normalize_s().is_none(),
            "Warden signs with a low S already"
        );
        let high = p256::ecdsa::Signature::from_scalars(sig.r(), -sig.s()).unwrap();
        assert!(high.normalize_s().is_some());
        let t = format!("{h}.{p}.{}", B64.encode(high.to_bytes()));
        assert_eq!(v.verify(&t, NOW), Err(VerifyError::BadSignature));
        assert!(v.verify(&token, NOW).is_ok());
    }
}

#[test]
fn unknown_and_abusive_kids_rejected() {
    let v = verifier();
    let other = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let t = other.sign(&claims()).unwrap();
    assert_eq!(v.verify(&t, NOW), Err(VerifyError::UnknownKey));
    for kid in [
        "../../dev/null",
        "' UNION SELECT '1",
        "|sleep 10",
        "/etc/passwd",
        "http://127.0.0.1:9/",
        "\u{0000}",
    ] {
        let mut h = header(ed());
        h["kid"] = json!(kid);
        let t = sign_json(ed(), &h, &payload());
        assert_eq!(v.verify(&t, NOW), Err(VerifyError::UnknownKey), "{kid}");
    }
    for kid in [
        json!(null),
        json!(1),
        json!(""),
        json!([ed().kid()]),
        json!({}),
    ] {
        let mut h = header(ed());
        h["kid"] = kid;
        let t = sign_json(ed(), &h, &payload());
        assert_eq!(v.verify(&t, NOW), Err(VerifyError::MissingKid));
    }
    let mut h = header(ed());
    h.as_object_mut().unwrap().remove("kid");
    assert_eq!(
        v.verify(&sign_json(ed(), &h, &payload()), NOW),
        Err(VerifyError::MissingKid)
    );
}

#[test]
fn algorithm_confusion_rejected() {
    let v = verifier();
    let real = ed().sign(&claims()).unwrap();
    let sig = split(&real).2;
    for (alg, expected) in [
        ("ES384", VerifyError::UnsupportedAlgorithm),
        ("HS256", VerifyError::UnsupportedAlgorithm),
        ("PS256", VerifyError::UnsupportedAlgorithm),
        ("eddsa", VerifyError::UnsupportedAlgorithm),
        ("RS256", VerifyError::AlgorithmMismatch),
        ("ES256", VerifyError::AlgorithmMismatch),
    ] {
        let mut h = header(ed());
        h["alg"] = json!(alg);
        assert_eq!(
            v.verify(&unsigned(&h, &payload(), sig), NOW),
            Err(expected.clone())
        );
        assert_eq!(
            v.verify(&sign_json(ed(), &h, &payload()), NOW),
            Err(expected)
        );
    }
    // Real RS256 token presented under the Ed25519 kid.
    let rs = key(Algorithm::RS256);
    let mut h = header(rs);
    h["kid"] = json!(ed().kid());
    let t = sign_json(rs, &h, &payload());
    assert_eq!(v.verify(&t, NOW), Err(VerifyError::AlgorithmMismatch));
    // Algorithm not enabled in the configuration.
    let mut cfg = VerifierConfig::new(ISS, AUD);
    cfg.algorithms = vec![Algorithm::EdDSA];
    let mut only_ed = Verifier::new(cfg);
    for k in keys() {
        only_ed.add_key(&k.public_jwk()).unwrap();
    }
    let t = key(Algorithm::ES256).sign(&claims()).unwrap();
    assert_eq!(
        only_ed.verify(&t, NOW),
        Err(VerifyError::UnsupportedAlgorithm)
    );
    assert!(only_ed.verify(&ed().sign(&claims()).unwrap(), NOW).is_ok());
}

#[test]
fn typ_rules() {
    let v = verifier();
    for typ in [
        None,
        Some(json!("JWT")),
        Some(json!("jwt")),
        Some(json!(null)),
        Some(json!(1)),
        Some(json!("at+jwt ")),
    ] {
        let mut h = header(ed());
        match typ {
            None => {
                h.as_object_mut().unwrap().remove("typ");
            }
            Some(t) => h["typ"] = t,
        }
        let t = sign_json(ed(), &h, &payload());
        assert_eq!(v.verify(&t, NOW), Err(VerifyError::WrongType));
    }
}

#[test]
fn embedded_key_headers_rejected() {
    let v = verifier();
    let extra = [
        ("jwk", serde_json::to_value(ed().public_jwk()).unwrap()),
        ("jku", json!("http://127.0.0.1:9/")),
        ("x5u", json!("http://127.0.0.1:9/")),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
        ("b64", json!(false)),
    ];
    for (name, value) in extra {
        let mut h = header(ed());
        h[name] = value;
        let t = sign_json(ed(), &h, &payload());
        assert_eq!(
            v.verify(&t, NOW),
            Err(VerifyError::ForbiddenHeader),
            "{name}"
        );
    }
    // An attacker key embedded in the header is not used.
    let attacker = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let mut h = header(&attacker);
    h["jwk"] = serde_json::to_value(attacker.public_jwk()).unwrap();
    let t = sign_json(&attacker, &h, &payload());
    assert!(v.verify(&t, NOW).is_err());
}

#[test]
fn time_rules() {
    let v = verifier();
    let check = |f: &dyn Fn(&mut AccessClaims), now: i64| {
        v.verify(
            &ed()
                .sign(&{
                    let mut c = claims();
                    f(&mut c);
                    c
                })
                .unwrap(),
            now,
        )
    };
    // exp
    assert!(
        check(&|c| c.exp = NOW - LEEWAY + 1, NOW).is_ok(),
        "within leeway"
    );
    assert!(check(&|c| c.exp = NOW, NOW).is_ok(), "within leeway");
    assert_eq!(
        check(&|c| c.exp = NOW - LEEWAY, NOW),
        Err(VerifyError::Expired)
    );
    assert_eq!(
        check(&|c| c.exp = NOW - 3600, NOW),
        Err(VerifyError::Expired)
    );
    assert!(check(&|_| (), NOW + 300 + LEEWAY).unwrap_err().is_expired());
    assert_eq!(check(&|c| c.exp = i64::MIN, NOW), Err(VerifyError::Expired));
    assert!(check(&|c| c.exp = i64::MAX, NOW).is_ok());
    // nbf / iat
    assert!(check(&|c| c.nbf = NOW + LEEWAY, NOW).is_ok());
    assert_eq!(
        check(&|c| c.nbf = NOW + LEEWAY + 1, NOW),
        Err(VerifyError::NotYetValid)
    );
    assert_eq!(
        check(&|c| c.nbf = i64::MAX, NOW),
        Err(VerifyError::NotYetValid)
    );
    assert!(check(&|c| c.iat = NOW + LEEWAY, NOW).is_ok());
    assert_eq!(
        check(&|c| c.iat = NOW + 3600, NOW),
        Err(VerifyError::NotYetValid)
    );
    // now at the extremes does not overflow
    assert_eq!(check(&|_| (), i64::MAX), Err(VerifyError::Expired));
    assert_eq!(check(&|_| (), i64::MIN), Err(VerifyError::NotYetValid));
    // leeway 0 and clamping
    let mut cfg = VerifierConfig::new(ISS, AUD);
    cfg.leeway_secs = 0;
    let strict = Verifier::from_jwks(
        cfg.clone(),
        &JwkSet {
            keys: vec![ed().public_jwk()],
        },
    )
    .unwrap();
    let t = ed().sign(&claims()).unwrap();
    assert_eq!(strict.verify(&t, NOW + 300), Err(VerifyError::Expired));
    assert!(strict.verify(&t, NOW + 299).is_ok());
    cfg.leeway_secs = 10_000;
    let lax = Verifier::from_jwks(
        cfg,
        &JwkSet {
            keys: vec![ed().public_jwk()],
        },
    )
    .unwrap();
    assert!(lax.verify(&t, NOW + 359).is_ok());
    assert_eq!(lax.verify(&t, NOW + 360), Err(VerifyError::Expired));
}

#[test]
fn issuer_and_audience_rules() {
    let v = verifier();
    let mut c = claims();
    c.iss = "https://evil.test".into();
    assert_eq!(
        v.verify(&ed().sign(&c).unwrap(), NOW),
        Err(VerifyError::WrongIssuer {
            issued_by: c.iss.clone(),
            expected: ISS.into(),
        })
    );
    c = claims();
    c.iss = format!("{ISS}/");
    assert_eq!(
        v.verify(&ed().sign(&c).unwrap(), NOW),
        Err(VerifyError::WrongIssuer {
            issued_by: c.iss.clone(),
            expected: ISS.into(),
        })
    );
    c = claims();
    c.aud = Audience::One("other".into());
    assert_eq!(
        v.verify(&ed().sign(&c).unwrap(), NOW),
        Err(VerifyError::WrongAudience)
    );
    c.aud = Audience::Many(vec![]);
    assert_eq!(
        v.verify(&ed().sign(&c).unwrap(), NOW),
        Err(VerifyError::WrongAudience)
    );
    c.aud = Audience::Many(vec!["other".into(), AUD.into()]);
    let got = v.verify(&ed().sign(&c).unwrap(), NOW).unwrap();
    assert!(got.aud.contains(AUD));
    let mut p = payload();
    p.as_object_mut().unwrap().remove("aud");
    assert_eq!(
        v.verify(&sign_json(ed(), &header(ed()), &p), NOW),
        Err(VerifyError::InvalidClaims)
    );
}

#[test]
fn claim_structure_rules() {
    let v = verifier();
    for claim in [
        "exp", "iat", "nbf", "iss", "aud", "sub", "sid", "jti", "roles",
    ] {
        let mut p = payload();
        p.as_object_mut().unwrap().remove(claim);
        assert_eq!(
            v.verify(&sign_json(ed(), &header(ed()), &p), NOW),
            Err(VerifyError::InvalidClaims),
            "{claim}"
        );
    }
    let mut p = payload();
    p["exp"] = json!((NOW + 300) as f64);
    assert_eq!(
        v.verify(&sign_json(ed(), &header(ed()), &p), NOW),
        Err(VerifyError::InvalidClaims)
    );
    p["exp"] = json!((NOW + 300).to_string());
    assert_eq!(
        v.verify(&sign_json(ed(), &header(ed()), &p), NOW),
        Err(VerifyError::InvalidClaims)
    );
    // Extra claims are fine.
    let mut p = payload();
    p["scope"] = json!("openid");
    assert!(v.verify(&sign_json(ed(), &header(ed()), &p), NOW).is_ok());
    // Payload as an array, duplicate claims, non-JSON payload.
    let h = serde_json::to_vec(&header(ed())).unwrap();
    let c = claims();
    let arr = json!([
        c.iss, c.sub, c.aud, c.exp, c.iat, c.nbf, c.jti, c.sid, c.roles
    ]);
    let t = sign_raw(ed(), &h, &serde_json::to_vec(&arr).unwrap());
    assert_eq!(v.verify(&t, NOW), Err(VerifyError::InvalidClaims));
    let mut dup = serde_json::to_string(&payload()).unwrap();
    dup.insert_str(1, r#""iss":"https://evil.test","#);
    let t = sign_raw(ed(), &h, dup.as_bytes());
    assert_eq!(v.verify(&t, NOW), Err(VerifyError::InvalidClaims));
    for junk in [&b"not json"[..], b"null", b"{}", b"{\"exp\":1", b"\xff\xfe"] {
        let t = sign_raw(ed(), &h, junk);
        assert_eq!(v.verify(&t, NOW), Err(VerifyError::InvalidClaims));
    }
    // Duplicate header members.
    let dup_h = format!(
        r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{}","kid":"{}"}}"#,
        ed().kid(),
        ed().kid()
    );
    let t = sign_raw(
        ed(),
        dup_h.as_bytes(),
        &serde_json::to_vec(&payload()).unwrap(),
    );
    assert_eq!(v.verify(&t, NOW), Err(VerifyError::Malformed));
}

#[test]
fn shape_rules() {
    let v = verifier();
    let good = ed().sign(&claims()).unwrap();
    let (h, p, s) = split(&good);
    let long = "a".repeat(MAX_TOKEN_LEN + 1);
    assert_eq!(v.verify(&long, NOW), Err(VerifyError::TooLong));
    let padded = format!("{good}{}", ".".repeat(MAX_TOKEN_LEN));
    assert_eq!(v.verify(&padded, NOW), Err(VerifyError::TooLong));
    let exact = "a".repeat(MAX_TOKEN_LEN);
    assert_eq!(v.verify(&exact, NOW), Err(VerifyError::Malformed));
    for bad in [
        String::new(),
        ".".into(),
        "..".into(),
        "...".into(),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!(".{p}.{s}"),
        format!("{h}..{s}"),
        format!("{h}.{p}."),
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}.{s}="),
        format!("{h}.{p}.{s}=="),
        format!(" {good}"),
        format!("{good}\n"),
        format!("{h}.{p}.{}", s.replace('-', "+").replace('_', "/")),
        format!("{}.{p}.{s}", B64.encode("[]")),
        format!("{}.{p}.{s}", B64.encode("not json")),
        format!("{}.{p}.{s}", B64.encode("\"at+jwt\"")),
    ] {
        // The '+'/'/' variant is only malformed if the signature had -/_.
        if bad == good {
            continue;
        }
        assert_eq!(v.verify(&bad, NOW), Err(VerifyError::Malformed), "{bad:?}");
    }
}

// ------------------------------------------------------------ key management

#[test]
fn key_management() {
    let mut v = Verifier::new(VerifierConfig::new(ISS, AUD));
    let jwk = ed().public_jwk();
    v.add_key(&jwk).unwrap();
    v.add_key(&jwk).unwrap(); // identical: no-op
    assert!(v.has_key(ed().kid()));
    assert_eq!(v.kids().collect::<Vec<_>>(), vec![ed().kid()]);
    let mut other = key(Algorithm::ES256).public_jwk();
    other.kid = jwk.kid.clone();
    assert!(matches!(v.add_key(&other), Err(KeyError::DuplicateKid)));
    v.remove_key(ed().kid());
    assert!(!v.has_key(ed().kid()));
    assert_eq!(
        v.verify(&ed().sign(&claims()).unwrap(), NOW),
        Err(VerifyError::UnknownKey)
    );
    v.remove_key("nope");

    let dup = JwkSet {
        keys: vec![jwk.clone(), jwk.clone()],
    };
    assert!(matches!(
        Verifier::from_jwks(VerifierConfig::new(ISS, AUD), &dup),
        Err(KeyError::DuplicateKid)
    ));

    // Inconsistent JWKs.
    let es = key(Algorithm::ES256).public_jwk();
    let rs = key(Algorithm::RS256).public_jwk();
    let mut bad: Vec<Jwk> = Vec::new();
    let mut j = jwk.clone();
    j.kty = "EC".into();
    bad.push(j);
    let mut j = jwk.clone();
    j.alg = Algorithm::ES256;
    bad.push(j);
    let mut j = jwk.clone();
    j.crv = Some("X25519".into());
    bad.push(j);
    let mut j = jwk.clone();
    j.crv = None;
    bad.push(j);
    let mut j = jwk.clone();
    j.use_ = "enc".into();
    bad.push(j);
    let mut j = jwk.clone();
    j.x = Some(B64.encode([1u8; 31]));
    bad.push(j);
    let mut j = jwk.clone();
    j.x = Some(B64.encode([0u8; 32])); // small-order point
    bad.push(j);
    let mut j = jwk.clone();
    j.n = rs.n.clone();
    bad.push(j);
    let mut j = es.clone();
    j.crv = Some("P-384".into());
    bad.push(j);
    let mut j = es.clone();
    j.y = es.x.clone(); // not on the curve (overwhelmingly likely)
    bad.push(j);
    let mut j = es.clone();
    j.y = None;
    bad.push(j);
    let mut j = es.clone();
    j.alg = Algorithm::EdDSA;
    bad.push(j);
    let mut j = rs.clone();
    j.n = Some(B64.encode([0xC5u8; 128])); // 1024 bits
    bad.push(j);
    let mut j = rs.clone();
    j.e = Some("AAEAAQ".into()); // non-minimal
    bad.push(j);
    let mut j = rs.clone();
    j.crv = Some("P-256".into());
    bad.push(j);
    let mut j = rs.clone();
    j.e = None;
    bad.push(j);
    let mut j = rs.clone();
    j.n = Some("!!!".into());
    bad.push(j);
    let mut j = rs.clone();
    j.kid = String::new();
    bad.push(j);
    for (i, j) in bad.iter().enumerate() {
        let mut v = Verifier::new(VerifierConfig::new(ISS, AUD));
        assert!(v.add_key(j).is_err(), "bad jwk #{i}: {j:?}");
        assert!(!v.has_key(&j.kid) || j.kid.is_empty());
    }

    // JWKs with private members never deserialize.
    let mut with_d = serde_json::to_value(&jwk).unwrap();
    with_d["d"] = json!(B64.encode([7u8; 32]));
    assert!(serde_json::from_value::<Jwk>(with_d.clone()).is_err());
    assert!(serde_json::from_value::<JwkSet>(json!({ "keys": [with_d] })).is_err());
}

// ------------------------------------------------------------- claim fuzzing

/// Reference model of the acceptance rules, written independently over
/// untyped JSON.
fn model_accepts(k: &SigningKey, token_len: usize, h: &Value, p: &Value, now: i64) -> bool {
    if token_len > MAX_TOKEN_LEN {
        return false;
    }
    let Some(h) = h.as_object() else { return false };
    let typ_ok = h.get("typ").and_then(Value::as_str).is_some_and(|t| {
        t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
    });
    let alg_ok = h.get("alg").and_then(Value::as_str) == Some(k.algorithm().as_str());
    let kid_ok = h.get("kid").and_then(Value::as_str) == Some(k.kid());
    let forbidden = ["jwk", "jku", "x5u", "x5c", "crit", "b64", "zip"]
        .iter()
        .any(|m| h.contains_key(*m));
    if !typ_ok || !alg_ok || !kid_ok || forbidden {
        return false;
    }
    let Some(p) = p.as_object() else { return false };
    let int = |n: &str| p.get(n).and_then(Value::as_i64);
    let string = |n: &str| p.get(n).and_then(Value::as_str);
    let (Some(exp), Some(iat), Some(nbf)) = (int("exp"), int("iat"), int("nbf")) else {
        return false;
    };
    if string("sub").is_none() || string("jti").is_none() || string("sid").is_none() {
        return false;
    }
    let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(Value::is_string));
    if !p.get("roles").is_some_and(strings) {
        return false;
    }
    let aud_ok = match p.get("aud") {
        Some(Value::String(a)) => a == AUD,
        Some(v @ Value::Array(a)) => strings(v) && a.iter().any(|x| x == AUD),
        _ => return false,
    };
    let aud_typed =
        matches!(p.get("aud"), Some(Value::String(_))) || p.get("aud").is_some_and(strings);
    if !aud_typed {
        return false;
    }
    exp > now - LEEWAY
        && nbf <= now + LEEWAY
        && iat <= now + LEEWAY
        && string("iss") == Some(ISS)
        && aud_ok
}

fn retypes() -> Vec<Value> {
    vec![
        json!(42),
        json!("42"),
        json!([1]),
        json!(["x"]),
        json!([]),
        json!(null),
        json!({}),
        json!({"a": 1}),
        json!(true),
        json!(1.5),
    ]
}

fn extremes() -> Vec<Value> {
    vec![
        json!(i64::MAX),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(-1),
        json!(0),
        json!(1e300),
        json!(NOW as f64),
        json!(""),
        json!("x".repeat(7000)),
        json!("\u{0000}\u{202e}é"),
        json!(AUD),
        json!(ISS),
        json!([AUD]),
        json!([AUD, "x"]),
        json!([AUD, 1]),
        json!(["admin", null]),
        json!(NOW - LEEWAY),
        json!(NOW + LEEWAY + 1),
    ]
}

fn mutations(k: &SigningKey) -> Vec<(String, Value, Value)> {
    let (h0, p0) = (header(k), payload());
    let mut out = Vec::new();
    for name in p0.as_object().unwrap().keys() {
        let mut p = p0.clone();
        p.as_object_mut().unwrap().remove(name);
        out.push((format!("remove claim {name}"), h0.clone(), p));
        for v in retypes().into_iter().chain(extremes()) {
            let mut p = p0.clone();
            p[name] = v.clone();
            out.push((format!("claim {name} = {v:.40}"), h0.clone(), p));
        }
    }
    for (name, v) in [
        ("scope", json!("admin")),
        ("roles2", json!(["root"])),
        ("", json!(1)),
    ] {
        let mut p = p0.clone();
        p[name] = v;
        out.push((format!("add claim {name:?}"), h0.clone(), p));
    }
    for payload in [json!(null), json!([]), json!("x"), json!(1), json!({})] {
        out.push((format!("payload {payload}"), h0.clone(), payload));
    }
    for name in h0.as_object().unwrap().keys() {
        let mut h = h0.clone();
        h.as_object_mut().unwrap().remove(name);
        out.push((format!("remove header {name}"), h, p0.clone()));
        for v in retypes().into_iter().chain([
            json!(""),
            json!("none"),
            json!("HS256"),
            json!("ES384"),
            json!("JWT"),
            json!("application/at+jwt"),
            json!(k.kid().to_uppercase()),
            json!(format!("{} ", k.kid())),
        ]) {
            let mut h = h0.clone();
            h[name] = v.clone();
            out.push((format!("header {name} = {v}"), h, p0.clone()));
        }
    }
    for (name, v) in [
        ("jwk", serde_json::to_value(k.public_jwk()).unwrap()),
        ("jku", json!("http://127.0.0.1:9/")),
        ("x5u", json!("http://127.0.0.1:9/")),
        ("x5c", json!([])),
        ("crit", json!([])),
        ("zip", json!("DEF")),
        ("cty", json!("JWT")),
        ("x5t", json!("AAAA")),
    ] {
        let mut h = h0.clone();
        h[name] = v;
        out.push((format!("add header {name}"), h, p0.clone()));
    }
    for header in [json!(null), json!([]), json!("at+jwt"), json!({})] {
        out.push((format!("header {header}"), header, p0.clone()));
    }
    out
}

#[test]
fn claim_fuzzing() {
    let v = verifier();
    let mut checked = 0usize;
    let mut accepted_resigned = 0usize;
    for k in keys() {
        let (h0, p0) = (header(k), payload());
        let base = sign_json(k, &h0, &p0);
        assert!(v.verify(&base, NOW).is_ok());
        let (bh, bp, bs) = split(&base);
        for (what, h, p) in mutations(k) {
            // 1. Original signature: must be rejected unless byte-identical.
            let t = unsigned(&h, &p, bs);
            let (th, tp, _) = split(&t);
            if (th, tp) != (bh, bp) {
                assert!(
                    v.verify(&t, NOW).is_err(),
                    "{}: accepted with original signature: {what}",
                    k.algorithm()
                );
            }
            // 2. Re-signed with the real key: accepted iff the model says so.
            let t = sign_json(k, &h, &p);
            let expected = model_accepts(k, t.len(), &h, &p, NOW);
            let got = v.verify(&t, NOW);
            assert_eq!(got.is_ok(), expected, "{}: {what}: {got:?}", k.algorithm());
            if let Ok(claims) = got {
                accepted_resigned += 1;
                assert_eq!(
                    serde_json::to_value(&claims)
                        .unwrap()
                        .as_object()
                        .unwrap()
                        .len(),
                    9
                );
                let mut expected_claims = p.clone();
                expected_claims
                    .as_object_mut()
                    .unwrap()
                    .retain(|name, _| p0.as_object().unwrap().contains_key(name));
                assert_eq!(
                    serde_json::to_value(&claims).unwrap(),
                    expected_claims,
                    "{what}"
                );
            }
            checked += 1;
        }
    }
    eprintln!("fuzz: {checked} mutations, {accepted_resigned} accepted after re-signing");
    assert!(checked > 300, "only {checked} mutations");
    assert!(accepted_resigned > 0 && accepted_resigned < checked / 2);
}
