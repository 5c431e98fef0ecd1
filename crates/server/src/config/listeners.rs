//! `[http]` and `[grpc]`: the two listeners.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::positive;

/// `[http]`.
#[derive(Debug, Clone)]
pub struct HttpSection {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Longest a request may take (at least a second).
    pub request_timeout: Duration,
    /// Time for a whole request head, then the connection is closed.
    pub header_read_timeout: Duration,
    /// Time a connection may sit with no request in flight.
    pub idle_timeout: Duration,
    /// Most connections open at once (clamped below the open-file limit).
    pub max_connections: usize,
    /// Origins whose scripts may call the API with credentials (CORS);
    /// empty: the allowed origins ([`Config::cors_origins`](super::Config::cors_origins)).
    pub cors_origins: Vec<String>,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            request_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            cors_origins: Vec::new(),
        }
    }
}

/// `[http]` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawHttp {
    listen: SocketAddr,
    request_timeout_secs: u64,
    header_read_timeout_secs: u64,
    idle_timeout_secs: u64,
    max_connections: usize,
    /// A list or a comma-separated string.
    #[serde(deserialize_with = "super::list")]
    cors_origins: Vec<String>,
}

impl Default for RawHttp {
    fn default() -> Self {
        (&HttpSection::default()).into()
    }
}

impl From<&HttpSection> for RawHttp {
    fn from(http: &HttpSection) -> Self {
        Self {
            listen: http.listen,
            request_timeout_secs: http.request_timeout.as_secs(),
            header_read_timeout_secs: http.header_read_timeout.as_secs(),
            idle_timeout_secs: http.idle_timeout.as_secs(),
            max_connections: http.max_connections,
            cors_origins: http.cors_origins.clone(),
        }
    }
}

impl TryFrom<RawHttp> for HttpSection {
    type Error = anyhow::Error;

    fn try_from(raw: RawHttp) -> anyhow::Result<Self> {
        positive(
            "http.header_read_timeout_secs",
            raw.header_read_timeout_secs,
        )?;
        positive("http.idle_timeout_secs", raw.idle_timeout_secs)?;
        positive("http.max_connections", raw.max_connections as u64)?;
        for origin in &raw.cors_origins {
            check_origin(origin)?;
        }
        Ok(Self {
            listen: raw.listen,
            // 0 has always meant the shortest deadline there is, a second.
            request_timeout: Duration::from_secs(raw.request_timeout_secs.max(1)),
            header_read_timeout: Duration::from_secs(raw.header_read_timeout_secs),
            idle_timeout: Duration::from_secs(raw.idle_timeout_secs),
            max_connections: raw.max_connections,
            cors_origins: raw.cors_origins,
        })
    }
}

/// A CORS origin: `http(s)://host[:port]`, nothing after, no wildcard
/// (credentials are allowed, so each origin is named).
fn check_origin(origin: &str) -> anyhow::Result<()> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let is_origin = rest.is_some_and(|host| {
        !host.is_empty()
            && !host.contains(['/', '?', '#', '@', '*', ' ', ','])
            && !host.chars().any(|c| c.is_control())
    });
    if !is_origin {
        anyhow::bail!(
            "http.cors_origins: {origin:?} is not an origin like https://app.example.com (scheme, host and port only)"
        );
    }
    Ok(())
}

/// `[grpc]`.
#[derive(Debug, Clone)]
pub struct GrpcSection {
    /// Address to listen on (the contract's default 127.0.0.1:50051).
    pub listen: SocketAddr,
    /// Time a connection may send nothing at all (keep-alive ping answers
    /// count), then it is closed.
    pub idle_timeout: Duration,
    /// Most connections open at once (clamped below the open-file limit).
    pub max_connections: usize,
    /// Most calls at once on one connection.
    pub max_concurrent_streams: u32,
}

impl Default for GrpcSection {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            idle_timeout: Duration::from_secs(300),
            max_connections: 10_000,
            max_concurrent_streams: 100,
        }
    }
}

/// `[grpc]` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawGrpc {
    listen: SocketAddr,
    idle_timeout_secs: u64,
    max_connections: usize,
    max_concurrent_streams: u32,
}

impl Default for RawGrpc {
    fn default() -> Self {
        (&GrpcSection::default()).into()
    }
}

impl From<&GrpcSection> for RawGrpc {
    fn from(grpc: &GrpcSection) -> Self {
        Self {
            listen: grpc.listen,
            idle_timeout_secs: grpc.idle_timeout.as_secs(),
            max_connections: grpc.max_connections,
            max_concurrent_streams: grpc.max_concurrent_streams,
        }
    }
}

impl TryFrom<RawGrpc> for GrpcSection {
    type Error = anyhow::Error;

    fn try_from(raw: RawGrpc) -> anyhow::Result<Self> {
        positive("grpc.idle_timeout_secs", raw.idle_timeout_secs)?;
        positive("grpc.max_connections", raw.max_connections as u64)?;
        positive(
            "grpc.max_concurrent_streams",
            u64::from(raw.max_concurrent_streams),
        )?;
        Ok(Self {
            listen: raw.listen,
            idle_timeout: Duration::from_secs(raw.idle_timeout_secs),
            max_connections: raw.max_connections,
            max_concurrent_streams: raw.max_concurrent_streams,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::config::test_env as env;
    use warden_core::AccessTokenKind;

    use crate::config::{Config, Overrides};

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
    fn cors_origins_default_to_the_allowed_origins_and_must_be_origins() {
        let config = Config::load(None, &[], &Overrides::default()).unwrap();
        assert_eq!(config.cors_origins(), config.allowed_origins());
        let config = Config::load(
            None,
            &env(&[(
                "WARDEN_HTTP_CORS_ORIGINS",
                "https://app.example.com, http://localhost:3000",
            )]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            config.cors_origins(),
            ["https://app.example.com", "http://localhost:3000"]
        );
        for bad in [
            "*",
            "https://app.example.com/",
            "app.example.com",
            "https://a.example/x",
            "null",
        ] {
            assert!(
                Config::load(
                    None,
                    &env(&[("WARDEN_HTTP_CORS_ORIGINS", bad)]),
                    &Overrides::default()
                )
                .is_err(),
                "{bad}"
            );
        }
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
        assert_eq!(config.tokens.access, AccessTokenKind::Session);
        assert_eq!(config.tokens.session_cache, Duration::ZERO);
    }
}
