//! `gateway.toml`: parsed strictly (unknown keys refused) into values that
//! can only be valid.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use warden_edge::sign_in::SignInRedirect;
use warden_edge::{Table, normalize};

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl ConfigError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }

    pub(crate) fn from_route(e: &impl std::fmt::Display) -> Self {
        Self(format!("route: {e}"))
    }
}

/// Whether a route needs a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// Forwarded without a token; a valid one still yields identity headers.
    Public,
    /// 401 without a valid, unrevoked token.
    Required,
}

/// Where revocations come from besides the polled feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationSource {
    /// Only `GET /v1/revocations`, polled.
    Poll,
    /// The feed plus the event bus at this `nats://` or `amqp://` URL.
    Bus(String),
}

/// An `http://host[:port][/base]` upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// `http://host:port`, no trailing slash.
    pub origin: String,
    /// `host:port`, for the `Host` header.
    pub authority: String,
    /// A base path prepended to forwarded paths, without trailing slash ("" for none).
    pub base_path: String,
}

/// One `[[route]]`.
#[derive(Debug, Clone)]
pub struct Route {
    /// As written in the file (also the metrics label).
    pub prefix: String,
    /// Where requests go.
    pub upstream: Upstream,
    /// Remove the prefix before forwarding.
    pub strip_prefix: bool,
    /// Token policy.
    pub auth: AuthMode,
    /// Any of these roles is required (empty: any authenticated user).
    pub roles: Vec<String>,
    /// Only a token of a session that presented two factors (`aal2`)
    /// passes; a one-factor token gets RFC 9470's
    /// `insufficient_user_authentication`.
    pub mfa: bool,
    /// Any of these scopes is required (403 `insufficient_scope`): a
    /// service's token (client credentials) or a user's issued to an OAuth
    /// client with it. Empty: none.
    pub scopes: Vec<String>,
    /// Time allowed for the upstream's response headers.
    pub timeout: Duration,
    /// WebSocket upgrades are spliced to the upstream; no other upgrade
    /// ever is (docs/decisions/0014-edge-limits.md).
    pub websocket: bool,
}

/// The whole gateway configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where clients connect.
    pub listen: SocketAddr,
    /// `/healthz`, `/readyz`, `/metrics`; none served when unset.
    pub admin_listen: Option<SocketAddr>,
    /// Warden's public issuer URL (the `iss` claim).
    pub issuer: String,
    /// Where to reach Warden when it differs from the issuer.
    pub endpoint: Option<String>,
    /// Expected `aud`.
    pub audience: Option<String>,
    /// Revocation source.
    pub revocations: RevocationSource,
    /// Subject prefix, stream and exchange on the bus: Warden's `[events]`
    /// names (defaults `warden`, `WARDEN`, `warden`).
    pub bus_names: warden_verify::BusNames,
    /// How often `/v1/revocations` is polled.
    pub revocation_poll_interval: Duration,
    /// Revocations older than this make the gateway not ready.
    pub max_staleness: Duration,
    /// File holding the credential for `/v1/revocations`.
    pub service_token_file: Option<PathBuf>,
    /// Time allowed to open an upstream connection.
    pub connect_timeout: Duration,
    /// Origins allowed for cookie-authenticated state changes, and as the
    /// return address after signing in.
    pub allowed_origins: Vec<String>,
    /// Where a browser's page load without a valid token is sent (302)
    /// instead of a 401.
    pub sign_in: Option<SignInRedirect>,
    /// The routes, in file order.
    pub routes: Vec<Route>,
    /// Header-read and idle timeouts and the connection cap of `listen`.
    pub limits: warden_listen::Limits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: String,
    admin_listen: Option<String>,
    issuer: String,
    endpoint: Option<String>,
    audience: Option<String>,
    revocation_feed: Option<String>,
    revocation_poll_interval: Option<String>,
    max_staleness: Option<String>,
    service_token_file: Option<PathBuf>,
    upstream_timeout: Option<String>,
    connect_timeout: Option<String>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    sign_in_url: Option<String>,
    header_read_timeout: Option<String>,
    idle_timeout: Option<String>,
    max_connections: Option<usize>,
    #[serde(default, rename = "route")]
    routes: Vec<RawRoute>,
    #[serde(default)]
    revocation_bus: RawBusNames,
}

/// `[revocation_bus]`: the names Warden's `[events]` section uses, when
/// they are not the defaults.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBusNames {
    subject_prefix: Option<String>,
    stream: Option<String>,
    exchange: Option<String>,
}

impl RawBusNames {
    fn parse(self) -> Result<warden_verify::BusNames, ConfigError> {
        let mut names = warden_verify::BusNames::default();
        for (key, value, slot) in [
            (
                "subject_prefix",
                self.subject_prefix,
                &mut names.subject_prefix,
            ),
            ("stream", self.stream, &mut names.stream),
            ("exchange", self.exchange, &mut names.exchange),
        ] {
            let Some(value) = value else { continue };
            // The same rule Warden applies to its [events] names: they end
            // up in subjects and routing keys, where '.', '*' and '>' mean
            // something.
            let valid = (1..=64).contains(&value.len())
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(ConfigError::new(format!(
                    "revocation_bus.{key}: {value:?} must be 1-64 letters, digits, '_' or '-'"
                )));
            }
            *slot = value;
        }
        Ok(names)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    prefix: String,
    upstream: String,
    #[serde(default)]
    strip_prefix: bool,
    auth: Option<AuthMode>,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    mfa: bool,
    #[serde(default)]
    scopes: Vec<String>,
    timeout: Option<String>,
    #[serde(default)]
    websocket: bool,
}

/// Default time for an upstream's response headers.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time to connect to an upstream.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `"250ms"`, `"30s"`, `"2m"`.
pub fn parse_duration(key: &str, value: &str) -> Result<Duration, ConfigError> {
    let value = value.trim();
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let bad = || {
        ConfigError::new(format!(
            "{key}: {value:?} is not a duration like \"500ms\", \"30s\" or \"2m\""
        ))
    };
    let number: u64 = number.parse().map_err(|_| bad())?;
    let duration = match unit {
        "ms" => Duration::from_millis(number),
        "s" => Duration::from_secs(number),
        "m" => Duration::from_secs(number.saturating_mul(60)),
        _ => return Err(bad()),
    };
    if duration.is_zero() {
        return Err(ConfigError::new(format!("{key} must be more than zero")));
    }
    Ok(duration)
}

fn parse_http_url(key: &str, value: &str) -> Result<Upstream, ConfigError> {
    let bad = |why: &str| ConfigError::new(format!("{key}: {value:?} {why}"));
    let rest = value
        .strip_prefix("http://")
        .ok_or_else(|| bad("must be an http:// URL (TLS to upstreams is not supported yet)"))?;
    if rest.contains(['?', '#', '@']) {
        return Err(bad("must not have a query, fragment or user info"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.starts_with(':') {
        return Err(bad("has no host"));
    }
    if authority.parse::<http::uri::Authority>().is_err() {
        return Err(bad("has an invalid host or port"));
    }
    if let Some((_, port)) = authority.rsplit_once(':')
        && !authority.ends_with(']')
        && port.parse::<u16>().is_err()
    {
        return Err(bad("has an invalid port"));
    }
    let base_path = path.trim_end_matches('/');
    if !base_path.is_empty() {
        let normalized = normalize(path).map_err(|e| bad(&format!("has a bad path: {e}")))?;
        if normalized.path.trim_end_matches('/') != base_path {
            return Err(bad("has a path that is not normalised"));
        }
    }
    Ok(Upstream {
        origin: format!("http://{authority}"),
        authority: authority.to_owned(),
        base_path: base_path.to_owned(),
    })
}

fn parse_issuer(key: &str, value: &str) -> Result<String, ConfigError> {
    if !(value.starts_with("http://") || value.starts_with("https://"))
        || value.len() <= "https://".len()
    {
        return Err(ConfigError::new(format!(
            "{key}: {value:?} must be an http(s) URL"
        )));
    }
    if value.parse::<http::Uri>().is_err() {
        return Err(ConfigError::new(format!("{key}: {value:?} is not a URL")));
    }
    Ok(value.to_owned())
}

fn parse_addr(key: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value.parse().map_err(|_| {
        ConfigError::new(format!(
            "{key}: {value:?} is not an address like \"127.0.0.1:8000\""
        ))
    })
}

impl Config {
    /// Reads and validates the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(format!("reading {}: {e}", path.display())))?;
        Self::parse(&text)
    }

    /// Validates a configuration given as TOML text.
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::new(e.to_string()))?;
        let upstream_timeout = raw
            .upstream_timeout
            .as_deref()
            .map(|v| parse_duration("upstream_timeout", v))
            .transpose()?
            .unwrap_or(DEFAULT_UPSTREAM_TIMEOUT);
        let revocations = match raw.revocation_feed.as_deref() {
            None | Some("poll") => RevocationSource::Poll,
            Some(url) if url.starts_with("nats://") || url.starts_with("amqp://") => {
                RevocationSource::Bus(url.to_owned())
            }
            Some(other) => {
                return Err(ConfigError::new(format!(
                    "revocation_feed: {:?} must be a nats:// or amqp:// URL, or omitted to poll",
                    redact(other)
                )));
            }
        };
        let mut routes = Vec::with_capacity(raw.routes.len());
        for (i, route) in raw.routes.into_iter().enumerate() {
            let key = |field: &str| format!("route[{i}].{field}");
            if !route.prefix.starts_with('/') {
                return Err(ConfigError::new(format!(
                    "{}: {:?} must start with /",
                    key("prefix"),
                    route.prefix
                )));
            }
            let normalized = normalize(&route.prefix)
                .map_err(|e| ConfigError::new(format!("{}: {e}", key("prefix"))))?;
            let bare = match route.prefix.trim_end_matches('/') {
                "" => "/",
                bare => bare,
            };
            if normalized.path != route.prefix || normalized.key != bare {
                return Err(ConfigError::new(format!(
                    "{}: {:?} is not a normalised path (write it as {:?})",
                    key("prefix"),
                    route.prefix,
                    normalized.key
                )));
            }
            let auth = route.auth.unwrap_or(AuthMode::Required);
            if auth == AuthMode::Public && !route.roles.is_empty() {
                return Err(ConfigError::new(format!(
                    "{}: roles need auth = \"required\"",
                    key("roles")
                )));
            }
            if auth == AuthMode::Public && route.mfa {
                return Err(ConfigError::new(format!(
                    "{}: mfa needs auth = \"required\"",
                    key("mfa")
                )));
            }
            if route.roles.iter().any(|r| r.trim().is_empty()) {
                return Err(ConfigError::new(format!(
                    "{}: empty role name",
                    key("roles")
                )));
            }
            if auth == AuthMode::Public && !route.scopes.is_empty() {
                return Err(ConfigError::new(format!(
                    "{}: scopes need auth = \"required\"",
                    key("scopes")
                )));
            }
            if route
                .scopes
                .iter()
                .any(|s| s.trim().is_empty() || s.contains(' '))
            {
                return Err(ConfigError::new(format!(
                    "{}: a scope is one word, never empty",
                    key("scopes")
                )));
            }
            let timeout = route
                .timeout
                .as_deref()
                .map(|v| parse_duration(&key("timeout"), v))
                .transpose()?
                .unwrap_or(upstream_timeout);
            routes.push(Route {
                upstream: parse_http_url(&key("upstream"), &route.upstream)?,
                prefix: route.prefix,
                strip_prefix: route.strip_prefix,
                auth,
                roles: route.roles,
                mfa: route.mfa,
                scopes: route.scopes,
                timeout,
                websocket: route.websocket,
            });
        }
        if routes.is_empty() {
            return Err(ConfigError::new(
                "no [[route]]: the gateway would answer 404 to everything",
            ));
        }
        Table::new(routes.iter().map(|r| (r.prefix.as_str(), ())))
            .map_err(|e| ConfigError::new(format!("route: {e}")))?;
        for origin in &raw.allowed_origins {
            parse_issuer("allowed_origins", origin)?;
        }
        let defaults = warden_listen::Limits::default();
        let limits = warden_listen::Limits {
            header_read_timeout: raw
                .header_read_timeout
                .as_deref()
                .map(|v| parse_duration("header_read_timeout", v))
                .transpose()?
                .unwrap_or(defaults.header_read_timeout),
            idle_timeout: raw
                .idle_timeout
                .as_deref()
                .map(|v| parse_duration("idle_timeout", v))
                .transpose()?
                .unwrap_or(defaults.idle_timeout),
            max_connections: match raw.max_connections {
                Some(0) => return Err(ConfigError::new("max_connections must be more than zero")),
                Some(n) => n,
                None => defaults.max_connections,
            },
        };
        Ok(Self {
            listen: parse_addr("listen", &raw.listen)?,
            admin_listen: raw
                .admin_listen
                .as_deref()
                .map(|v| parse_addr("admin_listen", v))
                .transpose()?,
            issuer: parse_issuer("issuer", &raw.issuer)?,
            endpoint: raw
                .endpoint
                .as_deref()
                .map(|v| parse_issuer("endpoint", v))
                .transpose()?,
            audience: raw.audience.filter(|a| !a.is_empty()),
            revocations,
            bus_names: raw.revocation_bus.parse()?,
            revocation_poll_interval: raw
                .revocation_poll_interval
                .as_deref()
                .map(|v| parse_duration("revocation_poll_interval", v))
                .transpose()?
                .unwrap_or(Duration::from_secs(5)),
            max_staleness: raw
                .max_staleness
                .as_deref()
                .map(|v| parse_duration("max_staleness", v))
                .transpose()?
                .unwrap_or(Duration::from_secs(30)),
            service_token_file: raw.service_token_file,
            connect_timeout: raw
                .connect_timeout
                .as_deref()
                .map(|v| parse_duration("connect_timeout", v))
                .transpose()?
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            allowed_origins: raw.allowed_origins,
            sign_in: raw
                .sign_in_url
                .as_deref()
                .map(SignInRedirect::parse)
                .transpose()
                .map_err(ConfigError::new)?,
            routes,
            limits,
        })
    }

    /// The revocation credential, read from `service_token_file`.
    pub fn service_token(&self) -> Result<Option<String>, ConfigError> {
        let Some(path) = &self.service_token_file else {
            return Ok(None);
        };
        let token = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(format!("service_token_file {}: {e}", path.display())))?;
        let token = token.trim();
        if token.is_empty() {
            return Err(ConfigError::new(format!(
                "service_token_file {} is empty",
                path.display()
            )));
        }
        Ok(Some(token.to_owned()))
    }
}

/// A URL with its password (or bare token) hidden, for messages: the
/// workspace's one rule.
pub(crate) use warden_events::redact_url as redact;

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
listen = "127.0.0.1:8000"
issuer = "http://127.0.0.1:8080"

[[route]]
prefix = "/api/"
upstream = "http://127.0.0.1:4001"
"#;

    fn with(extra_top: &str, extra_route: &str) -> String {
        let (top, route) = MINIMAL.split_once("[[route]]").unwrap();
        format!("{top}{extra_top}\n[[route]]{route}{extra_route}\n")
    }

    fn error(text: &str) -> String {
        Config::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn the_contract_example_is_accepted() {
        let config = Config::parse(
            r#"
listen = "127.0.0.1:8000"
issuer = "http://127.0.0.1:8080"
audience = "warden"
revocation_feed = "nats://127.0.0.1:4222"
service_token_file = "/run/secrets/warden-service-token"

[[route]]
prefix = "/auth/"
upstream = "http://127.0.0.1:8080"
strip_prefix = true
auth = "public"

[[route]]
prefix = "/api/tickets/"
upstream = "http://127.0.0.1:4001"
auth = "required"
roles = ["user"]
"#,
        )
        .unwrap();
        assert_eq!(config.routes.len(), 2);
        assert_eq!(
            config.revocations,
            RevocationSource::Bus("nats://127.0.0.1:4222".into())
        );
        assert_eq!(config.routes[0].auth, AuthMode::Public);
        assert!(config.routes[0].strip_prefix);
        assert_eq!(config.routes[1].timeout, DEFAULT_UPSTREAM_TIMEOUT);
        assert_eq!(config.routes[1].upstream.authority, "127.0.0.1:4001");
        assert_eq!(config.admin_listen, None);
    }

    #[test]
    fn defaults_fail_closed_and_timeouts_override() {
        let config = Config::parse(&with(
            "upstream_timeout = \"2s\"\nconnect_timeout = \"250ms\"",
            "",
        ))
        .unwrap();
        assert_eq!(config.routes[0].auth, AuthMode::Required);
        assert_eq!(config.routes[0].timeout, Duration::from_secs(2));
        assert_eq!(config.connect_timeout, Duration::from_millis(250));
        assert_eq!(config.revocations, RevocationSource::Poll);
        let config = Config::parse(&with("upstream_timeout = \"2s\"", "timeout = \"1m\"")).unwrap();
        assert_eq!(config.routes[0].timeout, Duration::from_secs(60));
    }

    #[test]
    fn listener_limits_and_websockets_have_safe_defaults() {
        let config = Config::parse(MINIMAL).unwrap();
        assert_eq!(config.limits, warden_listen::Limits::default());
        assert!(!config.routes[0].websocket);
        let config = Config::parse(&with(
            "header_read_timeout = \"5s\"\nidle_timeout = \"2m\"\nmax_connections = 100",
            "websocket = true",
        ))
        .unwrap();
        assert_eq!(config.limits.header_read_timeout, Duration::from_secs(5));
        assert_eq!(config.limits.idle_timeout, Duration::from_secs(120));
        assert_eq!(config.limits.max_connections, 100);
        assert!(config.routes[0].websocket);
        assert!(Config::parse(&with("max_connections = 0", "")).is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(error(&with("lisen = \"x\"", "")).contains("lisen"));
        assert!(error(&with("", "rolez = [\"a\"]")).contains("rolez"));
        assert!(error(&with("", "auth = \"optional\"")).contains("optional"));
    }

    #[test]
    fn bad_values_are_named() {
        assert!(
            error(&with("", "").replace("http://127.0.0.1:4001", "https://x:1"))
                .contains("route[0].upstream")
        );
        assert!(
            error(&with("", "").replace("http://127.0.0.1:4001", "http://:1"))
                .contains("route[0].upstream")
        );
        assert!(
            error(&with("", "").replace("http://127.0.0.1:4001", "http://h:99999"))
                .contains("port")
        );
        assert!(
            error(&with("", "").replace("http://127.0.0.1:4001", "http://h/a?b")).contains("query")
        );
        assert!(error(&with("", "").replace("127.0.0.1:8000", "localhost")).contains("listen"));
        assert!(
            error(&with("", "").replace("http://127.0.0.1:8080", "ftp://x")).contains("issuer")
        );
        assert!(
            error(&with("revocation_feed = \"kafka://u:secret@h\"", ""))
                .contains("revocation_feed")
        );
        assert!(!error(&with("revocation_feed = \"kafka://u:secret@h\"", "")).contains("secret"));
        assert!(error(&with("upstream_timeout = \"30\"", "")).contains("upstream_timeout"));
        assert!(error(&with("upstream_timeout = \"0s\"", "")).contains("zero"));
        assert!(error(&with("", "auth = \"public\"\nroles = [\"admin\"]")).contains("roles"));
        assert!(error(&with("", "").replace("\"/api/\"", "\"api/\"")).contains("prefix"));
        assert!(error(&with("", "").replace("\"/api/\"", "\"/a/../api/\"")).contains("normalised"));
        assert!(error(&with("", "").replace("\"/api/\"", "\"/API/\"")).contains("normalised"));
        assert!(error(&with("", "").replace("\"/api/\"", "\"/a%2fb/\"")).contains("prefix"));
        for bad in ["//evil.example/x", "javascript:alert(1)", "/x#y", "login"] {
            let text = with(&format!("sign_in_url = {bad:?}"), "");
            assert!(error(&text).contains("sign_in_url"), "{bad}");
        }
        let page = Config::parse(&with("sign_in_url = \"/login\"", "")).unwrap();
        assert_eq!(page.sign_in, Some(SignInRedirect::parse("/login").unwrap()));
        assert_eq!(Config::parse(MINIMAL).unwrap().sign_in, None);
    }

    #[test]
    fn duplicate_prefixes_and_no_routes_are_refused() {
        let twice = format!(
            "{MINIMAL}\n[[route]]\nprefix = \"/api\"\nupstream = \"http://127.0.0.1:4002\"\n"
        );
        assert!(error(&twice).contains("duplicate"));
        let (top, _) = MINIMAL.split_once("[[route]]").unwrap();
        assert!(error(top).contains("no [[route]]"));
    }

    #[test]
    fn upstream_base_paths_are_kept() {
        let config = Config::parse(&with("", "").replace("4001\"", "4001/base/\"")).unwrap();
        assert_eq!(config.routes[0].upstream.base_path, "/base");
        assert_eq!(config.routes[0].upstream.origin, "http://127.0.0.1:4001");
    }

    #[test]
    fn the_service_token_is_read_and_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "s3cret\n").unwrap();
        let text = with(
            &format!("service_token_file = {:?}", file.display().to_string()),
            "",
        );
        let config = Config::parse(&text).unwrap();
        assert_eq!(config.service_token().unwrap().as_deref(), Some("s3cret"));
        std::fs::write(&file, "\n").unwrap();
        assert!(
            config
                .service_token()
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    #[test]
    fn bus_names_default_to_wardens_and_are_checked() {
        let config = Config::parse(MINIMAL).unwrap();
        assert_eq!(config.bus_names, warden_verify::BusNames::default());
        let config = Config::parse(&with(
            "[revocation_bus]\nsubject_prefix = \"tenant-a\"\nstream = \"TENANT_A\"\nexchange = \"tenant-a\"",
            "",
        ))
        .unwrap();
        assert_eq!(config.bus_names.subject_prefix, "tenant-a");
        assert_eq!(config.bus_names.stream, "TENANT_A");
        assert_eq!(config.bus_names.exchange, "tenant-a");
        for bad in [
            "subject_prefix = \"a.b\"",
            "stream = \"\"",
            "exchange = \"x>\"",
            "queue = \"q\"",
        ] {
            let text = with(&format!("[revocation_bus]\n{bad}"), "");
            assert!(Config::parse(&text).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_parse() {
        assert_eq!(
            parse_duration("k", "500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(parse_duration("k", "2m").unwrap(), Duration::from_secs(120));
        assert!(parse_duration("k", "1h").is_err());
        assert!(parse_duration("k", "-1s").is_err());
    }
}
