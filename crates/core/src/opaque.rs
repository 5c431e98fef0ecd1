//! Opaque tokens (`wrt_` refresh tokens, `wst_` session tokens, `wml_`
//! mailed links): 256 random bits, base64url, stored only as a SHA-256 hash.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::model::TokenHash;

/// Prefix of refresh tokens, so secret scanners can spot them.
pub const REFRESH_PREFIX: &str = "wrt_";
/// Prefix of session (opaque access) tokens.
pub const SESSION_PREFIX: &str = "wst_";
/// Prefix of mailed link tokens (verification, reset, e-mail change).
pub const LINK_PREFIX: &str = "wml_";

const RANDOM_BYTES: usize = 32;
const ENCODED_LEN: usize = 43; // base64url of 32 bytes, unpadded

/// An opaque bearer secret. `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct OpaqueToken(Zeroizing<String>);

impl OpaqueToken {
    /// A fresh token with `prefix` from the OS CSPRNG.
    pub fn generate(prefix: &str) -> Self {
        let mut bytes = Zeroizing::new([0_u8; RANDOM_BYTES]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut());
        Self(Zeroizing::new(format!(
            "{prefix}{}",
            URL_SAFE_NO_PAD.encode(bytes.as_ref())
        )))
    }

    /// Accepts a presented token only if it has the shape we issue, so
    /// garbage never reaches the store.
    pub fn parse(raw: &str, prefix: &str) -> Option<Self> {
        let body = raw.strip_prefix(prefix)?;
        let well_formed = body.len() == ENCODED_LEN
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then(|| Self(Zeroizing::new(raw.to_owned())))
    }

    /// The token text, to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The form the store keeps.
    pub fn hash(&self) -> TokenHash {
        TokenHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for OpaqueToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpaqueToken([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_unique_and_round_trip() {
        let a = OpaqueToken::generate(REFRESH_PREFIX);
        let b = OpaqueToken::generate(REFRESH_PREFIX);
        assert_ne!(a, b);
        assert!(a.expose().starts_with("wrt_"));
        assert_eq!(a.expose().len(), 4 + 43);
        let parsed = OpaqueToken::parse(a.expose(), REFRESH_PREFIX).unwrap();
        assert_eq!(parsed.hash(), a.hash());
        assert_ne!(a.hash().0, a.expose());
        assert_eq!(a.hash().0.len(), 64);
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn malformed_tokens_are_rejected_without_lookup() {
        let good = OpaqueToken::generate(REFRESH_PREFIX);
        for bad in [
            "",
            "wrt_",
            "wst_abc",
            &good.expose()[4..],
            &format!("{}x", good.expose()),
            &format!("{}/{}", &good.expose()[..10], &good.expose()[11..]),
            "wrt_' OR 1=1 --aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(OpaqueToken::parse(bad, REFRESH_PREFIX).is_none(), "{bad:?}");
        }
    }
}
