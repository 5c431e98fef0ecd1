//! Warden as an OpenID provider (issue 19, front-door contract section 7)
//! over plain HTTP, the browser's part played by hand with the pages'
//! cookies: authorization, consent, the token endpoint's three grants,
//! ID tokens checked against the JWKS, userinfo, introspection,
//! revocation, logout and discovery, with the OpenID Foundation's basic
//! OP checks that make sense without a browser. `browser.rs` consents in
//! chromium; `crates/server/tests/rp/` runs real relying-party libraries
//! (openid-client, Authlib) through chromium against the binary (.ci/run).

mod checks;
mod flow;
mod services;

use base64::Engine as _;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use warden_testkit::{TestApp, Tokens};

use crate::pages::{Jar, get, location, signed_in};

pub(crate) const CALLBACK: &str = "http://127.0.0.1:9/callback";

/// A registered client.
pub(crate) struct Registered {
    pub id: String,
    pub secret: Option<String>,
}

/// Registers a client through the admin API.
pub(crate) async fn register(app: &TestApp, admin: &Tokens, body: Value) -> Registered {
    let response = app
        .call(
            Method::POST,
            "/v1/admin/clients",
            Some(&admin.access),
            Some(body),
        )
        .await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    Registered {
        id: body["client_id"].as_str().unwrap().to_owned(),
        secret: body["client_secret"].as_str().map(str::to_owned),
    }
}

/// A confidential web app: code, refresh; first party unless asked.
pub(crate) async fn web_app(app: &TestApp, admin: &Tokens, first_party: bool) -> Registered {
    register(
        app,
        admin,
        json!({
            "type": "confidential",
            "name": "Tickets",
            "redirect_uris": [CALLBACK],
            "post_logout_redirect_uris": ["http://127.0.0.1:9/bye"],
            "grant_types": ["authorization_code", "refresh_token"],
            "scopes": ["tickets:read"],
            "first_party": first_party,
        }),
    )
    .await
}

/// A PKCE pair: (verifier, S256 challenge).
pub(crate) fn pkce() -> (String, String) {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&verifier));
    (verifier, challenge)
}

/// `/oauth2/authorize?` with these parameters.
pub(crate) fn authorize_path(params: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        query.append_pair(k, v);
    }
    format!("/oauth2/authorize?{}", query.finish())
}

/// The usual code request with PKCE, plus `extra`.
pub(crate) fn code_request(client: &str, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("response_type", "code"),
        ("client_id", client),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    for (k, v) in extra {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    authorize_path(&params)
}

/// The query parameters of a redirect to the client.
pub(crate) fn callback_params(url: &str) -> std::collections::HashMap<String, String> {
    assert!(url.starts_with(CALLBACK), "not back at the client: {url}");
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The URL a "continue" page moves on to (after a form).
pub(crate) async fn continue_target(response: Response) -> String {
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    let start = html
        .find("content=\"0;url=")
        .unwrap_or_else(|| panic!("no refresh: {html}"))
        + "content=\"0;url=".len();
    let end = start + html[start..].find('"').unwrap();
    html[start..end].replace("&amp;", "&")
}

/// A signed-in browser asks a first-party client for a code; returns the
/// code (the page answers with a redirect at once).
pub(crate) async fn code_for(
    app: &TestApp,
    jar: &mut Jar,
    client: &str,
    challenge: &str,
    extra: &[(&str, &str)],
) -> String {
    let response = get(app, &code_request(client, challenge, extra), jar).await;
    assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
    let params = callback_params(location(&response));
    assert_eq!(params["state"], "st-123");
    assert_eq!(params["iss"], app.config.issuer());
    params["code"].clone()
}

/// `POST /oauth2/token` with Basic credentials (when a secret is given).
pub(crate) async fn token(app: &TestApp, client: &Registered, fields: &[(&str, &str)]) -> Response {
    let mut request = app.client.post(app.url("/oauth2/token"));
    let mut fields = fields.to_vec();
    match &client.secret {
        Some(secret) => request = request.basic_auth(&client.id, Some(secret)),
        None => fields.push(("client_id", &client.id)),
    }
    request.form(&fields).send().await.unwrap()
}

/// Exchanges a code; the answer must be tokens.
pub(crate) async fn exchange(
    app: &TestApp,
    client: &Registered,
    code: &str,
    verifier: &str,
) -> Value {
    let response = token(
        app,
        client,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier),
        ],
    )
    .await;
    let status = response.status();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    body
}

/// Asserts an RFC 6749 section 5.2 error.
pub(crate) async fn assert_oauth_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].is_string());
    body
}

/// Verifies an ID token's signature against the published JWKS (with
/// jsonwebtoken, not Warden's code) and returns its claims.
pub(crate) async fn verified_id_token(app: &TestApp, id_token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    let jwks: Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = header.kid.clone().unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not published"));
    let key = match header.alg {
        jsonwebtoken::Algorithm::RS256 => jsonwebtoken::DecodingKey::from_rsa_components(
            jwk["n"].as_str().unwrap(),
            jwk["e"].as_str().unwrap(),
        )
        .unwrap(),
        jsonwebtoken::Algorithm::EdDSA => {
            jsonwebtoken::DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap()
        }
        other => panic!("unexpected alg {other:?}"),
    };
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[app.config.issuer()]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .unwrap()
        .claims
}

/// `at_hash` computed here: the left half of SHA-256, base64url.
pub(crate) fn at_hash_rs256(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// A person signed in on the pages, and an admin.
pub(crate) async fn person_and_admin(app: &TestApp) -> (String, Jar, Tokens) {
    let (email, jar) = signed_in(app).await;
    let admin = app.new_admin().await;
    (email, jar, admin)
}
