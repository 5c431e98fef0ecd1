//! Timing parity of `POST /v1/password/forgot` (front-door contract,
//! section 3): a stranger must not tell from the answer's timing whether an
//! address has an account. Starts a release `warden serve` on a temporary
//! data dir, signs up N accounts, then asks for a reset N times for those
//! addresses and N times for unknown ones, alternating, one request at a
//! time over one connection, and prints the medians, p90 and p99 of each
//! and the medians' difference:
//!
//! ```sh
//! cargo bench -p warden --bench forgot_timing -- 200
//! ```
//!
//! Every address is asked for once (the per-address limit is one a
//! minute); the per-client limit is lifted for the run. The store is the
//! embedded SQLite unless `WARDEN_BENCH_DATABASE_URL` names a PostgreSQL or
//! MySQL database (which must exist). Exits non-zero when the medians differ
//! by 5 % or more.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

const PASSWORD: &str = "correct horse battery staple 9!";
const WARM_UP: usize = 20;

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    for (key, _) in std::env::vars() {
        if key.starts_with("WARDEN_") {
            command.env_remove(key);
        }
    }
    let backend = match std::env::var("WARDEN_BENCH_DATABASE_URL") {
        Ok(db) => {
            command.env("WARDEN_DATABASE_URL", &db).env(
                "WARDEN_KEYS_ENCRYPTION_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            );
            db.split(':').next().unwrap_or("?").to_owned()
        }
        Err(_) => "sqlite".to_owned(),
    };
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
        .env("WARDEN_ISSUER", "https://warden.bench")
        .env("WARDEN_LINKS_FORGOT_PER_IP_PER_MINUTE", "0")
        .env("WARDEN_PASSWORDS_ARGON2_MEMORY_KIB", "1024")
        .env("WARDEN_PASSWORDS_ARGON2_ITERATIONS", "1")
        .env("WARDEN_LOG_LEVEL", "warn")
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
        .pool_max_idle_per_host(1)
        .build()
        .expect("client");

    let run = uuid::Uuid::now_v7().simple().to_string();
    let known: Vec<String> = (0..n + WARM_UP)
        .map(|i| format!("known-{i}-{run}@bench.example"))
        .collect();
    for email in &known {
        let response = client
            .post(format!("{base}/v1/signup"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("signup");
        assert_eq!(response.status(), 201, "signup");
    }
    let unknown: Vec<String> = (0..n + WARM_UP)
        .map(|i| format!("unknown-{i}-{run}@bench.example"))
        .collect();

    let forgot = |email: String| {
        let client = client.clone();
        let url = format!("{base}/v1/password/forgot");
        async move {
            let started = Instant::now();
            let response = client
                .post(url)
                .json(&json!({"email": email}))
                .send()
                .await
                .expect("forgot");
            let status = response.status();
            let body = response.bytes().await.expect("body");
            let took = started.elapsed();
            assert_eq!(status, 202, "forgot answered {status}");
            (took, body)
        }
    };
    let (mut known_times, mut unknown_times) = (Vec::new(), Vec::new());
    let mut bodies = std::collections::BTreeSet::new();
    for i in 0..n + WARM_UP {
        // Alternate which goes first, so drift hits both alike.
        let pair = if i % 2 == 0 {
            let k = forgot(known[i].clone()).await;
            let u = forgot(unknown[i].clone()).await;
            (k, u)
        } else {
            let u = forgot(unknown[i].clone()).await;
            let k = forgot(known[i].clone()).await;
            (k, u)
        };
        let ((k, kb), (u, ub)) = pair;
        bodies.insert(kb);
        bodies.insert(ub);
        if i >= WARM_UP {
            known_times.push(k);
            unknown_times.push(u);
        }
    }
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(
        bodies.len(),
        1,
        "known and unknown addresses got different bodies"
    );
    let (k50, k90, k99) = quantiles(&mut known_times);
    let (u50, u90, u99) = quantiles(&mut unknown_times);
    let diff = (ms(k50) - ms(u50)).abs() / ms(k50).min(ms(u50)) * 100.0;
    println!(
        "{backend}: {n} requests each, one at a time\n  known:   p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms\n  unknown: p50 {:.3} ms, p90 {:.3} ms, p99 {:.3} ms\n  medians differ by {diff:.1} %",
        ms(k50),
        ms(k90),
        ms(k99),
        ms(u50),
        ms(u90),
        ms(u99),
    );
    if diff >= 5.0 {
        eprintln!("medians differ by 5 % or more");
        std::process::exit(1);
    }
}

fn quantiles(samples: &mut [Duration]) -> (Duration, Duration, Duration) {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    (at(0.50), at(0.90), at(0.99))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
