//! `/admin`: the admin console (front-door contract, section 8). Every
//! page needs a signed-in admin (and a second factor when `[mfa]
//! required_for_roles` names admin), checked against the store on each
//! request like the admin API. Every change is a form post with the CSRF
//! token that first shows a confirmation page saying what will happen;
//! only the confirmed post changes anything, and the domain writes the
//! audit entry naming the admin.

pub mod audit;
pub mod clients;
pub mod overview;
pub mod users;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use warden_core::{CoreError, ErrorKind, User};

use super::{Errors, Link, message_with, unavailable, with_token};
use crate::PageState;
use crate::catalogue::Catalogue;
use crate::csrf::{self, Token};
use crate::form::Form;
use crate::render;
use crate::session::{Visitor, send_to_sign_in, visitor};

/// A signed-in admin looking at the console.
pub struct Admin {
    /// Their account, as the store has it now.
    pub user: User,
    /// The page's CSRF token.
    pub token: Token,
}

/// The admin looking at `back` (a path under `/admin`, where a signed-out
/// visitor returns after signing in), or the page that turns them away.
pub async fn admin(state: &PageState, headers: &HeaderMap, back: &str) -> Result<Admin, Response> {
    let principal = match visitor(state, headers).await {
        Ok(Visitor::SignedIn(who)) => who,
        Ok(other) => return Err(send_to_sign_in(state, &other, back)),
        Err(_) => return Err(unavailable(state)),
    };
    match state.app.auth.authorize_admin(&principal).await {
        Ok(user) => Ok(Admin {
            user,
            token: Token::of(headers),
        }),
        Err(err) => Err(refused(state, &err)),
    }
}

/// The page for a visitor who may not use the console.
fn refused(state: &PageState, err: &CoreError) -> Response {
    let catalogue = &state.pages.catalogue;
    let base = &state.pages.base;
    let account = Link {
        href: format!("{base}/account"),
        text: catalogue.text("admin.to_account"),
    };
    match err {
        CoreError::MfaEnrollmentRequired => message_with(
            state,
            StatusCode::FORBIDDEN,
            &catalogue.text("admin.mfa_heading"),
            &catalogue.text("admin.mfa_text"),
            &account,
        ),
        err if matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::Internal) => {
            unavailable(state)
        }
        _ => message_with(
            state,
            StatusCode::FORBIDDEN,
            &catalogue.text("admin.forbidden_heading"),
            &catalogue.text("admin.forbidden_text"),
            &account,
        ),
    }
}

/// An admin's form post that passed the CSRF check, or the response that
/// replaces it.
pub async fn admin_form(
    state: &PageState,
    headers: &HeaderMap,
    body: Body,
    back: &str,
) -> Result<(Admin, Form), Response> {
    let admin = admin(state, headers, back).await?;
    let catalogue = &state.pages.catalogue;
    let form = match Form::read(headers, body).await {
        Ok(form) => form,
        Err(_) => {
            return Err(problem_page(
                state,
                &admin,
                StatusCode::BAD_REQUEST,
                &catalogue.text("errors.form_unreadable"),
                back,
            ));
        }
    };
    if csrf::check(headers, &form, &state.app.config.allowed_origins).is_err() {
        return Err(problem_page(
            state,
            &admin,
            StatusCode::FORBIDDEN,
            &catalogue.text("errors.form_expired"),
            back,
        ));
    }
    Ok((admin, form))
}

/// A message page inside the console, with a link back to `back`.
pub fn problem_page(
    state: &PageState,
    admin: &Admin,
    status: StatusCode,
    text: &str,
    back: &str,
) -> Response {
    let catalogue = &state.pages.catalogue;
    let link = Link {
        href: format!("{}{back}", state.pages.base),
        text: catalogue.text("admin.back"),
    };
    with_token(
        &admin.token,
        message_with(
            state,
            status,
            &catalogue.text("admin.problem_heading"),
            text,
            &link,
        ),
    )
}

/// What every console page renders with.
#[derive(Serialize)]
pub struct Chrome<'a> {
    /// The hidden CSRF field's value.
    pub csrf_token: &'a str,
    /// The signed-in admin's address.
    pub admin_email: &'a str,
    /// Which section of the navigation is current.
    pub section: &'static str,
    /// A notice at the top.
    pub notice: Option<String>,
    /// Errors (summary and per field).
    #[serde(flatten)]
    pub errors: Errors,
}

impl<'a> Chrome<'a> {
    /// The chrome of a page of `section`.
    pub fn new(admin: &'a Admin, section: &'static str) -> Self {
        Self {
            csrf_token: admin.token.value(),
            admin_email: admin.user.email.as_str(),
            section,
            notice: None,
            errors: Errors::default(),
        }
    }
}

/// Renders console page `template` with `context`, setting the CSRF
/// cookie when the token is new.
pub fn page(
    state: &PageState,
    admin: &Admin,
    template: &str,
    status: StatusCode,
    context: impl Serialize,
) -> Response {
    with_token(
        &admin.token,
        render::page(&state.pages.env, template, status, context),
    )
}

/// The confirmation step of a change: what will happen, the fields to
/// post again, and where to go instead.
#[derive(Serialize)]
pub struct Confirm<'a> {
    #[serde(flatten)]
    chrome: Chrome<'a>,
    heading: String,
    text: String,
    /// Where the confirmed form posts.
    action: String,
    /// Fields carried over from the first post.
    fields: Vec<(String, String)>,
    /// The button's text.
    button: String,
    /// A destructive change (red button).
    danger: bool,
    /// What must be typed to confirm (the user's address), if anything.
    type_to_confirm: Option<String>,
    /// Where "Cancel" goes.
    cancel: String,
}

/// One pending change, before its confirmation page is rendered.
pub struct Change<'a> {
    /// The page heading ("Ban alice@example.com?").
    pub heading: String,
    /// What will happen.
    pub text: String,
    /// The path (under the base) the confirmed form posts to.
    pub action: String,
    /// The fields to post again.
    pub fields: Vec<(&'a str, String)>,
    /// The button's text.
    pub button: String,
    /// Whether it destroys something.
    pub danger: bool,
    /// What must be typed to confirm.
    pub type_to_confirm: Option<String>,
    /// The path "Cancel" goes to.
    pub cancel: String,
    /// The navigation's current section.
    pub section: &'static str,
}

impl<'a> Change<'a> {
    /// A change whose heading, text and button are the catalogue's
    /// `admin.confirm_<key>_heading`, `_text` and `_button`, the first two
    /// passed through `fill` (which puts in the names); no fields to carry,
    /// nothing to type, not destructive until the caller says so.
    pub fn new(
        catalogue: &Catalogue,
        key: &str,
        fill: impl Fn(String) -> String,
        action: String,
        cancel: String,
        section: &'static str,
    ) -> Self {
        let text = |part: &str| catalogue.text(&format!("admin.confirm_{key}_{part}"));
        Self {
            heading: fill(text("heading")),
            text: fill(text("text")),
            action,
            fields: Vec::new(),
            button: text("button"),
            danger: false,
            type_to_confirm: None,
            cancel,
            section,
        }
    }
}

/// Renders the confirmation page of `change` (with `error` on the typed
/// confirmation when it did not match).
pub fn confirm(
    state: &PageState,
    admin: &Admin,
    change: Change<'_>,
    error: Option<String>,
) -> Response {
    let base = &state.pages.base;
    let mut chrome = Chrome::new(admin, change.section);
    let status = if let Some(message) = error {
        chrome.errors = Errors::one("confirm_text", message);
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let context = Confirm {
        chrome,
        heading: change.heading,
        text: change.text,
        action: format!("{base}{}", change.action),
        fields: change
            .fields
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        button: change.button,
        danger: change.danger,
        type_to_confirm: change.type_to_confirm,
        cancel: format!("{base}{}", change.cancel),
    };
    page(state, admin, "admin/confirm.html", status, context)
}

/// Whether a post is the confirmed one.
pub fn confirmed(form: &Form) -> bool {
    form.get("confirmed") == Some("yes")
}

/// "12 Mar 2026, 14:05 UTC".
pub fn day(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%-d %b %Y, %H:%M UTC").to_string()
}
