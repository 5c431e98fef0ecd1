//! `[keys]`: the key that encrypts signing keys at rest.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::Secret;

/// `[keys]`.
#[derive(Debug, Clone)]
pub struct KeysSection {
    /// The key encrypting signing keys at rest.
    pub encryption_key: Option<EncryptionKey>,
    /// The file the key was read from, if any.
    pub encryption_key_file: Option<PathBuf>,
    /// How long a rotated-in key is published before it signs, at most a day.
    pub activation_delay: Duration,
}

impl Default for KeysSection {
    fn default() -> Self {
        Self {
            encryption_key: None,
            encryption_key_file: None,
            activation_delay: Duration::from_secs(60),
        }
    }
}

/// The key-encryption key: 32 bytes that `Debug` never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptionKey([u8; 32]);

impl EncryptionKey {
    /// Wraps a key.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// `[keys]` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawKeys {
    /// Base64 of 32 random bytes.
    pub(super) encryption_key: Option<Secret>,
    /// File holding that key.
    pub(super) encryption_key_file: Option<PathBuf>,
    activation_delay_secs: u64,
}

impl Default for RawKeys {
    fn default() -> Self {
        (&KeysSection::default()).into()
    }
}

impl From<&KeysSection> for RawKeys {
    fn from(keys: &KeysSection) -> Self {
        Self {
            encryption_key: keys.encryption_key.as_ref().map(|key| {
                Secret::new(base64::engine::general_purpose::STANDARD.encode(key.expose()))
            }),
            encryption_key_file: keys.encryption_key_file.clone(),
            activation_delay_secs: keys.activation_delay.as_secs(),
        }
    }
}

impl TryFrom<RawKeys> for KeysSection {
    type Error = anyhow::Error;

    fn try_from(raw: RawKeys) -> anyhow::Result<Self> {
        if raw.activation_delay_secs > 86_400 {
            bail!("keys.activation_delay_secs must be at most 86400 (one day)");
        }
        Ok(Self {
            encryption_key: raw
                .encryption_key
                .map(|key| decode_kek(key.expose()).map(EncryptionKey))
                .transpose()?,
            encryption_key_file: raw.encryption_key_file,
            activation_delay: Duration::from_secs(raw.activation_delay_secs),
        })
    }
}

/// Decodes the key-encryption key (base64 of 32 bytes).
pub fn decode_kek(text: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim()))
        .map_err(|_| anyhow::anyhow!("keys.encryption_key must be base64 of 32 bytes"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("keys.encryption_key must be base64 of exactly 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env as env;
    use crate::config::{Config, Overrides};

    #[test]
    fn secrets_come_from_files_and_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("kek");
        let kek = base64::engine::general_purpose::STANDARD.encode([7_u8; 32]);
        std::fs::write(&key_file, format!("{kek}\n")).unwrap();
        let config = Config::load(
            None,
            &env(&[(
                "WARDEN_KEYS_ENCRYPTION_KEY_FILE",
                key_file.to_str().unwrap(),
            )]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            config
                .keys
                .encryption_key
                .as_ref()
                .map(EncryptionKey::expose),
            Some(&[7_u8; 32])
        );
        let shown = config.to_redacted_toml().unwrap();
        assert!(
            !shown.contains(&kek) && shown.contains("[redacted]"),
            "{shown}"
        );
    }
}
