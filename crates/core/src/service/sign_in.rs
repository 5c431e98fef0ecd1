//! Signing in: credentials, throttles, and the session a success opens.

use chrono::{DateTime, Utc};

use super::{AuthService, IssuedTokens, RequestContext};
use crate::audit::Audit;
use crate::email::Email;
use crate::error::CoreError;
use crate::events::DomainEvent;
use crate::ids::{SessionId, UserId};
use crate::model::{AuthMethod, Authentication, RefreshRecord, Session, User, UserStatus};
use crate::opaque::{OpaqueToken, REFRESH_PREFIX};
use crate::password::Password;
use crate::settings::AccessTokenKind;

/// Longest user agent kept.
const MAX_USER_AGENT: usize = 256;

impl AuthService {
    /// Checks credentials and opens a session.
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        ctx: &RequestContext,
    ) -> Result<IssuedTokens, CoreError> {
        let email = Email::parse(email)?;
        let password = self.parse_password(password, "password")?;
        let now = self.clock.now();
        let ip = ctx.ip.as_deref().unwrap_or("unknown");
        if let Some(retry_after_secs) = self.ip_limit.check(ip, now) {
            tracing::warn!(ip, "sign-in throttled: too many failures from this client");
            self.record(Audit::failure("signin").detail("ip_throttled"), ctx)
                .await;
            return Err(CoreError::TooManyAttempts { retry_after_secs });
        }
        // The throttle key is the canonical e-mail, whether or not an account
        // exists, so lockout behaves the same for unknown addresses.
        let throttle = self.store.find_login_throttle(email.as_str()).await?;
        if let Some(until) = throttle.locked_until.filter(|until| *until > now) {
            tracing::warn!("sign-in throttled: account locked after repeated failures");
            self.record(Audit::failure("signin").detail("account_throttled"), ctx)
                .await;
            return Err(CoreError::TooManyAttempts {
                retry_after_secs: (until - now).num_seconds().max(1) as u64,
            });
        }
        let credentials = self.store.find_credentials_by_email(&email).await?;
        let (user, reason) = match credentials {
            None => {
                self.hasher.verify_dummy(&password).await?;
                (Err(None), "unknown_email")
            }
            // An account made by social sign-in has no password: the same
            // work and the same answer as a wrong one.
            Some(creds) if !creds.user.has_password => {
                self.hasher.verify_dummy(&password).await?;
                (Err(Some(creds.user.id)), "no_password")
            }
            Some(creds) => {
                let check = self.hasher.verify(&password, &creds.password_hash).await?;
                if check.is_match {
                    if check.needs_rehash {
                        self.rehash(creds.user.id, &password).await;
                    }
                    (Ok(creds.user), "")
                } else {
                    (Err(Some(creds.user.id)), "wrong_password")
                }
            }
        };
        let user = match user {
            Ok(user) => user,
            Err(known) => {
                return Err(self.failed_sign_in(&email, known, reason, ctx, now).await?);
            }
        };
        if user.status == UserStatus::Banned {
            self.record(
                Audit::failure("signin")
                    .actor(user.id)
                    .target(user.id)
                    .detail("banned"),
                ctx,
            )
            .await;
            return Err(CoreError::AccountBanned);
        }
        if self.settings.require_verified_email && !user.email_verified {
            // The password was right, so this tells the account's owner
            // only. The link is re-sent unless one went out within the
            // send limit; the answer is the same either way.
            self.mail_verification(&user, now).await?;
            self.record(
                Audit::failure("signin")
                    .actor(user.id)
                    .target(user.id)
                    .detail("email_not_verified"),
                ctx,
            )
            .await;
            return Err(CoreError::EmailNotVerified);
        }
        // The lockout's count is cleared only once a session opens: a right
        // password in front of a second factor must not reset the count of
        // wrong codes, or each new sign-in would buy more guesses.
        if let Some(second_step) = self.second_step(&user, AuthMethod::Pwd, ctx).await? {
            return Err(second_step);
        }
        if throttle.failures > 0 {
            self.store.clear_login_failures(email.as_str()).await?;
        }
        let tokens = self.open_session(&user, &[AuthMethod::Pwd], ctx).await?;
        self.record(Audit::success("signin").actor(user.id).target(user.id), ctx)
            .await;
        Ok(tokens)
    }

    /// Counts and records a failed sign-in; returns the error to answer with.
    async fn failed_sign_in(
        &self,
        email: &Email,
        known_user: Option<UserId>,
        reason: &str,
        ctx: &RequestContext,
        now: DateTime<Utc>,
    ) -> Result<CoreError, CoreError> {
        let ip = ctx.ip.as_deref().unwrap_or("unknown");
        self.ip_limit.record_failure(ip, now);
        self.store
            .record_login_failure(email.as_str(), now, &self.settings.lockout)
            .await?;
        // Filed under the account when there is one, so an admin sees the
        // guesses against it; the response stays the same either way.
        self.record(
            Audit::failure("signin").target(known_user).detail(reason),
            ctx,
        )
        .await;
        let event = DomainEvent::SignInFailed {
            user_id: known_user,
            ip: ctx.ip.clone(),
            at: now,
        }
        .into_outbox(now);
        if let Err(e) = self.store.append_outbox(&[event]).await {
            tracing::error!(error = %e, "could not record the sign-in failure event");
        }
        Ok(CoreError::InvalidCredentials)
    }

    /// Opens a session for `user`, who just authenticated with `methods`.
    pub(super) async fn open_session(
        &self,
        user: &User,
        methods: &[AuthMethod],
        ctx: &RequestContext,
    ) -> Result<IssuedTokens, CoreError> {
        let now = self.clock.now();
        let session = Session {
            id: SessionId::new(),
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            expires_at: now + self.settings.session_ttl,
            revoked_at: None,
            user_agent: ctx
                .user_agent
                .as_deref()
                .map(|ua| ua.chars().take(MAX_USER_AGENT).collect()),
            ip: ctx.ip.clone(),
            authentication: Authentication::new(methods, now),
            client_id: None,
            scope: None,
        };
        let refresh = OpaqueToken::generate(REFRESH_PREFIX);
        let record = RefreshRecord {
            token_hash: refresh.hash(),
            session_id: session.id,
            created_at: now,
        };
        let event = DomainEvent::SignedIn {
            user_id: user.id,
            ip: ctx.ip.clone(),
            at: now,
        }
        .into_outbox(now);
        self.store
            .create_session(&session, &record, &[event])
            .await?;
        let (access_token, expires_in) = match self.settings.access_token_kind {
            AccessTokenKind::Jwt => self.mint(user, &session, now)?,
            AccessTokenKind::Session => self.issue_session_token(session.id, now).await?,
        };
        Ok(IssuedTokens {
            access_token,
            expires_in,
            refresh_token: refresh,
            session_id: session.id,
        })
    }

    async fn rehash(&self, user: UserId, password: &Password) {
        match self.hasher.hash(password).await {
            Ok(phc) => {
                if let Err(e) = self.store.update_password_hash(user, &phc).await {
                    tracing::warn!(error = %e, "could not store the upgraded password hash");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not upgrade the password hash"),
        }
    }
}
