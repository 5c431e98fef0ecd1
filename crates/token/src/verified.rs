//! JWTs already verified, remembered so a hot token costs a SHA-256 and a
//! map lookup instead of a signature verification (EdDSA: ~45 µs).
//!
//! One cache with one rule (decision 0013), used by Warden's own
//! `/v1/validate` (warden-core) and by every embedded verifier
//! (warden-verify):
//!
//! - an entry is used only while the key set it was checked with is still
//!   the current one (`Arc` identity): any refresh of the keys replaces the
//!   set, so a withdrawn key stops validating at once;
//! - an entry is never used at or after the token's `exp`; the full check
//!   then decides, with its leeway;
//! - keys are the SHA-256 of the token: the token itself is never kept.
//!
//! The deny-list (and any staleness policy) is the caller's to apply on
//! every hit exactly as on a miss: the cache changes the cost of an answer,
//! never the answer.

use std::sync::Arc;

use sha2::{Digest as _, Sha256};

/// The SHA-256 of a token, which is what the cache keeps.
pub type TokenDigest = [u8; 32];

/// The key a token is remembered under: its SHA-256.
pub fn token_digest(token: &str) -> TokenDigest {
    Sha256::digest(token.as_bytes()).into()
}

/// Bounded map of token digests to what they were verified as (`P`), each
/// bound to the key set (`K`, compared by `Arc` identity) that checked it.
pub struct VerifiedCache<P, K> {
    entries: quick_cache::sync::Cache<TokenDigest, Entry<P, K>>,
}

struct Entry<P, K> {
    verified_as: P,
    checked_with: Arc<K>,
    /// The token's `exp`, Unix seconds.
    expires_at: i64,
}

impl<P: Clone, K> Clone for Entry<P, K> {
    fn clone(&self) -> Self {
        Self {
            verified_as: self.verified_as.clone(),
            checked_with: self.checked_with.clone(),
            expires_at: self.expires_at,
        }
    }
}

impl<P, K> std::fmt::Debug for VerifiedCache<P, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache").finish_non_exhaustive()
    }
}

impl<P: Clone, K> VerifiedCache<P, K> {
    /// A cache of at most `max_entries`; `None` for zero: no cache.
    pub fn new(max_entries: usize) -> Option<Self> {
        (max_entries > 0).then(|| Self {
            entries: quick_cache::sync::Cache::new(max_entries),
        })
    }

    /// What `digest` was verified as with exactly `keys`, if the token has
    /// not expired at `now` (Unix seconds). An entry of another key set or
    /// past its `exp` is dropped.
    pub fn get(&self, digest: &TokenDigest, keys: &Arc<K>, now: i64) -> Option<P> {
        let entry = self.entries.get(digest)?;
        if Arc::ptr_eq(&entry.checked_with, keys) && now < entry.expires_at {
            return Some(entry.verified_as);
        }
        self.entries.remove(digest);
        None
    }

    /// Remembers that the token of `digest`, expiring at `expires_at` (its
    /// `exp`, Unix seconds), was verified with `keys` as `verified_as`.
    pub fn put(&self, digest: TokenDigest, verified_as: P, keys: Arc<K>, expires_at: i64) {
        self.entries.insert(
            digest,
            Entry {
                verified_as,
                checked_with: keys,
                expires_at,
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct KeySet;

    #[test]
    fn an_entry_holds_for_the_same_key_set_until_expiry() {
        let cache = VerifiedCache::<&str, KeySet>::new(10).unwrap();
        let keys = Arc::new(KeySet);
        let key = token_digest("a.b.c");
        cache.put(key, "alice", keys.clone(), 1_000);
        assert_eq!(cache.get(&key, &keys, 999), Some("alice"));
        let other = token_digest("a.b.d");
        assert_eq!(cache.get(&other, &keys, 999), None);
        assert_eq!(cache.get(&key, &keys, 1_000), None, "expired");
        assert_eq!(cache.get(&key, &keys, 999), None, "and forgotten");
    }

    #[test]
    fn a_new_key_set_invalidates_what_the_old_one_verified() {
        let cache = VerifiedCache::<&str, KeySet>::new(10).unwrap();
        let (old, new) = (Arc::new(KeySet), Arc::new(KeySet));
        let key = token_digest("a.b.c");
        cache.put(key, "alice", old.clone(), 1_000);
        assert_eq!(cache.get(&key, &new, 0), None);
        assert_eq!(cache.get(&key, &old, 0), None, "dropped on the miss");
    }

    #[test]
    fn zero_entries_means_no_cache() {
        assert!(VerifiedCache::<&str, KeySet>::new(0).is_none());
    }

    #[test]
    fn the_digest_is_the_tokens_sha256() {
        assert_eq!(
            hex(&token_digest("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
