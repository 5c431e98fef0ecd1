//! The request deadline, answered in problem+json (it replaces
//! tower-http's `TimeoutLayer`, whose 503 has no body).
//!
//! A request still running when `[http] request_timeout_secs` passes is
//! cut off. If at that moment the handler is waiting for more of the
//! request body (a body shorter than its `Content-Length`, a client that
//! stalled mid-upload), the client is at fault: 408 `request_timeout`.
//! Otherwise the server was too slow: 503 `timeout`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::ApiError;

/// Middleware: runs the request within `timeout` (see the module docs).
pub async fn deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    let waiting = Arc::new(AtomicBool::new(false));
    let watched = waiting.clone();
    let request = request.map(|body| {
        Body::new(WatchedBody {
            inner: body,
            waiting: watched,
        })
    });
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) if waiting.load(Ordering::Acquire) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time",
        )
        .into_response(),
        Err(_) => {
            tracing::warn!(timeout_secs = timeout.as_secs_f64(), "request timed out");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long; try again",
            )
            .into_response()
        }
    }
}

/// A request body that tells whether it is being waited for.
struct WatchedBody {
    inner: Body,
    waiting: Arc<AtomicBool>,
}

impl HttpBody for WatchedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        self.waiting.store(polled.is_pending(), Ordering::Release);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
