//! RabbitMQ (AMQP 0-9-1): publisher with confirms, and subscription through
//! an exclusive, server-named queue bound to `<prefix>.#`.

use std::sync::Arc;

use futures::StreamExt as _;
use lapin::Confirmation;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::Mutex;

use crate::{BusError, BusNames, CloudEvent, PublisherOptions};

const BUS: &str = "amqp";
/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

async fn open(url: &str, names: &BusNames) -> Result<(Connection, Channel), BusError> {
    let connect = Connection::connect(url, ConnectionProperties::default());
    let connection = tokio::time::timeout(std::time::Duration::from_secs(3), connect)
        .await
        .map_err(|_| BusError::broker(BUS, "connection timed out"))?
        .map_err(|e| BusError::broker(BUS, e))?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| BusError::broker(BUS, e))?;
    channel
        .exchange_declare(
            names.exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| BusError::broker(BUS, e))?;
    Ok((connection, channel))
}

pub(crate) struct AmqpPublisher {
    url: String,
    options: PublisherOptions,
    channel: Mutex<Option<(Connection, Channel)>>,
}

impl AmqpPublisher {
    pub(crate) fn new(url: String, options: PublisherOptions) -> Self {
        Self {
            url,
            options,
            channel: Mutex::new(None),
        }
    }

    pub(crate) async fn publish(&self, events: &[CloudEvent]) -> Result<(), BusError> {
        let mut slot = self.channel.lock().await;
        if slot.as_ref().is_some_and(|(connection, channel)| {
            !connection.status().connected() || !channel.status().connected()
        }) {
            *slot = None;
        }
        if slot.is_none() {
            let (connection, channel) = open(&self.url, &self.options.names).await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .map_err(|e| BusError::broker(BUS, e))?;
            *slot = Some((connection, channel));
        }
        let Some((_, channel)) = slot.as_ref() else {
            return Err(BusError::broker(BUS, "no channel"));
        };
        let work = async {
            let mut confirms = Vec::with_capacity(events.len());
            for event in events {
                let payload = serde_json::to_vec(event).map_err(|e| BusError::broker(BUS, e))?;
                let properties = BasicProperties::default()
                    .with_content_type("application/cloudevents+json".into())
                    .with_message_id(event.id.as_str().into())
                    .with_delivery_mode(PERSISTENT);
                let confirm = channel
                    .basic_publish(
                        self.options.names.exchange.as_str().into(),
                        self.options.names.subject_of(event).as_str().into(),
                        BasicPublishOptions::default(),
                        &payload,
                        properties,
                    )
                    .await
                    .map_err(|e| BusError::broker(BUS, e))?;
                confirms.push(confirm);
            }
            for confirm in confirms {
                match confirm.await.map_err(|e| BusError::broker(BUS, e))? {
                    Confirmation::Ack(_) => {}
                    other => {
                        return Err(BusError::broker(
                            BUS,
                            format!("broker did not confirm: {other:?}"),
                        ));
                    }
                }
            }
            Ok(())
        };
        let result = match tokio::time::timeout(self.options.confirm_timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(BusError::broker(BUS, "no confirmation in time")),
        };
        if result.is_err() {
            // A fresh connection next time: this one may be half dead.
            *slot = None;
        }
        result
    }
}

/// Consumes from a new exclusive queue until the connection fails.
pub(crate) async fn consume(
    url: &str,
    names: &BusNames,
    on_state: Arc<dyn Fn(bool) + Send + Sync>,
    sink: &(dyn Fn(CloudEvent) + Send + Sync),
) -> Result<(), BusError> {
    let (connection, channel) = open(url, names).await?;
    let queue = channel
        .queue_declare(
            "".into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(|e| BusError::broker(BUS, e))?;
    channel
        .queue_bind(
            queue.name().clone(),
            names.exchange.as_str().into(),
            format!("{}.#", names.subject_prefix).as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| BusError::broker(BUS, e))?;
    let mut consumer = channel
        .basic_consume(
            queue.name().clone(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(|e| BusError::broker(BUS, e))?;
    on_state(true);
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery.map_err(|e| BusError::broker(BUS, e))?;
        match serde_json::from_slice::<CloudEvent>(&delivery.data) {
            Ok(event) => sink(event),
            Err(e) => tracing::warn!(error = %e, "ignoring a malformed event"),
        }
        delivery
            .ack(BasicAckOptions::default())
            .await
            .map_err(|e| BusError::broker(BUS, e))?;
    }
    drop(connection);
    Err(BusError::broker(BUS, "the consumer ended"))
}
