//! Load client for token validation: drives gRPC `Validate` and, for
//! comparison, HTTP `POST /v1/validate` with one token, each worker with one
//! request in flight, for a fixed time; prints requests/s and latency
//! percentiles. Bounded and loopback-only.
//!
//! ```sh
//! cargo run --release -p warden-grpc --example validate_load -- \
//!     --grpc http://127.0.0.1:50051 --http http://127.0.0.1:8080 --workers 32 --secs 10 \
//!     [--grpc-connections 4]
//! ```
//! HTTP/1.1 needs a connection per request in flight, so every HTTP worker
//! has its own. gRPC workers too by default; `--grpc-connections N` has them
//! share N channels instead, as a service does with a cloned tonic
//! `Channel` (HTTP/2 multiplexes the calls).
//! Without `--token` it signs up a fresh user over gRPC and uses their token.

use std::time::{Duration, Instant};

use tonic::transport::{Channel, Endpoint};
use warden_grpc::pb::auth_service_client::AuthServiceClient;
use warden_grpc::pb::{SignUpRequest, ValidateRequest};

struct Args {
    grpc: String,
    http: Option<String>,
    workers: usize,
    /// 0: one per worker.
    grpc_connections: usize,
    secs: u64,
    token: Option<String>,
}

fn args() -> Args {
    let mut args = Args {
        grpc: "http://127.0.0.1:50051".into(),
        http: None,
        workers: 32,
        grpc_connections: 0,
        secs: 10,
        token: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        match flag.as_str() {
            "--grpc" => args.grpc = value,
            "--http" => args.http = Some(value),
            "--workers" => args.workers = value.parse().unwrap_or(32),
            "--grpc-connections" => args.grpc_connections = value.parse().unwrap_or(0),
            "--secs" => args.secs = value.parse().unwrap_or(10).min(120),
            "--token" => args.token = Some(value),
            other => eprintln!("ignoring unknown flag {other}"),
        }
    }
    args
}

fn report(what: &str, mut micros: Vec<u64>, errors: u64, elapsed: Duration) {
    micros.sort_unstable();
    let pct = |p: f64| {
        micros
            .get(((micros.len() as f64 * p) as usize).min(micros.len().saturating_sub(1)))
            .map_or(0.0, |us| *us as f64 / 1000.0)
    };
    println!(
        "{what}: {} requests ({errors} errors) in {:.1} s = {:.0}/s; p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms",
        micros.len(),
        elapsed.as_secs_f64(),
        micros.len() as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
    );
}

async fn grpc_worker(channel: Channel, token: String, until: Instant) -> (Vec<u64>, u64) {
    let mut client = AuthServiceClient::new(channel);
    let (mut micros, mut errors) = (Vec::new(), 0);
    while Instant::now() < until {
        let started = Instant::now();
        let request = ValidateRequest {
            token: token.clone(),
        };
        match client.validate(request).await {
            Ok(_) => micros.push(started.elapsed().as_micros() as u64),
            Err(_) => errors += 1,
        }
    }
    (micros, errors)
}

async fn http_worker(base: String, token: String, until: Instant) -> (Vec<u64>, u64) {
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1)
        .build()
        .expect("client");
    let url = format!("{base}/v1/validate");
    let (mut micros, mut errors) = (Vec::new(), 0);
    while Instant::now() < until {
        let started = Instant::now();
        match client.post(&url).bearer_auth(&token).send().await {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes().await;
                micros.push(started.elapsed().as_micros() as u64);
            }
            _ => errors += 1,
        }
    }
    (micros, errors)
}

async fn run<F, Fut>(what: &str, workers: usize, secs: u64, worker: F)
where
    F: Fn(usize, Instant) -> Fut,
    Fut: std::future::Future<Output = (Vec<u64>, u64)> + Send + 'static,
{
    let started = Instant::now();
    let until = started + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..workers)
        .map(|i| tokio::spawn(worker(i, until)))
        .collect();
    let (mut micros, mut errors) = (Vec::new(), 0);
    for task in tasks {
        if let Ok((m, e)) = task.await {
            micros.extend(m);
            errors += e;
        }
    }
    report(what, micros, errors, started.elapsed());
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args();
    let token = match args.token.clone() {
        Some(token) => token,
        None => {
            let mut client = AuthServiceClient::connect(args.grpc.clone()).await?;
            let email = format!("load-{}@example.com", std::process::id());
            client
                .sign_up(SignUpRequest {
                    email,
                    password: "correct horse battery staple 9!".into(),
                    username: None,
                })
                .await?
                .into_inner()
                .tokens
                .ok_or("no tokens")?
                .access_token
        }
    };
    let kind = if token.starts_with("wst_") {
        "session token"
    } else {
        "JWT"
    };
    println!("{} workers, {} s each, one {kind}", args.workers, args.secs);
    let connections = match args.grpc_connections {
        0 => args.workers,
        n => n.min(args.workers),
    };
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections {
        channels.push(Endpoint::from_shared(args.grpc.clone())?.connect().await?);
    }
    let what = format!("gRPC Validate ({connections} connections)");
    let t = token.clone();
    run(&what, args.workers, args.secs, move |i, until| {
        grpc_worker(channels[i % channels.len()].clone(), t.clone(), until)
    })
    .await;
    if let Some(http) = args.http.clone() {
        let t = token.clone();
        run(
            "HTTP POST /v1/validate",
            args.workers,
            args.secs,
            move |_, until| http_worker(http.clone(), t.clone(), until),
        )
        .await;
    }
    Ok(())
}
