//! Mapping of MySQL / MariaDB errors onto the domain's [`StoreError`].

use sqlx::error::ErrorKind;
use sqlx::mysql::MySqlDatabaseError;
use warden_core::StoreError;

/// `ER_LOCK_WAIT_TIMEOUT`: a row lock was not granted in time.
const ER_LOCK_WAIT_TIMEOUT: u16 = 1205;
/// `ER_LOCK_DEADLOCK`: InnoDB chose this transaction as a deadlock victim.
const ER_LOCK_DEADLOCK: u16 = 1213;
/// `ER_DUP_ENTRY` and its variants: a unique key was violated.
const ER_DUP_KEY: u16 = 1022;
const ER_DUP_ENTRY: u16 = 1062;
const ER_DUP_ENTRY_WITH_KEY_NAME: u16 = 1586;
/// Server-side conditions under which the request may succeed later.
const ER_CON_COUNT_ERROR: u16 = 1040;
const ER_SERVER_SHUTDOWN: u16 = 1053;
const ER_TOO_MANY_USER_CONNECTIONS: u16 = 1203;
const ER_OPTION_PREVENTS_STATEMENT: u16 = 1290;
const ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION: u16 = 1792;
const ER_READ_ONLY_MODE: u16 = 1836;
/// MariaDB: the connection was killed.
const ER_CONNECTION_KILLED: u16 = 1927;
/// MariaDB `max_statement_time` exceeded.
const ER_STATEMENT_TIMEOUT: u16 = 1969;
/// MySQL `max_execution_time` exceeded.
const ER_QUERY_TIMEOUT: u16 = 3024;
/// Galera: the node is not ready (`WSREP has not yet prepared node`).
const ER_UNKNOWN_COM_ERROR: u16 = 1047;

/// The MySQL error number of a database error, if it is one.
fn error_number(err: &sqlx::Error) -> Option<u16> {
    err.as_database_error()
        .and_then(|db| db.try_downcast_ref::<MySqlDatabaseError>())
        .map(MySqlDatabaseError::number)
}

/// Whether `err` is a deadlock or a lock wait timeout: the whole transaction
/// may be retried from the start.
pub(crate) fn is_retryable(err: &sqlx::Error) -> bool {
    matches!(
        error_number(err),
        Some(ER_LOCK_DEADLOCK | ER_LOCK_WAIT_TIMEOUT)
    )
}

/// Maps a sqlx error onto the domain's store error. Never panics.
pub(crate) fn map_sqlx(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        // A connection cut mid-handshake or mid-message reads as garbage.
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(err.to_string()),
        sqlx::Error::Database(db) => {
            if matches!(db.kind(), ErrorKind::UniqueViolation) {
                return StoreError::Conflict;
            }
            match error_number(&err) {
                Some(ER_DUP_KEY | ER_DUP_ENTRY | ER_DUP_ENTRY_WITH_KEY_NAME) => {
                    StoreError::Conflict
                }
                Some(
                    ER_LOCK_WAIT_TIMEOUT
                    | ER_LOCK_DEADLOCK
                    | ER_CON_COUNT_ERROR
                    | ER_SERVER_SHUTDOWN
                    | ER_TOO_MANY_USER_CONNECTIONS
                    | ER_OPTION_PREVENTS_STATEMENT
                    | ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
                    | ER_READ_ONLY_MODE
                    | ER_CONNECTION_KILLED
                    | ER_STATEMENT_TIMEOUT
                    | ER_QUERY_TIMEOUT
                    | ER_UNKNOWN_COM_ERROR,
                ) => StoreError::Unavailable(err.to_string()),
                _ => StoreError::Unexpected(err.to_string()),
            }
        }
        _ => StoreError::Unexpected(err.to_string()),
    }
}

/// Maps a migration error onto the domain's store error.
pub(crate) fn map_migrate(err: sqlx::migrate::MigrateError) -> StoreError {
    match err {
        sqlx::migrate::MigrateError::Execute(inner) => map_sqlx(inner),
        other => StoreError::Unexpected(format!("migration failed: {other}")),
    }
}
