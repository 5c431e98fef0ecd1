//! The account over e-mail (front-door contract, section 3): verifying the
//! address, forgotten passwords, e-mail change and deleting one's account.

use axum::Json;
use axum::extract::{FromRequestParts as _, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;

use crate::cookies::clear_session_cookies;
use crate::dto::{
    AcceptedBody, DeleteMeRequest, EmailChangeRequest, ForgotPasswordRequest, ResetPasswordRequest,
    UserBody, VerifyEmailRequest,
};
use crate::extract::{ApiJson, Authenticated, Client, Credential, presented_token};
use crate::openapi::{
    Conflict, Forbidden, JsonBodyErrors, TooManyRequests, Unauthorized, Unavailable, Unprocessable,
};
use crate::problem::ApiError;
use crate::routes::accounts::RequestParts;
use crate::state::AppState;
use warden_core::UserId;

fn accepted(detail: &'static str) -> Response {
    (StatusCode::ACCEPTED, Json(AcceptedBody { detail })).into_response()
}

/// Mail the caller a new verification link.
#[utoipa::path(post, path = "/v1/email/verify/send", tag = "email", security(("bearer" = [])),
    responses((status = 202, body = AcceptedBody), Unauthorized, Forbidden, Conflict, TooManyRequests, Unavailable))]
pub async fn send_verification(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
) -> Result<Response, ApiError> {
    state.auth.send_verification(&who.principal, &ctx).await?;
    Ok(accepted(
        "a verification link is on its way to the account's address",
    ))
}

/// The account a bearer token names, when one is presented: a link
/// followed by a signed-in caller must be their own. A presented token that
/// is not valid is refused, never taken as anonymous. The access cookie is
/// not consulted: a browser following a mailed link acts by the link alone.
async fn bearer_caller(parts: &mut Parts, state: &AppState) -> Result<Option<UserId>, ApiError> {
    match presented_token(parts)? {
        Some((_, Credential::Bearer)) => {
            let who = Authenticated::from_request_parts(parts, state).await?;
            Ok(Some(who.principal.user_id))
        }
        _ => Ok(None),
    }
}

/// Follow a verification or e-mail change link (the `token` of its URL).
#[utoipa::path(post, path = "/v1/email/verify", tag = "email", request_body = VerifyEmailRequest, security((), ("bearer" = [])),
    responses((status = 200, body = UserBody), JsonBodyErrors, Unauthorized, Conflict, Unavailable))]
pub async fn verify_email(
    State(state): State<AppState>,
    Client(ctx): Client,
    RequestParts(mut parts): RequestParts,
    ApiJson(body): ApiJson<VerifyEmailRequest>,
) -> Result<Json<UserBody>, ApiError> {
    let caller = bearer_caller(&mut parts, &state).await?;
    let user = state.auth.verify_email(&body.token, caller, &ctx).await?;
    Ok(Json(UserBody::from(&user)))
}

/// Ask for a password-reset link. The answer is the same whether or not
/// the address has an account.
#[utoipa::path(post, path = "/v1/password/forgot", tag = "password", request_body = ForgotPasswordRequest,
    responses((status = 202, body = AcceptedBody), JsonBodyErrors, TooManyRequests, Unavailable))]
pub async fn forgot_password(
    State(state): State<AppState>,
    Client(ctx): Client,
    ApiJson(body): ApiJson<ForgotPasswordRequest>,
) -> Result<Response, ApiError> {
    state.auth.forgot_password(&body.email, &ctx).await?;
    Ok(accepted(
        "if an account uses this address, a reset link is on its way to it",
    ))
}

/// Choose a new password with a reset link; every session of the account ends.
#[utoipa::path(post, path = "/v1/password/reset", tag = "password", request_body = ResetPasswordRequest, security((), ("bearer" = [])),
    responses((status = 204), JsonBodyErrors, Unauthorized, Unprocessable, Unavailable))]
pub async fn reset_password(
    State(state): State<AppState>,
    Client(ctx): Client,
    RequestParts(mut parts): RequestParts,
    ApiJson(body): ApiJson<ResetPasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let caller = bearer_caller(&mut parts, &state).await?;
    state
        .auth
        .reset_password(&body.token, &body.new_password, caller, &ctx)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Move the account to a new address: a link goes there, and the change
/// happens when it is followed.
#[utoipa::path(post, path = "/v1/email/change", tag = "email", security(("bearer" = [])), request_body = EmailChangeRequest,
    responses((status = 202, body = AcceptedBody), JsonBodyErrors, Unauthorized, Forbidden, Conflict, TooManyRequests, Unavailable))]
pub async fn change_email(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
    ApiJson(body): ApiJson<EmailChangeRequest>,
) -> Result<Response, ApiError> {
    state
        .auth
        .request_email_change(
            &who.principal,
            &body.new_email,
            body.current_password.as_deref(),
            &ctx,
        )
        .await?;
    Ok(accepted(
        "a link is on its way to the new address; the change happens when it is followed",
    ))
}

/// Delete the caller's account and every session of it.
#[utoipa::path(delete, path = "/v1/me", tag = "accounts", security(("bearer" = [])), request_body = DeleteMeRequest,
    responses((status = 204), JsonBodyErrors, Unauthorized, Forbidden, Unavailable))]
pub async fn delete_me(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
    jar: CookieJar,
    ApiJson(body): ApiJson<DeleteMeRequest>,
) -> Result<Response, ApiError> {
    state
        .auth
        .delete_me(&who.principal, body.current_password.as_deref(), &ctx)
        .await?;
    let refresh_path = crate::cookies::refresh_path(&state.auth.settings().issuer);
    Ok((
        StatusCode::NO_CONTENT,
        clear_session_cookies(jar, &refresh_path),
    )
        .into_response())
}
