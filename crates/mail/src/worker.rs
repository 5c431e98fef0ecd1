//! The mail worker: turns queued mail into delivered mail.
//!
//! One worker across all instances sends (it holds the store's `mail`
//! lease, like the outbox relay holds its own), one message at a time:
//! list what is due, render it (templates and branding as they are now),
//! send it, and record the outcome. A message is marked sent only after
//! the transport confirmed it (the SMTP server accepted it), so a crash
//! or an outage delays mail and never loses it; the price is that a crash
//! between acceptance and marking sends that one message again (with the
//! same Message-ID).
//!
//! Lease and timeouts: the lease lasts [`WorkerSettings::lease_ttl`] and
//! is renewed before each message once a third of it has passed, so at
//! least two thirds remain when a send starts; one send is bounded by the
//! transport (twice the SMTP timeout), which is kept below that. A send
//! therefore never outlives the lease, and no second instance can pick up
//! a message that is still being sent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use lettre::message::Mailbox;
use tracing::Instrument as _;
use warden_core::StoreError;
use warden_core::mail::{DueMail, MailKind, NextAttempt, RetryPolicy};
use warden_core::ports::{Clock, Store};

use crate::message;
use crate::templates::Templates;
use crate::transport::{Outgoing, SendError, Transport};

/// The outcome label of `warden_mail_sent_total`: a fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Delivered.
    Sent,
    /// Failed; tried again later.
    Retry,
    /// Given up (refused for good, or too old).
    Failed,
}

impl Outcome {
    /// Every outcome, for metrics pre-registration.
    pub const ALL: [Outcome; 3] = [Outcome::Sent, Outcome::Retry, Outcome::Failed];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Retry => "retry",
            Outcome::Failed => "failed",
        }
    }
}

/// Where the worker reports what it did (the server's metrics).
pub trait MailObserver: Send + Sync + 'static {
    /// One delivery attempt of a message of `kind` ended with `outcome`.
    fn delivered(&self, kind: MailKind, outcome: Outcome);
    /// Messages waiting (neither sent nor given up), as last counted.
    fn queue_depth(&self, depth: u64);
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub struct NoObserver;

impl MailObserver for NoObserver {
    fn delivered(&self, _: MailKind, _: Outcome) {}
    fn queue_depth(&self, _: u64) {}
}

/// Worker tuning.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// This instance's name in the lease.
    pub holder: String,
    /// How often the holder looks for due mail when there was none.
    pub poll_interval: Duration,
    /// How long the lease lasts without renewal.
    pub lease_ttl: Duration,
    /// How often an instance without the lease tries to take it (and
    /// counts the queue).
    pub lease_retry: Duration,
    /// Messages listed per batch.
    pub batch_size: u32,
    /// Back-off and giving up per message.
    pub retry: RetryPolicy,
    /// Sent and given-up messages are deleted this long after they finished.
    pub retention: chrono::Duration,
    /// How often the holder prunes.
    pub prune_interval: Duration,
    /// Pause after a store error.
    pub error_pause: Duration,
}

impl WorkerSettings {
    /// Defaults for an instance named `holder`.
    pub fn new(holder: impl Into<String>) -> Self {
        Self {
            holder: holder.into(),
            poll_interval: Duration::from_millis(500),
            lease_ttl: Duration::from_secs(90),
            lease_retry: Duration::from_secs(5),
            batch_size: 50,
            retry: RetryPolicy::default(),
            retention: chrono::Duration::days(7),
            prune_interval: Duration::from_secs(3600),
            error_pause: Duration::from_secs(2),
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StepReport {
    /// Whether this instance holds the lease.
    pub is_leader: bool,
    /// Delivered.
    pub sent: usize,
    /// Failed, to be retried.
    pub retried: usize,
    /// Given up.
    pub failed: usize,
    /// A full batch was handled: more may be due at once.
    pub is_more_due: bool,
}

/// The mail worker of one instance.
pub struct MailWorker {
    store: Arc<dyn Store>,
    transport: Arc<dyn Transport>,
    templates: Arc<Templates>,
    from: Mailbox,
    clock: Arc<dyn Clock>,
    settings: WorkerSettings,
    observer: Arc<dyn MailObserver>,
    lease_until: std::sync::Mutex<Option<DateTime<Utc>>>,
    last_prune: std::sync::Mutex<Option<std::time::Instant>>,
}

impl MailWorker {
    /// A worker draining `store`'s queue through `transport`.
    pub fn new(
        store: Arc<dyn Store>,
        transport: Arc<dyn Transport>,
        templates: Arc<Templates>,
        from: Mailbox,
        clock: Arc<dyn Clock>,
        settings: WorkerSettings,
    ) -> Self {
        Self {
            store,
            transport,
            templates,
            from,
            clock,
            settings,
            observer: Arc::new(NoObserver),
            lease_until: std::sync::Mutex::new(None),
            last_prune: std::sync::Mutex::new(None),
        }
    }

    /// Reports outcomes and queue depth to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn MailObserver>) -> Self {
        self.observer = observer;
        self
    }

    fn held_lease(&self) -> Option<DateTime<Utc>> {
        *self.lease_until.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_lease(&self, until: Option<DateTime<Utc>>) {
        *self.lease_until.lock().unwrap_or_else(|e| e.into_inner()) = until;
    }

    /// Takes or renews the lease when a third of it has passed.
    async fn ensure_lease(&self) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let ttl = chrono::Duration::from_std(self.settings.lease_ttl)
            .unwrap_or(chrono::Duration::seconds(90));
        if let Some(until) = self.held_lease()
            && until - now > ttl * 2 / 3
        {
            return Ok(true);
        }
        let until = now + ttl;
        match self
            .store
            .acquire_mail_lease(&self.settings.holder, now, until)
            .await
        {
            Ok(true) => {
                if self.held_lease().is_none() {
                    tracing::info!(holder = %self.settings.holder, transport = %self.transport.describe(), "mail worker: this instance delivers mail");
                }
                self.set_lease(Some(until));
                Ok(true)
            }
            Ok(false) => {
                if self.held_lease().is_some() {
                    tracing::warn!(holder = %self.settings.holder, "mail worker: lease lost to another instance");
                }
                self.set_lease(None);
                Ok(false)
            }
            Err(e) => {
                if self.held_lease().is_some_and(|until| until <= now) {
                    self.set_lease(None);
                }
                Err(e)
            }
        }
    }

    /// One step: lease, queue depth, at most one batch (stopping early
    /// when `stopping` is set or the lease is lost), and a prune when due.
    pub async fn step(&self, stopping: &AtomicBool) -> Result<StepReport, StoreError> {
        let mut report = StepReport::default();
        let is_leader = self.ensure_lease().await?;
        self.observer
            .queue_depth(self.store.mail_queue_depth().await?);
        if !is_leader {
            return Ok(report);
        }
        report.is_leader = true;
        let batch = self
            .store
            .list_due_mail(self.clock.now(), self.settings.batch_size)
            .await?;
        report.is_more_due = batch.len() as u32 >= self.settings.batch_size;
        for due in &batch {
            if stopping.load(Ordering::Relaxed) || !self.ensure_lease().await? {
                report.is_more_due = false;
                break;
            }
            // One trace per delivery; the store calls and the send are its children.
            let span = tracing::info_span!("mail.deliver", otel.name = "mail deliver", kind = %due.mail.kind, mail_id = %due.mail.id);
            match self.deliver(due).instrument(span).await? {
                Outcome::Sent => report.sent += 1,
                Outcome::Retry => report.retried += 1,
                Outcome::Failed => report.failed += 1,
            }
        }
        if report.sent + report.retried + report.failed > 0 {
            self.observer
                .queue_depth(self.store.mail_queue_depth().await?);
        }
        self.prune_if_due().await?;
        Ok(report)
    }

    /// Renders, sends and records one message.
    async fn deliver(&self, due: &DueMail) -> Result<Outcome, StoreError> {
        let mail = &due.mail;
        let result = match self.templates.render(mail.kind, &mail.to, &mail.values) {
            // A template that cannot render (an override broken since
            // start, a value the use case forgot) may be fixed: retry.
            Err(e) => Err(SendError::transient(e.to_string())),
            Ok(rendered) => {
                let now: SystemTime = self.clock.now().into();
                match message::build(mail.id, &self.from, &mail.to, &rendered, now) {
                    Err(e) => Err(SendError::permanent(e.to_string())),
                    Ok(message) => {
                        let outgoing = Outgoing {
                            kind: mail.kind,
                            to: &mail.to,
                            rendered: &rendered,
                            message: &message,
                        };
                        self.transport.send(&outgoing).await
                    }
                }
            }
        };
        let now = self.clock.now();
        let outcome = match result {
            Ok(()) => {
                self.store.mark_mail_sent(mail.id, now).await?;
                tracing::info!(kind = %mail.kind, mail_id = %mail.id, attempts = due.attempts + 1, "mail delivered");
                Outcome::Sent
            }
            Err(e) => {
                let attempts = due.attempts.saturating_add(1);
                let next = if e.is_permanent {
                    NextAttempt::GiveUp
                } else {
                    self.settings
                        .retry
                        .after_failure(mail.created_at, attempts, now)
                };
                match next {
                    NextAttempt::At(at) => {
                        self.store
                            .mark_mail_retry(mail.id, attempts, at, &e.reason)
                            .await?;
                        tracing::warn!(kind = %mail.kind, mail_id = %mail.id, attempts, retry_at = %at, error = %e.reason, "mail not delivered; will retry");
                        Outcome::Retry
                    }
                    NextAttempt::GiveUp => {
                        self.store.mark_mail_failed(mail.id, now, &e.reason).await?;
                        tracing::error!(kind = %mail.kind, mail_id = %mail.id, attempts, error = %e.reason, permanent = e.is_permanent, "mail given up");
                        Outcome::Failed
                    }
                }
            }
        };
        self.observer.delivered(mail.kind, outcome);
        Ok(outcome)
    }

    async fn prune_if_due(&self) -> Result<(), StoreError> {
        let is_due = {
            let last = self.last_prune.lock().unwrap_or_else(|e| e.into_inner());
            last.is_none_or(|at| at.elapsed() >= self.settings.prune_interval)
        };
        if !is_due {
            return Ok(());
        }
        let pruned = self
            .store
            .prune_mail(self.clock.now() - self.settings.retention)
            .await?;
        *self.last_prune.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(std::time::Instant::now());
        if pruned > 0 {
            tracing::debug!(pruned, "mail worker: old messages pruned");
        }
        Ok(())
    }

    /// Runs until `shutdown` resolves: a message being sent when it does
    /// is finished (bounded by the transport's timeout) and recorded, then
    /// the lease is given up.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let stopping = AtomicBool::new(false);
        // A store outage is reported once (readiness reports it too), not
        // on every poll: a log line per half second is noise that hides it.
        let mut failing = false;
        loop {
            let result = {
                let step = self.step(&stopping);
                tokio::pin!(step);
                tokio::select! {
                    result = &mut step => result,
                    () = &mut shutdown => {
                        stopping.store(true, Ordering::Relaxed);
                        step.await
                    }
                }
            };
            if stopping.load(Ordering::Relaxed) {
                break;
            }
            if result.is_ok() && failing {
                failing = false;
                tracing::info!("mail worker: store reachable again; sending resumes");
            }
            let pause = match result {
                Ok(report) if report.is_more_due => Duration::ZERO,
                Ok(report) if report.is_leader => self.settings.poll_interval,
                Ok(_) => self.settings.lease_retry,
                Err(e) => {
                    if failing {
                        tracing::debug!(error = %e, "mail worker: store call failed again");
                    } else {
                        failing = true;
                        tracing::warn!(error = %e, "mail worker: store call failed; mail stays queued");
                    }
                    self.settings.error_pause
                }
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        if self.held_lease().is_some()
            && let Err(e) = self.store.release_mail_lease(&self.settings.holder).await
        {
            tracing::warn!(error = %e, "mail worker: could not release the lease");
        }
        tracing::info!("mail worker stopped");
    }
}

/// Starts a worker on the runtime; the returned handle stops it.
pub fn spawn(worker: MailWorker) -> WorkerHandle {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    WorkerHandle { stop, task }
}

/// A running worker.
pub struct WorkerHandle {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl WorkerHandle {
    /// Stops the worker and waits up to `grace` for it to finish the
    /// message in flight and release its lease.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(());
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!("mail worker did not stop within {grace:?}");
        }
    }
}
