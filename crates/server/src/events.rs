//! Wiring of the event bus: the outbox relay that publishes this
//! database's events, and this instance's own subscription that feeds its
//! deny-list with revocations made on other instances.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use warden_core::AuthService;
use warden_core::model::OutboxEvent;
use warden_core::ports::Clock;
use warden_core::readiness::{CheckStatus, ReadinessCheck, ReadinessMonitor};
use warden_core::relay::{EventPublisher, OutboxRelay, PublishError, RelaySettings, RelayStats};
use warden_events::{BusKind, BusNames, CloudEvent, InProcessBus, Publisher, PublisherOptions};

use crate::config::Config;

/// The core's publishing port over a `warden-events` publisher: outbox
/// events become CloudEvents with the issuer as `source`.
struct BusPublisher {
    publisher: Publisher,
    source: String,
}

#[async_trait]
impl EventPublisher for BusPublisher {
    fn name(&self) -> &'static str {
        self.publisher.kind().name()
    }

    async fn publish(&self, events: &[OutboxEvent]) -> Result<(), PublishError> {
        let events: Vec<CloudEvent> = events
            .iter()
            .map(|e| {
                CloudEvent::new(
                    e.id.to_string(),
                    self.source.clone(),
                    &e.name,
                    e.at,
                    e.data.clone(),
                )
            })
            .collect();
        self.publisher
            .publish(&events)
            .await
            .map_err(|e| PublishError(e.to_string()))
    }
}

/// Broker names from configuration.
pub fn bus_names(config: &Config) -> BusNames {
    BusNames {
        subject_prefix: config.events.subject_prefix.clone(),
        stream: config.events.stream.clone(),
        exchange: config.events.exchange.clone(),
    }
}

/// What the events wiring hands back: tasks to stop, metrics, readiness.
pub struct Events {
    /// The relay's statistics.
    pub relay: Arc<RelayStats>,
    /// What `/readyz` and gRPC health report: the store (required) and the
    /// bus, when there is one (optional: degraded, never unready; decision
    /// 0017).
    pub readiness: Arc<ReadinessMonitor>,
    readiness_task: tokio::task::JoinHandle<()>,
    /// The in-process bus (what a single binary's own subscribers use).
    pub local: InProcessBus,
    relay_task: tokio::task::JoinHandle<()>,
    relay_stop: tokio::sync::oneshot::Sender<()>,
    _subscription: Option<warden_events::Subscription>,
}

impl Events {
    /// Stops the relay (it gives its lease up) and the subscription.
    pub async fn stop(self) {
        self.readiness_task.abort();
        let _ = self.relay_stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(5), self.relay_task).await;
    }
}

/// Starts the relay and, with a broker, this instance's subscription.
pub fn start(
    config: &Config,
    auth: &Arc<AuthService>,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Events> {
    let url = config.events.url.as_ref().map(|u| u.expose().to_owned());
    let kind = BusKind::of_url(url.as_deref())?;
    let names = bus_names(config);
    let local = InProcessBus::new();
    let max_age = auth
        .settings()
        .revocation_ttl()
        .to_std()
        .unwrap_or(Duration::from_secs(930));
    let publisher = Publisher::new(
        url.as_deref(),
        local.clone(),
        PublisherOptions {
            names: names.clone(),
            max_age,
            confirm_timeout: Duration::from_secs(5),
        },
    )?;
    let holder = lease_holder();
    let mut settings = RelaySettings::new(holder);
    settings.poll_interval = config.events.relay_poll;
    let relay = OutboxRelay::new(
        auth.store(),
        Arc::new(BusPublisher {
            publisher,
            source: config.issuer(),
        }),
        clock,
        settings,
    );
    let stats = relay.stats();
    let (relay_stop, stop) = tokio::sync::oneshot::channel::<()>();
    let relay_task = tokio::spawn(relay.run(async {
        let _ = stop.await;
    }));

    let mut readiness = Vec::new();
    let subscription = match (&url, kind) {
        (Some(url), BusKind::Nats | BusKind::Amqp) => {
            let denylist = auth.denylist().clone();
            let subscription = warden_events::subscribe_with(
                url,
                names,
                max_age,
                Arc::new(move |event: CloudEvent| {
                    denylist.apply(&event);
                }),
            )?;
            readiness.push(bus_check(subscription.status(), stats.clone()));
            Some(subscription)
        }
        _ => None,
    };
    tracing::info!(bus = kind.name(), "events: relay started");
    let readiness = ReadinessMonitor::new(auth.store(), readiness, STORE_CHECK_TIMEOUT);
    let readiness_task = readiness.spawn(ReadinessMonitor::INTERVAL);
    Ok(Events {
        relay: stats,
        readiness,
        readiness_task,
        local,
        relay_task,
        relay_stop,
        _subscription: subscription,
    })
}

/// Longest wait of one background store check: a probe during a database
/// partition reports it unavailable within about this plus one interval.
const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// The bus as a readiness check: optional, so an outage degrades the
/// instance without taking it out of service. Down while this instance's
/// subscription is disconnected or its relay cannot publish.
fn bus_check(
    subscription: Arc<warden_events::SubscriptionStatus>,
    relay: Arc<RelayStats>,
) -> ReadinessCheck {
    ReadinessCheck {
        name: "bus",
        is_required: false,
        status: Arc::new(move || {
            let down_for = match (subscription.down_for(), relay.bus_failing_for()) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            CheckStatus {
                is_ok: down_for.is_none(),
                down_for,
                lag: Some(relay.lag()),
                failures: subscription.failures(),
            }
        }),
    }
}

/// This instance's name in leases: the host name and a random suffix.
pub(crate) fn lease_holder() -> String {
    format!("{}-{}", hostname(), uuid_suffix())
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty() && h.len() <= 40 && h.is_ascii())
        .unwrap_or_else(|| "warden".to_owned())
}

fn uuid_suffix() -> String {
    use rand::RngCore as _;
    let mut bytes = [0_u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
