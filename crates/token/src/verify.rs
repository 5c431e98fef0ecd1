//! Strict access-token verification.
//!
//! [`Verifier::verify`] checks, in order and cheapest first: size and shape,
//! the JOSE header (`typ`, `alg`, forbidden members, `kid`, key/algorithm
//! binding), the signature, and only then the claims (types, `exp`, `nbf`,
//! `iat`, `iss`, `aud`) against a caller-supplied `now`. Nothing is fetched,
//! nothing reads the clock.
//!
//! ```
//! use warden_token::{Algorithm, Verifier, VerifierConfig, VerifyError, SigningKey};
//!
//! let key = SigningKey::generate(Algorithm::ES256)?;
//! let mut verifier = Verifier::new(VerifierConfig::new("https://auth.example", "api"));
//! verifier.add_key(&key.public_jwk())?;
//! assert!(verifier.has_key(key.kid()));
//! assert_eq!(verifier.verify("not.a.token", 0), Err(VerifyError::Malformed));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::algorithm::Algorithm;
use crate::claims::AccessClaims;
use crate::id_token::IdTokenClaims;
use crate::jwk::{Jwk, JwkSet};
use crate::keys::KeyError;
use crate::{MAX_TOKEN_LEN, TOKEN_TYPE, b64};

/// Largest accepted clock-skew leeway, in seconds.
pub const MAX_LEEWAY_SECS: u64 = 60;

/// Header members Warden never issues and never honours.
const FORBIDDEN_HEADERS: [&str; 7] = ["jwk", "jku", "x5u", "x5c", "crit", "b64", "zip"];

/// Why a token was rejected. Messages are short and never echo the token.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a compact JWS with three base64url segments and a JSON header.
    #[error("malformed token")]
    Malformed,
    /// Longer than [`MAX_TOKEN_LEN`](crate::MAX_TOKEN_LEN).
    #[error("token too long")]
    TooLong,
    /// Missing or wrong `typ` header.
    #[error("wrong token type")]
    WrongType,
    /// `alg` missing, unknown or not allowed by the configuration.
    #[error("unsupported algorithm")]
    UnsupportedAlgorithm,
    /// The header contains a member we never accept (`jwk`, `jku`, `x5u`, `x5c`, `crit`, ...).
    #[error("forbidden header")]
    ForbiddenHeader,
    /// No `kid` string in the header.
    #[error("missing key id")]
    MissingKid,
    /// The `kid` is not a known key.
    #[error("unknown key")]
    UnknownKey,
    /// The header `alg` is not the algorithm bound to the key.
    #[error("algorithm does not match key")]
    AlgorithmMismatch,
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The payload is not a valid set of access-token claims.
    #[error("invalid claims")]
    InvalidClaims,
    /// The token has expired.
    #[error("token expired")]
    Expired,
    /// The token is not valid yet (`nbf` or `iat` in the future).
    #[error("token not yet valid")]
    NotYetValid,
    /// Wrong `iss`: a genuine signature from another issuer's
    /// configuration (two instances sharing keys but not `issuer`), so
    /// both names are worth showing. `issued_by` is from a token whose
    /// signature verified, cut to [`MAX_ISSUER_SHOWN`] characters.
    #[error("issued by {issued_by}, expected {expected}")]
    WrongIssuer {
        /// The token's `iss`.
        issued_by: String,
        /// The issuer this verifier requires.
        expected: String,
    },
    /// Our audience is not in `aud`.
    #[error("wrong audience")]
    WrongAudience,
}

/// The most of a refused token's `iss` an error repeats.
pub const MAX_ISSUER_SHOWN: usize = 200;

impl VerifyError {
    /// Whether the token was rejected only because it has expired
    /// (so a client may refresh it).
    pub fn is_expired(&self) -> bool {
        matches!(self, VerifyError::Expired)
    }
}

/// What a [`Verifier`] accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierConfig {
    /// Required `iss`.
    pub issuer: String,
    /// Audience that must be in `aud`.
    pub audience: String,
    /// Accepted algorithms.
    pub algorithms: Vec<Algorithm>,
    /// Clock-skew leeway in seconds; clamped to at most [`MAX_LEEWAY_SECS`].
    pub leeway_secs: u64,
}

impl VerifierConfig {
    /// All three algorithms, 30 s leeway.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> VerifierConfig {
        VerifierConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            algorithms: Algorithm::ALL.to_vec(),
            leeway_secs: 30,
        }
    }
}

#[derive(Clone)]
struct KeyEntry {
    alg: Algorithm,
    jwk: Jwk,
    key: jsonwebtoken::DecodingKey,
}

/// Verifies Warden access tokens against a set of public keys.
#[derive(Clone)]
pub struct Verifier {
    config: VerifierConfig,
    keys: HashMap<String, KeyEntry>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("config", &self.config)
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A JSON object that rejects duplicate member names.
struct StrictObject(Map<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StrictObject;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StrictObject, A::Error> {
                let mut out = Map::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    if out.insert(k, v).is_some() {
                        return Err(serde::de::Error::custom("duplicate member"));
                    }
                }
                Ok(StrictObject(out))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// Whether a P-256 signature (`r || s`, 64 bytes) has its S in the lower
/// half of the group order (the canonical form, as in BIP 62 / RFC 6979
/// signers such as ours).
fn is_low_s(signature: &[u8]) -> bool {
    p256::ecdsa::Signature::from_slice(signature).is_ok_and(|sig| sig.normalize_s().is_none())
}

fn is_token_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case(TOKEN_TYPE) || typ.eq_ignore_ascii_case("application/at+jwt")
}

impl Verifier {
    /// A verifier with no keys. `leeway_secs` is clamped to [`MAX_LEEWAY_SECS`].
    pub fn new(mut config: VerifierConfig) -> Verifier {
        config.leeway_secs = config.leeway_secs.min(MAX_LEEWAY_SECS);
        Verifier {
            config,
            keys: HashMap::new(),
        }
    }

    /// A verifier with every key of `jwks`. Fails on the first invalid key
    /// or on duplicate `kid`s.
    pub fn from_jwks(config: VerifierConfig, jwks: &JwkSet) -> Result<Verifier, KeyError> {
        let mut verifier = Verifier::new(config);
        for jwk in &jwks.keys {
            if verifier.keys.contains_key(&jwk.kid) {
                return Err(KeyError::DuplicateKid);
            }
            verifier.add_key(jwk)?;
        }
        Ok(verifier)
    }

    /// The effective configuration (with clamped leeway).
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Validate `jwk` and register it under its `kid`. The decoding key is
    /// built once here. Re-adding an identical key is a no-op; a different
    /// key under an existing `kid` is rejected with [`KeyError::DuplicateKid`].
    pub fn add_key(&mut self, jwk: &Jwk) -> Result<(), KeyError> {
        let public = jwk.validate()?;
        let key = public.decoding_key()?;
        // Make sure the crypto backend accepts the key now, not at verify time.
        (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory)(
            &jwk.alg.to_jsonwebtoken(),
            &key,
        )
        .map_err(|_| KeyError::InvalidJwk("key rejected by crypto backend"))?;
        match self.keys.entry(jwk.kid.clone()) {
            Entry::Occupied(e) if e.get().jwk == *jwk => Ok(()),
            Entry::Occupied(_) => Err(KeyError::DuplicateKid),
            Entry::Vacant(v) => {
                v.insert(KeyEntry {
                    alg: jwk.alg,
                    jwk: jwk.clone(),
                    key,
                });
                Ok(())
            }
        }
    }

    /// Forget the key with this `kid` (no-op if unknown).
    pub fn remove_key(&mut self, kid: &str) {
        self.keys.remove(kid);
    }

    /// The registered key ids, in no particular order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    /// Whether a key with this `kid` is registered.
    pub fn has_key(&self, kid: &str) -> bool {
        self.keys.contains_key(kid)
    }

    /// Verify `token` at Unix time `now_unix` and return its claims.
    pub fn verify(&self, token: &str, now_unix: i64) -> Result<AccessClaims, VerifyError> {
        let payload = self.signed_payload(token, is_token_type)?;
        // 4. Claims: a JSON object (not an array) with exact types.
        if payload.trim_ascii_start().first() != Some(&b'{') {
            return Err(VerifyError::InvalidClaims);
        }
        let claims: AccessClaims =
            serde_json::from_slice(&payload).map_err(|_| VerifyError::InvalidClaims)?;

        // 5. Time, issuer, audience.
        let leeway = i64::try_from(self.config.leeway_secs).unwrap_or(0);
        if claims.exp <= now_unix.saturating_sub(leeway) {
            return Err(VerifyError::Expired);
        }
        let latest = now_unix.saturating_add(leeway);
        if claims.nbf > latest || claims.iat > latest {
            return Err(VerifyError::NotYetValid);
        }
        if claims.iss != self.config.issuer {
            return Err(VerifyError::WrongIssuer {
                issued_by: claims.iss.chars().take(MAX_ISSUER_SHOWN).collect(),
                expected: self.config.issuer.clone(),
            });
        }
        if !claims.aud.contains(&self.config.audience) {
            return Err(VerifyError::WrongAudience);
        }
        Ok(claims)
    }

    /// Checks an ID token this issuer signed, as `id_token_hint` presents
    /// it at logout (OpenID Connect RP-Initiated Logout 1.0, section 2):
    /// the signature by a published key and the issuer, not the expiry (a
    /// hint may be old) nor the audience (it is a client's).
    pub fn verify_id_token_hint(
        &self,
        token: &str,
        _now_unix: i64,
    ) -> Result<IdTokenClaims, VerifyError> {
        let payload = self.signed_payload(token, |typ| typ == crate::ID_TOKEN_TYPE)?;
        if payload.trim_ascii_start().first() != Some(&b'{') {
            return Err(VerifyError::InvalidClaims);
        }
        let claims: IdTokenClaims =
            serde_json::from_slice(&payload).map_err(|_| VerifyError::InvalidClaims)?;
        if claims.iss != self.config.issuer {
            return Err(VerifyError::WrongIssuer {
                issued_by: claims.iss.chars().take(MAX_ISSUER_SHOWN).collect(),
                expected: self.config.issuer.clone(),
            });
        }
        Ok(claims)
    }

    /// Steps 1 to 3 of every check: size and shape, the header (`typ` as
    /// `accept_type` says, a known `alg` matching the key's, no forbidden
    /// member), and the signature by the `kid`'s key. The payload's bytes.
    fn signed_payload(
        &self,
        token: &str,
        accept_type: impl Fn(&str) -> bool,
    ) -> Result<Vec<u8>, VerifyError> {
        // 1. Size and shape.
        if token.len() > MAX_TOKEN_LEN {
            return Err(VerifyError::TooLong);
        }
        let mut parts = token.split('.');
        let (h, p, s) = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(h), Some(p), Some(s), None)
                if !h.is_empty() && !p.is_empty() && !s.is_empty() =>
            {
                (h, p, s)
            }
            _ => return Err(VerifyError::Malformed),
        };
        let header = b64::decode(h).ok_or(VerifyError::Malformed)?;
        let payload = b64::decode(p).ok_or(VerifyError::Malformed)?;
        let signature = b64::decode(s).ok_or(VerifyError::Malformed)?;

        // 2. Header.
        let StrictObject(header) =
            serde_json::from_slice(&header).map_err(|_| VerifyError::Malformed)?;
        match header.get("typ") {
            Some(Value::String(typ)) if accept_type(typ) => {}
            _ => return Err(VerifyError::WrongType),
        }
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg
                .parse::<Algorithm>()
                .ok()
                .filter(|a| self.config.algorithms.contains(a))
                .ok_or(VerifyError::UnsupportedAlgorithm)?,
            _ => return Err(VerifyError::UnsupportedAlgorithm),
        };
        if FORBIDDEN_HEADERS.iter().any(|m| header.contains_key(*m)) {
            return Err(VerifyError::ForbiddenHeader);
        }
        let kid = match header.get("kid") {
            Some(Value::String(kid)) if !kid.is_empty() => kid,
            _ => return Err(VerifyError::MissingKid),
        };
        let entry = self.keys.get(kid).ok_or(VerifyError::UnknownKey)?;
        if entry.alg != alg {
            return Err(VerifyError::AlgorithmMismatch);
        }

        // 3. Signature, over the exact received `header.payload` bytes.
        let signed = &token.as_bytes()[..h.len() + 1 + p.len()];
        let verifier = (jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.verifier_factory)(
            &alg.to_jsonwebtoken(),
            &entry.key,
        )
        .map_err(|_| VerifyError::BadSignature)?;
        verifier
            .verify(signed, &signature)
            .map_err(|_| VerifyError::BadSignature)?;
        // ECDSA is malleable: `(r, n - s)` verifies wherever `(r, s)` does.
        // Only the low-S form is accepted, so each token has one encoding.
        if alg == Algorithm::ES256 && !is_low_s(&signature) {
            return Err(VerifyError::BadSignature);
        }

        Ok(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn verifier_is_send_sync_clone() {
        assert_send_sync::<Verifier>();
    }

    #[test]
    fn leeway_clamped() {
        let mut cfg = VerifierConfig::new("i", "a");
        assert_eq!(cfg.leeway_secs, 30);
        assert_eq!(cfg.algorithms, Algorithm::ALL.to_vec());
        cfg.leeway_secs = u64::MAX;
        assert_eq!(Verifier::new(cfg).config().leeway_secs, MAX_LEEWAY_SECS);
    }

    #[test]
    fn duplicate_header_members_rejected() {
        assert!(serde_json::from_slice::<StrictObject>(br#"{"a":1,"a":1}"#).is_err());
        assert!(serde_json::from_slice::<StrictObject>(br#"[1]"#).is_err());
        assert!(serde_json::from_slice::<StrictObject>(br#"{"a":{"b":1}}"#).is_ok());
    }

    #[test]
    fn error_messages_are_short() {
        for e in [
            VerifyError::Malformed,
            VerifyError::Expired,
            VerifyError::WrongAudience,
        ] {
            assert!(e.to_string().len() < 40);
        }
        assert!(VerifyError::Expired.is_expired());
        assert!(!VerifyError::NotYetValid.is_expired());
    }
}
