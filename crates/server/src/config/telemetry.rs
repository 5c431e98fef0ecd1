//! `[log]` and `[otel]`: logging and OpenTelemetry trace export.

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// `[log]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// `pretty` or `json`.
    pub format: LogFormat,
    /// `tracing` filter directive.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info,sqlx=warn".into(),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[otel]`: OpenTelemetry traces over OTLP/gRPC (feature `otel`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtelSection {
    /// OTLP/gRPC collector, `http://host:4317`; unset: nothing is exported.
    pub endpoint: Option<String>,
    /// `service.name` of the exported resource.
    pub service_name: String,
    /// Share of the traces that start here which are kept, 0.0-1.0; a
    /// caller's sampling decision (in `traceparent`) is always followed.
    pub sample_ratio: f64,
}

impl Default for OtelSection {
    fn default() -> Self {
        Self {
            endpoint: None,
            service_name: "warden".into(),
            sample_ratio: 1.0,
        }
    }
}

impl OtelSection {
    /// Checks the endpoint, the ratio and the name.
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if let Some(endpoint) = &self.endpoint {
            if !cfg!(feature = "otel") {
                bail!(
                    "otel.endpoint (WARDEN_OTEL_ENDPOINT) needs a warden built with the `otel` feature"
                );
            }
            // The exporter speaks plain OTLP/gRPC: a collector next to Warden
            // (sidecar or node agent) forwards over TLS if needed.
            let rest = endpoint.strip_prefix("http://").ok_or_else(|| {
                anyhow::anyhow!(
                    "otel.endpoint must be http://host:port (OTLP/gRPC), not {endpoint:?}"
                )
            })?;
            if rest.is_empty() || rest.contains('@') {
                bail!("otel.endpoint must be http://host:port without credentials");
            }
        }
        if !(0.0..=1.0).contains(&self.sample_ratio) {
            bail!("otel.sample_ratio must be between 0.0 and 1.0");
        }
        if self.service_name.trim().is_empty() {
            bail!("otel.service_name must not be empty");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_env as env;
    use crate::config::{Config, Overrides};

    #[test]
    fn otel_settings_come_from_the_environment_and_are_checked() {
        let config = Config::load(None, &env(&[]), &Overrides::default()).unwrap();
        assert_eq!(config.otel.endpoint, None, "nothing is exported by default");
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_OTEL_ENDPOINT", "http://collector:4317"),
                ("WARDEN_OTEL_SERVICE_NAME", "warden-eu"),
                ("WARDEN_OTEL_SAMPLE_RATIO", "0.25"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(
            config.otel.endpoint.as_deref(),
            Some("http://collector:4317")
        );
        assert_eq!(config.otel.service_name, "warden-eu");
        assert!((config.otel.sample_ratio - 0.25).abs() < f64::EPSILON);
        assert!(config.to_redacted_toml().unwrap().contains("[otel]"));

        for (key, value, message) in [
            ("WARDEN_OTEL_ENDPOINT", "collector:4317", "http://host:port"),
            (
                "WARDEN_OTEL_ENDPOINT",
                "http://u:p@collector:4317",
                "credentials",
            ),
            ("WARDEN_OTEL_SAMPLE_RATIO", "1.5", "sample_ratio"),
            ("WARDEN_OTEL_SERVICE_NAME", " ", "service_name"),
        ] {
            let err = Config::load(None, &env(&[(key, value)]), &Overrides::default())
                .unwrap_err()
                .to_string();
            assert!(err.contains(message), "{key}={value}: {err}");
        }
    }
}
