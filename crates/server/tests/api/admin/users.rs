//! Listing, showing and deleting users.

use super::*;

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
