//! The state every handler shares.

use std::sync::Arc;
use std::time::Duration;

use warden_core::AuthService;
use warden_core::ports::SocialProvider;
use warden_core::relay::RelayStats;

use crate::metrics::Metrics;
use crate::oauth_flow::FlowSealer;
use crate::sign_in::SignInRedirect;

/// HTTP-level settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins allowed to make cookie-authenticated state changes.
    pub allowed_origins: Vec<String>,
    /// Origins whose scripts may call the API with credentials (CORS);
    /// `[http] cors_origins`, by default the allowed origins.
    pub cors_origins: Vec<String>,
    /// Longest a request may take before 503.
    pub request_timeout: Duration,
    /// Bearer credential for `GET /v1/revocations`; without one the feed
    /// answers loopback peers only.
    pub revocations_token: Option<String>,
    /// Where `/v1/verify` sends a browser without a valid token, instead of
    /// answering 401 (`[verify] sign_in_url`).
    pub sign_in: Option<SignInRedirect>,
    /// Called with each request's span and headers before the request is
    /// handled, so tracing can continue the caller's trace (`traceparent`).
    pub trace_context: Option<TraceContextFn>,
    /// Social sign-in: the providers and the flow cookie's sealer.
    pub social: SocialConfig,
}

/// `[[oauth.provider]]` and `[oauth]`, wired.
#[derive(Clone)]
pub struct SocialConfig {
    /// The providers, in configuration order.
    pub providers: Vec<Arc<dyn SocialProvider>>,
    /// `[oauth] auto_link_verified_email`.
    pub auto_link_verified_email: bool,
    /// Seals the flow cookie.
    pub sealer: FlowSealer,
}

impl Default for SocialConfig {
    /// No providers; flows sealed under a random key.
    fn default() -> Self {
        use rand::RngCore as _;
        let mut key = [0_u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self {
            providers: Vec::new(),
            auto_link_verified_email: true,
            sealer: FlowSealer::new(&key),
        }
    }
}

impl std::fmt::Debug for SocialConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocialConfig")
            .field(
                "providers",
                &self.providers.iter().map(|p| p.id()).collect::<Vec<_>>(),
            )
            .field("auto_link_verified_email", &self.auto_link_verified_email)
            .finish_non_exhaustive()
    }
}

/// Links a fresh request span to the trace its headers carry.
pub type TraceContextFn = fn(&tracing::Span, &axum::http::HeaderMap);

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            allowed_origins: Vec::new(),
            cors_origins: Vec::new(),
            request_timeout: Duration::from_secs(10),
            revocations_token: None,
            sign_in: None,
            trace_context: None,
            social: SocialConfig::default(),
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
    /// What `/readyz` reports: the store and the event bus, checked in
    /// the background (the gRPC health service reads the same monitor).
    pub readiness: Arc<ReadinessMonitor>,
    /// The outbox relay's statistics, when a relay runs.
    pub relay: Option<Arc<RelayStats>>,
}

pub use warden_core::readiness::{ReadinessCheck, ReadinessMonitor};
