//! `impl KeyStore for PgStore`: signing keys, encrypted at rest.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use warden_core::StoreError;
use warden_core::model::StoredSigningKey;
use warden_core::ports::KeyStore;

use crate::postgres::{PgStore, retry};
use crate::rows::{SigningKeyRow, to_millis};

#[async_trait]
impl KeyStore for PgStore {
    async fn create_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        let sealed = self.cipher.seal(&key.kid, &key.private_der)?;
        pg_tx!(self, |tx| {
            insert_signing_key(&mut tx, key, &sealed).await?;
        })
    }

    async fn create_first_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError> {
        let sealed = self.cipher.seal(&key.kid, &key.private_der)?;
        pg_tx!(self, |tx| {
            // Self-exclusive, so instances starting together take turns;
            // readers are not blocked.
            sqlx::query("LOCK TABLE signing_key IN SHARE ROW EXCLUSIVE MODE")
                .execute(&mut *tx)
                .await?;
            let existing: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_key")
                .fetch_one(&mut *tx)
                .await?;
            if existing == 0 {
                insert_signing_key(&mut tx, key, &sealed).await?;
            }
            existing == 0
        })
    }

    async fn list_signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        let rows: Vec<SigningKeyRow> = retry(|| {
            sqlx::query_as(
                "SELECT kid, algorithm, private_key_nonce, private_key_ciphertext, created_at, \
                 retired_at FROM signing_key ORDER BY created_at ASC, kid ASC",
            )
            .fetch_all(&self.pool)
        })
        .await?;
        rows.into_iter().map(|row| row.open(&self.cipher)).collect()
    }

    async fn retire_signing_keys(&self, except: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        pg_tx!(self, |tx| {
            sqlx::query(
                "UPDATE signing_key SET retired_at = $1 WHERE kid <> $2 AND retired_at IS NULL",
            )
            .bind(to_millis(at))
            .bind(except)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query("DELETE FROM signing_key WHERE kid = $1")
                .bind(kid)
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }
}

/// Stores a signing key whose private part `sealed` holds.
async fn insert_signing_key(
    conn: &mut sqlx::PgConnection,
    key: &StoredSigningKey,
    sealed: &crate::crypto::Sealed,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signing_key \
         (kid, algorithm, private_key_nonce, private_key_ciphertext, created_at, retired_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&key.kid)
    .bind(&key.algorithm)
    .bind(&sealed.nonce)
    .bind(&sealed.ciphertext)
    .bind(to_millis(key.created_at))
    .bind(key.retired_at.map(to_millis))
    .execute(conn)
    .await?;
    Ok(())
}
