//! One request's path through the gateway: normalise, route, authenticate,
//! rewrite headers, forward (streaming), and map failures to problem+json.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use warden_verify::{AnyPrincipal, Verifier};

use crate::body::{Body, full};
use crate::config::{AuthMode, Config, Route};
use crate::headers;
use crate::metrics::{Metrics, NO_ROUTE};
use crate::problem::Problem;
use warden_edge::sign_in::{Attempt, SignInRedirect, accepts_html};
use warden_edge::{Table, credentials, csrf, normalize};

/// Browser mode's cookie and header names, shared with Warden's API.
pub use warden_edge::credentials::{ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER};

/// What a SIGHUP may replace: routes, the origin allow-list and the
/// sign-in page.
pub struct Routes {
    table: Table<Arc<Route>>,
    allowed_origins: Vec<String>,
    sign_in: Option<SignInRedirect>,
}

impl Routes {
    /// The reloadable part of `config` (already validated).
    pub fn from_config(config: &Config) -> Result<Self, crate::config::ConfigError> {
        let table = Table::new(
            config
                .routes
                .iter()
                .map(|r| (r.prefix.as_str(), Arc::new(r.clone()))),
        )
        .map_err(|e| crate::config::ConfigError::from_route(&e))?;
        Ok(Self {
            table,
            allowed_origins: config.allowed_origins.clone(),
            sign_in: config.sign_in.clone(),
        })
    }
}

/// State shared by every connection.
pub struct Shared {
    /// Swapped whole on reload; in-flight requests keep their snapshot.
    pub routes: ArcSwap<Routes>,
    /// Local token verification (with its cache of verified tokens).
    pub verifier: Verifier,
    client: Client<HttpConnector, Incoming>,
    /// Exported metrics.
    pub metrics: Metrics,
    max_staleness: Duration,
}

impl Shared {
    /// A pooled keep-alive client for upstreams and the given routes.
    pub fn new(config: &Config, routes: Routes, verifier: Verifier) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(config.connect_timeout));
        connector.set_nodelay(true);
        connector.set_keepalive(Some(Duration::from_secs(60)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(1024)
            .build(connector);
        Self {
            routes: ArcSwap::from_pointee(routes),
            verifier,
            client,
            metrics: Metrics::new(),
            max_staleness: config.max_staleness,
        }
    }
}

/// Serves one request: never fails, every refusal is a response.
pub async fn handle(
    shared: Arc<Shared>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    let started = Instant::now();
    let (label, response) = forward(&shared, peer, request).await;
    shared.metrics.record(
        label.as_deref().unwrap_or(NO_ROUTE),
        response.status().as_u16(),
        started.elapsed(),
    );
    Ok(response)
}

enum Credential<'a> {
    Bearer(&'a str),
    Cookie(&'a str),
}

fn credential(headers: &http::HeaderMap) -> Option<Credential<'_>> {
    // Another scheme (or a malformed Bearer) is not a Warden credential
    // here: a public route may serve an upstream with its own scheme.
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| credentials::bearer(v).ok());
    match bearer {
        Some(token) => Some(Credential::Bearer(token)),
        None => headers::cookie(headers, ACCESS_COOKIE)
            .filter(|t| !t.is_empty())
            .map(Credential::Cookie),
    }
}

fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Browser mode's rules for a cookie-authenticated state change (the
/// edge's shared check): not cross-site, an allowed `Origin`, and
/// `X-CSRF-Token` equal to the cookie.
fn check_csrf(headers: &http::HeaderMap, allowed_origins: &[String]) -> Result<(), Problem> {
    let header_str = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let input = csrf::CsrfInput {
        sec_fetch_site: header_str("sec-fetch-site"),
        origin: header_str("origin"),
        cookie: headers::cookie(headers, CSRF_COOKIE),
        header: header_str(CSRF_HEADER),
    };
    csrf::check(&input, allowed_origins).map_err(|refusal| Problem::csrf_failed(&refusal))
}

/// Who a request passed as, for the debug log: a user's id or a
/// service's client id.
fn caller_label(principal: &AnyPrincipal) -> String {
    match principal {
        AnyPrincipal::User(user) => user.user_id.to_string(),
        AnyPrincipal::Service(service) => format!("service {}", service.client_id),
    }
}

/// Decides who the request speaks for. `Ok(None)`: anonymous on a public route.
async fn authenticate(
    shared: &Shared,
    route: &Route,
    allowed_origins: &[String],
    request: &Request<Incoming>,
) -> Result<Option<AnyPrincipal>, Problem> {
    let headers = request.headers();
    let found = credential(headers);
    let (token, by_cookie) = match &found {
        Some(Credential::Bearer(t)) => (Some(*t), false),
        Some(Credential::Cookie(t)) => (Some(*t), true),
        None => (None, false),
    };
    let verified = match token {
        Some(token) => Some(shared.verifier.verify_any(token).await),
        None => None,
    };
    let csrf = || {
        if by_cookie && is_unsafe(request.method()) {
            check_csrf(headers, allowed_origins)
        } else {
            Ok(())
        }
    };
    match route.auth {
        // A public route still gets the identity of a valid token, so an
        // upstream can personalise; a failing token or CSRF check only
        // means anonymous here.
        AuthMode::Public => Ok(match verified {
            Some(Ok(principal)) if csrf().is_ok() => Some(principal),
            _ => None,
        }),
        AuthMode::Required => match verified {
            None => Err(Problem::no_token("this route needs an access token")),
            Some(Err(e)) if e.is_client_error() => Err(Problem::unauthorized(
                e.code(),
                "the access token is not valid",
            )),
            Some(Err(e)) => Err(Problem::unavailable(e.code())),
            Some(Ok(principal)) => {
                if !route.scopes.is_empty() && !route.scopes.iter().any(|s| principal.has_scope(s))
                {
                    return Err(Problem::insufficient_scope());
                }
                match &principal {
                    AnyPrincipal::User(user) => {
                        if !user.has_any_role(&route.roles) {
                            return Err(Problem::forbidden());
                        }
                        if route.mfa && !user.is_multi_factor() {
                            return Err(Problem::unauthorized(
                                "insufficient_user_authentication",
                                "this route needs a sign-in with a second factor",
                            ));
                        }
                    }
                    // A service has no roles and no second factor: a route
                    // that asks for either is for people.
                    AnyPrincipal::Service(_) if !route.roles.is_empty() || route.mfa => {
                        return Err(Problem::user_required());
                    }
                    AnyPrincipal::Service(_) => {}
                }
                csrf()?;
                Ok(Some(principal))
            }
        },
    }
}

/// Where to send a browser's page load that has no valid token, if a
/// sign-in page is configured. The full URL to come back to is built from
/// the client's `Host` (and `X-Forwarded-Proto` from a TLS terminator in
/// front); it is used only when that origin is in `allowed_origins`.
fn sign_in_location(snapshot: &Routes, request: &Request<Incoming>) -> Option<HeaderValue> {
    let page = snapshot.sign_in.as_ref()?;
    let headers = request.headers();
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let path = request.uri().path_and_query().map(|p| p.as_str());
    let host =
        text(header::HOST.as_str()).or_else(|| request.uri().authority().map(|a| a.as_str()));
    let url = match (host, path) {
        (Some(host), Some(path)) if path.starts_with('/') => Some(format!(
            "{}://{host}{path}",
            text("x-forwarded-proto").unwrap_or("http")
        )),
        _ => None,
    };
    let attempt = Attempt {
        method: request.method().as_str(),
        accepts_html: accepts_html(
            headers
                .get_all(header::ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok()),
        ),
        path,
        url: url.as_deref(),
    };
    let location = page.location(&attempt, &snapshot.allowed_origins)?;
    HeaderValue::from_str(&location).ok()
}

fn found_at(location: HeaderValue) -> Response<Body> {
    let mut response = Response::new(full(bytes::Bytes::new()));
    *response.status_mut() = StatusCode::FOUND;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn forward(
    shared: &Shared,
    peer: SocketAddr,
    mut request: Request<Incoming>,
) -> (Option<String>, Response<Body>) {
    if request.version() == Version::HTTP_11
        && request.headers().get_all(header::HOST).iter().count() != 1
    {
        return (None, Problem::bad_host().into_response());
    }
    let normalized = match normalize(request.uri().path()) {
        Ok(n) => n,
        Err(_) => {
            return (
                None,
                Problem::bad_path(
                    "the path has encoded separators, NUL, backslashes, double encoding, \
                     a segment ending in '.' or a space, or non-ASCII characters",
                )
                .into_response(),
            );
        }
    };
    let snapshot = shared.routes.load_full();
    let Some(found) = snapshot.table.lookup(&normalized.key) else {
        return (None, Problem::not_found().into_response());
    };
    let (route, segments) = (found.value.clone(), found.segments);
    let label = Some(route.prefix.clone());
    let principal = match authenticate(shared, &route, &snapshot.allowed_origins, &request).await {
        Ok(principal) => principal,
        Err(problem) => {
            shared.metrics.auth_failure(&route.prefix, problem.code);
            let redirect = (problem.status == StatusCode::UNAUTHORIZED)
                .then(|| sign_in_location(&snapshot, &request))
                .flatten();
            return match redirect {
                Some(location) => (label, found_at(location)),
                None => (label, problem.into_response()),
            };
        }
    };

    // Only a WebSocket handshake, on a route that allows it, is forwarded
    // as an upgrade; any other (h2c above all) loses its Upgrade headers
    // below and goes upstream as a plain request.
    let websocket = route.websocket
        && request.method() == Method::GET
        && request.version() == Version::HTTP_11
        && headers::is_websocket_upgrade(request.headers());
    let client_upgrade = websocket.then(|| hyper::upgrade::on(&mut request));
    let (mut parts, body) = request.into_parts();
    let host = parts.headers.get(header::HOST).cloned().or_else(|| {
        parts
            .uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    });
    let outgoing = &mut parts.headers;
    headers::remove_hop_by_hop(outgoing);
    headers::strip_identity(outgoing);
    if let Some(principal) = &principal {
        headers::set_identity(outgoing, principal);
    }
    headers::set_forwarded(outgoing, peer.ip(), host);
    let trace_id = headers::ensure_traceparent(outgoing);
    if websocket {
        outgoing.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        outgoing.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    }
    if let Ok(authority) = HeaderValue::from_str(&route.upstream.authority) {
        outgoing.insert(header::HOST, authority);
    }
    let path = if route.strip_prefix {
        normalized.strip_segments(segments)
    } else {
        &normalized.path
    };
    let uri = match parts.uri.query() {
        Some(query) => format!(
            "{}{}{path}?{query}",
            route.upstream.origin, route.upstream.base_path
        ),
        None => format!(
            "{}{}{path}",
            route.upstream.origin, route.upstream.base_path
        ),
    };
    parts.uri = match uri.parse::<Uri>() {
        Ok(uri) => uri,
        Err(_) => {
            return (
                label,
                Problem::bad_path("the path cannot be forwarded").into_response(),
            );
        }
    };
    parts.version = Version::HTTP_11;
    tracing::debug!(
        trace_id = %trace_id,
        route = %route.prefix,
        method = %parts.method,
        caller = principal.as_ref().map(caller_label).unwrap_or_default(),
        "forwarding"
    );

    let sent = tokio::time::timeout(
        route.timeout,
        shared.client.request(Request::from_parts(parts, body)),
    )
    .await;
    let mut response = match sent {
        Err(_) => {
            shared.metrics.upstream_error(&route.prefix, "timeout");
            tracing::warn!(trace_id = %trace_id, route = %route.prefix, "upstream timed out");
            return (label, Problem::gateway_timeout().into_response());
        }
        Ok(Err(e)) => {
            shared.metrics.upstream_error(&route.prefix, "connect");
            tracing::warn!(trace_id = %trace_id, route = %route.prefix, error = %e, connect = e.is_connect(), "upstream failed");
            return (label, Problem::bad_gateway().into_response());
        }
        Ok(Ok(response)) => response,
    };

    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        // A switch nobody asked for, or to anything but a WebSocket, would
        // hand the client a raw pipe past every check here: 502.
        let switched_to_websocket = response
            .headers()
            .get(header::UPGRADE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"));
        let Some(client_upgrade) = client_upgrade.filter(|_| switched_to_websocket) else {
            shared.metrics.upstream_error(&route.prefix, "protocol");
            tracing::warn!(trace_id = %trace_id, route = %route.prefix, "upstream switched protocols unasked; refused");
            return (label, Problem::bad_gateway().into_response());
        };
        let upstream_upgrade = hyper::upgrade::on(&mut response);
        let route_prefix = route.prefix.clone();
        tokio::spawn(async move {
            match tokio::try_join!(client_upgrade, upstream_upgrade) {
                Ok((client, upstream)) => {
                    let (mut client, mut upstream) = (TokioIo::new(client), TokioIo::new(upstream));
                    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await
                    {
                        tracing::debug!(route = %route_prefix, error = %e, "upgraded connection ended");
                    }
                }
                Err(e) => tracing::warn!(route = %route_prefix, error = %e, "upgrade failed"),
            }
        });
        let (mut parts, _) = response.into_parts();
        headers::remove_hop_by_hop(&mut parts.headers);
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        parts
            .headers
            .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        return (
            label,
            Response::from_parts(parts, full(bytes::Bytes::new())),
        );
    }

    headers::remove_hop_by_hop(response.headers_mut());
    (label, response.map(|body| body.boxed()))
}

/// `/healthz`, `/readyz` and `/metrics` of the admin listener.
pub async fn admin(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    let text = |status: StatusCode, content_type: &'static str, body: String| {
        let mut response = Response::new(full(body));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    };
    let verifier = &shared.verifier;
    Ok(match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => text(
            StatusCode::OK,
            "application/json",
            r#"{"status":"ok"}"#.to_owned(),
        ),
        (&Method::GET, "/readyz") => {
            let keys = !verifier.key_ids().is_empty();
            let fresh = verifier
                .staleness()
                .is_some_and(|s| s <= shared.max_staleness);
            let ready = keys && fresh && verifier.is_ready();
            let body = serde_json::json!({
                "status": if ready { "ready" } else { "not_ready" },
                "checks": {
                    "jwks": if keys { "ok" } else { "not loaded" },
                    "revocations": if fresh { "ok" } else { "stale" },
                },
                "revocation_staleness_seconds": verifier.staleness().map(|s| s.as_secs_f64()),
            });
            text(
                if ready {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                },
                "application/json",
                body.to_string(),
            )
        }
        (&Method::GET, "/metrics") => text(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            shared.metrics.render(verifier.staleness()),
        ),
        _ => Problem::not_found().into_response(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        for (k, v) in pairs {
            headers.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn the_bearer_header_wins_over_the_cookie() {
        let headers = map(&[
            ("authorization", "bearer abc"),
            ("cookie", "__Host-warden_at=def"),
        ]);
        assert!(matches!(
            credential(&headers),
            Some(Credential::Bearer("abc"))
        ));
        let headers = map(&[
            ("authorization", "Basic abc"),
            ("cookie", "__Host-warden_at=def"),
        ]);
        assert!(matches!(
            credential(&headers),
            Some(Credential::Cookie("def"))
        ));
        assert!(credential(&map(&[("authorization", "Bearer  ")])).is_none());
    }

    #[test]
    fn csrf_needs_origin_and_matching_token() {
        let origins = vec!["https://app.test".to_owned()];
        let ok = [
            ("origin", "https://app.test"),
            ("cookie", "warden_csrf=tok"),
            ("x-csrf-token", "tok"),
        ];
        assert!(check_csrf(&map(&ok), &origins).is_ok());
        let code = |pairs: &[(&str, &str)]| check_csrf(&map(pairs), &origins).unwrap_err().code;
        assert_eq!(code(&ok[1..]), "csrf_failed");
        assert_eq!(
            code(&[ok[0], ok[1], ("x-csrf-token", "other")]),
            "csrf_failed"
        );
        assert_eq!(code(&[ok[0], ok[2]]), "csrf_failed");
        assert_eq!(
            code(&[("origin", "https://evil.test"), ok[1], ok[2]]),
            "csrf_failed"
        );
        assert_eq!(
            code(&[ok[0], ok[1], ok[2], ("sec-fetch-site", "cross-site")]),
            "csrf_failed"
        );
        assert_eq!(
            code(&[ok[0], ("cookie", "warden_csrf="), ("x-csrf-token", "")]),
            "csrf_failed"
        );
    }

    #[test]
    fn only_safe_methods_skip_csrf() {
        for m in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(is_unsafe(&m));
        }
        for m in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert!(!is_unsafe(&m));
        }
    }
}
