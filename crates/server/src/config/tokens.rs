//! `[tokens]` and `[sessions]`: what sign-in issues and how long it lives.

use serde::{Deserialize, Serialize};

/// `[tokens]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensSection {
    /// `EdDSA`, `ES256` or `RS256`.
    pub algorithm: String,
    /// `aud` claim.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl_secs: u64,
    /// Clock-skew leeway, at most 60.
    pub leeway_secs: u64,
    /// `jwt` (signed, verifiable offline) or `session` (opaque `wst_`
    /// tokens checked against the store on every use).
    pub access: AccessMode,
    /// How long this process remembers a session-token check (0: never).
    pub session_cache_ms: u64,
}

/// `tokens.access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessMode {
    /// JWT access tokens.
    Jwt,
    /// Opaque session tokens.
    Session,
}

impl Default for TokensSection {
    fn default() -> Self {
        Self {
            algorithm: "EdDSA".into(),
            audience: "warden".into(),
            access_ttl_secs: 900,
            leeway_secs: 30,
            access: AccessMode::Jwt,
            session_cache_ms: 1000,
        }
    }
}

/// `[sessions]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsSection {
    /// Absolute lifetime.
    pub ttl_secs: u64,
    /// Idle timeout.
    pub idle_timeout_secs: u64,
    /// How long after a rotation the old refresh token may come back once
    /// (a client retrying after a lost answer) without revoking the session;
    /// 0 (the default): never (decision 0018).
    pub refresh_reuse_grace_secs: u64,
}

impl Default for SessionsSection {
    fn default() -> Self {
        Self {
            ttl_secs: 30 * 24 * 3600,
            idle_timeout_secs: 7 * 24 * 3600,
            refresh_reuse_grace_secs: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_env as env;
    use crate::config::{Config, Overrides};

    #[test]
    fn the_refresh_grace_window_is_read_from_the_environment_and_capped() {
        let config = Config::load(
            None,
            &env(&[("WARDEN_SESSIONS_REFRESH_REUSE_GRACE_SECS", "10")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.sessions.refresh_reuse_grace_secs, 10);
        assert_eq!(Config::default().sessions.refresh_reuse_grace_secs, 0);
        let err = Config::load(
            None,
            &env(&[("WARDEN_SESSIONS_REFRESH_REUSE_GRACE_SECS", "301")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("sessions.refresh_reuse_grace_secs must be at most 300"),
            "{err}"
        );
    }
}
