//! Test helpers: `spawn_app` starts a real Warden (HTTP and gRPC) in-process
//! on port 0 with its own temporary data dir and a fake clock, and `TestApp`
//! has one method per common call. [`process`] runs `warden serve` as a child
//! process, [`bus`] gives tests the broker, [`gateway`] runs `warden gateway`
//! in front of an echo upstream, [`proxy`] puts faults between Warden
//! and a database or broker, and [`smtp`] runs a real SMTP server that
//! Warden's mail goes to.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use warden::config::{Config, Overrides};
pub use warden::config::{SignInRedirect, VerifyRule};
pub use warden_core::AccessTokenKind;
pub use warden_core::mail::{MailKind, QueuedMail};
use warden_core::ports::FakeClock;
use warden_core::{AuthService, RequestContext, Role};
use warden_grpc::pb::admin_service_client::AdminServiceClient;
use warden_grpc::pb::auth_service_client::AuthServiceClient;
pub use warden_store::testing::{ServerKind, TestDatabase};

pub mod bus;
pub mod gateway;
pub mod oidc;
pub mod passkey;
pub mod process;
pub mod proxy;
pub mod smtp;

/// A password the strength check accepts.
pub const STRONG_PASSWORD: &str = "correct horse battery staple 9!";
/// Issuer of test apps.
pub const ISSUER: &str = "https://warden.test";
/// The origin test apps allow for cookie-authenticated changes.
pub const ALLOWED_ORIGIN: &str = "https://app.warden.test";

/// Says a test was skipped, on the process's stderr itself: the test
/// harness captures `eprintln!` and shows it only for failures, so a skip
/// printed that way is invisible on a plain `cargo test`.
pub fn skipped(why: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr(), "skipped: {why}");
}

/// A fresh, unique e-mail address.
pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::new_v4().simple())
}

/// A token pair as the API returned it.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Access JWT.
    pub access: String,
    /// `wrt_` refresh token.
    pub refresh: String,
    /// Session id.
    pub session_id: String,
    /// User id (when known).
    pub user_id: String,
    /// E-mail used.
    pub email: String,
}

/// A running app.
pub struct TestApp {
    /// Bound address.
    pub addr: SocketAddr,
    /// Bound gRPC address.
    pub grpc_addr: SocketAddr,
    /// HTTP client (no cookie store, no proxy).
    pub client: reqwest::Client,
    /// The clock the app runs on.
    pub clock: FakeClock,
    /// The domain service, for fixtures.
    pub auth: Arc<AuthService>,
    /// The configuration it runs with.
    pub config: Config,
    data_dir: Arc<tempfile::TempDir>,
    database: Option<Arc<TestDatabase>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Starts an app with test defaults (cheap argon2 parameters).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts an app after `tweak` adjusts the configuration. With
/// `WARDEN_TEST_DATABASE_URL` set (a `postgres://` or `mysql://` server URL)
/// the app gets a fresh database of its own on that server, dropped with the
/// app; otherwise its own SQLite file.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut config = test_config(dir.path());
    let database = match std::env::var("WARDEN_TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            let database = TestDatabase::create_on(&server)
                .await
                .expect("WARDEN_TEST_DATABASE_URL is set but no database could be created");
            config.database_url = Some(database.url.clone());
            config.keys.encryption_key = Some(random_kek());
            Some(database)
        }
        _ => None,
    };
    tweak(&mut config);
    let clock = FakeClock::new(chrono::Utc::now());
    let mut app = start(config, dir, clock).await;
    app.database = database.map(Arc::new);
    app
}

/// Starts an app on `database`, reached through `url` (which may point
/// elsewhere than `database.url`, at a [`proxy::FaultProxy`] for instance),
/// after `tweak` adjusts the configuration. The database is dropped with the
/// app.
pub async fn spawn_app_on(
    database: TestDatabase,
    url: &str,
    tweak: impl FnOnce(&mut Config),
) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
    let mut config = test_config(dir.path());
    config.database_url = Some(url.to_owned());
    config.keys.encryption_key = Some(random_kek());
    tweak(&mut config);
    let clock = FakeClock::new(chrono::Utc::now());
    let mut app = start(config, dir, clock).await;
    app.database = Some(Arc::new(database));
    app
}

fn random_kek() -> warden::config::EncryptionKey {
    use rand::RngCore as _;
    let mut key = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    warden::config::EncryptionKey::new(key)
}

/// The configuration `spawn_app` uses.
pub fn test_config(data_dir: &Path) -> Config {
    let mut config = Config::load(None, &[], &Overrides::default()).expect("default config");
    config.data_dir = data_dir.to_path_buf();
    config.http.listen = "127.0.0.1:0".parse().expect("addr");
    config.grpc.listen = "127.0.0.1:0".parse().expect("addr");
    config.issuer = Some(ISSUER.into());
    config.allowed_origins = vec![ALLOWED_ORIGIN.into()];
    // The tests read mail from the queue (`queued_mail`); a worker would
    // deliver and erase it under them.
    config.mail.deliver = false;
    config.passwords.argon2_memory_kib = 1024;
    config.passwords.argon2_iterations = 1;
    config
}

async fn start(config: Config, dir: Arc<tempfile::TempDir>, clock: FakeClock) -> TestApp {
    let (tx, rx) = oneshot::channel::<()>();
    let running = warden::app::serve(&config, Arc::new(clock.clone()), async {
        let _ = rx.await;
    })
    .await
    .expect("app starts");
    TestApp {
        addr: running.addr,
        grpc_addr: running.grpc_addr,
        client: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        clock,
        auth: running.auth,
        config,
        data_dir: dir,
        database: None,
        shutdown: Some(tx),
        task: Some(running.task),
    }
}

impl TestApp {
    /// Absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The gRPC endpoint, `http://127.0.0.1:<port>`.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// A connected channel to the gRPC server.
    pub async fn grpc_channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(self.grpc_url())
            .expect("endpoint")
            .connect()
            .await
            .expect("gRPC connects")
    }

    /// A `warden.v1.AuthService` client.
    pub async fn auth_client(&self) -> AuthServiceClient<tonic::transport::Channel> {
        AuthServiceClient::new(self.grpc_channel().await)
    }

    /// A `warden.v1.AdminService` client.
    pub async fn admin_client(&self) -> AdminServiceClient<tonic::transport::Channel> {
        AdminServiceClient::new(self.grpc_channel().await)
    }

    /// The data dir.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// Stops the server (draining) and starts a new one on the same data dir.
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let config = self.config.clone();
        let mut app = start(config, self.data_dir.clone(), self.clock.clone()).await;
        app.database = self.database.take();
        app
    }

    /// Stops the server and waits until it has drained.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    /// POST JSON.
    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.call(Method::POST, path, None, Some(body)).await
    }

    /// GET with a bearer token.
    pub async fn get_auth(&self, path: &str, token: &str) -> Response {
        self.call(Method::GET, path, Some(token), None).await
    }

    /// POST /v1/signup.
    pub async fn signup(&self, email: &str, password: &str) -> Response {
        self.post("/v1/signup", json!({"email": email, "password": password}))
            .await
    }

    /// POST /v1/signin.
    pub async fn signin(&self, email: &str, password: &str) -> Response {
        self.post("/v1/signin", json!({"email": email, "password": password}))
            .await
    }

    /// POST /v1/token/refresh.
    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post("/v1/token/refresh", json!({"refresh_token": refresh_token}))
            .await
    }

    /// POST /v1/validate with a bearer token.
    pub async fn validate(&self, token: &str) -> Response {
        self.call(Method::POST, "/v1/validate", Some(token), None)
            .await
    }

    /// Signs up a fresh user and returns their tokens.
    pub async fn new_user(&self) -> Tokens {
        let email = unique_email();
        let response = self.signup(&email, STRONG_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CREATED, "signup failed");
        let body: Value = response.json().await.expect("json");
        Tokens {
            access: body["tokens"]["access_token"]
                .as_str()
                .expect("at")
                .to_owned(),
            refresh: body["tokens"]["refresh_token"]
                .as_str()
                .expect("rt")
                .to_owned(),
            session_id: body["tokens"]["session_id"]
                .as_str()
                .expect("sid")
                .to_owned(),
            user_id: body["user"]["id"].as_str().expect("id").to_owned(),
            email,
        }
    }

    /// Signs in and returns the tokens (user id left empty).
    pub async fn sign_in_ok(&self, email: &str, password: &str) -> Tokens {
        let response = self.signin(email, password).await;
        assert_eq!(response.status(), StatusCode::OK, "signin failed");
        tokens_of(email, &response.json::<Value>().await.expect("json"))
    }

    /// The PHC string stored for `email`, read through a store connection of
    /// its own (white-box checks of the hash format).
    pub async fn stored_password_hash(&self, email: &str) -> String {
        let store = warden::app::open_store(&self.config)
            .await
            .expect("store opens")
            .into_store();
        let email = warden_core::Email::parse(email).expect("email");
        store
            .find_credentials_by_email(&email)
            .await
            .expect("query")
            .expect("user exists")
            .password_hash
    }

    /// Names of the events in the outbox, oldest first, read through a store
    /// connection of its own.
    pub async fn outbox_names(&self) -> Vec<String> {
        let store = warden::app::open_store(&self.config)
            .await
            .expect("store opens")
            .into_store();
        store
            .list_outbox(0, 10_000)
            .await
            .expect("outbox")
            .into_iter()
            .map(|(_, event)| event.name)
            .collect()
    }

    /// Mail waiting in the queue, oldest first, read through a store
    /// connection of its own. Delivery is the mail worker's job; tests
    /// follow links from here.
    pub async fn queued_mail(&self) -> Vec<QueuedMail> {
        let store = warden::app::open_store(&self.config)
            .await
            .expect("store opens")
            .into_store();
        let far = chrono::Utc::now() + chrono::Duration::days(3650);
        store
            .list_due_mail(far, 10_000)
            .await
            .expect("mail queue")
            .into_iter()
            .map(|due| due.mail)
            .collect()
    }

    /// Queued mail of `kind` to `to`, oldest first.
    pub async fn mail_to(&self, kind: MailKind, to: &str) -> Vec<QueuedMail> {
        self.queued_mail()
            .await
            .into_iter()
            .filter(|mail| mail.kind == kind && mail.to == to)
            .collect()
    }

    /// The `wml_` token of the newest queued mail of `kind` to `to`, taken
    /// from its link as a person would.
    pub async fn mailed_token(&self, kind: MailKind, to: &str) -> String {
        let mail = self.mail_to(kind, to).await;
        let link = &mail.last().expect("a mail was queued").values["link"];
        let (_, token) = link
            .split_once("?token=")
            .expect("the link carries a token");
        token.to_owned()
    }

    /// Creates an admin (as `warden user add --role admin` would) and signs in.
    pub async fn new_admin(&self) -> Tokens {
        let email = unique_email();
        let user = self
            .auth
            .create_user(
                &email,
                STRONG_PASSWORD,
                None,
                vec![Role::admin(), Role::user()],
                None,
                &RequestContext::default(),
            )
            .await
            .expect("admin created");
        let mut tokens = self.sign_in_ok(&email, STRONG_PASSWORD).await;
        tokens.user_id = user.id.to_string();
        tokens
    }

    /// Registers a service (a confidential client with the
    /// client-credentials grant and `scopes`) through the admin API, as
    /// `admin`. Returns its id and secret.
    pub async fn new_service(&self, admin: &Tokens, scopes: &[&str]) -> (String, String) {
        let response = self
            .call(
                reqwest::Method::POST,
                "/v1/admin/clients",
                Some(&admin.access),
                Some(serde_json::json!({
                    "type": "confidential",
                    "name": "A service",
                    "grant_types": ["client_credentials"],
                    "scopes": scopes,
                })),
            )
            .await;
        assert_eq!(response.status(), 201, "client registered");
        let body: serde_json::Value = response.json().await.expect("JSON");
        (
            body["client_id"].as_str().expect("client_id").to_owned(),
            body["client_secret"].as_str().expect("secret").to_owned(),
        )
    }

    /// A client-credentials access token of the service `id`, for `scope`
    /// (all its scopes when `None`).
    pub async fn service_token(&self, id: &str, secret: &str, scope: Option<&str>) -> String {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        let response = self
            .client
            .post(self.url("/oauth2/token"))
            .basic_auth(id, Some(secret))
            .form(&form)
            .send()
            .await
            .expect("token request sent");
        assert_eq!(response.status(), 200, "client credentials granted");
        let body: serde_json::Value = response.json().await.expect("JSON");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Only the last holder drops the database (restart hands it on).
        let Some(database) = self.database.take().and_then(|d| Arc::try_unwrap(d).ok()) else {
            return;
        };
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Drop is synchronous: run the DROP DATABASE on a runtime of its own.
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(database.drop_database());
            }
        })
        .join();
    }
}

/// Reads a `tokens` body.
pub fn tokens_of(email: &str, body: &Value) -> Tokens {
    Tokens {
        access: body["access_token"].as_str().unwrap_or_default().to_owned(),
        refresh: body["refresh_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        session_id: body["session_id"].as_str().unwrap_or_default().to_owned(),
        user_id: String::new(),
        email: email.to_owned(),
    }
}

/// Asserts a problem+json response with `status` and `code`; returns the body.
pub async fn assert_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "unexpected status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], format!("https://warden.dev/errors/{code}"));
    assert!(body["title"].is_string() && body["detail"].is_string());
    body
}
