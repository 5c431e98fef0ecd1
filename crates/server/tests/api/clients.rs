//! The OAuth client registry's admin API and `warden client` (issue 19,
//! front-door contract section 7): registration shows a confidential
//! client's secret once, and nothing ever shows it or its hash again.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use warden_core::clients::ClientId;
use warden_testkit::{TestApp, Tokens, assert_problem, spawn_app};

const CLIENTS: &str = "/v1/admin/clients";

async fn json_of(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
    serde_json::from_str(&text).unwrap()
}

fn web_app(kind: &str) -> Value {
    json!({
        "type": kind,
        "name": "Tickets",
        "redirect_uris": ["https://tickets.example.com/callback"],
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "email"],
    })
}

async fn call(
    app: &TestApp,
    admin: &Tokens,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    app.call(method, path, Some(&admin.access), body).await
}

async fn create(app: &TestApp, admin: &Tokens, body: Value) -> Response {
    call(app, admin, Method::POST, CLIENTS, Some(body)).await
}

/// Registers a client that must be accepted; returns the 201 body.
async fn created(app: &TestApp, admin: &Tokens, body: Value) -> Value {
    let response = create(app, admin, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_no_store(&response);
    json_of(response).await
}

fn assert_no_store(response: &Response) {
    assert_eq!(
        response.headers().get("cache-control").unwrap(),
        "no-store",
        "an answer with a secret must not be cached"
    );
}

fn client_path(body: &Value) -> String {
    format!("{CLIENTS}/{}", body["client_id"].as_str().unwrap())
}

/// No field of a client's answer holds a secret or its hash.
fn assert_no_secret_in(body: &Value, secret: &str) {
    let text = body.to_string();
    assert!(!text.contains(secret), "{text}");
    assert!(!text.contains("wcs_"), "{text}");
    assert!(!text.contains("hash"), "{text}");
}

/// Whether the stored client accepts `secret`, read through a store
/// connection of its own (the token endpoint that will check it is not
/// there yet).
async fn secret_works(app: &TestApp, client_id: &str, secret: &str) -> bool {
    let store = warden::app::open_store(&app.config)
        .await
        .unwrap()
        .into_store();
    let id = ClientId::parse(client_id).unwrap();
    let client = store.find_client(&id).await.unwrap().unwrap();
    client.verify_secret(secret)
}

async fn audit_actions(app: &TestApp, admin: &Tokens) -> Vec<(String, Value)> {
    let path = format!("/v1/admin/audit?user={}", admin.user_id);
    let page = json_of(app.get_auth(&path, &admin.access).await).await;
    page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["detail"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_confidential_client_gets_its_secret_once_and_never_again() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let body = created(&app, &admin, web_app("confidential")).await;
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("wcs_") && secret.len() > 40, "{secret}");
    let id = body["client_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 22);
    let mut fields: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "client_id",
            "client_secret",
            "created_at",
            "first_party",
            "grant_types",
            "id_token_signed_response_alg",
            "name",
            "post_logout_redirect_uris",
            "redirect_uris",
            "scopes",
            "type",
            "updated_at",
        ]
    );
    assert_eq!(body["type"], "confidential");
    assert_eq!(body["name"], "Tickets");
    assert_eq!(
        body["redirect_uris"],
        json!(["https://tickets.example.com/callback"])
    );
    assert_eq!(body["post_logout_redirect_uris"], json!([]));
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["scopes"], json!(["openid", "email"]));
    assert_eq!(body["first_party"], false);
    assert_eq!(body["id_token_signed_response_alg"], "RS256");
    assert!(secret_works(&app, &id, &secret).await);

    let shown = json_of(app.get_auth(&client_path(&body), &admin.access).await).await;
    assert_no_secret_in(&shown, &secret);
    let mut expected = body.clone();
    expected.as_object_mut().unwrap().remove("client_secret");
    assert_eq!(shown, expected);

    let page = json_of(app.get_auth(CLIENTS, &admin.access).await).await;
    assert_no_secret_in(&page, &secret);
    assert_eq!(page["clients"], json!([expected]));
    assert!(page["next_cursor"].is_null());

    assert!(
        app.outbox_names()
            .await
            .contains(&"client.created".to_owned())
    );
    assert!(
        audit_actions(&app, &admin)
            .await
            .contains(&("client_create".to_owned(), json!(id))),
        "the audit log names the admin and the client"
    );
}

#[tokio::test]
async fn a_public_client_has_no_secret_to_show_or_rotate() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let body = created(&app, &admin, web_app("public")).await;
    assert_eq!(body["type"], "public");
    assert!(body.get("client_secret").is_none(), "{body}");
    let rotate = format!("{}/secret", client_path(&body));
    let problem = assert_problem(
        call(&app, &admin, Method::POST, &rotate, None).await,
        400,
        "invalid_request",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("public"),
        "{problem}"
    );
}

#[tokio::test]
async fn settings_the_rules_refuse_are_400_naming_the_field() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let with = |field: &str, value: Value| {
        let mut body = web_app("confidential");
        body[field] = value;
        body
    };
    let cases = [
        (
            with("redirect_uris", json!(["http://tickets.example.com/cb"])),
            "redirect_uris",
        ),
        (
            with("redirect_uris", json!(["https://tickets.example.com/cb#x"])),
            "redirect_uris",
        ),
        (with("redirect_uris", json!([])), "redirect_uris"),
        (
            with("post_logout_redirect_uris", json!(["javascript:alert(1)"])),
            "post_logout_redirect_uris",
        ),
        (with("name", json!("  ")), "name"),
        (with("scopes", json!(["read write"])), "scopes"),
        (with("grant_types", json!([])), "grant_types"),
        (with("grant_types", json!(["password"])), "grant_types"),
        (with("grant_types", json!(["refresh_token"])), "grant_types"),
        (
            with("id_token_signed_response_alg", json!("HS256")),
            "id_token_signed_response_alg",
        ),
        (with("type", json!("trusted")), "type"),
        (with("client_secret", json!("wcs_mine")), "client_secret"),
        (
            {
                let mut body = web_app("public");
                body["grant_types"] = json!(["client_credentials"]);
                body
            },
            "grant_types",
        ),
        (
            {
                let mut body = web_app("public");
                body.as_object_mut().unwrap().remove("type");
                body
            },
            "type",
        ),
    ];
    for (body, field) in cases {
        let problem = assert_problem(
            create(&app, &admin, body.clone()).await,
            400,
            "invalid_request",
        )
        .await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(field), "{body} -> {detail}");
    }
    let page = json_of(app.get_auth(CLIENTS, &admin.access).await).await;
    assert_eq!(page["clients"], json!([]), "nothing refused was stored");
}

#[tokio::test]
async fn a_service_account_is_a_confidential_client_with_client_credentials() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let body = created(
        &app,
        &admin,
        json!({"type": "confidential", "name": "Billing worker", "grant_types": ["client_credentials"]}),
    )
    .await;
    assert_eq!(body["grant_types"], json!(["client_credentials"]));
    assert_eq!(body["redirect_uris"], json!([]));
    assert!(body["client_secret"].as_str().unwrap().starts_with("wcs_"));
}

#[tokio::test]
async fn put_replaces_the_settings_and_keeps_id_type_and_secret() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let body = created(&app, &admin, web_app("confidential")).await;
    let secret = body["client_secret"].as_str().unwrap().to_owned();
    let path = client_path(&body);
    app.clock.advance(chrono::Duration::minutes(5));
    let updated = json_of(
        call(
            &app,
            &admin,
            Method::PUT,
            &path,
            Some(json!({
                "name": "Tickets v2",
                "redirect_uris": ["https://tickets.example.com/cb2", "http://127.0.0.1:8123/cb"],
                "post_logout_redirect_uris": ["https://tickets.example.com/bye"],
                "grant_types": ["authorization_code", "client_credentials"],
                "scopes": ["openid"],
                "first_party": true,
                "id_token_signed_response_alg": "EdDSA",
            })),
        )
        .await,
    )
    .await;
    assert_eq!(updated["client_id"], body["client_id"]);
    assert_eq!(updated["type"], "confidential");
    assert_eq!(updated["name"], "Tickets v2");
    assert_eq!(
        updated["redirect_uris"],
        json!([
            "https://tickets.example.com/cb2",
            "http://127.0.0.1:8123/cb"
        ])
    );
    assert_eq!(
        updated["post_logout_redirect_uris"],
        json!(["https://tickets.example.com/bye"])
    );
    assert_eq!(
        updated["grant_types"],
        json!(["authorization_code", "client_credentials"])
    );
    assert_eq!(updated["first_party"], true);
    assert_eq!(updated["id_token_signed_response_alg"], "EdDSA");
    assert_eq!(updated["created_at"], body["created_at"]);
    assert_ne!(updated["updated_at"], body["updated_at"]);
    assert_no_secret_in(&updated, &secret);
    assert_eq!(
        json_of(app.get_auth(&path, &admin.access).await).await,
        updated
    );
    assert!(secret_works(&app, body["client_id"].as_str().unwrap(), &secret).await);
    assert!(
        app.outbox_names()
            .await
            .contains(&"client.updated".to_owned())
    );

    // What is left out takes its default: a PUT replaces, it does not merge.
    let minimal = json_of(
        call(
            &app,
            &admin,
            Method::PUT,
            &path,
            Some(json!({"name": "Worker", "grant_types": ["client_credentials"]})),
        )
        .await,
    )
    .await;
    assert_eq!(minimal["redirect_uris"], json!([]));
    assert_eq!(minimal["scopes"], json!([]));
    assert_eq!(minimal["first_party"], false);
    assert_eq!(minimal["id_token_signed_response_alg"], "RS256");

    for (body, field) in [
        (json!({"name": "X", "type": "public"}), "type"),
        (
            json!({"name": "X", "redirect_uris": ["ftp://x.example.com/"]}),
            "redirect_uris",
        ),
    ] {
        let problem = assert_problem(
            call(&app, &admin, Method::PUT, &path, Some(body)).await,
            400,
            "invalid_request",
        )
        .await;
        assert!(
            problem["detail"].as_str().unwrap().contains(field),
            "{problem}"
        );
    }
    assert_eq!(
        json_of(app.get_auth(&path, &admin.access).await).await,
        minimal,
        "a refused change changes nothing"
    );
}

#[tokio::test]
async fn rotating_the_secret_shows_a_new_one_once_and_voids_the_old() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let body = created(&app, &admin, web_app("confidential")).await;
    let id = body["client_id"].as_str().unwrap();
    let old = body["client_secret"].as_str().unwrap();
    let response = call(
        &app,
        &admin,
        Method::POST,
        &format!("{}/secret", client_path(&body)),
        None,
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_no_store(&response);
    let rotated = json_of(response).await;
    let new = rotated["client_secret"].as_str().unwrap();
    assert!(new.starts_with("wcs_"));
    assert_ne!(new, old);
    assert_eq!(rotated["client_id"], body["client_id"]);
    assert!(secret_works(&app, id, new).await);
    assert!(
        !secret_works(&app, id, old).await,
        "the old secret stops working"
    );
    let shown = json_of(app.get_auth(&client_path(&body), &admin.access).await).await;
    assert_no_secret_in(&shown, new);
    assert!(
        app.outbox_names()
            .await
            .contains(&"client.secret_rotated".to_owned())
    );
    assert!(
        audit_actions(&app, &admin)
            .await
            .contains(&("client_secret_rotate".to_owned(), json!(id)))
    );
}

#[tokio::test]
async fn a_deleted_client_is_gone() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let body = created(&app, &admin, web_app("confidential")).await;
    let path = client_path(&body);
    let response = call(&app, &admin, Method::DELETE, &path, None).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get_auth(&path, &admin.access).await, 404, "not_found").await;
    assert_problem(
        call(&app, &admin, Method::DELETE, &path, None).await,
        404,
        "not_found",
    )
    .await;
    let page = json_of(app.get_auth(CLIENTS, &admin.access).await).await;
    assert_eq!(page["clients"], json!([]));
    assert!(
        app.outbox_names()
            .await
            .contains(&"client.deleted".to_owned())
    );
    assert!(
        audit_actions(&app, &admin)
            .await
            .contains(&("client_delete".to_owned(), body["client_id"].clone()))
    );
}

#[tokio::test]
async fn an_unknown_or_malformed_client_id_is_404_everywhere() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let settings = json!({"name": "X", "grant_types": ["client_credentials"]});
    for id in ["AAAAAAAAAAAAAAAAAAAAAA", "not:an:id", &"x".repeat(65)] {
        let path = format!("{CLIENTS}/{id}");
        for (method, path, body) in [
            (Method::GET, path.clone(), None),
            (Method::PUT, path.clone(), Some(settings.clone())),
            (Method::POST, format!("{path}/secret"), None),
            (Method::DELETE, path.clone(), None),
        ] {
            let response = call(&app, &admin, method.clone(), &path, body).await;
            let problem = assert_problem(response, 404, "not_found").await;
            assert!(
                problem["detail"].as_str().unwrap().contains("client"),
                "{method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn the_client_list_pages_through_every_client_exactly_once() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let mut expected = Vec::new();
    for _ in 0..5 {
        let body = created(&app, &admin, web_app("public")).await;
        expected.push(body["client_id"].as_str().unwrap().to_owned());
    }
    expected.sort();
    let mut seen = Vec::new();
    let mut path = format!("{CLIENTS}?limit=2");
    for _ in 0..3 {
        let page = json_of(app.get_auth(&path, &admin.access).await).await;
        for client in page["clients"].as_array().unwrap() {
            seen.push(client["client_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => path = format!("{CLIENTS}?limit=2&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(seen, expected, "ordered by id, each once");
    for query in ["limit=0", "limit=101", "cursor=a:b", "after=x"] {
        assert_problem(
            app.get_auth(&format!("{CLIENTS}?{query}"), &admin.access)
                .await,
            400,
            "invalid_request",
        )
        .await;
    }
}

#[tokio::test]
async fn only_admins_manage_clients() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    let body = created(&app, &admin, web_app("confidential")).await;
    let path = client_path(&body);
    let endpoints = [
        (Method::GET, CLIENTS.to_owned(), None),
        (Method::POST, CLIENTS.to_owned(), Some(web_app("public"))),
        (Method::GET, path.clone(), None),
        (Method::PUT, path.clone(), Some(web_app("public"))),
        (Method::POST, format!("{path}/secret"), None),
        (Method::DELETE, path.clone(), None),
    ];
    for (method, path, body) in endpoints {
        let response = app.call(method.clone(), &path, None, body.clone()).await;
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{method} {path}"
        );
        assert_problem(response, 401, "invalid_token").await;
        let response = app
            .call(method.clone(), &path, Some(&user.access), body)
            .await;
        assert_problem(response, 403, "forbidden").await;
    }
    // Nothing the refused calls asked for happened.
    let shown = json_of(app.get_auth(&path, &admin.access).await).await;
    assert_eq!(shown["name"], "Tickets");
    let page = json_of(app.get_auth(CLIENTS, &admin.access).await).await;
    assert_eq!(page["clients"].as_array().unwrap().len(), 1);
}

#[test]
fn clients_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let output = crate::binary::warden()
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let ok = |args: &[&str]| {
        let (success, stdout, stderr) = run(args);
        assert!(success, "{args:?}: {stderr}");
        stdout
    };
    let added = ok(&[
        "client",
        "add",
        "--name",
        "Tickets",
        "--type",
        "confidential",
        "--redirect-uri",
        "https://tickets.example.com/cb",
        "--redirect-uri",
        "http://127.0.0.1:9000/cb",
        "--grant",
        "authorization_code",
        "--grant",
        "refresh_token",
        "--grant",
        "client_credentials",
        "--scope",
        "openid",
        "--scope",
        "tickets:read",
        "--first-party",
    ]);
    let value = |out: &str, key: &str| {
        out.lines()
            .find_map(|line| line.strip_prefix(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no {key} in {out}"))
            .to_owned()
    };
    let id = value(&added, "client_id");
    let first = value(&added, "client_secret");
    assert!(first.starts_with("wcs_"), "{added}");

    let listed = ok(&["client", "list"]);
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let line = listed.lines().next().unwrap();
    assert!(
        line.starts_with(&format!("{id}\tconfidential\tTickets\t")),
        "{line}"
    );
    assert!(
        line.contains("authorization_code,refresh_token,client_credentials"),
        "{line}"
    );
    assert!(!listed.contains("wcs_"), "{listed}");

    let rotated = ok(&["client", "rotate-secret", &id]);
    let second = value(&rotated, "client_secret");
    assert!(second.starts_with("wcs_") && second != first, "{rotated}");

    // A public client: no secret printed, none to rotate.
    let public = ok(&[
        "client",
        "add",
        "--name",
        "SPA",
        "--type",
        "public",
        "--redirect-uri",
        "https://spa.example.com/cb",
    ]);
    assert!(!public.contains("client_secret"), "{public}");
    let spa = value(&public, "client_id");
    let (success, _, stderr) = run(&["client", "rotate-secret", &spa]);
    assert!(!success && stderr.contains("public"), "{stderr}");
    let (success, _, stderr) = run(&[
        "client",
        "add",
        "--name",
        "Bad",
        "--type",
        "public",
        "--redirect-uri",
        "http://example.com/cb",
    ]);
    assert!(!success && stderr.contains("redirect_uris"), "{stderr}");
    assert_eq!(ok(&["client", "list"]).lines().count(), 2);

    ok(&["client", "delete", &id]);
    let listed = ok(&["client", "list"]);
    assert!(!listed.contains(&id), "{listed}");
    assert_eq!(listed.lines().count(), 1, "{listed}");
    let (success, _, stderr) = run(&["client", "delete", &id]);
    assert!(!success && stderr.contains("not found"), "{stderr}");
}
