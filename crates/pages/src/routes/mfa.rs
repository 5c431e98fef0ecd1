//! `/signin/mfa`: the second step of a sign-in, for an account with an
//! authenticator app. The first step (the password, or a social provider)
//! left the `wmf_` token in an HttpOnly cookie; this page asks for a code
//! from the app, or one of the recovery codes.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Serialize;
use warden_core::{CoreError, SecondFactor};
use warden_http::cookies::{MFA_COOKIE, clear_mfa_cookie, mfa_cookie};
use warden_http::extract::Client;

use super::{
    Errors, FormPage, domain_error, query, rd_query, redirect, return_to, signed_in,
    signed_out_form, with_token,
};
use crate::PageState;
use crate::csrf::Token;
use crate::render;

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    form: FormPage<'a>,
    recovery: bool,
    recovery_query: String,
}

fn render_page(
    state: &PageState,
    token: &Token,
    status: StatusCode,
    rd: &str,
    recovery: bool,
    errors: Errors,
) -> Response {
    let rd_query = rd_query(rd);
    let recovery_query = if rd_query.is_empty() {
        "?method=recovery".to_owned()
    } else {
        format!("{rd_query}&method=recovery")
    };
    let page = Page {
        form: FormPage {
            csrf_token: token.value(),
            rd,
            rd_query,
            notice: None,
            errors,
        },
        recovery,
        recovery_query,
    };
    with_token(
        token,
        render::page(&state.pages.env, "mfa.html", status, page),
    )
}

/// Where a first step that needs a second one goes: the token in its
/// cookie, and on to this page.
pub fn continue_at_mfa(state: &PageState, jar: CookieJar, mfa_token: &str, rd: &str) -> Response {
    let jar = jar.add(mfa_cookie(mfa_token));
    let to = format!("{}/signin/mfa{}", state.pages.base, rd_query(rd));
    (jar, redirect(&to)).into_response()
}

/// Back to the sign-in page: the second step is gone (expired, spent, or
/// voided by wrong codes).
fn start_over(state: &PageState, rd: &str) -> Response {
    let rd = rd_query(rd);
    let sep = if rd.is_empty() { '?' } else { '&' };
    let to = format!("{}/signin{rd}{sep}notice=mfa_expired", state.pages.base);
    (CookieJar::new().add(clear_mfa_cookie()), redirect(&to)).into_response()
}

/// `GET /signin/mfa[?rd=&method=recovery]`.
pub async fn show(
    State(state): State<PageState>,
    uri: Uri,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let q = query(&uri);
    let rd = return_to(&state, q.get("rd")).unwrap_or_default();
    if jar.get(MFA_COOKIE).is_none() {
        return start_over(&state, &rd);
    }
    let token = Token::of(&headers);
    let recovery = q.get("method") == Some("recovery");
    render_page(
        &state,
        &token,
        StatusCode::OK,
        &rd,
        recovery,
        Errors::default(),
    )
}

/// `POST /signin/mfa`.
pub async fn submit(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    jar: CookieJar,
    body: Body,
) -> Response {
    let token = Token::of(&headers);
    let (form, rd) = match signed_out_form(&state, &headers, body, &[]).await {
        Ok(ok) => ok,
        Err(r) => return render_page(&state, &token, r.status, &r.rd, false, r.errors),
    };
    let Some(mfa_token) = jar.get(MFA_COOKIE).map(|c| c.value().to_owned()) else {
        return start_over(&state, &rd);
    };
    let recovery = form.get("recovery_code").is_some();
    let (field, factor) = if recovery {
        (
            "recovery_code",
            SecondFactor::RecoveryCode(form.text("recovery_code")),
        )
    } else {
        ("totp_code", SecondFactor::Totp(form.text("totp_code")))
    };
    if form.text(field).trim().is_empty() {
        let errors = Errors::one(field, state.pages.catalogue.text("errors.required"));
        return render_page(
            &state,
            &token,
            StatusCode::BAD_REQUEST,
            &rd,
            recovery,
            errors,
        );
    }
    match state.app.auth.sign_in_mfa(&mfa_token, factor, &ctx).await {
        Ok(tokens) => {
            state.app.metrics.record_signin("success");
            signed_in(&state, jar.add(clear_mfa_cookie()), &tokens, &rd)
        }
        Err(CoreError::MfaTokenInvalid) => {
            state.app.metrics.record_signin("mfa_token_invalid");
            start_over(&state, &rd)
        }
        Err(err) => {
            state.app.metrics.record_signin(err.code());
            let (status, errors) =
                domain_error(&err, &[("code", field)], field, &state.pages.catalogue);
            render_page(&state, &token, status, &rd, recovery, errors)
        }
    }
}
