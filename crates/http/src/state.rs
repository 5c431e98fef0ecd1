//! The state every handler shares.

use std::sync::Arc;
use std::time::Duration;

use warden_core::AuthService;

use crate::metrics::Metrics;

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins allowed to make cookie-authenticated state changes.
    pub allowed_origins: Vec<String>,
    /// Longest a request may take before 503.
    pub request_timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            allowed_origins: Vec::new(),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Cloneable handle to everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    /// The domain service.
    pub auth: Arc<AuthService>,
    /// HTTP settings.
    pub config: Arc<HttpConfig>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
}
