//! `impl RevocationStore for MySqlStore`: revocations, the outbox and its relay.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use warden_core::StoreError;
use warden_core::model::{OutboxEvent, Revocation};
use warden_core::ports::RevocationStore;

use super::convert;
use crate::mysql::{MySqlStore, acquire_lease, insert_events, release_lease, retry};
use crate::rows::{OutboxRow, RevocationRow, to_millis};

#[async_trait]
impl RevocationStore for MySqlStore {
    async fn list_active_revocations(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<Revocation>, StoreError> {
        let rows: Vec<RevocationRow> = retry(|| {
            sqlx::query_as(
                "SELECT kind, subject_id, not_before, valid_until AS until FROM revocation \
                 WHERE valid_until > ? ORDER BY revocation_id ASC",
            )
            .bind(to_millis(now))
            .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    // ----- outbox -----

    async fn append_outbox(&self, events: &[OutboxEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        write_tx!(self, |tx| {
            insert_events(&mut tx, events).await?;
        })
    }

    async fn list_outbox(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<(i64, OutboxEvent)>, StoreError> {
        let rows: Vec<OutboxRow> = retry(|| {
            sqlx::query_as(
                "SELECT outbox_seq, event_id, name, data, at FROM outbox \
                 WHERE outbox_seq > ? ORDER BY outbox_seq ASC LIMIT ?",
            )
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    async fn latest_outbox_seq(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = retry(|| {
            sqlx::query_scalar("SELECT MAX(outbox_seq) FROM outbox").fetch_one(&self.pool)
        })
        .await?;
        Ok(seq.unwrap_or(0))
    }

    // ----- outbox relay -----

    async fn acquire_relay_lease(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        acquire_lease(&self.pool, "outbox", holder, now, until).await
    }

    async fn release_relay_lease(&self, holder: &str) -> Result<(), StoreError> {
        release_lease(&self.pool, "outbox", holder).await
    }

    async fn list_unpublished_outbox(
        &self,
        limit: u32,
    ) -> Result<Vec<(i64, OutboxEvent)>, StoreError> {
        let rows: Vec<OutboxRow> = retry(|| {
            sqlx::query_as(
                "SELECT outbox_seq, event_id, name, data, at FROM outbox \
                 WHERE published_at IS NULL ORDER BY outbox_seq ASC LIMIT ?",
            )
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    async fn mark_outbox_published(
        &self,
        up_to_seq: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query(
                "UPDATE outbox SET published_at = ? \
                 WHERE published_at IS NULL AND outbox_seq <= ?",
            )
            .bind(to_millis(at))
            .bind(up_to_seq)
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn prune_outbox(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = retry(|| {
            sqlx::query("DELETE FROM outbox WHERE published_at IS NOT NULL AND at < ?")
                .bind(to_millis(before))
                .execute(&self.pool)
        })
        .await?;
        Ok(result.rows_affected())
    }
}
