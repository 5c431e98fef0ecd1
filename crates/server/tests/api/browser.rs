//! The hosted pages in a real browser: Debian's chromium driven by
//! playwright-core, with axe-core on every page (`tests/browser/journeys.cjs`),
//! against the real `warden` binary. Sign up, sign in, sign out, change the
//! password, revoke a session, verify the address, change it, reset a
//! forgotten password and delete the account by the links the binary's log
//! transport writes to its data dir, the same with JavaScript off, keyboard-only
//! sign-in, no axe violation, CORS from another origin, and screenshots at
//! phone and desktop widths in light and dark.
//!
//! Needs `WARDEN_TEST_NODE_MODULES` (a `node_modules` with the pinned
//! playwright-core and axe-core; `.ci/run` installs them) and chromium
//! (`WARDEN_TEST_CHROMIUM`, default `/usr/bin/chromium`). Without them the
//! test prints "skipped", unless `WARDEN_TEST_REQUIRE_SERVICES=1`.
//! `WARDEN_SCREENSHOTS=<dir>` keeps the screenshots there.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use super::binary::start_with;

fn tools() -> Option<(PathBuf, PathBuf)> {
    // The binary runs on its own SQLite data dir whatever the suite's
    // database: the per-backend passes of the API suite would repeat the
    // same journeys.
    if std::env::var("WARDEN_TEST_DATABASE_URL").is_ok_and(|url| !url.is_empty()) {
        warden_testkit::skipped("the browser journeys run once, in the SQLite pass");
        return None;
    }
    let modules = std::env::var_os("WARDEN_TEST_NODE_MODULES").map(PathBuf::from);
    let chromium = std::env::var_os("WARDEN_TEST_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    let required = std::env::var("WARDEN_TEST_REQUIRE_SERVICES").as_deref() == Ok("1");
    match modules {
        Some(modules) if modules.join("playwright-core").is_dir() && chromium.exists() => {
            Some((modules, chromium))
        }
        _ if required => panic!(
            "WARDEN_TEST_NODE_MODULES (with playwright-core and axe-core) and chromium are \
             needed but WARDEN_TEST_REQUIRE_SERVICES=1"
        ),
        _ => {
            warden_testkit::skipped(
                "WARDEN_TEST_NODE_MODULES is not set (or chromium is missing): no browser tests",
            );
            None
        }
    }
}

/// A loopback port free right now (the binary and the script bind it next).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

#[test]
fn the_hosted_pages_work_in_a_real_browser() {
    let Some((modules, chromium)) = tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let other = free_port();
    let stranger = free_port();
    let other_origin = format!("http://127.0.0.1:{other}");
    // A third-party OpenID client, registered before the server starts
    // (the command line works on the store directly), for the consent page.
    let registered = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["client", "add", "--name", "Tickets", "--type", "public"])
        .args(["--redirect-uri", &format!("http://127.0.0.1:{stranger}/cb")])
        .arg("--data-dir")
        .arg(dir.path())
        .output()
        .expect("warden client add runs");
    assert!(registered.status.success(), "{registered:?}");
    let client_id = String::from_utf8_lossy(&registered.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("client_id ").map(str::to_owned))
        .expect("a client id");
    let server = start_with(
        dir.path(),
        &format!("127.0.0.1:{port}"),
        &[
            ("WARDEN_HTTP_CORS_ORIGINS", &other_origin),
            // Fast hashing: the journeys sign in dozens of times.
            ("WARDEN_PASSWORDS_ARGON2_MEMORY_KIB", "8192"),
            ("WARDEN_PASSWORDS_ARGON2_ITERATIONS", "1"),
        ],
    );
    let shots = std::env::var_os("WARDEN_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/journeys.cjs");
    let output = Command::new("node")
        .arg(&script)
        .env("WARDEN_URL", &server.base)
        .env("WARDEN_OTHER_PORT", other.to_string())
        .env("WARDEN_STRANGER_PORT", stranger.to_string())
        .env("WARDEN_OIDC_CLIENT", &client_id)
        .env("WARDEN_TEST_NODE_MODULES", &modules)
        .env("WARDEN_TEST_CHROMIUM", &chromium)
        .env("WARDEN_SCREENSHOTS", &shots)
        .env("WARDEN_MAIL_DIR", dir.path().join("mail"))
        .output()
        .expect("node runs");
    let text = String::from_utf8_lossy(&output.stdout);
    println!("{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "browser journeys failed:\n{text}");
    assert!(text.contains(" passed, 0 failed"), "{text}");
    for name in [
        "signin-desktop-light",
        "signin-phone-dark",
        "account-desktop-dark",
        "forgot-password-phone-light",
        "forgot-password-sent-desktop-light",
        "link-spent-phone-dark",
        "account-passkeys",
        "signin-passkey",
        "signin-mfa-passkey",
        "consent-desktop-light",
        "consent-phone-dark",
        "continue-desktop-light",
        "logout-phone-dark",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "{name}.png");
    }
    drop(server);
}

/// Social sign-in in the browser against a real OpenID provider: the
/// certified Node `oidc-provider` (`tests/browser/op.cjs`, its own login and
/// consent pages, PKCE required, keys rotated on demand) and the binary
/// configured with it (`tests/browser/social.cjs`): a new person signs up
/// and lands on the account page, a rotation between two sign-ins, the
/// pre-account-takeover and unverified-address refusals, JavaScript off,
/// axe on every page.
#[test]
fn social_sign_in_works_in_a_real_browser_against_oidc_provider() {
    let Some((modules, chromium)) = tools() else {
        return;
    };
    if !modules.join("oidc-provider").is_dir() {
        if std::env::var("WARDEN_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("oidc-provider is not in WARDEN_TEST_NODE_MODULES");
        }
        warden_testkit::skipped("oidc-provider is not in WARDEN_TEST_NODE_MODULES");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let warden_url = format!("http://127.0.0.1:{port}");
    let scripts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let mut op = Command::new("node")
        .arg(scripts.join("op.cjs"))
        .env("OP_PORT", free_port().to_string())
        .env("WARDEN_URL", &warden_url)
        .env("WARDEN_TEST_NODE_MODULES", &modules)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("node runs");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(op.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let op_url = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
        .to_owned();
    let config = dir.path().join("warden.toml");
    std::fs::write(
        &config,
        format!(
            "[[oauth.provider]]\nid = \"op\"\nkind = \"oidc\"\nlabel = \"Test OP\"\n\
             issuer = \"{op_url}\"\nclient_id = \"warden\"\nclient_secret = \"warden-secret\"\n"
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let server = start_with(
        &dir.path().join("data"),
        &format!("127.0.0.1:{port}"),
        &[
            ("WARDEN_CONFIG", config.as_str()),
            ("WARDEN_PASSWORDS_ARGON2_MEMORY_KIB", "8192"),
            ("WARDEN_PASSWORDS_ARGON2_ITERATIONS", "1"),
        ],
    );
    let shots = std::env::var_os("WARDEN_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    let output = Command::new("node")
        .arg(scripts.join("social.cjs"))
        .env("WARDEN_URL", &server.base)
        .env("OP_URL", &op_url)
        .env("WARDEN_TEST_NODE_MODULES", &modules)
        .env("WARDEN_TEST_CHROMIUM", &chromium)
        .env("WARDEN_SCREENSHOTS", &shots)
        .output()
        .expect("node runs");
    let _ = op.kill();
    let _ = op.wait();
    let text = String::from_utf8_lossy(&output.stdout);
    println!("{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "social journeys failed:\n{text}");
    assert!(text.contains(" passed, 0 failed"), "{text}");
    for name in [
        "signin-social-desktop-light",
        "signin-social-phone-dark",
        "signin-account-exists-desktop-light",
        "account-providers-desktop-light",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "{name}.png");
    }
    drop(server);
}

/// The admin console in a real browser (`tests/browser/admin.cjs`) against
/// the binary, with the gateway in front of an upstream: an admin finds a
/// user and bans them (their token refused by Warden and the gateway within
/// a second), unbans, changes roles, resets the second factor, registers an
/// app and rotates its secret, filters the audit log and exports it; a
/// non-admin gets 403, a signed-out visitor the sign-in page; keyboard
/// only and JavaScript off; axe on every page; the README's screenshots.
#[tokio::test(flavor = "multi_thread")]
async fn the_admin_console_works_in_a_real_browser() {
    let Some((modules, chromium)) = tools() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let admin = warden_testkit::unique_email();
    let mut add = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args([
            "user", "add", "--email", &admin, "--role", "admin", "--role", "user",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("warden user add runs");
    std::io::Write::write_all(add.stdin.as_mut().unwrap(), b"a long admin passphrase 42\n")
        .unwrap();
    assert!(add.wait().unwrap().success(), "the admin is created");
    let port = free_port();
    let server = start_with(
        dir.path(),
        &format!("127.0.0.1:{port}"),
        &[
            ("WARDEN_PASSWORDS_ARGON2_MEMORY_KIB", "8192"),
            ("WARDEN_PASSWORDS_ARGON2_ITERATIONS", "1"),
        ],
    );
    let discovery: serde_json::Value =
        reqwest::get(format!("{}/.well-known/openid-configuration", server.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let issuer = discovery["issuer"].as_str().unwrap().to_owned();
    let echo = warden_testkit::gateway::Echo::start().await;
    let gateway = warden_testkit::gateway::Gateway::spawn(&format!(
        "listen = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nissuer = {issuer:?}\n\
         endpoint = {:?}\nrevocation_poll_interval = \"200ms\"\n\n\
         [[route]]\nprefix = \"/app/\"\nupstream = {:?}\nauth = \"required\"\n",
        server.base,
        echo.url()
    ));
    let shots = std::env::var_os("WARDEN_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().join("screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser/admin.cjs");
    let output = tokio::process::Command::new("node")
        .arg(&script)
        .env("WARDEN_URL", &server.base)
        .env("WARDEN_GATEWAY_URL", &gateway.base)
        .env("WARDEN_ADMIN_EMAIL", &admin)
        .env("WARDEN_TEST_NODE_MODULES", &modules)
        .env("WARDEN_TEST_CHROMIUM", &chromium)
        .env("WARDEN_SCREENSHOTS", &shots)
        .output()
        .await
        .expect("node runs");
    let text = String::from_utf8_lossy(&output.stdout);
    println!("{text}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "admin journeys failed:\n{text}");
    assert!(text.contains(" passed, 0 failed"), "{text}");
    for name in [
        "admin-overview-desktop-light",
        "admin-users-phone-dark",
        "admin-user-desktop-dark",
        "admin-audit-desktop-light",
        "admin-clients-phone-light",
        "admin-confirm-desktop-light",
        "admin-secret-desktop-light",
    ] {
        assert!(shots.join(format!("{name}.png")).exists(), "{name}.png");
    }
    drop(gateway);
    drop(server);
}
