//! The problem+json answer (RFC 9457) every edge gives: the API, the
//! gateway, warden-verify's extractor and layer, and Envoy `ext_authz`. One
//! `type` scheme, one title per code, the same headers; each edge only puts
//! the bytes and headers into its own response type.

use crate::challenge;

/// Base of the `type` URI; the stable code is appended.
pub const TYPE_BASE: &str = "https://warden.dev/errors/";
/// The media type of the body.
pub const CONTENT_TYPE: &str = "application/problem+json";
/// Answers that refuse a credential are never cached.
pub const CACHE_CONTROL: &str = "no-store";

/// The title of each stable code; one title per code at every edge.
pub fn title(code: &str) -> &'static str {
    match code {
        "invalid_request" => "Invalid request",
        "weak_password" => "Password too weak",
        "email_taken" => "E-mail already registered",
        "invalid_credentials" => "Invalid credentials",
        "account_banned" => "Account banned",
        "too_many_attempts" => "Too many attempts",
        "invalid_refresh_token" => "Invalid refresh token",
        "refresh_token_reused" => "Refresh token reused",
        "session_revoked" => "Session revoked",
        "invalid_token" => "Invalid token",
        "token_expired" => "Token expired",
        "token_revoked" => "Token revoked",
        "forbidden" => "Forbidden",
        "user_required" => "User token required",
        "insufficient_scope" => "Insufficient scope",
        "invalid_link" => "Invalid link",
        "already_verified" => "Already verified",
        "email_not_verified" => "E-mail not verified",
        "signup_disabled" | "sign_up_disabled" => "Sign-up disabled",
        "too_many_requests" => "Too many requests",
        "invalid_redirect" => "Invalid redirect",
        "invalid_grant" => "Invalid grant",
        "last_credential" => "Last credential",
        "mfa_required" => "Second factor required",
        "invalid_mfa_code" => "Invalid second-factor code",
        "mfa_token_invalid" => "Sign-in expired",
        "reauthentication_required" => "Re-authentication required",
        "insufficient_user_authentication" => "Insufficient user authentication",
        "mfa_enrollment_required" => "Second factor enrolment required",
        "mfa_already_enabled" => "Second factor already enabled",
        "invalid_credential" => "Invalid passkey",
        "account_exists" => "Account exists",
        "identity_taken" => "Identity taken",
        "email_not_verified_by_provider" => "E-mail not verified by provider",
        "csrf_failed" => "CSRF check failed",
        "not_found" => "Not found",
        "method_not_allowed" => "Method not allowed",
        "request_timeout" => "Request timeout",
        "payload_too_large" => "Payload too large",
        "unsupported_media_type" => "Unsupported media type",
        "overloaded" => "Overloaded",
        "store_unavailable" => "Store unavailable",
        "keys_unavailable" | "revocations_stale" | "warden_unavailable" => "Service unavailable",
        "timeout" => "Timeout",
        "bad_gateway" => "Bad gateway",
        "gateway_timeout" => "Gateway timeout",
        _ => "Internal error",
    }
}

/// One refusal, in the terms every edge shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem<'a> {
    /// The HTTP status.
    pub status: u16,
    /// The stable code (`invalid_token`, ...).
    pub code: &'a str,
    /// What the client is told; never a secret or an internal cause.
    pub detail: &'a str,
    /// For a 401: whether a credential was presented (and refused). The
    /// challenge names `invalid_token` only then (RFC 6750, section 3.1).
    pub token_presented: bool,
    /// Seconds to wait before retrying, when known.
    pub retry_after: Option<u64>,
}

impl Problem<'_> {
    /// The JSON body.
    pub fn body(&self) -> String {
        let mut out = String::with_capacity(128 + self.detail.len());
        out.push_str("{\"type\":");
        push_json_string(&mut out, &format!("{TYPE_BASE}{}", self.code));
        out.push_str(",\"title\":");
        push_json_string(&mut out, title(self.code));
        out.push_str(",\"status\":");
        out.push_str(&self.status.to_string());
        out.push_str(",\"code\":");
        push_json_string(&mut out, self.code);
        out.push_str(",\"detail\":");
        push_json_string(&mut out, self.detail);
        out.push('}');
        out
    }

    /// The headers that go with the body (names in lower case).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("content-type", CONTENT_TYPE.to_owned()),
            ("cache-control", CACHE_CONTROL.to_owned()),
        ];
        if self.status == 401 {
            let challenge = if self.code == "insufficient_user_authentication" {
                challenge::INSUFFICIENT_USER_AUTHENTICATION
            } else {
                challenge::bearer(self.token_presented)
            };
            headers.push(("www-authenticate", challenge.to_owned()));
        }
        if let Some(secs) = self.retry_after {
            headers.push(("retry-after", secs.to_string()));
        }
        headers
    }
}

/// Appends `text` as a JSON string literal (RFC 8259 escaping).
fn push_json_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(detail: &str) -> Problem<'_> {
        Problem {
            status: 401,
            code: "invalid_token",
            detail,
            token_presented: true,
            retry_after: None,
        }
    }

    #[test]
    fn the_body_is_json_with_the_contract_fields() {
        let body = problem("the token is malformed, forged or unknown").body();
        assert_eq!(
            body,
            "{\"type\":\"https://warden.dev/errors/invalid_token\",\"title\":\"Invalid token\",\
             \"status\":401,\"code\":\"invalid_token\",\
             \"detail\":\"the token is malformed, forged or unknown\"}"
        );
    }

    #[test]
    fn details_are_escaped() {
        let body = problem("a \"quoted\" \\ path\nwith\u{1}control").body();
        assert!(
            body.contains(r#""detail":"a \"quoted\" \\ path\nwith\u0001control""#),
            "{body}"
        );
    }

    #[test]
    fn a_401_carries_the_challenge_and_a_retry_its_delay() {
        let headers = problem("x").headers();
        assert!(headers.contains(&("www-authenticate", challenge::INVALID_TOKEN.to_owned())));
        assert!(headers.contains(&("content-type", CONTENT_TYPE.to_owned())));
        assert!(headers.contains(&("cache-control", "no-store".to_owned())));
        let missing = Problem {
            token_presented: false,
            ..problem("x")
        };
        assert!(
            missing
                .headers()
                .contains(&("www-authenticate", challenge::NO_TOKEN.to_owned()))
        );
        let throttled = Problem {
            status: 429,
            code: "too_many_attempts",
            detail: "x",
            token_presented: false,
            retry_after: Some(7),
        };
        let headers = throttled.headers();
        assert!(headers.contains(&("retry-after", "7".to_owned())));
        assert!(!headers.iter().any(|(name, _)| *name == "www-authenticate"));
    }

    #[test]
    fn every_code_has_one_title() {
        assert_eq!(title("invalid_token"), "Invalid token");
        assert_eq!(title("token_expired"), "Token expired");
        assert_eq!(title("keys_unavailable"), "Service unavailable");
        assert_eq!(title("something_new"), "Internal error");
    }
}
