//! The relying-party half of Warden's social sign-in: each configured
//! provider (Google, GitHub, Microsoft, Apple, GitLab, any OpenID Connect
//! issuer) is discovered once, then builds authorization URLs and turns a
//! callback's code into a verified [`ExternalProfile`]. The HTTP routes, the
//! flow cookie and the linking rules live elsewhere and call this crate.
//!
//! Verification is strict: the ID token's signature by the provider's JWKS
//! (RS256, ES256 or EdDSA; never `none` or HMAC), `iss`, `aud`/`azp`, `exp`
//! and `iat` with 60 s of leeway against the caller's clock, and `nonce`.
//! Unknown `kid`s refetch the JWKS at most once per 30 s. Every call to a
//! provider has a 10 s deadline and a 256 KiB body cap.
//!
//! # Example
//!
//! ```no_run
//! # async fn sign_in(http: reqwest::Client) -> Result<(), warden_oauth::OAuthError> {
//! use warden_oauth::{AuthorizationRequest, Callback, Pkce, PkceMode, Provider, ProviderConfig, ProviderKind, Secret, random_token};
//!
//! let config = ProviderConfig {
//!     id: "google".into(),
//!     kind: ProviderKind::Google,
//!     label: "Google".into(),
//!     client_id: "client-id".into(),
//!     client_secret: Some(Secret::new("client-secret")),
//!     issuer: None,
//!     scopes: None,
//!     pkce: PkceMode::Auto,
//!     tenant: None,
//!     apple: None,
//!     api_base: None,
//! };
//! let google = Provider::discover(config, http).await?;
//!
//! // /start: remember state, nonce and the verifier in the flow cookie.
//! let (state, nonce) = (random_token(), random_token());
//! let pkce = google.uses_pkce().then(Pkce::generate);
//! let url = google.authorization_url(&AuthorizationRequest {
//!     redirect_uri: "https://auth.example/v1/oauth/google/callback",
//!     state: &state,
//!     nonce: &nonce,
//!     pkce_challenge: pkce.as_ref().map(|p| p.challenge.as_str()),
//! });
//!
//! // /callback, once `state` matched the cookie's:
//! let profile = google
//!     .finish(&Callback {
//!         code: "the code from the query",
//!         redirect_uri: "https://auth.example/v1/oauth/google/callback",
//!         nonce: &nonce,
//!         pkce_verifier: pkce.as_ref().map(|p| p.verifier.expose()),
//!         now: chrono::Utc::now(),
//!     })
//!     .await?;
//! println!("{} at {}", profile.subject, profile.issuer);
//! # let _ = url; Ok(()) }
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod apple;
mod config;
mod discovery;
mod error;
mod github;
mod http;
mod id_token;
mod jwks;
mod pkce;
mod provider;
mod secret;
mod token;

pub use config::{AppleKey, ConfigError, PkceMode, ProviderConfig, ProviderKind};
pub use error::{IdTokenProblem, OAuthError};
pub use pkce::{Pkce, random_token};
pub use provider::{AuthorizationRequest, Callback, ExternalProfile, Provider};
pub use secret::Secret;
