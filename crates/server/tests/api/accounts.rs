//! Sign-up, sign-in, sign-out, /v1/me, sessions and password change.

use reqwest::Method;
use serde_json::{Value, json};
use warden_testkit::{STRONG_PASSWORD, assert_problem, spawn_app, unique_email};

#[tokio::test]
async fn signup_creates_an_account_and_returns_a_working_token_pair() {
    let app = spawn_app().await;
    let email = unique_email();
    let response = app
        .post(
            "/v1/signup",
            json!({"email": email.to_uppercase(), "password": STRONG_PASSWORD, "username": "Alice"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], email, "stored lower-cased");
    assert_eq!(body["user"]["username"], "Alice");
    assert_eq!(body["user"]["roles"], json!(["user"]));
    assert_eq!(body["user"]["status"], "active");
    assert_eq!(body["tokens"]["token_type"], "Bearer");
    assert_eq!(body["tokens"]["expires_in"], 900);
    assert!(
        body["tokens"]["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("wrt_")
    );
    let access = body["tokens"]["access_token"].as_str().unwrap();
    let me: Value = app.get_auth("/v1/me", access).await.json().await.unwrap();
    assert_eq!(me["id"], body["user"]["id"]);
    assert_eq!(me["email"], email);
}

#[tokio::test]
async fn signing_up_twice_with_one_email_in_any_case_is_a_conflict() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_eq!(app.signup(&email, STRONG_PASSWORD).await.status(), 201);
    let again = app.signup(&email.to_uppercase(), STRONG_PASSWORD).await;
    assert_problem(again, 409, "email_taken").await;
}

#[tokio::test]
async fn guessable_and_short_passwords_are_refused_with_weak_password() {
    let app = spawn_app().await;
    for password in [
        "password",
        "12345678",
        "qwertyuiopasdfgh",
        "password123456789",
        "short1!",
    ] {
        let response = app.signup(&unique_email(), password).await;
        assert_eq!(response.status(), 422, "{password}");
        assert_problem(response, 422, "weak_password").await;
    }
    // Context words: the username, and the service's own name.
    for password in ["quentinblakeley-warden", "wardenwardenwarden"] {
        let context = app
            .post(
                "/v1/signup",
                json!({"email": unique_email(), "password": password, "username": "quentinblakeley"}),
            )
            .await;
        assert_problem(context, 422, "weak_password").await;
    }
}

#[tokio::test]
async fn passphrases_long_passwords_and_unicode_are_accepted() {
    let app = spawn_app().await;
    for password in [
        "correct horse battery staple",
        "pässwörd ☃ ünïcode lång",
        &"Zebra-Quartz-9 ".repeat(5)[..64],
        &"Zebra-Quartz-9 ".repeat(9)[..128],
    ] {
        let email = unique_email();
        assert_eq!(
            app.signup(&email, password).await.status(),
            201,
            "{password}"
        );
        assert_eq!(
            app.signin(&email, password).await.status(),
            200,
            "{password}"
        );
    }
}

#[tokio::test]
async fn a_password_signed_up_in_nfc_signs_in_with_its_nfd_form() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_eq!(
        app.signup(&email, "pässwörd ☃ ünïcode lång").await.status(),
        201
    );
    let nfd = "pa\u{308}sswo\u{308}rd ☃ u\u{308}ni\u{308}code la\u{30a}ng";
    assert_eq!(app.signin(&email, nfd).await.status(), 200);
}

#[tokio::test]
async fn passwords_are_checked_whole_without_truncation_or_case_folding() {
    let app = spawn_app().await;
    let email = unique_email();
    let password: String = "Tr0ub4dor&3-horse-".repeat(6)[..100].to_owned();
    assert_eq!(app.signup(&email, &password).await.status(), 201);
    for wrong in [
        password[..72].to_owned(),
        format!("{password}x"),
        password.to_uppercase(),
    ] {
        assert_problem(app.signin(&email, &wrong).await, 401, "invalid_credentials").await;
    }
    assert_eq!(app.signin(&email, &password).await.status(), 200);
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_identical_answers() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let wrong = app.signin(&user.email, "not the password at all 1").await;
    let unknown = app
        .signin(&unique_email(), "not the password at all 1")
        .await;
    assert_eq!(wrong.status(), unknown.status());
    let mut headers_a: Vec<_> = wrong
        .headers()
        .iter()
        .filter(|(k, _)| *k != "date")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    let mut headers_b: Vec<_> = unknown
        .headers()
        .iter()
        .filter(|(k, _)| *k != "date")
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    headers_a.sort();
    headers_b.sort();
    assert_eq!(headers_a, headers_b);
    assert_eq!(wrong.text().await.unwrap(), unknown.text().await.unwrap());
}

#[tokio::test]
async fn default_admin_accounts_do_not_exist() {
    let app = spawn_app().await;
    for (email, password) in [
        ("admin@localhost.localdomain", "admin"),
        ("admin@example.com", "password"),
        ("root@example.com", "root"),
    ] {
        assert_problem(
            app.signin(email, password).await,
            401,
            "invalid_credentials",
        )
        .await;
    }
}

#[tokio::test]
async fn signout_revokes_the_session_and_its_tokens() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = app
        .call(Method::POST, "/v1/signout", Some(&user.access), None)
        .await;
    assert_eq!(response.status(), 204);
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
    assert_problem(app.refresh(&user.refresh).await, 401, "session_revoked").await;
    assert_problem(
        app.get_auth("/v1/me", &user.access).await,
        401,
        "token_revoked",
    )
    .await;
}

#[tokio::test]
async fn signout_with_only_the_refresh_token_revokes_the_session() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = app
        .post("/v1/signout", json!({"refresh_token": user.refresh}))
        .await;
    assert_eq!(response.status(), 204);
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
    let garbage = app
        .post("/v1/signout", json!({"refresh_token": "wrt_nope"}))
        .await;
    assert_problem(garbage, 401, "invalid_refresh_token").await;
    let nothing = app.call(Method::POST, "/v1/signout", None, None).await;
    assert_problem(nothing, 401, "invalid_token").await;
}

#[tokio::test]
async fn signout_all_revokes_every_session_of_the_user_only() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let second = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    let other = app.new_user().await;
    let response = app
        .call(Method::POST, "/v1/signout/all", Some(&user.access), None)
        .await;
    assert_eq!(response.status(), 204);
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
    assert_problem(app.validate(&second.access).await, 401, "token_revoked").await;
    assert_problem(app.refresh(&second.refresh).await, 401, "session_revoked").await;
    assert_eq!(app.validate(&other.access).await.status(), 200);
    let unauthenticated = app.call(Method::POST, "/v1/signout/all", None, None).await;
    assert_problem(unauthenticated, 401, "invalid_token").await;
}

#[tokio::test]
async fn me_requires_a_valid_token() {
    let app = spawn_app().await;
    assert_problem(
        app.call(Method::GET, "/v1/me", None, None).await,
        401,
        "invalid_token",
    )
    .await;
    assert_problem(
        app.get_auth("/v1/me", "garbage").await,
        401,
        "invalid_token",
    )
    .await;
}

#[tokio::test]
async fn sessions_are_listed_with_the_current_one_marked_and_can_be_revoked() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let second = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    let body: Value = app
        .get_auth("/v1/sessions", &user.access)
        .await
        .json()
        .await
        .unwrap();
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], user.session_id);
    assert_eq!(current[0]["ip"], "127.0.0.1");
    for field in ["created_at", "last_used_at", "expires_at"] {
        assert!(current[0][field].is_string(), "{field}");
    }

    let path = format!("/v1/sessions/{}", second.session_id);
    assert_eq!(
        app.call(Method::DELETE, &path, Some(&user.access), None)
            .await
            .status(),
        204
    );
    assert_problem(app.validate(&second.access).await, 401, "token_revoked").await;
    assert_problem(app.refresh(&second.refresh).await, 401, "session_revoked").await;
    assert_eq!(app.validate(&user.access).await.status(), 200);
    let again = app
        .call(Method::DELETE, &path, Some(&user.access), None)
        .await;
    assert_problem(again, 404, "not_found").await;
    let bogus = app
        .call(
            Method::DELETE,
            "/v1/sessions/not-a-uuid",
            Some(&user.access),
            None,
        )
        .await;
    assert_problem(bogus, 404, "not_found").await;
}

#[tokio::test]
async fn changing_the_password_revokes_the_other_sessions_only() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let other = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    let new_password = "a brand new passphrase for warden 42";
    let response = app
        .call(
            Method::POST,
            "/v1/password",
            Some(&user.access),
            Some(json!({"current_password": STRONG_PASSWORD, "new_password": new_password})),
        )
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(app.validate(&user.access).await.status(), 200);
    assert_problem(app.validate(&other.access).await, 401, "token_revoked").await;
    assert_problem(app.refresh(&other.refresh).await, 401, "session_revoked").await;
    assert_problem(
        app.signin(&user.email, STRONG_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(app.signin(&user.email, new_password).await.status(), 200);
}

#[tokio::test]
async fn a_password_change_needs_the_current_password_and_a_strong_new_one() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let wrong = app
        .call(
            Method::POST,
            "/v1/password",
            Some(&user.access),
            Some(json!({"current_password": "wrong wrong wrong 1", "new_password": "another fine passphrase 77"})),
        )
        .await;
    assert_problem(wrong, 401, "invalid_credentials").await;
    let weak = app
        .call(
            Method::POST,
            "/v1/password",
            Some(&user.access),
            Some(json!({"current_password": STRONG_PASSWORD, "new_password": "password"})),
        )
        .await;
    assert_problem(weak, 422, "weak_password").await;
    let anonymous = app
        .post(
            "/v1/password",
            json!({"current_password": STRONG_PASSWORD, "new_password": "another fine passphrase 77"}),
        )
        .await;
    assert_problem(anonymous, 401, "invalid_token").await;
    assert_eq!(app.signin(&user.email, STRONG_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn password_hashes_are_argon2id_and_upgraded_on_sign_in_when_parameters_change() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let phc = stored_hash(&app, &user.email).await;
    assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
    let salt = phc.split('$').nth(4).unwrap();
    assert!(salt.len() >= 22, "salt of at least 16 bytes");

    let mut config = app.config.clone();
    config.passwords.argon2_memory_kib = 2048;
    let mut app = app;
    app.stop().await;
    let upgraded = warden_testkit::spawn_app_with(|c| {
        *c = config;
    })
    .await;
    assert_eq!(
        upgraded.signin(&user.email, STRONG_PASSWORD).await.status(),
        200
    );
    let phc = stored_hash(&upgraded, &user.email).await;
    assert!(phc.starts_with("$argon2id$v=19$m=2048,t=1,p=1$"), "{phc}");
    assert_eq!(
        upgraded.signin(&user.email, STRONG_PASSWORD).await.status(),
        200
    );
}

async fn stored_hash(app: &warden_testkit::TestApp, email: &str) -> String {
    app.stored_password_hash(email).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_twenty_concurrent_sign_ups_with_one_email_exactly_one_succeeds() {
    let app = spawn_app().await;
    let email = unique_email();
    let attempts = (0..20).map(|i| {
        // Differently cased, so the store's uniqueness is on the canonical form.
        let email = if i % 2 == 0 {
            email.clone()
        } else {
            email.to_uppercase()
        };
        let app = &app;
        async move { app.signup(&email, STRONG_PASSWORD).await }
    });
    let mut created = 0;
    let mut taken = 0;
    for response in futures::future::join_all(attempts).await {
        match response.status().as_u16() {
            201 => created += 1,
            409 => {
                let body: serde_json::Value = response.json().await.unwrap();
                assert_eq!(body["code"], "email_taken");
                taken += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((created, taken), (1, 19));
    assert_eq!(app.signin(&email, STRONG_PASSWORD).await.status(), 200);
}
