//! Warden as an OAuth 2.0 / OpenID Connect provider (front-door contract,
//! section 7): what an authorization grants, the single-use codes that
//! carry it to the token endpoint, PKCE, and the consents people give
//! third-party clients. The use cases are in `service/provider.rs`.

use chrono::{DateTime, Utc};

use crate::clients::ClientId;
use crate::ids::{SessionId, UserId};
use crate::model::{Authentication, TokenHash};

/// How long an authorization code may be exchanged (OAuth 2.0 Security
/// BCP: short; one minute is what the contract says).
pub const CODE_TTL_SECS: i64 = 60;
/// The prefix of authorization codes (`woc_`), so a leaked one is
/// recognisable in a log scan.
pub const CODE_PREFIX: &str = "woc_";

/// An authorization code as stored: only its hash, and everything the
/// token endpoint needs to check the exchange and issue what was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    /// SHA-256 of the code.
    pub code_hash: TokenHash,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// Who authorized.
    pub user_id: UserId,
    /// The browser session that authorized (`sid` and `auth_time` of the
    /// ID token come from it).
    pub browser_session: SessionId,
    /// The `redirect_uri` of the authorization request, exactly as sent:
    /// the exchange must repeat it.
    pub redirect_uri: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The request's `nonce`, returned in the ID token.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge (base64url of SHA-256 of the verifier).
    pub code_challenge: Option<String>,
    /// How the user authenticated for this authorization.
    pub authentication: Authentication,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops being exchangeable.
    pub expires_at: DateTime<Utc>,
}

/// What presenting a code to the store did.
// Made once per code exchange and matched at once: boxing the grant
// would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redemption {
    /// No such code (or it was deleted after expiry).
    NotFound,
    /// The code is now used, by this call, for the session it names; here
    /// is what it grants (the caller still checks client, redirect URI,
    /// PKCE and expiry: a failed check leaves the code used).
    Redeemed(AuthorizationCode),
    /// The code had been used before: a replay. `issued` is the session the
    /// first exchange opened (revoke it: RFC 6749 section 4.1.2).
    Replayed {
        /// The session the first exchange opened.
        issued: SessionId,
    },
}

/// A person's standing consent for one client: the scopes they agreed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// Who consented.
    pub user_id: UserId,
    /// To which client.
    pub client_id: ClientId,
    /// The scopes consented to, space-separated, sorted, no duplicates.
    pub scope: String,
    /// When they last consented.
    pub granted_at: DateTime<Utc>,
}

/// The scopes of OpenID Connect itself, which every client with the
/// authorization-code grant may ask for; any other scope must be on the
/// client's list.
pub const STANDARD_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// An OAuth 2.0 error code (RFC 6749 sections 4.1.2.1 and 5.2, OpenID
/// Connect Core 3.1.2.6) with a description for the developer, never
/// anything secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// `error`.
    pub code: &'static str,
    /// `error_description`.
    pub description: String,
}

impl OAuthError {
    /// An error with this code and description.
    pub fn new(code: &'static str, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
    /// `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }
    /// `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new("invalid_grant", description)
    }
    /// `invalid_client`.
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new("invalid_client", description)
    }
    /// `invalid_scope`.
    pub fn invalid_scope(description: impl Into<String>) -> Self {
        Self::new("invalid_scope", description)
    }
    /// `unauthorized_client`.
    pub fn unauthorized_client(description: impl Into<String>) -> Self {
        Self::new("unauthorized_client", description)
    }
}

/// A set of scopes as RFC 6749 section 3.3 writes it: space-separated,
/// order irrelevant. Kept sorted and without duplicates so two grants of
/// the same scopes compare and store equal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScopeSet(std::collections::BTreeSet<String>);

impl ScopeSet {
    /// Parses a `scope` parameter; `None` when a token is not a valid
    /// scope (see [`crate::clients::Scope`]).
    pub fn parse(raw: &str) -> Option<Self> {
        let mut set = std::collections::BTreeSet::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            let scope = crate::clients::Scope::parse(token).ok()?;
            set.insert(scope.as_str().to_owned());
        }
        Some(Self(set))
    }

    /// Whether `scope` is in the set.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    /// Whether every scope of `other` is in this set.
    pub fn covers(&self, other: &ScopeSet) -> bool {
        other.0.is_subset(&self.0)
    }

    /// Both sets together.
    pub fn union(&self, other: &ScopeSet) -> ScopeSet {
        Self(self.0.union(&other.0).cloned().collect())
    }

    /// Whether there is no scope.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The space-separated form.
    pub fn to_param(&self) -> String {
        self.0
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// What an authorization request may ask the person to do again
/// (`prompt`, OpenID Connect Core 3.1.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prompt {
    /// `none`: never show a page; fail instead.
    pub none: bool,
    /// `login`: sign in again even with a live session.
    pub login: bool,
    /// `consent`: ask for consent even when it was given.
    pub consent: bool,
}

impl Prompt {
    /// Parses the space-separated list; `none` with anything else is an
    /// error (OpenID Connect Core 3.1.2.1), as is an unknown value.
    pub fn parse(raw: &str) -> Result<Self, OAuthError> {
        let mut prompt = Prompt::default();
        for value in raw.split(' ').filter(|v| !v.is_empty()) {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                // select_account: there is one account per browser session.
                "select_account" => {}
                _ => {
                    return Err(OAuthError::invalid_request(format!(
                        "prompt `{value}` is not supported"
                    )));
                }
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(OAuthError::invalid_request(
                "prompt=none cannot be combined with other values",
            ));
        }
        Ok(prompt)
    }
}

/// Checks a PKCE verifier (RFC 7636 section 4.6, method S256) against the
/// stored challenge, in constant time.
pub fn pkce_matches(challenge: &str, verifier: &str) -> bool {
    use base64::Engine as _;
    use sha2::{Digest as _, Sha256};
    if !is_pkce_text(verifier) {
        return false;
    }
    let computed =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
    subtle::ConstantTimeEq::ct_eq(computed.as_bytes(), challenge.as_bytes()).into()
}

/// RFC 7636 section 4.1: 43 to 128 of the unreserved characters. The same
/// rule bounds challenges (43 characters for S256).
pub fn is_pkce_text(raw: &str) -> bool {
    (43..=128).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_matches(challenge, verifier));
        assert!(!pkce_matches(challenge, &verifier.replace('d', "e")));
        assert!(!pkce_matches(challenge, "short"));
        assert!(!pkce_matches(verifier, verifier), "plain is not S256");
    }

    #[test]
    fn scope_sets_compare_regardless_of_order_and_repeats() {
        let a = ScopeSet::parse("openid  email openid").unwrap();
        let b = ScopeSet::parse("email openid").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_param(), "email openid");
        assert!(a.covers(&ScopeSet::parse("email").unwrap()));
        assert!(!a.covers(&ScopeSet::parse("profile").unwrap()));
        assert!(ScopeSet::parse("open\"id").is_none());
        assert!(ScopeSet::parse("").unwrap().is_empty());
    }

    #[test]
    fn prompt_none_stands_alone() {
        assert!(Prompt::parse("none").unwrap().none);
        let both = Prompt::parse("login consent").unwrap();
        assert!(both.login && both.consent && !both.none);
        assert_eq!(
            Prompt::parse("none login").unwrap_err().code,
            "invalid_request"
        );
        assert_eq!(Prompt::parse("bogus").unwrap_err().code, "invalid_request");
        assert_eq!(Prompt::parse("").unwrap(), Prompt::default());
    }
}
