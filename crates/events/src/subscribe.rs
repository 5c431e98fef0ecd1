//! Subscriptions that survive broker outages: a task that (re)connects with
//! back-off and hands every event to a sink, and a status that says whether
//! it is connected and since when it is not.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::{BusError, BusKind, BusNames, CloudEvent, InProcessBus, PublisherOptions};

/// Connection state of a subscription, shared with its task.
#[derive(Debug)]
pub struct SubscriptionStatus {
    connected: AtomicBool,
    has_connected: AtomicBool,
    received: AtomicU64,
    failures: AtomicU64,
    since: std::sync::Mutex<Instant>,
}

impl SubscriptionStatus {
    fn new() -> Self {
        Self {
            connected: AtomicBool::new(false),
            has_connected: AtomicBool::new(false),
            received: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            since: std::sync::Mutex::new(Instant::now()),
        }
    }

    /// Records a change of state, logging it once: the loss of the
    /// connection, and its return with how long it was gone. Retries in
    /// between are counted ([`SubscriptionStatus::failures`]), not logged.
    pub(crate) fn set_connected(&self, connected: bool) {
        let was = self.connected.swap(connected, Ordering::SeqCst);
        if was == connected {
            return;
        }
        let mut since = self.since.lock().unwrap_or_else(|e| e.into_inner());
        let down_for = since.elapsed();
        *since = Instant::now();
        if connected {
            if self.has_connected.swap(true, Ordering::SeqCst) {
                tracing::info!(
                    down_for_ms = down_for.as_millis() as u64,
                    "event subscription recovered after {:.1} s",
                    down_for.as_secs_f64()
                );
            } else {
                tracing::info!("event subscription connected");
            }
        } else {
            // Info, not a warning: the server's readiness monitor raises the
            // one alarm for the outage (`bus degraded`).
            tracing::info!("event subscription lost its broker; reconnecting in the background");
        }
    }

    fn record_failure(&self, error: &BusError, retry_in: Duration) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        // Never connected yet: say once why (a wrong URL shows here).
        if failures == 1 && !self.has_connected.load(Ordering::SeqCst) {
            tracing::warn!(error = %error, "event subscription cannot connect yet; retrying in the background");
        } else {
            tracing::debug!(error = %error, retry_in_ms = retry_in.as_millis() as u64, "event subscription retry");
        }
    }

    /// Failed connection or consumption attempts so far.
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Whether the subscription is connected and consuming.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// How long the subscription has been down (`None` while connected).
    pub fn down_for(&self) -> Option<Duration> {
        if self.is_connected() {
            return None;
        }
        Some(
            self.since
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .elapsed(),
        )
    }

    /// Events handed to the sink so far.
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// A running subscription; dropping it stops it.
#[derive(Debug)]
pub struct Subscription {
    status: Arc<SubscriptionStatus>,
    task: JoinHandle<()>,
}

impl Subscription {
    /// The shared status.
    pub fn status(&self) -> Arc<SubscriptionStatus> {
        self.status.clone()
    }

    /// A subscription to the in-process bus.
    pub fn local(bus: &InProcessBus, sink: Arc<dyn Fn(CloudEvent) + Send + Sync>) -> Self {
        let status = Arc::new(SubscriptionStatus::new());
        status.set_connected(true);
        let mut receiver = bus.receiver();
        let task_status = status.clone();
        let task = tokio::spawn(async move {
            loop {
                match receiver.recv().await {
                    Ok(event) => {
                        task_status.received.fetch_add(1, Ordering::Relaxed);
                        let _delivery = crate::delivery_span("in_process", &event).entered();
                        sink(event);
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "in-process subscriber fell behind");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
            task_status.set_connected(false);
        });
        Self { status, task }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Subscribes to every Warden event on the broker at `url` (NATS: replaying
/// what the stream retains first; RabbitMQ: from now on, through an
/// exclusive queue). Reconnects by itself, with back-off, for as long as the
/// returned handle lives. Must be called inside a Tokio runtime.
///
/// On a fresh broker the subscription creates what it reads from (the
/// JetStream stream, with the default max age; the RabbitMQ exchange), so
/// it never waits for a first publish. [`subscribe_with`] sets the max age.
pub fn subscribe(
    url: &str,
    names: BusNames,
    sink: Arc<dyn Fn(CloudEvent) + Send + Sync>,
) -> Result<Subscription, BusError> {
    subscribe_with(url, names, PublisherOptions::default().max_age, sink)
}

/// [`subscribe`], creating a missing JetStream stream with `max_age` (give
/// it the publisher's [`PublisherOptions::max_age`], so the stream is the
/// same whoever creates it).
pub fn subscribe_with(
    url: &str,
    names: BusNames,
    max_age: Duration,
    sink: Arc<dyn Fn(CloudEvent) + Send + Sync>,
) -> Result<Subscription, BusError> {
    let kind = BusKind::of_url(Some(url))?;
    if kind == BusKind::InProcess {
        return Err(BusError::Url(
            "an in-process bus has no URL to subscribe to".into(),
        ));
    }
    let url = url.to_owned();
    let status = Arc::new(SubscriptionStatus::new());
    let task_status = status.clone();
    let task = tokio::spawn(async move {
        let counting_sink = {
            let status = task_status.clone();
            move |event: CloudEvent| {
                status.received.fetch_add(1, Ordering::Relaxed);
                let _delivery = crate::delivery_span(kind.name(), &event).entered();
                sink(event);
            }
        };
        let on_state: Arc<dyn Fn(bool) + Send + Sync> = {
            let status = task_status.clone();
            Arc::new(move |up| status.set_connected(up))
        };
        let mut backoff = Duration::from_millis(100);
        loop {
            let result = run_once(
                kind,
                &url,
                &names,
                max_age,
                on_state.clone(),
                &counting_sink,
            )
            .await;
            let was_connected = task_status.is_connected();
            task_status.set_connected(false);
            if let Err(e) = result {
                task_status.record_failure(&e, backoff);
            }
            if was_connected {
                backoff = Duration::from_millis(100);
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    });
    Ok(Subscription { status, task })
}

async fn run_once(
    kind: BusKind,
    url: &str,
    names: &BusNames,
    max_age: Duration,
    on_state: Arc<dyn Fn(bool) + Send + Sync>,
    sink: &(dyn Fn(CloudEvent) + Send + Sync),
) -> Result<(), BusError> {
    match kind {
        #[cfg(feature = "nats")]
        BusKind::Nats => crate::nats::consume(url, names, max_age, on_state, sink).await,
        #[cfg(feature = "amqp")]
        BusKind::Amqp => crate::amqp::consume(url, names, on_state, sink).await,
        _ => {
            let _ = (url, names, max_age, on_state, sink);
            Err(BusError::Url(format!("{} is not built in", kind.name())))
        }
    }
}
