//! Operations and discovery: health, readiness, metrics, OpenAPI, JWKS and
//! OpenID discovery.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use warden_core::readiness::Readiness;

/// Liveness: 200 while the process serves.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Object, description = "`{\"status\": \"ok\"}`")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness (decision 0017): 200 while this instance can serve requests,
/// 503 when a required dependency (the store) is unavailable. An optional
/// one (the event bus) that is away makes the answer `degraded`, still 200,
/// with how long and how far behind the outbox relay is. Answered from the
/// last background check, so it never waits for a hanging dependency. The
/// gRPC health service reports the same [`ReadinessMonitor`] answer.
///
/// [`ReadinessMonitor`]: warden_core::readiness::ReadinessMonitor
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Object, description = "`{\"status\": \"ready\" | \"degraded\", \"checks\": {name: state}, \"details\": {...}}`: an optional dependency (the bus) may be away"),
    (status = 503, body = Object, description = "`{\"status\": \"unavailable\", \"checks\": ...}`: a status report naming the failed required check, not a problem")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = state.readiness.current().await;
    let (code, status) = if !readiness.is_ready() {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    } else if readiness.is_degraded() {
        (StatusCode::OK, "degraded")
    } else {
        (StatusCode::OK, "ready")
    };
    (code, Json(readiness_body(status, &readiness))).into_response()
}

/// `{"status", "checks": {name: state}, "details": {name: {...}}}`.
fn readiness_body(status: &str, readiness: &Readiness) -> serde_json::Value {
    let mut checks = serde_json::Map::new();
    let mut details = serde_json::Map::new();
    for check in readiness.checks() {
        checks.insert(check.name.to_owned(), json!(check.state.as_str()));
        let mut detail = serde_json::Map::new();
        detail.insert("state".into(), json!(check.state.as_str()));
        if let Some(down_for) = check.status.down_for {
            detail.insert("down_for_secs".into(), json!(seconds(down_for)));
        }
        if let Some(lag) = check.status.lag {
            detail.insert("relay_lag_secs".into(), json!(seconds(lag)));
        }
        details.insert(check.name.to_owned(), detail.into());
    }
    json!({"status": status, "checks": checks, "details": details})
}

/// Seconds with millisecond precision.
fn seconds(duration: std::time::Duration) -> f64 {
    (duration.as_millis() as f64) / 1000.0
}

/// Prometheus metrics (bind privately in production).
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, body = String, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", description = "OpenMetrics text (Prometheus scrapes it)")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    state
        .metrics
        .hash_queue_depth
        .set(state.auth.hasher().queue_depth() as i64);
    state
        .metrics
        .denylist_entries
        .set(state.auth.denylist().len() as i64);
    if let Some(relay) = &state.relay {
        state.metrics.record_relay(relay);
    }
    state
        .metrics
        .record_readiness(&state.readiness.current().await);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations", responses((status = 200, body = Object, description = "This document")))]
pub async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

/// The public keys that may verify a live access token.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery", responses((status = 200, body = Object, description = "A JWK Set (RFC 7517)")))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    let ring = state.auth.keys().ring();
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(&ring.jwks),
    )
        .into_response()
}

/// OpenID discovery (OpenID Connect Discovery 1.0, RFC 8414): exactly
/// what exists, no more; a client that trusts discovery must never be sent
/// to an endpoint that does not speak the protocol it names.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery", responses((status = 200, body = Object, description = "OpenID Provider metadata")))]
pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    let settings = state.auth.settings();
    let issuer = settings.issuer.trim_end_matches('/');
    let mut scopes: Vec<&str> = warden_core::provider::STANDARD_SCOPES.to_vec();
    scopes.sort_unstable();
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(json!({
            "issuer": settings.issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
            "token_endpoint": format!("{issuer}/oauth2/token"),
            "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
            "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
            "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
            "end_session_endpoint": format!("{issuer}/oauth2/logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "EdDSA", "ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": scopes,
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr",
                "at_hash", "sid", "email", "email_verified", "name", "preferred_username"
            ],
            "prompt_values_supported": ["none", "login", "consent"],
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "authorization_response_iss_parameter_supported": true,
        })),
    )
        .into_response()
}
