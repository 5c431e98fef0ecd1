//! Browser mode's checks on a state change authenticated by cookie, the same
//! at the API and the gateway: not cross-site (`Sec-Fetch-Site`), an
//! `Origin` on the allow-list, and the double-submit token.

/// Why a cookie-authenticated state change was refused (403 `csrf_failed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CsrfRefusal {
    /// `Sec-Fetch-Site: cross-site`.
    CrossSite,
    /// No `Origin` header.
    NoOrigin,
    /// An `Origin` not on the allow-list (kept, bounded, so the operator
    /// sees which spelling to add).
    OriginNotAllowed(String),
    /// The `X-CSRF-Token` header is missing or differs from the cookie.
    TokenMismatch,
}

impl CsrfRefusal {
    /// The problem detail.
    pub fn detail(&self) -> String {
        match self {
            CsrfRefusal::CrossSite => "cross-site request refused".into(),
            CsrfRefusal::NoOrigin => "the request has no Origin header".into(),
            CsrfRefusal::OriginNotAllowed(origin) => format!(
                "the request's Origin {origin} is not in allowed_origins; add it there in the \
                 config file (for `warden serve` also WARDEN_ALLOWED_ORIGINS, comma-separated)"
            ),
            CsrfRefusal::TokenMismatch => {
                "the X-CSRF-Token header must equal the warden_csrf cookie".into()
            }
        }
    }
}

/// What the checks read from the request.
#[derive(Debug, Clone, Copy, Default)]
pub struct CsrfInput<'a> {
    /// `Sec-Fetch-Site`.
    pub sec_fetch_site: Option<&'a str>,
    /// `Origin`.
    pub origin: Option<&'a str>,
    /// The `warden_csrf` cookie.
    pub cookie: Option<&'a str>,
    /// The `X-CSRF-Token` header.
    pub header: Option<&'a str>,
}

/// The whole check for a cookie-authenticated state change.
pub fn check(input: &CsrfInput<'_>, allowed_origins: &[String]) -> Result<(), CsrfRefusal> {
    if input.sec_fetch_site == Some("cross-site") {
        return Err(CsrfRefusal::CrossSite);
    }
    check_origin(input.origin, allowed_origins)?;
    match (input.cookie, input.header) {
        (Some(cookie), Some(header)) if !cookie.is_empty() && constant_time_eq(cookie, header) => {
            Ok(())
        }
        _ => Err(CsrfRefusal::TokenMismatch),
    }
}

/// The `Origin` check alone (for the cookie refresh, which has no CSRF token
/// yet to compare in some clients).
pub fn check_origin(origin: Option<&str>, allowed_origins: &[String]) -> Result<(), CsrfRefusal> {
    match origin {
        Some(origin) if allowed_origins.iter().any(|allowed| allowed == origin) => Ok(()),
        Some(origin) => Err(CsrfRefusal::OriginNotAllowed(
            origin.chars().take(200).collect(),
        )),
        None => Err(CsrfRefusal::NoOrigin),
    }
}

/// Equality whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["https://app.example.com".to_owned()]
    }

    fn good() -> CsrfInput<'static> {
        CsrfInput {
            sec_fetch_site: Some("same-origin"),
            origin: Some("https://app.example.com"),
            cookie: Some("t0k"),
            header: Some("t0k"),
        }
    }

    #[test]
    fn a_same_origin_request_with_the_matching_token_passes() {
        assert_eq!(check(&good(), &allowed()), Ok(()));
    }

    #[test]
    fn each_missing_piece_is_refused_with_its_reason() {
        let cases = [
            (
                CsrfInput {
                    sec_fetch_site: Some("cross-site"),
                    ..good()
                },
                CsrfRefusal::CrossSite,
            ),
            (
                CsrfInput {
                    origin: None,
                    ..good()
                },
                CsrfRefusal::NoOrigin,
            ),
            (
                CsrfInput {
                    origin: Some("https://evil.example"),
                    ..good()
                },
                CsrfRefusal::OriginNotAllowed("https://evil.example".into()),
            ),
            (
                CsrfInput {
                    header: Some("t0K"),
                    ..good()
                },
                CsrfRefusal::TokenMismatch,
            ),
            (
                CsrfInput {
                    cookie: Some(""),
                    header: Some(""),
                    ..good()
                },
                CsrfRefusal::TokenMismatch,
            ),
        ];
        for (input, refusal) in cases {
            assert_eq!(check(&input, &allowed()), Err(refusal));
        }
        assert!(
            CsrfRefusal::OriginNotAllowed("https://evil.example".into())
                .detail()
                .contains("WARDEN_ALLOWED_ORIGINS")
        );
    }
}
