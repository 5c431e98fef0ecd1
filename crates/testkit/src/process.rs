//! `warden serve` as a child process, for tests that need several instances
//! or a verifier in another process's position, and the few HTTP calls such
//! tests make on an instance.
//!
//! The binary is the `warden` that Cargo builds beside the running test
//! executable (it builds a package's binaries for its integration tests), so
//! these helpers serve the `warden` package's own tests.

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use rand::RngCore as _;
use reqwest::Client;
use serde_json::{Value, json};

use crate::{STRONG_PASSWORD, unique_email};

/// The `warden` binary: `CARGO_BIN_EXE_warden` when set, else the one in
/// the target directory of the running test (`target/<profile>/warden`,
/// the test itself being in `target/<profile>/deps/`).
pub fn warden_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("CARGO_BIN_EXE_warden") {
        return path.into();
    }
    let exe = std::env::current_exe().expect("the test's own path");
    let mut dir = exe.parent().expect("the test's directory").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join(format!("warden{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: run this from the warden package's tests",
        bin.display()
    );
    bin
}

/// A running `warden serve`; killed when dropped.
pub struct Instance {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// `http://127.0.0.1:<port>` of the gRPC listener.
    pub grpc: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh key-encryption key, base64.
pub fn random_kek() -> String {
    let mut kek = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut kek);
    base64::engine::general_purpose::STANDARD.encode(kek)
}

/// Starts `warden serve` on a free port with only the given `WARDEN_*`
/// settings (the test harness's own are removed), issuer `https://warden.test`.
pub fn spawn(
    database_url: &str,
    kek: &str,
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> Child {
    command(database_url, kek, data_dir, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("warden starts")
}

/// [`spawn`], with its log (stderr) written to `log`.
pub fn spawn_logging(
    database_url: &str,
    kek: &str,
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
    log: &std::path::Path,
) -> Child {
    let log = std::fs::File::create(log).expect("log file");
    command(database_url, kek, data_dir, env)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("warden starts")
}

/// The `warden serve` command [`spawn`] runs, for tests that change it
/// further (remove a setting) or watch it exit.
pub fn command(
    database_url: &str,
    kek: &str,
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> Command {
    let mut command = Command::new(warden_bin());
    command.env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("WARDEN_") {
            command.env_remove(key);
        }
    }
    command
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--grpc",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .env("WARDEN_DATABASE_URL", database_url)
        .env("WARDEN_KEYS_ENCRYPTION_KEY", kek)
        .env("WARDEN_ISSUER", crate::ISSUER)
        .env("WARDEN_PASSWORDS_ARGON2_MEMORY_KIB", "1024")
        .env("WARDEN_PASSWORDS_ARGON2_ITERATIONS", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// Waits for the "listening on" line.
pub fn ready(mut child: Child) -> Instance {
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    assert!(line.contains("listening on http://127.0.0.1:"), "{line:?}");
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("address")
        .to_owned();
    let grpc = line
        .split_whitespace()
        .skip_while(|w| *w != "gRPC")
        .nth(1)
        .map(|addr| format!("http://{addr}"))
        .expect("gRPC address");
    Instance { child, base, grpc }
}

/// Creates a user with `role` through `warden user add` on the same database.
pub fn add_user(
    database_url: &str,
    kek: &str,
    data_dir: &std::path::Path,
    email: &str,
    role: &str,
) {
    use std::io::Write as _;
    let mut command = Command::new(warden_bin());
    for (key, _) in std::env::vars() {
        if key.starts_with("WARDEN_") {
            command.env_remove(key);
        }
    }
    let mut child = command
        .args([
            "user",
            "add",
            "--email",
            email,
            "--role",
            role,
            "--data-dir",
        ])
        .arg(data_dir)
        .env("WARDEN_DATABASE_URL", database_url)
        .env("WARDEN_KEYS_ENCRYPTION_KEY", kek)
        .env("WARDEN_PASSWORDS_ARGON2_MEMORY_KIB", "1024")
        .env("WARDEN_PASSWORDS_ARGON2_ITERATIONS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warden user add");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{}\n", STRONG_PASSWORD).as_bytes())
        .expect("password");
    let output = child.wait_with_output().expect("finishes");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Signs `email` in on `base` (with [`STRONG_PASSWORD`]); the access token.
pub async fn signin(client: &Client, base: &str, email: &str) -> String {
    let body: Value = client
        .post(format!("{base}/v1/signin"))
        .json(&json!({"email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().expect("signed in").to_owned()
}

/// Signs up a new user on `base`; returns (access token, user id).
pub async fn new_user(client: &Client, base: &str) -> (String, String) {
    let body: Value = client
        .post(format!("{base}/v1/signup"))
        .json(&json!({"email": unique_email(), "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        body["tokens"]["access_token"].as_str().unwrap().to_owned(),
        body["user"]["id"].as_str().unwrap().to_owned(),
    )
}

/// Whether this run is one of the suite's extra passes on another backend
/// (`WARDEN_TEST_DATABASE_URL` set). Tests that pick their own PostgreSQL
/// need not repeat there; says so and returns `true`.
pub fn is_backend_pass() -> bool {
    let set = std::env::var("WARDEN_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    if set {
        crate::skipped("runs in the default pass only");
    }
    set
}
