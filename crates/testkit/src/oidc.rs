//! A small OpenID provider for Warden's social sign-in tests, on
//! 127.0.0.1:0: discovery, JWKS, an authorization endpoint that signs in
//! whoever the test says (no login page: the browser journeys use a real
//! provider) and sends the browser back with a code, and a token endpoint
//! that checks the client secret, the code, the redirect URI and the PKCE
//! verifier before it hands out an Ed25519-signed ID token carrying the
//! flow's nonce.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The client Warden is registered as.
pub const CLIENT_ID: &str = "warden-test-client";
/// Its secret.
pub const CLIENT_SECRET: &str = "warden-test-client-secret";

/// Who signs in at the provider next.
#[derive(Debug, Clone)]
pub struct Person {
    /// `sub`.
    pub subject: String,
    /// `email`, if any.
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: bool,
}

impl Person {
    /// A person with a verified address and a fresh subject.
    pub fn verified(email: &str) -> Self {
        Self {
            subject: format!("sub-{}", uuid::Uuid::new_v4().simple()),
            email: Some(email.to_owned()),
            email_verified: true,
        }
    }
}

/// Changes to the next ID token's claims (attacks).
pub type Tamper = Box<dyn Fn(&mut Value) + Send>;

struct Grant {
    person: Person,
    nonce: Option<String>,
    challenge: Option<String>,
    redirect_uri: String,
}

struct OpState {
    issuer: String,
    key: ed25519_dalek::SigningKey,
    kid: String,
    next: Option<Person>,
    tamper: Option<Tamper>,
    grants: HashMap<String, Grant>,
    token_requests: usize,
    jwks_requests: usize,
}

/// The running provider.
#[derive(Clone)]
pub struct OidcProvider {
    /// Its issuer (`http://127.0.0.1:<port>`).
    pub issuer: String,
    state: Arc<Mutex<OpState>>,
}

impl OidcProvider {
    /// Starts one.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(OpState {
            issuer: issuer.clone(),
            key: ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng),
            kid: "k1".into(),
            next: None,
            tamper: None,
            grants: HashMap::new(),
            token_requests: 0,
            jwks_requests: 0,
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { issuer, state }
    }

    fn with<T>(&self, f: impl FnOnce(&mut OpState) -> T) -> T {
        f(&mut self.state.lock().expect("provider state"))
    }

    /// The person the next authorization signs in.
    pub fn sign_in_as(&self, person: Person) {
        self.with(|s| s.next = Some(person));
    }

    /// Changes the claims of the next ID token.
    pub fn tamper_next(&self, tamper: impl Fn(&mut Value) + Send + 'static) {
        self.with(|s| s.tamper = Some(Box::new(tamper)));
    }

    /// A new signing key under a new `kid` (the old one is gone from JWKS).
    pub fn rotate_keys(&self, kid: &str) {
        self.with(|s| {
            s.key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
            s.kid = kid.to_owned();
        });
    }

    /// How many times the key set was fetched.
    pub fn jwks_requests(&self) -> usize {
        self.with(|s| s.jwks_requests)
    }

    /// How many code exchanges were asked for.
    pub fn token_requests(&self) -> usize {
        self.with(|s| s.token_requests)
    }
}

type Shared = State<Arc<Mutex<OpState>>>;

async fn discovery(State(state): Shared) -> Json<Value> {
    let issuer = state.lock().expect("state").issuer.clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(state): Shared) -> Json<Value> {
    let mut s = state.lock().expect("state");
    s.jwks_requests += 1;
    Json(json!({"keys": [{
        "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": s.kid,
        "x": URL_SAFE_NO_PAD.encode(s.key.verifying_key().as_bytes()),
    }]}))
}

async fn authorize(State(state): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut s = state.lock().expect("state");
    let (Some(redirect_uri), Some(state_param)) = (q.get("redirect_uri"), q.get("state")) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID)
        || q.get("response_type").map(String::as_str) != Some("code")
    {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let Some(person) = s.next.clone() else {
        let to = format!("{redirect_uri}?error=access_denied&state={state_param}");
        return (StatusCode::FOUND, [(header::LOCATION, to)]).into_response();
    };
    let code = format!("code-{}", uuid::Uuid::new_v4().simple());
    s.grants.insert(
        code.clone(),
        Grant {
            person,
            nonce: q.get("nonce").cloned(),
            challenge: q.get("code_challenge").cloned(),
            redirect_uri: redirect_uri.clone(),
        },
    );
    let state_param: String = form_urlencoded::byte_serialize(state_param.as_bytes()).collect();
    let to = format!("{redirect_uri}?code={code}&state={state_param}");
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

fn oauth_error(code: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({"error": code}))).into_response()
}

async fn token(State(state): Shared, Form(form): Form<HashMap<String, String>>) -> Response {
    let mut s = state.lock().expect("state");
    s.token_requests += 1;
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("client_id") != Some(CLIENT_ID) || field("client_secret") != Some(CLIENT_SECRET) {
        return oauth_error("invalid_client");
    }
    let Some(grant) = field("code").and_then(|code| s.grants.remove(code)) else {
        return oauth_error("invalid_grant");
    };
    if field("redirect_uri") != Some(grant.redirect_uri.as_str()) {
        return oauth_error("invalid_grant");
    }
    if let Some(challenge) = &grant.challenge {
        use sha2::{Digest as _, Sha256};
        let verifier = field("code_verifier").unwrap_or_default();
        if URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) != *challenge {
            return oauth_error("invalid_grant");
        }
    }
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": s.issuer, "aud": CLIENT_ID, "sub": grant.person.subject,
        "iat": now, "exp": now + 300,
        "email_verified": grant.person.email_verified,
    });
    if let Some(email) = &grant.person.email {
        claims["email"] = json!(email);
    }
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = json!(nonce);
    }
    if let Some(tamper) = s.tamper.take() {
        tamper(&mut claims);
    }
    let id_token = sign(&s.key, &s.kid, &claims);
    Json(json!({
        "access_token": "op-access-token", "token_type": "Bearer", "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

fn sign(key: &ed25519_dalek::SigningKey, kid: &str, claims: &Value) -> String {
    use ed25519_dalek::Signer as _;
    let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": kid});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
}
