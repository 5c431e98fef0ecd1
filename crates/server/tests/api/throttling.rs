//! Per-account back-off, per-IP limits, the hashing pool, spoofed client IPs.

use chrono::Duration;
use serde_json::Value;
use warden_testkit::{STRONG_PASSWORD, assert_problem, spawn_app, spawn_app_with, unique_email};

#[tokio::test]
async fn repeated_failures_lock_the_account_with_retry_after() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for _ in 0..5 {
        assert_problem(
            app.signin(&user.email, "wrong password wrong 1").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    let locked = app.signin(&user.email, STRONG_PASSWORD).await;
    let retry_after: u64 = locked.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_problem(locked, 429, "too_many_attempts").await;
    app.clock.advance(Duration::seconds(retry_after as i64 + 1));
    assert_eq!(
        app.signin(&user.email, STRONG_PASSWORD).await.status(),
        200,
        "owner recovers after the back-off"
    );
}

#[tokio::test]
async fn back_off_grows_exponentially_and_is_capped() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut last = 0_u64;
    for round in 0..14 {
        let response = app.signin(&user.email, "wrong password wrong 1").await;
        if round < 5 {
            assert_eq!(response.status(), 401);
            continue;
        }
        // Wait out the lock, then fail again to grow it.
        let locked = app.signin(&user.email, "wrong password wrong 1").await;
        if locked.status() == 429 {
            let retry: u64 = locked.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(retry >= last, "{retry} < {last}");
            assert!(retry <= 900);
            last = retry;
            app.clock.advance(Duration::seconds(retry as i64 + 1));
        }
    }
    assert!(last >= 64, "back-off grew to {last}");
}

#[tokio::test]
async fn lockout_applies_to_unknown_emails_exactly_as_to_real_ones() {
    let app = spawn_app().await;
    let ghost = unique_email();
    for _ in 0..5 {
        assert_problem(
            app.signin(&ghost, "wrong password wrong 1").await,
            401,
            "invalid_credentials",
        )
        .await;
    }
    assert_problem(
        app.signin(&ghost, "wrong password wrong 1").await,
        429,
        "too_many_attempts",
    )
    .await;
}

#[tokio::test]
async fn rotating_x_forwarded_for_does_not_escape_the_account_lockout() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut statuses = Vec::new();
    for i in 0..20 {
        let response = app
            .client
            .post(app.url("/v1/signin"))
            .header("x-forwarded-for", format!("203.0.113.{i}"))
            .json(&serde_json::json!({"email": user.email, "password": "wrong password wrong 1"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
}

#[tokio::test]
async fn one_client_spraying_many_accounts_hits_the_ip_limit() {
    let app = spawn_app_with(|c| c.signin.ip_failures_per_minute = 30).await;
    let mut statuses = Vec::new();
    for _ in 0..35 {
        statuses.push(
            app.signin(&unique_email(), "Winter2026!")
                .await
                .status()
                .as_u16(),
        );
    }
    assert!(statuses[..30].iter().all(|s| *s == 401), "{statuses:?}");
    let blocked = app.signin(&unique_email(), "Winter2026!").await;
    assert!(blocked.headers().contains_key("retry-after"));
    assert_problem(blocked, 429, "too_many_attempts").await;
    app.clock.advance(Duration::seconds(61));
    assert_eq!(
        app.signin(&unique_email(), "Winter2026!").await.status(),
        401
    );
}

#[tokio::test]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_changes_neither_limit_nor_audit() {
    let app = spawn_app_with(|c| c.signin.ip_failures_per_minute = 3).await;
    for i in 0..3 {
        let response = app
            .client
            .post(app.url("/v1/signin"))
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&serde_json::json!({"email": unique_email(), "password": "whatever pass 1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    let blocked = app
        .client
        .post(app.url("/v1/signin"))
        .header("x-forwarded-for", "198.51.100.99")
        .json(&serde_json::json!({"email": unique_email(), "password": "whatever pass 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 429);
    let admin_email = unique_email();
    app.auth
        .create_user(
            &admin_email,
            STRONG_PASSWORD,
            None,
            vec![warden_core::Role::admin()],
            None,
            &Default::default(),
        )
        .await
        .unwrap();
    // The per-IP window must pass before anyone at this address can sign in again.
    app.clock.advance(Duration::seconds(61));
    let tokens = app.sign_in_ok(&admin_email, STRONG_PASSWORD).await;
    let audit: Value = app
        .get_auth("/v1/admin/audit?limit=100", &tokens.access)
        .await
        .json()
        .await
        .unwrap();
    let ips: Vec<_> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "signin")
        .map(|e| e["ip"].clone())
        .collect();
    assert!(ips.len() >= 4, "{ips:?}");
    assert!(ips.iter().all(|ip| ip == "127.0.0.1"), "{ips:?}");
}

#[tokio::test]
async fn forwarded_for_from_a_trusted_proxy_is_believed() {
    let app = spawn_app_with(|c| c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;
    let user = app.new_user().await;
    let response = app
        .client
        .post(app.url("/v1/signin"))
        .header("x-forwarded-for", "192.0.2.44")
        .json(&serde_json::json!({"email": user.email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    let tokens: Value = response.json().await.unwrap();
    let sessions: Value = app
        .get_auth("/v1/sessions", tokens["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let ips: Vec<_> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ip"].as_str().unwrap().to_owned())
        .collect();
    assert!(ips.contains(&"192.0.2.44".to_owned()), "{ips:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saturated_hashing_pool_answers_overloaded_and_validation_keeps_working() {
    let app = spawn_app_with(|c| {
        c.passwords.argon2_memory_kib = 19_456;
        c.passwords.argon2_iterations = 4;
        c.passwords.max_concurrent_hashes = Some(1);
        c.passwords.max_queued_hashes = Some(1);
        c.signin.ip_failures_per_minute = 0;
    })
    .await;
    let user = app.new_user().await;
    let emails: Vec<String> = (0..12).map(|_| unique_email()).collect();
    let storm = emails
        .iter()
        .map(|email| app.signin(email, "some password here 1"));
    let (responses, validation) =
        tokio::join!(futures::future::join_all(storm), app.validate(&user.access));
    assert_eq!(validation.status(), 200);
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert!(statuses.contains(&503), "{statuses:?}");
    let overloaded = responses.into_iter().find(|r| r.status() == 503).unwrap();
    assert_problem(overloaded, 503, "overloaded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_are_counted_exactly() {
    // Five guesses at once must count as five: the sixth attempt, even with
    // the right password, meets the lock.
    let app = spawn_app_with(|c| c.signin.lockout_base = std::time::Duration::from_secs(60)).await;
    let user = app.new_user().await;
    let guesses = (0..5).map(|_| app.signin(&user.email, "wrong password wrong 1"));
    for response in futures::future::join_all(guesses).await {
        assert_eq!(response.status(), 401);
    }
    assert_problem(
        app.signin(&user.email, STRONG_PASSWORD).await,
        429,
        "too_many_attempts",
    )
    .await;
}
