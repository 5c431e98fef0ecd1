//! Opaque `wst_` session tokens (Warden's server-side session mode): they
//! carry nothing to check locally, so Warden answers for them at
//! `POST /v1/validate`, presented with this service's credential in
//! [`SERVICE_TOKEN_HEADER`] and the token in the body (see
//! `docs/decisions/0012-verify-session-tokens-through-validate.md`).
//!
//! Answers are cached briefly, keyed by the SHA-256 of the token (the token
//! itself is never kept or logged); a cached answer is still checked
//! against the deny-list on every use, so a revocation that reached this
//! verifier bites at once, and anything else within the cache's lifetime.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;
use warden_token::revocation::{Revocation, RevocationKind};

use crate::error::{VerifyError, VerifyErrorKind};
use crate::principal::Principal;

/// The prefix of Warden's opaque session tokens.
pub const SESSION_TOKEN_PREFIX: &str = "wst_";

/// The request header that carries the service credential to
/// `POST /v1/validate`; the token to check travels in the JSON body, so the
/// two never compete for `Authorization`.
pub const SERVICE_TOKEN_HEADER: &str = "x-warden-service-token";

/// Longest an answer may be cached: a sign-out elsewhere must bite soon
/// even when its revocation never reaches this verifier.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(5);

/// How long to wait for Warden's answer.
const VALIDATE_TIMEOUT: Duration = Duration::from_secs(2);

type TokenKey = [u8; 32];

/// Recent answers of `/v1/validate`, bounded in time and size.
pub(crate) struct SessionCache {
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<TokenKey, (Principal, DateTime<Utc>)>>,
}

impl SessionCache {
    pub(crate) fn new(ttl: Duration, max_entries: usize) -> Self {
        Self {
            ttl: ttl.min(MAX_CACHE_TTL),
            max_entries,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn key(token: &str) -> TokenKey {
        Sha256::digest(token.as_bytes()).into()
    }

    fn get(&self, key: &TokenKey, now: DateTime<Utc>) -> Option<Principal> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((principal, at)) if self.fresh(*at, now) => Some(principal.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    fn put(&self, key: TokenKey, principal: Principal, now: DateTime<Utc>) {
        if self.ttl.is_zero() || self.max_entries == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max_entries {
            entries.retain(|_, (_, at)| self.fresh(*at, now));
        }
        // Still full of fresh answers: forget them all rather than grow;
        // the next requests ask Warden again.
        if entries.len() >= self.max_entries {
            entries.clear();
        }
        entries.insert(key, (principal, now));
    }

    fn fresh(&self, at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        (now - at).to_std().is_ok_and(|age| age < self.ttl)
    }

    /// Forgets the answers a revocation (from the feed or the bus) covers.
    pub(crate) fn forget(&self, revocation: &Revocation) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (p, _)| match revocation.kind {
            RevocationKind::Session => p.session_id != revocation.id,
            RevocationKind::User => p.user_id != revocation.id,
        });
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

/// Asks Warden about `token`, through the cache.
pub(crate) async fn validate(
    http: &reqwest::Client,
    endpoint: &str,
    service_token: &str,
    cache: &SessionCache,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Principal, VerifyError> {
    let key = SessionCache::key(token);
    if let Some(principal) = cache.get(&key, now) {
        return Ok(principal);
    }
    let principal = ask_warden(http, endpoint, service_token, token).await?;
    cache.put(key, principal.clone(), now);
    Ok(principal)
}

#[derive(Serialize)]
struct Question<'a> {
    token: &'a str,
}

#[derive(Deserialize)]
struct Answer {
    active: bool,
    sub: Uuid,
    sid: Uuid,
    roles: Vec<String>,
    exp: i64,
    iat: i64,
    // Warden before 0.x sent no authentication context: one factor.
    #[serde(default)]
    amr: Vec<String>,
    #[serde(default)]
    acr: Option<String>,
    #[serde(default)]
    auth_time: Option<i64>,
}

#[derive(Deserialize)]
struct Problem {
    code: Option<String>,
}

async fn ask_warden(
    http: &reqwest::Client,
    endpoint: &str,
    service_token: &str,
    token: &str,
) -> Result<Principal, VerifyError> {
    let unavailable = || VerifyError::new(VerifyErrorKind::Unavailable);
    let response = http
        .post(format!("{endpoint}/v1/validate"))
        .header(SERVICE_TOKEN_HEADER, service_token)
        .json(&Question { token })
        .timeout(VALIDATE_TIMEOUT)
        .send()
        .await
        .map_err(|e| {
            tracing::warn!(error = %e.without_url(), "warden-verify: Warden did not answer /v1/validate");
            unavailable()
        })?;
    let status = response.status();
    if status.is_success() {
        let answer: Answer = response.json().await.map_err(|e| {
            tracing::warn!(error = %e.without_url(), "warden-verify: unexpected /v1/validate answer");
            unavailable()
        })?;
        if !answer.active {
            return Err(VerifyError::new(VerifyErrorKind::Invalid));
        }
        return Ok(Principal {
            user_id: answer.sub,
            session_id: answer.sid,
            roles: answer.roles,
            expires_at: answer.exp,
            issued_at: answer.iat,
            amr: answer.amr,
            acr: answer.acr.unwrap_or_else(|| "aal1".to_owned()),
            auth_time: answer.auth_time.unwrap_or(answer.iat),
            // Session tokens are Warden's own sign-ins, never a client's.
            client_id: None,
            scopes: Vec::new(),
        });
    }
    if status == reqwest::StatusCode::UNAUTHORIZED {
        let code = response
            .json::<Problem>()
            .await
            .ok()
            .and_then(|p| p.code)
            .unwrap_or_default();
        return Err(VerifyError::new(match code.as_str() {
            "token_expired" => VerifyErrorKind::Expired,
            "token_revoked" => VerifyErrorKind::Revoked,
            _ => VerifyErrorKind::Invalid,
        }));
    }
    // 403: Warden refused our credential; 429/5xx: Warden is in trouble.
    // Neither is the caller's fault, so neither may become a 401.
    tracing::warn!(
        status = status.as_u16(),
        "warden-verify: /v1/validate refused the call"
    );
    Err(unavailable())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(user: Uuid, session: Uuid) -> Principal {
        Principal {
            user_id: user,
            session_id: session,
            roles: vec!["user".into()],
            expires_at: 0,
            issued_at: 0,
            amr: vec!["pwd".into()],
            acr: "aal1".into(),
            auth_time: 0,
            client_id: None,
            scopes: Vec::new(),
        }
    }

    #[test]
    fn answers_expire_and_the_cache_stays_bounded() {
        let cache = SessionCache::new(Duration::from_secs(60), 2);
        assert_eq!(cache.ttl, MAX_CACHE_TTL, "capped");
        let now = Utc::now();
        let (u, s) = (Uuid::now_v7(), Uuid::now_v7());
        let a = SessionCache::key("wst_a");
        cache.put(a, principal(u, s), now);
        assert!(cache.get(&a, now + chrono::Duration::seconds(4)).is_some());
        assert!(cache.get(&a, now + chrono::Duration::seconds(5)).is_none());
        assert_eq!(cache.len(), 0, "expired answers are dropped");

        for (i, token) in ["wst_1", "wst_2", "wst_3"].into_iter().enumerate() {
            cache.put(
                SessionCache::key(token),
                principal(Uuid::now_v7(), Uuid::now_v7()),
                now + chrono::Duration::milliseconds(i as i64),
            );
            assert!(cache.len() <= 2);
        }
    }

    #[test]
    fn revocations_clear_matching_answers() {
        let cache = SessionCache::new(Duration::from_secs(5), 10);
        let now = Utc::now();
        let (u1, s1, s2) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let (k1, k2, k3) = (
            SessionCache::key("wst_1"),
            SessionCache::key("wst_2"),
            SessionCache::key("wst_3"),
        );
        cache.put(k1, principal(u1, s1), now);
        cache.put(k2, principal(u1, s2), now);
        cache.put(k3, principal(Uuid::now_v7(), Uuid::now_v7()), now);
        let revoke = |kind, id| Revocation {
            kind,
            id,
            not_before: None,
            until: now + chrono::Duration::minutes(15),
        };
        cache.forget(&revoke(RevocationKind::Session, s1));
        assert!(cache.get(&k1, now).is_none());
        assert!(cache.get(&k2, now).is_some());
        cache.forget(&revoke(RevocationKind::User, u1));
        assert!(cache.get(&k2, now).is_none());
        assert!(cache.get(&k3, now).is_some());
    }

    #[test]
    fn the_key_is_a_hash_not_the_token() {
        let key = SessionCache::key("wst_secret");
        assert_ne!(&key[..], b"wst_secret");
        assert_eq!(key, SessionCache::key("wst_secret"));
    }
}
