//! Warden access tokens: claims, JWS signing and strict verification, and
//! JWK / JWKS types; and what Warden and warden-verify share around them:
//! the [`Clock`] port and the [`VerifiedCache`] of verified tokens. This
//! crate performs no I/O and its checks never read the clock: the current
//! time is always an input (only [`SystemClock`] reads the wall clock, for
//! the callers that pass it in).
//!
//! Supported algorithms are `EdDSA` (Ed25519), `ES256` (P-256) and `RS256`
//! (RSA PKCS#1 v1.5 with SHA-256, at least 2048-bit keys). Tokens carry the
//! header `{"alg", "typ": "at+jwt", "kid"}` and nothing else; OpenID Connect
//! ID tokens ([`IdTokenClaims`]), which Warden signs but never accepts as
//! credentials, carry `{"alg", "typ": "JWT", "kid"}`.
//!
//! # Example
//!
//! ```
//! use warden_token::{AccessClaims, Algorithm, Audience, JwkSet, SigningKey, Verifier, VerifierConfig};
//!
//! let key = SigningKey::generate(Algorithm::EdDSA)?;
//! let now = 1_700_000_000;
//! let claims = AccessClaims {
//!     iss: "https://auth.example".into(),
//!     sub: "user-1".into(),
//!     aud: Audience::One("api".into()),
//!     exp: now + 300,
//!     iat: now,
//!     nbf: now,
//!     jti: "t-1".into(),
//!     sid: "s-1".into(),
//!     roles: vec!["admin".into()],
//!     amr: vec!["pwd".into()],
//!     acr: "aal1".into(),
//!     auth_time: 0,
//!     client_id: None,
//!     scope: None,
//! };
//! let token = key.sign(&claims)?;
//!
//! let jwks = JwkSet { keys: vec![key.public_jwk()] };
//! let verifier = Verifier::from_jwks(VerifierConfig::new("https://auth.example", "api"), &jwks)?;
//! assert_eq!(verifier.verify(&token, now + 10)?, claims);
//! assert!(verifier.verify(&token, now + 3600).unwrap_err().is_expired());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod algorithm;
mod claims;
pub mod clock;
mod id_token;
mod jwk;
mod keys;
pub mod revocation;
mod verified;
mod verify;

pub use algorithm::{Algorithm, UnknownAlgorithm};
pub use claims::{AccessClaims, Audience};
pub use clock::{Clock, FakeClock, SystemClock};
pub use id_token::{IdTokenClaims, token_hash};
pub use jwk::{Jwk, JwkSet};
pub use keys::{KeyError, SigningKey};
pub use verified::{TokenDigest, VerifiedCache, token_digest};
pub use verify::{MAX_LEEWAY_SECS, Verifier, VerifierConfig, VerifyError};

/// The JOSE `typ` header value of every Warden access token (RFC 9068).
pub const TOKEN_TYPE: &str = "at+jwt";

/// The JOSE `typ` header value of every ID token Warden signs: the one
/// RFC 7519 section 5.1 recommends, as OpenID Connect names none. Being
/// other than [`TOKEN_TYPE`], it keeps an ID token from passing as an
/// access token (RFC 8725 section 3.11).
pub const ID_TOKEN_TYPE: &str = "JWT";

/// Maximum accepted length of a compact-serialized token, in bytes.
/// Longer tokens are rejected before any parsing, and [`SigningKey::sign`]
/// and [`SigningKey::sign_id_token`] refuse to produce them.
pub const MAX_TOKEN_LEN: usize = 8192;

/// Minimum accepted RSA modulus size in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// Maximum accepted RSA modulus size in bits.
pub const MAX_RSA_BITS: usize = 4096;

/// base64url without padding, as used by JOSE.
pub(crate) mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    pub(crate) fn encode(data: impl AsRef<[u8]>) -> String {
        URL_SAFE_NO_PAD.encode(data)
    }

    /// Strict decode: no padding, no non-canonical trailing bits.
    pub(crate) fn decode(data: impl AsRef<[u8]>) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(data).ok()
    }
}
