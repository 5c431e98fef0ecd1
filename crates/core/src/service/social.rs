//! Social sign-in after the provider spoke: the linking rules applied
//! (sign in, link, sign up or refuse), exchange codes for apps, and the
//! account's linked identities.

use crate::audit::Audit;
use crate::error::{CoreError, StoreError};
use crate::events::DomainEvent;
use crate::identity::{
    Assertion, Decision, EXCHANGE_PREFIX, ExchangeCode, Facts, Identity, Intent, LinkingPolicy,
    Refusal, decide, is_pkce_challenge,
};
use crate::ids::{IdentityId, UserId};
use crate::model::{Actor, AuthMethod, Role, User, UserStatus};
use crate::opaque::OpaqueToken;
use crate::ports::{NewUser, Unlinked};
use crate::service::{AuthService, IssuedTokens, RequestContext, role_names};

/// Who a social sign-in signed in, and what it changed on the way.
#[derive(Debug, Clone)]
pub struct SocialAccount {
    /// The account.
    pub user: User,
    /// The identity it went through.
    pub identity: Identity,
    /// The identity was linked by this sign-in.
    pub linked: bool,
    /// The account was created by this sign-in.
    pub created: bool,
}

impl AuthService {
    /// Applies the linking rules to what `provider` asserted (the adapter
    /// verified it) and returns the account to sign in, without opening a
    /// session: the caller opens one ([`AuthService::open_social_session`])
    /// or hands an app an exchange code.
    pub async fn social_account(
        &self,
        assertion: &Assertion,
        intent: Intent,
        allow_sign_up: bool,
        auto_link_verified_email: bool,
        ctx: &RequestContext,
    ) -> Result<SocialAccount, CoreError> {
        let now = self.clock.now();
        let provider = assertion.key.provider.as_str();
        let linked = self.store.find_identity(&assertion.key).await?;
        let by_email = match (&linked, assertion.verified_email()) {
            (None, Some(email)) => self
                .store
                .find_credentials_by_email(email)
                .await?
                .map(|c| c.user),
            _ => None,
        };
        let facts = Facts {
            linked: linked.as_ref().map(|(identity, user)| (identity, user)),
            by_email: by_email.as_ref(),
        };
        let policy = LinkingPolicy {
            auto_link_verified_email,
            sign_up_allowed: allow_sign_up && self.settings.signup_enabled,
        };
        let decision = decide(assertion, intent, facts, policy);
        let asserted_email = assertion.email.as_ref().map(|e| e.as_str().to_owned());
        let refused = |refusal: Refusal, user: Option<UserId>| async move {
            self.record(
                Audit::failure("signin_social")
                    .actor(user.map(Actor::User))
                    .target(user)
                    .detail(refusal.code()),
                ctx,
            )
            .await;
            CoreError::SocialRefused(refusal)
        };
        let account = match decision {
            Decision::Refuse(refusal) => {
                let user = linked
                    .as_ref()
                    .map(|(_, u)| u.id)
                    .or(by_email.as_ref().map(|u| u.id));
                return Err(refused(refusal, user).await);
            }
            Decision::SignIn(user_id) => {
                let Some((identity, user)) = linked else {
                    return Err(CoreError::Unexpected(
                        "sign-in decided without identity".into(),
                    ));
                };
                debug_assert_eq!(user.id, user_id);
                self.store
                    .touch_identity(identity.id, asserted_email.as_deref(), now)
                    .await?;
                SocialAccount {
                    user,
                    identity,
                    linked: false,
                    created: false,
                }
            }
            Decision::LinkAndSignIn(user_id) => {
                let Some(user) = self.store.find_user_by_id(user_id).await? else {
                    return Err(CoreError::NotFound("user"));
                };
                if user.status == UserStatus::Banned {
                    return Err(refused(Refusal::AccountBanned, Some(user.id)).await);
                }
                let identity = Identity::new(user.id, assertion.key.clone(), asserted_email, now);
                let event = DomainEvent::IdentityLinked {
                    user_id: user.id,
                    identity_id: identity.id,
                    provider: provider.to_owned(),
                }
                .into_outbox(now);
                match self.store.link_identity(&identity, &[event]).await {
                    Ok(()) => {}
                    // Linked by a concurrent callback meanwhile: to this
                    // account is harmless, to another is refused.
                    Err(StoreError::Conflict) => {
                        return Err(refused(Refusal::IdentityTaken, Some(user.id)).await);
                    }
                    Err(e) => return Err(e.into()),
                }
                self.record(
                    Audit::success("identity_link")
                        .actor(user.id)
                        .target(user.id)
                        .detail(provider),
                    ctx,
                )
                .await;
                SocialAccount {
                    user,
                    identity,
                    linked: true,
                    created: false,
                }
            }
            Decision::SignUp(email) => {
                let user = User {
                    id: UserId::new(),
                    email,
                    username: None,
                    roles: vec![Role::user()],
                    status: UserStatus::Active,
                    created_at: now,
                    // The provider verified it; nothing to mail.
                    email_verified: true,
                    has_password: false,
                };
                let identity = Identity::new(user.id, assertion.key.clone(), asserted_email, now);
                let events = [
                    DomainEvent::UserCreated {
                        user_id: user.id,
                        email: user.email.as_str().to_owned(),
                        roles: role_names(&user.roles),
                    }
                    .into_outbox(now),
                    DomainEvent::IdentityLinked {
                        user_id: user.id,
                        identity_id: identity.id,
                        provider: provider.to_owned(),
                    }
                    .into_outbox(now),
                ];
                let new = NewUser {
                    user: user.clone(),
                    // No password verifies against an empty hash; sign-in
                    // checks `has_password` first anyway.
                    password_hash: String::new(),
                    verification: None,
                    mail: Vec::new(),
                    identity: Some(identity.clone()),
                };
                match self.store.create_user(&new, &events).await {
                    Ok(()) => {}
                    // A look-alike address, or the same sign-up racing in
                    // another tab: the person signs in with what exists.
                    Err(StoreError::Conflict) => {
                        return Err(refused(Refusal::AccountExists, None).await);
                    }
                    Err(e) => return Err(e.into()),
                }
                self.record(
                    Audit::success("signup_social")
                        .actor(user.id)
                        .target(user.id)
                        .detail(provider),
                    ctx,
                )
                .await;
                SocialAccount {
                    user,
                    identity,
                    linked: true,
                    created: true,
                }
            }
        };
        Ok(account)
    }

    /// Opens a session for an account a social sign-in found.
    pub async fn open_social_session(
        &self,
        account: &SocialAccount,
        ctx: &RequestContext,
    ) -> Result<IssuedTokens, CoreError> {
        if let Some(second_step) = self
            .second_step(&account.user, AuthMethod::Fed, ctx)
            .await?
        {
            return Err(second_step);
        }
        let tokens = self
            .open_session(&account.user, &[AuthMethod::Fed], ctx)
            .await?;
        self.record(
            Audit::success("signin_social")
                .actor(account.user.id)
                .target(account.user.id)
                .detail(account.identity.key.provider.as_str()),
            ctx,
        )
        .await;
        Ok(tokens)
    }

    /// A `wxc_` code an app trades for tokens with the verifier of
    /// `code_challenge` (PKCE S256) within a minute.
    pub async fn issue_exchange_code(
        &self,
        account: &SocialAccount,
        code_challenge: &str,
    ) -> Result<OpaqueToken, CoreError> {
        if !is_pkce_challenge(code_challenge) {
            return Err(CoreError::InvalidInput(crate::error::FieldError::new(
                "code_challenge",
                "must be an S256 challenge: 43 base64url characters",
            )));
        }
        let (code, record) = ExchangeCode::issue(
            account.user.id,
            &account.identity.key.provider,
            code_challenge,
            self.clock.now(),
        );
        self.store.create_exchange_code(&record).await?;
        Ok(code)
    }

    /// Trades an exchange code and its PKCE verifier for tokens. The code
    /// is spent by the attempt, right or wrong: a guessed verifier gets one
    /// try.
    pub async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        ctx: &RequestContext,
    ) -> Result<IssuedTokens, CoreError> {
        let Some(code) = OpaqueToken::parse(code, EXCHANGE_PREFIX) else {
            return Err(CoreError::InvalidGrant);
        };
        let now = self.clock.now();
        let Some(record) = self.store.take_exchange_code(&code.hash(), now).await? else {
            return Err(CoreError::InvalidGrant);
        };
        if !record.verifier_matches(code_verifier) {
            self.record(
                Audit::failure("oauth_exchange")
                    .actor(record.user_id)
                    .target(record.user_id)
                    .detail("pkce_mismatch"),
                ctx,
            )
            .await;
            return Err(CoreError::InvalidGrant);
        }
        let Some(user) = self.store.find_user_by_id(record.user_id).await? else {
            return Err(CoreError::InvalidGrant);
        };
        if user.status == UserStatus::Banned {
            return Err(CoreError::AccountBanned);
        }
        if let Some(second_step) = self.second_step(&user, AuthMethod::Fed, ctx).await? {
            return Err(second_step);
        }
        let tokens = self.open_session(&user, &[AuthMethod::Fed], ctx).await?;
        self.record(
            Audit::success("signin_social")
                .actor(user.id)
                .target(user.id)
                .detail(record.provider.as_str()),
            ctx,
        )
        .await;
        Ok(tokens)
    }

    /// The account's linked identities, oldest first.
    pub async fn identities(&self, user: UserId) -> Result<Vec<Identity>, CoreError> {
        Ok(self.store.list_identities(user).await?)
    }

    /// Unlinks one of the account's identities, unless it is the last way
    /// into an account without a password.
    pub async fn unlink_identity(
        &self,
        user: UserId,
        id: IdentityId,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let identities = self.store.list_identities(user).await?;
        let Some(identity) = identities.iter().find(|i| i.id == id) else {
            return Err(CoreError::NotFound("identity"));
        };
        let now = self.clock.now();
        let event = DomainEvent::IdentityUnlinked {
            user_id: user,
            identity_id: id,
            provider: identity.key.provider.clone(),
        }
        .into_outbox(now);
        match self.store.unlink_identity(user, id, &[event]).await? {
            Unlinked::Unlinked => {
                self.record(
                    Audit::success("identity_unlink")
                        .actor(user)
                        .target(user)
                        .detail(identity.key.provider.as_str()),
                    ctx,
                )
                .await;
                Ok(())
            }
            Unlinked::NotFound => Err(CoreError::NotFound("identity")),
            Unlinked::LastCredential => Err(CoreError::LastCredential),
        }
    }
}
