//! The bus adapters against the real brokers on this machine: NATS
//! JetStream (`WARDEN_TEST_NATS_URL`) and RabbitMQ (`WARDEN_TEST_AMQP_URL`).
//! Each test uses its own stream, subject prefix and exchange, and removes
//! them afterwards. Without the variable a test says it was skipped; with
//! `WARDEN_TEST_REQUIRE_SERVICES=1` a missing broker fails it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use warden_events::{
    BusNames, CloudEvent, InProcessBus, Publisher, PublisherOptions, Subscription, subscribe,
};

fn broker(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("WARDEN_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("{var} is not set but WARDEN_TEST_REQUIRE_SERVICES=1")
        }
        _ => {
            {
                use std::io::Write as _;
                // Past the harness's capture, so a plain `cargo test` shows it.
                let _ = writeln!(std::io::stderr(), "skipped: {var} is not set");
            }
            None
        }
    }
}

fn unique_names() -> BusNames {
    let id = uuid::Uuid::now_v7().simple().to_string();
    BusNames {
        subject_prefix: format!("wt{}", &id[20..]),
        stream: format!("WT{}", &id[20..]).to_uppercase(),
        exchange: format!("warden-test-{}", &id[20..]),
    }
}

fn events(n: usize) -> Vec<CloudEvent> {
    (0..n)
        .map(|i| {
            CloudEvent::new(
                uuid::Uuid::now_v7().to_string(),
                "https://warden.test",
                "session.revoked",
                chrono::Utc::now(),
                json!({"session_id": uuid::Uuid::now_v7(), "user_id": uuid::Uuid::now_v7(), "until": chrono::Utc::now(), "i": i}),
            )
        })
        .collect()
}

type Sink = Arc<dyn Fn(CloudEvent) + Send + Sync>;

fn collector() -> (Arc<Mutex<Vec<CloudEvent>>>, Sink) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink_seen = seen.clone();
    (seen, Arc::new(move |e| sink_seen.lock().unwrap().push(e)))
}

async fn wait_for(seen: &Mutex<Vec<CloudEvent>>, n: usize) -> Vec<CloudEvent> {
    for _ in 0..100 {
        if seen.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen.lock().unwrap().clone()
}

async fn wait_connected(subscription: &Subscription) {
    for _ in 0..100 {
        if subscription.status().is_connected() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the subscription did not connect");
}

fn options(names: &BusNames) -> PublisherOptions {
    PublisherOptions {
        names: names.clone(),
        max_age: Duration::from_secs(120),
        confirm_timeout: Duration::from_secs(5),
    }
}

async fn delete_stream(url: &str, names: &BusNames) {
    let client = async_nats::connect(url).await.expect("connect");
    let _ = async_nats::jetstream::new(client)
        .delete_stream(&names.stream)
        .await;
}

#[tokio::test]
async fn nats_delivers_in_order_and_replays_to_a_late_subscriber() {
    let Some(url) = broker("WARDEN_TEST_NATS_URL") else {
        return;
    };
    let names = unique_names();
    let publisher = Publisher::new(Some(&url), InProcessBus::new(), options(&names)).unwrap();
    let sent = events(20);
    publisher.publish(&sent[..10]).await.expect("publish");

    let (early_seen, sink) = collector();
    let early = subscribe(&url, names.clone(), sink).unwrap();
    wait_connected(&early).await;
    publisher.publish(&sent[10..]).await.expect("publish");
    // Publishing a batch again (a relay retry) is deduplicated by event id.
    publisher.publish(&sent[15..]).await.expect("republish");
    let got = wait_for(&early_seen, 20).await;
    assert_eq!(got, sent, "every event, once, in order");

    // A subscriber that starts after the fact replays what the stream keeps.
    let (late_seen, sink) = collector();
    let _late = subscribe(&url, names.clone(), sink).unwrap();
    assert_eq!(wait_for(&late_seen, 20).await, sent);
    drop(early);
    delete_stream(&url, &names).await;
}

#[tokio::test]
async fn nats_stream_max_age_follows_the_token_lifetime() {
    let Some(url) = broker("WARDEN_TEST_NATS_URL") else {
        return;
    };
    let names = unique_names();
    let publisher = Publisher::new(Some(&url), InProcessBus::new(), options(&names)).unwrap();
    publisher.publish(&events(1)).await.expect("publish");
    let client = async_nats::connect(&url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(&names.stream).await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.config.max_age, Duration::from_secs(120));
    assert_eq!(
        info.config.subjects,
        vec![format!("{}.>", names.subject_prefix)]
    );
    // A longer token lifetime later: the stream is updated, not recreated.
    let longer = Publisher::new(
        Some(&url),
        InProcessBus::new(),
        PublisherOptions {
            max_age: Duration::from_secs(600),
            ..options(&names)
        },
    )
    .unwrap();
    longer.publish(&events(1)).await.expect("publish");
    let info = js
        .get_stream(&names.stream)
        .await
        .unwrap()
        .info()
        .await
        .unwrap()
        .clone();
    assert_eq!(info.config.max_age, Duration::from_secs(600));
    assert_eq!(info.state.messages, 2);
    delete_stream(&url, &names).await;
}

#[tokio::test]
async fn amqp_delivers_in_order_to_every_subscriber_queue() {
    let Some(url) = broker("WARDEN_TEST_AMQP_URL") else {
        return;
    };
    let names = unique_names();
    let publisher = Publisher::new(Some(&url), InProcessBus::new(), options(&names)).unwrap();
    // The exchange exists once the publisher connected.
    publisher.publish(&[]).await.expect("connect");
    let (a_seen, sink_a) = collector();
    let (b_seen, sink_b) = collector();
    let a = subscribe(&url, names.clone(), sink_a).unwrap();
    let b = subscribe(&url, names.clone(), sink_b).unwrap();
    wait_connected(&a).await;
    wait_connected(&b).await;
    let sent = events(25);
    publisher
        .publish(&sent)
        .await
        .expect("publish with confirms");
    assert_eq!(wait_for(&a_seen, 25).await, sent);
    assert_eq!(wait_for(&b_seen, 25).await, sent);
    drop((a, b));
    let connection = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .exchange_delete(names.exchange.as_str().into(), Default::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_broker_that_is_down_fails_publishes_without_hanging() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    for url in [
        format!("nats://127.0.0.1:{port}"),
        format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
    ] {
        let publisher =
            Publisher::new(Some(&url), InProcessBus::new(), PublisherOptions::default()).unwrap();
        let started = std::time::Instant::now();
        let err = publisher.publish(&events(1)).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(6), "{url}: {err}");
        assert!(
            !err.to_string().contains("guest:guest"),
            "no credentials in errors: {err}"
        );
    }
}

#[tokio::test]
async fn unknown_schemes_are_refused_and_passwords_redacted() {
    let err = Publisher::new(
        Some("kafka://user:secret@host"),
        InProcessBus::new(),
        PublisherOptions::default(),
    )
    .err()
    .expect("refused");
    assert!(!err.to_string().contains("secret"), "{err}");
    assert!(warden_events::BusKind::of_url(None).is_ok());
}

#[tokio::test]
async fn the_in_process_bus_reaches_local_subscribers() {
    let bus = InProcessBus::new();
    let (seen, sink) = collector();
    let subscription = Subscription::local(&bus, sink);
    assert!(subscription.status().is_connected());
    let publisher = Publisher::new(None, bus.clone(), PublisherOptions::default()).unwrap();
    let sent = events(3);
    publisher.publish(&sent).await.unwrap();
    assert_eq!(wait_for(&seen, 3).await, sent);
}
