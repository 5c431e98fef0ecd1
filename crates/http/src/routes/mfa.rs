//! Second factors: the second step of a sign-in, the authenticator app
//! (TOTP) and recovery codes, and an admin's reset of a user's factors.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use warden_core::SecondFactor;

use super::accounts::{RequestParts, counted_sign_in, token_response};
use super::no_store;
use crate::dto::{
    CookieMode, MfaCodeRequest, RecoveryCodesBody, SigninMfaRequest, TokensBody, TotpRemoveRequest,
    TotpStartRequest, TotpStartResponse,
};
use crate::extract::{AdminUser, ApiJson, ApiQuery, Authenticated, Client, OptionalJson};
use crate::openapi::{
    AdminErrors, BadRequest, Conflict, Forbidden, JsonBodyErrors, NotFound, TooManyRequests,
    Unauthorized, Unavailable,
};
use crate::problem::ApiError;
use crate::state::AppState;

/// Exactly one of the two codes, else 400 naming the fields.
fn one_factor<'a>(
    totp: Option<&'a str>,
    recovery: Option<&'a str>,
    totp_field: &str,
) -> Result<SecondFactor<'a>, ApiError> {
    match (totp, recovery) {
        (Some(code), None) => Ok(SecondFactor::Totp(code)),
        (None, Some(code)) => Ok(SecondFactor::RecoveryCode(code)),
        _ => Err(ApiError::invalid_request(format!(
            "give exactly one of `{totp_field}` and `recovery_code`"
        ))),
    }
}

/// The second step of a sign-in: the `mfa_token` of `mfa_required` and a
/// code, or a passkey's answer to the options made for the token. Wrong codes count toward the account's lockout; five void the
/// token.
#[utoipa::path(post, path = "/v1/signin/mfa", tag = "mfa", params(CookieMode), request_body = SigninMfaRequest,
    responses((status = 200, body = TokensBody), JsonBodyErrors, Unauthorized, Forbidden, TooManyRequests, Unavailable))]
pub async fn signin_mfa(
    State(state): State<AppState>,
    ApiQuery(mode): ApiQuery<CookieMode>,
    Client(ctx): Client,
    RequestParts(parts): RequestParts,
    jar: CookieJar,
    ApiJson(body): ApiJson<SigninMfaRequest>,
) -> Result<Response, ApiError> {
    if mode.cookie {
        super::accounts::check_cookie_mode(&parts, &state)?;
    }
    let factor = match (&body.webauthn, &body.totp_code, &body.recovery_code) {
        (Some(answer), None, None) => SecondFactor::Passkey(answer),
        (Some(_), _, _) => {
            return Err(ApiError::invalid_request(
                "give exactly one of `totp_code`, `recovery_code` and `webauthn`",
            ));
        }
        (None, totp, recovery) => one_factor(totp.as_deref(), recovery.as_deref(), "totp_code")?,
    };
    let result = state.auth.sign_in_mfa(&body.mfa_token, factor, &ctx).await;
    let tokens = counted_sign_in(&state, result)?;
    Ok(token_response(&state, jar, &tokens, mode.cookie))
}

/// Start setting up an authenticator app: a new secret and its QR code,
/// pending until confirmed with a first code. Needs a sign-in within the
/// last 5 minutes or `current_password`.
#[utoipa::path(post, path = "/v1/mfa/totp", tag = "mfa", security(("bearer" = [])), request_body = Option<TotpStartRequest>,
    responses((status = 200, body = TotpStartResponse), JsonBodyErrors, Unauthorized, Forbidden, Conflict, Unavailable))]
pub async fn start_totp(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
    OptionalJson(body): OptionalJson<TotpStartRequest>,
) -> Result<Response, ApiError> {
    let body = body.unwrap_or_default();
    let enrolment = state
        .auth
        .start_totp(&who.principal, body.current_password.as_deref(), &ctx)
        .await?;
    let body = TotpStartResponse {
        secret: enrolment.secret,
        otpauth_uri: enrolment.otpauth_uri,
        qr_svg: enrolment.qr_svg,
    };
    Ok((no_store(), Json(body)).into_response())
}

/// Confirm the pending authenticator app with its first code; answers the
/// ten recovery codes, shown this once.
#[utoipa::path(post, path = "/v1/mfa/totp/confirm", tag = "mfa", security(("bearer" = [])), request_body = MfaCodeRequest,
    responses((status = 200, body = RecoveryCodesBody), JsonBodyErrors, Unauthorized, Forbidden, NotFound, TooManyRequests, Unavailable))]
pub async fn confirm_totp(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
    ApiJson(body): ApiJson<MfaCodeRequest>,
) -> Result<Response, ApiError> {
    let codes = state
        .auth
        .confirm_totp(&who.principal, &body.code, &ctx)
        .await?;
    Ok(shown_once(codes))
}

/// Remove the authenticator app and the recovery codes, given a code of
/// either; needs a sign-in within the last 5 minutes or `current_password`.
#[utoipa::path(delete, path = "/v1/mfa/totp", tag = "mfa", security(("bearer" = [])), request_body = TotpRemoveRequest,
    responses((status = 204), JsonBodyErrors, Unauthorized, Forbidden, NotFound, TooManyRequests, Unavailable))]
pub async fn remove_totp(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
    ApiJson(body): ApiJson<TotpRemoveRequest>,
) -> Result<StatusCode, ApiError> {
    let factor = one_factor(body.code.as_deref(), body.recovery_code.as_deref(), "code")?;
    state
        .auth
        .remove_totp(
            &who.principal,
            factor,
            body.current_password.as_deref(),
            &ctx,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new set of recovery codes (the old set stops working), given a code
/// from the authenticator app.
#[utoipa::path(post, path = "/v1/mfa/recovery-codes", tag = "mfa", security(("bearer" = [])), request_body = MfaCodeRequest,
    responses((status = 200, body = RecoveryCodesBody), JsonBodyErrors, Unauthorized, Forbidden, NotFound, TooManyRequests, Unavailable))]
pub async fn recovery_codes(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
    ApiJson(body): ApiJson<MfaCodeRequest>,
) -> Result<Response, ApiError> {
    let codes = state
        .auth
        .regenerate_recovery_codes(&who.principal, &body.code, &ctx)
        .await?;
    Ok(shown_once(codes))
}

/// Remove every second factor of a user (a lost phone) and end their
/// sessions; they are told by mail.
#[utoipa::path(delete, path = "/v1/admin/users/{id}/mfa", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "User id")),
    responses((status = 204), BadRequest, AdminErrors, NotFound, Unavailable))]
pub async fn admin_reset(
    State(state): State<AppState>,
    admin: AdminUser,
    Client(ctx): Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let target = id
        .parse()
        .map_err(|_| ApiError::not_found("user not found"))?;
    state
        .auth
        .admin_reset_mfa(admin.user.id, target, &ctx)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Recovery codes, which the answer shows this once: never cached.
fn shown_once(recovery_codes: Vec<String>) -> Response {
    (no_store(), Json(RecoveryCodesBody { recovery_codes })).into_response()
}
