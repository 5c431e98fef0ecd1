//! `warden gateway` as a real process between a real HTTP client and an
//! echo upstream written here, with a real Warden behind `/auth/`:
//! authentication, identity headers, path tricks (checklist 46-47),
//! upstream failures, revocation, browser mode, WebSocket, streaming,
//! SIGHUP reload, readiness and metrics.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use futures::{SinkExt as _, StreamExt as _};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
use warden_testkit::{
    ALLOWED_ORIGIN, STRONG_PASSWORD, TestApp, assert_problem, spawn_app, unique_email,
};

/// A running `warden gateway`; killed when dropped.
pub struct Gateway {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// `http://127.0.0.1:<port>` of `/healthz`, `/readyz`, `/metrics`.
    pub admin: String,
    /// `127.0.0.1:<port>`.
    pub addr: SocketAddr,
    /// The config file (rewrite it, then [`Gateway::reload`]).
    pub config: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    /// Starts `warden gateway --config <file with config>`.
    pub fn spawn(config: &str) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("gateway.toml");
        std::fs::write(&path, config).expect("config written");
        let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
        for (key, _) in std::env::vars() {
            if key.starts_with("WARDEN_") {
                command.env_remove(key);
            }
        }
        let mut child = command
            .env("RUST_LOG", "warn")
            .args(["gateway", "--config"])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("warden gateway starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("a line");
        assert!(line.contains("gateway listening on http://"), "{line:?}");
        let mut urls = line
            .split(|c: char| c.is_whitespace() || c == ')' || c == ';')
            .filter(|w| w.starts_with("http://"));
        let base = urls.next().expect("address").to_owned();
        let admin = urls.next().unwrap_or_default().to_owned();
        let addr = base.trim_start_matches("http://").parse().expect("addr");
        Gateway {
            child,
            base,
            admin,
            addr,
            config: path,
            _dir: dir,
        }
    }

    /// Sends SIGHUP.
    pub fn reload(&self) {
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// What the echo upstream saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: HashMap<String, String>,
}

/// An upstream that answers every request with what it received, as JSON.
/// Paths containing `slow` wait 2 s before answering, `stream` send five
/// chunks 200 ms apart, `upload` count the body's bytes (and signal
/// `upload_started` at the first one).
struct Echo {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    upload_started: Arc<tokio::sync::Notify>,
}

impl Echo {
    async fn start() -> Echo {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let record = seen.clone();
        let upload_started: Arc<tokio::sync::Notify> = Arc::default();
        let started = upload_started.clone();
        let app = axum::Router::new().fallback(move |request: Request| {
            let (record, started) = (record.clone(), started.clone());
            async move { echo(request, &record, &started).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Echo {
            addr,
            seen,
            upload_started,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn last(&self) -> Seen {
        self.seen()
            .last()
            .cloned()
            .expect("the upstream saw a request")
    }
}

async fn echo(
    request: Request,
    record: &Mutex<Vec<Seen>>,
    upload_started: &tokio::sync::Notify,
) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let mut headers = HashMap::new();
    for (name, value) in request.headers() {
        let value = value.to_str().unwrap_or("").to_owned();
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v: &mut String| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert(value);
    }
    record.lock().unwrap().push(Seen {
        path: path.clone(),
        headers: headers.clone(),
    });
    if path.contains("slow") {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    if path.contains("stream") && !path.contains("upload") {
        let chunks = futures::stream::unfold(0, |i| async move {
            if i == 5 {
                return None;
            }
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Some((Ok::<_, std::io::Error>(format!("chunk {i}\n")), i + 1))
        });
        return Response::new(Body::from_stream(chunks));
    }
    let mut bytes = 0_usize;
    if path.contains("upload") {
        let mut body = request.into_body().into_data_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.expect("upload chunk");
            if bytes == 0 && !chunk.is_empty() {
                upload_started.notify_one();
            }
            bytes += chunk.len();
        }
    }
    let mut response = Response::new(Body::from(
        json!({ "path": path, "headers": headers, "bytes": bytes }).to_string(),
    ));
    response.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/json"),
    );
    // Hop-by-hop headers an upstream might send: they must not reach clients.
    response.headers_mut().insert(
        "connection",
        axum::http::HeaderValue::from_static("x-upstream-hop"),
    );
    response
        .headers_mut()
        .insert("x-upstream-hop", axum::http::HeaderValue::from_static("1"));
    response
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A Warden, an echo upstream and the gateway between them.
struct Setup {
    warden: TestApp,
    echo: Echo,
    gateway: Gateway,
    client: reqwest::Client,
}

fn config(warden: &TestApp, echo: &Echo, extra_top: &str, extra_routes: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
admin_listen = "127.0.0.1:0"
issuer = "{issuer}"
endpoint = "http://{warden}"
{poll}
allowed_origins = ["{origin}"]
{extra_top}

[[route]]
prefix = "/auth/"
upstream = "http://{warden}"
strip_prefix = true
auth = "public"

[[route]]
prefix = "/api/tickets/"
upstream = "{echo}"
auth = "required"
roles = ["user"]

[[route]]
prefix = "/admin/"
upstream = "{echo}"
roles = ["admin"]

[[route]]
prefix = "/public/"
upstream = "{echo}"
auth = "public"
{extra_routes}
"#,
        issuer = warden_testkit::ISSUER,
        warden = warden.addr,
        origin = ALLOWED_ORIGIN,
        echo = echo.url(),
        // A test that sets its own interval (to rule the feed out) wins.
        poll = if extra_top.contains("revocation_poll_interval") {
            ""
        } else {
            "revocation_poll_interval = \"200ms\""
        },
    )
}

async fn setup_with(extra_top: &str, extra_routes: &str) -> Setup {
    setup_on(spawn_app().await, extra_top, extra_routes).await
}

async fn setup_on(warden: TestApp, extra_top: &str, extra_routes: &str) -> Setup {
    setup_routes(warden, extra_top, |_| extra_routes.to_owned()).await
}

/// Like [`setup_on`], with extra routes that may point at the echo upstream.
async fn setup_routes(
    warden: TestApp,
    extra_top: &str,
    extra_routes: impl FnOnce(&Echo) -> String,
) -> Setup {
    let echo = Echo::start().await;
    let extra_routes = extra_routes(&echo);
    let gateway = Gateway::spawn(&config(&warden, &echo, extra_top, &extra_routes));
    let setup = Setup {
        warden,
        echo,
        gateway,
        client: client(),
    };
    setup.wait_ready().await;
    setup
}

async fn setup() -> Setup {
    setup_with("", "").await
}

impl Setup {
    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let response = self
                .client
                .get(format!("{}/readyz", self.gateway.admin))
                .send()
                .await;
            if response.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            assert!(Instant::now() < deadline, "gateway never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Signs up through the gateway's public `/auth/` route.
    async fn signup(&self) -> (String, Value) {
        let response = self
            .client
            .post(self.gateway.url("/auth/v1/signup"))
            .json(&json!({ "email": unique_email(), "password": STRONG_PASSWORD }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        let body: Value = response.json().await.unwrap();
        (
            body["tokens"]["access_token"].as_str().unwrap().to_owned(),
            body["user"].clone(),
        )
    }

    /// Signs `token` out through `/auth/`, then expects `path` to refuse it
    /// as revoked within a second.
    async fn sign_out_and_wait_for_401(&self, token: &str, path: &str) {
        let response = self
            .client
            .post(self.gateway.url("/auth/v1/signout"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        let signed_out = Instant::now();
        loop {
            let response = self.get(path, Some(token)).await;
            if response.status() == StatusCode::UNAUTHORIZED {
                assert_problem(response, 401, "token_revoked").await;
                return;
            }
            assert!(
                signed_out.elapsed() < Duration::from_secs(1),
                "still accepted a second after sign-out"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.gateway.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

/// Sends `raw_path` byte for byte (reqwest would normalise it) and returns
/// the status.
async fn raw_status(addr: SocketAddr, raw_path: &str, token: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!(
                "GET {raw_path} HTTP/1.1\r\nHost: gw.test\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {response:?}"))
}

#[tokio::test]
async fn signs_up_through_auth_and_hands_upstreams_a_trusted_identity() {
    let s = setup().await;
    let (token, user) = s.signup().await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = s
        .client
        .get(s.gateway.url("/api/tickets/42?sort=new"))
        .bearer_auth(&token)
        .header("X-Warden-User", "admin")
        .header("x-warden-roles", "admin")
        .header("X-WARDEN-SESSION", "forged")
        .header("traceparent", traceparent)
        .header("tracestate", "vendor=1")
        .header("connection", "x-client-hop")
        .header("x-client-hop", "1")
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("x-upstream-hop").is_none());
    let seen = s.echo.last();
    assert_eq!(seen.path, "/api/tickets/42?sort=new");
    assert_eq!(seen.headers["x-warden-user"], user["id"].as_str().unwrap());
    assert_eq!(seen.headers["x-warden-roles"], "user");
    assert_ne!(seen.headers["x-warden-session"], "forged");
    assert_eq!(seen.headers["traceparent"], traceparent);
    assert_eq!(seen.headers["tracestate"], "vendor=1");
    assert!(!seen.headers.contains_key("x-client-hop"));
    assert_eq!(seen.headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(seen.headers["authorization"], format!("Bearer {token}"));
    assert_eq!(seen.headers["host"], s.echo.addr.to_string());

    // Without trace context the gateway starts one.
    s.get("/api/tickets/", Some(&token)).await;
    let generated = s.echo.last().headers["traceparent"].clone();
    let parts: Vec<&str> = generated.split('-').collect();
    assert_eq!((parts.len(), parts[0], parts[1].len()), (4, "00", 32));

    // Public routes: spoofed identity never passes; a valid token adds one.
    let response = s
        .client
        .get(s.gateway.url("/public/x"))
        .header("X-Warden-User", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!s.echo.last().headers.contains_key("x-warden-user"));
    s.get("/public/x", Some(&token)).await;
    assert_eq!(
        s.echo.last().headers["x-warden-user"],
        user["id"].as_str().unwrap()
    );
    s.get("/public/x", Some("not-a-token")).await;
    assert!(!s.echo.last().headers.contains_key("x-warden-user"));

    // Warden behind /auth/ sees the bearer too.
    let me: Value = s
        .get("/auth/v1/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], user["id"]);
}

#[tokio::test]
async fn refuses_missing_invalid_and_underprivileged_tokens() {
    let s = setup().await;
    let (token, _) = s.signup().await;
    let before = s.echo.seen().len();

    let response = s
        .client
        .get(s.gateway.url("/api/tickets/"))
        .header("X-Warden-User", "admin")
        .send()
        .await
        .unwrap();
    // RFC 6750: no credential, no error code; a refused token, invalid_token.
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"warden\""
    );
    assert_problem(response, 401, "invalid_token").await;
    let garbage = s.get("/api/tickets/", Some("garbage")).await;
    assert_eq!(
        garbage.headers()["www-authenticate"],
        "Bearer realm=\"warden\", error=\"invalid_token\""
    );
    assert_problem(garbage, 401, "invalid_token").await;
    assert_problem(s.get("/admin/users", Some(&token)).await, 403, "forbidden").await;
    assert_problem(s.get("/nowhere", Some(&token)).await, 404, "not_found").await;
    assert_eq!(
        s.echo.seen().len(),
        before,
        "nothing refused reached the upstream"
    );

    let admin = s.warden.new_admin().await;
    assert_eq!(
        s.get("/admin/users", Some(&admin.access)).await.status(),
        StatusCode::OK
    );
}

/// With `sign_in_url`, a browser loading a page without a valid token is
/// sent to the sign-in page with the address to come back to; API calls,
/// unsafe methods and missing roles keep their problem+json answer.
#[tokio::test]
async fn page_loads_without_a_valid_token_go_to_the_sign_in_page() {
    let s = setup_with("sign_in_url = \"https://auth.warden.test/sign-in\"", "").await;
    let (token, _) = s.signup().await;
    let before = s.echo.seen().len();
    // A browser asks for HTML.
    let browser = |method: reqwest::Method, path: &str| {
        s.client
            .request(method, s.gateway.url(path))
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
    };
    let page_load = |token: Option<&str>, host: Option<&str>| {
        let mut request = browser(reqwest::Method::GET, "/api/tickets/7?tab=open");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(host) = host {
            request = request
                .header("host", host)
                .header("x-forwarded-proto", "https");
        }
        request.send()
    };
    let location = |response: &reqwest::Response| {
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()["cache-control"], "no-store");
        response.headers()["location"].to_str().unwrap().to_owned()
    };

    // No token, or a bad one: back to the path after signing in.
    let path_only = "https://auth.warden.test/sign-in?rd=%2Fapi%2Ftickets%2F7%3Ftab%3Dopen";
    assert_eq!(location(&page_load(None, None).await.unwrap()), path_only);
    assert_eq!(
        location(&page_load(Some("garbage"), None).await.unwrap()),
        path_only
    );
    // The full URL only for an allowed origin; another Host gets the path.
    let allowed_host = ALLOWED_ORIGIN.trim_start_matches("https://");
    assert_eq!(
        location(&page_load(None, Some(allowed_host)).await.unwrap()),
        format!(
            "https://auth.warden.test/sign-in?rd=https%3A%2F%2F{}%2Fapi%2Ftickets%2F7%3Ftab%3Dopen",
            allowed_host
        )
    );
    assert_eq!(
        location(&page_load(None, Some("evil.example")).await.unwrap()),
        path_only
    );

    // An API call and a form post keep the 401; a missing role stays 403.
    assert_problem(s.get("/api/tickets/7", None).await, 401, "invalid_token").await;
    let post = browser(reqwest::Method::POST, "/api/tickets/")
        .send()
        .await
        .unwrap();
    assert_problem(post, 401, "invalid_token").await;
    let admin_page = browser(reqwest::Method::GET, "/admin/users")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(admin_page, 403, "forbidden").await;
    assert_eq!(
        s.echo.seen().len(),
        before,
        "nothing refused reached the upstream"
    );

    // A valid token and public routes pass as before.
    assert_eq!(
        page_load(Some(&token), None).await.unwrap().status(),
        StatusCode::OK
    );
    let public = browser(reqwest::Method::GET, "/public/x")
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::OK);
}

#[tokio::test]
async fn path_tricks_never_reach_a_role_only_route() {
    let s = setup().await;
    let (token, _) = s.signup().await;
    let tricks = [
        "/admin/x",
        "/%61dmin/x",
        "/%41DMIN/x",
        "//admin/x",
        "/admin/../admin/x",
        "/./admin/x",
        "/admin;x",
        "/admin;x/y",
        "/ADMIN/x",
        "/Admin/x",
        "/public/../admin/x",
        "/public/..%2fadmin/x",
        "/public/..%2Fadmin/x",
        "/public/%2e%2e/admin/x",
        "/public/..%5cadmin/x",
        "/admin%00/x",
        "/admin%2fx",
    ];
    for trick in tricks {
        let status = raw_status(s.gateway.addr, trick, &token).await;
        assert!(
            matches!(status, 400 | 403 | 404),
            "{trick} answered {status}"
        );
        assert!(
            !s.echo
                .seen()
                .iter()
                .any(|seen| seen.path.to_ascii_lowercase().contains("admin")),
            "{trick} reached the upstream: {:?}",
            s.echo.seen()
        );
    }
    assert_eq!(
        raw_status(s.gateway.addr, "/public/..%2fadmin/x", &token).await,
        400
    );

    // An admin gets through, and the upstream sees the normalised path.
    let admin = s.warden.new_admin().await;
    assert_eq!(
        raw_status(s.gateway.addr, "/%61dmin//./x", &admin.access).await,
        200
    );
    assert_eq!(s.echo.last().path, "/admin/x");
}

#[tokio::test]
async fn unreachable_upstreams_are_502_and_slow_ones_504() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let s = setup_routes(spawn_app().await, "", |echo| {
        format!(
            "[[route]]\nprefix = \"/down/\"\nupstream = \"http://{closed_addr}\"\nauth = \"public\"\n\n\
             [[route]]\nprefix = \"/slow/\"\nupstream = \"{}\"\nauth = \"public\"\ntimeout = \"300ms\"\n",
            echo.url()
        )
    })
    .await;
    assert_problem(s.get("/down/x", None).await, 502, "bad_gateway").await;
    let started = Instant::now();
    assert_problem(s.get("/slow/x", None).await, 504, "gateway_timeout").await;
    assert!(started.elapsed() < Duration::from_millis(1500));
    let metrics = s
        .client
        .get(format!("{}/metrics", s.gateway.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .contains(r#"warden_gateway_upstream_errors_total{route="/down/",reason="connect"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"warden_gateway_upstream_errors_total{route="/slow/",reason="timeout"} 1"#)
    );
}

#[tokio::test]
async fn a_sign_out_is_refused_within_a_second() {
    let s = setup().await;
    let (token, _) = s.signup().await;
    assert_eq!(
        s.get("/api/tickets/", Some(&token)).await.status(),
        StatusCode::OK
    );
    s.sign_out_and_wait_for_401(&token, "/api/tickets/").await;
}

/// With `revocation_feed` on the bus (and Warden's names for it), a
/// sign-out reaches the gateway as an event: the feed is polled every half hour
/// here, so only the bus can explain a 401 within a second.
async fn a_sign_out_reaches_the_gateway_over_the_bus(var: &str) {
    use crate::propagation::{
        broker, delete_exchange, delete_stream, is_backend_pass, unique_names,
    };
    if is_backend_pass() {
        return;
    }
    let Some(url) = broker(var) else { return };
    let names = unique_names();
    let warden = warden_testkit::spawn_app_with(|c| {
        c.events.url = Some(warden::config::Secret::new(url.clone()));
        c.events.subject_prefix = names.subject_prefix.clone();
        c.events.stream = names.stream.clone();
        c.events.exchange = names.exchange.clone();
    })
    .await;
    let top = format!(
        "revocation_feed = {url:?}\nrevocation_poll_interval = \"30m\"\n\n\
         [revocation_bus]\nsubject_prefix = {:?}\nstream = {:?}\nexchange = {:?}\n",
        names.subject_prefix, names.stream, names.exchange
    );
    let s = setup_on(warden, &top, "").await;
    let (token, _) = s.signup().await;
    assert_eq!(
        s.get("/api/tickets/", Some(&token)).await.status(),
        StatusCode::OK
    );
    s.sign_out_and_wait_for_401(&token, "/api/tickets/").await;
    if url.starts_with("nats") {
        delete_stream(&url, &names).await;
    } else {
        delete_exchange(&url, &names).await;
    }
}

#[tokio::test]
async fn a_sign_out_reaches_the_gateway_over_nats() {
    a_sign_out_reaches_the_gateway_over_the_bus("WARDEN_TEST_NATS_URL").await;
}

#[tokio::test]
async fn a_sign_out_reaches_the_gateway_over_rabbitmq() {
    a_sign_out_reaches_the_gateway_over_the_bus("WARDEN_TEST_AMQP_URL").await;
}

#[tokio::test]
async fn cookie_mode_needs_the_csrf_token_for_state_changes() {
    let s = setup().await;
    let response = s
        .client
        .post(s.gateway.url("/auth/v1/signup?cookie=true"))
        .header("origin", ALLOWED_ORIGIN)
        .json(&json!({ "email": unique_email(), "password": STRONG_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let mut cookies = HashMap::new();
    for header in response.headers().get_all("set-cookie") {
        let pair = header.to_str().unwrap().split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        cookies.insert(name.to_owned(), value.to_owned());
    }
    let cookie = format!(
        "__Host-warden_at={}; warden_csrf={}",
        cookies["__Host-warden_at"], cookies["warden_csrf"]
    );
    let send = |method: reqwest::Method, csrf: Option<&str>, origin: &str| {
        let mut request = s
            .client
            .request(method, s.gateway.url("/api/tickets/"))
            .header("cookie", &cookie)
            .header("origin", origin);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    assert_eq!(
        send(reqwest::Method::GET, None, ALLOWED_ORIGIN)
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let before = s.echo.seen().len();
    for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
        assert_problem(
            send(method.clone(), None, ALLOWED_ORIGIN).await.unwrap(),
            403,
            "csrf_failed",
        )
        .await;
        assert_problem(
            send(method.clone(), Some("wrong"), ALLOWED_ORIGIN)
                .await
                .unwrap(),
            403,
            "csrf_failed",
        )
        .await;
        assert_problem(
            send(
                method,
                Some(&cookies["warden_csrf"]),
                "https://evil.example",
            )
            .await
            .unwrap(),
            403,
            "csrf_failed",
        )
        .await;
    }
    assert_eq!(s.echo.seen().len(), before);
    let response = send(
        reqwest::Method::POST,
        Some(&cookies["warden_csrf"]),
        ALLOWED_ORIGIN,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(s.echo.last().headers.contains_key("x-warden-user"));
}

/// Each WebSocket handshake's path and X-Warden-User.
type Handshakes = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A WebSocket echo server that records its handshakes.
async fn websocket_upstream() -> (SocketAddr, Handshakes) {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handshakes: Handshakes = Arc::default();
    let record = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                #[allow(clippy::result_large_err)] // the signature tungstenite asks for
                let callback = |request: &Request, response: Response| {
                    let user = request
                        .headers()
                        .get("x-warden-user")
                        .map(|v| v.to_str().unwrap().to_owned());
                    record
                        .lock()
                        .unwrap()
                        .push((request.uri().path().to_owned(), user));
                    Ok(response)
                };
                let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, callback).await
                else {
                    return;
                };
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_text() {
                        let text = message.into_text().unwrap();
                        let reply = format!("echo: {}", text.as_str());
                        if socket.send(reply.into()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, handshakes)
}

#[tokio::test]
async fn websockets_and_streaming_bodies_pass_through() {
    let (ws, handshakes) = websocket_upstream().await;
    let s = setup_routes(spawn_app().await, "", |echo| {
        format!(
            "[[route]]\nprefix = \"/ws/\"\nupstream = \"http://{ws}\"\nwebsocket = true\n\n\
             [[route]]\nprefix = \"/stream/\"\nupstream = \"{}\"\nauth = \"public\"\ntimeout = \"500ms\"\n",
            echo.url()
        )
    })
    .await;
    let (token, user) = s.signup().await;

    // WebSocket, with the token, end to end.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("ws://{}/ws/echo", s.gateway.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.status(), 101);
    for i in 0..3 {
        socket.send(format!("hello {i}").into()).await.unwrap();
        let reply = socket.next().await.unwrap().unwrap();
        assert_eq!(
            reply.into_text().unwrap().as_str(),
            format!("echo: hello {i}")
        );
    }
    socket.close(None).await.unwrap();
    assert_eq!(
        handshakes.lock().unwrap().clone(),
        [(
            "/ws/echo".to_owned(),
            Some(user["id"].as_str().unwrap().to_owned())
        )]
    );
    // Without a token the upgrade is refused before reaching the upstream.
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/echo", s.gateway.addr)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("expected 401, got {other:?}"),
    }

    // A slow response streams: the first chunk arrives long before the
    // last is written, and a body longer than the route timeout is fine.
    let started = Instant::now();
    let mut response = s.get("/stream/x", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let first = response.chunk().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert_eq!(&first[..], b"chunk 0\n");
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert!(String::from_utf8(rest).unwrap().ends_with("chunk 4\n"));
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert!(
        first_at < Duration::from_millis(500),
        "first chunk after {first_at:?}"
    );

    // A large request body reaches the upstream whole (64 MiB).
    const CHUNK: usize = 1 << 20;
    let response = s
        .client
        .post(s.gateway.url("/stream/upload"))
        .body(vec![7_u8; 64 * CHUNK])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["bytes"], 64 * CHUNK);

    // The request body streams too: the client holds back the end of its
    // body until the upstream has seen the beginning, which only happens if
    // the gateway forwards chunks as they come instead of buffering.
    let mut stream = tokio::net::TcpStream::connect(s.gateway.addr)
        .await
        .unwrap();
    stream
        .write_all(
            b"POST /stream/upload HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\
              Connection: close\r\n\r\n5\r\nfirst\r\n",
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), s.echo.upload_started.notified())
        .await
        .expect("the upstream saw the first chunk while the client was still sending");
    stream.write_all(b"6\r\nsecond\r\n0\r\n\r\n").await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"bytes\":11"), "{response}");
}

/// Clients speaking HTTP/2 without TLS (h2c, prior knowledge) get the same
/// checks; the upstream is still spoken to over HTTP/1.1.
#[tokio::test]
async fn h2c_clients_are_authenticated_like_http1_ones() {
    use http_body_util::{BodyExt as _, Full};
    let s = setup().await;
    let (token, user) = s.signup().await;
    let tcp = tokio::net::TcpStream::connect(s.gateway.addr)
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let get = |token: Option<&str>| {
        let mut request =
            axum::http::Request::get(format!("http://{}/api/tickets/9", s.gateway.addr))
                .header("x-warden-user", "spoofed");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(Full::new(bytes::Bytes::new())).unwrap()
    };

    let response = sender.send_request(get(Some(&token))).await.unwrap();
    assert_eq!(response.version(), axum::http::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let seen = s.echo.last();
    assert_eq!(seen.path, "/api/tickets/9");
    assert_eq!(seen.headers["x-warden-user"], user["id"].as_str().unwrap());

    let before = s.echo.seen().len();
    let response = sender.send_request(get(None)).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "invalid_token");
    assert_eq!(s.echo.seen().len(), before);
}

/// One request on an open keep-alive connection; the status and body.
async fn keep_alive_get(
    stream: &mut tokio::io::BufStream<tokio::net::TcpStream>,
    path: &str,
    token: &str,
) -> (u16, String) {
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: gw.test\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    stream.flush().await.unwrap();
    let mut status_line = String::new();
    stream.read_line(&mut status_line).await.unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn sighup_reloads_routes_without_dropping_connections() {
    let s = setup().await;
    let (token, _) = s.signup().await;
    let mut kept = tokio::io::BufStream::new(
        tokio::net::TcpStream::connect(s.gateway.addr)
            .await
            .unwrap(),
    );
    assert_eq!(
        keep_alive_get(&mut kept, "/api/tickets/1", &token).await.0,
        200
    );
    assert_eq!(
        s.get("/new/x", Some(&token)).await.status(),
        StatusCode::NOT_FOUND
    );

    // An invalid file is refused and the old routes keep serving.
    let original = std::fs::read_to_string(&s.gateway.config).unwrap();
    std::fs::write(&s.gateway.config, format!("{original}\nbogus_key = 1\n")).unwrap();
    s.gateway.reload();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        keep_alive_get(&mut kept, "/api/tickets/2", &token).await.0,
        200
    );

    let extra = format!(
        "\n[[route]]\nprefix = \"/new/\"\nupstream = \"{}\"\n",
        s.echo.url()
    );
    std::fs::write(&s.gateway.config, format!("{original}{extra}")).unwrap();
    s.gateway.reload();
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.get("/new/x", Some(&token)).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the new route never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.echo.last().path, "/new/x");
    // The connection opened before both reloads still works, on new routes too.
    assert_eq!(
        keep_alive_get(&mut kept, "/api/tickets/3", &token).await.0,
        200
    );
    let (status, body) = keep_alive_get(&mut kept, "/new/y", &token).await;
    assert_eq!(status, 200, "{body}");
    let metrics = s
        .client
        .get(format!("{}/metrics", s.gateway.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"warden_gateway_config_reloads_total{outcome="invalid"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"warden_gateway_config_reloads_total{outcome="ok"} 1"#));
}

#[tokio::test]
async fn health_readiness_and_metrics_on_the_admin_listener() {
    let s = setup().await;
    let (token, _) = s.signup().await;
    s.get("/api/tickets/", Some(&token)).await;
    s.get("/api/tickets/", None).await;
    s.get("/nowhere", None).await;
    let admin = |path: &str| s.client.get(format!("{}{path}", s.gateway.admin)).send();
    assert_eq!(admin("/healthz").await.unwrap().status(), StatusCode::OK);
    let ready: Value = admin("/readyz").await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    let metrics = admin("/metrics").await.unwrap().text().await.unwrap();
    for line in [
        r#"warden_gateway_requests_total{route="/api/tickets/",class="2xx"} 1"#,
        r#"warden_gateway_requests_total{route="/api/tickets/",class="4xx"} 1"#,
        r#"warden_gateway_requests_total{route="none",class="4xx"} 1"#,
        r#"warden_gateway_auth_failures_total{route="/api/tickets/",reason="invalid_token"} 1"#,
        r#"warden_gateway_request_duration_seconds_count{route="/api/tickets/"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} missing in\n{metrics}");
    }
    assert!(!metrics.contains(&token));
    // The proxy listener does not serve them: they are ordinary paths there.
    assert_problem(s.get("/metrics", None).await, 404, "not_found").await;

    // A gateway that cannot reach Warden is alive but not ready, and says why.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let config = std::fs::read_to_string(&s.gateway.config).unwrap().replace(
        &format!("endpoint = \"http://{}\"", s.warden.addr),
        &format!("endpoint = \"http://{closed_addr}\""),
    );
    let lonely = Gateway::spawn(&config);
    assert_eq!(
        s.client
            .get(format!("{}/healthz", lonely.admin))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let response = s
        .client
        .get(format!("{}/readyz", lonely.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["jwks"], "not loaded");
    assert_eq!(body["checks"]["revocations"], "stale");
    // Tokens cannot be checked: 503, never a pass.
    assert_problem(
        s.client
            .get(format!("{}/api/tickets/", lonely.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        503,
        "keys_unavailable",
    )
    .await;
}

#[test]
fn gateway_check_refuses_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    let check = |text: &str| {
        std::fs::write(&path, text).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["gateway", "--check", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let good = "listen = \"127.0.0.1:8000\"\nissuer = \"http://127.0.0.1:8080\"\n\n[[route]]\nprefix = \"/a/\"\nupstream = \"http://127.0.0.1:4001\"\n";
    let (ok, stderr) = check(good);
    assert!(ok, "{stderr}");
    let (ok, stderr) = check(&format!("{good}rolez = [\"x\"]\n"));
    assert!(!ok);
    assert!(stderr.contains("rolez"), "{stderr}");
    let (ok, stderr) = check(&format!(
        "{good}\n[[route]]\nprefix = \"/a\"\nupstream = \"http://127.0.0.1:4002\"\n"
    ));
    assert!(!ok);
    assert!(stderr.contains("duplicate"), "{stderr}");
    // The shipped examples are accepted.
    for example in [
        "../../deploy/gateway/gateway.toml",
        "../../deploy/compose/gateway.toml",
        "../../deploy/k8s/components/gateway/gateway.toml",
    ] {
        let text =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(example))
                .unwrap();
        let (ok, stderr) = check(&text);
        assert!(ok, "{example}: {stderr}");
    }
}

/// Session-token mode: the gateway accepts opaque `wst_` tokens by asking
/// Warden's `/v1/validate` with its service credential (cached briefly), and
/// a sign-out still bites within a second through the revocation feed.
#[tokio::test]
async fn session_tokens_pass_with_the_service_credential_and_are_revoked() {
    const CREDENTIAL: &str = "gateway-service-credential-0123456789";
    let warden = warden_testkit::spawn_app_with(|c| {
        c.tokens.access = warden_core::AccessTokenKind::Session;
        c.revocations_token = Some(warden::config::Secret::new(CREDENTIAL));
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let credential = dir.path().join("service-token");
    std::fs::write(&credential, format!("{CREDENTIAL}\n")).unwrap();
    let s = setup_on(
        warden,
        &format!(
            "service_token_file = {:?}",
            credential.display().to_string()
        ),
        "",
    )
    .await;
    let (token, user) = s.signup().await;
    assert!(token.starts_with("wst_"), "session mode: {token}");
    let response = s
        .client
        .get(s.gateway.url("/api/tickets/1"))
        .bearer_auth(&token)
        .header("X-Warden-User", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = s.echo.last();
    assert_eq!(seen.headers["x-warden-user"], user["id"].as_str().unwrap());
    assert_eq!(seen.headers["x-warden-roles"], "user");

    let forged = format!("wst_{}", "A".repeat(43));
    assert_problem(
        s.get("/api/tickets/1", Some(&forged)).await,
        401,
        "invalid_token",
    )
    .await;

    s.sign_out_and_wait_for_401(&token, "/api/tickets/1").await;
}

/// Without a service credential the gateway cannot check `wst_` tokens and
/// refuses them (no call to Warden, never a pass).
#[tokio::test]
async fn session_tokens_without_a_credential_are_refused() {
    let warden =
        warden_testkit::spawn_app_with(|c| c.tokens.access = warden_core::AccessTokenKind::Session)
            .await;
    let s = setup_on(warden, "", "").await;
    let (token, _) = s.signup().await;
    assert!(token.starts_with("wst_"));
    let response = s.get("/api/tickets/1", Some(&token)).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(s.echo.seen().is_empty(), "the upstream must not be reached");
}
