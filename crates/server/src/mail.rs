//! Wiring of mail delivery: the `[mail]` transport, the templates with
//! `[ui]` branding, and the worker that drains the store's mail queue
//! (one sender across instances), reporting to the metrics.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use warden_core::mail::MailKind;
use warden_core::ports::{Clock, Store};
use warden_http::metrics::Metrics;
use warden_mail::{
    Accent, LogTransport, MailObserver, MailWorker, Mailbox, Outcome, SmtpOptions, SmtpTransport,
    Templates, Transport, WorkerHandle, WorkerSettings,
};

use crate::config::{Config, MailTransportKind};

/// The transport `[mail]` configures. The log transport writes into
/// `<data_dir>/mail`.
pub fn transport(config: &Config) -> anyhow::Result<Arc<dyn Transport>> {
    match (config.mail.transport, &config.mail.smtp) {
        (MailTransportKind::Smtp, Some(url)) => {
            let ca_pem = config
                .mail
                .smtp_ca_file
                .as_ref()
                .map(|path| {
                    std::fs::read(path)
                        .with_context(|| format!("reading mail.smtp_ca_file {}", path.display()))
                })
                .transpose()?;
            let options = SmtpOptions {
                timeout: config.mail.smtp_timeout,
                ca_pem,
            };
            let transport =
                SmtpTransport::new(url.clone(), &options).map_err(anyhow::Error::msg)?;
            Ok(Arc::new(transport))
        }
        _ => {
            let dir = config.data_dir.join("mail");
            let transport = LogTransport::new(&dir)
                .with_context(|| format!("creating the mail directory {}", dir.display()))?;
            Ok(Arc::new(transport))
        }
    }
}

/// The sender: `[mail] from`, or `<product name> <no-reply@<issuer host>>`
/// (`localhost` when the issuer's host is an address).
pub fn sender(config: &Config) -> anyhow::Result<Mailbox> {
    if let Some(from) = &config.mail.from {
        return Ok(from.clone());
    }
    let issuer = config.issuer();
    let host = issuer
        .split_once("://")
        .map_or(issuer.as_str(), |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let host = if host.is_empty() || host.parse::<std::net::IpAddr>().is_ok() {
        "localhost".to_owned()
    } else {
        host
    };
    warden_mail::default_from(&config.ui.branding.product_name, &host)
        .or_else(|| warden_mail::default_from(&config.ui.branding.product_name, "localhost"))
        .context("no default sender address can be made from ui.product_name; set mail.from")
}

/// Copies the worker's outcomes into the Prometheus metrics.
struct MetricsObserver(Arc<Metrics>);

impl MailObserver for MetricsObserver {
    fn delivered(&self, kind: MailKind, outcome: Outcome) {
        self.0.record_mail(kind.as_str(), outcome.as_str());
    }

    fn queue_depth(&self, depth: u64) {
        self.0
            .mail_queue_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }
}

/// Starts this instance's mail worker; `None` with `[mail] deliver =
/// false`. Templates are loaded (and every override checked) either way, so
/// a broken `templates_dir` stops the start.
pub fn start(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<Option<WorkerHandle>> {
    let templates = Templates::load(
        config.ui.branding.product_name.clone(),
        config.mail.templates_dir.as_deref(),
    )?
    .with_accent(Accent {
        color: config.ui.branding.accent_color.css(),
        text: config.ui.branding.accent_color.contrast_text().to_owned(),
    });
    let transport = transport(config)?;
    if !config.mail.deliver {
        tracing::info!("mail: queued here, delivered by an instance with mail.deliver = true");
        return Ok(None);
    }
    tracing::info!(transport = %transport.describe(), "mail: worker started");
    let worker = MailWorker::new(
        store,
        transport,
        Arc::new(templates),
        sender(config)?,
        clock,
        WorkerSettings::new(crate::events::lease_holder()),
    )
    .with_observer(Arc::new(MetricsObserver(metrics)));
    Ok(Some(warden_mail::spawn(worker)))
}

/// How long shutdown waits for the message in flight: one whole SMTP
/// exchange (twice the operation timeout) and a little more.
pub fn stop_grace(config: &Config) -> Duration {
    config.mail.smtp_timeout * 2 + Duration::from_secs(2)
}
