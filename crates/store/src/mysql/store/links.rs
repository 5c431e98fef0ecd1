//! `impl LinkStore for MySqlStore`: mailed link tokens, their send
//! throttles, and the account changes a followed link makes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::MySqlConnection;
use warden_core::links::{LinkPurpose, LinkRecord, SendOutcome, SendThrottle};
use warden_core::mail::QueuedMail;
use warden_core::model::TokenHash;
use warden_core::ports::{LinkCompletion, LinkStore};
use warden_core::{Email, SessionId, StoreError};

use super::mail::queue_in;
use super::sessions::revoke_live_sessions;
use crate::mysql::{MySqlStore, insert_events, retry};
use crate::retry::TxError;
use crate::rows::{LINK_COLUMNS, LinkRow, link_user_update, send_state, to_millis};

/// Stores a link inside the caller's transaction.
pub(super) async fn insert_link(
    conn: &mut MySqlConnection,
    link: &LinkRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO link_token \
         (token_hash, purpose, user_id, email, created_at, expires_at, used_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&link.token_hash.0)
    .bind(link.purpose.as_str())
    .bind(link.user_id.to_string())
    .bind(link.email.as_str())
    .bind(to_millis(link.created_at))
    .bind(to_millis(link.expires_at))
    .bind(link.used_at.map(to_millis))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks the user's unused links of `purposes` used at `now_ms`, inside the
/// caller's transaction.
pub(super) async fn void_links(
    conn: &mut MySqlConnection,
    user_id: &str,
    purposes: &[LinkPurpose],
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    for purpose in purposes {
        sqlx::query(
            "UPDATE link_token SET used_at = ? \
             WHERE user_id = ? AND purpose = ? AND used_at IS NULL",
        )
        .bind(now_ms)
        .bind(user_id)
        .bind(purpose.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Stores a link and queues `mail` only when the link's account exists,
/// inside the caller's transaction. A link whose account does not exist (a
/// password reset for an unknown address) is stored all the same, as a
/// placeholder: it names a fresh user id no account has, so it is never
/// mailed and never usable (following a link needs its account), and it is
/// pruned when it expires. Both paths write the same link row and index
/// entries and run the same statements, so a reset for an unknown address
/// takes as long as one for a known address (migration 0008).
async fn insert_link_mailing_if_account(
    conn: &mut MySqlConnection,
    cipher: &crate::crypto::KeyCipher,
    link: &LinkRecord,
    mail: &[QueuedMail],
) -> Result<(), TxError> {
    insert_link(&mut *conn, link).await?;
    queue_in(&mut *conn, cipher, mail).await?;
    let user_id = link.user_id.to_string();
    for queued in mail {
        sqlx::query(
            "DELETE FROM mail_queue WHERE mail_id = ? \
             AND NOT EXISTS (SELECT 1 FROM user_account WHERE user_id = ?)",
        )
        .bind(queued.id.to_string())
        .bind(&user_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Takes a slot of `throttle` inside the caller's transaction; `Err(seconds)`
/// when it has none. The row is made or locked first (the no-op update
/// takes its exclusive lock), so concurrent requests for one key take turns.
async fn take_send_slot(
    conn: &mut MySqlConnection,
    throttle: &SendThrottle<'_>,
) -> Result<Result<(), u64>, TxError> {
    sqlx::query(
        "INSERT INTO send_throttle (throttle_key, last_at, window_start, window_count) \
         VALUES (?, 0, 0, 0) ON DUPLICATE KEY UPDATE throttle_key = throttle_key",
    )
    .bind(throttle.key)
    .execute(&mut *conn)
    .await?;
    let row: (i64, i64, i64) = sqlx::query_as(
        "SELECT last_at, window_start, window_count FROM send_throttle \
         WHERE throttle_key = ? FOR UPDATE",
    )
    .bind(throttle.key)
    .fetch_one(&mut *conn)
    .await?;
    // A row made just now (window_count 0) is a key never sent to.
    let state = Some(row)
        .filter(|(_, _, count)| *count > 0)
        .map(send_state)
        .transpose()?;
    let next = match throttle.limit.decide(state, throttle.now) {
        Ok(next) => next,
        Err(wait) => return Ok(Err(wait)),
    };
    sqlx::query(
        "UPDATE send_throttle SET last_at = ?, window_start = ?, window_count = ? \
         WHERE throttle_key = ?",
    )
    .bind(to_millis(next.last_at))
    .bind(to_millis(next.window_start))
    .bind(i64::from(next.window_count))
    .bind(throttle.key)
    .execute(&mut *conn)
    .await?;
    Ok(Ok(()))
}

#[async_trait]
impl LinkStore for MySqlStore {
    async fn request_link(
        &self,
        throttle: &SendThrottle<'_>,
        link: Option<&LinkRecord>,
        mail: &[QueuedMail],
    ) -> Result<SendOutcome, StoreError> {
        write_tx!(self, |tx| {
            if let Err(retry_after_secs) = take_send_slot(&mut tx, throttle).await? {
                return Ok(SendOutcome::Throttled { retry_after_secs });
            }
            match link {
                Some(link) => {
                    if link.purpose.voids_older() {
                        let user_id = link.user_id.to_string();
                        void_links(&mut tx, &user_id, &[link.purpose], to_millis(throttle.now))
                            .await?;
                    }
                    insert_link_mailing_if_account(&mut tx, &self.cipher, link, mail).await?;
                }
                None => queue_in(&mut tx, &self.cipher, mail).await?,
            }
            SendOutcome::Sent
        })
    }

    async fn email_in_use(&self, email: &Email) -> Result<bool, StoreError> {
        let skeleton = email.skeleton();
        let found: Option<i64> = retry(|| {
            sqlx::query_scalar(
                "SELECT 1 FROM user_account WHERE email = ? OR email_skeleton = ? LIMIT 1",
            )
            .bind(email.as_str())
            .bind(&skeleton)
            .fetch_optional(&self.pool)
        })
        .await?;
        Ok(found.is_some())
    }

    async fn find_link(&self, token: &TokenHash) -> Result<Option<LinkRecord>, StoreError> {
        let sql = format!("SELECT {LINK_COLUMNS} FROM link_token WHERE token_hash = ?");
        let row = retry(|| {
            sqlx::query_as::<_, LinkRow>(&sql)
                .bind(&token.0)
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(LinkRecord::try_from).transpose()
    }

    async fn complete_link(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        completion: &LinkCompletion<'_>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let now_ms = to_millis(now);
        let user_id = completion.user.to_string();
        let update = link_user_update(completion, |_| "?".to_owned());
        write_tx!(self, |tx| {
            // The conditional update decides who consumes the link.
            let taken = sqlx::query(
                "UPDATE link_token SET used_at = ? \
                 WHERE token_hash = ? AND purpose = ? AND user_id = ? \
                   AND used_at IS NULL AND expires_at > ?",
            )
            .bind(now_ms)
            .bind(&token.0)
            .bind(completion.purpose.as_str())
            .bind(&user_id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            if taken.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
            let mut q = sqlx::query(&update);
            if let Some(email) = completion.new_email {
                q = q.bind(email.as_str()).bind(email.skeleton());
            }
            if let Some(phc) = completion.password_hash {
                q = q.bind(phc);
            }
            q = q.bind(&user_id);
            if let Some(email) = completion.expected_email {
                q = q.bind(email.as_str());
            }
            if q.execute(&mut *tx).await?.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
            void_links(&mut tx, &user_id, completion.void, now_ms).await?;
            let revoked = match &completion.revoke_sessions {
                Some(r) => {
                    revoke_live_sessions(&mut tx, &user_id, None, now_ms, r.until, r.event_for)
                        .await?
                }
                None => Vec::new(),
            };
            if let Some(key) = completion.clear_throttle {
                sqlx::query("DELETE FROM login_throttle WHERE throttle_key = ?")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            queue_in(&mut tx, &self.cipher, completion.mail).await?;
            insert_events(&mut tx, completion.events).await?;
            revoked
        })
    }

    async fn prune_links(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before = to_millis(before);
        write_tx!(self, |tx| {
            let links = sqlx::query("DELETE FROM link_token WHERE expires_at < ?")
                .bind(before)
                .execute(&mut *tx)
                .await?;
            let throttles = sqlx::query("DELETE FROM send_throttle WHERE last_at < ?")
                .bind(before)
                .execute(&mut *tx)
                .await?;
            links.rows_affected() + throttles.rows_affected()
        })
    }
}
