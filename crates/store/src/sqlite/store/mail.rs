//! `impl MailStore for SqliteStore`: the mail queue and the mail worker's
//! lease, plus [`queue_in`] for use cases that queue mail together with
//! their change.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use warden_core::mail::{DueMail, QueuedMail};
use warden_core::ports::MailStore;
use warden_core::{MailId, StoreError};

use crate::crypto::KeyCipher;
use crate::retry::TxError;
use crate::rows::{MailRow, clip_mail_error, seal_mail_values, to_millis};
use crate::sqlite::{SqliteStore, acquire_lease, release_lease, retry};

/// Queues `mails` inside the caller's open transaction, so the mail is
/// committed (or rolled back) with the change that causes it: a store
/// method making such a change takes `mail: &[QueuedMail]` and, inside its
/// `write_tx!` body, calls `queue_in(&mut tx, &self.cipher, mail).await?;`.
/// The values are sealed under `cipher` (the store's key-encryption key);
/// each message is due at once (`next_attempt_at` = its `created_at`).
pub(crate) async fn queue_in(
    conn: &mut SqliteConnection,
    cipher: &KeyCipher,
    mails: &[QueuedMail],
) -> Result<(), TxError> {
    for mail in mails {
        let sealed = seal_mail_values(cipher, mail)?;
        sqlx::query(
            "INSERT INTO mail_queue (mail_id, kind, recipient, user_id, values_nonce, \
             values_ciphertext, created_at, attempts, next_attempt_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)",
        )
        .bind(mail.id.to_string())
        .bind(mail.kind.as_str())
        .bind(&mail.to)
        .bind(mail.user.map(|id| id.to_string()))
        .bind(&sealed.nonce)
        .bind(&sealed.ciphertext)
        .bind(to_millis(mail.created_at))
        .bind(to_millis(mail.created_at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[async_trait]
impl MailStore for SqliteStore {
    async fn enqueue_mail(&self, mail: &[QueuedMail]) -> Result<(), StoreError> {
        if mail.is_empty() {
            return Ok(());
        }
        write_tx!(self, |tx| {
            queue_in(&mut tx, &self.cipher, mail).await?;
        })
    }

    async fn acquire_mail_lease(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        acquire_lease(&self.pool, "mail", holder, now, until).await
    }

    async fn release_mail_lease(&self, holder: &str) -> Result<(), StoreError> {
        release_lease(&self.pool, "mail", holder).await
    }

    async fn list_due_mail(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DueMail>, StoreError> {
        let sql = format!(
            "SELECT {} FROM mail_queue \
             WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ? \
             ORDER BY created_at ASC, mail_id ASC LIMIT ?",
            MailRow::COLUMNS
        );
        let rows: Vec<MailRow> = retry(|| {
            sqlx::query_as(&sql)
                .bind(to_millis(now))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
        })
        .await?;
        rows.into_iter().map(|row| row.open(&self.cipher)).collect()
    }

    async fn mark_mail_sent(&self, id: MailId, at: DateTime<Utc>) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query(
                "UPDATE mail_queue SET sent_at = ?, values_nonce = NULL, \
                 values_ciphertext = NULL, last_error = NULL \
                 WHERE mail_id = ? AND sent_at IS NULL AND failed_at IS NULL",
            )
            .bind(to_millis(at))
            .bind(id.to_string())
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn mark_mail_retry(
        &self,
        id: MailId,
        attempts: u32,
        next_attempt_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query(
                "UPDATE mail_queue SET attempts = ?, next_attempt_at = ?, last_error = ? \
                 WHERE mail_id = ? AND sent_at IS NULL AND failed_at IS NULL",
            )
            .bind(i64::from(attempts))
            .bind(to_millis(next_attempt_at))
            .bind(clip_mail_error(error))
            .bind(id.to_string())
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn mark_mail_failed(
        &self,
        id: MailId,
        at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query(
                "UPDATE mail_queue SET failed_at = ?, attempts = attempts + 1, \
                 values_nonce = NULL, values_ciphertext = NULL, last_error = ? \
                 WHERE mail_id = ? AND sent_at IS NULL AND failed_at IS NULL",
            )
            .bind(to_millis(at))
            .bind(clip_mail_error(error))
            .bind(id.to_string())
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn mail_queue_depth(&self) -> Result<u64, StoreError> {
        let depth: i64 = retry(|| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM mail_queue WHERE sent_at IS NULL AND failed_at IS NULL",
            )
            .fetch_one(&self.pool)
        })
        .await?;
        Ok(u64::try_from(depth).unwrap_or(0))
    }

    async fn prune_mail(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = retry(|| {
            sqlx::query(
                "DELETE FROM mail_queue \
                 WHERE (sent_at IS NOT NULL AND sent_at < ?) \
                    OR (failed_at IS NOT NULL AND failed_at < ?)",
            )
            .bind(to_millis(before))
            .bind(to_millis(before))
            .execute(&self.pool)
        })
        .await?;
        Ok(result.rows_affected())
    }
}
