//! The forms' CSRF token: cookie mode's double-submit cookie
//! (`warden_csrf`), repeated in a hidden `csrf_token` field and checked by
//! the edge's shared rule ([`warden_edge::csrf::check_form`]). Before
//! anyone has signed in, the first page sets the cookie; signing in
//! replaces it with the session's, so a token planted before sign-in is
//! worth nothing after.

use axum::http::HeaderMap;
use axum_extra::extract::cookie::Cookie;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use warden_edge::csrf::{CsrfInput, CsrfRefusal, check_form};
use warden_http::cookies::{CSRF_COOKIE, csrf_cookie};

use crate::form::Form;

/// The hidden field's name.
pub const FIELD: &str = "csrf_token";

/// The token a page embeds in its forms.
#[derive(Debug, Clone)]
pub struct Token {
    value: String,
    is_new: bool,
}

impl Token {
    /// The browser's current token, or a new one when it has none (or one
    /// that is not a token we could have made).
    pub fn of(headers: &HeaderMap) -> Self {
        match current(headers) {
            Some(value) => Self {
                value: value.to_owned(),
                is_new: false,
            },
            None => {
                let mut bytes = [0_u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                Self {
                    value: URL_SAFE_NO_PAD.encode(bytes),
                    is_new: true,
                }
            }
        }
    }

    /// The value for the hidden field.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The cookie to set with the page, when the token is new.
    pub fn cookie(&self) -> Option<Cookie<'static>> {
        self.is_new.then(|| csrf_cookie(self.value.clone(), None))
    }
}

fn current(headers: &HeaderMap) -> Option<&str> {
    cookie(headers).filter(|v| is_token_shaped(v))
}

fn cookie(headers: &HeaderMap) -> Option<&str> {
    let values = headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    warden_edge::credentials::cookie(values, CSRF_COOKIE)
}

fn is_token_shaped(value: &str) -> bool {
    (16..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether a posted form passes: same origin (or `Sec-Fetch-Site:
/// same-origin` with the `null` origin `no-referrer` makes), and the field
/// equals the cookie.
pub fn check(
    headers: &HeaderMap,
    form: &Form,
    allowed_origins: &[String],
) -> Result<(), CsrfRefusal> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let input = CsrfInput {
        sec_fetch_site: header("sec-fetch-site"),
        origin: header("origin"),
        cookie: cookie(headers),
        header: form.get(FIELD),
    };
    check_form(&input, allowed_origins)
}
