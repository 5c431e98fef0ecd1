//! `warden gateway`: a reverse proxy in front of your services that
//! verifies Warden access tokens **locally** (warden-verify: JWKS plus a
//! deny-list fed by the revocation feed or the event bus; no call to Warden
//! per request), routes by longest prefix on a normalised path, and hands
//! upstreams a trusted identity in `X-Warden-User`, `X-Warden-Session` and
//! `X-Warden-Roles` (client-sent `X-Warden-*` headers never pass).
//!
//! Bodies stream both ways, WebSocket upgrades are spliced on the routes
//! that allow them (no other upgrade ever is), hop-by-hop
//! headers are dropped as RFC 9110 §7.6.1 says, `traceparent` is forwarded
//! or created. `SIGHUP` reloads the routes without dropping connections;
//! `SIGTERM`/ctrl-c drains in-flight requests. Both listeners run
//! `warden-listen`'s accept loop (header-read and idle timeouts, a
//! connection cap). See `docs/decisions` for the choices behind it and the
//! README for the configuration.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod body;
pub mod config;
mod headers;
mod metrics;
mod problem;
mod proxy;

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use tokio::net::TcpListener;
use warden_verify::{RevocationFeed, Verifier};

pub use config::{Config, ConfigError};

use proxy::{Routes, Shared};

/// How long shutdown waits for in-flight requests.
const DRAIN: Duration = Duration::from_secs(25);
/// Most connections to the admin listener (probes and scrapes).
const ADMIN_CONNECTIONS: usize = 64;
/// How many verified tokens the gateway remembers.
const VERIFIED_TOKENS: usize = 100_000;

/// The gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The token verifier could not be built.
    #[error("token verifier: {0}")]
    Verifier(String),
    /// A listener could not be bound.
    #[error("binding {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// A started gateway.
pub struct Running {
    /// Where it proxies.
    pub addr: SocketAddr,
    /// Where `/healthz`, `/readyz` and `/metrics` are served, if configured.
    pub admin_addr: Option<SocketAddr>,
    /// How many routes it loaded.
    pub routes: usize,
    /// Ends after shutdown has drained.
    pub task: tokio::task::JoinHandle<()>,
}

async fn build_verifier(config: &Config) -> Result<Verifier, StartError> {
    let mut feed = RevocationFeed::poll(config.revocation_poll_interval);
    if let Some(token) = config.service_token()? {
        feed = feed.service_token(token);
    }
    if let config::RevocationSource::Bus(url) = &config.revocations {
        feed = feed.bus(url.clone()).bus_names(config.bus_names.clone());
    }
    // Every request through the gateway carries a token, and a busy one
    // sees many users' tokens again and again: remember more of them than
    // a single service would.
    let mut builder = Verifier::builder()
        .issuer(config.issuer.clone())
        .revocations(feed)
        .max_staleness(config.max_staleness)
        .verified_cache(VERIFIED_TOKENS);
    if let Some(endpoint) = &config.endpoint {
        builder = builder.endpoint(endpoint.clone());
    }
    if let Some(audience) = &config.audience {
        builder = builder.audience(audience.clone());
    }
    builder
        .build()
        .await
        .map_err(|e| StartError::Verifier(e.to_string()))
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })
}

/// Loads `config_path`, builds the verifier, binds the listeners and serves
/// until `shutdown` completes. On Unix, `SIGHUP` re-reads `config_path`.
pub async fn start(
    config_path: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, StartError> {
    let config = Config::load(config_path)?;
    let routes = Routes::from_config(&config)?;
    let fd_limit = warden_listen::raise_fd_limit();
    let listener = bind(config.listen).await?;
    let admin = match config.admin_listen {
        Some(addr) => Some(bind(addr).await?),
        None => None,
    };
    let verifier = build_verifier(&config).await?;
    if !verifier.is_ready() {
        tracing::warn!(issuer = %config.issuer, "not ready yet: keys or revocations not loaded; retrying in the background");
    }
    let shared = Arc::new(Shared::new(&config, routes, verifier));
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let admin_addr = admin.as_ref().and_then(|l| l.local_addr().ok());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    if let Some(admin) = admin {
        let limits = warden_listen::Limits {
            max_connections: warden_listen::connection_cap(ADMIN_CONNECTIONS, fd_limit, 8),
            ..config.limits
        };
        tokio::spawn(serve_admin(admin, limits, shared.clone(), stop_rx.clone()));
    }
    #[cfg(unix)]
    tokio::spawn(reload_on_sighup(
        config_path.to_owned(),
        config.clone(),
        shared.clone(),
    ));
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    // Each client connection may hold an upstream one as well.
    let limits = warden_listen::Limits {
        max_connections: warden_listen::connection_cap(config.limits.max_connections, fd_limit, 2),
        ..config.limits
    };
    let task = tokio::spawn(serve(listener, limits, shared, stop_rx));
    Ok(Running {
        addr,
        admin_addr,
        routes: config.routes.len(),
        task,
    })
}

/// Resolves once shutdown was asked for (or the sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let asked = stop.wait_for(|stop| *stop).await.is_ok();
    let _ = asked;
}

async fn serve(
    listener: TcpListener,
    limits: warden_listen::Limits,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    warden_listen::Server::new(listener, limits)
        .with_upgrades()
        .drain(DRAIN)
        .serve(
            move |peer| {
                let shared = shared.clone();
                service_fn(move |request| proxy::handle(shared.clone(), peer, request))
            },
            async move { stopped(&mut stop).await },
        )
        .await;
}

async fn serve_admin(
    listener: TcpListener,
    limits: warden_listen::Limits,
    shared: Arc<Shared>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    warden_listen::Server::new(listener, limits)
        .drain(Duration::from_secs(1))
        .serve(
            move |_peer| {
                let shared = shared.clone();
                service_fn(move |request| proxy::admin(shared.clone(), request))
            },
            async move { stopped(&mut stop).await },
        )
        .await;
}

/// Re-reads the file on each SIGHUP. Routes and the origin allow-list are
/// swapped atomically; an invalid file keeps the old ones. Listener,
/// issuer and feed settings need a restart.
#[cfg(unix)]
async fn reload_on_sighup(path: PathBuf, mut current: Config, shared: Arc<Shared>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP: reload disabled");
            return;
        }
    };
    while hangups.recv().await.is_some() {
        let loaded = Config::load(&path).and_then(|new| Ok((Routes::from_config(&new)?, new)));
        match loaded {
            Ok((routes, new)) => {
                if new.listen != current.listen
                    || new.admin_listen != current.admin_listen
                    || new.issuer != current.issuer
                    || new.endpoint != current.endpoint
                    || new.audience != current.audience
                    || new.revocations != current.revocations
                    || new.bus_names != current.bus_names
                    || new.service_token_file != current.service_token_file
                    || new.connect_timeout != current.connect_timeout
                    || new.limits != current.limits
                {
                    tracing::warn!(
                        "only routes, allowed_origins and sign_in_url reload; restart for the other changes"
                    );
                }
                shared.routes.store(Arc::new(routes));
                shared.metrics.reload("ok");
                tracing::info!(routes = new.routes.len(), "configuration reloaded");
                current = new;
            }
            Err(e) => {
                shared.metrics.reload("invalid");
                tracing::error!(error = %e, path = %path.display(), "reload refused; keeping the previous routes");
            }
        }
    }
}
