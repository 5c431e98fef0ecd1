//! Verified tokens, remembered briefly: a hot token then costs a SHA-256 and
//! a map lookup instead of an Ed25519 verification (the same trade Warden's
//! `/v1/validate` makes). Every hit still consults the deny-list, so a
//! revocation bites as fast as without the cache; an entry never outlives
//! the token's `exp`, nor [`MAX_AGE`] (a key withdrawn from the JWKS stops
//! working within that).

use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use warden_verify::{Principal, Verifier, VerifyError};

const ENTRIES: usize = 100_000;
/// The longest a verification is reused.
pub const MAX_AGE: Duration = Duration::from_secs(30);

/// A verifier with a cache of successful verifications in front.
pub struct CachedVerifier {
    verifier: Verifier,
    verified: quick_cache::sync::Cache<[u8; 32], (Principal, Instant)>,
}

impl CachedVerifier {
    /// Wraps `verifier`.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            verified: quick_cache::sync::Cache::new(ENTRIES),
        }
    }

    /// The wrapped verifier (readiness, staleness).
    pub fn inner(&self) -> &Verifier {
        &self.verifier
    }

    /// Like [`Verifier::verify`].
    pub async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((principal, until)) = self.verified.get(&key) {
            let now_unix = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let revoked = self.verifier.deny_list().is_revoked(
                principal.user_id,
                principal.session_id,
                principal.issued_at,
            );
            if !revoked && Instant::now() < until && now_unix < principal.expires_at {
                return Ok(principal);
            }
            self.verified.remove(&key);
        }
        let principal = self.verifier.verify(token).await?;
        self.verified
            .insert(key, (principal.clone(), Instant::now() + MAX_AGE));
        Ok(principal)
    }
}
