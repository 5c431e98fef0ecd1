//! NATS JetStream: publisher and subscription.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use futures::StreamExt as _;
use tokio::sync::Mutex;

use crate::{BusError, BusNames, CloudEvent, PublisherOptions};

const BUS: &str = "nats";
/// How long JetStream remembers event ids to drop republished duplicates.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

pub(crate) async fn connect(
    url: &str,
    on_state: Option<Arc<dyn Fn(bool) + Send + Sync>>,
) -> Result<async_nats::Client, BusError> {
    let mut options = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .ping_interval(Duration::from_secs(2))
        // The default back-off grows to several seconds; revocations should
        // flow again soon after the broker is back.
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((attempts as u64 * 100).min(1_000))
        })
        .name("warden");
    if let Some(on_state) = on_state {
        options = options.event_callback(move |event| {
            let on_state = on_state.clone();
            async move {
                match event {
                    async_nats::Event::Connected => on_state(true),
                    async_nats::Event::Disconnected | async_nats::Event::Closed => on_state(false),
                    _ => {}
                }
            }
        });
    }
    options
        .connect(url)
        .await
        .map_err(|e| BusError::broker(BUS, e))
}

/// The stream every event goes to. Publisher and subscribers build it from
/// this one function, so whoever needs it first creates it with the same
/// settings (creating an existing stream with an identical configuration is
/// a no-op in JetStream, so concurrent instances do not race).
fn stream_config(names: &BusNames, max_age: Duration) -> stream::Config {
    stream::Config {
        name: names.stream.clone(),
        subjects: vec![format!("{}.>", names.subject_prefix)],
        max_age,
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW.min(max_age),
        ..Default::default()
    }
}

/// The stream, created when missing (by a subscriber on a fresh broker, so
/// an instance becomes ready before anything was ever published).
async fn get_or_create_stream(
    js: &jetstream::Context,
    names: &BusNames,
    max_age: Duration,
) -> Result<stream::Stream, BusError> {
    js.get_or_create_stream(stream_config(names, max_age))
        .await
        .map_err(|e| BusError::broker(BUS, e))
}

/// The stream, created, or its max age brought in line with the configured
/// token lifetime (the publisher's job: it knows that lifetime for sure).
async fn ensure_stream(
    js: &jetstream::Context,
    names: &BusNames,
    max_age: Duration,
) -> Result<(), BusError> {
    let mut existing = get_or_create_stream(js, names, max_age).await?;
    let info = existing
        .info()
        .await
        .map_err(|e| BusError::broker(BUS, e))?;
    if info.config.max_age != max_age {
        js.update_stream(stream::Config {
            max_age,
            ..info.config.clone()
        })
        .await
        .map_err(|e| BusError::broker(BUS, e))?;
    }
    Ok(())
}

pub(crate) struct NatsPublisher {
    url: String,
    options: PublisherOptions,
    context: Mutex<Option<jetstream::Context>>,
}

impl NatsPublisher {
    pub(crate) fn new(url: String, options: PublisherOptions) -> Self {
        Self {
            url,
            options,
            context: Mutex::new(None),
        }
    }

    async fn context(&self) -> Result<jetstream::Context, BusError> {
        let mut slot = self.context.lock().await;
        if let Some(js) = slot.as_ref() {
            return Ok(js.clone());
        }
        let client = connect(&self.url, None).await?;
        let js = jetstream::new(client);
        ensure_stream(&js, &self.options.names, self.options.max_age).await?;
        *slot = Some(js.clone());
        Ok(js)
    }

    pub(crate) async fn publish(&self, events: &[CloudEvent]) -> Result<(), BusError> {
        let js = self.context().await?;
        let work = async {
            // Sent back to back on one connection (so stored in this order),
            // then every acknowledgement awaited.
            let mut acks = Vec::with_capacity(events.len());
            for event in events {
                let payload = serde_json::to_vec(event).map_err(|e| BusError::broker(BUS, e))?;
                let mut headers = async_nats::HeaderMap::new();
                headers.insert(async_nats::header::NATS_MESSAGE_ID, event.id.as_str());
                let ack = js
                    .publish_with_headers(
                        self.options.names.subject_of(event),
                        headers,
                        payload.into(),
                    )
                    .await
                    .map_err(|e| BusError::broker(BUS, e))?;
                acks.push(ack);
            }
            for ack in acks {
                ack.await.map_err(|e| BusError::broker(BUS, e))?;
            }
            Ok(())
        };
        match tokio::time::timeout(self.options.confirm_timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(BusError::broker(BUS, "no acknowledgement in time")),
        }
    }
}

/// Reads every event still in the stream, then new ones as they come, until
/// the consumer fails. `on_state(true)` once the consumer exists; the
/// connection's later ups and downs are reported through it too.
pub(crate) async fn consume(
    url: &str,
    names: &BusNames,
    max_age: Duration,
    on_state: Arc<dyn Fn(bool) + Send + Sync>,
    sink: &(dyn Fn(CloudEvent) + Send + Sync),
) -> Result<(), BusError> {
    let client = connect(url, Some(on_state.clone())).await?;
    let js = jetstream::new(client);
    // Not `get_stream`: on a fresh broker nothing has been published yet,
    // and waiting for the relay to create the stream kept every instance
    // from becoming ready (issue 21).
    let stream = get_or_create_stream(&js, names, max_age).await?;
    // An ordered consumer replays from the first retained event and
    // recreates itself (from where it was) after gaps or reconnects.
    let consumer = stream
        .create_consumer(jetstream::consumer::pull::OrderedConfig {
            filter_subject: format!("{}.>", names.subject_prefix),
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .map_err(|e| BusError::broker(BUS, e))?;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| BusError::broker(BUS, e))?;
    on_state(true);
    while let Some(message) = messages.next().await {
        let message = message.map_err(|e| BusError::broker(BUS, e))?;
        match serde_json::from_slice::<CloudEvent>(&message.payload) {
            Ok(event) => sink(event),
            Err(e) => {
                tracing::warn!(error = %e, subject = %message.subject, "ignoring a malformed event")
            }
        }
    }
    Err(BusError::broker(BUS, "the consumer ended"))
}
