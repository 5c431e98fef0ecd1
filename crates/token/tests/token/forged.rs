//! Forged tokens: `alg: none`, HMAC with the public key, bad signatures,
//! high-S ECDSA, abusive `kid`s, algorithm confusion, `typ` and embedded keys.

use super::*;

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
