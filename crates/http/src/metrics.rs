//! Prometheus metrics, owned by the app state (no global registry).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of request metrics: the route template (never the raw path, which
/// could carry ids or secrets), method and status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Matched route template.
    pub route: String,
    /// HTTP method: one of the standard ones, or `other` ([`method_label`]).
    pub method: String,
    /// Status code.
    pub status: u16,
}

/// Labels of latency: route only, to keep series few.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Matched route template.
    pub route: String,
}

/// Labels of gRPC calls: the method path and the status name.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrpcLabels {
    /// `/warden.v1.AuthService/Validate`, or `unmatched`.
    pub method: String,
    /// `OK`, `UNAUTHENTICATED`, ...
    pub code: String,
}

/// Labels of gRPC latency: method only.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrpcMethodLabels {
    /// The method path, or `unmatched`.
    pub method: String,
}

/// Labels of sign-in outcomes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `success`, or the stable error code.
    pub outcome: String,
}

/// Labels of token-endpoint requests: the grant (one of the three, or
/// `other`) and whether tokens were issued.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct GrantLabels {
    /// `authorization_code`, `refresh_token`, `client_credentials`, `other`.
    pub grant: &'static str,
    /// `success` or `failure`.
    pub outcome: &'static str,
}

/// Labels of readiness metrics: the dependency (`store`, `bus`), a fixed set.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    /// The readiness check's name.
    pub check: String,
}

/// Labels of mail deliveries: the kind and the outcome, both fixed sets
/// (`MailKind::as_str`; `sent`, `retry`, `failed`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MailLabels {
    /// `verify_email`, `password_reset`, ...
    pub kind: String,
    /// `sent`, `retry` or `failed`.
    pub outcome: String,
}

/// The outcomes of a mail delivery attempt.
pub const MAIL_OUTCOMES: [&str; 3] = ["sent", "retry", "failed"];

/// Latency buckets, seconds, shared by HTTP and gRPC.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Every metric Warden exports.
pub struct Metrics {
    registry: Registry,
    /// Requests by route, method and status.
    pub requests: Family<RequestLabels, Counter>,
    /// Request latency by route.
    pub latency: Family<RouteLabels, Histogram>,
    /// gRPC calls by method and status.
    pub grpc_requests: Family<GrpcLabels, Counter>,
    /// gRPC call latency by method.
    pub grpc_latency: Family<GrpcMethodLabels, Histogram>,
    /// Sign-in outcomes.
    pub signins: Family<OutcomeLabels, Counter>,
    /// Social sign-in outcomes (callbacks).
    pub social_signins: Family<OutcomeLabels, Counter>,
    /// `/oauth2/token` requests by grant and outcome.
    pub oauth_tokens: Family<GrantLabels, Counter>,
    /// Requests in the password-hashing pool.
    pub hash_queue_depth: Gauge,
    /// Deny-list entries.
    pub denylist_entries: Gauge,
    /// Outbox events the bus confirmed (this instance's relay).
    pub outbox_published: Counter,
    /// Failed publish attempts.
    pub outbox_publish_failures: Counter,
    /// Age of the oldest unpublished event, in seconds.
    pub outbox_lag_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// 1 while this instance's relay holds the lease and publishes.
    pub outbox_relay_leader: Gauge,
    /// 1 while a readiness dependency answers, 0 while it is down.
    pub readiness_check_up: Family<CheckLabels, Gauge>,
    /// How long a readiness dependency has been down, in seconds.
    pub readiness_check_down_seconds: Family<CheckLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    /// Failed checks, reconnects and retries of a readiness dependency
    /// (counted here rather than logged one by one).
    pub readiness_check_failures: Family<CheckLabels, Counter>,
    /// Mail delivery attempts by kind and outcome.
    pub mail_sent: Family<MailLabels, Counter>,
    /// Messages waiting in the mail queue.
    pub mail_queue_depth: Gauge,
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("warden");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS)
        });
        let grpc_requests = Family::<GrpcLabels, Counter>::default();
        let grpc_latency = Family::<GrpcMethodLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(LATENCY_BUCKETS)
        });
        let signins = Family::<OutcomeLabels, Counter>::default();
        let social_signins = Family::<OutcomeLabels, Counter>::default();
        let oauth_tokens = Family::<GrantLabels, Counter>::default();
        let hash_queue_depth = Gauge::default();
        let denylist_entries = Gauge::default();
        let outbox_published = Counter::default();
        let outbox_publish_failures = Counter::default();
        let outbox_lag_seconds = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        let outbox_relay_leader = Gauge::default();
        let readiness_check_up = Family::<CheckLabels, Gauge>::default();
        let readiness_check_down_seconds =
            Family::<CheckLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        let readiness_check_failures = Family::<CheckLabels, Counter>::default();
        let mail_sent = Family::<MailLabels, Counter>::default();
        let mail_queue_depth = Gauge::default();
        // Every series exists from the start, at zero: a rate over a series
        // that appears with its first failure misses that failure.
        for kind in warden_core::mail::MailKind::ALL {
            for outcome in MAIL_OUTCOMES {
                let _created = mail_sent.get_or_create(&MailLabels {
                    kind: kind.as_str().to_owned(),
                    outcome: outcome.to_owned(),
                });
            }
        }
        registry.register(
            "mail_sent",
            "Mail delivery attempts by kind and outcome (sent, retry, failed)",
            mail_sent.clone(),
        );
        registry.register(
            "mail_queue_depth",
            "Messages in the mail queue, neither sent nor given up",
            mail_queue_depth.clone(),
        );
        registry.register(
            "readiness_check_up",
            "1 while a readiness dependency answers (store, bus)",
            readiness_check_up.clone(),
        );
        registry.register(
            "readiness_check_down_seconds",
            "How long a readiness dependency has been down",
            readiness_check_down_seconds.clone(),
        );
        registry.register(
            "readiness_check_failures",
            "Failed checks and reconnect attempts of a readiness dependency",
            readiness_check_failures.clone(),
        );
        registry.register(
            "outbox_published",
            "Outbox events the bus confirmed",
            outbox_published.clone(),
        );
        registry.register(
            "outbox_publish_failures",
            "Failed attempts to publish outbox events",
            outbox_publish_failures.clone(),
        );
        registry.register(
            "outbox_lag_seconds",
            "Age of the oldest outbox event not yet published",
            outbox_lag_seconds.clone(),
        );
        registry.register(
            "outbox_relay_leader",
            "1 while this instance publishes the outbox",
            outbox_relay_leader.clone(),
        );
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency",
            latency.clone(),
        );
        registry.register(
            "grpc_requests",
            "gRPC calls by method and status",
            grpc_requests.clone(),
        );
        registry.register(
            "grpc_request_duration_seconds",
            "gRPC call latency",
            grpc_latency.clone(),
        );
        registry.register("signins", "Sign-in attempts by outcome", signins.clone());
        registry.register(
            "social_signins",
            "Social sign-in callbacks by outcome",
            social_signins.clone(),
        );
        registry.register(
            "oauth_token_requests",
            "OAuth token-endpoint requests by grant and outcome",
            oauth_tokens.clone(),
        );
        registry.register(
            "password_hash_queue_depth",
            "Requests in the password-hashing pool",
            hash_queue_depth.clone(),
        );
        registry.register(
            "denylist_entries",
            "Revoked sessions and users remembered",
            denylist_entries.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            grpc_requests,
            grpc_latency,
            signins,
            social_signins,
            oauth_tokens,
            hash_queue_depth,
            denylist_entries,
            outbox_published,
            outbox_publish_failures,
            outbox_lag_seconds,
            outbox_relay_leader,
            readiness_check_up,
            readiness_check_down_seconds,
            readiness_check_failures,
            mail_sent,
            mail_queue_depth,
        }
    }

    /// Counts one mail delivery attempt; `kind` and `outcome` come from
    /// fixed sets (`MailKind::as_str`, [`MAIL_OUTCOMES`]).
    pub fn record_mail(&self, kind: &'static str, outcome: &'static str) {
        self.mail_sent
            .get_or_create(&MailLabels {
                kind: kind.to_owned(),
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Copies a readiness answer into the exported metrics (at scrape time).
    pub fn record_readiness(&self, readiness: &warden_core::readiness::Readiness) {
        for check in readiness.checks() {
            let labels = CheckLabels {
                check: check.name.to_owned(),
            };
            self.readiness_check_up
                .get_or_create(&labels)
                .set(i64::from(check.status.is_ok));
            self.readiness_check_down_seconds
                .get_or_create(&labels)
                .set(check.status.down_for.unwrap_or_default().as_secs_f64());
            let failures = self.readiness_check_failures.get_or_create(&labels);
            failures.inc_by(check.status.failures.saturating_sub(failures.get()));
        }
    }

    /// Copies the relay's statistics into the exported metrics (at scrape time).
    pub fn record_relay(&self, relay: &warden_core::relay::RelayStats) {
        let published = relay.published();
        self.outbox_published
            .inc_by(published.saturating_sub(self.outbox_published.get()));
        let failures = relay.failures();
        self.outbox_publish_failures
            .inc_by(failures.saturating_sub(self.outbox_publish_failures.get()));
        self.outbox_lag_seconds.set(relay.lag().as_secs_f64());
        self.outbox_relay_leader.set(i64::from(relay.is_leader()));
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "could not encode metrics");
        }
        out
    }

    /// Counts one gRPC call and its latency.
    pub fn record_grpc(&self, method: &str, code: &str, elapsed: std::time::Duration) {
        self.grpc_latency
            .get_or_create(&GrpcMethodLabels {
                method: method.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
        self.grpc_requests
            .get_or_create(&GrpcLabels {
                method: method.to_owned(),
                code: code.to_owned(),
            })
            .inc();
    }

    /// Counts one sign-in outcome.
    pub fn record_signin(&self, outcome: &str) {
        self.signins
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }

    /// Counts one token-endpoint request (`grant` from a fixed set).
    pub fn record_oauth_token(&self, grant: &'static str, issued: bool) {
        self.oauth_tokens
            .get_or_create(&GrantLabels {
                grant,
                outcome: if issued { "success" } else { "failure" },
            })
            .inc();
    }
}

impl Metrics {
    /// Counts one social sign-in callback's outcome: `success` or one of
    /// the redirect's error codes (a fixed set, see [`SOCIAL_OUTCOMES`]).
    pub fn record_social(&self, outcome: &str) {
        let outcome = SOCIAL_OUTCOMES
            .iter()
            .find(|known| **known == outcome)
            .copied()
            .unwrap_or("other");
        self.social_signins
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_owned(),
            })
            .inc();
    }
}

/// Every `outcome` label of `warden_social_signins_total`.
pub const SOCIAL_OUTCOMES: &[&str] = &[
    "success",
    "state_mismatch",
    "provider_error",
    "email_not_verified_by_provider",
    "account_exists",
    "sign_up_disabled",
    "account_banned",
    "identity_taken",
    "mfa_required",
    "server_error",
];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The `method` label: a standard method (RFC 9110 §9 and PATCH), or
/// `other`, so that invented method tokens cannot grow the series without
/// bound.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// Middleware recording count and latency of every request.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(request.method()).to_owned();
    let started = Instant::now();
    let span = tracing::Span::current();
    let response = next.run(request).await;
    span.record("http.response.status_code", response.status().as_u16());
    if response.status().is_server_error() {
        span.record("otel.status_code", "error");
    }
    metrics
        .latency
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            route,
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_come_from_a_fixed_set() {
        use axum::http::Method;
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for invented in ["FOO", "get", "PROPFIND", "X1234"] {
            let method = Method::from_bytes(invented.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{invented}");
        }
    }
}
