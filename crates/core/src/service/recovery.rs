//! Forgotten passwords: asking for a reset link, and following it.
//!
//! `forgot_password` must not tell a stranger whether an address has an
//! account: the answer is the same, and so is the work behind it. Both
//! paths parse, look the address up, make a link and its mail, and run the
//! same store transaction (send slot, link, mail), which stores the link
//! either way (for an unknown address a placeholder naming no account,
//! which no one can follow) and keeps the mail only when the link's
//! account exists; then one audit entry. A
//! throttled address is throttled whether or not it has an account.

use super::{AuthService, RequestContext};
use crate::audit::Audit;
use crate::email::Email;
use crate::error::CoreError;
use crate::events::DomainEvent;
use crate::ids::UserId;
use crate::links::LinkPurpose;
use crate::mail::{MailKind, QueuedMail};
use crate::model::UserStatus;
use crate::ports::{LinkCompletion, SessionRevocations};
use crate::service::sessions::session_revoked_event;

impl AuthService {
    /// Mails a reset link to `email` if it names an active account. The
    /// same `Ok` either way; 429 (per address: one a minute, five an hour;
    /// per client IP) whether or not it does.
    pub async fn forgot_password(
        &self,
        email: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let email = Email::parse(email)?;
        let now = self.clock.now();
        let ip = ctx.ip.as_deref().unwrap_or("unknown");
        if let Some(retry_after_secs) = self.forgot_ip_limit.check(ip, now) {
            return Err(CoreError::TooManyRequests { retry_after_secs });
        }
        self.forgot_ip_limit.record_failure(ip, now);
        let found = self.store.find_credentials_by_email(&email).await?;
        if found.is_none() {
            // The store decodes a found account's stored address (a full
            // parse); do the same here so both paths cost alike.
            let _ = Email::from_stored(email.as_str());
        }
        let account = found
            .map(|creds| creds.user)
            // A banned account gets nothing: no link, no mail.
            .filter(|user| user.status == UserStatus::Active);
        // The link and mail are made on both paths (token generation and
        // hashing included) and only stored for an account. Without one the
        // link names a fresh id no account has, so the store does the same
        // work, keeps the link as an unusable placeholder and drops the mail.
        super::request_reset_link(
            &*self.store,
            &self.settings,
            account.as_ref().map_or_else(UserId::new, |u| u.id),
            account.as_ref().map_or(&email, |u| &u.email),
            email.as_str(),
            now,
        )
        .await?;
        // Filed under the account when there is one, like sign-in
        // failures: an admin sees who asks for whose reset.
        self.record(
            Audit::success("password_forgot").target(account.map(|u| u.id)),
            ctx,
        )
        .await;
        Ok(())
    }

    /// Follows a reset link: the new password replaces the old, every
    /// session ends (`user.tokens_revoked`), the lockout is lifted, the
    /// address counts as verified (the link was read there), every other
    /// reset link is void, and a `password_changed` notice is queued, all
    /// in one transaction. A banned account changes nothing. A signed-in
    /// `caller` may only follow links of their own account.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        caller: Option<UserId>,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let now = self.clock.now();
        let link = self
            .usable_link(token, &[LinkPurpose::PasswordReset], caller, now)
            .await?;
        let new = self.parse_password(new_password, "new_password")?;
        let user = self
            .store
            .find_user_by_id(link.user_id)
            .await?
            .filter(|u| u.status == UserStatus::Active && u.email == link.email)
            .ok_or(CoreError::InvalidLink)?;
        super::check_new_password(&self.settings.password_policy, &new, &user)?;
        let hash = self.hasher.hash(&new).await?;
        let until = now + self.settings.revocation_ttl();
        let user_id = user.id;
        let event_for = move |session| session_revoked_event(session, user_id, until, now);
        let event = DomainEvent::TokensRevoked {
            user_id,
            not_before: now,
            until,
        }
        .into_outbox(now);
        let notice =
            QueuedMail::new(MailKind::PasswordChanged, user.email.as_str(), now).for_user(user_id);
        let completion = LinkCompletion {
            purpose: LinkPurpose::PasswordReset,
            user: user_id,
            expected_email: Some(&link.email),
            new_email: None,
            password_hash: Some(&hash),
            void: &[LinkPurpose::PasswordReset],
            revoke_sessions: Some(SessionRevocations {
                until,
                event_for: &event_for,
            }),
            clear_throttle: Some(user.email.as_str()),
            events: std::slice::from_ref(&event),
            mail: std::slice::from_ref(&notice),
        };
        let revoked = self.complete_revoking(&link, &completion, now).await?;
        self.deny_sessions(&revoked, until);
        self.record(
            Audit::success("password_reset")
                .actor(user_id)
                .target(user_id),
            ctx,
        )
        .await;
        Ok(())
    }
}
