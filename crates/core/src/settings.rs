//! Settings the use cases run with; the server fills them from configuration.

use chrono::Duration;
use serde::{Deserialize, Serialize};
use warden_token::Algorithm;

use crate::access::AccessPolicy;
use crate::links::{LinkLifetimes, SendLimit};
use crate::model::LockoutPolicy;
use crate::passkeys::WebauthnSettings;
use crate::password::PasswordPolicy;

/// What kind of access token sign-in and refresh issue; configured as
/// `tokens.access = "jwt"` or `"session"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessTokenKind {
    /// A signed JWT, verifiable offline against the JWKS (the default).
    #[default]
    Jwt,
    /// An opaque `wst_` token checked against the store on every use, so a
    /// revocation takes effect at once without any event.
    Session,
}

/// Lifetimes, identity and abuse limits.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// `iss` of issued tokens: the public base URL.
    pub issuer: String,
    /// `aud` of issued tokens.
    pub audience: String,
    /// Algorithm new signing keys use.
    pub algorithm: Algorithm,
    /// How long a new signing key is published before it signs (default
    /// 60 s): every instance reloads keys every 30 s, so by then all of them
    /// verify what it signs.
    pub key_activation_delay: Duration,
    /// Access-token lifetime (default 15 minutes).
    pub access_token_ttl: Duration,
    /// JWTs or opaque session tokens.
    pub access_token_kind: AccessTokenKind,
    /// How long a session-token check is remembered in this process (default
    /// 1 s; zero: every use asks the store). Revocations through this process
    /// clear an entry at once; others end within this time.
    pub session_cache_ttl: Duration,
    /// Absolute session lifetime (default 30 days).
    pub session_ttl: Duration,
    /// Idle timeout (default 7 days).
    pub idle_timeout: Duration,
    /// How long after a rotation the rotated refresh token may come back
    /// once as a retry instead of counting as reuse (default zero: never;
    /// decision 0018).
    pub refresh_reuse_grace: Duration,
    /// Clock skew tolerated by verification (at most 60 s).
    pub leeway: Duration,
    /// Per-account back-off.
    pub lockout: LockoutPolicy,
    /// Failed sign-ins allowed per client IP per minute.
    pub ip_failures_per_minute: u32,
    /// New-password rules.
    pub password_policy: PasswordPolicy,
    /// Forward-auth rules by original path (`[[verify.rule]]`); none: every
    /// request needs a valid token.
    pub access_policy: AccessPolicy,
    /// Base URL of the hosted pages mailed links point at (`public_url`,
    /// default: the issuer), without a trailing slash.
    pub public_url: String,
    /// Whether anyone may sign up (`[signup] enabled`); when not, only
    /// admins and the CLI create accounts.
    pub signup_enabled: bool,
    /// Whether a sign-in needs a verified address (`[signup]
    /// require_verified_email`).
    pub require_verified_email: bool,
    /// Lifetimes of mailed links (`[links]`).
    pub link_lifetimes: LinkLifetimes,
    /// How often a link may be mailed per address or account.
    pub link_send_limit: SendLimit,
    /// Whether every authorization request of Warden as an OAuth provider
    /// must carry a PKCE challenge (`[oauth2] require_pkce`, default true;
    /// public clients need one regardless).
    pub oauth_require_pkce: bool,
    /// Password-reset requests allowed per client IP per minute (0: no limit).
    pub forgot_per_ip_per_minute: u32,
    /// The issuer name authenticator apps show next to a TOTP entry
    /// (`[ui] product_name`).
    pub totp_issuer: String,
    /// Roles whose holders must have a second factor (`[mfa]
    /// required_for_roles`).
    pub mfa_required_for_roles: Vec<String>,
    /// Where passkeys are bound and used (`[webauthn]`).
    pub webauthn: WebauthnSettings,
}

impl AuthSettings {
    /// Defaults for an issuer URL.
    pub fn new(issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        let webauthn = WebauthnSettings::for_public_url(&issuer, "Warden");
        Self {
            public_url: issuer.trim_end_matches('/').to_owned(),
            issuer,
            audience: "warden".into(),
            algorithm: Algorithm::EdDSA,
            key_activation_delay: Duration::seconds(60),
            access_token_ttl: Duration::minutes(15),
            access_token_kind: AccessTokenKind::Jwt,
            session_cache_ttl: Duration::seconds(1),
            session_ttl: Duration::days(30),
            idle_timeout: Duration::days(7),
            refresh_reuse_grace: Duration::zero(),
            leeway: Duration::seconds(30),
            lockout: LockoutPolicy::default(),
            ip_failures_per_minute: 60,
            password_policy: PasswordPolicy::default(),
            access_policy: AccessPolicy::default(),
            signup_enabled: true,
            require_verified_email: false,
            link_lifetimes: LinkLifetimes::default(),
            link_send_limit: SendLimit::default(),
            forgot_per_ip_per_minute: 20,
            oauth_require_pkce: true,
            totp_issuer: "Warden".into(),
            mfa_required_for_roles: Vec::new(),
            webauthn,
        }
    }

    /// How long a revocation must be remembered: no access token outlives it.
    pub fn revocation_ttl(&self) -> Duration {
        self.access_token_ttl + self.leeway
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_kinds_are_named_as_configured() {
        for (kind, name) in [
            (AccessTokenKind::Jwt, "\"jwt\""),
            (AccessTokenKind::Session, "\"session\""),
        ] {
            assert_eq!(serde_json::to_string(&kind).unwrap(), name);
            assert_eq!(serde_json::from_str::<AccessTokenKind>(name).unwrap(), kind);
        }
        assert!(serde_json::from_str::<AccessTokenKind>("\"opaque\"").is_err());
    }
}
