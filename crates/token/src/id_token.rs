//! OpenID Connect ID-token claims and the `at_hash` that binds an access
//! token to one.
//!
//! ```
//! use warden_token::{Algorithm, IdTokenClaims, SigningKey, token_hash};
//!
//! let key = SigningKey::generate(Algorithm::EdDSA)?;
//! let access_token = "an access token";
//! let claims = IdTokenClaims {
//!     iss: "https://auth.example".into(),
//!     sub: "user-1".into(),
//!     aud: "client-1".into(),
//!     exp: 1_700_000_300,
//!     iat: 1_700_000_000,
//!     auth_time: 1_699_999_990,
//!     nonce: Some("n-0S6_WzA2Mj".into()),
//!     acr: "aal1".into(),
//!     amr: vec!["pwd".into()],
//!     at_hash: Some(token_hash(key.algorithm(), access_token)),
//!     sid: None,
//!     azp: None,
//!     email: None,
//!     email_verified: None,
//! };
//! let id_token = key.sign_id_token(&claims)?;
//! assert_eq!(id_token.split('.').count(), 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

use crate::algorithm::Algorithm;
use crate::b64;

/// The claims of an ID token (OpenID Connect Core 1.0 section 2). Absent
/// optional claims are left out of the token rather than sent as `null`,
/// which some relying parties reject.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// Issuer.
    pub iss: String,
    /// Subject (user id).
    pub sub: String,
    /// Audience: the client id of the relying party.
    pub aud: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issued-at, Unix seconds.
    pub iat: i64,
    /// When the user authenticated, Unix seconds.
    pub auth_time: i64,
    /// The `nonce` of the authentication request, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Assurance level: `aal1` (one factor) or `aal2` (two).
    pub acr: String,
    /// How the user authenticated (RFC 8176 values).
    #[serde(default)]
    pub amr: Vec<String>,
    /// [`token_hash`] of the access token issued with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Session id, for front- and back-channel logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Authorized party: the client id, when it differs from `aud` or the
    /// relying party expects it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// The user's e-mail address (scope `email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether that address was verified (scope `email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

/// The `at_hash` (or `c_hash`) of `token` for an ID token signed with
/// `alg` (OpenID Connect Core 1.0 section 3.1.3.6): base64url of the left
/// half of the token's hash. The hash is the one of `alg`: SHA-256 for
/// `RS256` and `ES256`; for `EdDSA` on Ed25519, which names no hash of its
/// own, SHA-512, as the OpenID Foundation settled and relying parties
/// (openid-client's `oidc-token-hash`, among others) check.
pub fn token_hash(alg: Algorithm, token: &str) -> String {
    match alg {
        Algorithm::RS256 | Algorithm::ES256 => left_half::<Sha256>(token),
        Algorithm::EdDSA => left_half::<Sha512>(token),
    }
}

fn left_half<D: Digest>(token: &str) -> String {
    let digest = D::digest(token.as_bytes());
    b64::encode(&digest[..digest.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_matches_the_specification_examples() {
        // OpenID Connect Core 1.0 Appendix A.3 (at_hash) and A.4 (c_hash),
        // both RS256.
        assert_eq!(
            token_hash(
                Algorithm::RS256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(
            token_hash(
                Algorithm::RS256,
                "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"
            ),
            "LDktKdoQak3Pk0cnXxCltA"
        );
        assert_eq!(
            token_hash(
                Algorithm::ES256,
                "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"
            ),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }

    #[test]
    fn token_hash_of_ed25519_is_the_left_half_of_sha512() {
        // python3 -c "import hashlib,base64; d=hashlib.sha512(b'jHkW...F0Y').digest();
        //   print(base64.urlsafe_b64encode(d[:32]).rstrip(b'='))"
        let hash = token_hash(
            Algorithm::EdDSA,
            "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y",
        );
        assert_eq!(hash, "q7nS86GgvvFaZkzALLWqJYaJIKw2wCDAVfCAsm5CrBM");
        assert_eq!(hash.len(), 43, "32 bytes, unpadded");
    }

    #[test]
    fn absent_optional_claims_are_left_out() {
        let claims = IdTokenClaims {
            iss: "https://auth.example".into(),
            sub: "user-1".into(),
            aud: "client-1".into(),
            exp: 2,
            iat: 1,
            auth_time: 1,
            nonce: None,
            acr: "aal1".into(),
            amr: vec!["pwd".into()],
            at_hash: None,
            sid: None,
            azp: None,
            email: None,
            email_verified: None,
        };
        let json = serde_json::to_value(&claims).unwrap();
        let mut names: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        assert_eq!(
            names,
            ["acr", "amr", "aud", "auth_time", "exp", "iat", "iss", "sub"]
        );
        assert_eq!(json["aud"], "client-1", "a string, not an array");

        let full = IdTokenClaims {
            nonce: Some("n".into()),
            at_hash: Some("h".into()),
            sid: Some("s".into()),
            azp: Some("client-1".into()),
            email: Some("a@example.com".into()),
            email_verified: Some(false),
            ..claims
        };
        let json = serde_json::to_value(&full).unwrap();
        assert_eq!(json["email_verified"], false);
        assert_eq!(serde_json::from_value::<IdTokenClaims>(json).unwrap(), full);
    }
}
