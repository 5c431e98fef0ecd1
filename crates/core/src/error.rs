//! Domain errors: one variant per decision a caller (HTTP, gRPC, CLI) must make.

use std::fmt;

/// A request field that failed parsing; `field` is named in the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The offending field, as the client spelled it.
    pub field: &'static str,
    /// What is wrong with it, safe to show to the client.
    pub message: String,
}

impl FieldError {
    /// A new field error.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Failures of a store adapter, as the domain needs to tell them apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or timed out; the request may be retried.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness constraint was violated (for example a taken e-mail).
    #[error("conflict with existing data")]
    Conflict,
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// Anything else; logged, never shown.
    #[error("store failure: {0}")]
    Unexpected(String),
}

/// Errors of the use cases.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// Input failed parsing.
    #[error("invalid request: {0}")]
    InvalidInput(FieldError),
    /// The password is too short, too long or guessable.
    #[error("weak password: {0}")]
    WeakPassword(String),
    /// Sign-up with an e-mail that already has an account.
    #[error("email taken")]
    EmailTaken,
    /// Unknown e-mail or wrong password: deliberately indistinguishable.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// A signed-in caller gave the wrong current password (`/v1/password`).
    #[error("wrong current password")]
    WrongCurrentPassword,
    /// The account is banned.
    #[error("account banned")]
    AccountBanned,
    /// Throttled; retry after this many seconds.
    #[error("too many attempts")]
    TooManyAttempts {
        /// Seconds until the next attempt is allowed.
        retry_after_secs: u64,
    },
    /// The refresh token is unknown, expired or its session ended.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// An already-used refresh token came back: the session is now revoked.
    #[error("refresh token reused")]
    RefreshTokenReused,
    /// The session was revoked (sign-out, ban, reuse).
    #[error("session revoked")]
    SessionRevoked,
    /// The access or session token is malformed, forged or unknown.
    #[error("invalid token")]
    InvalidToken,
    /// A genuinely signed access token of another issuer: instances that
    /// share keys but not `issuer` (a configuration mistake, not forgery).
    #[error("issued by {issued_by}, this instance expects {expected}")]
    WrongIssuer {
        /// The token's `iss`.
        issued_by: String,
        /// This instance's issuer.
        expected: String,
    },
    /// The access token has expired.
    #[error("token expired")]
    TokenExpired,
    /// The token's session or user was revoked.
    #[error("token revoked")]
    TokenRevoked,
    /// The named thing does not exist (or is not the caller's).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Authenticated but not allowed: the caller holds none of `any_of`.
    #[error("this needs the role {}", any_of.join(" or "))]
    Forbidden {
        /// The roles that would have allowed it.
        any_of: Vec<String>,
    },
    /// The password-hashing pool is saturated.
    #[error("overloaded")]
    Overloaded,
    /// The store cannot be reached.
    #[error("store unavailable")]
    StoreUnavailable,
    /// A bug or an unexpected failure; the detail is for the log only.
    #[error("unexpected: {0}")]
    Unexpected(String),
}

impl From<StoreError> for CoreError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => CoreError::StoreUnavailable,
            StoreError::Conflict => CoreError::Unexpected("unexpected store conflict".into()),
            StoreError::NotFound => CoreError::NotFound("resource"),
            StoreError::Unexpected(msg) => CoreError::Unexpected(msg),
        }
    }
}

impl From<FieldError> for CoreError {
    fn from(err: FieldError) -> Self {
        CoreError::InvalidInput(err)
    }
}
