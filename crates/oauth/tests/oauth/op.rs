//! A small local OpenID provider (and GitHub look-alike) on 127.0.0.1:0:
//! discovery, JWKS, a token endpoint that checks the client, the code and
//! the PKCE verifier, and GitHub's `/user` and `/user/emails`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use warden_oauth::Pkce;

pub const CLIENT_ID: &str = "warden-client";
pub const CLIENT_SECRET: &str = "s3cret-client";
pub const REDIRECT_URI: &str = "https://auth.example/v1/oauth/test/callback";

#[derive(Clone)]
pub struct Op {
    pub base: String,
    state: Arc<Mutex<OpState>>,
}

struct Grant {
    id_token: Option<String>,
    challenge: Option<String>,
}

struct OpState {
    base: String,
    /// The issuer the discovery document names; `None`: `base`.
    document_issuer: Option<String>,
    /// `None`: any client secret (Apple's is checked by its test).
    client_secret: Option<String>,
    grants: HashMap<String, Grant>,
    jwks: Value,
    jwks_hits: usize,
    received_client_secret: Option<String>,
    github_user: Value,
    github_emails: Value,
    next_code: usize,
}

const ACCESS_TOKEN: &str = "gho_test_access_token";

impl Op {
    pub async fn start() -> Op {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(OpState {
            base: base.clone(),
            document_issuer: None,
            client_secret: Some(CLIENT_SECRET.to_owned()),
            grants: HashMap::new(),
            jwks: json!({"keys": []}),
            jwks_hits: 0,
            received_client_secret: None,
            github_user: Value::Null,
            github_emails: json!([]),
            next_code: 0,
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route(
                "/{tenant}/v2.0/.well-known/openid-configuration",
                get(discovery),
            )
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/login/oauth/access_token", post(token))
            .route("/user", get(github_user))
            .route("/user/emails", get(github_emails))
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Op { base, state }
    }

    fn with<T>(&self, f: impl FnOnce(&mut OpState) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub fn set_document_issuer(&self, issuer: &str) {
        self.with(|s| s.document_issuer = Some(issuer.to_owned()));
    }

    pub fn accept_any_client_secret(&self) {
        self.with(|s| s.client_secret = None);
    }

    pub fn set_jwks(&self, jwks: Value) {
        self.with(|s| s.jwks = jwks);
    }

    pub fn jwks_hits(&self) -> usize {
        self.with(|s| s.jwks_hits)
    }

    pub fn received_client_secret(&self) -> Option<String> {
        self.with(|s| s.received_client_secret.clone())
    }

    pub fn set_github(&self, user: Value, emails: Value) {
        self.with(|s| {
            s.github_user = user;
            s.github_emails = emails;
        });
    }

    /// A code that the token endpoint trades for `id_token`, only with the
    /// verifier of `challenge` when one is given.
    pub fn issue_code(&self, id_token: Option<String>, challenge: Option<&str>) -> String {
        self.with(|s| {
            s.next_code += 1;
            let code = format!("code-{}", s.next_code);
            let challenge = challenge.map(str::to_owned);
            s.grants.insert(
                code.clone(),
                Grant {
                    id_token,
                    challenge,
                },
            );
            code
        })
    }
}

type Shared = State<Arc<Mutex<OpState>>>;

async fn discovery(State(state): Shared) -> Json<Value> {
    let s = state.lock().unwrap();
    let base = &s.base;
    Json(json!({
        "issuer": s.document_issuer.clone().unwrap_or_else(|| base.clone()),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(state): Shared) -> Json<Value> {
    let mut s = state.lock().unwrap();
    s.jwks_hits += 1;
    Json(s.jwks.clone())
}

fn oauth_error(status: StatusCode, code: &str) -> Response {
    (
        status,
        Json(json!({"error": code, "error_description": "secret-ish detail"})),
    )
        .into_response()
}

async fn token(
    State(state): Shared,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut s = state.lock().unwrap();
    if headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) != Some("application/json") {
        return StatusCode::NOT_ACCEPTABLE.into_response();
    }
    let field = |name: &str| form.get(name).map(String::as_str);
    s.received_client_secret = field("client_secret").map(str::to_owned);
    let secret_ok = s
        .client_secret
        .as_deref()
        .is_none_or(|expected| field("client_secret") == Some(expected));
    if field("client_id") != Some(CLIENT_ID) || !secret_ok {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if field("grant_type") != Some("authorization_code")
        || field("redirect_uri") != Some(REDIRECT_URI)
    {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let Some(grant) = field("code").and_then(|code| s.grants.remove(code)) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let verifier_ok = grant.challenge.as_ref().is_none_or(|challenge| {
        field("code_verifier").map(Pkce::challenge_of).as_ref() == Some(challenge)
    });
    if !verifier_ok {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let mut body =
        json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600});
    if let Some(id_token) = grant.id_token {
        body["id_token"] = json!(id_token);
    }
    Json(body).into_response()
}

fn github_authorized(headers: &HeaderMap) -> bool {
    let bearer = format!("Bearer {ACCESS_TOKEN}");
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some(bearer.as_str())
        && headers.contains_key(header::USER_AGENT)
}

async fn github_user(State(state): Shared, headers: HeaderMap) -> Response {
    if !github_authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(state.lock().unwrap().github_user.clone()).into_response()
}

async fn github_emails(State(state): Shared, headers: HeaderMap) -> Response {
    if !github_authorized(&headers) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    Json(state.lock().unwrap().github_emails.clone()).into_response()
}
