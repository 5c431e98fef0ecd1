//! `impl MfaStore for PgStore`: TOTP secrets (sealed at rest),
//! recovery codes and the challenges of sign-ins waiting for their second
//! factor. Every spend is one conditional update, so of concurrent callers
//! one wins.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use warden_core::mail::QueuedMail;
use warden_core::model::{MfaChallenge, OutboxEvent, TokenHash, TotpFactor, TotpSecretId};
use warden_core::ports::{CodeUse, MfaStore};
use warden_core::{StoreError, UserId};

use super::mail::queue_in;
use crate::postgres::{PgStore, insert_events, retry};
use crate::retry::TxError;
use crate::rows::{
    MFA_CHALLENGE_COLUMNS, MfaChallengeRow, TOTP_COLUMNS, TotpRow, failures_from_stored,
    failures_to_stored, methods_to_stored, to_millis,
};

/// Stores `hashes` as the account's recovery codes, inside the caller's
/// transaction, after voiding (deleting) the old set.
pub(super) async fn put_recovery_codes(
    conn: &mut PgConnection,
    user_id: &str,
    hashes: &[String],
    at_ms: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM user_recovery_code WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    for hash in hashes {
        sqlx::query(
            "INSERT INTO user_recovery_code (user_id, code_hash, created_at, used_at) \
             VALUES ($1, $2, $3, NULL)",
        )
        .bind(user_id)
        .bind(hash)
        .bind(at_ms)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Whether the account exists, locking its row until the caller's
/// transaction ends: writers of one account's second factors take turns, so
/// two replacements of the recovery codes cannot leave both sets behind.
async fn lock_account(conn: &mut PgConnection, user_id: &str) -> Result<bool, sqlx::Error> {
    let account: Option<(i64,)> =
        sqlx::query_as("SELECT 1::BIGINT FROM user_account WHERE user_id = $1 FOR UPDATE")
            .bind(user_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(account.is_some())
}

#[async_trait]
impl MfaStore for PgStore {
    async fn find_totp(&self, user: UserId) -> Result<Option<TotpFactor>, StoreError> {
        let sql = format!("SELECT {TOTP_COLUMNS} FROM user_totp WHERE user_id = $1");
        let user_id = user.to_string();
        let row = retry(|| {
            sqlx::query_as::<_, TotpRow>(&sql)
                .bind(&user_id)
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(|row| row.open(&self.cipher, user)).transpose()
    }

    async fn put_pending_totp(
        &self,
        user: UserId,
        secret: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sealed = self.cipher.seal_totp(user, secret)?;
        let user_id = user.to_string();
        pg_tx!(self, |tx| {
            if !lock_account(&mut tx, &user_id).await? {
                return Err(TxError::Store(StoreError::NotFound));
            }
            // A pending secret goes; a confirmed one stays and makes the
            // insert a unique violation (`Conflict`).
            sqlx::query("DELETE FROM user_totp WHERE user_id = $1 AND confirmed_at IS NULL")
                .bind(&user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO user_totp \
                 (user_id, secret_nonce, secret_ciphertext, created_at, confirmed_at, last_step) \
                 VALUES ($1, $2, $3, $4, NULL, NULL)",
            )
            .bind(&user_id)
            .bind(&sealed.nonce)
            .bind(&sealed.ciphertext)
            .bind(to_millis(at))
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn confirm_totp(
        &self,
        user: UserId,
        secret: &TotpSecretId,
        step: i64,
        recovery_hashes: &[String],
        at: DateTime<Utc>,
        events: &[OutboxEvent],
        mail: &[QueuedMail],
    ) -> Result<(), StoreError> {
        let user_id = user.to_string();
        let at_ms = to_millis(at);
        pg_tx!(self, |tx| {
            if !lock_account(&mut tx, &user_id).await? {
                return Err(TxError::Store(StoreError::NotFound));
            }
            let confirmed = sqlx::query(
                "UPDATE user_totp SET confirmed_at = $1, last_step = $2 \
                 WHERE user_id = $3 AND confirmed_at IS NULL AND secret_nonce = $4",
            )
            .bind(at_ms)
            .bind(step)
            .bind(&user_id)
            .bind(secret.as_bytes())
            .execute(&mut *tx)
            .await?;
            if confirmed.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
            put_recovery_codes(&mut tx, &user_id, recovery_hashes, at_ms).await?;
            queue_in(&mut tx, &self.cipher, mail).await?;
            insert_events(&mut tx, events).await?;
        })
    }

    async fn use_totp_step(&self, user: UserId, step: i64) -> Result<CodeUse, StoreError> {
        let user_id = user.to_string();
        // The conditional update is the decision: of concurrent callers
        // with one step exactly one sees its row change.
        let done = retry(|| {
            sqlx::query(
                "UPDATE user_totp SET last_step = $1 \
                 WHERE user_id = $2 AND confirmed_at IS NOT NULL \
                   AND (last_step IS NULL OR last_step < $3)",
            )
            .bind(step)
            .bind(&user_id)
            .bind(step)
            .execute(&self.pool)
        })
        .await?;
        Ok(if done.rows_affected() == 1 {
            CodeUse::Accepted
        } else {
            CodeUse::Spent
        })
    }

    async fn delete_second_factors(
        &self,
        user: UserId,
        events: &[OutboxEvent],
        mail: &[QueuedMail],
    ) -> Result<bool, StoreError> {
        let user_id = user.to_string();
        pg_tx!(self, |tx| {
            lock_account(&mut tx, &user_id).await?;
            let totp = sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
                .bind(&user_id)
                .execute(&mut *tx)
                .await?;
            // Passkeys left are second factors still: the codes and the
            // sign-ins waiting for a factor stay with them.
            let codes = sqlx::query(
                "DELETE FROM user_recovery_code WHERE user_id = $1 \
                 AND NOT EXISTS (SELECT 1 FROM user_passkey WHERE user_id = $2)",
            )
            .bind(&user_id)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
            // A sign-in waiting for a factor the account no longer has
            // cannot finish.
            sqlx::query(
                "DELETE FROM mfa_challenge WHERE user_id = $1 AND used_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM user_passkey WHERE user_id = $2)",
            )
            .bind(&user_id)
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
            let existed = totp.rows_affected() + codes.rows_affected() > 0;
            if existed {
                queue_in(&mut tx, &self.cipher, mail).await?;
                insert_events(&mut tx, events).await?;
            }
            existed
        })
    }

    async fn replace_recovery_codes(
        &self,
        user: UserId,
        hashes: &[String],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let user_id = user.to_string();
        let at_ms = to_millis(at);
        pg_tx!(self, |tx| {
            if !lock_account(&mut tx, &user_id).await? {
                return Err(TxError::Store(StoreError::NotFound));
            }
            put_recovery_codes(&mut tx, &user_id, hashes, at_ms).await?;
        })
    }

    async fn use_recovery_code(
        &self,
        user: UserId,
        hash: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<CodeUse>, StoreError> {
        let user_id = user.to_string();
        let spent = retry(|| {
            sqlx::query(
                "UPDATE user_recovery_code SET used_at = $1 \
                 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
            )
            .bind(to_millis(at))
            .bind(&user_id)
            .bind(hash)
            .execute(&self.pool)
        })
        .await?;
        if spent.rows_affected() == 1 {
            return Ok(Some(CodeUse::Accepted));
        }
        let known: Option<i64> = retry(|| {
            sqlx::query_scalar(
                "SELECT 1::BIGINT FROM user_recovery_code WHERE user_id = $1 AND code_hash = $2",
            )
            .bind(&user_id)
            .bind(hash)
            .fetch_optional(&self.pool)
        })
        .await?;
        Ok(known.map(|_| CodeUse::Spent))
    }

    async fn count_recovery_codes(&self, user: UserId) -> Result<u32, StoreError> {
        let user_id = user.to_string();
        let count: i64 = retry(|| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM user_recovery_code WHERE user_id = $1 AND used_at IS NULL",
            )
            .bind(&user_id)
            .fetch_one(&self.pool)
        })
        .await?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    async fn create_mfa_challenge(&self, challenge: &MfaChallenge) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query(
                "INSERT INTO mfa_challenge \
                 (token_hash, user_id, amr, created_at, expires_at, failures, used_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, NULL)",
            )
            .bind(&challenge.token_hash.0)
            .bind(challenge.user_id.to_string())
            .bind(methods_to_stored(&challenge.first_factor))
            .bind(to_millis(challenge.created_at))
            .bind(to_millis(challenge.expires_at))
            .bind(failures_to_stored(challenge.failures))
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn find_mfa_challenge(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        max_failures: u32,
    ) -> Result<Option<MfaChallenge>, StoreError> {
        let sql = format!(
            "SELECT {MFA_CHALLENGE_COLUMNS} FROM mfa_challenge \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 AND failures < $3"
        );
        let row = retry(|| {
            sqlx::query_as::<_, MfaChallengeRow>(&sql)
                .bind(&token.0)
                .bind(to_millis(now))
                .bind(failures_to_stored(max_failures))
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(MfaChallenge::try_from).transpose()
    }

    async fn record_mfa_failure(&self, token: &TokenHash) -> Result<u32, StoreError> {
        let failures: Option<i32> = retry(|| {
            sqlx::query_scalar(
                "UPDATE mfa_challenge SET failures = failures + 1 WHERE token_hash = $1 \
                 RETURNING failures",
            )
            .bind(&token.0)
            .fetch_optional(&self.pool)
        })
        .await?;
        failures
            .map(failures_from_stored)
            .ok_or(StoreError::NotFound)
    }

    async fn take_mfa_challenge(
        &self,
        token: &TokenHash,
        now: DateTime<Utc>,
        max_failures: u32,
    ) -> Result<bool, StoreError> {
        let now = to_millis(now);
        let taken = retry(|| {
            sqlx::query(
                "UPDATE mfa_challenge SET used_at = $1 \
                 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $3 AND failures < $4",
            )
            .bind(now)
            .bind(&token.0)
            .bind(now)
            .bind(failures_to_stored(max_failures))
            .execute(&self.pool)
        })
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    async fn prune_mfa_challenges(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before = to_millis(before);
        let done = retry(|| {
            sqlx::query("DELETE FROM mfa_challenge WHERE expires_at < $1")
                .bind(before)
                .execute(&self.pool)
        })
        .await?;
        Ok(done.rows_affected())
    }
}
