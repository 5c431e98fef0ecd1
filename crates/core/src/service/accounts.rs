//! The caller's own account: creating it, reading it, changing its password.

use super::{AuthService, IssuedTokens, Principal, RequestContext};
use crate::accounts::Accounts;
use crate::audit::Audit;
use crate::error::CoreError;
use crate::ids::UserId;
use crate::mail::{MailKind, QueuedMail};
use crate::model::{Actor, AuthMethod, Role, User};
use crate::ports::PasswordChange;

impl AuthService {
    /// Creates an account with the `user` role, queues its verification
    /// mail and signs it in. Refused when `[signup] enabled` is false. With
    /// `require_verified_email` no session is opened: the account signs in
    /// once its address is verified, as a sign-in would demand.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        username: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(User, Option<IssuedTokens>), CoreError> {
        if !self.settings.signup_enabled {
            return Err(CoreError::SignupDisabled);
        }
        let user = self
            .accounts()
            .create_user_verifying(
                email,
                password,
                username,
                vec![Role::user()],
                &self.link_mailer(),
                ctx,
            )
            .await?;
        self.count_signup_verification(&user, user.created_at)
            .await?;
        if self.settings.require_verified_email {
            return Ok((user, None));
        }
        let tokens = self.open_session(&user, &[AuthMethod::Pwd], ctx).await?;
        Ok((user, Some(tokens)))
    }

    /// Creates an account with the given roles (sign-up, admin API).
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        username: Option<&str>,
        roles: Vec<Role>,
        actor: Option<UserId>,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        self.accounts()
            .create_user(
                email,
                password,
                username,
                roles,
                actor.map(Actor::User),
                ctx,
            )
            .await
    }

    fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    /// The caller's account.
    pub async fn me(&self, who: &Principal) -> Result<User, CoreError> {
        self.store
            .find_user_by_id(who.user_id)
            .await?
            .ok_or(CoreError::TokenRevoked)
    }

    /// Changes the caller's password, revokes their other sessions, voids
    /// their reset links and queues a `password_changed` notice to their
    /// address, all in one transaction: the notice goes out exactly when the
    /// change happened, so a stolen session that changes the password is
    /// seen by the owner.
    pub async fn change_password(
        &self,
        who: &Principal,
        current_password: &str,
        new_password: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.parse_password(current_password, "current_password")?;
        let new = self.parse_password(new_password, "new_password")?;
        let creds = self
            .check_current_password(who, current_password, "password_change", ctx)
            .await?;
        let user = &creds.user;
        super::check_new_password(&self.settings.password_policy, &new, user)?;
        let hash = self.hasher.hash(&new).await?;
        let now = self.clock.now();
        let notice =
            QueuedMail::new(MailKind::PasswordChanged, user.email.as_str(), now).for_user(user.id);
        let change = PasswordChange {
            hash: &hash,
            mail: std::slice::from_ref(&notice),
        };
        self.revoke_all_sessions(who.user_id, Some(who.session_id), now, Some(&change))
            .await?;
        self.record(
            Audit::success("password_change")
                .actor(who.user_id)
                .target(who.user_id),
            ctx,
        )
        .await;
        Ok(())
    }
}
