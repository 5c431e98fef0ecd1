//! Layered configuration: defaults, a TOML file (`--config`), `WARDEN_*`
//! environment variables (`WARDEN_<SECTION>_<KEY>`, `_FILE` variants for
//! secrets), then flags. Unknown keys are an error naming the key.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use figment::Figment;
use figment::providers::{Format as _, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};

/// Sections whose keys the environment spells `WARDEN_<SECTION>_<KEY>`.
const SECTIONS: &[&str] = &[
    "http",
    "grpc",
    "database",
    "tokens",
    "sessions",
    "passwords",
    "signin",
    "keys",
    "log",
    "events",
    "verify",
    "otel",
];

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

/// `[events]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsSection {
    /// `nats://host:4222`, `amqp://user:pass@host:5672/%2f`, or unset: in-process.
    pub url: Option<Secret>,
    /// First token of every subject / routing key.
    pub subject_prefix: String,
    /// JetStream stream name.
    pub stream: String,
    /// RabbitMQ topic exchange.
    pub exchange: String,
    /// How often the publishing instance looks for new outbox events.
    pub relay_poll_ms: u64,
}

impl Default for EventsSection {
    fn default() -> Self {
        Self {
            url: None,
            subject_prefix: "warden".into(),
            stream: "WARDEN".into(),
            exchange: "warden".into(),
            relay_poll_ms: 50,
        }
    }
}

/// `[otel]`: OpenTelemetry traces over OTLP/gRPC (feature `otel`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtelSection {
    /// OTLP/gRPC collector, `http://host:4317`; unset: nothing is exported.
    pub endpoint: Option<String>,
    /// `service.name` of the exported resource.
    pub service_name: String,
    /// Share of the traces that start here which are kept, 0.0-1.0; a
    /// caller's sampling decision (in `traceparent`) is always followed.
    pub sample_ratio: f64,
}

impl Default for OtelSection {
    fn default() -> Self {
        Self {
            endpoint: None,
            service_name: "warden".into(),
            sample_ratio: 1.0,
        }
    }
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

/// `[http]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSection {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Longest a request may take.
    pub request_timeout_secs: u64,
    /// Time for a whole request head, then the connection is closed.
    pub header_read_timeout_secs: u64,
    /// Time a connection may sit with no request in flight.
    pub idle_timeout_secs: u64,
    /// Most connections open at once (clamped below the open-file limit).
    pub max_connections: usize,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            request_timeout_secs: 10,
            header_read_timeout_secs: 10,
            idle_timeout_secs: 60,
            max_connections: 10_000,
        }
    }
}

/// `[grpc]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GrpcSection {
    /// Address to listen on (the contract's default 127.0.0.1:50051).
    pub listen: SocketAddr,
    /// Time a connection may send nothing at all (keep-alive ping answers
    /// count), then it is closed.
    pub idle_timeout_secs: u64,
    /// Most connections open at once (clamped below the open-file limit).
    pub max_connections: usize,
    /// Most calls at once on one connection.
    pub max_concurrent_streams: u32,
}

impl Default for GrpcSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            idle_timeout_secs: 300,
            max_connections: 10_000,
            max_concurrent_streams: 100,
        }
    }
}

/// `[database]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSection {
    /// Most pooled connections (PostgreSQL, MySQL).
    pub max_connections: u32,
    /// How long a request waits for the database before `503 store_unavailable`.
    pub timeout_ms: u64,
    /// Longest a statement may run (0: the server's default).
    pub statement_timeout_ms: u64,
}

impl Default for DatabaseSection {
    fn default() -> Self {
        Self {
            max_connections: 10,
            timeout_ms: 2000,
            statement_timeout_ms: 2000,
        }
    }
}

/// `[tokens]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokensSection {
    /// `EdDSA`, `ES256` or `RS256`.
    pub algorithm: String,
    /// `aud` claim.
    pub audience: String,
    /// Access-token lifetime.
    pub access_ttl_secs: u64,
    /// Clock-skew leeway, at most 60.
    pub leeway_secs: u64,
    /// `jwt` (signed, verifiable offline) or `session` (opaque `wst_`
    /// tokens checked against the store on every use).
    pub access: AccessMode,
    /// How long this process remembers a session-token check (0: never).
    pub session_cache_ms: u64,
}

/// `tokens.access`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessMode {
    /// JWT access tokens.
    Jwt,
    /// Opaque session tokens.
    Session,
}

impl Default for TokensSection {
    fn default() -> Self {
        Self {
            algorithm: "EdDSA".into(),
            audience: "warden".into(),
            access_ttl_secs: 900,
            leeway_secs: 30,
            access: AccessMode::Jwt,
            session_cache_ms: 1000,
        }
    }
}

/// `[sessions]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsSection {
    /// Absolute lifetime.
    pub ttl_secs: u64,
    /// Idle timeout.
    pub idle_timeout_secs: u64,
    /// How long after a rotation the old refresh token may come back once
    /// (a client retrying after a lost answer) without revoking the session;
    /// 0 (the default): never (decision 0018).
    pub refresh_reuse_grace_secs: u64,
}

impl Default for SessionsSection {
    fn default() -> Self {
        Self {
            ttl_secs: 30 * 24 * 3600,
            idle_timeout_secs: 7 * 24 * 3600,
            refresh_reuse_grace_secs: 0,
        }
    }
}

/// `[passwords]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordsSection {
    /// Fewest characters.
    pub min_length: usize,
    /// Most characters (refused before hashing).
    pub max_length: usize,
    /// Lowest zxcvbn score accepted, 0-4.
    pub min_score: u8,
    /// argon2id memory, KiB.
    pub argon2_memory_kib: u32,
    /// argon2id passes.
    pub argon2_iterations: u32,
    /// argon2id lanes.
    pub argon2_parallelism: u32,
    /// Hashes at once (default: cores).
    pub max_concurrent_hashes: Option<usize>,
    /// Hash requests allowed to wait (default: 64 per core).
    pub max_queued_hashes: Option<usize>,
}

impl Default for PasswordsSection {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 256,
            min_score: 3,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            max_concurrent_hashes: None,
            max_queued_hashes: None,
        }
    }
}

/// `[signin]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SigninSection {
    /// Consecutive failures before back-off.
    pub lockout_threshold: u32,
    /// First back-off.
    pub lockout_base_secs: u64,
    /// Longest back-off.
    pub lockout_max_secs: u64,
    /// Failed sign-ins per client IP per minute (0: no limit).
    pub ip_failures_per_minute: u32,
}

impl Default for SigninSection {
    fn default() -> Self {
        Self {
            lockout_threshold: 5,
            lockout_base_secs: 1,
            lockout_max_secs: 900,
            ip_failures_per_minute: 60,
        }
    }
}

/// `[keys]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysSection {
    /// Base64 of 32 random bytes encrypting signing keys at rest.
    pub encryption_key: Option<Secret>,
    /// File holding that key.
    pub encryption_key_file: Option<PathBuf>,
    /// How long a rotated-in key is published before it signs.
    pub activation_delay_secs: u64,
}

impl Default for KeysSection {
    fn default() -> Self {
        Self {
            encryption_key: None,
            encryption_key_file: None,
            activation_delay_secs: 60,
        }
    }
}

/// `[verify]`: what a request behind a forward-auth proxy (or Envoy) needs,
/// by its original path. Without rules every request needs a valid token.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifySection {
    /// `[[verify.rule]]`s; the longest matching prefix wins.
    pub rule: Vec<VerifyRule>,
    /// Where `/v1/verify` sends a browser page load without a valid token
    /// (302, with `rd` = where it was going) instead of answering 401: an
    /// `https://` URL or a path on the proxied host. Unset: always 401.
    pub sign_in_url: Option<String>,
}

/// One `[[verify.rule]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRule {
    /// Path prefix, matched on whole segments of the normalised path
    /// (`/admin/` covers `/admin`, `/ADMIN/x`, `/%61dmin;x/y`).
    pub prefix: String,
    /// Limit the rule to these methods; omitted: all.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Any one of these roles is needed (403 otherwise).
    #[serde(default)]
    pub roles: Vec<String>,
    /// No token needed; no identity passed on. Not with `roles`.
    #[serde(default)]
    pub public: bool,
}

impl VerifySection {
    /// The sign-in redirect, checked.
    pub fn sign_in(&self) -> anyhow::Result<Option<warden_http::sign_in::SignInRedirect>> {
        self.sign_in_url
            .as_deref()
            .map(warden_http::sign_in::SignInRedirect::parse)
            .transpose()
            .map_err(|err| anyhow::anyhow!("verify.{err}"))
    }

    /// The rules as the domain uses them.
    pub fn policy(&self) -> anyhow::Result<warden_core::access::AccessPolicy> {
        use warden_core::access::{AccessPolicy, AccessRule, Requirement};
        let mut rules = Vec::with_capacity(self.rule.len());
        for rule in &self.rule {
            let requirement = match (rule.public, rule.roles.is_empty()) {
                (true, false) => bail!(
                    "verify rule {:?}: `public` and `roles` exclude each other",
                    rule.prefix
                ),
                (true, true) => Requirement::Public,
                (false, true) => Requirement::SignedIn,
                (false, false) => Requirement::AnyRole(rule.roles.clone()),
            };
            rules.push(AccessRule {
                prefix: rule.prefix.clone(),
                methods: rule.methods.clone(),
                requirement,
            });
        }
        Ok(AccessPolicy::new(rules)?)
    }
}

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `pretty` or `json`.
    pub format: LogFormat,
    /// `tracing` filter directive.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info,sqlx=warn".into(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// A configuration secret: `Debug` and serialisation print `[redacted]`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("[redacted]")
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

/// Maps `WARDEN_HTTP_LISTEN` to `http.listen`, `WARDEN_DATA_DIR` to `data_dir`.
fn env_key(key: &str) -> String {
    let key = key.to_ascii_lowercase();
    // The contract's WARDEN_DATABASE_URL is the top-level `database_url`.
    if key == "database_url" || key == "database_url_file" {
        return key;
    }
    for section in SECTIONS {
        if let Some(rest) = key.strip_prefix(&format!("{section}_")) {
            return format!("{section}.{rest}");
        }
    }
    key
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
        let mut warnings = Vec::new();
        let mut from_env = std::collections::BTreeMap::new();
        for (name, value) in env {
            let Some(key) = name.strip_prefix("WARDEN_") else {
                continue;
            };
            // Test-harness variables share the prefix but are not
            // configuration; WARDEN_CONFIG is `--config`, read by the CLI.
            if key.starts_with("TEST_") || key == "CONFIG" {
                continue;
            }
            from_env.insert(env_key(key), (name, value));
        }
        for (key, (name, value)) in from_env {
            let value = parse_env_value(value.clone().into());
            // Each variable is checked alone on the defaults, so a problem
            // names the variable rather than figment's merged view. Other
            // programs share the prefix (a demo's WARDEN_BIN): an unknown
            // variable is a warning, an unknown key in a file an error.
            let alone = Figment::from(Serialized::defaults(Config::default()))
                .merge((key.as_str(), value.clone()));
            match alone.extract::<Config>() {
                Ok(_) => figment = figment.merge((key.as_str(), value)),
                Err(e) => match env_problem(name, &key, e) {
                    EnvProblem::Unknown(warning) => warnings.push(warning),
                    EnvProblem::Invalid(error) => bail!("{error}"),
                },
            }
        }
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
            self.keys.encryption_key = Some(Secret(text.trim().to_owned()));
        }
        if let Some(path) = &self.revocations_token_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading revocations_token_file {}", path.display()))?;
            self.revocations_token = Some(Secret(text.trim().to_owned()));
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
        if let Some(url) = &self.events.url {
            warden_events::BusKind::of_url(Some(url.expose()))
                .map_err(|e| anyhow::anyhow!("events.url (WARDEN_EVENTS_URL): {e}"))?;
        }
        if self.events.relay_poll_ms == 0 || self.events.relay_poll_ms > 60_000 {
            bail!("events.relay_poll_ms must be between 1 and 60000");
        }
        for (name, value) in [
            ("events.subject_prefix", &self.events.subject_prefix),
            ("events.stream", &self.events.stream),
            ("events.exchange", &self.events.exchange),
        ] {
            let valid = !value.is_empty()
                && value.len() <= 64
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                bail!("{name} must be 1-64 letters, digits, '_' or '-'");
            }
        }
        if self
            .revocations_token
            .as_ref()
            .is_some_and(|t| t.expose().len() < 16)
        {
            bail!("revocations_token must be at least 16 characters");
        }
        self.verify.policy()?;
        self.verify.sign_in()?;
        self.validate_otel()?;
        if self.database.max_connections == 0 || self.database.timeout_ms == 0 {
            bail!("database.max_connections and database.timeout_ms must be positive");
        }
        Ok(())
    }

    fn validate_otel(&self) -> anyhow::Result<()> {
        if let Some(endpoint) = &self.otel.endpoint {
            if !cfg!(feature = "otel") {
                bail!(
                    "otel.endpoint (WARDEN_OTEL_ENDPOINT) needs a warden built with the `otel` feature"
                );
            }
            // The exporter speaks plain OTLP/gRPC: a collector next to Warden
            // (sidecar or node agent) forwards over TLS if needed.
            let rest = endpoint.strip_prefix("http://").ok_or_else(|| {
                anyhow::anyhow!(
                    "otel.endpoint must be http://host:port (OTLP/gRPC), not {endpoint:?}"
                )
            })?;
            if rest.is_empty() || rest.contains('@') {
                bail!("otel.endpoint must be http://host:port without credentials");
            }
        }
        if !(0.0..=1.0).contains(&self.otel.sample_ratio) {
            bail!("otel.sample_ratio must be between 0.0 and 1.0");
        }
        if self.otel.service_name.trim().is_empty() {
            bail!("otel.service_name must not be empty");
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

    /// The configuration as TOML with secrets redacted (`warden config check`).
    pub fn to_redacted_toml(&self) -> anyhow::Result<String> {
        let mut shown = self.clone();
        shown.database_url = shown.database_url.as_deref().map(redact_url);
        Ok(toml::to_string_pretty(&shown)?)
    }
}

enum EnvProblem {
    Unknown(String),
    Invalid(String),
}

/// What is wrong with one `WARDEN_*` variable, in its own terms: the
/// variable's name, the type it needs or the nearest real variable. Never
/// the value, which may be a secret.
fn env_problem(name: &str, key: &str, error: figment::Error) -> EnvProblem {
    use figment::error::Kind;
    let section = key.split_once('.').map(|(section, _)| section);
    let as_env = |field: &str| match section {
        Some(section) => format!("WARDEN_{}_{}", section, field).to_ascii_uppercase(),
        None => format!("WARDEN_{field}").to_ascii_uppercase(),
    };
    let mut invalid = Vec::new();
    for e in error {
        match &e.kind {
            Kind::UnknownField(field, expected) => {
                let hint = nearest(field, expected)
                    .map(|n| format!(" (did you mean {}?)", as_env(n)))
                    .unwrap_or_default();
                return EnvProblem::Unknown(format!(
                    "ignoring {name}: it is not a Warden setting{hint}"
                ));
            }
            Kind::InvalidType(_, expected) | Kind::InvalidValue(_, expected) => {
                invalid.push(format!("{name} must be {}", friendly_type(expected)));
            }
            Kind::Message(message) => invalid.push(format!("{name}: {message}")),
            _ => invalid.push(format!("{name} is not valid here")),
        }
    }
    EnvProblem::Invalid(format!("invalid environment: {}", invalid.join("; ")))
}

/// serde's name for a type, as an operator would say it.
fn friendly_type(expected: &str) -> String {
    match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number (an integer, 0 or more)".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number (an integer)".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "bool" => "true or false".into(),
        other => other.to_owned(),
    }
}

/// The candidate closest to `word` by edit distance, if close enough to be
/// a typo rather than another word.
fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // A left-out unit suffix (`ACCESS_TTL` for `ACCESS_TTL_SECS`) is the
    // commonest slip, and far in edit distance: it ranks first.
    let limit = (word.len() / 3).max(2);
    candidates
        .iter()
        .map(|c| (!c.starts_with(word), edit_distance(word, c), *c))
        .filter(|(not_prefix, d, _)| !*not_prefix || *d <= limit)
        .min_by_key(|(not_prefix, d, _)| (*not_prefix, *d))
        .map(|(_, _, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
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

/// `scheme://user:[redacted]@host/...`: a database URL fit for logs and output.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:[redacted]{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Environment values are strings; numbers and booleans become typed so
/// `WARDEN_TOKENS_ACCESS_TTL_SECS=600` works.
fn parse_env_value(value: figment::value::Value) -> figment::value::Value {
    use figment::value::Value;
    match &value {
        Value::String(tag, s) => {
            if let Ok(n) = s.parse::<u64>() {
                Value::Num(*tag, figment::value::Num::U64(n))
            } else if let Ok(b) = s.parse::<bool>() {
                Value::Bool(*tag, b)
            } else if let Ok(x) = s.parse::<f64>()
                && s.contains('.')
            {
                Value::Num(*tag, figment::value::Num::F64(x))
            } else {
                value
            }
        }
        _ => value,
    }
}

/// Decodes the key-encryption key (base64 of 32 bytes).
pub fn decode_kek(text: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text.trim()))
        .map_err(|_| anyhow::anyhow!("keys.encryption_key must be base64 of 32 bytes"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("keys.encryption_key must be base64 of exactly 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_refresh_grace_window_is_read_from_the_environment_and_capped() {
        let config = Config::load(
            None,
            &env(&[("WARDEN_SESSIONS_REFRESH_REUSE_GRACE_SECS", "10")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.sessions.refresh_reuse_grace_secs, 10);
        assert_eq!(Config::default().sessions.refresh_reuse_grace_secs, 0);
        let err = Config::load(
            None,
            &env(&[("WARDEN_SESSIONS_REFRESH_REUSE_GRACE_SECS", "301")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("sessions.refresh_reuse_grace_secs must be at most 300"),
            "{err}"
        );
    }

    #[test]
    fn verify_rules_come_from_the_file_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.toml");
        std::fs::write(
            &path,
            "[[verify.rule]]\nprefix = \"/admin/\"\nroles = [\"admin\"]\n\n\
             [[verify.rule]]\nprefix = \"/api/\"\nmethods = [\"DELETE\"]\n\n\
             [[verify.rule]]\nprefix = \"/public/\"\npublic = true\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), &[], &Overrides::default()).unwrap();
        assert_eq!(config.verify.rule.len(), 3);
        assert_eq!(config.verify.rule[1].methods, vec!["DELETE"]);
        assert!(config.verify.policy().unwrap().has_rules());
        assert!(config.to_redacted_toml().unwrap().contains("/admin/"));
        for bad in [
            "[[verify.rule]]\nprefix = \"/a/\"\npublic = true\nroles = [\"x\"]\n",
            "[[verify.rule]]\nprefix = \"a\"\n",
            "[[verify.rule]]\nprefix = \"/%2f\"\n",
            "[[verify.rule]]\nprefix = \"/a/\"\n[[verify.rule]]\nprefix = \"/A\"\n",
            "[[verify.rule]]\nprefix = \"/a/\"\nrole = \"x\"\n",
            "[verify]\nsign_in_url = \"//evil.example/login\"\n",
            "[verify]\nsign_in_url = \"javascript:alert(1)\"\n",
        ] {
            std::fs::write(&path, bad).unwrap();
            assert!(
                Config::load(Some(&path), &[], &Overrides::default()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_sign_in_page_comes_from_the_environment() {
        let config = Config::load(
            None,
            &env(&[(
                "WARDEN_VERIFY_SIGN_IN_URL",
                "https://auth.example.com/sign-in",
            )]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            config.verify.sign_in_url.as_deref(),
            Some("https://auth.example.com/sign-in")
        );
        assert!(config.verify.sign_in().unwrap().is_some());
    }

    #[test]
    fn events_settings_come_from_the_environment_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("feed-token");
        std::fs::write(&token_file, "from-a-file-0123456789\n").unwrap();
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_EVENTS_URL", "amqp://guest:s3cret@mq:5672/%2f"),
                ("WARDEN_EVENTS_SUBJECT_PREFIX", "tenant-a"),
                (
                    "WARDEN_REVOCATIONS_TOKEN_FILE",
                    token_file.to_str().unwrap(),
                ),
                ("WARDEN_CONFIG", "/not/a/setting.toml"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            config.events.url.as_ref().map(Secret::expose),
            Some("amqp://guest:s3cret@mq:5672/%2f")
        );
        assert_eq!(config.events.subject_prefix, "tenant-a");
        assert_eq!(
            config.revocations_token.as_ref().map(Secret::expose),
            Some("from-a-file-0123456789")
        );
        let printed = config.to_redacted_toml().unwrap();
        assert!(
            !printed.contains("s3cret") && !printed.contains("from-a-file"),
            "{printed}"
        );

        for (key, value, message) in [
            ("WARDEN_EVENTS_URL", "kafka://broker:9092", "events.url"),
            ("WARDEN_EVENTS_STREAM", "has.dots", "events.stream"),
            ("WARDEN_REVOCATIONS_TOKEN", "short", "at least 16"),
            ("WARDEN_EVENTS_RELAY_POLL_MS", "0", "relay_poll_ms"),
        ] {
            let err = Config::load(None, &env(&[(key, value)]), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(message), "{key}: {err}");
        }
    }

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
    fn environment_overrides_file_and_flags_override_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("warden.toml");
        std::fs::write(
            &file,
            "issuer = \"https://file.example\"\n[tokens]\naccess_ttl_secs = 300\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            &env(&[
                ("WARDEN_TOKENS_ACCESS_TTL_SECS", "600"),
                ("WARDEN_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.0.1"),
                ("WARDEN_DATA_DIR", "/from/env"),
                ("WARDEN_TEST_REQUIRE_SERVICES", "1"),
                ("OTHER", "x"),
            ]),
            &Overrides {
                data_dir: Some("/from/flag".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(config.issuer(), "https://file.example");
        assert_eq!(config.tokens.access_ttl_secs, 600);
        assert_eq!(config.trusted_proxies.len(), 2);
        assert_eq!(config.data_dir, PathBuf::from("/from/flag"));
    }

    #[test]
    fn unknown_variables_are_warnings_naming_the_nearest_setting() {
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_BIN", "/usr/local/bin/warden"),
                ("WARDEN_TOKENS_ACCESS_TTL", "5"),
                ("WARDEN_HTTP_LISTN", "127.0.0.1:9000"),
            ]),
            &Overrides::default(),
        )
        .expect("unknown variables do not stop the server");
        let warnings = config.warnings.join("\n");
        assert!(
            warnings.contains("ignoring WARDEN_BIN: it is not a Warden setting\n"),
            "{warnings}"
        );
        assert!(
            warnings.contains("ignoring WARDEN_TOKENS_ACCESS_TTL: it is not a Warden setting (did you mean WARDEN_TOKENS_ACCESS_TTL_SECS?)"),
            "{warnings}"
        );
        assert!(
            warnings.contains("(did you mean WARDEN_HTTP_LISTEN?)"),
            "{warnings}"
        );
        assert_eq!(
            config.tokens.access_ttl_secs,
            TokensSection::default().access_ttl_secs
        );
    }

    #[test]
    fn a_bad_variable_names_itself_and_the_type_without_its_value() {
        let err = Config::load(
            None,
            &env(&[("WARDEN_TOKENS_ACCESS_TTL_SECS", "five-minutes-secret")]),
            &Overrides::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("WARDEN_TOKENS_ACCESS_TTL_SECS must be"),
            "{err}"
        );
        assert!(err.contains("integer"), "{err}");
        assert!(!err.contains("five-minutes-secret"), "{err}");
    }

    #[test]
    fn loopback_listeners_allow_both_spellings_of_the_origin() {
        let config = Config::load(None, &[], &Overrides::default()).unwrap();
        assert_eq!(
            config.allowed_origins(),
            ["http://127.0.0.1:8080", "http://localhost:8080"]
        );
        let config = Config::load(
            None,
            &env(&[("WARDEN_ISSUER", "https://auth.example.com/warden/")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.allowed_origins(), ["https://auth.example.com"]);
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("warden.toml");
        std::fs::write(&file, "[tokens]\naccess_tll_secs = 300\n").unwrap();
        let err = Config::load(Some(&file), &[], &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("access_tll_secs"), "{err}");
        // The same slip in the environment is a warning (see below).
        let config = Config::load(
            None,
            &env(&[("WARDEN_HTTP_LISTNE", "x")]),
            &Overrides::default(),
        )
        .unwrap();
        assert!(
            config.warnings[0].contains("WARDEN_HTTP_LISTNE"),
            "{:?}",
            config.warnings
        );
    }

    #[test]
    fn secrets_come_from_files_and_are_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("kek");
        let kek = base64::engine::general_purpose::STANDARD.encode([7_u8; 32]);
        std::fs::write(&key_file, format!("{kek}\n")).unwrap();
        let config = Config::load(
            None,
            &env(&[(
                "WARDEN_KEYS_ENCRYPTION_KEY_FILE",
                key_file.to_str().unwrap(),
            )]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.keys.encryption_key.as_ref().unwrap().expose(), kek);
        let shown = config.to_redacted_toml().unwrap();
        assert!(
            !shown.contains(&kek) && shown.contains("[redacted]"),
            "{shown}"
        );
    }

    #[test]
    fn database_url_comes_from_a_file_and_its_password_is_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let url_file = dir.path().join("database-url");
        std::fs::write(
            &url_file,
            "postgres://warden:hunter2-secret@db:5432/warden\n",
        )
        .unwrap();
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_DATABASE_URL_FILE", url_file.to_str().unwrap()),
                (
                    "WARDEN_KEYS_ENCRYPTION_KEY",
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                ),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            config.database_url(),
            "postgres://warden:hunter2-secret@db:5432/warden"
        );
        let shown = config.to_redacted_toml().unwrap();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains("postgres://warden:[redacted]@db:5432/warden"),
            "{shown}"
        );
        let missing = Config::load(
            None,
            &env(&[("WARDEN_DATABASE_URL_FILE", "/nonexistent/database-url")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(format!("{missing:#}").contains("database_url_file"));
    }

    #[test]
    fn database_url_and_database_section_come_from_the_environment() {
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_DATABASE_URL", "postgres://db.internal/warden"),
                ("WARDEN_DATABASE_MAX_CONNECTIONS", "25"),
                (
                    "WARDEN_KEYS_ENCRYPTION_KEY",
                    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                ),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.database_url(), "postgres://db.internal/warden");
        assert_eq!(config.database.max_connections, 25);
        assert!(!config.is_embedded_database());
        // Loading succeeds (`user add` needs no key); signing needs it.
        let err = Config::load(
            None,
            &env(&[("WARDEN_DATABASE_URL", "postgres://db.internal/warden")]),
            &Overrides::default(),
        )
        .unwrap()
        .check_signing()
        .unwrap_err();
        assert!(
            err.to_string().contains("WARDEN_KEYS_ENCRYPTION_KEY"),
            "{err}"
        );
    }

    #[test]
    fn serving_on_a_shared_database_requires_an_issuer() {
        const KEK: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        for url in [
            "postgres://db.internal/warden",
            "mysql://db.internal/warden",
        ] {
            let load = |issuer: Option<&str>| {
                let mut vars = vec![
                    ("WARDEN_DATABASE_URL", url),
                    ("WARDEN_KEYS_ENCRYPTION_KEY", KEK),
                ];
                vars.extend(issuer.map(|i| ("WARDEN_ISSUER", i)));
                Config::load(None, &env(&vars), &Overrides::default()).unwrap()
            };
            let err = load(None).validate_serving().unwrap_err();
            assert!(err.to_string().contains("WARDEN_ISSUER"), "{err}");
            load(Some("https://auth.example.com"))
                .validate_serving()
                .unwrap();
        }
        // The embedded database serves one process: its listen address is
        // a fine default.
        Config::load(None, &env(&[]), &Overrides::default())
            .unwrap()
            .validate_serving()
            .unwrap();
    }

    #[test]
    fn grpc_listener_and_session_mode_come_from_the_environment() {
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_GRPC_LISTEN", "127.0.0.1:50999"),
                ("WARDEN_TOKENS_ACCESS", "session"),
                ("WARDEN_TOKENS_SESSION_CACHE_MS", "0"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:50999");
        assert_eq!(config.tokens.access, AccessMode::Session);
        assert_eq!(config.tokens.session_cache_ms, 0);
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

    #[test]
    fn otel_settings_come_from_the_environment_and_are_checked() {
        let config = Config::load(None, &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(config.otel.endpoint, None, "nothing is exported by default");
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_OTEL_ENDPOINT", "http://collector:4317"),
                ("WARDEN_OTEL_SERVICE_NAME", "warden-eu"),
                ("WARDEN_OTEL_SAMPLE_RATIO", "0.25"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            config.otel.endpoint.as_deref(),
            Some("http://collector:4317")
        );
        assert_eq!(config.otel.service_name, "warden-eu");
        assert!((config.otel.sample_ratio - 0.25).abs() < f64::EPSILON);
        assert!(config.to_redacted_toml().unwrap().contains("[otel]"));

        for (key, value, message) in [
            ("WARDEN_OTEL_ENDPOINT", "collector:4317", "http://host:port"),
            (
                "WARDEN_OTEL_ENDPOINT",
                "http://u:p@collector:4317",
                "credentials",
            ),
            ("WARDEN_OTEL_SAMPLE_RATIO", "1.5", "sample_ratio"),
            ("WARDEN_OTEL_SERVICE_NAME", " ", "service_name"),
        ] {
            let err = Config::load(None, &env(&[(key, value)]), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(message), "{key}={value}: {err}");
        }
    }
}
