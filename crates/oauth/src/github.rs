//! GitHub: plain OAuth 2.0, no ID token. Who signed in comes from its REST
//! API, and the address only from a verified primary entry of
//! `/user/emails` (the profile's `email` is whatever the user made public,
//! verified or not).

use reqwest::header::{ACCEPT, AUTHORIZATION, USER_AGENT};
use serde::Deserialize;

use crate::discovery::{Endpoints, ExpectedIssuer};
use crate::{ExternalProfile, OAuthError, PkceMode, ProviderConfig};

/// The issuer recorded with every GitHub identity, whatever URLs were
/// configured (tests), so that identities stay keyed the same way.
pub(crate) const ISSUER: &str = "https://github.com";

const DEFAULT_API: &str = "https://api.github.com";

/// GitHub's fixed endpoints under `base` (`https://github.com` unless
/// configured) and the API base.
pub(crate) fn endpoints(config: &ProviderConfig, base: &str) -> Endpoints {
    let api = config
        .api_base
        .as_deref()
        .unwrap_or(DEFAULT_API)
        .trim_end_matches('/');
    Endpoints {
        authorization: format!("{base}/login/oauth/authorize"),
        token: format!("{base}/login/oauth/access_token"),
        jwks_uri: None,
        api: Some(api.to_owned()),
        issuer: ExpectedIssuer::Exact {
            issuer: ISSUER.to_owned(),
            alias: None,
        },
        // GitHub supports S256 but publishes no discovery to say so.
        uses_pkce: config.pkce != PkceMode::Never,
    }
}

#[derive(Deserialize)]
struct User {
    id: u64,
    login: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    primary: bool,
    verified: bool,
}

/// The signed-in user, read with the access token.
pub(crate) async fn profile(
    http: &reqwest::Client,
    provider: &str,
    api: &str,
    access_token: &str,
) -> Result<ExternalProfile, OAuthError> {
    let get = |path: &str| {
        http.get(format!("{api}{path}"))
            .header(ACCEPT, "application/vnd.github+json")
            .header(AUTHORIZATION, format!("Bearer {access_token}"))
            // GitHub refuses API requests without a User-Agent.
            .header(USER_AGENT, "warden-oauth")
    };
    let user: User = crate::http::fetch_json(http, provider, "GitHub user", get("/user")).await?;
    let emails: Vec<Email> =
        crate::http::fetch_json(http, provider, "GitHub e-mails", get("/user/emails")).await?;
    let email = emails
        .into_iter()
        .find(|e| e.primary && e.verified)
        .map(|e| e.email);
    Ok(ExternalProfile {
        issuer: ISSUER.to_owned(),
        subject: user.id.to_string(),
        email_verified: email.is_some(),
        email,
        name: user.name.filter(|n| !n.is_empty()).or(user.login),
        hosted_domain: None,
    })
}
