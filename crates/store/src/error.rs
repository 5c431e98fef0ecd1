//! Mapping of sqlx errors onto the domain's [`StoreError`].

use sqlx::error::ErrorKind;
use warden_core::StoreError;

/// SQLite primary result codes that mean "another connection holds a lock".
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
/// SQLite primary result codes that mean the database file is unusable right now.
const SQLITE_IOERR: i32 = 10;
const SQLITE_FULL: i32 = 13;
const SQLITE_CANTOPEN: i32 = 14;

/// The SQLite primary result code of a database error, if it is one.
fn sqlite_primary_code(err: &sqlx::Error) -> Option<i32> {
    let sqlx::Error::Database(db) = err else {
        return None;
    };
    // sqlx reports the *extended* result code; the primary code is its low byte.
    db.code()
        .and_then(|code| code.parse::<i32>().ok())
        .map(|code| code & 0xff)
}

/// Whether `err` is SQLITE_BUSY / SQLITE_LOCKED, i.e. worth retrying.
pub(crate) fn is_busy(err: &sqlx::Error) -> bool {
    matches!(sqlite_primary_code(err), Some(SQLITE_BUSY | SQLITE_LOCKED))
}

/// Maps a sqlx error onto the domain's store error. Never panics.
pub(crate) fn map_sqlx(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => StoreError::Unavailable(err.to_string()),
        sqlx::Error::Database(db) => {
            if matches!(db.kind(), ErrorKind::UniqueViolation) {
                return StoreError::Conflict;
            }
            match sqlite_primary_code(&err) {
                Some(
                    SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN,
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
