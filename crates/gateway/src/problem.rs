//! RFC 9457 problem+json answers, with the contract's `type`/`code` scheme
//! (the same codes as Warden's own API).

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

use crate::body::{Body, full};

const TYPE_BASE: &str = "https://warden.dev/errors/";

/// A refusal from the gateway itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    title: &'static str,
    detail: &'static str,
    /// A 401 for a request that presented no token (its challenge names no
    /// error).
    no_token: bool,
}

#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "type")]
    type_: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: &'a str,
}

impl Problem {
    const fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: &'static str,
    ) -> Self {
        Self {
            status,
            code,
            title,
            detail,
            no_token: false,
        }
    }

    /// 400: a path that cannot be normalised safely.
    pub const fn bad_path(detail: &'static str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid request",
            detail,
        )
    }

    /// 400: an HTTP/1.1 request without exactly one `Host` (RFC 9112 §3.2).
    pub const fn bad_host() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid request",
            "an HTTP/1.1 request needs exactly one Host header",
        )
    }

    /// 401 with the verifier's code (`invalid_token`, `token_expired`, `token_revoked`).
    pub const fn unauthorized(code: &'static str, detail: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, "Unauthorized", detail)
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
            "Forbidden",
            "this route needs a role the token does not grant",
        )
    }

    /// 403 `csrf_failed`.
    pub const fn csrf_failed(detail: &'static str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_failed",
            "CSRF check failed",
            detail,
        )
    }

    /// 404 `not_found`.
    pub const fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not found",
            "no route matches this path",
        )
    }

    /// 502 `bad_gateway`.
    pub const fn bad_gateway() -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "bad_gateway",
            "Bad gateway",
            "the upstream service could not be reached",
        )
    }

    /// 503 with the verifier's code (`keys_unavailable`, `revocations_stale`).
    pub const fn unavailable(code: &'static str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code,
            "Service unavailable",
            "tokens cannot be verified right now",
        )
    }

    /// 504 `gateway_timeout`.
    pub const fn gateway_timeout() -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "gateway_timeout",
            "Gateway timeout",
            "the upstream service did not answer in time",
        )
    }

    /// The response.
    pub fn into_response(self) -> Response<Body> {
        let wire = Wire {
            type_: format!("{TYPE_BASE}{}", self.code),
            title: self.title,
            status: self.status.as_u16(),
            code: self.code,
            detail: self.detail,
        };
        let bytes = serde_json::to_vec(&wire).unwrap_or_default();
        let mut response = Response::new(full(Bytes::from(bytes)));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(warden_route::challenge::bearer(!self.no_token)),
            );
        }
        response
    }
}
