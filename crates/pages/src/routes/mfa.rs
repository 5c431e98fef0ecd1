//! `/signin/mfa`: the second step of a sign-in, for an account with an
//! authenticator app or a passkey. The first step (the password, or a
//! social provider) left the `wmf_` token in an HttpOnly cookie; this page
//! asks for a code from the app, one of the recovery codes, or (with a
//! script) the passkey, whose options it carries.

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
    /// Request options for the account's passkeys (JSON), when it has any.
    passkey_options: Option<String>,
    /// The account has an authenticator app (else: a passkey only).
    totp: bool,
}

fn render_page(
    state: &PageState,
    token: &Token,
    status: StatusCode,
    rd: &str,
    recovery: bool,
    errors: Errors,
    passkey: PasskeyStep,
) -> Response {
    let passkey_options = passkey.options;
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
        totp: passkey_options.is_none() || passkey.totp,
        passkey_options,
    };
    with_token(
        token,
        render::page(&state.pages.env, "mfa.html", status, page),
    )
}

/// What the page offers besides codes: the passkey ceremony's options
/// (JSON) when the account has passkeys, and whether it has an app.
#[derive(Default)]
struct PasskeyStep {
    options: Option<String>,
    totp: bool,
}

/// Options for the account's passkeys, for the page's script; none when
/// it has none (or they cannot be made now: the codes still work).
async fn passkey_options(state: &PageState, mfa_token: &str) -> PasskeyStep {
    let totp = state
        .app
        .auth
        .mfa_status_of_token(mfa_token)
        .await
        .map_or(true, |status| status.totp);
    let options = match state
        .app
        .auth
        .passkey_sign_in_options(Some(mfa_token), &warden_core::RequestContext::default())
        .await
    {
        Ok(options) => serde_json::to_string(&options.options).ok(),
        Err(CoreError::NotFound(_) | CoreError::MfaTokenInvalid) => None,
        Err(err) => {
            tracing::warn!(error = %err, "passkey options for the second step");
            None
        }
    };
    PasskeyStep { options, totp }
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
    let Some(mfa_token) = jar.get(MFA_COOKIE).map(|c| c.value().to_owned()) else {
        return start_over(&state, &rd);
    };
    let token = Token::of(&headers);
    let recovery = q.get("method") == Some("recovery");
    let passkey = passkey_options(&state, &mfa_token).await;
    render_page(
        &state,
        &token,
        StatusCode::OK,
        &rd,
        recovery,
        Errors::default(),
        passkey,
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
        Err(r) => {
            let passkey = match jar.get(MFA_COOKIE) {
                Some(cookie) => passkey_options(&state, cookie.value()).await,
                None => PasskeyStep::default(),
            };
            return render_page(&state, &token, r.status, &r.rd, false, r.errors, passkey);
        }
    };
    let Some(mfa_token) = jar.get(MFA_COOKIE).map(|c| c.value().to_owned()) else {
        return start_over(&state, &rd);
    };
    if let Some(answer) = form.get("webauthn").filter(|a| !a.trim().is_empty()) {
        let answer: serde_json::Value = serde_json::from_str(answer).unwrap_or_default();
        let result = state
            .app
            .auth
            .sign_in_mfa(&mfa_token, SecondFactor::Passkey(&answer), &ctx)
            .await;
        return finish(
            &state, &token, jar, &rd, false, "passkey", &mfa_token, result,
        )
        .await;
    }
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
        let passkey = passkey_options(&state, &mfa_token).await;
        return render_page(
            &state,
            &token,
            StatusCode::BAD_REQUEST,
            &rd,
            recovery,
            errors,
            passkey,
        );
    }
    let result = state.app.auth.sign_in_mfa(&mfa_token, factor, &ctx).await;
    finish(
        &state, &token, jar, &rd, recovery, field, &mfa_token, result,
    )
    .await
}

/// Signed in, back to the start, or the page again with the error on
/// `field` (and fresh passkey options: a ceremony is answered once).
#[allow(clippy::too_many_arguments)]
async fn finish(
    state: &PageState,
    token: &Token,
    jar: CookieJar,
    rd: &str,
    recovery: bool,
    field: &str,
    mfa_token: &str,
    result: Result<warden_core::IssuedTokens, CoreError>,
) -> Response {
    match result {
        Ok(tokens) => {
            state.app.metrics.record_signin("success");
            signed_in(state, jar.add(clear_mfa_cookie()), &tokens, rd)
        }
        Err(CoreError::MfaTokenInvalid) => {
            state.app.metrics.record_signin("mfa_token_invalid");
            start_over(state, rd)
        }
        Err(err) => {
            state.app.metrics.record_signin(err.code());
            let catalogue = &state.pages.catalogue;
            let (status, errors) = match err {
                CoreError::InvalidMfaCode { .. } if field == "passkey" => (
                    StatusCode::UNAUTHORIZED,
                    Errors::one("passkey", catalogue.text("mfa.passkey_failed")),
                ),
                err => domain_error(&err, &[("code", field)], field, catalogue),
            };
            let passkey = passkey_options(state, mfa_token).await;
            render_page(state, token, status, rd, recovery, errors, passkey)
        }
    }
}
