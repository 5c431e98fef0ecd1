//! Readiness: whether this instance should be sent requests (decision 0017,
//! `docs/decisions/0017-what-readyz-means.md`). `/readyz` and the gRPC
//! health service both report one [`ReadinessMonitor`]'s answer.
//!
//! - A **required** dependency (the store) that fails makes the instance
//!   not ready (503, NOT_SERVING): it cannot serve sign-ins or refreshes.
//! - An **optional** one (the event bus) that fails only makes it
//!   `degraded` (200, SERVING): every request still works; revocations
//!   wait in the outbox and reach other instances when the bus is back.
//!   Taking every instance out of service for a bus outage would turn a
//!   delay into a full outage.
//!
//! The store is checked in the background (every second, with a bounded
//! wait), so a probe answers at once from the last check even while the
//! database hangs; a change of state is logged once (down, then recovered
//! with how long it was down), never per probe.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::ports::Store;

/// How a dependency is doing, as `/readyz` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckState {
    /// It answers.
    Ok,
    /// An optional dependency is failing: the instance still serves.
    Degraded,
    /// A required dependency is failing: the instance is not ready.
    Unavailable,
}

impl CheckState {
    /// `ok`, `degraded` or `unavailable`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Ok => "ok",
            CheckState::Degraded => "degraded",
            CheckState::Unavailable => "unavailable",
        }
    }
}

/// What one dependency says about itself right now. Cheap to build: it is
/// read on every probe.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckStatus {
    /// Whether it answers.
    pub is_ok: bool,
    /// How long it has been failing (`None` while it answers).
    pub down_for: Option<Duration>,
    /// How far behind the work it carries is (the outbox relay's lag, for
    /// the bus), when it has such work.
    pub lag: Option<Duration>,
    /// Failed attempts so far (reconnects, checks), for metrics.
    pub failures: u64,
}

/// One named readiness condition beyond the store (the event bus). The
/// server builds the list once and hands it to the [`ReadinessMonitor`].
#[derive(Clone)]
pub struct ReadinessCheck {
    /// Shown in `/readyz` (`bus`).
    pub name: &'static str,
    /// Whether a failure makes the instance not ready (else: degraded).
    pub is_required: bool,
    /// Its state right now.
    pub status: Arc<dyn Fn() -> CheckStatus + Send + Sync>,
}

impl std::fmt::Debug for ReadinessCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadinessCheck")
            .field("name", &self.name)
            .field("is_required", &self.is_required)
            .finish()
    }
}

/// One dependency in a readiness answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// `store`, `bus`.
    pub name: &'static str,
    /// What it means for the instance.
    pub state: CheckState,
    /// The details.
    pub status: CheckStatus,
}

/// The answer of one readiness probe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Readiness {
    checks: Vec<CheckReport>,
}

impl Readiness {
    /// Adds the state of `name`.
    pub fn with(mut self, name: &'static str, is_required: bool, status: CheckStatus) -> Self {
        let state = match (status.is_ok, is_required) {
            (true, _) => CheckState::Ok,
            (false, true) => CheckState::Unavailable,
            (false, false) => CheckState::Degraded,
        };
        self.checks.push(CheckReport {
            name,
            state,
            status,
        });
        self
    }

    /// Whether no required dependency fails (degraded is ready).
    pub fn is_ready(&self) -> bool {
        self.checks
            .iter()
            .all(|c| c.state != CheckState::Unavailable)
    }

    /// Whether ready but some optional dependency fails.
    pub fn is_degraded(&self) -> bool {
        self.is_ready() && self.checks.iter().any(|c| c.state == CheckState::Degraded)
    }

    /// Each dependency, in check order.
    pub fn checks(&self) -> &[CheckReport] {
        &self.checks
    }

    /// The dependencies that do not answer (required or not).
    pub fn failing(&self) -> Vec<&'static str> {
        self.checks
            .iter()
            .filter(|c| c.state != CheckState::Ok)
            .map(|c| c.name)
            .collect()
    }
}

/// The store's last background check.
#[derive(Debug)]
struct StoreState {
    is_checked: bool,
    is_ok: bool,
    since: Instant,
    failures: u64,
}

/// Keeps readiness current: checks the store in the background and logs
/// every change of any dependency once. Probes read its last answer.
pub struct ReadinessMonitor {
    store: Arc<dyn Store>,
    checks: Vec<ReadinessCheck>,
    store_timeout: Duration,
    store_state: Mutex<StoreState>,
    /// Since when each failing dependency has been failing, as last logged.
    logged_down: Mutex<HashMap<&'static str, Instant>>,
}

impl std::fmt::Debug for ReadinessMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadinessMonitor")
            .field("checks", &self.checks)
            .finish()
    }
}

impl ReadinessMonitor {
    /// How often [`ReadinessMonitor::spawn`] checks.
    pub const INTERVAL: Duration = Duration::from_secs(1);
    /// How long a dependency must be down before that is logged.
    pub const ALARM_AFTER: Duration = Duration::from_millis(500);

    /// A monitor of `store` (required; one check waits at most
    /// `store_timeout`) and of `checks`.
    pub fn new(
        store: Arc<dyn Store>,
        checks: Vec<ReadinessCheck>,
        store_timeout: Duration,
    ) -> Arc<Self> {
        Arc::new(Self {
            store,
            checks,
            store_timeout,
            store_state: Mutex::new(StoreState {
                is_checked: false,
                is_ok: false,
                since: Instant::now(),
                failures: 0,
            }),
            logged_down: Mutex::new(HashMap::new()),
        })
    }

    /// Checks every `interval` until the monitor is dropped.
    pub fn spawn(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let monitor: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(monitor) = monitor.upgrade() else {
                    return;
                };
                monitor.check().await;
            }
        })
    }

    /// One round: checks the store, then logs what changed.
    pub async fn check(&self) {
        self.check_store().await;
        let readiness = self.snapshot();
        self.log_changes(&readiness);
    }

    async fn check_store(&self) {
        let result = tokio::time::timeout(self.store_timeout, self.store.ping()).await;
        let is_ok = matches!(result, Ok(Ok(())));
        if let Ok(Err(e)) = &result {
            tracing::debug!(error = %e, "readiness: store check failed");
        }
        let mut state = self.store_state.lock().unwrap_or_else(|e| e.into_inner());
        if !is_ok {
            state.failures += 1;
        }
        if !state.is_checked || state.is_ok != is_ok {
            state.since = Instant::now();
        }
        state.is_checked = true;
        state.is_ok = is_ok;
    }

    fn store_status(&self) -> Option<CheckStatus> {
        let state = self.store_state.lock().unwrap_or_else(|e| e.into_inner());
        state.is_checked.then(|| CheckStatus {
            is_ok: state.is_ok,
            down_for: (!state.is_ok).then(|| state.since.elapsed()),
            lag: None,
            failures: state.failures,
        })
    }

    fn snapshot(&self) -> Readiness {
        let store = self.store_status().unwrap_or_default();
        self.checks
            .iter()
            .fold(Readiness::default().with("store", true, store), |r, c| {
                r.with(c.name, c.is_required, (c.status)())
            })
    }

    /// The answer of a probe: the store as of its last background check
    /// (checked now only before the first one), the others as they are.
    pub async fn current(&self) -> Readiness {
        if self.store_status().is_none() {
            self.check_store().await;
        }
        self.snapshot()
    }

    fn log_changes(&self, readiness: &Readiness) {
        let mut logged = self.logged_down.lock().unwrap_or_else(|e| e.into_inner());
        for check in readiness.checks() {
            let was_down = logged.get(check.name).copied();
            let down_for = check.status.down_for.unwrap_or_default();
            // A dependency still connecting at start, or gone for a moment,
            // is no incident: alarm once it has been down a while.
            let is_lasting = down_for >= Self::ALARM_AFTER;
            let down_since = Instant::now()
                .checked_sub(down_for)
                .unwrap_or_else(Instant::now);
            match (check.state, was_down) {
                (CheckState::Ok, Some(since)) => {
                    logged.remove(check.name);
                    tracing::info!(
                        check = check.name,
                        down_for_ms = since.elapsed().as_millis() as u64,
                        "readiness: {} recovered after {:.1} s",
                        check.name,
                        since.elapsed().as_secs_f64()
                    );
                }
                (CheckState::Unavailable, None) if is_lasting => {
                    logged.insert(check.name, down_since);
                    tracing::error!(
                        check = check.name,
                        "readiness: {} unavailable; this instance is not ready until it is back",
                        check.name
                    );
                }
                (CheckState::Degraded, None) if is_lasting => {
                    logged.insert(check.name, down_since);
                    tracing::warn!(
                        check = check.name,
                        lag_ms = check.status.lag.map(|l| l.as_millis() as u64),
                        "readiness: {} degraded; still serving, events wait in the outbox",
                        check.name
                    );
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up() -> CheckStatus {
        CheckStatus {
            is_ok: true,
            ..Default::default()
        }
    }

    #[test]
    fn only_a_required_dependency_makes_the_instance_unready() {
        assert!(Readiness::default().with("store", true, up()).is_ready());
        let degraded = Readiness::default().with("store", true, up()).with(
            "bus",
            false,
            CheckStatus::default(),
        );
        assert!(degraded.is_ready());
        assert!(degraded.is_degraded());
        assert_eq!(degraded.failing(), vec!["bus"]);
        let down = Readiness::default().with("store", true, CheckStatus::default());
        assert!(!down.is_ready());
        assert!(!down.is_degraded());
    }
}
