//! The provider's signing keys: fetched lazily, kept, and refetched when a
//! token names a key we do not have, at most once per 30 s after a fetch
//! that failed or did not have the key asked for.

use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::{IdTokenProblem, OAuthError};

/// An attacker can mint tokens with random `kid`s for free; each may cost
/// the provider one request at most this often.
const MIN_REFETCH_INTERVAL: TimeDelta = TimeDelta::seconds(30);

/// Keys removed by the provider (a compromised key) stop being trusted
/// within this time even if no unknown `kid` ever shows up.
const MAX_AGE: TimeDelta = TimeDelta::hours(1);

/// Real JWKS carry a handful of keys; the rest of a huge set is ignored.
const MAX_KEYS: usize = 100;

/// One usable key, bound to the one algorithm it may verify.
#[derive(Clone)]
pub(crate) struct VerifyingKey {
    kid: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) key: DecodingKey,
}

#[derive(Default)]
struct Cache {
    keys: Vec<VerifyingKey>,
    /// When the keys were last fetched.
    fetched_at: Option<DateTime<Utc>>,
    /// When a fetch last failed, or brought no key for the `kid` it was
    /// made for. Only that limits the next fetch: a provider that rotated
    /// its keys a second after a routine fetch is asked again at once,
    /// while made-up `kid`s and a provider that errors are asked at most
    /// once per [`MIN_REFETCH_INTERVAL`].
    missed_at: Option<DateTime<Utc>>,
}

/// A provider's JWKS, shared by every sign-in with that provider.
pub(crate) struct Jwks {
    uri: String,
    cache: Mutex<Cache>,
    /// Serialises fetches so that concurrent sign-ins with a new `kid` cost
    /// one request; verifications with cached keys never wait on it.
    fetching: tokio::sync::Mutex<()>,
}

/// Why no key was found.
pub(crate) enum KeyError {
    Token(IdTokenProblem),
    Fetch(OAuthError),
}

impl Jwks {
    pub(crate) fn new(uri: String) -> Self {
        Self {
            uri,
            cache: Mutex::new(Cache::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The key for a token's `kid` (the only key, when the token names
    /// none), refetching the set when it is absent or old and the rate
    /// limit allows. `now` is the sign-in's clock.
    pub(crate) async fn key(
        &self,
        http: &reqwest::Client,
        provider: &str,
        kid: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<VerifyingKey, KeyError> {
        if let Some(found) = self.cached(kid, now, false) {
            return Ok(found);
        }
        let _fetching = self.fetching.lock().await;
        // Another sign-in may have fetched while we waited.
        if let Some(found) = self.cached(kid, now, false) {
            return Ok(found);
        }
        if !self.may_fetch(now) {
            return self
                .cached(kid, now, true)
                .ok_or(KeyError::Token(IdTokenProblem::UnknownKey));
        }
        let request = http.get(&self.uri);
        match crate::http::fetch_json::<serde_json::Value>(http, provider, "JWKS", request).await {
            Ok(document) => {
                let keys = usable_keys(&document);
                let mut cache = self.lock();
                cache.keys = keys;
                cache.fetched_at = Some(now);
            }
            // Keep the old keys: an outage must not refuse known keys.
            Err(error) => {
                self.lock().missed_at = Some(now);
                return self.cached(kid, now, true).ok_or(KeyError::Fetch(error));
            }
        }
        let found = self.cached(kid, now, true);
        if found.is_none() {
            self.lock().missed_at = Some(now);
        }
        found.ok_or(KeyError::Token(IdTokenProblem::UnknownKey))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cache> {
        // The cache holds no invariant a panic could break halfway.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A cached key for `kid`; unless `even_stale`, only from a set younger
    /// than [`MAX_AGE`].
    fn cached(
        &self,
        kid: Option<&str>,
        now: DateTime<Utc>,
        even_stale: bool,
    ) -> Option<VerifyingKey> {
        let cache = self.lock();
        let fresh = cache
            .fetched_at
            .is_some_and(|at| now >= at && now - at < MAX_AGE);
        if !fresh && !even_stale {
            return None;
        }
        match kid {
            Some(kid) => cache
                .keys
                .iter()
                .find(|k| k.kid.as_deref() == Some(kid))
                .cloned(),
            None => match cache.keys.as_slice() {
                [only] => Some(only.clone()),
                _ => None,
            },
        }
    }

    /// Whether a fetch may go out: no miss within [`MIN_REFETCH_INTERVAL`]
    /// (or the clock went back, which must not freeze the keys).
    fn may_fetch(&self, now: DateTime<Utc>) -> bool {
        self.lock()
            .missed_at
            .is_none_or(|at| now < at || now - at >= MIN_REFETCH_INTERVAL)
    }
}

/// The keys of a JWKS document we can use for ID tokens. Keys we cannot use
/// (encryption keys, symmetric keys, other curves) are skipped, not fatal:
/// providers publish such keys alongside their signing keys.
fn usable_keys(document: &serde_json::Value) -> Vec<VerifyingKey> {
    let Some(keys) = document.get("keys").and_then(serde_json::Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter_map(|value| serde_json::from_value::<Jwk>(value.clone()).ok())
        .filter_map(|jwk| {
            if jwk
                .common
                .public_key_use
                .as_ref()
                .is_some_and(|u| *u != PublicKeyUse::Signature)
            {
                return None;
            }
            let algorithm = algorithm_of(&jwk)?;
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            Some(VerifyingKey {
                kid: jwk.common.key_id,
                algorithm,
                key,
            })
        })
        .take(MAX_KEYS)
        .collect()
}

/// The one algorithm a key verifies: its `alg` when it has one, else the
/// usual one for its type. Never a symmetric one: a provider's public JWKS
/// cannot hold a secret, and an HMAC key there would let anyone sign.
fn algorithm_of(jwk: &Jwk) -> Option<Algorithm> {
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => Algorithm::ES256,
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            Algorithm::EdDSA
        }
        _ => return None,
    };
    let declared = match jwk.common.key_algorithm {
        None => return Some(by_type),
        Some(KeyAlgorithm::RS256) => Algorithm::RS256,
        Some(KeyAlgorithm::ES256) => Algorithm::ES256,
        Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
        Some(_) => return None,
    };
    (declared == by_type).then_some(declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_and_encryption_keys_are_never_kept() {
        let document = serde_json::json!({"keys": [
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "ok", "alg": "RS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "weird"}
        ]});
        let kept: Vec<_> = usable_keys(&document).into_iter().map(|k| k.kid).collect();
        assert_eq!(kept, vec![Some("ok".to_owned())]);
    }

    #[test]
    fn at_most_a_hundred_keys_are_kept() {
        let keys: Vec<_> = (0..500)
            .map(|i| serde_json::json!({"kty": "RSA", "kid": i.to_string(), "n": "AQAB", "e": "AQAB"}))
            .collect();
        assert_eq!(
            usable_keys(&serde_json::json!({ "keys": keys })).len(),
            MAX_KEYS
        );
    }
}
