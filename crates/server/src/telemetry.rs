//! Structured logs via `tracing`, pretty or JSON, to stderr; with the `otel`
//! feature and `otel.endpoint` set, the same spans exported as OpenTelemetry
//! traces over OTLP/gRPC.
//!
//! The HTTP, gRPC, store and bus crates only create `tracing` spans named
//! after the OpenTelemetry semantic conventions (`otel.name`, `otel.kind`,
//! `http.route`, `db.system.name`, ...); this module alone knows OpenTelemetry.
//! Incoming W3C `traceparent`/`tracestate` headers become the parent of the
//! request's span through [`trace_context_hook`].

use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _, Registry};

use crate::config::{LogFormat, LogSection, OtelSection};

type BoxedLayer = Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync>;

/// Keeps the trace exporter alive; [`Telemetry::shutdown`] flushes it.
#[must_use = "dropping the handle does not flush pending spans; call shutdown"]
pub struct Telemetry {
    #[cfg(feature = "otel")]
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    #[cfg(feature = "otel")]
    pub fn exports(&self) -> bool {
        self.provider.is_some()
    }

    /// Whether spans are exported: never without the `otel` feature.
    #[cfg(not(feature = "otel"))]
    pub fn exports(&self) -> bool {
        false
    }

    /// Exports what is still buffered, then stops the exporter.
    pub fn shutdown(self) {
        #[cfg(feature = "otel")]
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("warning: flushing traces failed: {e}");
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` overrides the configured level.
/// `otel` is `Some` for `serve` only: one-shot commands export nothing.
/// Must run inside the Tokio runtime (the gRPC exporter's channel lives there).
pub fn init(log: &LogSection, otel: Option<&OtelSection>) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal: in a file, a pipe or a log
    // collector escape codes are noise (NO_COLOR turns them off anywhere).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let fmt: BoxedLayer = match log.format {
        LogFormat::Json => fmt.json().flatten_event(true).boxed(),
        LogFormat::Pretty => fmt.boxed(),
    };
    let mut layers = vec![fmt];
    let telemetry = match otel.and_then(|o| o.endpoint.as_deref().map(|e| (o, e))) {
        #[cfg(feature = "otel")]
        Some((otel, endpoint)) => {
            let (layer, provider) = otlp::layer(otel, endpoint)?;
            layers.push(layer);
            Telemetry {
                provider: Some(provider),
            }
        }
        #[cfg(not(feature = "otel"))]
        Some(_) => anyhow::bail!(
            "otel.endpoint is set but this warden was built without the `otel` feature"
        ),
        None => Telemetry {
            #[cfg(feature = "otel")]
            provider: None,
        },
    };
    // A subscriber may already be set (tests); keep it.
    drop(
        tracing_subscriber::registry()
            .with(layers)
            .with(filter)
            .try_init(),
    );
    Ok(telemetry)
}

/// What the HTTP and gRPC servers call on each new request span: `Some`
/// only when spans are exported, so the plain build pays nothing.
pub fn trace_context_hook(telemetry: &Telemetry) -> Option<warden_http::TraceContextFn> {
    #[cfg(feature = "otel")]
    if telemetry.exports() {
        return Some(otlp::continue_trace);
    }
    let _ = telemetry;
    None
}

#[cfg(feature = "otel")]
mod otlp {
    use anyhow::Context as _;
    use axum::http::HeaderMap;
    use opentelemetry::propagation::{Extractor, TextMapPropagator as _};
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::WithExportConfig as _;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    use tracing_subscriber::Layer as _;

    use super::BoxedLayer;
    use crate::config::OtelSection;

    pub(super) fn layer(
        otel: &OtelSection,
        endpoint: &str,
    ) -> anyhow::Result<(BoxedLayer, SdkTracerProvider)> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .with_context(|| "building the OTLP exporter for otel.endpoint")?;
        // Parent-based: a caller that sampled its trace gets our spans in
        // it; the ratio applies to traces that start here.
        let sampler = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(otel.sample_ratio)));
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(otel.service_name.clone())
            .build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(sampler)
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("warden");
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_tracked_inactivity(false)
            .boxed();
        Ok((layer, provider))
    }

    struct Headers<'a>(&'a HeaderMap);

    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|k| k.as_str()).collect()
        }
    }

    /// Makes the caller's W3C trace (if any) the parent of `span`.
    pub(super) fn continue_trace(span: &tracing::Span, headers: &HeaderMap) {
        if !headers.contains_key("traceparent") {
            return;
        }
        let parent = TraceContextPropagator::new().extract(&Headers(headers));
        // Fails only if the span already started, which a fresh one has not.
        let _ = span.set_parent(parent);
    }
}
