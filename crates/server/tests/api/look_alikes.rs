//! Addresses that render like an existing account's cannot open a second
//! account (front-door.md section 3, docs/decisions/0015-email-identity.md):
//! invisible, control and direction-changing characters are refused;
//! compatibility forms, case and confusable letters fold onto the existing
//! address or its UTS #39 skeleton, which is `email_taken`. The same rule
//! holds at every entry point: HTTP, gRPC and the `warden user add` command
//! an operator uses to create admins.

use std::io::Write as _;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::Value;
use tonic::Code;
use warden_grpc::pb;
use warden_testkit::{STRONG_PASSWORD, assert_problem, spawn_app};

const ALICE: &str = "alice@example.com";

/// Each renders as `alice@example.com` (or nearly) and once made a second account.
const SAME_SKELETON: [&str; 7] = [
    "\u{430}lice@example.com",   // Cyrillic а
    "\u{ff41}lice@example.com",  // fullwidth ａ
    "al\u{131}ce@example.com",   // dotless ı
    "ALICE@EXAMPLE.COM",         // case
    "alice@\u{ff45}xample.com",  // fullwidth in the domain
    "alice@ex\u{430}mple.com",   // Cyrillic а in the domain
    "\u{1d5ba}lice@example.com", // mathematical sans-serif a
];

/// Invisible or direction-changing characters: refused as malformed.
const INVISIBLE: [&str; 5] = [
    "al\u{200b}ice@example.com", // zero-width space
    "\u{202e}moc.elpmaxe@ecila", // right-to-left override
    "alice\u{202e}@example.com", // override inside
    "ali\u{ad}ce@example.com",   // soft hyphen
    "alice@exa\u{200d}mple.com", // zero-width joiner in the domain
];

#[tokio::test]
async fn every_look_alike_of_an_existing_address_is_refused_at_sign_up() {
    let app = spawn_app().await;
    let created = app.signup(ALICE, STRONG_PASSWORD).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    for email in SAME_SKELETON {
        let response = app.signup(email, STRONG_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{email:?}");
        assert_problem(response, 409, "email_taken").await;
    }
    for email in INVISIBLE {
        let response = app.signup(email, STRONG_PASSWORD).await;
        assert_problem(response, 400, "invalid_request").await;
    }
    let admin = app.new_admin().await;
    let users: Value = app
        .get_auth("/v1/admin/users?q=lice", &admin.access)
        .await
        .json()
        .await
        .unwrap();
    let emails: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert_eq!(emails, [ALICE]);
}

#[tokio::test]
async fn ligatures_fold_into_the_address_they_spell() {
    let app = spawn_app().await;
    let created = app.signup("jeff@example.com", STRONG_PASSWORD).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let ligature = app.signup("je\u{fb00}@example.com", STRONG_PASSWORD).await;
    assert_problem(ligature, 409, "email_taken").await;
    // And the folded form signs in to the one account.
    app.sign_in_ok("JE\u{fb00}@example.com", STRONG_PASSWORD)
        .await;
}

#[tokio::test]
async fn a_look_alike_is_refused_over_grpc_too() {
    let app = spawn_app().await;
    let mut client = app.auth_client().await;
    let request = |email: &str| pb::SignUpRequest {
        email: email.to_owned(),
        password: STRONG_PASSWORD.to_owned(),
        username: None,
    };
    client.sign_up(request(ALICE)).await.unwrap();
    for email in SAME_SKELETON {
        let status = client.sign_up(request(email)).await.unwrap_err();
        assert_eq!(status.code(), Code::AlreadyExists, "{email:?}: {status:?}");
        assert_eq!(status.metadata().get("warden-code").unwrap(), "email_taken");
    }
    for email in INVISIBLE {
        let status = client.sign_up(request(email)).await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{email:?}: {status:?}"
        );
    }
}

/// `warden user add` (how operators create admins) follows the same rule.
#[test]
fn the_command_line_refuses_a_look_alike_of_an_existing_account() {
    let dir = tempfile::tempdir().unwrap();
    let add = |email: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
            .env_remove("RUST_LOG")
            .args([
                "user",
                "add",
                "--role",
                "admin",
                "--email",
                email,
                "--data-dir",
            ])
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{STRONG_PASSWORD}").unwrap();
        child.wait_with_output().unwrap()
    };
    let first = add(ALICE);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    for email in ["\u{430}lice@example.com", "al\u{131}ce@example.com"] {
        let output = add(email);
        assert!(!output.status.success(), "{email:?} created");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("email taken"), "{email:?}: {stderr}");
    }
    let output = add("al\u{200b}ice@example.com");
    assert!(!output.status.success(), "zero-width space accepted");
}
