//! `/signin`: e-mail and password; on success the cookies of cookie mode
//! and a 303 back to `rd` (or the account page).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use axum_extra::extract::CookieJar;
use serde::Serialize;
use warden_core::CoreError;
use warden_http::cookies::MFA_COOKIE;
use warden_http::extract::Client;

use super::{
    Errors, FormPage, after_sign_in, domain_error, notice, query, rd_query, redirect, return_to,
    signed_in, signed_out_form, social, unavailable, with_token,
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
    links: Links,
    providers: Vec<social::ProviderButton>,
}

#[derive(Serialize)]
struct Links {
    signup: bool,
    forgot: bool,
}

fn render_page(
    state: &PageState,
    token: &Token,
    status: StatusCode,
    rd: &str,
    email: &str,
    notice: Option<String>,
    errors: Errors,
) -> Response {
    let page = Page {
        form: FormPage {
            csrf_token: token.value(),
            rd,
            rd_query: rd_query(rd),
            notice,
            errors,
        },
        email,
        links: Links {
            signup: state.app.auth.settings().signup_enabled,
            forgot: true,
        },
        // Back here, so an error shows on this page and a success goes on
        // to `rd` like a signed-in visit does.
        providers: social::buttons(
            state,
            "signin",
            &format!("{}/signin{}", state.pages.base, rd_query(rd)),
        ),
    };
    with_token(
        token,
        render::page(&state.pages.env, "signin.html", status, page),
    )
}

/// `GET /signin[?rd=&notice=]`; a signed-in visitor goes straight on.
pub async fn show(
    State(state): State<PageState>,
    uri: Uri,
    headers: HeaderMap,
    jar: CookieJar,
) -> Response {
    let q = query(&uri);
    let rd = return_to(&state, q.get("rd")).unwrap_or_default();
    // An OpenID client may ask for a fresh sign-in (`prompt=login`,
    // `max_age`): the form shows even to a signed-in visitor then.
    let again = q.get("prompt") == Some("login");
    let hint = q.get("login_hint").filter(|h| h.len() <= 320).unwrap_or("");
    match visitor(&state, &headers).await {
        Ok(Visitor::SignedIn(_)) if !again => redirect(&after_sign_in(&state, &rd)),
        // A social sign-in came back for its second step: the token is in
        // the cookie the callback set.
        Ok(_) if q.get("error") == Some("mfa_required") && jar.get(MFA_COOKIE).is_some() => {
            redirect(&format!("{}/signin/mfa{}", state.pages.base, rd_query(&rd)))
        }
        Ok(_) => {
            let token = Token::of(&headers);
            let notice = notice(&q, &state.pages.catalogue);
            let errors = social::flow_error(&q, &state.pages.catalogue).unwrap_or_default();
            render_page(&state, &token, StatusCode::OK, &rd, hint, notice, errors)
        }
        Err(_) => unavailable(&state),
    }
}

/// `POST /signin`.
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
        Err(r) => return render_page(&state, &token, r.status, &r.rd, &r.email, None, r.errors),
    };
    let email = form.text("email").trim();
    match state
        .app
        .auth
        .sign_in(email, form.text("password"), &ctx)
        .await
    {
        Ok(tokens) => {
            state.app.metrics.record_signin("success");
            signed_in(&state, jar, &tokens, &rd)
        }
        Err(CoreError::MfaRequired { mfa_token, .. }) => {
            state.app.metrics.record_signin("mfa_required");
            super::mfa::continue_at_mfa(&state, jar, &mfa_token, &rd)
        }
        Err(err) => {
            state.app.metrics.record_signin(err.code());
            let fields = [("email", "email"), ("password", "password")];
            let (status, errors) = domain_error(&err, &fields, "email", &state.pages.catalogue);
            render_page(&state, &token, status, &rd, email, None, errors)
        }
    }
}

/// `POST /signin/passkey`: the page's script ran a passkey ceremony (the
/// options came from `POST /v1/webauthn/signin/options`) and posts the
/// answer here, so a success sets the cookies like a password does.
pub async fn passkey(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    jar: CookieJar,
    body: Body,
) -> Response {
    let token = Token::of(&headers);
    let (form, rd) = match signed_out_form(&state, &headers, body, &[]).await {
        Ok(ok) => ok,
        Err(r) => return render_page(&state, &token, r.status, &r.rd, "", None, r.errors),
    };
    let credential: serde_json::Value =
        serde_json::from_str(form.text("credential")).unwrap_or_default();
    match state
        .app
        .auth
        .sign_in_with_passkey(form.text("challenge_id"), &credential, &ctx)
        .await
    {
        Ok(tokens) => {
            state.app.metrics.record_signin("success");
            signed_in(&state, jar, &tokens, &rd)
        }
        Err(err) => {
            state.app.metrics.record_signin(err.code());
            let catalogue = &state.pages.catalogue;
            let (status, errors) = match err {
                CoreError::InvalidCredentials => (
                    StatusCode::UNAUTHORIZED,
                    Errors::one("passkey", catalogue.text("signin.passkey_failed")),
                ),
                err => domain_error(&err, &[], "passkey", catalogue),
            };
            render_page(&state, &token, status, &rd, "", None, errors)
        }
    }
}
