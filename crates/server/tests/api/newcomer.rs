//! A newcomer's first day, against the real binary: what `warden` says when
//! it is run twice, from the wrong directory, with a stray variable, and
//! what the first error messages read like (issue 14's papercuts).

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use reqwest::Client;
use serde_json::{Value, json};
use warden_testkit::{
    STRONG_PASSWORD, ServerKind, TestDatabase, assert_problem, spawn_app, unique_email,
};

use crate::binary::{start, warden};

fn client() -> Client {
    Client::builder().no_proxy().build().unwrap()
}

/// Runs `warden args...` with `stdin` as its standard input.
fn run(command: &mut Command, stdin: Option<&str>) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("warden runs");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        pipe.write_all(text.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn user_add(data_dir: &Path, email: &str, password: Option<&str>) -> Output {
    run(
        warden()
            .args(["user", "add", "--email", email, "--data-dir"])
            .arg(data_dir),
        password.map(|p| format!("{p}\n")).as_deref(),
    )
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_second_server_on_the_same_data_dir_is_refused_and_user_add_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path());
    let second = run(
        warden()
            .args(["serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(dir.path()),
        None,
    );
    assert!(!second.status.success(), "a second server must not start");
    let said = stderr(&second);
    assert!(said.contains(&dir.path().display().to_string()), "{said}");
    assert!(
        said.contains(&format!("pid {}", first.child.id())),
        "names the other process: {said}"
    );
    // The first one is untouched, and the CLI works beside it.
    let health = client()
        .get(format!("{}/healthz", first.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let email = unique_email();
    let added = user_add(dir.path(), &email, Some(STRONG_PASSWORD));
    assert!(added.status.success(), "{}", stderr(&added));
    let signin = client()
        .post(format!("{}/v1/signin", first.base))
        .json(&json!({"email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signin.status(), 200);
}

#[test]
fn user_add_says_which_data_dir_it_used_and_when_it_was_new() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("fresh");
    let added = user_add(&dir, &unique_email(), Some(STRONG_PASSWORD));
    assert!(added.status.success(), "{}", stderr(&added));
    let said = stderr(&added);
    assert!(said.contains("was new"), "{said}");
    assert!(said.contains("fresh"), "names the dir: {said}");
    let again = user_add(&dir, &unique_email(), Some(STRONG_PASSWORD));
    let said = stderr(&again);
    assert!(again.status.success(), "{said}");
    assert!(
        !said.contains("was new") && said.contains("in data dir"),
        "{said}"
    );
}

#[test]
fn user_add_without_a_password_on_standard_input_says_so() {
    let dir = tempfile::tempdir().unwrap();
    for stdin in [None, Some("\n")] {
        let output = run(
            warden()
                .args(["user", "add", "--email", &unique_email(), "--data-dir"])
                .arg(dir.path()),
            stdin,
        );
        assert!(!output.status.success());
        let said = stderr(&output);
        assert!(said.contains("no password on standard input"), "{said}");
        assert!(!said.contains("at least"), "{said}");
    }
}

#[tokio::test]
async fn user_add_on_a_shared_database_needs_no_key_encryption_key() {
    let Some(database) = TestDatabase::create(ServerKind::Postgres).await else {
        return;
    };
    let email = unique_email();
    let output = run(
        warden()
            .args(["user", "add", "--email", &email, "--database-url"])
            .arg(&database.url),
        Some(&format!("{STRONG_PASSWORD}\n")),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains(&email),
        "{output:?}"
    );
    // Serving still demands it: signing keys are encrypted with it.
    let serve = run(
        warden()
            .args(["serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
            .arg("--database-url")
            .arg(&database.url)
            .env("WARDEN_ISSUER", "https://auth.example.com"),
        None,
    );
    assert!(!serve.status.success());
    assert!(
        stderr(&serve).contains("WARDEN_KEYS_ENCRYPTION_KEY"),
        "{}",
        stderr(&serve)
    );
    database.drop_database().await;
}

#[test]
fn an_unknown_warden_variable_is_a_warning_and_a_bad_one_names_itself() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        warden()
            .args(["config", "check", "--data-dir"])
            .arg(dir.path())
            .env("WARDEN_BIN", "/opt/warden")
            .env("WARDEN_TOKENS_ACCESS_TTL", "5"),
        None,
    );
    let said = stderr(&output);
    assert!(output.status.success(), "{said}");
    assert!(said.contains("ignoring WARDEN_BIN"), "{said}");
    assert!(
        said.contains("did you mean WARDEN_TOKENS_ACCESS_TTL_SECS?"),
        "{said}"
    );
    let output = run(
        warden()
            .args(["config", "check", "--data-dir"])
            .arg(dir.path())
            .env("WARDEN_TOKENS_ACCESS_TTL_SECS", "five"),
        None,
    );
    let said = stderr(&output);
    assert!(!output.status.success());
    assert!(
        said.contains("WARDEN_TOKENS_ACCESS_TTL_SECS must be"),
        "{said}"
    );
    assert!(
        !said.contains("figment") && !said.contains("five"),
        "{said}"
    );
}

#[test]
fn config_check_prints_the_effective_issuer_database_and_origins() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(
        warden()
            .args(["config", "check", "--data-dir"])
            .arg(dir.path())
            .env(
                "WARDEN_DATABASE_URL",
                "postgres://warden:hunter2-secret@db.internal/warden",
            )
            .env(
                "WARDEN_KEYS_ENCRYPTION_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
        None,
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        printed.contains("# effective issuer: http://127.0.0.1:8080"),
        "{printed}"
    );
    assert!(
        printed.contains("# effective database: postgres://warden:[redacted]@db.internal/warden"),
        "{printed}"
    );
    assert!(
        printed
            .contains("# effective allowed_origins: http://127.0.0.1:8080, http://localhost:8080"),
        "{printed}"
    );
    assert!(!printed.contains("hunter2"), "{printed}");
}

/// The README's own URL is `http://localhost:8080`, the default issuer
/// `http://127.0.0.1:8080`: cookie mode must work from both, and a refusal
/// must say which origin it saw and what to set.
#[tokio::test]
async fn cookie_mode_works_from_localhost_and_a_refused_origin_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // A real port, as a newcomer's `serve` has: the default origins are
    // made from the configured listener.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = warden()
        .args(["serve", "--grpc", "127.0.0.1:0", "--http"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let server = crate::binary::Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = client();
    let signup = client
        .post(format!("{}/v1/signup?cookie=true", server.base))
        .header("origin", format!("http://localhost:{port}"))
        .json(&json!({"email": unique_email(), "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    let mut access = String::new();
    let mut csrf = String::new();
    for value in signup.headers().get_all("set-cookie") {
        let pair = value.to_str().unwrap().split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        if name.ends_with("warden_at") {
            access = format!("{name}={value}");
        } else if name == "warden_csrf" {
            csrf = value.to_owned();
        }
    }
    let signout = |origin: String| {
        client
            .post(format!("{}/v1/signout", server.base))
            .header("cookie", format!("{access}; warden_csrf={csrf}"))
            .header("x-csrf-token", &csrf)
            .header("origin", origin)
            .send()
    };
    let refused = signout("http://evil.example".into()).await.unwrap();
    let problem = assert_problem(refused, 403, "csrf_failed").await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("http://evil.example"), "{detail}");
    assert!(detail.contains("WARDEN_ALLOWED_ORIGINS"), "{detail}");
    let done = signout(format!("http://localhost:{port}")).await.unwrap();
    assert_eq!(done.status(), 204, "{}", done.text().await.unwrap());
}

/// Logs read by a collector or `less`: no colour codes, no `Some("...")`.
#[tokio::test]
async fn logs_off_a_terminal_are_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = warden()
        .args(["serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_owned();
    let signup = client()
        .post(format!("{base}/v1/signup"))
        .json(&json!({"email": unique_email(), "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    let mut text = String::new();
    for _ in 0..50 {
        text = std::fs::read_to_string(&log).unwrap();
        if text.contains("audit") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(text.contains("audit"), "{text}");
    assert!(!text.contains('\u{1b}'), "colour codes in a file: {text}");
    assert!(!text.contains("Some("), "{text}");
}

#[tokio::test]
async fn first_error_messages_say_what_is_wrong_once() {
    let app = spawn_app().await;
    // A weak password: the reason, not "too easy to guess" twice.
    let weak = app.signup(&unique_email(), "aaaaaaaaaaaa").await;
    let problem: Value = weak.json().await.unwrap();
    let text = problem.to_string();
    assert!(text.matches("too easy to guess").count() <= 1, "{problem}");
    // A wrong current password is not "the e-mail or password".
    let user = app.new_user().await;
    let wrong = app
        .client
        .post(app.url("/v1/password"))
        .bearer_auth(&user.access)
        .json(&json!({"current_password": "not the password at all", "new_password": "another correct horse 77!"}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(wrong, 401, "invalid_credentials").await;
    assert_eq!(problem["detail"], "the current password is wrong");
    // A 403 names the role that was missing.
    let forbidden = app.get_auth("/v1/admin/users", &user.access).await;
    let problem = assert_problem(forbidden, 403, "forbidden").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("admin"),
        "{problem}"
    );
    // A bad role names the field once.
    let admin = app.new_admin().await;
    let bad_role = app
        .client
        .put(app.url(&format!("/v1/admin/users/{}/roles", user.user_id)))
        .bearer_auth(&admin.access)
        .json(&json!({"roles": ["Not A Role"]}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(bad_role, 400, "invalid_request").await;
    let text = problem.to_string();
    assert!(!text.contains("roles each role"), "{problem}");
}
