//! Handlers, one module per resource.

pub mod accounts;
pub mod admin;
pub mod lifecycle;
pub mod mfa;
pub mod ops;
pub mod passkeys;
pub mod social;
pub mod tokens;
