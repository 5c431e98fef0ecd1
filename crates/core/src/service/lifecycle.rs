//! The account over e-mail (front-door contract, section 3): verifying the
//! address, moving the account to a new one, and deleting it. Every link
//! is consumed and its change applied in one store transaction, with the
//! mail and events it causes.

use chrono::{DateTime, Utc};

use super::{AuthService, Principal, RequestContext};
use crate::audit::Audit;
use crate::email::Email;
use crate::error::{CoreError, FieldError, StoreError};
use crate::events::DomainEvent;
use crate::ids::UserId;
use crate::links::{
    LinkPreview, LinkPurpose, LinkRecord, NEW_EMAIL_VALUE, SendOutcome, SendThrottle, throttle_key,
};
use crate::mail::{MailKind, QueuedMail};
use crate::model::{User, UserCredentials};
use crate::opaque::{LINK_PREFIX, OpaqueToken};
use crate::ports::LinkCompletion;

impl AuthService {
    /// Mails the caller a new verification link: 409 `already_verified`,
    /// 429 within a minute of the last one.
    pub async fn send_verification(
        &self,
        who: &Principal,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let user = self.me(who).await?;
        if user.email_verified {
            return Err(CoreError::AlreadyVerified);
        }
        if let SendOutcome::Throttled { retry_after_secs } =
            self.mail_verification(&user, self.clock.now()).await?
        {
            return Err(CoreError::TooManyRequests { retry_after_secs });
        }
        self.record(
            Audit::success("verify_email_send")
                .actor(user.id)
                .target(user.id),
            ctx,
        )
        .await;
        Ok(())
    }

    /// Stores and mails a verification link for `user`, unless one went
    /// out too recently.
    pub(super) async fn mail_verification(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<SendOutcome, CoreError> {
        let (link, mail) =
            self.link_mailer()
                .link(LinkPurpose::VerifyEmail, user.id, &user.email, now);
        let key = verification_throttle_key(user);
        let throttle = SendThrottle {
            key: &key,
            limit: self.settings.link_send_limit,
            now,
        };
        Ok(self
            .store
            .request_link(&throttle, Some(&link), &[mail])
            .await?)
    }

    /// Counts the verification mail sign-up queued against the account's
    /// send limit, so the next one waits its minute like any other.
    pub(super) async fn count_signup_verification(
        &self,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        let key = verification_throttle_key(user);
        let throttle = SendThrottle {
            key: &key,
            limit: self.settings.link_send_limit,
            now,
        };
        self.store.request_link(&throttle, None, &[]).await?;
        Ok(())
    }

    /// Follows a verification or e-mail change link: the address is
    /// verified, or the account moves to the new address (the old one gets
    /// an `email_changed` notice). Returns the account as it is now. A
    /// signed-in `caller` may only follow links of their own account.
    pub async fn verify_email(
        &self,
        token: &str,
        caller: Option<UserId>,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        let now = self.clock.now();
        let link = self
            .usable_link(
                token,
                &[LinkPurpose::VerifyEmail, LinkPurpose::EmailChange],
                caller,
                now,
            )
            .await?;
        let user = self
            .store
            .find_user_by_id(link.user_id)
            .await?
            .ok_or(CoreError::InvalidLink)?;
        let result = match link.purpose {
            LinkPurpose::EmailChange => self.complete_email_change(&link, &user, now).await,
            _ => {
                let completion = LinkCompletion {
                    purpose: link.purpose,
                    user: user.id,
                    expected_email: Some(&link.email),
                    new_email: None,
                    password_hash: None,
                    void: &[LinkPurpose::VerifyEmail],
                    revoke_sessions: None,
                    clear_throttle: None,
                    events: &[],
                    mail: &[],
                };
                self.complete(&link, &completion, now).await
            }
        };
        let action = match link.purpose {
            LinkPurpose::EmailChange => "email_change",
            _ => "verify_email",
        };
        match &result {
            Ok(()) => {
                self.record(Audit::success(action).actor(user.id).target(user.id), ctx)
                    .await;
            }
            Err(err) => {
                self.record(
                    Audit::failure(action)
                        .actor(user.id)
                        .target(user.id)
                        .detail(err.code()),
                    ctx,
                )
                .await;
            }
        }
        result?;
        self.store
            .find_user_by_id(user.id)
            .await?
            .ok_or(CoreError::InvalidLink)
    }

    /// The account moves to the link's address; the old address is told.
    /// The notice goes when the change happens, not when it is asked for:
    /// the `email_changed` kind says the address *was* changed, and a
    /// request that is never confirmed changes nothing worth a mail
    /// (decision 0021).
    async fn complete_email_change(
        &self,
        link: &LinkRecord,
        user: &User,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        let event = DomainEvent::EmailChanged {
            user_id: user.id,
            email: link.email.as_str().to_owned(),
        }
        .into_outbox(now);
        let notice = QueuedMail::new(MailKind::EmailChanged, user.email.as_str(), now)
            .for_user(user.id)
            .with(NEW_EMAIL_VALUE, link.email.as_str());
        let completion = LinkCompletion {
            purpose: LinkPurpose::EmailChange,
            user: user.id,
            expected_email: None,
            new_email: Some(&link.email),
            password_hash: None,
            // Links mailed to the old address must not act on the account
            // once it has moved.
            void: &LinkPurpose::ALL,
            revoke_sessions: None,
            clear_throttle: None,
            events: std::slice::from_ref(&event),
            mail: std::slice::from_ref(&notice),
        };
        self.complete(link, &completion, now).await
    }

    /// Mails a link to `new_email` that moves the caller's account there
    /// once followed. 401 on a wrong current password, 409 when the
    /// address (or one that looks like it) has an account, 429 within a
    /// minute of the last request.
    pub async fn request_email_change(
        &self,
        who: &Principal,
        new_email: &str,
        current_password: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let new_email =
            Email::parse(new_email).map_err(|e| FieldError::new("new_email", e.message))?;
        self.confirm_owner(who, current_password, "email_change", ctx)
            .await?;
        let user = self.me(who).await?;
        if new_email == user.email {
            return Err(FieldError::new("new_email", "is the account's address already").into());
        }
        if self.store.email_in_use(&new_email).await? {
            return Err(CoreError::EmailTaken);
        }
        let now = self.clock.now();
        let (link, mail) =
            self.link_mailer()
                .link(LinkPurpose::EmailChange, user.id, &new_email, now);
        let key = throttle_key("email_change", &user.id.to_string());
        let throttle = SendThrottle {
            key: &key,
            limit: self.settings.link_send_limit,
            now,
        };
        if let SendOutcome::Throttled { retry_after_secs } = self
            .store
            .request_link(&throttle, Some(&link), &[mail])
            .await?
        {
            return Err(CoreError::TooManyRequests { retry_after_secs });
        }
        self.record(
            Audit::success("email_change_request")
                .actor(user.id)
                .target(user.id),
            ctx,
        )
        .await;
        Ok(())
    }

    /// Deletes the caller's account and every session of it, after the
    /// current password; `user.deleted` tells other services.
    pub async fn delete_me(
        &self,
        who: &Principal,
        current_password: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.confirm_owner(who, current_password, "delete", ctx)
            .await?;
        let now = self.clock.now();
        let revocation = self.user_revocation(who.user_id, now);
        let event = DomainEvent::UserDeleted {
            user_id: who.user_id,
            not_before: revocation.not_before,
            until: revocation.until,
        }
        .into_outbox(now);
        self.store
            .delete_user(who.user_id, &revocation, &[event])
            .await
            .map_err(|e| match e {
                StoreError::NotFound => CoreError::TokenRevoked,
                other => other.into(),
            })?;
        self.denylist.insert(&revocation);
        self.record(
            Audit::success("delete")
                .actor(who.user_id)
                .target(who.user_id),
            ctx,
        )
        .await;
        Ok(())
    }

    /// The caller's credentials once `current_password` matched; 401
    /// `invalid_credentials` (audited as `action`) otherwise.
    pub(super) async fn check_current_password(
        &self,
        who: &Principal,
        current_password: &str,
        action: &str,
        ctx: &RequestContext,
    ) -> Result<UserCredentials, CoreError> {
        let current = self.parse_password(current_password, "current_password")?;
        let creds = self
            .store
            .find_credentials_by_id(who.user_id)
            .await?
            .ok_or(CoreError::TokenRevoked)?;
        // A session's holder guesses against the same lockout as a
        // stranger at the sign-in page.
        self.check_code_throttle(&creds.user, ctx).await?;
        // An account without a password (social sign-in) cannot prove
        // itself this way: it sets one through a reset link first.
        let is_match = if creds.user.has_password {
            self.hasher
                .verify(&current, &creds.password_hash)
                .await?
                .is_match
        } else {
            self.hasher.verify_dummy(&current).await?;
            false
        };
        if !is_match {
            self.count_wrong_code(&creds.user, ctx).await?;
            self.record(
                Audit::failure(action)
                    .actor(who.user_id)
                    .target(who.user_id)
                    .detail(if creds.user.has_password {
                        "wrong_password"
                    } else {
                        "no_password"
                    }),
                ctx,
            )
            .await;
            return Err(CoreError::WrongCurrentPassword);
        }
        Ok(creds)
    }

    /// What a link would do, without using it: the page a mailed link opens
    /// asks its holder to confirm (mail scanners fetch links), and says
    /// at once when the link is spent instead of after a form is filled.
    /// `invalid_link` as for following it.
    pub async fn peek_link(
        &self,
        token: &str,
        purposes: &[LinkPurpose],
    ) -> Result<LinkPreview, CoreError> {
        let link = self
            .usable_link(token, purposes, None, self.clock.now())
            .await?;
        Ok(LinkPreview {
            purpose: link.purpose,
            email: link.email,
            expires_at: link.expires_at,
        })
    }

    /// The stored link a presented token names, if it is well formed,
    /// unused, unexpired, of one of `purposes` and (when someone is signed
    /// in) the caller's own; `invalid_link` for every other case alike.
    pub(super) async fn usable_link(
        &self,
        token: &str,
        purposes: &[LinkPurpose],
        caller: Option<UserId>,
        now: DateTime<Utc>,
    ) -> Result<LinkRecord, CoreError> {
        let token = OpaqueToken::parse(token, LINK_PREFIX).ok_or(CoreError::InvalidLink)?;
        self.store
            .find_link(&token.hash())
            .await?
            .filter(|link| {
                link.is_usable(now)
                    && purposes.contains(&link.purpose)
                    && caller.is_none_or(|caller| caller == link.user_id)
            })
            .ok_or(CoreError::InvalidLink)
    }

    /// Consumes `link` with `completion`; a link someone else consumed
    /// first, or whose account moved on, is `invalid_link`, a taken
    /// address `email_taken`.
    pub(super) async fn complete(
        &self,
        link: &LinkRecord,
        completion: &LinkCompletion<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        self.complete_revoking(link, completion, now).await?;
        Ok(())
    }

    pub(super) async fn complete_revoking(
        &self,
        link: &LinkRecord,
        completion: &LinkCompletion<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<crate::ids::SessionId>, CoreError> {
        self.store
            .complete_link(&link.token_hash, now, completion)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => CoreError::InvalidLink,
                StoreError::Conflict => CoreError::EmailTaken,
                other => other.into(),
            })
    }
}

fn verification_throttle_key(user: &User) -> String {
    throttle_key("verify_email", &user.id.to_string())
}
