//! Envoy `ext_authz`: `envoy.service.auth.v3.Authorization/Check` over a
//! real socket, as Envoy calls it (case 48).

use std::collections::HashMap;

use serde_json::Value;
use tonic::Code;
use warden_grpc::pb_envoy::envoy::config::core::v3::{HeaderMap, HeaderValue};
use warden_grpc::pb_envoy::envoy::service::auth::v3::attribute_context::{HttpRequest, Request};
use warden_grpc::pb_envoy::envoy::service::auth::v3::authorization_client::AuthorizationClient;
use warden_grpc::pb_envoy::envoy::service::auth::v3::check_response::HttpResponse;
use warden_grpc::pb_envoy::envoy::service::auth::v3::{
    AttributeContext, CheckRequest, CheckResponse, DeniedHttpResponse, OkHttpResponse,
};
use warden_testkit::{SignInRedirect, TestApp, VerifyRule, spawn_app, spawn_app_with};

async fn check(app: &TestApp, request: CheckRequest) -> CheckResponse {
    AuthorizationClient::new(app.grpc_channel().await)
        .check(request)
        .await
        .expect("Check answers")
        .into_inner()
}

fn http_request(path: &str, headers: &[(&str, &str)]) -> CheckRequest {
    CheckRequest {
        attributes: Some(AttributeContext {
            request: Some(Request {
                http: Some(HttpRequest {
                    id: "1".into(),
                    method: "GET".into(),
                    headers: headers
                        .iter()
                        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                        .collect(),
                    path: path.into(),
                    host: "app.test".into(),
                    scheme: "https".into(),
                    header_map: None,
                }),
            }),
        }),
    }
}

async fn sign_out(app: &TestApp, access: &str) {
    let response = app
        .call(reqwest::Method::POST, "/v1/signout", Some(access), None)
        .await;
    assert_eq!(response.status(), 204);
}

/// The HTTP attributes of a request made by [`http_request`].
fn http_of(request: &mut CheckRequest) -> &mut HttpRequest {
    request
        .attributes
        .as_mut()
        .and_then(|a| a.request.as_mut())
        .and_then(|r| r.http.as_mut())
        .expect("made by http_request")
}

/// `request` with Envoy's raw `header_map` (`encode_raw_headers`) set.
fn with_raw_headers(mut request: CheckRequest, headers: &[(&str, &[u8])]) -> CheckRequest {
    http_of(&mut request).header_map = Some(HeaderMap {
        headers: headers
            .iter()
            .map(|(key, value)| HeaderValue {
                key: (*key).to_owned(),
                value: String::new(),
                raw_value: value.to_vec(),
            })
            .collect(),
    });
    request
}

fn ok(response: &CheckResponse) -> &OkHttpResponse {
    assert_eq!(
        response.status.as_ref().map(|s| s.code),
        Some(0),
        "{response:?}"
    );
    match &response.http_response {
        Some(HttpResponse::OkResponse(ok)) => ok,
        other => panic!("expected ok_response, got {other:?}"),
    }
}

fn set_headers(ok: &OkHttpResponse) -> HashMap<String, String> {
    ok.headers
        .iter()
        .filter_map(|h| h.header.as_ref())
        .map(|h| (h.key.clone(), h.value.clone()))
        .collect()
}

/// Asserts a denial: gRPC `code`, HTTP `http`, the stable `stable` code in
/// a problem+json body. Returns the denied response.
#[track_caller]
/// The headers Envoy is told to send with a denial, by name.
fn denied_headers(denied: &DeniedHttpResponse) -> HashMap<&str, &str> {
    denied
        .headers
        .iter()
        .filter_map(|h| h.header.as_ref())
        .map(|h| (h.key.as_str(), h.value.as_str()))
        .collect()
}

fn assert_denied(
    response: &CheckResponse,
    code: Code,
    http: i32,
    stable: &str,
) -> DeniedHttpResponse {
    assert_eq!(
        response.status.as_ref().map(|s| s.code),
        Some(code as i32),
        "{response:?}"
    );
    let Some(HttpResponse::DeniedResponse(denied)) = &response.http_response else {
        panic!("expected denied_response, got {response:?}");
    };
    assert_eq!(denied.status.as_ref().map(|s| s.code), Some(http));
    let body: Value = serde_json::from_str(&denied.body).expect("JSON body");
    assert_eq!(body["code"], stable, "{body}");
    assert_eq!(body["status"], http);
    assert_eq!(body["type"], format!("https://warden.dev/errors/{stable}"));
    let headers = denied_headers(denied);
    assert_eq!(
        headers.get("content-type"),
        Some(&"application/problem+json")
    );
    if http == 401 {
        assert!(
            headers["www-authenticate"].starts_with("Bearer realm=\"warden\""),
            "{headers:?}"
        );
    }
    denied.clone()
}

fn rule(prefix: &str, roles: &[&str], public: bool) -> VerifyRule {
    VerifyRule {
        prefix: prefix.into(),
        methods: Vec::new(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        public,
        mfa: false,
        scopes: Vec::new(),
    }
}

#[tokio::test]
async fn a_valid_bearer_token_is_allowed_with_the_identity_and_spoofed_headers_go() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let auth = format!("Bearer {}", user.access);
    let response = check(
        &app,
        http_request(
            "/app/x?y=1",
            &[
                ("authorization", auth.as_str()),
                ("x-warden-user", "admin"),
                ("x-warden-roles", "admin"),
                ("x-warden-extra", "1"),
            ],
        ),
    )
    .await;
    let ok = ok(&response);
    let headers = set_headers(ok);
    assert_eq!(headers["x-warden-user"], user.user_id);
    assert_eq!(headers["x-warden-session"], user.session_id);
    assert_eq!(headers["x-warden-roles"], "user");
    // Overwritten, not appended, so the client's value cannot survive.
    assert!(ok.headers.iter().all(|h| h.append_action == 2), "{ok:?}");
    assert_eq!(ok.headers_to_remove, vec!["x-warden-extra".to_owned()]);
}

#[tokio::test]
async fn missing_forged_revoked_and_expired_tokens_are_denied_with_401() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let none = check(&app, http_request("/app/x", &[("x-warden-user", "admin")])).await;
    let none = assert_denied(&none, Code::Unauthenticated, 401, "invalid_token");
    // RFC 6750: no credential, no error code; a refused token, invalid_token.
    assert_eq!(
        denied_headers(&none)["www-authenticate"],
        "Bearer realm=\"warden\""
    );
    for value in ["Bearer x.y.z", "Basic abc", "Bearer", "wst_AAAA"] {
        let forged = check(&app, http_request("/app/x", &[("authorization", value)])).await;
        let forged = assert_denied(&forged, Code::Unauthenticated, 401, "invalid_token");
        assert_eq!(
            denied_headers(&forged)["www-authenticate"],
            "Bearer realm=\"warden\", error=\"invalid_token\"",
            "{value}"
        );
    }

    let auth = format!("Bearer {}", user.access);
    sign_out(&app, &user.access).await;
    let revoked = check(
        &app,
        http_request("/app/x", &[("authorization", auth.as_str())]),
    )
    .await;
    assert_denied(&revoked, Code::Unauthenticated, 401, "token_revoked");

    let other = app.new_user().await;
    app.clock.advance(chrono::Duration::seconds(900 + 31));
    let expired = check(
        &app,
        http_request(
            "/app/x",
            &[("authorization", format!("Bearer {}", other.access).as_str())],
        ),
    )
    .await;
    assert_denied(&expired, Code::Unauthenticated, 401, "token_expired");
}

#[tokio::test]
async fn an_empty_or_malformed_check_request_is_denied() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let empty = check(&app, CheckRequest::default()).await;
    assert_denied(&empty, Code::InvalidArgument, 400, "invalid_request");
    let no_http = check(
        &app,
        CheckRequest {
            attributes: Some(AttributeContext {
                request: Some(Request { http: None }),
            }),
        },
    )
    .await;
    assert_denied(&no_http, Code::InvalidArgument, 400, "invalid_request");
    // Two authorization values (map and list disagree): refused.
    let auth = format!("Bearer {}", user.access);
    let twice = with_raw_headers(
        http_request("/app/x", &[("authorization", auth.as_str())]),
        &[("authorization", b"Bearer x.y.z")],
    );
    let response = check(&app, twice).await;
    assert_denied(&response, Code::Unauthenticated, 401, "invalid_token");
    // Bytes that do not decode as a CheckRequest: prost encodes the Vec as
    // a message whose field 1 (`attributes`) holds 0xff 0xff 0xff, an
    // invalid AttributeContext. The call fails, which Envoy treats as a
    // denial.
    let mut grpc = tonic::client::Grpc::new(app.grpc_channel().await);
    grpc.ready().await.unwrap();
    let garbage = grpc
        .unary::<Vec<u8>, CheckResponse, _>(
            tonic::Request::new(vec![0xff, 0xff, 0xff]),
            "/envoy.service.auth.v3.Authorization/Check"
                .parse()
                .unwrap(),
            tonic_prost::ProstCodec::default(),
        )
        .await;
    assert!(garbage.is_err(), "{garbage:?}");
}

#[tokio::test]
async fn raw_header_values_and_the_access_cookie_are_read() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let auth = format!("Bearer {}", user.access);
    let request = with_raw_headers(
        http_request("/app/x", &[]),
        &[("Authorization", auth.as_bytes())],
    );
    let response = check(&app, request).await;
    assert_eq!(set_headers(ok(&response))["x-warden-user"], user.user_id);

    let cookie = format!("theme=dark; __Host-warden_at={}", user.access);
    let response = check(&app, http_request("/app/x", &[("cookie", cookie.as_str())])).await;
    assert_eq!(set_headers(ok(&response))["x-warden-user"], user.user_id);
    let cookie = format!("__Host-warden_at={}; __Host-warden_at=x.y.z", user.access);
    let response = check(&app, http_request("/app/x", &[("cookie", cookie.as_str())])).await;
    assert_denied(&response, Code::Unauthenticated, 401, "invalid_token");
}

#[tokio::test]
async fn session_tokens_are_checked_in_the_store() {
    let app = spawn_app_with(|config| {
        config.tokens.access = warden_testkit::AccessTokenKind::Session;
    })
    .await;
    let user = app.new_user().await;
    assert!(user.access.starts_with("wst_"));
    let auth = format!("Bearer {}", user.access);
    let response = check(
        &app,
        http_request("/app/x", &[("authorization", auth.as_str())]),
    )
    .await;
    assert_eq!(
        set_headers(ok(&response))["x-warden-session"],
        user.session_id
    );
    sign_out(&app, &user.access).await;
    let response = check(
        &app,
        http_request("/app/x", &[("authorization", auth.as_str())]),
    )
    .await;
    assert_eq!(
        response.status.as_ref().map(|s| s.code),
        Some(Code::Unauthenticated as i32)
    );
}

#[tokio::test]
async fn the_verify_rules_apply_to_the_request_path() {
    let app = spawn_app_with(|config| {
        config.verify.policy = VerifyRule::policy(&[
            rule("/admin/", &["admin"], false),
            rule("/public/", &[], true),
        ])
        .unwrap();
    })
    .await;
    let user = app.new_user().await;
    let admin = app.new_admin().await;
    let user_auth = format!("Bearer {}", user.access);
    let admin_auth = format!("Bearer {}", admin.access);
    for path in [
        "/admin/x",
        "/%61dmin/x",
        "//admin/x",
        "/admin/../admin/x",
        "/admin;x",
        "/ADMIN/x",
    ] {
        let denied = check(
            &app,
            http_request(path, &[("authorization", user_auth.as_str())]),
        )
        .await;
        assert_denied(&denied, Code::PermissionDenied, 403, "forbidden");
        let allowed = check(
            &app,
            http_request(path, &[("authorization", admin_auth.as_str())]),
        )
        .await;
        assert_eq!(
            set_headers(ok(&allowed))["x-warden-user"],
            admin.user_id,
            "{path}"
        );
    }
    for path in ["/%2fadmin/x", "/..;/admin", "", "admin"] {
        let refused = check(
            &app,
            http_request(path, &[("authorization", admin_auth.as_str())]),
        )
        .await;
        assert_denied(&refused, Code::InvalidArgument, 400, "invalid_request");
    }
    // Public: allowed without a token, every client x-warden-* removed.
    let public = check(
        &app,
        http_request(
            "/public/x",
            &[("x-warden-user", "admin"), ("x-warden-roles", "admin")],
        ),
    )
    .await;
    let ok = ok(&public);
    assert!(ok.headers.is_empty(), "{ok:?}");
    assert_eq!(
        ok.headers_to_remove,
        vec!["x-warden-roles", "x-warden-user"]
    );
}

/// With `[verify] sign_in_url`, Envoy is told to answer a browser's page
/// load without a valid token with a 302 to the sign-in page; API calls
/// keep the 401 and a missing role stays 403.
#[tokio::test]
async fn page_loads_without_a_token_are_sent_to_the_sign_in_page() {
    let app = spawn_app_with(|config| {
        config.verify.sign_in =
            Some(SignInRedirect::parse("https://auth.warden.test/sign-in").unwrap());
        config.verify.policy = VerifyRule::policy(&[rule("/admin/", &["admin"], false)]).unwrap();
    })
    .await;
    let user = app.new_user().await;
    let html = ("accept", "text/html,application/xhtml+xml,*/*;q=0.8");
    let redirect = |response: &CheckResponse| {
        assert_eq!(response.status.as_ref().map(|s| s.code), Some(16));
        let Some(HttpResponse::DeniedResponse(denied)) = &response.http_response else {
            panic!("expected denied_response, got {response:?}");
        };
        assert_eq!(denied.status.as_ref().map(|s| s.code), Some(302));
        let headers = denied_headers(denied);
        assert_eq!(headers["cache-control"], "no-store");
        headers["location"].to_owned()
    };

    // Envoy's scheme and host are not an allowed origin: the path only.
    let page = check(&app, http_request("/app/x?y=1", &[html])).await;
    assert_eq!(
        redirect(&page),
        "https://auth.warden.test/sign-in?rd=%2Fapp%2Fx%3Fy%3D1"
    );
    let mut forged = http_request("/app/x", &[html, ("authorization", "Bearer forged")]);
    let expected_full =
        "https://auth.warden.test/sign-in?rd=https%3A%2F%2Fapp.warden.test%2Fapp%2Fx";
    http_of(&mut forged).host = "app.warden.test".into();
    assert_eq!(redirect(&check(&app, forged).await), expected_full);

    // An API call, a form post and a missing role keep their answers.
    let api = check(
        &app,
        http_request("/app/x", &[("accept", "application/json")]),
    )
    .await;
    assert_denied(&api, Code::Unauthenticated, 401, "invalid_token");
    let mut post = http_request("/app/x", &[html]);
    http_of(&mut post).method = "POST".into();
    assert_denied(
        &check(&app, post).await,
        Code::Unauthenticated,
        401,
        "invalid_token",
    );
    let user_auth = format!("Bearer {}", user.access);
    let admin_page = check(
        &app,
        http_request("/admin/x", &[html, ("authorization", user_auth.as_str())]),
    )
    .await;
    assert_denied(&admin_page, Code::PermissionDenied, 403, "forbidden");
    ok(&check(
        &app,
        http_request("/app/x", &[html, ("authorization", user_auth.as_str())]),
    )
    .await);
}

/// A service's own token (client credentials) passes a scope rule with
/// its identity (and no user's), is refused where a user is meant, and
/// is denied once its client is deleted.
#[tokio::test]
async fn a_service_token_passes_scope_rules_until_its_client_is_deleted() {
    let app = spawn_app_with(|config| {
        let mut billing = rule("/billing/", &[], false);
        billing.scopes = vec!["billing".into()];
        config.verify.policy =
            VerifyRule::policy(&[billing, rule("/admin/", &["admin"], false)]).unwrap();
    })
    .await;
    let admin = app.new_admin().await;
    let (id, secret) = app.new_service(&admin, &["billing", "reports"]).await;
    let token = app.service_token(&id, &secret, None).await;
    let auth = format!("Bearer {token}");
    let request = |path: &str| {
        http_request(
            path,
            &[("authorization", auth.as_str()), ("x-warden-user", "admin")],
        )
    };

    let response = check(&app, request("/billing/run")).await;
    let ok = ok(&response);
    let headers = set_headers(ok);
    assert_eq!(headers["x-warden-kind"], "service");
    assert_eq!(headers["x-warden-client"], id);
    assert_eq!(headers["x-warden-scope"], "billing reports");
    assert!(!headers.contains_key("x-warden-user"));
    // The client's own X-Warden-User is removed, not passed on.
    assert_eq!(ok.headers_to_remove, vec!["x-warden-user".to_owned()]);

    let narrow = app.service_token(&id, &secret, Some("reports")).await;
    let narrow_auth = format!("Bearer {narrow}");
    let refused = check(
        &app,
        http_request("/billing/run", &[("authorization", narrow_auth.as_str())]),
    )
    .await;
    assert_denied(&refused, Code::PermissionDenied, 403, "insufficient_scope");
    let for_people = check(&app, request("/admin/x")).await;
    assert_denied(&for_people, Code::PermissionDenied, 403, "user_required");

    let deleted = app
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/admin/clients/{id}"),
            Some(&admin.access),
            None,
        )
        .await;
    assert_eq!(deleted.status(), 204);
    let revoked = check(&app, request("/billing/run")).await;
    assert_denied(&revoked, Code::Unauthenticated, 401, "token_revoked");
}
