//! Token checks for other services: `/v1/validate` and forward-auth `/v1/verify`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use warden_core::access::OriginalRequest;
use warden_core::service::{Caller, TokenKind};
use warden_core::{CoreError, ErrorKind};

use crate::dto::{
    RevocationPageBody, RevocationsQuery, ValidateRequest, ValidateResponse, VerifyQuery,
};
use crate::extract::{ApiQuery, Credential, OptionalJson, presented_token};
use crate::openapi::{BadRequest, Forbidden, JsonBodyErrors, Unauthorized, Unavailable};
use crate::problem::ApiError;
use crate::routes::accounts::RequestParts;
use crate::state::AppState;

/// The header a service (`warden-verify`) presents its credential in when
/// it validates someone else's token: never `Authorization`, which may carry
/// the token being checked.
pub const SERVICE_TOKEN_HEADER: &str = "x-warden-service-token";

/// Check an access token (bearer header or `{token}`). A service may add
/// its credential in `X-Warden-Service-Token`; a wrong one is refused (403)
/// rather than ignored, so a misconfigured verifier is noticed.
#[utoipa::path(post, path = "/v1/validate", tag = "tokens", request_body = Option<ValidateRequest>, security((), ("bearer" = [])),
    responses((status = 200, body = ValidateResponse), JsonBodyErrors, Unauthorized, Forbidden, Unavailable))]
pub async fn validate(
    State(state): State<AppState>,
    RequestParts(parts): RequestParts,
    OptionalJson(body): OptionalJson<ValidateRequest>,
) -> Result<Response, ApiError> {
    if let Some(credential) = parts.headers.get(SERVICE_TOKEN_HEADER) {
        let credential = credential.to_str().unwrap_or_default().trim();
        if !is_service(&state, &parts, Some(credential)) {
            return Err(ApiError::forbidden("the service credential is not valid"));
        }
    }
    let token = match presented_token(&parts)? {
        Some((token, Credential::Bearer)) => token,
        _ => body.and_then(|b| b.token).ok_or_else(|| {
            ApiError::missing_token("send `Authorization: Bearer <token>` or {\"token\": ...}")
        })?,
    };
    let body = match state.auth.validate_caller(&token).await? {
        Caller::User(principal) => ValidateResponse {
            active: true,
            kind: "user",
            sub: principal.user_id.to_string(),
            sid: Some(principal.session_id.to_string()),
            roles: principal.roles,
            exp: principal.expires_at,
            iat: principal.issued_at,
            token_type: principal.kind.token_type(),
            amr: principal.authentication.amr(),
            acr: Some(principal.authentication.acr()),
            auth_time: Some(principal.authentication.at.timestamp()),
            client_id: principal.client_id,
            scope: principal.scope,
        },
        Caller::Service(service) => ValidateResponse {
            active: true,
            kind: "service",
            sub: service.client_id.clone(),
            sid: None,
            roles: Vec::new(),
            exp: service.expires_at,
            iat: service.issued_at,
            token_type: TokenKind::Jwt.token_type(),
            amr: Vec::new(),
            acr: None,
            auth_time: None,
            client_id: Some(service.client_id),
            scope: Some(service.scope),
        },
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// Forward auth for nginx `auth_request`, Caddy `forward_auth`, Traefik
/// `forwardAuth`, ingress-nginx `auth-url`. With `[[verify.rule]]`s
/// configured, the proxy's `X-Original-URI` / `X-Forwarded-Uri` (and
/// `-Method`) choose the rule.
#[utoipa::path(get, path = "/v1/verify", tag = "tokens", params(VerifyQuery), security((), ("bearer" = [])),
    responses((status = 200, description = "The request may pass; the identity is in the headers (none on a public path)",
            headers(("X-Warden-User" = String, description = "User id"),
                ("X-Warden-Session" = String, description = "Session id"),
                ("X-Warden-Roles" = String, description = "Roles, comma-separated"),
                ("X-Warden-Acr" = String, description = "`aal1` (one factor) or `aal2` (two)"),
                ("X-Warden-Amr" = String, description = "How the user authenticated, comma-separated RFC 8176 values"),
                ("X-Warden-Kind" = String, description = "`user`, or `service` for a service's own token (client credentials): then only Kind, Client and Scope are sent"),
                ("X-Warden-Client" = String, description = "The OAuth client the token was issued to, if any"),
                ("X-Warden-Scope" = String, description = "Its granted scopes, space-separated, if any"))),
        (status = 302, description = "A browser page load without a valid token, when `[verify] sign_in_url` is set: Location is the sign-in page with `rd`, where to come back to",
            headers(("Location" = String, description = "The sign-in page"))),
        BadRequest, Unauthorized, Forbidden, Unavailable))]
pub async fn verify(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<VerifyQuery>,
    RequestParts(parts): RequestParts,
) -> Result<Response, ApiError> {
    let token = presented_token(&parts)?.map(|(token, _)| token);
    let uri = original(&parts.headers, ORIGINAL_URI_HEADERS)?;
    let method = original(&parts.headers, ORIGINAL_METHOD_HEADERS)?;
    let request = OriginalRequest {
        method: method.as_deref(),
        uri: uri.as_deref(),
    };
    let decision = state
        .auth
        .authorize_forwarded(token.as_deref(), &request, query.role.as_deref())
        .await;
    // The domain error decides: any failure to authenticate sends a
    // browser's page load to the sign-in page instead of a 401.
    let refusal = |err: CoreError| match (err, &token) {
        (CoreError::InvalidToken, None) => ApiError::missing_token("no access token"),
        (err, _) => ApiError::from(err),
    };
    let caller = match decision {
        Ok(caller) => caller,
        Err(err) if err.kind() == ErrorKind::Unauthenticated => {
            let location = state.config.sign_in.as_ref().and_then(|page| {
                crate::sign_in::location(
                    page,
                    &parts.headers,
                    method.as_deref(),
                    uri.as_deref(),
                    &state.config.allowed_origins,
                )
            });
            return match location.and_then(|l| HeaderValue::from_str(&l).ok()) {
                Some(location) => Ok((
                    StatusCode::FOUND,
                    [
                        (header::LOCATION, location),
                        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                    ],
                )
                    .into_response()),
                None => Err(refusal(err)),
            };
        }
        Err(err) => return Err(refusal(err)),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in caller.iter().flat_map(|c| c.identity().headers()) {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((StatusCode::OK, headers).into_response())
}

/// Where proxies put the original request target: nginx (our config),
/// Traefik and Caddy, ingress-nginx (an absolute URL).
const ORIGINAL_URI_HEADERS: &[&str] = &["x-original-uri", "x-forwarded-uri", "x-original-url"];
/// Where they put the original method.
const ORIGINAL_METHOD_HEADERS: &[&str] = &["x-original-method", "x-forwarded-method"];

/// The one value the proxy gave under any of `names`. A proxy sets its own
/// header but passes the client's others through, so a client could add
/// `X-Original-URI: /public/` behind a proxy that sends `X-Forwarded-Uri`:
/// every value present must therefore agree, or the request is refused.
fn original(headers: &HeaderMap, names: &[&str]) -> Result<Option<String>, ApiError> {
    let mut found: Option<(&str, String)> = None;
    for name in names {
        for value in headers.get_all(*name) {
            let value = value
                .to_str()
                .map_err(|_| ApiError::invalid_request(format!("{name} must be visible ASCII")))?;
            let comparable = if *name == "x-original-url" {
                target_of_url(value)
            } else {
                value
            };
            match &found {
                Some((first, seen)) if seen != comparable => {
                    return Err(ApiError::invalid_request(format!(
                        "{first} and {name} disagree: refusing to guess the original request"
                    )));
                }
                Some(_) => {}
                None => found = Some((name, comparable.to_owned())),
            }
        }
    }
    Ok(found.map(|(_, value)| value))
}

/// `/a/b?q` of `https://host/a/b?q`, for comparing with the other headers.
fn target_of_url(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
        None => url,
    }
}

/// The revocation feed for verifiers: without `since` every revocation in
/// force, with it what came after. Needs the configured service credential
/// as a bearer token; without one configured, only loopback peers may read.
#[utoipa::path(get, path = "/v1/revocations", tag = "tokens", params(RevocationsQuery),
    responses((status = 200, body = RevocationPageBody), BadRequest, Unauthorized, Unavailable),
    security(("bearer" = [])))]
pub async fn revocations(
    State(state): State<AppState>,
    RequestParts(parts): RequestParts,
    ApiQuery(query): ApiQuery<RevocationsQuery>,
) -> Result<Response, ApiError> {
    if !may_read_revocations(&state, &parts) {
        return Err(ApiError::missing_token(
            "the revocation feed needs the service credential",
        ));
    }
    let page = state.auth.revocations_since(query.since.as_deref()).await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(page)).into_response())
}

fn may_read_revocations(state: &AppState, parts: &axum::http::request::Parts) -> bool {
    let bearer = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    is_service(state, parts, bearer)
}

/// Whether `presented` is the service credential (`revocations_token`);
/// with none configured, whether the peer is on loopback.
fn is_service(
    state: &AppState,
    parts: &axum::http::request::Parts,
    presented: Option<&str>,
) -> bool {
    use subtle::ConstantTimeEq as _;
    match &state.config.revocations_token {
        Some(expected) => {
            presented.is_some_and(|token| bool::from(token.as_bytes().ct_eq(expected.as_bytes())))
        }
        // The socket's peer, never a forwarded header: a proxy on loopback
        // must not open the feed to the world.
        None => parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .is_some_and(|axum::extract::ConnectInfo(peer)| peer.ip().is_loopback()),
    }
}
