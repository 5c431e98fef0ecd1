//! Errors: opaque structs with a `#[non_exhaustive]` kind to match on.

use std::fmt;

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum VerifyErrorKind {
    /// Malformed, forged, wrong issuer/audience/type, or signed by an
    /// unknown key.
    Invalid,
    /// Expired (beyond the leeway): the client may refresh it.
    Expired,
    /// Its session or user was revoked (sign-out, ban, refresh-token reuse).
    Revoked,
    /// The revocation feed is too stale and the policy is
    /// [`StalePolicy::Reject`](crate::StalePolicy::Reject).
    Stale,
    /// No signing keys could be loaded from the issuer yet.
    KeysUnavailable,
    /// An opaque `wst_` session token, and this verifier has no service
    /// credential to ask Warden about it with
    /// ([`RevocationFeed::service_token`](crate::RevocationFeed::service_token)).
    SessionTokenUnsupported,
    /// Warden did not answer for a session token (down, overloaded, or it
    /// refused this service's credential): retry later.
    Unavailable,
    /// A valid token of a service (client credentials) where a user's is
    /// needed ([`Verifier::verify`](crate::Verifier::verify), the
    /// `Principal` extractor): 403 `user_required`. Use
    /// [`Verifier::verify_any`](crate::Verifier::verify_any) to take both.
    UserRequired,
}

/// A refused token. The message never echoes the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyError {
    kind: VerifyErrorKind,
    /// Why, when it helps the operator (another issuer's token).
    detail: Option<String>,
}

impl VerifyError {
    pub(crate) fn new(kind: VerifyErrorKind) -> Self {
        Self { kind, detail: None }
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> VerifyErrorKind {
        self.kind
    }

    /// The stable code of Warden's API contract for this error
    /// (`invalid_token`, `token_expired`, `token_revoked`, ...).
    pub fn code(&self) -> &'static str {
        match self.kind {
            VerifyErrorKind::Invalid => "invalid_token",
            VerifyErrorKind::Expired => "token_expired",
            VerifyErrorKind::Revoked => "token_revoked",
            VerifyErrorKind::Stale => "revocations_stale",
            VerifyErrorKind::KeysUnavailable => "keys_unavailable",
            VerifyErrorKind::SessionTokenUnsupported => "invalid_token",
            VerifyErrorKind::Unavailable => "warden_unavailable",
            VerifyErrorKind::UserRequired => "user_required",
        }
    }

    /// Whether the caller is at fault (401) rather than this service (503).
    pub fn is_client_error(&self) -> bool {
        matches!(
            self.kind,
            VerifyErrorKind::Invalid
                | VerifyErrorKind::Expired
                | VerifyErrorKind::Revoked
                | VerifyErrorKind::SessionTokenUnsupported
                | VerifyErrorKind::UserRequired
        )
    }
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.kind {
            VerifyErrorKind::Invalid => "invalid token",
            VerifyErrorKind::Expired => "token expired",
            VerifyErrorKind::Revoked => "token revoked",
            VerifyErrorKind::Stale => "revocation feed too stale to verify tokens",
            VerifyErrorKind::KeysUnavailable => "no signing keys available",
            VerifyErrorKind::SessionTokenUnsupported => {
                "opaque session tokens need a service credential to be checked"
            }
            VerifyErrorKind::Unavailable => "Warden cannot check session tokens right now",
            VerifyErrorKind::UserRequired => "a service's token where a user's is needed",
        })?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl VerifyError {
    /// The reason beyond the kind, when there is one worth showing (the
    /// token's issuer and the expected one).
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
}

impl std::error::Error for VerifyError {}

/// A verifier could not be built: the configuration is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    kind: BuildErrorKind,
    message: String,
}

/// Which part of the configuration a [`BuildError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildErrorKind {
    /// The issuer URL (or the endpoint) is missing or not http(s).
    Issuer,
    /// No algorithm is allowed.
    Algorithms,
    /// The fixed key set given to the builder is unusable.
    KeySet,
    /// The HTTP client could not be built.
    HttpClient,
    /// The event bus URL is unusable, or this build lacks the feature for it.
    Bus,
}

impl BuildError {
    pub(crate) fn new(kind: BuildErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Which part of the configuration is wrong.
    pub fn kind(&self) -> BuildErrorKind {
        self.kind
    }
}
