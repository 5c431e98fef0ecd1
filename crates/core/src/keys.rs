//! Signing keys: generated on first start, kept (encrypted) in the store,
//! rotated on demand.
//!
//! Several instances share the keys through the store and re-read them every
//! 30 s, so a new key is published at once but signs only after an
//! activation delay: by then every instance verifies its tokens. The signer
//! is the newest key older than that delay (on a first start, when there is
//! none, the oldest key, which instances starting together agree on). A key
//! superseded by a newer one that has signed long enough for every token of
//! the old key to expire is deleted. `retired_at` records the rotation.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use warden_token::{Algorithm, JwkSet, SigningKey, Verifier, VerifierConfig};

use crate::error::CoreError;
use crate::model::StoredSigningKey;
use crate::ports::{Clock, Store};

/// One consistent view of the keys: who signs, and what verifies.
pub struct KeyRing {
    /// The key new tokens are signed with.
    pub signer: SigningKey,
    /// Verifies tokens of every published key.
    pub verifier: Verifier,
    /// The published keys (`/.well-known/jwks.json`).
    pub jwks: JwkSet,
}

/// A stored key as `warden keys list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub algorithm: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Rotation time, if rotated out.
    pub retired_at: Option<DateTime<Utc>>,
    /// Whether it signs new tokens.
    pub is_active: bool,
    /// When it starts (or started) signing, if it is the newest key.
    pub signs_from: Option<DateTime<Utc>>,
}

/// How often running servers re-read the keys (and revocations): the
/// activation delay and key retention are reasoned from it.
pub const RELOAD_INTERVAL_SECS: i64 = 30;

/// When keys become signers and when they may go.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    /// Publication before signing.
    activation_delay: Duration,
    /// How long after a successor starts signing a key must stay published:
    /// one reload interval (instances switch at their next reload) plus the
    /// access-token lifetime and leeway.
    retention: Duration,
}

impl Schedule {
    /// The key that signs at `now`.
    fn signer<'k>(
        &self,
        keys: &'k [StoredSigningKey],
        now: DateTime<Utc>,
    ) -> Option<&'k StoredSigningKey> {
        signer(keys, now, self.activation_delay)
    }

    /// Whether `key` may be deleted at `now`: it no longer signs, and a newer
    /// key has signed for longer than any token of it can live.
    fn expired(
        &self,
        key: &StoredSigningKey,
        keys: &[StoredSigningKey],
        now: DateTime<Utc>,
    ) -> bool {
        if self.signer(keys, now).is_some_and(|s| s.kid == key.kid) {
            return false;
        }
        keys.iter()
            .filter(|k| age(k) > age(key))
            .any(|newer| newer.created_at + self.activation_delay + self.retention <= now)
    }
}

/// Loads, creates, rotates and retires signing keys.
pub struct KeyManager {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    algorithm: Algorithm,
    verifier_config: VerifierConfig,
    schedule: Schedule,
    ring: RwLock<Arc<KeyRing>>,
}

impl KeyManager {
    /// Loads the keys from the store, creating the first one (or a new one
    /// when the configured algorithm changed) and dropping expired retired keys.
    pub async fn load(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        algorithm: Algorithm,
        verifier_config: VerifierConfig,
        access_token_ttl: Duration,
        activation_delay: Duration,
    ) -> Result<Self, CoreError> {
        let schedule = Schedule {
            activation_delay,
            retention: access_token_ttl
                + Duration::seconds(verifier_config.leeway_secs as i64)
                + Duration::seconds(RELOAD_INTERVAL_SECS),
        };
        let now = clock.now();
        let ring = build_ring(
            &sync_keys(&*store, &*clock, algorithm, schedule).await?,
            &verifier_config,
            schedule,
            now,
        )?;
        Ok(Self {
            store,
            clock,
            algorithm,
            verifier_config,
            schedule,
            ring: RwLock::new(Arc::new(ring)),
        })
    }

    /// The current view; cheap (an `Arc` clone).
    pub fn ring(&self) -> Arc<KeyRing> {
        self.ring.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Re-reads the store: picks up a rotation done by another instance or by
    /// `warden keys rotate`, and retires expired keys.
    pub async fn reload(&self) -> Result<(), CoreError> {
        let now = self.clock.now();
        let stored = sync_keys(&*self.store, &*self.clock, self.algorithm, self.schedule).await?;
        let ring = build_ring(&stored, &self.verifier_config, self.schedule, now)?;
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
        Ok(())
    }

    /// Publishes a new key that signs after the activation delay; the others
    /// stay published until their tokens expire.
    pub async fn rotate(&self) -> Result<KeyInfo, CoreError> {
        let mut info = rotate(&*self.store, &*self.clock, self.algorithm).await?;
        info.signs_from = Some(info.created_at + self.schedule.activation_delay);
        self.reload().await?;
        Ok(info)
    }

    /// Every stored key.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, CoreError> {
        list(
            &*self.store,
            self.clock.now(),
            self.schedule.activation_delay,
        )
        .await
    }
}

/// Publishes a new key directly in the store (used by the CLI, which runs no
/// server); it signs once the activation delay has passed.
pub async fn rotate(
    store: &dyn Store,
    clock: &dyn Clock,
    algorithm: Algorithm,
) -> Result<KeyInfo, CoreError> {
    let now = clock.now();
    let stored = generate(algorithm, now)?;
    store.create_signing_key(&stored).await?;
    store.retire_signing_keys(&stored.kid, now).await?;
    Ok(KeyInfo {
        kid: stored.kid,
        algorithm: stored.algorithm,
        created_at: now,
        retired_at: None,
        is_active: false,
        signs_from: None,
    })
}

/// Every stored key at `now`, marking the signer.
pub async fn list(
    store: &dyn Store,
    now: DateTime<Utc>,
    activation_delay: Duration,
) -> Result<Vec<KeyInfo>, CoreError> {
    let keys = store.list_signing_keys().await?;
    let active = signer(&keys, now, activation_delay).map(|k| k.kid.clone());
    let newest = newest(&keys).map(|k| k.kid.clone());
    Ok(keys
        .into_iter()
        .map(|k| KeyInfo {
            is_active: Some(k.kid.as_str()) == active.as_deref(),
            signs_from: (Some(k.kid.as_str()) == newest.as_deref())
                .then(|| k.created_at + activation_delay),
            kid: k.kid,
            algorithm: k.algorithm,
            created_at: k.created_at,
            retired_at: k.retired_at,
        })
        .collect())
}

/// The order keys are compared in: creation, then kid (so ties agree
/// everywhere).
fn age(key: &StoredSigningKey) -> (DateTime<Utc>, &str) {
    (key.created_at, key.kid.as_str())
}

fn newest(keys: &[StoredSigningKey]) -> Option<&StoredSigningKey> {
    keys.iter().max_by_key(|k| age(k))
}

/// The key that signs at `now`: the newest one published for at least
/// `activation_delay`; on a first start, when none is, the oldest.
fn signer(
    keys: &[StoredSigningKey],
    now: DateTime<Utc>,
    activation_delay: Duration,
) -> Option<&StoredSigningKey> {
    keys.iter()
        .filter(|k| k.created_at + activation_delay <= now)
        .max_by_key(|k| age(k))
        .or_else(|| keys.iter().min_by_key(|k| age(k)))
}

fn generate(algorithm: Algorithm, now: DateTime<Utc>) -> Result<StoredSigningKey, CoreError> {
    let key = SigningKey::generate(algorithm)
        .map_err(|e| CoreError::Unexpected(format!("key generation failed: {e}")))?;
    Ok(StoredSigningKey {
        kid: key.kid().to_owned(),
        algorithm: algorithm.as_str().to_owned(),
        private_der: key.to_pkcs8_der(),
        created_at: now,
        retired_at: None,
    })
}

async fn sync_keys(
    store: &dyn Store,
    clock: &dyn Clock,
    algorithm: Algorithm,
    schedule: Schedule,
) -> Result<Vec<StoredSigningKey>, CoreError> {
    let now = clock.now();
    let mut keys = store.list_signing_keys().await?;
    let expired: Vec<String> = keys
        .iter()
        .filter(|k| schedule.expired(k, &keys, now))
        .map(|k| k.kid.clone())
        .collect();
    for kid in &expired {
        store.delete_signing_key(kid).await?;
    }
    keys.retain(|k| !expired.contains(&k.kid));

    if keys.is_empty() {
        return first_key(store, clock, algorithm).await;
    }
    // The newest key decides what will sign: a changed algorithm publishes
    // a new one.
    if newest(&keys).map(|k| k.algorithm.as_str()) != Some(algorithm.as_str()) {
        rotate(store, clock, algorithm).await?;
        keys = store.list_signing_keys().await?;
        keys.retain(|k| !expired.contains(&k.kid));
    }
    Ok(keys)
}

/// Publishes the first key of an empty store and returns the keys to use.
/// Instances starting together each offer one; the store takes exactly one
/// of them, so all sign with the same key.
async fn first_key(
    store: &dyn Store,
    clock: &dyn Clock,
    algorithm: Algorithm,
) -> Result<Vec<StoredSigningKey>, CoreError> {
    let mine = generate(algorithm, clock.now())?;
    store.create_first_signing_key(&mine).await?;
    Ok(store.list_signing_keys().await?)
}

fn build_ring(
    keys: &[StoredSigningKey],
    config: &VerifierConfig,
    schedule: Schedule,
    now: DateTime<Utc>,
) -> Result<KeyRing, CoreError> {
    let active = schedule
        .signer(keys, now)
        .map(|k| k.kid.clone())
        .ok_or_else(|| CoreError::Unexpected("no signing key".into()))?;
    let mut verifier = Verifier::new(config.clone());
    let mut jwks = JwkSet { keys: Vec::new() };
    let mut signer = None;
    for stored in keys {
        let algorithm: Algorithm = stored.algorithm.parse().map_err(|_| {
            CoreError::Unexpected(format!(
                "stored key has unknown algorithm {}",
                stored.algorithm
            ))
        })?;
        let key = SigningKey::from_pkcs8_der(algorithm, &stored.private_der)
            .map_err(|e| CoreError::Unexpected(format!("stored key unreadable: {e}")))?;
        let jwk = key.public_jwk();
        verifier
            .add_key(&jwk)
            .map_err(|e| CoreError::Unexpected(format!("stored key unusable: {e}")))?;
        jwks.keys.push(jwk);
        if stored.kid == active {
            signer = Some(key);
        }
    }
    let signer = signer.ok_or_else(|| CoreError::Unexpected("active key missing".into()))?;
    Ok(KeyRing {
        signer,
        verifier,
        jwks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, created_at: DateTime<Utc>) -> StoredSigningKey {
        StoredSigningKey {
            kid: kid.into(),
            algorithm: "EdDSA".into(),
            private_der: Default::default(),
            created_at,
            retired_at: None,
        }
    }

    fn schedule() -> Schedule {
        Schedule {
            activation_delay: Duration::seconds(60),
            retention: Duration::seconds(960),
        }
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn a_new_key_signs_only_after_the_activation_delay() {
        let keys = [key("old", t(0)), key("new", t(1000))];
        let signer = |at| schedule().signer(&keys, at).unwrap().kid.clone();
        assert_eq!(signer(t(1000)), "old");
        assert_eq!(signer(t(1059)), "old");
        assert_eq!(signer(t(1060)), "new");
    }

    #[test]
    fn on_a_first_start_instances_agree_on_the_oldest_key() {
        // Two instances started together and each published a key.
        let keys = [key("b", t(5)), key("a", t(3))];
        assert_eq!(schedule().signer(&keys, t(6)).unwrap().kid, "a");
        let tie = [key("y", t(3)), key("x", t(3))];
        assert_eq!(schedule().signer(&tie, t(6)).unwrap().kid, "x");
    }

    #[test]
    fn a_key_goes_only_once_its_successor_signed_longer_than_its_tokens_live() {
        let keys = [key("old", t(0)), key("new", t(1000))];
        let s = schedule();
        // The successor signs from 1060; tokens of "old" live until 1060 + 960.
        assert!(!s.expired(&keys[0], &keys, t(2019)));
        assert!(s.expired(&keys[0], &keys, t(2020)));
        // The newest key never goes, however old.
        assert!(!s.expired(&keys[1], &keys, t(100_000)));
    }

    #[test]
    fn the_signer_is_never_deleted_even_when_marked_retired() {
        // Two instances starting together can retire each other's key.
        let mut a = key("a", t(0));
        let mut b = key("b", t(1));
        a.retired_at = Some(t(1));
        b.retired_at = Some(t(1));
        let keys = [a, b];
        let s = schedule();
        assert_eq!(s.signer(&keys, t(100_000)).unwrap().kid, "b");
        assert!(!s.expired(&keys[1], &keys, t(100_000)));
        assert!(s.expired(&keys[0], &keys, t(100_000)));
    }
}
