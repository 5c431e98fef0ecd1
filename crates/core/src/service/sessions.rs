//! Ending sessions: one, all of a user's, and the revocations that make
//! their live tokens fail everywhere.

use chrono::{DateTime, Utc};

use super::{AuthService, Principal, RequestContext, SessionView};
use crate::audit::Audit;
use crate::error::CoreError;
use crate::events::DomainEvent;
use crate::ids::{SessionId, UserId};
use crate::model::{OutboxEvent, Revocation, RevocationKind};
use crate::opaque::{OpaqueToken, REFRESH_PREFIX};
use crate::ports::PasswordChange;

impl AuthService {
    /// Ends the caller's session.
    pub async fn sign_out(&self, who: &Principal, ctx: &RequestContext) -> Result<(), CoreError> {
        let now = self.clock.now();
        self.revoke_session(who.session_id, who.user_id, now)
            .await?;
        self.record(
            Audit::success("signout")
                .actor(who.user_id)
                .target(who.user_id),
            ctx,
        )
        .await;
        Ok(())
    }

    /// Ends the session a refresh token belongs to (sign-out without an access token).
    pub async fn sign_out_with_refresh(
        &self,
        refresh_token: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let presented = OpaqueToken::parse(refresh_token, REFRESH_PREFIX)
            .ok_or(CoreError::InvalidRefreshToken)?;
        let session = self
            .store
            .find_session_by_refresh(&presented.hash())
            .await?
            .ok_or(CoreError::InvalidRefreshToken)?;
        self.revoke_session(session.id, session.user_id, self.clock.now())
            .await?;
        self.record(
            Audit::success("signout")
                .actor(session.user_id)
                .target(session.user_id),
            ctx,
        )
        .await;
        Ok(())
    }

    /// Ends every session of the caller.
    pub async fn sign_out_everywhere(
        &self,
        who: &Principal,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let now = self.clock.now();
        self.revoke_all_sessions(who.user_id, None, now, None)
            .await?;
        let until = now + self.settings.revocation_ttl();
        let event = DomainEvent::TokensRevoked {
            user_id: who.user_id,
            not_before: now,
            until,
        }
        .into_outbox(now);
        self.store.append_outbox(&[event]).await?;
        self.record(
            Audit::success("signout_all")
                .actor(who.user_id)
                .target(who.user_id),
            ctx,
        )
        .await;
        Ok(())
    }

    /// The caller's live sessions.
    pub async fn my_sessions(&self, who: &Principal) -> Result<Vec<SessionView>, CoreError> {
        let now = self.clock.now();
        Ok(self
            .store
            .list_sessions(who.user_id, now)
            .await?
            .into_iter()
            .filter(|s| s.is_live(now, self.settings.idle_timeout))
            .map(|session| SessionView {
                is_current: session.id == who.session_id,
                session,
            })
            .collect())
    }

    /// Revokes one of the caller's sessions; another user's id is "not found".
    pub async fn revoke_my_session(
        &self,
        who: &Principal,
        session_id: SessionId,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let revocation = self
            .users
            .revoke_session(who.user_id.into(), who.user_id, session_id, ctx)
            .await?;
        self.denylist.insert(&revocation);
        Ok(())
    }

    pub(super) async fn revoke_session(
        &self,
        session: SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        let revocation = self.users.end_session(session, user, now).await?;
        self.denylist.insert(&revocation);
        Ok(())
    }

    pub(super) async fn revoke_all_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        password: Option<&PasswordChange<'_>>,
    ) -> Result<(), CoreError> {
        let revoked = self.users.end_sessions(user, keep, now, password).await?;
        self.deny(&revoked);
        Ok(())
    }

    /// Puts sessions the store just revoked on this instance's deny-list.
    pub(super) fn deny_sessions(&self, sessions: &[SessionId], until: DateTime<Utc>) {
        for session in sessions {
            self.denylist.insert(&Revocation {
                kind: RevocationKind::Session,
                id: session.as_uuid(),
                not_before: None,
                until,
            });
        }
    }
}

pub(super) fn session_revoked_event(
    session: SessionId,
    user: UserId,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> OutboxEvent {
    DomainEvent::SessionRevoked {
        session_id: session,
        user_id: user,
        until,
    }
    .into_outbox(now)
}
