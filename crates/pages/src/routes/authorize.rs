//! `/oauth2/authorize`: Warden as an OpenID provider meets the person.
//! The request is checked (a bad client or redirect URI is shown here,
//! never redirected to), the person signs in if they must (`prompt`,
//! `max_age`), consents to a third-party client, and goes back to the
//! client with a code.
//!
//! Going back after a form (sign-in, consent) is a page that moves on by
//! itself (a `refresh`, and a link), not a redirect: the pages' CSP
//! `form-action` covers the redirects that follow a form, and a client's
//! redirect URI is not among its origins.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;
use warden_core::service::{AuthorizationRequest, AuthorizeFailure, AuthorizeParams};
use warden_core::{CoreError, Principal};
use warden_http::extract::Client;

use super::{Errors, message, redirect, unavailable, with_token};
use crate::PageState;
use crate::csrf::Token;
use crate::form::Form;
use crate::render;
use crate::session::{Visitor, visitor};

/// The marker the sign-in detour adds to the request: when the person
/// was sent to sign in (Unix seconds). A sign-in after it satisfies
/// `prompt=login` and `max_age`, and its presence means a form led here.
const AFTER: &str = "signed_in_after";

/// The request parameters, in the order the consent form carries them.
const PARAMS: [&str; 12] = [
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "response_mode",
];

/// `GET /oauth2/authorize`.
pub async fn show(
    State(state): State<PageState>,
    Client(ctx): Client,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let q = super::query(&uri);
    let from_form = q.get(AFTER).is_some();
    let request = match state.app.auth.check_authorization(&params_of(&q)).await {
        Ok(request) => request,
        Err(failure) => return failed(&state, failure, from_form),
    };
    let signed_in_after = q
        .get(AFTER)
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0));
    let who = match visitor(&state, &headers).await {
        Ok(Visitor::SignedIn(who))
            if !state
                .app
                .auth
                .needs_sign_in(&who, &request, signed_in_after) =>
        {
            who
        }
        Ok(seen) => {
            if request.prompt.none {
                return back_with_error(
                    &state,
                    &request,
                    "login_required",
                    "the person must sign in",
                    false,
                );
            }
            return sign_in_first(&state, &seen, &uri, &request);
        }
        Err(_) => return unavailable(&state),
    };
    match state.app.auth.needs_consent(&who, &request).await {
        Ok(false) => grant(&state, &who, &request, false, from_form, &ctx).await,
        Ok(true) if request.prompt.none => back_with_error(
            &state,
            &request,
            "consent_required",
            "the person has not consented to this client",
            from_form,
        ),
        Ok(true) => {
            let token = Token::of(&headers);
            consent_page(&state, &token, &who, &request, &q, StatusCode::OK).await
        }
        Err(_) => unavailable(&state),
    }
}

/// `POST /oauth2/authorize`: the consent form's answer.
pub async fn decide(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(form) = Form::read(&headers, body).await else {
        return invalid(&state, StatusCode::BAD_REQUEST, "consent.invalid_client");
    };
    let request = match state.app.auth.check_authorization(&params_of(&form)).await {
        Ok(request) => request,
        Err(failure) => return failed(&state, failure, true),
    };
    let who = match visitor(&state, &headers).await {
        Ok(Visitor::SignedIn(who)) => who,
        Ok(seen) => {
            let back = authorize_path(&state, &form, None);
            return crate::session::send_to_sign_in(&state, &seen, &back);
        }
        Err(_) => return unavailable(&state),
    };
    if crate::csrf::check(&headers, &form, &state.app.config.allowed_origins).is_err() {
        let token = Token::of(&headers);
        return consent_page(&state, &token, &who, &request, &form, StatusCode::FORBIDDEN).await;
    }
    match form.get("decision") {
        Some("allow") => grant(&state, &who, &request, true, true, &ctx).await,
        _ => back_with_error(
            &state,
            &request,
            "access_denied",
            "the person did not allow access",
            true,
        ),
    }
}

fn params_of(q: &Form) -> AuthorizeParams {
    let get = |name: &str| q.get(name).map(str::to_owned);
    AuthorizeParams {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        scope: get("scope"),
        state: get("state"),
        nonce: get("nonce"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        prompt: get("prompt"),
        max_age: get("max_age"),
        login_hint: get("login_hint"),
        response_mode: get("response_mode"),
        request_object: q.get("request").is_some() || q.get("request_uri").is_some(),
    }
}

async fn grant(
    state: &PageState,
    who: &Principal,
    request: &AuthorizationRequest,
    consented: bool,
    from_form: bool,
    ctx: &warden_core::RequestContext,
) -> Response {
    match state
        .app
        .auth
        .grant_authorization(who, request, consented, ctx)
        .await
    {
        Ok(location) => go_back(state, &request.client.name, &location, from_form),
        Err(CoreError::Unexpected(cause)) => {
            tracing::error!(%cause, "authorization failed");
            back_with_error(state, request, "server_error", "try again", from_form)
        }
        Err(_) => back_with_error(
            state,
            request,
            "temporarily_unavailable",
            "try again in a moment",
            from_form,
        ),
    }
}

fn failed(state: &PageState, failure: AuthorizeFailure, from_form: bool) -> Response {
    match failure {
        AuthorizeFailure::Refused("redirect_uri") => {
            invalid(state, StatusCode::BAD_REQUEST, "consent.invalid_redirect")
        }
        AuthorizeFailure::Refused(_) => {
            invalid(state, StatusCode::BAD_REQUEST, "consent.invalid_client")
        }
        AuthorizeFailure::Redirect {
            redirect_uri,
            state: client_state,
            error,
        } => {
            let location = warden_core::service::error_redirect(
                &redirect_uri,
                client_state.as_deref(),
                &error,
                &state.app.auth.settings().issuer,
            );
            go_back(state, "", &location, from_form)
        }
        AuthorizeFailure::Core(_) => unavailable(state),
    }
}

fn back_with_error(
    state: &PageState,
    request: &AuthorizationRequest,
    code: &'static str,
    description: &str,
    from_form: bool,
) -> Response {
    let location = warden_core::service::error_redirect(
        &request.redirect_uri,
        request.state.as_deref(),
        &warden_core::provider::OAuthError::new(code, description),
        &state.app.auth.settings().issuer,
    );
    go_back(state, &request.client.name, &location, from_form)
}

/// A 303 to the client, or after a form the page that goes on by itself.
pub(crate) fn go_back(
    state: &PageState,
    client: &str,
    location: &str,
    from_form: bool,
) -> Response {
    if !from_form {
        return redirect(location);
    }
    #[derive(Serialize)]
    struct Continue<'a> {
        location: &'a str,
        text: String,
        errors: Vec<()>,
    }
    let name = if client.is_empty() { "the app" } else { client };
    let text = state
        .pages
        .catalogue
        .text("consent.continue_text")
        .replace("{client}", name);
    render::page(
        &state.pages.env,
        "continue.html",
        StatusCode::OK,
        Continue {
            location,
            text,
            errors: Vec::new(),
        },
    )
}

fn invalid(state: &PageState, status: StatusCode, key: &str) -> Response {
    let catalogue = &state.pages.catalogue;
    let product = &state.pages.product;
    message(
        state,
        status,
        &catalogue.text("consent.invalid_heading"),
        &catalogue.text(key).replace("{product}", product),
    )
}

/// This request's path with the sign-in marker set to now (`after`:
/// `None` keeps the form's own).
fn authorize_path(state: &PageState, q: &Form, after: Option<i64>) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for name in PARAMS {
        if let Some(value) = q.get(name) {
            query.append_pair(name, value);
        }
    }
    match after {
        Some(at) => {
            query.append_pair(AFTER, &at.to_string());
        }
        None => {
            if let Some(at) = q.get(AFTER) {
                query.append_pair(AFTER, at);
            }
        }
    }
    format!("{}/oauth2/authorize?{}", state.pages.base, query.finish())
}

fn sign_in_first(
    state: &PageState,
    seen: &Visitor,
    uri: &Uri,
    request: &AuthorizationRequest,
) -> Response {
    let q = super::query(uri);
    let now = state.app.auth.now().timestamp();
    let back = authorize_path(state, &q, Some(now));
    // A live session that must sign in again (prompt=login, max_age) gets
    // the form even though it is signed in.
    let again = matches!(seen, Visitor::SignedIn(_));
    if !again && request.login_hint.is_none() {
        return crate::session::send_to_sign_in(state, seen, &back);
    }
    let mut target = format!("{}/signin{}", state.pages.base, super::rd_query(&back));
    if again {
        target.push_str("&prompt=login");
    }
    if let Some(hint) = &request.login_hint {
        target.push_str("&login_hint=");
        target.extend(form_urlencoded::byte_serialize(hint.as_bytes()));
    }
    redirect(&target)
}

#[derive(Serialize)]
struct ConsentPage<'a> {
    csrf_token: &'a str,
    heading: String,
    lead: String,
    scopes: Vec<String>,
    redirect_note: String,
    signed_in_as: String,
    fields: Vec<super::HiddenField<'a>>,
    #[serde(flatten)]
    errors: Errors,
}

async fn consent_page(
    state: &PageState,
    token: &Token,
    who: &Principal,
    request: &AuthorizationRequest,
    q: &Form,
    status: StatusCode,
) -> Response {
    let catalogue = &state.pages.catalogue;
    let product = state.pages.product.clone();
    let client = request.client.name.as_str();
    let fill = |key: &str| {
        catalogue
            .text(key)
            .replace("{client}", client)
            .replace("{product}", &product)
    };
    // Who they are first, then what else the app sees.
    let mut ordered: Vec<&str> = request.scope.iter().collect();
    ordered.sort_by_key(|s| *s != "openid");
    let scopes = ordered
        .into_iter()
        .map(|scope| match scope {
            "openid" | "profile" | "email" | "offline_access" => {
                fill(&format!("consent.scope_{scope}"))
            }
            other => fill("consent.scope_custom").replace("{scope}", other),
        })
        .collect();
    let origin = request
        .redirect_uri
        .split_once("://")
        .map(|(scheme, rest)| {
            let host = rest.split(['/', '?']).next().unwrap_or(rest);
            format!("{scheme}://{host}")
        })
        .unwrap_or_default();
    let errors = if status == StatusCode::FORBIDDEN {
        Errors::one("decision", catalogue.text("errors.form_expired"))
    } else {
        Errors::default()
    };
    let mut fields = super::hidden_fields(q, &PARAMS);
    fields.retain(|f| f.name != "prompt" || f.value != "consent");
    let email = match state.app.auth.me(who).await {
        Ok(user) => user.email.as_str().to_owned(),
        Err(_) => return unavailable(state),
    };
    let page = ConsentPage {
        csrf_token: token.value(),
        heading: fill("consent.heading"),
        lead: fill("consent.lead"),
        scopes,
        redirect_note: fill("consent.redirect_note").replace("{origin}", &origin),
        signed_in_as: catalogue
            .text("consent.signed_in_as")
            .replace("{email}", &email),
        fields,
        errors,
    };
    with_token(
        token,
        render::page(&state.pages.env, "consent.html", status, page),
    )
}
