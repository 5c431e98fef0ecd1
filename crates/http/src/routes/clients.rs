//! The admin API for the OAuth clients Warden serves as a provider
//! (front-door contract, section 7). Every handler takes an `AdminUser`; a
//! client secret is in an answer only when it was just made (registration,
//! rotation), and such answers are never cached.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warden_core::clients::{
    Algorithm, ClientKind, ClientSecret, ClientSettings, GrantType, OAuthClient, RedirectUri, Scope,
};

use super::no_store;
use crate::extract::{AdminUser, ApiJson, ApiQuery, Client};
use crate::openapi::{AdminErrors, BadRequest, JsonBodyErrors, NotFound, Unavailable};
use crate::problem::ApiError;
use crate::state::AppState;

/// Whether a client can keep a secret (RFC 6749 section 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// A browser or native app: no secret, PKCE instead.
    Public,
    /// A server-side app holding a `wcs_` secret.
    Confidential,
}

impl From<ClientType> for ClientKind {
    fn from(kind: ClientType) -> Self {
        match kind {
            ClientType::Public => ClientKind::Public,
            ClientType::Confidential => ClientKind::Confidential,
        }
    }
}

impl From<ClientKind> for ClientType {
    fn from(kind: ClientKind) -> Self {
        match kind {
            ClientKind::Public => ClientType::Public,
            ClientKind::Confidential => ClientType::Confidential,
        }
    }
}

/// A grant a client may use at `/oauth2/token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantName {
    /// A user signs in at `/oauth2/authorize`.
    AuthorizationCode,
    /// Rotation of tokens the code flow issued (needs `authorization_code`).
    RefreshToken,
    /// The client acts for itself (confidential clients only).
    ClientCredentials,
}

impl From<GrantName> for GrantType {
    fn from(grant: GrantName) -> Self {
        match grant {
            GrantName::AuthorizationCode => GrantType::AuthorizationCode,
            GrantName::RefreshToken => GrantType::RefreshToken,
            GrantName::ClientCredentials => GrantType::ClientCredentials,
        }
    }
}

impl From<GrantType> for GrantName {
    fn from(grant: GrantType) -> Self {
        match grant {
            GrantType::AuthorizationCode => GrantName::AuthorizationCode,
            GrantType::RefreshToken => GrantName::RefreshToken,
            GrantType::ClientCredentials => GrantName::ClientCredentials,
        }
    }
}

/// How a client's ID tokens are signed (its `id_token_signed_response_alg`,
/// OpenID Connect Dynamic Client Registration section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum IdTokenAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256: the default, which every OpenID
    /// Connect client supports.
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl From<IdTokenAlg> for Algorithm {
    fn from(alg: IdTokenAlg) -> Self {
        match alg {
            IdTokenAlg::RS256 => Algorithm::RS256,
            IdTokenAlg::ES256 => Algorithm::ES256,
            IdTokenAlg::EdDSA => Algorithm::EdDSA,
        }
    }
}

impl From<Algorithm> for IdTokenAlg {
    fn from(alg: Algorithm) -> Self {
        match alg {
            Algorithm::RS256 => IdTokenAlg::RS256,
            Algorithm::ES256 => IdTokenAlg::ES256,
            Algorithm::EdDSA => IdTokenAlg::EdDSA,
        }
    }
}

/// `POST /v1/admin/clients` and `PUT /v1/admin/clients/{id}`: the client's
/// settings (a `PUT` replaces them all: what it leaves out takes its
/// default).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientRequest {
    /// `public` or `confidential`: required to register, fixed for the
    /// client's life (not accepted by `PUT`).
    #[serde(rename = "type")]
    pub kind: Option<ClientType>,
    /// Shown on the consent page and in the admin console (1-100 characters).
    pub name: String,
    /// Where `/oauth2/authorize` may send the browser back to: absolute,
    /// `https` (or `http` on a loopback host), no fragment; matched exactly.
    /// At least one with `authorization_code`; at most 20.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Where `/oauth2/logout` may send the browser back to; at most 20.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// The grants it may use; default `["authorization_code"]`.
    pub grant_types: Option<Vec<GrantName>>,
    /// The scopes it may ask for (`openid`, `tickets:read`, ...); at most 50.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Operated by whoever runs Warden: no consent page. Default false.
    #[serde(default)]
    pub first_party: bool,
    /// Default `RS256`.
    pub id_token_signed_response_alg: Option<IdTokenAlg>,
}

impl ClientRequest {
    fn settings(self) -> ClientSettings {
        let defaults = ClientSettings::default();
        ClientSettings {
            name: self.name,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types: self.grant_types.map_or(defaults.grant_types, |grants| {
                grants.into_iter().map(GrantType::from).collect()
            }),
            scopes: self.scopes,
            first_party: self.first_party,
            id_token_alg: self
                .id_token_signed_response_alg
                .map_or(defaults.id_token_alg, Algorithm::from),
        }
    }
}

/// A registered client; never its secret or the secret's hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientBody {
    /// Its `client_id`.
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// Public or confidential.
    #[serde(rename = "type")]
    pub kind: ClientType,
    /// Where `/oauth2/authorize` may send the browser back to.
    pub redirect_uris: Vec<String>,
    /// Where `/oauth2/logout` may send the browser back to.
    pub post_logout_redirect_uris: Vec<String>,
    /// The grants it may use.
    pub grant_types: Vec<GrantName>,
    /// The scopes it may ask for.
    pub scopes: Vec<String>,
    /// Operated by whoever runs Warden: no consent page.
    pub first_party: bool,
    /// How its ID tokens are signed.
    pub id_token_signed_response_alg: IdTokenAlg,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When its settings last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<&OAuthClient> for ClientBody {
    fn from(c: &OAuthClient) -> Self {
        Self {
            client_id: c.id.to_string(),
            name: c.name.clone(),
            kind: c.kind.into(),
            redirect_uris: c.redirect_uris.iter().map(uri).collect(),
            post_logout_redirect_uris: c.post_logout_redirect_uris.iter().map(uri).collect(),
            grant_types: c.grant_types.iter().map(|&g| g.into()).collect(),
            scopes: c
                .scopes
                .iter()
                .map(|s: &Scope| s.as_str().to_owned())
                .collect(),
            first_party: c.first_party,
            id_token_signed_response_alg: c.id_token_alg.into(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

fn uri(uri: &RedirectUri) -> String {
    uri.as_str().to_owned()
}

/// `201` of `POST /v1/admin/clients` and `200` of
/// `POST /v1/admin/clients/{id}/secret`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientWithSecretBody {
    /// The client.
    #[serde(flatten)]
    pub client: ClientBody,
    /// The `wcs_` secret of a confidential client, shown this once: only its
    /// hash is kept. Absent for a public client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// `GET /v1/admin/clients`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientsPage {
    /// This page, ordered by `client_id`.
    pub clients: Vec<ClientBody>,
    /// Cursor of the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Query of `GET /v1/admin/clients`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ClientsQuery {
    /// 1-100, default 50.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A client and its new secret, which the answer shows this once: never
/// cached.
fn shown_once(status: StatusCode, client: &OAuthClient, secret: Option<ClientSecret>) -> Response {
    let body = ClientWithSecretBody {
        client: ClientBody::from(client),
        client_secret: secret.map(|s| s.expose().to_owned()),
    };
    (status, no_store(), Json(body)).into_response()
}

/// Page through the OAuth clients.
#[utoipa::path(get, path = "/v1/admin/clients", tag = "admin", params(ClientsQuery), security(("bearer" = [])),
    responses((status = 200, body = ClientsPage), BadRequest, AdminErrors, Unavailable))]
pub async fn list_clients(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiQuery(query): ApiQuery<ClientsQuery>,
) -> Result<Json<ClientsPage>, ApiError> {
    let page = state
        .auth
        .clients()
        .list(query.cursor.as_deref(), query.limit)
        .await?;
    Ok(Json(ClientsPage {
        clients: page.items.iter().map(ClientBody::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Register an OAuth client; a confidential one's secret is in the answer,
/// and nowhere else, ever.
#[utoipa::path(post, path = "/v1/admin/clients", tag = "admin", security(("bearer" = [])), request_body = ClientRequest,
    responses((status = 201, description = "Registered; `client_secret` shown this once", body = ClientWithSecretBody, headers(("Cache-Control" = String, description = "`no-store`"))),
        JsonBodyErrors, AdminErrors, Unavailable))]
pub async fn create_client(
    State(state): State<AppState>,
    admin: AdminUser,
    Client(ctx): Client,
    ApiJson(body): ApiJson<ClientRequest>,
) -> Result<Response, ApiError> {
    let kind = body
        .kind
        .ok_or_else(|| ApiError::invalid_request("missing field `type`"))?;
    let (client, secret) = state
        .auth
        .clients()
        .create(
            Some(admin.user.id.into()),
            kind.into(),
            body.settings(),
            &ctx,
        )
        .await?;
    Ok(shown_once(StatusCode::CREATED, &client, secret))
}

/// One OAuth client.
#[utoipa::path(get, path = "/v1/admin/clients/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Client id")),
    responses((status = 200, body = ClientBody), AdminErrors, NotFound, Unavailable))]
pub async fn get_client(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<ClientBody>, ApiError> {
    let client = state.auth.clients().get(&id).await?;
    Ok(Json(ClientBody::from(&client)))
}

/// Replace an OAuth client's settings; its id, type and secret stay.
#[utoipa::path(put, path = "/v1/admin/clients/{id}", tag = "admin", security(("bearer" = [])), request_body = ClientRequest,
    params(("id" = String, Path, description = "Client id")),
    responses((status = 200, body = ClientBody), JsonBodyErrors, AdminErrors, NotFound, Unavailable))]
pub async fn update_client(
    State(state): State<AppState>,
    admin: AdminUser,
    Client(ctx): Client,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ClientRequest>,
) -> Result<Json<ClientBody>, ApiError> {
    if body.kind.is_some() {
        return Err(ApiError::invalid_request(
            "field `type` is fixed at registration: register a new client instead",
        ));
    }
    let client = state
        .auth
        .clients()
        .update(Some(admin.user.id.into()), &id, body.settings(), &ctx)
        .await?;
    Ok(Json(ClientBody::from(&client)))
}

/// Give a confidential client a new secret, shown in the answer this once;
/// the old one stops working at once. A public client has none (400).
#[utoipa::path(post, path = "/v1/admin/clients/{id}/secret", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Client id")),
    responses((status = 200, description = "The new `client_secret`, shown this once", body = ClientWithSecretBody, headers(("Cache-Control" = String, description = "`no-store`"))),
        BadRequest, AdminErrors, NotFound, Unavailable))]
pub async fn rotate_client_secret(
    State(state): State<AppState>,
    admin: AdminUser,
    Client(ctx): Client,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (client, secret) = state
        .auth
        .clients()
        .rotate_secret(Some(admin.user.id.into()), &id, &ctx)
        .await?;
    Ok(shown_once(StatusCode::OK, &client, Some(secret)))
}

/// Delete an OAuth client.
#[utoipa::path(delete, path = "/v1/admin/clients/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Client id")),
    responses((status = 204), AdminErrors, NotFound, Unavailable))]
pub async fn delete_client(
    State(state): State<AppState>,
    admin: AdminUser,
    Client(ctx): Client,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .auth
        .clients()
        .delete(Some(admin.user.id.into()), &id, &ctx)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
