//! `[http]` and `[grpc]`: the two listeners.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use crate::config::test_env as env;
    use crate::config::{AccessMode, Config, Overrides};

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
}
