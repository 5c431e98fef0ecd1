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
    /// The `X-CSRF-Token` header (or, for [`check_form`], the form's
    /// hidden token field).
    pub header: Option<&'a str>,
}

/// The whole check for a cookie-authenticated state change.
pub fn check(input: &CsrfInput<'_>, allowed_origins: &[String]) -> Result<(), CsrfRefusal> {
    if input.sec_fetch_site == Some("cross-site") {
        return Err(CsrfRefusal::CrossSite);
    }
    check_origin(input.origin, allowed_origins)?;
    check_token(input)
}

/// The double-submit comparison: the supplied token equals a non-empty cookie.
fn check_token(input: &CsrfInput<'_>) -> Result<(), CsrfRefusal> {
    match (input.cookie, input.header) {
        (Some(cookie), Some(supplied))
            if !cookie.is_empty() && constant_time_eq(cookie, supplied) =>
        {
            Ok(())
        }
        _ => Err(CsrfRefusal::TokenMismatch),
    }
}

/// The check for a form the hosted pages posted to themselves: the same
/// rule as [`check`], with the token in a hidden form field instead of the
/// `X-CSRF-Token` header (a form cannot set headers).
///
/// One difference: the pages send `Referrer-Policy: no-referrer`, under
/// which browsers send `Origin: null` on a form POST (Fetch, "serializing a
/// request origin"). So a `null` or missing `Origin` passes when the
/// browser vouches with `Sec-Fetch-Site: same-origin`; an `Origin` that is
/// present must be on the allow-list, and the token must always match.
pub fn check_form(input: &CsrfInput<'_>, allowed_origins: &[String]) -> Result<(), CsrfRefusal> {
    if input.sec_fetch_site == Some("cross-site") {
        return Err(CsrfRefusal::CrossSite);
    }
    match input.origin {
        None | Some("null") if input.sec_fetch_site == Some("same-origin") => {}
        origin => check_origin(origin, allowed_origins)?,
    }
    check_token(input)
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
    fn a_form_from_the_pages_passes_with_a_null_origin_only_when_same_origin() {
        let form = |origin, site| CsrfInput {
            sec_fetch_site: site,
            origin,
            ..good()
        };
        let allowed = allowed();
        assert_eq!(check_form(&good(), &allowed), Ok(()));
        assert_eq!(
            check_form(&form(Some("null"), Some("same-origin")), &allowed),
            Ok(())
        );
        assert_eq!(
            check_form(&form(None, Some("same-origin")), &allowed),
            Ok(())
        );
        assert_eq!(
            check_form(&form(Some("null"), Some("same-site")), &allowed),
            Err(CsrfRefusal::OriginNotAllowed("null".into()))
        );
        assert_eq!(
            check_form(&form(None, None), &allowed),
            Err(CsrfRefusal::NoOrigin)
        );
        assert_eq!(
            check_form(
                &form(Some("https://evil.example"), Some("same-origin")),
                &allowed
            ),
            Err(CsrfRefusal::OriginNotAllowed("https://evil.example".into()))
        );
        assert_eq!(
            check_form(&form(Some("null"), Some("cross-site")), &allowed),
            Err(CsrfRefusal::CrossSite)
        );
        let wrong_token = CsrfInput {
            header: Some("other"),
            ..form(Some("null"), Some("same-origin"))
        };
        assert_eq!(
            check_form(&wrong_token, &allowed),
            Err(CsrfRefusal::TokenMismatch)
        );
        let no_cookie = CsrfInput {
            cookie: None,
            ..good()
        };
        assert_eq!(
            check_form(&no_cookie, &allowed),
            Err(CsrfRefusal::TokenMismatch)
        );
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
