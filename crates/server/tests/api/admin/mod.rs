//! The admin API: authorization, user listing, bans, roles, deletion and the
//! audit log (contract admin table, security checklist 42-43), plus the
//! session IDOR check.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::HashSet;
use warden_testkit::{STRONG_PASSWORD, TestApp, Tokens, assert_problem, spawn_app, unique_email};

mod access;
mod audit;
mod bans_and_roles;
mod users;

pub(super) async fn json_of(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

pub(super) async fn get(app: &TestApp, token: &str, path: &str) -> Response {
    app.get_auth(path, token).await
}

pub(super) async fn ban(app: &TestApp, admin: &Tokens, user_id: &str) -> Response {
    app.call(
        Method::POST,
        &format!("/v1/admin/users/{user_id}/ban"),
        Some(&admin.access),
        Some(json!({"reason": "spam"})),
    )
    .await
}

pub(super) async fn set_roles(
    app: &TestApp,
    admin: &Tokens,
    user_id: &str,
    roles: Value,
) -> Response {
    app.call(
        Method::PUT,
        &format!("/v1/admin/users/{user_id}/roles"),
        Some(&admin.access),
        Some(json!({ "roles": roles })),
    )
    .await
}

/// `roles` of a token, as `/v1/validate` reports them.
pub(super) async fn token_roles(app: &TestApp, access: &str) -> HashSet<String> {
    let body = json_of(app.validate(access).await).await;
    body["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

pub(super) fn set_of(roles: &[&str]) -> HashSet<String> {
    roles.iter().map(|r| (*r).to_owned()).collect()
}

pub(super) fn roles_in(user: &Value) -> HashSet<String> {
    user["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect()
}

/// Every admin endpoint, acting on `target`.
pub(super) fn admin_endpoints(target: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/v1/admin/users".into(), None),
        (Method::GET, "/v1/admin/users?limit=5&q=a".into(), None),
        (Method::GET, format!("/v1/admin/users/{target}"), None),
        (
            Method::POST,
            format!("/v1/admin/users/{target}/ban"),
            Some(json!({"reason": "x"})),
        ),
        (
            Method::POST,
            format!("/v1/admin/users/{target}/unban"),
            None,
        ),
        (
            Method::PUT,
            format!("/v1/admin/users/{target}/roles"),
            Some(json!({"roles": ["admin"]})),
        ),
        (Method::DELETE, format!("/v1/admin/users/{target}"), None),
        (Method::GET, "/v1/admin/audit".into(), None),
        (Method::GET, format!("/v1/admin/audit?user={target}"), None),
    ]
}

pub(super) async fn signup_as(app: &TestApp, email: &str) -> String {
    let response = app.signup(email, STRONG_PASSWORD).await;
    json_of(response).await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(super) fn uuid_like() -> String {
    unique_email()
        .trim_start_matches("user-")
        .split('@')
        .next()
        .unwrap()
        .to_owned()
}

async fn audit_page(app: &TestApp, admin: &Tokens, query: &str) -> Value {
    json_of(get(app, &admin.access, &format!("/v1/admin/audit?{query}")).await).await
}

fn entries(page: &Value) -> Vec<Value> {
    page["entries"].as_array().unwrap().clone()
}
