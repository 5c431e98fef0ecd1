//! The database goes away and comes back: a fault-injecting proxy between
//! Warden and the real server cuts, stalls and slows the connection.

use std::time::{Duration, Instant};

use reqwest::Url;
use serde_json::{Value, json};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use warden_testkit::proxy::{Fault, FaultProxy};
use warden_testkit::{
    STRONG_PASSWORD, ServerKind, TestApp, TestDatabase, assert_problem, spawn_app_on,
};

/// The store timeout the apps here run with.
const TIMEOUT: Duration = Duration::from_millis(1000);
/// What a 503 may take beyond the timeout (scheduling on a loaded machine).
const SLACK: Duration = Duration::from_millis(1500);

/// An app on a fresh database of `kind`, reached through a proxy.
pub(crate) async fn app_behind_proxy(kind: ServerKind) -> Option<(TestApp, FaultProxy)> {
    let database = TestDatabase::create(kind).await?;
    let mut url = Url::parse(&database.url).expect("database URL");
    let host = url.host_str().expect("host").to_owned();
    let port = url.port().expect("port");
    let upstream = tokio::net::lookup_host((host.as_str(), port))
        .await
        .expect("resolve")
        .next()
        .expect("an address");
    let proxy = FaultProxy::start(upstream).await;
    url.set_host(Some("127.0.0.1")).expect("host");
    url.set_port(Some(proxy.addr().port())).expect("port");
    let app = spawn_app_on(database, url.as_str(), |c| {
        c.database.timeout = TIMEOUT;
        c.database.max_connections = 4;
    })
    .await;
    Some((app, proxy))
}

/// What `grpc.health.v1.Health/Check` says about the whole server.
pub(crate) async fn grpc_health(app: &TestApp) -> i32 {
    let mut health = HealthClient::new(app.grpc_channel().await);
    health
        .check(HealthCheckRequest::default())
        .await
        .expect("health answers")
        .into_inner()
        .status
}

async fn sign_in(app: &TestApp, email: &str) -> (reqwest::Response, Duration) {
    let started = Instant::now();
    let response = app.signin(email, STRONG_PASSWORD).await;
    (response, started.elapsed())
}

async fn readiness(app: &TestApp) -> (u16, Value) {
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn outage_and_recovery(kind: ServerKind) {
    let Some((app, proxy)) = app_behind_proxy(kind).await else {
        return;
    };
    let user = app.new_user().await;

    // A partition: connections hang. Requests that need the database give up
    // at the deadline; live tokens still validate; readiness names the store.
    proxy.set(Fault::Blackhole);
    let (response, took) = sign_in(&app, &user.email).await;
    assert_problem(response, 503, "store_unavailable").await;
    assert!(took < TIMEOUT + SLACK, "took {took:?}");
    // Readiness answers from its background check (every second).
    let deadline = Instant::now() + Duration::from_secs(5);
    let (status, body) = loop {
        let (status, body) = readiness(&app).await;
        if status == 503 || Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["store"], "unavailable", "{body}");
    // gRPC health follows the same readiness, for Kubernetes gRPC probes.
    assert_eq!(grpc_health(&app).await, ServingStatus::NotServing as i32);
    assert_eq!(app.validate(&user.access).await.status(), 200);
    let started = Instant::now();
    assert_problem(app.refresh(&user.refresh).await, 503, "store_unavailable").await;
    assert!(started.elapsed() < TIMEOUT + SLACK);

    // The server is down: connections are refused or reset.
    proxy.set(Fault::Refuse);
    let (response, took) = sign_in(&app, &user.email).await;
    assert_problem(response, 503, "store_unavailable").await;
    assert!(took < TIMEOUT + SLACK, "took {took:?}");
    assert_eq!(app.validate(&user.access).await.status(), 200);

    // The database is back: Warden recovers by itself.
    proxy.set(Fault::None);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = readiness(&app).await;
        if status == 200 {
            assert_eq!(body["checks"]["store"], "ok");
            assert_eq!(grpc_health(&app).await, ServingStatus::Serving as i32);
            break;
        }
        assert!(Instant::now() < deadline, "not ready again: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (response, _) = sign_in(&app, &user.email).await;
    assert_eq!(response.status(), 200);
    // The refresh token survived the outage unused.
    assert_eq!(app.refresh(&user.refresh).await.status(), 200);

    // A slow but working database answers, just later.
    proxy.set(Fault::Delay(Duration::from_millis(20)));
    let (response, _) = sign_in(&app, &user.email).await;
    assert_eq!(response.status(), 200);

    // Slower than the deadline: 503 in time, then fine again.
    proxy.set(Fault::Delay(TIMEOUT * 2));
    let (response, took) = sign_in(&app, &user.email).await;
    assert_problem(response, 503, "store_unavailable").await;
    assert!(took < TIMEOUT + SLACK, "took {took:?}");
    proxy.set(Fault::None);
    let deadline = Instant::now() + Duration::from_secs(15);
    while readiness(&app).await.0 != 200 {
        assert!(Instant::now() < deadline, "not ready again after the delay");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Readiness comes from the background check, and a pooled connection
    // may still carry the proxy's delayed bytes: a write may meet one more
    // 503 before the pool is clean, never anything else.
    loop {
        let signup = app
            .signup(&warden_testkit::unique_email(), STRONG_PASSWORD)
            .await;
        if signup.status() == 201 {
            break;
        }
        assert_problem(signup, 503, "store_unavailable").await;
        assert!(
            Instant::now() < deadline,
            "writes never recovered after the delay"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_outages_answer_503_in_time_and_recover() {
    outage_and_recovery(ServerKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mysql_outages_answer_503_in_time_and_recover() {
    outage_and_recovery(ServerKind::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_store_outage_changes_nothing_it_refused() {
    let Some((app, proxy)) = app_behind_proxy(ServerKind::Postgres).await else {
        return;
    };
    let email = warden_testkit::unique_email();
    proxy.set(Fault::Refuse);
    assert_problem(
        app.post(
            "/v1/signup",
            json!({"email": email, "password": STRONG_PASSWORD}),
        )
        .await,
        503,
        "store_unavailable",
    )
    .await;
    proxy.set(Fault::None);
    let deadline = Instant::now() + Duration::from_secs(15);
    while readiness(&app).await.0 != 200 {
        assert!(Instant::now() < deadline, "not ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The refused sign-up left no account behind: the address is free
    // (201, never 409). Readiness answers from one connection; a write may
    // still meet a pooled connection the outage broke and answer 503 once
    // more, as `outage_and_recovery` allows for writes too.
    let status = loop {
        let status = app.signup(&email, STRONG_PASSWORD).await.status();
        if status != 503 || Instant::now() >= deadline {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 201);
}
