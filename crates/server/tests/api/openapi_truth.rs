//! The OpenAPI document tells the truth (issue 14): every error answer is
//! documented as the problem+json it is, every operation that takes a
//! credential documents its 401 and the challenge, and what the server
//! really sends for a sample of failures is what the document says.
//! schemathesis checks the same more broadly against the binary in
//! `.ci/run` (`crates/server/tests/schemathesis/run_schemathesis.py`).

use reqwest::{Method, Response};
use serde_json::{Value, json};
use warden_testkit::{TestApp, spawn_app};

const PROBLEM: &str = "application/problem+json";

async fn document(app: &TestApp) -> Value {
    app.client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Every operation: (method, path, operation object).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    assert!(found.len() > 20, "only {} operations", found.len());
    found
}

/// A response object, following a `$ref` into `#/components/responses`.
fn resolve<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
    match response["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/responses/")
                .unwrap_or_else(|| panic!("unexpected reference {reference}"));
            let target = &doc["components"]["responses"][name];
            assert!(target.is_object(), "{reference} does not resolve");
            target
        }
        None => response,
    }
}

fn documented<'a>(doc: &'a Value, operation: &'a Value, status: u16) -> Option<&'a Value> {
    operation["responses"]
        .get(status.to_string())
        .map(|r| resolve(doc, r))
}

fn content_type(response: &Response) -> String {
    response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn every_error_answer_in_the_document_is_problem_json() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (method, path, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().unwrap() {
            let status: u16 = status.parse().unwrap();
            // /readyz's 503 is its status report, not an error (api.md).
            if status < 400 || path == "/readyz" {
                continue;
            }
            let response = resolve(&doc, response);
            let content = response["content"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path} {status}: no content documented"));
            let types: Vec<&String> = content.keys().collect();
            assert_eq!(types, [PROBLEM], "{method} {path} {status}");
            assert_eq!(
                content[PROBLEM]["schema"]["$ref"], "#/components/schemas/Problem",
                "{method} {path} {status}"
            );
        }
    }
}

#[tokio::test]
async fn every_operation_that_takes_a_credential_documents_401_with_its_challenge() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let mut checked = 0;
    for (method, path, operation) in operations(&doc) {
        let takes_bearer = operation["security"]
            .as_array()
            .is_some_and(|schemes| schemes.iter().any(|s| s.get("bearer").is_some()));
        if !takes_bearer {
            continue;
        }
        checked += 1;
        let unauthorized = documented(&doc, &operation, 401)
            .unwrap_or_else(|| panic!("{method} {path} takes a bearer token but has no 401"));
        assert_eq!(
            unauthorized["headers"]["WWW-Authenticate"]["required"], true,
            "{method} {path}: 401 without a required WWW-Authenticate"
        );
    }
    assert!(checked >= 15, "only {checked} operations take a credential");
}

#[tokio::test]
async fn operations_with_a_json_body_document_its_refusals() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    for (method, path, operation) in operations(&doc) {
        if operation.get("requestBody").is_none() {
            continue;
        }
        for status in [400, 413, 415] {
            assert!(
                documented(&doc, &operation, status).is_some(),
                "{method} {path} takes a body but does not document {status}"
            );
        }
    }
}

#[tokio::test]
async fn throttling_documents_retry_after() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let signin = &doc["paths"]["/v1/signin"]["post"];
    let throttled = documented(&doc, signin, 429).expect("signin documents 429");
    assert_eq!(throttled["headers"]["Retry-After"]["required"], true);
}

#[tokio::test]
async fn metrics_are_served_with_the_documented_content_type() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let documented_types: Vec<String> =
        doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
            .as_object()
            .expect("/metrics documents its content")
            .keys()
            .cloned()
            .collect();
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(documented_types, [content_type(&response)]);
}

/// (method, request path, documented path, token, content type, body).
type Case<'a> = (
    Method,
    &'a str,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<String>,
);

/// A sample of real failures: each status must be documented for its
/// operation, as problem+json, with the documented headers present.
#[tokio::test]
async fn the_errors_the_server_answers_are_the_documented_ones() {
    let app = spawn_app().await;
    let doc = document(&app).await;
    let user = app.new_user().await;
    let long = "x".repeat(70 * 1024);
    let cases: Vec<Case> = vec![
        (Method::GET, "/v1/me", "/v1/me", None, None, None),
        (Method::GET, "/v1/me", "/v1/me", Some("nope"), None, None),
        (
            Method::GET,
            "/v1/sessions",
            "/v1/sessions",
            None,
            None,
            None,
        ),
        (
            Method::POST,
            "/v1/signout/all",
            "/v1/signout/all",
            None,
            None,
            None,
        ),
        (Method::POST, "/v1/signout", "/v1/signout", None, None, None),
        (
            Method::DELETE,
            "/v1/sessions/nope",
            "/v1/sessions/{id}",
            Some(&user.access),
            None,
            None,
        ),
        (
            Method::POST,
            "/v1/signup",
            "/v1/signup",
            None,
            Some("application/json"),
            Some("{nope".into()),
        ),
        (
            Method::POST,
            "/v1/signup",
            "/v1/signup",
            None,
            Some("text/plain"),
            Some("{}".into()),
        ),
        (
            Method::POST,
            "/v1/signup",
            "/v1/signup",
            None,
            Some("application/json"),
            Some(json!({"email": "a@example.com", "password": long}).to_string()),
        ),
        (
            Method::POST,
            "/v1/signin",
            "/v1/signin",
            None,
            Some("application/json"),
            Some(json!({"email": user.email, "password": "wrong password 123!"}).to_string()),
        ),
        (
            Method::POST,
            "/v1/password",
            "/v1/password",
            Some(&user.access),
            Some("application/json"),
            Some(
                json!({"current_password": "wrong password 123!", "new_password": "x"}).to_string(),
            ),
        ),
        (
            Method::POST,
            "/v1/token/refresh",
            "/v1/token/refresh",
            None,
            Some("application/json"),
            Some(json!({"refresh_token": "wrt_nope"}).to_string()),
        ),
        (
            Method::GET,
            "/v1/admin/users",
            "/v1/admin/users",
            None,
            None,
            None,
        ),
        (
            Method::GET,
            "/v1/admin/users",
            "/v1/admin/users",
            Some(&user.access),
            None,
            None,
        ),
        (
            Method::GET,
            "/v1/admin/audit?limit=x",
            "/v1/admin/audit",
            Some(&user.access),
            None,
            None,
        ),
        (Method::GET, "/v1/verify", "/v1/verify", None, None, None),
        (
            Method::POST,
            "/v1/validate",
            "/v1/validate",
            None,
            None,
            None,
        ),
    ];
    for (method, path, documented_path, token, ct, body) in cases {
        let mut request = app.client.request(method.clone(), app.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(ct) = ct {
            request = request.header("content-type", ct);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let what = format!("{method} {path} -> {status}");
        assert!(status >= 400, "{what}: expected a failure");
        let operation = &doc["paths"][documented_path][method.as_str().to_lowercase()];
        assert!(operation.is_object(), "{what}: operation not documented");
        let answer = documented(&doc, operation, status)
            .unwrap_or_else(|| panic!("{what}: status not documented"));
        assert_eq!(content_type(&response), PROBLEM, "{what}");
        assert!(
            answer["content"].get(PROBLEM).is_some(),
            "{what}: documented without problem+json"
        );
        if let Some(headers) = answer["headers"].as_object() {
            for (name, header) in headers {
                if header["required"] != true {
                    continue;
                }
                assert!(
                    response.headers().contains_key(name.as_str()),
                    "{what}: documented header {name} missing"
                );
            }
        }
    }
}
