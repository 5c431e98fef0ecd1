//! Service accounts: a confidential client's own tokens (client
//! credentials) are a `service` caller at `/v1/validate`, pass forward-auth
//! rules and gateway routes that ask for a scope (and those that ask only
//! for a valid token), never pass where a user is meant, and stop working
//! everywhere within a second of the client's deletion.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use warden::config::VerifyRule;
use warden_testkit::gateway::setup_routes;
use warden_testkit::{TestApp, Tokens, assert_problem, spawn_app, spawn_app_with};

fn rule(prefix: &str, roles: &[&str], mfa: bool, scopes: &[&str]) -> VerifyRule {
    let owned = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
    VerifyRule {
        prefix: prefix.into(),
        methods: Vec::new(),
        roles: owned(roles),
        public: false,
        mfa,
        scopes: owned(scopes),
    }
}

async fn verify(app: &TestApp, token: &str, path: &str, query: &str) -> reqwest::Response {
    app.client
        .get(app.url(&format!("/v1/verify{query}")))
        .bearer_auth(token)
        .header("x-original-uri", path)
        .header("x-original-method", "GET")
        .send()
        .await
        .expect("request sent")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn admin_and_service(app: &TestApp, scopes: &[&str]) -> (Tokens, String, String) {
    let admin = app.new_admin().await;
    let (id, secret) = app.new_service(&admin, scopes).await;
    (admin, id, secret)
}

#[tokio::test]
async fn a_service_token_is_a_service_at_validate_and_never_a_user() {
    let app = spawn_app().await;
    let (_, id, secret) = admin_and_service(&app, &["tickets:read", "tickets:write"]).await;
    let token = app.service_token(&id, &secret, Some("tickets:read")).await;

    let response = app.validate(&token).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["kind"], "service", "{body}");
    assert_eq!(body["sub"], id.as_str());
    assert_eq!(body["client_id"], id.as_str());
    assert_eq!(body["scope"], "tickets:read");
    assert_eq!(body["roles"], serde_json::json!([]));
    assert!(
        body.get("sid").is_none() && body.get("acr").is_none(),
        "{body}"
    );
    assert!(body["exp"].as_i64().unwrap() > body["iat"].as_i64().unwrap());

    // A user's token says what it is too.
    let user = app.new_user().await;
    let body: Value = app.validate(&user.access).await.json().await.unwrap();
    assert_eq!(body["kind"], "user");
    assert!(
        body.get("client_id").is_none(),
        "a first-party sign-in: {body}"
    );

    // Whatever acts for a user refuses it, with a reason, and changes nothing.
    for path in ["/v1/me", "/v1/sessions", "/v1/admin/users"] {
        assert_problem(app.get_auth(path, &token).await, 403, "user_required").await;
    }
    assert_problem(
        app.call(Method::POST, "/v1/signout/all", Some(&token), None)
            .await,
        403,
        "user_required",
    )
    .await;
    let userinfo = app
        .client
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 403, "no user, no claims");
    assert!(
        header(&userinfo, "www-authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );

    // Introspection (by the service itself) describes it, without a session.
    let introspected: Value = app
        .client
        .post(app.url("/oauth2/introspect"))
        .basic_auth(&id, Some(&secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(introspected["sub"], id.as_str());
    assert_eq!(introspected["scope"], "tickets:read");
    assert!(introspected.get("sid").is_none());
    // And the token is still good: nothing above ended it.
    assert_eq!(app.validate(&token).await.status(), 200);
}

#[tokio::test]
async fn forward_auth_rules_with_scopes_pass_services_that_were_granted_one() {
    let app = spawn_app_with(|config| {
        config.verify.policy = VerifyRule::policy(&[
            rule("/tickets/", &[], false, &["tickets:read", "tickets:admin"]),
            rule("/admin/", &["admin"], false, &[]),
            rule("/payments/", &[], true, &[]),
        ])
        .unwrap();
    })
    .await;
    let (_, id, secret) = admin_and_service(&app, &["tickets:read", "tickets:write"]).await;
    let reader = app.service_token(&id, &secret, Some("tickets:read")).await;
    let writer = app.service_token(&id, &secret, Some("tickets:write")).await;

    let passed = verify(&app, &reader, "/tickets/42", "").await;
    assert_eq!(passed.status(), 200);
    assert_eq!(header(&passed, "x-warden-kind"), Some("service"));
    assert_eq!(header(&passed, "x-warden-client"), Some(id.as_str()));
    assert_eq!(header(&passed, "x-warden-scope"), Some("tickets:read"));
    for absent in ["x-warden-user", "x-warden-session", "x-warden-roles"] {
        assert!(passed.headers().get(absent).is_none(), "{absent}");
    }
    assert_problem(
        verify(&app, &writer, "/tickets/42", "").await,
        403,
        "insufficient_scope",
    )
    .await;
    // Rules for people: roles or a second factor.
    for path in ["/admin/x", "/payments/x"] {
        assert_problem(verify(&app, &reader, path, "").await, 403, "user_required").await;
    }
    assert_problem(
        verify(&app, &reader, "/elsewhere", "?role=admin").await,
        403,
        "forbidden",
    )
    .await;
    // Where any valid token passes, a service's does.
    let anywhere = verify(&app, &writer, "/elsewhere", "").await;
    assert_eq!(anywhere.status(), 200);
    assert_eq!(header(&anywhere, "x-warden-scope"), Some("tickets:write"));

    // A first-party sign-in has no scopes: a scope rule refuses it.
    let user = app.new_user().await;
    assert_problem(
        verify(&app, &user.access, "/tickets/42", "").await,
        403,
        "insufficient_scope",
    )
    .await;
    let person = verify(&app, &user.access, "/elsewhere", "").await;
    assert_eq!(person.status(), 200);
    assert_eq!(header(&person, "x-warden-kind"), Some("user"));
    assert_eq!(
        header(&person, "x-warden-user"),
        Some(user.user_id.as_str())
    );
}

#[test]
fn a_scope_rule_stands_alone() {
    for bad in [
        rule("/x/", &["admin"], false, &["a"]),
        rule("/x/", &[], true, &["a"]),
        rule("/x/", &[], false, &["two words"]),
        rule("/x/", &[], false, &[""]),
    ] {
        assert!(VerifyRule::policy(&[bad]).is_err());
    }
    let mut public = rule("/x/", &[], false, &["a"]);
    public.public = true;
    assert!(VerifyRule::policy(&[public]).is_err());
}

/// An axum service that checks tokens with warden-verify's `RequireScope`
/// (and `Principal` on a route for people), against the real Warden.
async fn verify_service(app: &TestApp) -> axum::Router {
    use warden_verify::{AnyPrincipal, Principal, RequireScope, ScopeName};
    struct ReadTickets;
    impl ScopeName for ReadTickets {
        const NAME: &'static str = "tickets:read";
    }
    let verifier = warden_verify::Verifier::builder()
        .issuer(warden_testkit::ISSUER)
        .endpoint(app.url(""))
        .revocations(warden_verify::RevocationFeed::poll(Duration::from_millis(
            200,
        )))
        .build()
        .await
        .expect("verifier");
    axum::Router::new()
        .route(
            "/tickets",
            axum::routing::get(
                |RequireScope(caller, ..): RequireScope<ReadTickets>| async move {
                    match caller {
                        AnyPrincipal::Service(service) => format!("service {}", service.client_id),
                        AnyPrincipal::User(user) => format!("user {}", user.user_id),
                    }
                },
            ),
        )
        .route(
            "/me",
            axum::routing::get(|who: Principal| async move { who.user_id.to_string() }),
        )
        .with_state(verifier)
}

async fn call_service(router: &axum::Router, path: &str, token: &str) -> (u16, String) {
    use tower::ServiceExt as _;
    let request = axum::http::Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn deleting_a_client_revokes_its_tokens_everywhere_within_a_second() {
    let warden = spawn_app().await;
    let (admin, id, secret) = admin_and_service(&warden, &["tickets:read", "billing"]).await;
    let token = warden.service_token(&id, &secret, None).await;
    let service = verify_service(&warden).await;
    let s = setup_routes(warden, "", |echo| {
        format!(
            "\n[[route]]\nprefix = \"/api/billing/\"\nupstream = \"{}\"\nscopes = [\"billing\"]\n\n\
             [[route]]\nprefix = \"/api/any/\"\nupstream = \"{}\"\n",
            echo.url(),
            echo.url()
        )
    })
    .await;
    let app = &s.warden;

    // The gateway: a scope route and a route for any valid token pass it,
    // with the service's identity; a route asking for a role does not.
    let response = s
        .client
        .get(s.gateway.url("/api/billing/invoices"))
        .bearer_auth(&token)
        .header("x-warden-user", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = s.echo.last();
    assert_eq!(seen.headers["x-warden-kind"], "service");
    assert_eq!(seen.headers["x-warden-client"], id);
    assert_eq!(seen.headers["x-warden-scope"], "billing tickets:read");
    assert!(
        !seen.headers.contains_key("x-warden-user"),
        "a client's copy never passes"
    );
    assert_eq!(
        s.get("/api/any/x", Some(&token)).await.status(),
        StatusCode::OK
    );
    assert_problem(
        s.get("/api/tickets/", Some(&token)).await,
        403,
        "user_required",
    )
    .await;
    let narrow = app.service_token(&id, &secret, Some("tickets:read")).await;
    assert_problem(
        s.get("/api/billing/invoices", Some(&narrow)).await,
        403,
        "insufficient_scope",
    )
    .await;

    // warden-verify: RequireScope takes it; Principal (for people) does not.
    assert_eq!(
        call_service(&service, "/tickets", &token).await,
        (200, format!("service {id}"))
    );
    let (status, body) = call_service(&service, "/me", &token).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("user_required"), "{body}");
    let user = app.new_user().await;
    assert_eq!(
        call_service(&service, "/tickets", &user.access).await.0,
        403
    );

    let deleted = app
        .call(
            Method::DELETE,
            &format!("/v1/admin/clients/{id}"),
            Some(&admin.access),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    // Warden itself: at once.
    assert_problem(app.validate(&token).await, 401, "token_revoked").await;
    // The gateway and the warden-verify service: within a second.
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let gateway = s.get("/api/any/x", Some(&token)).await.status();
        let verified = call_service(&service, "/tickets", &token).await.0;
        if gateway == StatusCode::UNAUTHORIZED && verified == 401 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still accepted after a second: gateway {gateway}, warden-verify {verified}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The user's token is untouched; the deleted client can get no other.
    assert_eq!(app.validate(&user.access).await.status(), 200);
    let refused = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}
