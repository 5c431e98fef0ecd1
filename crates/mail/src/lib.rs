//! Warden's mail delivery, one job: turn queued mail into delivered mail.
//!
//! Use cases queue mail in the store, in the same transaction as the
//! change that causes it (`warden_core::mail::QueuedMail`, the store's
//! `MailStore`). Here the [`MailWorker`] of the instance holding the mail
//! lease renders each message with the [`Templates`] (built-in English,
//! text and HTML, overridable per file), wraps it in an RFC 5322 message
//! and hands it to a [`Transport`]: [`LogTransport`] (the zero-config
//! default) or [`SmtpTransport`] (STARTTLS or implicit TLS, lettre on
//! rustls). Failures are retried with back-off by the core's
//! `RetryPolicy`; a recipient the server refuses for good is given up.
//!
//! ```no_run
//! # async fn demo(store: std::sync::Arc<dyn warden_core::ports::Store>,
//! #               clock: std::sync::Arc<dyn warden_core::ports::Clock>) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use warden_mail::{LogTransport, MailWorker, Templates, WorkerSettings};
//!
//! let worker = MailWorker::new(
//!     store,
//!     Arc::new(LogTransport::new("./warden-data/mail")?),
//!     Arc::new(Templates::built_in("Warden")?),
//!     "Warden <no-reply@localhost>".parse()?,
//!     clock,
//!     WorkerSettings::new("instance-1"),
//! );
//! let handle = warden_mail::spawn(worker);
//! handle.stop(std::time::Duration::from_secs(30)).await;
//! # Ok(()) }
//! ```

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod message;
pub mod smtp_url;
pub mod templates;
pub mod transport;
pub mod worker;

/// An address with an optional display name (`Acme <no-reply@acme.example>`).
pub use lettre::message::Mailbox;
pub use smtp_url::{SmtpUrl, SmtpUrlError, TlsMode};
pub use templates::{Accent, Rendered, TemplateError, Templates, required_values};
pub use transport::{
    LogTransport, Outgoing, SendError, SmtpOptions, SmtpTransport, Transport, default_from,
};
pub use worker::{
    MailObserver, MailWorker, NoObserver, Outcome, StepReport, WorkerHandle, WorkerSettings, spawn,
};
