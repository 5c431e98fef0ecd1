//! The admin API: authorization, user listing, bans, roles, deletion and the
//! audit log (contract admin table, security checklist 42-43), plus the
//! session IDOR check.

use std::collections::HashSet;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use warden_testkit::{STRONG_PASSWORD, TestApp, Tokens, assert_problem, spawn_app, unique_email};

async fn json_of(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn get(app: &TestApp, token: &str, path: &str) -> Response {
    app.get_auth(path, token).await
}

async fn ban(app: &TestApp, admin: &Tokens, user_id: &str) -> Response {
    app.call(
        Method::POST,
        &format!("/v1/admin/users/{user_id}/ban"),
        Some(&admin.access),
        Some(json!({"reason": "spam"})),
    )
    .await
}

async fn set_roles(app: &TestApp, admin: &Tokens, user_id: &str, roles: Value) -> Response {
    app.call(
        Method::PUT,
        &format!("/v1/admin/users/{user_id}/roles"),
        Some(&admin.access),
        Some(json!({ "roles": roles })),
    )
    .await
}

/// `roles` of a token, as `/v1/validate` reports them.
async fn token_roles(app: &TestApp, access: &str) -> HashSet<String> {
    let body = json_of(app.validate(access).await).await;
    body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

fn set_of(roles: &[&str]) -> HashSet<String> {
    roles.iter().map(|r| (*r).to_owned()).collect()
}

fn roles_in(user: &Value) -> HashSet<String> {
    user["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

/// Every admin endpoint, acting on `target`.
fn admin_endpoints(target: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/v1/admin/users".into(), None),
        (Method::GET, "/v1/admin/users?limit=5&q=a".into(), None),
        (Method::GET, format!("/v1/admin/users/{target}"), None),
        (
            Method::POST,
            format!("/v1/admin/users/{target}/ban"),
            Some(json!({"reason": "x"})),
        ),
        (
            Method::POST,
            format!("/v1/admin/users/{target}/unban"),
            None,
        ),
        (
            Method::PUT,
            format!("/v1/admin/users/{target}/roles"),
            Some(json!({"roles": ["admin"]})),
        ),
        (Method::DELETE, format!("/v1/admin/users/{target}"), None),
        (Method::GET, "/v1/admin/audit".into(), None),
        (Method::GET, format!("/v1/admin/audit?user={target}"), None),
    ]
}

// ----- authorization (checklist 43) -----

#[tokio::test]
async fn a_non_admin_is_forbidden_on_every_admin_endpoint() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let victim = app.new_user().await;
    for target in [&victim.user_id, &user.user_id] {
        for (method, path, body) in admin_endpoints(target) {
            let response = app
                .call(method.clone(), &path, Some(&user.access), body)
                .await;
            let problem = assert_problem(response, 403, "forbidden").await;
            assert!(
                !problem.to_string().contains(&victim.email),
                "{method} {path}"
            );
        }
    }
    // Nothing happened to anyone.
    assert_eq!(app.validate(&victim.access).await.status(), StatusCode::OK);
    assert_eq!(token_roles(&app, &user.access).await, set_of(&["user"]));
    let me = json_of(app.get_auth("/v1/me", &user.access).await).await;
    assert_eq!(roles_in(&me), set_of(&["user"]));
    assert_eq!(me["status"], "active");
}

#[tokio::test]
async fn admin_endpoints_without_a_valid_token_answer_401() {
    let app = spawn_app().await;
    let victim = app.new_user().await;
    for (method, path, body) in admin_endpoints(&victim.user_id) {
        let response = app.call(method.clone(), &path, None, body.clone()).await;
        assert_problem(response, 401, "invalid_token").await;
        let response = app
            .call(method.clone(), &path, Some("not.a.token"), body.clone())
            .await;
        assert_problem(response, 401, "invalid_token").await;
        let response = app.call(method, &path, Some(&victim.refresh), body).await;
        assert_problem(response, 401, "invalid_token").await;
    }
    assert_eq!(app.validate(&victim.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_admin_demoted_to_user_loses_admin_access_at_once() {
    let app = spawn_app().await;
    let boss = app.new_admin().await;
    let demoted = app.new_admin().await;
    assert_eq!(
        get(&app, &demoted.access, "/v1/admin/users").await.status(),
        StatusCode::OK
    );
    let response = set_roles(&app, &boss, &demoted.user_id, json!(["user"])).await;
    assert_eq!(roles_in(&json_of(response).await), set_of(&["user"]));
    // Their token still says admin ...
    assert!(token_roles(&app, &demoted.access).await.contains("admin"));
    // ... but the admin API asks the store.
    for (method, path, body) in admin_endpoints(&boss.user_id) {
        let response = app.call(method, &path, Some(&demoted.access), body).await;
        assert_problem(response, 403, "forbidden").await;
    }
    let boss_me = json_of(app.get_auth("/v1/me", &boss.access).await).await;
    assert!(roles_in(&boss_me).contains("admin"));
}

// ----- listing -----

async fn signup_as(app: &TestApp, email: &str) -> String {
    let response = app.signup(email, STRONG_PASSWORD).await;
    json_of(response).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_user_list_pages_through_everyone_exactly_once() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let mut expected = HashSet::from([admin.user_id.clone()]);
    for _ in 0..7 {
        expected.insert(app.new_user().await.user_id);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/admin/users?limit=3&cursor={c}"),
            None => "/v1/admin/users?limit=3".to_owned(),
        };
        let page = json_of(get(&app, &admin.access, &path).await).await;
        let users = page["users"].as_array().unwrap();
        assert!(users.len() <= 3, "{page}");
        for user in users {
            assert!(user["id"].is_string() && user["email"].is_string());
            assert!(user.get("password_hash").is_none() && user.get("password").is_none());
            seen.push(user["id"].as_str().unwrap().to_owned());
        }
        pages += 1;
        assert!(pages <= 10, "paging does not end");
        match &page["next_cursor"] {
            Value::Null => break,
            Value::String(next) => {
                assert_eq!(users.len(), 3, "only a full page has a next page");
                cursor = Some(next.clone());
            }
            other => panic!("next_cursor is {other}"),
        }
    }
    assert_eq!(pages, 3);
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "duplicates across pages: {seen:?}"
    );
    assert_eq!(unique, expected);
    // Without a limit everyone fits in one page.
    let page = json_of(get(&app, &admin.access, "/v1/admin/users").await).await;
    assert_eq!(page["users"].as_array().unwrap().len(), 8);
    assert!(page["next_cursor"].is_null());
}

#[tokio::test]
async fn the_user_list_filters_by_a_search_term() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let marker = format!("needle{}", &uuid_like()[..8]);
    let mut wanted = HashSet::new();
    for i in 0..3 {
        wanted.insert(signup_as(&app, &format!("{marker}-{i}@example.com")).await);
    }
    for _ in 0..3 {
        app.new_user().await;
    }
    let ids = |page: &Value| -> HashSet<String> {
        page["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let page =
        json_of(get(&app, &admin.access, &format!("/v1/admin/users?q={marker}")).await).await;
    assert_eq!(ids(&page), wanted);
    let upper = marker.to_uppercase();
    let page = json_of(get(&app, &admin.access, &format!("/v1/admin/users?q={upper}")).await).await;
    assert_eq!(ids(&page), wanted, "e-mail search is case-insensitive");
    // LIKE wildcards are taken literally.
    for q in ["%25", "_", "%25%25"] {
        let page = json_of(get(&app, &admin.access, &format!("/v1/admin/users?q={q}")).await).await;
        assert!(ids(&page).is_empty(), "q={q}: {page}");
    }
    let page = json_of(
        get(
            &app,
            &admin.access,
            "/v1/admin/users?q=no-such-user-anywhere",
        )
        .await,
    )
    .await;
    assert!(ids(&page).is_empty() && page["next_cursor"].is_null());
}

fn uuid_like() -> String {
    unique_email()
        .trim_start_matches("user-")
        .split('@')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn bad_paging_parameters_are_400_invalid_request() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=x",
        "limit=1.5",
        "limit=",
        "limit=99999999999",
        "cursor=not-a-cursor",
        "cursor=",
        "cursor=%27%20OR%201%3D1--",
        "unknown=1",
    ] {
        let response = get(&app, &admin.access, &format!("/v1/admin/users?{query}")).await;
        assert_problem(response, 400, "invalid_request").await;
    }
    for query in [
        "limit=0",
        "limit=101",
        "limit=x",
        "cursor=nope",
        "user=nope",
    ] {
        let response = get(&app, &admin.access, &format!("/v1/admin/audit?{query}")).await;
        assert_problem(response, 400, "invalid_request").await;
    }
    for query in ["limit=1", "limit=100"] {
        let response = get(&app, &admin.access, &format!("/v1/admin/users?{query}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{query}");
    }
}

#[tokio::test]
async fn one_user_is_shown_with_their_sessions_and_unknown_ids_are_404() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    let second = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    let body = json_of(
        get(
            &app,
            &admin.access,
            &format!("/v1/admin/users/{}", user.user_id),
        )
        .await,
    )
    .await;
    assert_eq!(body["id"], user.user_id);
    assert_eq!(body["email"], user.email);
    assert_eq!(body["status"], "active");
    let sessions: HashSet<String> = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        sessions,
        HashSet::from([user.session_id.clone(), second.session_id.clone()])
    );
    let text = body.to_string();
    assert!(!text.contains(&user.refresh) && !text.contains(STRONG_PASSWORD));
    for id in [
        "0190a000-0000-7000-8000-000000000000",
        "not-a-uuid",
        "1%20OR%201%3D1",
        &second.session_id,
    ] {
        let response = get(&app, &admin.access, &format!("/v1/admin/users/{id}")).await;
        assert_problem(response, 404, "not_found").await;
    }
    for (method, suffix, body) in [
        (Method::POST, "/ban", None),
        (Method::POST, "/unban", None),
        (Method::PUT, "/roles", Some(json!({"roles": ["user"]}))),
        (Method::DELETE, "", None),
    ] {
        let path = format!("/v1/admin/users/0190a000-0000-7000-8000-000000000000{suffix}");
        let response = app.call(method, &path, Some(&admin.access), body).await;
        assert_problem(response, 404, "not_found").await;
    }
}

// ----- ban (checklist 42) -----

#[tokio::test]
async fn a_ban_revokes_live_tokens_and_refresh_and_blocks_sign_in_at_once() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    let other_session = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    let bystander = app.new_user().await;
    // Validated once first, so the tokens sit in the verified-token cache.
    assert_eq!(app.validate(&user.access).await.status(), StatusCode::OK);
    assert_eq!(
        app.get_auth("/v1/verify", &other_session.access)
            .await
            .status(),
        StatusCode::OK
    );
    let banned = json_of(ban(&app, &admin, &user.user_id).await).await;
    assert_eq!(banned["status"], "banned");
    for access in [&user.access, &other_session.access] {
        assert_problem(app.validate(access).await, 401, "token_revoked").await;
        assert_problem(
            app.get_auth("/v1/verify", access).await,
            401,
            "token_revoked",
        )
        .await;
        assert_problem(app.get_auth("/v1/me", access).await, 401, "token_revoked").await;
    }
    for refresh in [&user.refresh, &other_session.refresh] {
        let response = app.refresh(refresh).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_problem(
        app.signin(&user.email, STRONG_PASSWORD).await,
        403,
        "account_banned",
    )
    .await;
    // Still refused later on, and after housekeeping reloads the deny-list.
    app.clock.advance(chrono::Duration::minutes(5));
    app.auth.housekeeping().await.unwrap();
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
    // Other users are untouched.
    assert_eq!(
        app.validate(&bystander.access).await.status(),
        StatusCode::OK
    );
    let shown = json_of(
        get(
            &app,
            &admin.access,
            &format!("/v1/admin/users/{}", user.user_id),
        )
        .await,
    )
    .await;
    assert_eq!(shown["status"], "banned");
    assert_eq!(shown["sessions"], json!([]), "every session was revoked");
}

#[tokio::test]
async fn an_unbanned_user_can_sign_in_again_but_old_sessions_stay_revoked() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    json_of(ban(&app, &admin, &user.user_id).await).await;
    // Revocations have second granularity (`iat`): let the ban's second pass.
    app.clock.advance(chrono::Duration::seconds(2));
    let response = app
        .call(
            Method::POST,
            &format!("/v1/admin/users/{}/unban", user.user_id),
            Some(&admin.access),
            None,
        )
        .await;
    assert_eq!(json_of(response).await["status"], "active");
    let fresh = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    assert_eq!(app.validate(&fresh.access).await.status(), StatusCode::OK);
    assert_eq!(app.refresh(&fresh.refresh).await.status(), StatusCode::OK);
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
    assert_eq!(
        app.refresh(&user.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_admin_cannot_ban_or_delete_themselves() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    assert_problem(
        ban(&app, &admin, &admin.user_id).await,
        400,
        "invalid_request",
    )
    .await;
    let response = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/users/{}", admin.user_id),
            Some(&admin.access),
            None,
        )
        .await;
    assert_problem(response, 400, "invalid_request").await;
    assert_eq!(app.validate(&admin.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_banned_admin_loses_admin_access() {
    let app = spawn_app().await;
    let boss = app.new_admin().await;
    let rogue = app.new_admin().await;
    json_of(ban(&app, &boss, &rogue.user_id).await).await;
    let response = get(&app, &rogue.access, "/v1/admin/users").await;
    assert_problem(response, 401, "token_revoked").await;
}

// ----- roles -----

#[tokio::test]
async fn a_role_change_shows_at_once_and_reaches_the_token_at_the_next_refresh() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    let response = set_roles(&app, &admin, &user.user_id, json!(["user", "billing"])).await;
    assert_eq!(
        roles_in(&json_of(response).await),
        set_of(&["user", "billing"])
    );
    let shown = json_of(
        get(
            &app,
            &admin.access,
            &format!("/v1/admin/users/{}", user.user_id),
        )
        .await,
    )
    .await;
    assert_eq!(roles_in(&shown), set_of(&["user", "billing"]));
    let me = json_of(app.get_auth("/v1/me", &user.access).await).await;
    assert_eq!(roles_in(&me), set_of(&["user", "billing"]));
    // The live token keeps its roles until it is refreshed.
    assert_eq!(token_roles(&app, &user.access).await, set_of(&["user"]));
    let verify = app.get_auth("/v1/verify?role=billing", &user.access).await;
    assert_problem(verify, 403, "forbidden").await;
    let refreshed = json_of(app.refresh(&user.refresh).await).await;
    let access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(
        token_roles(&app, access).await,
        set_of(&["user", "billing"])
    );
    let verify = app.get_auth("/v1/verify?role=billing", access).await;
    assert_eq!(verify.status(), StatusCode::OK);
    let roles = verify.headers()["x-warden-roles"].to_str().unwrap();
    assert_eq!(
        roles.split(',').map(str::to_owned).collect::<HashSet<_>>(),
        set_of(&["user", "billing"])
    );
    // Duplicates collapse.
    let response = set_roles(&app, &admin, &user.user_id, json!(["user", "user"])).await;
    assert_eq!(json_of(response).await["roles"], json!(["user"]));
}

#[tokio::test]
async fn invalid_role_names_are_400_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    let too_many: Vec<String> = (0..33).map(|i| format!("r{i}")).collect();
    for roles in [
        json!(["Admin"]),
        json!([""]),
        json!(["a b"]),
        json!(["admin\n"]),
        json!(["röle"]),
        json!(["x".repeat(33)]),
        json!(too_many),
        json!(["user", 1]),
        json!([null]),
        json!("admin"),
        json!(null),
    ] {
        let response = set_roles(&app, &admin, &user.user_id, roles.clone()).await;
        assert_problem(response, 400, "invalid_request").await;
    }
    let response = app
        .call(
            Method::PUT,
            &format!("/v1/admin/users/{}/roles", user.user_id),
            Some(&admin.access),
            Some(json!({"roles": ["user"], "admin": true})),
        )
        .await;
    assert_problem(response, 400, "invalid_request").await;
    let response = app
        .call(
            Method::PUT,
            &format!("/v1/admin/users/{}/roles", user.user_id),
            Some(&admin.access),
            None,
        )
        .await;
    assert_problem(response, 400, "invalid_request").await;
    let me = json_of(app.get_auth("/v1/me", &user.access).await).await;
    assert_eq!(roles_in(&me), set_of(&["user"]));
}

// ----- delete -----

#[tokio::test]
async fn a_deleted_user_is_gone_and_their_tokens_stop_working() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    let path = format!("/v1/admin/users/{}", user.user_id);
    assert_eq!(app.validate(&user.access).await.status(), StatusCode::OK);
    let response = app
        .call(Method::DELETE, &path, Some(&admin.access), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(get(&app, &admin.access, &path).await, 404, "not_found").await;
    let response = app
        .call(Method::DELETE, &path, Some(&admin.access), None)
        .await;
    assert_problem(response, 404, "not_found").await;
    let response = app.validate(&user.access).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app.get_auth("/v1/verify", &user.access).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app.get_auth("/v1/me", &user.access).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.refresh(&user.refresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_problem(
        app.signin(&user.email, STRONG_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    let list = json_of(get(&app, &admin.access, "/v1/admin/users").await).await;
    assert!(!list.to_string().contains(&user.user_id));
    // The deletion stays in the audit log.
    let log = audit_page(&app, &admin, &format!("user={}", user.user_id)).await;
    let deletion = entries(&log)
        .into_iter()
        .next()
        .expect("audit entries survive the user");
    assert_eq!(deletion["action"], "delete");
    assert_eq!(deletion["actor"], admin.user_id);
    assert_eq!(deletion["target"], user.user_id);
}

// ----- audit log -----

async fn audit_page(app: &TestApp, admin: &Tokens, query: &str) -> Value {
    json_of(get(app, &admin.access, &format!("/v1/admin/audit?{query}")).await).await
}

fn entries(page: &Value) -> Vec<Value> {
    page["entries"].as_array().unwrap().clone()
}

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

// ----- session IDOR (checklist 43) -----

#[tokio::test]
async fn a_user_cannot_revoke_another_users_session() {
    let app = spawn_app().await;
    let alice = app.new_user().await;
    let bob = app.new_user().await;
    let response = app
        .call(
            Method::DELETE,
            &format!("/v1/sessions/{}", bob.session_id),
            Some(&alice.access),
            None,
        )
        .await;
    assert_problem(response, 404, "not_found").await;
    // Bob's session is untouched.
    assert_eq!(app.validate(&bob.access).await.status(), StatusCode::OK);
    let sessions = json_of(app.get_auth("/v1/sessions", &bob.access).await).await;
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(app.refresh(&bob.refresh).await.status(), StatusCode::OK);
    // Alice's listing never shows Bob's sessions.
    let mine = json_of(app.get_auth("/v1/sessions", &alice.access).await).await;
    assert!(!mine.to_string().contains(&bob.session_id));
    // Garbage ids are plain 404s too.
    for id in ["not-a-uuid", &bob.user_id] {
        let response = app
            .call(
                Method::DELETE,
                &format!("/v1/sessions/{id}"),
                Some(&alice.access),
                None,
            )
            .await;
        assert_problem(response, 404, "not_found").await;
    }
    // Alice can revoke her own.
    let response = app
        .call(
            Method::DELETE,
            &format!("/v1/sessions/{}", alice.session_id),
            Some(&alice.access),
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(app.validate(&alice.access).await, 401, "token_revoked").await;
}

/// The ban's user-wide entry covers every token issued up to the end of the
/// ban's second (`iat` has whole seconds). After an unban in that same
/// second, a fresh sign-in's token carries that `iat` too: it must keep
/// working once the revocation feed replays the ban (every second, on every
/// instance), and after the periodic upkeep.
#[tokio::test]
async fn a_sign_in_right_after_an_unban_yields_a_token_that_keeps_working() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    // Settle the feed's cursor before the ban, as the server's follower does.
    app.auth.follow_revocations().await.unwrap();
    let millis = {
        use warden_core::ports::Clock as _;
        i64::from(app.clock.now().timestamp_subsec_millis())
    };
    app.clock
        .advance(chrono::Duration::milliseconds((1100 - millis) % 1000));
    json_of(ban(&app, &admin, &user.user_id).await).await;
    app.clock.advance(chrono::Duration::milliseconds(300));
    let unban = format!("/v1/admin/users/{}/unban", user.user_id);
    json_of(
        app.call(Method::POST, &unban, Some(&admin.access), None)
            .await,
    )
    .await;
    app.clock.advance(chrono::Duration::milliseconds(200));
    let fresh = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    assert_eq!(app.validate(&fresh.access).await.status(), StatusCode::OK);
    // The feed replays the ban (the unban carries no revocation) ...
    app.auth.follow_revocations().await.unwrap();
    let response = app.validate(&fresh.access).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "{}",
        response.text().await.unwrap()
    );
    // ... and so does a restart's snapshot or the upkeep's reload.
    app.auth.housekeeping().await.unwrap();
    assert_eq!(app.validate(&fresh.access).await.status(), StatusCode::OK);
    // The old session stays revoked.
    assert_problem(app.validate(&user.access).await, 401, "token_revoked").await;
}
