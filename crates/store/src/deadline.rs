//! A deadline on every store call. A database that stops answering (a
//! dropped network path, a hung connection) must turn into a prompt
//! `store_unavailable`, not a request that hangs until the client gives up:
//! sqlx bounds waiting for a connection but not a query on a connection
//! whose peer went silent.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::Instrument as _;
use warden_core::clients::{ClientId, ClientSecretHash, OAuthClient};
use warden_core::identity::{ExchangeCode, Identity, IdentityKey};
use warden_core::links::{LinkRecord, SendOutcome, SendThrottle};
use warden_core::mail::{DueMail, QueuedMail};
use warden_core::model::{
    AuditEntry, LockoutPolicy, MfaChallenge, OutboxEvent, RefreshRecord, Revocation, Role,
    RotateOutcome, Session, SessionTokenOwner, SessionTokenRecord, StoredSigningKey, ThrottleState,
    TokenHash, TotpFactor, TotpSecretId, User, UserCredentials, UserStatus,
};
use warden_core::passkeys::{PasskeyRemoval, StoredPasskey, WebauthnChallenge};
use warden_core::ports::{
    AuditFilter, AuditStore, AuditTally, ClientStore, CodeUse, GrantStore, IdentityStore, KeyStore,
    LinkCompletion, LinkStore, LockoutStore, MailStore, MfaStore, NewUser, OwnedSessionEventFn,
    PasskeyStore, PasswordChange, ReuseRevocation, RevocationStore, SessionEventFn, SessionStore,
    Store, Unlinked, UserStore,
};
use warden_core::provider::{AuthorizationCode, Consent, Redemption};
use warden_core::{AuditId, Email, IdentityId, MailId, PasskeyId, SessionId, StoreError, UserId};

/// Wraps a store so that every call ends within `limit` (when set) and is
/// one `store.<operation>` span: the boundary every adapter sits behind.
pub struct Deadline {
    inner: Arc<dyn Store>,
    limit: Option<Duration>,
    system: &'static str,
}

impl Deadline {
    /// Bounds every call of `inner` by `limit`.
    pub fn new(inner: Arc<dyn Store>, limit: Duration) -> Self {
        Self::with_system(inner, Some(limit), "other_sql")
    }

    /// Bounds calls by `limit` if given; spans name the database `system`
    /// (OpenTelemetry's `db.system.name`: `sqlite`, `postgresql`, `mysql`).
    pub fn with_system(
        inner: Arc<dyn Store>,
        limit: Option<Duration>,
        system: &'static str,
    ) -> Self {
        Self {
            inner,
            limit,
            system,
        }
    }

    async fn within<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        // Only calls made on behalf of something traced (a request, a
        // relay batch) get a span: the once-a-second background polls
        // would otherwise each start a trace of their own.
        if tracing::Span::current().is_none() {
            return bounded(self.limit, call).await;
        }
        // Operation and system only: never statement parameters, which
        // hold e-mail addresses and token hashes.
        let span = tracing::info_span!(
            "store",
            otel.name = %format_args!("store.{operation}"),
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            db.system.name = self.system,
            db.operation.name = operation,
        );
        let result = bounded(self.limit, call).instrument(span.clone()).await;
        if result.is_err() {
            span.record("otel.status_code", "error");
        }
        result
    }
}

async fn bounded<T>(
    limit: Option<Duration>,
    call: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    let Some(limit) = limit else {
        return call.await;
    };
    tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
        Err(StoreError::Unavailable(format!(
            "no answer within {limit:?}"
        )))
    })
}

#[async_trait]
impl Store for Deadline {
    async fn ping(&self) -> Result<(), StoreError> {
        self.within("ping", self.inner.ping()).await
    }
}

#[async_trait]
impl UserStore for Deadline {
    async fn create_user(&self, new: &NewUser, events: &[OutboxEvent]) -> Result<(), StoreError> {
        self.within("create_user", self.inner.create_user(new, events))
            .await
    }

    async fn find_users_without_email_skeleton(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<(UserId, String)>, StoreError> {
        self.within(
            "find_users_without_email_skeleton",
            self.inner.find_users_without_email_skeleton(after, limit),
        )
        .await
    }

    async fn update_email_skeleton(&self, id: UserId, skeleton: &str) -> Result<(), StoreError> {
        self.within(
            "update_email_skeleton",
            self.inner.update_email_skeleton(id, skeleton),
        )
        .await
    }

    async fn find_user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.within("find_user_by_id", self.inner.find_user_by_id(id))
            .await
    }

    async fn find_credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserCredentials>, StoreError> {
        self.within(
            "find_credentials_by_email",
            self.inner.find_credentials_by_email(email),
        )
        .await
    }

    async fn find_credentials_by_id(
        &self,
        id: UserId,
    ) -> Result<Option<UserCredentials>, StoreError> {
        self.within(
            "find_credentials_by_id",
            self.inner.find_credentials_by_id(id),
        )
        .await
    }

    async fn list_users(
        &self,
        query: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        self.within("list_users", self.inner.list_users(query, after, limit))
            .await
    }

    async fn count_users(&self) -> Result<u64, StoreError> {
        self.within("count_users", self.inner.count_users()).await
    }

    async fn update_password_hash(&self, id: UserId, phc: &str) -> Result<(), StoreError> {
        self.within(
            "update_password_hash",
            self.inner.update_password_hash(id, phc),
        )
        .await
    }

    async fn update_user_status(
        &self,
        id: UserId,
        status: UserStatus,
        revocation: Option<&Revocation>,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        self.within(
            "update_user_status",
            self.inner
                .update_user_status(id, status, revocation, events),
        )
        .await
    }

    async fn update_user_roles(
        &self,
        id: UserId,
        roles: &[Role],
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        self.within(
            "update_user_roles",
            self.inner.update_user_roles(id, roles, events),
        )
        .await
    }

    async fn delete_user(
        &self,
        id: UserId,
        revocation: &Revocation,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        self.within(
            "delete_user",
            self.inner.delete_user(id, revocation, events),
        )
        .await
    }
}

#[async_trait]
impl SessionStore for Deadline {
    async fn create_session(
        &self,
        session: &Session,
        refresh: &RefreshRecord,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        self.within(
            "create_session",
            self.inner.create_session(session, refresh, events),
        )
        .await
    }

    async fn set_session_amr(&self, id: SessionId, amr: &str) -> Result<bool, StoreError> {
        self.within("set_session_amr", self.inner.set_session_amr(id, amr))
            .await
    }

    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        self.within("find_session", self.inner.find_session(id))
            .await
    }

    async fn list_sessions(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        self.within("list_sessions", self.inner.list_sessions(user, now))
            .await
    }

    async fn find_session_by_refresh(
        &self,
        token: &TokenHash,
    ) -> Result<Option<Session>, StoreError> {
        self.within(
            "find_session_by_refresh",
            self.inner.find_session_by_refresh(token),
        )
        .await
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshRecord,
        now: DateTime<Utc>,
        on_reuse: &ReuseRevocation<'_>,
    ) -> Result<RotateOutcome, StoreError> {
        self.within(
            "rotate_refresh_token",
            self.inner.rotate_refresh_token(old, new, now, on_reuse),
        )
        .await
    }

    async fn revoke_session(
        &self,
        id: SessionId,
        now: DateTime<Utc>,
        revocation: &Revocation,
        events: &[OutboxEvent],
    ) -> Result<bool, StoreError> {
        self.within(
            "revoke_session",
            self.inner.revoke_session(id, now, revocation, events),
        )
        .await
    }

    async fn count_live_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.within("count_live_sessions", self.inner.count_live_sessions(now))
            .await
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        password: Option<&PasswordChange<'_>>,
        event_for: SessionEventFn<'_>,
    ) -> Result<Vec<SessionId>, StoreError> {
        self.within(
            "revoke_user_sessions",
            self.inner
                .revoke_user_sessions(user, keep, now, until, password, event_for),
        )
        .await
    }

    async fn create_session_token(&self, token: &SessionTokenRecord) -> Result<(), StoreError> {
        self.within(
            "create_session_token",
            self.inner.create_session_token(token),
        )
        .await
    }

    async fn find_session_token(
        &self,
        token: &TokenHash,
    ) -> Result<Option<SessionTokenOwner>, StoreError> {
        self.within("find_session_token", self.inner.find_session_token(token))
            .await
    }

    async fn delete_expired_session_tokens(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.within(
            "delete_expired_session_tokens",
            self.inner.delete_expired_session_tokens(now),
        )
        .await
    }
}

#[async_trait]
impl KeyStore for Deadline {
    async fn create_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        self.within("create_signing_key", self.inner.create_signing_key(key))
            .await
    }

    async fn create_first_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError> {
        self.within(
            "create_first_signing_key",
            self.inner.create_first_signing_key(key),
        )
        .await
    }

    async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        self.within("list_signing_keys", self.inner.list_signing_keys())
            .await
    }

    async fn retire_signing_keys(&self, except: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.within(
            "retire_signing_keys",
            self.inner.retire_signing_keys(except, at),
        )
        .await
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError> {
        self.within("delete_signing_key", self.inner.delete_signing_key(kid))
            .await
    }
}

#[async_trait]
impl RevocationStore for Deadline {
    async fn list_active_revocations(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<Revocation>, StoreError> {
        self.within(
            "list_active_revocations",
            self.inner.list_active_revocations(now),
        )
        .await
    }

    async fn append_outbox(&self, events: &[OutboxEvent]) -> Result<(), StoreError> {
        self.within("append_outbox", self.inner.append_outbox(events))
            .await
    }

    async fn list_outbox(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<(i64, OutboxEvent)>, StoreError> {
        self.within("list_outbox", self.inner.list_outbox(after_seq, limit))
            .await
    }

    async fn latest_outbox_seq(&self) -> Result<i64, StoreError> {
        self.within("latest_outbox_seq", self.inner.latest_outbox_seq())
            .await
    }

    async fn acquire_relay_lease(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.within(
            "acquire_relay_lease",
            self.inner.acquire_relay_lease(holder, now, until),
        )
        .await
    }

    async fn release_relay_lease(&self, holder: &str) -> Result<(), StoreError> {
        self.within(
            "release_relay_lease",
            self.inner.release_relay_lease(holder),
        )
        .await
    }

    async fn list_unpublished_outbox(
        &self,
        limit: u32,
    ) -> Result<Vec<(i64, OutboxEvent)>, StoreError> {
        self.within(
            "list_unpublished_outbox",
            self.inner.list_unpublished_outbox(limit),
        )
        .await
    }

    async fn mark_outbox_published(
        &self,
        up_to_seq: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.within(
            "mark_outbox_published",
            self.inner.mark_outbox_published(up_to_seq, at),
        )
        .await
    }

    async fn prune_outbox(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.within("prune_outbox", self.inner.prune_outbox(before))
            .await
    }
}

#[async_trait]
impl AuditStore for Deadline {
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.within("append_audit", self.inner.append_audit(entry))
            .await
    }

    async fn list_audit(
        &self,
        filter: &AuditFilter,
        before: Option<AuditId>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        self.within("list_audit", self.inner.list_audit(filter, before, limit))
            .await
    }

    async fn audit_tally(
        &self,
        since: DateTime<Utc>,
        actions: &[&str],
    ) -> Result<Vec<AuditTally>, StoreError> {
        self.within("audit_tally", self.inner.audit_tally(since, actions))
            .await
    }
}

#[async_trait]
impl LockoutStore for Deadline {
    async fn find_login_throttle(&self, key: &str) -> Result<ThrottleState, StoreError> {
        self.within("find_login_throttle", self.inner.find_login_throttle(key))
            .await
    }

    async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> Result<ThrottleState, StoreError> {
        self.within(
            "record_login_failure",
            self.inner.record_login_failure(key, now, policy),
        )
        .await
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        self.within("clear_login_failures", self.inner.clear_login_failures(key))
            .await
    }

    async fn count_locked(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.within("count_locked", self.inner.count_locked(now))
            .await
    }
}

#[async_trait]
impl MailStore for Deadline {
    async fn enqueue_mail(&self, mail: &[QueuedMail]) -> Result<(), StoreError> {
        self.within("enqueue_mail", self.inner.enqueue_mail(mail))
            .await
    }

    async fn acquire_mail_lease(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.within(
            "acquire_mail_lease",
            self.inner.acquire_mail_lease(holder, now, until),
        )
        .await
    }

    async fn release_mail_lease(&self, holder: &str) -> Result<(), StoreError> {
        self.within("release_mail_lease", self.inner.release_mail_lease(holder))
            .await
    }

    async fn list_due_mail(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueMail>, StoreError> {
        self.within("list_due_mail", self.inner.list_due_mail(now, limit))
            .await
    }

    async fn mark_mail_sent(&self, id: MailId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.within("mark_mail_sent", self.inner.mark_mail_sent(id, at))
            .await
    }

    async fn mark_mail_retry(
        &self,
        id: MailId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.within(
            "mark_mail_retry",
            self.inner
                .mark_mail_retry(id, attempts, next_attempt_at, error),
        )
        .await
    }

    async fn mark_mail_failed(
        &self,
        id: MailId,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        self.within(
            "mark_mail_failed",
            self.inner.mark_mail_failed(id, at, error),
        )
        .await
    }

    async fn mail_queue_depth(&self) -> Result<u64, StoreError> {
        self.within("mail_queue_depth", self.inner.mail_queue_depth())
            .await
    }

    async fn prune_mail(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.within("prune_mail", self.inner.prune_mail(before))
            .await
    }
}

#[async_trait]
impl IdentityStore for Deadline {
    async fn find_identity(
        &self,
        key: &IdentityKey,
    ) -> Result<Option<(Identity, User)>, StoreError> {
        self.within("find_identity", self.inner.find_identity(key))
            .await
    }

    async fn list_identities(&self, user: UserId) -> Result<Vec<Identity>, StoreError> {
        self.within("list_identities", self.inner.list_identities(user))
            .await
    }

    async fn link_identity(
        &self,
        identity: &Identity,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        self.within("link_identity", self.inner.link_identity(identity, events))
            .await
    }

    async fn touch_identity(
        &self,
        id: IdentityId,
        email: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.within("touch_identity", self.inner.touch_identity(id, email, at))
            .await
    }

    async fn unlink_identity(
        &self,
        user: UserId,
        id: IdentityId,
        events: &[OutboxEvent],
    ) -> Result<Unlinked, StoreError> {
        self.within(
            "unlink_identity",
            self.inner.unlink_identity(user, id, events),
        )
        .await
    }

    async fn create_exchange_code(&self, code: &ExchangeCode) -> Result<(), StoreError> {
        self.within(
            "create_exchange_code",
            self.inner.create_exchange_code(code),
        )
        .await
    }

    async fn take_exchange_code(
        &self,
        code: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<ExchangeCode>, StoreError> {
        self.within(
            "take_exchange_code",
            self.inner.take_exchange_code(code, now),
        )
        .await
    }

    async fn prune_exchange_codes(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.within(
            "prune_exchange_codes",
            self.inner.prune_exchange_codes(before),
        )
        .await
    }
}

#[async_trait]
impl MfaStore for Deadline {
    async fn find_totp(&self, user: UserId) -> Result<Option<TotpFactor>, StoreError> {
        self.within("find_totp", self.inner.find_totp(user)).await
    }

    async fn put_pending_totp(
        &self,
        user: UserId,
        secret: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.within(
            "put_pending_totp",
            self.inner.put_pending_totp(user, secret, at),
        )
        .await
    }

    async fn confirm_totp(
        &self,
        user: UserId,
        secret: &TotpSecretId,
        step: i64,
        recovery_hashes: &[String],
        at: DateTime<Utc>,
        events: &[OutboxEvent],
        mail: &[QueuedMail],
    ) -> Result<(), StoreError> {
        self.within(
            "confirm_totp",
            self.inner
                .confirm_totp(user, secret, step, recovery_hashes, at, events, mail),
        )
        .await
    }

    async fn use_totp_step(&self, user: UserId, step: i64) -> Result<CodeUse, StoreError> {
        self.within("use_totp_step", self.inner.use_totp_step(user, step))
            .await
    }

    async fn delete_second_factors(
        &self,
        user: UserId,
        events: &[OutboxEvent],
        mail: &[QueuedMail],
    ) -> Result<bool, StoreError> {
        self.within(
            "delete_second_factors",
            self.inner.delete_second_factors(user, events, mail),
        )
        .await
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        hashes: &[String],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.within(
            "replace_recovery_codes",
            self.inner.replace_recovery_codes(user, hashes, at),
        )
        .await
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<CodeUse>, StoreError> {
        self.within(
            "use_recovery_code",
            self.inner.use_recovery_code(user, hash, at),
        )
        .await
    }

    async fn count_recovery_codes(&self, user: UserId) -> Result<u32, StoreError> {
        self.within(
            "count_recovery_codes",
            self.inner.count_recovery_codes(user),
        )
        .await
    }

    async fn create_mfa_challenge(&self, challenge: &MfaChallenge) -> Result<(), StoreError> {
        self.within(
            "create_mfa_challenge",
            self.inner.create_mfa_challenge(challenge),
        )
        .await
    }

    async fn find_mfa_challenge(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        max_failures: u32,
    ) -> Result<Option<MfaChallenge>, StoreError> {
        self.within(
            "find_mfa_challenge",
            self.inner.find_mfa_challenge(token, now, max_failures),
        )
        .await
    }

    async fn record_mfa_failure(&self, token: &TokenHash) -> Result<u32, StoreError> {
        self.within("record_mfa_failure", self.inner.record_mfa_failure(token))
            .await
    }

    async fn take_mfa_challenge(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        max_failures: u32,
    ) -> Result<bool, StoreError> {
        self.within(
            "take_mfa_challenge",
            self.inner.take_mfa_challenge(token, now, max_failures),
        )
        .await
    }

    async fn prune_mfa_challenges(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.within(
            "prune_mfa_challenges",
            self.inner.prune_mfa_challenges(before),
        )
        .await
    }
}

#[async_trait]
impl LinkStore for Deadline {
    async fn request_link(
        &self,
        throttle: &SendThrottle<'_>,
        link: Option<&LinkRecord>,
        mail: &[QueuedMail],
    ) -> Result<SendOutcome, StoreError> {
        self.within(
            "request_link",
            self.inner.request_link(throttle, link, mail),
        )
        .await
    }

    async fn email_in_use(&self, email: &Email) -> Result<bool, StoreError> {
        self.within("email_in_use", self.inner.email_in_use(email))
            .await
    }

    async fn find_link(&self, token: &TokenHash) -> Result<Option<LinkRecord>, StoreError> {
        self.within("find_link", self.inner.find_link(token)).await
    }

    async fn complete_link(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        completion: &LinkCompletion<'_>,
    ) -> Result<Vec<SessionId>, StoreError> {
        self.within(
            "complete_link",
            self.inner.complete_link(token, now, completion),
        )
        .await
    }

    async fn prune_links(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.within("prune_links", self.inner.prune_links(before))
            .await
    }
}

#[async_trait]
impl ClientStore for Deadline {
    async fn create_client(
        &self,
        client: &OAuthClient,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        self.within("create_client", self.inner.create_client(client, events))
            .await
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<OAuthClient>, StoreError> {
        self.within("find_client", self.inner.find_client(id)).await
    }

    async fn list_clients(
        &self,
        after: Option<&ClientId>,
        limit: u32,
    ) -> Result<Vec<OAuthClient>, StoreError> {
        self.within("list_clients", self.inner.list_clients(after, limit))
            .await
    }

    async fn update_client(
        &self,
        client: &OAuthClient,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        self.within("update_client", self.inner.update_client(client, events))
            .await
    }

    async fn rotate_client_secret(
        &self,
        id: &ClientId,
        hash: &ClientSecretHash,
        at: DateTime<Utc>,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        self.within(
            "rotate_client_secret",
            self.inner.rotate_client_secret(id, hash, at, events),
        )
        .await
    }

    async fn delete_client(
        &self,
        id: &ClientId,
        revocation: &Revocation,
        events: &[OutboxEvent],
    ) -> Result<bool, StoreError> {
        self.within(
            "delete_client",
            self.inner.delete_client(id, revocation, events),
        )
        .await
    }
}

#[async_trait]
impl GrantStore for Deadline {
    async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        self.within(
            "create_authorization_code",
            self.inner.create_authorization_code(code),
        )
        .await
    }

    async fn redeem_authorization_code(
        &self,
        code: &TokenHash,
        issued: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Redemption, StoreError> {
        self.within(
            "redeem_authorization_code",
            self.inner.redeem_authorization_code(code, issued, now),
        )
        .await
    }

    async fn delete_expired_authorization_codes(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.within(
            "delete_expired_authorization_codes",
            self.inner.delete_expired_authorization_codes(before),
        )
        .await
    }

    async fn find_consent(
        &self,
        user: UserId,
        client: &ClientId,
    ) -> Result<Option<Consent>, StoreError> {
        self.within("find_consent", self.inner.find_consent(user, client))
            .await
    }

    async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        self.within("save_consent", self.inner.save_consent(consent))
            .await
    }

    async fn revoke_client_sessions(
        &self,
        client: &ClientId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        event_for: OwnedSessionEventFn<'_>,
    ) -> Result<Vec<SessionId>, StoreError> {
        self.within(
            "revoke_client_sessions",
            self.inner
                .revoke_client_sessions(client, now, until, event_for),
        )
        .await
    }
}

#[async_trait]
impl PasskeyStore for Deadline {
    async fn list_passkeys(&self, user: UserId) -> Result<Vec<StoredPasskey>, StoreError> {
        self.within("list_passkeys", self.inner.list_passkeys(user))
            .await
    }

    async fn find_passkey(&self, credential_id: &str) -> Result<Option<StoredPasskey>, StoreError> {
        self.within("find_passkey", self.inner.find_passkey(credential_id))
            .await
    }

    async fn insert_passkey(
        &self,
        passkey: &StoredPasskey,
        recovery_codes: &[String],
        events: &[OutboxEvent],
        mail: &[QueuedMail],
    ) -> Result<(), StoreError> {
        self.within(
            "insert_passkey",
            self.inner
                .insert_passkey(passkey, recovery_codes, events, mail),
        )
        .await
    }

    async fn touch_passkey(
        &self,
        id: PasskeyId,
        credential: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.within(
            "touch_passkey",
            self.inner.touch_passkey(id, credential, at),
        )
        .await
    }

    async fn delete_passkey(
        &self,
        user: UserId,
        id: PasskeyId,
        events: &[OutboxEvent],
        mail: &[QueuedMail],
    ) -> Result<PasskeyRemoval, StoreError> {
        self.within(
            "delete_passkey",
            self.inner.delete_passkey(user, id, events, mail),
        )
        .await
    }

    async fn delete_passkeys(&self, user: UserId) -> Result<u64, StoreError> {
        self.within("delete_passkeys", self.inner.delete_passkeys(user))
            .await
    }

    async fn put_webauthn_challenge(
        &self,
        key: &str,
        challenge: &WebauthnChallenge,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.within(
            "put_webauthn_challenge",
            self.inner
                .put_webauthn_challenge(key, challenge, expires_at),
        )
        .await
    }

    async fn take_webauthn_challenge(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<WebauthnChallenge>, StoreError> {
        self.within(
            "take_webauthn_challenge",
            self.inner.take_webauthn_challenge(key, now),
        )
        .await
    }

    async fn prune_webauthn_challenges(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.within(
            "prune_webauthn_challenges",
            self.inner.prune_webauthn_challenges(before),
        )
        .await
    }
}
