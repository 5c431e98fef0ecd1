//! RFC 9457 problem+json for the API: domain errors through their kind's
//! status; the body and headers come from `warden_edge::problem`, shared
//! with every other edge.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use warden_core::{CoreError, ErrorKind};

/// Base of the `type` URI; the stable `code` is appended.
pub use warden_edge::problem::TYPE_BASE;

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
    detail: String,
    retry_after: Option<u64>,
    /// No credential was presented at all: the 401's challenge then names
    /// no error (RFC 6750, section 3.1).
    no_credential: bool,
    /// Members of the body beyond RFC 9457's (the `mfa_token` and `methods`
    /// of `mfa_required`).
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ApiError {
    /// A problem with the given status, code and detail (the title is the
    /// code's, from the shared table).
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            retry_after: None,
            no_credential: false,
            extensions: None,
        }
    }

    /// 400 `invalid_request`.
    pub fn invalid_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    /// 401 `invalid_token`.
    pub fn invalid_token(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", detail)
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
        Self::new(StatusCode::FORBIDDEN, "csrf_failed", detail)
    }

    /// 403 `forbidden`.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 404 `not_found`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
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
        if let CoreError::Unexpected(cause) = &err {
            // Logged once here; the body says nothing internal.
            tracing::error!(%cause, "unexpected error");
        }
        let code = err.code();
        let extensions = match &err {
            CoreError::MfaRequired { mfa_token, methods } => {
                let mut members = serde_json::Map::new();
                members.insert("mfa_token".into(), mfa_token.clone().into());
                members.insert("methods".into(), methods.clone().into());
                Some(members)
            }
            _ => None,
        };
        ApiError {
            status: status_of(err.kind()),
            code,
            detail: err.public_detail(),
            retry_after: err.retry_after(),
            no_credential: false,
            extensions,
        }
    }
}

/// The HTTP status of each kind of domain error.
pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::InvalidRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let refused_token = !self.no_credential
            && matches!(
                self.code,
                "invalid_token" | "token_expired" | "token_revoked"
            );
        let problem = warden_edge::problem::Problem {
            status: self.status.as_u16(),
            code: self.code,
            detail: &self.detail,
            token_presented: refused_token,
            retry_after: self.retry_after,
        };
        let mut body = problem.body();
        if let Some(members) = &self.extensions
            && let Ok(extra) = serde_json::to_string(members)
            && extra.len() > 2
        {
            // `{...}` of RFC 9457 then `{...}` of the extensions: one object.
            body.pop();
            body.push(',');
            body.push_str(&extra[1..]);
        }
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        for (name, value) in problem.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}
