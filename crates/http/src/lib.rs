//! Warden's HTTP API: axum routers, extractors, problem+json errors, metrics
//! and the generated OpenAPI document.
//!
//! ```no_run
//! # async fn run(state: warden_http::AppState) {
//! let app = warden_http::router(state);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await.unwrap();
//! axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>()).await.unwrap();
//! # }
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod cookies;
pub mod cors;
pub mod deadline;
pub mod dto;
pub mod extract;
pub mod metrics;
pub mod oauth_flow;
pub mod openapi;
pub mod problem;
pub mod routes;
pub mod sign_in;
pub mod state;

use std::iter::once;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{Request, StatusCode, header};
use axum::routing::{delete, get, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::{
    SetSensitiveRequestHeadersLayer, SetSensitiveResponseHeadersLayer,
};
use tower_http::trace::{DefaultOnFailure, TraceLayer};

pub use problem::ApiError;
pub use state::{AppState, HttpConfig, ReadinessCheck, SocialConfig, TraceContextFn};

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The complete HTTP API.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The HTTP API plus `extra` routes (the hosted pages), which get the same
/// layers: body limit, deadline, trace span, metrics, panic catching,
/// sensitive headers and CORS.
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let timeout = state.config.request_timeout;
    let trace_context = state.config.trace_context;
    let metrics = state.metrics.clone();
    let cors = cors::layer(&state.config.cors_origins);
    Router::new()
        .merge(extra)
        .route("/v1/signup", post(routes::accounts::signup))
        .route("/v1/signin", post(routes::accounts::signin))
        .route("/v1/signin/mfa", post(routes::mfa::signin_mfa))
        .route(
            "/v1/mfa/totp",
            post(routes::mfa::start_totp).delete(routes::mfa::remove_totp),
        )
        .route("/v1/mfa/totp/confirm", post(routes::mfa::confirm_totp))
        .route("/v1/mfa/recovery-codes", post(routes::mfa::recovery_codes))
        .route("/v1/admin/users/{id}/mfa", delete(routes::mfa::admin_reset))
        .route(
            "/v1/webauthn/register/options",
            post(routes::passkeys::register_options),
        )
        .route("/v1/webauthn/register", post(routes::passkeys::register))
        .route(
            "/v1/webauthn/signin/options",
            post(routes::passkeys::signin_options),
        )
        .route("/v1/webauthn/signin", post(routes::passkeys::signin))
        .route("/v1/me/passkeys", get(routes::passkeys::list))
        .route("/v1/me/passkeys/{id}", delete(routes::passkeys::delete))
        .route("/v1/token/refresh", post(routes::accounts::refresh))
        .route("/v1/token/revoke", post(routes::accounts::revoke_refresh))
        .route("/v1/signout", post(routes::accounts::signout))
        .route("/v1/signout/all", post(routes::accounts::signout_all))
        .route(
            "/v1/me",
            get(routes::accounts::me).delete(routes::lifecycle::delete_me),
        )
        .route(
            "/v1/email/verify/send",
            post(routes::lifecycle::send_verification),
        )
        .route("/v1/email/verify", post(routes::lifecycle::verify_email))
        .route("/v1/email/change", post(routes::lifecycle::change_email))
        .route(
            "/v1/password/forgot",
            post(routes::lifecycle::forgot_password),
        )
        .route(
            "/v1/password/reset",
            post(routes::lifecycle::reset_password),
        )
        .route("/v1/sessions", get(routes::accounts::sessions))
        .route(
            "/v1/sessions/{id}",
            delete(routes::accounts::delete_session),
        )
        .route("/v1/password", post(routes::accounts::change_password))
        .route("/v1/oauth/providers", get(routes::social::providers))
        .route("/v1/oauth/exchange", post(routes::social::exchange))
        .route("/v1/oauth/{id}/start", get(routes::social::start))
        .route(
            "/v1/oauth/{id}/callback",
            get(routes::social::callback).post(routes::social::callback_form),
        )
        .route("/v1/me/identities", get(routes::social::identities))
        .route("/v1/me/identities/{id}", delete(routes::social::unlink))
        .route("/v1/validate", post(routes::tokens::validate))
        .route("/v1/verify", get(routes::tokens::verify))
        .route("/v1/revocations", get(routes::tokens::revocations))
        .route("/v1/admin/users", get(routes::admin::list_users))
        .route(
            "/v1/admin/users/{id}",
            get(routes::admin::get_user).delete(routes::admin::delete_user),
        )
        .route("/v1/admin/users/{id}/ban", post(routes::admin::ban))
        .route("/v1/admin/users/{id}/unban", post(routes::admin::unban))
        .route("/v1/admin/users/{id}/roles", put(routes::admin::set_roles))
        .route("/v1/admin/audit", get(routes::admin::audit))
        .route(
            "/v1/admin/clients",
            get(routes::clients::list_clients).post(routes::clients::create_client),
        )
        .route(
            "/v1/admin/clients/{id}",
            get(routes::clients::get_client)
                .put(routes::clients::update_client)
                .delete(routes::clients::delete_client),
        )
        .route(
            "/v1/admin/clients/{id}/secret",
            post(routes::clients::rotate_client_secret),
        )
        .route("/oauth2/token", post(routes::provider::token))
        .route(
            "/oauth2/userinfo",
            get(routes::provider::userinfo).post(routes::provider::userinfo),
        )
        .route("/oauth2/introspect", post(routes::provider::introspect))
        .route("/oauth2/revoke", post(routes::provider::revoke))
        .route("/healthz", get(routes::ops::healthz))
        .route("/readyz", get(routes::ops::readyz))
        .route("/metrics", get(routes::ops::metrics))
        .route("/openapi.json", get(routes::ops::openapi))
        .route("/.well-known/jwks.json", get(routes::ops::jwks))
        .route(
            "/.well-known/openid-configuration",
            get(routes::ops::openid_configuration),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            timeout,
            deadline::deadline,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(move |request: &Request<_>| {
                    let span = request_span(request);
                    if let Some(continue_trace) = trace_context {
                        continue_trace(&span, request.headers());
                    }
                    span
                })
                // A 5xx is logged once where it is made, with its cause
                // (an unexpected error) or as a state change (readiness);
                // an ERROR per response repeated it on every failing probe.
                .on_failure(DefaultOnFailure::new().level(tracing::Level::DEBUG)),
        )
        .layer(CatchPanicLayer::custom(panic_response))
        // Outside the rest: a preflight is answered before routing, and
        // every answer (errors too) carries the CORS headers a browser
        // needs to read it.
        .layer(cors)
        .layer(axum::middleware::map_response(cors::strip_unless_allowed))
        .layer(SetSensitiveResponseHeadersLayer::new(once(
            header::SET_COOKIE,
        )))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
            header::PROXY_AUTHORIZATION,
            header::HeaderName::from_static(routes::tokens::SERVICE_TOKEN_HEADER),
        ]))
}

/// The request's span, in OpenTelemetry's HTTP server conventions, named
/// after the route template (layers run once routing has matched; an
/// OpenTelemetry span cannot be renamed after it started). The status is
/// recorded by [`metrics::track`]. Path only: a query string could carry
/// anything.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!(
        "request",
        otel.name = %format_args!("{} {route}", request.method()),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %request.method(),
        url.path = %request.uri().path(),
        http.route = route,
        http.response.status_code = tracing::field::Empty,
    )
}

/// A panic is a bug: answer a bare 500 problem and log it once.
fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("a request handler panicked");
    axum::response::IntoResponse::into_response(ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "something went wrong on our side",
    ))
}

async fn not_found() -> ApiError {
    ApiError::not_found("no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not accept that method",
    )
}
