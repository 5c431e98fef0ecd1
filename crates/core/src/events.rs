//! The events the domain writes to the outbox, one variant per contract
//! event. Names and payloads are the contract subscribers (and verifiers
//! reading the revocation feed) parse, so each payload is built in exactly
//! one place and its shape is pinned by the tests below.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::clients::{ClientId, ClientKind};
use crate::ids::{IdentityId, SessionId, UserId};
use crate::model::OutboxEvent;

/// Something that happened to an account or a session, before it becomes
/// an [`OutboxEvent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainEvent {
    /// `user.created`.
    UserCreated {
        /// The new account.
        user_id: UserId,
        /// Its canonical e-mail.
        email: String,
        /// Its roles.
        roles: Vec<String>,
    },
    /// `user.signed_in`.
    SignedIn {
        /// Who signed in.
        user_id: UserId,
        /// From where.
        ip: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// `user.sign_in_failed`.
    SignInFailed {
        /// The account guessed at, if the e-mail names one.
        user_id: Option<UserId>,
        /// From where.
        ip: Option<String>,
        /// When.
        at: DateTime<Utc>,
    },
    /// `session.revoked`.
    SessionRevoked {
        /// The session.
        session_id: SessionId,
        /// Its owner.
        user_id: UserId,
        /// Until when verifiers must refuse its tokens.
        until: DateTime<Utc>,
    },
    /// `user.tokens_revoked`: signed out everywhere.
    TokensRevoked {
        /// The user.
        user_id: UserId,
        /// Tokens issued before this are refused.
        not_before: DateTime<Utc>,
        /// Until when.
        until: DateTime<Utc>,
    },
    /// `user.banned`.
    UserBanned {
        /// The user.
        user_id: UserId,
        /// Tokens issued before this are refused.
        not_before: Option<DateTime<Utc>>,
        /// Until when.
        until: DateTime<Utc>,
        /// The admin's reason, if given.
        reason: Option<String>,
    },
    /// `user.unbanned`.
    UserUnbanned {
        /// The user.
        user_id: UserId,
        /// Until when the lifted ban's entry must be remembered as lifted.
        until: DateTime<Utc>,
    },
    /// `user.roles_changed`.
    RolesChanged {
        /// The user.
        user_id: UserId,
        /// The new roles.
        roles: Vec<String>,
    },
    /// `user.email_changed`: the account moved to a new address (the old
    /// one is not in the event: subscribers replicate the current state).
    EmailChanged {
        /// The user.
        user_id: UserId,
        /// The new canonical e-mail.
        email: String,
    },
    /// `user.identity_linked`: an identity at a provider now signs in to
    /// the account.
    IdentityLinked {
        /// The user.
        user_id: UserId,
        /// The identity.
        identity_id: IdentityId,
        /// The provider's configured id (`google`).
        provider: String,
    },
    /// `user.identity_unlinked`.
    IdentityUnlinked {
        /// The user.
        user_id: UserId,
        /// The identity.
        identity_id: IdentityId,
        /// The provider's configured id.
        provider: String,
    },
    /// `user.deleted`.
    UserDeleted {
        /// The user.
        user_id: UserId,
        /// Tokens issued before this are refused.
        not_before: Option<DateTime<Utc>>,
        /// Until when.
        until: DateTime<Utc>,
    },
    /// `user.mfa_changed`.
    MfaChanged {
        /// The user.
        user_id: UserId,
        /// `totp_enabled`, `totp_disabled`, `recovery_codes_regenerated`
        /// or `reset_by_admin`.
        change: &'static str,
    },
    /// `client.created`: an OAuth client was registered.
    ClientCreated {
        /// Its `client_id`.
        client_id: ClientId,
        /// Its name.
        name: String,
        /// Public or confidential.
        kind: ClientKind,
    },
    /// `client.updated`: a client's settings changed.
    ClientUpdated {
        /// Its `client_id`.
        client_id: ClientId,
        /// Its name now.
        name: String,
    },
    /// `client.secret_rotated`: a confidential client's secret was
    /// replaced; the old one no longer authenticates it.
    ClientSecretRotated {
        /// Its `client_id`.
        client_id: ClientId,
    },
    /// `client.deleted`.
    ClientDeleted {
        /// Its `client_id`.
        client_id: ClientId,
        /// Its own tokens issued before this are refused.
        not_before: DateTime<Utc>,
        /// Until when.
        until: DateTime<Utc>,
    },
}

impl DomainEvent {
    /// The name of [`DomainEvent::UserUnbanned`], which the revocation feed
    /// picks out of the outbox.
    pub const USER_UNBANNED: &'static str = "user.unbanned";

    /// The contract's event name.
    pub fn name(&self) -> &'static str {
        match self {
            DomainEvent::UserCreated { .. } => "user.created",
            DomainEvent::SignedIn { .. } => "user.signed_in",
            DomainEvent::SignInFailed { .. } => "user.sign_in_failed",
            DomainEvent::SessionRevoked { .. } => "session.revoked",
            DomainEvent::TokensRevoked { .. } => "user.tokens_revoked",
            DomainEvent::UserBanned { .. } => "user.banned",
            DomainEvent::UserUnbanned { .. } => Self::USER_UNBANNED,
            DomainEvent::RolesChanged { .. } => "user.roles_changed",
            DomainEvent::EmailChanged { .. } => "user.email_changed",
            DomainEvent::IdentityLinked { .. } => "user.identity_linked",
            DomainEvent::IdentityUnlinked { .. } => "user.identity_unlinked",
            DomainEvent::UserDeleted { .. } => "user.deleted",
            DomainEvent::MfaChanged { .. } => "user.mfa_changed",
            DomainEvent::ClientCreated { .. } => "client.created",
            DomainEvent::ClientUpdated { .. } => "client.updated",
            DomainEvent::ClientSecretRotated { .. } => "client.secret_rotated",
            DomainEvent::ClientDeleted { .. } => "client.deleted",
        }
    }

    /// The contract's event data.
    pub fn data(&self) -> serde_json::Value {
        // `json!` over the same types the payloads were always built from,
        // so ids and times serialise exactly as subscribers already parse.
        match self {
            DomainEvent::UserCreated {
                user_id,
                email,
                roles,
            } => json!({"user_id": user_id, "email": email, "roles": roles}),
            DomainEvent::SignedIn { user_id, ip, at } => {
                json!({"user_id": user_id, "ip": ip, "at": at})
            }
            DomainEvent::SignInFailed { user_id, ip, at } => {
                json!({"user_id": user_id, "ip": ip, "at": at})
            }
            DomainEvent::SessionRevoked {
                session_id,
                user_id,
                until,
            } => json!({"session_id": session_id, "user_id": user_id, "until": until}),
            DomainEvent::TokensRevoked {
                user_id,
                not_before,
                until,
            } => json!({"user_id": user_id, "not_before": not_before, "until": until}),
            DomainEvent::UserBanned {
                user_id,
                not_before,
                until,
                reason,
            } => {
                json!({"user_id": user_id, "not_before": not_before, "until": until, "reason": reason})
            }
            DomainEvent::UserUnbanned { user_id, until } => {
                json!({"user_id": user_id, "until": until})
            }
            DomainEvent::RolesChanged { user_id, roles } => {
                json!({"user_id": user_id, "roles": roles})
            }
            DomainEvent::EmailChanged { user_id, email } => {
                json!({"user_id": user_id, "email": email})
            }
            DomainEvent::IdentityLinked {
                user_id,
                identity_id,
                provider,
            }
            | DomainEvent::IdentityUnlinked {
                user_id,
                identity_id,
                provider,
            } => json!({"user_id": user_id, "identity_id": identity_id, "provider": provider}),
            DomainEvent::UserDeleted {
                user_id,
                not_before,
                until,
            } => json!({"user_id": user_id, "not_before": not_before, "until": until}),
            DomainEvent::MfaChanged { user_id, change } => {
                json!({"user_id": user_id, "change": change})
            }
            DomainEvent::ClientCreated {
                client_id,
                name,
                kind,
            } => json!({"client_id": client_id.as_str(), "name": name, "type": kind.as_str()}),
            DomainEvent::ClientUpdated { client_id, name } => {
                json!({"client_id": client_id.as_str(), "name": name})
            }
            DomainEvent::ClientSecretRotated { client_id } => {
                json!({"client_id": client_id.as_str()})
            }
            DomainEvent::ClientDeleted {
                client_id,
                not_before,
                until,
            } => {
                json!({"client_id": client_id.as_str(), "not_before": not_before, "until": until})
            }
        }
    }

    /// The outbox row for this event, which happened at `at`.
    pub fn into_outbox(self, at: DateTime<Utc>) -> OutboxEvent {
        OutboxEvent::new(self.name(), self.data(), at)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::model::Revocation;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 12, 30, 45).unwrap() + chrono::Duration::milliseconds(123)
    }

    /// Same name, same data, and the same bytes on the wire as the literal
    /// the use case built before the enum.
    fn assert_same(event: DomainEvent, name: &str, data: serde_json::Value) {
        let at = now();
        let outbox = event.into_outbox(at);
        assert_eq!(outbox.name, name);
        assert_eq!(outbox.at, at);
        assert_eq!(
            serde_json::to_string(&outbox.data).unwrap(),
            serde_json::to_string(&data).unwrap()
        );
        assert_eq!(outbox.data, data);
    }

    #[test]
    fn user_created_matches_the_old_literal() {
        let user = UserId::new();
        let email = crate::Email::parse("Ada@Example.com").unwrap();
        let roles = vec!["admin".to_owned(), "user".to_owned()];
        assert_same(
            DomainEvent::UserCreated {
                user_id: user,
                email: email.as_str().to_owned(),
                roles: roles.clone(),
            },
            "user.created",
            json!({"user_id": user, "email": email.as_str(), "roles": roles}),
        );
    }

    #[test]
    fn signed_in_matches_the_old_literal() {
        let user = UserId::new();
        let ip = Some("10.0.0.1".to_owned());
        let at = now();
        assert_same(
            DomainEvent::SignedIn {
                user_id: user,
                ip: ip.clone(),
                at,
            },
            "user.signed_in",
            json!({"user_id": user, "ip": ip, "at": at}),
        );
    }

    #[test]
    fn sign_in_failed_matches_the_old_literal() {
        let at = now();
        for (user, ip) in [
            (Some(UserId::new()), Some("2001:db8::1".to_owned())),
            (None, None),
        ] {
            assert_same(
                DomainEvent::SignInFailed {
                    user_id: user,
                    ip: ip.clone(),
                    at,
                },
                "user.sign_in_failed",
                json!({"user_id": user, "ip": ip, "at": at}),
            );
        }
    }

    #[test]
    fn session_revoked_matches_the_old_literal() {
        let (session, user) = (SessionId::new(), UserId::new());
        let until = now() + chrono::Duration::minutes(16);
        let event = DomainEvent::SessionRevoked {
            session_id: session,
            user_id: user,
            until,
        };
        assert_same(
            event.clone(),
            "session.revoked",
            json!({"session_id": session, "user_id": user, "until": until}),
        );
        // The feed turns the row back into the revocation it carries.
        let outbox = event.into_outbox(now());
        let revocation = Revocation::from_event(&outbox.name, &outbox.data).unwrap();
        assert_eq!(revocation.id, session.as_uuid());
        assert_eq!(revocation.until, until);
    }

    #[test]
    fn tokens_revoked_matches_the_old_literal() {
        let user = UserId::new();
        let at = now();
        let until = at + chrono::Duration::minutes(16);
        assert_same(
            DomainEvent::TokensRevoked {
                user_id: user,
                not_before: at,
                until,
            },
            "user.tokens_revoked",
            json!({"user_id": user, "not_before": at, "until": until}),
        );
    }

    #[test]
    fn user_banned_matches_the_old_literal() {
        let user = UserId::new();
        let not_before = Some(Utc.with_ymd_and_hms(2025, 3, 1, 12, 30, 46).unwrap());
        let until = now() + chrono::Duration::minutes(16);
        for reason in [Some("spam \"links\"".to_owned()), None] {
            assert_same(
                DomainEvent::UserBanned {
                    user_id: user,
                    not_before,
                    until,
                    reason: reason.clone(),
                },
                "user.banned",
                json!({"user_id": user, "not_before": not_before, "until": until, "reason": reason}),
            );
        }
    }

    #[test]
    fn user_unbanned_matches_the_old_literal() {
        let user = UserId::new();
        let until = now() + chrono::Duration::minutes(16);
        assert_same(
            DomainEvent::UserUnbanned {
                user_id: user,
                until,
            },
            "user.unbanned",
            json!({"user_id": user, "until": until}),
        );
    }

    #[test]
    fn roles_changed_matches_the_old_literal() {
        let user = UserId::new();
        let roles = vec!["editor".to_owned(), "user".to_owned()];
        assert_same(
            DomainEvent::RolesChanged {
                user_id: user,
                roles: roles.clone(),
            },
            "user.roles_changed",
            json!({"user_id": user, "roles": roles}),
        );
    }

    #[test]
    fn user_deleted_matches_the_old_literal() {
        let user = UserId::new();
        let not_before = Some(Utc.with_ymd_and_hms(2025, 3, 1, 12, 30, 46).unwrap());
        let until = now() + chrono::Duration::minutes(16);
        assert_same(
            DomainEvent::UserDeleted {
                user_id: user,
                not_before,
                until,
            },
            "user.deleted",
            json!({"user_id": user, "not_before": not_before, "until": until}),
        );
    }

    #[test]
    fn identity_events_carry_the_user_identity_and_provider() {
        let user = UserId::new();
        let identity = IdentityId::new();
        assert_same(
            DomainEvent::IdentityLinked {
                user_id: user,
                identity_id: identity,
                provider: "google".into(),
            },
            "user.identity_linked",
            json!({"user_id": user, "identity_id": identity, "provider": "google"}),
        );
        assert_same(
            DomainEvent::IdentityUnlinked {
                user_id: user,
                identity_id: identity,
                provider: "github".into(),
            },
            "user.identity_unlinked",
            json!({"user_id": user, "identity_id": identity, "provider": "github"}),
        );
    }

    #[test]
    fn email_changed_carries_the_user_and_the_new_address() {
        let user = UserId::new();
        assert_same(
            DomainEvent::EmailChanged {
                user_id: user,
                email: "ada@example.org".into(),
            },
            "user.email_changed",
            json!({"user_id": user, "email": "ada@example.org"}),
        );
    }

    #[test]
    fn client_events_carry_the_client_id_and_never_a_secret() {
        let id = ClientId::parse("grafana").unwrap();
        assert_same(
            DomainEvent::ClientCreated {
                client_id: id.clone(),
                name: "Grafana".into(),
                kind: ClientKind::Confidential,
            },
            "client.created",
            json!({"client_id": "grafana", "name": "Grafana", "type": "confidential"}),
        );
        assert_same(
            DomainEvent::ClientUpdated {
                client_id: id.clone(),
                name: "Grafana 2".into(),
            },
            "client.updated",
            json!({"client_id": "grafana", "name": "Grafana 2"}),
        );
        assert_same(
            DomainEvent::ClientSecretRotated {
                client_id: id.clone(),
            },
            "client.secret_rotated",
            json!({"client_id": "grafana"}),
        );
        let at = Utc::now();
        let until = at + chrono::Duration::minutes(15);
        assert_same(
            DomainEvent::ClientDeleted {
                client_id: id.clone(),
                not_before: at,
                until,
            },
            "client.deleted",
            json!({"client_id": "grafana", "not_before": at, "until": until}),
        );
        // Its revocation is the one the store keeps for the deleted client.
        let outbox = DomainEvent::ClientDeleted {
            client_id: id.clone(),
            not_before: at,
            until,
        }
        .into_outbox(at);
        let carried = Revocation::from_event(&outbox.name, &outbox.data).unwrap();
        let mut stored = crate::clients::service_revocation(&id, at, until);
        stored.not_before = Some(at);
        assert_eq!(carried, stored);
    }
}
