//! RFC 9457 problem+json: the one place errors become responses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use warden_core::CoreError;

/// Base of the `type` URI; the stable `code` is appended.
pub const TYPE_BASE: &str = "https://warden.dev/errors/";

/// The problem+json body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `https://warden.dev/errors/<code>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Short summary of the problem class.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable, machine-readable code.
    pub code: String,
    /// Human explanation; never secrets or internals.
    pub detail: String,
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    retry_after: Option<u64>,
    /// No credential was presented at all: the 401's challenge then names
    /// no error (RFC 6750, section 3.1).
    no_credential: bool,
}

impl ApiError {
    /// A problem with the given status, code, title and detail.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            retry_after: None,
            no_credential: false,
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid request",
            detail,
        )
    }

    /// 401 `invalid_token`.
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "Invalid token",
            detail,
        )
    }

    /// 401 `invalid_token` for a request that presented no credential.
    pub fn missing_token(detail: impl Into<String>) -> Self {
        Self {
            no_credential: true,
            ..Self::invalid_token(detail)
        }
    }

    /// 403 `csrf_failed`.
    pub fn csrf_failed(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "CSRF check failed",
            detail,
        )
    }

    /// 403 `forbidden`.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    /// 404 `not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not found", detail)
    }

    /// The stable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<CoreError> for ApiError {
    fn from(err: CoreError) -> Self {
        use StatusCode as S;
        match err {
            CoreError::InvalidInput(field) => ApiError::invalid_request(field.to_string()),
            CoreError::WeakPassword(why) => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "weak_password",
                "Password too weak",
                format!("password {why}"),
            ),
            CoreError::EmailTaken => ApiError::new(
                S::CONFLICT,
                "email_taken",
                "E-mail already registered",
                "an account with this e-mail already exists",
            ),
            CoreError::InvalidCredentials => ApiError::new(
                S::UNAUTHORIZED,
                "invalid_credentials",
                "Invalid credentials",
                "the e-mail or password is wrong",
            ),
            CoreError::WrongCurrentPassword => ApiError::new(
                S::UNAUTHORIZED,
                "invalid_credentials",
                "Invalid credentials",
                "the current password is wrong",
            ),
            CoreError::AccountBanned => ApiError::new(
                S::FORBIDDEN,
                "account_banned",
                "Account banned",
                "this account has been banned",
            ),
            CoreError::TooManyAttempts { retry_after_secs } => ApiError {
                retry_after: Some(retry_after_secs),
                ..ApiError::new(
                    S::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    "Too many attempts",
                    format!("too many failed sign-ins; retry in {retry_after_secs} s"),
                )
            },
            CoreError::InvalidRefreshToken => ApiError::new(
                S::UNAUTHORIZED,
                "invalid_refresh_token",
                "Invalid refresh token",
                "the refresh token is unknown or expired",
            ),
            CoreError::RefreshTokenReused => ApiError::new(
                S::UNAUTHORIZED,
                "refresh_token_reused",
                "Refresh token reused",
                "this refresh token was already used; the session has been revoked",
            ),
            CoreError::SessionRevoked => ApiError::new(
                S::UNAUTHORIZED,
                "session_revoked",
                "Session revoked",
                "the session has been revoked; sign in again",
            ),
            CoreError::InvalidToken => {
                ApiError::invalid_token("the token is malformed, forged or unknown")
            }
            e @ CoreError::WrongIssuer { .. } => ApiError::invalid_token(format!(
                "the token was {e}; instances sharing a database need the same issuer"
            )),
            CoreError::TokenExpired => ApiError::new(
                S::UNAUTHORIZED,
                "token_expired",
                "Token expired",
                "the access token has expired",
            ),
            CoreError::TokenRevoked => ApiError::new(
                S::UNAUTHORIZED,
                "token_revoked",
                "Token revoked",
                "the access token has been revoked",
            ),
            CoreError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            e @ CoreError::Forbidden { .. } => ApiError::forbidden(e.to_string()),
            CoreError::Overloaded => {
                let mut e = ApiError::new(
                    S::SERVICE_UNAVAILABLE,
                    "overloaded",
                    "Overloaded",
                    "too many sign-ins at once; retry shortly",
                );
                e.retry_after = Some(1);
                e
            }
            CoreError::StoreUnavailable => ApiError::new(
                S::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "Store unavailable",
                "the database is unreachable; retry shortly",
            ),
            CoreError::Unexpected(cause) => {
                // Logged once here; the body says nothing internal.
                tracing::error!(%cause, "unexpected error");
                ApiError::new(
                    S::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "Internal error",
                    "something went wrong on our side",
                )
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            type_: format!("{TYPE_BASE}{}", self.code),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: self.detail,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, bytes).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            let refused_token = !self.no_credential
                && matches!(
                    self.code,
                    "invalid_token" | "token_expired" | "token_revoked"
                );
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(warden_route::challenge::bearer(refused_token)),
            );
        }
        response
    }
}
