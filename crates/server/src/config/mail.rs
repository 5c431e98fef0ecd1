//! `[mail]`: how queued mail is delivered (front-door contract, section 2).
//!
//! `transport = "log"` (default): each message, links included, goes to
//! the log and to `<data_dir>/mail/*.eml`. `transport = "smtp"`: to
//! `smtp_url` (or the file `smtp_url_file` names), which holds the
//! password and is therefore a [`Secret`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use warden_mail::{Mailbox, SmtpUrl};

use super::Secret;

/// Where mail goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransportKind {
    /// The log and `.eml` files in the data dir.
    Log,
    /// An SMTP server.
    Smtp,
}

/// `[mail]`.
#[derive(Debug, Clone)]
pub struct MailSection {
    /// Where mail goes.
    pub transport: MailTransportKind,
    /// The SMTP server, parsed (with `transport = "smtp"`).
    pub smtp: Option<SmtpUrl>,
    /// `smtp_url` as written (for `config check`, which redacts it).
    pub smtp_url: Option<Secret>,
    /// The file `smtp_url` was read from, if any.
    pub smtp_url_file: Option<PathBuf>,
    /// Extra trusted CA certificates (PEM) for the SMTP server's TLS.
    pub smtp_ca_file: Option<PathBuf>,
    /// Limit of each SMTP operation.
    pub smtp_timeout: Duration,
    /// The sender; default `<ui.product_name> <no-reply@<issuer host>>`.
    pub from: Option<Mailbox>,
    /// Template overrides, one file per template.
    pub templates_dir: Option<PathBuf>,
    /// Whether this instance runs the mail worker. `false`: it only queues
    /// (in the same transactions as always) and another instance with
    /// `deliver = true` sends; for API-only replicas, and for tests that
    /// read the queue.
    pub deliver: bool,
}

impl Default for MailSection {
    fn default() -> Self {
        Self {
            transport: MailTransportKind::Log,
            smtp: None,
            smtp_url: None,
            smtp_url_file: None,
            smtp_ca_file: None,
            smtp_timeout: Duration::from_secs(15),
            from: None,
            templates_dir: None,
            deliver: true,
        }
    }
}

impl MailSection {
    /// The transport for logs and `warden config check`, credentials redacted.
    pub fn describe(&self) -> String {
        match (&self.transport, &self.smtp) {
            (MailTransportKind::Smtp, Some(url)) => {
                format!("smtp {} ({})", url.redacted(), url.tls.describe())
            }
            _ => "log (the log and <data_dir>/mail/*.eml; nothing is sent)".to_owned(),
        }
    }
}

/// `[mail]` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMail {
    transport: MailTransportKind,
    pub(super) smtp_url: Option<Secret>,
    pub(super) smtp_url_file: Option<PathBuf>,
    smtp_ca_file: Option<PathBuf>,
    smtp_timeout_secs: u64,
    from: Option<String>,
    templates_dir: Option<PathBuf>,
    deliver: bool,
}

impl Default for RawMail {
    fn default() -> Self {
        (&MailSection::default()).into()
    }
}

impl From<&MailSection> for RawMail {
    fn from(mail: &MailSection) -> Self {
        Self {
            transport: mail.transport,
            smtp_url: mail.smtp_url.clone(),
            smtp_url_file: mail.smtp_url_file.clone(),
            smtp_ca_file: mail.smtp_ca_file.clone(),
            smtp_timeout_secs: mail.smtp_timeout.as_secs(),
            from: mail.from.as_ref().map(ToString::to_string),
            templates_dir: mail.templates_dir.clone(),
            deliver: mail.deliver,
        }
    }
}

impl RawMail {
    /// Replaces `smtp_url` by the contents of `smtp_url_file`.
    pub(super) fn read_secret_file(&mut self) -> anyhow::Result<()> {
        if let Some(path) = &self.smtp_url_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading mail.smtp_url_file {}", path.display()))?;
            self.smtp_url = Some(Secret::new(text.trim()));
        }
        Ok(())
    }
}

impl TryFrom<RawMail> for MailSection {
    type Error = anyhow::Error;

    /// Parses the SMTP URL (never quoting it), the sender and the limits.
    fn try_from(raw: RawMail) -> anyhow::Result<Self> {
        let smtp = match (raw.transport, &raw.smtp_url) {
            (MailTransportKind::Smtp, Some(url)) => Some(SmtpUrl::parse(url.expose())?),
            (MailTransportKind::Smtp, None) => bail!(
                "mail.transport = \"smtp\" needs mail.smtp_url (WARDEN_MAIL_SMTP_URL or _FILE)"
            ),
            (MailTransportKind::Log, _) => None,
        };
        if raw.smtp_timeout_secs == 0 || raw.smtp_timeout_secs > 300 {
            bail!("mail.smtp_timeout_secs must be between 1 and 300");
        }
        let from = raw
            .from
            .as_deref()
            .map(|from| {
                from.parse::<Mailbox>().map_err(|_| {
                    anyhow::anyhow!(
                        "mail.from must be an address, optionally with a name: \"Acme <no-reply@acme.example>\""
                    )
                })
            })
            .transpose()?;
        if smtp.is_some() && from.is_none() {
            bail!(
                "mail.from is required with transport = \"smtp\": the address your SMTP server may send from"
            );
        }
        if let Some(dir) = &raw.templates_dir
            && !dir.is_dir()
        {
            bail!("mail.templates_dir {} is not a directory", dir.display());
        }
        Ok(Self {
            transport: raw.transport,
            smtp,
            smtp_url: raw.smtp_url,
            smtp_url_file: raw.smtp_url_file,
            smtp_ca_file: raw.smtp_ca_file,
            smtp_timeout: Duration::from_secs(raw.smtp_timeout_secs),
            from,
            templates_dir: raw.templates_dir,
            deliver: raw.deliver,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_env as env;
    use crate::config::{Config, Overrides};

    use super::*;

    #[test]
    fn the_default_is_the_log_transport_and_smtp_is_configured_from_the_environment() {
        let config = Config::load(None, &[], &Overrides::default()).unwrap();
        assert_eq!(config.mail.transport, MailTransportKind::Log);
        assert!(
            config.mail.deliver,
            "an instance delivers unless told not to"
        );
        assert_eq!(config.ui.branding.product_name, "Warden");
        let queue_only = Config::load(
            None,
            &env(&[("WARDEN_MAIL_DELIVER", "false")]),
            &Overrides::default(),
        )
        .unwrap();
        assert!(!queue_only.mail.deliver);

        let dir = tempfile::tempdir().unwrap();
        let url_file = dir.path().join("smtp-url");
        std::fs::write(
            &url_file,
            "smtps://mailer:hunter2-s3cret@smtp.example.com\n",
        )
        .unwrap();
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_MAIL_TRANSPORT", "smtp"),
                ("WARDEN_MAIL_SMTP_URL_FILE", url_file.to_str().unwrap()),
                ("WARDEN_MAIL_FROM", "Acme <no-reply@acme.example>"),
                ("WARDEN_UI_PRODUCT_NAME", "Acme ID"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        let smtp = config.mail.smtp.as_ref().unwrap();
        assert_eq!((smtp.host.as_str(), smtp.port), ("smtp.example.com", 465));
        assert_eq!(smtp.password(), Some("hunter2-s3cret"));
        assert_eq!(config.ui.branding.product_name, "Acme ID");
        let described = config.mail.describe();
        assert_eq!(
            described,
            "smtp smtps://mailer:[redacted]@smtp.example.com:465 (implicit TLS)"
        );
        let printed = config.to_redacted_toml().unwrap();
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("product_name = \"Acme ID\""), "{printed}");
    }

    #[test]
    fn bad_mail_settings_are_refused_without_echoing_secrets() {
        for (pairs, message) in [
            (
                vec![("WARDEN_MAIL_TRANSPORT", "smtp")],
                "needs mail.smtp_url",
            ),
            (
                vec![("WARDEN_MAIL_TRANSPORT", "pigeon")],
                "WARDEN_MAIL_TRANSPORT",
            ),
            (
                vec![
                    ("WARDEN_MAIL_TRANSPORT", "smtp"),
                    (
                        "WARDEN_MAIL_SMTP_URL",
                        "smtp://u:hunter2@mail.example.com?tls=none",
                    ),
                    ("WARDEN_MAIL_FROM", "a@example.com"),
                ],
                "loopback",
            ),
            (
                vec![
                    ("WARDEN_MAIL_TRANSPORT", "smtp"),
                    ("WARDEN_MAIL_SMTP_URL", "smtp://u:hunter2@mail.example.com"),
                ],
                "mail.from is required",
            ),
            (vec![("WARDEN_MAIL_FROM", "not an address")], "mail.from"),
            (
                vec![("WARDEN_MAIL_SMTP_TIMEOUT_SECS", "0")],
                "smtp_timeout_secs",
            ),
            (
                vec![("WARDEN_MAIL_TEMPLATES_DIR", "/no/such/dir")],
                "templates_dir",
            ),
            (
                vec![("WARDEN_UI_PRODUCT_NAME", "two\nlines")],
                "product_name",
            ),
        ] {
            let err = Config::load(None, &env(&pairs), &Overrides::default())
                .expect_err(message)
                .to_string();
            assert!(err.contains(message), "{message}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
    }
}
