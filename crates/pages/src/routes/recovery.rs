//! `/forgot-password` and `/reset-password`: asking for a reset link, and
//! choosing a new password with it. Opening the mailed link shows the form
//! and uses nothing; only the form's POST spends the link.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Serialize;
use warden_core::links::LinkPurpose;
use warden_core::{CoreError, ErrorKind};
use warden_http::cookies::{clear_session_cookies, refresh_path};
use warden_http::extract::Client;

use super::{
    Errors, FormPage, Link, domain_error, message_with, query, rd_query, redirect, return_to,
    signed_out_form, unavailable, with_token,
};
use crate::PageState;
use crate::csrf::Token;
use crate::render;
use crate::session::{Visitor, visitor};

#[derive(Serialize)]
struct ForgotPage<'a> {
    #[serde(flatten)]
    form: FormPage<'a>,
    email: &'a str,
}

fn render_forgot(
    state: &PageState,
    token: &Token,
    status: StatusCode,
    rd: &str,
    email: &str,
    errors: Errors,
) -> Response {
    let page = ForgotPage {
        form: FormPage {
            csrf_token: token.value(),
            rd,
            rd_query: rd_query(rd),
            notice: None,
            errors,
        },
        email,
    };
    with_token(
        token,
        render::page(&state.pages.env, "forgot.html", status, page),
    )
}

/// `GET /forgot-password[?rd=]`.
pub async fn show_forgot(State(state): State<PageState>, uri: Uri, headers: HeaderMap) -> Response {
    let rd = return_to(&state, query(&uri).get("rd")).unwrap_or_default();
    render_forgot(
        &state,
        &Token::of(&headers),
        StatusCode::OK,
        &rd,
        "",
        Errors::default(),
    )
}

/// `POST /forgot-password`: the same "check your inbox" page whether or
/// not the address has an account (the domain makes the work the same).
pub async fn submit_forgot(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let token = Token::of(&headers);
    let (form, rd) = match signed_out_form(&state, &headers, body, &["email"]).await {
        Ok(ok) => ok,
        Err(r) => return render_forgot(&state, &token, r.status, &r.rd, &r.email, r.errors),
    };
    let email = form.text("email").trim();
    match state.app.auth.forgot_password(email, &ctx).await {
        Ok(()) => {
            let catalogue = &state.pages.catalogue;
            let minutes = state
                .app
                .auth
                .settings()
                .link_lifetimes
                .password_reset
                .num_minutes();
            let text = catalogue
                .text("forgot.sent_text")
                .replace("{email}", email)
                .replace("{minutes}", &minutes.to_string());
            let back = Link {
                href: format!("{}/signin{}", state.pages.base, rd_query(&rd)),
                text: catalogue.text("common.back_to_signin"),
            };
            let heading = catalogue.text("forgot.sent_heading");
            message_with(&state, StatusCode::OK, &heading, &text, &back)
        }
        Err(err) => {
            let (status, errors) =
                domain_error(&err, &[("email", "email")], "email", &state.pages.catalogue);
            render_forgot(&state, &token, status, &rd, email, errors)
        }
    }
}

#[derive(Serialize)]
struct ResetPage<'a> {
    #[serde(flatten)]
    form: FormPage<'a>,
    /// The link's token, carried by the form to the POST.
    token: &'a str,
    /// The account's address, so the person knows which account this is.
    email: &'a str,
}

fn render_reset(
    state: &PageState,
    csrf: &Token,
    status: StatusCode,
    link: &str,
    email: &str,
    errors: Errors,
) -> Response {
    let page = ResetPage {
        form: FormPage {
            csrf_token: csrf.value(),
            rd: "",
            rd_query: String::new(),
            notice: None,
            errors,
        },
        token: link,
        email,
    };
    with_token(
        csrf,
        render::page(&state.pages.env, "reset.html", status, page),
    )
}

/// "This link no longer works", with a way to ask for a new one.
fn spent_link(state: &PageState) -> Response {
    let catalogue = &state.pages.catalogue;
    let again = Link {
        href: format!("{}/forgot-password", state.pages.base),
        text: catalogue.text("reset.ask_again"),
    };
    message_with(
        state,
        StatusCode::BAD_REQUEST,
        &catalogue.text("reset.invalid_heading"),
        &catalogue.text("reset.invalid_text"),
        &again,
    )
}

/// `GET /reset-password?token=`: the new-password form, or "this link no
/// longer works" at once. Spends nothing.
pub async fn show_reset(State(state): State<PageState>, uri: Uri, headers: HeaderMap) -> Response {
    let q = query(&uri);
    let link = q.text("token");
    match state
        .app
        .auth
        .peek_link(link, &[LinkPurpose::PasswordReset])
        .await
    {
        Ok(preview) => render_reset(
            &state,
            &Token::of(&headers),
            StatusCode::OK,
            link,
            preview.email.as_str(),
            Errors::default(),
        ),
        Err(err) if err.kind() == ErrorKind::Unavailable => unavailable(&state),
        Err(_) => spent_link(&state),
    }
}

/// `POST /reset-password`: the new password; every session of the account
/// ends, this browser's included, so it lands on sign-in.
pub async fn submit_reset(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    jar: CookieJar,
    body: Body,
) -> Response {
    let csrf = Token::of(&headers);
    let caller = match visitor(&state, &headers).await {
        Ok(Visitor::SignedIn(who)) => Some(who.user_id),
        Ok(_) => None,
        Err(_) => return unavailable(&state),
    };
    let (form, _) = match signed_out_form(&state, &headers, body, &["new_password"]).await {
        Ok(ok) => ok,
        // The token is kept by the form even when the rest is refused.
        Err(r) => return refused_reset(&state, &csrf, r.status, &r.link, r.errors).await,
    };
    let link = form.text("token");
    let new_password = form.text("new_password");
    match state
        .app
        .auth
        .reset_password(link, new_password, caller, &ctx)
        .await
    {
        Ok(()) => {
            let issuer = &state.app.auth.settings().issuer;
            let jar = clear_session_cookies(jar, &refresh_path(issuer));
            let location = format!("{}/signin?notice=password_reset", state.pages.base);
            (jar, redirect(&location)).into_response()
        }
        Err(CoreError::InvalidLink) => spent_link(&state),
        Err(err) => {
            let fields = [
                ("new_password", "new_password"),
                ("password", "new_password"),
            ];
            let (status, errors) =
                domain_error(&err, &fields, "new_password", &state.pages.catalogue);
            refused_reset(&state, &csrf, status, link, errors).await
        }
    }
}

/// The reset form again with `errors`, while its link still works.
async fn refused_reset(
    state: &PageState,
    csrf: &Token,
    status: StatusCode,
    link: &str,
    errors: Errors,
) -> Response {
    match state
        .app
        .auth
        .peek_link(link, &[LinkPurpose::PasswordReset])
        .await
    {
        Ok(preview) => render_reset(state, csrf, status, link, preview.email.as_str(), errors),
        Err(err) if err.kind() == ErrorKind::Unavailable => unavailable(state),
        Err(_) => spent_link(state),
    }
}
