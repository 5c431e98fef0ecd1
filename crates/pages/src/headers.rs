//! Security headers on every page (front-door contract, section 6): a
//! strict CSP, no framing, no referrer, no sniffing, and `no-store` on
//! everything but the hashed assets (every page either shows personal data
//! or carries a CSRF token).

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

use crate::PageState;

/// `default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors
/// 'none'; form-action 'self'`, plus: images from the logo's origin, the
/// origins a form may end up at (`rd` targets, later sign-in providers),
/// and `base-uri`/`object-src` shut (nothing here uses them).
pub fn content_security_policy(logo_origin: Option<&str>, form_action: &[String]) -> String {
    let mut img = String::from("'self'");
    if let Some(origin) = logo_origin {
        img.push(' ');
        img.push_str(origin);
    }
    let mut forms = String::from("'self'");
    for origin in form_action {
        forms.push(' ');
        forms.push_str(origin.trim_end_matches('/'));
    }
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src {img}; \
         frame-ancestors 'none'; form-action {forms}; base-uri 'none'; object-src 'none'"
    )
}

/// Adds the headers to a page's response.
pub async fn secure(State(state): State<PageState>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, state.pages.csp.clone());
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_strict_and_opens_only_what_is_configured() {
        let plain = content_security_policy(None, &[]);
        assert!(plain.starts_with("default-src 'self'; script-src 'self'; style-src 'self';"));
        assert!(plain.contains("frame-ancestors 'none'; form-action 'self';"));
        assert!(!plain.contains("unsafe"));
        let open = content_security_policy(
            Some("https://cdn.example.com"),
            &["https://app.example.com/".into()],
        );
        assert!(open.contains("img-src 'self' https://cdn.example.com;"));
        assert!(open.contains("form-action 'self' https://app.example.com;"));
    }
}
