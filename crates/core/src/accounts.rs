//! Creating accounts: the one use case that needs neither signing keys nor
//! the deny-list, so `warden user add` can run it against a shared database
//! without the key-encryption key.

use std::sync::Arc;

use crate::audit::Audit;
use crate::email::Email;
use crate::error::{CoreError, StoreError};
use crate::events::DomainEvent;
use crate::ids::UserId;
use crate::links::{LinkMailer, LinkPurpose};
use crate::model::{Actor, Role, User, UserStatus};
use crate::password::{Password, PasswordHasher, PasswordPolicy};
use crate::ports::{Clock, NewUser, Store};
use crate::service::{RequestContext, parse_username, role_names};

/// Account creation over a store, a clock and a password hasher.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
}

impl Accounts {
    /// Accounts over `store`, checking new passwords against `policy`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hasher: PasswordHasher,
        policy: PasswordPolicy,
    ) -> Self {
        Self {
            store,
            clock,
            hasher,
            policy,
        }
    }

    /// Creates an account with the given roles (admin API, `warden user
    /// add`); its address is unverified and nothing is mailed.
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        username: Option<&str>,
        roles: Vec<Role>,
        actor: Option<Actor>,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        self.create(email, password, username, roles, actor, None, ctx)
            .await
    }

    /// Creates an account (sign-up) and queues the verification mail in
    /// the same transaction, so a crash cannot leave an account whose
    /// link was never sent.
    pub async fn create_user_verifying(
        &self,
        email: &str,
        password: &str,
        username: Option<&str>,
        roles: Vec<Role>,
        mailer: &LinkMailer,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        self.create(email, password, username, roles, None, Some(mailer), ctx)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn create(
        &self,
        email: &str,
        password: &str,
        username: Option<&str>,
        mut roles: Vec<Role>,
        actor: Option<Actor>,
        mailer: Option<&LinkMailer>,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        let email = Email::parse(email)?;
        let username = username.map(parse_username).transpose()?;
        let password = Password::parse(password, "password", self.policy.max_chars)?;
        let mut context = vec![email.as_str(), email.local_part(), "warden"];
        if let Some(name) = username.as_deref() {
            context.push(name);
        }
        self.policy.check(&password, &context)?;
        // Hash only after cheap checks, and refuse a taken address before
        // spending a hash on it.
        if self
            .store
            .find_credentials_by_email(&email)
            .await?
            .is_some()
        {
            return Err(CoreError::EmailTaken);
        }
        let password_hash = self.hasher.hash(&password).await?;
        roles.sort();
        roles.dedup();
        let now = self.clock.now();
        let user = User {
            id: UserId::new(),
            email,
            username,
            roles,
            status: UserStatus::Active,
            created_at: now,
            email_verified: false,
            has_password: true,
        };
        let (verification, mail) = match mailer {
            Some(mailer) => {
                let (link, mail) = mailer.link(LinkPurpose::VerifyEmail, user.id, &user.email, now);
                (Some(link), vec![mail])
            }
            None => (None, Vec::new()),
        };
        let event = DomainEvent::UserCreated {
            user_id: user.id,
            email: user.email.as_str().to_owned(),
            roles: role_names(&user.roles),
        }
        .into_outbox(now);
        match self
            .store
            .create_user(
                &NewUser {
                    user: user.clone(),
                    password_hash,
                    verification,
                    mail,
                    identity: None,
                },
                &[event],
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(CoreError::EmailTaken),
            Err(e) => return Err(e.into()),
        }
        Audit::success("signup")
            .actor(actor.or(Some(Actor::User(user.id))))
            .target(user.id)
            .record(&*self.store, &*self.clock, ctx)
            .await;
        Ok(user)
    }
}
