//! Forward auth through the real proxies: nginx `auth_request`, Caddy
//! `forward_auth`, Traefik `forwardAuth` and HAProxy (a Lua action), each
//! running the committed configuration from deploy/forward-auth/ (addresses
//! rendered in or passed in the environment), in front of `warden serve`
//! (a process) and an upstream written here that reports the headers it
//! received (cases 45-47).
//!
//! The proxy binary comes from `WARDEN_TEST_NGINX`, `WARDEN_TEST_CADDY`,
//! `WARDEN_TEST_TRAEFIK`, `WARDEN_TEST_HAPROXY` or `PATH`; without one the
//! test prints "skipped", unless `WARDEN_TEST_REQUIRE_SERVICES=1` (CI),
//! where it fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use warden_testkit::{STRONG_PASSWORD, unique_email};

use crate::verify_rules::ADMIN_TRICKS;
use warden_testkit::process::{Instance, add_user, is_backend_pass, random_kek, ready, spawn};

mod proxies;

/// Access-token lifetime of the Warden under test, short so that expiry
/// is tested for real.
const ACCESS_TTL_SECS: u64 = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Nginx,
    Caddy,
    Traefik,
    Haproxy,
}

impl Kind {
    fn variable(self) -> &'static str {
        match self {
            Kind::Nginx => "WARDEN_TEST_NGINX",
            Kind::Caddy => "WARDEN_TEST_CADDY",
            Kind::Traefik => "WARDEN_TEST_TRAEFIK",
            Kind::Haproxy => "WARDEN_TEST_HAPROXY",
        }
    }

    fn program(self) -> &'static str {
        match self {
            Kind::Nginx => "nginx",
            Kind::Caddy => "caddy",
            Kind::Traefik => "traefik",
            Kind::Haproxy => "haproxy",
        }
    }
}

fn deploy_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/forward-auth")
        .join(name)
}

fn binary(kind: Kind) -> Option<PathBuf> {
    let configured = std::env::var(kind.variable())
        .ok()
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let on_path = || {
        let paths = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin")])
            .map(|dir| dir.join(kind.program()))
            .find(|candidate| candidate.is_file())
    };
    match configured.or_else(on_path) {
        Some(path) => Some(path),
        None if std::env::var("WARDEN_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") => panic!(
            "{} not found ({} unset) but WARDEN_TEST_REQUIRE_SERVICES=1",
            kind.program(),
            kind.variable()
        ),
        None => {
            warden_testkit::skipped(&format!(
                "{} not found (set {})",
                kind.program(),
                kind.variable()
            ));
            None
        }
    }
}

/// `${NAME}` placeholders replaced, as `envsubst` with a variable list does.
fn render(template: &Path, values: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(template).expect("template");
    for (name, value) in values {
        text = text.replace(&format!("${{{name}}}"), value);
    }
    // Comments may name the placeholders; configuration lines may not keep one.
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        assert!(!line.contains("${PROXY_"), "unrendered: {line}");
    }
    text
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// An upstream that answers every request with a JSON report of what it
/// received, and remembers each report.
struct Upstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Value>>>,
}

impl Upstream {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
            let record = record.clone();
            async move {
                let mut headers = serde_json::Map::new();
                for (name, value) in request.headers() {
                    headers
                        .entry(name.as_str())
                        .or_insert_with(|| json!([]))
                        .as_array_mut()
                        .expect("array")
                        .push(json!(value.to_str().unwrap_or("<binary>")));
                }
                let report = json!({
                    "method": request.method().as_str(),
                    "uri": request.uri().to_string(),
                    "headers": headers,
                });
                record.lock().expect("lock").push(report.clone());
                axum::Json(report)
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, seen }
    }

    /// Whether a request with `X-Test-Id: id` reached the upstream.
    fn saw(&self, id: &str) -> bool {
        self.seen
            .lock()
            .expect("lock")
            .iter()
            .any(|report| report["headers"]["x-test-id"][0] == id)
    }
}

/// A proxy process; killed when dropped.
struct Proxy {
    child: Child,
    addr: String,
    dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    async fn start(kind: Kind, binary: &Path, warden: &str, upstream: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        // nginx workers run as an unprivileged user when started as root.
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let addr = format!("127.0.0.1:{}", free_port());
        let log = std::fs::File::create(root.join("proxy.log")).expect("log");
        let mut command = Command::new(binary);
        command
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .env("HOME", root)
            .env("XDG_DATA_HOME", root)
            .env("XDG_CONFIG_HOME", root);
        match kind {
            Kind::Nginx => {
                let site = render(
                    &deploy_file("nginx.conf"),
                    &[
                        ("PROXY_LISTEN", &addr),
                        ("PROXY_WARDEN", warden),
                        ("PROXY_UPSTREAM", upstream),
                    ],
                );
                std::fs::write(root.join("warden.conf"), site).expect("write");
                let d = root.display();
                // The committed file is a conf.d file; this is the
                // smallest main configuration around it.
                let main = format!(
                    "worker_processes 1;\n\
                     error_log {d}/error.log warn;\n\
                     pid {d}/nginx.pid;\n\
                     events {{ worker_connections 64; }}\n\
                     http {{\n\
                       access_log off;\n\
                       client_body_temp_path {d}/client_body;\n\
                       proxy_temp_path {d}/proxy;\n\
                       fastcgi_temp_path {d}/fastcgi;\n\
                       uwsgi_temp_path {d}/uwsgi;\n\
                       scgi_temp_path {d}/scgi;\n\
                       include {d}/warden.conf;\n\
                     }}\n"
                );
                std::fs::write(root.join("nginx.conf"), main).expect("write");
                command
                    .arg("-p")
                    .arg(root)
                    .arg("-e")
                    .arg(root.join("error.log"))
                    .arg("-c")
                    .arg(root.join("nginx.conf"))
                    .args(["-g", "daemon off;"]);
            }
            Kind::Caddy => {
                command
                    .args(["run", "--adapter", "caddyfile", "--config"])
                    .arg(deploy_file("Caddyfile"))
                    .env("PROXY_LISTEN", &addr)
                    .env("PROXY_WARDEN", warden)
                    .env("PROXY_UPSTREAM", upstream);
            }
            Kind::Traefik => {
                let dynamic = root.join("dynamic.yml");
                let dynamic_text = render(
                    &deploy_file("dynamic.yml"),
                    &[("PROXY_WARDEN", warden), ("PROXY_UPSTREAM", upstream)],
                );
                std::fs::write(&dynamic, dynamic_text).expect("write");
                let dynamic_path = dynamic.display().to_string();
                let static_text = render(
                    &deploy_file("traefik.yml"),
                    &[("PROXY_LISTEN", &addr), ("PROXY_DYNAMIC", &dynamic_path)],
                );
                std::fs::write(root.join("traefik.yml"), static_text).expect("write");
                command.arg(format!(
                    "--configFile={}",
                    root.join("traefik.yml").display()
                ));
            }
            Kind::Haproxy => {
                // `-db`: in the foreground, a child the test can kill.
                command
                    .arg("-db")
                    .arg("-f")
                    .arg(deploy_file("haproxy.cfg"))
                    .env("PROXY_LISTEN", &addr)
                    .env("PROXY_WARDEN", warden)
                    .env("PROXY_UPSTREAM", upstream)
                    .env("PROXY_LUA", deploy_file("warden-auth.lua"));
            }
        }
        let child = command.spawn().expect("proxy starts");
        let mut proxy = Proxy { child, addr, dir };
        proxy.wait_until_guarding(kind).await;
        proxy
    }

    /// Until the proxy answers 401 to a request without a token: listening,
    /// and (Traefik loads routes after it listens) asking Warden.
    async fn wait_until_guarding(&mut self, kind: Kind) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{kind:?} exited with {status}: {}", self.log());
            }
            if let Ok(reply) = try_send(&self.addr, "GET", "/startup", &[]).await
                && reply.status == 401
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{kind:?} did not start guarding: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        let mut text =
            std::fs::read_to_string(self.dir.path().join("proxy.log")).unwrap_or_default();
        text.push_str(
            &std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default(),
        );
        text
    }

    async fn send(&self, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
        try_send(&self.addr, method, target, headers)
            .await
            .unwrap_or_else(|err| panic!("{method} {target}: {err}; {}", self.log()))
    }

    /// GET `target` tagged `X-Test-Id: id`, which must not reach `upstream`.
    async fn refused(
        &self,
        upstream: &Upstream,
        target: &str,
        headers: &[(&str, &str)],
        id: &str,
    ) -> Reply {
        let mut tagged = headers.to_vec();
        tagged.push(("X-Test-Id", id));
        let reply = self.send("GET", target, &tagged).await;
        assert!(
            !upstream.saw(id),
            "{target} reached the upstream: {reply:?}"
        );
        reply
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    head: String,
    body: String,
}

impl Reply {
    fn report(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not an upstream report: {:?}", self.body))
    }

    /// The value of the first `name` header.
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }

    /// The `code` of Warden's problem+json answer, passed on by the proxy.
    fn problem_code(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{self:?}"
        );
        let problem: Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|_| panic!("not problem+json: {:?}", self.body));
        assert_eq!(problem["status"], self.status, "{self:?}");
        problem["code"].as_str().expect("code").to_owned()
    }
}

/// One HTTP/1.1 request written by hand, so the request target reaches
/// the proxy exactly as given (`..`, `//`, `%61`, `;`), which no URL type
/// of an HTTP client would keep.
async fn try_send(
    addr: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Reply> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let mut request =
        format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .map_err(|_| std::io::Error::other("no answer in 20 s"))??;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no header end: {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status: {head:?}")))?;
    let chunked = head.lines().any(|line| {
        line.to_ascii_lowercase()
            .replace(' ', "")
            .starts_with("transfer-encoding:chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    Ok(Reply {
        status,
        head: head.to_owned(),
        body,
    })
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size =
            usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16).unwrap_or(0);
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// `warden serve` with `/admin/` for admins and `/public/` open, its users,
/// and the upstream.
struct Setup {
    warden: Instance,
    upstream: Upstream,
    client: reqwest::Client,
    alice: String,
    admin: String,
    reporter: String,
    _dir: tempfile::TempDir,
}

impl Setup {
    async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("warden.toml");
        std::fs::write(
            &config,
            format!(
                "[tokens]\naccess_ttl_secs = {ACCESS_TTL_SECS}\nleeway_secs = 0\n\n\
                 [verify]\nsign_in_url = \"/sign-in\"\n\n\
                 [[verify.rule]]\nprefix = \"/admin/\"\nroles = [\"admin\"]\n\n\
                 [[verify.rule]]\nprefix = \"/public/\"\npublic = true\n"
            ),
        )
        .expect("write");
        let data = dir.path().join("data");
        let database = format!("sqlite://{}", data.join("warden.db").display());
        let kek = random_kek();
        let (admin, reporter) = (unique_email(), unique_email());
        std::fs::create_dir_all(&data).expect("mkdir");
        let config_path = config.display().to_string();
        let warden = ready(spawn(
            &database,
            &kek,
            &data,
            &[("WARDEN_CONFIG", config_path.as_str())],
        ));
        add_user(&database, &kek, &data, &admin, "admin");
        add_user(&database, &kek, &data, &reporter, "reports");
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let alice = unique_email();
        let signup = client
            .post(format!("{}/v1/signup", warden.base))
            .json(&json!({"email": alice, "password": STRONG_PASSWORD}))
            .send()
            .await
            .expect("signup");
        assert_eq!(signup.status(), 201);
        Self {
            warden,
            upstream: Upstream::start().await,
            client,
            alice,
            admin,
            reporter,
            _dir: dir,
        }
    }

    fn warden_addr(&self) -> String {
        self.warden.base.trim_start_matches("http://").to_owned()
    }

    /// A fresh session: (access token, user id, session id).
    async fn sign_in(&self, email: &str) -> (String, String, String) {
        let response = self
            .client
            .post(format!("{}/v1/signin", self.warden.base))
            .json(&json!({"email": email, "password": STRONG_PASSWORD}))
            .send()
            .await
            .expect("signin");
        assert_eq!(response.status(), 200);
        let tokens: Value = response.json().await.expect("json");
        let access = tokens["access_token"].as_str().expect("token").to_owned();
        let me: Value = self
            .client
            .get(format!("{}/v1/me", self.warden.base))
            .bearer_auth(&access)
            .send()
            .await
            .expect("me")
            .json()
            .await
            .expect("json");
        (
            access,
            me["id"].as_str().expect("id").to_owned(),
            tokens["session_id"].as_str().expect("sid").to_owned(),
        )
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}
