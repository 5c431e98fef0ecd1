//! `/account`: the profile, the password change, the sessions with revoke,
//! the connected sign-in providers, two-step verification and passkeys,
//! and signing out (one session or all).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Utc};
use serde::Serialize;
use warden_core::{CoreError, IdentityId, PasskeyId, Principal, SessionId, SessionView, User};
use warden_http::cookies::{clear_session_cookies, refresh_path};
use warden_http::extract::Client;

use super::{
    Errors, FormPage, domain_error, form_problem, notice, query, redirect, require, social,
    unavailable, with_token,
};
use crate::PageState;
use crate::csrf::{self, Token};
use crate::form::Form;
use crate::render;
use crate::session::{Visitor, send_to_sign_in, visitor};

/// The account page's own path (where lapsed visitors come back to).
const ACCOUNT: &str = "/account";

#[derive(Serialize)]
struct Page<'a> {
    #[serde(flatten)]
    form: FormPage<'a>,
    user: UserView,
    sessions: Vec<SessionRow>,
    /// The new address typed into the e-mail change form, kept.
    new_email: &'a str,
    /// Linked identities at social sign-in providers.
    identities: Vec<IdentityRow>,
    /// "Connect" buttons of the providers not linked yet.
    connect: Vec<social::ProviderButton>,
    /// Two-step verification.
    mfa: MfaView,
}

#[derive(Serialize, Default)]
struct MfaView {
    /// Any second factor is on (an app or a passkey).
    enabled: bool,
    /// An authenticator app is on.
    totp: bool,
    /// The passkeys, oldest first.
    passkeys: Vec<PasskeyRow>,
    recovery_codes_left: u32,
    /// The forms need the current password (the sign-in is over 5 minutes old).
    reauth: bool,
    /// A secret waiting for its first code: the QR code and the key.
    enrolment: Option<EnrolmentView>,
    /// Recovery codes to show, this once.
    recovery_codes: Vec<String>,
}

#[derive(Serialize)]
struct PasskeyRow {
    id: String,
    name: String,
    synced: bool,
    added_on: String,
    added_at: String,
    last_used_on: Option<String>,
}

#[derive(Serialize)]
struct EnrolmentView {
    qr_svg: String,
    /// The key in groups of four, for typing.
    secret: String,
}

/// What the account page shows besides the account itself.
#[derive(Default)]
struct Shown<'a> {
    /// The new address typed into the e-mail change form, kept.
    new_email: &'a str,
    /// Show the pending authenticator app's QR code.
    enrolment: bool,
    /// Recovery codes just made.
    recovery_codes: Vec<String>,
}

#[derive(Serialize)]
struct IdentityRow {
    id: String,
    label: String,
    email: Option<String>,
    linked_on: String,
    linked_at: String,
}

#[derive(Serialize)]
struct UserView {
    email: String,
    username: Option<String>,
    email_verified: bool,
    has_password: bool,
    created_at: String,
    created_on: String,
    roles: Vec<String>,
}

#[derive(Serialize)]
struct SessionRow {
    id: String,
    current: bool,
    device: Option<String>,
    ip: Option<String>,
    created_at: String,
    created_on: String,
    last_used_at: String,
    last_used_on: String,
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%-d %b %Y, %H:%M UTC").to_string()
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            email: user.email.as_str().to_owned(),
            username: user.username.clone(),
            email_verified: user.email_verified,
            has_password: user.has_password,
            created_at: user.created_at.to_rfc3339(),
            created_on: day(user.created_at),
            roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        }
    }
}

impl From<&SessionView> for SessionRow {
    fn from(view: &SessionView) -> Self {
        let s = &view.session;
        Self {
            id: s.id.to_string(),
            current: view.is_current,
            device: s.user_agent.as_deref().and_then(device),
            ip: s.ip.clone(),
            created_at: s.created_at.to_rfc3339(),
            created_on: day(s.created_at),
            last_used_at: s.last_used_at.to_rfc3339(),
            last_used_on: day(s.last_used_at),
        }
    }
}

/// "Firefox on Linux" from a user agent, or `None` when nothing is known.
pub(crate) fn device(user_agent: &str) -> Option<String> {
    let has = |needle: &str| user_agent.contains(needle);
    let browser = if has("Edg/") {
        Some("Edge")
    } else if has("Firefox/") {
        Some("Firefox")
    } else if has("Chrome/") || has("Chromium/") {
        Some("Chrome")
    } else if has("Safari/") {
        Some("Safari")
    } else {
        None
    };
    let system = if has("Android") {
        Some("Android")
    } else if has("iPhone") || has("iPad") {
        Some("iOS")
    } else if has("Windows") {
        Some("Windows")
    } else if has("Mac OS X") || has("Macintosh") {
        Some("macOS")
    } else if has("Linux") {
        Some("Linux")
    } else {
        None
    };
    match (browser, system) {
        (Some(b), Some(s)) => Some(format!("{b} on {s}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

/// Renders the account page for `who`, with `errors` and `notice`.
async fn render_account(
    state: &PageState,
    who: &Principal,
    token: &Token,
    status: StatusCode,
    errors: Errors,
    notice: Option<String>,
) -> Response {
    render_account_with(state, who, token, status, errors, notice, Shown::default()).await
}

/// [`render_account`], keeping the new address typed into the e-mail
/// change form.
async fn render_account_with(
    state: &PageState,
    who: &Principal,
    token: &Token,
    status: StatusCode,
    errors: Errors,
    notice: Option<String>,
    shown: Shown<'_>,
) -> Response {
    let user = state.app.auth.me(who).await;
    let sessions = state.app.auth.my_sessions(who).await;
    let identities = state.app.auth.identities(who.user_id).await;
    let (user, sessions, identities) = match (user, sessions, identities) {
        (Ok(user), Ok(sessions), Ok(identities)) => (user, sessions, identities),
        (Err(CoreError::TokenRevoked), _, _) => {
            return redirect(&format!("{}/signin", state.pages.base));
        }
        _ => return unavailable(state),
    };
    let label_of = |provider: &str| {
        state
            .app
            .config
            .social
            .providers
            .iter()
            .find(|p| p.id() == provider)
            .map_or_else(|| provider.to_owned(), |p| p.label().to_owned())
    };
    let connect = social::buttons(state, "link", &format!("{}{ACCOUNT}", state.pages.base))
        .into_iter()
        .filter(|b| !identities.iter().any(|i| i.key.provider == b.id))
        .collect();
    let identities = identities
        .iter()
        .map(|i| IdentityRow {
            id: i.id.to_string(),
            label: label_of(&i.key.provider),
            email: i.email.clone(),
            linked_on: day(i.created_at),
            linked_at: i.created_at.to_rfc3339(),
        })
        .collect();
    let status_now = state.app.auth.mfa_status(&user).await;
    let enrolment = if shown.enrolment {
        state.app.auth.pending_totp(who).await.map(|pending| {
            pending.map(|e| EnrolmentView {
                qr_svg: e.qr_svg,
                secret: grouped(&e.secret),
            })
        })
    } else {
        Ok(None)
    };
    let passkeys = state.app.auth.passkeys(who).await;
    let (Ok(mfa_status), Ok(enrolment), Ok(passkeys)) = (status_now, enrolment, passkeys) else {
        return unavailable(state);
    };
    let mfa = MfaView {
        enabled: mfa_status.enabled(),
        totp: mfa_status.totp,
        passkeys: passkeys
            .iter()
            .map(|p| PasskeyRow {
                id: p.id.to_string(),
                name: p.name.clone(),
                synced: p.synced,
                added_on: day(p.created_at),
                added_at: p.created_at.to_rfc3339(),
                last_used_on: p.last_used_at.map(day),
            })
            .collect(),
        recovery_codes_left: mfa_status.recovery_codes_left,
        reauth: state.app.auth.needs_reauthentication(who),
        enrolment,
        recovery_codes: shown.recovery_codes,
    };
    let page = Page {
        form: FormPage {
            csrf_token: token.value(),
            rd: "",
            rd_query: String::new(),
            notice,
            errors,
        },
        user: UserView::from(&user),
        sessions: sessions.iter().map(SessionRow::from).collect(),
        new_email: shown.new_email,
        identities,
        connect,
        mfa,
    };
    with_token(
        token,
        render::page(&state.pages.env, "account.html", status, page),
    )
}

/// `GET /account[?notice=][?error=]` (`error`: a provider link that came
/// back refused).
pub async fn show(State(state): State<PageState>, uri: Uri, headers: HeaderMap) -> Response {
    match visitor(&state, &headers).await {
        Ok(Visitor::SignedIn(who)) => {
            let q = query(&uri);
            let notice = notice(&q, &state.pages.catalogue);
            let errors = social::flow_error(&q, &state.pages.catalogue).unwrap_or_default();
            render_account(
                &state,
                &who,
                &Token::of(&headers),
                StatusCode::OK,
                errors,
                notice,
            )
            .await
        }
        Ok(other) => send_to_sign_in(&state, &other, ACCOUNT),
        Err(_) => unavailable(&state),
    }
}

/// A signed-in visitor's form that passed the CSRF check, or the response
/// that replaces it (sign-in, or the page with the error on `field`).
async fn signed_in_form(
    state: &PageState,
    headers: &HeaderMap,
    body: Body,
    field: &str,
) -> Result<(Principal, Form, Token), Response> {
    let who = match visitor(state, headers).await {
        Ok(Visitor::SignedIn(who)) => who,
        Ok(other) => return Err(send_to_sign_in(state, &other, ACCOUNT)),
        Err(_) => return Err(unavailable(state)),
    };
    let token = Token::of(headers);
    let catalogue = &state.pages.catalogue;
    let form = match Form::read(headers, body).await {
        Ok(form) => form,
        Err(problem) => {
            let (status, errors) = form_problem(&problem, field, catalogue);
            return Err(render_account(state, &who, &token, status, errors, None).await);
        }
    };
    if csrf::check(headers, &form, &state.app.config.allowed_origins).is_err() {
        let errors = Errors::one(field, catalogue.text("errors.form_expired"));
        return Err(render_account(state, &who, &token, StatusCode::FORBIDDEN, errors, None).await);
    }
    Ok((who, form, token))
}

/// `POST /account/password`: the existing password-change use case (other
/// sessions revoked).
pub async fn change_password(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, form, token) = match signed_in_form(&state, &headers, body, "current_password").await
    {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let catalogue = &state.pages.catalogue;
    let missing = require(&form, &["current_password", "new_password"], catalogue);
    if !missing.is_empty() {
        return render_account(&state, &who, &token, StatusCode::BAD_REQUEST, missing, None).await;
    }
    let result = state
        .app
        .auth
        .change_password(
            &who,
            form.text("current_password"),
            form.text("new_password"),
            &ctx,
        )
        .await;
    match result {
        Ok(()) => redirect(&format!(
            "{}{ACCOUNT}?notice=password_changed",
            state.pages.base
        )),
        Err(err) => {
            let fields = [
                ("current_password", "current_password"),
                ("new_password", "new_password"),
                ("password", "current_password"),
            ];
            let (status, errors) = domain_error(&err, &fields, "current_password", catalogue);
            render_account(&state, &who, &token, status, errors, None).await
        }
    }
}

/// `POST /account/sessions/{id}/revoke`: ends one of the person's sessions;
/// ending this one signs the page out.
pub async fn revoke_session(
    State(state): State<PageState>,
    Client(ctx): Client,
    Path(id): Path<String>,
    headers: HeaderMap,
    jar: CookieJar,
    body: Body,
) -> Response {
    let (who, _, token) = match signed_in_form(&state, &headers, body, "sessions-heading").await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let base = &state.pages.base;
    let result = match id.parse::<SessionId>() {
        Ok(id) => state
            .app
            .auth
            .revoke_my_session(&who, id, &ctx)
            .await
            .map(|()| id),
        Err(_) => Err(CoreError::NotFound("session")),
    };
    match result {
        Ok(id) if id == who.session_id => signed_out(&state, jar, "signed_out"),
        Ok(_) => redirect(&format!("{base}{ACCOUNT}?notice=session_revoked")),
        Err(err) => {
            let (status, errors) =
                domain_error(&err, &[], "sessions-heading", &state.pages.catalogue);
            render_account(&state, &who, &token, status, errors, None).await
        }
    }
}

/// `POST /account/identities/{id}/unlink`: disconnects a provider, unless
/// it is the account's last way in.
pub async fn unlink_identity(
    State(state): State<PageState>,
    Client(ctx): Client,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, _, token) = match signed_in_form(&state, &headers, body, social::FIELD).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let result = match id.parse::<IdentityId>() {
        Ok(id) => state.app.auth.unlink_identity(who.user_id, id, &ctx).await,
        Err(_) => Err(CoreError::NotFound("identity")),
    };
    settle(
        &state,
        &who,
        &token,
        result,
        "identity_unlinked",
        social::FIELD,
    )
    .await
}

/// The answer to an account form: back to the page with `notice`, or the
/// page again with the error at `field`.
async fn settle(
    state: &PageState,
    who: &Principal,
    token: &Token,
    result: Result<(), CoreError>,
    notice: &str,
    field: &str,
) -> Response {
    match result {
        Ok(()) => redirect(&format!("{}{ACCOUNT}?notice={notice}", state.pages.base)),
        Err(err) => {
            let (status, errors) = domain_error(&err, &[], field, &state.pages.catalogue);
            render_account(state, who, token, status, errors, None).await
        }
    }
}

/// `POST /account/email/verify`: mails a new verification link.
pub async fn send_verification(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, _, token) = match signed_in_form(&state, &headers, body, "verify_send").await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let result = state.app.auth.send_verification(&who, &ctx).await;
    settle(
        &state,
        &who,
        &token,
        result,
        "verification_sent",
        "verify_send",
    )
    .await
}

/// `POST /account/email`: mails a link to the new address; the account
/// moves when it is followed.
pub async fn change_email(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, form, token) = match signed_in_form(&state, &headers, body, "new_email").await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let catalogue = &state.pages.catalogue;
    let new_email = form.text("new_email").trim();
    let missing = require(&form, &["new_email", "email_password"], catalogue);
    if !missing.is_empty() {
        let status = StatusCode::BAD_REQUEST;
        let shown = Shown {
            new_email,
            ..Shown::default()
        };
        return render_account_with(&state, &who, &token, status, missing, None, shown).await;
    }
    let result = state
        .app
        .auth
        .request_email_change(&who, new_email, form.get("email_password"), &ctx)
        .await;
    match result {
        Ok(()) => redirect(&format!(
            "{}{ACCOUNT}?notice=email_change_sent",
            state.pages.base
        )),
        Err(err) => {
            let fields = [
                ("new_email", "new_email"),
                ("email", "new_email"),
                ("current_password", "email_password"),
                ("password", "email_password"),
            ];
            let (status, errors) = domain_error(&err, &fields, "new_email", catalogue);
            let shown = Shown {
                new_email,
                ..Shown::default()
            };
            render_account_with(&state, &who, &token, status, errors, None, shown).await
        }
    }
}

/// `POST /account/delete`: deletes the account after its password, and
/// signs this browser out.
pub async fn delete_account(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    jar: CookieJar,
    body: Body,
) -> Response {
    let (who, form, token) = match signed_in_form(&state, &headers, body, "delete_password").await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let catalogue = &state.pages.catalogue;
    // An account without a password (social sign-in, passkeys) confirms by
    // typing; the service then asks for a sign-in within 5 minutes.
    let has_password = match state.app.auth.me(&who).await {
        Ok(user) => user.has_password,
        Err(_) => return unavailable(&state),
    };
    let field = if has_password {
        "delete_password"
    } else {
        "delete_confirm"
    };
    let missing = require(&form, &[field], catalogue);
    if !missing.is_empty() {
        return render_account(&state, &who, &token, StatusCode::BAD_REQUEST, missing, None).await;
    }
    if !has_password && form.text("delete_confirm").trim() != "DELETE" {
        let errors = Errors::one("delete_confirm", catalogue.text("errors.delete_confirm"));
        return render_account(&state, &who, &token, StatusCode::BAD_REQUEST, errors, None).await;
    }
    let password = if has_password {
        form.get("delete_password")
    } else {
        None
    };
    match state.app.auth.delete_me(&who, password, &ctx).await {
        Ok(()) => signed_out(&state, jar, "account_deleted"),
        Err(err) => {
            let fields = [
                ("current_password", "delete_password"),
                ("password", "delete_password"),
            ];
            let (status, errors) = domain_error(&err, &fields, field, catalogue);
            render_account(&state, &who, &token, status, errors, None).await
        }
    }
}

/// Clears the cookies and goes to the sign-in page with `notice`.
fn signed_out(state: &PageState, jar: CookieJar, notice: &str) -> Response {
    let jar = clear_session_cookies(jar, &refresh_path(&state.app.auth.settings().issuer));
    let location = format!("{}/signin?notice={notice}", state.pages.base);
    (jar, redirect(&location)).into_response()
}

/// `POST /signout` (`everywhere=1`: every session): ends the session and
/// clears the cookies. Without a valid access cookie there is nothing this
/// browser can still use but the refresh cookie, which only the resume hop
/// sees: it goes there first and comes back signed in, or to sign-in.
pub async fn sign_out(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    jar: CookieJar,
    body: Body,
) -> Response {
    let (who, form, _) = match signed_in_form(&state, &headers, body, "sessions-heading").await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let everywhere = form.get("everywhere") == Some("1");
    let result = if everywhere {
        state.app.auth.sign_out_everywhere(&who, &ctx).await
    } else {
        state.app.auth.sign_out(&who, &ctx).await
    };
    match result {
        Ok(()) if everywhere => signed_out(&state, jar, "signed_out_everywhere"),
        Ok(()) => signed_out(&state, jar, "signed_out"),
        Err(_) => unavailable(&state),
    }
}

/// `ABCD EFGH ...`: a base32 key in groups of four, easier to type.
fn grouped(key: &str) -> String {
    key.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `POST /account/mfa/totp`: a new authenticator-app secret, shown as a
/// QR code to scan.
pub async fn start_totp(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, form, token) = match signed_in_form(&state, &headers, body, "mfa-heading").await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let password = form.get("mfa_password").filter(|p| !p.is_empty());
    match state.app.auth.start_totp(&who, password, &ctx).await {
        Ok(_) => {
            let shown = Shown {
                enrolment: true,
                ..Shown::default()
            };
            render_account_with(
                &state,
                &who,
                &token,
                StatusCode::OK,
                Errors::default(),
                None,
                shown,
            )
            .await
        }
        Err(err) => {
            let fields = [
                ("current_password", "mfa_password"),
                ("password", "mfa_password"),
            ];
            let (status, errors) =
                domain_error(&err, &fields, "mfa-heading", &state.pages.catalogue);
            render_account(&state, &who, &token, status, errors, None).await
        }
    }
}

/// `POST /account/mfa/totp/confirm`: the first code turns the app on; the
/// recovery codes are shown this once.
pub async fn confirm_totp(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, form, token) = match signed_in_form(&state, &headers, body, "totp_code").await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    match state
        .app
        .auth
        .confirm_totp(&who, form.text("totp_code"), &ctx)
        .await
    {
        Ok(codes) => {
            let shown = Shown {
                recovery_codes: codes,
                ..Shown::default()
            };
            let notice = Some(state.pages.catalogue.text("account.mfa_on_notice"));
            render_account_with(
                &state,
                &who,
                &token,
                StatusCode::OK,
                Errors::default(),
                notice,
                shown,
            )
            .await
        }
        Err(err) => {
            let (status, errors) = domain_error(
                &err,
                &[("code", "totp_code")],
                "totp_code",
                &state.pages.catalogue,
            );
            let shown = Shown {
                enrolment: true,
                ..Shown::default()
            };
            render_account_with(&state, &who, &token, status, errors, None, shown).await
        }
    }
}

/// The factor a management form's code field holds: six digits are an app
/// code, anything else a recovery code.
fn factor_of(raw: &str) -> warden_core::SecondFactor<'_> {
    let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        warden_core::SecondFactor::Totp(raw)
    } else {
        warden_core::SecondFactor::RecoveryCode(raw)
    }
}

/// `POST /account/mfa/totp/remove`: turns two-step verification off, given
/// a code (and the password after 5 minutes).
pub async fn remove_totp(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, form, token) = match signed_in_form(&state, &headers, body, "remove_code").await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let catalogue = &state.pages.catalogue;
    let missing = require(&form, &["remove_code"], catalogue);
    if !missing.is_empty() {
        return render_account(&state, &who, &token, StatusCode::BAD_REQUEST, missing, None).await;
    }
    let password = form.get("remove_password").filter(|p| !p.is_empty());
    match state
        .app
        .auth
        .remove_totp(&who, factor_of(form.text("remove_code")), password, &ctx)
        .await
    {
        Ok(()) => redirect(&format!(
            "{}{ACCOUNT}?notice=totp_removed",
            state.pages.base
        )),
        Err(err) => {
            let fields = [
                ("code", "remove_code"),
                ("current_password", "remove_password"),
                ("password", "remove_password"),
            ];
            let (status, errors) = domain_error(&err, &fields, "remove_code", catalogue);
            render_account(&state, &who, &token, status, errors, None).await
        }
    }
}

/// `POST /account/mfa/recovery-codes`: a new set, given an app code.
pub async fn new_recovery_codes(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, form, token) = match signed_in_form(&state, &headers, body, "codes_code").await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let catalogue = &state.pages.catalogue;
    match state
        .app
        .auth
        .regenerate_recovery_codes(&who, form.text("codes_code"), &ctx)
        .await
    {
        Ok(codes) => {
            let shown = Shown {
                recovery_codes: codes,
                ..Shown::default()
            };
            let notice = Some(catalogue.text("notices.recovery_codes_new"));
            render_account_with(
                &state,
                &who,
                &token,
                StatusCode::OK,
                Errors::default(),
                notice,
                shown,
            )
            .await
        }
        Err(err) => {
            let (status, errors) =
                domain_error(&err, &[("code", "codes_code")], "codes_code", catalogue);
            render_account(&state, &who, &token, status, errors, None).await
        }
    }
}

/// `POST /account/passkeys/options` (the page's script): creation options
/// for `navigator.credentials.create()`, as JSON. Any refusal is a bare
/// status; the script then posts the form, and `add_passkey` shows why.
pub async fn passkey_options(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, form, _) = match signed_in_form(&state, &headers, body, "passkey_name").await {
        Ok(ok) => ok,
        Err(_) => return StatusCode::FORBIDDEN.into_response(),
    };
    let password = form.get("passkey_password").filter(|p| !p.is_empty());
    match state
        .app
        .auth
        .passkey_registration_options(&who, password, &ctx)
        .await
    {
        Ok(options) => (
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            axum::Json(options),
        )
            .into_response(),
        Err(err) => warden_http::problem::status_of(err.kind()).into_response(),
    }
}

/// `POST /account/passkeys`: the browser's new passkey (filled in by the
/// page's script). Without one (no script, or the options were refused)
/// the page says why.
pub async fn add_passkey(
    State(state): State<PageState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, form, token) = match signed_in_form(&state, &headers, body, "passkey_name").await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let catalogue = &state.pages.catalogue;
    let fields = [
        ("current_password", "passkey_password"),
        ("password", "passkey_password"),
    ];
    let raw = form.text("credential").trim();
    if raw.is_empty() {
        // Run the first half here, so a wrong or missing password shows.
        let password = form.get("passkey_password").filter(|p| !p.is_empty());
        let error = match state
            .app
            .auth
            .passkey_registration_options(&who, password, &ctx)
            .await
        {
            Err(err) => domain_error(&err, &fields, "passkey_name", catalogue),
            Ok(_) => (
                StatusCode::BAD_REQUEST,
                Errors::one("passkey_name", catalogue.text("errors.passkey_not_created")),
            ),
        };
        return render_account(&state, &who, &token, error.0, error.1, None).await;
    }
    let credential: serde_json::Value = serde_json::from_str(raw).unwrap_or_default();
    let name = form.get("passkey_name");
    match state
        .app
        .auth
        .register_passkey(&who, &credential, name, &ctx)
        .await
    {
        Ok(registered) => {
            let shown = Shown {
                recovery_codes: registered.recovery_codes.unwrap_or_default(),
                ..Shown::default()
            };
            let notice = Some(catalogue.text("account.passkey_added_notice"));
            render_account_with(
                &state,
                &who,
                &token,
                StatusCode::OK,
                Errors::default(),
                notice,
                shown,
            )
            .await
        }
        Err(CoreError::InvalidCredential) => {
            let errors = Errors::one("passkey_name", catalogue.text("errors.invalid_credential"));
            render_account(&state, &who, &token, StatusCode::BAD_REQUEST, errors, None).await
        }
        Err(err) => {
            let (status, errors) = domain_error(&err, &fields, "passkey_name", catalogue);
            render_account(&state, &who, &token, status, errors, None).await
        }
    }
}

/// `POST /account/passkeys/{id}/remove` (the password after 5 minutes).
pub async fn remove_passkey(
    State(state): State<PageState>,
    Client(ctx): Client,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (who, form, token) = match signed_in_form(&state, &headers, body, "passkeys-heading").await
    {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let catalogue = &state.pages.catalogue;
    let Ok(id) = id.parse::<PasskeyId>() else {
        let errors = Errors::one("passkeys-heading", catalogue.text("errors.passkey_gone"));
        return render_account(&state, &who, &token, StatusCode::NOT_FOUND, errors, None).await;
    };
    let password = form
        .get("remove_passkey_password")
        .filter(|p| !p.is_empty());
    match state
        .app
        .auth
        .delete_passkey(&who, id, password, &ctx)
        .await
    {
        Ok(()) => redirect(&format!(
            "{}{ACCOUNT}?notice=passkey_removed",
            state.pages.base
        )),
        Err(CoreError::NotFound(_)) => {
            let errors = Errors::one("passkeys-heading", catalogue.text("errors.passkey_gone"));
            render_account(&state, &who, &token, StatusCode::NOT_FOUND, errors, None).await
        }
        Err(err) => {
            let fields = [
                ("current_password", "remove_passkey_password"),
                ("password", "remove_passkey_password"),
            ];
            let (status, errors) = domain_error(&err, &fields, "passkeys-heading", catalogue);
            render_account(&state, &who, &token, status, errors, None).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::device;

    #[test]
    fn devices_are_named_from_the_user_agent() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36";
        assert_eq!(device(chrome).as_deref(), Some("Chrome on Linux"));
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1";
        assert_eq!(device(iphone).as_deref(), Some("Safari on iOS"));
        assert_eq!(device("curl/8.0").as_deref(), None);
    }
}
