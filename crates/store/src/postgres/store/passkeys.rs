//! `impl PasskeyStore for PgStore`: passkeys and the states of the
//! WebAuthn ceremonies in flight.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use warden_core::mail::QueuedMail;
use warden_core::model::OutboxEvent;
use warden_core::passkeys::{PasskeyRemoval, StoredPasskey, WebauthnChallenge};
use warden_core::ports::PasskeyStore;
use warden_core::{PasskeyId, StoreError, UserId};

use super::convert;
use super::mail::queue_in;
use super::mfa::put_recovery_codes;
use crate::postgres::{PgStore, insert_events, retry};
use crate::retry::TxError;
use crate::rows::{
    PASSKEY_COLUMNS, PasskeyRow, WEBAUTHN_CHALLENGE_COLUMNS, WebauthnChallengeRow, live_challenge,
    to_millis,
};

#[async_trait]
impl PasskeyStore for PgStore {
    async fn list_passkeys(&self, user: UserId) -> Result<Vec<StoredPasskey>, StoreError> {
        let sql = format!(
            "SELECT {PASSKEY_COLUMNS} FROM user_passkey WHERE user_id = $1 \
             ORDER BY created_at, passkey_id"
        );
        let user_id = user.to_string();
        let rows = retry(|| {
            sqlx::query_as::<_, PasskeyRow>(&sql)
                .bind(&user_id)
                .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    async fn find_passkey(&self, credential_id: &str) -> Result<Option<StoredPasskey>, StoreError> {
        let sql = format!("SELECT {PASSKEY_COLUMNS} FROM user_passkey WHERE credential_id = $1");
        let row = retry(|| {
            sqlx::query_as::<_, PasskeyRow>(&sql)
                .bind(credential_id)
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(StoredPasskey::try_from).transpose()
    }

    async fn insert_passkey(
        &self,
        passkey: &StoredPasskey,
        recovery_codes: &[String],
        events: &[OutboxEvent],
        mail: &[QueuedMail],
    ) -> Result<(), StoreError> {
        let user_id = passkey.user_id.to_string();
        let at_ms = to_millis(passkey.created_at);
        pg_tx!(self, |tx| {
            let account: Option<(i64,)> =
                sqlx::query_as("SELECT 1::BIGINT FROM user_account WHERE user_id = $1 FOR UPDATE")
                    .bind(&user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if account.is_none() {
                return Err(TxError::Store(StoreError::NotFound));
            }
            sqlx::query(
                "INSERT INTO user_passkey (passkey_id, user_id, credential_id, name, credential, \
                 synced, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
            )
            .bind(passkey.id.to_string())
            .bind(&user_id)
            .bind(&passkey.credential_id)
            .bind(&passkey.name)
            .bind(&passkey.credential)
            .bind(passkey.synced)
            .bind(at_ms)
            .execute(&mut *tx)
            .await?;
            if !recovery_codes.is_empty() {
                put_recovery_codes(&mut tx, &user_id, recovery_codes, at_ms).await?;
            }
            queue_in(&mut tx, &self.cipher, mail).await?;
            insert_events(&mut tx, events).await?;
        })
    }

    async fn touch_passkey(
        &self,
        id: PasskeyId,
        credential: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = id.to_string();
        retry(|| {
            sqlx::query(
                "UPDATE user_passkey SET credential = $1, last_used_at = $2 WHERE passkey_id = $3",
            )
            .bind(credential)
            .bind(to_millis(at))
            .bind(&id)
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn delete_passkey(
        &self,
        user: UserId,
        id: PasskeyId,
        events: &[OutboxEvent],
        mail: &[QueuedMail],
    ) -> Result<PasskeyRemoval, StoreError> {
        let user_id = user.to_string();
        let id = id.to_string();
        pg_tx!(self, |tx| {
            // The account's row lock serialises writers of its
            // credentials: the counts below hold until the delete.
            let account: Option<(bool,)> = sqlx::query_as(
                "SELECT has_password FROM user_account WHERE user_id = $1 FOR UPDATE",
            )
            .bind(&user_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((has_password,)) = account else {
                return Ok(PasskeyRemoval::NotFound);
            };
            let (mine, others): (i64, i64) = sqlx::query_as(
                "SELECT COUNT(CASE WHEN passkey_id = $1 THEN 1 END), \
                 COUNT(CASE WHEN passkey_id <> $2 THEN 1 END) \
                 FROM user_passkey WHERE user_id = $3",
            )
            .bind(&id)
            .bind(&id)
            .bind(&user_id)
            .fetch_one(&mut *tx)
            .await?;
            if mine == 0 {
                return Ok(PasskeyRemoval::NotFound);
            }
            let (identities,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM user_identity WHERE user_id = $1")
                    .bind(&user_id)
                    .fetch_one(&mut *tx)
                    .await?;
            if !has_password && identities == 0 && others == 0 {
                return Ok(PasskeyRemoval::LastCredential);
            }
            sqlx::query("DELETE FROM user_passkey WHERE passkey_id = $1 AND user_id = $2")
                .bind(&id)
                .bind(&user_id)
                .execute(&mut *tx)
                .await?;
            let (totp,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL",
            )
            .bind(&user_id)
            .fetch_one(&mut *tx)
            .await?;
            if others == 0 && totp == 0 {
                // The last second factor went: its recovery codes and the
                // sign-ins waiting for a factor go with it.
                sqlx::query("DELETE FROM user_recovery_code WHERE user_id = $1")
                    .bind(&user_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM mfa_challenge WHERE user_id = $1 AND used_at IS NULL")
                    .bind(&user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            queue_in(&mut tx, &self.cipher, mail).await?;
            insert_events(&mut tx, events).await?;
            PasskeyRemoval::Removed
        })
    }

    async fn delete_passkeys(&self, user: UserId) -> Result<u64, StoreError> {
        let user_id = user.to_string();
        let done = retry(|| {
            sqlx::query("DELETE FROM user_passkey WHERE user_id = $1")
                .bind(&user_id)
                .execute(&self.pool)
        })
        .await?;
        Ok(done.rows_affected())
    }

    async fn put_webauthn_challenge(
        &self,
        key: &str,
        challenge: &WebauthnChallenge,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let user_id = challenge.user_id.map(|u| u.to_string());
        retry(|| {
            sqlx::query(
                "INSERT INTO webauthn_challenge (challenge_key, user_id, state, expires_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (challenge_key) DO UPDATE SET user_id = excluded.user_id, \
                 state = excluded.state, expires_at = excluded.expires_at",
            )
            .bind(key)
            .bind(&user_id)
            .bind(&challenge.state)
            .bind(to_millis(expires_at))
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn take_webauthn_challenge(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<WebauthnChallenge>, StoreError> {
        // One statement: of concurrent answers to one ceremony, one gets
        // the state.
        let sql = format!(
            "DELETE FROM webauthn_challenge WHERE challenge_key = $1 \
             RETURNING {WEBAUTHN_CHALLENGE_COLUMNS}"
        );
        let row = retry(|| {
            sqlx::query_as::<_, WebauthnChallengeRow>(&sql)
                .bind(key)
                .fetch_optional(&self.pool)
        })
        .await?;
        live_challenge(row, now)
    }

    async fn prune_webauthn_challenges(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = retry(|| {
            sqlx::query("DELETE FROM webauthn_challenge WHERE expires_at < $1")
                .bind(to_millis(before))
                .execute(&self.pool)
        })
        .await?;
        Ok(done.rows_affected())
    }
}
