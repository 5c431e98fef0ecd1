//! Wiring: concrete adapters chosen from configuration, the domain service,
//! the HTTP and gRPC servers and their graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use rand::RngCore as _;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use warden_core::model::LockoutPolicy;
use warden_core::ports::{Clock, Store};
use warden_core::{
    AuthService, AuthSettings, HashParams, PasswordHasher, PasswordPolicy, PoolLimits,
};
use warden_http::metrics::Metrics;
use warden_http::{AppState, HttpConfig};
use warden_store::{AnyStore, KeyCipher, StoreOptions};

use crate::config::{Config, decode_kek};

/// Name of the generated key-encryption key inside the data dir.
pub const KEK_FILE: &str = "keys-encryption.key";

/// Opens the configured store (creating the data dir for the embedded
/// default) with the key-encryption key, for commands that sign.
pub async fn open_store(config: &Config) -> anyhow::Result<AnyStore> {
    config.check_signing()?;
    create_data_dir(config)?;
    let kek = keys_encryption_key(config)?;
    connect(config, KeyCipher::from(kek)).await
}

/// Opens the configured store for commands that never touch signing keys
/// (`user add`, `migrate`): the key-encryption key is used when there is
/// one, never generated, and not required.
pub async fn open_store_without_signing(config: &Config) -> anyhow::Result<AnyStore> {
    create_data_dir(config)?;
    let cipher = match existing_keys_encryption_key(config)? {
        Some(kek) => KeyCipher::from(kek),
        None => KeyCipher::none(),
    };
    connect(config, cipher).await
}

fn create_data_dir(config: &Config) -> anyhow::Result<()> {
    if config.is_embedded_database() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
    }
    Ok(())
}

async fn connect(config: &Config, cipher: KeyCipher) -> anyhow::Result<AnyStore> {
    let url = config.database_url();
    AnyStore::connect(&url, cipher, &store_options(config))
        .await
        .with_context(|| format!("opening the database at {}", redact_url(&url)))
}

/// Pool and timeout settings from configuration.
pub fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        max_connections: config.database.max_connections,
        acquire_timeout: config.database.timeout,
        statement_timeout: config.database.statement_timeout,
    }
}

pub use crate::config::redact_url;

/// The key that encrypts signing keys at rest: configured, or generated once
/// into the data dir for the embedded default.
fn keys_encryption_key(config: &Config) -> anyhow::Result<[u8; 32]> {
    if let Some(key) = existing_keys_encryption_key(config)? {
        return Ok(key);
    }
    let path = config.data_dir.join(KEK_FILE);
    let mut key = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    write_private(
        &path,
        &base64::engine::general_purpose::STANDARD.encode(key),
    )?;
    Ok(key)
}

/// The configured key-encryption key, or the one generated earlier into
/// the data dir.
pub(crate) fn existing_keys_encryption_key(config: &Config) -> anyhow::Result<Option<[u8; 32]>> {
    if let Some(key) = &config.keys.encryption_key {
        return Ok(Some(*key.expose()));
    }
    let path = config.data_dir.join(KEK_FILE);
    if !config.is_embedded_database() || !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    decode_kek(&text).map(Some)
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Domain settings from configuration.
pub fn auth_settings(config: &Config) -> AuthSettings {
    let mut settings = AuthSettings::new(config.issuer());
    settings.audience = config.tokens.audience.clone();
    settings.algorithm = config.tokens.algorithm;
    settings.access_token_ttl = chrono_duration(config.tokens.access_ttl);
    settings.access_token_kind = config.tokens.access;
    settings.session_cache_ttl = chrono_duration(config.tokens.session_cache);
    settings.key_activation_delay = chrono_duration(config.keys.activation_delay);
    settings.leeway = chrono_duration(config.tokens.leeway);
    settings.session_ttl = chrono_duration(config.sessions.ttl);
    settings.idle_timeout = chrono_duration(config.sessions.idle_timeout);
    settings.refresh_reuse_grace = chrono_duration(config.sessions.refresh_reuse_grace);
    settings.lockout = LockoutPolicy {
        threshold: config.signin.lockout_threshold,
        base: chrono_duration(config.signin.lockout_base),
        max: chrono_duration(config.signin.lockout_max),
    };
    settings.ip_failures_per_minute = config.signin.ip_failures_per_minute;
    settings.password_policy = PasswordPolicy {
        min_chars: config.passwords.min_length,
        max_chars: config.passwords.max_length,
        min_score: config.passwords.min_score,
    };
    settings.access_policy = config.verify.policy.clone();
    settings.public_url = config.public_url();
    settings.signup_enabled = config.signup.enabled;
    settings.require_verified_email = config.signup.require_verified_email;
    settings.link_lifetimes = warden_core::links::LinkLifetimes {
        verify_email: chrono_duration(config.links.verify_email),
        password_reset: chrono_duration(config.links.password_reset),
        email_change: chrono_duration(config.links.email_change),
    };
    settings.forgot_per_ip_per_minute = config.links.forgot_per_ip_per_minute;
    settings.totp_issuer = config.ui.branding.product_name.clone();
    settings.mfa_required_for_roles = config.mfa.required_for_roles.clone();
    settings.oauth_require_pkce = config.oauth2.require_pkce;
    // Checked when the configuration loaded; the defaults stand otherwise.
    if let Ok(webauthn) = config.webauthn() {
        settings.webauthn = webauthn;
    }
    settings
}

/// The domain counts in `chrono` durations; one too long for them is
/// as good as forever.
fn chrono_duration(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

/// The password hasher from configuration.
pub fn hasher(config: &Config) -> anyhow::Result<PasswordHasher> {
    let defaults = PoolLimits::default();
    let limits = PoolLimits {
        max_concurrent: config
            .passwords
            .max_concurrent_hashes
            .unwrap_or(defaults.max_concurrent),
        max_queued: config
            .passwords
            .max_queued_hashes
            .unwrap_or(defaults.max_queued),
    };
    let params = HashParams {
        memory_kib: config.passwords.argon2_memory_kib,
        iterations: config.passwords.argon2_iterations,
        parallelism: config.passwords.argon2_parallelism,
    };
    Ok(PasswordHasher::new(params, limits)?)
}

/// Opens the store, migrates it when configured, and starts the domain service.
pub async fn start_auth(
    config: &Config,
    clock: Arc<dyn Clock>,
    migrate: bool,
) -> anyhow::Result<Arc<AuthService>> {
    let store = open_store(config).await?;
    if migrate {
        store.migrate().await.context("applying migrations")?;
    }
    let store: Arc<dyn Store> = store.into_store_with(&store_options(config));
    let auth = AuthService::start(store, clock, hasher(config)?, auth_settings(config))
        .await
        .context("starting the service")?;
    Ok(Arc::new(auth))
}

/// A running server (HTTP and gRPC).
pub struct Running {
    /// Where HTTP listens.
    pub addr: SocketAddr,
    /// Where gRPC listens.
    pub grpc_addr: SocketAddr,
    /// The domain service it serves.
    pub auth: Arc<AuthService>,
    /// Completes when both servers have drained and stopped.
    pub task: JoinHandle<anyhow::Result<()>>,
}

/// Binds the HTTP and gRPC listeners and serves until `shutdown` completes,
/// then drains in-flight requests on both and stops the outbox relay and
/// the mail worker (which finishes the message it is sending).
pub async fn serve(
    config: &Config,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    serve_traced(config, clock, None, shutdown).await
}

/// [`serve`], with `trace_context` continuing callers' traces on every
/// HTTP request and gRPC call (see [`crate::telemetry::trace_context_hook`]).
pub async fn serve_traced(
    config: &Config,
    clock: Arc<dyn Clock>,
    trace_context: Option<warden_http::TraceContextFn>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Running> {
    config.validate_serving()?;
    // Read once: the HTTP API and ext_authz answer with the same settings.
    let sign_in = config.verify.sign_in.clone();
    let allowed_origins = config.allowed_origins();
    // Before anything opens the embedded database: a second server on the
    // same file would sign with keys the first refuses.
    let lock = if config.is_embedded_database() {
        create_data_dir(config)?;
        Some(crate::lock::DataDirLock::acquire(&config.data_dir)?)
    } else {
        None
    };
    let auth = start_auth(config, clock.clone(), config.migrate_on_start).await?;
    let events = crate::events::start(config, &auth, clock.clone())?;
    let metrics = Arc::new(Metrics::new());
    let mail = crate::mail::start(config, auth.store(), clock.clone(), metrics.clone())?;
    let mail_grace = crate::mail::stop_grace(config);
    // After start_auth: the key-encryption key exists by now.
    let social = warden_http::SocialConfig {
        providers: crate::social::providers(config).await?,
        auto_link_verified_email: config.oauth.auto_link_verified_email,
        sealer: warden_http::oauth_flow::FlowSealer::new(&crate::social::flow_key(
            &keys_encryption_key(config)?,
        )),
    };
    let state = AppState {
        auth: auth.clone(),
        config: Arc::new(HttpConfig {
            trusted_proxies: config.trusted_proxies.clone(),
            allowed_origins: allowed_origins.clone(),
            cors_origins: config.cors_origins(),
            request_timeout: config.http.request_timeout,
            revocations_token: config
                .revocations_token
                .as_ref()
                .map(|t| t.expose().to_owned()),
            sign_in: sign_in.clone(),
            trace_context,
            social,
        }),
        metrics: metrics.clone(),
        readiness: events.readiness.clone(),
        relay: Some(events.relay.clone()),
    };
    // Before binding: every listener's cap is clamped below this limit.
    let fd_limit = warden_listen::raise_fd_limit();
    let listener = TcpListener::bind(config.http.listen)
        .await
        .with_context(|| format!("binding {}", config.http.listen))?;
    let addr = listener.local_addr()?;
    let grpc_listener = TcpListener::bind(config.grpc.listen)
        .await
        .with_context(|| format!("binding {} (gRPC)", config.grpc.listen))?;
    let grpc_addr = grpc_listener.local_addr()?;
    let housekeeping = tokio::spawn(housekeeping(auth.clone()));
    let follower = tokio::spawn(follow_revocations(auth.clone()));
    let pages = warden_pages::Pages::build(
        &warden_pages::PagesConfig {
            branding: config.ui.branding.clone(),
            // `rd` may return to any allowed origin after a form's POST.
            form_action_origins: allowed_origins.clone(),
        },
        &auth.settings().issuer,
    )
    .context("building the hosted pages")?;
    let app = warden_http::router_with(state.clone(), warden_pages::router(state, Arc::new(pages)));
    // One shutdown signal, seen by both servers.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let grpc = warden_grpc::serve(
        grpc_listener,
        auth.clone(),
        warden_grpc::GrpcConfig {
            request_timeout: config.http.request_timeout,
            readiness: Some(events.readiness.clone()),
            trace_context,
            sign_in,
            allowed_origins,
            observer: Some(warden_grpc::CallObserver::new(
                move |method, code, elapsed| {
                    metrics.record_grpc(method, code, elapsed);
                },
            )),
            idle_timeout: config.grpc.idle_timeout,
            max_connections: warden_listen::connection_cap(
                config.grpc.max_connections,
                fd_limit,
                2,
            ),
            max_concurrent_streams: config.grpc.max_concurrent_streams,
        },
        stopped(),
    );
    let http_limits = warden_listen::Limits {
        header_read_timeout: config.http.header_read_timeout,
        idle_timeout: config.http.idle_timeout,
        max_connections: warden_listen::connection_cap(config.http.max_connections, fd_limit, 2),
    };
    let http = warden_listen::Server::new(listener, http_limits).serve(
        move |peer: SocketAddr| {
            let app = app.clone();
            hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                tower::ServiceExt::oneshot(app.clone(), request)
            })
        },
        stopped(),
    );
    let task = tokio::spawn(async move {
        let ((), grpc) = tokio::join!(http, async {
            grpc.await
                .map_err(|e| anyhow::anyhow!(e))
                .context("serving gRPC")
        });
        housekeeping.abort();
        follower.abort();
        events.stop().await;
        if let Some(mail) = mail {
            mail.stop(mail_grace).await;
        }
        drop(lock);
        grpc
    });
    Ok(Running {
        addr,
        grpc_addr,
        auth,
        task,
    })
}

/// Every second, the revocations other instances committed (see
/// [`AuthService::follow_revocations`]).
async fn follow_revocations(auth: Arc<AuthService>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = auth.follow_revocations().await {
            tracing::debug!(error = %e, "following revocations failed");
        }
    }
}

async fn housekeeping(auth: Arc<AuthService>) {
    let mut tick = tokio::time::interval(Duration::from_secs(
        warden_core::keys::RELOAD_INTERVAL_SECS.unsigned_abs(),
    ));
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = auth.housekeeping().await {
            tracing::warn!(error = %e, "housekeeping failed");
        }
    }
}

/// Resolves on ctrl-c or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn database_passwords_never_reach_messages() {
        assert_eq!(
            redact_url("postgres://warden:s3cr%40t@db.internal:5432/warden?sslmode=require"),
            "postgres://warden:[redacted]@db.internal:5432/warden?sslmode=require"
        );
        // An '@' inside the password: the last one ends the credentials.
        assert_eq!(
            redact_url("mysql://root:p@ss@127.0.0.1:3306/test"),
            "mysql://root:[redacted]@127.0.0.1:3306/test"
        );
        assert_eq!(
            redact_url("postgres://warden@db/warden"),
            "postgres://warden@db/warden"
        );
        assert_eq!(
            redact_url("sqlite://./warden-data/warden.db"),
            "sqlite://./warden-data/warden.db"
        );
    }
}
