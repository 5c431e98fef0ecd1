//! `/oauth2/logout`: RP-initiated logout (OpenID Connect RP-Initiated
//! Logout 1.0). An app sends the person here to end their Warden session
//! too. With an `id_token_hint` naming the signed-in person it happens at
//! once; otherwise the person confirms (a link alone must not sign anyone
//! out). Afterwards the browser goes to the client's registered
//! `post_logout_redirect_uri`, or to the sign-in page.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Serialize;
use warden_core::service::{AuthorizeFailure, LogoutRequest};
use warden_http::cookies::{clear_session_cookies, refresh_path};
use warden_http::extract::Client;

use super::{Errors, message, redirect, unavailable, with_token};
use crate::PageState;
use crate::csrf::Token;
use crate::form::Form;
use crate::render;
use crate::session::{Visitor, visitor};

const PARAMS: [&str; 4] = [
    "id_token_hint",
    "client_id",
    "post_logout_redirect_uri",
    "state",
];

/// `GET /oauth2/logout`.
pub async fn show(
    State(state): State<PageState>,
    Client(ctx): Client,
    uri: Uri,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let q = super::query(&uri);
    let request = match check(&state, &q).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    match visitor(&state, &headers).await {
        Ok(Visitor::SignedIn(who)) if request.hint_subject == Some(who.user_id) => {
            match state.app.auth.sign_out(&who, &ctx).await {
                Ok(()) => done(&state, jar, &request, false),
                Err(_) => unavailable(&state),
            }
        }
        Ok(Visitor::SignedIn(_)) => confirm_page(&state, &Token::of(&headers), &q, &request),
        // Nobody to sign out here (a lapsed session's refresh cookie goes
        // too: the cookies are cleared).
        Ok(_) => done(&state, jar, &request, false),
        Err(_) => unavailable(&state),
    }
}

/// `POST /oauth2/logout`: the confirmation.
pub async fn confirm(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    jar: CookieJar,
    body: Body,
) -> Response {
    let Ok(form) = Form::read(&headers, body).await else {
        return refused(&state);
    };
    let request = match check(&state, &form).await {
        Ok(request) => request,
        Err(response) => return response,
    };
    if crate::csrf::check(&headers, &form, &state.app.config.allowed_origins).is_err() {
        return confirm_page(&state, &Token::of(&headers), &form, &request);
    }
    match visitor(&state, &headers).await {
        Ok(Visitor::SignedIn(who)) => match state.app.auth.sign_out(&who, &ctx).await {
            Ok(()) => done(&state, jar, &request, true),
            Err(_) => unavailable(&state),
        },
        Ok(_) => done(&state, jar, &request, true),
        Err(_) => unavailable(&state),
    }
}

async fn check(state: &PageState, q: &Form) -> Result<LogoutRequest, Response> {
    match state
        .app
        .auth
        .check_logout(
            q.get("id_token_hint"),
            q.get("client_id"),
            q.get("post_logout_redirect_uri"),
            q.get("state"),
        )
        .await
    {
        Ok(request) => Ok(request),
        Err(AuthorizeFailure::Core(_)) => Err(unavailable(state)),
        Err(_) => Err(refused(state)),
    }
}

fn refused(state: &PageState) -> Response {
    let catalogue = &state.pages.catalogue;
    message(
        state,
        StatusCode::BAD_REQUEST,
        &catalogue.text("logout.invalid_heading"),
        &catalogue.text("logout.invalid_text"),
    )
}

/// Cookies cleared, then on to the client or the sign-in page (after the
/// confirmation form, by the page that goes on by itself: see
/// `authorize`).
fn done(state: &PageState, jar: CookieJar, request: &LogoutRequest, from_form: bool) -> Response {
    let jar = clear_session_cookies(jar, &refresh_path(&state.app.auth.settings().issuer));
    let name = request.client.as_ref().map_or("", |c| c.name.as_str());
    match &request.redirect {
        Some(location) => (
            jar,
            super::authorize::go_back(state, name, location, from_form),
        )
            .into_response(),
        None => (
            jar,
            redirect(&format!("{}/signin?notice=signed_out", state.pages.base)),
        )
            .into_response(),
    }
}

#[derive(Serialize)]
struct ConfirmPage<'a> {
    csrf_token: &'a str,
    lead: String,
    fields: Vec<super::HiddenField<'a>>,
    #[serde(flatten)]
    errors: Errors,
}

fn confirm_page(state: &PageState, token: &Token, q: &Form, request: &LogoutRequest) -> Response {
    let catalogue = &state.pages.catalogue;
    let lead = match &request.client {
        Some(client) => catalogue
            .text("logout.lead_client")
            .replace("{client}", &client.name),
        None => catalogue.text("logout.lead"),
    }
    .replace("{product}", &state.pages.product);
    let page = ConfirmPage {
        csrf_token: token.value(),
        lead,
        fields: super::hidden_fields(q, &PARAMS),
        errors: Errors::default(),
    };
    with_token(
        token,
        render::page(&state.pages.env, "logout.html", StatusCode::OK, page),
    )
}
