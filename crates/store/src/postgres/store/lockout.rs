//! `impl LockoutStore for PgStore`: sign-in throttling.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use warden_core::StoreError;
use warden_core::model::{LockoutPolicy, ThrottleState};
use warden_core::ports::LockoutStore;

use crate::postgres::{PgStore, retry};
use crate::rows::to_millis;

#[async_trait]
impl LockoutStore for PgStore {
    async fn find_login_throttle(&self, key: &str) -> Result<ThrottleState, StoreError> {
        let row: Option<(i64, Option<i64>)> = retry(|| {
            sqlx::query_as(
                "SELECT failures, locked_until FROM login_throttle WHERE throttle_key = $1",
            )
            .bind(key)
            .fetch_optional(&self.pool)
        })
        .await?;
        match row {
            None => Ok(ThrottleState::default()),
            Some((failures, locked_until)) => Ok(ThrottleState {
                failures: u32::try_from(failures.max(0)).unwrap_or(u32::MAX),
                locked_until: locked_until.map(crate::rows::from_millis).transpose()?,
            }),
        }
    }

    async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> Result<ThrottleState, StoreError> {
        pg_tx!(self, |tx| {
            let failures: i64 = sqlx::query_scalar(
                "INSERT INTO login_throttle (throttle_key, failures) VALUES ($1, 1) \
                 ON CONFLICT (throttle_key) DO UPDATE SET failures = login_throttle.failures + 1 \
                 RETURNING failures",
            )
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            let failures = u32::try_from(failures.max(0)).unwrap_or(u32::MAX);
            let locked_until = policy.locked_until(failures, now);
            sqlx::query("UPDATE login_throttle SET locked_until = $1 WHERE throttle_key = $2")
                .bind(locked_until.map(to_millis))
                .bind(key)
                .execute(&mut *tx)
                .await?;
            ThrottleState {
                failures,
                locked_until,
            }
        })
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query("DELETE FROM login_throttle WHERE throttle_key = $1")
                .bind(key)
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn count_locked(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let count: i64 = retry(|| {
            sqlx::query_scalar("SELECT COUNT(*) FROM login_throttle WHERE locked_until > $1")
                .bind(to_millis(now))
                .fetch_one(&self.pool)
        })
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
