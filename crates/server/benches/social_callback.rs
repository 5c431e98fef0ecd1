//! Warden's own time per social sign-in callback (issue target: under 5 ms
//! p99), against warden-testkit's OpenID provider on loopback. Starts a
//! release `warden serve` on a temporary data dir with the provider
//! configured, then N times: start a flow, let the provider sign the same
//! person in, and time the callback (flow cookie opened, code exchanged at
//! the provider, ID token verified, identity found, session and tokens
//! issued, cookies set). The provider's share is estimated by timing the
//! same token request sent straight to it; JWKS requests are counted (one
//! per key set, not per sign-in).
//!
//! ```sh
//! cargo bench -p warden --bench social_callback -- 500
//! ```

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use warden_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider, Person};

const WARM_UP: usize = 20;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn show(label: &str, samples: &mut [Duration]) {
    samples.sort();
    println!(
        "{label:<28} n={:<5} p50 {:>8.3} ms  p90 {:>8.3} ms  p99 {:>8.3} ms",
        samples.len(),
        percentile(samples, 0.5).as_secs_f64() * 1e3,
        percentile(samples, 0.9).as_secs_f64() * 1e3,
        percentile(samples, 0.99).as_secs_f64() * 1e3,
    );
}

fn cookie_of(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500);
    let op = OidcProvider::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[[oauth.provider]]\nid = \"op\"\nkind = \"oidc\"\nissuer = \"{}\"\n\
             client_id = \"{CLIENT_ID}\"\nclient_secret = \"{CLIENT_SECRET}\"\n",
            op.issuer
        ),
    )
    .expect("config");
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    for (key, _) in std::env::vars() {
        if key.starts_with("WARDEN_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .args(["serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
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
        .trim_end_matches('/')
        .to_owned();
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    op.sign_in_as(Person::verified("bench@example.com"));
    let mut callbacks = Vec::with_capacity(n);
    let mut token_round_trips = Vec::with_capacity(n);
    for i in 0..WARM_UP + n {
        let start = client
            .get(format!("{base}/v1/oauth/op/start"))
            .send()
            .await
            .expect("start");
        let flow = cookie_of(&start, "__Host-warden_oauth").expect("flow cookie");
        let authorize = start.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        let back = client.get(&authorize).send().await.expect("authorize");
        let back = back.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned();
        let path = &back[back.find("/v1/").expect("callback path")..];
        let began = Instant::now();
        let done = client
            .get(format!("{base}{path}"))
            .header("cookie", format!("__Host-warden_oauth={flow}"))
            .send()
            .await
            .expect("callback");
        let took = began.elapsed();
        assert_eq!(done.status(), 303);
        assert_eq!(done.headers()["location"], "/", "sign-in failed");
        // The provider's part: a token request of the same shape, straight
        // to it (refused for its made-up code, after the same checks).
        let began = Instant::now();
        let _ = client
            .post(format!("{}/token", op.issuer))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", "code-none"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("redirect_uri", "x"),
            ])
            .send()
            .await
            .expect("token");
        let provider = began.elapsed();
        if i >= WARM_UP {
            callbacks.push(took);
            token_round_trips.push(provider);
        }
    }
    let mut own: Vec<Duration> = callbacks
        .iter()
        .zip(&token_round_trips)
        .map(|(c, p)| c.saturating_sub(*p))
        .collect();
    println!("social sign-in callback, release warden serve (SQLite), provider on loopback:");
    show("callback (whole)", &mut callbacks);
    show("provider token round trip", &mut token_round_trips);
    show("Warden's own (difference)", &mut own);
    println!(
        "JWKS requests for {} sign-ins: {}",
        WARM_UP + n,
        op.jwks_requests()
    );
    let _ = child.kill();
    let _ = child.wait();
}
