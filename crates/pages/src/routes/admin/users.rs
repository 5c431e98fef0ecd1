//! `/admin/users`: the list with search and cursor paging, one user's page
//! (sessions, roles, ban, second factors, password reset, linked
//! identities, delete), and the changes made from it.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::Serialize;
use warden_core::service::MfaStatus;
use warden_core::{CoreError, SessionId, User, UserId, UserStatus};
use warden_http::extract::Client;

use super::{
    Admin, Change, Chrome, admin, admin_form, confirm, confirmed, day, page, problem_page,
};
use crate::PageState;
use crate::routes::{Errors, query, redirect, unavailable};

/// Users shown per page.
const PER_PAGE: u32 = 50;

#[derive(Serialize)]
struct ListPage<'a> {
    #[serde(flatten)]
    chrome: Chrome<'a>,
    q: &'a str,
    users: Vec<UserRow>,
    /// The next page's link, if there is one.
    next: Option<String>,
    /// On a later page, the link back to the first.
    first: Option<String>,
}

#[derive(Serialize)]
struct UserRow {
    id: String,
    email: String,
    username: Option<String>,
    roles: String,
    banned: bool,
    verified: bool,
    created_at: String,
    created_on: String,
}

impl From<&User> for UserRow {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.as_str().to_owned(),
            username: user.username.clone(),
            roles: role_text(user),
            banned: user.status == UserStatus::Banned,
            verified: user.email_verified,
            created_at: user.created_at.to_rfc3339(),
            created_on: day(user.created_at),
        }
    }
}

fn role_text(user: &User) -> String {
    user.roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `GET /admin/users?q=&cursor=`.
pub async fn list(State(state): State<PageState>, uri: Uri, headers: HeaderMap) -> Response {
    let back = uri
        .path_and_query()
        .map_or("/admin/users", |p| p.as_str())
        .trim_start_matches(&state.pages.base)
        .to_owned();
    let admin = match admin(&state, &headers, &back).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let q = query(&uri);
    let search = q.text("q").trim();
    let cursor = q.get("cursor").filter(|c| !c.is_empty());
    let mut chrome = Chrome::new(&admin, "users");
    chrome.notice = notice(&state, q.get("notice"));
    let found = state
        .app
        .auth
        .list_users(
            (!search.is_empty()).then_some(search),
            cursor,
            Some(PER_PAGE),
        )
        .await;
    let (status, users, next) = match found {
        Ok(found) => {
            let next = found.next_cursor.map(|c| {
                format!(
                    "{}/admin/users?q={}&cursor={}",
                    state.pages.base,
                    encode(search),
                    encode(&c)
                )
            });
            (StatusCode::OK, found.items, next)
        }
        Err(CoreError::InvalidInput(e)) => {
            chrome.errors = Errors::one(
                "q",
                format!(
                    "{}: {}",
                    state.pages.catalogue.text("errors.invalid_field"),
                    e.message
                ),
            );
            (StatusCode::BAD_REQUEST, Vec::new(), None)
        }
        Err(_) => return unavailable(&state),
    };
    let context = ListPage {
        chrome,
        q: search,
        users: users.iter().map(UserRow::from).collect(),
        next,
        first: cursor.map(|_| {
            let mut first = format!("{}/admin/users", state.pages.base);
            if !search.is_empty() {
                first.push_str(&format!("?q={}", encode(search)));
            }
            first
        }),
    };
    page(&state, &admin, "admin/users.html", status, context)
}

#[derive(Serialize)]
struct UserPage<'a> {
    #[serde(flatten)]
    chrome: Chrome<'a>,
    user: UserRow,
    is_self: bool,
    has_password: bool,
    factors: FactorsView,
    sessions: Vec<SessionRow>,
    identities: Vec<IdentityRow>,
    ban_reason: &'a str,
}

#[derive(Serialize)]
struct FactorsView {
    any: bool,
    totp: bool,
    passkeys: u32,
    recovery_codes_left: u32,
}

impl From<MfaStatus> for FactorsView {
    fn from(status: MfaStatus) -> Self {
        Self {
            any: status.enabled(),
            totp: status.totp,
            passkeys: status.passkeys,
            recovery_codes_left: status.recovery_codes_left,
        }
    }
}

#[derive(Serialize)]
struct SessionRow {
    id: String,
    /// "Chrome on Linux", when the user agent says.
    device: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    client_id: Option<String>,
    two_factor: bool,
    created_at: String,
    created_on: String,
    last_used_at: String,
    last_used_on: String,
}

#[derive(Serialize)]
struct IdentityRow {
    provider: String,
    email: Option<String>,
    linked_on: String,
}

fn user_path(id: UserId) -> String {
    format!("/admin/users/{id}")
}

/// `GET /admin/users/{id}`.
pub async fn show(
    State(state): State<PageState>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let admin = match admin(&state, &headers, &format!("/admin/users/{id}")).await {
        Ok(admin) => admin,
        Err(response) => return response,
    };
    let Ok(id) = id.parse::<UserId>() else {
        return not_found(&state, &admin);
    };
    let q = query(&uri);
    let mut chrome = Chrome::new(&admin, "users");
    chrome.notice = notice(&state, q.get("notice"));
    render_user(&state, &admin, id, chrome, StatusCode::OK, "").await
}

async fn render_user(
    state: &PageState,
    admin: &Admin,
    id: UserId,
    chrome: Chrome<'_>,
    status: StatusCode,
    ban_reason: &str,
) -> Response {
    let auth = &state.app.auth;
    let (user, sessions) = match auth.get_user(id).await {
        Ok(found) => found,
        Err(CoreError::NotFound(_)) => return not_found(state, admin),
        Err(_) => return unavailable(state),
    };
    let (Ok(factors), Ok(identities)) = (
        auth.user_admin().second_factors(&user).await,
        auth.identities(user.id).await,
    ) else {
        return unavailable(state);
    };
    let now = auth.now();
    let idle = auth.settings().idle_timeout;
    let context = UserPage {
        chrome,
        is_self: user.id == admin.user.id,
        has_password: user.has_password,
        factors: factors.into(),
        sessions: sessions
            .iter()
            .filter(|s| s.is_live(now, idle))
            .map(|s| SessionRow {
                id: s.id.to_string(),
                device: s
                    .user_agent
                    .as_deref()
                    .and_then(crate::routes::account::device),
                ip: s.ip.clone(),
                user_agent: s.user_agent.clone(),
                client_id: s.client_id.as_ref().map(|c| c.to_string()),
                two_factor: s.authentication.is_multi_factor(),
                created_at: s.created_at.to_rfc3339(),
                created_on: day(s.created_at),
                last_used_at: s.last_used_at.to_rfc3339(),
                last_used_on: day(s.last_used_at),
            })
            .collect(),
        identities: identities
            .iter()
            .map(|i| IdentityRow {
                provider: i.key.provider.clone(),
                email: i.email.clone(),
                linked_on: day(i.created_at),
            })
            .collect(),
        user: UserRow::from(&user),
        ban_reason,
    };
    page(state, admin, "admin/user.html", status, context)
}

fn not_found(state: &PageState, admin: &Admin) -> Response {
    problem_page(
        state,
        admin,
        StatusCode::NOT_FOUND,
        &state.pages.catalogue.text("admin.user_not_found"),
        "/admin/users",
    )
}

/// The notices a console page may show after a change (`?notice=`).
pub fn notice(state: &PageState, name: Option<&str>) -> Option<String> {
    const NOTICES: &[&str] = &[
        "banned",
        "unbanned",
        "roles_changed",
        "mfa_reset",
        "reset_sent",
        "session_revoked",
        "sessions_revoked",
        "deleted",
        "client_created",
        "client_updated",
        "client_deleted",
        "secret_rotated",
    ];
    let name = name?;
    NOTICES
        .contains(&name)
        .then(|| state.pages.catalogue.text(&format!("admin.notice_{name}")))
}

/// The changes an admin makes from a user's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Ban,
    Unban,
    Roles,
    ResetMfa,
    SendReset,
    RevokeAll,
    Delete,
}

impl Action {
    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "ban" => Action::Ban,
            "unban" => Action::Unban,
            "roles" => Action::Roles,
            "reset-mfa" => Action::ResetMfa,
            "send-reset" => Action::SendReset,
            "revoke-sessions" => Action::RevokeAll,
            "delete" => Action::Delete,
            _ => return None,
        })
    }

    fn path(self) -> &'static str {
        match self {
            Action::Ban => "ban",
            Action::Unban => "unban",
            Action::Roles => "roles",
            Action::ResetMfa => "reset-mfa",
            Action::SendReset => "send-reset",
            Action::RevokeAll => "revoke-sessions",
            Action::Delete => "delete",
        }
    }

    /// The catalogue's key prefix of its confirmation texts.
    fn key(self) -> &'static str {
        match self {
            Action::Ban => "ban",
            Action::Unban => "unban",
            Action::Roles => "roles",
            Action::ResetMfa => "reset_mfa",
            Action::SendReset => "send_reset",
            Action::RevokeAll => "revoke_sessions",
            Action::Delete => "delete",
        }
    }

    fn notice(self) -> &'static str {
        match self {
            Action::Ban => "banned",
            Action::Unban => "unbanned",
            Action::Roles => "roles_changed",
            Action::ResetMfa => "mfa_reset",
            Action::SendReset => "reset_sent",
            Action::RevokeAll => "sessions_revoked",
            Action::Delete => "deleted",
        }
    }
}

/// `POST /admin/users/{id}/{action}`: without `confirmed=yes`, the
/// confirmation page; with it, the change, then back to the user's page
/// (or the list, after a deletion) with a notice.
pub async fn act(
    State(state): State<PageState>,
    Client(ctx): Client,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let back = format!("/admin/users/{id}");
    let (admin, form) = match admin_form(&state, &headers, body, &back).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let (Ok(target), Some(action)) = (id.parse::<UserId>(), Action::parse(&action)) else {
        return not_found(&state, &admin);
    };
    let auth = &state.app.auth;
    let user = match auth.user_admin().account(target).await {
        Ok(user) => user,
        Err(CoreError::NotFound(_)) => return not_found(&state, &admin),
        Err(_) => return unavailable(&state),
    };
    let catalogue = &state.pages.catalogue;
    let reason = form.text("reason").trim();
    let roles = form.text("roles");
    let mut change = Change::new(
        catalogue,
        action.key(),
        |text| {
            text.replace("{email}", user.email.as_str())
                .replace("{roles}", &role_list(roles).join(", "))
                .replace("{reason}", reason)
        },
        format!("{back}/{}", action.path()),
        back.clone(),
        "users",
    );
    match action {
        Action::Ban if !reason.is_empty() => change.fields.push(("reason", reason.to_owned())),
        Action::Roles => change.fields.push(("roles", roles.to_owned())),
        _ => {}
    }
    change.danger = matches!(action, Action::Ban | Action::Delete | Action::ResetMfa);
    change.type_to_confirm = (action == Action::Delete).then(|| user.email.as_str().to_owned());
    if !confirmed(&form) {
        return confirm(&state, &admin, change, None);
    }
    let actor = admin.user.id;
    let result = match action {
        Action::Ban => auth
            .ban(actor, target, (!reason.is_empty()).then_some(reason), &ctx)
            .await
            .map(drop),
        Action::Unban => auth.unban(actor, target, &ctx).await.map(drop),
        Action::Roles => auth
            .set_roles(actor, target, &role_list(roles), &ctx)
            .await
            .map(drop),
        Action::ResetMfa => auth.admin_reset_mfa(actor, target, &ctx).await,
        Action::SendReset => {
            auth.user_admin()
                .send_password_reset(actor.into(), target, &ctx)
                .await
        }
        Action::RevokeAll => auth.admin_revoke_all_sessions(actor, target, &ctx).await,
        Action::Delete if form.text("confirm_text").trim() != user.email.as_str() => {
            let message = catalogue.text("admin.delete_mismatch");
            return confirm(&state, &admin, change, Some(message));
        }
        Action::Delete => auth.delete_user(actor, target, &ctx).await,
    };
    match result {
        Ok(()) if action == Action::Delete => {
            redirect(&format!("{}/admin/users?notice=deleted", state.pages.base))
        }
        Ok(()) => redirect(&format!(
            "{}{back}?notice={}",
            state.pages.base,
            action.notice()
        )),
        Err(err) => {
            let field = match action {
                Action::Roles => "roles",
                Action::Ban => "reason",
                _ => "actions-heading",
            };
            let (status, errors) = crate::routes::domain_error(&err, &[], field, catalogue);
            let mut chrome = Chrome::new(&admin, "users");
            chrome.errors = errors;
            render_user(&state, &admin, target, chrome, status, reason).await
        }
    }
}

/// `POST /admin/users/{id}/sessions/{sid}/revoke`: ends one session, once
/// confirmed.
pub async fn revoke_session(
    State(state): State<PageState>,
    Client(ctx): Client,
    Path((id, session)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let back = format!("/admin/users/{id}");
    let (admin, form) = match admin_form(&state, &headers, body, &back).await {
        Ok(ok) => ok,
        Err(response) => return response,
    };
    let (Ok(target), Ok(session)) = (id.parse::<UserId>(), session.parse::<SessionId>()) else {
        return not_found(&state, &admin);
    };
    if !confirmed(&form) {
        let user = match state.app.auth.user_admin().account(target).await {
            Ok(user) => user,
            Err(CoreError::NotFound(_)) => return not_found(&state, &admin),
            Err(_) => return unavailable(&state),
        };
        let change = Change::new(
            &state.pages.catalogue,
            "revoke_session",
            |text| text.replace("{email}", user.email.as_str()),
            format!("{back}/sessions/{session}/revoke"),
            back.clone(),
            "users",
        );
        return confirm(&state, &admin, change, None);
    }
    match state
        .app
        .auth
        .admin_revoke_session(admin.user.id, target, session, &ctx)
        .await
    {
        Ok(()) => redirect(&format!(
            "{}{}?notice=session_revoked",
            state.pages.base,
            user_path(target)
        )),
        Err(err) => {
            let catalogue = &state.pages.catalogue;
            let (status, errors) =
                crate::routes::domain_error(&err, &[], "sessions-heading", catalogue);
            let mut chrome = Chrome::new(&admin, "users");
            chrome.errors = errors;
            render_user(&state, &admin, target, chrome, status, "").await
        }
    }
}

/// Roles typed as a list: split on commas and white space.
fn role_list(raw: &str) -> Vec<String> {
    raw.split([',', ' ', '\t', '\n', '\r'])
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_split_on_commas_and_spaces() {
        assert_eq!(
            role_list(" user, billing  admin,,"),
            vec!["user", "billing", "admin"]
        );
        assert!(role_list(" , ").is_empty());
    }

    #[test]
    fn every_action_round_trips_through_its_path() {
        for action in [
            Action::Ban,
            Action::Unban,
            Action::Roles,
            Action::ResetMfa,
            Action::SendReset,
            Action::RevokeAll,
            Action::Delete,
        ] {
            assert_eq!(Action::parse(action.path()), Some(action));
        }
        assert_eq!(Action::parse("promote"), None);
    }
}
