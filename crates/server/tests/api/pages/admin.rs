//! The admin console over HTTP (no browser): who may see it, the
//! confirmation step of every change, CSRF, what each change does to the
//! account and its live tokens, the audit page's filters and CSV, and the
//! apps. `browser.rs` walks the same pages in chromium with axe-core.

use reqwest::{Response, StatusCode};
use serde_json::Value;
use warden_testkit::{MailKind, STRONG_PASSWORD, TestApp, Tokens, spawn_app, spawn_app_with};

use super::{Jar, get, location, post_form, signed_in, visitor};

/// An admin signed in through the pages: their API tokens and the browser.
async fn admin_browser(app: &TestApp) -> (Tokens, Jar) {
    let admin = app.new_admin().await;
    let mut jar = visitor(app).await;
    let response = post_form(
        app,
        "/signin",
        &mut jar,
        &[("email", &admin.email), ("password", STRONG_PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), 303);
    (admin, jar)
}

async fn text(response: Response) -> String {
    response.text().await.unwrap()
}

async fn page(app: &TestApp, path: &str, jar: &mut Jar) -> String {
    let response = get(app, path, jar).await;
    assert_eq!(response.status(), 200, "{path}");
    text(response).await
}

async fn status_of(app: &TestApp, user_id: &str) -> String {
    let response = app
        .get_auth(
            &format!("/v1/admin/users/{user_id}"),
            &app.new_admin().await.access,
        )
        .await;
    if response.status() == StatusCode::NOT_FOUND {
        return "deleted".to_owned();
    }
    let body: Value = response.json().await.unwrap();
    body["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn signed_out_visitors_go_to_sign_in_and_non_admins_are_turned_away() {
    let app = spawn_app().await;
    for path in ["/admin", "/admin/users", "/admin/audit", "/admin/clients"] {
        let mut jar = Jar::default();
        let response = get(&app, path, &mut jar).await;
        assert_eq!(response.status(), 303, "{path}");
        let rd: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        assert_eq!(location(&response), format!("/signin?rd={rd}"), "{path}");
    }
    let (_, mut jar) = signed_in(&app).await;
    for path in ["/admin", "/admin/users", "/admin/audit", "/admin/audit.csv"] {
        let response = get(&app, path, &mut jar).await;
        assert_eq!(response.status(), 403, "{path}");
        assert!(text(response).await.contains("Admins only"), "{path}");
    }
    // A change posted by a non-admin changes nothing either.
    let victim = app.new_user().await;
    let response = post_form(
        &app,
        &format!("/admin/users/{}/ban", victim.user_id),
        &mut jar,
        &[("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 403);
    assert_eq!(status_of(&app, &victim.user_id).await, "active");
}

#[tokio::test]
async fn an_admin_without_a_second_factor_is_sent_to_set_one_up_when_required() {
    let app = spawn_app_with(|c| c.mfa.required_for_roles = vec!["admin".into()]).await;
    let (_, mut jar) = admin_browser(&app).await;
    let response = get(&app, "/admin/users", &mut jar).await;
    assert_eq!(response.status(), 403);
    let body = text(response).await;
    assert!(
        body.contains("Set up two-step verification first"),
        "{body}"
    );
    assert!(body.contains("href=\"/account\""), "{body}");
}

#[tokio::test]
async fn users_are_searched_and_paged() {
    let app = spawn_app().await;
    let (admin, mut jar) = admin_browser(&app).await;
    let mut emails = vec![admin.email.clone()];
    for _ in 0..3 {
        emails.push(app.new_user().await.email);
    }
    let all = page(&app, "/admin/users", &mut jar).await;
    for email in &emails {
        assert!(all.contains(email.as_str()), "{email} listed");
    }
    let one = page(&app, &format!("/admin/users?q={}", emails[2]), &mut jar).await;
    assert!(one.contains(emails[2].as_str()));
    assert!(!one.contains(emails[1].as_str()), "search narrows the list");
    let none = page(&app, "/admin/users?q=nobody-matches", &mut jar).await;
    assert!(none.contains("No user matches"), "{none}");
    let response = get(&app, "/admin/users?cursor=not-a-cursor", &mut jar).await;
    assert_eq!(response.status(), 400);
    // 55 more users: the first page holds 50 and links to the next.
    for _ in 0..55 {
        app.new_user().await;
    }
    let first = page(&app, "/admin/users", &mut jar).await;
    assert_eq!(first.matches("href=\"/admin/users/").count(), 50);
    let before_next = first.split("\" rel=\"next\"").next().unwrap();
    let next = before_next
        .rsplit("href=\"")
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let second = page(&app, &next, &mut jar).await;
    assert_eq!(second.matches("href=\"/admin/users/").count(), 9);
    assert!(second.contains("First page"));
}

#[tokio::test]
async fn every_change_asks_first_and_only_the_confirmed_post_changes_anything() {
    let app = spawn_app().await;
    let (admin, mut jar) = admin_browser(&app).await;
    let user = app.new_user().await;
    let path = format!("/admin/users/{}", user.user_id);
    let shown = page(&app, &path, &mut jar).await;
    assert!(shown.contains(user.email.as_str()));
    assert!(shown.contains("Signed in on 1 device(s)"), "{shown}");

    // Ban: the first post is the confirmation page; nothing changed yet.
    let response = post_form(
        &app,
        &format!("{path}/ban"),
        &mut jar,
        &[("reason", "chargeback \"fraud\"")],
    )
    .await;
    assert_eq!(response.status(), 200);
    let confirm = text(response).await;
    assert!(
        confirm.contains(&format!("Ban {}?", user.email)),
        "{confirm}"
    );
    assert!(confirm.contains("name=\"confirmed\" value=\"yes\""));
    assert!(
        confirm.contains("value=\"chargeback &quot;fraud&quot;\""),
        "{confirm}"
    );
    assert_eq!(status_of(&app, &user.user_id).await, "active");
    assert_eq!(app.validate(&user.access).await.status(), 200);

    // Without the CSRF token, even confirmed: refused, nothing changed.
    let response = post_form(
        &app,
        &format!("{path}/ban"),
        &mut jar,
        &[("csrf_token", "forged"), ("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 403);
    assert_eq!(status_of(&app, &user.user_id).await, "active");

    // Confirmed: banned, the live token refused at once, the audit names the admin.
    let response = post_form(
        &app,
        &format!("{path}/ban"),
        &mut jar,
        &[("reason", "chargeback \"fraud\""), ("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("{path}?notice=banned"));
    assert_eq!(status_of(&app, &user.user_id).await, "banned");
    assert_eq!(app.validate(&user.access).await.status(), 401);
    let after = page(&app, &format!("{path}?notice=banned"), &mut jar).await;
    assert!(after.contains("The user is banned"), "{after}");
    assert!(after.contains("Lift the ban"));
    let audit: Value = app
        .get_auth(
            &format!("/v1/admin/audit?user={}", user.user_id),
            &admin.access,
        )
        .await
        .json()
        .await
        .unwrap();
    let ban = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "ban")
        .expect("ban audited");
    assert_eq!(ban["actor"], admin.user_id.as_str());
    assert_eq!(ban["detail"], "chargeback \"fraud\"");

    // Unban, then roles.
    let response = post_form(
        &app,
        &format!("{path}/unban"),
        &mut jar,
        &[("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(status_of(&app, &user.user_id).await, "active");
    let response = post_form(
        &app,
        &format!("{path}/roles"),
        &mut jar,
        &[("roles", "user, billing")],
    )
    .await;
    assert!(
        text(response)
            .await
            .contains("Their roles become: user, billing.")
    );
    let response = post_form(
        &app,
        &format!("{path}/roles"),
        &mut jar,
        &[("roles", "user, billing"), ("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 303);
    let shown = page(&app, &path, &mut jar).await;
    assert!(shown.contains("value=\"billing, user\""), "{shown}");
    let response = post_form(
        &app,
        &format!("{path}/roles"),
        &mut jar,
        &[("roles", "Not A Role"), ("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(text(response).await.contains("href=\"#roles\""));

    // A password reset link is mailed.
    let response = post_form(
        &app,
        &format!("{path}/send-reset"),
        &mut jar,
        &[("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        app.mail_to(MailKind::PasswordReset, &user.email)
            .await
            .len(),
        1
    );

    // Delete: the typed address must match.
    let response = post_form(
        &app,
        &format!("{path}/delete"),
        &mut jar,
        &[("confirmed", "yes"), ("confirm_text", "someone else")],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(
        text(response)
            .await
            .contains("Type the email address exactly")
    );
    assert_eq!(status_of(&app, &user.user_id).await, "active");
    let response = post_form(
        &app,
        &format!("{path}/delete"),
        &mut jar,
        &[("confirmed", "yes"), ("confirm_text", &user.email)],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/users?notice=deleted");
    assert_eq!(status_of(&app, &user.user_id).await, "deleted");
    assert_eq!(get(&app, &path, &mut jar).await.status(), 404);

    // An admin cannot ban themselves from the console either.
    let own = format!("/admin/users/{}", admin.user_id);
    assert!(
        page(&app, &own, &mut jar)
            .await
            .contains("This is your own account")
    );
    let response = post_form(
        &app,
        &format!("{own}/ban"),
        &mut jar,
        &[("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert_eq!(status_of(&app, &admin.user_id).await, "active");
}

#[tokio::test]
async fn sessions_are_ended_one_at_a_time_or_all_at_once() {
    let app = spawn_app().await;
    let (_, mut jar) = admin_browser(&app).await;
    let user = app.new_user().await;
    let second = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    let path = format!("/admin/users/{}", user.user_id);
    let response = post_form(
        &app,
        &format!("{path}/sessions/{}/revoke", user.session_id),
        &mut jar,
        &[],
    )
    .await;
    assert_eq!(response.status(), 200, "asked first");
    assert_eq!(app.validate(&user.access).await.status(), 200);
    let response = post_form(
        &app,
        &format!("{path}/sessions/{}/revoke", user.session_id),
        &mut jar,
        &[("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.validate(&user.access).await.status(), 401);
    assert_eq!(app.validate(&second.access).await.status(), 200);
    // The same session again: already ended.
    let response = post_form(
        &app,
        &format!("{path}/sessions/{}/revoke", user.session_id),
        &mut jar,
        &[("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 404);
    let response = post_form(
        &app,
        &format!("{path}/revoke-sessions"),
        &mut jar,
        &[("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(app.validate(&second.access).await.status(), 401);
    assert!(
        page(&app, &path, &mut jar)
            .await
            .contains("Not signed in anywhere.")
    );
}

#[tokio::test]
async fn the_audit_log_filters_and_exports_csv() {
    let app = spawn_app().await;
    let (admin, mut jar) = admin_browser(&app).await;
    let user = app.new_user().await;
    assert_eq!(
        app.signin(&user.email, "wrong password 1").await.status(),
        401
    );
    let all = page(&app, "/admin/audit", &mut jar).await;
    assert!(all.contains(user.email.as_str()));
    let failures = page(
        &app,
        &format!(
            "/admin/audit?user={}&action=signin&outcome=failure",
            user.email
        ),
        &mut jar,
    )
    .await;
    assert_eq!(
        failures.matches("<code>signin</code>").count(),
        1,
        "{failures}"
    );
    let none = page(&app, "/admin/audit?action=ban", &mut jar).await;
    assert!(none.contains("No entries match"));
    for (query, field) in [
        ("action=drop-tables", "#action"),
        ("outcome=maybe", "#outcome"),
        ("from=yesterday", "#from"),
        ("from=2026-12-07&to=2026-12-01", "#to"),
        ("user=nobody@example.com", "#user"),
    ] {
        let response = get(&app, &format!("/admin/audit?{query}"), &mut jar).await;
        assert_eq!(response.status(), 400, "{query}");
        assert!(text(response).await.contains(field), "{query}");
    }
    let response = get(
        &app,
        &format!("/admin/audit.csv?user={}", user.user_id),
        &mut jar,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"warden-audit-")
    );
    let csv = text(response).await;
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("id,at,actor,action,target,ip,user_agent,outcome,detail")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.iter()
            .any(|r| r.contains(",signup,") && r.contains(&user.user_id))
    );
    assert!(
        rows.iter()
            .any(|r| r.contains(",signin,") && r.contains(",failure,"))
    );
    assert!(
        !csv.contains(admin.email.as_str()),
        "only the user's entries"
    );
}

#[tokio::test]
async fn apps_are_registered_edited_given_new_secrets_and_deleted() {
    let app = spawn_app().await;
    let (admin, mut jar) = admin_browser(&app).await;
    let form = [
        ("name", "Tickets"),
        ("type", "confidential"),
        (
            "redirect_uris",
            "https://tickets.example.com/cb\r\nhttp://127.0.0.1:9000/cb",
        ),
        ("grant_authorization_code", "on"),
        ("grant_refresh_token", "on"),
        ("scopes", "openid email"),
    ];
    // Asked first, with what it will have; nothing registered yet.
    let response = post_form(&app, "/admin/clients", &mut jar, &form).await;
    assert_eq!(response.status(), 200);
    let confirm = text(response).await;
    assert!(confirm.contains("Register Tickets?"), "{confirm}");
    assert!(
        confirm.contains("https://tickets.example.com/cb, http://127.0.0.1:9000/cb"),
        "{confirm}"
    );
    assert!(
        !page(&app, "/admin/clients", &mut jar)
            .await
            .contains("Tickets")
    );
    let mut confirmed = form.to_vec();
    confirmed[2].1 = "https://tickets.example.com/cb http://127.0.0.1:9000/cb";
    confirmed.push(("confirmed", "yes"));
    let response = post_form(&app, "/admin/clients", &mut jar, &confirmed).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let shown = text(response).await;
    let secret = shown
        .split("value=\"")
        .find(|s| s.starts_with("wcs_"))
        .and_then(|s| s.split('"').next())
        .expect("the secret, shown once")
        .to_owned();
    let id = shown
        .split("<code id=\"client-id\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the client id")
        .to_owned();
    let listed = page(&app, "/admin/clients", &mut jar).await;
    assert!(listed.contains("Tickets") && listed.contains(&id));
    assert!(!listed.contains(&secret), "never shown again");
    let client_page = page(&app, &format!("/admin/clients/{id}"), &mut jar).await;
    assert!(!client_page.contains(&secret));

    // A bad redirect URI is refused on its field, and nothing changes.
    let response = post_form(
        &app,
        &format!("/admin/clients/{id}/settings"),
        &mut jar,
        &[
            ("name", "Tickets"),
            ("redirect_uris", "not a uri"),
            ("grant_authorization_code", "on"),
        ],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(text(response).await.contains("href=\"#redirect_uris\""));
    let response = post_form(
        &app,
        &format!("/admin/clients/{id}/settings"),
        &mut jar,
        &[
            ("name", "Tickets 2"),
            ("redirect_uris", "https://tickets.example.com/callback"),
            ("grant_authorization_code", "on"),
            ("scopes", "openid"),
            ("confirmed", "yes"),
        ],
    )
    .await;
    assert_eq!(response.status(), 303);
    let api: Value = app
        .get_auth(&format!("/v1/admin/clients/{id}"), &admin.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(api["name"], "Tickets 2");
    assert_eq!(
        api["redirect_uris"],
        serde_json::json!(["https://tickets.example.com/callback"])
    );

    // A new secret: asked first, then shown once; the old one stops working.
    let response = post_form(
        &app,
        &format!("/admin/clients/{id}/rotate-secret"),
        &mut jar,
        &[],
    )
    .await;
    assert!(
        text(response)
            .await
            .contains("Make a new secret for Tickets 2?")
    );
    let response = post_form(
        &app,
        &format!("/admin/clients/{id}/rotate-secret"),
        &mut jar,
        &[("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 200);
    let rotated = text(response).await;
    assert!(rotated.contains("wcs_") && !rotated.contains(&secret));
    let token = |secret: String| {
        let app = &app;
        let id = id.clone();
        async move {
            app.client
                .post(app.url("/oauth2/token"))
                .basic_auth(&id, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(token(secret.clone()).await, 401, "the old secret is void");

    let response = post_form(
        &app,
        &format!("/admin/clients/{id}/delete"),
        &mut jar,
        &[("confirmed", "yes")],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/admin/clients?notice=client_deleted");
    assert_eq!(
        get(&app, &format!("/admin/clients/{id}"), &mut jar)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn the_overview_counts_users_sessions_and_sign_ins() {
    let app = spawn_app().await;
    let (_, mut jar) = admin_browser(&app).await;
    let user = app.new_user().await;
    assert_eq!(
        app.signin(&user.email, "wrong password 1").await.status(),
        401
    );
    let overview = page(&app, "/admin", &mut jar).await;
    assert!(
        overview.contains("<span class=\"n\">2</span> users"),
        "{overview}"
    );
    assert!(
        overview.contains("<span class=\"n\">1</span> failed sign-ins in 24 h"),
        "{overview}"
    );
    assert!(overview.contains("<svg viewBox=\"0 0 720 160\" role=\"img\""));
    assert!(overview.contains("class=\"fail-bar\""));
}
