//! Who is looking at a page, and keeping them signed in.
//!
//! The access cookie lives 15 minutes; the session lives for weeks. The
//! refresh cookie that bridges them is scoped to the issuer's `/v1/token`
//! (cookie mode), so a page never sees it. When a page finds the access
//! cookie lapsed but signs of a session (the CSRF cookie), it sends the
//! browser once through [`RESUME_PATH`], under that scope: there the
//! refresh cookie arrives, the pair is rotated, and the browser goes back.
//! A revoked session fails the refresh and lands on the sign-in page, so a
//! revocation signs the pages out at once (the access token is checked
//! against the deny-list on every page).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use warden_core::{CoreError, ErrorKind, Principal};
use warden_http::cookies::{
    ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE, clear_session_cookies, refresh_path,
    set_session_cookies,
};
use warden_http::extract::Client;

use crate::PageState;
use crate::routes::{redirect, return_to, unavailable};

/// The session-keeping hop, below the refresh cookie's path.
pub const RESUME_PATH: &str = "/v1/token/resume";

/// Who is looking.
#[derive(Debug)]
pub enum Visitor {
    /// A valid, unrevoked access cookie.
    SignedIn(Principal),
    /// No valid access cookie, but this browser has had a session: it may
    /// resume it from the refresh cookie.
    Lapsed,
    /// Nobody.
    Anonymous,
}

/// Reads the access cookie. A store outage is an error (the page says
/// "try again"), never a sign-out.
pub async fn visitor(state: &PageState, headers: &HeaderMap) -> Result<Visitor, CoreError> {
    let cookies = || {
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
    };
    let had_session = warden_edge::credentials::cookie(cookies(), CSRF_COOKIE).is_some();
    let Some(token) = warden_edge::credentials::cookie(cookies(), ACCESS_COOKIE) else {
        return Ok(if had_session {
            Visitor::Lapsed
        } else {
            Visitor::Anonymous
        });
    };
    match state.app.auth.validate(token).await {
        Ok(principal) => Ok(Visitor::SignedIn(principal)),
        Err(err) if matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::Internal) => Err(err),
        Err(_) => Ok(Visitor::Lapsed),
    }
}

/// Where a page sends a visitor who is not signed in: through the resume
/// hop when a session may be resumed, else to the sign-in page; either
/// way back to `back` (a local path) afterwards.
pub fn send_to_sign_in(state: &PageState, visitor: &Visitor, back: &str) -> Response {
    let base = &state.pages.base;
    let query = crate::routes::rd_query(back);
    match visitor {
        Visitor::Lapsed => redirect(&format!("{base}{RESUME_PATH}{query}")),
        _ => redirect(&format!("{base}/signin{query}")),
    }
}

/// `GET /v1/token/resume?rd=`: rotates the refresh cookie's pair and goes
/// back to `rd`; without a usable refresh cookie, clears the cookies and
/// goes to the sign-in page. A GET because it follows a redirect; it does
/// nothing the browser's own cookies do not already allow, and the refresh
/// cookie is `SameSite=Strict`, so no other site can make it happen.
pub async fn resume(
    State(state): State<PageState>,
    Client(ctx): Client,
    uri: axum::http::Uri,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let base = state.pages.base.clone();
    let query = crate::routes::query(&uri);
    let back = return_to(&state, query.get("rd")).unwrap_or_else(|| format!("{base}/account"));
    let issuer = &state.app.auth.settings().issuer;
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site");
    let refresh = jar
        .get(REFRESH_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|_| !cross_site);
    let sign_in = format!("{base}/signin{}", crate::routes::rd_query(&back));
    let Some(refresh) = refresh else {
        return (
            clear_session_cookies(jar, &refresh_path(issuer)),
            redirect(&sign_in),
        )
            .into_response();
    };
    match state.app.auth.refresh(&refresh, &ctx).await {
        Ok(tokens) => {
            let max_age = state.app.auth.settings().session_ttl.num_seconds();
            let jar = set_session_cookies(jar, &tokens, max_age, &refresh_path(issuer));
            (jar, redirect(&back)).into_response()
        }
        Err(err) if matches!(err.kind(), ErrorKind::Unavailable) => unavailable(&state),
        Err(_) => (
            clear_session_cookies(jar, &refresh_path(issuer)),
            redirect(&sign_in),
        )
            .into_response(),
    }
}
