//! A configured provider with its endpoints resolved: builds the
//! authorization URL and finishes the sign-in.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::discovery::{self, Endpoints};
use crate::id_token::{self, Expected};
use crate::jwks::{Jwks, KeyError};
use crate::{OAuthError, ProviderConfig, ProviderKind};

/// One provider, ready for sign-ins. Cloning is cheap; clones share the
/// JWKS cache.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

struct Inner {
    config: ProviderConfig,
    endpoints: Endpoints,
    jwks: Option<Jwks>,
    http: reqwest::Client,
}

/// What goes into the authorization URL; the caller keeps `state`, `nonce`
/// and the PKCE verifier in the browser's flow cookie.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    /// Our callback URL, registered with the provider.
    pub redirect_uri: &'a str,
    /// Binds the callback to this browser ([`random_token`](crate::random_token)).
    pub state: &'a str,
    /// Binds the ID token to this flow ([`random_token`](crate::random_token));
    /// not sent to GitHub, which has no ID token.
    pub nonce: &'a str,
    /// The S256 challenge, when [`Provider::uses_pkce`].
    pub pkce_challenge: Option<&'a str>,
}

/// What the provider sent back to the callback, with what the flow cookie
/// kept.
#[derive(Debug, Clone, Copy)]
pub struct Callback<'a> {
    /// The authorization code.
    pub code: &'a str,
    /// The same redirect URI as in the authorization request.
    pub redirect_uri: &'a str,
    /// The nonce of the authorization request.
    pub nonce: &'a str,
    /// The PKCE verifier, when a challenge was sent.
    pub pkce_verifier: Option<&'a str>,
    /// The current time (the clock port), for token times and the JWKS
    /// refetch limit.
    pub now: DateTime<Utc>,
}

/// Who signed in, as the provider vouches for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalProfile {
    /// The identity's issuer: with `subject` (and the provider id), the key
    /// of the identity. Microsoft: the tenant's issuer from `tid`.
    pub issuer: String,
    /// The user's stable id at the issuer (Microsoft: `oid`; GitHub: the
    /// numeric id).
    pub subject: String,
    /// The address, if the provider gave one.
    pub email: Option<String>,
    /// Whether the provider says it verified `email`; only such an address
    /// may create or link an account.
    pub email_verified: bool,
    /// The display name, if any.
    pub name: Option<String>,
    /// Google Workspace domain (`hd`).
    pub hosted_domain: Option<String>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("id", &self.id())
            .field("kind", &self.kind())
            .field(
                "authorization_endpoint",
                &self.inner.endpoints.authorization,
            )
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Checks `config` and resolves its endpoints: OIDC discovery
    /// (`{issuer}/.well-known/openid-configuration`) for every kind but
    /// GitHub, whose endpoints are fixed. The errors name the provider and
    /// the URL. Keys are fetched later, at the first sign-in.
    pub async fn discover(
        config: ProviderConfig,
        http: reqwest::Client,
    ) -> Result<Provider, OAuthError> {
        config.check()?;
        let endpoints = discovery::resolve(&config, &http).await?;
        let jwks = endpoints.jwks_uri.clone().map(Jwks::new);
        Ok(Provider {
            inner: Arc::new(Inner {
                config,
                endpoints,
                jwks,
                http,
            }),
        })
    }

    /// The configured id (the path segment).
    pub fn id(&self) -> &str {
        &self.inner.config.id
    }

    /// The button's text.
    pub fn label(&self) -> &str {
        &self.inner.config.label
    }

    /// The provider's kind.
    pub fn kind(&self) -> ProviderKind {
        self.inner.config.kind
    }

    /// Whether the authorization request should carry a PKCE challenge.
    pub fn uses_pkce(&self) -> bool {
        self.inner.endpoints.uses_pkce
    }

    /// Whether the provider posts the callback as a form (Apple, which
    /// requires `response_mode=form_post` when asking for `email` or `name`).
    pub fn uses_form_post(&self) -> bool {
        self.kind() == ProviderKind::Apple
    }

    /// The URL to send the browser to.
    pub fn authorization_url(&self, req: &AuthorizationRequest<'_>) -> String {
        let config = &self.inner.config;
        let scope = config.scope();
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &config.client_id)
            .append_pair("redirect_uri", req.redirect_uri)
            .append_pair("scope", &scope)
            .append_pair("state", req.state);
        if self.kind().is_oidc() {
            query.append_pair("nonce", req.nonce);
        }
        if let Some(challenge) = req.pkce_challenge {
            query
                .append_pair("code_challenge", challenge)
                .append_pair("code_challenge_method", "S256");
        }
        if self.uses_form_post() {
            query.append_pair("response_mode", "form_post");
        }
        let endpoint = &self.inner.endpoints.authorization;
        let separator = if endpoint.contains('?') { '&' } else { '?' };
        format!("{endpoint}{separator}{}", query.finish())
    }

    /// Exchanges the code, then verifies the ID token (OIDC kinds) or reads
    /// the profile (GitHub), and returns who signed in.
    pub async fn finish(
        &self,
        callback: &Callback<'_>,
    ) -> Result<crate::ExternalProfile, OAuthError> {
        let Inner {
            config,
            endpoints,
            jwks,
            http,
        } = &*self.inner;
        let id = self.id();
        let tokens = crate::token::exchange(http, config, &endpoints.token, callback).await?;
        if let Some(api) = &endpoints.api {
            let access_token = tokens
                .access_token
                .ok_or_else(|| OAuthError::provider(id, "token endpoint sent no access_token"))?;
            return crate::github::profile(http, id, api, &access_token).await;
        }
        let (Some(jwks), Some(token)) = (jwks, tokens.id_token) else {
            return Err(OAuthError::provider(id, "token endpoint sent no id_token"));
        };
        let invalid = |reason| OAuthError::id_token(id, reason);
        let (algorithm, kid) = id_token::header(&token).map_err(invalid)?;
        let key = jwks
            .key(http, id, kid.as_deref(), callback.now)
            .await
            .map_err(|e| match e {
                KeyError::Token(reason) => invalid(reason),
                KeyError::Fetch(error) => error,
            })?;
        let expected = Expected {
            kind: config.kind,
            client_id: &config.client_id,
            issuer: &endpoints.issuer,
            nonce: callback.nonce,
            now: callback.now,
        };
        id_token::verify(&token, algorithm, &key, &expected).map_err(invalid)
    }
}
