//! Signing keys the tests mint ID tokens with, and their public JWKs.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::rngs::OsRng;
use serde_json::{Value, json};

pub struct TestKey {
    pub kid: String,
    algorithm: Algorithm,
    encoding: EncodingKey,
    public: Value,
}

impl TestKey {
    /// RSA keys are slow to generate; the tests share a few.
    pub fn rsa(slot: usize, kid: &str) -> TestKey {
        static KEYS: OnceLock<Vec<rsa::RsaPrivateKey>> = OnceLock::new();
        let keys = KEYS.get_or_init(|| {
            (0..2)
                .map(|_| rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap())
                .collect()
        });
        use rsa::pkcs1::EncodeRsaPrivateKey as _;
        use rsa::traits::PublicKeyParts as _;
        let key = &keys[slot];
        TestKey {
            kid: kid.to_owned(),
            algorithm: Algorithm::RS256,
            encoding: EncodingKey::from_rsa_der(key.to_pkcs1_der().unwrap().as_bytes()),
            public: json!({
                "kty": "RSA", "alg": "RS256", "use": "sig",
                "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()),
                "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be()),
            }),
        }
    }

    pub fn ec(kid: &str) -> (TestKey, String) {
        use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
        let key = p256::SecretKey::random(&mut OsRng);
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
        let public: Value = serde_json::from_str(&key.public_key().to_jwk_string()).unwrap();
        let test_key = TestKey {
            kid: kid.to_owned(),
            algorithm: Algorithm::ES256,
            encoding: EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
            public,
        };
        (test_key, pem)
    }

    pub fn ed(kid: &str) -> TestKey {
        use ed25519_dalek::pkcs8::EncodePrivateKey as _;
        let key = ed25519_dalek::SigningKey::generate(&mut OsRng);
        TestKey {
            kid: kid.to_owned(),
            algorithm: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(key.to_pkcs8_der().unwrap().as_bytes()),
            public: json!({
                "kty": "OKP", "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes()),
            }),
        }
    }

    pub fn jwk(&self) -> Value {
        let mut jwk = self.public.clone();
        jwk["kid"] = json!(self.kid);
        jwk
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>() })
}

/// A token with `alg: none` and no signature.
pub fn unsigned(kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "none", "typ": "JWT", "kid": kid});
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    format!("{}.{}.", part(&header), part(claims))
}

/// A token "signed" with HMAC keyed by `secret` (our client secret).
pub fn hmac_signed(kid: &str, secret: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}
