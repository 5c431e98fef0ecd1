//! A browser's way out of a 401 at forward auth: a 302 to the sign-in page
//! (`[verify] sign_in_url`), carrying where the user was going in `rd`.
//!
//! Only page loads are redirected (a `GET`/`HEAD` whose `Accept` names
//! `text/html`); API clients keep the problem+json 401 they can act on. The
//! return address is absolute only when its origin is one of the allowed
//! origins: the proxy builds it from the client's own `Host`, so anything
//! else would make the sign-in page an open redirect. Otherwise it is the
//! bare path, which the sign-in page resolves against its own host.

use axum::http::{HeaderMap, header};

/// The configured sign-in page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRedirect {
    url: String,
}

impl SignInRedirect {
    /// An absolute `http(s)://` URL, or a path on the proxied host (`/login`).
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

    /// The `Location` to send this request to instead of a 401, if it is a
    /// page load. `original_uri` is the proxy's `X-Original-URI` (or its
    /// equivalents), already checked to agree.
    pub fn location(
        &self,
        headers: &HeaderMap,
        original_method: Option<&str>,
        original_uri: Option<&str>,
        allowed_origins: &[String],
    ) -> Option<String> {
        if !is_page_load(headers, original_method) {
            return None;
        }
        let mut location = self.url.clone();
        if let Some(back) = return_to(headers, original_uri, allowed_origins) {
            location.push(if location.contains('?') { '&' } else { '?' });
            location.push_str("rd=");
            location.extend(form_urlencoded::byte_serialize(back.as_bytes()));
        }
        Some(location)
    }
}

/// A browser navigating: a safe method and HTML accepted. `fetch()` and
/// API clients rarely ask for HTML; a redirect would only confuse them.
fn is_page_load(headers: &HeaderMap, original_method: Option<&str>) -> bool {
    let method = original_method.unwrap_or("GET");
    let safe = method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD");
    let html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.to_ascii_lowercase().contains("text/html"));
    safe && html
}

/// Where to come back to after signing in: the full URL when its origin is
/// allowed, else the path alone, else nothing.
fn return_to(
    headers: &HeaderMap,
    original_uri: Option<&str>,
    allowed_origins: &[String],
) -> Option<String> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let path = original_uri.filter(|uri| is_local_path(uri));
    // ingress-nginx passes the whole URL; Traefik and Caddy the parts.
    let absolute = text("x-original-url")
        .map(str::to_owned)
        .or_else(|| {
            let proto = text("x-forwarded-proto")?;
            let host = text("x-forwarded-host")?;
            Some(format!("{proto}://{host}{}", path?))
        })
        .filter(|url| {
            origin_of(url).is_some_and(|origin| {
                allowed_origins
                    .iter()
                    .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin))
            })
        });
    absolute.or_else(|| path.map(str::to_owned))
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const HTML: (&str, &str) = ("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    const ALLOWED: &[&str] = &["https://app.example.com"];

    fn allowed() -> Vec<String> {
        ALLOWED.iter().map(|s| (*s).to_owned()).collect()
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
        let location = page.location(&headers(&[HTML]), Some("GET"), Some("/app/x?y=1&z"), &[]);
        assert_eq!(
            location.as_deref(),
            Some("https://auth.example.com/sign-in?rd=%2Fapp%2Fx%3Fy%3D1%26z")
        );
        let with_query = SignInRedirect::parse("/login?lang=en").unwrap();
        assert_eq!(
            with_query
                .location(&headers(&[HTML]), None, Some("/a"), &[])
                .as_deref(),
            Some("/login?lang=en&rd=%2Fa")
        );
    }

    #[test]
    fn api_calls_and_unsafe_methods_keep_their_401() {
        let page = SignInRedirect::parse("/login").unwrap();
        let json = headers(&[("accept", "application/json")]);
        assert_eq!(page.location(&json, Some("GET"), Some("/a"), &[]), None);
        assert_eq!(
            page.location(&HeaderMap::new(), None, Some("/a"), &[]),
            None
        );
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            assert_eq!(
                page.location(&headers(&[HTML]), Some(method), Some("/a"), &[]),
                None,
                "{method}"
            );
        }
        assert!(
            page.location(&headers(&[HTML]), Some("head"), Some("/a"), &[])
                .is_some()
        );
    }

    #[test]
    fn the_full_url_is_kept_only_for_an_allowed_origin() {
        let page = SignInRedirect::parse("/login").unwrap();
        let forwarded = headers(&[
            HTML,
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example.com"),
        ]);
        assert_eq!(
            page.location(&forwarded, None, Some("/a"), &allowed())
                .as_deref(),
            Some("/login?rd=https%3A%2F%2Fapp.example.com%2Fa")
        );
        let spoofed = headers(&[
            HTML,
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
        ]);
        assert_eq!(
            page.location(&spoofed, None, Some("/a"), &allowed())
                .as_deref(),
            Some("/login?rd=%2Fa")
        );
        let ingress = headers(&[HTML, ("x-original-url", "https://app.example.com/b?c")]);
        assert_eq!(
            page.location(&ingress, None, Some("/b?c"), &allowed())
                .as_deref(),
            Some("/login?rd=https%3A%2F%2Fapp.example.com%2Fb%3Fc")
        );
        let userinfo = headers(&[HTML, ("x-original-url", "https://app.example.com@evil/b")]);
        assert_eq!(
            page.location(&userinfo, None, Some("/b"), &allowed())
                .as_deref(),
            Some("/login?rd=%2Fb")
        );
    }

    #[test]
    fn a_path_that_leaves_the_host_is_never_sent_back() {
        let page = SignInRedirect::parse("/login").unwrap();
        for uri in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example/",
        ] {
            assert_eq!(
                page.location(&headers(&[HTML]), None, Some(uri), &[])
                    .as_deref(),
                Some("/login"),
                "{uri}"
            );
        }
    }
}
