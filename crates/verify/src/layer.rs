//! A tower layer that verifies the bearer token of every request before the
//! inner service sees it, and puts the [`Principal`] into the request's
//! extensions. Works for anything on `http` types: axum routers, hyper
//! services, tonic servers (a refused gRPC call gets `UNAUTHENTICATED`,
//! `PERMISSION_DENIED` or `UNAVAILABLE` as a trailers-only response).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, StatusCode, header};

use crate::error::VerifyError;
use crate::principal::Principal;
use crate::verifier::Verifier;

/// Layer producing [`VerifyService`].
///
/// ```
/// # async fn demo(verifier: warden_verify::Verifier) {
/// use tower::ServiceBuilder;
/// let layer = ServiceBuilder::new()
///     .layer(warden_verify::VerifyLayer::new(verifier).require_any_role(["admin"]));
/// # let _ = layer; }
/// ```
#[derive(Debug, Clone)]
pub struct VerifyLayer {
    verifier: Verifier,
    roles: Arc<[String]>,
}

impl VerifyLayer {
    /// Requires a valid, unrevoked token on every request.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            roles: Arc::from(Vec::new()),
        }
    }

    /// Also requires one of `roles` (403 / `PERMISSION_DENIED` otherwise).
    pub fn require_any_role<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.roles = roles.into_iter().map(Into::into).collect::<Vec<_>>().into();
        self
    }
}

impl<S> tower_layer::Layer<S> for VerifyLayer {
    type Service = VerifyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        VerifyService {
            inner,
            verifier: self.verifier.clone(),
            roles: self.roles.clone(),
        }
    }
}

/// The service of [`VerifyLayer`].
#[derive(Debug, Clone)]
pub struct VerifyService<S> {
    inner: S,
    verifier: Verifier,
    roles: Arc<[String]>,
}

/// The future of [`VerifyService`].
pub type ResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

enum Refusal {
    /// No token at all.
    Missing,
    /// A token that failed, with its code.
    Unauthenticated(&'static str),
    Forbidden,
    Unavailable(&'static str),
}

impl From<VerifyError> for Refusal {
    fn from(e: VerifyError) -> Self {
        if e.is_client_error() {
            Refusal::Unauthenticated(e.code())
        } else {
            Refusal::Unavailable(e.code())
        }
    }
}

fn refuse<B: Default>(refusal: Refusal, is_grpc: bool) -> Response<B> {
    let token_presented = !matches!(refusal, Refusal::Missing);
    let (status, grpc_status, code) = match refusal {
        Refusal::Missing => (StatusCode::UNAUTHORIZED, "16", "invalid_token"),
        Refusal::Unauthenticated(code) => (StatusCode::UNAUTHORIZED, "16", code),
        Refusal::Forbidden => (StatusCode::FORBIDDEN, "7", "forbidden"),
        Refusal::Unavailable(code) => (StatusCode::SERVICE_UNAVAILABLE, "14", code),
    };
    let mut response = Response::new(B::default());
    if !is_grpc {
        *response.status_mut() = status;
    }
    let headers = response.headers_mut();
    if is_grpc {
        // gRPC: HTTP 200 with the status in (trailers-only) headers.
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert("grpc-status", HeaderValue::from_static(grpc_status));
        headers.insert("grpc-message", HeaderValue::from_static(code));
    } else {
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(warden_edge::challenge::bearer(token_presented)),
            );
        }
        if let Ok(value) = HeaderValue::from_str(code) {
            headers.insert("x-warden-error", value);
        }
    }
    response
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for VerifyService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone that was polled ready serves this call (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let roles = self.roles.clone();
        Box::pin(async move {
            let is_grpc = request
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/grpc"));
            let Some(token) = crate::bearer(request.headers()).map(str::to_owned) else {
                return Ok(refuse(Refusal::Missing, is_grpc));
            };
            let principal: Principal = match verifier.verify(&token).await {
                Ok(p) => p,
                Err(e) => return Ok(refuse(e.into(), is_grpc)),
            };
            if !principal.has_any_role(&roles) {
                return Ok(refuse(Refusal::Forbidden, is_grpc));
            }
            request.extensions_mut().insert(principal);
            inner.call(request).await
        })
    }
}
