//! Layered configuration: defaults, a TOML file (`--config`), `WARDEN_*`
//! environment variables (`WARDEN_<SECTION>_<KEY>`, `_FILE` variants for
//! secrets), then flags. Unknown keys are an error naming the key.
//!
//! Two layers, as in the gateway's configuration: [`RawConfig`] is what
//! figment extracts (the keys as written: strings, `_secs`, `_ms`), and
//! `TryFrom<RawConfig>` checks every value once, naming its key, into the
//! [`Config`] the server uses, which holds parsed types (the token
//! [`Algorithm`](warden_token::Algorithm), [`IpNet`]s, the verify
//! [`AccessPolicy`](warden_core::access::AccessPolicy), [`Duration`]s, the
//! decoded key-encryption key). `From<&Config>` writes it back as keys: the
//! defaults figment starts from, and what `warden config check` prints.
//!
//! One file per section, each with its raw and parsed types and their
//! tests (`tokens.rs` holds `[tokens]` and `[sessions]`, `listeners.rs`
//! `[http]` and `[grpc]`, ...), the environment layer in `env.rs`, secrets
//! and their redaction in `redact.rs`.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, bail};
use figment::Figment;
use figment::providers::{Format as _, Serialized, Toml};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize};

mod database;
mod env;
mod events;
mod keys;
mod listeners;
mod mail;
mod mfa;
mod oauth;
mod oauth2;
mod passwords;
mod redact;
mod signup;
mod telemetry;
mod tokens;
mod ui;
mod verify;
mod webauthn;

pub use database::DatabaseSection;
use database::RawDatabase;
pub use events::EventsSection;
use events::RawEvents;
use keys::RawKeys;
pub use keys::{EncryptionKey, KeysSection, decode_kek};
pub use listeners::{GrpcSection, HttpSection};
use listeners::{RawGrpc, RawHttp};
use mail::RawMail;
pub use mail::{MailSection, MailTransportKind};
pub use mfa::MfaSection;
pub use oauth::{OAuthSection, ProviderSection};
pub use oauth2::OAuth2Section;
use passwords::RawSignin;
pub use passwords::{PasswordsSection, SigninSection};
pub use redact::{Secret, redact_url};
use signup::RawLinks;
pub use signup::{LinksSection, SignupSection};
pub use telemetry::{LogFormat, LogSection, OtelSection};
use tokens::{RawSessions, RawTokens};
pub use tokens::{SessionsSection, TokensSection};
use ui::RawUi;
pub use ui::UiSection;
use verify::RawVerify;
pub use verify::{SignInRedirect, VerifyRule, VerifySection};
pub use webauthn::WebauthnSection;

/// Everything `warden serve` can be told, parsed: what [`Config::load`]
/// returns once every layer is merged and every value checked. Built from
/// [`RawConfig`] (the keys as figment extracts them) by `TryFrom`, so the
/// rest of the server never parses a setting again.
#[derive(Debug, Clone)]
pub struct Config {
    /// What loading noticed but did not refuse (unknown `WARDEN_*`
    /// variables), for the caller to log once logging is up.
    pub warnings: Vec<String>,
    /// Where the embedded database and generated key live.
    pub data_dir: PathBuf,
    /// `sqlite://...` (default `<data_dir>/warden.db`).
    pub database_url: Option<String>,
    /// The file `database_url` was read from, if any (shown by `warden
    /// config check`).
    pub database_url_file: Option<PathBuf>,
    /// Public base URL: the `iss` claim and discovery. Default `http://<http.listen>`.
    pub issuer: Option<String>,
    /// Networks whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Origins allowed for cookie-authenticated state changes (default: the issuer's origin).
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
    /// Mail delivery.
    pub mail: MailSection,
    /// The hosted pages' branding.
    pub ui: UiSection,
    /// Bearer credential for `GET /v1/revocations`; unset: loopback peers only.
    pub revocations_token: Option<Secret>,
    /// The file `revocations_token` was read from, if any.
    pub revocations_token_file: Option<PathBuf>,
    /// Base URL of the hosted pages, which mailed links point at. Default: the issuer.
    pub public_url: Option<String>,
    /// Who may sign up; whether sign-in needs a verified address.
    pub signup: SignupSection,
    /// Lifetimes of mailed links.
    pub links: LinksSection,
    /// Social sign-in providers.
    pub oauth: OAuthSection,
    /// `[mfa]`.
    pub mfa: MfaSection,
    /// `[oauth2]`: Warden as an OpenID provider.
    pub oauth2: OAuth2Section,
    /// `[webauthn]`.
    pub webauthn: WebauthnSection,
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
            mail: MailSection::default(),
            ui: UiSection::default(),
            revocations_token: None,
            revocations_token_file: None,
            public_url: None,
            signup: SignupSection::default(),
            links: LinksSection::default(),
            oauth: OAuthSection::default(),
            mfa: MfaSection::default(),
            oauth2: OAuth2Section::default(),
            webauthn: WebauthnSection::default(),
        }
    }
}

/// The configuration as written: the TOML file's keys (and the
/// environment's, mapped onto them), as figment extracts them. Unknown
/// keys are refused here; values are checked when it becomes a [`Config`].
/// Its defaults are [`Config::default`]'s, written back.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    data_dir: PathBuf,
    database_url: Option<String>,
    /// File holding `database_url` (Kubernetes secrets: the URL carries the
    /// database password).
    database_url_file: Option<PathBuf>,
    issuer: Option<String>,
    /// CIDRs or addresses, a list or a comma-separated string.
    #[serde(deserialize_with = "list")]
    trusted_proxies: Vec<String>,
    #[serde(deserialize_with = "list")]
    allowed_origins: Vec<String>,
    migrate_on_start: bool,
    http: RawHttp,
    grpc: RawGrpc,
    database: RawDatabase,
    tokens: RawTokens,
    sessions: RawSessions,
    passwords: PasswordsSection,
    signin: RawSignin,
    keys: RawKeys,
    log: LogSection,
    events: RawEvents,
    verify: RawVerify,
    otel: OtelSection,
    mail: RawMail,
    ui: RawUi,
    revocations_token: Option<Secret>,
    /// File holding `revocations_token` (Kubernetes secrets).
    revocations_token_file: Option<PathBuf>,
    public_url: Option<String>,
    signup: SignupSection,
    links: RawLinks,
    oauth: OAuthSection,
    mfa: MfaSection,
    oauth2: OAuth2Section,
    webauthn: WebauthnSection,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self::from(&Config::default())
    }
}

/// A parsed configuration written back as keys: the defaults figment
/// starts from, and what `warden config check` prints.
impl From<&Config> for RawConfig {
    fn from(config: &Config) -> Self {
        Self {
            data_dir: config.data_dir.clone(),
            database_url: config.database_url.clone(),
            database_url_file: config.database_url_file.clone(),
            issuer: config.issuer.clone(),
            trusted_proxies: config
                .trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect(),
            allowed_origins: config.allowed_origins.clone(),
            migrate_on_start: config.migrate_on_start,
            http: (&config.http).into(),
            grpc: (&config.grpc).into(),
            database: (&config.database).into(),
            tokens: (&config.tokens).into(),
            sessions: (&config.sessions).into(),
            passwords: config.passwords.clone(),
            signin: (&config.signin).into(),
            keys: (&config.keys).into(),
            log: config.log.clone(),
            events: (&config.events).into(),
            verify: (&config.verify).into(),
            otel: config.otel.clone(),
            mail: (&config.mail).into(),
            ui: (&config.ui).into(),
            revocations_token: config.revocations_token.clone(),
            revocations_token_file: config.revocations_token_file.clone(),
            public_url: config.public_url.clone(),
            signup: config.signup.clone(),
            links: (&config.links).into(),
            oauth: config.oauth.clone(),
            mfa: config.mfa.clone(),
            oauth2: config.oauth2.clone(),
            webauthn: config.webauthn.clone(),
        }
    }
}

/// Every check, once; each error names its key. Secret files must have
/// been read already ([`RawConfig::read_secret_files`]).
impl TryFrom<RawConfig> for Config {
    type Error = anyhow::Error;

    fn try_from(raw: RawConfig) -> anyhow::Result<Self> {
        let tokens = TokensSection::try_from(raw.tokens)?;
        let keys = KeysSection::try_from(raw.keys)?;
        let sessions = SessionsSection::try_from(raw.sessions)?;
        raw.passwords.validate()?;
        let http = HttpSection::try_from(raw.http)?;
        let grpc = GrpcSection::try_from(raw.grpc)?;
        let trusted_proxies = raw
            .trusted_proxies
            .iter()
            .map(|cidr| parse_proxy(cidr))
            .collect::<anyhow::Result<_>>()?;
        let events = EventsSection::try_from(raw.events)?;
        if raw
            .revocations_token
            .as_ref()
            .is_some_and(|t| t.expose().len() < 16)
        {
            bail!("revocations_token must be at least 16 characters");
        }
        let verify = VerifySection::try_from(raw.verify)?;
        raw.otel.validate()?;
        let database = DatabaseSection::try_from(raw.database)?;
        let mail = MailSection::try_from(raw.mail)?;
        let ui = UiSection::try_from(raw.ui)?;
        let links = LinksSection::try_from(raw.links)?;
        let public_url = signup::parse_public_url(raw.public_url)?;
        raw.oauth.validate()?;
        let config = Self {
            warnings: Vec::new(),
            data_dir: raw.data_dir,
            database_url: raw.database_url,
            database_url_file: raw.database_url_file,
            issuer: raw.issuer,
            trusted_proxies,
            allowed_origins: raw.allowed_origins,
            migrate_on_start: raw.migrate_on_start,
            http,
            grpc,
            database,
            tokens,
            sessions,
            passwords: raw.passwords,
            signin: raw.signin.into(),
            keys,
            log: raw.log,
            events,
            verify,
            otel: raw.otel,
            mail,
            ui,
            revocations_token: raw.revocations_token,
            revocations_token_file: raw.revocations_token_file,
            public_url,
            signup: raw.signup,
            links,
            oauth: raw.oauth,
            mfa: raw.mfa,
            oauth2: raw.oauth2,
            webauthn: raw.webauthn,
        };
        config.webauthn()?;
        Ok(config)
    }
}

/// A `trusted_proxies` entry: a CIDR, or one address.
fn parse_proxy(cidr: &str) -> anyhow::Result<IpNet> {
    cidr.parse::<IpNet>()
        .or_else(|_| cidr.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| anyhow::anyhow!("trusted_proxies: {cidr:?} is not a CIDR"))
}

/// `name` must not be zero.
fn positive(name: &str, value: u64) -> anyhow::Result<()> {
    if value == 0 {
        bail!("{name} must be more than zero");
    }
    Ok(())
}

/// Whole milliseconds of `duration`, as the `_ms` keys hold them.
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        if let Some(file) = file {
            if !file.exists() {
                bail!("configuration file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        let (mut figment, warnings) = env::merge(figment, env)?;
        figment = figment.merge(Serialized::globals(overrides));
        let mut raw: RawConfig = figment.extract().map_err(|e| {
            let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
            anyhow::anyhow!("invalid configuration: {}", messages.join("; "))
        })?;
        raw.read_secret_files()?;
        let mut config = Config::try_from(raw)?;
        config.warnings = warnings;
        Ok(config)
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

    /// Base URL of the hosted pages and of mailed links: `public_url`, or
    /// the issuer.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| self.issuer())
    }

    /// Where passkeys are bound and used: `[webauthn]`, each unset value
    /// following `public_url` (its host, or `localhost` for an address,
    /// which WebAuthn does not take; its origin) and `[ui] product_name`.
    /// An error names a relying party its origins do not belong to.
    pub fn webauthn(&self) -> anyhow::Result<warden_core::passkeys::WebauthnSettings> {
        let mut settings = warden_core::passkeys::WebauthnSettings::for_public_url(
            &self.public_url(),
            self.webauthn
                .rp_name
                .as_deref()
                .unwrap_or(&self.ui.branding.product_name),
        );
        if let Some(rp_id) = &self.webauthn.rp_id {
            settings.rp_id = rp_id.clone();
        }
        if !self.webauthn.origins.is_empty() {
            settings.origins = self.webauthn.origins.clone();
        }
        warden_core::passkeys::RelyingParty::new(&settings)
            .map_err(|e| anyhow::anyhow!("[webauthn]: {e}"))?;
        Ok(settings)
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

impl Config {
    /// Origins whose scripts may call the API with credentials:
    /// `[http] cors_origins`, or the allowed origins.
    pub fn cors_origins(&self) -> Vec<String> {
        if self.http.cors_origins.is_empty() {
            self.allowed_origins()
        } else {
            self.http.cors_origins.clone()
        }
    }
}

impl RawConfig {
    /// Replaces each `_file` secret by the file's (trimmed) contents.
    fn read_secret_files(&mut self) -> anyhow::Result<()> {
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
        self.mail.read_secret_file()?;
        self.oauth.read_secret_files()?;
        Ok(())
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
    use warden_core::AccessTokenKind;

    use super::test_env as env;
    use super::*;

    #[test]
    fn defaults_listen_on_loopback_with_embedded_sqlite() {
        let config = Config::load(None, &[], &Overrides::default()).unwrap();
        assert_eq!(config.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.grpc.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(config.tokens.access, AccessTokenKind::Jwt);
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

    /// The printed configuration, loaded again, prints the same: nothing
    /// is lost between the keys and the parsed values.
    #[test]
    fn parsed_values_are_written_back_as_the_keys_they_came_from() {
        let defaults = toml::to_string_pretty(&RawConfig::default()).unwrap();
        let parsed = Config::try_from(RawConfig::default()).unwrap();
        assert_eq!(
            toml::to_string_pretty(&RawConfig::from(&parsed)).unwrap(),
            defaults
        );

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("warden.toml");
        std::fs::write(
            &path,
            "trusted_proxies = [\"10.0.0.0/8\", \"fd00::/8\"]\n\
             [http]\nrequest_timeout_secs = 3\n\
             [database]\ntimeout_ms = 750\nstatement_timeout_ms = 0\n\
             [tokens]\nalgorithm = \"ES256\"\naccess_ttl_secs = 300\naccess = \"session\"\nsession_cache_ms = 250\n\
             [sessions]\nrefresh_reuse_grace_secs = 5\n\
             [signin]\nlockout_base_secs = 2\n\
             [keys]\nactivation_delay_secs = 0\n\
             [events]\nrelay_poll_ms = 20\n\
             [verify]\nsign_in_url = \"/login\"\n\
             [[verify.rule]]\nprefix = \"/admin/\"\nmethods = [\"DELETE\"]\nroles = [\"admin\"]\n\
             [[verify.rule]]\nprefix = \"/public/\"\npublic = true\n",
        )
        .unwrap();
        let config = Config::load(Some(&path), &[], &Overrides::default()).unwrap();
        assert_eq!(
            config.trusted_proxies,
            [
                "10.0.0.0/8".parse::<IpNet>().unwrap(),
                "fd00::/8".parse().unwrap()
            ]
        );
        assert_eq!(config.http.request_timeout, Duration::from_secs(3));
        assert_eq!(config.database.timeout, Duration::from_millis(750));
        assert_eq!(config.database.statement_timeout, None);
        assert_eq!(config.tokens.algorithm, warden_token::Algorithm::ES256);
        assert_eq!(config.tokens.access_ttl, Duration::from_secs(300));
        assert_eq!(config.tokens.access, AccessTokenKind::Session);
        assert_eq!(config.tokens.session_cache, Duration::from_millis(250));
        assert_eq!(config.sessions.refresh_reuse_grace, Duration::from_secs(5));
        assert_eq!(config.signin.lockout_base, Duration::from_secs(2));
        assert_eq!(config.keys.activation_delay, Duration::ZERO);
        assert_eq!(config.events.relay_poll, Duration::from_millis(20));
        assert_eq!(config.verify.policy.rules().len(), 2);
        assert_eq!(
            config.verify.sign_in.as_ref().map(SignInRedirect::as_str),
            Some("/login")
        );

        let printed = config.to_redacted_toml().unwrap();
        for line in [
            "access_ttl_secs = 300",
            "algorithm = \"ES256\"",
            "access = \"session\"",
            "statement_timeout_ms = 0",
            "relay_poll_ms = 20",
            "sign_in_url = \"/login\"",
        ] {
            assert!(printed.contains(line), "{line}:\n{printed}");
        }
        std::fs::write(&path, &printed).unwrap();
        let again = Config::load(Some(&path), &[], &Overrides::default()).unwrap();
        assert_eq!(again.to_redacted_toml().unwrap(), printed);
    }

    #[test]
    fn a_zero_request_timeout_is_the_shortest_there_is() {
        let config = Config::load(
            None,
            &env(&[("WARDEN_HTTP_REQUEST_TIMEOUT_SECS", "0")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.http.request_timeout, Duration::from_secs(1));
    }
}
