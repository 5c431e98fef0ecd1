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
