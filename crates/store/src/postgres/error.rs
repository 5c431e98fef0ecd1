//! Mapping of PostgreSQL errors (by SQLSTATE) onto the domain's [`StoreError`].
//!
//! <https://www.postgresql.org/docs/current/errcodes-appendix.html>

use sqlx::migrate::MigrateError;
use sqlx::postgres::PgDatabaseError;
use warden_core::StoreError;

/// `unique_violation`: a taken e-mail, refresh hash, kid or id.
const UNIQUE_VIOLATION: &str = "23505";
/// `serialization_failure` (also raised on a standby for recovery conflicts).
const SERIALIZATION_FAILURE: &str = "40001";
/// `deadlock_detected`.
const DEADLOCK_DETECTED: &str = "40P01";
/// `read_only_sql_transaction`: connected to a standby, typically mid-failover.
const READ_ONLY_SQL_TRANSACTION: &str = "25006";
/// `lock_not_available` (`lock_timeout`).
const LOCK_NOT_AVAILABLE: &str = "55P03";
/// `query_canceled`: `statement_timeout` fired (or an operator cancelled it).
const QUERY_CANCELED: &str = "57014";
/// `admin_shutdown`, `crash_shutdown`, `cannot_connect_now`.
const SHUTDOWN_CODES: [&str; 3] = ["57P01", "57P02", "57P03"];
/// Class 08 (connection exception) and class 53 (insufficient resources:
/// disk full, out of memory, too many connections).
const UNAVAILABLE_CLASSES: [&str; 2] = ["08", "53"];

/// The SQLSTATE of a database error, if it is one.
fn sqlstate(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<PgDatabaseError>()
            .map(PgDatabaseError::code),
        _ => None,
    }
}

/// Whether `err` means "run the whole transaction again": a serialization
/// failure or a deadlock, after which PostgreSQL has rolled the transaction back.
pub(crate) fn is_retryable(err: &sqlx::Error) -> bool {
    matches!(
        sqlstate(err),
        Some(SERIALIZATION_FAILURE | DEADLOCK_DETECTED)
    )
}

/// Maps a sqlx error onto the domain's store error. Never panics.
pub(crate) fn map_pg(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        // A connection cut mid-handshake or mid-message reads as garbage.
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(err.to_string()),
        sqlx::Error::Database(_) => match sqlstate(&err) {
            Some(UNIQUE_VIOLATION) => StoreError::Conflict,
            Some(
                code @ (SERIALIZATION_FAILURE
                | DEADLOCK_DETECTED
                | READ_ONLY_SQL_TRANSACTION
                | LOCK_NOT_AVAILABLE
                | QUERY_CANCELED),
            ) => StoreError::Unavailable(format!("{err} (SQLSTATE {code})")),
            Some(code) if SHUTDOWN_CODES.contains(&code) => {
                StoreError::Unavailable(format!("{err} (SQLSTATE {code})"))
            }
            Some(code)
                if UNAVAILABLE_CLASSES
                    .iter()
                    .any(|class| code.starts_with(class)) =>
            {
                StoreError::Unavailable(format!("{err} (SQLSTATE {code})"))
            }
            Some(code) => StoreError::Unexpected(format!("{err} (SQLSTATE {code})")),
            None => StoreError::Unexpected(err.to_string()),
        },
        _ => StoreError::Unexpected(err.to_string()),
    }
}

/// The message for a database migrated by a newer Warden.
pub(crate) fn schema_too_new(db: i64, ours: i64) -> StoreError {
    StoreError::Unexpected(format!(
        "the database schema is at version {db} but this warden binary only knows up to {ours}; upgrade warden"
    ))
}

/// Maps a migration error onto the domain's store error; `newest` is the
/// newest migration this binary embeds.
pub(crate) fn map_migrate(err: MigrateError, newest: i64) -> StoreError {
    match err {
        MigrateError::Execute(inner) => map_pg(inner),
        MigrateError::ExecuteMigration(inner, version) => match map_pg(inner) {
            StoreError::Unavailable(msg) => {
                StoreError::Unavailable(format!("migration {version}: {msg}"))
            }
            other => StoreError::Unexpected(format!("migration {version} failed: {other}")),
        },
        // A newer binary migrated between our version check and the lock.
        MigrateError::VersionMissing(version) if version > newest => {
            schema_too_new(version, newest)
        }
        other => StoreError::Unexpected(format!("migration failed: {other}")),
    }
}
