//! The code exchange at the token endpoint (RFC 6749 section 4.1.3), with
//! `client_secret_post` for every kind: one way to authenticate, and the
//! one Apple and GitHub both accept.

use reqwest::header::ACCEPT;
use serde::Deserialize;

use crate::{Callback, OAuthError, ProviderConfig, ProviderKind};

/// The token endpoint's answer. Deliberately not `Debug`: it holds tokens.
#[derive(Deserialize)]
pub(crate) struct Tokens {
    pub(crate) access_token: Option<String>,
    pub(crate) id_token: Option<String>,
    /// GitHub answers errors with 200 and this field.
    error: Option<String>,
}

/// Trades the callback's code (and PKCE verifier) for tokens.
pub(crate) async fn exchange(
    http: &reqwest::Client,
    config: &ProviderConfig,
    token_url: &str,
    callback: &Callback<'_>,
) -> Result<Tokens, OAuthError> {
    let id = &config.id;
    let secret = match (config.kind, &config.apple) {
        (ProviderKind::Apple, Some(key)) => Some(
            crate::apple::client_secret(key, &config.client_id, callback.now).map_err(|_| {
                OAuthError::provider(
                    id,
                    "cannot sign Apple's client secret with the configured key",
                )
            })?,
        ),
        _ => config.client_secret.as_ref().map(|s| s.expose().to_owned()),
    };
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", callback.code),
        ("redirect_uri", callback.redirect_uri),
        ("client_id", config.client_id.as_str()),
    ];
    if let Some(secret) = &secret {
        form.push(("client_secret", secret));
    }
    if let Some(verifier) = callback.pkce_verifier {
        form.push(("code_verifier", verifier));
    }
    // GitHub answers in form encoding unless asked for JSON.
    let request = http
        .post(token_url)
        .header(ACCEPT, "application/json")
        .form(&form);
    let tokens: Tokens = crate::http::fetch_json(http, id, "token endpoint", request).await?;
    if let Some(error) = &tokens.error {
        let code = crate::http::printable_error_code(error);
        return Err(OAuthError::provider(
            id,
            format!("token endpoint at {token_url}: error {code}"),
        ));
    }
    Ok(tokens)
}
