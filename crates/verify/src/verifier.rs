//! The verifier: keys, checks, deny-list, freshness, and the background
//! tasks that keep them current.

use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;
use warden_token::revocation::{DenyList, service_subject};
use warden_token::{Algorithm, JwkSet, VerifierConfig};

use crate::error::{BuildError, BuildErrorKind, VerifyError, VerifyErrorKind};
use crate::feed::{self, RevocationFeed};
use crate::jwks;
use crate::principal::{AnyPrincipal, Principal, ServicePrincipal};
use crate::session::{self, SessionCache};
use warden_token::VerifiedCache;
use warden_token::clock::{Clock, SystemClock};

/// What to do while revocations are too stale to trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StalePolicy {
    /// Keep verifying signatures and claims; report not ready (the default:
    /// an outage of the feed does not take your service down).
    #[default]
    Report,
    /// Reject every token until the feed is fresh again (fail closed).
    Reject,
}

/// Builds a [`Verifier`].
#[derive(Debug)]
pub struct VerifierBuilder {
    issuer: Option<String>,
    endpoint: Option<String>,
    audience: String,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    jwks: Option<JwkSet>,
    feed: RevocationFeed,
    max_staleness: Duration,
    stale_policy: StalePolicy,
    min_refetch_interval: Duration,
    clock: Option<Arc<dyn Clock>>,
    http: Option<reqwest::Client>,
    session_cache: (Duration, usize),
    verified_cache: usize,
}

impl VerifierBuilder {
    /// Warden's public base URL: the required `iss`, where discovery, the
    /// JWKS and the revocation feed are found.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Where this service reaches Warden, when that is not the public
    /// issuer URL (inside a cluster: `http://warden:8080`). The JWKS is then
    /// read from `<endpoint>/.well-known/jwks.json` and the feed from
    /// `<endpoint>/v1/revocations`; tokens must still carry the issuer.
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// The audience that must be in `aud` (default `warden`).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Accepted algorithms (default: EdDSA, ES256, RS256). Never HMAC or `none`.
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Clock-skew leeway for `exp`/`nbf` (default 30 s, at most 60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.min(Duration::from_secs(warden_token::MAX_LEEWAY_SECS));
        self
    }

    /// Use this fixed key set instead of discovering the issuer's (offline
    /// use and tests; no key rotation).
    pub fn jwks(mut self, jwks: JwkSet) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// Where revocations come from (default: poll the feed every 5 s).
    pub fn revocations(mut self, feed: RevocationFeed) -> Self {
        self.feed = feed;
        self
    }

    /// How stale revocations may get before the verifier reports not ready
    /// (default 30 s).
    pub fn max_staleness(mut self, max: Duration) -> Self {
        self.max_staleness = max;
        self
    }

    /// What to do beyond [`max_staleness`](Self::max_staleness).
    pub fn stale_policy(mut self, policy: StalePolicy) -> Self {
        self.stale_policy = policy;
        self
    }

    /// Least time between two JWKS fetches caused by unknown `kid`s
    /// (default 10 s), so forged key ids cannot make the verifier hammer
    /// the issuer.
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// The clock (default: the system clock); a fake one makes expiry,
    /// staleness and refetch limits testable.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// How long Warden's answer for an opaque `wst_` session token is reused
    /// (default and at most [`MAX_SESSION_CACHE_TTL`](crate::MAX_SESSION_CACHE_TTL), 5 s;
    /// zero asks Warden every time) and how many answers are kept (default
    /// 10 000). A revocation that reaches the deny-list overrides the cache.
    pub fn session_cache(mut self, ttl: Duration, max_entries: usize) -> Self {
        self.session_cache = (ttl, max_entries);
        self
    }

    /// How many verified JWTs are remembered (default 10 000; 0: none), so a
    /// token seen again costs a SHA-256 and a lookup instead of a signature
    /// check. An entry is used only with the same key set it was checked
    /// with and before its `exp`; the deny-list and the staleness policy
    /// still apply on every use, so revocations bite as fast as without it.
    pub fn verified_cache(mut self, max_entries: usize) -> Self {
        self.verified_cache = max_entries;
        self
    }

    /// The HTTP client for discovery, JWKS and the feed (default: one with
    /// a 5 s timeout).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Builds the verifier and starts its background tasks (inside a Tokio
    /// runtime). Loads the keys and the revocations once before returning;
    /// if the issuer is unreachable it still returns (not ready) and keeps
    /// trying. Fails only on configuration errors.
    pub async fn build(self) -> Result<Verifier, BuildError> {
        let issuer = self
            .issuer
            .ok_or_else(|| BuildError::new(BuildErrorKind::Issuer, "the issuer URL is required"))?;
        if issuer.is_empty() {
            return Err(BuildError::new(
                BuildErrorKind::Issuer,
                "the issuer URL is empty",
            ));
        }
        let endpoint = self
            .endpoint
            .clone()
            .unwrap_or_else(|| issuer.clone())
            .trim_end_matches('/')
            .to_owned();
        let needs_http = self.jwks.is_none() || self.feed.enabled;
        if needs_http && !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(BuildError::new(
                BuildErrorKind::Issuer,
                "the issuer (or endpoint) must be an http(s) URL",
            ));
        }
        if self.algorithms.is_empty() {
            return Err(BuildError::new(
                BuildErrorKind::Algorithms,
                "no algorithm allowed",
            ));
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .connect_timeout(Duration::from_secs(2))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| {
                    BuildError::new(BuildErrorKind::HttpClient, format!("HTTP client: {e}"))
                })?,
        };
        let config = VerifierConfig {
            issuer: issuer.clone(),
            audience: self.audience.clone(),
            algorithms: self.algorithms.clone(),
            leeway_secs: self.leeway.as_secs(),
        };
        let static_keys = self.jwks.is_some();
        let keys = match &self.jwks {
            Some(set) => warden_token::Verifier::from_jwks(config.clone(), set).map_err(|e| {
                BuildError::new(BuildErrorKind::KeySet, format!("the key set: {e}"))
            })?,
            None => warden_token::Verifier::new(config.clone()),
        };
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let inner = Arc::new(Inner {
            issuer,
            config,
            http,
            keys: RwLock::new(Arc::new(keys)),
            keys_loaded: std::sync::atomic::AtomicBool::new(static_keys),
            static_keys,
            jwks_uri: tokio::sync::Mutex::new(
                self.endpoint
                    .is_some()
                    .then(|| format!("{endpoint}/.well-known/jwks.json")),
            ),
            endpoint,
            last_fetch: Mutex::new(None),
            refetch: tokio::sync::Mutex::new(()),
            min_refetch: self.min_refetch_interval,
            denylist: Arc::new(DenyList::new()),
            sessions: Arc::new(SessionCache::new(
                self.session_cache.0,
                self.session_cache.1,
            )),
            verified: VerifiedCache::new(self.verified_cache),
            clock,
            feed: self.feed,
            feed_confirmed: Mutex::new(None),
            cursor: tokio::sync::Mutex::new(None),
            max_staleness: self.max_staleness,
            stale_policy: self.stale_policy,
            #[cfg(any(feature = "nats", feature = "amqp"))]
            bus: Mutex::new(None),
            tasks: Mutex::new(Vec::new()),
        });
        let verifier = Verifier { inner };
        verifier.start().await?;
        Ok(verifier)
    }
}

struct Inner {
    issuer: String,
    endpoint: String,
    config: VerifierConfig,
    http: reqwest::Client,
    keys: RwLock<Arc<warden_token::Verifier>>,
    keys_loaded: std::sync::atomic::AtomicBool,
    static_keys: bool,
    jwks_uri: tokio::sync::Mutex<Option<String>>,
    last_fetch: Mutex<Option<DateTime<Utc>>>,
    refetch: tokio::sync::Mutex<()>,
    min_refetch: Duration,
    denylist: Arc<DenyList>,
    sessions: Arc<SessionCache>,
    /// Verified JWTs, bound to the key set that checked them (decision 0013).
    verified: Option<VerifiedCache<AnyPrincipal, warden_token::Verifier>>,
    clock: Arc<dyn Clock>,
    feed: RevocationFeed,
    feed_confirmed: Mutex<Option<DateTime<Utc>>>,
    cursor: tokio::sync::Mutex<Option<String>>,
    max_staleness: Duration,
    stale_policy: StalePolicy,
    #[cfg(any(feature = "nats", feature = "amqp"))]
    bus: Mutex<Option<warden_events::Subscription>>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in self
            .tasks
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }
}

/// Verifies Warden access tokens locally. Cheap to clone (one shared state);
/// background tasks stop when the last clone is dropped.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.config.audience)
            .field("ready", &self.is_ready())
            .finish()
    }
}

impl Verifier {
    /// A builder with the defaults.
    pub fn builder() -> VerifierBuilder {
        VerifierBuilder {
            issuer: None,
            endpoint: None,
            audience: "warden".to_owned(),
            algorithms: Algorithm::ALL.to_vec(),
            leeway: Duration::from_secs(30),
            jwks: None,
            feed: RevocationFeed::default(),
            max_staleness: Duration::from_secs(30),
            stale_policy: StalePolicy::Report,
            min_refetch_interval: Duration::from_secs(10),
            clock: None,
            http: None,
            session_cache: (session::MAX_CACHE_TTL, 10_000),
            verified_cache: 10_000,
        }
    }

    async fn start(&self) -> Result<(), BuildError> {
        if !self.inner.static_keys {
            if let Err(e) = self.refresh_keys().await {
                tracing::warn!(error = %e, issuer = %self.inner.issuer, "warden-verify: could not load the issuer's keys yet");
            }
            let weak = Arc::downgrade(&self.inner);
            self.spawn(refresh_keys_periodically(weak));
        }
        if self.inner.feed.enabled {
            #[cfg(any(feature = "nats", feature = "amqp"))]
            if let Some(url) = self.inner.feed.bus_url.clone() {
                let denylist = self.inner.denylist.clone();
                let sessions = self.inner.sessions.clone();
                let sink: Arc<dyn Fn(warden_events::CloudEvent) + Send + Sync> =
                    Arc::new(move |event| {
                        denylist.apply(&event);
                        if let Some(revocation) = event.revocation() {
                            sessions.forget(&revocation);
                        }
                    });
                let subscription =
                    warden_events::subscribe(&url, self.inner.feed.bus_names.clone(), sink)
                        .map_err(|e| BuildError::new(BuildErrorKind::Bus, e.to_string()))?;
                *self.inner.bus.lock().unwrap_or_else(|e| e.into_inner()) = Some(subscription);
            }
            #[cfg(not(any(feature = "nats", feature = "amqp")))]
            if self.inner.feed.bus_url.is_some() {
                return Err(BuildError::new(
                    BuildErrorKind::Bus,
                    "a bus URL needs the `nats` or `amqp` feature",
                ));
            }
            if let Err(e) = self.poll_feed().await {
                tracing::warn!(error = %e, "warden-verify: revocation feed not reachable yet");
            }
            let weak = Arc::downgrade(&self.inner);
            self.spawn(poll_feed_periodically(weak));
        }
        Ok(())
    }

    fn spawn(&self, future: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(future);
        self.inner
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }

    /// Checks `token` (without `Bearer `) and returns whom it speaks for.
    ///
    /// A JWT is checked locally. Order: shape, header, key (an unknown `kid`
    /// causes at most one rate-limited JWKS refetch), signature, claims,
    /// staleness policy, deny-list.
    ///
    /// An opaque `wst_` session token is sent to Warden's `/v1/validate`
    /// with the service credential of [`RevocationFeed::service_token`]
    /// (answers cached briefly, see [`VerifierBuilder::session_cache`]),
    /// then checked against the deny-list. Without a credential it is
    /// refused at once ([`VerifyErrorKind::SessionTokenUnsupported`]); when
    /// Warden cannot answer the error is [`VerifyErrorKind::Unavailable`]
    /// (a 503, not a 401).
    pub async fn verify(&self, token: &str) -> Result<Principal, VerifyError> {
        match self.verify_any(token).await? {
            AnyPrincipal::User(principal) => Ok(principal),
            AnyPrincipal::Service(_) => Err(VerifyError::new(VerifyErrorKind::UserRequired)),
        }
    }

    /// As [`Verifier::verify`], and also accepts a service's own token
    /// (OAuth client credentials: `sub` is the client id, no session),
    /// revoked when its client is deleted.
    pub async fn verify_any(&self, token: &str) -> Result<AnyPrincipal, VerifyError> {
        if token.starts_with(session::SESSION_TOKEN_PREFIX) {
            return self
                .verify_session_token(token)
                .await
                .map(AnyPrincipal::User);
        }
        let mut keys = self.keys();
        let cache = (self.inner.verified.as_ref()).map(|c| (c, warden_token::token_digest(token)));
        if let Some((c, key)) = &cache
            && let Some(principal) = c.get(key, &keys, self.inner.clock.now().timestamp())
        {
            return self.accept(principal);
        }
        let claims = match self.check(&keys, token) {
            Err(warden_token::VerifyError::UnknownKey) if self.refetch_for_unknown_kid().await => {
                keys = self.keys();
                self.check(&keys, token)
            }
            other => other,
        }
        .map_err(|e| match e {
            warden_token::VerifyError::Expired => VerifyError::new(VerifyErrorKind::Expired),
            warden_token::VerifyError::UnknownKey if !self.keys_loaded() => {
                VerifyError::new(VerifyErrorKind::KeysUnavailable)
            }
            warden_token::VerifyError::WrongIssuer {
                issued_by,
                expected,
            } => VerifyError::new(VerifyErrorKind::Invalid).with_detail(format!(
                "issued by {issued_by}, this verifier expects {expected}"
            )),
            _ => VerifyError::new(VerifyErrorKind::Invalid),
        })?;
        let principal = principal_of(claims)?;
        if let Some((c, key)) = cache {
            c.put(key, principal.clone(), keys, principal.expires_at());
        }
        self.accept(principal)
    }

    /// The checks after the signature, on every use: staleness policy and
    /// deny-list.
    fn accept(&self, principal: AnyPrincipal) -> Result<AnyPrincipal, VerifyError> {
        if self.inner.stale_policy == StalePolicy::Reject && self.is_stale() {
            return Err(VerifyError::new(VerifyErrorKind::Stale));
        }
        match principal {
            AnyPrincipal::User(user) => self.unless_revoked(user).map(AnyPrincipal::User),
            AnyPrincipal::Service(service) => {
                if self.inner.denylist.is_revoked(
                    service_subject(&service.client_id),
                    Uuid::nil(),
                    service.issued_at,
                ) {
                    return Err(VerifyError::new(VerifyErrorKind::Revoked));
                }
                Ok(AnyPrincipal::Service(service))
            }
        }
    }

    async fn verify_session_token(&self, token: &str) -> Result<Principal, VerifyError> {
        let Some(service_token) = self.inner.feed.service_token.as_deref() else {
            return Err(VerifyError::new(VerifyErrorKind::SessionTokenUnsupported));
        };
        let principal = session::validate(
            &self.inner.http,
            &self.inner.endpoint,
            service_token,
            &self.inner.sessions,
            token,
            self.inner.clock.now(),
        )
        .await?;
        self.unless_revoked(principal)
    }

    fn unless_revoked(&self, principal: Principal) -> Result<Principal, VerifyError> {
        if self.inner.denylist.is_revoked(
            principal.user_id,
            principal.session_id,
            principal.issued_at,
        ) {
            return Err(VerifyError::new(VerifyErrorKind::Revoked));
        }
        Ok(principal)
    }

    /// The current key set.
    fn keys(&self) -> Arc<warden_token::Verifier> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn check(
        &self,
        keys: &warden_token::Verifier,
        token: &str,
    ) -> Result<warden_token::AccessClaims, warden_token::VerifyError> {
        keys.verify(token, self.inner.clock.now().timestamp())
    }

    fn keys_loaded(&self) -> bool {
        self.inner
            .keys_loaded
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The deny-list this verifier consults (to inspect it, or to feed it
    /// from a source of your own).
    pub fn deny_list(&self) -> &Arc<DenyList> {
        &self.inner.denylist
    }

    /// How long ago revocations were last confirmed current: zero while the
    /// bus subscription is connected, else the time since the last
    /// successful feed poll. `None` when they never were.
    pub fn staleness(&self) -> Option<Duration> {
        if !self.inner.feed.enabled {
            return Some(Duration::ZERO);
        }
        #[cfg(any(feature = "nats", feature = "amqp"))]
        if self
            .inner
            .bus
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .is_some_and(|s| s.status().is_connected())
        {
            return Some(Duration::ZERO);
        }
        let confirmed = *self
            .inner
            .feed_confirmed
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        confirmed.map(|at| {
            (self.inner.clock.now() - at)
                .to_std()
                .unwrap_or(Duration::ZERO)
        })
    }

    fn is_stale(&self) -> bool {
        self.staleness()
            .is_none_or(|staleness| staleness > self.inner.max_staleness)
    }

    /// Whether keys are loaded and revocations are fresh enough: what a
    /// readiness probe of your service should report.
    pub fn is_ready(&self) -> bool {
        self.keys_loaded() && !self.is_stale()
    }

    /// The key ids this verifier currently accepts.
    pub fn key_ids(&self) -> Vec<String> {
        self.inner
            .keys
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .kids()
            .map(str::to_owned)
            .collect()
    }

    /// Refetches the JWKS when the last fetch is at least the refetch
    /// interval old; returns whether it fetched a new set.
    async fn refetch_for_unknown_kid(&self) -> bool {
        if self.inner.static_keys {
            return false;
        }
        // Serialises concurrent refetches: the ones waiting then see the
        // fresh fetch time and do not fetch again.
        let _single_flight = self.inner.refetch.lock().await;
        let now = self.inner.clock.now();
        {
            let last = self
                .inner
                .last_fetch
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if let Some(last) = *last
                && (now - last).to_std().unwrap_or(Duration::ZERO) < self.inner.min_refetch
            {
                return false;
            }
        }
        match self.refresh_keys().await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "warden-verify: JWKS refetch failed");
                false
            }
        }
    }

    /// Fetches discovery (once) and the JWKS, and swaps the key set.
    async fn refresh_keys(&self) -> Result<Duration, jwks::FetchError> {
        let mut uri = self.inner.jwks_uri.lock().await;
        *self
            .inner
            .last_fetch
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(self.inner.clock.now());
        let jwks_uri = match uri.as_ref() {
            Some(u) => u.clone(),
            None => {
                let found = jwks::discover(&self.inner.http, &self.inner.issuer).await?;
                *uri = Some(found.clone());
                found
            }
        };
        let (set, max_age) = jwks::fetch(&self.inner.http, &jwks_uri).await?;
        let verifier = warden_token::Verifier::from_jwks(self.inner.config.clone(), &set)
            .map_err(|e| jwks::FetchError::Invalid(format!("JWKS: {e}")))?;
        *self.inner.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(verifier);
        self.inner
            .keys_loaded
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Ok(max_age)
    }

    /// Reads the feed from the cursor to its end.
    async fn poll_feed(&self) -> Result<(), String> {
        let mut cursor = self.inner.cursor.lock().await;
        for _ in 0..1000 {
            let page = feed::fetch_page(
                &self.inner.http,
                &self.inner.endpoint,
                self.inner.feed.service_token.as_deref(),
                cursor.as_deref(),
            )
            .await?;
            for entry in &page.entries {
                self.inner.denylist.insert(entry);
                self.inner.sessions.forget(entry);
            }
            *cursor = Some(page.cursor);
            if !page.has_more {
                break;
            }
        }
        let now = self.inner.clock.now();
        self.inner.denylist.prune(now);
        *self
            .inner
            .feed_confirmed
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(now);
        Ok(())
    }

    /// Polls the feed once now (tests, or after you know something changed).
    pub async fn sync_revocations(&self) -> Result<(), VerifyError> {
        self.poll_feed().await.map_err(|e| {
            tracing::warn!(error = %e, "warden-verify: revocation feed poll failed");
            VerifyError::new(VerifyErrorKind::Stale)
        })
    }
}

async fn refresh_keys_periodically(inner: Weak<Inner>) {
    let mut wait = Duration::from_secs(300);
    loop {
        let loaded = inner
            .upgrade()
            .is_some_and(|i| i.keys_loaded.load(std::sync::atomic::Ordering::SeqCst));
        // Until the first load succeeds, retry every few seconds.
        tokio::time::sleep(if loaded { wait } else { Duration::from_secs(2) }).await;
        let Some(inner) = inner.upgrade() else { return };
        let verifier = Verifier { inner };
        match verifier.refresh_keys().await {
            Ok(max_age) => wait = max_age,
            Err(e) => tracing::warn!(error = %e, "warden-verify: JWKS refresh failed"),
        }
    }
}

/// How soon a failed feed poll is tried again when the interval is longer:
/// a verifier that started while Warden was slow or down must not stay
/// without a snapshot (not ready) for a whole long interval.
const FEED_RETRY: Duration = Duration::from_secs(2);

async fn poll_feed_periodically(inner: Weak<Inner>) {
    let mut failing = inner.upgrade().is_some_and(|i| {
        i.feed_confirmed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    });
    loop {
        let Some(interval) = inner.upgrade().map(|i| i.feed.poll_interval) else {
            return;
        };
        tokio::time::sleep(if failing {
            interval.min(FEED_RETRY)
        } else {
            interval
        })
        .await;
        let Some(inner) = inner.upgrade() else { return };
        let verifier = Verifier { inner };
        let polled = verifier.poll_feed().await;
        failing = polled.is_err();
        if let Err(e) = polled {
            tracing::debug!(error = %e, "warden-verify: revocation feed poll failed; retrying soon");
        }
        let now = verifier.inner.clock.now();
        verifier.inner.denylist.prune(now);
    }
}

/// The principal verified claims describe: a service's (client
/// credentials) or a user's.
fn principal_of(claims: warden_token::AccessClaims) -> Result<AnyPrincipal, VerifyError> {
    let scopes = claims
        .scope
        .as_deref()
        .map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if claims.is_service() {
        return Ok(AnyPrincipal::Service(ServicePrincipal {
            client_id: claims.sub,
            scopes,
            expires_at: claims.exp,
            issued_at: claims.iat,
        }));
    }
    let multi_factor = claims.is_multi_factor();
    let auth_time = if claims.auth_time > 0 {
        claims.auth_time
    } else {
        claims.iat
    };
    Ok(AnyPrincipal::User(Principal {
        user_id: Uuid::parse_str(&claims.sub)
            .map_err(|_| VerifyError::new(VerifyErrorKind::Invalid))?,
        session_id: Uuid::parse_str(&claims.sid)
            .map_err(|_| VerifyError::new(VerifyErrorKind::Invalid))?,
        roles: claims.roles,
        expires_at: claims.exp,
        issued_at: claims.iat,
        amr: claims.amr,
        acr: if multi_factor { "aal2" } else { "aal1" }.to_owned(),
        auth_time,
        client_id: claims.client_id,
        scopes,
    }))
}
