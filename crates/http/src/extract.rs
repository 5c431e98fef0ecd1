//! Extractors: JSON bodies that fail as problem+json, the client's address,
//! and authentication (`Authenticated`, `AdminUser`). A malformed credential
//! is always an error, never "anonymous".

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum_extra::extract::CookieJar;
use serde::de::DeserializeOwned;
use warden_core::{CoreError, Principal, RequestContext, User};
use warden_edge::{credentials, csrf};

use crate::cookies::{ACCESS_COOKIE, CSRF_COOKIE};
use crate::problem::ApiError;
use crate::state::AppState;

/// Header carrying the CSRF token for cookie-authenticated state changes.
pub use warden_edge::credentials::CSRF_HEADER;

/// A JSON body; every failure is a problem+json naming the field.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match OptionalJson::<T>::from_request(req, state).await? {
            OptionalJson(Some(value)) => Ok(ApiJson(value)),
            OptionalJson(None) => Err(ApiError::invalid_request("a JSON body is required")),
        }
    }
}

/// A JSON body that may be absent (for endpoints that also take a header or cookie).
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let has_json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|ct| {
                let essence = ct
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                essence == "application/json" || essence.ends_with("+json")
            });
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                payload_too_large()
            } else {
                ApiError::invalid_request("the request body could not be read")
            }
        })?;
        if bytes.is_empty() {
            return Ok(OptionalJson(None));
        }
        if has_json_type != Some(true) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON with Content-Type: application/json",
            ));
        }
        parse_json(&bytes).map(|v| OptionalJson(Some(v)))
    }
}

/// 413 `payload_too_large`.
pub fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        "the request body is larger than 64 KiB",
    )
}

/// Parses JSON, describing failures without echoing submitted values
/// (a mistyped field might hold a password).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.inner();
        let message = inner.to_string();
        let message = message.split(" at line ").next().unwrap_or("").to_owned();
        let detail = match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => "the body is not valid JSON".to_owned(),
            serde_json::error::Category::Data => {
                if message.starts_with("missing field") || message.starts_with("unknown field") {
                    message
                } else if let Some((_, expected)) = message.split_once(", expected ") {
                    format!("field `{path}` has the wrong type: expected {expected}")
                } else {
                    format!("field `{path}` is invalid")
                }
            }
        };
        ApiError::invalid_request(detail)
    })?;
    de.end()
        .map_err(|_| ApiError::invalid_request("the body is not valid JSON"))?;
    Ok(value)
}

/// The calling client: IP (believing `X-Forwarded-For` only from trusted
/// proxies) and user agent.
#[derive(Debug, Clone)]
pub struct Client(pub RequestContext);

/// Any state the [`AppState`] can be had from (the hosted pages' too).
impl<S> FromRequestParts<S> for Client
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let ip = peer.map(|peer| client_ip(peer, &parts.headers, &state.config.trusted_proxies));
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        Ok(Client(RequestContext {
            ip: ip.map(|ip| ip.to_string()),
            user_agent,
        }))
    }
}

/// Walks `X-Forwarded-For` from the right while the hop is a trusted proxy;
/// the first untrusted address is the client.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    let hops = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer`.
    Bearer,
    /// The `__Host-warden_at` cookie.
    Cookie,
}

/// A caller with a valid, unrevoked access token. Cookie-authenticated state
/// changes must also pass the CSRF checks.
#[derive(Debug, Clone)]
pub struct Authenticated {
    /// The identity in the token.
    pub principal: Principal,
    /// Bearer or cookie.
    pub credential: Credential,
}

/// The access token a request carries, if any; `Err` for a malformed header.
pub fn presented_token(parts: &Parts) -> Result<Option<(String, Credential)>, ApiError> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        return bearer_token(value.as_bytes())
            .map(|t| Some((t, Credential::Bearer)))
            .ok_or_else(|| {
                ApiError::invalid_token("the Authorization header must be `Bearer <token>`")
            });
    }
    let jar = CookieJar::from_headers(&parts.headers);
    Ok(jar
        .get(ACCESS_COOKIE)
        .map(|c| (c.value().to_owned(), Credential::Cookie)))
}

fn bearer_token(value: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(value).ok()?;
    credentials::bearer(text).ok().map(str::to_owned)
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let (token, credential) = presented_token(parts)?.ok_or_else(|| {
            ApiError::missing_token("no access token: send `Authorization: Bearer <token>`")
        })?;
        let principal = state.auth.validate(&token).await?;
        if credential == Credential::Cookie && !is_safe(&parts.method) {
            check_csrf(parts, state)?;
        }
        if !enrollment_allows(parts.uri.path())
            && state.auth.needs_mfa_enrollment(&principal).await?
        {
            return Err(CoreError::MfaEnrollmentRequired.into());
        }
        Ok(Authenticated {
            principal,
            credential,
        })
    }
}

/// What a caller who must set up a second factor may still reach: their
/// account, the factor pages' API, and sign-out.
fn enrollment_allows(path: &str) -> bool {
    path == "/v1/me"
        || path.starts_with("/v1/mfa/")
        || path.starts_with("/v1/webauthn/register")
        || path.starts_with("/v1/signout")
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Double-submit token plus `Origin` allow-list (and `Sec-Fetch-Site`) for a
/// state change authenticated by cookie (the edge's shared rule).
pub fn check_csrf(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
    let header_str = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let jar = CookieJar::from_headers(&parts.headers);
    let input = csrf::CsrfInput {
        sec_fetch_site: header_str("sec-fetch-site"),
        origin: header_str("origin"),
        cookie: jar.get(CSRF_COOKIE).map(|c| c.value()),
        header: header_str(CSRF_HEADER),
    };
    csrf::check(&input, &state.config.allowed_origins)
        .map_err(|refusal| ApiError::csrf_failed(refusal.detail()))
}

/// The request's `Origin` must be on the allow-list.
pub fn check_origin(parts: &Parts, state: &AppState) -> Result<(), ApiError> {
    let origin = parts
        .headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok());
    csrf::check_origin(origin, &state.config.allowed_origins)
        .map_err(|refusal| ApiError::csrf_failed(refusal.detail()))
}

/// An authenticated caller who currently holds the `admin` role (checked
/// against the store, so a demotion takes effect at once).
#[derive(Debug, Clone)]
pub struct AdminUser {
    /// The admin's account.
    pub user: User,
    /// Their token.
    pub principal: Principal,
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Authenticated { principal, .. } =
            Authenticated::from_request_parts(parts, state).await?;
        let user = state.auth.authorize_admin(&principal).await?;
        Ok(AdminUser { user, principal })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<ipnet::IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 10.0.0.7"),
        );
        let untrusted_peer: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(
            client_ip(untrusted_peer, &headers, &trusted),
            untrusted_peer
        );
        let proxy: IpAddr = "10.0.0.9".parse().unwrap();
        assert_eq!(
            client_ip(proxy, &headers, &trusted),
            "1.2.3.4".parse::<IpAddr>().unwrap()
        );
        headers.insert("x-forwarded-for", HeaderValue::from_static("garbage"));
        assert_eq!(client_ip(proxy, &headers, &trusted), proxy);
    }

    #[test]
    fn json_errors_name_the_field_without_echoing_values() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Body {
            email: String,
            password: String,
        }
        let err = parse_json::<Body>(br#"{"email": "a@b.co", "password": 12345678}"#).unwrap_err();
        let text = format!("{err:?}");
        assert!(
            text.contains("password") && !text.contains("12345678"),
            "{text}"
        );
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        let missing = parse_json::<Body>(br#"{"email": "a@b.co"}"#).unwrap_err();
        assert!(format!("{missing:?}").contains("missing field `password`"));
        assert!(parse_json::<Body>(b"{nope").is_err());
        assert!(parse_json::<Body>(br#"{"email":"a@b.co","password":"x","admin":true}"#).is_err());
        assert!(parse_json::<Body>(b"{\"email\":\"\xff\",\"password\":\"x\"}").is_err());
    }
}

/// A query string; failures are problem+json.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_parse(query).map(ApiQuery)
    }
}

fn serde_urlencoded_parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    axum::extract::Query::<T>::try_from_uri(
        &format!("/?{query}")
            .parse()
            .map_err(|_| ApiError::invalid_request("the query string is malformed"))?,
    )
    .map(|axum::extract::Query(v)| v)
    .map_err(|e| {
        let text = e.body_text();
        let reason = text
            .split_once(": ")
            .map_or(text.as_str(), |(_, reason)| reason)
            .to_owned();
        ApiError::invalid_request(format!("query: {reason}"))
    })
}
