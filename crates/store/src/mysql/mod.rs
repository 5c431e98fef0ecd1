//! The MySQL / MariaDB adapter of the [`Store`](warden_core::ports::Store) port.
//!
//! A pool of connections, each set up for strict, predictable behaviour
//! (strict `sql_mode`, `READ COMMITTED`, a statement time limit). Every
//! write that carries events or revocations runs in one InnoDB transaction,
//! retried from the start (a few times, with jitter) when InnoDB reports a
//! deadlock or a lock wait timeout, so those never surface to callers.
//! Concurrency decisions are conditional updates checked through
//! `rows_affected()`; sqlx sets `CLIENT_FOUND_ROWS`, so that counts *matched*
//! rows, not only changed ones.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::{Connection as _, Executor as _};
use warden_core::StoreError;
use warden_core::model::{OutboxEvent, Revocation};

use crate::crypto::KeyCipher;
use crate::options::StoreOptions;
use crate::retry::RetryPolicy;

use self::error::{is_retryable, map_migrate, map_sqlx};
use crate::rows::{revocation_kind_str, to_millis};

mod error;

/// A boxed, sendable future.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How many times a transaction or statement is retried after a deadlock or
/// a lock wait timeout.
const MAX_RETRIES: u32 = 10;

/// The session `sql_mode`: strict (bad data is an error, never a silent
/// truncation or a zero date), no backslash escapes in string literals, no
/// engine substitution.
const SQL_MODE: &str = "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,\
                        ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,\
                        NO_BACKSLASH_ESCAPES,ONLY_FULL_GROUP_BY";

/// The embedded MySQL migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/mysql");

/// Retries deadlocks and lock wait timeouts.
const RETRY: RetryPolicy = RetryPolicy {
    max_retries: MAX_RETRIES,
    base_backoff_ms: 5,
    is_retryable,
    map: map_sqlx,
};

/// Runs one write transaction, again from the start on a deadlock or a lock
/// wait timeout; see [`retry_tx`](crate::retry::retry_tx).
macro_rules! write_tx {
    ($store:expr, |$tx:ident| $body:block) => {
        $crate::retry::retry_tx!($crate::mysql::RETRY, $store.pool.begin(), |$tx| $body)
    };
}
mod store;

/// The MySQL / MariaDB store.
#[derive(Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
    cipher: KeyCipher,
    /// For the dedicated migration connection.
    connect_options: MySqlConnectOptions,
}

impl fmt::Debug for MySqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the connect options: they hold the password.
        f.debug_struct("MySqlStore")
            .field("pool", &self.pool)
            .field("cipher", &self.cipher)
            .finish()
    }
}

impl MySqlStore {
    /// Connects to `url`, for example
    /// `mysql://warden:secret@db.internal:3306/warden?ssl-mode=required`
    /// (every option of the URL is honoured). `keys_encryption_key` encrypts
    /// the signing keys at rest. Does not run migrations: call
    /// [`MySqlStore::migrate`]. A server that cannot be reached within
    /// `options.acquire_timeout` is `StoreError::Unavailable`.
    pub async fn connect(
        url: &str,
        keys_encryption_key: impl Into<KeyCipher>,
        options: &StoreOptions,
    ) -> Result<MySqlStore, StoreError> {
        let connect_options = MySqlConnectOptions::from_str(url)
            .map_err(|err| StoreError::Unexpected(format!("invalid MySQL database URL: {err}")))?;
        let statement_timeout = options.statement_timeout;
        let pool = MySqlPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // No ping before every checkout: it doubles the round trips of a
            // request. A connection the server dropped fails its next
            // statement, which answers 503 once and is then discarded.
            .test_before_acquire(false)
            .after_connect(move |conn, _meta| {
                Box::pin(async move { configure_session(conn, statement_timeout).await })
            })
            .connect_with(connect_options.clone())
            .await
            .map_err(map_connect)?;
        let cipher = keys_encryption_key.into();
        Ok(MySqlStore {
            pool,
            cipher,
            connect_options,
        })
    }

    /// Applies the embedded migrations that are not applied yet; idempotent,
    /// and safe when several instances start at once (sqlx holds a
    /// `GET_LOCK` lock while migrating). Refuses a database whose schema is
    /// newer than this binary. Runs on a dedicated connection without the
    /// statement time limit.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = MySqlConnection::connect_with(&self.connect_options)
            .await
            .map_err(map_connect)?;
        let result = migrate_on(&mut conn).await;
        if let Err(err) = conn.close().await {
            tracing::debug!(error = %err, "closing the migration connection failed");
        }
        result
    }

    /// The underlying pool (for tools and tests).
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Any failure to establish a connection: the store is unavailable, unless
/// the options themselves are invalid.
fn map_connect(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::Configuration(inner) => {
            StoreError::Unexpected(format!("invalid MySQL connection settings: {inner}"))
        }
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// Sets up a new connection: strict `sql_mode`; `READ COMMITTED` (no gap
/// locks, so fewer deadlocks between concurrent inserts) unless statement
/// binary logging forbids it; and the statement time limit, if any
/// (`Some(Duration::ZERO)` lifts the server default). MariaDB's
/// `max_statement_time` covers every statement, MySQL's
/// `max_execution_time` only reads.
///
/// Boxed with an explicit `Send` bound: sqlx's executor impls are generic over
/// the borrow's lifetime, which defeats the compiler's `Send` inference for
/// the futures of callers that are spawned.
fn configure_session(
    conn: &mut MySqlConnection,
    statement_timeout: Option<Duration>,
) -> BoxFuture<'_, Result<(), sqlx::Error>> {
    Box::pin(configure_session_inner(conn, statement_timeout))
}

async fn configure_session_inner(
    conn: &mut MySqlConnection,
    statement_timeout: Option<Duration>,
) -> Result<(), sqlx::Error> {
    let set_mode = format!("SET SESSION sql_mode = '{SQL_MODE}'");
    conn.execute(set_mode.as_str()).await?;
    let (version, binlog_format): (String, String) = sqlx::query_as(
        "SELECT CAST(VERSION() AS CHAR), CAST(COALESCE(@@SESSION.binlog_format, '') AS CHAR)",
    )
    .fetch_one(&mut *conn)
    .await?;
    if !binlog_format.eq_ignore_ascii_case("STATEMENT") {
        conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            .await?;
    }
    if let Some(timeout) = statement_timeout {
        let sql = if version.contains("MariaDB") {
            // Seconds, with microsecond precision; 0 means no limit.
            let micros = timeout.as_micros().min(u128::from(u32::MAX) * 1_000_000);
            format!(
                "SET SESSION max_statement_time = {}.{:06}",
                micros / 1_000_000,
                micros % 1_000_000
            )
        } else {
            // Milliseconds; 0 means no limit.
            let millis = timeout.as_millis().min(u128::from(u32::MAX));
            let millis = if millis == 0 && !timeout.is_zero() {
                1
            } else {
                millis
            };
            format!("SET SESSION max_execution_time = {millis}")
        };
        conn.execute(sql.as_str()).await?;
    }
    Ok(())
}

/// The newest migration version this binary embeds.
fn newest_embedded_version() -> i64 {
    MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0)
}

/// The highest migration version applied to the database, if any.
fn applied_version(conn: &mut MySqlConnection) -> BoxFuture<'_, Result<Option<i64>, sqlx::Error>> {
    Box::pin(applied_version_inner(conn))
}

async fn applied_version_inner(conn: &mut MySqlConnection) -> Result<Option<i64>, sqlx::Error> {
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = '_sqlx_migrations'",
    )
    .fetch_one(&mut *conn)
    .await?;
    if tables == 0 {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await
}

/// Checks the schema version, then applies the pending migrations (boxed for
/// the reason [`configure_session`] is).
fn migrate_on(conn: &mut MySqlConnection) -> BoxFuture<'_, Result<(), StoreError>> {
    Box::pin(migrate_on_inner(conn))
}

/// How long `migrate` waits for another instance's migration to finish.
const MIGRATION_LOCK_WAIT: Duration = Duration::from_secs(120);

/// The name of the per-database migration lock (user locks are server-wide
/// and at most 64 characters, so the database name is hashed).
const MIGRATION_LOCK_NAME: &str = "CONCAT('warden-migrate:', LEFT(SHA2(DATABASE(), 256), 40))";

async fn migrate_on_inner(conn: &mut MySqlConnection) -> Result<(), StoreError> {
    configure_session(conn, Some(Duration::ZERO))
        .await
        .map_err(map_sqlx)?;
    // sqlx's own migration lock asks for `GET_LOCK(name, -1)`, which MariaDB
    // answers with NULL at once instead of waiting: two instances starting
    // together would both apply the schema. Hold our own lock around it.
    let acquired: Option<i64> =
        sqlx::query_scalar(&format!("SELECT GET_LOCK({MIGRATION_LOCK_NAME}, ?)"))
            .bind(MIGRATION_LOCK_WAIT.as_secs())
            .fetch_one(&mut *conn)
            .await
            .map_err(map_sqlx)?;
    if acquired != Some(1) {
        return Err(StoreError::Unavailable(format!(
            "another instance held the migration lock for over {} s",
            MIGRATION_LOCK_WAIT.as_secs()
        )));
    }
    let result = migrate_locked(conn).await;
    let released = sqlx::query(&format!("DO RELEASE_LOCK({MIGRATION_LOCK_NAME})"))
        .execute(&mut *conn)
        .await;
    if let Err(err) = released {
        // The lock also ends with the connection, which `migrate` closes.
        tracing::debug!(error = %err, "releasing the migration lock failed");
    }
    result
}

async fn migrate_locked(conn: &mut MySqlConnection) -> Result<(), StoreError> {
    let ours = newest_embedded_version();
    if let Some(db) = applied_version(conn).await.map_err(map_sqlx)?
        && db > ours
    {
        return Err(StoreError::Unexpected(format!(
            "the database schema is at version {db} but this warden binary only knows up to \
             {ours}; upgrade warden"
        )));
    }
    let mut attempt = 0;
    loop {
        match MIGRATOR.run_direct(&mut *conn).await {
            Ok(()) => return Ok(()),
            Err(
                sqlx::migrate::MigrateError::Execute(ref err)
                | sqlx::migrate::MigrateError::ExecuteMigration(ref err, _),
            ) if is_retryable(err) && attempt < MAX_RETRIES => {
                attempt += 1;
                tokio::time::sleep(RETRY.backoff(attempt)).await;
            }
            Err(err) => return Err(map_migrate(err)),
        }
    }
}

/// Runs a single read or autocommit statement, again on a deadlock or a lock
/// wait timeout.
async fn retry<T, F, Fut>(op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    RETRY.run(op).await
}

/// Appends `events` to the outbox inside the caller's transaction; call it
/// last, right before the commit. It first locks the single `outbox_lock`
/// row, so transactions that write events commit in the order of their
/// sequence numbers (AUTO_INCREMENT values are handed out at insert time,
/// not at commit) and a reader paging by `outbox_seq` never skips one.
async fn insert_events(
    conn: &mut MySqlConnection,
    events: &[OutboxEvent],
) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT outbox_lock_id FROM outbox_lock WHERE outbox_lock_id = 1 FOR UPDATE")
        .fetch_optional(&mut *conn)
        .await?;
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
    conn: &mut MySqlConnection,
    revocation: &Revocation,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO revocation (kind, subject_id, not_before, valid_until) VALUES (?, ?, ?, ?)",
    )
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
    pool: &MySqlPool,
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
async fn release_lease(pool: &MySqlPool, name: &str, holder: &str) -> Result<(), StoreError> {
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
