//! The accept loop of Warden's HTTP listeners (`warden serve` and `warden
//! gateway`), hardened against connection exhaustion (issue 14, item 2):
//!
//! - a **header-read timeout**: an HTTP/1 request head must arrive whole
//!   within it (hyper's `header_read_timeout`, which needs a timer);
//! - an **idle timeout**: a connection with no request in flight (and no
//!   response body still streaming) for that long is shut down gracefully,
//!   whatever the protocol, including one that never finished its first
//!   bytes;
//! - a **cap on open connections** per listener: at the cap the loop stops
//!   accepting (new clients wait in the kernel's backlog) instead of running
//!   the process out of file descriptors. [`raise_fd_limit`] lifts the soft
//!   `RLIMIT_NOFILE` to the hard one at start, and [`connection_cap`] keeps
//!   every listener's cap below it;
//! - **graceful shutdown**: when asked, open connections finish their
//!   requests (up to a drain time), then the rest are closed.
//!
//! ```no_run
//! # async fn run(listener: tokio::net::TcpListener) {
//! use warden_listen::{Limits, Server};
//! let service = |_peer: std::net::SocketAddr| {
//!     hyper::service::service_fn(|_request: http::Request<hyper::body::Incoming>| async {
//!         Ok::<_, std::convert::Infallible>(http::Response::new(String::from("hi")))
//!     })
//! };
//! Server::new(listener, Limits::default())
//!     .serve(service, std::future::pending())
//!     .await;
//! # }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::Service;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;

/// Default time for a whole HTTP/1 request head.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time a connection may sit with no request in flight.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default cap on open connections per listener (then clamped by
/// [`connection_cap`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default time shutdown waits for in-flight requests.
pub const DEFAULT_DRAIN: Duration = Duration::from_secs(25);
/// Descriptors kept out of every listener's share: database pool, bus,
/// log files, the listeners themselves.
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// The limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time for a whole HTTP/1 request head.
    pub header_read_timeout: Duration,
    /// Time a connection may sit with no request in flight.
    pub idle_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and returns the soft
/// limit in force afterwards (`None`: unlimited or unknown). Call once at
/// start, before binding.
#[cfg(unix)]
pub fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let (Some(current), Some(maximum)) = (limit.current, limit.maximum) else {
        return limit.current;
    };
    if current >= maximum {
        return Some(current);
    }
    let raised = Rlimit {
        current: Some(maximum),
        maximum: Some(maximum),
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => Some(maximum),
        Err(e) => {
            tracing::warn!(error = %e, current, maximum, "could not raise the open-file limit");
            Some(current)
        }
    }
}

/// Raises the open-file limit where there is one to raise (not here).
#[cfg(not(unix))]
pub fn raise_fd_limit() -> Option<u64> {
    None
}

/// `configured`, lowered so that `shares` listeners at their caps stay
/// below the descriptor limit `fd_limit` (less [`RESERVED_DESCRIPTORS`]);
/// at least 1.
pub fn connection_cap(configured: usize, fd_limit: Option<u64>, shares: u64) -> usize {
    let configured = configured.clamp(1, u32::MAX as usize);
    let Some(limit) = fd_limit else {
        return configured;
    };
    let budget = limit.saturating_sub(RESERVED_DESCRIPTORS) / shares.max(1);
    configured
        .min(usize::try_from(budget).unwrap_or(usize::MAX))
        .max(1)
}

/// One listener's accept loop.
pub struct Server {
    listener: TcpListener,
    limits: Limits,
    upgrades: bool,
    drain: Duration,
}

/// What the connections are told: keep going, finish up, or stop now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Serving,
    Draining,
    Closing,
}

/// One connection's bookkeeping; the permit goes back when it ends.
struct Connection {
    activity: Arc<Activity>,
    limits: Limits,
    phase: watch::Receiver<Phase>,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
}

/// Polls a hyper connection until it ends, shutting it down gracefully
/// when idle too long or when the server drains, and dropping it when the
/// server closes (a macro: the two connection types share no trait).
macro_rules! drive {
    ($connection:ident, $conn:ident) => {{
        let mut connection = $connection;
        let conn = $conn;
        tokio::pin!(conn);
        let idle = connection.limits.idle_timeout;
        let mut shutting_down = false;
        // After an idle shutdown, a client in the middle of a request head
        // still gets the header-read timeout, then the connection goes.
        let mut give_up: Option<Instant> = None;
        loop {
            let wake = match give_up {
                Some(at) => at,
                None => connection.activity.idle_deadline(idle),
            };
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, peer = %connection.peer, "connection ended with an error");
                    }
                    break;
                }
                changed = connection.phase.changed() => {
                    let phase = *connection.phase.borrow_and_update();
                    if changed.is_err() || phase == Phase::Closing {
                        break;
                    }
                    if phase == Phase::Draining && !shutting_down {
                        conn.as_mut().graceful_shutdown();
                        shutting_down = true;
                    }
                }
                () = tokio::time::sleep_until(wake) => {
                    if give_up.is_some() {
                        tracing::debug!(peer = %connection.peer, "closing an idle connection");
                        break;
                    }
                    if connection.activity.is_idle_for(idle) {
                        if !shutting_down {
                            conn.as_mut().graceful_shutdown();
                            shutting_down = true;
                        }
                        give_up = Some(Instant::now() + connection.limits.header_read_timeout);
                    }
                }
            }
        }
    }};
}

impl Server {
    /// Serves `listener` within `limits`.
    pub fn new(listener: TcpListener, limits: Limits) -> Self {
        Self {
            listener,
            limits: Limits {
                max_connections: limits.max_connections.clamp(1, u32::MAX as usize),
                ..limits
            },
            upgrades: false,
            drain: DEFAULT_DRAIN,
        }
    }

    /// Lets the service switch protocols (`hyper::upgrade::on`); the
    /// upgraded stream leaves the connection's limits.
    pub fn with_upgrades(mut self) -> Self {
        self.upgrades = true;
        self
    }

    /// How long shutdown waits for in-flight requests.
    pub fn drain(mut self, drain: Duration) -> Self {
        self.drain = drain;
        self
    }

    /// Accepts until `shutdown` completes, serving each connection with the
    /// service `make_service` builds for its peer; then drains.
    pub async fn serve<M, S, B>(self, make_service: M, shutdown: impl Future<Output = ()>)
    where
        M: Fn(SocketAddr) -> S,
        S: Service<Request<Incoming>, Response = Response<B>> + Send + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let Server {
            listener,
            limits,
            upgrades,
            drain,
        } = self;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        let builder = Arc::new(builder);
        let permits = Arc::new(Semaphore::new(limits.max_connections));
        let (phase_tx, phase_rx) = watch::channel(Phase::Serving);
        let mut at_cap_logged = false;
        tokio::pin!(shutdown);
        loop {
            let permit = match permits.clone().try_acquire_owned() {
                Ok(permit) => {
                    at_cap_logged = false;
                    permit
                }
                Err(_) => {
                    if !at_cap_logged {
                        tracing::warn!(
                            max_connections = limits.max_connections,
                            "connection cap reached; new connections wait"
                        );
                        at_cap_logged = true;
                    }
                    tokio::select! {
                        permit = permits.clone().acquire_owned() => match permit {
                            Ok(permit) => permit,
                            Err(_) => break,
                        },
                        () = &mut shutdown => break,
                    }
                }
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = stream.set_nodelay(true);
            let activity = Arc::new(Activity::new());
            let service = Tracked {
                inner: make_service(peer),
                activity: activity.clone(),
            };
            let connection = Connection {
                activity,
                limits,
                phase: phase_rx.clone(),
                peer,
                _permit: permit,
            };
            let builder = builder.clone();
            let io = TokioIo::new(stream);
            if upgrades {
                tokio::spawn(async move {
                    let conn = builder.serve_connection_with_upgrades(io, service);
                    drive!(connection, conn);
                });
            } else {
                tokio::spawn(async move {
                    let conn = builder.serve_connection(io, service);
                    drive!(connection, conn);
                });
            }
        }
        drop(listener);
        let open = limits.max_connections - permits.available_permits();
        tracing::info!(connections = open, "draining");
        let _ = phase_tx.send(Phase::Draining);
        let everyone = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
        if tokio::time::timeout(drain, permits.acquire_many(everyone))
            .await
            .is_err()
        {
            tracing::warn!("drain timed out; closing the remaining connections");
        }
        let _ = phase_tx.send(Phase::Closing);
    }
}

/// Requests in flight on one connection, and since when it has had none.
struct Activity {
    busy: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Activity {
    fn new() -> Self {
        Self {
            busy: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
        }
    }

    fn idle_since(&self) -> Instant {
        match self.idle_since.lock() {
            Ok(at) => *at,
            Err(poisoned) => *poisoned.into_inner(),
        }
    }

    /// When the connection will have been idle for `idle`, if nothing
    /// starts meanwhile (a request in flight: check again later).
    fn idle_deadline(&self, idle: Duration) -> Instant {
        if self.busy.load(Ordering::Acquire) > 0 {
            Instant::now() + idle
        } else {
            self.idle_since() + idle
        }
    }

    fn is_idle_for(&self, idle: Duration) -> bool {
        self.busy.load(Ordering::Acquire) == 0 && self.idle_since().elapsed() >= idle
    }
}

/// Held from a request's arrival until its response body ended.
struct Busy(Arc<Activity>);

impl Busy {
    fn new(activity: Arc<Activity>) -> Self {
        activity.busy.fetch_add(1, Ordering::AcqRel);
        Self(activity)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        // Set the time before the count can reach zero, so an idle check
        // never sees "no request" with a stale time.
        match self.0.idle_since.lock() {
            Ok(mut at) => *at = Instant::now(),
            Err(poisoned) => *poisoned.into_inner() = Instant::now(),
        }
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The service, counting requests in flight.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B> Service<Request<Incoming>> for Tracked<S>
where
    S: Service<Request<Incoming>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Body + Send + 'static,
{
    type Response = Response<TrackedBody<B>>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, S::Error>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let busy = Busy::new(self.activity.clone());
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| TrackedBody {
                inner: Box::pin(body),
                busy: Some(busy),
            }))
        })
    }
}

/// A response body that keeps its connection busy until it ended.
struct TrackedBody<B> {
    inner: Pin<Box<B>>,
    busy: Option<Busy>,
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.busy = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_stay_below_the_descriptor_limit() {
        assert_eq!(connection_cap(10_000, None, 2), 10_000);
        assert_eq!(connection_cap(10_000, Some(1024), 2), (1024 - 256) / 2);
        assert_eq!(connection_cap(100, Some(1_048_576), 2), 100);
        assert_eq!(connection_cap(10_000, Some(100), 2), 1);
        assert_eq!(connection_cap(0, Some(20_000), 1), 1);
    }

    #[tokio::test]
    async fn an_idle_connection_counts_from_its_last_response() {
        let activity = Arc::new(Activity::new());
        let busy = Busy::new(activity.clone());
        assert!(!activity.is_idle_for(Duration::ZERO));
        drop(busy);
        assert!(activity.is_idle_for(Duration::ZERO));
        assert!(!activity.is_idle_for(Duration::from_secs(60)));
    }
}
