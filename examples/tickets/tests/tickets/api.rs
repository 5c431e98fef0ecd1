//! The HTTP API on a real socket. Tokens are signed here with a key the
//! verifier is given directly, so each role and each bad token is one line.

use std::sync::Arc;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tickets::{AppState, Store};
use uuid::Uuid;
use warden_token::{AccessClaims, Algorithm, Audience, JwkSet, SigningKey};
use warden_verify::{RevocationFeed, Verifier};

const ISSUER: &str = "https://auth.test";

struct Api {
    base: String,
    client: Client,
    key: SigningKey,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn start() -> Api {
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let verifier = Verifier::builder()
            .issuer(ISSUER)
            .audience("warden")
            .jwks(JwkSet {
                keys: vec![key.public_jwk()],
            })
            .revocations(RevocationFeed::disabled())
            .build()
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("tickets.db").display());
        let store = Arc::new(Store::connect(&url).await.unwrap());
        let app = tickets::router(AppState::new(verifier, store, None));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Api {
            base,
            client: Client::builder().no_proxy().build().unwrap(),
            key,
            _dir: dir,
        }
    }

    /// A token for a new user with `roles`; returns (token, user id).
    fn token(&self, roles: &[&str]) -> (String, Uuid) {
        let user = Uuid::now_v7();
        (self.token_of(user, roles, ISSUER, 900), user)
    }

    fn token_of(&self, user: Uuid, roles: &[&str], iss: &str, ttl: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        self.key
            .sign(&AccessClaims {
                iss: iss.into(),
                sub: user.to_string(),
                aud: Audience::One("warden".into()),
                exp: now + ttl,
                iat: now - 1000,
                nbf: now - 1000,
                jti: Uuid::now_v7().to_string(),
                sid: Uuid::now_v7().to_string(),
                roles: roles.iter().map(|r| r.to_string()).collect(),
                amr: vec!["pwd".into()],
                acr: "aal1".into(),
                auth_time: 0,
                client_id: None,
                scope: None,
            })
            .unwrap()
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn create(&self, token: &str, title: &str) -> Value {
        let response = self
            .send(
                reqwest::Method::POST,
                "/api/tickets",
                Some(token),
                Some(json!({"title": title, "body": "it smokes"})),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        response.json().await.unwrap()
    }

    async fn get(&self, path: &str, token: &str) -> Response {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.send(reqwest::Method::PATCH, path, Some(token), Some(body))
            .await
    }
}

/// Asserts a problem+json answer; returns its body.
async fn problem(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status.as_u16());
    body
}

#[tokio::test]
async fn an_owner_creates_lists_reads_and_updates_their_ticket() {
    let api = Api::start().await;
    let (token, user) = api.token(&["user"]);
    let created = api.create(&token, "  Printer on fire  ").await;
    assert_eq!(created["title"], "Printer on fire", "trimmed");
    assert_eq!(created["status"], "open");
    assert_eq!(created["owner_id"], user.to_string());
    let path = format!("/api/tickets/{}", created["id"].as_str().unwrap());

    let read: Value = api.get(&path, &token).await.json().await.unwrap();
    assert_eq!(read, created);

    let list: Value = api.get("/api/tickets/", &token).await.json().await.unwrap();
    assert_eq!(list["tickets"], json!([created]));
    assert_eq!(list["next_cursor"], Value::Null);

    let response = api
        .patch(
            &path,
            &token,
            json!({"status": "in_progress", "title": "Printer out"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["status"], "in_progress");
    assert_eq!(updated["title"], "Printer out");
    assert_eq!(updated["body"], "it smokes");
    assert_eq!(
        api.get(&path, &token).await.json::<Value>().await.unwrap(),
        updated
    );
}

#[tokio::test]
async fn another_users_ticket_does_not_exist_for_them() {
    let api = Api::start().await;
    let (ann, _) = api.token(&["user"]);
    let (bob, _) = api.token(&["user"]);
    let ticket = api.create(&ann, "Ann's").await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().unwrap());
    let missing = format!("/api/tickets/{}", Uuid::now_v7());

    // The same answer as for an id that was never used.
    let theirs = problem(
        api.get(&path, &bob).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let nobodys = problem(
        api.get(&missing, &bob).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(theirs, nobodys);
    problem(
        api.patch(&path, &bob, json!({"status": "closed"})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    problem(
        api.get("/api/tickets/not-a-uuid", &bob).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let list: Value = api.get("/api/tickets", &bob).await.json().await.unwrap();
    assert_eq!(list["tickets"], json!([]));
    let unchanged: Value = api.get(&path, &ann).await.json().await.unwrap();
    assert_eq!(unchanged["status"], "open");
}

#[tokio::test]
async fn an_admin_sees_and_updates_every_ticket() {
    let api = Api::start().await;
    let (ann, _) = api.token(&["user"]);
    let (bob, _) = api.token(&["user"]);
    // An admin made with `warden user add --role admin` has no `user` role.
    let (admin, _) = api.token(&["admin"]);
    let anns = api.create(&ann, "Ann's").await;
    let bobs = api.create(&bob, "Bob's").await;

    let list: Value = api.get("/api/tickets", &admin).await.json().await.unwrap();
    assert_eq!(
        list["tickets"],
        json!([bobs, anns]),
        "everyone's, newest first"
    );
    let path = format!("/api/tickets/{}", anns["id"].as_str().unwrap());
    assert_eq!(api.get(&path, &admin).await.status(), StatusCode::OK);
    let closed: Value = api
        .patch(&path, &admin, json!({"status": "closed"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["owner_id"], anns["owner_id"], "still Ann's");
    let seen_by_ann: Value = api.get(&path, &ann).await.json().await.unwrap();
    assert_eq!(seen_by_ann["status"], "closed");
}

#[tokio::test]
async fn without_a_valid_token_every_ticket_route_is_401() {
    let api = Api::start().await;
    let (token, user) = api.token(&["user"]);
    let ticket = api.create(&token, "mine").await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().unwrap());
    let expired = api.token_of(user, &["user"], ISSUER, -120);
    let foreign = api.token_of(user, &["user"], "https://evil.test", 900);
    let other_key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let now = chrono::Utc::now().timestamp();
    let forged = other_key
        .sign(&AccessClaims {
            iss: ISSUER.into(),
            sub: user.to_string(),
            aud: Audience::One("warden".into()),
            exp: now + 900,
            iat: now,
            nbf: now,
            jti: "forged".into(),
            sid: Uuid::now_v7().to_string(),
            roles: vec!["admin".into()],
            amr: vec!["pwd".into()],
            acr: "aal1".into(),
            auth_time: 0,
            client_id: None,
            scope: None,
        })
        .unwrap();
    for bad in [
        None,
        Some("garbage"),
        Some(&expired[..]),
        Some(&foreign[..]),
        Some(&forged[..]),
    ] {
        for (method, path) in [
            (reqwest::Method::GET, "/api/tickets"),
            (reqwest::Method::POST, "/api/tickets"),
            (reqwest::Method::GET, path.as_str()),
            (reqwest::Method::PATCH, path.as_str()),
        ] {
            let response = api
                .send(method.clone(), path, bad, Some(json!({"title": "x"})))
                .await;
            assert!(response.headers().contains_key("www-authenticate"));
            let code = if bad == Some(&expired[..]) {
                "token_expired"
            } else {
                "invalid_token"
            };
            problem(response, StatusCode::UNAUTHORIZED, code).await;
        }
    }
    let list: Value = api.get("/api/tickets", &token).await.json().await.unwrap();
    assert_eq!(
        list["tickets"].as_array().unwrap().len(),
        1,
        "nothing created"
    );
}

#[tokio::test]
async fn a_token_without_the_user_or_admin_role_is_403() {
    let api = Api::start().await;
    let (auditor, _) = api.token(&["auditor"]);
    let (nobody, _) = api.token(&[]);
    for token in [auditor, nobody] {
        problem(
            api.get("/api/tickets", &token).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        let create = api
            .send(
                reqwest::Method::POST,
                "/api/tickets",
                Some(&token),
                Some(json!({"title": "x"})),
            )
            .await;
        problem(create, StatusCode::FORBIDDEN, "forbidden").await;
    }
}

#[tokio::test]
async fn bad_input_is_400_naming_the_field() {
    let api = Api::start().await;
    let (token, _) = api.token(&["user"]);
    let post = |body: Value| {
        api.send(
            reqwest::Method::POST,
            "/api/tickets",
            Some(&token),
            Some(body),
        )
    };
    for (body, mentions) in [
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": "two\nlines"}), "title"),
        (json!({"title": "ok", "body": "\u{0007}"}), "body"),
        (json!({"title": 42}), "title"),
        (json!({}), "title"),
        (
            json!({"title": "ok", "owner_id": Uuid::now_v7()}),
            "owner_id",
        ),
    ] {
        let detail = problem(
            post(body.clone()).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await["detail"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(detail.contains(mentions), "{body}: {detail}");
    }
    let not_json = api
        .client
        .post(format!("{}/api/tickets", api.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    problem(not_json, StatusCode::BAD_REQUEST, "invalid_request").await;
    let huge = post(json!({"title": "big", "body": "x".repeat(70 * 1024)})).await;
    problem(huge, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let ticket = api.create(&token, "mine").await;
    let path = format!("/api/tickets/{}", ticket["id"].as_str().unwrap());
    for body in [json!({}), json!({"status": "done"}), json!({"title": ""})] {
        problem(
            api.patch(&path, &token, body).await,
            StatusCode::BAD_REQUEST,
            "invalid_request",
        )
        .await;
    }
    for query in ["limit=0", "limit=101", "limit=ten", "cursor=nope", "page=2"] {
        let response = api.get(&format!("/api/tickets?{query}"), &token).await;
        problem(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let unchanged: Value = api.get(&path, &token).await.json().await.unwrap();
    assert_eq!(unchanged, ticket);
}

#[tokio::test]
async fn the_list_pages_through_the_cursor() {
    let api = Api::start().await;
    let (token, _) = api.token(&["user"]);
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(api.create(&token, &format!("ticket {i}")).await["id"].clone());
    }
    made.reverse();
    let mut seen = Vec::new();
    let mut path = "/api/tickets?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page: Value = api.get(&path, &token).await.json().await.unwrap();
        pages += 1;
        seen.extend(
            page["tickets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/tickets?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, made);
}

#[tokio::test]
async fn health_and_readiness_answer_without_a_token() {
    let api = Api::start().await;
    let health = api
        .client
        .get(format!("{}/healthz", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let ready: Value = api
        .client
        .get(format!("{}/readyz", api.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready", "{ready}");
    assert_eq!(ready["checks"]["bus"], "not_configured");
    let unknown = api
        .client
        .get(format!("{}/nope", api.base))
        .send()
        .await
        .unwrap();
    problem(unknown, StatusCode::NOT_FOUND, "not_found").await;
}
