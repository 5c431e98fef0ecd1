//! Passkeys: registration, the caller's list, removal, and the
//! password-less sign-in. The second step with a passkey is
//! `POST /v1/signin/mfa` with `webauthn` (routes/mfa.rs).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use warden_core::PasskeyId;
use warden_core::passkeys::StoredPasskey;

use super::accounts::{RequestParts, counted_sign_in, token_response};
use super::no_store;
use crate::dto::{CookieMode, TokensBody};
use crate::extract::{ApiJson, ApiQuery, Authenticated, Client, OptionalJson};
use crate::openapi::{
    BadRequest, Conflict, Forbidden, JsonBodyErrors, NotFound, TooManyRequests, Unauthorized,
    Unavailable,
};
use crate::problem::ApiError;
use crate::state::AppState;

/// `POST /v1/webauthn/register/options` and `DELETE /v1/me/passkeys/{id}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyReauthRequest {
    /// Needed unless the caller signed in within the last 5 minutes.
    pub current_password: Option<String>,
}

/// `POST /v1/webauthn/register`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRegisterRequest {
    /// The `PublicKeyCredential` of `navigator.credentials.create()`, as
    /// JSON (WebAuthn Level 3 `toJSON()`, binary fields base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// A name to tell it apart ("Phone", "YubiKey"); default "Passkey".
    pub name: Option<String>,
}

/// A registered passkey.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyBody {
    /// Warden's id for it.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Synced between devices (backup-eligible), rather than bound to one.
    pub synced: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last signed in.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&StoredPasskey> for PasskeyBody {
    fn from(p: &StoredPasskey) -> Self {
        Self {
            id: p.id.to_string(),
            name: p.name.clone(),
            synced: p.synced,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

/// `201` of `POST /v1/webauthn/register`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeyCreatedBody {
    /// The new passkey.
    #[serde(flatten)]
    pub passkey: PasskeyBody,
    /// Ten recovery codes, present when this passkey is the account's first
    /// second factor; shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_codes: Option<Vec<String>>,
}

/// `200` of `GET /v1/me/passkeys`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeysBody {
    /// Oldest first.
    pub passkeys: Vec<PasskeyBody>,
}

/// `POST /v1/webauthn/signin/options`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeySigninOptionsRequest {
    /// Accepted for clients that send it, never used to list an account's
    /// passkeys (that would tell who has an account): every passkey Warden
    /// registers is discoverable.
    pub email: Option<String>,
    /// The `mfa_token` of an `mfa_required` answer: options for the second
    /// step with one of that account's passkeys.
    pub mfa_token: Option<String>,
}

/// `200` of `POST /v1/webauthn/signin/options`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PasskeySigninOptionsBody {
    /// What `navigator.credentials.get()` takes, binary fields base64url.
    #[serde(rename = "publicKey")]
    #[schema(value_type = Object)]
    pub public_key: serde_json::Value,
    /// Send it back with the answer to `POST /v1/webauthn/signin` (absent
    /// for the second step, which answers with its `mfa_token`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge_id: Option<String>,
}

/// `POST /v1/webauthn/signin`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeySigninRequest {
    /// The `challenge_id` of the options.
    pub challenge_id: String,
    /// The `PublicKeyCredential` of `navigator.credentials.get()`, as JSON.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// Start registering a passkey: creation options for
/// `navigator.credentials.create()` (a discoverable credential, user
/// verification required). Needs a sign-in within the last 5 minutes or
/// `current_password`.
#[utoipa::path(post, path = "/v1/webauthn/register/options", tag = "passkeys", security(("bearer" = [])),
    request_body = Option<PasskeyReauthRequest>,
    responses((status = 200, description = "PublicKeyCredentialCreationOptions as JSON, under `publicKey`", body = Object),
        JsonBodyErrors, Unauthorized, Forbidden, TooManyRequests, Unavailable))]
pub async fn register_options(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
    OptionalJson(body): OptionalJson<PasskeyReauthRequest>,
) -> Result<Response, ApiError> {
    let body = body.unwrap_or_default();
    let options = state
        .auth
        .passkey_registration_options(&who.principal, body.current_password.as_deref(), &ctx)
        .await?;
    Ok((no_store(), Json(options)).into_response())
}

/// Finish registering a passkey with the browser's answer. The account's
/// first second factor comes with ten recovery codes, shown this once.
#[utoipa::path(post, path = "/v1/webauthn/register", tag = "passkeys", security(("bearer" = [])),
    request_body = PasskeyRegisterRequest,
    responses((status = 201, body = PasskeyCreatedBody), JsonBodyErrors, Unauthorized, Forbidden, Unavailable))]
pub async fn register(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
    ApiJson(body): ApiJson<PasskeyRegisterRequest>,
) -> Result<Response, ApiError> {
    let registered = state
        .auth
        .register_passkey(&who.principal, &body.credential, body.name.as_deref(), &ctx)
        .await?;
    let body = PasskeyCreatedBody {
        passkey: PasskeyBody::from(&registered.passkey),
        recovery_codes: registered.recovery_codes,
    };
    Ok((StatusCode::CREATED, no_store(), Json(body)).into_response())
}

/// The caller's passkeys.
#[utoipa::path(get, path = "/v1/me/passkeys", tag = "passkeys", security(("bearer" = [])),
    responses((status = 200, body = PasskeysBody), Unauthorized, Forbidden, Unavailable))]
pub async fn list(
    State(state): State<AppState>,
    who: Authenticated,
) -> Result<Json<PasskeysBody>, ApiError> {
    let passkeys = state.auth.passkeys(&who.principal).await?;
    Ok(Json(PasskeysBody {
        passkeys: passkeys.iter().map(PasskeyBody::from).collect(),
    }))
}

/// Remove one of the caller's passkeys; never the account's last way to
/// sign in. Needs a sign-in within the last 5 minutes or
/// `current_password`.
#[utoipa::path(delete, path = "/v1/me/passkeys/{id}", tag = "passkeys", security(("bearer" = [])),
    params(("id" = String, Path, description = "the passkey's id")),
    request_body = Option<PasskeyReauthRequest>,
    responses((status = 204), BadRequest, JsonBodyErrors, Unauthorized, Forbidden, NotFound, Conflict, TooManyRequests, Unavailable))]
pub async fn delete(
    State(state): State<AppState>,
    Client(ctx): Client,
    who: Authenticated,
    Path(id): Path<String>,
    OptionalJson(body): OptionalJson<PasskeyReauthRequest>,
) -> Result<StatusCode, ApiError> {
    let id: PasskeyId = id
        .parse()
        .map_err(|_| ApiError::invalid_request("id must be a UUID"))?;
    let body = body.unwrap_or_default();
    state
        .auth
        .delete_passkey(&who.principal, id, body.current_password.as_deref(), &ctx)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Options for signing in with a passkey: without `mfa_token`, a
/// password-less sign-in with any passkey of this site (answer at
/// `POST /v1/webauthn/signin` with the `challenge_id`); with one, the
/// second step (answer at `POST /v1/signin/mfa` with `webauthn`).
#[utoipa::path(post, path = "/v1/webauthn/signin/options", tag = "passkeys",
    request_body = Option<PasskeySigninOptionsRequest>,
    responses((status = 200, body = PasskeySigninOptionsBody), JsonBodyErrors, Unauthorized, NotFound, TooManyRequests, Unavailable))]
pub async fn signin_options(
    State(state): State<AppState>,
    Client(ctx): Client,
    OptionalJson(body): OptionalJson<PasskeySigninOptionsRequest>,
) -> Result<Response, ApiError> {
    let body = body.unwrap_or_default();
    let options = state
        .auth
        .passkey_sign_in_options(body.mfa_token.as_deref(), &ctx)
        .await?;
    let public_key = options
        .options
        .get("publicKey")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    let body = PasskeySigninOptionsBody {
        public_key,
        challenge_id: options.challenge_id,
    };
    Ok((no_store(), Json(body)).into_response())
}

/// Sign in with a passkey, without a password: the answer to the options
/// of `challenge_id`. The passkey verified its holder, so the session has
/// two factors (`acr` `aal2`).
#[utoipa::path(post, path = "/v1/webauthn/signin", tag = "passkeys", params(CookieMode),
    request_body = PasskeySigninRequest,
    responses((status = 200, body = TokensBody), JsonBodyErrors, Unauthorized, Forbidden, TooManyRequests, Unavailable))]
pub async fn signin(
    State(state): State<AppState>,
    ApiQuery(mode): ApiQuery<CookieMode>,
    Client(ctx): Client,
    RequestParts(parts): RequestParts,
    jar: CookieJar,
    ApiJson(body): ApiJson<PasskeySigninRequest>,
) -> Result<Response, ApiError> {
    if mode.cookie {
        super::accounts::check_cookie_mode(&parts, &state)?;
    }
    let result = state
        .auth
        .sign_in_with_passkey(&body.challenge_id, &body.credential, &ctx)
        .await;
    let tokens = counted_sign_in(&state, result)?;
    Ok(token_response(&state, jar, &tokens, mode.cookie))
}
