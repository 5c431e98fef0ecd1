//! `warden user ...` from the real binary, on the database of a running
//! app: SQLite in the default pass, PostgreSQL and MariaDB in the backend
//! passes (`WARDEN_TEST_DATABASE_URL`). What the CLI changes the running
//! server must honour (a ban refuses live tokens within seconds), and the
//! audit log must name the CLI as the actor.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use warden_core::ports::Clock as _;
use warden_testkit::{STRONG_PASSWORD, TestApp, Tokens, assert_problem, spawn_app};

use crate::mfa::enrolled;

const NEW_PASSWORD: &str = "a brand new passphrase for the lost admin";

/// `warden` pointed at `app`'s database.
struct Cli<'a> {
    app: &'a TestApp,
}

struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Cli<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = crate::binary::warden();
        command
            .args(args)
            .arg("--database-url")
            .arg(self.app.config.database_url())
            .arg("--data-dir")
            .arg(&self.app.config.data_dir);
        // On a shared database, as the servers have it: TOTP secrets and
        // queued mail are stored encrypted with it.
        if let Some(key) = &self.app.config.keys.encryption_key {
            use base64::Engine as _;
            command.env(
                "WARDEN_KEYS_ENCRYPTION_KEY",
                base64::engine::general_purpose::STANDARD.encode(key.expose()),
            );
        }
        command
    }

    fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("warden starts");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        Run {
            success: output.status.success(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert!(run.success, "{args:?} failed: {}", run.stderr);
        run.stdout
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut with_json = args.to_vec();
        with_json.push("--json");
        let out = self.ok(&with_json);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }

    fn fails(&self, args: &[&str], says: &str) {
        let run = self.run(args);
        assert!(!run.success, "{args:?} should fail: {}", run.stdout);
        assert!(
            run.stderr.contains(says),
            "{args:?} should say {says:?}: {}",
            run.stderr
        );
    }
}

/// Waits (a few seconds at most) until `token` is refused by `/v1/validate`.
async fn refused_soon(app: &TestApp, token: &str) {
    let start = Instant::now();
    loop {
        let status = app.validate(token).await.status();
        if status == StatusCode::UNAUTHORIZED {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "token still accepted ({status}) 5 s after the CLI revoked it"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (a few seconds at most) until `token` is accepted: a running
/// server applies the CLI's unban when its revocation feed reads it.
async fn accepted_soon(app: &TestApp, token: &str) {
    let start = Instant::now();
    loop {
        let status = app.validate(token).await.status();
        if status == StatusCode::OK {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "token still refused ({status}) 5 s after the CLI lifted the ban"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The audit entries about `target`, newest first, as the admin API lists them.
async fn audit_of(app: &TestApp, admin: &Tokens, target: &str) -> Vec<Value> {
    let response = app
        .get_auth(
            &format!("/v1/admin/audit?user={target}&limit=100"),
            &admin.access,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    body["entries"].as_array().unwrap().clone()
}

fn cli_entry<'a>(entries: &'a [Value], action: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["action"] == action && e["actor"] == "cli")
        .unwrap_or_else(|| panic!("no {action} by cli in {entries:#?}"))
}

#[tokio::test]
async fn users_are_listed_shown_and_managed_from_the_command_line() {
    let app = spawn_app().await;
    let cli = Cli { app: &app };
    let admin = app.new_admin().await;
    let user = app.new_user().await;

    // list: every user, one per line; --query and --limit narrow it.
    let listed = cli.ok(&["user", "list"]);
    assert_eq!(listed.lines().count(), 2, "{listed}");
    let line = listed
        .lines()
        .find(|l| l.contains(&user.email))
        .expect("the user is listed");
    assert!(
        line.starts_with(&format!("{}\t{}\tactive\tuser\t", user.user_id, user.email)),
        "{line}"
    );
    let found = cli.json(&["user", "list", "--query", &user.email]);
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["id"], user.user_id.as_str());
    assert_eq!(found[0]["status"], "active");
    assert_eq!(
        cli.json(&["user", "list", "--limit", "1"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        cli.json(&["user", "list", "--query", "nobody-matches-this"]),
        Value::Array(vec![])
    );

    // show: by address or by id, with sessions and second factors.
    let shown = cli.json(&["user", "show", &user.email]);
    assert_eq!(shown["id"], user.user_id.as_str());
    assert_eq!(shown["sessions"].as_array().unwrap().len(), 1, "{shown}");
    assert_eq!(shown["sessions"][0]["id"], user.session_id.as_str());
    assert_eq!(shown["second_factors"]["totp"], false);
    let text = cli.ok(&["user", "show", &user.user_id]);
    assert!(
        text.contains(&format!("email           {}", user.email)),
        "{text}"
    );
    assert!(text.contains("sessions        1 live"), "{text}");
    cli.fails(&["user", "show", "nobody@example.com"], "not found");
    cli.fails(
        &["user", "show", "not an address"],
        "neither a user id nor an e-mail",
    );

    // set-roles: replaced, sorted, deduplicated; a bad role changes nothing.
    let roles = cli.json(&[
        "user",
        "set-roles",
        &user.email,
        "--role",
        "user",
        "--role",
        "billing",
        "--role",
        "user",
    ]);
    assert_eq!(roles["roles"], serde_json::json!(["billing", "user"]));
    cli.fails(
        &["user", "set-roles", &user.email, "--role", "Not A Role"],
        "role",
    );
    assert_eq!(
        cli.json(&["user", "show", &user.email])["roles"],
        serde_json::json!(["billing", "user"])
    );

    // ban: the running server refuses the live token within seconds, and
    // sign-in is refused; unban lets them back in.
    let banned = cli.json(&["user", "ban", &user.email, "--reason", "chargeback fraud"]);
    assert_eq!(banned["user"]["status"], "banned");
    assert_eq!(banned["sessions_ended"], 1);
    refused_soon(&app, &user.access).await;
    assert_problem(
        app.signin(&user.email, STRONG_PASSWORD).await,
        403,
        "account_banned",
    )
    .await;
    let unbanned = cli.json(&["user", "unban", &user.email]);
    assert_eq!(unbanned["status"], "active");
    // The ban is lifted for tokens issued from the unban on; the app's
    // clock (frozen at its start) moves past the CLI's (the real one).
    let behind = chrono::Utc::now() - app.clock.now();
    app.clock.advance(behind + chrono::Duration::seconds(1));
    let back = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    accepted_soon(&app, &back.access).await;

    // The audit log names the CLI.
    let entries = audit_of(&app, &admin, &user.user_id).await;
    assert_eq!(cli_entry(&entries, "ban")["detail"], "chargeback fraud");
    cli_entry(&entries, "unban");
    assert_eq!(
        cli_entry(&entries, "roles_change")["detail"],
        "billing,user"
    );

    // delete: only with --yes; then the user is gone and their token refused.
    cli.fails(&["user", "delete", &user.email], "--yes");
    assert_eq!(cli.json(&["user", "show", &user.email])["status"], "active");
    // Past the second the app's clock stamped `back` with, so the deletion's
    // revocation (from the CLI's real clock) covers it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let deleted = cli.json(&["user", "delete", &user.email, "--yes"]);
    assert_eq!(deleted["deleted"], user.user_id.as_str());
    cli.fails(&["user", "show", &user.email], "not found");
    refused_soon(&app, &back.access).await;
    cli.fails(&["user", "delete", &user.user_id, "--yes"], "not found");
    cli_entry(&audit_of(&app, &admin, &user.user_id).await, "delete");
}

#[tokio::test]
async fn reset_mfa_from_the_command_line_lets_a_user_without_their_phone_sign_in() {
    let app = spawn_app().await;
    let cli = Cli { app: &app };
    let admin = app.new_admin().await;
    let enrolled = enrolled(&app).await;
    let who = &enrolled.user;
    assert_problem(
        app.signin(&who.email, STRONG_PASSWORD).await,
        403,
        "mfa_required",
    )
    .await;
    assert_eq!(
        cli.json(&["user", "show", &who.email])["second_factors"]["totp"],
        true
    );

    let reset = cli.json(&["user", "reset-mfa", &who.email]);
    assert_eq!(reset["sessions_ended"], 1);
    refused_soon(&app, &who.access).await;
    let shown = cli.json(&["user", "show", &who.email]);
    assert_eq!(shown["second_factors"]["totp"], false);
    assert_eq!(shown["second_factors"]["recovery_codes_left"], 0);
    let tokens = app.sign_in_ok(&who.email, STRONG_PASSWORD).await;
    assert_eq!(app.validate(&tokens.access).await.status(), StatusCode::OK);
    cli_entry(&audit_of(&app, &admin, &who.user_id).await, "mfa_reset");
}

#[tokio::test]
async fn an_instance_whose_only_admin_forgot_the_password_is_recovered_from_the_shell() {
    let app = spawn_app().await;
    let cli = Cli { app: &app };
    let admin = app.new_admin().await;
    // The only admin tries the passwords they remember until locked out.
    for attempt in 0..8 {
        let response = app
            .signin(&admin.email, &format!("not the password {attempt}"))
            .await;
        assert_ne!(response.status(), StatusCode::OK);
    }
    assert_problem(
        app.signin(&admin.email, STRONG_PASSWORD).await,
        429,
        "too_many_attempts",
    )
    .await;

    // A missing or weak password changes nothing.
    cli.fails(
        &["user", "set-password", &admin.email],
        "no password on standard input",
    );
    let weak = cli.run_with_stdin(&["user", "set-password", &admin.email], "password\n");
    assert!(
        !weak.success && weak.stderr.contains("password"),
        "{}",
        weak.stderr
    );

    let set = cli.run_with_stdin(
        &["user", "set-password", &admin.email, "--json"],
        &format!("{NEW_PASSWORD}\n"),
    );
    assert!(set.success, "{}", set.stderr);
    let body: Value = serde_json::from_str(&set.stdout).unwrap();
    assert_eq!(body["sessions_ended"], 1);
    refused_soon(&app, &admin.access).await;

    // The lockout is lifted; the old password no longer works, the new one does.
    assert_problem(
        app.signin(&admin.email, STRONG_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let back = app.sign_in_ok(&admin.email, NEW_PASSWORD).await;
    let users = app.get_auth("/v1/admin/users", &back.access).await;
    assert_eq!(users.status(), StatusCode::OK, "the admin is back in");
    let entries = audit_of(&app, &back, &admin.user_id).await;
    let entry = cli_entry(&entries, "password_set");
    assert!(
        entry["user_agent"]
            .as_str()
            .unwrap()
            .starts_with("warden-cli/"),
        "{entry}"
    );
}

/// On a shared database the commands that touch encrypted data (TOTP
/// secrets, queued mail) need the servers' key-encryption key; without it
/// they stop before changing anything, naming what is missing.
#[tokio::test]
async fn without_the_key_encryption_key_encrypted_data_is_left_alone() {
    let app = spawn_app().await;
    if app.config.keys.encryption_key.is_none() {
        warden_testkit::skipped("the embedded database keeps its key in the data dir");
        return;
    }
    let user = app.new_user().await;
    let run = |args: &[&str]| {
        let mut child = crate::binary::warden()
            .args(args)
            .arg("--database-url")
            .arg(app.config.database_url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{NEW_PASSWORD}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    for args in [
        &["user", "set-password", user.email.as_str()][..],
        &["user", "reset-mfa", user.email.as_str()][..],
        &["user", "show", user.email.as_str()][..],
    ] {
        let output = run(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr.contains("WARDEN_KEYS_ENCRYPTION_KEY"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(app.validate(&user.access).await.status(), StatusCode::OK);
    app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    // What needs no key still works.
    let output = run(&["user", "list"]);
    assert!(output.status.success(), "{output:?}");
}
