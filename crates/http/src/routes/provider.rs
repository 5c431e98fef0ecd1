//! Warden as an OAuth 2.0 / OpenID Connect provider, the endpoints apps
//! and services call (the browser's, `/oauth2/authorize`, is a page):
//! token (RFC 6749), userinfo (OpenID Connect Core 5.3), introspection
//! (RFC 7662), revocation (RFC 7009). Their errors are the standards'
//! JSON (`{"error", "error_description"}`), not problem+json: the clients
//! calling them are OAuth libraries.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::json;
use warden_core::provider::OAuthError;
use warden_core::service::{ClientCredentials, OAuthTokens, ProviderError, TokenActivity};
use warden_core::{CoreError, ErrorKind};

use crate::extract::Client;
use crate::state::AppState;

/// A form body, each parameter at most once (RFC 6749 section 3.2).
struct Params(HashMap<String, String>);

impl Params {
    fn read(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !form {
            return Err(OAuthError::invalid_request(
                "send the parameters as application/x-www-form-urlencoded",
            ));
        }
        let mut params = HashMap::new();
        for (name, value) in form_urlencoded::parse(body) {
            if value.is_empty() {
                continue;
            }
            if params
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{name}` was sent more than once"
                )));
            }
        }
        Ok(Self(params))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("`{name}` is required")))
    }
}

/// The client's credentials: `Authorization: Basic` (RFC 6749 2.3.1:
/// each part form-urlencoded before base64) or `client_id` and
/// `client_secret` in the body, never both.
fn credentials(headers: &HeaderMap, params: &Params) -> Result<ClientCredentials, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.get(..6)
                .filter(|s| s.eq_ignore_ascii_case("basic "))
                .map(|_| v[6..].trim())
        });
    match basic {
        Some(encoded) => {
            if params.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not two",
                ));
            }
            let malformed = || OAuthError::invalid_client("malformed Basic credentials");
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| malformed())?;
            let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
            let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
            let unescape = |s: &str| -> String {
                form_urlencoded::parse(format!("v={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            let id = unescape(id);
            if params.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the Basic credentials",
                ));
            }
            Ok(ClientCredentials {
                client_id: Some(id),
                secret: Some(unescape(secret)),
                basic: true,
            })
        }
        None => Ok(ClientCredentials {
            client_id: params.get("client_id").map(str::to_owned),
            secret: params.get("client_secret").map(str::to_owned),
            basic: false,
        }),
    }
}

/// An OAuth error as JSON: 401 for `invalid_client` (with a Basic
/// challenge, RFC 6749 section 5.2), 400 for the rest.
fn oauth_error(error: &OAuthError) -> Response {
    let status = if error.code == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut response = (
        status,
        no_store(),
        axum::Json(json!({ "error": error.code, "error_description": error.description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"warden\""),
        );
    }
    response
}

fn core_error(err: &CoreError) -> Response {
    let (status, code) = match err.kind() {
        ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        _ => {
            if let CoreError::Unexpected(cause) = err {
                tracing::error!(%cause, "provider endpoint failed");
            }
            (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
        }
    };
    (
        status,
        no_store(),
        axum::Json(json!({ "error": code, "error_description": "try again later" })),
    )
        .into_response()
}

fn provider_error(err: ProviderError) -> Response {
    match err {
        ProviderError::OAuth(error) => oauth_error(&error),
        ProviderError::Core(err) => core_error(&err),
    }
}

fn no_store() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::PRAGMA, HeaderValue::from_static("no-cache")),
    ]
}

/// `POST /oauth2/token`.
pub async fn token(
    State(state): State<AppState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match Params::read(&headers, &body) {
        Ok(params) => params,
        Err(error) => return oauth_error(&error),
    };
    let credentials = match credentials(&headers, &params) {
        Ok(credentials) => credentials,
        Err(error) => return oauth_error(&error),
    };
    let grant_type = match params.require("grant_type") {
        Ok(grant) => grant,
        Err(error) => return oauth_error(&error),
    };
    let auth = &state.auth;
    let client = match auth.authenticate_client(&credentials).await {
        Ok(client) => client,
        Err(err) => return provider_error(err),
    };
    let result = match grant_type {
        "authorization_code" => match params.require("code") {
            Ok(code) => {
                auth.exchange_authorization_code(
                    &client,
                    code,
                    params.get("redirect_uri"),
                    params.get("code_verifier"),
                    &ctx,
                )
                .await
            }
            Err(error) => Err(error.into()),
        },
        "refresh_token" => match params.require("refresh_token") {
            Ok(refresh) => {
                auth.refresh_for_client(&client, refresh, params.get("scope"), &ctx)
                    .await
            }
            Err(error) => Err(error.into()),
        },
        "client_credentials" => auth.client_credentials(&client, params.get("scope")).await,
        _ => Err(OAuthError::new(
            "unsupported_grant_type",
            "supported: authorization_code, refresh_token, client_credentials",
        )
        .into()),
    };
    state
        .metrics
        .record_oauth_token(grant_label(grant_type), result.is_ok());
    match result {
        Ok(tokens) => token_response(&tokens),
        Err(err) => provider_error(err),
    }
}

/// A fixed label for the grant, whatever was sent.
fn grant_label(grant: &str) -> &'static str {
    match grant {
        "authorization_code" => "authorization_code",
        "refresh_token" => "refresh_token",
        "client_credentials" => "client_credentials",
        _ => "other",
    }
}

fn token_response(tokens: &OAuthTokens) -> Response {
    let mut body = json!({
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": tokens.expires_in,
        "scope": tokens.scope,
    });
    if let Some(refresh) = &tokens.refresh_token {
        body["refresh_token"] = refresh.as_str().into();
    }
    if let Some(id_token) = &tokens.id_token {
        body["id_token"] = id_token.as_str().into();
    }
    (StatusCode::OK, no_store(), axum::Json(body)).into_response()
}

/// `GET|POST /oauth2/userinfo`: the bearer token in the header, or (POST)
/// `access_token` in the form body (RFC 6750 section 2).
pub async fn userinfo(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| warden_edge::credentials::bearer(v).ok())
        .map(str::to_owned);
    let in_body = if method == Method::POST && !body.is_empty() {
        match Params::read(&headers, &body) {
            Ok(params) => params.get("access_token").map(str::to_owned),
            Err(_) => None,
        }
    } else {
        None
    };
    let token = match (bearer, in_body) {
        (Some(_), Some(_)) => {
            return bearer_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send the token once",
            );
        }
        (Some(token), None) | (None, Some(token)) => token,
        (None, None) => {
            let mut response = StatusCode::UNAUTHORIZED.into_response();
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"warden\""),
            );
            return response;
        }
    };
    match state.auth.userinfo(&token).await {
        Ok(claims) => (StatusCode::OK, no_store(), axum::Json(claims)).into_response(),
        Err(CoreError::InsufficientAuthentication) => bearer_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the token was not issued with the openid scope",
        ),
        Err(err) if matches!(err.kind(), ErrorKind::Unavailable | ErrorKind::Internal) => {
            core_error(&err)
        }
        Err(_) => bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is invalid, expired or revoked",
        ),
    }
}

/// An RFC 6750 error: the challenge header, and the same as JSON.
fn bearer_error(status: StatusCode, code: &str, description: &str) -> Response {
    let challenge =
        format!("Bearer realm=\"warden\", error=\"{code}\", error_description=\"{description}\"");
    let mut response = (
        status,
        no_store(),
        axum::Json(json!({ "error": code, "error_description": description })),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// `POST /oauth2/introspect` (RFC 7662), for confidential clients.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client, token) = match client_and_token(&state, &headers, &body, Reads::Only).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let token = token.as_str();
    let activity = match state.auth.introspect(&client, token).await {
        Ok(activity) => activity,
        Err(err) => return provider_error(err),
    };
    let issuer = &state.auth.settings().issuer;
    let body = match activity {
        TokenActivity::Inactive => json!({ "active": false }),
        TokenActivity::Access {
            sub,
            client_id,
            scope,
            exp,
            iat,
            sid,
        } => {
            let mut body = json!({
                "active": true,
                "token_type": "Bearer",
                "sub": sub,
                "exp": exp,
                "iat": iat,
                "iss": issuer,
                "aud": state.auth.settings().audience,
            });
            if let Some(client_id) = client_id {
                body["client_id"] = client_id.into();
            }
            if let Some(scope) = scope {
                body["scope"] = scope.into();
            }
            if let Some(sid) = sid {
                body["sid"] = sid.into();
            }
            body
        }
    };
    (StatusCode::OK, no_store(), axum::Json(body)).into_response()
}

/// `POST /oauth2/revoke` (RFC 7009): 200 whether or not the token was
/// known, so the answer tells nothing.
pub async fn revoke(
    State(state): State<AppState>,
    Client(ctx): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client, token) = match client_and_token(&state, &headers, &body, Reads::AndWrites).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let token = token.as_str();
    match state.auth.revoke_for_client(&client, token, &ctx).await {
        Ok(()) => (StatusCode::OK, no_store()).into_response(),
        Err(err) => provider_error(err),
    }
}

/// Whether the caller's request changes anything.
enum Reads {
    /// Introspection: the client may be authenticated from a record up
    /// to `session_cache_ttl` old.
    Only,
    /// Revocation: the client is read from the store.
    AndWrites,
}

/// The calling client, authenticated, and the `token` parameter: what
/// introspection and revocation both start with.
async fn client_and_token(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    reads: Reads,
) -> Result<(warden_core::clients::OAuthClient, String), Response> {
    let params = Params::read(headers, body).map_err(|e| oauth_error(&e))?;
    let credentials = credentials(headers, &params).map_err(|e| oauth_error(&e))?;
    let client = match reads {
        Reads::Only => state.auth.authenticate_reader(&credentials).await,
        Reads::AndWrites => state.auth.authenticate_client(&credentials).await,
    }
    .map_err(provider_error)?;
    let token = params.require("token").map_err(|e| oauth_error(&e))?;
    Ok((client, token.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

    #[test]
    fn a_parameter_sent_twice_is_refused() {
        let err = Params::read(&headers(&[FORM]), b"code=a&code=b")
            .err()
            .unwrap();
        assert_eq!(err.code, "invalid_request");
        assert!(
            Params::read(&headers(&[]), b"code=a").is_err(),
            "no content type"
        );
        let ok = Params::read(&headers(&[FORM]), b"code=a&state=").unwrap();
        assert_eq!(ok.get("code"), Some("a"));
        assert_eq!(ok.get("state"), None, "empty means absent");
    }

    #[test]
    fn basic_credentials_are_form_decoded_and_exclusive() {
        // id "a b", secret "c:d%" form-encoded, then base64.
        let basic = base64::engine::general_purpose::STANDARD.encode("a+b:c%3Ad%25");
        let h = headers(&[FORM, ("authorization", &format!("Basic {basic}"))]);
        let got = credentials(&h, &Params::read(&h, b"").unwrap()).unwrap();
        assert_eq!(got.client_id.as_deref(), Some("a b"));
        assert_eq!(got.secret.as_deref(), Some("c:d%"));
        assert!(got.basic);
        let both = Params::read(&h, b"client_secret=x").unwrap();
        assert_eq!(credentials(&h, &both).unwrap_err().code, "invalid_request");
        let bad = headers(&[FORM, ("authorization", "Basic !!!")]);
        assert_eq!(
            credentials(&bad, &Params::read(&bad, b"").unwrap())
                .unwrap_err()
                .code,
            "invalid_client"
        );
    }
}
