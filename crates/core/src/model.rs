//! Domain records shared by the use cases and the store port.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::email::Email;
use crate::error::FieldError;
use crate::ids::{AuditId, EventId, SessionId, UserId};

/// A role name: 1-32 characters of `[a-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Role(String);

impl Role {
    /// The role every new account gets.
    pub fn user() -> Role {
        Role("user".into())
    }
    /// The role that unlocks the admin API.
    pub fn admin() -> Role {
        Role("admin".into())
    }
    /// Parses a role name.
    pub fn parse(raw: &str) -> Result<Role, FieldError> {
        let valid = !raw.is_empty()
            && raw.len() <= 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if valid {
            Ok(Role(raw.to_owned()))
        } else {
            Err(FieldError::new(
                "roles",
                "must each be 1-32 characters of a-z, 0-9, _ or -",
            ))
        }
    }
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Role {
    type Error = FieldError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Role::parse(&value)
    }
}

impl From<Role> for String {
    fn from(role: Role) -> String {
        role.0
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether an account may sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// May sign in.
    Active,
    /// Banned by an admin: no sign-in, every session revoked.
    Banned,
}

impl UserStatus {
    /// The stored and serialised name.
    pub fn as_str(&self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Banned => "banned",
        }
    }
    /// Parses the stored name.
    pub fn parse(raw: &str) -> Option<UserStatus> {
        match raw {
            "active" => Some(UserStatus::Active),
            "banned" => Some(UserStatus::Banned),
            _ => None,
        }
    }
}

/// A user as every caller may see it (no credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Identifier (`sub`).
    pub id: UserId,
    /// Canonical e-mail.
    pub email: Email,
    /// Optional display name.
    pub username: Option<String>,
    /// Roles, sorted and unique.
    pub roles: Vec<Role>,
    /// Active or banned.
    pub status: UserStatus,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Whether the person proved they read `email` (a verification, reset
    /// or e-mail change link was followed).
    pub email_verified: bool,
    /// Whether the account can sign in with a password (accounts made by
    /// social sign-in, a later issue, may not).
    pub has_password: bool,
}

impl User {
    /// Whether the user holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.as_str() == role)
    }
}

/// A user together with the PHC string of their password hash.
#[derive(Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// argon2id PHC string.
    pub password_hash: String,
}

impl fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserCredentials")
            .field("user", &self.user)
            .field("password_hash", &"[redacted]")
            .finish()
    }
}

/// A sign-in session: the family of refresh tokens issued from one sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Identifier (`sid`).
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// When the user signed in.
    pub created_at: DateTime<Utc>,
    /// Last sign-in or refresh.
    pub last_used_at: DateTime<Utc>,
    /// Absolute end of the session.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// User agent at sign-in, truncated.
    pub user_agent: Option<String>,
    /// Client IP at sign-in.
    pub ip: Option<String>,
    /// How its holder proved who they are, and when.
    pub authentication: Authentication,
    /// The OAuth client it was opened for (authorization-code grant);
    /// `None` for Warden's own sign-ins. Its refresh tokens work only for
    /// that client at `/oauth2/token`, never at `/v1/token`.
    pub client_id: Option<crate::clients::ClientId>,
    /// The scopes granted to that client, space-separated.
    pub scope: Option<String>,
}

impl Session {
    /// Whether the session may still be used at `now` with the given idle timeout.
    pub fn is_live(&self, now: DateTime<Utc>, idle_timeout: chrono::Duration) -> bool {
        self.revoked_at.is_none() && now < self.expires_at && now < self.last_used_at + idle_timeout
    }
}

/// The stored form of an opaque token: hex SHA-256 of the token text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(pub String);

/// A way of proving who one is: the RFC 8176 `amr` values Warden emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthMethod {
    /// A password.
    Pwd,
    /// A one-time code (TOTP or a recovery code).
    Otp,
    /// A hardware-bound key (a passkey on a security key or platform).
    Hwk,
    /// A software-bound key (a synced passkey).
    Swk,
    /// A test of user presence or verification by an authenticator.
    User,
    /// Federation: an OAuth2 / OpenID provider vouched.
    Fed,
    /// More than one of the above.
    Mfa,
}

impl AuthMethod {
    /// The `amr` value.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Pwd => "pwd",
            AuthMethod::Otp => "otp",
            AuthMethod::Hwk => "hwk",
            AuthMethod::Swk => "swk",
            AuthMethod::User => "user",
            AuthMethod::Fed => "fed",
            AuthMethod::Mfa => "mfa",
        }
    }

    /// Parses an `amr` value Warden emits.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "pwd" => AuthMethod::Pwd,
            "otp" => AuthMethod::Otp,
            "hwk" => AuthMethod::Hwk,
            "swk" => AuthMethod::Swk,
            "user" => AuthMethod::User,
            "fed" => AuthMethod::Fed,
            "mfa" => AuthMethod::Mfa,
            _ => return None,
        })
    }
}

/// The `acr` of a session with one factor (NIST SP 800-63B AAL1).
pub const ACR_SINGLE_FACTOR: &str = "aal1";
/// The `acr` of a session with two factors (AAL2).
pub const ACR_MULTI_FACTOR: &str = "aal2";

/// How a session's holder authenticated and when: what the `amr`, `acr`
/// and `auth_time` claims say. Stored with the session, so a refreshed
/// token says the same as the first one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    methods: Vec<AuthMethod>,
    /// When the methods were presented (`auth_time`).
    pub at: DateTime<Utc>,
}

impl Authentication {
    /// The methods presented at `at`. Two or more distinct methods add
    /// `mfa` (RFC 8176), which is what makes a session `aal2`.
    pub fn new(methods: &[AuthMethod], at: DateTime<Utc>) -> Self {
        let mut methods: Vec<AuthMethod> = methods
            .iter()
            .copied()
            .filter(|m| *m != AuthMethod::Mfa)
            .collect();
        methods.sort_unstable();
        methods.dedup();
        if methods.len() >= 2 {
            methods.push(AuthMethod::Mfa);
        }
        Self { methods, at }
    }

    /// From stored `amr` values; unknown ones are dropped (a downgrade then
    /// errs on the side of one factor).
    pub fn from_stored(amr: &str, at: DateTime<Utc>) -> Self {
        let methods: Vec<AuthMethod> = amr.split(',').filter_map(AuthMethod::parse).collect();
        Self::new(&methods, at)
    }

    /// The `amr` values, comma-separated, as the store keeps them.
    pub fn stored(&self) -> String {
        self.amr().join(",")
    }

    /// The methods.
    pub fn methods(&self) -> &[AuthMethod] {
        &self.methods
    }

    /// The `amr` claim.
    pub fn amr(&self) -> Vec<&'static str> {
        self.methods.iter().map(|m| m.as_str()).collect()
    }

    /// Whether two factors were presented.
    pub fn is_multi_factor(&self) -> bool {
        self.methods.contains(&AuthMethod::Mfa)
    }

    /// The `acr` claim: `aal2` with two factors, else `aal1`.
    pub fn acr(&self) -> &'static str {
        if self.is_multi_factor() {
            ACR_MULTI_FACTOR
        } else {
            ACR_SINGLE_FACTOR
        }
    }
}

/// Which stored TOTP secret a [`TotpFactor`] was read from: the nonce the
/// store sealed it with, fresh for every secret it takes. A secret stored
/// since (a restarted enrolment) never has the identity of one read before,
/// which `created_at` could not promise (two enrolments in one millisecond).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpSecretId(Vec<u8>);

impl TotpSecretId {
    /// The identity the store keeps for a secret.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// As the store keeps it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// An account's TOTP factor as stored.
#[derive(Clone)]
pub struct TotpFactor {
    /// The shared secret (the store keeps it sealed).
    pub secret: zeroize::Zeroizing<Vec<u8>>,
    /// Which stored secret this is (what confirming it is bound to).
    pub id: TotpSecretId,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When a first code confirmed it; until then it does not count.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last time step a code was accepted for.
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpFactor")
            .field("secret", &"[redacted]")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .field("confirmed_at", &self.confirmed_at)
            .field("last_step", &self.last_step)
            .finish()
    }
}

/// A sign-in waiting for its second factor: the `wmf_` token, stored hashed.
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    /// SHA-256 of the token.
    pub token_hash: TokenHash,
    /// The account.
    pub user_id: UserId,
    /// The first factor's methods (`pwd`, or `fed` for social sign-in).
    pub first_factor: Vec<AuthMethod>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// After this it is void.
    pub expires_at: DateTime<Utc>,
    /// Wrong codes so far.
    pub failures: u32,
}

/// A refresh token as stored: its hash and the session it belongs to.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    /// Hash of the `wrt_` token.
    pub token_hash: TokenHash,
    /// Owning session.
    pub session_id: SessionId,
    /// Issue time.
    pub created_at: DateTime<Utc>,
}

/// A `wst_` session token as stored (session-token mode): its hash, the
/// session it belongs to and its lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTokenRecord {
    /// Hash of the `wst_` token.
    pub token_hash: TokenHash,
    /// Owning session.
    pub session_id: SessionId,
    /// Issue time.
    pub created_at: DateTime<Utc>,
    /// End of its life (the access-token lifetime after issue).
    pub expires_at: DateTime<Utc>,
}

/// What validating a session token needs, read in one query: the token,
/// its session's state and its user's current status and roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionTokenOwner {
    /// The token's session.
    pub session_id: SessionId,
    /// The session's user.
    pub user_id: UserId,
    /// The user's roles now.
    pub roles: Vec<Role>,
    /// The user's status now.
    pub user_status: UserStatus,
    /// When the session was revoked, if it was.
    pub session_revoked_at: Option<DateTime<Utc>>,
    /// Absolute end of the session.
    pub session_expires_at: DateTime<Utc>,
    /// When the token was issued.
    pub issued_at: DateTime<Utc>,
    /// When the token expires.
    pub expires_at: DateTime<Utc>,
    /// How the session's holder authenticated.
    pub authentication: Authentication,
}

/// Result of presenting a refresh token for rotation.
#[derive(Debug, Clone)]
pub enum RotateOutcome {
    /// No such token.
    NotFound,
    /// The token was used before: reuse. The session has been revoked (if it
    /// was not already) in the same transaction.
    Reused {
        /// The session the token belongs to.
        session_id: SessionId,
    },
    /// The token was consumed and the new one stored; the session as it is now.
    Rotated {
        /// The session, with `last_used_at` updated.
        session: Session,
    },
    /// The token had just been rotated and came back within the grace
    /// window: its unused successor is void and the new one took its place.
    Retried {
        /// The session, with `last_used_at` updated.
        session: Session,
    },
}

pub use warden_token::revocation::{Revocation, RevocationKind};

/// An event for other services, written to the outbox with the change it describes.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Unique id (CloudEvents `id`).
    pub id: EventId,
    /// Event name, for example `session.revoked`.
    pub name: String,
    /// Event data per the contract.
    pub data: serde_json::Value,
    /// When the change happened.
    pub at: DateTime<Utc>,
}

impl OutboxEvent {
    /// A new event.
    pub fn new(name: &str, data: serde_json::Value, at: DateTime<Utc>) -> Self {
        Self {
            id: EventId::new(),
            name: name.to_owned(),
            data,
            at,
        }
    }
}

/// Who did what an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A signed-in user: an admin, or the user acting on their own account.
    User(UserId),
    /// An operator at the shell (`warden user ...`, `warden client ...`),
    /// stored and shown as `cli`.
    Cli,
}

impl Actor {
    /// The user, when a user acted.
    pub fn user(self) -> Option<UserId> {
        match self {
            Actor::User(id) => Some(id),
            Actor::Cli => None,
        }
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::User(id) => id.fmt(f),
            Actor::Cli => f.write_str("cli"),
        }
    }
}

impl std::str::FromStr for Actor {
    type Err = uuid::Error;
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        if raw == "cli" {
            Ok(Actor::Cli)
        } else {
            raw.parse().map(Actor::User)
        }
    }
}

impl From<UserId> for Actor {
    fn from(id: UserId) -> Self {
        Actor::User(id)
    }
}

impl From<UserId> for Option<Actor> {
    fn from(id: UserId) -> Self {
        Some(Actor::User(id))
    }
}

/// One audit-log entry. Never holds a password, token or cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Time-ordered id; also the paging cursor.
    pub id: AuditId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who acted, if known.
    pub actor: Option<Actor>,
    /// What was done, for example `signin`.
    pub action: String,
    /// Whom it was done to.
    pub target: Option<UserId>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// A short, secret-free explanation (for example the failure reason).
    pub detail: Option<String>,
}

/// A signing key as stored: private key encrypted by the store adapter.
#[derive(Clone)]
pub struct StoredSigningKey {
    /// Key id (`kid`).
    pub kid: String,
    /// `EdDSA`, `ES256` or `RS256`.
    pub algorithm: String,
    /// PKCS#8 DER of the private key (plaintext in memory; the adapter encrypts at rest).
    pub private_der: zeroize::Zeroizing<Vec<u8>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// When it stopped signing (rotation), if it did.
    pub retired_at: Option<DateTime<Utc>>,
}

impl fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_der", &"[redacted]")
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// Failed-sign-in state of one account key (the canonical e-mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleState {
    /// Consecutive failures.
    pub failures: u32,
    /// Sign-in refused until then.
    pub locked_until: Option<DateTime<Utc>>,
}

/// Per-account back-off: after `threshold` consecutive failures, each further
/// failure locks the account for `base * 2^(failures - threshold)`, at most `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Failures allowed before back-off starts.
    pub threshold: u32,
    /// First lock duration.
    pub base: chrono::Duration,
    /// Longest lock.
    pub max: chrono::Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            threshold: 5,
            base: chrono::Duration::seconds(1),
            max: chrono::Duration::minutes(15),
        }
    }
}

impl LockoutPolicy {
    /// When an account with `failures` consecutive failures may next try.
    pub fn locked_until(&self, failures: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if failures < self.threshold {
            return None;
        }
        let exponent = (failures - self.threshold).min(30);
        let lock = self
            .base
            .checked_mul(1_i32 << exponent)
            .unwrap_or(self.max)
            .min(self.max);
        Some(now + lock)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_backs_off_exponentially_up_to_the_cap() {
        let policy = LockoutPolicy::default();
        let now = DateTime::<Utc>::UNIX_EPOCH;
        assert_eq!(policy.locked_until(4, now), None);
        assert_eq!(
            policy.locked_until(5, now),
            Some(now + chrono::Duration::seconds(1))
        );
        assert_eq!(
            policy.locked_until(6, now),
            Some(now + chrono::Duration::seconds(2))
        );
        assert_eq!(
            policy.locked_until(10, now),
            Some(now + chrono::Duration::seconds(32))
        );
        assert_eq!(
            policy.locked_until(40, now),
            Some(now + chrono::Duration::minutes(15))
        );
        assert_eq!(
            policy.locked_until(u32::MAX, now),
            Some(now + chrono::Duration::minutes(15))
        );
    }

    #[test]
    fn roles_are_restricted_names() {
        assert!(Role::parse("admin").is_ok());
        assert!(Role::parse("billing-reader_2").is_ok());
        for bad in ["", "Admin", "a b", "x".repeat(33).as_str(), "é"] {
            assert!(Role::parse(bad).is_err(), "{bad:?}");
        }
    }
}
