//! Warden's domain: accounts, credentials, sessions, tokens, revocations and
//! the ports (store, clock) they reach I/O through. No web or SQL types here.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod email;
pub mod error;
pub mod events;
pub mod ids;
pub mod model;
pub mod ports;

pub use email::Email;
pub use error::{CoreError, ErrorKind, FieldError, StoreError};
pub use events::DomainEvent;
pub use ids::{AuditId, EventId, IdentityId, MailId, PasskeyId, SessionId, UserId};
pub mod access;
pub mod accounts;
mod audit;
pub mod clients;
pub mod denylist;
pub mod identity;
pub mod ip_limit;
pub mod keys;
pub mod links;
pub mod mail;
pub mod mfa;
pub mod opaque;
pub mod passkeys;
pub mod password;
pub mod provider;
pub mod readiness;
pub mod relay;
pub mod service;
pub mod settings;

pub use accounts::Accounts;
pub use model::{Role, Session, User, UserStatus};
pub use password::{HashParams, Password, PasswordHasher, PasswordPolicy, PoolLimits};
pub use readiness::{Readiness, ReadinessMonitor};
pub use service::{
    AuthService, ClientRegistry, IssuedTokens, MFA_TOKEN_TTL, MfaStatus, Page, Principal,
    RequestContext, SecondFactor, SessionView, TokenKind, TotpEnrolment,
};
pub use settings::{AccessTokenKind, AuthSettings};
