//! Revocation everywhere, over real processes: two `warden serve` on one
//! PostgreSQL, and a verifier (warden-verify, in this test process, talking
//! to them only over HTTP and the broker). A sign-out on A and a ban on B
//! must reach the verifier and the other instance within a second over NATS
//! and over RabbitMQ; with no bus, within the poll interval plus a second;
//! a verifier started afterwards must still reject. And a bus outage loses
//! nothing: events made meanwhile arrive after it, in order.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{Value, json};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use warden_events::{BusNames, CloudEvent};
use warden_testkit::bus::{broker, delete_exchange, delete_stream, unique_names};
use warden_testkit::process::{
    Instance, add_user, is_backend_pass, new_user, random_kek, ready, signin, spawn,
};
use warden_testkit::proxy::{Fault, FaultProxy};
use warden_testkit::{ISSUER, ServerKind, TestDatabase, unique_email};
use warden_verify::{RevocationFeed, Verifier, VerifyErrorKind};

const FEED_TOKEN: &str = "propagation-feed-token-0123";

/// What `grpc.health.v1.Health/Check` says about the whole of `instance`.
async fn grpc_health(instance: &Instance) -> ServingStatus {
    let channel = tonic::transport::Endpoint::from_shared(instance.grpc.clone())
        .expect("gRPC address")
        .connect()
        .await
        .expect("gRPC connects");
    let mut health = HealthClient::new(channel);
    let status = health
        .check(HealthCheckRequest::default())
        .await
        .expect("health answers")
        .into_inner()
        .status;
    ServingStatus::try_from(status).expect("a known status")
}

struct Cluster {
    a: Instance,
    b: Instance,
    client: Client,
    admin: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    _database: TestDatabase,
}

async fn cluster(bus: Option<(&str, &BusNames)>) -> Option<Cluster> {
    if is_backend_pass() {
        return None;
    }
    let database = TestDatabase::create(ServerKind::Postgres).await?;
    let kek = random_kek();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut env: Vec<(&str, &str)> = vec![("WARDEN_REVOCATIONS_TOKEN", FEED_TOKEN)];
    if let Some((url, names)) = bus {
        env.extend([
            ("WARDEN_EVENTS_URL", url),
            (
                "WARDEN_EVENTS_SUBJECT_PREFIX",
                names.subject_prefix.as_str(),
            ),
            ("WARDEN_EVENTS_STREAM", names.stream.as_str()),
            ("WARDEN_EVENTS_EXCHANGE", names.exchange.as_str()),
        ]);
    }
    let a = ready(spawn(&database.url, &kek, dir_a.path(), &env));
    let b = ready(spawn(&database.url, &kek, dir_b.path(), &env));
    let admin_email = unique_email();
    add_user(&database.url, &kek, dir_a.path(), &admin_email, "admin");
    let client = Client::builder().no_proxy().build().unwrap();
    let admin = signin(&client, &b.base, &admin_email).await;
    Some(Cluster {
        a,
        b,
        client,
        admin,
        _dirs: (dir_a, dir_b),
        _database: database,
    })
}

async fn verifier(endpoint: &str, feed: RevocationFeed) -> Verifier {
    let verifier = Verifier::builder()
        .issuer(ISSUER)
        .endpoint(endpoint)
        .revocations(feed)
        .build()
        .await
        .expect("verifier");
    assert!(verifier.is_ready(), "keys and feed loaded at build");
    verifier
}

async fn validate_status(client: &Client, base: &str, token: &str) -> u16 {
    client
        .post(format!("{base}/v1/validate"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// How long until `verifier` rejects `token` as revoked (panics after `limit`).
async fn time_to_rejection(verifier: &Verifier, token: &str, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        match verifier.verify(token).await {
            Err(e) if e.kind() == VerifyErrorKind::Revoked => return started.elapsed(),
            Ok(_) if started.elapsed() < limit => {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            other => panic!("not rejected within {limit:?}: {other:?}"),
        }
    }
}

/// And until instance `base` rejects it.
async fn time_to_rejection_at(
    client: &Client,
    base: &str,
    token: &str,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let status = validate_status(client, base, token).await;
        if status == 401 {
            return started.elapsed();
        }
        assert_eq!(status, 200);
        assert!(
            started.elapsed() < limit,
            "{base} still accepts after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn sign_out_and_ban_reach_everyone(bus: Option<(&str, &BusNames)>, limit: Duration) {
    let Some(c) = cluster(bus).await else { return };
    let mut feed = RevocationFeed::poll(if bus.is_some() {
        // Long enough that only the bus can explain a fast rejection.
        Duration::from_secs(3600)
    } else {
        Duration::from_millis(500)
    })
    .service_token(FEED_TOKEN);
    if let Some((url, names)) = bus {
        feed = feed.bus(url).bus_names(names.clone());
    }
    let remote = verifier(&c.a.base, feed.clone()).await;

    // Sign-out on A.
    let (token, _) = new_user(&c.client, &c.a.base).await;
    remote.verify(&token).await.expect("valid before");
    assert_eq!(validate_status(&c.client, &c.b.base, &token).await, 200);
    let signout = c
        .client
        .post(format!("{}/v1/signout", c.a.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(signout.status(), 204);
    let took = time_to_rejection(&remote, &token, limit).await;
    eprintln!("sign-out on A -> rejected by the verifier after {took:?}");
    // Instance B: over the bus, or by following the shared outbox each second.
    let took =
        time_to_rejection_at(&c.client, &c.b.base, &token, Duration::from_millis(1500)).await;
    eprintln!("sign-out on A -> rejected by instance B after {took:?}");

    // Ban on B.
    let (victim, victim_id) = new_user(&c.client, &c.a.base).await;
    remote.verify(&victim).await.expect("valid before the ban");
    let ban = c
        .client
        .post(format!("{}/v1/admin/users/{victim_id}/ban", c.b.base))
        .bearer_auth(&c.admin)
        .json(&json!({"reason": "propagation test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ban.status(), 200);
    let took = time_to_rejection(&remote, &victim, limit).await;
    eprintln!("ban on B -> rejected by the verifier after {took:?}");
    time_to_rejection_at(&c.client, &c.a.base, &victim, Duration::from_millis(1500)).await;

    // A verifier started after the fact still rejects both (JetStream
    // replay, or the feed's snapshot at start).
    drop(remote);
    let late = verifier(&c.b.base, feed).await;
    for token in [&token, &victim] {
        let err = late.verify(token).await.unwrap_err();
        assert_eq!(err.kind(), VerifyErrorKind::Revoked);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats_a_sign_out_and_a_ban_reach_a_remote_verifier_within_a_second() {
    let Some(url) = broker("WARDEN_TEST_NATS_URL") else {
        return;
    };
    let names = unique_names();
    sign_out_and_ban_reach_everyone(Some((&url, &names)), Duration::from_secs(1)).await;
    delete_stream(&url, &names).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_rabbitmq_a_sign_out_and_a_ban_reach_a_remote_verifier_within_a_second() {
    let Some(url) = broker("WARDEN_TEST_AMQP_URL") else {
        return;
    };
    let names = unique_names();
    sign_out_and_ban_reach_everyone(Some((&url, &names)), Duration::from_secs(1)).await;
    delete_exchange(&url, &names).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_bus_the_polled_feed_rejects_within_the_interval_plus_a_second() {
    sign_out_and_ban_reach_everyone(None, Duration::from_millis(1500)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_made_during_a_bus_outage_arrive_after_it_in_order() {
    let Some(url) = broker("WARDEN_TEST_NATS_URL") else {
        return;
    };
    if is_backend_pass() {
        return;
    }
    let Some(database) = TestDatabase::create(ServerKind::Postgres).await else {
        return;
    };
    let names = unique_names();
    let nats_addr: std::net::SocketAddr = url
        .trim_start_matches("nats://")
        .parse()
        .expect("WARDEN_TEST_NATS_URL is nats://<ip>:<port>");
    let proxy = FaultProxy::start(nats_addr).await;
    let through_proxy = format!("nats://{}", proxy.addr());
    let kek = random_kek();
    let dir = tempfile::tempdir().unwrap();
    let a = ready(spawn(
        &database.url,
        &kek,
        dir.path(),
        &[
            ("WARDEN_EVENTS_URL", through_proxy.as_str()),
            (
                "WARDEN_EVENTS_SUBJECT_PREFIX",
                names.subject_prefix.as_str(),
            ),
            ("WARDEN_EVENTS_STREAM", names.stream.as_str()),
        ],
    ));
    let client = Client::builder().no_proxy().build().unwrap();
    // The relay has created the stream once the first event went out.
    let (first, _) = new_user(&client, &a.base).await;

    // A subscriber straight on the broker records what arrives, in order.
    let seen: Arc<Mutex<Vec<CloudEvent>>> = Arc::default();
    let sink_seen = seen.clone();
    let subscription = warden_events::subscribe(
        &url,
        names.clone(),
        Arc::new(move |e| sink_seen.lock().unwrap().push(e)),
    )
    .unwrap();
    let waited = Instant::now();
    while !subscription.status().is_connected() {
        assert!(
            waited.elapsed() < Duration::from_secs(10),
            "the subscriber connects"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    proxy.set(Fault::Refuse);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut signed_out = Vec::new();
    for _ in 0..5 {
        let (token, _) = new_user(&client, &a.base).await;
        let response = client
            .post(format!("{}/v1/signout", a.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "sign-out works with the bus down");
        // Checklist 44: the instance that made the change enforces it at once.
        assert_eq!(validate_status(&client, &a.base, &token).await, 401);
        signed_out.push(token);
    }
    let ready_now = client
        .get(format!("{}/readyz", a.base))
        .send()
        .await
        .unwrap();
    // Decision 0017: the bus is degraded, the instance still in service.
    assert_eq!(ready_now.status(), 200);
    let ready_now: Value = ready_now.json().await.unwrap();
    assert_eq!(ready_now["checks"]["bus"], "degraded", "{ready_now}");
    // gRPC health reads the same monitor: SERVING too.
    assert_eq!(grpc_health(&a).await, ServingStatus::Serving);
    let revoked_before = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.name() == Some("session.revoked"))
        .count();
    assert_eq!(revoked_before, 0, "nothing got through the outage");

    proxy.set(Fault::None);
    let started = Instant::now();
    let expected: Vec<String> = {
        let mut ids = Vec::new();
        for token in &signed_out {
            let payload = token.split('.').nth(1).unwrap();
            let claims: Value = serde_json::from_slice(
                &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
                    .unwrap(),
            )
            .unwrap();
            ids.push(claims["sid"].as_str().unwrap().to_owned());
        }
        ids
    };
    loop {
        let got: Vec<String> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.name() == Some("session.revoked"))
            .map(|e| e.data["session_id"].as_str().unwrap().to_owned())
            .collect();
        let mut unique = got.clone();
        unique.dedup();
        if unique.len() >= expected.len() {
            assert_eq!(unique, expected, "every event, in commit order");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "events lost: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "outage backlog delivered {:?} after the bus came back",
        started.elapsed()
    );
    // And the instance reports the bus ready again once it reconnected.
    let waited = Instant::now();
    loop {
        let ready_after: Value = client
            .get(format!("{}/readyz", a.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if ready_after["checks"]["bus"] == "ok" {
            assert_eq!(grpc_health(&a).await, ServingStatus::Serving);
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(10), "{ready_after}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = first;
    delete_stream(&url, &names).await;
}
