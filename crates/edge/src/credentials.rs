//! Where a request carries its credential, and the one rule for reading it,
//! shared by every edge so that no two accept different spellings.

/// The access-token cookie of browser mode (`__Host-`: Secure, Path=/, no Domain).
pub const ACCESS_COOKIE: &str = "__Host-warden_at";
/// The refresh-token cookie, sent only to `/v1/token`.
pub const REFRESH_COOKIE: &str = "__Secure-warden_rt";
/// The double-submit CSRF cookie, readable by the page's scripts.
pub const CSRF_COOKIE: &str = "warden_csrf";
/// The header that must repeat [`CSRF_COOKIE`] on a cookie-authenticated
/// state change.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The identity headers an edge sets for its upstream (and strips from
/// clients): user id, session id, comma-separated roles, the assurance
/// level (`aal1`/`aal2`) and the comma-separated `amr`.
pub const IDENTITY_HEADERS: [&str; 5] = [
    "x-warden-user",
    "x-warden-session",
    "x-warden-roles",
    "x-warden-acr",
    "x-warden-amr",
];
/// Longest `Authorization` value read: a maximal token (8 KiB, as
/// `warden_token::MAX_TOKEN_LEN`) plus its scheme.
pub const MAX_AUTHORIZATION: usize = 8 * 1024 + 16;

/// An `Authorization` value that is not `Bearer <token>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// The token of an `Authorization` value: the scheme `Bearer` in any case,
/// then the token, surrounding spaces ignored; an empty token, a token with
/// a space inside, another scheme or an oversized value is [`Malformed`].
pub fn bearer(authorization: &str) -> Result<&str, Malformed> {
    if authorization.len() > MAX_AUTHORIZATION {
        return Err(Malformed);
    }
    let (scheme, token) = authorization.split_once(' ').ok_or(Malformed)?;
    let token = token.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ') {
        Ok(token)
    } else {
        Err(Malformed)
    }
}

/// The value of cookie `name` across the given `Cookie` header values
/// (several headers, or one joined with `; `), quotes removed.
pub fn cookie<'a>(
    cookie_headers: impl IntoIterator<Item = &'a str>,
    name: &str,
) -> Option<&'a str> {
    cookie_headers
        .into_iter()
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bearer_rule() {
        assert_eq!(bearer("Bearer abc"), Ok("abc"));
        assert_eq!(bearer("bearer abc"), Ok("abc"));
        assert_eq!(bearer("BEARER   abc  "), Ok("abc"));
        for bad in ["Bearer", "Bearer ", "Bearer a b", "Basic abc", "abc", ""] {
            assert_eq!(bearer(bad), Err(Malformed), "{bad:?}");
        }
        let huge = format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION));
        assert_eq!(bearer(&huge), Err(Malformed));
    }

    #[test]
    fn cookies_are_found_across_headers() {
        let headers = ["a=1; b=2", "__Host-warden_at=\"tok\""];
        assert_eq!(cookie(headers, ACCESS_COOKIE), Some("tok"));
        assert_eq!(cookie(headers, "b"), Some("2"));
        assert_eq!(cookie(headers, "c"), None);
    }
}
