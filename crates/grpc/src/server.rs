//! The gRPC server: Warden's two services, Envoy's `ext_authz`, health and
//! reflection on one listener, with the HTTP API's limits and the HTTP/2
//! equivalents of its connection limits (docs/decisions/0014-edge-limits.md):
//! keep-alive pings, a cap on calls per connection, a cap on connections,
//! and an idle timeout on connections that send nothing at all.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::time::{Instant, Sleep};
use tonic::transport::Server;
use tonic::transport::server::{Connected, TcpConnectInfo};
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

use warden_edge::sign_in::SignInRedirect;

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
    /// A connection that sends nothing for this long is closed (answers to
    /// keep-alive pings count, so only silent or dead peers are).
    pub idle_timeout: Duration,
    /// Most connections open at once; at the cap new ones wait.
    pub max_connections: usize,
    /// Most calls at once on one connection.
    pub max_concurrent_streams: u32,
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
            idle_timeout: Duration::from_secs(300),
            max_connections: 10_000,
            max_concurrent_streams: 100,
        }
    }
}

/// How often an HTTP/2 ping checks a quiet peer, and how long its answer
/// may take before the connection is dropped.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(60);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

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
    let incoming = limited_incoming(listener, config.max_connections, config.idle_timeout);
    Server::builder()
        .timeout(config.request_timeout)
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .max_concurrent_streams(config.max_concurrent_streams)
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
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

/// Accepts while fewer than `max_connections` are open (then new clients
/// wait in the backlog); each connection is closed after `idle` without a
/// byte from the peer.
fn limited_incoming(
    listener: TcpListener,
    max_connections: usize,
    idle: Duration,
) -> tokio_stream::wrappers::ReceiverStream<io::Result<LimitedStream>> {
    let permits = Arc::new(Semaphore::new(max_connections.clamp(1, u32::MAX as usize)));
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        loop {
            let permit = tokio::select! {
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
                () = tx.closed() => return,
            };
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => return,
            };
            match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let stream = LimitedStream {
                        inner: stream,
                        idle,
                        deadline: Box::pin(tokio::time::sleep(idle)),
                        _permit: permit,
                    };
                    if tx.send(Ok(stream)).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    // Out of descriptors and the like: back off, keep serving.
                    tracing::warn!(error = %e, "gRPC accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// A connection holding one of the listener's permits, failing its reads
/// once the peer has been silent for `idle`.
struct LimitedStream {
    inner: TcpStream,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
    _permit: OwnedSemaphorePermit,
}

impl Connected for LimitedStream {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    let next = Instant::now() + self.idle;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the peer sent nothing within the idle timeout",
                ))),
                Poll::Pending => Poll::Pending,
            },
            ready => ready,
        }
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
