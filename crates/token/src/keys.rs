//! Private signing keys and token signing.
//!
//! A [`SigningKey`] holds one private key bound to one [`Algorithm`] and a
//! `kid` equal to the RFC 7638 thumbprint of its public key. Its `Debug`
//! output never shows key material, and the key is zeroized on drop.
//!
//! ```
//! use warden_token::{Algorithm, SigningKey};
//!
//! let key = SigningKey::generate(Algorithm::EdDSA)?;
//! let der = key.to_pkcs8_der(); // store encrypted
//! let again = SigningKey::from_pkcs8_der(Algorithm::EdDSA, &der)?;
//! assert_eq!(again.kid(), key.kid());
//! assert_eq!(format!("{key:?}").contains("[redacted]"), true);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use rand::rngs::OsRng;
use rsa::traits::PublicKeyParts as _;
use serde::Serialize;
use zeroize::Zeroizing;

use crate::algorithm::Algorithm;
use crate::claims::AccessClaims;
use crate::id_token::IdTokenClaims;
use crate::jwk::{Jwk, PublicKey};
use crate::{ID_TOKEN_TYPE, MAX_RSA_BITS, MAX_TOKEN_LEN, MIN_RSA_BITS, TOKEN_TYPE, b64};

/// Errors about keys: generation, parsing, JWK validation and signing.
/// Messages never contain key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Key generation failed.
    #[error("key generation failed")]
    Generate,
    /// The PKCS#8 document could not be parsed as a key for the algorithm.
    #[error("invalid PKCS#8 private key for this algorithm")]
    InvalidPkcs8,
    /// RSA key size outside the accepted range (2048..=4096 bits).
    #[error("RSA key size not accepted")]
    RsaKeySize,
    /// Encoding the key failed.
    #[error("key encoding failed")]
    Encode,
    /// A JWK contains private key members.
    #[error("JWK contains private key members")]
    PrivateMembers,
    /// A JWK is malformed or inconsistent (`kty`/`alg`/`crv`/`use`/members).
    #[error("invalid JWK: {0}")]
    InvalidJwk(&'static str),
    /// A different key with the same `kid` is already registered, or a JWK
    /// set contains the same `kid` twice.
    #[error("duplicate kid")]
    DuplicateKid,
    /// Serializing the token failed.
    #[error("token serialization failed")]
    Serialize,
    /// The token would exceed [`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN).
    #[error("token too long")]
    TokenTooLong,
    /// The signature operation failed.
    #[error("signing failed")]
    Sign,
}

#[derive(Clone)]
enum Inner {
    Ed(ed25519_dalek::SigningKey),
    Es(p256::ecdsa::SigningKey),
    Rs(Box<rsa::pkcs1v15::SigningKey<sha2::Sha256>>),
}

/// A private signing key with its `kid` and algorithm.
#[derive(Clone)]
pub struct SigningKey {
    inner: Inner,
    alg: Algorithm,
    kid: String,
    public: Jwk,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("key", &"[redacted]")
            .finish()
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    kid: &'a str,
}

impl SigningKey {
    /// Generate a fresh key with the OS RNG (RSA: 2048 bits).
    pub fn generate(alg: Algorithm) -> Result<SigningKey, KeyError> {
        let inner = match alg {
            Algorithm::EdDSA => Inner::Ed(ed25519_dalek::SigningKey::generate(&mut OsRng)),
            Algorithm::ES256 => Inner::Es(p256::ecdsa::SigningKey::random(&mut OsRng)),
            Algorithm::RS256 => Inner::Rs(Box::new(rsa::pkcs1v15::SigningKey::new(
                rsa::RsaPrivateKey::new(&mut OsRng, MIN_RSA_BITS)
                    .map_err(|_| KeyError::Generate)?,
            ))),
        };
        Self::from_inner(inner, alg)
    }

    /// Load a PKCS#8 (RFC 5208/5958) DER private key for `alg`.
    /// The `kid` is recomputed as the public key's thumbprint.
    pub fn from_pkcs8_der(alg: Algorithm, der: &[u8]) -> Result<SigningKey, KeyError> {
        let inner = match alg {
            Algorithm::EdDSA => Inner::Ed(
                ed25519_dalek::SigningKey::from_pkcs8_der(der)
                    .map_err(|_| KeyError::InvalidPkcs8)?,
            ),
            Algorithm::ES256 => Inner::Es(
                p256::ecdsa::SigningKey::from_pkcs8_der(der).map_err(|_| KeyError::InvalidPkcs8)?,
            ),
            Algorithm::RS256 => Inner::Rs(Box::new(rsa::pkcs1v15::SigningKey::new(
                rsa::RsaPrivateKey::from_pkcs8_der(der).map_err(|_| KeyError::InvalidPkcs8)?,
            ))),
        };
        Self::from_inner(inner, alg)
    }

    fn from_inner(inner: Inner, alg: Algorithm) -> Result<SigningKey, KeyError> {
        let (public, pkcs8) = match &inner {
            Inner::Ed(k) => {
                let x = b64::encode(k.verifying_key().as_bytes());
                let der = k.to_pkcs8_der().map_err(|_| KeyError::Encode)?;
                (PublicKey::Ed { x }, der.as_bytes().to_vec())
            }
            Inner::Es(k) => {
                let point = k.verifying_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(KeyError::Encode);
                };
                let public = PublicKey::Ec {
                    x: b64::encode(x),
                    y: b64::encode(y),
                };
                let der =
                    p256::pkcs8::EncodePrivateKey::to_pkcs8_der(k).map_err(|_| KeyError::Encode)?;
                (public, der.as_bytes().to_vec())
            }
            Inner::Rs(k) => {
                let k: &rsa::RsaPrivateKey = k.as_ref().as_ref();
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&(k.n().bits())) {
                    return Err(KeyError::RsaKeySize);
                }
                let public = PublicKey::Rsa {
                    n: b64::encode(k.n().to_bytes_be()),
                    e: b64::encode(k.e().to_bytes_be()),
                };
                let der =
                    rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(k).map_err(|_| KeyError::Encode)?;
                (public, der.as_bytes().to_vec())
            }
        };
        let kid = public.thumbprint();
        let public = public.to_jwk(kid.clone(), alg);
        Ok(SigningKey {
            inner,
            alg,
            kid,
            public,
            pkcs8: Zeroizing::new(pkcs8),
        })
    }

    /// The private key as PKCS#8 DER, for (encrypted) storage.
    /// Round-trips with [`SigningKey::from_pkcs8_der`].
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        self.pkcs8.clone()
    }

    /// The key id: RFC 7638 SHA-256 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The public key as a JWK (public members only).
    pub fn public_jwk(&self) -> Jwk {
        self.public.clone()
    }

    /// Sign `claims` as a compact JWS with header `{alg, typ: "at+jwt", kid}`.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, KeyError> {
        self.sign_claims(TOKEN_TYPE, claims)
    }

    /// Sign `claims` as an OpenID Connect ID token: a compact JWS with
    /// header `{alg, typ: "JWT", kid}`. The `typ` differs from an access
    /// token's, so [`Verifier`](crate::Verifier) never takes an ID token
    /// for an access token, whichever key signed it.
    pub fn sign_id_token(&self, claims: &IdTokenClaims) -> Result<String, KeyError> {
        self.sign_claims(ID_TOKEN_TYPE, claims)
    }

    /// Generic rather than over `&dyn Serialize`, so each kind of claims
    /// serializes as directly as access tokens always did.
    fn sign_claims<C: Serialize>(&self, typ: &'static str, claims: &C) -> Result<String, KeyError> {
        let header = Header {
            alg: self.alg.as_str(),
            typ,
            kid: &self.kid,
        };
        let header = serde_json::to_vec(&header).map_err(|_| KeyError::Serialize)?;
        let payload = serde_json::to_vec(claims).map_err(|_| KeyError::Serialize)?;
        self.sign_parts(&header, &payload)
    }

    /// Sign arbitrary header and payload bytes. Crate-internal: the public
    /// API only signs well-formed Warden tokens.
    pub(crate) fn sign_parts(&self, header: &[u8], payload: &[u8]) -> Result<String, KeyError> {
        let mut token = b64::encode(header);
        token.push('.');
        token.push_str(&b64::encode(payload));
        let sig = self.raw_sign(token.as_bytes())?;
        token.push('.');
        token.push_str(&b64::encode(sig));
        if token.len() > MAX_TOKEN_LEN {
            return Err(KeyError::TokenTooLong);
        }
        Ok(token)
    }

    fn raw_sign(&self, msg: &[u8]) -> Result<Vec<u8>, KeyError> {
        use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _, Signer as _};
        match &self.inner {
            Inner::Ed(k) => Ok(k.sign(msg).to_bytes().to_vec()),
            Inner::Es(k) => {
                let sig: p256::ecdsa::Signature = k.try_sign(msg).map_err(|_| KeyError::Sign)?;
                // Emit low-S signatures: verification accepts no other form.
                let sig = sig.normalize_s().unwrap_or(sig);
                Ok(sig.to_bytes().to_vec())
            }
            Inner::Rs(k) => {
                // Blinded RSA signing.
                let sig = k
                    .try_sign_with_rng(&mut OsRng, msg)
                    .map_err(|_| KeyError::Sign)?;
                Ok(sig.to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        for alg in [Algorithm::EdDSA, Algorithm::ES256] {
            let key = SigningKey::generate(alg).unwrap();
            let dbg = format!("{key:?}");
            assert!(dbg.contains("[redacted]"));
            let der_hex: String = key.to_pkcs8_der()[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(!dbg.contains(&der_hex));
        }
    }

    #[test]
    fn wrong_algorithm_pkcs8_rejected() {
        let ed = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let es = SigningKey::generate(Algorithm::ES256).unwrap();
        assert!(SigningKey::from_pkcs8_der(Algorithm::ES256, &ed.to_pkcs8_der()).is_err());
        assert!(SigningKey::from_pkcs8_der(Algorithm::RS256, &ed.to_pkcs8_der()).is_err());
        assert!(SigningKey::from_pkcs8_der(Algorithm::EdDSA, &es.to_pkcs8_der()).is_err());
        assert!(SigningKey::from_pkcs8_der(Algorithm::EdDSA, b"garbage").is_err());
    }
}
