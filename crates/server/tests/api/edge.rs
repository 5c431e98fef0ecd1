//! The edge of `warden serve` and `warden gateway` under attack (issue 14,
//! "Attack run 2026-12 (edge)" in docs/security.md): h2c smuggling through
//! the gateway, slow and idle connections, unbounded metric labels, short
//! bodies, `Host` confusion, paths upstreams decode differently, and cookie
//! paths behind a gateway prefix.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use warden_testkit::{ALLOWED_ORIGIN, STRONG_PASSWORD, TestApp, spawn_app, spawn_app_with};

use warden_testkit::gateway::Gateway;

/// What a request head looked like to an upstream, lower-cased.
type Heads = Arc<Mutex<Vec<String>>>;

/// An upstream that answers every request with `101 Switching Protocols`
/// to h2c, as an h2c-capable server asked to upgrade would, then writes a
/// marker: whatever reaches it through the gateway is recorded.
async fn upgrading_upstream() -> (SocketAddr, Heads) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads: Heads = Arc::default();
    let record = heads.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut stream = tokio::io::BufStream::new(stream);
                let mut head = String::new();
                loop {
                    let mut line = String::new();
                    if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    head.push_str(&line.to_ascii_lowercase());
                }
                record.lock().unwrap().push(head);
                let _ = stream
                    .write_all(
                        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nSMUGGLED",
                    )
                    .await;
                let _ = stream.flush().await;
                tokio::time::sleep(Duration::from_secs(5)).await;
            });
        }
    });
    (addr, heads)
}

fn gateway_config(warden: &TestApp, routes: &str, extra_top: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
issuer = "{issuer}"
endpoint = "http://{warden}"
revocation_poll_interval = "200ms"
{extra_top}

{routes}
"#,
        issuer = warden_testkit::ISSUER,
        warden = warden.addr,
    )
}

async fn wait_ready(gateway: &Gateway) {
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = client.get(format!("{}/readyz", gateway.admin)).send().await;
        if response.is_ok_and(|r| r.status() == StatusCode::OK) {
            return;
        }
        assert!(Instant::now() < deadline, "gateway never became ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn gateway_with(warden: &TestApp, routes: &str) -> Gateway {
    let gateway = Gateway::spawn(&gateway_config(warden, routes, ""));
    wait_ready(&gateway).await;
    gateway
}

/// Sends `request` as is on a fresh connection; the response head (status
/// line and headers) and whatever body arrives within a second.
async fn raw_exchange(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0_u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left.min(Duration::from_secs(1)), stream.read(&mut buffer)).await
        {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            // Quiet for a second after something arrived: that is all.
            Err(_) if !received.is_empty() || left.is_zero() => break,
            Err(_) => {}
        }
    }
    let text = String::from_utf8_lossy(&received).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    (status, text)
}

// ---------------------------------------------------------------------------
// Item 1: h2c smuggling.

#[tokio::test]
async fn an_h2c_upgrade_is_never_forwarded_and_an_unasked_101_is_a_502() {
    let warden = spawn_app().await;
    let (upstream, heads) = upgrading_upstream().await;
    let gateway = gateway_with(
        &warden,
        &format!(
            "[[route]]\nprefix = \"/public/\"\nupstream = \"http://{upstream}\"\nauth = \"public\"\n"
        ),
    )
    .await;

    // HTTP2-Settings left out of Connection, as in the report, and the
    // textbook spelling: neither reaches the upstream as an upgrade, and
    // the upstream's 101 is refused.
    for connection in ["Upgrade", "Upgrade, HTTP2-Settings"] {
        let request = format!(
            "GET /public/ HTTP/1.1\r\nHost: gw.test\r\nConnection: {connection}\r\nUpgrade: h2c\r\n\
             HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
        );
        let (status, response) = raw_exchange(gateway.addr, request.as_bytes()).await;
        assert_eq!(status, 502, "{response}");
        assert!(!response.contains("SMUGGLED"), "{response}");
        let head = heads.lock().unwrap().last().cloned().unwrap();
        assert!(!head.contains("upgrade: "), "{head}");
        assert!(!head.contains("http2-settings"), "{head}");
        assert!(!head.contains("connection: upgrade"), "{head}");
    }

    // A WebSocket handshake on a route that does not allow WebSockets
    // reaches the upstream as a plain request.
    let (status, response) = raw_exchange(gateway.addr, WEBSOCKET_HANDSHAKE.as_bytes()).await;
    assert_eq!(status, 502, "{response}");
    let head = heads.lock().unwrap().last().cloned().unwrap();
    assert!(!head.contains("upgrade: "), "{head}");
}

const WEBSOCKET_HANDSHAKE: &str = "GET /public/ HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade\r\n\
     Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";

#[tokio::test]
async fn a_websocket_route_forwards_only_websocket_upgrades() {
    let warden = spawn_app().await;
    let (upstream, heads) = upgrading_upstream().await;
    let gateway = gateway_with(
        &warden,
        &format!(
            "[[route]]\nprefix = \"/ws/\"\nupstream = \"http://{upstream}\"\nauth = \"public\"\nwebsocket = true\n"
        ),
    )
    .await;
    // The handshake passes, but an upstream switching to anything but a
    // WebSocket is a 502.
    let websocket = WEBSOCKET_HANDSHAKE.replace("/public/", "/ws/");
    let (status, response) = raw_exchange(gateway.addr, websocket.as_bytes()).await;
    assert_eq!(status, 502, "{response}");
    assert!(!response.contains("SMUGGLED"), "{response}");
    let head = heads.lock().unwrap().last().cloned().unwrap();
    assert!(head.contains("upgrade: websocket"), "{head}");

    // h2c on the WebSocket route: stripped as well.
    let h2c = "GET /ws/ HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\
               HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n";
    let (status, _) = raw_exchange(gateway.addr, h2c.as_bytes()).await;
    assert_eq!(status, 502);
    let head = heads.lock().unwrap().last().cloned().unwrap();
    assert!(!head.contains("upgrade: "), "{head}");
}

/// The Python interpreter with Hypercorn and h2 (`WARDEN_TEST_PYTHON`), or
/// `None` (a visible skip) unless `WARDEN_TEST_REQUIRE_SERVICES=1`.
fn python() -> Option<PathBuf> {
    match std::env::var("WARDEN_TEST_PYTHON") {
        Ok(path) if !path.is_empty() => Some(PathBuf::from(path)),
        _ if std::env::var("WARDEN_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") => {
            panic!("WARDEN_TEST_PYTHON is unset but WARDEN_TEST_REQUIRE_SERVICES=1")
        }
        _ => {
            eprintln!(
                "skipped: set WARDEN_TEST_PYTHON to a python with hypercorn==0.18.0 and h2==4.4.1"
            );
            None
        }
    }
}

fn h2c_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/h2c_smuggling.py")
}

/// Hypercorn honours `Upgrade: h2c`; through the gateway, a raw HTTP/2
/// client must never get an answer from its admin-only path.
#[tokio::test]
async fn h2c_smuggling_through_the_gateway_never_reaches_an_admin_path() {
    let Some(python) = python() else { return };
    let mut upstream = ChildGuard(
        Command::new(&python)
            .arg(h2c_script())
            .arg("upstream")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python starts"),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(upstream.0.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let upstream_addr: SocketAddr = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .parse()
        .unwrap();

    let warden = spawn_app().await;
    let gateway = gateway_with(
        &warden,
        &format!(
            "[[route]]\nprefix = \"/public/\"\nupstream = \"http://{upstream_addr}\"\nauth = \"public\"\n\n\
             [[route]]\nprefix = \"/admin/\"\nupstream = \"http://{upstream_addr}\"\nroles = [\"admin\"]\n"
        ),
    )
    .await;
    let attack = Command::new(python)
        .arg(h2c_script())
        .arg("attack")
        .arg(gateway.addr.to_string())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&attack.stdout).into_owned();
    assert!(
        attack.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&attack.stderr)
    );
    // And the upstream, asked directly, never served its admin path.
    let hits = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("http://{upstream_addr}/__admin_hits"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(hits.trim(), "0", "{report}");
}

/// A child process killed when the guard drops.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---------------------------------------------------------------------------
// Item 2: connection exhaustion.

/// Sends an unfinished request head and returns how long the server kept
/// the connection open (`None`: still open after `wait`).
async fn partial_header_lifetime(addr: SocketAddr, wait: Duration) -> Option<Duration> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: slow.test\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let mut buffer = [0_u8; 1024];
    loop {
        match tokio::time::timeout(
            wait.saturating_sub(started.elapsed()),
            stream.read(&mut buffer),
        )
        .await
        {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            // A 408 or similar before closing is fine too.
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_partial_header_is_closed_after_the_header_read_timeout() {
    let app = spawn_app().await;
    let closed = partial_header_lifetime(app.addr, Duration::from_secs(16)).await;
    let closed = closed.expect("the connection was still open after 16 s");
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(15)).contains(&closed),
        "closed after {closed:?}, the default timeout is 10 s"
    );
}

#[tokio::test]
async fn a_partial_header_to_the_gateway_is_closed_after_the_header_read_timeout() {
    let warden = spawn_app().await;
    let gateway = gateway_with(
        &warden,
        &format!(
            "[[route]]\nprefix = \"/\"\nupstream = \"http://{}\"\nauth = \"public\"\n",
            warden.addr
        ),
    )
    .await;
    let closed = partial_header_lifetime(gateway.addr, Duration::from_secs(16)).await;
    let closed = closed.expect("the connection was still open after 16 s");
    assert!(
        (Duration::from_secs(9)..Duration::from_secs(15)).contains(&closed),
        "closed after {closed:?}, the default timeout is 10 s"
    );
}

#[tokio::test]
async fn healthz_answers_quickly_while_hundreds_of_slow_clients_hang() {
    let app = spawn_app().await;
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut stream = TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: slow.test\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    // A fresh client each time: no pooled connection to hide behind. The
    // median must be within 100 ms; the slowest may lose a little to a
    // loaded test machine.
    let mut took = Vec::new();
    for _ in 0..5 {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let started = Instant::now();
        let response = client.get(app.url("/healthz")).send().await.unwrap();
        took.push(started.elapsed());
        assert_eq!(response.status(), StatusCode::OK);
    }
    took.sort();
    assert!(took[2] < Duration::from_millis(100), "{took:?}");
    assert!(took[4] < Duration::from_millis(500), "{took:?}");
    drop(slow);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|config| {
        config.http.idle_timeout = Duration::from_secs(1);
    })
    .await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: idle.test\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0_u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer)).await {
            Err(_) => panic!("still open after {:?}", started.elapsed()),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
        }
    }
    assert!(String::from_utf8_lossy(&received).starts_with("HTTP/1.1 200"));
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn an_idle_grpc_connection_is_closed_after_the_idle_timeout() {
    let app = spawn_app_with(|config| {
        config.grpc.idle_timeout = Duration::from_secs(1);
    })
    .await;
    // Nothing sent at all: not even the HTTP/2 preface.
    let mut stream = TcpStream::connect(app.grpc_addr).await.unwrap();
    let started = Instant::now();
    let mut buffer = [0_u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(8), stream.read(&mut buffer)).await {
            Err(_) => panic!("still open after {:?}", started.elapsed()),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(_)) => {}
        }
    }
    assert!(started.elapsed() < Duration::from_secs(7));
}

// ---------------------------------------------------------------------------
// Item 3: bounded metrics.

#[tokio::test]
async fn invented_http_methods_do_not_make_new_metric_series() {
    let app = spawn_app().await;
    for i in 0..1000 {
        let method = reqwest::Method::from_bytes(format!("INVENTED{i}").as_bytes()).unwrap();
        let response = app
            .client
            .request(method, app.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error());
    }
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("warden_http_requests_total{"))
        .collect();
    assert!(series.len() <= 5, "{} series: {series:#?}", series.len());
    assert!(
        series.iter().any(|s| s.contains("method=\"other\"")),
        "{series:#?}"
    );
    assert!(
        !metrics.contains("INVENTED"),
        "an invented method became a label"
    );
}

// ---------------------------------------------------------------------------
// Item 6, edge parts.

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_a_408_problem() {
    let app = spawn_app_with(|config| config.http.request_timeout = Duration::from_secs(1)).await;
    let request =
        b"POST /v1/signin HTTP/1.1\r\nHost: warden.test\r\nContent-Type: application/json\r\n\
                    Content-Length: 100\r\n\r\n{\"email\":";
    let started = Instant::now();
    let (status, response) = raw_exchange(app.addr, request).await;
    assert_eq!(status, 408, "{response}");
    assert!(started.elapsed() < Duration::from_secs(4));
    let lower = response.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/problem+json"),
        "{response}"
    );
    let body: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["code"], "request_timeout");
    assert_eq!(body["status"], 408);
    assert_eq!(body["type"], "https://warden.dev/errors/request_timeout");
}

#[tokio::test]
async fn the_gateway_refuses_http11_requests_without_exactly_one_host() {
    let warden = spawn_app().await;
    let gateway = gateway_with(
        &warden,
        &format!(
            "[[route]]\nprefix = \"/\"\nupstream = \"http://{}\"\nauth = \"public\"\n",
            warden.addr
        ),
    )
    .await;
    let (status, response) = raw_exchange(
        gateway.addr,
        b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "{response}");
    let (status, response) = raw_exchange(
        gateway.addr,
        b"GET /healthz HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 400, "{response}");
    let (status, response) = raw_exchange(
        gateway.addr,
        b"GET /healthz HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200, "{response}");
}

/// Paths some upstream decodes into something else than what was checked.
const AMBIGUOUS_PATHS: &[&str] = &[
    "/public/%252e%252e/admin/x",
    "/public/%2561dmin",
    "/admin./x",
    "/admin%2e/x",
    "/admin%20/x",
    "/admin%C3%A0/x",
    "/public/caf%C3%A9",
];

#[tokio::test]
async fn paths_an_upstream_would_decode_differently_are_400_at_the_gateway() {
    let warden = spawn_app().await;
    let (upstream, heads) = upgrading_upstream().await;
    let gateway = gateway_with(
        &warden,
        &format!(
            "[[route]]\nprefix = \"/public/\"\nupstream = \"http://{upstream}\"\nauth = \"public\"\n\n\
             [[route]]\nprefix = \"/\"\nupstream = \"http://{upstream}\"\nauth = \"public\"\n"
        ),
    )
    .await;
    for path in AMBIGUOUS_PATHS {
        let request = format!("GET {path} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n\r\n");
        let (status, response) = raw_exchange(gateway.addr, request.as_bytes()).await;
        assert_eq!(status, 400, "{path}: {response}");
        assert!(response.contains("invalid_request"), "{path}: {response}");
    }
    assert!(heads.lock().unwrap().is_empty());
}

#[tokio::test]
async fn paths_an_upstream_would_decode_differently_are_400_in_forward_auth() {
    let app = spawn_app_with(|config| {
        config.verify.policy = warden_testkit::VerifyRule::policy(&[warden_testkit::VerifyRule {
            prefix: "/".into(),
            methods: Vec::new(),
            roles: Vec::new(),
            public: true,
            mfa: false,
            scopes: Vec::new(),
        }])
        .unwrap();
    })
    .await;
    for path in AMBIGUOUS_PATHS {
        let response = app
            .client
            .get(app.url("/v1/verify"))
            .header("x-original-uri", *path)
            .send()
            .await
            .unwrap();
        warden_testkit::assert_problem(response, 400, "invalid_request").await;
    }
    let response = app
        .client
        .get(app.url("/v1/verify"))
        .header("x-original-uri", "/public/fine.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn cookie_paths_follow_the_issuer_path_behind_a_gateway_prefix() {
    let app = spawn_app_with(|config| {
        config.issuer = Some(format!("{}/auth", warden_testkit::ISSUER));
    })
    .await;
    let response = app
        .client
        .post(app.url("/v1/signup?cookie=true"))
        .header("origin", ALLOWED_ORIGIN)
        .json(&json!({"email": warden_testkit::unique_email(), "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("__Secure-warden_rt="))
        .expect("refresh cookie");
    assert!(refresh.contains("Path=/auth/v1/token"), "{refresh}");
    // `__Host-` cookies must keep `Path=/`.
    let access = cookies
        .iter()
        .find(|c| c.starts_with("__Host-warden_at="))
        .expect("access cookie");
    assert!(
        access.contains("Path=/;") || access.ends_with("Path=/"),
        "{access}"
    );

    // Signing out expires the refresh cookie at the same path.
    let rt = refresh.split(';').next().unwrap().to_owned();
    let csrf = cookies
        .iter()
        .find(|c| c.starts_with("warden_csrf="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap();
    let response = app
        .client
        .post(app.url("/v1/token/revoke"))
        .header("cookie", format!("{rt}; {csrf}"))
        .header("x-csrf-token", csrf.trim_start_matches("warden_csrf="))
        .header("origin", ALLOWED_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(
        cleared
            .iter()
            .any(|c| c.starts_with("__Secure-warden_rt=") && c.contains("Path=/auth/v1/token")),
        "{cleared:#?}"
    );
}
