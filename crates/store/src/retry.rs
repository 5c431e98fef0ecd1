//! Running database work again when it lost a race with other writers
//! (SQLite busy, PostgreSQL serialisation failures and deadlocks, MySQL
//! deadlocks and lock wait timeouts). One mechanism; each adapter supplies
//! its own [`RetryPolicy`]: which errors are worth retrying and how errors
//! map onto the domain's.

use std::future::Future;
use std::time::Duration;

use rand::Rng as _;
use warden_core::StoreError;

/// When and how an adapter retries.
pub(crate) struct RetryPolicy {
    /// Attempts after the first.
    pub(crate) max_retries: u32,
    /// Back-off before the first retry; it doubles each time, plus jitter.
    pub(crate) base_backoff_ms: u64,
    /// Whether an error means "lost a race, try again".
    pub(crate) is_retryable: fn(&sqlx::Error) -> bool,
    /// The domain error for a database error.
    pub(crate) map: fn(sqlx::Error) -> StoreError,
}

impl RetryPolicy {
    /// Back-off before retry number `attempt` (1-based), with jitter so
    /// racing callers part.
    pub(crate) fn backoff(&self, attempt: u32) -> Duration {
        let base = self.base_backoff_ms * u64::from(1_u32 << attempt.min(6));
        let jitter = rand::thread_rng().gen_range(0..=base);
        Duration::from_millis(base + jitter)
    }

    /// Runs a single read or autocommitted statement, again if it lost a race.
    pub(crate) async fn run<T, F, Fut>(&self, mut op: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Ok(value) => return Ok(value),
                Err(err) if (self.is_retryable)(&err) && attempt < self.max_retries => {
                    attempt += 1;
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
                Err(err) => return Err((self.map)(err)),
            }
        }
    }
}

/// The error of one attempt at a write transaction: a database error
/// (possibly retryable) or a domain outcome such as `NotFound` that aborts
/// (rolls back) the transaction.
#[derive(Debug)]
pub(crate) enum TxError {
    /// A database error.
    Db(sqlx::Error),
    /// A domain error decided inside the transaction.
    Store(StoreError),
}

impl From<sqlx::Error> for TxError {
    fn from(err: sqlx::Error) -> Self {
        TxError::Db(err)
    }
}

impl From<StoreError> for TxError {
    fn from(err: StoreError) -> Self {
        TxError::Store(err)
    }
}

/// Runs one write transaction begun by `$begin`, from the start again when
/// it lost a race under `$policy`. Inside `$body`, `$tx` is the open
/// transaction and `?` converts into [`TxError`]; returning an error rolls
/// everything back. Evaluates to `Result<T, StoreError>`.
macro_rules! retry_tx {
    ($policy:expr, $begin:expr, |$tx:ident| $body:block) => {{
        let policy: &$crate::retry::RetryPolicy = &$policy;
        let mut attempt: u32 = 0;
        loop {
            let result: ::std::result::Result<_, $crate::retry::TxError> = async {
                #[allow(unused_mut)]
                let mut $tx = $begin.await?;
                let value = $body;
                $tx.commit().await?;
                Ok(value)
            }
            .await;
            match result {
                Ok(value) => break Ok(value),
                Err($crate::retry::TxError::Db(err))
                    if (policy.is_retryable)(&err) && attempt < policy.max_retries =>
                {
                    attempt += 1;
                    ::tracing::debug!(attempt, error = %err, "transaction lost a race; retrying");
                    ::tokio::time::sleep(policy.backoff(attempt)).await;
                }
                Err($crate::retry::TxError::Db(err)) => break Err((policy.map)(err)),
                Err($crate::retry::TxError::Store(err)) => break Err(err),
            }
        }
    }};
}
pub(crate) use retry_tx;
