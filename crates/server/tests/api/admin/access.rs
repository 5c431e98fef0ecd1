//! Who may use the admin API (checklist 43), and the session IDOR check.

use super::*;

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
