//! The use cases: sign up, sign in, refresh, sign out, validate, and the
//! admin actions. Transports (HTTP, gRPC, CLI) call these and translate.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use sha2::{Digest as _, Sha256};
use warden_token::revocation::RevocationPage;
use warden_token::{AccessClaims, Audience, VerifierConfig, VerifyError};

use crate::accounts::Accounts;
use crate::denylist::DenyList;
use crate::email::Email;
use crate::error::{CoreError, FieldError, StoreError};
use crate::ids::{AuditId, SessionId, UserId};
use crate::ip_limit::IpFailureLimit;
use crate::keys::{KeyInfo, KeyManager};
use crate::model::{
    AuditEntry, OutboxEvent, RefreshRecord, Revocation, RevocationKind, Role, RotateOutcome,
    Session, SessionTokenRecord, User, UserStatus,
};
use crate::opaque::{OpaqueToken, REFRESH_PREFIX, SESSION_PREFIX};
use crate::password::{Password, PasswordHasher};
use crate::ports::{Clock, ReuseRevocation, Store};
use crate::settings::{AccessTokenKind, AuthSettings};

/// Who is calling, for the audit log and per-IP limits.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// Client IP (after trusted-proxy resolution).
    pub ip: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
}

/// A freshly issued token pair.
#[derive(Debug, Clone)]
pub struct IssuedTokens {
    /// The access JWT.
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The new refresh token.
    pub refresh_token: OpaqueToken,
    /// The session both belong to.
    pub session_id: SessionId,
}

/// Which kind of access token a principal presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A signed JWT.
    Jwt,
    /// An opaque `wst_` session token.
    Session,
}

impl TokenKind {
    /// The contract's `token_type` of `/v1/validate`.
    pub fn token_type(self) -> &'static str {
        match self {
            TokenKind::Jwt => "access_token",
            TokenKind::Session => "session_token",
        }
    }
}

/// The identity a valid access token carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `sub`.
    pub user_id: UserId,
    /// `sid`.
    pub session_id: SessionId,
    /// `roles`.
    pub roles: Vec<String>,
    /// `exp`, Unix seconds.
    pub exp: i64,
    /// `iat`, Unix seconds.
    pub iat: i64,
    /// JWT or session token.
    pub kind: TokenKind,
}

impl Principal {
    /// Whether the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// A session as its owner sees it.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The session.
    pub session: Session,
    /// Whether it is the one the caller is using.
    pub is_current: bool,
}

/// A page of results with the cursor of the next page.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Cursor for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// Longest user agent kept.
const MAX_USER_AGENT: usize = 256;
/// Largest page.
pub const MAX_PAGE: u32 = 100;
/// Already-verified access tokens remembered, so a hot token costs a hash
/// lookup instead of a signature check.
const VERIFIED_CACHE_ENTRIES: usize = 100_000;
/// Session-token checks remembered (each for `session_cache_ttl` at most).
const SESSION_CACHE_ENTRIES: usize = 100_000;

/// Outbox events read per revocation-feed page.
const FEED_PAGE: u32 = 500;
/// Published outbox events are kept this long past the last moment a
/// revocation they carry can matter, for feed readers a little behind.
const OUTBOX_RETENTION_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// The domain service.
pub struct AuthService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    hasher: PasswordHasher,
    keys: KeyManager,
    accounts: Accounts,
    denylist: Arc<DenyList>,
    ip_limit: IpFailureLimit,
    verified: quick_cache::sync::Cache<[u8; 32], Principal>,
    /// Session-token checks: the principal and when the store confirmed it.
    session_checks: quick_cache::sync::Cache<[u8; 32], (Principal, DateTime<Utc>)>,
    settings: AuthSettings,
    /// Where [`AuthService::follow_revocations`] continues reading.
    feed_cursor: tokio::sync::Mutex<Option<String>>,
}

impl AuthService {
    /// Loads keys and the deny-list from the store and returns a ready service.
    pub async fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        hasher: PasswordHasher,
        settings: AuthSettings,
    ) -> Result<Self, CoreError> {
        let verifier_config = VerifierConfig {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            algorithms: vec![settings.algorithm],
            leeway_secs: settings.leeway.num_seconds().clamp(0, 60) as u64,
        };
        let mut verifier_config = verifier_config;
        // Tokens signed before an algorithm change must keep verifying.
        verifier_config.algorithms = vec![
            warden_token::Algorithm::EdDSA,
            warden_token::Algorithm::ES256,
            warden_token::Algorithm::RS256,
        ];
        let keys = KeyManager::load(
            store.clone(),
            clock.clone(),
            settings.algorithm,
            verifier_config,
            settings.access_token_ttl,
            settings.key_activation_delay,
        )
        .await?;
        backfill_email_skeletons(&*store).await?;
        let denylist = Arc::new(DenyList::new());
        for revocation in store.list_active_revocations(clock.now()).await? {
            denylist.insert(&revocation);
        }
        Ok(Self {
            accounts: Accounts::new(
                store.clone(),
                clock.clone(),
                hasher.clone(),
                settings.password_policy.clone(),
            ),
            ip_limit: IpFailureLimit::new(settings.ip_failures_per_minute),
            verified: quick_cache::sync::Cache::new(VERIFIED_CACHE_ENTRIES),
            session_checks: quick_cache::sync::Cache::new(SESSION_CACHE_ENTRIES),
            store,
            clock,
            hasher,
            keys,
            denylist,
            settings,
            feed_cursor: tokio::sync::Mutex::new(None),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// The signing keys.
    pub fn keys(&self) -> &KeyManager {
        &self.keys
    }

    /// The store (for the outbox relay the server wires next to the service).
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The deny-list (for metrics and the event-bus subscription).
    pub fn denylist(&self) -> &Arc<DenyList> {
        &self.denylist
    }

    /// The hashing pool (for metrics).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Whether the store answers.
    pub async fn check_store(&self) -> Result<(), CoreError> {
        self.store.ping().await.map_err(CoreError::from)
    }

    /// Periodic upkeep: picks up key rotations, retires keys, forgets old
    /// revocations, deletes expired session tokens, and prunes published
    /// outbox events no feed reader can still need (every revocation they
    /// carry has expired).
    pub async fn housekeeping(&self) -> Result<(), CoreError> {
        let now = self.clock.now();
        self.denylist.prune(now);
        for revocation in self.store.list_active_revocations(now).await? {
            self.denylist.insert(&revocation);
        }
        let expired = self.store.delete_expired_session_tokens(now).await?;
        if expired > 0 {
            tracing::debug!(expired, "deleted expired session tokens");
        }
        self.store
            .prune_outbox(now - self.settings.revocation_ttl() - OUTBOX_RETENTION_MARGIN)
            .await?;
        self.keys.reload().await
    }

    // ----- revocation feed -----

    /// Applies the revocations other instances committed since the last
    /// call, read from the shared outbox through the same feed verifiers
    /// use. Called every second, it bounds how long another instance's
    /// sign-out takes to reach this one when no bus is configured (and
    /// catches up whatever a bus outage held back). Returns how many entries
    /// it applied.
    ///
    /// Unbans are applied in their place among the revocations (decision
    /// 16): the feed replays a ban committed before the cursor moved past
    /// it, and the unban that follows must lift it again.
    pub async fn follow_revocations(&self) -> Result<usize, CoreError> {
        let mut cursor = self.feed_cursor.lock().await;
        let mut applied = 0;
        loop {
            let page = self.feed_page(cursor.as_deref()).await?;
            for item in &page.items {
                match item {
                    FeedItem::Revocation(entry) => self.denylist.insert(entry),
                    FeedItem::Unban { data, at } => {
                        self.denylist.apply_unban(data, *at);
                    }
                }
            }
            applied += page.items.len();
            *cursor = Some(page.cursor);
            if !page.has_more {
                return Ok(applied);
            }
        }
    }

    /// A page of the revocation feed. Without `since`: every revocation in
    /// force, with a cursor taken *before* reading them (so whatever commits
    /// meanwhile comes again on the next page; entries are idempotent). With
    /// `since`: the revocations committed after it, read from the outbox in
    /// commit order. A cursor the store has never handed out (a reset
    /// database) gets a full snapshot again.
    pub async fn revocations_since(
        &self,
        since: Option<&str>,
    ) -> Result<RevocationPage, CoreError> {
        let page = self.feed_page(since).await?;
        Ok(RevocationPage {
            cursor: page.cursor,
            entries: page
                .items
                .into_iter()
                .filter_map(|item| match item {
                    FeedItem::Revocation(entry) => Some(entry),
                    FeedItem::Unban { .. } => None,
                })
                .collect(),
            has_more: page.has_more,
        })
    }

    /// The feed with the unbans in their place (see
    /// [`AuthService::revocations_since`] for the paging rules).
    async fn feed_page(&self, since: Option<&str>) -> Result<FeedPage, CoreError> {
        let now = self.clock.now();
        let after = since
            .map(|c| {
                c.parse::<i64>()
                    .ok()
                    .filter(|seq| *seq >= 0)
                    .ok_or_else(|| FieldError::new("since", "is not a valid cursor"))
            })
            .transpose()?;
        let latest = self.store.latest_outbox_seq().await?;
        let Some(after) = after.filter(|after| *after <= latest) else {
            // An unban deletes the ban's row: the snapshot has nothing to lift.
            let entries = self.store.list_active_revocations(now).await?;
            return Ok(FeedPage {
                cursor: latest.to_string(),
                items: entries.into_iter().map(FeedItem::Revocation).collect(),
                has_more: false,
            });
        };
        let events = self.store.list_outbox(after, FEED_PAGE).await?;
        let cursor = events.last().map_or(after, |(seq, _)| *seq);
        let items = events
            .iter()
            .filter_map(|(_, event)| {
                if event.name == "user.unbanned" {
                    return Some(FeedItem::Unban {
                        data: event.data.clone(),
                        at: event.at,
                    });
                }
                Revocation::from_event(&event.name, &event.data)
                    .filter(|revocation| revocation.until > now)
                    .map(FeedItem::Revocation)
            })
            .collect();
        Ok(FeedPage {
            cursor: cursor.to_string(),
            items,
            has_more: events.len() == FEED_PAGE as usize,
        })
    }

    // ----- accounts -----

    /// Creates an account with the `user` role and signs it in.
    pub async fn sign_up(
        &self,
        email: &str,
        password: &str,
        username: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(User, IssuedTokens), CoreError> {
        let user = self
            .create_user(email, password, username, vec![Role::user()], None, ctx)
            .await?;
        let tokens = self.open_session(&user, ctx).await?;
        Ok((user, tokens))
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
            .create_user(email, password, username, roles, actor, ctx)
            .await
    }

    fn accounts(&self) -> &Accounts {
        &self.accounts
    }

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
            self.audit("signin", None, None, ctx, false, Some("ip_throttled"))
                .await;
            return Err(CoreError::TooManyAttempts { retry_after_secs });
        }
        // The throttle key is the canonical e-mail, whether or not an account
        // exists, so lockout behaves the same for unknown addresses.
        let throttle = self.store.find_login_throttle(email.as_str()).await?;
        if let Some(until) = throttle.locked_until.filter(|until| *until > now) {
            tracing::warn!("sign-in throttled: account locked after repeated failures");
            self.audit("signin", None, None, ctx, false, Some("account_throttled"))
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
        if throttle.failures > 0 {
            self.store.clear_login_failures(email.as_str()).await?;
        }
        if user.status == UserStatus::Banned {
            self.audit(
                "signin",
                Some(user.id),
                Some(user.id),
                ctx,
                false,
                Some("banned"),
            )
            .await;
            return Err(CoreError::AccountBanned);
        }
        let tokens = self.open_session(&user, ctx).await?;
        self.audit("signin", Some(user.id), Some(user.id), ctx, true, None)
            .await;
        Ok(tokens)
    }

    /// Exchanges a refresh token for a new pair; a reused token revokes its session.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        ctx: &RequestContext,
    ) -> Result<IssuedTokens, CoreError> {
        let presented = OpaqueToken::parse(refresh_token, REFRESH_PREFIX)
            .ok_or(CoreError::InvalidRefreshToken)?;
        let hash = presented.hash();
        let now = self.clock.now();
        let session = self
            .store
            .find_session_by_refresh(&hash)
            .await?
            .ok_or(CoreError::InvalidRefreshToken)?;
        let session_id = session.id;
        if session.revoked_at.is_some() {
            return Err(CoreError::SessionRevoked);
        }
        if !session.is_live(now, self.settings.idle_timeout) {
            return Err(CoreError::InvalidRefreshToken);
        }
        // A session token only needs the session, so it is stored before
        // the rotation: a store failure then leaves the refresh token unused.
        let session_token = match self.settings.access_token_kind {
            AccessTokenKind::Session => Some(self.issue_session_token(session_id, now).await?),
            AccessTokenKind::Jwt => None,
        };
        let next = OpaqueToken::generate(REFRESH_PREFIX);
        let record = RefreshRecord {
            token_hash: next.hash(),
            session_id,
            created_at: now,
        };
        let until = now + self.settings.revocation_ttl();
        let user_id = session.user_id;
        let event_for = move |sid: SessionId| session_revoked_event(sid, user_id, until, now);
        let grace = self.settings.refresh_reuse_grace;
        let on_reuse = ReuseRevocation {
            until,
            event_for: &event_for,
            retry_since: (grace > chrono::Duration::zero()).then(|| now - grace),
        };
        let (session, retried) = match self
            .store
            .rotate_refresh_token(&hash, &record, now, &on_reuse)
            .await?
        {
            RotateOutcome::NotFound => return Err(CoreError::InvalidRefreshToken),
            RotateOutcome::Reused { session_id } => {
                tracing::warn!(%session_id, "refresh token reused: session revoked");
                self.denylist.insert(&Revocation {
                    kind: RevocationKind::Session,
                    id: session_id.as_uuid(),
                    not_before: None,
                    until,
                });
                self.audit(
                    "refresh_reuse",
                    Some(session.user_id),
                    Some(session.user_id),
                    ctx,
                    false,
                    Some("session revoked"),
                )
                .await;
                return Err(CoreError::RefreshTokenReused);
            }
            RotateOutcome::Rotated { session } => (session, false),
            RotateOutcome::Retried { session } => (session, true),
        };
        if session.revoked_at.is_some() {
            return Err(CoreError::SessionRevoked);
        }
        let user = self
            .store
            .find_user_by_id(session.user_id)
            .await?
            .ok_or(CoreError::InvalidRefreshToken)?;
        if user.status == UserStatus::Banned {
            return Err(CoreError::SessionRevoked);
        }
        if retried {
            // Not reuse, but worth a trace: a thief inside the window gets
            // the same answer, and the owner's next refresh (with the voided
            // successor) then revokes the family.
            self.audit(
                "refresh_retry",
                Some(user.id),
                Some(user.id),
                ctx,
                true,
                Some("retried within the grace window"),
            )
            .await;
        }
        let (access_token, expires_in) = match session_token {
            Some(issued) => issued,
            None => self.mint(&user, session.id, now)?,
        };
        Ok(IssuedTokens {
            access_token,
            expires_in,
            refresh_token: next,
            session_id: session.id,
        })
    }

    /// Ends the caller's session.
    pub async fn sign_out(&self, who: &Principal, ctx: &RequestContext) -> Result<(), CoreError> {
        let now = self.clock.now();
        self.revoke_session(who.session_id, who.user_id, now)
            .await?;
        self.audit(
            "signout",
            Some(who.user_id),
            Some(who.user_id),
            ctx,
            true,
            None,
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
        self.audit(
            "signout",
            Some(session.user_id),
            Some(session.user_id),
            ctx,
            true,
            None,
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
        let event = OutboxEvent::new(
            "user.tokens_revoked",
            json!({"user_id": who.user_id, "not_before": now, "until": until}),
            now,
        );
        self.store.append_outbox(&[event]).await?;
        self.audit(
            "signout_all",
            Some(who.user_id),
            Some(who.user_id),
            ctx,
            true,
            None,
        )
        .await;
        Ok(())
    }

    /// The caller's account.
    pub async fn me(&self, who: &Principal) -> Result<User, CoreError> {
        self.store
            .find_user_by_id(who.user_id)
            .await?
            .ok_or(CoreError::TokenRevoked)
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
        let session = self
            .store
            .find_session(session_id)
            .await?
            .filter(|s| s.user_id == who.user_id && s.revoked_at.is_none())
            .ok_or(CoreError::NotFound("session"))?;
        self.revoke_session(session.id, who.user_id, self.clock.now())
            .await?;
        self.audit(
            "session_revoke",
            Some(who.user_id),
            Some(who.user_id),
            ctx,
            true,
            None,
        )
        .await;
        Ok(())
    }

    /// Changes the caller's password and revokes their other sessions.
    pub async fn change_password(
        &self,
        who: &Principal,
        current_password: &str,
        new_password: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let current = self.parse_password(current_password, "current_password")?;
        let new = self.parse_password(new_password, "new_password")?;
        let creds = self
            .store
            .find_credentials_by_id(who.user_id)
            .await?
            .ok_or(CoreError::TokenRevoked)?;
        let check = self.hasher.verify(&current, &creds.password_hash).await?;
        if !check.is_match {
            self.audit(
                "password_change",
                Some(who.user_id),
                Some(who.user_id),
                ctx,
                false,
                Some("wrong_password"),
            )
            .await;
            return Err(CoreError::WrongCurrentPassword);
        }
        let user = &creds.user;
        let mut context = vec![user.email.as_str(), user.email.local_part(), "warden"];
        if let Some(name) = user.username.as_deref() {
            context.push(name);
        }
        self.settings.password_policy.check(&new, &context)?;
        let hash = self.hasher.hash(&new).await?;
        let now = self.clock.now();
        self.revoke_all_sessions(who.user_id, Some(who.session_id), now, Some(&hash))
            .await?;
        self.audit(
            "password_change",
            Some(who.user_id),
            Some(who.user_id),
            ctx,
            true,
            None,
        )
        .await;
        Ok(())
    }

    // ----- validation -----

    /// Checks an access token of either kind: a JWT (signature, claims) or
    /// a `wst_` session token (the store), then the deny-list.
    pub async fn validate(&self, token: &str) -> Result<Principal, CoreError> {
        if token.starts_with(SESSION_PREFIX) {
            self.validate_session_token(token).await
        } else {
            self.validate_jwt(token)
        }
    }

    /// A user who holds the `admin` role now (read from the store, so a
    /// demotion or ban takes effect at once, whatever the token says).
    pub async fn authorize_admin(&self, who: &Principal) -> Result<User, CoreError> {
        let user = self.me(who).await?;
        if !user.has_role("admin") || user.status != UserStatus::Active {
            return Err(CoreError::Forbidden {
                any_of: vec!["admin".to_owned()],
            });
        }
        Ok(user)
    }

    /// Checks a session token against the store, or a check of it made
    /// less than `session_cache_ttl` ago; every hit also consults the
    /// deny-list, which every revocation updates, so a revoked session's
    /// token fails at once on this instance whatever the cache holds.
    async fn validate_session_token(&self, token: &str) -> Result<Principal, CoreError> {
        let presented = OpaqueToken::parse(token, SESSION_PREFIX).ok_or(CoreError::InvalidToken)?;
        let now = self.clock.now();
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let ttl = self.settings.session_cache_ttl;
        let cached = self
            .session_checks
            .get(&key)
            .filter(|(p, checked_at)| now < *checked_at + ttl && p.exp > now.timestamp())
            .map(|(p, _)| p);
        let principal = match cached {
            Some(principal) => principal,
            None => {
                let owner = self
                    .store
                    .find_session_token(&presented.hash())
                    .await?
                    .ok_or(CoreError::InvalidToken)?;
                if owner.expires_at <= now {
                    return Err(CoreError::TokenExpired);
                }
                if owner.session_revoked_at.is_some()
                    || owner.user_status != UserStatus::Active
                    || owner.session_expires_at <= now
                {
                    return Err(CoreError::TokenRevoked);
                }
                let principal = Principal {
                    user_id: owner.user_id,
                    session_id: owner.session_id,
                    roles: role_names(&owner.roles),
                    exp: owner.expires_at.timestamp(),
                    iat: owner.issued_at.timestamp(),
                    kind: TokenKind::Session,
                };
                if ttl > chrono::Duration::zero() {
                    self.session_checks.insert(key, (principal.clone(), now));
                }
                principal
            }
        };
        if self.denylist.is_revoked(
            principal.user_id.as_uuid(),
            principal.session_id.as_uuid(),
            principal.iat,
        ) {
            self.session_checks.remove(&key);
            return Err(CoreError::TokenRevoked);
        }
        Ok(principal)
    }

    /// Checks a JWT: signature, claims, and the deny-list.
    fn validate_jwt(&self, token: &str) -> Result<Principal, CoreError> {
        if token.len() > warden_token::MAX_TOKEN_LEN {
            return Err(CoreError::InvalidToken);
        }
        let now = self.clock.now().timestamp();
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let principal = match self.verified.get(&key) {
            Some(principal)
                if principal
                    .exp
                    .saturating_add(self.settings.leeway.num_seconds())
                    > now =>
            {
                principal
            }
            _ => {
                let ring = self.keys.ring();
                let claims = ring.verifier.verify(token, now).map_err(|e| match e {
                    VerifyError::Expired => CoreError::TokenExpired,
                    VerifyError::WrongIssuer {
                        issued_by,
                        expected,
                    } => CoreError::WrongIssuer {
                        issued_by,
                        expected,
                    },
                    _ => CoreError::InvalidToken,
                })?;
                let principal = principal_of(claims)?;
                self.verified.insert(key, principal.clone());
                principal
            }
        };
        if self.denylist.is_revoked(
            principal.user_id.as_uuid(),
            principal.session_id.as_uuid(),
            principal.iat,
        ) {
            return Err(CoreError::TokenRevoked);
        }
        Ok(principal)
    }

    // ----- admin -----

    /// A page of users ordered by id.
    pub async fn list_users(
        &self,
        query: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<User>, CoreError> {
        let after = cursor
            .map(|c| {
                c.parse::<UserId>()
                    .map_err(|_| FieldError::new("cursor", "is not a valid cursor"))
            })
            .transpose()?;
        let limit = page_limit(limit)?;
        if query.is_some_and(|q| q.chars().count() > 254) {
            return Err(FieldError::new("q", "is longer than 254 characters").into());
        }
        let mut users = self.store.list_users(query, after, limit + 1).await?;
        let next_cursor = next_cursor(&mut users, limit, |u| u.id.to_string());
        Ok(Page {
            items: users,
            next_cursor,
        })
    }

    /// One user with their live sessions.
    pub async fn get_user(&self, id: UserId) -> Result<(User, Vec<Session>), CoreError> {
        let user = self
            .store
            .find_user_by_id(id)
            .await?
            .ok_or(CoreError::NotFound("user"))?;
        let sessions = self.store.list_sessions(id, self.clock.now()).await?;
        Ok((user, sessions))
    }

    /// Bans a user: status banned, every session revoked, live tokens refused.
    pub async fn ban(
        &self,
        actor: UserId,
        target: UserId,
        reason: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        if actor == target {
            return Err(FieldError::new(
                "user_id",
                "is the caller's own: admins cannot ban themselves",
            )
            .into());
        }
        let reason = reason.map(|r| bounded_text(r, "reason", 500)).transpose()?;
        let now = self.clock.now();
        let revocation = self.user_revocation(target, now);
        let event = OutboxEvent::new(
            "user.banned",
            json!({"user_id": target, "not_before": revocation.not_before, "until": revocation.until, "reason": reason}),
            now,
        );
        self.store
            .update_user_status(target, UserStatus::Banned, Some(&revocation), &[event])
            .await
            .map_err(not_found("user"))?;
        self.denylist.insert(&revocation);
        self.revoke_all_sessions(target, None, now, None).await?;
        self.audit(
            "ban",
            Some(actor),
            Some(target),
            ctx,
            true,
            reason.as_deref(),
        )
        .await;
        self.admin_user(target).await
    }

    /// Lifts a ban; old sessions stay revoked.
    pub async fn unban(
        &self,
        actor: UserId,
        target: UserId,
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        let now = self.clock.now();
        // The ban's entry is lifted from this second on, not dropped: the
        // feed may still replay the ban (decision 16).
        let until = now + self.settings.revocation_ttl();
        let data = json!({"user_id": target, "until": until});
        let event = OutboxEvent::new("user.unbanned", data.clone(), now);
        self.store
            .update_user_status(target, UserStatus::Active, None, &[event])
            .await
            .map_err(not_found("user"))?;
        self.denylist.apply_unban(&data, now);
        self.audit("unban", Some(actor), Some(target), ctx, true, None)
            .await;
        self.admin_user(target).await
    }

    /// Replaces a user's roles; tokens pick them up at the next refresh.
    pub async fn set_roles(
        &self,
        actor: UserId,
        target: UserId,
        roles: &[String],
        ctx: &RequestContext,
    ) -> Result<User, CoreError> {
        if roles.len() > 32 {
            return Err(FieldError::new("roles", "has more than 32 entries").into());
        }
        let mut parsed = roles
            .iter()
            .map(|r| Role::parse(r))
            .collect::<Result<Vec<_>, _>>()?;
        parsed.sort();
        parsed.dedup();
        let now = self.clock.now();
        let event = OutboxEvent::new(
            "user.roles_changed",
            json!({"user_id": target, "roles": role_names(&parsed)}),
            now,
        );
        self.store
            .update_user_roles(target, &parsed, &[event])
            .await
            .map_err(not_found("user"))?;
        let detail = role_names(&parsed).join(",");
        self.audit(
            "roles_change",
            Some(actor),
            Some(target),
            ctx,
            true,
            Some(&detail),
        )
        .await;
        self.admin_user(target).await
    }

    /// Deletes a user and their sessions.
    pub async fn delete_user(
        &self,
        actor: UserId,
        target: UserId,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        if actor == target {
            return Err(FieldError::new(
                "user_id",
                "is the caller's own: admins cannot delete themselves",
            )
            .into());
        }
        let now = self.clock.now();
        let revocation = self.user_revocation(target, now);
        // `not_before`/`until` as in `user.banned`: a verifier elsewhere must
        // refuse the deleted user's live tokens just the same.
        let event = OutboxEvent::new(
            "user.deleted",
            json!({"user_id": target, "not_before": revocation.not_before, "until": revocation.until}),
            now,
        );
        self.store
            .delete_user(target, &revocation, &[event])
            .await
            .map_err(not_found("user"))?;
        self.denylist.insert(&revocation);
        self.audit("delete", Some(actor), Some(target), ctx, true, None)
            .await;
        Ok(())
    }

    /// A page of the audit log, newest first.
    pub async fn list_audit(
        &self,
        user: Option<&str>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<AuditEntry>, CoreError> {
        let user = user
            .map(|u| {
                u.parse::<UserId>()
                    .map_err(|_| FieldError::new("user", "is not a user id"))
            })
            .transpose()?;
        let before = cursor
            .map(|c| {
                c.parse::<AuditId>()
                    .map_err(|_| FieldError::new("cursor", "is not a valid cursor"))
            })
            .transpose()?;
        let limit = page_limit(limit)?;
        let mut entries = self.store.list_audit(user, before, limit + 1).await?;
        let next_cursor = next_cursor(&mut entries, limit, |e| e.id.to_string());
        Ok(Page {
            items: entries,
            next_cursor,
        })
    }

    /// Rotates the signing key.
    pub async fn rotate_keys(&self) -> Result<KeyInfo, CoreError> {
        self.keys.rotate().await
    }

    // ----- internals -----

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
        self.audit("signin", None, known_user, ctx, false, Some(reason))
            .await;
        let event = OutboxEvent::new(
            "user.sign_in_failed",
            json!({"user_id": known_user, "ip": ctx.ip, "at": now}),
            now,
        );
        if let Err(e) = self.store.append_outbox(&[event]).await {
            tracing::error!(error = %e, "could not record the sign-in failure event");
        }
        Ok(CoreError::InvalidCredentials)
    }

    fn parse_password(&self, raw: &str, field: &'static str) -> Result<Password, CoreError> {
        Password::parse(raw, field, self.settings.password_policy.max_chars)
    }

    async fn admin_user(&self, id: UserId) -> Result<User, CoreError> {
        self.store
            .find_user_by_id(id)
            .await?
            .ok_or(CoreError::NotFound("user"))
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

    async fn open_session(
        &self,
        user: &User,
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
        };
        let refresh = OpaqueToken::generate(REFRESH_PREFIX);
        let record = RefreshRecord {
            token_hash: refresh.hash(),
            session_id: session.id,
            created_at: now,
        };
        let event = OutboxEvent::new(
            "user.signed_in",
            json!({"user_id": user.id, "ip": ctx.ip, "at": now}),
            now,
        );
        self.store
            .create_session(&session, &record, &[event])
            .await?;
        let (access_token, expires_in) = match self.settings.access_token_kind {
            AccessTokenKind::Jwt => self.mint(user, session.id, now)?,
            AccessTokenKind::Session => self.issue_session_token(session.id, now).await?,
        };
        Ok(IssuedTokens {
            access_token,
            expires_in,
            refresh_token: refresh,
            session_id: session.id,
        })
    }

    /// A new `wst_` token for `session`, stored hashed; lives as long as a JWT would.
    async fn issue_session_token(
        &self,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<(String, i64), CoreError> {
        let token = OpaqueToken::generate(SESSION_PREFIX);
        let ttl = self.settings.access_token_ttl;
        self.store
            .create_session_token(&SessionTokenRecord {
                token_hash: token.hash(),
                session_id: session,
                created_at: now,
                expires_at: now + ttl,
            })
            .await?;
        Ok((token.expose().to_owned(), ttl.num_seconds()))
    }

    fn mint(
        &self,
        user: &User,
        session: SessionId,
        now: DateTime<Utc>,
    ) -> Result<(String, i64), CoreError> {
        let ttl = self.settings.access_token_ttl.num_seconds();
        let claims = AccessClaims {
            iss: self.settings.issuer.clone(),
            sub: user.id.to_string(),
            aud: Audience::One(self.settings.audience.clone()),
            exp: now.timestamp() + ttl,
            iat: now.timestamp(),
            nbf: now.timestamp(),
            jti: uuid::Uuid::new_v4().to_string(),
            sid: session.to_string(),
            roles: role_names(&user.roles),
        };
        let token = self
            .keys
            .ring()
            .signer
            .sign(&claims)
            .map_err(|e| CoreError::Unexpected(format!("signing failed: {e}")))?;
        Ok((token, ttl))
    }

    fn user_revocation(&self, user: UserId, now: DateTime<Utc>) -> Revocation {
        // Rounded up to the next second: `iat` has second precision, and every
        // token issued up to now must match.
        let not_before = DateTime::from_timestamp(now.timestamp() + 1, 0).unwrap_or(now);
        Revocation {
            kind: RevocationKind::User,
            id: user.as_uuid(),
            not_before: Some(not_before),
            until: now + self.settings.revocation_ttl(),
        }
    }

    async fn revoke_session(
        &self,
        session: SessionId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<(), CoreError> {
        let until = now + self.settings.revocation_ttl();
        let revocation = Revocation {
            kind: RevocationKind::Session,
            id: session.as_uuid(),
            not_before: None,
            until,
        };
        let event = session_revoked_event(session, user, until, now);
        self.store
            .revoke_session(session, now, &revocation, &[event])
            .await?;
        self.denylist.insert(&revocation);
        Ok(())
    }

    async fn revoke_all_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        password_hash: Option<&str>,
    ) -> Result<(), CoreError> {
        let until = now + self.settings.revocation_ttl();
        let event_for = move |session: SessionId| session_revoked_event(session, user, until, now);
        let revoked = self
            .store
            .revoke_user_sessions(user, keep, now, until, password_hash, &event_for)
            .await?;
        for session in revoked {
            self.denylist.insert(&Revocation {
                kind: RevocationKind::Session,
                id: session.as_uuid(),
                not_before: None,
                until,
            });
        }
        Ok(())
    }

    async fn audit(
        &self,
        action: &str,
        actor: Option<UserId>,
        target: Option<UserId>,
        ctx: &RequestContext,
        success: bool,
        detail: Option<&str>,
    ) {
        crate::accounts::record_audit(
            &*self.store,
            &*self.clock,
            action,
            actor,
            target,
            ctx,
            success,
            detail,
        )
        .await;
    }
}

fn session_revoked_event(
    session: SessionId,
    user: UserId,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> OutboxEvent {
    OutboxEvent::new(
        "session.revoked",
        json!({"session_id": session, "user_id": user, "until": until}),
        now,
    )
}

fn principal_of(claims: AccessClaims) -> Result<Principal, CoreError> {
    Ok(Principal {
        user_id: claims.sub.parse().map_err(|_| CoreError::InvalidToken)?,
        session_id: claims.sid.parse().map_err(|_| CoreError::InvalidToken)?,
        roles: claims.roles,
        exp: claims.exp,
        iat: claims.iat,
        kind: TokenKind::Jwt,
    })
}

pub(crate) fn role_names(roles: &[Role]) -> Vec<String> {
    roles.iter().map(|r| r.as_str().to_owned()).collect()
}

fn not_found(what: &'static str) -> impl Fn(StoreError) -> CoreError {
    move |e| match e {
        StoreError::NotFound => CoreError::NotFound(what),
        other => other.into(),
    }
}

pub(crate) fn parse_username(raw: &str) -> Result<String, CoreError> {
    let name = bounded_text(raw.trim(), "username", 64)?;
    if name.is_empty() {
        return Err(FieldError::new("username", "must not be empty").into());
    }
    Ok(name)
}

fn bounded_text(raw: &str, field: &'static str, max: usize) -> Result<String, CoreError> {
    if raw.chars().count() > max {
        return Err(FieldError::new(field, format!("is longer than {max} characters")).into());
    }
    if raw.chars().any(char::is_control) {
        return Err(FieldError::new(field, "must not contain control characters").into());
    }
    Ok(raw.to_owned())
}

fn page_limit(limit: Option<u32>) -> Result<u32, CoreError> {
    match limit {
        None => Ok(50),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => {
            Err(FieldError::new("limit", format!("must be between 1 and {MAX_PAGE}")).into())
        }
    }
}

fn next_cursor<T>(
    items: &mut Vec<T>,
    limit: u32,
    cursor_of: impl Fn(&T) -> String,
) -> Option<String> {
    if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(cursor_of)
    } else {
        None
    }
}

/// What [`backfill_email_skeletons`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SkeletonBackfill {
    /// Accounts that got their skeleton.
    pub filled: u64,
    /// Accounts left without one because an older account already holds the
    /// same skeleton (look-alikes created before the rule); logged.
    pub collisions: u64,
}

/// Computes the e-mail skeleton of every account created before migration
/// 0004 (the skeleton needs Rust code, so SQL cannot fill it in; see
/// docs/decisions/0015-email-identity.md). Runs at start, before requests;
/// cheap when nothing is missing. Accounts whose skeleton an older account
/// already holds keep none: both stay usable, and a warning names them for
/// an operator to resolve.
pub async fn backfill_email_skeletons(store: &dyn Store) -> Result<SkeletonBackfill, StoreError> {
    const PAGE: u32 = 500;
    let mut done = SkeletonBackfill::default();
    let mut after = None;
    loop {
        let page = store.find_users_without_email_skeleton(after, PAGE).await?;
        for (id, stored) in &page {
            let Ok(email) = Email::from_stored(stored) else {
                tracing::warn!(user_id = %id, "stored e-mail cannot be read; no skeleton");
                continue;
            };
            match store.update_email_skeleton(*id, &email.skeleton()).await {
                Ok(()) => done.filled += 1,
                Err(StoreError::Conflict) => {
                    done.collisions += 1;
                    tracing::warn!(
                        user_id = %id,
                        "e-mail looks like another account's; left without a skeleton"
                    );
                }
                Err(StoreError::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        after = page.last().map(|(id, _)| *id);
        if page.len() < PAGE as usize {
            break;
        }
    }
    if done.filled > 0 || done.collisions > 0 {
        tracing::info!(
            filled = done.filled,
            collisions = done.collisions,
            "computed e-mail skeletons of existing accounts"
        );
    }
    Ok(done)
}

/// A page of the revocation feed as this instance follows it.
struct FeedPage {
    cursor: String,
    items: Vec<FeedItem>,
    has_more: bool,
}

/// A revocation, or an unban that lifts an earlier one.
enum FeedItem {
    Revocation(Revocation),
    Unban {
        data: serde_json::Value,
        at: DateTime<Utc>,
    },
}
