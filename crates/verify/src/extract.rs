//! axum extractors: [`Principal`] for any valid user's token,
//! [`RequireRole`] for a role, [`RequireMfa`] for a two-factor sign-in,
//! [`AnyPrincipal`] for a user's or a service's token, [`RequireScope`] for
//! a granted scope. All fail before the handler runs, with Warden's
//! problem+json.

use std::marker::PhantomData;

use axum::extract::{FromRef, FromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;

use crate::error::{VerifyError, VerifyErrorKind};
use crate::principal::{AnyPrincipal, Principal};
use crate::rejection::AuthRejection;
use crate::verifier::Verifier;

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        // The same body, titles and headers as Warden's own API.
        let mut response = (self.status(), self.problem().body()).into_response();
        let headers = response.headers_mut();
        for (name, value) in self.headers() {
            headers.insert(name, value);
        }
        response
    }
}

impl<S> FromRequestParts<S> for Principal
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match AnyPrincipal::from_request_parts(parts, state).await? {
            AnyPrincipal::User(principal) => Ok(principal),
            AnyPrincipal::Service(_) => Err(VerifyError::new(VerifyErrorKind::UserRequired).into()),
        }
    }
}

impl<S> FromRequestParts<S> for AnyPrincipal
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Set by `VerifyLayer` when it already checked this request.
        if let Some(principal) = parts.extensions.get::<AnyPrincipal>() {
            return Ok(principal.clone());
        }
        let token = crate::bearer(&parts.headers).ok_or_else(AuthRejection::missing)?;
        let verifier = Verifier::from_ref(state);
        Ok(verifier.verify_any(token).await?)
    }
}

/// A scope name for [`RequireScope`]: `struct ReadTickets; impl ScopeName for ReadTickets { const NAME: &'static str = "tickets:read"; }`.
pub trait ScopeName: Send + Sync + 'static {
    /// The scope the token must have been granted.
    const NAME: &'static str;
}

/// Extracts an [`AnyPrincipal`] (a service's token, or a user's issued to
/// an OAuth client) that was granted scope `S`, else 403
/// `insufficient_scope`.
///
/// ```
/// use warden_verify::{AnyPrincipal, RequireScope, ScopeName};
///
/// struct ReadTickets;
/// impl ScopeName for ReadTickets {
///     const NAME: &'static str = "tickets:read";
/// }
///
/// async fn list_tickets(RequireScope(caller, ..): RequireScope<ReadTickets>) -> String {
///     match caller {
///         AnyPrincipal::Service(service) => format!("for the service {}", service.client_id),
///         AnyPrincipal::User(user) => format!("for the user {}", user.user_id),
///     }
/// }
/// ```
pub struct RequireScope<S: ScopeName>(pub AnyPrincipal, pub PhantomData<S>);

impl<S: ScopeName> std::fmt::Debug for RequireScope<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RequireScope")
            .field(&S::NAME)
            .field(&self.0)
            .finish()
    }
}

impl<St, S> FromRequestParts<St> for RequireScope<S>
where
    Verifier: FromRef<St>,
    St: Send + Sync,
    S: ScopeName,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let principal = AnyPrincipal::from_request_parts(parts, state).await?;
        if !principal.has_scope(S::NAME) {
            return Err(AuthRejection::insufficient_scope());
        }
        Ok(RequireScope(principal, PhantomData))
    }
}

/// A role name for [`RequireRole`]: `struct Admin; impl RoleName for Admin { const NAME: &'static str = "admin"; }`.
pub trait RoleName: Send + Sync + 'static {
    /// The role the token must carry.
    const NAME: &'static str;
}

/// Extracts a [`Principal`] that has role `R`, else 403 `forbidden`.
///
/// ```
/// use warden_verify::{RequireRole, RoleName};
///
/// struct Admin;
/// impl RoleName for Admin {
///     const NAME: &'static str = "admin";
/// }
///
/// async fn ban_user(RequireRole(admin, ..): RequireRole<Admin>) -> String {
///     format!("{} may ban", admin.user_id)
/// }
/// ```
pub struct RequireRole<R: RoleName>(pub Principal, pub PhantomData<R>);

impl<R: RoleName> std::fmt::Debug for RequireRole<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RequireRole")
            .field(&R::NAME)
            .field(&self.0)
            .finish()
    }
}

impl<S, R> FromRequestParts<S> for RequireRole<R>
where
    Verifier: FromRef<S>,
    S: Send + Sync,
    R: RoleName,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        if !principal.has_role(R::NAME) {
            return Err(AuthRejection::forbidden());
        }
        Ok(RequireRole(principal, PhantomData))
    }
}

/// Extracts a [`Principal`] whose session presented two factors (`acr`
/// `aal2`), else 401 `insufficient_user_authentication` with RFC 9470's
/// challenge (`acr_values="aal2"`), which tells the client to sign the
/// person in again with their second factor.
///
/// ```
/// use warden_verify::RequireMfa;
///
/// async fn send_payment(RequireMfa(who): RequireMfa) -> String {
///     format!("{} may pay", who.user_id)
/// }
/// ```
#[derive(Debug)]
pub struct RequireMfa(pub Principal);

impl<S> FromRequestParts<S> for RequireMfa
where
    Verifier: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        if !principal.is_multi_factor() {
            return Err(AuthRejection::insufficient_authentication());
        }
        Ok(RequireMfa(principal))
    }
}
