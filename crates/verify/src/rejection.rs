//! Why a request was refused, in the edge contract's terms: the one
//! decision of status, code and detail that the axum extractor and the
//! tower layer both answer with (as Warden's problem+json, built by
//! `warden_edge::problem`), so the two cannot drift.

use http::StatusCode;

use crate::error::{VerifyError, VerifyErrorKind};

/// Why a request was refused: 401 (no or bad token), 403 (missing role or
/// scope, or a service's token where a user's is needed) or
/// 503 (this service cannot verify right now), as problem+json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRejection {
    status: StatusCode,
    code: &'static str,
    detail: &'static str,
    token_presented: bool,
}

impl AuthRejection {
    /// No bearer token at all.
    pub(crate) fn missing() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "invalid_token",
            detail: "a bearer access token is required",
            token_presented: false,
        }
    }

    /// A valid token without a required role.
    pub(crate) fn forbidden() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            detail: "the token lacks a required role",
            token_presented: true,
        }
    }

    /// A valid token without any of the scopes needed.
    pub(crate) fn insufficient_scope() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            code: "insufficient_scope",
            detail: "the token lacks a required scope",
            token_presented: true,
        }
    }

    /// A valid token of a session with one factor where two are needed:
    /// RFC 9470's step-up challenge.
    pub(crate) fn insufficient_authentication() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            code: "insufficient_user_authentication",
            detail: "this needs a sign-in with a second factor",
            token_presented: true,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The gRPC status code of the same refusal: `UNAUTHENTICATED` (16),
    /// `PERMISSION_DENIED` (7) or `UNAVAILABLE` (14).
    #[cfg(feature = "tower")]
    pub(crate) fn grpc_status(&self) -> &'static str {
        match self.status {
            StatusCode::FORBIDDEN => "7",
            StatusCode::SERVICE_UNAVAILABLE => "14",
            _ => "16",
        }
    }

    /// The body and headers every edge answers this refusal with.
    pub(crate) fn problem(&self) -> warden_edge::problem::Problem<'static> {
        warden_edge::problem::Problem {
            status: self.status.as_u16(),
            code: self.code,
            detail: self.detail,
            token_presented: self.token_presented,
            retry_after: None,
        }
    }

    /// The problem's headers, as `http` values (all are ASCII, so none is
    /// lost).
    pub(crate) fn headers(&self) -> impl Iterator<Item = (&'static str, http::HeaderValue)> {
        self.problem()
            .headers()
            .into_iter()
            .filter_map(|(name, value)| Some((name, http::HeaderValue::from_str(&value).ok()?)))
    }
}

impl From<VerifyError> for AuthRejection {
    fn from(e: VerifyError) -> Self {
        let (status, detail) = match e.kind() {
            VerifyErrorKind::Expired => (StatusCode::UNAUTHORIZED, "the access token has expired"),
            VerifyErrorKind::Revoked => (StatusCode::UNAUTHORIZED, "the access token was revoked"),
            VerifyErrorKind::Stale
            | VerifyErrorKind::KeysUnavailable
            | VerifyErrorKind::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "tokens cannot be verified right now",
            ),
            VerifyErrorKind::SessionTokenUnsupported => (
                StatusCode::UNAUTHORIZED,
                "this service accepts JWT access tokens only, not opaque session tokens",
            ),
            VerifyErrorKind::UserRequired => (
                StatusCode::FORBIDDEN,
                "this needs a user's token; a service's own token has no user",
            ),
            _ => (StatusCode::UNAUTHORIZED, "the access token is not valid"),
        };
        Self {
            status,
            code: e.code(),
            detail,
            token_presented: true,
        }
    }
}
