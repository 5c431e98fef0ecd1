//! `[events]`: the event bus and the outbox relay.

use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use super::{Secret, millis};

/// `[events]`.
#[derive(Debug, Clone)]
pub struct EventsSection {
    /// `nats://host:4222`, `amqp://user:pass@host:5672/%2f`, or unset: in-process.
    pub url: Option<Secret>,
    /// First token of every subject / routing key.
    pub subject_prefix: String,
    /// JetStream stream name.
    pub stream: String,
    /// RabbitMQ topic exchange.
    pub exchange: String,
    /// How often the publishing instance looks for new outbox events.
    pub relay_poll: Duration,
}

impl Default for EventsSection {
    fn default() -> Self {
        Self {
            url: None,
            subject_prefix: "warden".into(),
            stream: "WARDEN".into(),
            exchange: "warden".into(),
            relay_poll: Duration::from_millis(50),
        }
    }
}

/// `[events]` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawEvents {
    url: Option<Secret>,
    subject_prefix: String,
    stream: String,
    exchange: String,
    relay_poll_ms: u64,
}

impl Default for RawEvents {
    fn default() -> Self {
        (&EventsSection::default()).into()
    }
}

impl From<&EventsSection> for RawEvents {
    fn from(events: &EventsSection) -> Self {
        Self {
            url: events.url.clone(),
            subject_prefix: events.subject_prefix.clone(),
            stream: events.stream.clone(),
            exchange: events.exchange.clone(),
            relay_poll_ms: millis(events.relay_poll),
        }
    }
}

impl TryFrom<RawEvents> for EventsSection {
    type Error = anyhow::Error;

    /// Checks the URL's scheme, the poll interval and the broker names.
    fn try_from(raw: RawEvents) -> anyhow::Result<Self> {
        if let Some(url) = &raw.url {
            warden_events::BusKind::of_url(Some(url.expose()))
                .map_err(|e| anyhow::anyhow!("events.url (WARDEN_EVENTS_URL): {e}"))?;
        }
        if raw.relay_poll_ms == 0 || raw.relay_poll_ms > 60_000 {
            bail!("events.relay_poll_ms must be between 1 and 60000");
        }
        for (name, value) in [
            ("events.subject_prefix", &raw.subject_prefix),
            ("events.stream", &raw.stream),
            ("events.exchange", &raw.exchange),
        ] {
            let valid = !value.is_empty()
                && value.len() <= 64
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                bail!("{name} must be 1-64 letters, digits, '_' or '-'");
            }
        }
        Ok(Self {
            url: raw.url,
            subject_prefix: raw.subject_prefix,
            stream: raw.stream,
            exchange: raw.exchange,
            relay_poll: Duration::from_millis(raw.relay_poll_ms),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env as env;
    use crate::config::{Config, Overrides};

    #[test]
    fn events_settings_come_from_the_environment_and_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let token_file = dir.path().join("feed-token");
        std::fs::write(&token_file, "from-a-file-0123456789\n").unwrap();
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_EVENTS_URL", "amqp://guest:s3cret@mq:5672/%2f"),
                ("WARDEN_EVENTS_SUBJECT_PREFIX", "tenant-a"),
                (
                    "WARDEN_REVOCATIONS_TOKEN_FILE",
                    token_file.to_str().unwrap(),
                ),
                ("WARDEN_CONFIG", "/not/a/setting.toml"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            config.events.url.as_ref().map(Secret::expose),
            Some("amqp://guest:s3cret@mq:5672/%2f")
        );
        assert_eq!(config.events.subject_prefix, "tenant-a");
        assert_eq!(
            config.revocations_token.as_ref().map(Secret::expose),
            Some("from-a-file-0123456789")
        );
        let printed = config.to_redacted_toml().unwrap();
        assert!(
            !printed.contains("s3cret") && !printed.contains("from-a-file"),
            "{printed}"
        );

        for (key, value, message) in [
            ("WARDEN_EVENTS_URL", "kafka://broker:9092", "events.url"),
            ("WARDEN_EVENTS_STREAM", "has.dots", "events.stream"),
            ("WARDEN_REVOCATIONS_TOKEN", "short", "at least 16"),
            ("WARDEN_EVENTS_RELAY_POLL_MS", "0", "relay_poll_ms"),
        ] {
            let err = Config::load(None, &env(&[(key, value)]), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(message), "{key}: {err}");
        }
    }
}
