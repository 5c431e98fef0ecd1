//! Bans (checklist 42), unbans and role changes, and how fast each one bites.

use super::*;

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
