//! Warden's event bus, as seen by a publisher (the outbox relay) and by a
//! subscriber (every verifier's deny-list). Events are CloudEvents 1.0 JSON
//! ([`CloudEvent`]); the subject (NATS) or routing key (RabbitMQ) of event
//! `session.revoked` is `<prefix>.session.revoked`, `warden.session.revoked`
//! by default.
//!
//! - **in-process**: a broadcast channel inside one binary (the default
//!   when no bus is configured);
//! - **NATS JetStream** (`nats://`): a stream over `<prefix>.>` whose max
//!   age is the longest an access token can live, so a subscriber that
//!   starts late replays every revocation that still matters; publishes are
//!   acknowledged by the stream and deduplicated by event id;
//! - **RabbitMQ** (`amqp://`): a durable topic exchange, persistent messages
//!   and publisher confirms; each subscriber binds its own exclusive queue.
//!
//! This crate depends on `warden-token` only (for the event types), so
//! `warden-verify` can subscribe without pulling in the server.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

use std::time::Duration;

use tracing::Instrument as _;

pub use warden_token::revocation::CloudEvent;

#[cfg(feature = "amqp")]
mod amqp;
mod in_process;
#[cfg(feature = "nats")]
mod nats;
mod subscribe;

pub use in_process::InProcessBus;
pub use subscribe::{Subscription, SubscriptionStatus, subscribe, subscribe_with};

/// Why the bus failed.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The URL names no bus this build supports, or is malformed.
    #[error("unsupported events URL: {0}")]
    Url(String),
    /// The broker cannot be reached or refused the operation; retry later.
    #[error("{bus}: {message}")]
    Broker {
        /// `nats` or `amqp`.
        bus: &'static str,
        /// What failed (never credentials).
        message: String,
    },
}

impl BusError {
    pub(crate) fn broker(bus: &'static str, message: impl std::fmt::Display) -> Self {
        BusError::Broker {
            bus,
            message: message.to_string(),
        }
    }
}

/// Names on the broker; unique ones isolate test runs from each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusNames {
    /// First token of every subject / routing key (`warden`).
    pub subject_prefix: String,
    /// JetStream stream name (`WARDEN`).
    pub stream: String,
    /// RabbitMQ topic exchange (`warden`).
    pub exchange: String,
}

impl Default for BusNames {
    fn default() -> Self {
        Self {
            subject_prefix: "warden".to_owned(),
            stream: "WARDEN".to_owned(),
            exchange: "warden".to_owned(),
        }
    }
}

/// The span of one event handed to a subscriber: the deny list's update
/// is its child, so a trace shows when a revocation reached a verifier.
pub(crate) fn delivery_span(bus: &'static str, event: &CloudEvent) -> tracing::Span {
    tracing::info_span!(
        "bus.deliver",
        otel.name = %format_args!("{bus} process"),
        otel.kind = "consumer",
        messaging.system = bus,
        messaging.operation.type = "process",
        messaging.message.id = %event.id,
        cloudevents.event_type = %event.type_,
    )
}

impl BusNames {
    /// The subject / routing key of an event.
    pub fn subject_of(&self, event: &CloudEvent) -> String {
        let name = event.name().unwrap_or("unknown");
        format!("{}.{name}", self.subject_prefix)
    }
}

/// Which bus a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusKind {
    /// No broker: events stay in the process.
    InProcess,
    /// NATS JetStream.
    Nats,
    /// RabbitMQ (AMQP 0-9-1).
    Amqp,
}

impl BusKind {
    /// The bus of an events URL; `None` or an empty string is in-process.
    pub fn of_url(url: Option<&str>) -> Result<BusKind, BusError> {
        let Some(url) = url.filter(|u| !u.trim().is_empty()) else {
            return Ok(BusKind::InProcess);
        };
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("nats" | "tls") if cfg!(feature = "nats") => Ok(BusKind::Nats),
            Some("amqp" | "amqps") if cfg!(feature = "amqp") => Ok(BusKind::Amqp),
            Some("inprocess" | "in-process") => Ok(BusKind::InProcess),
            _ => Err(BusError::Url(redact_url(url))),
        }
    }

    /// Short name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            BusKind::InProcess => "in-process",
            BusKind::Nats => "nats",
            BusKind::Amqp => "amqp",
        }
    }
}

/// A URL fit for logs, errors and output, the one rule for every URL Warden
/// shows (bus, database, gateway feeds): the password of its user info
/// replaced (`scheme://user:[redacted]@host`). User info without a `:` is
/// a user name to a database (`postgres://warden@db` is shown as is) but
/// may be a bare token elsewhere, as NATS takes, so it is hidden whole
/// there (`nats://[redacted]@host`). The last `@` ends the user info, so a
/// password holding an unescaped `@` is hidden whole.
pub fn redact_url(url: &str) -> String {
    const USER_NAME_SCHEMES: [&str; 5] = ["postgres", "postgresql", "mysql", "mariadb", "sqlite"];
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let (head, tail) = (&url[..scheme + 3], &url[at..]);
            match url[scheme + 3..at].split_once(':') {
                Some((user, _)) => format!("{head}{user}:[redacted]{tail}"),
                None if USER_NAME_SCHEMES
                    .contains(&url[..scheme].to_ascii_lowercase().as_str()) =>
                {
                    url.to_owned()
                }
                None => format!("{head}[redacted]{tail}"),
            }
        }
        _ => url.to_owned(),
    }
}

/// Settings of a publisher.
#[derive(Debug, Clone)]
pub struct PublisherOptions {
    /// Broker names.
    pub names: BusNames,
    /// JetStream max age: the longest an access token lives (plus leeway).
    pub max_age: Duration,
    /// Longest wait for the broker's confirmation of one batch.
    pub confirm_timeout: Duration,
}

impl Default for PublisherOptions {
    fn default() -> Self {
        Self {
            names: BusNames::default(),
            max_age: Duration::from_secs(15 * 60 + 30),
            confirm_timeout: Duration::from_secs(5),
        }
    }
}

enum Inner {
    InProcess(InProcessBus),
    #[cfg(feature = "nats")]
    Nats(nats::NatsPublisher),
    #[cfg(feature = "amqp")]
    Amqp(amqp::AmqpPublisher),
}

/// Publishes events to the configured bus.
pub struct Publisher {
    inner: Inner,
}

impl Publisher {
    /// A publisher for `url` (`None`: in-process, on `local`). Connects
    /// lazily: a broker that is down now is retried on every publish, so
    /// Warden starts (and queues events in its outbox) while it is away.
    pub fn new(
        url: Option<&str>,
        local: InProcessBus,
        options: PublisherOptions,
    ) -> Result<Publisher, BusError> {
        let inner = match BusKind::of_url(url)? {
            BusKind::InProcess => Inner::InProcess(local),
            #[cfg(feature = "nats")]
            BusKind::Nats => Inner::Nats(nats::NatsPublisher::new(
                url.unwrap_or_default().to_owned(),
                options,
            )),
            #[cfg(feature = "amqp")]
            BusKind::Amqp => Inner::Amqp(amqp::AmqpPublisher::new(
                url.unwrap_or_default().to_owned(),
                options,
            )),
            #[allow(unreachable_patterns)]
            _ => return Err(BusError::Url(redact_url(url.unwrap_or_default()))),
        };
        Ok(Publisher { inner })
    }

    /// Which bus this is.
    pub fn kind(&self) -> BusKind {
        match &self.inner {
            Inner::InProcess(_) => BusKind::InProcess,
            #[cfg(feature = "nats")]
            Inner::Nats(_) => BusKind::Nats,
            #[cfg(feature = "amqp")]
            Inner::Amqp(_) => BusKind::Amqp,
        }
    }

    /// Publishes `events` in order; returns once the broker confirmed all
    /// of them. On error some may have been delivered: publish the batch
    /// again (subscribers see the same ids twice, which is harmless).
    pub async fn publish(&self, events: &[CloudEvent]) -> Result<(), BusError> {
        let kind = self.kind();
        let span = tracing::info_span!(
            "bus.publish",
            otel.name = %format_args!("{} publish", kind.name()),
            otel.kind = "producer",
            otel.status_code = tracing::field::Empty,
            messaging.system = kind.name(),
            messaging.operation.type = "send",
            messaging.batch.message_count = events.len(),
        );
        let result = self.publish_untraced(events).instrument(span.clone()).await;
        if result.is_err() {
            span.record("otel.status_code", "error");
        }
        result
    }

    async fn publish_untraced(&self, events: &[CloudEvent]) -> Result<(), BusError> {
        match &self.inner {
            Inner::InProcess(bus) => {
                bus.publish(events);
                Ok(())
            }
            #[cfg(feature = "nats")]
            Inner::Nats(p) => p.publish(events).await,
            #[cfg(feature = "amqp")]
            Inner::Amqp(p) => p.publish(events).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn a_url_shows_its_user_but_never_its_password_or_token() {
        assert_eq!(
            redact_url("amqp://guest:s3cret@mq.internal:5672/%2f"),
            "amqp://guest:[redacted]@mq.internal:5672/%2f"
        );
        assert_eq!(
            redact_url("mysql://root:p@ss@127.0.0.1:3306/test"),
            "mysql://root:[redacted]@127.0.0.1:3306/test"
        );
        assert_eq!(
            redact_url("nats://s3cret-token@nats.internal:4222"),
            "nats://[redacted]@nats.internal:4222"
        );
        assert_eq!(redact_url("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        assert_eq!(
            redact_url("postgres://warden@db/warden"),
            "postgres://warden@db/warden",
            "a database's user name is no secret"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
