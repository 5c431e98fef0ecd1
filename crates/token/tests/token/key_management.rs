//! Key management.

use super::*;

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
