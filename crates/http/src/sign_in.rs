//! `/v1/verify`'s side of the sign-in redirect (`[verify] sign_in_url`):
//! what the proxy tells about the client's request, read from its headers.
//! The decision itself ([`SignInRedirect`]) is shared with the gateway.

use axum::http::{HeaderMap, header};
pub use warden_edge::sign_in::SignInRedirect;
use warden_edge::sign_in::{Attempt, accepts_html};

/// The `Location` to send this forward-auth request to instead of a 401, if
/// the client is a browser loading a page. `original_uri` is the proxy's
/// `X-Original-URI` (or its equivalents), already checked to agree.
pub fn location(
    page: &SignInRedirect,
    headers: &HeaderMap,
    original_method: Option<&str>,
    original_uri: Option<&str>,
    allowed_origins: &[String],
) -> Option<String> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // ingress-nginx passes the whole URL; Traefik and Caddy the parts.
    let url = text("x-original-url").map(str::to_owned).or_else(|| {
        Some(format!(
            "{}://{}{}",
            text("x-forwarded-proto")?,
            text("x-forwarded-host")?,
            original_uri.filter(|uri| uri.starts_with('/'))?
        ))
    });
    let attempt = Attempt {
        method: original_method.unwrap_or("GET"),
        accepts_html: accepts_html(
            headers
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        ),
        path: original_uri,
        url: url.as_deref(),
    };
    page.location(&attempt, allowed_origins)
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

    fn allowed() -> Vec<String> {
        vec!["https://app.example.com".to_owned()]
    }

    #[test]
    fn the_proxys_method_and_accept_decide_what_is_a_page_load() {
        let page = SignInRedirect::parse("/login").unwrap();
        let at = |h: &HeaderMap, method| location(&page, h, method, Some("/a"), &[]);
        assert_eq!(
            at(&headers(&[HTML]), None).as_deref(),
            Some("/login?rd=%2Fa")
        );
        assert_eq!(at(&headers(&[HTML]), Some("POST")), None);
        assert_eq!(at(&headers(&[("accept", "application/json")]), None), None);
        assert_eq!(at(&HeaderMap::new(), Some("GET")), None);
    }

    #[test]
    fn forwarded_parts_or_the_original_url_give_the_full_address() {
        let page = SignInRedirect::parse("/login").unwrap();
        let at = |h: &HeaderMap, uri| location(&page, h, None, Some(uri), &allowed());
        let forwarded = headers(&[
            HTML,
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "app.example.com"),
        ]);
        assert_eq!(
            at(&forwarded, "/a").as_deref(),
            Some("/login?rd=https%3A%2F%2Fapp.example.com%2Fa")
        );
        let spoofed = headers(&[
            HTML,
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
        ]);
        assert_eq!(at(&spoofed, "/a").as_deref(), Some("/login?rd=%2Fa"));
        let ingress = headers(&[HTML, ("x-original-url", "https://app.example.com/b?c")]);
        assert_eq!(
            at(&ingress, "/b?c").as_deref(),
            Some("/login?rd=https%3A%2F%2Fapp.example.com%2Fb%3Fc")
        );
    }
}
