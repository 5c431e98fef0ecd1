//! The use cases: sign up, sign in, refresh, sign out, validate, and the
//! admin actions. Transports (HTTP, gRPC, CLI) call these and translate.
//!
//! One file per job, each adding an `impl AuthService` block: `accounts`,
//! `sign_in`, `tokens` (issuing and validating), `sessions`, `admin`,
//! `feed` (the revocation feed), `lifecycle` (e-mail verification, e-mail
//! change, deleting one's account), `recovery` (forgotten passwords) and
//! `social` (social sign-in after the provider spoke), `mfa` (second
//! factors and the second step of a sign-in), `clients` (the OAuth
//! clients Warden serves as a provider) and `provider` (Warden as an OAuth
//! 2.0 / OpenID Connect provider: authorization, the token endpoint's
//! grants, userinfo, introspection, revocation), `user_admin` (managing
//! other people's accounts on the store alone: [`UserAdmin`], which the
//! admin API, the admin console and the operator CLI share) and
//! `overview` (the admin console's figures).
//! What they share lives here.

mod accounts;
mod admin;
mod backfill;
mod clients;
mod feed;
mod lifecycle;
mod mfa;
mod overview;
mod passkeys;
mod provider;
mod recovery;
mod sessions;
mod sign_in;
mod social;
mod tokens;
mod user_admin;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use warden_token::{VerifiedCache, VerifierConfig};

pub use backfill::{SkeletonBackfill, backfill_email_skeletons};
pub use clients::ClientRegistry;
pub use mfa::{
    MFA_MAX_FAILURES, MFA_TOKEN_PREFIX, MFA_TOKEN_TTL, MfaStatus, REAUTH_WINDOW, SecondFactor,
    TotpEnrolment,
};
pub use overview::{HourOfSignIns, Overview};
pub use passkeys::{PASSKEY_CHALLENGE_PREFIX, PasskeyOptions, RegisteredPasskey};
pub use provider::{
    AuthorizationRequest, AuthorizeFailure, AuthorizeParams, ClientCredentials, LogoutRequest,
    OAuthTokens, ProviderError, TokenActivity, error_redirect, with_query,
};
pub use social::SocialAccount;
pub use user_admin::{Unbanned, UserAdmin};

use crate::accounts::Accounts;
use crate::audit::Audit;
use crate::denylist::DenyList;
use crate::error::{CoreError, FieldError};
use crate::ids::{SessionId, UserId};
use crate::ip_limit::IpFailureLimit;
use crate::keys::{KeyManager, KeyRing};
use crate::links::LinkMailer;
use crate::model::{Authentication, Role, Session};
use crate::opaque::OpaqueToken;
use crate::password::{Password, PasswordHasher};
use crate::ports::{Clock, Store};
use crate::settings::AuthSettings;

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
///
/// warden-verify has its own `Principal` with the same field names and
/// meaning, on purpose (decision 0020): this one speaks the domain's typed
/// ids ([`UserId`], [`SessionId`]) and knows the [`TokenKind`], while
/// warden-verify's is the public type of a library embedded in other
/// services, which must not depend on warden-core (and so on sqlx).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// `sub`.
    pub user_id: UserId,
    /// `sid`.
    pub session_id: SessionId,
    /// `roles`.
    pub roles: Vec<String>,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
    /// `iat`, Unix seconds.
    pub issued_at: i64,
    /// JWT or session token.
    pub kind: TokenKind,
    /// `amr`, `acr` and `auth_time`.
    pub authentication: Authentication,
    /// The OAuth client the token was issued to (`client_id`); `None` for
    /// Warden's own sign-ins.
    pub client_id: Option<String>,
    /// The scopes granted to that client (`scope`), space-separated.
    pub scope: Option<String>,
}

impl Principal {
    /// Whether the token carries `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Whether the token's session presented two factors (`aal2`).
    pub fn is_multi_factor(&self) -> bool {
        self.authentication.is_multi_factor()
    }
}

/// A service's own access token (client credentials): no user and no
/// session behind it; `sub` and `client_id` are the client's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePrincipal {
    /// The OAuth client (`sub`, `client_id`).
    pub client_id: String,
    /// The granted scopes (`scope`), space-separated; may be empty.
    pub scope: String,
    /// `exp`, Unix seconds.
    pub expires_at: i64,
    /// `iat`, Unix seconds.
    pub issued_at: i64,
}

impl ServicePrincipal {
    /// Whether `scope` was granted.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope.split(' ').any(|s| s == scope)
    }
}

/// Who a valid access token speaks for: a user (through one of their
/// sessions) or a service. Only the checks that answer for any caller
/// (`/v1/validate`, forward auth, ext_authz, introspection) take both;
/// everything that acts for a user takes a [`Principal`], so a service's
/// token never passes where a user is meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A user's token.
    User(Principal),
    /// A service's token.
    Service(ServicePrincipal),
}

impl Caller {
    /// `iat`.
    pub fn issued_at(&self) -> i64 {
        match self {
            Caller::User(p) => p.issued_at,
            Caller::Service(s) => s.issued_at,
        }
    }

    /// `exp`.
    pub fn expires_at(&self) -> i64 {
        match self {
            Caller::User(p) => p.expires_at,
            Caller::Service(s) => s.expires_at,
        }
    }

    /// The granted scopes, when the token was issued to an OAuth client.
    pub fn scope(&self) -> Option<&str> {
        match self {
            Caller::User(p) => p.scope.as_deref(),
            Caller::Service(s) => Some(&s.scope),
        }
    }

    /// Whether `scope` was granted (a first-party sign-in has no scopes).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope()
            .is_some_and(|granted| granted.split(' ').any(|s| s == scope))
    }

    /// What the identity headers tell an upstream of this caller.
    pub fn identity(&self) -> warden_edge::credentials::Identity<'_> {
        use warden_edge::credentials::Identity;
        match self {
            Caller::User(p) => Identity::User {
                user: p.user_id.to_string(),
                session: p.session_id.to_string(),
                roles: &p.roles,
                acr: p.authentication.acr(),
                amr: p.authentication.amr(),
                client: p.client_id.as_deref(),
                scope: p.scope.as_deref(),
            },
            Caller::Service(s) => Identity::Service {
                client: &s.client_id,
                scope: &s.scope,
            },
        }
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

/// Largest page.
pub const MAX_PAGE: u32 = 100;
/// Already-verified access tokens remembered, so a hot token costs a hash
/// lookup instead of a signature check (warden-token's cache, by the rule of
/// decision 0013: bound to the key ring that checked them).
const VERIFIED_CACHE_ENTRIES: usize = 100_000;
/// Session-token checks remembered (each for `session_cache_ttl` at most).
const SESSION_CACHE_ENTRIES: usize = 100_000;
/// Introspecting clients remembered (each for `session_cache_ttl` at most).
const CLIENT_CACHE_ENTRIES: usize = 10_000;

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
    /// Administration of other people's accounts (shared with the CLI).
    users: UserAdmin,
    denylist: Arc<DenyList>,
    ip_limit: IpFailureLimit,
    /// Password-reset requests per client IP.
    forgot_ip_limit: IpFailureLimit,
    /// Password-less passkey ceremonies started per client IP (each is a
    /// stored state until it is answered or expires).
    ceremony_ip_limit: IpFailureLimit,
    verified: Option<VerifiedCache<Caller, KeyRing>>,
    /// Session-token checks: the principal and when the store confirmed it.
    session_checks: quick_cache::sync::Cache<[u8; 32], (Principal, DateTime<Utc>)>,
    /// Whether a user holds a role of `[mfa] required_for_roles`, and when
    /// the store said so (each kept for `session_cache_ttl` at most).
    gated_role_checks: quick_cache::sync::Cache<UserId, (bool, DateTime<Utc>)>,
    /// Clients that called introspection (see `authenticate_reader`).
    client_checks: Arc<clients::ClientChecks>,
    settings: AuthSettings,
    /// Runs the passkey ceremonies (`[webauthn]`).
    relying_party: crate::passkeys::RelyingParty,
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
        let relying_party = crate::passkeys::RelyingParty::new(&settings.webauthn)
            .map_err(|e| CoreError::Unexpected(format!("[webauthn]: {e}")))?;
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
            users: UserAdmin::new(
                store.clone(),
                clock.clone(),
                hasher.clone(),
                settings.clone(),
            ),
            ip_limit: IpFailureLimit::new(settings.ip_failures_per_minute),
            forgot_ip_limit: IpFailureLimit::new(settings.forgot_per_ip_per_minute),
            ceremony_ip_limit: IpFailureLimit::new(passkeys::CEREMONIES_PER_IP_PER_MINUTE),
            verified: VerifiedCache::new(VERIFIED_CACHE_ENTRIES),
            session_checks: quick_cache::sync::Cache::new(SESSION_CACHE_ENTRIES),
            gated_role_checks: quick_cache::sync::Cache::new(SESSION_CACHE_ENTRIES),
            client_checks: Arc::new(quick_cache::sync::Cache::new(CLIENT_CACHE_ENTRIES)),
            store,
            clock,
            hasher,
            keys,
            denylist,
            settings,
            relying_party,
            feed_cursor: tokio::sync::Mutex::new(None),
        })
    }

    /// Now, by the service's clock (a fake one in tests).
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
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
    /// revocations, deletes expired session tokens and authorization
    /// codes, and prunes published outbox events no feed reader can still
    /// need (every revocation they carry has expired).
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
        // A send throttle's hour-long window must be remembered for an hour.
        self.store
            .prune_links(now - chrono::Duration::hours(1))
            .await?;
        self.store.prune_exchange_codes(now).await?;
        // An hour past expiry, a replayed authorization code is still
        // recognised as one (and the session it opened revoked) rather
        // than unknown.
        self.store
            .delete_expired_authorization_codes(now - chrono::Duration::hours(1))
            .await?;
        self.store.prune_mfa_challenges(now).await?;
        self.store.prune_webauthn_challenges(now).await?;
        self.keys.reload().await
    }

    fn link_mailer(&self) -> LinkMailer {
        link_mailer(&self.settings)
    }

    fn parse_password(&self, raw: &str, field: &'static str) -> Result<Password, CoreError> {
        Password::parse(raw, field, self.settings.password_policy.max_chars)
    }

    async fn record(&self, audit: Audit<'_>, ctx: &RequestContext) {
        audit.record(&*self.store, &*self.clock, ctx).await;
    }
}

/// The mailer of `settings`' links: where they point, how long they live.
fn link_mailer(settings: &AuthSettings) -> LinkMailer {
    LinkMailer {
        public_url: settings.public_url.clone(),
        lifetimes: settings.link_lifetimes,
    }
}

/// Checks a new password of `user` against `policy`, with what it must not
/// resemble: the address, its local part, the name, and "warden".
fn check_new_password(
    policy: &crate::password::PasswordPolicy,
    new: &Password,
    user: &crate::model::User,
) -> Result<(), CoreError> {
    let mut context = vec![user.email.as_str(), user.email.local_part(), "warden"];
    if let Some(name) = user.username.as_deref() {
        context.push(name);
    }
    policy.check(new, &context)?;
    Ok(())
}

/// Stores a password-reset link for `user` at `to` with its mail, within
/// the per-address send limit (keyed by `throttled`, the address asked
/// for): 429 past it.
async fn request_reset_link(
    store: &dyn Store,
    settings: &AuthSettings,
    user: crate::ids::UserId,
    to: &crate::email::Email,
    throttled: &str,
    now: DateTime<Utc>,
) -> Result<(), CoreError> {
    let (link, mail) =
        link_mailer(settings).link(crate::links::LinkPurpose::PasswordReset, user, to, now);
    let key = crate::links::throttle_key("password_reset", throttled);
    let throttle = crate::links::SendThrottle {
        key: &key,
        limit: settings.link_send_limit,
        now,
    };
    let outcome = store.request_link(&throttle, Some(&link), &[mail]).await?;
    if let crate::links::SendOutcome::Throttled { retry_after_secs } = outcome {
        return Err(CoreError::TooManyRequests { retry_after_secs });
    }
    Ok(())
}

pub(crate) fn role_names(roles: &[Role]) -> Vec<String> {
    roles.iter().map(|r| r.as_str().to_owned()).collect()
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
