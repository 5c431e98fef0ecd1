//! A tower layer that verifies the bearer token of every request before the
//! inner service sees it, and puts the [`AnyPrincipal`] (and a [`crate::Principal`] for a user) into the request's
//! extensions. Works for anything on `http` types: axum routers, hyper
//! services, tonic servers.
//!
//! A refused HTTP request gets exactly what the axum extractor answers:
//! Warden's problem+json (the same status, body, `Cache-Control: no-store`
//! and `WWW-Authenticate`), plus `x-warden-error` with the code. A refused
//! gRPC call gets `UNAUTHENTICATED`, `PERMISSION_DENIED` or `UNAVAILABLE` as
//! a trailers-only response. So that a refusal can carry a body whatever the
//! inner service's body type is, responses are a [`VerifyBody`]: the inner
//! body, or the refusal's.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header};
use http_body_util::{Either, Full};

use crate::principal::AnyPrincipal;
use crate::rejection::AuthRejection;
use crate::verifier::Verifier;

/// The body of a [`VerifyService`] response: the inner service's body
/// (`Either::Left`) or a refusal's problem+json (`Either::Right`; empty for
/// gRPC). It is an `http_body::Body` whenever the inner body is one with
/// `Bytes` data, which is what axum and tonic ask of a layered service.
pub type VerifyBody<B> = Either<B, Full<Bytes>>;

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
    scopes: Arc<[String]>,
}

impl VerifyLayer {
    /// Requires a valid, unrevoked user's token on every request.
    pub fn new(verifier: Verifier) -> Self {
        Self {
            verifier,
            roles: Arc::from(Vec::new()),
            scopes: Arc::from(Vec::new()),
        }
    }

    /// Requires a token granted one of `scopes` instead, and so also takes
    /// a service's own token (client credentials) that was (403 /
    /// `PERMISSION_DENIED` otherwise). The request's extensions get an
    /// [`AnyPrincipal`], and a [`crate::Principal`] too for a user.
    pub fn require_any_scope<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes = scopes
            .into_iter()
            .map(Into::into)
            .collect::<Vec<_>>()
            .into();
        self
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
            scopes: self.scopes.clone(),
        }
    }
}

/// The service of [`VerifyLayer`].
#[derive(Debug, Clone)]
pub struct VerifyService<S> {
    inner: S,
    verifier: Verifier,
    roles: Arc<[String]>,
    scopes: Arc<[String]>,
}

/// The future of [`VerifyService`].
pub type ResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

/// The response to a refused request: problem+json for HTTP, a
/// trailers-only status for gRPC.
fn refuse<B>(refusal: &AuthRejection, is_grpc: bool) -> Response<VerifyBody<B>> {
    if is_grpc {
        // gRPC: HTTP 200 with the status in (trailers-only) headers.
        let mut response = Response::new(Either::Right(Full::new(Bytes::new())));
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert(
            "grpc-status",
            HeaderValue::from_static(refusal.grpc_status()),
        );
        headers.insert("grpc-message", HeaderValue::from_static(refusal.code()));
        return response;
    }
    let mut response = Response::new(Either::Right(Full::new(Bytes::from(
        refusal.problem().body(),
    ))));
    *response.status_mut() = refusal.status();
    let headers = response.headers_mut();
    for (name, value) in refusal.headers() {
        headers.insert(name, value);
    }
    headers.insert("x-warden-error", HeaderValue::from_static(refusal.code()));
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
    ResBody: Send + 'static,
{
    type Response = Response<VerifyBody<ResBody>>;
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
        let scopes = self.scopes.clone();
        Box::pin(async move {
            let is_grpc = request
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/grpc"));
            let Some(token) = crate::bearer(request.headers()).map(str::to_owned) else {
                return Ok(refuse(&AuthRejection::missing(), is_grpc));
            };
            // Without scopes to require, users only, as before services
            // had tokens.
            let checked = if scopes.is_empty() {
                verifier.verify(&token).await.map(AnyPrincipal::User)
            } else {
                verifier.verify_any(&token).await
            };
            let principal = match checked {
                Ok(p) => p,
                Err(e) => return Ok(refuse(&e.into(), is_grpc)),
            };
            if !scopes.is_empty() && !scopes.iter().any(|s| principal.has_scope(s)) {
                return Ok(refuse(&AuthRejection::insufficient_scope(), is_grpc));
            }
            match &principal {
                AnyPrincipal::User(user) if user.has_any_role(&roles) => {
                    request.extensions_mut().insert(user.clone());
                }
                AnyPrincipal::Service(_) if roles.is_empty() => {}
                _ => return Ok(refuse(&AuthRejection::forbidden(), is_grpc)),
            }
            request.extensions_mut().insert(principal);
            let response = inner.call(request).await?;
            Ok(response.map(Either::Left))
        })
    }
}
