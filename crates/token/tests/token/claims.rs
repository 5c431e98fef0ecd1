//! Claim rules: time (`exp`, `nbf`, `iat` with leeway), issuer and
//! audience, claim structure and token shape.

use super::*;

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
