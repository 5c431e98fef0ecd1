//! The gRPC server: Warden's two services, Envoy's `ext_authz`, health and
//! reflection on one listener, with the HTTP API's limits.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::pb::health_server::HealthServer;
use warden_core::AuthService;
use warden_core::readiness::ReadinessMonitor;

use crate::observe::{CallObserver, ObserveLayer};
use crate::pb::admin_service_server::AdminServiceServer;
use crate::pb::auth_service_server::AuthServiceServer;
use crate::pb_envoy::envoy::service::auth::v3::authorization_server::AuthorizationServer;
use crate::{
    AdminApi, AuthApi, ENVOY_FILE_DESCRIPTOR_SET, ExtAuthzApi, FILE_DESCRIPTOR_SET, ReadinessHealth,
};

use warden_route::sign_in::SignInRedirect;

/// Largest request message accepted, as for HTTP bodies.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Server settings.
#[derive(Debug, Clone)]
pub struct GrpcConfig {
    /// Longest a call may take (then DEADLINE_EXCEEDED / CANCELLED).
    pub request_timeout: Duration,
    /// The readiness `/readyz` reads too, so both report one answer
    /// (without one: the store alone, checked on each call).
    pub readiness: Option<Arc<ReadinessMonitor>>,
    /// Called with each call's span and request headers, so tracing can
    /// continue the caller's trace (`traceparent`).
    pub trace_context: Option<fn(&tracing::Span, &tonic::codegen::http::HeaderMap)>,
    /// Told of every call's method, status and latency (metrics).
    pub observer: Option<CallObserver>,
    /// Envoy ext_authz: where a browser's page load without a valid token
    /// is sent (`[verify] sign_in_url`), as `/v1/verify` does.
    pub sign_in: Option<SignInRedirect>,
    /// Origins a sign-in redirect may send the browser back to in full.
    pub allowed_origins: Vec<String>,
}

impl Default for GrpcConfig {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(10),
            readiness: None,
            trace_context: None,
            observer: None,
            sign_in: None,
            allowed_origins: Vec::new(),
        }
    }
}

/// The call's span, in OpenTelemetry's RPC conventions: named
/// `warden.v1.AuthService/Validate`, never with message contents.
fn call_span(path: &str) -> tracing::Span {
    let method = path.trim_start_matches('/');
    let (service, name) = method.split_once('/').unwrap_or((method, ""));
    tracing::info_span!(
        "grpc",
        otel.name = method,
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = name,
    )
}

/// Serves gRPC on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    auth: Arc<AuthService>,
    config: GrpcConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Reflection describes our files and the health service, so grpcurl
    // can call both without local proto files.
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(ENVOY_FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(ENVOY_FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    let trace_context = config.trace_context;
    Server::builder()
        .timeout(config.request_timeout)
        .trace_fn(move |request| {
            let span = call_span(request.uri().path());
            if let Some(continue_trace) = trace_context {
                continue_trace(&span, request.headers());
            }
            span
        })
        .layer(ObserveLayer(config.observer))
        .add_service(
            AuthServiceServer::new(AuthApi::new(auth.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            AdminServiceServer::new(AdminApi::new(auth.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            AuthorizationServer::new(ExtAuthzApi::new(
                auth.clone(),
                config.sign_in,
                config.allowed_origins,
            ))
            .max_decoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(HealthServer::new(ReadinessHealth::new(
            config.readiness.unwrap_or_else(|| {
                let monitor =
                    ReadinessMonitor::new(auth.store(), Vec::new(), Duration::from_secs(1));
                // Ends by itself once the server drops the monitor.
                let _checks = monitor.spawn(ReadinessMonitor::INTERVAL);
                monitor
            }),
        )))
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await?;
    Ok(())
}
