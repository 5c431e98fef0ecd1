//! Browser mode: tokens in HttpOnly cookies plus a readable CSRF cookie.

use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use warden_core::IssuedTokens;

pub use warden_edge::credentials::{ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE};
/// Path the refresh cookie is scoped to, below the issuer's path.
pub const REFRESH_PATH: &str = "/v1/token";

/// The refresh cookie's path: the issuer URL's path plus [`REFRESH_PATH`],
/// so that behind a gateway prefix (issuer `https://example.com/auth`) the
/// browser still sends it to `/auth/v1/token/...`.
pub fn refresh_path(issuer: &str) -> String {
    let base = issuer
        .parse::<axum::http::Uri>()
        .map(|uri| uri.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    format!("{base}{REFRESH_PATH}")
}

/// The `wmf_` token of a browser sign-in waiting for its second factor:
/// HttpOnly, so the page's scripts never see it, and Lax, so it survives
/// the redirect back from a social provider.
pub const MFA_COOKIE: &str = "__Host-warden_mfa";

/// [`MFA_COOKIE`] holding `mfa_token` for its five minutes.
pub fn mfa_cookie(mfa_token: &str) -> Cookie<'static> {
    Cookie::build((MFA_COOKIE, mfa_token.to_owned()))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time_secs(warden_core::MFA_TOKEN_TTL.num_seconds()))
        .build()
}

/// Expires [`MFA_COOKIE`].
pub fn clear_mfa_cookie() -> Cookie<'static> {
    Cookie::build((MFA_COOKIE, ""))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time_secs(0))
        .build()
}

/// Adds the three cookies for a freshly issued pair.
pub fn set_session_cookies(
    jar: CookieJar,
    tokens: &IssuedTokens,
    session_max_age_secs: i64,
    refresh_path: &str,
) -> CookieJar {
    let mut csrf = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut csrf);
    let access = Cookie::build((ACCESS_COOKIE, tokens.access_token.clone()))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(time_secs(tokens.expires_in));
    let refresh = Cookie::build((REFRESH_COOKIE, tokens.refresh_token.expose().to_owned()))
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path(refresh_path.to_owned())
        .max_age(time_secs(session_max_age_secs));
    let csrf = csrf_cookie(URL_SAFE_NO_PAD.encode(csrf), Some(session_max_age_secs));
    jar.add(access).add(refresh).add(csrf)
}

/// The readable double-submit cookie: for a session's lifetime when
/// `max_age_secs` is given, else until the browser closes (the hosted
/// pages' token before anyone signed in).
pub fn csrf_cookie(value: String, max_age_secs: Option<i64>) -> Cookie<'static> {
    let cookie = Cookie::build((CSRF_COOKIE, value))
        .secure(true)
        .same_site(SameSite::Strict)
        .path("/");
    match max_age_secs {
        Some(secs) => cookie.max_age(time_secs(secs)).build(),
        None => cookie.build(),
    }
}

/// Expires the three cookies.
pub fn clear_session_cookies(jar: CookieJar, refresh_path: &str) -> CookieJar {
    let expire = |name: &'static str, path: &str| {
        Cookie::build((name, ""))
            .secure(true)
            .path(path.to_owned())
            .max_age(time_secs(0))
            .build()
    };
    jar.add(expire(ACCESS_COOKIE, "/"))
        .add(expire(REFRESH_COOKIE, refresh_path))
        .add(expire(CSRF_COOKIE, "/"))
}

fn time_secs(secs: i64) -> time::Duration {
    time::Duration::seconds(secs)
}

#[cfg(test)]
mod tests {
    use super::refresh_path;

    #[test]
    fn the_refresh_path_follows_the_issuer_path() {
        assert_eq!(refresh_path("https://auth.example.com"), "/v1/token");
        assert_eq!(refresh_path("https://auth.example.com/"), "/v1/token");
        assert_eq!(refresh_path("https://example.com/auth"), "/auth/v1/token");
        assert_eq!(refresh_path("https://example.com/auth/"), "/auth/v1/token");
    }
}
