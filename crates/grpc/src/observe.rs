//! Per-call count and latency: a tower layer around every service, reporting
//! to a [`CallObserver`] (the server wires it to its Prometheus metrics, so
//! this crate needs no registry of its own).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tonic::codegen::http;

/// Told of every finished call: the method path
/// (`/warden.v1.AuthService/Validate`, or `unmatched` for paths no service
/// knows, so clients cannot mint label values), the gRPC status name
/// (`OK`, `UNAUTHENTICATED`, ...) and how long the call took.
#[derive(Clone)]
pub struct CallObserver(Arc<ObserveFn>);

type ObserveFn = dyn Fn(&str, &'static str, Duration) + Send + Sync;

impl CallObserver {
    /// Reports to `observe`.
    pub fn new(observe: impl Fn(&str, &'static str, Duration) + Send + Sync + 'static) -> Self {
        Self(Arc::new(observe))
    }
}

impl std::fmt::Debug for CallObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallObserver")
    }
}

/// The layer (absent observer: calls pass through untouched).
#[derive(Clone, Debug)]
pub(crate) struct ObserveLayer(pub(crate) Option<CallObserver>);

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Observe {
            inner,
            observer: self.0.clone(),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Observe<S> {
    inner: S,
    observer: Option<CallObserver>,
}

impl<S, B, R> tower::Service<http::Request<B>> for Observe<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + 'static,
    S::Future: Send + 'static,
    S::Error: 'static,
    B: 'static,
    R: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let Some(observer) = self.observer.clone() else {
            return Box::pin(self.inner.call(request));
        };
        let started = Instant::now();
        let path = request.uri().path().to_owned();
        let call = self.inner.call(request);
        Box::pin(async move {
            let result = call.await;
            let status = match &result {
                Ok(response) => status_of(response),
                Err(_) => "INTERNAL",
            };
            // Unknown paths answer UNIMPLEMENTED from the router; no method
            // of ours does, so that status marks a path to keep out of labels.
            let method = if status == "UNIMPLEMENTED" {
                "unmatched"
            } else {
                path.as_str()
            };
            (observer.0)(method, status, started.elapsed());
            result
        })
    }
}

/// A failed unary call is answered "trailers-only": its `grpc-status` is in
/// the headers. A success carries it in the trailers, after the body; the
/// headers of a 200 without one are taken as OK (Warden has no streaming
/// methods that could fail mid-stream).
fn status_of<R>(response: &http::Response<R>) -> &'static str {
    if response.status() != http::StatusCode::OK {
        return "UNKNOWN";
    }
    match response.headers().get("grpc-status").map(|v| v.as_bytes()) {
        None | Some(b"0") => "OK",
        Some(code) => std::str::from_utf8(code)
            .ok()
            .and_then(|c| c.parse::<i32>().ok())
            .map_or("UNKNOWN", code_name),
    }
}

fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: Option<&'static str>) -> http::Response<()> {
        let mut response = http::Response::new(());
        if let Some(status) = status {
            response
                .headers_mut()
                .insert("grpc-status", http::HeaderValue::from_static(status));
        }
        response
    }

    #[test]
    fn statuses_are_named_from_the_headers() {
        assert_eq!(status_of(&response(None)), "OK");
        assert_eq!(status_of(&response(Some("0"))), "OK");
        assert_eq!(status_of(&response(Some("16"))), "UNAUTHENTICATED");
        assert_eq!(status_of(&response(Some("12"))), "UNIMPLEMENTED");
        assert_eq!(status_of(&response(Some("99"))), "UNKNOWN");
        assert_eq!(status_of(&response(Some("x"))), "UNKNOWN");
        let mut not_ok = response(None);
        *not_ok.status_mut() = http::StatusCode::BAD_GATEWAY;
        assert_eq!(status_of(&not_ok), "UNKNOWN");
    }
}
