//! The event bus in tests: the broker URLs from the environment, names no
//! other test uses, and removal of what a test created on the broker.

use warden_events::BusNames;

/// The URL in `var` (`WARDEN_TEST_NATS_URL`, `WARDEN_TEST_AMQP_URL`), or
/// `None` with a printed skip; a panic when `WARDEN_TEST_REQUIRE_SERVICES=1`.
pub fn broker(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("WARDEN_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("{var} is not set but WARDEN_TEST_REQUIRE_SERVICES=1")
        }
        _ => {
            crate::skipped(&format!("{var} is not set"));
            None
        }
    }
}

/// Subject prefix, stream and exchange names of this test alone.
pub fn unique_names() -> BusNames {
    let id = uuid::Uuid::now_v7().simple().to_string();
    BusNames {
        subject_prefix: format!("wt{}", &id[20..]),
        stream: format!("WT{}", &id[20..]).to_uppercase(),
        exchange: format!("warden-test-{}", &id[20..]),
    }
}

/// Removes a test's JetStream stream (best effort).
pub async fn delete_stream(url: &str, names: &BusNames) {
    let client = async_nats::connect(url).await.unwrap();
    let _ = async_nats::jetstream::new(client)
        .delete_stream(&names.stream)
        .await;
}

/// Removes a test's RabbitMQ exchange (best effort).
pub async fn delete_exchange(url: &str, names: &BusNames) {
    let connection = lapin::Connection::connect(url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let _ = channel
        .exchange_delete(names.exchange.as_str().into(), Default::default())
        .await;
}
