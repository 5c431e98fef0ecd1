//! `/signup`: a new account, signed in at once (the cookies of cookie mode).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use serde::Serialize;
use warden_core::CoreError;
use warden_http::extract::Client;

use super::{
    Errors, FormPage, Link, after_sign_in, domain_error, message_with, query, rd_query, redirect,
    return_to, signed_in, signed_out_form, social, unavailable, with_token,
};
use crate::PageState;
use crate::csrf::Token;
use crate::render;
use crate::session::{Visitor, visitor};

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    form: FormPage<'a>,
    email: &'a str,
    providers: Vec<social::ProviderButton>,
}

fn render_page(
    state: &PageState,
    token: &Token,
    status: StatusCode,
    rd: &str,
    email: &str,
    errors: Errors,
) -> Response {
    let page = Page {
        form: FormPage {
            csrf_token: token.value(),
            rd,
            rd_query: rd_query(rd),
            notice: None,
            errors,
        },
        email,
        // Errors show on the sign-in page, which knows every flow's codes.
        providers: social::buttons(
            state,
            "signin",
            &format!("{}/signin{}", state.pages.base, rd_query(rd)),
        ),
    };
    with_token(
        token,
        render::page(&state.pages.env, "signup.html", status, page),
    )
}

/// "Sign-up is closed" (`[signup] enabled = false`).
fn closed(state: &PageState, rd: &str) -> Response {
    let catalogue = &state.pages.catalogue;
    let back = Link {
        href: format!("{}/signin{}", state.pages.base, rd_query(rd)),
        text: catalogue.text("common.back_to_signin"),
    };
    message_with(
        state,
        StatusCode::FORBIDDEN,
        &catalogue.text("signup.closed_heading"),
        &catalogue.text("signup.closed_text"),
        &back,
    )
}

/// "Check your inbox": the account exists but signs in only once its
/// address is verified (`[signup] require_verified_email`).
fn check_inbox(state: &PageState, email: &str, rd: &str) -> Response {
    let catalogue = &state.pages.catalogue;
    let back = Link {
        href: format!("{}/signin{}", state.pages.base, rd_query(rd)),
        text: catalogue.text("common.back_to_signin"),
    };
    message_with(
        state,
        StatusCode::CREATED,
        &catalogue.text("signup.check_inbox_heading"),
        &catalogue
            .text("signup.check_inbox_text")
            .replace("{email}", email),
        &back,
    )
}

/// `GET /signup[?rd=]`.
pub async fn show(State(state): State<PageState>, uri: Uri, headers: HeaderMap) -> Response {
    let rd = return_to(&state, query(&uri).get("rd")).unwrap_or_default();
    if !state.app.auth.settings().signup_enabled {
        return closed(&state, &rd);
    }
    match visitor(&state, &headers).await {
        Ok(Visitor::SignedIn(_)) => redirect(&after_sign_in(&state, &rd)),
        Ok(_) => render_page(
            &state,
            &Token::of(&headers),
            StatusCode::OK,
            &rd,
            "",
            Errors::default(),
        ),
        Err(_) => unavailable(&state),
    }
}

/// `POST /signup`.
pub async fn submit(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    jar: CookieJar,
    body: Body,
) -> Response {
    let token = Token::of(&headers);
    let (form, rd) = match signed_out_form(&state, &headers, body, &["email", "password"]).await {
        Ok(ok) => ok,
        Err(r) => return render_page(&state, &token, r.status, &r.rd, &r.email, r.errors),
    };
    let email = form.text("email").trim();
    match state
        .app
        .auth
        .sign_up(email, form.text("password"), None, &ctx)
        .await
    {
        Ok((_, Some(tokens))) => signed_in(&state, jar, &tokens, &rd),
        // `require_verified_email`: no session until the address is
        // verified.
        Ok((user, None)) => check_inbox(&state, user.email.as_str(), &rd),
        Err(CoreError::SignupDisabled) => closed(&state, &rd),
        Err(err) => {
            let fields = [
                ("email", "email"),
                ("password", "password"),
                ("new_password", "password"),
            ];
            let (status, errors) = domain_error(&err, &fields, "email", &state.pages.catalogue);
            render_page(&state, &token, status, &rd, email, errors)
        }
    }
}
