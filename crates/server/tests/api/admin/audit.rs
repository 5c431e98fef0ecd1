//! The audit log: what it records, its paging, and what it never holds.

use super::*;

#[tokio::test]
async fn the_audit_log_records_account_and_admin_actions_newest_first() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    assert_eq!(
        app.signin(&user.email, "definitely the wrong password 1")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    json_of(ban(&app, &admin, &user.user_id).await).await;
    json_of(set_roles(&app, &admin, &user.user_id, json!(["user", "billing"])).await).await;
    let unban = format!("/v1/admin/users/{}/unban", user.user_id);
    json_of(
        app.call(Method::POST, &unban, Some(&admin.access), None)
            .await,
    )
    .await;

    let page = audit_page(&app, &admin, &format!("user={}", user.user_id)).await;
    let log = entries(&page);
    let actions: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["unban", "roles_change", "ban", "signin", "signin", "signup"],
        "{page:#}"
    );
    for entry in &log {
        for field in [
            "id",
            "at",
            "actor",
            "action",
            "target",
            "ip",
            "user_agent",
            "outcome",
            "detail",
        ] {
            assert!(entry.get(field).is_some(), "{field} missing: {entry}");
        }
        assert_eq!(entry["target"], user.user_id);
        assert_eq!(entry["ip"], "127.0.0.1");
        let expected = if entry["detail"] == "wrong_password" {
            "failure"
        } else {
            "success"
        };
        assert_eq!(entry["outcome"], expected, "{entry}");
    }
    assert_eq!(
        log[4]["detail"], "wrong_password",
        "the failed guess is filed under the user"
    );
    let by_action = |action: &str| log.iter().find(|e| e["action"] == action).unwrap();
    assert_eq!(by_action("signup")["actor"], user.user_id);
    assert_eq!(by_action("signin")["actor"], user.user_id);
    assert_eq!(by_action("ban")["actor"], admin.user_id);
    assert_eq!(by_action("ban")["detail"], "spam");
    assert_eq!(by_action("roles_change")["actor"], admin.user_id);
    assert_eq!(by_action("unban")["actor"], admin.user_id);
    let detail = by_action("roles_change")["detail"].as_str().unwrap();
    assert_eq!(
        detail.split(',').map(str::to_owned).collect::<HashSet<_>>(),
        set_of(&["user", "billing"])
    );
    // Newest first: ids and times never increase.
    for pair in log.windows(2) {
        assert!(pair[0]["id"].as_str() > pair[1]["id"].as_str());
        assert!(pair[0]["at"].as_str() >= pair[1]["at"].as_str());
    }
    // The failed sign-in is in the full log, with its reason and client.
    let all = audit_page(&app, &admin, "limit=100").await;
    let failure = entries(&all)
        .into_iter()
        .find(|e| e["action"] == "signin" && e["outcome"] == "failure")
        .expect("failed sign-in audited");
    assert_eq!(failure["detail"], "wrong_password");
    assert_eq!(failure["ip"], "127.0.0.1");
    // Unknown users have an empty log.
    let none = audit_page(&app, &admin, "user=0190a000-0000-7000-8000-000000000000").await;
    assert!(none["entries"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_sign_in_on_an_existing_account_is_in_that_users_audit_log() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    assert_eq!(
        app.signin(&user.email, "definitely the wrong password 1")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let page = audit_page(&app, &admin, &format!("user={}", user.user_id)).await;
    let failure = entries(&page)
        .into_iter()
        .find(|e| e["action"] == "signin" && e["outcome"] == "failure");
    let failure = failure.unwrap_or_else(|| panic!("no failed sign-in for the user: {page:#}"));
    assert_eq!(failure["target"], user.user_id);
    assert_eq!(failure["detail"], "wrong_password");
}

#[tokio::test]
async fn the_audit_log_pages_with_a_cursor() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    for _ in 0..3 {
        app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    }
    json_of(ban(&app, &admin, &user.user_id).await).await;
    let query = format!("user={}", user.user_id);
    let everything = entries(&audit_page(&app, &admin, &query).await);
    assert_eq!(everything.len(), 5, "signup, 3 sign-ins, ban");
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let q = match &cursor {
            Some(c) => format!("{query}&limit=2&cursor={c}"),
            None => format!("{query}&limit=2"),
        };
        let page = audit_page(&app, &admin, &q).await;
        let got = entries(&page);
        assert!(got.len() <= 2);
        paged.extend(got);
        match &page["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            Value::Null => break,
            other => panic!("next_cursor is {other}"),
        }
    }
    assert!(cursor.is_some(), "more than one page");
    assert_eq!(
        paged, everything,
        "pages concatenate to the whole log, in order"
    );
}

#[tokio::test]
async fn the_audit_log_never_contains_passwords_or_tokens() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let wrong_password = "a distinctive wrong password 42!";
    let user = app.new_user().await;
    let mut secrets = vec![
        STRONG_PASSWORD.to_owned(),
        wrong_password.to_owned(),
        user.access.clone(),
        user.refresh.clone(),
        admin.access.clone(),
        admin.refresh.clone(),
    ];
    app.signin(&user.email, wrong_password).await;
    app.signin(&unique_email(), wrong_password).await;
    let second = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    let refreshed = json_of(app.refresh(&second.refresh).await).await;
    secrets.push(second.access.clone());
    secrets.push(second.refresh.clone());
    secrets.push(refreshed["access_token"].as_str().unwrap().to_owned());
    secrets.push(refreshed["refresh_token"].as_str().unwrap().to_owned());
    // Reuse, a password change attempt with the wrong password, and admin actions.
    app.refresh(&second.refresh).await;
    app.call(
        Method::POST,
        "/v1/password",
        Some(&user.access),
        Some(json!({"current_password": wrong_password, "new_password": "yet another passphrase 3#"})),
    )
    .await;
    set_roles(&app, &admin, &user.user_id, json!(["user", "billing"])).await;
    ban(&app, &admin, &user.user_id).await;
    let mut text = String::new();
    let mut cursor: Option<String> = None;
    for _ in 0..20 {
        let q = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".to_owned(),
        };
        let response = get(&app, &admin.access, &format!("/v1/admin/audit?{q}")).await;
        let body = response.text().await.unwrap();
        let page: Value = serde_json::from_str(&body).unwrap();
        text.push_str(&body);
        match &page["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            _ => break,
        }
    }
    assert!(text.contains("signin"), "{text}");
    for secret in &secrets {
        assert!(!text.contains(secret.as_str()), "audit log leaks {secret}");
        // Not even the signature part of a token.
        if let Some(signature) = secret.rsplit('.').next().filter(|_| secret.contains('.')) {
            assert!(!text.contains(signature));
        }
    }
}
