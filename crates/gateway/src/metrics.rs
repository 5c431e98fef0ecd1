//! Prometheus metrics of the gateway, labelled by route prefix (never the
//! raw path, which could carry ids or secrets).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The route label of requests no route matched.
pub const NO_ROUTE: &str = "none";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    route: String,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Every metric the gateway exports.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    upstream_errors: Family<ReasonLabels, Counter>,
    auth_failures: Family<ReasonLabels, Counter>,
    /// Seconds since revocations were last confirmed current (-1: never).
    revocation_staleness: Gauge<f64, std::sync::atomic::AtomicU64>,
    reloads: Family<OutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("warden_gateway");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                5.0, 10.0,
            ])
        });
        let upstream_errors = Family::<ReasonLabels, Counter>::default();
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        let revocation_staleness = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let reloads = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests by route prefix and status class",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to the response headers, by route prefix",
            latency.clone(),
        );
        registry.register(
            "upstream_errors",
            "Upstreams unreachable (connect) or too slow (timeout), by route prefix",
            upstream_errors.clone(),
        );
        registry.register(
            "auth_failures",
            "Requests refused by the token or role check, by route prefix and reason",
            auth_failures.clone(),
        );
        registry.register(
            "revocation_staleness_seconds",
            "Seconds since revocations were last confirmed current (-1: never)",
            revocation_staleness.clone(),
        );
        registry.register(
            "config_reloads",
            "SIGHUP reloads by outcome",
            reloads.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            upstream_errors,
            auth_failures,
            revocation_staleness,
            reloads,
        }
    }

    /// One answered request.
    pub fn record(&self, route: &str, status: u16, elapsed: Duration) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                class,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// An upstream failure: `connect` or `timeout`.
    pub fn upstream_error(&self, route: &str, reason: &'static str) {
        self.upstream_errors
            .get_or_create(&ReasonLabels {
                route: route.to_owned(),
                reason,
            })
            .inc();
    }

    /// A refusal by the token, role or CSRF check; `reason` is the stable code.
    pub fn auth_failure(&self, route: &str, reason: &'static str) {
        self.auth_failures
            .get_or_create(&ReasonLabels {
                route: route.to_owned(),
                reason,
            })
            .inc();
    }

    /// A reload attempt: `ok` or `invalid`.
    pub fn reload(&self, outcome: &'static str) {
        self.reloads.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// The text exposition format, with the staleness sampled now.
    pub fn render(&self, staleness: Option<Duration>) -> String {
        self.revocation_staleness
            .set(staleness.map_or(-1.0, |s| s.as_secs_f64()));
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "could not encode metrics");
        }
        out
    }
}
