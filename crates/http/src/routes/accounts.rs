//! Accounts: sign up, sign in, refresh, sign out, the caller's sessions and password.

use axum::Json;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use warden_core::{CoreError, SessionId};

use crate::cookies::{REFRESH_COOKIE, clear_session_cookies, set_session_cookies};
use crate::dto::{
    CookieMode, PasswordRequest, RefreshRequest, SessionBody, SessionsBody, SigninRequest,
    SignupRequest, SignupResponse, TokensBody, UserBody,
};
use crate::extract::{
    ApiJson, ApiQuery, Authenticated, Client, OptionalJson, check_csrf, presented_token,
};
use crate::openapi::{
    Conflict, Forbidden, JsonBodyErrors, NotFound, TooManyRequests, Unauthorized, Unavailable,
    Unprocessable,
};
use crate::problem::ApiError;
use crate::state::AppState;

/// Sign-in CSRF: a cookie-mode sign-in must come from an allowed page.
struct CookieModeGuard;

impl CookieModeGuard {
    fn check(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        if header("sec-fetch-site") == Some("cross-site") {
            return Err(ApiError::csrf_failed("cross-site request refused"));
        }
        match header("origin") {
            Some(origin) if !state.config.allowed_origins.iter().any(|o| o == origin) => {
                Err(ApiError::csrf_failed("the request's Origin is not allowed"))
            }
            _ => Ok(()),
        }
    }
}

/// A cookie-mode sign-in must come from an allowed page.
pub(crate) fn check_cookie_mode(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
    CookieModeGuard::check(parts, state)
}

/// The request parts, for checks that need headers alongside a body extractor.
pub struct RequestParts(pub Parts);

impl<S: Send + Sync> FromRequestParts<S> for RequestParts {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestParts(parts.clone()))
    }
}

fn session_max_age(state: &AppState) -> i64 {
    state.auth.settings().session_ttl.num_seconds()
}

fn refresh_path(state: &AppState) -> String {
    crate::cookies::refresh_path(&state.auth.settings().issuer)
}

/// Create an account and sign it in.
#[utoipa::path(post, path = "/v1/signup", tag = "accounts", params(CookieMode), request_body = SignupRequest,
    responses((status = 201, body = SignupResponse), JsonBodyErrors, Forbidden, Conflict, Unprocessable, Unavailable))]
pub async fn signup(
    State(state): State<AppState>,
    ApiQuery(mode): ApiQuery<CookieMode>,
    Client(ctx): Client,
    RequestParts(parts): RequestParts,
    jar: CookieJar,
    ApiJson(body): ApiJson<SignupRequest>,
) -> Result<Response, ApiError> {
    if mode.cookie {
        CookieModeGuard::check(&parts, &state)?;
    }
    let (user, tokens) = state
        .auth
        .sign_up(&body.email, &body.password, body.username.as_deref(), &ctx)
        .await?;
    let response = SignupResponse {
        user: UserBody::from(&user),
        tokens: tokens.as_ref().map(|t| TokensBody::new(t, mode.cookie)),
    };
    match tokens {
        Some(tokens) if mode.cookie => {
            let jar =
                set_session_cookies(jar, &tokens, session_max_age(&state), &refresh_path(&state));
            Ok((StatusCode::CREATED, jar, no_store(), Json(response)).into_response())
        }
        _ => Ok((StatusCode::CREATED, no_store(), Json(response)).into_response()),
    }
}

/// Sign in with e-mail and password.
#[utoipa::path(post, path = "/v1/signin", tag = "accounts", params(CookieMode), request_body = SigninRequest,
    responses((status = 200, body = TokensBody), JsonBodyErrors, Unauthorized, Forbidden, TooManyRequests, Unavailable))]
pub async fn signin(
    State(state): State<AppState>,
    ApiQuery(mode): ApiQuery<CookieMode>,
    Client(ctx): Client,
    RequestParts(parts): RequestParts,
    jar: CookieJar,
    ApiJson(body): ApiJson<SigninRequest>,
) -> Result<Response, ApiError> {
    if mode.cookie {
        check_cookie_mode(&parts, &state)?;
    }
    let result = state.auth.sign_in(&body.email, &body.password, &ctx).await;
    let tokens = counted_sign_in(&state, result)?;
    Ok(token_response(&state, jar, &tokens, mode.cookie))
}

/// A sign-in step's outcome, counted in `warden_signins_total`.
pub(crate) fn counted_sign_in(
    state: &AppState,
    result: Result<warden_core::IssuedTokens, CoreError>,
) -> Result<warden_core::IssuedTokens, ApiError> {
    match result {
        Ok(tokens) => {
            state.metrics.record_signin("success");
            Ok(tokens)
        }
        Err(err) => {
            let err = ApiError::from(err);
            state.metrics.record_signin(err.code());
            Err(err)
        }
    }
}

/// Exchange a refresh token for a new pair (rotation).
#[utoipa::path(post, path = "/v1/token/refresh", tag = "accounts", params(CookieMode), request_body = Option<RefreshRequest>,
    responses((status = 200, body = TokensBody), JsonBodyErrors, Unauthorized, Forbidden, Unavailable))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiQuery(mode): ApiQuery<CookieMode>,
    Client(ctx): Client,
    RequestParts(parts): RequestParts,
    jar: CookieJar,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    let from_body = body.and_then(|b| b.refresh_token);
    let (token, in_cookies) = match from_body {
        Some(token) => (token, mode.cookie),
        None => {
            let cookie = jar
                .get(REFRESH_COOKIE)
                .map(|c| c.value().to_owned())
                .ok_or(CoreError::InvalidRefreshToken)?;
            check_csrf(&parts, &state)?;
            (cookie, true)
        }
    };
    let tokens = state.auth.refresh(&token, &ctx).await?;
    Ok(token_response(&state, jar, &tokens, in_cookies))
}

pub(crate) fn token_response(
    state: &AppState,
    jar: CookieJar,
    tokens: &warden_core::IssuedTokens,
    in_cookies: bool,
) -> Response {
    let body = Json(TokensBody::new(tokens, in_cookies));
    if in_cookies {
        let jar = set_session_cookies(jar, tokens, session_max_age(state), &refresh_path(state));
        (jar, no_store(), body).into_response()
    } else {
        (no_store(), body).into_response()
    }
}

fn no_store() -> [(axum::http::HeaderName, &'static str); 1] {
    [(axum::http::header::CACHE_CONTROL, "no-store")]
}

/// End the current session (bearer, access cookie, or `{refresh_token}`).
#[utoipa::path(post, path = "/v1/signout", tag = "accounts", request_body = Option<RefreshRequest>, security((), ("bearer" = [])),
    responses((status = 204), JsonBodyErrors, Unauthorized, Forbidden, Unavailable))]
pub async fn signout(
    State(state): State<AppState>,
    Client(ctx): Client,
    RequestParts(mut parts): RequestParts,
    jar: CookieJar,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    if presented_token(&parts)?.is_some() {
        let who = Authenticated::from_request_parts(&mut parts, &state).await?;
        state.auth.sign_out(&who.principal, &ctx).await?;
    } else if let Some(token) = body.and_then(|b| b.refresh_token) {
        state.auth.sign_out_with_refresh(&token, &ctx).await?;
    } else {
        return Err(ApiError::missing_token(
            "send a bearer access token or {\"refresh_token\": ...}",
        ));
    }
    Ok((
        StatusCode::NO_CONTENT,
        clear_session_cookies(jar, &refresh_path(&state)),
    )
        .into_response())
}

/// End the session of a refresh token (body or refresh cookie). Browsers use
/// this once the access cookie has expired: the refresh cookie is only sent
/// to `/v1/token`.
#[utoipa::path(post, path = "/v1/token/revoke", tag = "accounts", request_body = Option<RefreshRequest>,
    responses((status = 204), JsonBodyErrors, Unauthorized, Forbidden, Unavailable))]
pub async fn revoke_refresh(
    State(state): State<AppState>,
    Client(ctx): Client,
    RequestParts(parts): RequestParts,
    jar: CookieJar,
    OptionalJson(body): OptionalJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    let token = match body.and_then(|b| b.refresh_token) {
        Some(token) => token,
        None => {
            let cookie = jar
                .get(REFRESH_COOKIE)
                .map(|c| c.value().to_owned())
                .ok_or(CoreError::InvalidRefreshToken)?;
            check_csrf(&parts, &state)?;
            cookie
        }
    };
    state.auth.sign_out_with_refresh(&token, &ctx).await?;
    Ok((
        StatusCode::NO_CONTENT,
        clear_session_cookies(jar, &refresh_path(&state)),
    )
        .into_response())
}

/// End every session of the caller.
#[utoipa::path(post, path = "/v1/signout/all", tag = "accounts", security(("bearer" = [])),
    responses((status = 204), Unauthorized, Forbidden, Unavailable))]
pub async fn signout_all(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
    jar: CookieJar,
) -> Result<Response, ApiError> {
    state.auth.sign_out_everywhere(&who.principal, &ctx).await?;
    Ok((
        StatusCode::NO_CONTENT,
        clear_session_cookies(jar, &refresh_path(&state)),
    )
        .into_response())
}

/// The caller's account.
#[utoipa::path(get, path = "/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = UserBody), Unauthorized, Unavailable))]
pub async fn me(
    State(state): State<AppState>,
    who: Authenticated,
) -> Result<Json<UserBody>, ApiError> {
    let user = state.auth.me(&who.principal).await?;
    let mut body = UserBody::from(&user);
    body.mfa = Some(state.auth.mfa_status(&user).await?.into());
    Ok(Json(body))
}

/// The caller's live sessions.
#[utoipa::path(get, path = "/v1/sessions", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = SessionsBody), Unauthorized, Unavailable))]
pub async fn sessions(
    State(state): State<AppState>,
    who: Authenticated,
) -> Result<Json<SessionsBody>, ApiError> {
    let sessions = state.auth.my_sessions(&who.principal).await?;
    Ok(Json(SessionsBody {
        sessions: sessions.iter().map(SessionBody::from).collect(),
    }))
}

/// Revoke one of the caller's sessions.
#[utoipa::path(delete, path = "/v1/sessions/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses((status = 204), Unauthorized, Forbidden, NotFound, Unavailable))]
pub async fn delete_session(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: SessionId = id
        .parse()
        .map_err(|_| ApiError::not_found("session not found"))?;
    state
        .auth
        .revoke_my_session(&who.principal, id, &ctx)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password; the caller's other sessions are revoked.
#[utoipa::path(post, path = "/v1/password", tag = "accounts", security(("bearer" = [])), request_body = PasswordRequest,
    responses((status = 204), JsonBodyErrors, Unauthorized, Forbidden, Unprocessable, Unavailable))]
pub async fn change_password(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
    ApiJson(body): ApiJson<PasswordRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .auth
        .change_password(
            &who.principal,
            &body.current_password,
            &body.new_password,
            &ctx,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
