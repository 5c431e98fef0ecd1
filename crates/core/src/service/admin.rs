//! The admin API: listing and reading users, bans, roles, deletion, the
//! audit log and key rotation.

use chrono::{DateTime, Utc};

use super::{AuthService, MAX_PAGE, Page, RequestContext, bounded_text, role_names};
use crate::audit::Audit;
use crate::error::{CoreError, FieldError, StoreError};
use crate::events::DomainEvent;
use crate::ids::{AuditId, UserId};
use crate::keys::KeyInfo;
use crate::model::{AuditEntry, Revocation, RevocationKind, Role, Session, User, UserStatus};

impl AuthService {
    /// A page of users ordered by id.
    pub async fn list_users(
        &self,
        query: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<User>, CoreError> {
        let after = cursor
            .map(|c| {
                c.parse::<UserId>()
                    .map_err(|_| FieldError::new("cursor", "is not a valid cursor"))
            })
            .transpose()?;
        let limit = page_limit(limit)?;
        if query.is_some_and(|q| q.chars().count() > 254) {
            return Err(FieldError::new("q", "is longer than 254 characters").into());
        }
        let mut users = self.store.list_users(query, after, limit + 1).await?;
        let next_cursor = next_cursor(&mut users, limit, |u| u.id.to_string());
        Ok(Page {
            items: users,
            next_cursor,
        })
    }

    /// One user with their live sessions.
    pub async fn get_user(&self, id: UserId) -> Result<(User, Vec<Session>), CoreError> {
        let user = self
            .store
            .find_user_by_id(id)
            .await?
            .ok_or(CoreError::NotFound("user"))?;
        let sessions = self.store.list_sessions(id, self.clock.now()).await?;
        Ok((user, sessions))
    }

    /// Bans a user: status banned, every session revoked, live tokens refused.
    pub async fn ban(
        &self,
        actor: UserId,
        target: UserId,
        reason: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        if actor == target {
            return Err(FieldError::new(
                "user_id",
                "is the caller's own: admins cannot ban themselves",
            )
            .into());
        }
        let reason = reason.map(|r| bounded_text(r, "reason", 500)).transpose()?;
        let now = self.clock.now();
        let revocation = self.user_revocation(target, now);
        let event = DomainEvent::UserBanned {
            user_id: target,
            not_before: revocation.not_before,
            until: revocation.until,
            reason: reason.clone(),
        }
        .into_outbox(now);
        self.store
            .update_user_status(target, UserStatus::Banned, Some(&revocation), &[event])
            .await
            .map_err(not_found("user"))?;
        self.denylist.insert(&revocation);
        self.revoke_all_sessions(target, None, now, None).await?;
        self.record(
            Audit::success("ban")
                .actor(actor)
                .target(target)
                .detail(reason.as_deref()),
            ctx,
        )
        .await;
        self.admin_user(target).await
    }

    /// Lifts a ban; old sessions stay revoked.
    pub async fn unban(
        &self,
        actor: UserId,
        target: UserId,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        let now = self.clock.now();
        // The ban's entry is lifted from this second on, not dropped: the
        // feed may still replay the ban (decision 16).
        let until = now + self.settings.revocation_ttl();
        let event = DomainEvent::UserUnbanned {
            user_id: target,
            until,
        }
        .into_outbox(now);
        self.store
            .update_user_status(
                target,
                UserStatus::Active,
                None,
                std::slice::from_ref(&event),
            )
            .await
            .map_err(not_found("user"))?;
        self.denylist.apply_unban(&event.data, now);
        self.record(Audit::success("unban").actor(actor).target(target), ctx)
            .await;
        self.admin_user(target).await
    }

    /// Replaces a user's roles; tokens pick them up at the next refresh.
    pub async fn set_roles(
        &self,
        actor: UserId,
        target: UserId,
        roles: &[String],
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        if roles.len() > 32 {
            return Err(FieldError::new("roles", "has more than 32 entries").into());
        }
        let mut parsed = roles
            .iter()
            .map(|r| Role::parse(r))
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort();
        parsed.dedup();
        let now = self.clock.now();
        let event = DomainEvent::RolesChanged {
            user_id: target,
            roles: role_names(&parsed),
        }
        .into_outbox(now);
        self.store
            .update_user_roles(target, &parsed, &[event])
            .await
            .map_err(not_found("user"))?;
        let detail = role_names(&parsed).join(",");
        self.record(
            Audit::success("roles_change")
                .actor(actor)
                .target(target)
                .detail(detail.as_str()),
            ctx,
        )
        .await;
        self.admin_user(target).await
    }

    /// Deletes a user and their sessions.
    pub async fn delete_user(
        &self,
        actor: UserId,
        target: UserId,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        if actor == target {
            return Err(FieldError::new(
                "user_id",
                "is the caller's own: admins cannot delete themselves",
            )
            .into());
        }
        let now = self.clock.now();
        let revocation = self.user_revocation(target, now);
        // `not_before`/`until` as in `user.banned`: a verifier elsewhere must
        // refuse the deleted user's live tokens just the same.
        let event = DomainEvent::UserDeleted {
            user_id: target,
            not_before: revocation.not_before,
            until: revocation.until,
        }
        .into_outbox(now);
        self.store
            .delete_user(target, &revocation, &[event])
            .await
            .map_err(not_found("user"))?;
        self.denylist.insert(&revocation);
        self.record(Audit::success("delete").actor(actor).target(target), ctx)
            .await;
        Ok(())
    }

    /// A page of the audit log, newest first.
    pub async fn list_audit(
        &self,
        user: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<AuditEntry>, CoreError> {
        let user = user
            .map(|u| {
                u.parse::<UserId>()
                    .map_err(|_| FieldError::new("user", "is not a user id"))
            })
            .transpose()?;
        let before = cursor
            .map(|c| {
                c.parse::<AuditId>()
                    .map_err(|_| FieldError::new("cursor", "is not a valid cursor"))
            })
            .transpose()?;
        let limit = page_limit(limit)?;
        let mut entries = self.store.list_audit(user, before, limit + 1).await?;
        let next_cursor = next_cursor(&mut entries, limit, |e| e.id.to_string());
        Ok(Page {
            items: entries,
            next_cursor,
        })
    }

    /// Rotates the signing key.
    pub async fn rotate_keys(&self) -> Result<KeyInfo, CoreError> {
        self.keys.rotate().await
    }

    async fn admin_user(&self, id: UserId) -> Result<User, CoreError> {
        self.store
            .find_user_by_id(id)
            .await?
            .ok_or(CoreError::NotFound("user"))
    }

    pub(super) fn user_revocation(&self, user: UserId, now: DateTime<Utc>) -> Revocation {
        // Rounded up to the next second: `iat` has second precision, and every
        // token issued up to now must match.
        let not_before = DateTime::from_timestamp(now.timestamp() + 1, 0).unwrap_or(now);
        Revocation {
            kind: RevocationKind::User,
            id: user.as_uuid(),
            not_before: Some(not_before),
            until: now + self.settings.revocation_ttl(),
        }
    }
}

pub(super) fn not_found(what: &'static str) -> impl Fn(StoreError) -> CoreError {
    move |e| match e {
        StoreError::NotFound => CoreError::NotFound(what),
        other => other.into(),
    }
}

pub(super) fn page_limit(limit: Option<u32>) -> Result<u32, CoreError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => {
            Err(FieldError::new("limit", format!("must be between 1 and {MAX_PAGE}")).into())
        }
    }
}

pub(super) fn next_cursor<T>(
    items: &mut Vec<T>,
    limit: u32,
    cursor_of: impl Fn(&T) -> String,
) -> Option<String> {
    if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(cursor_of)
    } else {
        None
    }
}
