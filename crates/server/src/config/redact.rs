//! Secrets kept out of `Debug`, logs and `warden config check`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Config, RawConfig};

/// A configuration secret: `Debug` and serialisation print `[redacted]`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
    }
}

/// `scheme://user:[redacted]@host/...`: a URL fit for logs and output, by
/// the workspace's one rule (`warden_events::redact_url`).
pub use warden_events::redact_url;

impl Config {
    /// The configuration as TOML with secrets redacted (`warden config check`).
    pub fn to_redacted_toml(&self) -> anyhow::Result<String> {
        let mut shown = RawConfig::from(self);
        shown.database_url = shown.database_url.as_deref().map(redact_url);
        Ok(toml::to_string_pretty(&shown)?)
    }
}
