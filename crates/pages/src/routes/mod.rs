//! The pages' handlers, one file per page, and what they share: redirects,
//! `rd`, error lists tied to fields, and the domain errors' page texts.

pub mod account;
pub mod admin;
pub mod authorize;
pub mod logout;
pub mod mfa;
pub mod recovery;
pub mod signin;
pub mod signup;
pub mod social;
pub mod verify;

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use serde::Serialize;
use warden_core::{CoreError, ErrorKind};

use crate::PageState;
use crate::catalogue::Catalogue;
use crate::csrf::Token;
use crate::form::{Form, FormProblem};
use crate::render;

/// `GET /assets/{name}`.
pub async fn asset(State(state): State<PageState>, Path(name): Path<String>) -> Response {
    state.pages.assets.respond(&name)
}

/// 303 See Other: after a POST the browser follows with a GET.
pub fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => (StatusCode::SEE_OTHER, [(header::LOCATION, value)]).into_response(),
        // Locations are built from checked paths; refuse rather than panic.
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// `?rd=<encoded>`, or nothing for an empty `rd`.
pub fn rd_query(rd: &str) -> String {
    if rd.is_empty() {
        String::new()
    } else {
        format!(
            "?rd={}",
            form_urlencoded::byte_serialize(rd.as_bytes()).collect::<String>()
        )
    }
}

/// The `rd` a page may send the person back to (the rule `/v1/verify`
/// builds it by), or `None`.
pub fn return_to(state: &PageState, rd: Option<&str>) -> Option<String> {
    let rd = rd?;
    warden_edge::sign_in::safe_return(rd, &state.app.config.allowed_origins).map(str::to_owned)
}

/// The query string's fields.
pub fn query(uri: &Uri) -> Form {
    Form::parse(uri.query().unwrap_or("").as_bytes())
}

/// One error, tied to the field (its `id`) it is about.
#[derive(Debug, Clone, Serialize)]
pub struct FieldMessage {
    /// The field's id; the summary links to it.
    pub field: String,
    /// What is wrong, from the catalogue.
    pub message: String,
}

/// A page's errors: the summary's list and each field's message.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Errors {
    /// In the order of the fields.
    pub errors: Vec<FieldMessage>,
    /// By field name, for the message next to it.
    pub field_errors: BTreeMap<String, String>,
}

impl Errors {
    /// Adds an error on `field`.
    pub fn add(&mut self, field: &str, message: String) {
        if !self.field_errors.contains_key(field) {
            self.field_errors.insert(field.to_owned(), message.clone());
            self.errors.push(FieldMessage {
                field: field.to_owned(),
                message,
            });
        }
    }

    /// One error.
    pub fn one(field: &str, message: String) -> Self {
        let mut errors = Self::default();
        errors.add(field, message);
        errors
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

/// "Enter this" on each of `fields` that is empty.
pub fn require(form: &Form, fields: &[&str], catalogue: &Catalogue) -> Errors {
    let mut errors = Errors::default();
    for field in fields {
        if form.text(field).trim().is_empty() {
            errors.add(field, catalogue.text("errors.required"));
        }
    }
    errors
}

/// A form that could not be read: the status and the error, on the long
/// field when there was one, else on `first_field`.
pub fn form_problem(
    problem: &FormProblem,
    first_field: &str,
    catalogue: &Catalogue,
) -> (StatusCode, Errors) {
    match problem {
        FormProblem::TooLarge { field } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            Errors::one(
                field.as_deref().unwrap_or(first_field),
                catalogue.text("errors.form_too_large"),
            ),
        ),
        FormProblem::Unreadable => (
            StatusCode::BAD_REQUEST,
            Errors::one(first_field, catalogue.text("errors.form_unreadable")),
        ),
    }
}

/// A domain error as the page shows it: the status, and the message on
/// the field it concerns (`fields` maps the domain's field names to the
/// form's; `fallback` takes errors about no field).
pub fn domain_error(
    err: &CoreError,
    fields: &[(&str, &str)],
    fallback: &str,
    catalogue: &Catalogue,
) -> (StatusCode, Errors) {
    let status = warden_http::problem::status_of(err.kind());
    let on = |domain_field: &str| {
        fields
            .iter()
            .find(|(domain, _)| *domain == domain_field)
            .map_or(fallback, |(_, form)| *form)
            .to_owned()
    };
    let (field, message) = match err {
        CoreError::InvalidInput(e) if e.field == "email" => {
            (on("email"), catalogue.text("errors.invalid_email"))
        }
        CoreError::InvalidInput(e) => (
            on(e.field),
            format!("{}: {}", catalogue.text("errors.invalid_field"), e.message),
        ),
        CoreError::WeakPassword(why) => (
            on("new_password"),
            format!("{}: {why}", catalogue.text("errors.weak_password")),
        ),
        CoreError::InvalidCredentials => {
            (on("password"), catalogue.text("errors.invalid_credentials"))
        }
        CoreError::WrongCurrentPassword => (
            on("current_password"),
            catalogue.text("errors.wrong_current_password"),
        ),
        CoreError::EmailTaken => (on("email"), catalogue.text("errors.email_taken")),
        CoreError::EmailNotVerified => (on("email"), catalogue.text("errors.email_not_verified")),
        CoreError::AlreadyVerified => (
            fallback.to_owned(),
            catalogue.text("errors.already_verified"),
        ),
        CoreError::SignupDisabled => (
            fallback.to_owned(),
            catalogue.text("errors.signup_disabled"),
        ),
        CoreError::InvalidLink => (fallback.to_owned(), catalogue.text("errors.invalid_link")),
        CoreError::LastCredential => (
            fallback.to_owned(),
            catalogue.text("errors.last_credential"),
        ),
        CoreError::InvalidMfaCode { .. } => (on("code"), catalogue.text("errors.invalid_mfa_code")),
        CoreError::MfaTokenInvalid => (fallback.to_owned(), catalogue.text("errors.mfa_expired")),
        CoreError::ReauthenticationRequired => (
            on("current_password"),
            catalogue.text("errors.reauthentication_required"),
        ),
        CoreError::MfaAlreadyEnabled => (
            fallback.to_owned(),
            catalogue.text("errors.mfa_already_enabled"),
        ),
        CoreError::TooManyRequests { retry_after_secs } => (
            fallback.to_owned(),
            catalogue
                .text("errors.too_many_requests")
                .replace("{seconds}", &retry_after_secs.to_string()),
        ),
        CoreError::AccountBanned => (fallback.to_owned(), catalogue.text("errors.account_banned")),
        CoreError::TooManyAttempts { retry_after_secs } => (
            fallback.to_owned(),
            catalogue
                .text("errors.too_many_attempts")
                .replace("{seconds}", &retry_after_secs.to_string()),
        ),
        CoreError::NotFound(_) => (
            fallback.to_owned(),
            catalogue.text("errors.session_not_found"),
        ),
        err if err.kind() == ErrorKind::Unavailable => {
            (fallback.to_owned(), catalogue.text("errors.unavailable"))
        }
        err => {
            if let CoreError::Unexpected(cause) = err {
                tracing::error!(%cause, "unexpected error on a page");
            }
            (fallback.to_owned(), catalogue.text("errors.internal"))
        }
    };
    (status, Errors::one(&field, message))
}

/// A hidden field carrying a request's parameter through a form.
#[derive(Debug, Serialize)]
pub struct HiddenField<'a> {
    /// The parameter's name.
    pub name: &'a str,
    /// Its value, as received.
    pub value: &'a str,
}

/// Those of `names` that `q` holds, in that order, as hidden fields.
pub fn hidden_fields<'a>(q: &'a Form, names: &[&'a str]) -> Vec<HiddenField<'a>> {
    names
        .iter()
        .filter_map(|name| q.get(name).map(|value| HiddenField { name, value }))
        .collect()
}

/// The message page for a store outage.
pub fn unavailable(state: &PageState) -> Response {
    let catalogue = &state.pages.catalogue;
    message(
        state,
        StatusCode::SERVICE_UNAVAILABLE,
        &catalogue.text("errors.unavailable"),
        "",
    )
}

/// A page with a heading and a sentence, and a link back to sign-in.
pub fn message(state: &PageState, status: StatusCode, heading: &str, text: &str) -> Response {
    let back = Link {
        href: format!("{}/signin", state.pages.base),
        text: state.pages.catalogue.text("common.back_to_signin"),
    };
    message_with(state, status, heading, text, &back)
}

/// Where a message page sends the person on.
#[derive(Debug, Serialize)]
pub struct Link {
    /// The target.
    pub href: String,
    /// The link's text.
    pub text: String,
}

/// A page with a heading, a sentence and one link on.
pub fn message_with(
    state: &PageState,
    status: StatusCode,
    heading: &str,
    text: &str,
    link: &Link,
) -> Response {
    #[derive(Serialize)]
    struct Message<'a> {
        heading: &'a str,
        text: &'a str,
        link: &'a Link,
        errors: Vec<FieldMessage>,
    }
    render::page(
        &state.pages.env,
        "message.html",
        status,
        Message {
            heading,
            text,
            link,
            errors: Vec::new(),
        },
    )
}

/// A rendered page with the CSRF cookie when its token is new.
pub fn with_token(token: &Token, page: Response) -> Response {
    match token.cookie() {
        Some(cookie) => (CookieJar::new().add(cookie), page).into_response(),
        None => page,
    }
}

/// What every form page renders with.
#[derive(Debug, Serialize)]
pub struct FormPage<'a> {
    /// The hidden CSRF field's value.
    pub csrf_token: &'a str,
    /// Where to go after the form (checked), or empty.
    pub rd: &'a str,
    /// `?rd=...` for links to the other pages, or empty.
    pub rd_query: String,
    /// A notice at the top, from the catalogue.
    pub notice: Option<String>,
    /// The errors.
    #[serde(flatten)]
    pub errors: Errors,
}

/// A signed-out form (sign-in, sign-up) turned away: what its page shows
/// again.
pub struct Rejected {
    /// The status.
    pub status: StatusCode,
    /// The errors.
    pub errors: Errors,
    /// The checked `rd`, kept.
    pub rd: String,
    /// The address entered, kept.
    pub email: String,
    /// The mailed link's token the form carried, kept.
    pub link: String,
}

/// Reads a signed-out form and checks its CSRF token and `required`
/// fields; gives the form and its checked `rd`.
pub async fn signed_out_form(
    state: &PageState,
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
    required: &[&str],
) -> Result<(Form, String), Rejected> {
    let catalogue = &state.pages.catalogue;
    // Errors about the whole form go on its first field (or its button).
    let first = required.first().copied().unwrap_or("confirm");
    let form = Form::read(headers, body).await.map_err(|problem| {
        let (status, errors) = form_problem(&problem, first, catalogue);
        Rejected {
            status,
            errors,
            rd: String::new(),
            email: String::new(),
            link: String::new(),
        }
    })?;
    let rd = return_to(state, form.get("rd")).unwrap_or_default();
    let reject = |status, errors| Rejected {
        status,
        errors,
        rd: rd.clone(),
        email: form.text("email").trim().to_owned(),
        link: form.text("token").to_owned(),
    };
    if crate::csrf::check(headers, &form, &state.app.config.allowed_origins).is_err() {
        let errors = Errors::one(first, catalogue.text("errors.form_expired"));
        return Err(reject(StatusCode::FORBIDDEN, errors));
    }
    let missing = require(&form, required, catalogue);
    if !missing.is_empty() {
        return Err(reject(StatusCode::BAD_REQUEST, missing));
    }
    Ok((form, rd))
}

/// The cookie-mode cookies for a fresh pair, and a 303 on to `rd` (or the
/// account page).
pub fn signed_in(
    state: &PageState,
    jar: CookieJar,
    tokens: &warden_core::IssuedTokens,
    rd: &str,
) -> Response {
    let settings = state.app.auth.settings();
    let jar = warden_http::cookies::set_session_cookies(
        jar,
        tokens,
        settings.session_ttl.num_seconds(),
        &warden_http::cookies::refresh_path(&settings.issuer),
    );
    (jar, redirect(&after_sign_in(state, rd))).into_response()
}

/// Where a signed-in person goes: `rd`, or the account page.
pub fn after_sign_in(state: &PageState, rd: &str) -> String {
    if rd.is_empty() {
        format!("{}/account", state.pages.base)
    } else {
        rd.to_owned()
    }
}

/// The notice a `?notice=` names, from a fixed set (anything else: none).
pub fn notice(form: &Form, catalogue: &Catalogue) -> Option<String> {
    let name = form.get("notice")?;
    const NOTICES: &[&str] = &[
        "signed_out",
        "signed_out_everywhere",
        "password_changed",
        "session_revoked",
        "password_reset",
        "email_verified",
        "email_changed",
        "email_change_sent",
        "verification_sent",
        "account_deleted",
        "identity_unlinked",
        "mfa_expired",
        "totp_removed",
        "passkey_removed",
        "recovery_codes_new",
    ];
    NOTICES
        .contains(&name)
        .then(|| catalogue.text(&format!("notices.{name}")))
}
