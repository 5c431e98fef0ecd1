//! `/verify-email`: the page a verification or e-mail change link opens.
//! The GET only asks "is this yours?" (mail scanners fetch links); the
//! button's POST spends the link.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;
use warden_core::links::{LinkPreview, LinkPurpose};
use warden_core::{CoreError, ErrorKind, UserId};
use warden_http::extract::Client;

use super::{
    Errors, FormPage, Link, domain_error, message_with, query, redirect, signed_out_form,
    unavailable, with_token,
};
use crate::PageState;
use crate::csrf::Token;
use crate::render;
use crate::session::{Visitor, visitor};

/// The links this page follows.
const PURPOSES: &[LinkPurpose] = &[LinkPurpose::VerifyEmail, LinkPurpose::EmailChange];

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    form: FormPage<'a>,
    token: &'a str,
    email: &'a str,
    /// An e-mail change (the account moves) rather than a verification.
    change: bool,
}

fn render_page(
    state: &PageState,
    csrf: &Token,
    status: StatusCode,
    link: &str,
    preview: &LinkPreview,
    errors: Errors,
) -> Response {
    let page = Page {
        form: FormPage {
            csrf_token: csrf.value(),
            rd: "",
            rd_query: String::new(),
            notice: None,
            errors,
        },
        token: link,
        email: preview.email.as_str(),
        change: preview.purpose == LinkPurpose::EmailChange,
    };
    with_token(
        csrf,
        render::page(&state.pages.env, "verify.html", status, page),
    )
}

/// A message page with a link to sign-in (or the account page, for a
/// signed-in visitor).
fn outcome(state: &PageState, signed_in: bool, status: StatusCode, key: &str) -> Response {
    let catalogue = &state.pages.catalogue;
    let link = if signed_in {
        Link {
            href: format!("{}/account", state.pages.base),
            text: catalogue.text("common.back_to_account"),
        }
    } else {
        Link {
            href: format!("{}/signin", state.pages.base),
            text: catalogue.text("common.back_to_signin"),
        }
    };
    message_with(
        state,
        status,
        &catalogue.text(&format!("verify.{key}_heading")),
        &catalogue.text(&format!("verify.{key}_text")),
        &link,
    )
}

/// The signed-in visitor's account, if any.
async fn caller(state: &PageState, headers: &HeaderMap) -> Result<Option<UserId>, Response> {
    match visitor(state, headers).await {
        Ok(Visitor::SignedIn(who)) => Ok(Some(who.user_id)),
        Ok(_) => Ok(None),
        Err(_) => Err(unavailable(state)),
    }
}

/// `GET /verify-email?token=`: "confirm that this address is yours".
pub async fn show(State(state): State<PageState>, uri: Uri, headers: HeaderMap) -> Response {
    let q = query(&uri);
    let link = q.text("token");
    let caller = match caller(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    match state.app.auth.peek_link(link, PURPOSES).await {
        Ok(preview) => render_page(
            &state,
            &Token::of(&headers),
            StatusCode::OK,
            link,
            &preview,
            Errors::default(),
        ),
        Err(err) if err.kind() == ErrorKind::Unavailable => unavailable(&state),
        Err(_) => outcome(&state, caller.is_some(), StatusCode::BAD_REQUEST, "invalid"),
    }
}

/// `POST /verify-email`: spends the link. A signed-in visitor may only
/// spend their own account's links, and goes back to the account page.
pub async fn submit(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let csrf = Token::of(&headers);
    let caller = match caller(&state, &headers).await {
        Ok(caller) => caller,
        Err(response) => return response,
    };
    let (form, _) = match signed_out_form(&state, &headers, body, &[]).await {
        Ok(ok) => ok,
        Err(r) => {
            // The form expired: show it again with a fresh token, while
            // its link still works.
            return match state.app.auth.peek_link(&r.link, PURPOSES).await {
                Ok(preview) => render_page(&state, &csrf, r.status, &r.link, &preview, r.errors),
                Err(_) => outcome(&state, caller.is_some(), StatusCode::BAD_REQUEST, "invalid"),
            };
        }
    };
    let link = form.text("token");
    let purpose = state
        .app
        .auth
        .peek_link(link, PURPOSES)
        .await
        .map(|p| p.purpose);
    match state.app.auth.verify_email(link, caller, &ctx).await {
        Ok(_) => {
            let notice = match purpose {
                Ok(LinkPurpose::EmailChange) => "email_changed",
                _ => "email_verified",
            };
            let page = if caller.is_some() {
                "account"
            } else {
                "signin"
            };
            redirect(&format!("{}/{page}?notice={notice}", state.pages.base))
        }
        Err(CoreError::InvalidLink) => {
            outcome(&state, caller.is_some(), StatusCode::BAD_REQUEST, "invalid")
        }
        Err(CoreError::EmailTaken) => {
            outcome(&state, caller.is_some(), StatusCode::CONFLICT, "taken")
        }
        Err(err) if err.kind() == ErrorKind::Unavailable => unavailable(&state),
        Err(err) => {
            let (status, errors) = domain_error(&err, &[], "confirm", &state.pages.catalogue);
            match state.app.auth.peek_link(link, PURPOSES).await {
                Ok(preview) => render_page(&state, &csrf, status, link, &preview, errors),
                Err(_) => outcome(&state, caller.is_some(), status, "invalid"),
            }
        }
    }
}
