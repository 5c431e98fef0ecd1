//! The SQLite adapter of the [`Store`](warden_core::ports::Store) port.
//!
//! One database file in WAL mode, a small pool of connections, and every write
//! in a `BEGIN IMMEDIATE` transaction (the write lock is taken up front, so two
//! transactions never deadlock upgrading a read lock), retried a few times on
//! `SQLITE_BUSY` beyond the connection's busy timeout.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use warden_core::StoreError;
use warden_core::model::{OutboxEvent, Revocation};

use crate::crypto::KeyCipher;
use crate::error::{is_busy, map_migrate, map_sqlx};
use crate::retry::RetryPolicy;

use crate::rows::{revocation_kind_str, to_millis};

/// How many times a transaction or statement is retried after `SQLITE_BUSY`.
const MAX_BUSY_RETRIES: u32 = 4;
/// How long a connection waits for a lock before SQLite reports `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections in the pool: SQLite has one writer at a time; a few connections
/// let reads proceed alongside it.
const MAX_CONNECTIONS: u32 = 8;
/// How long a caller waits for a pooled connection before the store counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The embedded SQLite migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Retries on `SQLITE_BUSY`.
const RETRY: RetryPolicy = RetryPolicy {
    max_retries: MAX_BUSY_RETRIES,
    base_backoff_ms: 10,
    is_retryable: is_busy,
    map: map_sqlx,
};

/// Runs one write transaction (`BEGIN IMMEDIATE`), again from the start on
/// `SQLITE_BUSY`; see [`retry_tx`](crate::retry::retry_tx). Writers of
/// this process queue for the store's write gate first, so SQLite's lock
/// is free when they ask for it: contended, SQLite's busy handler sleeps
/// and polls (1, 2, 5, ... 100 ms), which made tail latencies of
/// concurrent writes hundreds of milliseconds; a queue hands the turn on
/// at once. Other processes (the CLI) still meet the busy handler.
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:block) => {{
        let _turn = $store.writer.lock().await;
        $crate::retry::retry_tx!(
            $crate::sqlite::RETRY,
            $store.pool.begin_with("BEGIN IMMEDIATE"),
            |$tx| $body
        )
    }};
}
mod store;

/// The SQLite store: the embedded default of Warden.
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    cipher: KeyCipher,
    /// Whose turn it is to write (see `write_tx!`).
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("pool", &self.pool)
            .field("cipher", &self.cipher)
            .finish()
    }
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url`, for example
    /// `sqlite:///var/lib/warden/warden.db` or `sqlite://warden.db` (relative
    /// to the working directory). `keys_encryption_key` encrypts the signing
    /// keys at rest. Does not run migrations: call [`SqliteStore::migrate`].
    pub async fn connect(
        url: &str,
        keys_encryption_key: impl Into<KeyCipher>,
    ) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|err| StoreError::Unexpected(format!("invalid SQLite database URL: {err}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(map_sqlx)?;
        let cipher = keys_encryption_key.into();
        Ok(SqliteStore {
            pool,
            cipher,
            writer: std::sync::Arc::default(),
        })
    }

    /// Applies the embedded migrations that are not applied yet; idempotent.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut attempt = 0;
        loop {
            match MIGRATOR.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(
                    sqlx::migrate::MigrateError::Execute(ref err)
                    | sqlx::migrate::MigrateError::ExecuteMigration(ref err, _),
                ) if is_busy(err) && attempt < MAX_BUSY_RETRIES => {
                    attempt += 1;
                    tokio::time::sleep(RETRY.backoff(attempt)).await;
                }
                Err(err) => return Err(map_migrate(err)),
            }
        }
    }

    /// The underlying pool (for tools and tests).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Runs a single read or autocommit statement, again on `SQLITE_BUSY`.
async fn retry<T, F, Fut>(op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    RETRY.run(op).await
}

/// Appends `events` to the outbox inside the caller's transaction.
async fn insert_events(
    conn: &mut SqliteConnection,
    events: &[OutboxEvent],
) -> Result<(), sqlx::Error> {
    for event in events {
        let data =
            serde_json::to_string(&event.data).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
        sqlx::query("INSERT INTO outbox (event_id, name, data, at) VALUES (?, ?, ?, ?)")
            .bind(event.id.to_string())
            .bind(&event.name)
            .bind(data)
            .bind(to_millis(event.at))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Records a revocation inside the caller's transaction.
async fn insert_revocation(
    conn: &mut SqliteConnection,
    revocation: &Revocation,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO revocation (kind, subject_id, not_before, until) VALUES (?, ?, ?, ?)")
        .bind(revocation_kind_str(revocation.kind))
        .bind(revocation.id.to_string())
        .bind(revocation.not_before.map(to_millis))
        .bind(to_millis(revocation.until))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Takes or renews the lease `name` (`outbox` for the relay, `mail` for the
/// mail worker) for `holder` until `until`. One conditional update decides:
/// it matches only when the lease is `holder`'s or has expired at `now`,
/// and the database serialises concurrent ones.
async fn acquire_lease(
    pool: &SqlitePool,
    name: &str,
    holder: &str,
    now: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
) -> Result<bool, StoreError> {
    let result = retry(|| {
        sqlx::query(
            "UPDATE relay_lease SET holder = ?, expires_at = ? \
                 WHERE lease_name = ? AND (holder = ? OR expires_at <= ?)",
        )
        .bind(holder)
        .bind(to_millis(until))
        .bind(name)
        .bind(holder)
        .bind(to_millis(now))
        .execute(pool)
    })
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Gives the lease `name` up if `holder` has it.
async fn release_lease(pool: &SqlitePool, name: &str, holder: &str) -> Result<(), StoreError> {
    retry(|| {
        sqlx::query(
            "UPDATE relay_lease SET holder = '', expires_at = 0 \
                 WHERE lease_name = ? AND holder = ?",
        )
        .bind(name)
        .bind(holder)
        .execute(pool)
    })
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
