//! Layered configuration: defaults, a TOML file (`--config`), `WARDEN_*`
//! environment variables (`WARDEN_<SECTION>_<KEY>`, `_FILE` variants for
//! secrets), then flags. Unknown keys are an error naming the key.
//!
//! One file per section (`tokens.rs` holds `[tokens]` and `[sessions]`,
//! `listeners.rs` `[http]` and `[grpc]`, ...), the environment layer in
//! `env.rs`, secrets and their redaction in `redact.rs`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use figment::Figment;
use figment::providers::{Format as _, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};

mod database;
mod env;
mod events;
mod keys;
mod listeners;
mod passwords;
mod redact;
mod telemetry;
mod tokens;
mod verify;

pub use database::DatabaseSection;
pub use events::EventsSection;
pub use keys::{KeysSection, decode_kek};
pub use listeners::{GrpcSection, HttpSection};
pub use passwords::{PasswordsSection, SigninSection};
pub use redact::{Secret, redact_url};
pub use telemetry::{LogFormat, LogSection, OtelSection};
pub use tokens::{AccessMode, SessionsSection, TokensSection};
pub use verify::{VerifyRule, VerifySection};

/// Everything `warden serve` can be told.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// What loading noticed but did not refuse (unknown `WARDEN_*`
    /// variables), for the caller to log once logging is up.
    #[serde(skip)]
    pub warnings: Vec<String>,
    /// Where the embedded database and generated key live.
    pub data_dir: PathBuf,
    /// `sqlite://...` (default `<data_dir>/warden.db`).
    pub database_url: Option<String>,
    /// File holding `database_url` (Kubernetes secrets: the URL carries the
    /// database password).
    pub database_url_file: Option<PathBuf>,
    /// Public base URL: the `iss` claim and discovery. Default `http://<http.listen>`.
    pub issuer: Option<String>,
    /// CIDRs whose `X-Forwarded-For` is believed.
    #[serde(deserialize_with = "list")]
    pub trusted_proxies: Vec<String>,
    /// Origins allowed for cookie-authenticated state changes (default: the issuer's origin).
    #[serde(deserialize_with = "list")]
    pub allowed_origins: Vec<String>,
    /// Apply pending migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// HTTP listener.
    pub http: HttpSection,
    /// gRPC listener.
    pub grpc: GrpcSection,
    /// Database pool and timeouts.
    pub database: DatabaseSection,
    /// Access tokens.
    pub tokens: TokensSection,
    /// Sessions and refresh tokens.
    pub sessions: SessionsSection,
    /// Password policy and hashing.
    pub passwords: PasswordsSection,
    /// Sign-in throttling.
    pub signin: SigninSection,
    /// Signing-key encryption.
    pub keys: KeysSection,
    /// Logging.
    pub log: LogSection,
    /// The event bus and the outbox relay.
    pub events: EventsSection,
    /// Forward-auth rules of `/v1/verify` and Envoy `ext_authz`.
    pub verify: VerifySection,
    /// OpenTelemetry trace export.
    pub otel: OtelSection,
    /// Bearer credential for `GET /v1/revocations`; unset: loopback peers only.
    pub revocations_token: Option<Secret>,
    /// File holding `revocations_token` (Kubernetes secrets).
    pub revocations_token_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            warnings: Vec::new(),
            data_dir: PathBuf::from("./warden-data"),
            database_url: None,
            database_url_file: None,
            issuer: None,
            trusted_proxies: Vec::new(),
            allowed_origins: Vec::new(),
            migrate_on_start: true,
            http: HttpSection::default(),
            grpc: GrpcSection::default(),
            database: DatabaseSection::default(),
            tokens: TokensSection::default(),
            sessions: SessionsSection::default(),
            passwords: PasswordsSection::default(),
            signin: SigninSection::default(),
            keys: KeysSection::default(),
            log: LogSection::default(),
            events: EventsSection::default(),
            verify: VerifySection::default(),
            otel: OtelSection::default(),
            revocations_token: None,
            revocations_token_file: None,
        }
    }
}

/// Accepts a list or a comma-separated string (as environment variables give).
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        Raw::Many(v) => v,
    })
}

/// Flags that override everything else.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `--http`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpOverride>,
    /// `--grpc`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcOverride>,
    /// `--log-format`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<LogOverride>,
    /// `--events-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<EventsOverride>,
}

/// `--events-url`.
#[derive(Debug, Serialize)]
pub struct EventsOverride {
    /// Bus URL.
    pub url: String,
}

/// `--http`.
#[derive(Debug, Serialize)]
pub struct HttpOverride {
    /// Listen address.
    pub listen: SocketAddr,
}

/// `--grpc`.
#[derive(Debug, Serialize)]
pub struct GrpcOverride {
    /// Listen address.
    pub listen: SocketAddr,
}

/// `--log-format`.
#[derive(Debug, Serialize)]
pub struct LogOverride {
    /// Format.
    pub format: LogFormat,
}

impl Config {
    /// Loads the layers in order. `env` is the process environment (passed
    /// in so tests need not mutate global state).
    pub fn load(
        file: Option<&Path>,
        env: &[(String, String)],
        overrides: &Overrides,
    ) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                bail!("configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let (mut figment, warnings) = env::merge(figment, env)?;
        figment = figment.merge(Serialized::globals(overrides));
        let mut config: Config = figment.extract().map_err(|e| {
            let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
            anyhow::anyhow!("invalid configuration: {}", messages.join("; "))
        })?;
        config.warnings = warnings;
        config.resolve_secret_files()?;
        config.validate()?;
        Ok(config)
    }

    fn resolve_secret_files(&mut self) -> anyhow::Result<()> {
        if let Some(path) = &self.database_url_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading database_url_file {}", path.display()))?;
            self.database_url = Some(text.trim().to_owned());
        }
        if let Some(path) = &self.keys.encryption_key_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading keys.encryption_key_file {}", path.display()))?;
            self.keys.encryption_key = Some(Secret::new(text.trim()));
        }
        if let Some(path) = &self.revocations_token_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading revocations_token_file {}", path.display()))?;
            self.revocations_token = Some(Secret::new(text.trim()));
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        let _: warden_token::Algorithm = self.tokens.algorithm.parse().map_err(|_| {
            anyhow::anyhow!(
                "tokens.algorithm must be EdDSA, ES256 or RS256, not {:?}",
                self.tokens.algorithm
            )
        })?;
        if self.tokens.session_cache_ms > 60_000 {
            bail!(
                "tokens.session_cache_ms must be at most 60000: revocations on other instances take effect after it"
            );
        }
        if self.tokens.leeway_secs > 60 {
            bail!("tokens.leeway_secs must be at most 60");
        }
        if self.keys.activation_delay_secs > 86_400 {
            bail!("keys.activation_delay_secs must be at most 86400 (one day)");
        }
        if self.sessions.refresh_reuse_grace_secs > 300 {
            bail!(
                "sessions.refresh_reuse_grace_secs must be at most 300: inside it a stolen refresh token is not detected at once"
            );
        }
        if self.tokens.access_ttl_secs == 0 || self.sessions.ttl_secs == 0 {
            bail!("token and session lifetimes must be positive");
        }
        if self.passwords.min_length == 0 || self.passwords.min_length > self.passwords.max_length {
            bail!("passwords.min_length must be between 1 and passwords.max_length");
        }
        if self.passwords.min_score > 4 {
            bail!("passwords.min_score must be 0-4");
        }
        for (name, value) in [
            (
                "http.header_read_timeout_secs",
                self.http.header_read_timeout_secs,
            ),
            ("http.idle_timeout_secs", self.http.idle_timeout_secs),
            ("http.max_connections", self.http.max_connections as u64),
            ("grpc.idle_timeout_secs", self.grpc.idle_timeout_secs),
            ("grpc.max_connections", self.grpc.max_connections as u64),
            (
                "grpc.max_concurrent_streams",
                u64::from(self.grpc.max_concurrent_streams),
            ),
        ] {
            if value == 0 {
                bail!("{name} must be more than zero");
            }
        }
        for cidr in &self.trusted_proxies {
            cidr.parse::<ipnet::IpNet>()
                .or_else(|_| cidr.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| anyhow::anyhow!("trusted_proxies: {cidr:?} is not a CIDR"))?;
        }
        if let Some(key) = &self.keys.encryption_key {
            decode_kek(key.expose())?;
        }
        self.events.validate()?;
        if self
            .revocations_token
            .as_ref()
            .is_some_and(|t| t.expose().len() < 16)
        {
            bail!("revocations_token must be at least 16 characters");
        }
        self.verify.policy()?;
        self.verify.sign_in()?;
        self.otel.validate()?;
        if self.database.max_connections == 0 || self.database.timeout_ms == 0 {
            bail!("database.max_connections and database.timeout_ms must be positive");
        }
        Ok(())
    }

    /// Checks what commands that sign tokens or manage signing keys need
    /// beyond [`Config::load`]: with a shared database, the key-encryption
    /// key. Commands that never sign (`user add`, `migrate`) skip this.
    pub fn check_signing(&self) -> anyhow::Result<()> {
        if self.keys.encryption_key.is_none() && !self.is_embedded_database() {
            bail!(
                "keys.encryption_key (WARDEN_KEYS_ENCRYPTION_KEY or _FILE) is required with a shared database, so every instance can use the same signing keys"
            );
        }
        Ok(())
    }

    /// What `serve` needs beyond [`Config::load`]'s checks: with a shared
    /// database, an explicit `issuer`. Instances sharing the database share
    /// signing keys; without one each would default to its own listen
    /// address and refuse the others' tokens (issue 21).
    pub fn validate_serving(&self) -> anyhow::Result<()> {
        if self.issuer.as_deref().is_none_or(|i| i.trim().is_empty())
            && !self.is_embedded_database()
        {
            bail!(
                "issuer (WARDEN_ISSUER) is required with a shared database, so every instance issues and accepts tokens as the same issuer (for example WARDEN_ISSUER=https://auth.example.com, the public URL clients reach)"
            );
        }
        Ok(())
    }

    /// The issuer URL.
    pub fn issuer(&self) -> String {
        self.issuer
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.http.listen))
            .trim_end_matches('/')
            .to_owned()
    }

    /// Whether the database is the embedded SQLite file (single process).
    pub fn is_embedded_database(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    /// The database URL.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("warden.db").display()))
    }

    /// Parsed trusted proxies.
    pub fn trusted_proxies(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies
            .iter()
            .filter_map(|c| {
                c.parse::<ipnet::IpNet>()
                    .ok()
                    .or_else(|| c.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
            })
            .collect()
    }

    /// Allowed origins: configured, or the issuer's origin. Without a
    /// configured issuer on a loopback listener, both spellings a developer
    /// types (`127.0.0.1` and `localhost`) are allowed.
    pub fn allowed_origins(&self) -> Vec<String> {
        if !self.allowed_origins.is_empty() {
            return self.allowed_origins.clone();
        }
        let mut origins = vec![origin_of(&self.issuer())];
        if self.issuer.is_none() && self.http.listen.ip().is_loopback() {
            let localhost = format!("http://localhost:{}", self.http.listen.port());
            if !origins.contains(&localhost) {
                origins.push(localhost);
            }
        }
        origins
    }
}

/// `scheme://host[:port]` of a URL: what a browser sends as `Origin`.
fn origin_of(url: &str) -> String {
    match url.find("://") {
        Some(scheme) => match url[scheme + 3..].find('/') {
            Some(path) => url[..scheme + 3 + path].to_owned(),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Test helper: an environment from pairs.
#[cfg(test)]
pub(crate) fn test_env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::test_env as env;
    use super::*;

    #[test]
    fn defaults_listen_on_loopback_with_embedded_sqlite() {
        let config = Config::load(None, &[], &Overrides::default()).unwrap();
        assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(config.tokens.access, AccessMode::Jwt);
        assert_eq!(config.database_url(), "sqlite://./warden-data/warden.db");
        assert_eq!(config.issuer(), "http://127.0.0.1:8080");
    }

    #[test]
    fn bad_values_are_refused() {
        for (k, v) in [
            ("WARDEN_TOKENS_ALGORITHM", "HS256"),
            ("WARDEN_TOKENS_LEEWAY_SECS", "600"),
            ("WARDEN_TOKENS_ACCESS", "opaque"),
            ("WARDEN_GRPC_LISTEN", "everywhere"),
            ("WARDEN_TRUSTED_PROXIES", "everyone"),
            ("WARDEN_KEYS_ENCRYPTION_KEY", "c2hvcnQ="),
        ] {
            assert!(
                Config::load(None, &env(&[(k, v)]), &Overrides::default()).is_err(),
                "{k}={v}"
            );
        }
    }
}
