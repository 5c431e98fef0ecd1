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
    AccessClaims, Algorithm, Audience, ID_TOKEN_TYPE, IdTokenClaims, Jwk, JwkSet, KeyError,
    MAX_TOKEN_LEN, SigningKey, TOKEN_TYPE, Verifier, VerifierConfig, VerifyError, token_hash,
};

mod claims;
mod forged;
mod fuzzing;
mod happy_paths;
mod key_management;

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
        amr: vec!["pwd".into()],
        acr: "aal1".into(),
        auth_time: 0,
        client_id: None,
        scope: None,
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
