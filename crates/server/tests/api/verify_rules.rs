//! `[[verify.rule]]`: `/v1/verify` decides by the original path and method
//! the proxy passes (`X-Original-URI`, `X-Forwarded-Uri` + `-Method`,
//! ingress-nginx's `X-Original-URL`), on the normalised path (case 47).

use reqwest::{Method, Response};
use warden::config::{SignInRedirect, VerifyRule};
use warden_testkit::{TestApp, Tokens, assert_problem, spawn_app_with};

/// The path tricks of case 47: each must fall under the `/admin/` rule.
pub const ADMIN_TRICKS: &[&str] = &[
    "/admin/x",
    "/%61dmin/x",
    "//admin/x",
    "/admin/../admin/x",
    "/public/../admin/x",
    "/admin;x",
    "/ADMIN/x",
    "/./admin/x?next=/public/",
];

fn rule(prefix: &str, roles: &[&str], public: bool, methods: &[&str]) -> VerifyRule {
    VerifyRule {
        prefix: prefix.into(),
        methods: methods.iter().map(|m| (*m).to_owned()).collect(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        public,
        mfa: false,
        scopes: Vec::new(),
    }
}

async fn app_with_rules() -> TestApp {
    spawn_app_with(|config| {
        config.verify.policy = VerifyRule::policy(&[
            rule("/admin/", &["admin"], false, &[]),
            rule("/public/", &[], true, &[]),
            rule("/api/", &["editor"], false, &["DELETE", "PUT"]),
            rule("/api/", &[], true, &[]),
        ])
        .unwrap();
    })
    .await
}

async fn verify(
    app: &TestApp,
    token: Option<&str>,
    headers: &[(&str, &str)],
    query: &str,
) -> Response {
    let mut request = app
        .client
        .request(Method::GET, app.url(&format!("/v1/verify{query}")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("request sent")
}

fn identity(response: &Response) -> Option<String> {
    response
        .headers()
        .get("x-warden-user")
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn alice_and_admin(app: &TestApp) -> (Tokens, Tokens) {
    (app.new_user().await, app.new_admin().await)
}

#[tokio::test]
async fn the_admin_rule_holds_for_every_spelling_of_the_admin_path() {
    let app = app_with_rules().await;
    let (alice, admin) = alice_and_admin(&app).await;
    for header in ["x-original-uri", "x-forwarded-uri"] {
        for &uri in ADMIN_TRICKS {
            let denied = verify(&app, Some(&alice.access), &[(header, uri)], "").await;
            assert_problem(denied, 403, "forbidden").await;
            let allowed = verify(&app, Some(&admin.access), &[(header, uri)], "").await;
            assert_eq!(allowed.status(), 200, "{header}: {uri}");
            assert_eq!(identity(&allowed).as_deref(), Some(admin.user_id.as_str()));
        }
    }
    // ingress-nginx sends the whole URL.
    let denied = verify(
        &app,
        Some(&alice.access),
        &[("x-original-url", "https://app.example/%61dmin/x?y=1")],
        "",
    )
    .await;
    assert_problem(denied, 403, "forbidden").await;
    // Segment boundaries: /administrator is not /admin.
    let other = verify(
        &app,
        Some(&alice.access),
        &[("x-original-uri", "/administrator")],
        "",
    )
    .await;
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn a_path_that_cannot_be_normalised_is_refused_even_for_an_admin() {
    let app = app_with_rules().await;
    let admin = app.new_admin().await;
    for uri in [
        "/%2fadmin/x",
        "/admin%5cx",
        "/..;/admin/x",
        "/%zz",
        "admin/x",
    ] {
        for token in [None, Some(admin.access.as_str())] {
            let response = verify(&app, token, &[("x-original-uri", uri)], "").await;
            assert_problem(response, 400, "invalid_request").await;
        }
    }
    // With rules configured the proxy must say what the request was.
    let response = verify(&app, Some(&admin.access), &[], "").await;
    assert_problem(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_public_prefix_passes_without_a_token_and_without_identity() {
    let app = app_with_rules().await;
    let response = verify(&app, None, &[("x-forwarded-uri", "/public/index.html")], "").await;
    assert_eq!(response.status(), 200);
    assert_eq!(identity(&response), None);
    assert!(response.headers().get("x-warden-roles").is_none());
    // Elsewhere a token is still needed.
    let response = verify(&app, None, &[("x-forwarded-uri", "/app/x")], "").await;
    assert_problem(response, 401, "invalid_token").await;
    // A malformed credential is an error even on a public path.
    let response = app
        .client
        .get(app.url("/v1/verify"))
        .header("authorization", "Basic abc")
        .header("x-forwarded-uri", "/public/x")
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "invalid_token").await;
    // `?role=` always needs a token.
    let response = verify(&app, None, &[("x-forwarded-uri", "/public/x")], "?role=x").await;
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn method_rules_apply_to_the_original_method() {
    let app = app_with_rules().await;
    let alice = app.new_user().await;
    for (method_header, method, status) in [
        ("x-forwarded-method", "DELETE", 403),
        ("x-original-method", "put", 403),
        ("x-forwarded-method", "GET", 200),
    ] {
        let response = verify(
            &app,
            Some(&alice.access),
            &[
                ("x-forwarded-uri", "/API/tickets/1"),
                (method_header, method),
            ],
            "",
        )
        .await;
        assert_eq!(response.status(), status, "{method}");
    }
    // The method matters there, so it must be sent.
    let response = verify(
        &app,
        Some(&alice.access),
        &[("x-forwarded-uri", "/api/x")],
        "",
    )
    .await;
    assert_problem(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn headers_that_disagree_about_the_original_request_are_refused() {
    let app = app_with_rules().await;
    let alice = app.new_user().await;
    // A client behind a proxy that sets X-Forwarded-Uri adds its own
    // X-Original-URI: it must not choose the rule.
    for (uri_a, uri_b) in [("/public/x", "/admin/x"), ("/admin/x", "/public/x")] {
        let response = verify(
            &app,
            Some(&alice.access),
            &[("x-original-uri", uri_a), ("x-forwarded-uri", uri_b)],
            "",
        )
        .await;
        assert_problem(response, 400, "invalid_request").await;
    }
    let response = app
        .client
        .get(app.url("/v1/verify"))
        .header("x-forwarded-uri", "/public/x")
        .header("x-original-url", "http://h/admin/x")
        .send()
        .await
        .unwrap();
    assert_problem(response, 400, "invalid_request").await;
    let response = verify(
        &app,
        Some(&alice.access),
        &[
            ("x-forwarded-uri", "/api/x"),
            ("x-forwarded-method", "GET"),
            ("x-original-method", "DELETE"),
        ],
        "",
    )
    .await;
    assert_problem(response, 400, "invalid_request").await;
    // Agreeing headers are fine.
    let response = verify(
        &app,
        Some(&alice.access),
        &[("x-original-uri", "/x?a"), ("x-forwarded-uri", "/x?a")],
        "",
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn without_rules_the_original_path_is_not_needed() {
    let app = spawn_app_with(|_| {}).await;
    let alice = app.new_user().await;
    let response = verify(&app, Some(&alice.access), &[], "").await;
    assert_eq!(response.status(), 200);
    let response = verify(&app, None, &[("x-original-uri", "/public/x")], "").await;
    assert_problem(response, 401, "invalid_token").await;
}

#[tokio::test]
async fn a_page_load_without_a_valid_token_is_sent_to_the_configured_sign_in_page() {
    let app = spawn_app_with(|config| {
        config.verify.policy = VerifyRule::policy(&[
            rule("/admin/", &["admin"], false, &[]),
            rule("/public/", &[], true, &[]),
        ])
        .unwrap();
        config.verify.sign_in =
            Some(SignInRedirect::parse("https://auth.example.com/sign-in").unwrap());
        config.allowed_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let alice = app.new_user().await;
    let html = ("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    let page = [
        html,
        ("x-forwarded-method", "GET"),
        ("x-forwarded-uri", "/app/x?y=1"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
    ];
    let location = |response: &Response| {
        response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
    };

    for token in [None, Some("x.y.z")] {
        let response = verify(&app, token, &page, "").await;
        assert_eq!(response.status(), 302, "{token:?}");
        assert_eq!(
            location(&response).as_deref(),
            Some(
                "https://auth.example.com/sign-in?rd=https%3A%2F%2Fapp.example.com%2Fapp%2Fx%3Fy%3D1"
            )
        );
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(identity(&response), None);
    }

    // A host the client made up is not sent back to; its path is.
    let spoofed = [
        html,
        ("x-forwarded-uri", "/app/x"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "evil.example"),
    ];
    let response = verify(&app, None, &spoofed, "").await;
    assert_eq!(
        location(&response).as_deref(),
        Some("https://auth.example.com/sign-in?rd=%2Fapp%2Fx")
    );

    // API calls and form posts keep the 401 they can act on.
    let json = verify(
        &app,
        None,
        &[
            ("accept", "application/json"),
            ("x-forwarded-uri", "/app/x"),
        ],
        "",
    )
    .await;
    assert_problem(json, 401, "invalid_token").await;
    let post = verify(
        &app,
        None,
        &[
            html,
            ("x-forwarded-method", "POST"),
            ("x-forwarded-uri", "/app/x"),
        ],
        "",
    )
    .await;
    assert_problem(post, 401, "invalid_token").await;

    // A signed-in user without the role is refused, not sent to sign in
    // again; public and allowed pages pass as before.
    let mut admin_page = page;
    admin_page[2] = ("x-forwarded-uri", "/admin/x");
    let denied = verify(&app, Some(&alice.access), &admin_page, "").await;
    assert_problem(denied, 403, "forbidden").await;
    let allowed = verify(&app, Some(&alice.access), &page, "").await;
    assert_eq!(allowed.status(), 200);
    assert_eq!(identity(&allowed).as_deref(), Some(alice.user_id.as_str()));
    let mut public_page = page;
    public_page[2] = ("x-forwarded-uri", "/public/x");
    assert_eq!(verify(&app, None, &public_page, "").await.status(), 200);

    // Without `sign_in_url` a page load gets the 401 like anyone else.
    let plain = app_with_rules().await;
    let response = verify(&plain, None, &page, "").await;
    assert_problem(response, 401, "invalid_token").await;
}
