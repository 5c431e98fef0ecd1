//! The `warden` command line.

mod users;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use warden_core::clients::{ClientKind, ClientSettings, GrantType, OAuthClient};
use warden_core::model::Actor;
use warden_core::ports::{Clock as _, Store, SystemClock};
use warden_core::{ClientRegistry, RequestContext};

pub use users::UserCommand;

use crate::app;
use crate::config::{
    Config, EventsOverride, GrpcOverride, HttpOverride, LogFormat, LogOverride, Overrides,
};
use crate::telemetry;

/// Warden: authentication for microservice systems.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, env = "WARDEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (embedded database, generated keys).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database: `sqlite://path/warden.db` (the default, in the data dir),
    /// `postgres://user:pass@host/db` or `mysql://user:pass@host/db`.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Event bus: `nats://host:4222` or `amqp://user:pass@host:5672/%2f`.
    #[arg(long, global = true)]
    pub events_url: Option<String>,
    /// Log format.
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve {
        /// HTTP listen address.
        #[arg(long)]
        http: Option<SocketAddr>,
        /// gRPC listen address (default 127.0.0.1:50051).
        #[arg(long)]
        grpc: Option<SocketAddr>,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Manage users, straight on the database (beside a running server).
    User {
        /// Print JSON for scripts instead of text for people.
        #[arg(long, global = true)]
        json: bool,
        /// Action.
        #[command(subcommand)]
        action: UserCommand,
    },
    /// Manage the OAuth clients Warden serves as a provider.
    Client {
        /// Action.
        #[command(subcommand)]
        action: ClientCommand,
    },
    /// Manage signing keys.
    Keys {
        /// Action.
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Run the reverse proxy that verifies tokens locally (`--config gateway.toml`).
    Gateway {
        /// Validate the gateway configuration and exit.
        #[arg(long)]
        check: bool,
    },
    /// Inspect configuration.
    Config {
        /// Action.
        #[command(subcommand)]
        action: ConfigCommand,
    },
}

/// `warden client ...`.
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints its id, and a confidential client's secret
    /// this once (only its hash is kept).
    Add {
        /// Shown on the consent page.
        #[arg(long)]
        name: String,
        /// `public` (browser or native app, PKCE) or `confidential` (holds a secret).
        #[arg(long = "type", value_parser = parse_client_kind)]
        kind: ClientKind,
        /// Where sign-in may return to (repeatable); matched exactly.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        /// Where sign-out may return to (repeatable).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// `authorization_code`, `refresh_token` or `client_credentials`
        /// (repeatable); `authorization_code` when none is given.
        #[arg(long = "grant", value_parser = parse_grant)]
        grants: Vec<GrantType>,
        /// A scope it may ask for (repeatable).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Operated by whoever runs Warden: no consent page.
        #[arg(long)]
        first_party: bool,
    },
    /// List the clients.
    List,
    /// Give a confidential client a new secret (printed this once); the old one stops working.
    RotateSecret {
        /// Its client id.
        id: String,
    },
    /// Delete a client.
    Delete {
        /// Its client id.
        id: String,
    },
}

fn parse_client_kind(raw: &str) -> Result<ClientKind, String> {
    ClientKind::parse(raw).ok_or_else(|| "expected `public` or `confidential`".to_owned())
}

fn parse_grant(raw: &str) -> Result<GrantType, String> {
    GrantType::parse(raw).ok_or_else(|| {
        "expected `authorization_code`, `refresh_token` or `client_credentials`".to_owned()
    })
}

/// `warden keys ...`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Make a new key the signer; the old one stays published until its tokens expire.
    Rotate,
    /// List the stored keys.
    List,
}

/// `warden config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print it with secrets redacted.
    Check,
}

impl Cli {
    /// Loads configuration for this invocation.
    pub fn load_config(&self) -> anyhow::Result<Config> {
        let env: Vec<(String, String)> = std::env::vars().collect();
        let (http, grpc) = match &self.command {
            Command::Serve { http, grpc } => (
                http.map(|listen| HttpOverride { listen }),
                grpc.map(|listen| GrpcOverride { listen }),
            ),
            _ => (None, None),
        };
        let overrides = Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            http,
            grpc,
            log: self.log_format.map(|format| LogOverride { format }),
            events: self.events_url.clone().map(|url| EventsOverride { url }),
        };
        Config::load(self.config.as_deref(), &env, &overrides)
    }
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // The gateway has its own file format: `--config` names gateway.toml.
    if let Command::Gateway { check } = cli.command {
        let path = cli
            .config
            .context("warden gateway needs --config gateway.toml")?;
        return gateway(&path, check, cli.log_format.unwrap_or(LogFormat::Pretty)).await;
    }
    let config = cli.load_config()?;
    let serving = matches!(cli.command, Command::Serve { .. });
    let telemetry = telemetry::init(&config.log, serving.then_some(&config.otel))?;
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    match cli.command {
        Command::Serve { .. } => {
            let result = serve(config, &telemetry).await;
            telemetry.shutdown();
            result
        }
        Command::Gateway { .. } => Err(anyhow::anyhow!(
            "warden gateway is dispatched before the service configuration loads"
        )),
        Command::Migrate => {
            let store = app::open_store_without_signing(&config).await?;
            store.migrate().await.context("applying migrations")?;
            println!(
                "database at {} is up to date",
                app::redact_url(&config.database_url())
            );
            Ok(())
        }
        Command::User { json, action } => users::run(&config, action, json).await,
        Command::Client { action } => client(&config, action).await,
        Command::Keys { action } => {
            let store = app::open_store(&config).await?;
            store.migrate().await.context("applying migrations")?;
            let store: Arc<dyn Store> = store.into_store();
            let settings = app::auth_settings(&config);
            match action {
                KeysCommand::Rotate => {
                    let key = warden_core::keys::rotate(&*store, &SystemClock, settings.algorithm)
                        .await?;
                    println!(
                        "new signing key {} ({}): running servers publish it in their JWKS \
                         within 30 s and sign with it from {}",
                        key.kid,
                        key.algorithm,
                        (key.created_at + settings.key_activation_delay).to_rfc3339()
                    );
                }
                KeysCommand::List => {
                    let now = SystemClock.now();
                    let keys = warden_core::keys::list(&*store, now, settings.key_activation_delay)
                        .await?;
                    for key in keys {
                        println!(
                            "{}\t{}\tcreated {}\t{}",
                            key.kid,
                            key.algorithm,
                            key.created_at.to_rfc3339(),
                            match (key.is_active, key.signs_from, key.retired_at) {
                                (true, _, _) => "active".to_owned(),
                                (false, Some(at), _) if at > now => {
                                    format!("published, signs from {}", at.to_rfc3339())
                                }
                                (false, _, Some(at)) => format!("retired {}", at.to_rfc3339()),
                                (false, _, None) => "inactive".to_owned(),
                            }
                        );
                    }
                }
            }
            Ok(())
        }
        Command::Config {
            action: ConfigCommand::Check,
        } => {
            print!("{}", config.to_redacted_toml()?);
            // The values a newcomer asks about first, as they take effect
            // (defaults filled in), kept valid TOML as comments.
            println!();
            println!("# effective issuer: {}", config.issuer());
            println!(
                "# effective database: {}",
                app::redact_url(&config.database_url())
            );
            println!(
                "# effective allowed_origins: {}",
                config.allowed_origins().join(", ")
            );
            println!("# effective mail transport: {}", config.mail.describe());
            eprintln!("configuration is valid");
            Ok(())
        }
    }
}

async fn serve(config: Config, telemetry: &telemetry::Telemetry) -> anyhow::Result<()> {
    let running = app::serve_traced(
        &config,
        Arc::new(SystemClock),
        telemetry::trace_context_hook(telemetry),
        app::shutdown_signal(),
    )
    .await?;
    println!(
        "Warden listening on http://{} and gRPC {} (issuer {}); data in {}",
        running.addr,
        running.grpc_addr,
        config.issuer(),
        if config.database_url.is_some() {
            app::redact_url(&config.database_url())
        } else {
            config.data_dir.display().to_string()
        }
    );
    tracing::info!(addr = %running.addr, grpc = %running.grpc_addr, "listening");
    running.task.await.context("server task")??;
    tracing::info!("stopped");
    Ok(())
}

async fn gateway(path: &std::path::Path, check: bool, log_format: LogFormat) -> anyhow::Result<()> {
    if check {
        let config = warden_gateway::Config::load(path)?;
        eprintln!(
            "gateway configuration is valid: {} route(s), listening on {}",
            config.routes.len(),
            config.listen
        );
        return Ok(());
    }
    // The gateway exports no spans of its own yet; it forwards traceparent.
    let log = crate::config::LogSection {
        format: log_format,
        level: "info".into(),
    };
    let _telemetry = telemetry::init(&log, None)?;
    let running = warden_gateway::start(path, app::shutdown_signal()).await?;
    let admin = running
        .admin_addr
        .map(|a| format!("http://{a}"))
        .unwrap_or_else(|| "off".to_owned());
    println!(
        "warden gateway listening on http://{} (admin {admin}); {} route(s)",
        running.addr, running.routes
    );
    tracing::info!(addr = %running.addr, admin = %admin, "gateway listening");
    running.task.await.context("gateway task")?;
    tracing::info!("gateway stopped");
    Ok(())
}

/// Says on stderr which data dir or database a command used; `what` names
/// what a new data dir now holds.
pub(crate) fn say_where(config: &Config, new_data_dir: bool, what: &str) {
    if config.is_embedded_database() {
        let dir =
            std::fs::canonicalize(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
        let dir = dir.display();
        if new_data_dir {
            eprintln!(
                "data dir {dir} was new and now holds {what}; if your server uses another one, \
                 pass --data-dir or WARDEN_DATA_DIR"
            );
        } else {
            eprintln!("in data dir {dir}");
        }
    } else {
        eprintln!("in database {}", app::redact_url(&config.database_url()));
    }
}

/// The store, migrated, without the signing keys: what the commands that
/// manage accounts and clients need, so they run against a shared database
/// without the key-encryption key.
pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let store = app::open_store_without_signing(config).await?;
    store.migrate().await.context("applying migrations")?;
    Ok(store.into_store_with(&app::store_options(config)))
}

async fn client(config: &Config, action: ClientCommand) -> anyhow::Result<()> {
    let new_data_dir = config.is_embedded_database() && !config.data_dir.exists();
    // Only `add` and `list` get as far as saying where they ran with a new
    // data dir: the others fail first, as the client is not there.
    let held = match action {
        ClientCommand::Add { .. } => "this client",
        _ => "no clients",
    };
    let clients = ClientRegistry::new(
        open_store(config).await?,
        Arc::new(SystemClock),
        app::auth_settings(config).revocation_ttl(),
    );
    let ctx = RequestContext::default();
    let failed = |e: warden_core::CoreError| anyhow::anyhow!("{e}");
    match action {
        ClientCommand::Add {
            name,
            kind,
            redirect_uris,
            post_logout_redirect_uris,
            grants,
            scopes,
            first_party,
        } => {
            let defaults = ClientSettings::default();
            let settings = ClientSettings {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types: if grants.is_empty() {
                    defaults.grant_types
                } else {
                    grants
                },
                scopes,
                first_party,
                ..defaults
            };
            let (client, secret) = clients
                .create(Some(Actor::Cli), kind, settings, &ctx)
                .await
                .map_err(failed)?;
            println!("client_id {}", client.id);
            if let Some(secret) = secret {
                println!("client_secret {}", secret.expose());
                eprintln!("the secret is shown this once: Warden keeps only its hash");
            }
        }
        ClientCommand::List => {
            let mut cursor: Option<String> = None;
            loop {
                let page = clients
                    .list(cursor.as_deref(), Some(warden_core::service::MAX_PAGE))
                    .await
                    .map_err(failed)?;
                for client in &page.items {
                    println!("{}", client_line(client));
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        ClientCommand::RotateSecret { id } => {
            let (client, secret) = clients
                .rotate_secret(Some(Actor::Cli), &id, &ctx)
                .await
                .map_err(failed)?;
            println!("client_secret {}", secret.expose());
            eprintln!(
                "client {} has a new secret, shown this once; the old one no longer works",
                client.id
            );
        }
        ClientCommand::Delete { id } => {
            clients
                .delete(Some(Actor::Cli), &id, &ctx)
                .await
                .map_err(failed)?;
            println!("deleted client {id}");
        }
    }
    say_where(config, new_data_dir, held);
    Ok(())
}

/// One client of `warden client list`: id, type, name, grants, redirect URIs.
fn client_line(client: &OAuthClient) -> String {
    let grants: Vec<&str> = client.grant_types.iter().map(GrantType::as_str).collect();
    let uris: Vec<&str> = client.redirect_uris.iter().map(|u| u.as_str()).collect();
    format!(
        "{}\t{}\t{}\t{}\t{}",
        client.id,
        client.kind.as_str(),
        client.name,
        grants.join(","),
        uris.join(" ")
    )
}
