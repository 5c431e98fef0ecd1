//! Managing other people's accounts: what the admin API, the admin console
//! and the operator CLI (`warden user ...`) share, so that each writes the
//! same events and audit entries. It needs the store and nothing else (no
//! signing keys, no bus): the CLI runs it beside live servers, which learn
//! of its changes through the outbox relay like of any other. What a
//! running instance must also do in memory (deny-list entries) comes back
//! to the caller as [`Revocation`]s.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::admin::{next_cursor, not_found, page_limit};
use super::sessions::session_revoked_event;
use super::{MfaStatus, Page, RequestContext, bounded_text, role_names};
use crate::audit::Audit;
use crate::error::{CoreError, FieldError, StoreError};
use crate::events::DomainEvent;
use crate::ids::{SessionId, UserId};
use crate::mail::{MailKind, QueuedMail};
use crate::model::{
    Actor, OutboxEvent, Revocation, RevocationKind, Role, Session, User, UserStatus,
};
use crate::password::{Password, PasswordHasher};
use crate::ports::{Clock, PasswordChange, Store};
use crate::settings::AuthSettings;

/// Account administration on the store.
pub struct UserAdmin {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    settings: AuthSettings,
}

/// The outcome of lifting a ban: the account, and the `user.unbanned`
/// event a running instance applies to its deny-list.
#[derive(Debug)]
pub struct Unbanned {
    /// The account as it is now.
    pub user: User,
    /// The event written with the change.
    pub event: OutboxEvent,
}

impl UserAdmin {
    /// Administration on `store`, by `clock`, with the password policy,
    /// argon2 parameters and token lifetimes of `settings`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hasher: PasswordHasher,
        settings: AuthSettings,
    ) -> Self {
        Self {
            store,
            clock,
            hasher,
            settings,
        }
    }

    /// A page of users ordered by id, whose address or name contains `query`.
    pub async fn list(
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
    pub async fn get(&self, id: UserId) -> Result<(User, Vec<Session>), CoreError> {
        let user = self.user(id).await?;
        let sessions = self.store.list_sessions(id, self.clock.now()).await?;
        Ok((user, sessions))
    }

    /// One account, without its sessions.
    pub async fn account(&self, id: UserId) -> Result<User, CoreError> {
        self.user(id).await
    }

    /// The user a person names: by id, or by e-mail address (canonical
    /// form, as at sign-in).
    pub async fn find(&self, who: &str) -> Result<User, CoreError> {
        if let Ok(id) = who.parse::<UserId>() {
            return self.user(id).await;
        }
        let email = crate::Email::parse(who)
            .map_err(|_| FieldError::new("user", "is neither a user id nor an e-mail address"))?;
        self.store
            .find_credentials_by_email(&email)
            .await?
            .map(|c| c.user)
            .ok_or(CoreError::NotFound("user"))
    }

    /// What the account has of second factors.
    pub async fn second_factors(&self, user: &User) -> Result<MfaStatus, CoreError> {
        let totp = self
            .store
            .find_totp(user.id)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some());
        let passkeys =
            u32::try_from(self.store.list_passkeys(user.id).await?.len()).unwrap_or(u32::MAX);
        let recovery_codes_left = if totp || passkeys > 0 {
            self.store.count_recovery_codes(user.id).await?
        } else {
            0
        };
        Ok(MfaStatus {
            totp,
            passkeys,
            recovery_codes_left,
        })
    }

    /// Bans a user: status banned, every session revoked, live tokens
    /// refused. Returns the account and what to put on the deny-list.
    pub async fn ban(
        &self,
        actor: Actor,
        target: UserId,
        reason: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(User, Vec<Revocation>), CoreError> {
        refuse_self(actor, target, "ban")?;
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
        let mut revoked = self.revoke_sessions(target, now, None).await?;
        revoked.insert(0, revocation);
        Audit::success("ban")
            .actor(actor)
            .target(target)
            .detail(reason.as_deref())
            .record(&*self.store, &*self.clock, ctx)
            .await;
        Ok((self.user(target).await?, revoked))
    }

    /// Lifts a ban; the sessions it ended stay ended.
    pub async fn unban(
        &self,
        actor: Actor,
        target: UserId,
        ctx: &RequestContext,
    ) -> Result<Unbanned, CoreError> {
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
        Audit::success("unban")
            .actor(actor)
            .target(target)
            .record(&*self.store, &*self.clock, ctx)
            .await;
        Ok(Unbanned {
            user: self.user(target).await?,
            event,
        })
    }

    /// Replaces a user's roles; tokens pick them up at the next refresh.
    pub async fn set_roles(
        &self,
        actor: Actor,
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
        Audit::success("roles_change")
            .actor(actor)
            .target(target)
            .detail(detail.as_str())
            .record(&*self.store, &*self.clock, ctx)
            .await;
        self.user(target).await
    }

    /// Deletes a user and their sessions; returns the deny-list entry that
    /// refuses their live tokens.
    pub async fn delete(
        &self,
        actor: Actor,
        target: UserId,
        ctx: &RequestContext,
    ) -> Result<Revocation, CoreError> {
        refuse_self(actor, target, "delete")?;
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
        Audit::success("delete")
            .actor(actor)
            .target(target)
            .record(&*self.store, &*self.clock, ctx)
            .await;
        Ok(revocation)
    }

    /// Removes every second factor of `target` (a lost phone) and ends
    /// their sessions; the owner is told by mail.
    pub async fn reset_mfa(
        &self,
        actor: Actor,
        target: UserId,
        ctx: &RequestContext,
    ) -> Result<Vec<Revocation>, CoreError> {
        let user = self.user(target).await?;
        let now = self.clock.now();
        let (events, mail) = mfa_changed(&user, "reset_by_admin", now);
        self.store.delete_passkeys(user.id).await?;
        self.store
            .delete_second_factors(user.id, &events, &mail)
            .await?;
        let revoked = self.revoke_sessions(user.id, now, None).await?;
        Audit::success("mfa_reset")
            .actor(actor)
            .target(user.id)
            .record(&*self.store, &*self.clock, ctx)
            .await;
        Ok(revoked)
    }

    /// Sets a new password for `target` (the policy applies as at sign-up),
    /// ends every session, lifts the sign-in lockout and tells the owner by
    /// mail: how an operator lets back in someone, even the only admin,
    /// who forgot theirs.
    pub async fn set_password(
        &self,
        actor: Actor,
        target: UserId,
        new_password: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<Revocation>, CoreError> {
        let user = self.user(target).await?;
        let new = Password::parse(
            new_password,
            "password",
            self.settings.password_policy.max_chars,
        )?;
        super::check_new_password(&self.settings.password_policy, &new, &user)?;
        let hash = self.hasher.hash(&new).await?;
        let now = self.clock.now();
        let notice =
            QueuedMail::new(MailKind::PasswordChanged, user.email.as_str(), now).for_user(user.id);
        let change = PasswordChange {
            hash: &hash,
            mail: std::slice::from_ref(&notice),
        };
        let revoked = self.revoke_sessions(user.id, now, Some(&change)).await?;
        self.store.clear_login_failures(user.email.as_str()).await?;
        Audit::success("password_set")
            .actor(actor)
            .target(user.id)
            .record(&*self.store, &*self.clock, ctx)
            .await;
        Ok(revoked)
    }

    /// Ends one session of `target`; a session of someone else, or one
    /// already ended, is "not found".
    pub async fn revoke_session(
        &self,
        actor: Actor,
        target: UserId,
        session: SessionId,
        ctx: &RequestContext,
    ) -> Result<Revocation, CoreError> {
        let found = self
            .store
            .find_session(session)
            .await?
            .filter(|s| s.user_id == target && s.revoked_at.is_none())
            .ok_or(CoreError::NotFound("session"))?;
        let revocation = self.end_session(found.id, target, self.clock.now()).await?;
        Audit::success("session_revoke")
            .actor(actor)
            .target(target)
            .record(&*self.store, &*self.clock, ctx)
            .await;
        Ok(revocation)
    }

    /// Ends every session of `target` (signs them out everywhere).
    pub async fn revoke_all_sessions(
        &self,
        actor: Actor,
        target: UserId,
        ctx: &RequestContext,
    ) -> Result<Vec<Revocation>, CoreError> {
        let revoked = self.revoke_sessions(target, self.clock.now(), None).await?;
        Audit::success("signout_all")
            .actor(actor)
            .target(target)
            .record(&*self.store, &*self.clock, ctx)
            .await;
        Ok(revoked)
    }

    /// Mails `target` a password-reset link, as if they had asked (same
    /// link, same per-address send limit); a banned account gets none.
    pub async fn send_password_reset(
        &self,
        actor: Actor,
        target: UserId,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let user = self.user(target).await?;
        if user.status != UserStatus::Active {
            return Err(CoreError::AccountBanned);
        }
        super::request_reset_link(
            &*self.store,
            &self.settings,
            user.id,
            &user.email,
            user.email.as_str(),
            self.clock.now(),
        )
        .await?;
        Audit::success("password_reset_sent")
            .actor(actor)
            .target(user.id)
            .record(&*self.store, &*self.clock, ctx)
            .await;
        Ok(())
    }

    async fn user(&self, id: UserId) -> Result<User, CoreError> {
        self.store
            .find_user_by_id(id)
            .await?
            .ok_or(CoreError::NotFound("user"))
    }

    /// Ends every session of `user` (setting `password` with it), as
    /// deny-list entries.
    async fn revoke_sessions(
        &self,
        user: UserId,
        now: DateTime<Utc>,
        password: Option<&PasswordChange<'_>>,
    ) -> Result<Vec<Revocation>, CoreError> {
        self.end_sessions(user, None, now, password)
            .await
            .map_err(not_found("user"))
    }

    /// Ends `session` of `user` in the store (revocation and event), as the
    /// deny-list entry that refuses its tokens.
    pub(super) async fn end_session(
        &self,
        session: SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Revocation, CoreError> {
        let until = now + self.settings.revocation_ttl();
        let revocation = Revocation {
            kind: RevocationKind::Session,
            id: session.as_uuid(),
            not_before: None,
            until,
        };
        let event = session_revoked_event(session, user, until, now);
        self.store
            .revoke_session(session, now, &revocation, &[event])
            .await?;
        Ok(revocation)
    }

    /// Ends every session of `user` but `keep` in the store (setting
    /// `password` with it), as deny-list entries.
    pub(super) async fn end_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        password: Option<&PasswordChange<'_>>,
    ) -> Result<Vec<Revocation>, StoreError> {
        let until = now + self.settings.revocation_ttl();
        let event_for = move |session: SessionId| session_revoked_event(session, user, until, now);
        let revoked = self
            .store
            .revoke_user_sessions(user, keep, now, until, password, &event_for)
            .await?;
        Ok(revoked
            .into_iter()
            .map(|session| Revocation {
                kind: RevocationKind::Session,
                id: session.as_uuid(),
                not_before: None,
                until,
            })
            .collect())
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

/// An admin may not lock themselves out: another admin (or the CLI) must.
fn refuse_self(actor: Actor, target: UserId, what: &str) -> Result<(), CoreError> {
    if actor == Actor::User(target) {
        return Err(FieldError::new(
            "user_id",
            format!("is the caller's own: admins cannot {what} themselves"),
        )
        .into());
    }
    Ok(())
}

/// The `mfa.changed` event and the notice to the owner.
pub(super) fn mfa_changed(
    user: &User,
    change: &'static str,
    now: DateTime<Utc>,
) -> (Vec<OutboxEvent>, Vec<QueuedMail>) {
    let event = DomainEvent::MfaChanged {
        user_id: user.id,
        change,
    }
    .into_outbox(now);
    let notice = QueuedMail::new(MailKind::MfaChanged, user.email.as_str(), now)
        .for_user(user.id)
        .with("change", super::mfa::change_words(change));
    (vec![event], vec![notice])
}
