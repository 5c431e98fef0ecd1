//! Handlers, one module per resource.

pub mod accounts;
pub mod admin;
pub mod clients;
pub mod lifecycle;
pub mod mfa;
pub mod ops;
pub mod passkeys;
pub mod provider;
pub mod social;
pub mod tokens;

/// `Cache-Control: no-store`, for answers that show a secret this once.
pub(crate) fn no_store() -> [(axum::http::header::HeaderName, &'static str); 1] {
    [(axum::http::header::CACHE_CONTROL, "no-store")]
}
