//! The figures of the admin console's overview: how many accounts and live
//! sessions there are, who is locked out, what waits to be mailed or
//! published, and sign-ins over the last day from the audit log.

use chrono::{DateTime, Duration, Utc};

use super::AuthService;
use crate::error::CoreError;

/// One hour of sign-ins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourOfSignIns {
    /// The hour's start.
    pub start: DateTime<Utc>,
    /// Sign-ins that worked (every method: password, passkey, provider).
    pub succeeded: u64,
    /// Sign-ins refused (wrong password or code, locked out, banned).
    pub failed: u64,
}

/// The overview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overview {
    /// Accounts.
    pub users: u64,
    /// Sessions neither revoked nor expired.
    pub live_sessions: u64,
    /// Addresses locked out of signing in now.
    pub locked_out: u64,
    /// Mails waiting to be sent.
    pub mail_queue: u64,
    /// How long the oldest event not yet published has waited; `None`
    /// when every event is out.
    pub relay_lag: Option<Duration>,
    /// The last 24 hours, oldest first, the current hour last.
    pub hours: Vec<HourOfSignIns>,
}

impl Overview {
    /// Sign-ins that worked over the last 24 hours.
    pub fn succeeded(&self) -> u64 {
        self.hours.iter().map(|h| h.succeeded).sum()
    }

    /// Sign-ins refused over the last 24 hours.
    pub fn failed(&self) -> u64 {
        self.hours.iter().map(|h| h.failed).sum()
    }
}

/// The audit actions that count as sign-ins (each writes one entry per
/// attempt, success or failure).
const SIGN_IN_ACTIONS: &[&str] = &["signin", "signin_mfa", "signin_social"];

impl AuthService {
    /// The overview at this instant.
    pub async fn overview(&self) -> Result<Overview, CoreError> {
        let now = self.clock.now();
        let current_hour = now.timestamp().div_euclid(3600);
        let first_hour = current_hour - 23;
        let since = DateTime::from_timestamp(first_hour * 3600, 0).unwrap_or(now);
        let tally = self.store.audit_tally(since, SIGN_IN_ACTIONS).await?;
        let mut hours: Vec<HourOfSignIns> = (first_hour..=current_hour)
            .map(|hour| HourOfSignIns {
                start: DateTime::from_timestamp(hour * 3600, 0).unwrap_or(now),
                succeeded: 0,
                failed: 0,
            })
            .collect();
        for bucket in tally {
            let Some(slot) = usize::try_from(bucket.hour - first_hour)
                .ok()
                .and_then(|i| hours.get_mut(i))
            else {
                continue;
            };
            if bucket.success {
                slot.succeeded += bucket.count;
            } else {
                slot.failed += bucket.count;
            }
        }
        let relay_lag = self
            .store
            .list_unpublished_outbox(1)
            .await?
            .first()
            .map(|(_, event)| (now - event.at).max(Duration::zero()));
        Ok(Overview {
            users: self.store.count_users().await?,
            live_sessions: self.store.count_live_sessions(now).await?,
            locked_out: self.store.count_locked(now).await?,
            mail_queue: self.store.mail_queue_depth().await?,
            relay_lag,
            hours,
        })
    }
}
