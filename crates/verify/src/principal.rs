//! Who a verified token speaks for.

use uuid::Uuid;

/// The identity a valid, unrevoked access token carries.
///
/// Warden's core has its own `Principal` with the same field names, on
/// purpose (decision 0020): this one is the public type of a library other
/// services embed, with plain `Uuid`s, and must not depend on warden-core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `sub`: the user id.
    pub user_id: Uuid,
    /// `sid`: the session id.
    pub session_id: Uuid,
    /// `roles`.
    pub roles: Vec<String>,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
    /// `iat`, Unix seconds.
    pub issued_at: i64,
    /// `amr`: how the user authenticated (RFC 8176 values).
    pub amr: Vec<String>,
    /// `acr`: `aal1` (one factor) or `aal2` (two).
    pub acr: String,
    /// `auth_time`, Unix seconds.
    pub auth_time: i64,
    /// `client_id`: the OAuth client the token was issued to, when the
    /// user signed in to an app through Warden as a provider.
    pub client_id: Option<String>,
    /// `scope`: what that client was granted (empty otherwise).
    pub scopes: Vec<String>,
}

impl Principal {
    /// Whether the token grants `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the user presented two factors: `acr` is `aal2` and `amr`
    /// says `mfa` (a token minted before Warden emitted them has neither).
    pub fn is_multi_factor(&self) -> bool {
        self.acr == "aal2" && self.amr.iter().any(|m| m == "mfa")
    }

    /// Whether the token grants any of `roles` (an empty list grants).
    pub fn has_any_role<S: AsRef<str>>(&self, roles: &[S]) -> bool {
        roles.is_empty() || roles.iter().any(|r| self.has_role(r.as_ref()))
    }
}

/// A service's own token (OAuth client credentials): no user and no
/// session; `sub` and `client_id` are the client's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipal {
    /// The OAuth client id.
    pub client_id: String,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
    /// `iat`, Unix seconds.
    pub issued_at: i64,
}

impl ServicePrincipal {
    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Whoever a valid token speaks for: a user or a service. What
/// [`Verifier::verify_any`](crate::Verifier::verify_any) returns and the
/// `AnyPrincipal` and `RequireScope` extractors give. A [`Principal`]
/// (from [`Verifier::verify`](crate::Verifier::verify) and its extractor)
/// is always a user: a service's token is refused there with 403
/// `user_required`, so a handler written for people never sees a machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyPrincipal {
    /// A user's token.
    User(Principal),
    /// A service's token.
    Service(ServicePrincipal),
}

impl AnyPrincipal {
    /// The scopes the token was granted: a service's, or a user's token
    /// issued to an OAuth client (Warden's own sign-ins have none).
    pub fn scopes(&self) -> &[String] {
        match self {
            AnyPrincipal::User(p) => &p.scopes,
            AnyPrincipal::Service(s) => &s.scopes,
        }
    }

    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().iter().any(|s| s == scope)
    }

    /// `iat`.
    pub fn issued_at(&self) -> i64 {
        match self {
            AnyPrincipal::User(p) => p.issued_at,
            AnyPrincipal::Service(s) => s.issued_at,
        }
    }

    /// `exp`.
    pub fn expires_at(&self) -> i64 {
        match self {
            AnyPrincipal::User(p) => p.expires_at,
            AnyPrincipal::Service(s) => s.expires_at,
        }
    }
}
