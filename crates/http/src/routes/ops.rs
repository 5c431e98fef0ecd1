//! Operations and discovery: health, readiness, metrics, OpenAPI, JWKS and
//! OpenID discovery.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Liveness: 200 while the process serves.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Object, description = "`{\"status\": \"ok\"}`")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Readiness: 200 when every dependency answers, else 503 naming what
/// failed. The gRPC health service reports the same `AuthService::readiness`.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Object, description = "`{\"status\": \"ready\", \"checks\": {name: \"ok\"}}`"),
    (status = 503, body = Object, description = "`{\"status\": \"unavailable\", \"checks\": ...}`: a status report naming the failed check, not a problem")))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let (ready, checks) = readiness(&state).await;
    let status = if ready { "ready" } else { "unavailable" };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(json!({"status": status, "checks": checks}))).into_response()
}

/// Whether the service is ready, and each check's state (`"ok"` or
/// `"unavailable"`): `AuthService::readiness` over the store and
/// `state.readiness` (the bus), the list the gRPC health service is given too.
pub async fn readiness(state: &AppState) -> (bool, serde_json::Map<String, serde_json::Value>) {
    let readiness = state.auth.readiness(&state.readiness).await;
    let checks = readiness
        .checks()
        .iter()
        .map(|(name, ok)| {
            (
                (*name).to_owned(),
                json!(if *ok { "ok" } else { "unavailable" }),
            )
        })
        .collect();
    (readiness.is_ready(), checks)
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

/// OpenID discovery: the issuer and its keys, which is all JWT libraries
/// need. Nothing else is advertised until it exists (no ID tokens, no
/// OAuth2 token endpoint yet): a client that trusts discovery must never be
/// sent to an endpoint that does not speak the protocol it names.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery", responses((status = 200, body = Object, description = "OpenID Provider metadata")))]
pub async fn openid_configuration(State(state): State<AppState>) -> Response {
    let settings = state.auth.settings();
    let issuer = settings.issuer.trim_end_matches('/');
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(json!({
            "issuer": settings.issuer,
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        })),
    )
        .into_response()
}
