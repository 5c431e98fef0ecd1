//! Signing keys: generated on first start, kept (encrypted) in the store,
//! rotated on demand. A retired key stays published until every token it
//! signed has expired, then is deleted.

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
}

/// Loads, creates, rotates and retires signing keys.
pub struct KeyManager {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    algorithm: Algorithm,
    verifier_config: VerifierConfig,
    /// How long a retired key stays published: the access-token lifetime plus leeway.
    retention: Duration,
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
    ) -> Result<Self, CoreError> {
        let retention = access_token_ttl + Duration::seconds(verifier_config.leeway_secs as i64);
        let ring = build_ring(
            &sync_keys(&*store, &*clock, algorithm, retention).await?,
            &verifier_config,
        )?;
        Ok(Self {
            store,
            clock,
            algorithm,
            verifier_config,
            retention,
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
        let stored = sync_keys(&*self.store, &*self.clock, self.algorithm, self.retention).await?;
        let ring = build_ring(&stored, &self.verifier_config)?;
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(ring);
        Ok(())
    }

    /// Makes a new key the signer; the others stay published until their tokens expire.
    pub async fn rotate(&self) -> Result<KeyInfo, CoreError> {
        let info = rotate(&*self.store, &*self.clock, self.algorithm).await?;
        self.reload().await?;
        Ok(info)
    }

    /// Every stored key.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, CoreError> {
        list(&*self.store).await
    }
}

/// Rotates keys directly in the store (used by the CLI, which runs no server).
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
        is_active: true,
    })
}

/// Every stored key, marking the active one.
pub async fn list(store: &dyn Store) -> Result<Vec<KeyInfo>, CoreError> {
    let keys = store.list_signing_keys().await?;
    let active = active_kid(&keys);
    Ok(keys
        .into_iter()
        .map(|k| KeyInfo {
            is_active: Some(k.kid.as_str()) == active.as_deref(),
            kid: k.kid,
            algorithm: k.algorithm,
            created_at: k.created_at,
            retired_at: k.retired_at,
        })
        .collect())
}

fn active_kid(keys: &[StoredSigningKey]) -> Option<String> {
    keys.iter()
        .filter(|k| k.retired_at.is_none())
        .max_by_key(|k| k.created_at)
        .map(|k| k.kid.clone())
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
    retention: Duration,
) -> Result<Vec<StoredSigningKey>, CoreError> {
    let now = clock.now();
    let mut keys = store.list_signing_keys().await?;
    for expired in keys
        .iter()
        .filter(|k| k.retired_at.is_some_and(|at| at + retention <= now))
    {
        store.delete_signing_key(&expired.kid).await?;
    }
    keys.retain(|k| k.retired_at.is_none_or(|at| at + retention > now));

    let active_alg = active_kid(&keys)
        .and_then(|kid| keys.iter().find(|k| k.kid == kid))
        .map(|k| k.algorithm.clone());
    if active_alg.as_deref() != Some(algorithm.as_str()) {
        rotate(store, clock, algorithm).await?;
        keys = store.list_signing_keys().await?;
        keys.retain(|k| k.retired_at.is_none_or(|at| at + retention > now));
    }
    Ok(keys)
}

fn build_ring(keys: &[StoredSigningKey], config: &VerifierConfig) -> Result<KeyRing, CoreError> {
    let active =
        active_kid(keys).ok_or_else(|| CoreError::Unexpected("no active signing key".into()))?;
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
