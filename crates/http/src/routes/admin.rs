//! The admin API: users, bans, roles, deletion, audit log. Every handler
//! takes an `AdminUser`, so authorization fails before the handler runs.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use warden_core::UserId;

use crate::dto::{
    AdminUserBody, AuditEntryBody, AuditPage, AuditQuery, BanRequest, RolesRequest, SessionBody,
    UserBody, UsersPage, UsersQuery,
};
use crate::extract::{AdminUser, ApiJson, ApiQuery, Client, OptionalJson};
use crate::openapi::{AdminErrors, BadRequest, JsonBodyErrors, NotFound, Unavailable};
use crate::problem::ApiError;
use crate::state::AppState;

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::not_found("user not found"))
}

/// Page through users.
#[utoipa::path(get, path = "/v1/admin/users", tag = "admin", params(UsersQuery), security(("bearer" = [])),
    responses((status = 200, body = UsersPage), BadRequest, AdminErrors, Unavailable))]
pub async fn list_users(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiQuery(query): ApiQuery<UsersQuery>,
) -> Result<Json<UsersPage>, ApiError> {
    let page = state
        .auth
        .list_users(query.q.as_deref(), query.cursor.as_deref(), query.limit)
        .await?;
    Ok(Json(UsersPage {
        users: page.items.iter().map(UserBody::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One user with their sessions.
#[utoipa::path(get, path = "/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = AdminUserBody), AdminErrors, NotFound, Unavailable))]
pub async fn get_user(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<AdminUserBody>, ApiError> {
    let (user, sessions) = state.auth.get_user(user_id(&id)?).await?;
    Ok(Json(AdminUserBody {
        user: UserBody::from(&user),
        sessions: sessions
            .iter()
            .map(|s| SessionBody::new(s, false))
            .collect(),
    }))
}

/// Ban a user: every session revoked, live tokens refused.
#[utoipa::path(post, path = "/v1/admin/users/{id}/ban", tag = "admin", security(("bearer" = [])), request_body = Option<BanRequest>,
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserBody), JsonBodyErrors, AdminErrors, NotFound, Unavailable))]
pub async fn ban(
    State(state): State<AppState>,
    admin: AdminUser,
    Client(ctx): Client,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<BanRequest>,
) -> Result<Json<UserBody>, ApiError> {
    let target = user_id(&id)?;
    let reason = body.and_then(|b| b.reason);
    let user = state
        .auth
        .ban(admin.user.id, target, reason.as_deref(), &ctx)
        .await?;
    Ok(Json(UserBody::from(&user)))
}

/// Lift a ban.
#[utoipa::path(post, path = "/v1/admin/users/{id}/unban", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserBody), AdminErrors, NotFound, Unavailable))]
pub async fn unban(
    State(state): State<AppState>,
    admin: AdminUser,
    Client(ctx): Client,
    Path(id): Path<String>,
) -> Result<Json<UserBody>, ApiError> {
    let user = state.auth.unban(admin.user.id, user_id(&id)?, &ctx).await?;
    Ok(Json(UserBody::from(&user)))
}

/// Replace a user's roles.
#[utoipa::path(put, path = "/v1/admin/users/{id}/roles", tag = "admin", security(("bearer" = [])), request_body = RolesRequest,
    params(("id" = String, Path, description = "User id")),
    responses((status = 200, body = UserBody), JsonBodyErrors, AdminErrors, NotFound, Unavailable))]
pub async fn set_roles(
    State(state): State<AppState>,
    admin: AdminUser,
    Client(ctx): Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RolesRequest>,
) -> Result<Json<UserBody>, ApiError> {
    let user = state
        .auth
        .set_roles(admin.user.id, user_id(&id)?, &body.roles, &ctx)
        .await?;
    Ok(Json(UserBody::from(&user)))
}

/// Delete a user and their sessions.
#[utoipa::path(delete, path = "/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 204), BadRequest, AdminErrors, NotFound, Unavailable))]
pub async fn delete_user(
    State(state): State<AppState>,
    admin: AdminUser,
    Client(ctx): Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let target = user_id(&id)?;
    state.auth.delete_user(admin.user.id, target, &ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/v1/admin/audit", tag = "admin", params(AuditQuery), security(("bearer" = [])),
    responses((status = 200, body = AuditPage), BadRequest, AdminErrors, Unavailable))]
pub async fn audit(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    let page = state
        .auth
        .list_audit(query.user.as_deref(), query.cursor.as_deref(), query.limit)
        .await?;
    Ok(Json(AuditPage {
        entries: page.items.iter().map(AuditEntryBody::from).collect(),
        next_cursor: page.next_cursor,
    }))
}
