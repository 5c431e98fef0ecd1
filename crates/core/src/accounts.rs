//! Creating accounts: the one use case that needs neither signing keys nor
//! the deny-list, so `warden user add` can run it against a shared database
//! without the key-encryption key.

use std::sync::Arc;

use crate::email::Email;
use crate::error::{CoreError, StoreError};
use crate::events::DomainEvent;
use crate::ids::{AuditId, UserId};
use crate::model::{AuditEntry, Role, User, UserStatus};
use crate::password::{Password, PasswordHasher, PasswordPolicy};
use crate::ports::{Clock, NewUser, Store};
use crate::service::{RequestContext, parse_username, role_names};

/// Longest user agent kept in the audit log.
const MAX_USER_AGENT: usize = 256;

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

    /// Creates an account with the given roles (sign-up, admin API,
    /// `warden user add`).
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        username: Option<&str>,
        mut roles: Vec<Role>,
        actor: Option<UserId>,
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
                },
                &[event],
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(CoreError::EmailTaken),
            Err(e) => return Err(e.into()),
        }
        record_audit(
            &*self.store,
            &*self.clock,
            "signup",
            actor.or(Some(user.id)),
            Some(user.id),
            ctx,
            true,
            None,
        )
        .await;
        Ok(user)
    }
}

/// Appends an audit entry and logs it; a failed write is logged, never
/// fails the action it records.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn record_audit(
    store: &dyn Store,
    clock: &dyn Clock,
    action: &str,
    actor: Option<UserId>,
    target: Option<UserId>,
    ctx: &RequestContext,
    success: bool,
    detail: Option<&str>,
) {
    let entry = AuditEntry {
        id: AuditId::new(),
        at: clock.now(),
        actor,
        action: action.to_owned(),
        target,
        ip: ctx.ip.clone(),
        user_agent: ctx
            .user_agent
            .as_deref()
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
        outcome: if success { "success" } else { "failure" }.to_owned(),
        detail: detail.map(str::to_owned),
    };
    // Plain values (absent ones left out), so a log line reads
    // `actor=0193... ip=10.0.0.1`, never `Some("...")`.
    let actor = actor.map(|a| a.to_string());
    let target_user = target.map(|t| t.to_string());
    tracing::info!(
        target: "warden::audit",
        action,
        actor = actor.as_deref(),
        target_user = target_user.as_deref(),
        ip = ctx.ip.as_deref(),
        outcome = %entry.outcome,
        detail,
        "audit"
    );
    if let Err(e) = store.append_audit(&entry).await {
        tracing::error!(error = %e, action, "could not write the audit entry");
    }
}
