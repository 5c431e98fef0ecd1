//! Revocation propagation latency: sign-out at a `warden serve` process ->
//! first rejection by a warden-verify verifier in this process that learns
//! of revocations only over the bus (its feed poll is an hour). Reports
//! p50/p90/p99/max over the trials for each broker configured:
//!
//! ```sh
//! WARDEN_TEST_NATS_URL=nats://127.0.0.1:4222 \
//! WARDEN_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f \
//! cargo bench -p warden --bench propagation -- 200
//! ```
//!
//! The store is the embedded SQLite unless `WARDEN_BENCH_DATABASE_URL`
//! names a PostgreSQL or MySQL database (which must exist).

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use warden_verify::{BusNames, RevocationFeed, Verifier, VerifyErrorKind};

const PASSWORD: &str = "correct horse battery staple 9!";
const FEED_TOKEN: &str = "bench-feed-token-0123456789";

#[tokio::main]
async fn main() {
    let trials: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    let mut ran = false;
    for (name, var) in [
        ("NATS", "WARDEN_TEST_NATS_URL"),
        ("RabbitMQ", "WARDEN_TEST_AMQP_URL"),
    ] {
        let Ok(url) = std::env::var(var) else {
            eprintln!("{name}: skipped, {var} is not set");
            continue;
        };
        ran = true;
        let mut samples = run(&url, trials).await;
        samples.sort();
        let at = |q: f64| {
            samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1]
        };
        println!(
            "{name}: {trials} trials, sign-out -> rejected at the remote verifier: p50 {:.1} ms, p90 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            ms(at(0.50)),
            ms(at(0.90)),
            ms(at(0.99)),
            ms(*samples.last().unwrap())
        );
    }
    if !ran {
        eprintln!("set WARDEN_TEST_NATS_URL and/or WARDEN_TEST_AMQP_URL");
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run(url: &str, trials: usize) -> Vec<Duration> {
    let id = uuid::Uuid::now_v7().simple().to_string();
    let names = BusNames {
        subject_prefix: format!("wb{}", &id[20..]),
        stream: format!("WB{}", &id[20..]).to_uppercase(),
        exchange: format!("warden-bench-{}", &id[20..]),
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    for (key, _) in std::env::vars() {
        if key.starts_with("WARDEN_") {
            command.env_remove(key);
        }
    }
    if let Ok(db) = std::env::var("WARDEN_BENCH_DATABASE_URL") {
        command.env("WARDEN_DATABASE_URL", db).env(
            "WARDEN_KEYS_ENCRYPTION_KEY",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        );
    }
    let mut child = command
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--grpc",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("WARDEN_EVENTS_URL", url)
        .env("WARDEN_EVENTS_SUBJECT_PREFIX", &names.subject_prefix)
        .env("WARDEN_EVENTS_STREAM", &names.stream)
        .env("WARDEN_EVENTS_EXCHANGE", &names.exchange)
        .env("WARDEN_REVOCATIONS_TOKEN", FEED_TOKEN)
        .env("WARDEN_ISSUER", "https://warden.bench")
        .env("WARDEN_PASSWORDS_ARGON2_MEMORY_KIB", "1024")
        .env("WARDEN_PASSWORDS_ARGON2_ITERATIONS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("warden starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("address")
        .to_owned();
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let verifier = Verifier::builder()
        .issuer("https://warden.bench")
        .endpoint(&base)
        .revocations(
            RevocationFeed::poll(Duration::from_secs(3600))
                .service_token(FEED_TOKEN)
                .bus(url)
                .bus_names(names),
        )
        .build()
        .await
        .expect("verifier");
    for _ in 0..200 {
        if verifier.is_ready() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut samples = Vec::with_capacity(trials);
    for _ in 0..trials {
        let body: Value = client
            .post(format!("{base}/v1/signup"))
            .json(&json!({"email": format!("{}@bench.example", uuid::Uuid::now_v7()), "password": PASSWORD}))
            .send()
            .await
            .expect("signup")
            .json()
            .await
            .expect("json");
        let token = body["tokens"]["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        verifier.verify(&token).await.expect("valid");
        let started = Instant::now();
        let response = client
            .post(format!("{base}/v1/signout"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("signout");
        assert_eq!(response.status(), 204);
        loop {
            match verifier.verify(&token).await {
                Err(e) if e.kind() == VerifyErrorKind::Revoked => break,
                _ if started.elapsed() > Duration::from_secs(10) => panic!("not propagated"),
                _ => tokio::task::yield_now().await,
            }
        }
        samples.push(started.elapsed());
    }
    let _ = child.kill();
    let _ = child.wait();
    samples
}
