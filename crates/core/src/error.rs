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
    /// A service's token where a user's is needed: an endpoint that acts
    /// for a user, or a forward-auth rule that asks for roles or a second
    /// factor.
    #[error("a user's token is required")]
    UserRequired,
    /// The token lacks every scope a forward-auth rule accepts.
    #[error("this needs the scope {}", any_of.join(" or "))]
    InsufficientScope {
        /// The scopes that would have allowed it.
        any_of: Vec<String>,
    },
    /// A mailed link that is unknown, used, expired, voided or not for
    /// this endpoint: one answer for all, so a guess learns nothing.
    #[error("invalid link")]
    InvalidLink,
    /// A verification was asked for an address already verified.
    #[error("already verified")]
    AlreadyVerified,
    /// Right password, but `[signup] require_verified_email` holds and the
    /// address is not verified yet.
    #[error("email not verified")]
    EmailNotVerified,
    /// `[signup] enabled = false`: only admins and the CLI create accounts.
    #[error("signup disabled")]
    SignupDisabled,
    /// A mail was asked for too soon after the last one; retry after this
    /// many seconds.
    #[error("too many requests")]
    TooManyRequests {
        /// Seconds until the next request is allowed.
        retry_after_secs: u64,
    },
    /// A social sign-in the linking rules refuse (front-door contract,
    /// section 4); the refusal names the contract's code.
    #[error("social sign-in refused: {}", .0.code())]
    SocialRefused(crate::identity::Refusal),
    /// An exchange code that is unknown, spent, expired, or traded with the
    /// wrong PKCE verifier: one answer for all.
    #[error("invalid grant")]
    InvalidGrant,
    /// Removing this would leave the account no way to sign in.
    #[error("last credential")]
    LastCredential,
    /// The password was right; the account has a second factor, to be given
    /// at `POST /v1/signin/mfa` with this token.
    #[error("a second factor is required")]
    MfaRequired {
        /// The `wmf_` token of the second step.
        mfa_token: String,
        /// The factors the account can use.
        methods: Vec<&'static str>,
    },
    /// A wrong, spent or malformed second-factor code. `during_sign_in`:
    /// at the second step of a sign-in (401), else when managing factors (400).
    #[error("invalid second-factor code")]
    InvalidMfaCode {
        /// Whether it was the second step of a sign-in.
        during_sign_in: bool,
    },
    /// The `mfa_token` is unknown, used, expired, or voided by wrong codes.
    #[error("invalid mfa token")]
    MfaTokenInvalid,
    /// A sensitive change needs a recent sign-in or the current password.
    #[error("re-authentication required")]
    ReauthenticationRequired,
    /// The token has one factor where two are needed (RFC 9470).
    #[error("insufficient user authentication")]
    InsufficientAuthentication,
    /// The account's role needs a second factor, and it has none yet.
    #[error("second factor enrolment required")]
    MfaEnrollmentRequired,
    /// The account has this second factor already.
    #[error("second factor already enabled")]
    MfaAlreadyEnabled,
    /// A passkey registration the browser answered wrongly, late, or for a
    /// credential registered already.
    #[error("invalid passkey credential")]
    InvalidCredential,
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

/// What kind of failure an error is, for the transports' status tables:
/// each maps a kind to one HTTP status and one gRPC code, and nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself is malformed (HTTP 400, gRPC `INVALID_ARGUMENT`).
    InvalidRequest,
    /// Well-formed but refused on its content (HTTP 422, gRPC `INVALID_ARGUMENT`).
    Unprocessable,
    /// Clashes with existing data (HTTP 409, gRPC `ALREADY_EXISTS`).
    Conflict,
    /// No valid credential (HTTP 401, gRPC `UNAUTHENTICATED`).
    Unauthenticated,
    /// A valid credential without the right (HTTP 403, gRPC `PERMISSION_DENIED`).
    Forbidden,
    /// Nothing there, or not the caller's (HTTP 404, gRPC `NOT_FOUND`).
    NotFound,
    /// Throttled (HTTP 429, gRPC `RESOURCE_EXHAUSTED`).
    TooManyRequests,
    /// Try again shortly (HTTP 503, gRPC `UNAVAILABLE`).
    Unavailable,
    /// Our fault (HTTP 500, gRPC `INTERNAL`).
    Internal,
}

impl CoreError {
    /// The stable, machine-readable code of the contract (`docs/api.md`).
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::InvalidInput(_) => "invalid_request",
            CoreError::WeakPassword(_) => "weak_password",
            CoreError::EmailTaken => "email_taken",
            CoreError::InvalidCredentials | CoreError::WrongCurrentPassword => {
                "invalid_credentials"
            }
            CoreError::AccountBanned => "account_banned",
            CoreError::TooManyAttempts { .. } => "too_many_attempts",
            CoreError::InvalidRefreshToken => "invalid_refresh_token",
            CoreError::RefreshTokenReused => "refresh_token_reused",
            CoreError::SessionRevoked => "session_revoked",
            CoreError::InvalidToken | CoreError::WrongIssuer { .. } => "invalid_token",
            CoreError::TokenExpired => "token_expired",
            CoreError::TokenRevoked => "token_revoked",
            CoreError::NotFound(_) => "not_found",
            CoreError::Forbidden { .. } => "forbidden",
            CoreError::UserRequired => "user_required",
            CoreError::InsufficientScope { .. } => "insufficient_scope",
            CoreError::InvalidLink => "invalid_link",
            CoreError::AlreadyVerified => "already_verified",
            CoreError::EmailNotVerified => "email_not_verified",
            CoreError::SignupDisabled => "signup_disabled",
            CoreError::TooManyRequests { .. } => "too_many_requests",
            CoreError::SocialRefused(refusal) => refusal.code(),
            CoreError::InvalidGrant => "invalid_grant",
            CoreError::LastCredential => "last_credential",
            CoreError::MfaRequired { .. } => "mfa_required",
            CoreError::InvalidMfaCode { .. } => "invalid_mfa_code",
            CoreError::MfaTokenInvalid => "mfa_token_invalid",
            CoreError::ReauthenticationRequired => "reauthentication_required",
            CoreError::InsufficientAuthentication => "insufficient_user_authentication",
            CoreError::MfaEnrollmentRequired => "mfa_enrollment_required",
            CoreError::MfaAlreadyEnabled => "mfa_already_enabled",
            CoreError::InvalidCredential => "invalid_credential",
            CoreError::Overloaded => "overloaded",
            CoreError::StoreUnavailable => "store_unavailable",
            CoreError::Unexpected(_) => "internal_error",
        }
    }

    /// The kind, which decides the status on every transport.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::InvalidInput(_)
            | CoreError::InvalidLink
            | CoreError::InvalidGrant
            | CoreError::InvalidCredential => ErrorKind::InvalidRequest,
            CoreError::SocialRefused(refusal) => match refusal {
                crate::identity::Refusal::AccountExists
                | crate::identity::Refusal::IdentityTaken => ErrorKind::Conflict,
                _ => ErrorKind::Forbidden,
            },
            CoreError::LastCredential | CoreError::MfaAlreadyEnabled => ErrorKind::Conflict,
            CoreError::MfaRequired { .. } | CoreError::MfaEnrollmentRequired => {
                ErrorKind::Forbidden
            }
            CoreError::InvalidMfaCode { during_sign_in } => {
                if *during_sign_in {
                    ErrorKind::Unauthenticated
                } else {
                    ErrorKind::InvalidRequest
                }
            }
            CoreError::MfaTokenInvalid
            | CoreError::ReauthenticationRequired
            | CoreError::InsufficientAuthentication => ErrorKind::Unauthenticated,
            CoreError::WeakPassword(_) => ErrorKind::Unprocessable,
            CoreError::EmailTaken | CoreError::AlreadyVerified => ErrorKind::Conflict,
            CoreError::InvalidCredentials
            | CoreError::WrongCurrentPassword
            | CoreError::InvalidRefreshToken
            | CoreError::RefreshTokenReused
            | CoreError::SessionRevoked
            | CoreError::InvalidToken
            | CoreError::WrongIssuer { .. }
            | CoreError::TokenExpired
            | CoreError::TokenRevoked => ErrorKind::Unauthenticated,
            CoreError::AccountBanned
            | CoreError::Forbidden { .. }
            | CoreError::UserRequired
            | CoreError::InsufficientScope { .. }
            | CoreError::EmailNotVerified
            | CoreError::SignupDisabled => ErrorKind::Forbidden,
            CoreError::NotFound(_) => ErrorKind::NotFound,
            CoreError::TooManyAttempts { .. } | CoreError::TooManyRequests { .. } => {
                ErrorKind::TooManyRequests
            }
            CoreError::Overloaded | CoreError::StoreUnavailable => ErrorKind::Unavailable,
            CoreError::Unexpected(_) => ErrorKind::Internal,
        }
    }

    /// What the client is told: never a secret or an internal cause (an
    /// `Unexpected` error's cause is for the log only).
    pub fn public_detail(&self) -> String {
        match self {
            CoreError::InvalidInput(field) => field.to_string(),
            CoreError::WeakPassword(why) => format!("password {why}"),
            CoreError::EmailTaken => "an account with this e-mail already exists".into(),
            CoreError::InvalidCredentials => "the e-mail or password is wrong".into(),
            CoreError::WrongCurrentPassword => "the current password is wrong".into(),
            CoreError::AccountBanned => "this account has been banned".into(),
            CoreError::TooManyAttempts { retry_after_secs } => {
                format!("too many failed sign-ins; retry in {retry_after_secs} s")
            }
            CoreError::InvalidRefreshToken => "the refresh token is unknown or expired".into(),
            CoreError::RefreshTokenReused => {
                "this refresh token was already used; the session has been revoked".into()
            }
            CoreError::SessionRevoked => "the session has been revoked; sign in again".into(),
            CoreError::InvalidToken => "the token is malformed, forged or unknown".into(),
            e @ CoreError::WrongIssuer { .. } => {
                format!("the token was {e}; instances sharing a database need the same issuer")
            }
            CoreError::TokenExpired => "the access token has expired".into(),
            CoreError::TokenRevoked => "the access token has been revoked".into(),
            CoreError::NotFound(what) => format!("{what} not found"),
            e @ (CoreError::Forbidden { .. } | CoreError::InsufficientScope { .. }) => {
                e.to_string()
            }
            CoreError::UserRequired => {
                "this acts for a signed-in user, and a service's token has none".into()
            }
            CoreError::InvalidLink => {
                "the link is unknown, already used or expired; ask for a new one".into()
            }
            CoreError::AlreadyVerified => "this e-mail address is already verified".into(),
            CoreError::EmailNotVerified => {
                "verify your e-mail address first; a new link has been sent if the last one \
                 is more than a minute old"
                    .into()
            }
            CoreError::SignupDisabled => {
                "sign-up is closed here; ask an administrator for an account".into()
            }
            CoreError::TooManyRequests { retry_after_secs } => {
                format!("a mail was sent moments ago; retry in {retry_after_secs} s")
            }
            CoreError::SocialRefused(refusal) => refusal.detail().into(),
            CoreError::InvalidGrant => {
                "the code is unknown, already used, expired, or the code_verifier does not match"
                    .into()
            }
            CoreError::LastCredential => {
                "this is the account's last way to sign in; set a password or link another \
                 provider first"
                    .into()
            }
            CoreError::MfaRequired { .. } => {
                "the password is right; now give a second factor at /v1/signin/mfa".into()
            }
            CoreError::InvalidMfaCode { .. } => {
                "the code is wrong, already used, or expired".into()
            }
            CoreError::MfaTokenInvalid => {
                "the sign-in expired or had too many wrong codes; sign in again".into()
            }
            CoreError::ReauthenticationRequired => {
                "confirm it is you: give your current password, or sign in again".into()
            }
            CoreError::InsufficientAuthentication => {
                "this needs a sign-in with a second factor".into()
            }
            CoreError::MfaEnrollmentRequired => {
                "your role needs a second factor; set one up at /v1/mfa/totp first".into()
            }
            CoreError::MfaAlreadyEnabled => {
                "an authenticator app is set up already; remove it first to set up another".into()
            }
            CoreError::InvalidCredential => {
                "the passkey could not be registered: the ceremony expired, was answered for \
                 another site, or the passkey is registered already; try again"
                    .into()
            }
            CoreError::Overloaded => "too many sign-ins at once; retry shortly".into(),
            CoreError::StoreUnavailable => "the database is unreachable; retry shortly".into(),
            CoreError::Unexpected(_) => "something went wrong on our side".into(),
        }
    }

    /// Seconds the client should wait before trying again, when that is known.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            CoreError::TooManyAttempts { retry_after_secs }
            | CoreError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            CoreError::Overloaded => Some(1),
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_own_problem_title() {
        use crate::identity::Refusal;
        let errors = [
            CoreError::InvalidInput(FieldError::new("email", "x")),
            CoreError::WeakPassword("x".into()),
            CoreError::EmailTaken,
            CoreError::InvalidCredentials,
            CoreError::WrongCurrentPassword,
            CoreError::AccountBanned,
            CoreError::TooManyAttempts {
                retry_after_secs: 1,
            },
            CoreError::InvalidRefreshToken,
            CoreError::RefreshTokenReused,
            CoreError::SessionRevoked,
            CoreError::InvalidToken,
            CoreError::TokenExpired,
            CoreError::TokenRevoked,
            CoreError::NotFound("x"),
            CoreError::Forbidden { any_of: vec![] },
            CoreError::UserRequired,
            CoreError::InsufficientScope { any_of: vec![] },
            CoreError::InvalidLink,
            CoreError::AlreadyVerified,
            CoreError::EmailNotVerified,
            CoreError::SignupDisabled,
            CoreError::TooManyRequests {
                retry_after_secs: 1,
            },
            CoreError::SocialRefused(Refusal::EmailNotVerifiedByProvider),
            CoreError::SocialRefused(Refusal::AccountExists),
            CoreError::SocialRefused(Refusal::SignUpDisabled),
            CoreError::SocialRefused(Refusal::AccountBanned),
            CoreError::SocialRefused(Refusal::IdentityTaken),
            CoreError::InvalidGrant,
            CoreError::LastCredential,
            CoreError::MfaRequired {
                mfa_token: String::new(),
                methods: vec![],
            },
            CoreError::InvalidMfaCode {
                during_sign_in: true,
            },
            CoreError::MfaTokenInvalid,
            CoreError::ReauthenticationRequired,
            CoreError::InsufficientAuthentication,
            CoreError::MfaEnrollmentRequired,
            CoreError::MfaAlreadyEnabled,
            CoreError::InvalidCredential,
            CoreError::Overloaded,
            CoreError::StoreUnavailable,
        ];
        for err in errors {
            let title = warden_edge::problem::title(err.code());
            assert_ne!(title, "Internal error", "{} has no title", err.code());
        }
    }

    #[test]
    fn an_unexpected_cause_never_reaches_the_public_detail() {
        let err = CoreError::Unexpected("db password=hunter2".into());
        assert_eq!(err.code(), "internal_error");
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert!(!err.public_detail().contains("hunter2"));
    }

    #[test]
    fn throttling_and_overload_say_when_to_come_back() {
        let throttled = CoreError::TooManyAttempts {
            retry_after_secs: 7,
        };
        assert_eq!(throttled.retry_after(), Some(7));
        assert!(throttled.public_detail().contains("7 s"));
        assert_eq!(CoreError::Overloaded.retry_after(), Some(1));
        assert_eq!(CoreError::InvalidToken.retry_after(), None);
    }

    #[test]
    fn a_wrong_issuer_is_an_invalid_token_that_names_both_issuers() {
        let err = CoreError::WrongIssuer {
            issued_by: "https://a.test".into(),
            expected: "https://b.test".into(),
        };
        assert_eq!(err.code(), "invalid_token");
        assert_eq!(err.kind(), ErrorKind::Unauthenticated);
        let detail = err.public_detail();
        assert!(detail.contains("issued by https://a.test") && detail.contains("https://b.test"));
    }
}
