//! The admin API: listing and reading users, bans, roles, deletion (all
//! through [`UserAdmin`], which the CLI shares), the audit log and key
//! rotation.

use chrono::{DateTime, Utc};

use super::{AuthService, MAX_PAGE, Page, RequestContext, UserAdmin};
use crate::error::{CoreError, FieldError, StoreError};
use crate::ids::{AuditId, UserId};
use crate::keys::KeyInfo;
use crate::model::{AuditEntry, Revocation, Session, User};
use crate::ports::AuditFilter;

impl AuthService {
    /// A page of users ordered by id.
    pub async fn list_users(
        &self,
        query: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<User>, CoreError> {
        self.users.list(query, cursor, limit).await
    }

    /// One user with their live sessions.
    pub async fn get_user(&self, id: UserId) -> Result<(User, Vec<Session>), CoreError> {
        self.users.get(id).await
    }

    /// Account administration as an admin, on the store (shared with the CLI).
    pub fn user_admin(&self) -> &UserAdmin {
        &self.users
    }

    /// Bans a user: status banned, every session revoked, live tokens refused.
    pub async fn ban(
        &self,
        actor: UserId,
        target: UserId,
        reason: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        let (user, revoked) = self.users.ban(actor.into(), target, reason, ctx).await?;
        self.deny(&revoked);
        Ok(user)
    }

    /// Lifts a ban; old sessions stay revoked.
    pub async fn unban(
        &self,
        actor: UserId,
        target: UserId,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        let unbanned = self.users.unban(actor.into(), target, ctx).await?;
        self.denylist
            .apply_unban(&unbanned.event.data, self.clock.now());
        Ok(unbanned.user)
    }

    /// Replaces a user's roles; tokens pick them up at the next refresh.
    pub async fn set_roles(
        &self,
        actor: UserId,
        target: UserId,
        roles: &[String],
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        self.users.set_roles(actor.into(), target, roles, ctx).await
    }

    /// Deletes a user and their sessions.
    pub async fn delete_user(
        &self,
        actor: UserId,
        target: UserId,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let revocation = self.users.delete(actor.into(), target, ctx).await?;
        self.denylist.insert(&revocation);
        Ok(())
    }

    /// Ends one session of `target`.
    pub async fn admin_revoke_session(
        &self,
        actor: UserId,
        target: UserId,
        session: crate::ids::SessionId,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let revocation = self
            .users
            .revoke_session(actor.into(), target, session, ctx)
            .await?;
        self.denylist.insert(&revocation);
        Ok(())
    }

    /// Ends every session of `target`.
    pub async fn admin_revoke_all_sessions(
        &self,
        actor: UserId,
        target: UserId,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let revoked = self
            .users
            .revoke_all_sessions(actor.into(), target, ctx)
            .await?;
        self.deny(&revoked);
        Ok(())
    }

    /// Puts what an account change revoked on this instance's deny-list.
    pub(super) fn deny(&self, revoked: &[Revocation]) {
        for revocation in revoked {
            self.denylist.insert(revocation);
        }
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
        let filter = AuditFilter {
            user,
            ..AuditFilter::default()
        };
        self.audit_page(&filter, cursor, limit).await
    }

    /// A page of the audit entries `filter` lets through, newest first.
    pub async fn audit_page(
        &self,
        filter: &AuditFilter,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<AuditEntry>, CoreError> {
        let before = cursor
            .map(|c| {
                c.parse::<AuditId>()
                    .map_err(|_| FieldError::new("cursor", "is not a valid cursor"))
            })
            .transpose()?;
        let limit = page_limit(limit)?;
        let mut entries = self.store.list_audit(filter, before, limit + 1).await?;
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

    pub(super) fn user_revocation(&self, user: UserId, now: DateTime<Utc>) -> Revocation {
        self.users.user_revocation(user, now)
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
