//! Signing keys: generated on first start, kept (encrypted) in the store,
//! rotated on demand.
//!
//! Several instances share the keys through the store and re-read them every
//! 30 s, so a new key is published at once but signs only after an
//! activation delay: by then every instance verifies its tokens.
//!
//! Keys come in families, one per algorithm, each with its own signer: the
//! newest key of the family older than that delay (when there is none, the
//! family's oldest, which instances starting together agree on). The family
//! of `tokens.algorithm` signs access tokens; every family signs ID tokens
//! of its algorithm, and RS256 always exists for them once one was asked
//! for (OpenID Connect Core 1.0 section 15.1). A key superseded by a newer
//! one of its family that has signed long enough for every token of the old
//! key to expire is deleted. A family that is neither the configured one
//! nor RS256 (what signed access tokens before `tokens.algorithm` changed)
//! is on its way out: its keys go once any newer key has signed that long.
//! `retired_at` records the rotation.
//!
//! RSA keys take long to generate, so the RS256 family is created when the
//! first ID token needs it ([`KeyManager::id_token_signer`]), not at start,
//! unless it is the configured one.

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Duration, Utc};
use warden_token::{Algorithm, JwkSet, SigningKey, Verifier, VerifierConfig};

use crate::error::CoreError;
use crate::model::StoredSigningKey;
use crate::ports::{Clock, KeyStore, Store};

/// One consistent view of the keys: who signs, and what verifies.
pub struct KeyRing {
    /// The key new access tokens are signed with.
    pub signer: SigningKey,
    /// Verifies tokens of every published key.
    pub verifier: Verifier,
    /// The published keys of every family (`/.well-known/jwks.json`).
    pub jwks: JwkSet,
    /// The signer of each family that has a key.
    family_signers: Vec<SigningKey>,
}

impl KeyRing {
    /// The key that signs new tokens of `alg` (ID tokens), if a key of that
    /// algorithm is published. For the configured algorithm this is not
    /// always [`KeyRing::signer`]: right after `tokens.algorithm` changed,
    /// access tokens keep their previous signer for the activation delay.
    pub fn signer_for(&self, alg: Algorithm) -> Option<&SigningKey> {
        self.family_signers.iter().find(|k| k.algorithm() == alg)
    }
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
    /// Whether it signs new tokens of its algorithm.
    pub is_active: bool,
    /// When it starts (or started) signing, if it is the newest key of its
    /// algorithm.
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
    /// The family that signs access tokens (`tokens.algorithm`).
    access: Algorithm,
}

impl Schedule {
    /// The key that signs access tokens at `now`: the configured family's
    /// signer once one of its keys has been published for the activation
    /// delay. Until then the rule over all keys decides, as it did before
    /// keys had families: on a first start that is the configured family's
    /// only key, at once; right after `tokens.algorithm` changed it is the
    /// newest key every instance has loaded (what signed before, or a newer
    /// ID-token key), so that no instance meets a token of the new family's
    /// key before it has loaded that key.
    fn signer<'k>(
        &self,
        keys: &'k [StoredSigningKey],
        now: DateTime<Utc>,
    ) -> Option<&'k StoredSigningKey> {
        let own = self.family_signer(keys, self.access, now)?;
        if own.created_at + self.activation_delay <= now {
            return Some(own);
        }
        signer(keys, now, self.activation_delay)
    }

    /// The key that signs tokens of `alg` at `now` (ID tokens).
    fn family_signer<'k>(
        &self,
        keys: &'k [StoredSigningKey],
        alg: Algorithm,
        now: DateTime<Utc>,
    ) -> Option<&'k StoredSigningKey> {
        signer(
            keys.iter().filter(|k| is_of(k, alg)),
            now,
            self.activation_delay,
        )
    }

    /// Whether `alg`'s keys are replaced only by keys of their own family:
    /// the configured one, and RS256, which ID tokens always need.
    fn keeps_family(&self, alg: &str) -> bool {
        alg == self.access.as_str() || alg == Algorithm::RS256.as_str()
    }

    /// Whether `key` may be deleted at `now`: it no longer signs, and a newer
    /// key has signed for longer than any token of it can live; of its own
    /// family if that family is kept, else of any family.
    fn expired(
        &self,
        key: &StoredSigningKey,
        keys: &[StoredSigningKey],
        now: DateTime<Utc>,
    ) -> bool {
        if self.signer(keys, now).is_some_and(|s| s.kid == key.kid) {
            return false;
        }
        let has_signed_long_enough = |newer: &StoredSigningKey| {
            newer.created_at + self.activation_delay + self.retention <= now
        };
        if self.keeps_family(&key.algorithm) {
            let family = || keys.iter().filter(|k| k.algorithm == key.algorithm);
            if signer(family(), now, self.activation_delay).is_some_and(|s| s.kid == key.kid) {
                return false;
            }
            return family()
                .filter(|k| age(k) > age(key))
                .any(has_signed_long_enough);
        }
        // Strictly later, not by `age`: keys published in the same instant
        // (a rotation's, or a rotation's and an ID-token key asked for then)
        // do not push one another out.
        keys.iter()
            .filter(|k| k.created_at > key.created_at)
            .any(has_signed_long_enough)
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
    /// Held while an ID-token key is created, so that requests arriving
    /// together publish one key, not one each.
    creating: tokio::sync::Mutex<()>,
}

impl KeyManager {
    /// Loads the keys from the store, creating the first one (or a new one
    /// when the configured algorithm has none) and dropping expired keys.
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
            access: algorithm,
        };
        let now = clock.now();
        let ring = build_ring(
            &sync_keys(&*store, &*clock, schedule).await?,
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
            creating: tokio::sync::Mutex::new(()),
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
        let stored = sync_keys(&*self.store, &*self.clock, self.schedule).await?;
        let ring = build_ring(&stored, &self.verifier_config, self.schedule, now)?;
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
        Ok(())
    }

    /// The key that signs ID tokens of `alg` now. When no key of `alg` is
    /// published, one is created first (RSA: hundreds of milliseconds) and,
    /// as the only key of its family, signs at once, as on a first start:
    /// there is no other key of `alg` to sign with meanwhile. Other
    /// instances publish it in their JWKS from their next reload (at most
    /// [`RELOAD_INTERVAL_SECS`]), which a relying party that fetches the JWKS
    /// from one of them before then may miss once. Instances that create one
    /// together each publish one; from their next reload they agree on one
    /// signer by the usual rule, and the other key stays verifiable until it
    /// expires like a rotated-out one.
    pub async fn id_token_signer(&self, alg: Algorithm) -> Result<SigningKey, CoreError> {
        if let Some(key) = self.ring().signer_for(alg) {
            return Ok(key.clone());
        }
        let _creating = self.creating.lock().await;
        if let Some(key) = self.ring().signer_for(alg) {
            return Ok(key.clone());
        }
        // Another instance may have published one since the last reload.
        self.reload().await?;
        if let Some(key) = self.ring().signer_for(alg) {
            return Ok(key.clone());
        }
        let stored = generate(alg, self.clock.now()).await?;
        self.store.create_signing_key(&stored).await?;
        self.reload().await?;
        self.ring()
            .signer_for(alg)
            .cloned()
            .ok_or_else(|| CoreError::Unexpected(format!("no {alg} key after creating one")))
    }

    /// Publishes a new key for access tokens, and one for every other
    /// family that is kept, each signing after the activation delay; the
    /// others stay published until their tokens expire. Returns the access
    /// tokens' key.
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

/// Publishes new keys directly in the store (used by the CLI, which runs no
/// server): one of `algorithm`, whose key it returns, and one of RS256 when
/// ID tokens have made that family; they sign once the activation delay has
/// passed. A family left behind by a change of `tokens.algorithm` is not
/// renewed: it is on its way out (a client that still wants ID tokens of
/// it gets a fresh key on demand).
pub async fn rotate(
    store: &dyn Store,
    clock: &dyn Clock,
    algorithm: Algorithm,
) -> Result<KeyInfo, CoreError> {
    let keys = store.list_signing_keys().await?;
    let now = clock.now();
    let published = publish_rotation(store, now, &rotated_families(algorithm, &keys)).await?;
    let stored = published
        .into_iter()
        .next()
        .ok_or_else(|| CoreError::Unexpected("rotation published no key".into()))?;
    Ok(KeyInfo {
        kid: stored.kid,
        algorithm: stored.algorithm,
        created_at: now,
        retired_at: None,
        is_active: false,
        signs_from: None,
    })
}

/// Every stored key at `now`, marking the signer of each algorithm.
pub async fn list(
    store: &dyn Store,
    now: DateTime<Utc>,
    activation_delay: Duration,
) -> Result<Vec<KeyInfo>, CoreError> {
    let keys = store.list_signing_keys().await?;
    Ok(keys
        .iter()
        .map(|k| {
            let family = || keys.iter().filter(|o| o.algorithm == k.algorithm);
            let is_active = signer(family(), now, activation_delay).is_some_and(|s| s.kid == k.kid);
            let is_newest = family()
                .max_by_key(|o| age(o))
                .is_some_and(|n| n.kid == k.kid);
            KeyInfo {
                is_active,
                signs_from: is_newest.then(|| k.created_at + activation_delay),
                kid: k.kid.clone(),
                algorithm: k.algorithm.clone(),
                created_at: k.created_at,
                retired_at: k.retired_at,
            }
        })
        .collect())
}

/// The order keys are compared in: creation, then kid (so ties agree
/// everywhere).
fn age(key: &StoredSigningKey) -> (DateTime<Utc>, &str) {
    (key.created_at, key.kid.as_str())
}

fn is_of(key: &StoredSigningKey, alg: Algorithm) -> bool {
    key.algorithm == alg.as_str()
}

/// Of `keys`, the one that signs at `now`: the newest one published for at
/// least `activation_delay`; when none is, the oldest.
fn signer<'k, I>(
    keys: I,
    now: DateTime<Utc>,
    activation_delay: Duration,
) -> Option<&'k StoredSigningKey>
where
    I: IntoIterator<Item = &'k StoredSigningKey>,
    I::IntoIter: Clone,
{
    let keys = keys.into_iter();
    keys.clone()
        .filter(|k| k.created_at + activation_delay <= now)
        .max_by_key(|k| age(k))
        .or_else(|| keys.min_by_key(|k| age(k)))
}

/// The families a rotation renews: the configured one first, and RS256
/// when ID tokens made it and it is another.
fn rotated_families(access: Algorithm, keys: &[StoredSigningKey]) -> Vec<Algorithm> {
    let mut families = vec![access];
    if access != Algorithm::RS256 && keys.iter().any(|k| is_of(k, Algorithm::RS256)) {
        families.push(Algorithm::RS256);
    }
    families
}

async fn generate(algorithm: Algorithm, now: DateTime<Utc>) -> Result<StoredSigningKey, CoreError> {
    let key = match algorithm {
        // Hundreds of milliseconds of arithmetic: not on an async worker.
        Algorithm::RS256 => tokio::task::spawn_blocking(move || SigningKey::generate(algorithm))
            .await
            .map_err(|e| CoreError::Unexpected(format!("key generation failed: {e}")))?,
        Algorithm::EdDSA | Algorithm::ES256 => SigningKey::generate(algorithm),
    }
    .map_err(|e| CoreError::Unexpected(format!("key generation failed: {e}")))?;
    Ok(StoredSigningKey {
        kid: key.kid().to_owned(),
        algorithm: algorithm.as_str().to_owned(),
        private_der: key.to_pkcs8_der(),
        created_at: now,
        retired_at: None,
    })
}

/// Publishes one new key per family in `families` (the first is the
/// configured one) and marks every older key retired.
async fn publish_rotation(
    store: &dyn KeyStore,
    now: DateTime<Utc>,
    families: &[Algorithm],
) -> Result<Vec<StoredSigningKey>, CoreError> {
    // All generated before any is stored: a failure leaves the store as it was.
    let mut fresh = Vec::with_capacity(families.len());
    for &alg in families {
        fresh.push(generate(alg, now).await?);
    }
    let Some((first, others)) = fresh.split_first() else {
        return Ok(fresh);
    };
    store.create_signing_key(first).await?;
    // The store retires every key but one: the other new keys go in after
    // it did, so that none of them reads as retired.
    store.retire_signing_keys(&first.kid, now).await?;
    for key in others {
        store.create_signing_key(key).await?;
    }
    Ok(fresh)
}

async fn sync_keys(
    store: &dyn KeyStore,
    clock: &dyn Clock,
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
        return first_key(store, clock, schedule.access).await;
    }
    // A changed `tokens.algorithm` is a rotation into a family that has no
    // key yet; what signed before keeps signing meanwhile (`Schedule::signer`).
    if !keys.iter().any(|k| is_of(k, schedule.access)) {
        publish_rotation(store, now, &rotated_families(schedule.access, &keys)).await?;
        keys = store.list_signing_keys().await?;
        keys.retain(|k| !expired.contains(&k.kid));
    }
    Ok(keys)
}

/// Publishes the first key of an empty store and returns the keys to use.
/// Instances starting together each offer one; the store takes exactly one
/// of them, so all sign with the same key.
async fn first_key(
    store: &dyn KeyStore,
    clock: &dyn Clock,
    algorithm: Algorithm,
) -> Result<Vec<StoredSigningKey>, CoreError> {
    let mine = generate(algorithm, clock.now()).await?;
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
    let family_active: Vec<&str> = Algorithm::ALL
        .iter()
        .filter_map(|&alg| schedule.family_signer(keys, alg, now))
        .map(|k| k.kid.as_str())
        .collect();
    let mut verifier = Verifier::new(config.clone());
    let mut jwks = JwkSet { keys: Vec::new() };
    let mut signer = None;
    let mut family_signers = Vec::new();
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
            signer = Some(key.clone());
        }
        if family_active.contains(&stored.kid.as_str()) {
            family_signers.push(key);
        }
    }
    let signer = signer.ok_or_else(|| CoreError::Unexpected("active key missing".into()))?;
    Ok(KeyRing {
        signer,
        verifier,
        jwks,
        family_signers,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::error::StoreError;
    use crate::ports::FakeClock;

    fn key(kid: &str, created_at: DateTime<Utc>) -> StoredSigningKey {
        key_of(Algorithm::EdDSA, kid, created_at)
    }

    fn key_of(alg: Algorithm, kid: &str, created_at: DateTime<Utc>) -> StoredSigningKey {
        StoredSigningKey {
            kid: kid.into(),
            algorithm: alg.as_str().into(),
            private_der: Default::default(),
            created_at,
            retired_at: None,
        }
    }

    fn schedule() -> Schedule {
        schedule_for(Algorithm::EdDSA)
    }

    fn schedule_for(access: Algorithm) -> Schedule {
        Schedule {
            activation_delay: Duration::seconds(60),
            retention: Duration::seconds(960),
            access,
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

    #[test]
    fn each_family_has_its_own_signer_by_the_same_rule() {
        let keys = [
            key("ed-old", t(0)),
            key_of(Algorithm::RS256, "rs-old", t(10)),
            key_of(Algorithm::RS256, "rs-new", t(1000)),
            key("ed-new", t(2000)),
        ];
        let s = schedule();
        let of = |alg, at| s.family_signer(&keys, alg, at).unwrap().kid.clone();
        // A newer RS256 key takes over ID tokens after the delay and leaves
        // access tokens alone.
        assert_eq!(of(Algorithm::RS256, t(1059)), "rs-old");
        assert_eq!(of(Algorithm::RS256, t(1060)), "rs-new");
        assert_eq!(s.signer(&keys, t(1060)).unwrap().kid, "ed-old");
        assert_eq!(s.signer(&keys, t(2060)).unwrap().kid, "ed-new");
        assert_eq!(of(Algorithm::EdDSA, t(2060)), "ed-new");
        assert!(s.family_signer(&keys, Algorithm::ES256, t(2060)).is_none());
    }

    #[test]
    fn a_key_just_created_for_id_tokens_signs_them_at_once() {
        let keys = [key("ed", t(0)), key_of(Algorithm::RS256, "rs", t(5000))];
        let s = schedule();
        assert_eq!(
            s.family_signer(&keys, Algorithm::RS256, t(5000))
                .unwrap()
                .kid,
            "rs"
        );
        assert_eq!(s.signer(&keys, t(5000)).unwrap().kid, "ed");
    }

    #[test]
    fn kept_families_are_superseded_only_by_their_own_keys() {
        let s = schedule();
        // The ID-token key outlives any number of access-token rotations,
        // and access keys do not give way to a newer ID-token key.
        let keys = [
            key_of(Algorithm::RS256, "rs", t(0)),
            key("ed-1", t(10)),
            key("ed-2", t(1000)),
            key_of(Algorithm::RS256, "rs-later", t(50_000)),
        ];
        assert!(!s.expired(&keys[0], &keys, t(50_000)));
        assert!(s.expired(&keys[1], &keys, t(2020)));
        assert!(!s.expired(&keys[2], &keys, t(100_000)));
        // Superseded by its own family's newer key, on the usual schedule.
        assert!(!s.expired(&keys[0], &keys, t(50_000 + 1019)));
        assert!(s.expired(&keys[0], &keys, t(50_000 + 1020)));
        // The configured family is RS256: the same, the other way round.
        let rs = schedule_for(Algorithm::RS256);
        let keys = [key_of(Algorithm::RS256, "rs", t(0)), key("ed", t(1000))];
        assert!(!rs.expired(&keys[0], &keys, t(100_000)));
        assert_eq!(rs.signer(&keys, t(100_000)).unwrap().kid, "rs");
    }

    #[test]
    fn after_an_algorithm_change_what_signed_before_signs_until_the_new_key_is_known() {
        // tokens.algorithm went from EdDSA to ES256 at 1000.
        let keys = [key("ed", t(0)), key_of(Algorithm::ES256, "es", t(1000))];
        let s = schedule_for(Algorithm::ES256);
        assert_eq!(s.signer(&keys, t(1000)).unwrap().kid, "ed");
        assert_eq!(s.signer(&keys, t(1059)).unwrap().kid, "ed");
        assert_eq!(s.signer(&keys, t(1060)).unwrap().kid, "es");
        // ES256 ID tokens have no older key to wait for.
        assert_eq!(
            s.family_signer(&keys, Algorithm::ES256, t(1000))
                .unwrap()
                .kid,
            "es"
        );
        // Within seconds of a first start the oldest key still decides.
        let early = [key("ed", t(0)), key_of(Algorithm::ES256, "es", t(30))];
        assert_eq!(s.signer(&early, t(30)).unwrap().kid, "ed");
        assert_eq!(s.signer(&early, t(90)).unwrap().kid, "es");
    }

    #[test]
    fn a_family_left_behind_goes_once_any_newer_key_signed_long_enough() {
        // EdDSA after tokens.algorithm became ES256: its newest key goes too.
        let keys = [
            key("ed-1", t(0)),
            key_of(Algorithm::RS256, "rs", t(0)),
            key("ed-2", t(500)),
            key_of(Algorithm::ES256, "es", t(1000)),
        ];
        let s = schedule_for(Algorithm::ES256);
        // An older one gives way to its own family's newer key, as always ...
        assert!(!s.expired(&keys[0], &keys, t(1519)));
        assert!(s.expired(&keys[0], &keys, t(1520)));
        // ... and the family's signer to the configured family's.
        assert!(!s.expired(&keys[2], &keys, t(2019)));
        assert!(s.expired(&keys[2], &keys, t(2020)));
        // RS256 is kept whatever signs access tokens.
        assert!(!s.expired(&keys[1], &keys, t(100_000)));
        // A newer key of a kept family other than the configured one counts.
        let keys = [key("ed", t(0)), key_of(Algorithm::RS256, "rs", t(1000))];
        let s = schedule_for(Algorithm::ES256);
        assert!(s.expired(&keys[0], &keys, t(2020)));
    }

    #[test]
    fn keys_published_in_the_same_instant_do_not_push_one_another_out() {
        // An EdDSA ID-token key asked for in the second ES256 was rotated.
        let keys = [
            key_of(Algorithm::ES256, "a-es", t(1000)),
            key("b-ed", t(1000)),
            key_of(Algorithm::ES256, "z-es", t(1000)),
        ];
        let s = schedule_for(Algorithm::ES256);
        assert!(!s.expired(&keys[1], &keys, t(100_000)));
        // Within a kept family ties still resolve by kid, as before.
        assert!(s.expired(&keys[0], &keys, t(100_000)));
    }

    #[test]
    fn a_rotation_renews_the_configured_family_and_rs256_once_it_exists() {
        let ed = [key("ed", t(0))];
        assert_eq!(rotated_families(Algorithm::EdDSA, &ed), [Algorithm::EdDSA]);
        let with_rs = [key("ed", t(0)), key_of(Algorithm::RS256, "rs", t(1))];
        assert_eq!(
            rotated_families(Algorithm::EdDSA, &with_rs),
            [Algorithm::EdDSA, Algorithm::RS256]
        );
        assert_eq!(
            rotated_families(Algorithm::RS256, &with_rs),
            [Algorithm::RS256]
        );
        // EdDSA was left behind by a change to ES256: not renewed.
        assert_eq!(
            rotated_families(Algorithm::ES256, &with_rs),
            [Algorithm::ES256, Algorithm::RS256]
        );
    }

    /// The signing-key part of a store, with the adapters' semantics.
    #[derive(Default)]
    struct MemoryKeys(Mutex<Vec<StoredSigningKey>>);

    #[async_trait]
    impl KeyStore for MemoryKeys {
        async fn create_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
            self.0.lock().unwrap().push(key.clone());
            Ok(())
        }

        async fn create_first_signing_key(
            &self,
            key: &StoredSigningKey,
        ) -> Result<bool, StoreError> {
            let mut keys = self.0.lock().unwrap();
            let is_first = keys.is_empty();
            if is_first {
                keys.push(key.clone());
            }
            Ok(is_first)
        }

        async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
            let mut keys = self.0.lock().unwrap().clone();
            keys.sort_by(|a, b| age(a).cmp(&age(b)));
            Ok(keys)
        }

        async fn retire_signing_keys(
            &self,
            except: &str,
            at: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            for key in self.0.lock().unwrap().iter_mut() {
                if key.kid != except && key.retired_at.is_none() {
                    key.retired_at = Some(at);
                }
            }
            Ok(())
        }

        async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError> {
            self.0.lock().unwrap().retain(|k| k.kid != kid);
            Ok(())
        }
    }

    fn kids(keys: &[StoredSigningKey]) -> Vec<&str> {
        keys.iter().map(|k| k.kid.as_str()).collect()
    }

    fn families(keys: &[StoredSigningKey]) -> Vec<(&str, bool)> {
        keys.iter()
            .map(|k| (k.algorithm.as_str(), k.retired_at.is_some()))
            .collect()
    }

    #[tokio::test]
    async fn a_first_start_makes_one_key_of_the_configured_family_only() {
        let store = MemoryKeys::default();
        let clock = FakeClock::new(t(0));
        let keys = sync_keys(&store, &clock, schedule()).await.unwrap();
        assert_eq!(families(&keys), [("EdDSA", false)]);
        // Nothing more on the next loads.
        clock.advance(Duration::seconds(30));
        let again = sync_keys(&store, &clock, schedule()).await.unwrap();
        assert_eq!(kids(&again), kids(&keys));
    }

    #[tokio::test]
    async fn a_rotation_leaves_none_of_its_new_keys_retired() {
        let store = MemoryKeys::default();
        let clock = FakeClock::new(t(0));
        sync_keys(&store, &clock, schedule()).await.unwrap();
        // The ID-token key, as `KeyManager::id_token_signer` adds it.
        store
            .create_signing_key(&generate(Algorithm::RS256, t(5)).await.unwrap())
            .await
            .unwrap();
        clock.advance(Duration::seconds(100));
        let info = publish_rotation(
            &store,
            clock.now(),
            &rotated_families(Algorithm::EdDSA, &store.list_signing_keys().await.unwrap()),
        )
        .await
        .unwrap();
        assert_eq!(info[0].algorithm, "EdDSA");
        let keys = store.list_signing_keys().await.unwrap();
        let fresh: Vec<_> = keys.iter().filter(|k| k.created_at == t(100)).collect();
        assert_eq!(fresh.len(), 2);
        assert!(fresh.iter().all(|k| k.retired_at.is_none()), "{keys:?}");
        assert!(
            keys.iter()
                .filter(|k| k.created_at < t(100))
                .all(|k| k.retired_at == Some(t(100))),
            "{keys:?}"
        );
        // Both families switch after the delay.
        let s = schedule();
        let later = t(160);
        assert_eq!(s.signer(&keys, later).unwrap().kid, info[0].kid);
        assert_eq!(
            s.family_signer(&keys, Algorithm::RS256, later).unwrap().kid,
            info[1].kid
        );
    }

    #[tokio::test]
    async fn an_id_token_key_joins_the_ring_and_signs_at_once() {
        let store = MemoryKeys::default();
        let clock = FakeClock::new(t(0));
        sync_keys(&store, &clock, schedule()).await.unwrap();
        clock.advance(Duration::seconds(5000));
        // As `KeyManager::id_token_signer` adds them; ES256 is a family left
        // behind (neither configured nor RS256) and must survive its reload.
        for alg in [Algorithm::RS256, Algorithm::ES256] {
            let fresh = generate(alg, clock.now()).await.unwrap();
            store.create_signing_key(&fresh).await.unwrap();
        }
        let keys = sync_keys(&store, &clock, schedule()).await.unwrap();
        assert_eq!(keys.len(), 3);
        let config = VerifierConfig::new("https://warden.test", "warden");
        let ring = build_ring(&keys, &config, schedule(), clock.now()).unwrap();
        assert_eq!(ring.signer.algorithm(), Algorithm::EdDSA);
        assert_eq!(
            ring.signer_for(Algorithm::EdDSA).unwrap().kid(),
            ring.signer.kid()
        );
        for alg in [Algorithm::RS256, Algorithm::ES256] {
            let kid = &keys.iter().find(|k| is_of(k, alg)).unwrap().kid;
            assert_eq!(ring.signer_for(alg).unwrap().kid(), kid);
        }
        assert_eq!(ring.jwks.keys.len(), 3);
    }

    #[tokio::test]
    async fn a_changed_algorithm_publishes_a_key_of_the_new_family_and_keeps_the_old_one_until_it_expires()
     {
        let store = MemoryKeys::default();
        let clock = FakeClock::new(t(0));
        sync_keys(&store, &clock, schedule()).await.unwrap();
        clock.advance(Duration::seconds(1000));
        let es = schedule_for(Algorithm::ES256);
        let keys = sync_keys(&store, &clock, es).await.unwrap();
        assert_eq!(families(&keys), [("EdDSA", true), ("ES256", false)]);
        // The old configuration's instances publish nothing back.
        let still_ed = sync_keys(&store, &clock, schedule()).await.unwrap();
        assert_eq!(kids(&still_ed), kids(&keys));
        // Once the new key has signed long enough, the old family is gone.
        clock.advance(Duration::seconds(60 + 960));
        let keys = sync_keys(&store, &clock, es).await.unwrap();
        assert_eq!(families(&keys), [("ES256", false)]);
    }
}
