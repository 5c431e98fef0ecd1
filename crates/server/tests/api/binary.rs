//! Starts the real `warden` binary as a newcomer would.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};

use serde_json::json;
use warden_testkit::{STRONG_PASSWORD, unique_email};

pub(crate) fn warden() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
    command.env_remove("RUST_LOG");
    for (key, _) in std::env::vars() {
        if key.starts_with("WARDEN_") {
            command.env_remove(key);
        }
    }
    command
}

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start(data_dir: &std::path::Path) -> Server {
    start_with(data_dir, "127.0.0.1:0", &[])
}

/// [`start`] on `http` (an address), with extra `WARDEN_*` settings.
pub(crate) fn start_with(data_dir: &std::path::Path, http: &str, env: &[(&str, &str)]) -> Server {
    let mut child = warden()
        .args([
            "serve",
            "--http",
            http,
            "--grpc",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(data_dir)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("warden starts");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(line.contains("listening on http://127.0.0.1:"), "{line}");
    assert!(
        line.contains(&data_dir.display().to_string()),
        "says where the data lives: {line}"
    );
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    Server { child, base }
}

#[tokio::test]
async fn the_binary_serves_with_no_configuration_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path());
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let health = client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let email = unique_email();
    let signup = client
        .post(format!("{}/v1/signup", server.base))
        .json(&json!({"email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    assert!(dir.path().join("warden.db").exists());

    // `warden user add` works while the server runs on the same data dir.
    let admin_email = unique_email();
    let mut add = warden()
        .args([
            "user",
            "add",
            "--role",
            "admin",
            "--email",
            &admin_email,
            "--data-dir",
        ])
        .arg(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(format!("{STRONG_PASSWORD}\n").as_bytes())
        .unwrap();
    let output = add.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let signin = client
        .post(format!("{}/v1/signin", server.base))
        .json(&json!({"email": admin_email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signin.status(), 200);
    let token = signin.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let users = client
        .get(format!("{}/v1/admin/users", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 200);

    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = server.child.wait().unwrap();
    assert!(exit.success(), "{exit:?}");
}

#[tokio::test]
async fn a_restarted_binary_keeps_users_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let email = unique_email();
    let token = {
        let server = start(dir.path());
        let body: serde_json::Value = client
            .post(format!("{}/v1/signup", server.base))
            .json(&json!({"email": email, "password": STRONG_PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["tokens"]["access_token"].as_str().unwrap().to_owned()
    };
    let server = start(dir.path());
    let validate = client
        .post(format!("{}/v1/validate", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        validate.status(),
        200,
        "the signing key survived the restart"
    );
    let signin = client
        .post(format!("{}/v1/signin", server.base))
        .json(&json!({"email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signin.status(), 200);
}

#[test]
fn keys_rotate_and_list_work_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = warden()
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    };
    run(&["migrate"]);
    assert_eq!(
        run(&["keys", "list"]).lines().count(),
        0,
        "no key before the first start"
    );
    run(&["keys", "rotate"]);
    let first = run(&["keys", "list"]);
    assert_eq!(first.lines().count(), 1, "{first}");
    assert!(
        first.contains("EdDSA") && first.contains("active"),
        "{first}"
    );
    run(&["keys", "rotate"]);
    let listed = run(&["keys", "list"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    // The first key keeps signing until the new one has been published for
    // the activation delay.
    let lines: Vec<&str> = listed.lines().collect();
    assert!(lines[0].ends_with("\tactive"), "{listed}");
    assert!(lines[1].contains("\tpublished, signs from "), "{listed}");
}

#[test]
fn config_check_redacts_secrets_and_unknown_keys_fail_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let output = warden()
        .args(["config", "check"])
        .env(
            "WARDEN_KEYS_ENCRYPTION_KEY",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .output()
        .unwrap();
    assert!(output.status.success());
    let shown = String::from_utf8(output.stdout).unwrap();
    assert!(
        shown.contains("[redacted]") && !shown.contains("AAECAwQF"),
        "{shown}"
    );

    let file = dir.path().join("warden.toml");
    std::fs::write(&file, "[http]\nlisten = \"127.0.0.1:0\"\nlisen = 1\n").unwrap();
    let output = warden()
        .args(["config", "check", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("lisen"), "{stderr}");
}
