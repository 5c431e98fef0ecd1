//! OpenTelemetry export (feature `otel`): the real binary, pointed at an
//! OTLP/gRPC receiver written here (tonic serving the real
//! `opentelemetry.proto` TraceService), continues a caller's W3C trace.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use reqwest::Client;
use serde_json::{Value, json};
use warden_grpc::pb;
use warden_testkit::{STRONG_PASSWORD, unique_email};

use warden_testkit::process::{random_kek, ready, spawn};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// Every span the receiver was sent, with its `service.name`.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| text(kv.value.as_ref()?.value.as_ref()?))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                spans.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn text(value: &AnyValue) -> Option<String> {
    match value {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(i) => Some(i.to_string()),
        AnyValue::BoolValue(b) => Some(b.to_string()),
        AnyValue::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| text(kv.value.as_ref()?.value.as_ref()?))
}

/// Serves the OTLP TraceService on a free loopback port.
async fn start_receiver() -> (Receiver, String) {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let service = TraceServiceServer::new(receiver.clone());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    (receiver, endpoint)
}

fn traceparent() -> String {
    format!("00-{TRACE_ID}-{CALLER_SPAN}-01")
}

fn sqlite_url(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("warden.db").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_continue_the_callers_trace_and_carry_no_secrets() {
    let (receiver, endpoint) = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let kek = random_kek();
    let instance = ready(spawn(
        &sqlite_url(dir.path()),
        &kek,
        dir.path(),
        &[
            ("WARDEN_OTEL_ENDPOINT", &endpoint),
            ("WARDEN_OTEL_SERVICE_NAME", "warden-under-test"),
            // Export within a tenth of a second instead of five.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    ));
    let client = Client::builder().no_proxy().build().unwrap();

    let email = unique_email();
    let signup = client
        .post(format!("{}/v1/signup", instance.base))
        .header("traceparent", traceparent())
        .header("tracestate", "vendor=opaque")
        .json(&json!({"email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 201);
    let body: Value = signup.json().await.unwrap();
    let access = body["tokens"]["access_token"].as_str().unwrap().to_owned();
    let refresh = body["tokens"]["refresh_token"].as_str().unwrap().to_owned();

    let validate = client
        .post(format!("{}/v1/validate", instance.base))
        .header("traceparent", traceparent())
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(validate.status(), 200);

    // A gRPC call carrying the same trace in its metadata.
    let mut grpc = pb::auth_service_client::AuthServiceClient::connect(instance.grpc.clone())
        .await
        .unwrap();
    let mut request = tonic::Request::new(pb::ValidateRequest {
        token: access.clone(),
    });
    request
        .metadata_mut()
        .insert("traceparent", traceparent().parse().unwrap());
    grpc.validate(request).await.unwrap();

    // A request without a traceparent starts a trace of its own.
    let me = client
        .get(format!("{}/v1/me", instance.base))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    let spans = wait_for(&receiver, |spans| {
        let ours = |name: &str| {
            spans
                .iter()
                .any(|(_, s)| s.name == name && hex(&s.trace_id) == TRACE_ID)
        };
        ours("POST /v1/signup")
            && ours("POST /v1/validate")
            && ours("warden.v1.AuthService/Validate")
            && spans.iter().any(|(_, s)| s.name == "GET /v1/me")
    })
    .await;

    let by_name = |name: &str| -> &Span {
        &spans
            .iter()
            .find(|(_, s)| s.name == name && hex(&s.trace_id) == TRACE_ID)
            .unwrap_or_else(|| panic!("no span {name}"))
            .1
    };
    let signup_span = by_name("POST /v1/signup");
    assert_eq!(hex(&signup_span.parent_span_id), CALLER_SPAN);
    assert_eq!(signup_span.kind, 2, "SPAN_KIND_SERVER");
    assert_eq!(
        attribute(signup_span, "http.route").as_deref(),
        Some("/v1/signup")
    );
    assert_eq!(
        attribute(signup_span, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(
        attribute(signup_span, "http.response.status_code").as_deref(),
        Some("201")
    );
    assert_eq!(
        signup_span.trace_state, "vendor=opaque",
        "tracestate is carried"
    );
    assert!(
        spans
            .iter()
            .all(|(service, _)| service == "warden-under-test")
    );

    // The store calls of the sign-up are children of its HTTP span.
    let store_spans: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.name.starts_with("store.") && s.parent_span_id == signup_span.span_id)
        .collect();
    assert!(
        store_spans.iter().any(|s| s.name == "store.create_user"),
        "{:?}",
        store_spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    for span in &store_spans {
        assert_eq!(hex(&span.trace_id), TRACE_ID);
        assert_eq!(attribute(span, "db.system.name").as_deref(), Some("sqlite"));
        assert_eq!(span.kind, 3, "SPAN_KIND_CLIENT");
    }

    let grpc_span = by_name("warden.v1.AuthService/Validate");
    assert_eq!(hex(&grpc_span.parent_span_id), CALLER_SPAN);
    assert_eq!(attribute(grpc_span, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        hex(&by_name("POST /v1/validate").parent_span_id),
        CALLER_SPAN
    );

    let me_span = &spans
        .iter()
        .find(|(_, s)| s.name == "GET /v1/me")
        .unwrap()
        .1;
    assert_ne!(hex(&me_span.trace_id), TRACE_ID, "a new trace");
    assert!(me_span.parent_span_id.is_empty(), "a root span");

    // Nothing secret or personal in any name or attribute.
    for (_, span) in &spans {
        let mut texts = vec![span.name.clone()];
        texts.extend(
            span.attributes
                .iter()
                .filter_map(|kv| text(kv.value.as_ref()?.value.as_ref()?)),
        );
        for text in texts {
            for secret in [STRONG_PASSWORD, &access, &refresh, &email, &kek] {
                assert!(
                    !text.contains(secret),
                    "{} carries a secret: {text}",
                    span.name
                );
            }
            assert!(!text.contains("Bearer"), "{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_nothing_is_exported() {
    let (receiver, endpoint) = start_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    // The SDK's own variables do not switch export on: only Warden's setting.
    let instance = ready(spawn(
        &sqlite_url(dir.path()),
        &random_kek(),
        dir.path(),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    ));
    let client = Client::builder().no_proxy().build().unwrap();
    let response = client
        .post(format!("{}/v1/signup", instance.base))
        .header("traceparent", traceparent())
        .json(&json!({"email": unique_email(), "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(receiver.spans.lock().unwrap().is_empty());
}

#[test]
fn config_check_accepts_and_checks_the_endpoint() {
    let check = |endpoint: &str| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_warden"));
        for (key, _) in std::env::vars() {
            if key.starts_with("WARDEN_") {
                command.env_remove(key);
            }
        }
        command
            .args(["config", "check"])
            .env("WARDEN_OTEL_ENDPOINT", endpoint)
            .env("WARDEN_OTEL_SAMPLE_RATIO", "0.5")
            .output()
            .unwrap()
    };
    let ok = check("http://127.0.0.1:4317");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let printed = String::from_utf8_lossy(&ok.stdout);
    assert!(
        printed.contains("[otel]") && printed.contains("127.0.0.1:4317"),
        "{printed}"
    );
    assert!(printed.contains("sample_ratio = 0.5"), "{printed}");
    let bad = check("grpc://collector");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("otel.endpoint"));
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Polls the receiver until `done` holds (the exporter batches).
async fn wait_for(
    receiver: &Receiver,
    done: impl Fn(&[(String, Span)]) -> bool,
) -> Vec<(String, Span)> {
    for _ in 0..100 {
        {
            let spans = receiver.spans.lock().unwrap();
            if done(&spans) {
                return spans.clone();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let spans = receiver.spans.lock().unwrap();
    panic!(
        "expected spans never arrived; got {:?}",
        spans
            .iter()
            .map(|(_, s)| (s.name.clone(), hex(&s.trace_id)))
            .collect::<Vec<_>>()
    );
}
