//! The ports the use cases need: a clock and a store. Adapters implement them;
//! the server wires concrete ones.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::clients::{ClientId, ClientSecretHash, OAuthClient};
use crate::email::Email;
use crate::error::StoreError;
use crate::identity::{
    Assertion, AuthorizationRequest, ExchangeCode, Identity, IdentityKey, ProviderCallback,
    ProviderFailure,
};
use crate::ids::{AuditId, IdentityId, MailId, PasskeyId, SessionId, UserId};
use crate::links::{LinkPurpose, LinkRecord, SendOutcome, SendThrottle};
use crate::mail::{DueMail, QueuedMail};
use crate::model::{
    AuditEntry, LockoutPolicy, MfaChallenge, OutboxEvent, RefreshRecord, Revocation, Role,
    RotateOutcome, Session, SessionTokenOwner, SessionTokenRecord, StoredSigningKey, ThrottleState,
    TokenHash, TotpFactor, TotpSecretId, User, UserCredentials, UserStatus,
};
use crate::passkeys::{PasskeyRemoval, StoredPasskey, WebauthnChallenge};
use crate::provider::{AuthorizationCode, Consent, Redemption};

/// The source of "now". Time is an input so expiry is testable without
/// sleeping. One trait for Warden and warden-verify, kept in warden-token
/// (which both depend on), so a clock written for one fits the other.
pub use warden_token::clock::{Clock, FakeClock, SystemClock};

/// Builds the event that announces one revoked session; passed to bulk
/// revocations so the event format stays in the domain while the store keeps
/// the change and its events in one transaction.
pub type SessionEventFn<'a> = &'a (dyn Fn(SessionId) -> OutboxEvent + Send + Sync);

/// As [`SessionEventFn`], for revocations across users (a client's
/// sessions): the event names the session's owner, which only the store
/// knows there.
pub type OwnedSessionEventFn<'a> = &'a (dyn Fn(SessionId, UserId) -> OutboxEvent + Send + Sync);

/// What to do when a refresh token comes back a second time.
pub struct ReuseRevocation<'a> {
    /// End of the session revocation entry.
    pub until: DateTime<Utc>,
    /// Builds the `session.revoked` event.
    pub event_for: SessionEventFn<'a>,
    /// The grace window (`sessions.refresh_reuse_grace_secs`): a token
    /// rotated at or after this instant, whose successor is still unused and
    /// that was not retried before, is a retry, not reuse. The retry voids
    /// the successor and chains `new` in its place (decision 0018). `None`:
    /// every second use is reuse.
    pub retry_since: Option<DateTime<Utc>>,
}

/// A new account to insert.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The user row.
    pub user: User,
    /// argon2id PHC string.
    pub password_hash: String,
    /// A verification link to store with the account (sign-up).
    pub verification: Option<LinkRecord>,
    /// Mail to queue with it (the verification mail).
    pub mail: Vec<QueuedMail>,
    /// The identity it signs up with (social sign-in), stored with it.
    pub identity: Option<Identity>,
}

/// Sessions to revoke along with a change, each with a session revocation
/// until `until` and the event `event_for` builds.
pub struct SessionRevocations<'a> {
    /// End of each session revocation entry.
    pub until: DateTime<Utc>,
    /// Builds each `session.revoked` event.
    pub event_for: SessionEventFn<'a>,
}

/// A new password, written by [`SessionStore::revoke_user_sessions`] in
/// the transaction that ends the account's other sessions.
pub struct PasswordChange<'a> {
    /// The new argon2id PHC string.
    pub hash: &'a str,
    /// Mail to queue with it (the `password_changed` notice).
    pub mail: &'a [QueuedMail],
}

/// What following a link changes. [`LinkStore::complete_link`] consumes
/// the link and applies all of it in one transaction, or nothing.
pub struct LinkCompletion<'a> {
    /// The link's purpose: a link of another purpose is not consumed.
    pub purpose: LinkPurpose,
    /// The link's account. It must still be active, and still have
    /// `expected_email` when that is given (a verification or reset link
    /// mailed to an address the account has since left is void).
    pub user: UserId,
    /// See `user`.
    pub expected_email: Option<&'a Email>,
    /// The account's new address (e-mail change), with its skeleton kept
    /// unique: `Conflict` when another account holds either.
    pub new_email: Option<&'a Email>,
    /// The new password hash (reset).
    pub password_hash: Option<&'a str>,
    /// The account's other unused links of these purposes are voided.
    pub void: &'a [LinkPurpose],
    /// Every live session of the account is revoked.
    pub revoke_sessions: Option<SessionRevocations<'a>>,
    /// This sign-in throttle key is cleared (lockout).
    pub clear_throttle: Option<&'a str>,
    /// Outbox events.
    pub events: &'a [OutboxEvent],
    /// Mail to queue.
    pub mail: &'a [QueuedMail],
}

/// Persistence for everything the domain keeps: one port made of a sub-trait
/// per section (users, sessions, keys, revocations and the outbox, audit,
/// lockout, the mail queue, OAuth clients), so an adapter implements and a reader compares one section at a
/// time. Every method that changes state other services must learn of takes
/// the outbox events to write in the same transaction. Call sites bring the
/// methods into scope with `use warden_core::ports::prelude::*;`.
#[async_trait]
pub trait Store:
    UserStore
    + SessionStore
    + KeyStore
    + RevocationStore
    + AuditStore
    + LockoutStore
    + MailStore
    + LinkStore
    + IdentityStore
    + MfaStore
    + PasskeyStore
    + ClientStore
    + GrantStore
    + Send
    + Sync
    + 'static
{
    /// Cheap reachability check for `/readyz`.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Users and their accounts: the `user_account` table.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a user with its e-mail skeleton ([`Email::skeleton`]);
    /// `StoreError::Conflict` when the e-mail or its skeleton is taken.
    async fn create_user(&self, new: &NewUser, events: &[OutboxEvent]) -> Result<(), StoreError>;
    /// Users whose e-mail skeleton is not stored yet (accounts created before
    /// migration 0004), ordered by id, after `after`: `(id, stored e-mail)`.
    async fn find_users_without_email_skeleton(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<(UserId, String)>, StoreError>;
    /// Stores a user's e-mail skeleton; `Conflict` when another account
    /// already holds it, `NotFound` if no such user.
    async fn update_email_skeleton(&self, id: UserId, skeleton: &str) -> Result<(), StoreError>;
    /// Finds a user by id.
    async fn find_user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// Finds a user and their password hash by canonical e-mail.
    async fn find_credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserCredentials>, StoreError>;
    /// Finds a user and their password hash by id.
    async fn find_credentials_by_id(
        &self,
        id: UserId,
    ) -> Result<Option<UserCredentials>, StoreError>;
    /// Users ordered by id, after `after`, whose e-mail or username contains `query`.
    async fn list_users(
        &self,
        query: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError>;
    /// How many accounts there are.
    async fn count_users(&self) -> Result<u64, StoreError>;
    /// Replaces the password hash (transparent rehash); no events.
    async fn update_password_hash(&self, id: UserId, phc: &str) -> Result<(), StoreError>;
    /// Sets the status; `NotFound` if no such user. Setting `Active` (unban)
    /// drops the user-wide revocation entries; session entries stay.
    async fn update_user_status(
        &self,
        id: UserId,
        status: UserStatus,
        revocation: Option<&Revocation>,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError>;
    /// Replaces the roles; `NotFound` if no such user.
    async fn update_user_roles(
        &self,
        id: UserId,
        roles: &[Role],
        events: &[OutboxEvent],
    ) -> Result<(), StoreError>;
    /// Deletes the user with their sessions and refresh tokens; `NotFound` if absent.
    async fn delete_user(
        &self,
        id: UserId,
        revocation: &Revocation,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError>;
}

/// Sessions, their refresh tokens and session tokens.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts a session with its first refresh token.
    async fn create_session(
        &self,
        session: &Session,
        refresh: &RefreshRecord,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError>;
    /// Finds a session (live or not).
    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, StoreError>;
    /// Records that a live session's holder presented more factors
    /// (`amr`, as [`crate::model::Authentication::stored`] writes it): the
    /// next refresh carries them. Returns whether a live session changed.
    async fn set_session_amr(&self, id: SessionId, amr: &str) -> Result<bool, StoreError>;
    /// The user's sessions that are not revoked and not past `expires_at` at `now`.
    async fn list_sessions(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError>;
    /// The session a refresh token belongs to, used or not (one round trip:
    /// it is on every refresh).
    async fn find_session_by_refresh(
        &self,
        token: &TokenHash,
    ) -> Result<Option<Session>, StoreError>;
    /// Consumes `old` and stores `new` atomically. Exactly one of any number of
    /// concurrent calls with the same `old` gets `Rotated`: the adapter uses a
    /// conditional update (`... WHERE used_at IS NULL`), never read-then-write.
    /// Sets the session's `last_used_at` to `now`. When `old` was already used
    /// the session is revoked in the same transaction, with the revocation
    /// and event `on_reuse` describes, so a crash cannot leave it live.
    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshRecord,
        now: DateTime<Utc>,
        on_reuse: &ReuseRevocation<'_>,
    ) -> Result<RotateOutcome, StoreError>;
    /// Revokes one session (if not yet revoked), recording `revocation` and
    /// `events` with it. Returns whether this call revoked it.
    async fn revoke_session(
        &self,
        id: SessionId,
        now: DateTime<Utc>,
        revocation: &Revocation,
        events: &[OutboxEvent],
    ) -> Result<bool, StoreError>;
    /// How many sessions are live at `now` (neither revoked nor expired).
    async fn count_live_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Revokes every live session of `user` except `keep`, writing for each a
    /// session revocation valid until `until` and the event `event_for` builds.
    /// When `password` is given its hash replaces the user's in the same
    /// transaction (password change), every unused password-reset link of
    /// the user is voided and its mail is queued; `NotFound` (and nothing
    /// changed) if no such user. Returns the revoked ids.
    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        password: Option<&PasswordChange<'_>>,
        event_for: SessionEventFn<'_>,
    ) -> Result<Vec<SessionId>, StoreError>;

    // ----- session tokens (`tokens.access = "session"`) -----
    /// Stores the hash of a `wst_` access token of a live session.
    async fn create_session_token(&self, token: &SessionTokenRecord) -> Result<(), StoreError>;
    /// The token with its session's and user's state, in one round trip (it
    /// is on every validation of a session token); `None` if unknown.
    async fn find_session_token(
        &self,
        token: &TokenHash,
    ) -> Result<Option<SessionTokenOwner>, StoreError>;
    /// Deletes the tokens whose `expires_at` is before `now`; returns how many.
    async fn delete_expired_session_tokens(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Signing keys, their private parts encrypted at rest.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Inserts a key (the adapter encrypts the private part).
    async fn create_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError>;
    /// Inserts `key` only if the store holds no key at all, atomically with
    /// respect to concurrent callers: of instances starting together on an
    /// empty store exactly one gets `true`, and all then use its key.
    async fn create_first_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError>;
    /// Every stored key, oldest first.
    async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;
    /// Marks every key other than `except` that is not yet retired as retired at `at`.
    async fn retire_signing_keys(&self, except: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Deletes the key `kid`.
    async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError>;
}

/// Revocations, the outbox that announces them (and every other event)
/// and the relay that publishes it.
#[async_trait]
pub trait RevocationStore: Send + Sync {
    /// Revocations whose `until` is after `now`.
    async fn list_active_revocations(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<Revocation>, StoreError>;

    // ----- outbox -----
    /// Appends events that accompany no other change (for example `user.sign_in_failed`).
    async fn append_outbox(&self, events: &[OutboxEvent]) -> Result<(), StoreError>;
    /// Events in commit order with their sequence numbers, after `after_seq`.
    async fn list_outbox(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<(i64, OutboxEvent)>, StoreError>;
    /// The highest sequence number the outbox has handed out (0 when empty);
    /// every event committed later gets a higher one.
    async fn latest_outbox_seq(&self) -> Result<i64, StoreError>;

    // ----- outbox relay -----
    /// Takes or renews the relay lease: `holder` gets it until `until` when it
    /// is free, expired at `now`, or already `holder`'s. Returns whether
    /// `holder` holds it after the call. Atomic across instances: at most one
    /// holder at any time.
    async fn acquire_relay_lease(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Gives the lease up if `holder` has it, so another instance can take
    /// over at once (graceful shutdown).
    async fn release_relay_lease(&self, holder: &str) -> Result<(), StoreError>;
    /// Events not yet published, in commit order.
    async fn list_unpublished_outbox(
        &self,
        limit: u32,
    ) -> Result<Vec<(i64, OutboxEvent)>, StoreError>;
    /// Marks every unpublished event up to and including `up_to_seq` as
    /// published at `at` (the relay publishes in order, so a prefix).
    async fn mark_outbox_published(
        &self,
        up_to_seq: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Deletes published events that happened before `before`; unpublished
    /// ones stay whatever their age. Returns how many went.
    async fn prune_outbox(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// The mail queue (front-door contract, section 2). Use cases queue mail in
/// the same transaction as the change that causes it, through the `mail`
/// argument of the store method making that change; `enqueue_mail` is for
/// mail that accompanies no change. One worker across all instances drains
/// the queue, holding a lease like the outbox relay's.
#[async_trait]
pub trait MailStore: Send + Sync {
    /// Queues messages that accompany no other change.
    async fn enqueue_mail(&self, mail: &[QueuedMail]) -> Result<(), StoreError>;
    /// Takes or renews the mail worker's lease; same rules as
    /// [`RevocationStore::acquire_relay_lease`], a separate lease.
    async fn acquire_mail_lease(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Gives the mail lease up if `holder` has it.
    async fn release_mail_lease(&self, holder: &str) -> Result<(), StoreError>;
    /// Messages neither sent nor given up whose next attempt is due at
    /// `now`, oldest first.
    async fn list_due_mail(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueMail>, StoreError>;
    /// Records a delivery; the message's values (which may hold a link) are
    /// erased.
    async fn mark_mail_sent(&self, id: MailId, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Records a failed attempt: `attempts` failures so far, next try at
    /// `next_attempt_at`, and the reason (no secret in it).
    async fn mark_mail_retry(
        &self,
        id: MailId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError>;
    /// Gives a message up (too old, or refused for good); its values are
    /// erased.
    async fn mark_mail_failed(
        &self,
        id: MailId,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError>;
    /// How many messages wait (neither sent nor given up):
    /// `warden_mail_queue_depth`.
    async fn mail_queue_depth(&self) -> Result<u64, StoreError>;
    /// Deletes sent and given-up messages finished before `before`.
    async fn prune_mail(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Mailed link tokens (verification, reset, e-mail change) and how often
/// they may be sent: the `link_token` and `send_throttle` tables. The
/// account changes a link makes are applied here too, in the transaction
/// that consumes it.
#[async_trait]
pub trait LinkStore: Send + Sync {
    /// Takes a send slot of `throttle` and, when allowed, stores `link`
    /// (voiding the account's older unused links of its purpose when
    /// [`LinkPurpose::voids_older`]) and queues `mail`, all in one
    /// transaction. Throttled: nothing is written. A link whose account
    /// does not exist is stored all the same (a placeholder, never usable:
    /// completing a link needs its account) but its mail is not queued,
    /// after the same statements and row writes as for an account that
    /// does: a password reset for an unknown address takes as long as one
    /// for a known address.
    async fn request_link(
        &self,
        throttle: &SendThrottle<'_>,
        link: Option<&LinkRecord>,
        mail: &[QueuedMail],
    ) -> Result<SendOutcome, StoreError>;
    /// Whether an account holds `email` or an address with its confusable
    /// skeleton ([`Email::skeleton`]).
    async fn email_in_use(&self, email: &Email) -> Result<bool, StoreError>;
    /// The link with this hash, used or not.
    async fn find_link(&self, token: &TokenHash) -> Result<Option<LinkRecord>, StoreError>;
    /// Consumes the link and applies `completion`, atomically: the link is
    /// taken by a conditional update (unused, unexpired at `now`, of the
    /// purpose and account given), so of any number of concurrent calls
    /// exactly one succeeds. `NotFound` when the link cannot be consumed or
    /// the account no longer matches; `Conflict` when the new address is
    /// taken. Either way nothing changes. Returns the revoked sessions.
    async fn complete_link(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        completion: &LinkCompletion<'_>,
    ) -> Result<Vec<SessionId>, StoreError>;
    /// Deletes links that expired before `before` and throttles idle since
    /// then; returns how many rows went.
    async fn prune_links(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// How an unlink ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unlinked {
    /// The identity is gone.
    Unlinked,
    /// No such identity on this account.
    NotFound,
    /// It is the account's last way to sign in (no password, no other
    /// identity): kept.
    LastCredential,
}

/// Identities at OAuth2/OIDC providers (social sign-in) and the exchange
/// codes a social sign-in hands apps: the `user_identity` and
/// `oauth_exchange_code` tables.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// The identity with this key and its account.
    async fn find_identity(
        &self,
        key: &IdentityKey,
    ) -> Result<Option<(Identity, User)>, StoreError>;
    /// The account's identities, oldest first.
    async fn list_identities(&self, user: UserId) -> Result<Vec<Identity>, StoreError>;
    /// Links `identity` to its account, with `events`, in one transaction.
    /// `Conflict` when its key is linked already (to any account);
    /// `NotFound` when the account is gone.
    async fn link_identity(
        &self,
        identity: &Identity,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError>;
    /// Records a sign-in through the identity at `at`, with the address the
    /// provider asserted this time.
    async fn touch_identity(
        &self,
        id: IdentityId,
        email: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Removes the account's identity, with `events`, unless it is the
    /// account's last way to sign in; decided and done in one transaction,
    /// so two concurrent unlinks cannot remove the last two.
    async fn unlink_identity(
        &self,
        user: UserId,
        id: IdentityId,
        events: &[OutboxEvent],
    ) -> Result<Unlinked, StoreError>;
    /// Stores an exchange code.
    async fn create_exchange_code(&self, code: &ExchangeCode) -> Result<(), StoreError>;
    /// Takes the code: of any number of concurrent calls, one gets it, and
    /// only while it is unused and unexpired at `now`. A taken code is
    /// spent whatever the caller does next.
    async fn take_exchange_code(
        &self,
        code: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<ExchangeCode>, StoreError>;
    /// Deletes codes that expired before `before`; returns how many.
    async fn prune_exchange_codes(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// How spending a second-factor code ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeUse {
    /// Accepted, now spent.
    Accepted,
    /// Spent before (a replay, or a concurrent request won).
    Spent,
}

/// Passkeys and the ceremonies in flight: the `user_passkey` and
/// `webauthn_challenge` tables.
#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// The account's passkeys, oldest first.
    async fn list_passkeys(&self, user: UserId) -> Result<Vec<StoredPasskey>, StoreError>;
    /// The passkey with this credential id, whoever's it is.
    async fn find_passkey(&self, credential_id: &str) -> Result<Option<StoredPasskey>, StoreError>;
    /// Adds a passkey, with `recovery_codes` (hashes) when it is the
    /// account's first second factor, the events and the mail, in one
    /// transaction. `Conflict` when the credential id is registered
    /// already (to any account); `NotFound` when the account is gone.
    async fn insert_passkey(
        &self,
        passkey: &StoredPasskey,
        recovery_codes: &[String],
        events: &[OutboxEvent],
        mail: &[QueuedMail],
    ) -> Result<(), StoreError>;
    /// Records a sign-in with a passkey: its new state (the counter moved)
    /// and when.
    async fn touch_passkey(
        &self,
        id: PasskeyId,
        credential: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Removes one of the account's passkeys unless it is the last way to
    /// sign in (no password, no identity, no other passkey). When it was
    /// the last second factor (no other passkey, no authenticator app),
    /// the recovery codes and the sign-ins waiting for a factor go too.
    /// The events and mail are written only when it went.
    async fn delete_passkey(
        &self,
        user: UserId,
        id: PasskeyId,
        events: &[OutboxEvent],
        mail: &[QueuedMail],
    ) -> Result<PasskeyRemoval, StoreError>;
    /// Removes every passkey of the account (an admin's reset); returns
    /// how many went.
    async fn delete_passkeys(&self, user: UserId) -> Result<u64, StoreError>;
    /// Keeps the state of a ceremony under `key` until `expires_at`,
    /// replacing one under the same key.
    async fn put_webauthn_challenge(
        &self,
        key: &str,
        challenge: &WebauthnChallenge,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Takes (deletes and returns) the state under `key` if it has not
    /// expired: a ceremony is answered once.
    async fn take_webauthn_challenge(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<WebauthnChallenge>, StoreError>;
    /// Deletes states that expired before `before`; returns how many.
    async fn prune_webauthn_challenges(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Second factors: the `user_totp`, `user_recovery_code` and
/// `mfa_challenge` tables.
#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The account's TOTP factor, pending or confirmed.
    async fn find_totp(&self, user: UserId) -> Result<Option<TotpFactor>, StoreError>;
    /// Stores a pending TOTP secret, replacing a pending one; `Conflict`
    /// when a confirmed one exists.
    async fn put_pending_totp(
        &self,
        user: UserId,
        secret: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Confirms the pending secret `secret` (the one a code was checked
    /// against) with the code of `step` and replaces the recovery codes with
    /// `recovery_hashes`, with `events` and `mail`, in one transaction.
    /// `NotFound` when nothing is pending, or when the pending secret is
    /// another one (an enrolment restarted since `secret` was read).
    #[allow(clippy::too_many_arguments)]
    async fn confirm_totp(
        &self,
        user: UserId,
        secret: &TotpSecretId,
        step: i64,
        recovery_hashes: &[String],
        at: DateTime<Utc>,
        events: &[OutboxEvent],
        mail: &[QueuedMail],
    ) -> Result<(), StoreError>;
    /// Records that a code of `step` was accepted, unless one of this or a
    /// later step was (of concurrent callers with one step, one wins).
    async fn use_totp_step(&self, user: UserId, step: i64) -> Result<CodeUse, StoreError>;
    /// Removes every second factor the account has (TOTP and recovery
    /// codes), with `events` and `mail`; whether there was any.
    async fn delete_second_factors(
        &self,
        user: UserId,
        events: &[OutboxEvent],
        mail: &[QueuedMail],
    ) -> Result<bool, StoreError>;
    /// Replaces the recovery codes (the old set is void).
    async fn replace_recovery_codes(
        &self,
        user: UserId,
        hashes: &[String],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Spends one of the account's recovery codes; `None` when it has no
    /// such code.
    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<CodeUse>, StoreError>;
    /// How many unused recovery codes the account has.
    async fn count_recovery_codes(&self, user: UserId) -> Result<u32, StoreError>;
    /// Stores a challenge.
    async fn create_mfa_challenge(&self, challenge: &MfaChallenge) -> Result<(), StoreError>;
    /// The challenge, while it is unused, unexpired at `now` and has fewer
    /// than `max_failures` failures.
    async fn find_mfa_challenge(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        max_failures: u32,
    ) -> Result<Option<MfaChallenge>, StoreError>;
    /// Counts a wrong code against the challenge; returns the failures now.
    async fn record_mfa_failure(&self, token: &TokenHash) -> Result<u32, StoreError>;
    /// Spends the challenge: of concurrent callers, one gets `true`, and
    /// only while it is live as [`MfaStore::find_mfa_challenge`] says.
    async fn take_mfa_challenge(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        max_failures: u32,
    ) -> Result<bool, StoreError>;
    /// Deletes challenges that expired before `before`; returns how many.
    async fn prune_mfa_challenges(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// The OAuth 2.0 / OpenID Connect clients Warden serves as a provider:
/// the `oauth_client` table. Every change is written with its `events` in
/// one transaction.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Registers a client; `Conflict` when its id is taken.
    async fn create_client(
        &self,
        client: &OAuthClient,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError>;
    /// The client with this id.
    async fn find_client(&self, id: &ClientId) -> Result<Option<OAuthClient>, StoreError>;
    /// Clients ordered by id (byte order), after `after`.
    async fn list_clients(
        &self,
        after: Option<&ClientId>,
        limit: u32,
    ) -> Result<Vec<OAuthClient>, StoreError>;
    /// Stores the client's settings (name, redirect and post-logout
    /// redirect URIs, grants, scopes, `first_party`, ID-token algorithm)
    /// and `updated_at`; its kind, secret and `created_at` are never
    /// changed here. `NotFound` if no such client.
    async fn update_client(
        &self,
        client: &OAuthClient,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError>;
    /// Replaces the secret of a confidential client with `hash`, rotated
    /// at `at`: the old secret stops working when this commits. `NotFound`
    /// if no such client, or if it is public (it has no secret to rotate).
    async fn rotate_client_secret(
        &self,
        id: &ClientId,
        hash: &ClientSecretHash,
        at: DateTime<Utc>,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError>;
    /// Deletes the client; whether it existed. The revocation (of the
    /// service tokens it holds, [`crate::clients::service_revocation`]) and
    /// the events are written only when it did.
    async fn delete_client(
        &self,
        id: &ClientId,
        revocation: &Revocation,
        events: &[OutboxEvent],
    ) -> Result<bool, StoreError>;
}

/// What Warden as an OAuth provider keeps: authorization codes, consents,
/// and the sessions it opened for clients (a session's `client_id`, set by
/// `create_session`).
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Stores a new authorization code.
    async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError>;
    /// Marks the code used by an exchange that opens session `issued`, at
    /// `now`. Exactly one of any number of concurrent calls with the same
    /// code gets `Redeemed` (a conditional update, never read-then-write);
    /// later ones get `Replayed` with the first one's session.
    async fn redeem_authorization_code(
        &self,
        code: &TokenHash,
        issued: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Redemption, StoreError>;
    /// Deletes codes that expired before `before` (used or not); how many.
    async fn delete_expired_authorization_codes(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// The user's consent for the client, if any.
    async fn find_consent(
        &self,
        user: UserId,
        client: &ClientId,
    ) -> Result<Option<Consent>, StoreError>;
    /// Stores the consent, replacing the user's earlier one for the client.
    async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError>;
    /// Revokes every live session opened for `client` (a deleted or
    /// disabled client), as `revoke_user_sessions` does for a user: each
    /// gets a session revocation valid until `until` and the event
    /// `event_for` builds, in one transaction. Returns the revoked ids.
    async fn revoke_client_sessions(
        &self,
        client: &ClientId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        event_for: OwnedSessionEventFn<'_>,
    ) -> Result<Vec<SessionId>, StoreError>;
}

/// A configured OAuth2 / OpenID Connect provider (`[[oauth.provider]]`),
/// as social sign-in uses it. The adapter does the protocol (discovery,
/// PKCE, the code exchange, ID-token verification against the provider's
/// keys, profile calls) and hands back only what it verified.
#[async_trait]
pub trait SocialProvider: Send + Sync {
    /// The configured id: the path segment, and the `provider` of its identities.
    fn id(&self) -> &str;
    /// The button's text.
    fn label(&self) -> &str;
    /// The kind (`google`, `github`, `microsoft`, `apple`, `gitlab`, `oidc`).
    fn kind(&self) -> &str;
    /// Whether an unknown person may get a new account through it.
    fn allow_sign_up(&self) -> bool;
    /// Whether its flows use PKCE (S256).
    fn uses_pkce(&self) -> bool;
    /// Whether it answers with a cross-site POST (`response_mode=form_post`).
    fn uses_form_post(&self) -> bool;
    /// Where to send the browser.
    fn authorization_url(&self, request: &AuthorizationRequest<'_>) -> String;
    /// Trades the code and returns who signed in, verified.
    async fn finish(&self, callback: &ProviderCallback<'_>) -> Result<Assertion, ProviderFailure>;
}

/// The audit log.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry.
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// Entries newest first, older than `before`, that `filter` lets through.
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        before: Option<AuditId>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// How many entries of `actions` there are at or after `since`, by hour
    /// (Unix hours), action and outcome: the admin console's chart.
    async fn audit_tally(
        &self,
        since: DateTime<Utc>,
        actions: &[&str],
    ) -> Result<Vec<AuditTally>, StoreError>;
}

/// Which audit entries to list; every field left `None` lets all through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// About this user (as actor or target).
    pub user: Option<UserId>,
    /// Of this action (`signin`, `ban`, ...).
    pub action: Option<String>,
    /// `Some(true)`: successes only; `Some(false)`: failures only.
    pub success: Option<bool>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

/// One bucket of [`AuditStore::audit_tally`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTally {
    /// Hours since the Unix epoch.
    pub hour: i64,
    /// The action.
    pub action: String,
    /// Whether these succeeded.
    pub success: bool,
    /// How many.
    pub count: u64,
}

/// Sign-in throttling, shared by every instance.
#[async_trait]
pub trait LockoutStore: Send + Sync {
    /// Current failure state of `key`.
    async fn find_login_throttle(&self, key: &str) -> Result<ThrottleState, StoreError>;
    /// Atomically counts one more failure and sets the lock per `policy`.
    async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> Result<ThrottleState, StoreError>;
    /// Resets the failures of `key` after a success.
    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError>;
    /// How many keys (addresses) are locked out at `now`.
    async fn count_locked(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Every port trait, for call sites: `use warden_core::ports::prelude::*;`
/// brings the store's methods into scope whichever section they belong to.
pub mod prelude {
    pub use super::{
        AuditStore, ClientStore, Clock, GrantStore, IdentityStore, KeyStore, LinkStore,
        LockoutStore, MailStore, MfaStore, PasskeyStore, RevocationStore, SessionStore, Store,
        UserStore,
    };
}
