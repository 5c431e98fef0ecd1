//! warden-oauth against local providers: one binary, a module per area.

mod apple;
mod discovery;
mod github;
mod keys;
mod microsoft;
mod oidc;
mod op;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use warden_oauth::{
    Callback, ExternalProfile, OAuthError, Pkce, PkceMode, Provider, ProviderConfig, ProviderKind,
    Secret,
};

use op::{CLIENT_ID, CLIENT_SECRET, Op, REDIRECT_URI};

pub const NONCE: &str = "the-flow-nonce";

/// A provider of `kind` whose issuer is `issuer` (usually the local OP).
pub fn config(kind: ProviderKind, issuer: &str) -> ProviderConfig {
    ProviderConfig {
        id: "test".into(),
        kind,
        label: "Test".into(),
        client_id: CLIENT_ID.into(),
        client_secret: Some(Secret::new(CLIENT_SECRET)),
        issuer: Some(issuer.to_owned()),
        scopes: None,
        pkce: PkceMode::Auto,
        tenant: None,
        apple: None,
        api_base: None,
    }
}

pub async fn discover(config: ProviderConfig) -> Provider {
    Provider::discover(config, reqwest::Client::new())
        .await
        .unwrap()
}

/// The claims of a valid ID token from `op` at `now`.
pub fn claims(op: &Op, now: DateTime<Utc>) -> Value {
    let now = now.timestamp();
    json!({
        "iss": op.base, "sub": "user-42", "aud": CLIENT_ID,
        "iat": now, "exp": now + 300, "nonce": NONCE,
        "email": "ada@example.com", "email_verified": true, "name": "Ada",
    })
}

/// One sign-in that the provider answers with `id_token`, with PKCE.
pub async fn sign_in(
    provider: &Provider,
    op: &Op,
    id_token: Option<String>,
    now: DateTime<Utc>,
) -> Result<ExternalProfile, OAuthError> {
    let pkce = Pkce::generate();
    let code = op.issue_code(id_token, Some(&pkce.challenge));
    provider
        .finish(&Callback {
            code: &code,
            redirect_uri: REDIRECT_URI,
            nonce: NONCE,
            pkce_verifier: Some(pkce.verifier.expose()),
            now,
        })
        .await
}
