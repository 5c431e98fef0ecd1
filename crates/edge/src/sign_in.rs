//! A browser's way out of a 401 at the edge: a 302 to the sign-in page,
//! carrying where the user was going in `rd`. Used by `/v1/verify`
//! (`[verify] sign_in_url`) and by the gateway (`sign_in_url`).
//!
//! Only page loads are redirected (a `GET`/`HEAD` that accepts
//! `text/html`); API clients keep the problem+json 401 they can act on. The
//! return address is absolute only when its origin is one of the allowed
//! origins: it is built from what the client sent (`Host`, forwarded
//! headers), so anything else would make the sign-in page an open redirect.
//! Otherwise it is the bare path, which the sign-in page resolves against
//! its own host.
//!
//! ```
//! use warden_edge::sign_in::{Attempt, SignInRedirect};
//!
//! let page = SignInRedirect::parse("https://auth.example.com/sign-in").unwrap();
//! let attempt = Attempt {
//!     method: "GET",
//!     accepts_html: true,
//!     path: Some("/app/tickets?open"),
//!     url: Some("https://app.example.com/app/tickets?open"),
//! };
//! let allowed = ["https://app.example.com".to_owned()];
//! assert_eq!(
//!     page.location(&attempt, &allowed).as_deref(),
//!     Some("https://auth.example.com/sign-in?rd=https%3A%2F%2Fapp.example.com%2Fapp%2Ftickets%3Fopen")
//! );
//! ```

/// The configured sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRedirect {
    url: String,
}

/// What the edge knows about a request that failed authentication.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    /// The client's method.
    pub method: &'a str,
    /// Whether the client's `Accept` names `text/html` ([`accepts_html`]).
    pub accepts_html: bool,
    /// The path and query the client asked for, as it sent them.
    pub path: Option<&'a str>,
    /// The whole URL the client asked for, as far as the edge can tell; kept
    /// only when its origin is allowed.
    pub url: Option<&'a str>,
}

impl SignInRedirect {
    /// An absolute `http(s)://` URL, or a path on the same host (`/login`).
    /// No fragment: `rd` is appended to the query.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        let absolute = ["https://", "http://"].iter().any(|scheme| {
            url.get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
                && url.len() > scheme.len()
        });
        if !(absolute || is_local_path(url)) {
            return Err("sign_in_url must be an http(s) URL or a path starting with '/'".into());
        }
        if url.contains('#') || url.chars().any(|c| c.is_ascii_control() || c == ' ') {
            return Err("sign_in_url must have no fragment, spaces or control characters".into());
        }
        Ok(Self {
            url: url.to_owned(),
        })
    }

    /// The URL or path as configured (trimmed).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// The `Location` to send this attempt to instead of a 401, if it is a
    /// page load.
    pub fn location(&self, attempt: &Attempt<'_>, allowed_origins: &[String]) -> Option<String> {
        let safe = attempt.method.eq_ignore_ascii_case("GET")
            || attempt.method.eq_ignore_ascii_case("HEAD");
        if !(safe && attempt.accepts_html) {
            return None;
        }
        let mut location = self.url.clone();
        if let Some(back) = return_to(attempt, allowed_origins) {
            location.push(if location.contains('?') { '&' } else { '?' });
            location.push_str("rd=");
            encode_component(back, &mut location);
        }
        Some(location)
    }
}

/// Whether any of these `Accept` header values names `text/html`: a browser
/// navigating. `fetch()` and API clients rarely ask for HTML; a redirect
/// would only confuse them.
pub fn accepts_html<'a>(values: impl IntoIterator<Item = &'a str>) -> bool {
    values.into_iter().any(|value| {
        value
            .as_bytes()
            .windows(b"text/html".len())
            .any(|w| w.eq_ignore_ascii_case(b"text/html"))
    })
}

/// Where to come back to after signing in: the full URL when its origin is
/// allowed, else the path alone, else nothing.
fn return_to<'a>(attempt: &Attempt<'a>, allowed_origins: &[String]) -> Option<&'a str> {
    let absolute = attempt
        .url
        .filter(|url| is_allowed_absolute(url, allowed_origins));
    absolute.or_else(|| attempt.path.filter(|path| is_local_path(path)))
}

/// A return address (`rd`) the sign-in page may send a person back to: an
/// `http(s)` URL whose origin is one of `allowed_origins`, or a path on this
/// host. Anything else (`//evil.example`, `/\evil.example`, `javascript:`,
/// another origin, control characters that browsers strip from URLs) is
/// `None`: the same rule `/v1/verify` uses when it builds `rd`, so the page
/// never redirects where the edge would not have sent the person from.
/// The value must already be percent-decoded once (as a query parser
/// gives it); a still-encoded `%2F%2Fevil.example` is not a path and is
/// refused too.
///
/// ```
/// use warden_edge::sign_in::safe_return;
///
/// let allowed = ["https://app.example.com".to_owned()];
/// assert_eq!(safe_return("/account", &allowed), Some("/account"));
/// assert_eq!(safe_return("https://app.example.com/x", &allowed), Some("https://app.example.com/x"));
/// assert_eq!(safe_return("//evil.example", &allowed), None);
/// assert_eq!(safe_return("https://evil.example/", &allowed), None);
/// ```
pub fn safe_return<'a>(rd: &'a str, allowed_origins: &[String]) -> Option<&'a str> {
    if rd.chars().any(char::is_control) {
        return None;
    }
    if is_local_path(rd) || is_allowed_absolute(rd, allowed_origins) {
        Some(rd)
    } else {
        None
    }
}

fn is_allowed_absolute(url: &str, allowed_origins: &[String]) -> bool {
    origin_of(url).is_some_and(|origin| {
        allowed_origins
            .iter()
            .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
    })
}

/// `scheme://authority` of an absolute http(s) URL.
fn origin_of(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if !(scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if end == 0 || rest[..end].contains(['@', '\\']) {
        return None;
    }
    Some(&url[..scheme.len() + 3 + end])
}

/// A path on this host: `/x`, never `//host` or `/\host`, which browsers
/// treat as another host.
fn is_local_path(path: &str) -> bool {
    let mut chars = path.chars();
    chars.next() == Some('/')
        && !matches!(chars.next(), Some('/' | '\\'))
        && !path.contains('\\')
        && !path.chars().any(|c| c.is_ascii_control())
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so the
/// value stays one query parameter whatever it holds.
fn encode_component(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xF)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page_load<'a>(path: Option<&'a str>, url: Option<&'a str>) -> Attempt<'a> {
        Attempt {
            method: "GET",
            accepts_html: true,
            path,
            url,
        }
    }

    fn allowed() -> Vec<String> {
        vec!["https://app.example.com".to_owned()]
    }

    #[test]
    fn only_http_urls_and_local_paths_are_accepted() {
        for good in [
            "https://auth.example.com/sign-in",
            "http://localhost:3000/login?x=1",
            "/sign-in",
        ] {
            assert!(SignInRedirect::parse(good).is_ok(), "{good}");
        }
        let page = SignInRedirect::parse(" /sign-in ").unwrap();
        assert_eq!(page.as_str(), "/sign-in");
        for bad in [
            "",
            "sign-in",
            "//evil.example/x",
            "/\\evil.example",
            "javascript:alert(1)",
            "https://",
            "https://a.example/x#frag",
            "https://a.example/x y",
        ] {
            assert!(SignInRedirect::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn page_loads_go_to_sign_in_with_the_path_to_come_back_to() {
        let page = SignInRedirect::parse("https://auth.example.com/sign-in").unwrap();
        let location = page.location(&page_load(Some("/app/x?y=1&z é"), None), &[]);
        assert_eq!(
            location.as_deref(),
            Some("https://auth.example.com/sign-in?rd=%2Fapp%2Fx%3Fy%3D1%26z%20%C3%A9")
        );
        let with_query = SignInRedirect::parse("/login?lang=en").unwrap();
        assert_eq!(
            with_query
                .location(&page_load(Some("/a"), None), &[])
                .as_deref(),
            Some("/login?lang=en&rd=%2Fa")
        );
        assert_eq!(
            with_query.location(&page_load(None, None), &[]).as_deref(),
            Some("/login?lang=en")
        );
    }

    #[test]
    fn api_calls_and_unsafe_methods_keep_their_401() {
        let page = SignInRedirect::parse("/login").unwrap();
        let api = Attempt {
            accepts_html: false,
            ..page_load(Some("/a"), None)
        };
        assert_eq!(page.location(&api, &[]), None);
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            let attempt = Attempt {
                method,
                ..page_load(Some("/a"), None)
            };
            assert_eq!(page.location(&attempt, &[]), None, "{method}");
        }
        let head = Attempt {
            method: "head",
            ..page_load(Some("/a"), None)
        };
        assert!(page.location(&head, &[]).is_some());
    }

    #[test]
    fn html_is_found_in_any_accept_value() {
        assert!(accepts_html([
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        ]));
        assert!(accepts_html(["application/json", "TEXT/HTML"]));
        assert!(!accepts_html(["application/json", "*/*"]));
        assert!(!accepts_html([]));
    }

    #[test]
    fn the_full_url_is_kept_only_for_an_allowed_origin() {
        let page = SignInRedirect::parse("/login").unwrap();
        let cases = [
            (
                "https://app.example.com/a",
                "/login?rd=https%3A%2F%2Fapp.example.com%2Fa",
            ),
            (
                "https://APP.example.com/a",
                "/login?rd=https%3A%2F%2FAPP.example.com%2Fa",
            ),
            ("https://evil.example/a", "/login?rd=%2Fa"),
            ("https://app.example.com@evil/a", "/login?rd=%2Fa"),
            ("http://app.example.com/a", "/login?rd=%2Fa"),
            ("javascript://app.example.com/a", "/login?rd=%2Fa"),
        ];
        for (url, expected) in cases {
            assert_eq!(
                page.location(&page_load(Some("/a"), Some(url)), &allowed())
                    .as_deref(),
                Some(expected),
                "{url}"
            );
        }
    }

    #[test]
    fn return_addresses_leave_only_for_allowed_origins() {
        let allowed = allowed();
        for good in [
            "/",
            "/account?tab=sessions",
            "/%2F/still-this-host",
            "https://app.example.com",
            "https://app.example.com/a?b#c",
            "https://APP.example.com/a",
        ] {
            assert_eq!(safe_return(good, &allowed), Some(good), "{good}");
        }
        for bad in [
            "",
            "account",
            "//evil.com",
            "//evil.com/a",
            "/\\evil.com",
            "\\/evil.com",
            "/\t/evil.com",
            "/\n/evil.com",
            "https://evil.com",
            "https://app.example.com.evil.com/",
            "https://app.example.com@evil.com/",
            "http://app.example.com/",
            "javascript:alert(1)",
            "JavaScript://app.example.com/%0Aalert(1)",
            "data:text/html,x",
            "%2F%2Fevil.com",
            "%2f%2fevil.com",
            "https:evil.com",
            "https:/evil.com",
            " /account",
        ] {
            assert_eq!(safe_return(bad, &allowed), None, "{bad:?}");
        }
    }

    #[test]
    fn a_path_that_leaves_the_host_is_never_sent_back() {
        let page = SignInRedirect::parse("/login").unwrap();
        for path in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example/",
            "/a\u{7}b",
        ] {
            assert_eq!(
                page.location(&page_load(Some(path), None), &[]).as_deref(),
                Some("/login"),
                "{path}"
            );
        }
    }
}
