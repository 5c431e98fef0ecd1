//! What can go wrong, one variant per decision the caller makes. No
//! `Display` here contains a secret, an authorization code or a token.

use std::fmt;

use crate::ConfigError;

/// Why a sign-in with a provider failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The provider could not be reached, answered with an error status or
    /// an `error=` from its token endpoint, or sent something unreadable.
    /// Usually transient or a misconfiguration; the user may retry.
    #[error("provider {provider}: {detail}")]
    ProviderError {
        /// The configured provider id.
        provider: String,
        /// What failed, naming the URL where one was called.
        detail: String,
    },
    /// The provider's ID token failed verification: never sign anyone in.
    #[error("provider {provider}: ID token rejected: {reason}")]
    InvalidIdToken {
        /// The configured provider id.
        provider: String,
        /// The first check that failed.
        reason: IdTokenProblem,
    },
    /// The provider's configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl OAuthError {
    pub(crate) fn provider(provider: &str, detail: impl Into<String>) -> Self {
        Self::ProviderError {
            provider: provider.to_owned(),
            detail: detail.into(),
        }
    }

    pub(crate) fn id_token(provider: &str, reason: IdTokenProblem) -> Self {
        Self::InvalidIdToken {
            provider: provider.to_owned(),
            reason,
        }
    }
}

/// The check an ID token failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdTokenProblem {
    /// The signature does not verify with the key its `kid` names.
    Signature,
    /// `iss` is not the provider's issuer (for Microsoft: not the issuer of
    /// the tenant in `tid`).
    Issuer,
    /// `aud` does not contain our client id, or `azp` is another client.
    Audience,
    /// Not valid now: past `exp`, or `iat`/`nbf` in the future (beyond the
    /// 60 s leeway).
    Expired,
    /// `nonce` is not the one this browser's flow sent.
    Nonce,
    /// Not an asymmetric algorithm we accept (`RS256`, `ES256`, `EdDSA`), or
    /// not the algorithm the key is for.
    Algorithm,
    /// No key in the provider's JWKS has this `kid`, even after a refetch.
    UnknownKey,
    /// Not a well-formed JWT, or a claim of the wrong type.
    Malformed,
    /// A claim we need (`sub`, `exp`, `iat`, `nonce`, `tid`, `oid`) is absent.
    MissingClaim,
}

impl fmt::Display for IdTokenProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Signature => "bad signature",
            Self::Issuer => "wrong issuer",
            Self::Audience => "wrong audience",
            Self::Expired => "not valid at this time",
            Self::Nonce => "nonce mismatch",
            Self::Algorithm => "algorithm not accepted",
            Self::UnknownKey => "unknown signing key",
            Self::Malformed => "malformed",
            Self::MissingClaim => "a required claim is missing",
        })
    }
}
