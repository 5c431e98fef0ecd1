//! Operations and discovery: health, readiness, metrics, JWKS, OpenID
//! discovery, key rotation (checklist C29-C30), restarts, the OpenAPI
//! document, and the problem+json answers for unknown paths and methods.

use std::collections::HashSet;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use warden_testkit::{ISSUER, STRONG_PASSWORD, TestApp, assert_problem, spawn_app};

const OPENAPI_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");

async fn get(app: &TestApp, path: &str) -> Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = get(app, path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.json().await.unwrap()
}

fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn kid_of(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    get_json(app, "/.well-known/jwks.json").await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

// ----- health -----

#[tokio::test]
async fn healthz_answers_200() {
    let app = spawn_app().await;
    let response = get(&app, "/healthz").await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn readyz_answers_200_with_the_store_ok() {
    let app = spawn_app().await;
    let body = get_json(&app, "/readyz").await;
    assert_eq!(body["checks"]["store"], "ok", "{body}");
}

// ----- metrics -----

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_sign_ins_by_outcome() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    let response = app
        .signin(&user.email, "definitely the wrong password 1")
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let second = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    let response = app
        .get_auth(&format!("/v1/admin/users/{}", user.user_id), &admin.access)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    app.call(
        Method::DELETE,
        &format!("/v1/sessions/{}", second.session_id),
        Some(&user.access),
        None,
    )
    .await;
    // A token in an unknown path must not become a label either.
    get(&app, &format!("/v1/nope/{}", user.access)).await;
    app.validate(&user.access).await;

    let response = get(&app, "/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = header(&response, "content-type");
    assert!(
        content_type.starts_with("text/plain")
            || content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let line_with = |needles: &[&str]| {
        text.lines()
            .find(|l| !l.starts_with('#') && needles.iter().all(|n| l.contains(n)))
            .map(str::to_owned)
    };
    assert!(
        line_with(&[
            "warden_http_requests",
            "route=\"/v1/signin\"",
            "status=\"401\""
        ])
        .is_some(),
        "{text}"
    );
    assert!(
        line_with(&[
            "warden_http_requests",
            "route=\"/v1/signin\"",
            "status=\"200\""
        ])
        .is_some(),
        "{text}"
    );
    assert!(
        line_with(&["warden_http_requests", "route=\"/v1/admin/users/{id}\""]).is_some(),
        "{text}"
    );
    let value = |line: String| -> f64 { line.rsplit(' ').next().unwrap().parse().unwrap() };
    let failures = line_with(&["warden_signins", "outcome=\"invalid_credentials\""])
        .unwrap_or_else(|| panic!("no failed sign-in counter: {text}"));
    assert_eq!(value(failures), 1.0);
    let successes = line_with(&["warden_signins", "outcome=\"success\""])
        .unwrap_or_else(|| panic!("no successful sign-in counter: {text}"));
    // new_admin signs in too.
    assert_eq!(value(successes), 2.0);
    assert!(text.contains("warden_password_hash_queue_depth"), "{text}");
    for secret in [
        user.user_id.as_str(),
        second.session_id.as_str(),
        user.access.as_str(),
        user.refresh.as_str(),
        second.access.as_str(),
        admin.access.as_str(),
        user.email.as_str(),
        STRONG_PASSWORD,
    ] {
        assert!(!text.contains(secret), "metrics contain {secret}");
    }
}

#[tokio::test]
async fn metrics_count_grpc_calls_by_method_and_status() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut client = app.auth_client().await;
    client
        .validate(warden_grpc::pb::ValidateRequest {
            token: user.access.clone(),
        })
        .await
        .unwrap();
    let refused = client
        .validate(warden_grpc::pb::ValidateRequest {
            token: format!("{}x", user.access),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    let text = get(&app, "/metrics").await.text().await.unwrap();
    let line_with = |needles: &[&str]| {
        text.lines()
            .find(|l| !l.starts_with('#') && needles.iter().all(|n| l.contains(n)))
            .map(str::to_owned)
    };
    let method = "method=\"/warden.v1.AuthService/Validate\"";
    for code in ["code=\"OK\"", "code=\"UNAUTHENTICATED\""] {
        let line = line_with(&["warden_grpc_requests_total", method, code])
            .unwrap_or_else(|| panic!("no {code} counter: {text}"));
        assert!(line.ends_with(" 1"), "{line}");
    }
    let count = line_with(&["warden_grpc_request_duration_seconds_count", method])
        .unwrap_or_else(|| panic!("no latency histogram: {text}"));
    assert!(count.ends_with(" 2"), "{count}");
    assert!(!text.contains(&user.access), "no token in metrics");
}

// ----- JWKS and discovery (C29) -----

#[tokio::test]
async fn the_jwks_publishes_only_public_members_with_unique_kids_and_cache_control() {
    let app = spawn_app().await;
    let response = get(&app, "/.well-known/jwks.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let cache_control = header(&response, "cache-control");
    assert!(
        cache_control.contains("max-age="),
        "Cache-Control: {cache_control}"
    );
    assert!(!cache_control.contains("no-store"));
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    let mut kids = HashSet::new();
    for key in keys {
        for private in ["d", "p", "q", "dp", "dq", "qi", "k", "oth"] {
            assert!(
                key.get(private).is_none(),
                "private member {private}: {key}"
            );
        }
        assert!(key["alg"].is_string(), "{key}");
        assert_eq!(key["use"], "sig", "{key}");
        assert!(key["kty"].is_string(), "{key}");
        assert!(
            kids.insert(key["kid"].as_str().unwrap().to_owned()),
            "duplicate kid"
        );
    }
    // The key that signs tokens is published.
    let user = app.new_user().await;
    assert!(kids.contains(&kid_of(&user.access)));
}

#[tokio::test]
async fn openid_discovery_names_the_issuer_and_the_jwks() {
    let app = spawn_app().await;
    let doc = get_json(&app, "/.well-known/openid-configuration").await;
    assert_eq!(doc["issuer"], ISSUER);
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/.well-known/jwks.json", ISSUER.trim_end_matches('/'))
    );
    // Only what exists: the endpoints of the OpenID provider, each of
    // which `provider::flow::discovery_lists_what_exists` calls.
    let endpoints: Vec<&String> = doc
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.ends_with("_endpoint"))
        .collect();
    assert_eq!(
        endpoints,
        [
            "authorization_endpoint",
            "end_session_endpoint",
            "introspection_endpoint",
            "revocation_endpoint",
            "token_endpoint",
            "userinfo_endpoint"
        ],
        "{doc}"
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    // Tokens carry the advertised issuer.
    let user = app.new_user().await;
    use base64::Engine as _;
    let payload: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(user.access.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["iss"], doc["issuer"]);
}

// ----- key rotation (C30) -----

#[tokio::test]
async fn tokens_signed_before_a_key_rotation_keep_working_until_the_old_key_retires() {
    let app = spawn_app().await;
    let before = app.new_user().await;
    let old_kid = kid_of(&before.access);
    let old_signer = app.auth.keys().ring().signer.clone();
    assert_eq!(jwks_kids(&app).await, vec![old_kid.clone()]);

    app.clock.advance(chrono::Duration::seconds(1));
    let rotated = app.auth.rotate_keys().await.unwrap();
    assert_ne!(rotated.kid, old_kid);
    // Published at once, so every instance verifies it before any signs with it.
    let kids: HashSet<String> = jwks_kids(&app).await.into_iter().collect();
    assert_eq!(kids, HashSet::from([old_kid.clone(), rotated.kid.clone()]));
    assert_eq!(app.validate(&before.access).await.status(), StatusCode::OK);
    let during = app.new_user().await;
    assert_eq!(
        kid_of(&during.access),
        old_kid,
        "signs only after the delay"
    );

    // After the activation delay (60 s) the next reload switches the signer.
    app.clock.advance(chrono::Duration::seconds(60));
    app.auth.housekeeping().await.unwrap();
    let after = app.new_user().await;
    assert_eq!(kid_of(&after.access), rotated.kid);
    assert_eq!(app.validate(&after.access).await.status(), StatusCode::OK);
    assert_eq!(app.validate(&during.access).await.status(), StatusCode::OK);
    // A refresh after the switch moves the old session to the new key.
    let refreshed: Value = app.refresh(&before.refresh).await.json().await.unwrap();
    assert_eq!(
        kid_of(refreshed["access_token"].as_str().unwrap()),
        rotated.kid
    );

    // Still published while a token it signed may live (the last one was
    // signed just before the switch; reloads lag up to 30 s).
    app.clock.advance(chrono::Duration::minutes(15));
    app.auth.housekeeping().await.unwrap();
    assert_eq!(jwks_kids(&app).await.len(), 2);

    // Once every token of the old key has expired, housekeeping deletes it.
    app.clock.advance(chrono::Duration::seconds(61));
    app.auth.housekeeping().await.unwrap();
    assert_eq!(jwks_kids(&app).await, vec![rotated.kid.clone()]);
    // Something the old key signs now, however fresh, is refused.
    let mut claims: warden_token::AccessClaims = {
        use base64::Engine as _;
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(before.access.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap()
    };
    let now = {
        use warden_core::ports::Clock as _;
        app.clock.now().timestamp()
    };
    claims.iat = now;
    claims.nbf = now;
    claims.exp = now + 600;
    let stale = old_signer.sign(&claims).unwrap();
    assert_problem(app.validate(&stale).await, 401, "invalid_token").await;
    // The old token has expired by now, and its key is gone as well.
    assert_eq!(
        app.validate(&before.access).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // New sign-ins keep working with the new key.
    let fresh = app.sign_in_ok(&after.email, STRONG_PASSWORD).await;
    assert_eq!(kid_of(&fresh.access), rotated.kid);
    assert_eq!(app.validate(&fresh.access).await.status(), StatusCode::OK);
}

// ----- restart -----

#[tokio::test]
async fn a_restart_keeps_users_keys_live_tokens_and_revocations() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let signed_out = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    let response = app
        .call(Method::POST, "/v1/signout", Some(&signed_out.access), None)
        .await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let kids_before = jwks_kids(&app).await;

    let app = app.restart().await;
    assert_eq!(jwks_kids(&app).await, kids_before);
    assert_eq!(app.validate(&user.access).await.status(), StatusCode::OK);
    assert_problem(app.validate(&signed_out.access).await, 401, "token_revoked").await;
    let again = app.sign_in_ok(&user.email, STRONG_PASSWORD).await;
    assert_eq!(app.validate(&again.access).await.status(), StatusCode::OK);
    assert_eq!(app.refresh(&user.refresh).await.status(), StatusCode::OK);
    let me: Value = app
        .get_auth("/v1/me", &again.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], user.user_id);
}

// ----- OpenAPI -----

#[tokio::test]
async fn the_openapi_document_is_openapi_3_1_and_matches_the_committed_file() {
    let app = spawn_app().await;
    let response = get(&app, "/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let served: Value = response.json().await.unwrap();
    assert!(
        served["openapi"]
            .as_str()
            .unwrap_or_default()
            .starts_with("3.1"),
        "openapi = {}",
        served["openapi"]
    );
    let paths = served["paths"].as_object().unwrap();
    for path in [
        "/v1/signup",
        "/v1/signin",
        "/v1/token/refresh",
        "/v1/validate",
        "/v1/verify",
        "/v1/admin/users/{id}/ban",
        "/.well-known/jwks.json",
    ] {
        assert!(paths.contains_key(path), "{path} missing from the document");
    }
    if std::env::var("UPDATE_OPENAPI").as_deref() == Ok("1") {
        let mut text = serde_json::to_string_pretty(&served).unwrap();
        text.push('\n');
        std::fs::write(OPENAPI_FILE, text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(OPENAPI_FILE).unwrap_or_else(|e| {
        panic!("{OPENAPI_FILE}: {e}; run with UPDATE_OPENAPI=1 to generate it")
    });
    let committed: Value = serde_json::from_str(&committed).unwrap();
    assert!(
        committed == served,
        "docs/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test -p warden --test api openapi`"
    );
}

// ----- fallbacks -----

#[tokio::test]
async fn an_unknown_path_is_a_404_problem() {
    let app = spawn_app().await;
    for path in [
        "/nope",
        "/v1/",
        "/v1/admin",
        "/v1/signin/extra",
        "/.well-known/other",
    ] {
        let response = get(&app, path).await;
        assert_problem(response, 404, "not_found").await;
    }
    let response = app.post("/v2/signin", json!({})).await;
    assert_problem(response, 404, "not_found").await;
}

#[tokio::test]
async fn a_wrong_method_is_a_405_problem() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/v1/signin"),
        (Method::PUT, "/v1/me"), // DELETE /v1/me deletes the account
        (Method::PUT, "/v1/validate"),
        (Method::POST, "/healthz"),
        (Method::POST, "/.well-known/jwks.json"),
        (Method::PATCH, "/v1/admin/users"),
    ] {
        let response = app.call(method.clone(), path, None, None).await;
        assert_problem(response, 405, "method_not_allowed").await;
    }
}
