//! Warden's store adapters: the SQLite implementation of
//! [`warden_core::ports::Store`] (the embedded default), its migrations and
//! the transactional outbox.
//!
//! ```no_run
//! # async fn demo() -> Result<(), warden_core::StoreError> {
//! let store = warden_store::SqliteStore::connect("sqlite://warden.db", [0; 32]).await?;
//! store.migrate().await?;
//! # Ok(()) }
//! ```
//!
//! Schema conventions (every adapter follows them): singular table names,
//! `<table>_id` keys, ids as canonical UUID strings (UUIDv7, so they sort by
//! time and serve as paging cursors), timestamps as Unix milliseconds.
//! Every change other services must learn of is written together with its
//! revocation rows and outbox events in one transaction.
//!
//! The [`contract`] module (feature `contract`) is the conformance suite every
//! adapter must pass.

#![cfg_attr(
    not(any(test, feature = "contract")),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(any(test, feature = "contract"))]
pub mod contract;
pub mod crypto;
mod error;
mod sqlite;

pub use crypto::WRONG_KEK;
pub use sqlite::SqliteStore;
