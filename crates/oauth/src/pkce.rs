//! PKCE (RFC 7636) with the S256 method only, and the random `state` and
//! `nonce` values of the authorization request.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use crate::Secret;

/// A PKCE pair: the verifier stays with the browser's flow (a cookie, or the
/// SPA), the challenge goes into the authorization URL.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// Sent to the token endpoint with the code.
    pub verifier: Secret,
    /// `BASE64URL(SHA256(verifier))`, sent in the authorization URL.
    pub challenge: String,
}

impl Pkce {
    /// A new pair: a 43-character verifier (32 bytes from the OS RNG, the
    /// RFC's recommendation) and its S256 challenge.
    pub fn generate() -> Self {
        let verifier = random_token();
        let challenge = Self::challenge_of(&verifier);
        Self {
            verifier: Secret::new(verifier),
            challenge,
        }
    }

    /// The S256 challenge of `verifier` (RFC 7636 section 4.2).
    pub fn challenge_of(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
    }
}

/// 32 random bytes from the OS RNG, base64url without padding: for `state`
/// and `nonce`, which must be unguessable (256 bits).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_s256_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            Pkce::challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_generated_verifier_is_long_enough_and_matches_its_challenge() {
        let pkce = Pkce::generate();
        let verifier = pkce.verifier.expose();
        assert_eq!(verifier.len(), 43);
        assert!(
            verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(pkce.challenge, Pkce::challenge_of(verifier));
        assert_ne!(Pkce::generate().challenge, pkce.challenge);
    }

    #[test]
    fn random_tokens_differ() {
        assert_ne!(random_token(), random_token());
    }
}
