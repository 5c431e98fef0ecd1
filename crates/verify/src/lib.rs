//! Verify Warden access tokens **locally**, in your own service: no call to
//! Warden per request, yet a sign-out, a ban or a detected refresh-token theft
//! is enforced here within a second.
//!
//! A [`Verifier`] discovers the issuer's JWKS (`/.well-known/openid-configuration`),
//! checks every token strictly (EdDSA/ES256/RS256 only, `typ: at+jwt`, `iss`,
//! `aud`, `exp`/`nbf` with bounded leeway, each `kid` bound to one algorithm,
//! header-supplied keys never fetched), follows key rotation (an unknown `kid`
//! triggers one rate-limited refetch), and consults a deny-list of revoked
//! sessions and users. The deny-list is fed by Warden's revocation feed
//! (`GET /v1/revocations`, polled) and, with the `nats` or `amqp` feature, by
//! the event bus, which brings revocations in within milliseconds.
//!
//! # Example
//!
//! Offline, with a fixed key set (in production use [`VerifierBuilder::issuer`]
//! and let the verifier discover and refresh the keys):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use warden_token::{AccessClaims, Audience, SigningKey};
//! use warden_verify::{Algorithm, JwkSet, RevocationFeed, Verifier, VerifyErrorKind};
//!
//! // What Warden does: sign an access token.
//! let key = SigningKey::generate(Algorithm::EdDSA)?;
//! let now = chrono::Utc::now().timestamp();
//! let (user, session) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
//! let token = key.sign(&AccessClaims {
//!     iss: "https://auth.example".into(),
//!     sub: user.to_string(),
//!     aud: Audience::One("warden".into()),
//!     exp: now + 900, iat: now, nbf: now,
//!     jti: "t-1".into(),
//!     sid: session.to_string(),
//!     roles: vec!["user".into()],
//!     amr: vec!["pwd".into()],
//!     acr: "aal1".into(),
//!     auth_time: 0,
//!     client_id: None,
//!     scope: None,
//! })?;
//!
//! // What your service does.
//! let verifier = Verifier::builder()
//!     .issuer("https://auth.example")
//!     .audience("warden")
//!     .jwks(JwkSet { keys: vec![key.public_jwk()] })
//!     .revocations(RevocationFeed::disabled())
//!     .build()
//!     .await?;
//! let principal = verifier.verify(&token).await?;
//! assert_eq!(principal.user_id, user);
//! assert!(principal.has_role("user"));
//!
//! // A revocation (normally from the feed or the bus) bites at once.
//! verifier.deny_list().insert(&warden_verify::Revocation {
//!     kind: warden_verify::RevocationKind::Session,
//!     id: session,
//!     not_before: None,
//!     until: chrono::Utc::now() + chrono::Duration::minutes(16),
//! });
//! let err = verifier.verify(&token).await.unwrap_err();
//! assert_eq!(err.kind(), VerifyErrorKind::Revoked);
//! # Ok(()) }
//! ```
//!
//! Against a running Warden, with revocations over NATS (feature `nats`):
//!
//! ```ignore
//! # async fn run() -> Result<(), warden_verify::BuildError> {
//! use std::time::Duration;
//! use warden_verify::{RevocationFeed, Verifier};
//!
//! let verifier = Verifier::builder()
//!     .issuer("https://auth.example.com")
//!     .audience("warden")
//!     .revocations(
//!         RevocationFeed::poll(Duration::from_secs(5))
//!             .service_token(std::env::var("WARDEN_REVOCATIONS_TOKEN").unwrap_or_default())
//!             .bus("nats://nats.internal:4222"),
//!     )
//!     .build()
//!     .await?;
//! # let _ = verifier; Ok(()) }
//! ```
//!
//! # Session tokens
//!
//! Warden in session mode issues opaque `wst_` access tokens that only it can
//! answer for. Given a service credential ([`RevocationFeed::service_token`]),
//! [`Verifier::verify`] asks Warden's `POST /v1/validate` for them (the
//! credential in [`SERVICE_TOKEN_HEADER`], the token in the body) and caches
//! each answer for at most [`MAX_SESSION_CACHE_TTL`] (5 s), keyed by the
//! token's SHA-256 ([`VerifierBuilder::session_cache`]); the deny-list still
//! applies to cached answers. Without a credential such a token is refused
//! with [`VerifyErrorKind::SessionTokenUnsupported`] and no network call;
//! when Warden cannot answer, [`VerifyErrorKind::Unavailable`] (503 from the
//! extractor and the layer, never 401).
//!
//! # Features
//!
//! - `axum` (default): [`Principal`], [`RequireRole`] and [`RequireMfa`]
//!   extractors for users, [`AnyPrincipal`] and [`RequireScope`] for users
//!   and services (OAuth client credentials).
//! - `tower` (default): [`VerifyLayer`], for anything built on `http` types
//!   (axum, hyper, tonic).
//! - `nats`, `amqp`: revocations over NATS JetStream or RabbitMQ.
//!
//! # Staleness
//!
//! The deny-list is only as fresh as its feed. [`Verifier::staleness`] says
//! how long ago revocations were last confirmed current (zero while the bus
//! is connected); beyond [`VerifierBuilder::max_staleness`] the verifier
//! reports not ready ([`Verifier::is_ready`]), and with
//! [`StalePolicy::Reject`] it also rejects every token until the feed is
//! back (fail closed).

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod error;
mod feed;
mod jwks;
mod principal;
mod session;
mod verifier;

#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "tower")]
mod layer;
#[cfg(any(feature = "axum", feature = "tower"))]
mod rejection;

pub use error::{BuildError, BuildErrorKind, VerifyError, VerifyErrorKind};
pub use feed::RevocationFeed;
pub use principal::{AnyPrincipal, Principal, ServicePrincipal};
pub use session::{
    MAX_CACHE_TTL as MAX_SESSION_CACHE_TTL, SERVICE_TOKEN_HEADER, SESSION_TOKEN_PREFIX,
};
pub use verifier::{StalePolicy, Verifier, VerifierBuilder};
/// The clock, shared with Warden itself (warden-token's one `Clock`).
pub use warden_token::clock::{Clock, SystemClock};

#[cfg(feature = "axum")]
pub use extract::{RequireMfa, RequireRole, RequireScope, RoleName, ScopeName};
#[cfg(feature = "tower")]
pub use layer::VerifyBody;
#[cfg(feature = "tower")]
pub use layer::{VerifyLayer, VerifyService};
#[cfg(any(feature = "axum", feature = "tower"))]
pub use rejection::AuthRejection;

/// Events and bus names, re-exported for configuring [`RevocationFeed::bus_names`].
#[cfg(any(feature = "nats", feature = "amqp"))]
pub use warden_events::BusNames;

pub use warden_token::revocation::DenyList;
/// The token types this crate's API names, so an embedder needs no direct
/// dependency on `warden-token` (and cannot end up with a second version).
pub use warden_token::revocation::{Revocation, RevocationKind};
pub use warden_token::{Algorithm, JwkSet};

/// The token of `Authorization: Bearer <token>`, by the edge's one rule
/// (`warden_edge::credentials::bearer`), shared by the extractor and the
/// layer.
#[cfg(any(feature = "axum", feature = "tower"))]
pub(crate) fn bearer(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    warden_edge::credentials::bearer(value).ok()
}

/// The README's examples, compiled as doc tests so they stay true.
#[cfg(all(doctest, feature = "nats", feature = "axum"))]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
