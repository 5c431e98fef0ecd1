//! `tickets`: a small service behind Warden, the way any of your services
//! would sit there. It
//!
//! - trusts **only warden-verify**: each request's bearer token is checked
//!   locally (keys from Warden's JWKS, revocations from its feed and bus),
//!   never by calling Warden;
//! - decides with **roles** from the token: `user` sees their own tickets,
//!   `admin` everyone's;
//! - keeps **its own data** (SQLite or PostgreSQL, its own migrations) and
//!   is **fed by events**: `user.created` replicates the user's e-mail,
//!   `user.deleted` deletes that user's tickets.
//!
//! ```no_run
//! # async fn run() -> anyhow::Result<()> {
//! use clap::Parser as _;
//!
//! let config = tickets::Config::parse(); // flags and TICKETS_* variables
//! let service = tickets::Service::build(&config).await?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! service.serve(listener, std::future::pending()).await
//! # }
//! ```

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod domain;
pub mod events;
pub mod http;
pub mod store;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use warden_events::BusNames;
use warden_verify::{RevocationFeed, Verifier};

pub use http::{AppState, router};
pub use store::Store;

/// Settings, from flags or `TICKETS_*` environment variables.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "tickets", about = "The tickets demo service behind Warden")]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "TICKETS_LISTEN", default_value = "127.0.0.1:4001")]
    pub listen: SocketAddr,
    /// `sqlite://tickets.db` (created if missing) or `postgres://...`.
    #[arg(
        long,
        env = "TICKETS_DATABASE_URL",
        default_value = "sqlite://tickets.db"
    )]
    pub database_url: String,
    /// Warden's issuer URL: the `iss` tokens must carry (its WARDEN_ISSUER).
    #[arg(long, env = "TICKETS_ISSUER", default_value = "http://127.0.0.1:8080")]
    pub issuer: String,
    /// Where to reach Warden, when not at the issuer URL (`http://warden:8080`).
    #[arg(long, env = "TICKETS_WARDEN_URL")]
    pub warden_url: Option<String>,
    /// The audience tokens must carry.
    #[arg(long, env = "TICKETS_AUDIENCE", default_value = "warden")]
    pub audience: String,
    /// Warden's event bus (`nats://...` or `amqp://...`): deletions and
    /// instant revocations. Without it, revocations are polled and deleted
    /// users keep their tickets.
    #[arg(long, env = "TICKETS_EVENTS_URL")]
    pub events_url: Option<String>,
    /// Subject prefix / routing-key prefix of Warden's events.
    #[arg(long, env = "TICKETS_EVENTS_SUBJECT_PREFIX", default_value = "warden")]
    pub events_subject_prefix: String,
    /// JetStream stream of Warden's events.
    #[arg(long, env = "TICKETS_EVENTS_STREAM", default_value = "WARDEN")]
    pub events_stream: String,
    /// RabbitMQ exchange of Warden's events.
    #[arg(long, env = "TICKETS_EVENTS_EXCHANGE", default_value = "warden")]
    pub events_exchange: String,
    /// File holding the credential for Warden's revocation feed (its
    /// WARDEN_REVOCATIONS_TOKEN); or set TICKETS_REVOCATIONS_TOKEN. Needed
    /// unless Warden is on this host's loopback.
    #[arg(long, env = "TICKETS_REVOCATIONS_TOKEN_FILE")]
    pub revocations_token_file: Option<PathBuf>,
    /// The credential itself (environment only, never a flag: flags show in `ps`).
    #[arg(skip)]
    pub revocations_token: Option<String>,
}

impl Config {
    fn bus_names(&self) -> BusNames {
        BusNames {
            subject_prefix: self.events_subject_prefix.clone(),
            stream: self.events_stream.clone(),
            exchange: self.events_exchange.clone(),
        }
    }

    fn revocations_token(&self) -> anyhow::Result<Option<String>> {
        if let Some(path) = &self.revocations_token_file {
            let token = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            return Ok(Some(token.trim().to_owned()));
        }
        Ok(self.revocations_token.clone())
    }
}

/// The assembled service: store, verifier, event consumer.
pub struct Service {
    state: AppState,
    store: Arc<Store>,
    consumer: Option<events::Consumer>,
}

impl Service {
    /// Connects the store (migrating it), builds the verifier and starts the
    /// event consumer. Warden may still be down: the verifier keeps trying
    /// and `/readyz` says so.
    pub async fn build(config: &Config) -> anyhow::Result<Service> {
        let store = Arc::new(
            Store::connect(&config.database_url)
                .await
                .context("opening the tickets database")?,
        );
        let mut feed = RevocationFeed::default();
        if let Some(token) = config.revocations_token()? {
            feed = feed.service_token(token);
        }
        if let Some(url) = &config.events_url {
            feed = feed.bus(url).bus_names(config.bus_names());
        }
        let mut verifier = Verifier::builder()
            .issuer(&config.issuer)
            .audience(&config.audience)
            .revocations(feed);
        if let Some(url) = &config.warden_url {
            verifier = verifier.endpoint(url);
        }
        let verifier = verifier
            .build()
            .await
            .context("configuring warden-verify")?;
        let consumer = match &config.events_url {
            Some(url) => Some(
                events::Consumer::start(url, config.bus_names(), &config.issuer, store.clone())
                    .context("subscribing to Warden's events")?,
            ),
            None => None,
        };
        let state = AppState::new(
            verifier,
            store.clone(),
            consumer.as_ref().map(events::Consumer::status),
        );
        Ok(Service {
            state,
            store,
            consumer,
        })
    }

    /// The HTTP routes.
    pub fn router(&self) -> axum::Router {
        router(self.state.clone())
    }

    /// Whether the event subscription is connected (`false` without a bus).
    pub fn is_consuming_events(&self) -> bool {
        self.consumer
            .as_ref()
            .is_some_and(|c| c.status().is_connected())
    }

    /// Serves on `listener` until `shutdown` completes, then closes the store.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP")?;
        drop(self.consumer);
        self.store.close().await;
        Ok(())
    }
}
