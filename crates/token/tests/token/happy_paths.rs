//! Happy paths: every algorithm signs and verifies; keys round-trip.

use super::*;

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
fn id_tokens_sign_with_every_algorithm_and_never_pass_as_access_tokens() {
    let v = verifier();
    for k in keys() {
        let access = k.sign(&claims()).unwrap();
        let id = IdTokenClaims {
            iss: ISS.into(),
            sub: "user-42".into(),
            aud: "client-1".into(),
            exp: NOW + 300,
            iat: NOW,
            auth_time: NOW - 5,
            nonce: Some("n-0S6_WzA2Mj".into()),
            acr: "aal1".into(),
            amr: vec!["pwd".into()],
            at_hash: Some(token_hash(k.algorithm(), &access)),
            sid: Some("s-1".into()),
            azp: None,
            email: None,
            email_verified: None,
        };
        let token = k.sign_id_token(&id).unwrap();
        let (h, _, _) = split(&token);
        let h: Value = serde_json::from_slice(&B64.decode(h).unwrap()).unwrap();
        assert_eq!(
            h,
            json!({"alg": k.algorithm().as_str(), "typ": ID_TOKEN_TYPE, "kid": k.kid()}),
            "header must be exactly alg/typ/kid"
        );
        // A relying party's library (jsonwebtoken here) accepts it.
        let jwk: jsonwebtoken::jwk::Jwk =
            serde_json::from_value(serde_json::to_value(k.public_jwk()).unwrap()).unwrap();
        let dk = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut val = jsonwebtoken::Validation::new(jwt_alg(k.algorithm()));
        val.set_audience(&["client-1"]);
        val.set_issuer(&[ISS]);
        val.validate_exp = false;
        let data = jsonwebtoken::decode::<IdTokenClaims>(&token, &dk, &val).unwrap();
        assert_eq!(data.claims, id, "{}", k.algorithm());
        assert_eq!(
            v.verify(&token, NOW),
            Err(VerifyError::WrongType),
            "{}",
            k.algorithm()
        );
    }
    let huge = IdTokenClaims {
        iss: ISS.into(),
        sub: "x".repeat(MAX_TOKEN_LEN),
        aud: "client-1".into(),
        exp: NOW + 300,
        iat: NOW,
        auth_time: NOW,
        nonce: None,
        acr: "aal1".into(),
        amr: Vec::new(),
        at_hash: None,
        sid: None,
        azp: None,
        email: None,
        email_verified: None,
    };
    assert!(matches!(
        ed().sign_id_token(&huge),
        Err(KeyError::TokenTooLong)
    ));
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
