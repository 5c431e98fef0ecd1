//! `[keys]`: the key that encrypts signing keys at rest.

use std::path::PathBuf;

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::Secret;

/// `[keys]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysSection {
    /// Base64 of 32 random bytes encrypting signing keys at rest.
    pub encryption_key: Option<Secret>,
    /// File holding that key.
    pub encryption_key_file: Option<PathBuf>,
    /// How long a rotated-in key is published before it signs.
    pub activation_delay_secs: u64,
}

impl Default for KeysSection {
    fn default() -> Self {
        Self {
            encryption_key: None,
            encryption_key_file: None,
            activation_delay_secs: 60,
        }
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
        assert_eq!(config.keys.encryption_key.as_ref().unwrap().expose(), kek);
        let shown = config.to_redacted_toml().unwrap();
        assert!(
            !shown.contains(&kek) && shown.contains("[redacted]"),
            "{shown}"
        );
    }
}
