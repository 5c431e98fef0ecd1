//! `[tokens]` and `[sessions]`: what sign-in issues and how long it lives.

use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};
use warden_core::AccessTokenKind;
use warden_token::Algorithm;

use super::millis;

/// `[tokens]`.
#[derive(Debug, Clone)]
pub struct TokensSection {
    /// What new signing keys use.
    pub algorithm: Algorithm,
    /// `aud` claim.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Clock-skew leeway, at most a minute.
    pub leeway: Duration,
    /// `jwt` (signed, verifiable offline) or `session` (opaque `wst_`
    /// tokens checked against the store on every use).
    pub access: AccessTokenKind,
    /// How long this process remembers a session-token check (zero:
    /// never), at most a minute.
    pub session_cache: Duration,
}

impl Default for TokensSection {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::EdDSA,
            audience: "warden".into(),
            access_ttl: Duration::from_secs(900),
            leeway: Duration::from_secs(30),
            access: AccessTokenKind::Jwt,
            session_cache: Duration::from_millis(1000),
        }
    }
}

/// `[tokens]` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawTokens {
    /// `EdDSA`, `ES256` or `RS256`.
    algorithm: String,
    audience: String,
    access_ttl_secs: u64,
    leeway_secs: u64,
    access: AccessTokenKind,
    session_cache_ms: u64,
}

impl Default for RawTokens {
    fn default() -> Self {
        (&TokensSection::default()).into()
    }
}

impl From<&TokensSection> for RawTokens {
    fn from(tokens: &TokensSection) -> Self {
        Self {
            algorithm: tokens.algorithm.as_str().to_owned(),
            audience: tokens.audience.clone(),
            access_ttl_secs: tokens.access_ttl.as_secs(),
            leeway_secs: tokens.leeway.as_secs(),
            access: tokens.access,
            session_cache_ms: millis(tokens.session_cache),
        }
    }
}

impl TryFrom<RawTokens> for TokensSection {
    type Error = anyhow::Error;

    fn try_from(raw: RawTokens) -> anyhow::Result<Self> {
        let algorithm = raw.algorithm.parse().map_err(|_| {
            anyhow::anyhow!(
                "tokens.algorithm must be EdDSA, ES256 or RS256, not {:?}",
                raw.algorithm
            )
        })?;
        if raw.session_cache_ms > 60_000 {
            bail!(
                "tokens.session_cache_ms must be at most 60000: revocations on other instances take effect after it"
            );
        }
        if raw.leeway_secs > 60 {
            bail!("tokens.leeway_secs must be at most 60");
        }
        if raw.access_ttl_secs == 0 {
            bail!("token and session lifetimes must be positive");
        }
        Ok(Self {
            algorithm,
            audience: raw.audience,
            access_ttl: Duration::from_secs(raw.access_ttl_secs),
            leeway: Duration::from_secs(raw.leeway_secs),
            access: raw.access,
            session_cache: Duration::from_millis(raw.session_cache_ms),
        })
    }
}

/// `[sessions]`.
#[derive(Debug, Clone)]
pub struct SessionsSection {
    /// Absolute lifetime.
    pub ttl: Duration,
    /// Idle timeout.
    pub idle_timeout: Duration,
    /// How long after a rotation the old refresh token may come back once
    /// (a client retrying after a lost answer) without revoking the session;
    /// zero (the default): never (decision 0018). At most five minutes.
    pub refresh_reuse_grace: Duration,
}

impl Default for SessionsSection {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(30 * 24 * 3600),
            idle_timeout: Duration::from_secs(7 * 24 * 3600),
            refresh_reuse_grace: Duration::ZERO,
        }
    }
}

/// `[sessions]` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawSessions {
    ttl_secs: u64,
    idle_timeout_secs: u64,
    refresh_reuse_grace_secs: u64,
}

impl Default for RawSessions {
    fn default() -> Self {
        (&SessionsSection::default()).into()
    }
}

impl From<&SessionsSection> for RawSessions {
    fn from(sessions: &SessionsSection) -> Self {
        Self {
            ttl_secs: sessions.ttl.as_secs(),
            idle_timeout_secs: sessions.idle_timeout.as_secs(),
            refresh_reuse_grace_secs: sessions.refresh_reuse_grace.as_secs(),
        }
    }
}

impl TryFrom<RawSessions> for SessionsSection {
    type Error = anyhow::Error;

    fn try_from(raw: RawSessions) -> anyhow::Result<Self> {
        if raw.refresh_reuse_grace_secs > 300 {
            bail!(
                "sessions.refresh_reuse_grace_secs must be at most 300: inside it a stolen refresh token is not detected at once"
            );
        }
        if raw.ttl_secs == 0 {
            bail!("token and session lifetimes must be positive");
        }
        Ok(Self {
            ttl: Duration::from_secs(raw.ttl_secs),
            idle_timeout: Duration::from_secs(raw.idle_timeout_secs),
            refresh_reuse_grace: Duration::from_secs(raw.refresh_reuse_grace_secs),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
        assert_eq!(config.sessions.refresh_reuse_grace, Duration::from_secs(10));
        assert_eq!(
            Config::default().sessions.refresh_reuse_grace,
            Duration::ZERO
        );
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
