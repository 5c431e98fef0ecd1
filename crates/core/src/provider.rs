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
