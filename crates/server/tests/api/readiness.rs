//! What `/readyz` means (decision 0017), over real processes on PostgreSQL
//! and a real broker: a fresh deployment becomes ready at once, a bus outage
//! degrades but never takes an instance out of service, and readiness
//! answers from the last background check, fast, even while the database
//! hangs.

use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::Value;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use warden_events::BusNames;
use warden_testkit::proxy::{Fault, FaultProxy};
use warden_testkit::{STRONG_PASSWORD, ServerKind, TestDatabase, unique_email};

use crate::faults::{app_behind_proxy, grpc_health};
use warden_testkit::bus::{broker, delete_exchange, delete_stream, unique_names};
use warden_testkit::process::{Instance, is_backend_pass, random_kek, ready, spawn, spawn_logging};

/// `/readyz`'s status and body.
async fn readyz(client: &Client, instance: &Instance) -> (u16, Value) {
    let response = client
        .get(format!("{}/readyz", instance.base))
        .send()
        .await
        .expect("/readyz answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

/// The `WARDEN_EVENTS_*` settings of `url` with `names`.
fn bus_env<'a>(url: &'a str, names: &'a BusNames) -> Vec<(&'static str, &'a str)> {
    vec![
        ("WARDEN_EVENTS_URL", url),
        (
            "WARDEN_EVENTS_SUBJECT_PREFIX",
            names.subject_prefix.as_str(),
        ),
        ("WARDEN_EVENTS_STREAM", names.stream.as_str()),
        ("WARDEN_EVENTS_EXCHANGE", names.exchange.as_str()),
    ]
}

/// Two instances on one fresh database and a bus on which nothing of
/// theirs exists yet (unique stream, subjects and exchange): how long from
/// starting the processes until both answer 200 with the bus `ok`.
async fn fresh_deployment_is_ready_within_a_second(url: &str, names: &BusNames) {
    let Some(database) = TestDatabase::create(ServerKind::Postgres).await else {
        return;
    };
    let kek = random_kek();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let env = bus_env(url, names);
    let started = Instant::now();
    let (a, b) = (
        spawn(&database.url, &kek, dir_a.path(), &env),
        spawn(&database.url, &kek, dir_b.path(), &env),
    );
    let (a, b) = tokio::task::spawn_blocking(move || (ready(a), ready(b)))
        .await
        .unwrap();
    let listening = started.elapsed();
    let client = Client::builder().no_proxy().build().unwrap();
    for instance in [&a, &b] {
        loop {
            let (status, body) = readyz(&client, instance).await;
            if status == 200 && body["checks"]["bus"] == "ok" {
                break;
            }
            assert!(
                started.elapsed() < listening + Duration::from_secs(10),
                "never ready on a fresh bus: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let to_ready = started.elapsed();
    eprintln!(
        "fresh deployment: listening after {listening:?}, both ready (bus ok) after {to_ready:?}"
    );
    assert!(
        to_ready < listening + Duration::from_secs(1),
        "ready {:?} after listening",
        to_ready - listening
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_fresh_nats_a_new_deployment_is_ready_within_a_second() {
    let Some(url) = broker("WARDEN_TEST_NATS_URL") else {
        return;
    };
    if is_backend_pass() {
        return;
    }
    let names = unique_names();
    fresh_deployment_is_ready_within_a_second(&url, &names).await;
    delete_stream(&url, &names).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_fresh_rabbitmq_a_new_deployment_is_ready_within_a_second() {
    let Some(url) = broker("WARDEN_TEST_AMQP_URL") else {
        return;
    };
    if is_backend_pass() {
        return;
    }
    let names = unique_names();
    fresh_deployment_is_ready_within_a_second(&url, &names).await;
    delete_exchange(&url, &names).await;
}

/// `url` with its host and port replaced by `proxy`'s.
fn through(url: &str, proxy: &FaultProxy) -> String {
    let mut url = reqwest::Url::parse(url).expect("broker URL");
    url.set_host(Some("127.0.0.1")).expect("host");
    url.set_port(Some(proxy.addr().port())).expect("port");
    url.to_string()
}

/// A proxy in front of the broker at `url`.
async fn proxy_for(url: &str) -> FaultProxy {
    let parsed = reqwest::Url::parse(url).expect("broker URL");
    let host = parsed.host_str().expect("host").to_owned();
    let port = parsed.port_or_known_default().expect("port");
    let upstream = tokio::net::lookup_host((host.as_str(), port))
        .await
        .expect("resolve")
        .next()
        .expect("an address");
    FaultProxy::start(upstream).await
}

/// WARN and ERROR lines of a JSON log so far, but the broker clients' own
/// (async-nats logs each failed reconnect; `log.level` tunes those).
fn alarms(log: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(r#""level":"WARN""#) || l.contains(r#""level":"ERROR""#))
        .filter(|l| !l.contains(r#""target":"async_nats"#) && !l.contains(r#""target":"lapin"#))
        .map(str::to_owned)
        .collect()
}

/// What `grpc.health.v1.Health/Check` says about the whole of `instance`.
async fn grpc_serving(instance: &Instance) -> bool {
    let channel = tonic::transport::Endpoint::from_shared(instance.grpc.clone())
        .expect("gRPC address")
        .connect()
        .await
        .expect("gRPC connects");
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .expect("health answers")
        .into_inner()
        .status;
    status == ServingStatus::Serving as i32
}

/// Waits until `/readyz` of `instance` says the bus is `state`.
async fn wait_for_bus(client: &Client, instance: &Instance, state: &str, limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        let (status, body) = readyz(client, instance).await;
        if body["checks"]["bus"] == state {
            return body;
        }
        assert!(
            started.elapsed() < limit,
            "bus not {state} after {limit:?}: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One instance on the broker at `url`, reached through a fault proxy: the
/// broker goes away for a while. Readiness stays 200 (gRPC health SERVING)
/// throughout and reports the bus `degraded`, with how long and the relay's
/// lag; a metric says so; the log says it once, not per probe, and says
/// when it recovered.
async fn a_bus_outage_degrades_without_leaving_service(url: &str) {
    if is_backend_pass() {
        return;
    }
    let Some(database) = TestDatabase::create(ServerKind::Postgres).await else {
        return;
    };
    let names = unique_names();
    // The stream / exchange exist already: this is about an outage, not a
    // first deployment.
    let publisher = warden_events::Publisher::new(
        Some(url),
        warden_events::InProcessBus::new(),
        warden_events::PublisherOptions {
            names: names.clone(),
            ..Default::default()
        },
    )
    .unwrap();
    publisher.publish(&[]).await.expect("the broker answers");
    let proxy = proxy_for(url).await;
    let proxied = through(url, &proxy);
    let kek = random_kek();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("warden.log");
    let mut env = bus_env(&proxied, &names);
    env.push(("WARDEN_LOG_FORMAT", "json"));
    let a = ready(spawn_logging(&database.url, &kek, dir.path(), &env, &log));
    let client = Client::builder().no_proxy().build().unwrap();
    wait_for_bus(&client, &a, "ok", Duration::from_secs(10)).await;
    let quiet = alarms(&log);

    proxy.set(Fault::Refuse);
    let outage = Instant::now();
    // An event made during the outage waits in the outbox: the relay lags.
    let signup = client
        .post(format!("{}/v1/signup", a.base))
        .json(&serde_json::json!({"email": unique_email(), "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    let mut degraded = None;
    // Long enough for a NATS publish to time out (5 s) and the relay to
    // measure its lag again.
    while outage.elapsed() < Duration::from_secs(6) {
        let (status, body) = readyz(&client, &a).await;
        assert_eq!(status, 200, "a bus outage takes the instance out: {body}");
        assert_eq!(body["checks"]["store"], "ok", "{body}");
        if body["checks"]["bus"] == "degraded" {
            degraded.get_or_insert(outage.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(grpc_serving(&a).await, "gRPC health follows /readyz");
    let body = wait_for_bus(&client, &a, "degraded", Duration::from_secs(1)).await;
    eprintln!("bus outage: degraded after {degraded:?}; {body}");
    assert_eq!(body["status"], "degraded", "{body}");
    let bus = &body["details"]["bus"];
    assert!(
        bus["down_for_secs"].as_f64().unwrap_or(0.0) >= 1.0,
        "{body}"
    );
    assert!(
        bus["relay_lag_secs"].as_f64().unwrap_or(0.0) > 0.0,
        "{body}"
    );
    let metrics = client
        .get(format!("{}/metrics", a.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"warden_readiness_check_up{check="bus"} 0"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"warden_readiness_check_failures_total{check="bus"}"#),
        "{metrics}"
    );
    // Logged once when it went down, not once per probe or per retry.
    let during = alarms(&log);
    let new: Vec<_> = during[quiet.len()..].to_vec();
    assert!(
        !new.is_empty(),
        "the outage is logged: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    for _ in 0..20 {
        readyz(&client, &a).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let later = alarms(&log);
    assert_eq!(
        later.len(),
        during.len(),
        "more alarms while nothing changed: {:#?}",
        &later[during.len()..]
    );
    assert_eq!(new.len(), 1, "one alarm for one change: {new:#?}");

    proxy.set(Fault::None);
    let back = Instant::now();
    wait_for_bus(&client, &a, "ok", Duration::from_secs(10)).await;
    eprintln!("bus back: ok again after {:?}", back.elapsed());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("recovered") && l.contains("down_for")),
        "recovery logged with its duration"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nats_outage_degrades_readiness_but_keeps_the_instance_in_service() {
    let Some(url) = broker("WARDEN_TEST_NATS_URL") else {
        return;
    };
    a_bus_outage_degrades_without_leaving_service(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rabbitmq_outage_degrades_readiness_but_keeps_the_instance_in_service() {
    let Some(url) = broker("WARDEN_TEST_AMQP_URL") else {
        return;
    };
    a_bus_outage_degrades_without_leaving_service(&url).await;
}

/// During a PostgreSQL partition `/readyz` answers 503 from the last
/// background check, within 100 ms, not after the store's timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn during_a_database_partition_readyz_answers_503_within_100_ms() {
    let Some((app, proxy)) = app_behind_proxy(ServerKind::Postgres).await else {
        return;
    };
    proxy.set(Fault::Blackhole);
    let started = Instant::now();
    loop {
        let response = app.client.get(app.url("/readyz")).send().await.unwrap();
        if response.status() == 503 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "still ready");
    }
    let mut slowest = Duration::ZERO;
    for _ in 0..10 {
        let probe = Instant::now();
        let response = app.client.get(app.url("/readyz")).send().await.unwrap();
        let took = probe.elapsed();
        slowest = slowest.max(took);
        assert_eq!(response.status(), 503);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["checks"]["store"], "unavailable", "{body}");
        let probe = Instant::now();
        assert_eq!(grpc_health(&app).await, ServingStatus::NotServing as i32);
        slowest = slowest.max(probe.elapsed());
    }
    eprintln!(
        "database partition: 503 after {:?}, slowest probe {slowest:?}",
        started.elapsed()
    );
    assert!(slowest < Duration::from_millis(100), "took {slowest:?}");
    proxy.set(Fault::None);
    let back = Instant::now();
    while app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status()
        != 200
    {
        assert!(back.elapsed() < Duration::from_secs(10), "not ready again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The database goes away under a running process, probed 10 times a
/// second: the log says so once (not per probe) and, when it is back, once
/// more with how long it was down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_logged_once_and_its_recovery_with_the_duration() {
    if is_backend_pass() {
        return;
    }
    let Some(database) = TestDatabase::create(ServerKind::Postgres).await else {
        return;
    };
    let proxy = proxy_for(&database.url).await;
    let proxied = through(&database.url, &proxy);
    let kek = random_kek();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("warden.log");
    let a = ready(spawn_logging(
        &proxied,
        &kek,
        dir.path(),
        &[
            ("WARDEN_LOG_FORMAT", "json"),
            ("WARDEN_DATABASE_TIMEOUT_MS", "500"),
        ],
        &log,
    ));
    let client = Client::builder().no_proxy().build().unwrap();
    assert_eq!(readyz(&client, &a).await.0, 200);
    let quiet = alarms(&log).len();

    proxy.set(Fault::Refuse);
    let started = Instant::now();
    while readyz(&client, &a).await.0 != 503 {
        assert!(started.elapsed() < Duration::from_secs(5), "still ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = alarms(&log);
    for _ in 0..20 {
        assert_eq!(readyz(&client, &a).await.0, 503);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let later = alarms(&log);
    assert_eq!(
        later.len(),
        during.len(),
        "alarms per probe: {:#?}",
        &later[during.len()..]
    );
    assert!(during.len() > quiet, "the outage is logged");

    proxy.set(Fault::None);
    let back = Instant::now();
    while readyz(&client, &a).await.0 != 200 {
        assert!(back.elapsed() < Duration::from_secs(10), "not ready again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("store") && l.contains("recovered") && l.contains("down_for")),
        "recovery logged with its duration"
    );
}
