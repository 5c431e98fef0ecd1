//! The outbox relay: drains committed outbox events to the event bus, in
//! commit order, at least once. Events stay in the outbox until the bus has
//! confirmed them, so a bus outage delays them and loses none.
//!
//! Several instances may run a relay on one database; a lease in the store
//! makes exactly one of them publish at a time (the others only try to take
//! the lease over, which they get once its holder stops renewing it). One
//! publisher is what keeps the order: two relays publishing interleaved
//! batches could not.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::Instrument as _;

use crate::error::StoreError;
use crate::model::OutboxEvent;
use crate::ports::{Clock, Store};

/// Why the bus did not take a batch.
#[derive(Debug, thiserror::Error)]
#[error("event bus: {0}")]
pub struct PublishError(pub String);

/// The bus, as the relay needs it. Adapters: in-process, NATS JetStream,
/// RabbitMQ (crate `warden-events`).
#[async_trait]
pub trait EventPublisher: Send + Sync + 'static {
    /// Short name for logs, metrics and `/readyz` (`nats`, `amqp`, `in-process`).
    fn name(&self) -> &'static str;
    /// Publishes `events` in order and returns once the bus has confirmed
    /// every one of them (persisted, for a durable bus). On error none
    /// counts as published and the batch is offered again later, so a
    /// consumer may see an event twice (same CloudEvents `id`).
    async fn publish(&self, events: &[OutboxEvent]) -> Result<(), PublishError>;
}

/// Relay tuning.
#[derive(Debug, Clone)]
pub struct RelaySettings {
    /// This instance's name in the lease.
    pub holder: String,
    /// How often the holder looks for new events when the outbox was empty.
    pub poll_interval: Duration,
    /// How long a lease lasts without renewal: after a holder dies, another
    /// instance takes over within this (plus one `lease_retry`).
    pub lease_ttl: Duration,
    /// How often an instance without the lease tries to take it.
    pub lease_retry: Duration,
    /// Events per batch.
    pub batch_size: u32,
    /// First retry delay after a failed publish; doubles up to `max_backoff`.
    pub min_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
}

impl RelaySettings {
    /// Defaults for an instance named `holder`.
    pub fn new(holder: impl Into<String>) -> Self {
        Self {
            holder: holder.into(),
            poll_interval: Duration::from_millis(50),
            lease_ttl: Duration::from_secs(10),
            lease_retry: Duration::from_secs(2),
            batch_size: 256,
            min_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// What the relay has done, for metrics and readiness. Cheap to read.
#[derive(Debug, Default)]
pub struct RelayStats {
    published: AtomicU64,
    failures: AtomicU64,
    lag_millis: AtomicI64,
    is_leader: AtomicBool,
    bus_failing: AtomicBool,
    bus_failing_since: std::sync::Mutex<Option<std::time::Instant>>,
}

impl RelayStats {
    /// Events the bus confirmed.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }
    /// Failed publish attempts (batches).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
    /// Age of the oldest event waiting to be published, as of the last
    /// look (zero when the outbox is drained or this instance is not the
    /// publisher).
    pub fn lag(&self) -> Duration {
        Duration::from_millis(self.lag_millis.load(Ordering::Relaxed).max(0) as u64)
    }
    /// Whether this instance holds the lease and publishes.
    pub fn is_leader(&self) -> bool {
        self.is_leader.load(Ordering::Relaxed)
    }
    /// Whether the last publish attempt failed (the bus is down or refusing).
    pub fn is_bus_failing(&self) -> bool {
        self.bus_failing.load(Ordering::Relaxed)
    }
    /// How long publishing has been failing (`None` while it works).
    pub fn bus_failing_for(&self) -> Option<Duration> {
        self.bus_failing_since
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map(|since| since.elapsed())
    }

    /// Records a publish outcome; returns how long publishing had been
    /// failing when this changed it (`Some(ZERO)` for a first failure), so
    /// the caller logs changes only.
    fn record_publish(&self, is_ok: bool) -> Option<Duration> {
        self.bus_failing.store(!is_ok, Ordering::Relaxed);
        let mut since = self
            .bus_failing_since
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        match (is_ok, *since) {
            (true, Some(started)) => {
                *since = None;
                Some(started.elapsed())
            }
            (false, None) => {
                *since = Some(std::time::Instant::now());
                Some(Duration::ZERO)
            }
            _ => None,
        }
    }
}

/// What one step of the relay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Another instance holds the lease.
    NotLeader,
    /// Nothing to publish.
    Idle,
    /// Published this many events; more may be waiting.
    Published(usize),
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The store failed; the events are still there.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The bus failed; the events are still there.
    #[error(transparent)]
    Publish(#[from] PublishError),
}

/// The relay of one instance.
pub struct OutboxRelay {
    store: Arc<dyn Store>,
    publisher: Arc<dyn EventPublisher>,
    clock: Arc<dyn Clock>,
    settings: RelaySettings,
    stats: Arc<RelayStats>,
    lease_until: std::sync::Mutex<Option<DateTime<Utc>>>,
}

impl OutboxRelay {
    /// A relay publishing `store`'s outbox to `publisher`.
    pub fn new(
        store: Arc<dyn Store>,
        publisher: Arc<dyn EventPublisher>,
        clock: Arc<dyn Clock>,
        settings: RelaySettings,
    ) -> Self {
        Self {
            store,
            publisher,
            clock,
            settings,
            stats: Arc::new(RelayStats::default()),
            lease_until: std::sync::Mutex::new(None),
        }
    }

    /// Shared handle to the statistics.
    pub fn stats(&self) -> Arc<RelayStats> {
        self.stats.clone()
    }

    /// The bus's name.
    pub fn bus_name(&self) -> &'static str {
        self.publisher.name()
    }

    fn held_lease(&self) -> Option<DateTime<Utc>> {
        *self.lease_until.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_lease(&self, until: Option<DateTime<Utc>>) {
        *self.lease_until.lock().unwrap_or_else(|e| e.into_inner()) = until;
        self.stats
            .is_leader
            .store(until.is_some(), Ordering::Relaxed);
    }

    /// Takes or renews the lease when due. Renewal happens once a third of
    /// the lease has passed, so a slow store call cannot let it lapse.
    async fn ensure_lease(&self) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let ttl = chrono::Duration::from_std(self.settings.lease_ttl)
            .unwrap_or(chrono::Duration::seconds(10));
        if let Some(until) = self.held_lease()
            && until - now > ttl * 2 / 3
        {
            return Ok(true);
        }
        let until = now + ttl;
        let got = self
            .store
            .acquire_relay_lease(&self.settings.holder, now, until)
            .await;
        match got {
            Ok(true) => {
                if self.held_lease().is_none() {
                    tracing::info!(holder = %self.settings.holder, "outbox relay: this instance publishes events");
                }
                self.set_lease(Some(until));
                Ok(true)
            }
            Ok(false) => {
                if self.held_lease().is_some() {
                    tracing::warn!(holder = %self.settings.holder, "outbox relay: lease lost to another instance");
                }
                self.set_lease(None);
                self.stats.lag_millis.store(0, Ordering::Relaxed);
                Ok(false)
            }
            Err(e) => {
                // Without a confirmed renewal another instance may take over
                // once the lease runs out; stop before that.
                if self.held_lease().is_some_and(|until| until <= now) {
                    self.set_lease(None);
                }
                Err(e)
            }
        }
    }

    /// One step: lease, then at most one batch.
    pub async fn step(&self) -> Result<Step, RelayError> {
        if !self.ensure_lease().await? {
            return Ok(Step::NotLeader);
        }
        let batch = self
            .store
            .list_unpublished_outbox(self.settings.batch_size)
            .await?;
        let Some(((last_seq, _), (_, oldest))) = batch.last().zip(batch.first()) else {
            self.stats.lag_millis.store(0, Ordering::Relaxed);
            return Ok(Step::Idle);
        };
        let now = self.clock.now();
        self.stats
            .lag_millis
            .store((now - oldest.at).num_milliseconds(), Ordering::Relaxed);
        let events: Vec<OutboxEvent> = batch.iter().map(|(_, e)| e.clone()).collect();
        // One trace per batch that goes out (idle polls are not traced):
        // the bus publish and the store's acknowledgement are its children.
        let span = tracing::info_span!(
            "outbox.relay",
            otel.name = "outbox relay",
            events = events.len(),
            last_seq = *last_seq,
        );
        self.publish_batch(&events, *last_seq, now)
            .instrument(span)
            .await
    }

    async fn publish_batch(
        &self,
        events: &[OutboxEvent],
        last_seq: i64,
        now: DateTime<Utc>,
    ) -> Result<Step, RelayError> {
        if let Err(e) = self.publisher.publish(events).await {
            self.stats.failures.fetch_add(1, Ordering::Relaxed);
            // Once per outage; every retry is counted in `failures`.
            if self.stats.record_publish(false).is_some() {
                // Info: readiness raises the one alarm (`bus degraded`); this
                // line carries the cause.
                tracing::info!(error = %e, bus = self.publisher.name(), "outbox relay: publishing failed; events stay in the outbox and are retried");
            }
            return Err(e.into());
        }
        if let Some(down_for) = self.stats.record_publish(true) {
            tracing::info!(
                bus = self.publisher.name(),
                down_for_ms = down_for.as_millis() as u64,
                "outbox relay: publishing recovered after {:.1} s",
                down_for.as_secs_f64()
            );
        }
        // Confirmed by the bus: if marking fails they go out again (at least once).
        self.store.mark_outbox_published(last_seq, now).await?;
        self.stats
            .published
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        Ok(Step::Published(events.len()))
    }

    /// Runs until `shutdown` resolves, then gives the lease up.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = self.settings.min_backoff;
        loop {
            let pause = match self.step().await {
                Ok(Step::Published(n)) if n as u32 >= self.settings.batch_size => Duration::ZERO,
                Ok(Step::Published(_)) | Ok(Step::Idle) => {
                    backoff = self.settings.min_backoff;
                    self.settings.poll_interval
                }
                Ok(Step::NotLeader) => self.settings.lease_retry,
                Err(e) => {
                    // Publish failures were logged once in `publish_batch`;
                    // this line is for debugging only.
                    tracing::debug!(error = %e, bus = self.publisher.name(), retry_in_ms = backoff.as_millis() as u64, "outbox relay: step failed");
                    let pause = backoff;
                    backoff = (backoff * 2).min(self.settings.max_backoff);
                    pause
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        if self.held_lease().is_some()
            && let Err(e) = self.store.release_relay_lease(&self.settings.holder).await
        {
            tracing::warn!(error = %e, "outbox relay: could not release the lease");
        }
    }
}
