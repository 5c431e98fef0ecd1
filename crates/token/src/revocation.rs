//! Revocations: the entries that make a still-unexpired access token invalid,
//! their wire forms (the `GET /v1/revocations` feed and the CloudEvents Warden
//! publishes), and the in-memory [`DenyList`] every verifier consults.
//!
//! The same list serves Warden's own `/v1/validate` and every service that
//! embeds `warden-verify`, so both reject exactly the same tokens.
//!
//! ```
//! use chrono::{Duration, Utc};
//! use uuid::Uuid;
//! use warden_token::revocation::{DenyList, Revocation, RevocationKind};
//!
//! let now = Utc::now();
//! let list = DenyList::new();
//! let session = Uuid::now_v7();
//! list.insert(&Revocation {
//!     kind: RevocationKind::Session,
//!     id: session,
//!     not_before: None,
//!     until: now + Duration::minutes(15),
//! });
//! assert!(list.is_revoked(Uuid::now_v7(), session, now.timestamp()));
//! list.prune(now + Duration::minutes(16));
//! assert!(list.is_empty());
//! ```

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a revocation entry applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationKind {
    /// Every token with this `sid`.
    Session,
    /// Every token of this `sub` issued before `not_before`.
    User,
}

/// One entry: tokens it matches are rejected until `until`. Serialised as an
/// entry of the revocation feed: `{kind, id, not_before?, until}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// Session or user.
    pub kind: RevocationKind,
    /// The session or user id.
    pub id: Uuid,
    /// For user entries: tokens issued before this are revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<DateTime<Utc>>,
    /// After this no token it could match is still valid.
    pub until: DateTime<Utc>,
}

/// Names of the events that carry a revocation (without the `warden.` or
/// `dev.warden.` prefix).
pub const REVOCATION_EVENTS: [&str; 5] = [
    "session.revoked",
    "user.banned",
    "user.tokens_revoked",
    "user.deleted",
    "client.deleted",
];

/// The deny-list key of a service (an OAuth client's own tokens, whose
/// `sub` is its client id): a name-based UUID (version 8, from SHA-256
/// over a fixed namespace and the id).
///
/// A deleted client's tokens are revoked by a `user` entry under this key,
/// so the feed's entries keep the shape every verifier already parses; no
/// user id can collide with it (users' ids are random version 4 or time
/// based version 7 UUIDs).
pub fn service_subject(client_id: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let digest = Sha256::new()
        .chain_update(b"warden service subject\0")
        .chain_update(client_id.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

#[derive(Deserialize)]
struct SessionRevokedData {
    session_id: Uuid,
    until: DateTime<Utc>,
}

#[derive(Deserialize)]
struct ClientDeletedData {
    client_id: String,
    not_before: DateTime<Utc>,
    until: DateTime<Utc>,
}

#[derive(Deserialize)]
struct UserRevokedData {
    user_id: Uuid,
    not_before: DateTime<Utc>,
    until: DateTime<Utc>,
}

impl Revocation {
    /// The revocation an event carries, if it carries one: `name` is the
    /// event name (`session.revoked`, ...), `data` its CloudEvents `data`.
    /// Malformed data yields `None`, never a panic.
    pub fn from_event(name: &str, data: &serde_json::Value) -> Option<Revocation> {
        match name {
            "session.revoked" => {
                let d = SessionRevokedData::deserialize(data).ok()?;
                Some(Revocation {
                    kind: RevocationKind::Session,
                    id: d.session_id,
                    not_before: None,
                    until: d.until,
                })
            }
            "user.banned" | "user.tokens_revoked" | "user.deleted" => {
                let d = UserRevokedData::deserialize(data).ok()?;
                Some(Revocation {
                    kind: RevocationKind::User,
                    id: d.user_id,
                    not_before: Some(d.not_before),
                    until: d.until,
                })
            }
            "client.deleted" => {
                let d = ClientDeletedData::deserialize(data).ok()?;
                Some(Revocation {
                    kind: RevocationKind::User,
                    id: service_subject(&d.client_id),
                    not_before: Some(d.not_before),
                    until: d.until,
                })
            }
            _ => None,
        }
    }
}

/// One page of the revocation feed (`GET /v1/revocations`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevocationPage {
    /// Pass as `since` to get what came after this page.
    pub cursor: String,
    /// Entries still in force.
    pub entries: Vec<Revocation>,
    /// Whether more entries are waiting after `cursor` (fetch again at once).
    #[serde(default)]
    pub has_more: bool,
}

/// A CloudEvents 1.0 envelope (JSON format) as Warden publishes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    /// Always `1.0`.
    pub specversion: String,
    /// Unique id; the same event redelivered keeps it.
    pub id: String,
    /// The issuer URL.
    pub source: String,
    /// `dev.warden.<name>`.
    #[serde(rename = "type")]
    pub type_: String,
    /// When the change happened.
    pub time: DateTime<Utc>,
    /// Always `application/json`.
    #[serde(default)]
    pub datacontenttype: Option<String>,
    /// The event data, per the contract.
    pub data: serde_json::Value,
}

/// Prefix of every Warden CloudEvents `type`.
pub const EVENT_TYPE_PREFIX: &str = "dev.warden.";

impl CloudEvent {
    /// A new envelope for event `name` (`session.revoked`, ...).
    pub fn new(
        id: impl Into<String>,
        source: impl Into<String>,
        name: &str,
        time: DateTime<Utc>,
        data: serde_json::Value,
    ) -> CloudEvent {
        CloudEvent {
            specversion: "1.0".to_owned(),
            id: id.into(),
            source: source.into(),
            type_: format!("{EVENT_TYPE_PREFIX}{name}"),
            time,
            datacontenttype: Some("application/json".to_owned()),
            data,
        }
    }

    /// The event name without the type prefix, if it is a Warden event.
    pub fn name(&self) -> Option<&str> {
        self.type_.strip_prefix(EVENT_TYPE_PREFIX)
    }

    /// The revocation this event carries, if any.
    pub fn revocation(&self) -> Option<Revocation> {
        Revocation::from_event(self.name()?, &self.data)
    }
}

#[derive(Debug, Clone, Copy)]
struct UserEntry {
    not_before_secs: i64,
    until: DateTime<Utc>,
    /// Set by an unban: tokens issued from this second on are valid again,
    /// even when `not_before_secs` (a ban rounded up to the next second, or
    /// the ban replayed by the feed after the unban) is later.
    lifted_from_secs: Option<i64>,
}

impl UserEntry {
    fn matches(&self, iat: i64) -> bool {
        iat < self.not_before_secs && self.lifted_from_secs.is_none_or(|lifted| iat < lifted)
    }
}

/// Revoked sessions and users, each remembered only while a token it matches
/// could still be valid. Lookups take a read lock on one of two hash maps,
/// so a list of 100,000 entries costs what an empty one does.
#[derive(Debug, Default)]
pub struct DenyList {
    sessions: RwLock<HashMap<Uuid, DateTime<Utc>>>,
    users: RwLock<HashMap<Uuid, UserEntry>>,
}

impl DenyList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry, or extends the one already there; inserting the same
    /// entry twice (an event redelivered) changes nothing.
    pub fn insert(&self, revocation: &Revocation) {
        match revocation.kind {
            RevocationKind::Session => {
                let mut sessions = self.sessions.write().unwrap_or_else(|e| e.into_inner());
                let until = sessions.entry(revocation.id).or_insert(revocation.until);
                *until = (*until).max(revocation.until);
            }
            RevocationKind::User => {
                let not_before_secs = revocation.not_before.map_or(i64::MAX, |t| t.timestamp());
                let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
                let entry = users.entry(revocation.id).or_insert(UserEntry {
                    not_before_secs,
                    until: revocation.until,
                    lifted_from_secs: None,
                });
                // A ban from a second after the unban's is a new ban; one from
                // the unban's second or before is the lifted one replayed
                // (a ban's `not_before` is its second plus one).
                if entry
                    .lifted_from_secs
                    .is_some_and(|lifted| not_before_secs > lifted.saturating_add(1))
                {
                    entry.lifted_from_secs = None;
                }
                entry.not_before_secs = entry.not_before_secs.max(not_before_secs);
                entry.until = entry.until.max(revocation.until);
            }
        }
    }

    /// Applies one Warden event: a revocation is added; an unban lifts the
    /// user-wide entry from the unban's second on (see [`DenyList::lift_user`]);
    /// other events change nothing. Returns whether the list changed.
    pub fn apply(&self, event: &CloudEvent) -> bool {
        if let Some(revocation) = event.revocation() {
            self.insert(&revocation);
            return true;
        }
        if event.name() == Some("user.unbanned") {
            return self.apply_unban(&event.data, event.time);
        }
        false
    }

    /// Applies the data of a `user.unbanned` event committed at `time`:
    /// `{user_id, until?}`. Returns whether the data named a user.
    pub fn apply_unban(&self, data: &serde_json::Value, time: DateTime<Utc>) -> bool {
        let Some(user) = data
            .get("user_id")
            .and_then(|v| v.as_str())
            .and_then(|s| Uuid::parse_str(s).ok())
        else {
            return false;
        };
        let until = data
            .get("until")
            .and_then(|v| DateTime::<Utc>::deserialize(v).ok())
            .unwrap_or(time);
        self.lift_user(user, time, until);
        true
    }

    /// Lifts the user-wide entry of `user` (unban) for tokens issued from
    /// the second of `at` on, and remembers the lift until `until`, so that
    /// the ban replayed afterwards (by a revocation feed or a redelivered
    /// event) does not refuse them again. `iat` has whole seconds, so the
    /// cutoff is the unban's second rounded down: a token signed in that
    /// second after the unban is valid; one signed in it before the ban
    /// stays refused through its session's entry. Revoked sessions stay
    /// revoked. See docs/decisions/0016-unban-cutoff.md.
    pub fn lift_user(&self, user: Uuid, at: DateTime<Utc>, until: DateTime<Utc>) {
        let lifted = at.timestamp();
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        let entry = users.entry(user).or_insert(UserEntry {
            not_before_secs: i64::MIN,
            until,
            lifted_from_secs: None,
        });
        entry.lifted_from_secs = Some(entry.lifted_from_secs.map_or(lifted, |l| l.max(lifted)));
        entry.until = entry.until.max(until);
    }

    /// Drops the user-wide entry of `user` (unban); revoked sessions stay revoked.
    pub fn remove_user(&self, user: Uuid) {
        self.users
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&user);
    }

    /// Whether a token of `user` in `session` issued at `iat` (Unix seconds) is revoked.
    pub fn is_revoked(&self, user: Uuid, session: Uuid, iat: i64) -> bool {
        let session_revoked = self
            .sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&session);
        session_revoked
            || self
                .users
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .get(&user)
                .is_some_and(|entry| entry.matches(iat))
    }

    /// Forgets entries that can no longer match a valid token.
    pub fn prune(&self, now: DateTime<Utc>) {
        self.sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, until| *until > now);
        self.users
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, entry| entry.until > now);
    }

    /// Number of entries, for metrics.
    pub fn len(&self) -> usize {
        self.sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .len()
            + self.users.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000)
    }

    #[test]
    fn session_entries_match_by_sid_and_expire() {
        let list = DenyList::new();
        let sid = Uuid::now_v7();
        list.insert(&Revocation {
            kind: RevocationKind::Session,
            id: sid,
            not_before: None,
            until: now() + Duration::minutes(16),
        });
        assert!(list.is_revoked(Uuid::now_v7(), sid, now().timestamp()));
        assert!(!list.is_revoked(Uuid::now_v7(), Uuid::now_v7(), now().timestamp()));
        list.prune(now() + Duration::minutes(15));
        assert!(list.is_revoked(Uuid::now_v7(), sid, now().timestamp()));
        list.prune(now() + Duration::minutes(17));
        assert!(list.is_empty());
    }

    #[test]
    fn user_entries_only_match_tokens_issued_before_not_before() {
        let list = DenyList::new();
        let user = Uuid::now_v7();
        list.insert(&Revocation {
            kind: RevocationKind::User,
            id: user,
            not_before: Some(now()),
            until: now() + Duration::minutes(16),
        });
        assert!(list.is_revoked(user, Uuid::now_v7(), now().timestamp() - 5));
        assert!(!list.is_revoked(user, Uuid::now_v7(), now().timestamp()));
        list.remove_user(user);
        assert!(!list.is_revoked(user, Uuid::now_v7(), now().timestamp() - 5));
    }

    #[test]
    fn a_redelivered_or_older_entry_never_shortens_one_in_force() {
        let list = DenyList::new();
        let user = Uuid::now_v7();
        let late = Revocation {
            kind: RevocationKind::User,
            id: user,
            not_before: Some(now()),
            until: now() + Duration::minutes(30),
        };
        list.insert(&late);
        list.insert(&Revocation {
            not_before: Some(now() - Duration::minutes(10)),
            until: now() + Duration::minutes(5),
            ..late.clone()
        });
        assert!(list.is_revoked(user, Uuid::now_v7(), now().timestamp() - 1));
        list.prune(now() + Duration::minutes(10));
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn a_deleted_clients_event_revokes_its_service_tokens_only() {
        let until = now() + Duration::minutes(15);
        let entry = Revocation::from_event(
            "client.deleted",
            &json!({"client_id": "app_1", "not_before": now(), "until": until}),
        )
        .expect("a revocation");
        assert_eq!(entry.kind, RevocationKind::User);
        assert_eq!(entry.id, service_subject("app_1"));
        assert_ne!(service_subject("app_1"), service_subject("app_2"));
        assert_eq!(service_subject("app_1").get_version_num(), 8);
        let list = DenyList::new();
        list.insert(&entry);
        let before = now().timestamp() - 1;
        assert!(list.is_revoked(service_subject("app_1"), Uuid::nil(), before));
        assert!(!list.is_revoked(service_subject("app_2"), Uuid::nil(), before));
        // An older event without the revocation fields carries none.
        assert!(Revocation::from_event("client.deleted", &json!({"client_id": "app_1"})).is_none());
    }

    #[test]
    fn events_carry_revocations_and_malformed_data_carries_none() {
        let sid = Uuid::now_v7();
        let uid = Uuid::now_v7();
        let until = now() + Duration::minutes(15);
        let session = Revocation::from_event(
            "session.revoked",
            &json!({"session_id": sid, "user_id": uid, "until": until}),
        );
        assert_eq!(
            session,
            Some(Revocation {
                kind: RevocationKind::Session,
                id: sid,
                not_before: None,
                until
            })
        );
        let ban = CloudEvent::new(
            "e1",
            "https://auth.example",
            "user.banned",
            now(),
            json!({"user_id": uid, "not_before": now(), "until": until, "reason": null}),
        );
        let wire = serde_json::to_string(&ban).unwrap();
        let back: CloudEvent = serde_json::from_str(&wire).unwrap();
        assert_eq!(back.type_, "dev.warden.user.banned");
        assert_eq!(back.revocation().unwrap().not_before, Some(now()));
        assert_eq!(
            Revocation::from_event("session.revoked", &json!({"session_id": "nope"})),
            None
        );
        assert_eq!(
            Revocation::from_event("user.created", &json!({"user_id": uid})),
            None
        );
    }

    #[test]
    fn feed_entries_use_the_contract_field_names() {
        let entry = Revocation {
            kind: RevocationKind::Session,
            id: Uuid::nil(),
            not_before: None,
            until: now(),
        };
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["kind"], "session");
        assert!(json.get("not_before").is_none());
        assert!(json["until"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn an_unban_lifts_the_ban_from_its_second_on_even_when_the_ban_is_replayed() {
        let list = DenyList::new();
        let user = Uuid::now_v7();
        let ban_at = now() + Duration::milliseconds(100);
        let ban = Revocation {
            kind: RevocationKind::User,
            id: user,
            // The ban's second rounded up, as Warden writes it.
            not_before: Some(now() + Duration::seconds(1)),
            until: now() + Duration::minutes(15),
        };
        list.insert(&ban);
        assert!(list.is_revoked(user, Uuid::now_v7(), now().timestamp()));
        let unban = CloudEvent::new(
            "e2",
            "https://auth.example",
            "user.unbanned",
            ban_at + Duration::milliseconds(300),
            json!({"user_id": user, "until": now() + Duration::minutes(15)}),
        );
        assert!(list.apply(&unban));
        // A token signed in the ban's second, after the unban, is valid ...
        assert!(!list.is_revoked(user, Uuid::now_v7(), now().timestamp()));
        // ... also once the feed replays the ban.
        list.insert(&ban);
        assert!(!list.is_revoked(user, Uuid::now_v7(), now().timestamp()));
        // A new ban in a later second refuses again.
        list.insert(&Revocation {
            not_before: Some(now() + Duration::seconds(6)),
            ..ban.clone()
        });
        assert!(list.is_revoked(user, Uuid::now_v7(), now().timestamp() + 5));
        assert!(!list.is_revoked(user, Uuid::now_v7(), now().timestamp() + 6));
    }
}
