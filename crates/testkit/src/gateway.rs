//! `warden gateway` as a real process between a real HTTP client and an echo
//! upstream, with a real Warden (a [`TestApp`]) behind `/auth/`: the harness
//! of the gateway's tests and of those that compare the gateway with the
//! other edges.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use futures::StreamExt as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{ALLOWED_ORIGIN, STRONG_PASSWORD, TestApp, assert_problem, spawn_app, unique_email};

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
        let mut command = Command::new(crate::process::warden_bin());
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

    /// The gateway's URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// What the echo upstream saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Path and query.
    pub path: String,
    /// Header values (repeated headers joined with `, `).
    pub headers: HashMap<String, String>,
}

/// An upstream that answers every request with what it received, as JSON.
/// Paths containing `slow` wait 2 s before answering, `stream` send five
/// chunks 200 ms apart, `upload` count the body's bytes (and signal
/// `upload_started` at the first one).
pub struct Echo {
    /// Where it listens.
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Notified at the first byte of an `upload` body.
    pub upload_started: Arc<tokio::sync::Notify>,
}

impl Echo {
    /// Starts it on a free loopback port.
    pub async fn start() -> Echo {
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

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request it saw, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The last request it saw.
    pub fn last(&self) -> Seen {
        self.seen()
            .last()
            .cloned()
            .expect("the upstream saw a request")
    }
}

/// Answers one request with what it carried (see [`Echo`]).
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

/// A client that follows no redirects and uses no proxy.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A Warden, an echo upstream and the gateway between them.
pub struct Setup {
    /// Warden, behind `/auth/`.
    pub warden: TestApp,
    /// The upstream of `/api/tickets/`, `/admin/` and `/public/`.
    pub echo: Echo,
    /// The gateway.
    pub gateway: Gateway,
    /// [`client`].
    pub client: reqwest::Client,
}

/// The gateway's configuration: `/auth/` to Warden (public), `/api/tickets/`
/// (role `user`), `/admin/` (role `admin`) and `/public/` to the echo
/// upstream, with `extra_top` and `extra_routes` added.
pub fn config(warden: &TestApp, echo: &Echo, extra_top: &str, extra_routes: &str) -> String {
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
        issuer = crate::ISSUER,
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

/// [`setup`] with extra configuration.
pub async fn setup_with(extra_top: &str, extra_routes: &str) -> Setup {
    setup_on(spawn_app().await, extra_top, extra_routes).await
}

/// [`setup_with`] in front of a given Warden.
pub async fn setup_on(warden: TestApp, extra_top: &str, extra_routes: &str) -> Setup {
    setup_routes(warden, extra_top, |_| extra_routes.to_owned()).await
}

/// Like [`setup_on`], with extra routes that may point at the echo upstream.
pub async fn setup_routes(
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

/// A new Warden, echo upstream and gateway, the gateway ready.
pub async fn setup() -> Setup {
    setup_with("", "").await
}

impl Setup {
    /// Waits (up to 10 s) for the gateway's `/readyz`.
    pub async fn wait_ready(&self) {
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
    pub async fn signup(&self) -> (String, Value) {
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
    pub async fn sign_out_and_wait_for_401(&self, token: &str, path: &str) {
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

    /// `GET path` through the gateway, with `token` as bearer if any.
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.client.get(self.gateway.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }
}

/// Sends `raw_path` byte for byte (reqwest would normalise it) and returns
/// the status.
pub async fn raw_status(addr: SocketAddr, raw_path: &str, token: &str) -> u16 {
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
