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
pub mod deadline;
mod error;
mod grace;
mod mysql;
pub mod options;
mod postgres;
mod retry;
mod rows;
mod sqlite;
#[cfg(any(test, feature = "contract"))]
pub mod testing;

use std::sync::Arc;

use warden_core::StoreError;
use warden_core::ports::Store;

pub use crypto::{KeyCipher, NO_KEK, WRONG_KEK};
pub use mysql::MySqlStore;
pub use options::StoreOptions;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

/// The adapter a database URL selects: `sqlite:`, `postgres:`/`postgresql:`, `mysql:`/`mariadb:`.
pub enum AnyStore {
    /// The embedded default.
    Sqlite(Box<SqliteStore>),
    /// PostgreSQL.
    Postgres(Box<PgStore>),
    /// MySQL or MariaDB.
    MySql(Box<MySqlStore>),
}

impl AnyStore {
    /// Connects to the database `url` names; `keys_encryption_key` encrypts
    /// signing keys at rest.
    pub async fn connect(
        url: &str,
        keys_encryption_key: impl Into<KeyCipher>,
        options: &StoreOptions,
    ) -> Result<AnyStore, StoreError> {
        let scheme = url
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match scheme.as_str() {
            "sqlite" => Ok(AnyStore::Sqlite(Box::new(
                SqliteStore::connect(url, keys_encryption_key).await?,
            ))),
            "postgres" | "postgresql" => Ok(AnyStore::Postgres(Box::new(
                PgStore::connect(url, keys_encryption_key, options).await?,
            ))),
            "mysql" | "mariadb" => {
                let url = url.replacen("mariadb:", "mysql:", 1);
                Ok(AnyStore::MySql(Box::new(
                    MySqlStore::connect(&url, keys_encryption_key, options).await?,
                )))
            }
            other => Err(StoreError::Unexpected(format!(
                "unsupported database URL scheme {other:?}: use sqlite://, postgres:// or mysql://"
            ))),
        }
    }

    /// Applies pending migrations (idempotent; safe when several instances
    /// start at once). Refuses a database whose schema is newer than this binary.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(store) => store.migrate().await,
            AnyStore::Postgres(store) => store.migrate().await,
            AnyStore::MySql(store) => store.migrate().await,
        }
    }

    /// The port, for the domain service: every call is a `store.<operation>`
    /// span, and network databases get a deadline on every call
    /// (`options.acquire_timeout`), so an unreachable server answers
    /// `store_unavailable` promptly instead of hanging requests.
    pub fn into_store_with(self, options: &StoreOptions) -> Arc<dyn Store> {
        let limit = Some(options.acquire_timeout);
        let (inner, limit, system): (Arc<dyn Store>, _, _) = match self {
            AnyStore::Sqlite(store) => (Arc::new(*store) as Arc<dyn Store>, None, "sqlite"),
            AnyStore::Postgres(store) => (Arc::new(*store), limit, "postgresql"),
            AnyStore::MySql(store) => (Arc::new(*store), limit, "mysql"),
        };
        Arc::new(deadline::Deadline::with_system(inner, limit, system))
    }

    /// The port without a deadline (command-line tools).
    pub fn into_store(self) -> Arc<dyn Store> {
        match self {
            AnyStore::Sqlite(store) => Arc::new(*store),
            AnyStore::Postgres(store) => Arc::new(*store),
            AnyStore::MySql(store) => Arc::new(*store),
        }
    }
}
