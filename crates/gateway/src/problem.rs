//! The gateway's own refusals, as the problem+json every edge gives
//! (`warden_edge::problem`: the same body, titles and headers as Warden's
//! API).

use std::borrow::Cow;

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};

use crate::body::{Body, full};

/// A refusal from the gateway itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    detail: Cow<'static, str>,
    /// A 401 for a request that presented no token (its challenge names no
    /// error).
    no_token: bool,
}

impl Problem {
    const fn new(status: StatusCode, code: &'static str, detail: &'static str) -> Self {
        Self {
            status,
            code,
            detail: Cow::Borrowed(detail),
            no_token: false,
        }
    }

    /// 400: a path that cannot be normalised safely.
    pub const fn bad_path(detail: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", detail)
    }

    /// 400: an HTTP/1.1 request without exactly one `Host` (RFC 9112 §3.2).
    pub const fn bad_host() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "an HTTP/1.1 request needs exactly one Host header",
        )
    }

    /// 401 with the verifier's code (`invalid_token`, `token_expired`, `token_revoked`).
    pub const fn unauthorized(code: &'static str, detail: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 401 `invalid_token` for a request that presented no token.
    pub const fn no_token(detail: &'static str) -> Self {
        let mut problem = Self::unauthorized("invalid_token", detail);
        problem.no_token = true;
        problem
    }

    /// 403 `forbidden`.
    pub const fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this route needs a role the token does not grant",
        )
    }

    /// 403 `insufficient_scope`.
    pub const fn insufficient_scope() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "this route needs a scope the token was not granted",
        )
    }

    /// 403 `user_required`: a service's token on a route for people.
    pub const fn user_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "user_required",
            "this route needs a user's token (roles or a second factor); a service's has none",
        )
    }

    /// 403 `csrf_failed`, with the shared check's reason.
    pub fn csrf_failed(refusal: &warden_edge::csrf::CsrfRefusal) -> Self {
        Self {
            detail: Cow::Owned(refusal.detail()),
            ..Self::new(StatusCode::FORBIDDEN, "csrf_failed", "")
        }
    }

    /// 404 `not_found`.
    pub const fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "no route matches this path",
        )
    }

    /// 502 `bad_gateway`.
    pub const fn bad_gateway() -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            "the upstream service could not be reached",
        )
    }

    /// 503 with the verifier's code (`keys_unavailable`, `revocations_stale`).
    pub const fn unavailable(code: &'static str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "tokens cannot be verified right now",
        )
    }

    /// 504 `gateway_timeout`.
    pub const fn gateway_timeout() -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "gateway_timeout",
            "the upstream service did not answer in time",
        )
    }

    /// The response.
    pub fn into_response(self) -> Response<Body> {
        let problem = warden_edge::problem::Problem {
            status: self.status.as_u16(),
            code: self.code,
            detail: &self.detail,
            token_presented: !self.no_token,
            retry_after: None,
        };
        let mut response = Response::new(full(Bytes::from(problem.body())));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        for (name, value) in problem.headers() {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}
