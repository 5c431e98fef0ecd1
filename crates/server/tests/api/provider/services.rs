//! Client credentials, introspection (RFC 7662) and revocation (RFC 7009).

use serde_json::{Value, json};
use warden_testkit::spawn_app;

use super::*;

async fn service(app: &TestApp, admin: &Tokens) -> Registered {
    register(
        app,
        admin,
        json!({
            "type": "confidential",
            "name": "Billing",
            "grant_types": ["client_credentials"],
            "scopes": ["tickets:read", "tickets:write"],
        }),
    )
    .await
}

async fn introspect(app: &TestApp, caller: &Registered, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/oauth2/introspect"))
        .basic_auth(&caller.id, caller.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_service_gets_a_scoped_token_of_its_own_and_no_refresh_token() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let billing = service(&app, &admin).await;
    let response = token(&app, &billing, &[("grant_type", "client_credentials")]).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["scope"], "tickets:read tickets:write", "{body}");
    assert!(body.get("refresh_token").is_none());
    assert!(body.get("id_token").is_none());
    let access = body["access_token"].as_str().unwrap();
    let claims: Value = {
        let payload = access.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(claims["sub"], billing.id.as_str());
    assert_eq!(claims["client_id"], billing.id.as_str());
    assert_eq!(claims["roles"], json!([]));

    let narrower = token(
        &app,
        &billing,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "tickets:read"),
        ],
    )
    .await;
    let narrower: Value = narrower.json().await.unwrap();
    assert_eq!(narrower["scope"], "tickets:read");
    let wider = token(
        &app,
        &billing,
        &[
            ("grant_type", "client_credentials"),
            ("scope", "openid tickets:read"),
        ],
    )
    .await;
    assert_oauth_error(wider, 400, "invalid_scope").await;

    // A web app may not use the grant; a public client cannot at all.
    let web = web_app(&app, &admin, true).await;
    let refused = token(&app, &web, &[("grant_type", "client_credentials")]).await;
    assert_oauth_error(refused, 400, "unauthorized_client").await;
}

#[tokio::test]
async fn introspection_describes_live_access_tokens_to_confidential_clients() {
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let billing = service(&app, &admin).await;
    let web = web_app(&app, &admin, true).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &mut jar, &web.id, &challenge, &[]).await;
    let tokens = exchange(&app, &web, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap();

    let response = introspect(&app, &billing, access).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["client_id"], web.id.as_str());
    assert_eq!(body["scope"], "email openid");
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());

    for junk in [
        "",
        "nonsense",
        "wrt_abc",
        tokens["refresh_token"].as_str().unwrap(),
    ] {
        let response = introspect(&app, &billing, junk).await;
        if junk.is_empty() {
            assert_oauth_error(response, 400, "invalid_request").await;
            continue;
        }
        let body: Value = response.json().await.unwrap();
        assert_eq!(body, json!({"active": false}), "{junk}");
    }
    // Only a client that can authenticate may ask.
    let anonymous = app
        .client
        .post(app.url("/oauth2/introspect"))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_oauth_error(anonymous, 401, "invalid_client").await;
}

#[tokio::test]
async fn revocation_ends_the_clients_session_and_ignores_other_clients_tokens() {
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let web = web_app(&app, &admin, true).await;
    let other = web_app(&app, &admin, true).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &mut jar, &web.id, &challenge, &[]).await;
    let tokens = exchange(&app, &web, &code, &verifier).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    let revoke = |caller: &Registered, token: &str| {
        app.client
            .post(app.url("/oauth2/revoke"))
            .basic_auth(&caller.id, caller.secret.as_deref())
            .form(&[("token", token)])
            .send()
    };
    // Another client's attempt: 200, and nothing happens.
    assert_eq!(revoke(&other, refresh).await.unwrap().status(), 200);
    assert_eq!(app.validate(access).await.status(), 200);
    // Unknown tokens: 200 too.
    assert_eq!(revoke(&web, "wrt_unknown").await.unwrap().status(), 200);

    assert_eq!(revoke(&web, refresh).await.unwrap().status(), 200);
    assert_eq!(app.validate(access).await.status(), 401);
    let after = token(
        &app,
        &web,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_oauth_error(after, 400, "invalid_grant").await;
    let body: Value = introspect(&app, &web, access).await.json().await.unwrap();
    assert_eq!(body["active"], false);
}

#[tokio::test]
async fn deleting_a_client_ends_the_sessions_users_opened_through_it() {
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let web = web_app(&app, &admin, true).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &mut jar, &web.id, &challenge, &[]).await;
    let tokens = exchange(&app, &web, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.validate(access).await.status(), 200);
    let other = web_app(&app, &admin, true).await;
    let code = code_for(&app, &mut jar, &other.id, &challenge, &[]).await;
    let elsewhere = exchange(&app, &other, &code, &verifier).await;
    let elsewhere = elsewhere["access_token"].as_str().unwrap();

    let path = format!("/v1/admin/clients/{}", web.id);
    let delete = || app.call(Method::DELETE, &path, Some(&admin.access), None);
    assert_eq!(delete().await.status(), 204);
    assert_eq!(
        app.validate(access).await.status(),
        401,
        "its session ended"
    );
    // Sessions of another client, and the admin's own, are not its.
    assert_eq!(app.validate(elsewhere).await.status(), 200);
    assert_eq!(app.validate(&admin.access).await.status(), 200);
    // A second delete finds nothing.
    assert_eq!(delete().await.status(), 404);
}

/// Introspection authenticates its caller from a client record at most
/// `session_cache_ttl` old: a change made through this instance counts at
/// once, one made elsewhere (another instance, the CLI) once that passed.
#[tokio::test]
async fn introspection_sees_client_changes_here_at_once_and_elsewhere_within_the_cache_ttl() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let billing = service(&app, &admin).await;
    let body: Value = token(&app, &billing, &[("grant_type", "client_credentials")])
        .await
        .json()
        .await
        .unwrap();
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(introspect(&app, &billing, &access).await.status(), 200);

    // Here: the admin API rotates the secret; the old one fails at once.
    let rotated = app
        .client
        .post(app.url(&format!("/v1/admin/clients/{}/secret", billing.id)))
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let current = Registered {
        id: billing.id.clone(),
        secret: rotated["client_secret"].as_str().map(str::to_owned),
    };
    let stale = introspect(&app, &billing, &access).await;
    assert_oauth_error(stale, 401, "invalid_client").await;
    let fresh = introspect(&app, &current, &access).await;
    assert_eq!(fresh.status(), 200);

    // Elsewhere: a registry over the same store, as another instance or
    // `warden client rotate-secret` has. Refused once the TTL has passed.
    let elsewhere = warden_core::ClientRegistry::new(
        app.auth.store(),
        std::sync::Arc::new(app.clock.clone()),
        app.auth.settings().revocation_ttl(),
    );
    elsewhere
        .rotate_secret(None, &billing.id, &warden_core::RequestContext::default())
        .await
        .expect("rotate elsewhere");
    app.clock
        .advance(app.auth.settings().session_cache_ttl + chrono::Duration::milliseconds(1));
    let stale = introspect(&app, &current, &access).await;
    assert_oauth_error(stale, 401, "invalid_client").await;
}
