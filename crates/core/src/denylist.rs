//! The in-memory deny-list: revoked sessions and users whose access tokens
//! must be refused before they expire. Kept in step with the store's
//! revocation table by the use cases (and, in a later step, by the event bus).

use std::collections::HashMap;
use std::sync::RwLock;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::{Revocation, RevocationKind};

#[derive(Debug, Clone, Copy)]
struct UserEntry {
    not_before_secs: i64,
    until: DateTime<Utc>,
}

/// Revoked sessions and users, each remembered only while a token it matches could still be valid.
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

    /// Adds (or extends) an entry.
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
                });
                entry.not_before_secs = entry.not_before_secs.max(not_before_secs);
                entry.until = entry.until.max(revocation.until);
            }
        }
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
                .is_some_and(|entry| iat < entry.not_before_secs)
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

    #[test]
    fn session_entries_match_by_sid_and_expire() {
        let list = DenyList::new();
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(1000);
        let sid = Uuid::now_v7();
        list.insert(&Revocation {
            kind: RevocationKind::Session,
            id: sid,
            not_before: None,
            until: now + Duration::minutes(16),
        });
        assert!(list.is_revoked(Uuid::now_v7(), sid, now.timestamp()));
        assert!(!list.is_revoked(Uuid::now_v7(), Uuid::now_v7(), now.timestamp()));
        list.prune(now + Duration::minutes(17));
        assert!(list.is_empty());
    }

    #[test]
    fn user_entries_only_match_tokens_issued_before_not_before() {
        let list = DenyList::new();
        let now = DateTime::<Utc>::UNIX_EPOCH + Duration::days(1000);
        let user = Uuid::now_v7();
        list.insert(&Revocation {
            kind: RevocationKind::User,
            id: user,
            not_before: Some(now),
            until: now + Duration::minutes(16),
        });
        assert!(list.is_revoked(user, Uuid::now_v7(), now.timestamp() - 5));
        assert!(!list.is_revoked(user, Uuid::now_v7(), now.timestamp()));
    }
}
