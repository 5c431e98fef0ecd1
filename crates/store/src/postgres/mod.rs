//! The PostgreSQL adapter of the [`Store`](warden_core::ports::Store) port.
//!
//! A pool of connections, each with the configured `statement_timeout`; every
//! write in one `READ COMMITTED` transaction whose decisions are conditional
//! statements (`UPDATE ... WHERE used_at IS NULL RETURNING`, `INSERT ... ON
//! CONFLICT DO UPDATE ... RETURNING`), never read-then-write. A transaction
//! that fails with a serialization failure or a deadlock is run again from the
//! start (a few times, with jittered back-off), so those never reach callers.
//!
//! Outbox order: `BIGSERIAL` values are handed out when a row is inserted,
//! not when its transaction commits, so two concurrent writers could commit
//! sequence numbers out of order and a reader paging with `outbox_seq >
//! last_seen` would skip the late one for good. Every transaction therefore
//! appends its events as its very last step, under a transaction-level
//! advisory lock that is held until commit: sequence numbers are handed out in
//! commit order.

use std::fmt;
use std::future::Future;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use warden_core::StoreError;
use warden_core::model::{OutboxEvent, Revocation};

use crate::crypto::KeyCipher;
use crate::options::StoreOptions;
use crate::retry::RetryPolicy;

use self::error::{map_migrate, map_pg, schema_too_new};
use crate::rows::{revocation_kind_str, to_millis};

mod error;

/// How many times a transaction is run again after a serialization failure or deadlock.
const MAX_RETRIES: u32 = 5;

/// The advisory lock (two-key form, so it cannot collide with the single-key
/// lock sqlx's migrator takes) that orders outbox appends by commit.
const OUTBOX_LOCK: (i32, i32) = (0x5741_5244, 1); // "WARD", 1

/// The embedded PostgreSQL migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The newest migration this binary embeds.
fn newest_migration() -> i64 {
    MIGRATOR
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// Retries serialization failures and deadlocks.
const RETRY: RetryPolicy = RetryPolicy {
    max_retries: MAX_RETRIES,
    base_backoff_ms: 5,
    is_retryable: error::is_retryable,
    map: map_pg,
};

/// Runs one write transaction, again from the start on a serialization
/// failure or deadlock; see [`retry_tx`](crate::retry::retry_tx).
macro_rules! pg_tx {
    ($store:expr, |$tx:ident| $body:block) => {
        $crate::retry::retry_tx!($crate::postgres::RETRY, $store.pool.begin(), |$tx| $body)
    };
}
mod store;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    cipher: KeyCipher,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("pool", &self.pool)
            .field("cipher", &self.cipher)
            .finish()
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user:pass@host:5432/db?sslmode=...`;
    /// every parameter of the URL is honoured). Connects eagerly, so a wrong
    /// URL or an unreachable server fails here with `Unavailable`.
    /// `keys_encryption_key` encrypts the signing keys at rest. Does not run
    /// migrations: call [`PgStore::migrate`].
    pub async fn connect(
        url: &str,
        keys_encryption_key: impl Into<KeyCipher>,
        options: &StoreOptions,
    ) -> Result<PgStore, StoreError> {
        if options.max_connections == 0 {
            return Err(StoreError::Unexpected(
                "database max_connections must be at least 1".into(),
            ));
        }
        let mut connect_options = url.parse::<PgConnectOptions>().map_err(|err| {
            StoreError::Unexpected(format!("invalid PostgreSQL database URL: {err}"))
        })?;
        if connect_options.get_application_name().is_none() {
            connect_options = connect_options.application_name("warden");
        }
        if let Some(timeout) = options.statement_timeout {
            // Milliseconds; at least 1, since 0 would mean "no timeout".
            let millis = timeout.as_millis().max(1);
            connect_options = connect_options.options([("statement_timeout", millis)]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // No ping before every checkout: it doubles the round trips of a
            // request. A connection the server dropped fails its next
            // statement, which answers 503 once and is then discarded.
            .test_before_acquire(false)
            .connect_with(connect_options)
            .await
            .map_err(|err| {
                StoreError::Unavailable(format!("cannot connect to PostgreSQL: {err}"))
            })?;
        let cipher = keys_encryption_key.into();
        Ok(PgStore { pool, cipher })
    }

    /// Applies the embedded migrations that are not applied yet; idempotent.
    /// sqlx holds a PostgreSQL advisory lock while migrating, so instances
    /// starting at once wait for each other. Refuses a database whose schema
    /// is newer than this binary.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let newest = newest_migration();
        let mut conn = self.pool.acquire().await.map_err(map_pg)?;
        // The session is changed below (no statement timeout, possibly a
        // session-level advisory lock left behind by a failed migration), so
        // this connection never goes back to the pool.
        conn.close_on_drop();
        // Waiting for another instance's migration lock, or a long DDL
        // statement, must not hit the per-statement timeout.
        sqlx::query("SET statement_timeout = 0")
            .execute(&mut *conn)
            .await
            .map_err(map_pg)?;
        if let Some(applied) = applied_version(&mut conn).await?
            && applied > newest
        {
            return Err(schema_too_new(applied, newest));
        }
        MIGRATOR
            .run_direct(&mut *conn)
            .await
            .map_err(|err| map_migrate(err, newest))
    }

    /// The underlying pool (for tools and tests).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes every connection; later calls fail with `Unavailable`.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The newest migration version recorded in the database, if it has been migrated.
async fn applied_version(conn: &mut PgConnection) -> Result<Option<i64>, StoreError> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await
        .map_err(map_pg)?;
    if !exists {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await
        .map_err(map_pg)
}

/// Runs a single read or autocommit statement, again on a serialization
/// failure (for example a recovery conflict on a standby).
async fn retry<T, F, Fut>(op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    RETRY.run(op).await
}

/// Appends `events` to the outbox inside the caller's transaction. Must be
/// the transaction's last statement: it takes the outbox lock, which is held
/// until commit, so sequence numbers are handed out in commit order (and the
/// lock is held as briefly as possible, never while waiting for row locks).
async fn insert_events(conn: &mut PgConnection, events: &[OutboxEvent]) -> Result<(), sqlx::Error> {
    if events.is_empty() {
        return Ok(());
    }
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
        .bind(OUTBOX_LOCK.0)
        .bind(OUTBOX_LOCK.1)
        .execute(&mut *conn)
        .await?;
    for event in events {
        let data =
            serde_json::to_string(&event.data).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
        sqlx::query("INSERT INTO outbox (event_id, name, data, at) VALUES ($1, $2, $3, $4)")
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
    conn: &mut PgConnection,
    revocation: &Revocation,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO revocation (kind, subject_id, not_before, until) VALUES ($1, $2, $3, $4)",
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
    pool: &PgPool,
    name: &str,
    holder: &str,
    now: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
) -> Result<bool, StoreError> {
    let result = retry(|| {
        sqlx::query(
            "UPDATE relay_lease SET holder = $1, expires_at = $2 \
                 WHERE lease_name = $3 AND (holder = $1 OR expires_at <= $4)",
        )
        .bind(holder)
        .bind(to_millis(until))
        .bind(name)
        .bind(to_millis(now))
        .execute(pool)
    })
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Gives the lease `name` up if `holder` has it.
async fn release_lease(pool: &PgPool, name: &str, holder: &str) -> Result<(), StoreError> {
    retry(|| {
        sqlx::query(
            "UPDATE relay_lease SET holder = '', expires_at = 0 \
                 WHERE lease_name = $1 AND holder = $2",
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
