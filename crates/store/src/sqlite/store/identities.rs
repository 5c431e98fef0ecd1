//! `impl IdentityStore for SqliteStore`: identities at OAuth2/OIDC
//! providers and the exchange codes of social sign-in.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::SqliteConnection;
use warden_core::identity::{ExchangeCode, Identity, IdentityKey};
use warden_core::model::{OutboxEvent, TokenHash, User};
use warden_core::ports::{IdentityStore, Unlinked};
use warden_core::{IdentityId, StoreError, UserId};

use super::convert;
use crate::retry::TxError;
use crate::rows::{
    EXCHANGE_COLUMNS, ExchangeRow, IDENTITY_COLUMNS, IdentityRow, Text, USER_COLUMNS, UserRow,
    to_millis,
};
use crate::sqlite::{SqliteStore, insert_events, retry};

/// Stores an identity inside the caller's transaction; a key linked
/// already is a unique violation (`Conflict`).
pub(super) async fn insert_identity(
    conn: &mut SqliteConnection,
    identity: &Identity,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_identity \
         (identity_id, user_id, provider, issuer, subject, email, created_at, last_used_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(identity.id.to_string())
    .bind(identity.user_id.to_string())
    .bind(&identity.key.provider)
    .bind(&identity.key.issuer)
    .bind(&identity.key.subject)
    .bind(identity.email.as_deref())
    .bind(to_millis(identity.created_at))
    .bind(to_millis(identity.last_used_at))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn find_identity(
        &self,
        key: &IdentityKey,
    ) -> Result<Option<(Identity, User)>, StoreError> {
        let sql = format!(
            "SELECT {IDENTITY_COLUMNS} FROM user_identity \
             WHERE provider = ? AND issuer = ? AND subject = ?"
        );
        let row = retry(|| {
            sqlx::query_as::<_, IdentityRow>(&sql)
                .bind(&key.provider)
                .bind(&key.issuer)
                .bind(&key.subject)
                .fetch_optional(&self.pool)
        })
        .await?;
        let Some(identity) = row.map(Identity::try_from).transpose()? else {
            return Ok(None);
        };
        let sql = format!("SELECT {USER_COLUMNS} FROM user_account WHERE user_id = ?");
        let user_id = identity.user_id.to_string();
        let user = retry(|| {
            sqlx::query_as::<_, UserRow>(&sql)
                .bind(&user_id)
                .fetch_optional(&self.pool)
        })
        .await?;
        // Deleted between the two reads: the cascade took the identity too.
        Ok(match user {
            Some(user) => Some((identity, User::try_from(user)?)),
            None => None,
        })
    }

    async fn list_identities(&self, user: UserId) -> Result<Vec<Identity>, StoreError> {
        let sql = format!(
            "SELECT {IDENTITY_COLUMNS} FROM user_identity WHERE user_id = ? \
             ORDER BY created_at, identity_id"
        );
        let user = user.to_string();
        let rows = retry(|| {
            sqlx::query_as::<_, IdentityRow>(&sql)
                .bind(&user)
                .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    async fn link_identity(
        &self,
        identity: &Identity,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            let account: Option<(i64,)> =
                sqlx::query_as("SELECT 1 FROM user_account WHERE user_id = ?")
                    .bind(identity.user_id.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
            if account.is_none() {
                return Err(TxError::Store(StoreError::NotFound));
            }
            insert_identity(&mut tx, identity).await?;
            insert_events(&mut tx, events).await?;
        })
    }

    async fn touch_identity(
        &self,
        id: IdentityId,
        email: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = id.to_string();
        retry(|| {
            sqlx::query(
                "UPDATE user_identity SET last_used_at = ?, email = COALESCE(?, email) \
                 WHERE identity_id = ?",
            )
            .bind(to_millis(at))
            .bind(email)
            .bind(&id)
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn unlink_identity(
        &self,
        user: UserId,
        id: IdentityId,
        events: &[OutboxEvent],
    ) -> Result<Unlinked, StoreError> {
        let user = user.to_string();
        let id = id.to_string();
        write_tx!(self, |tx| {
            // BEGIN IMMEDIATE serialises writers, so the count below cannot
            // change before the delete.
            let account: Option<(bool,)> =
                sqlx::query_as("SELECT has_password FROM user_account WHERE user_id = ?")
                    .bind(&user)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some((has_password,)) = account else {
                return Ok(Unlinked::NotFound);
            };
            let identities: Vec<(Text,)> =
                sqlx::query_as("SELECT identity_id FROM user_identity WHERE user_id = ?")
                    .bind(&user)
                    .fetch_all(&mut *tx)
                    .await?;
            let (passkeys,): (i64,) =
                sqlx::query_as("SELECT COUNT(*) FROM user_passkey WHERE user_id = ?")
                    .bind(&user)
                    .fetch_one(&mut *tx)
                    .await?;
            if !identities.iter().any(|(each,)| **each == *id) {
                Unlinked::NotFound
            } else if !has_password && identities.len() == 1 && passkeys == 0 {
                Unlinked::LastCredential
            } else {
                sqlx::query("DELETE FROM user_identity WHERE identity_id = ? AND user_id = ?")
                    .bind(&id)
                    .bind(&user)
                    .execute(&mut *tx)
                    .await?;
                insert_events(&mut tx, events).await?;
                Unlinked::Unlinked
            }
        })
    }

    async fn create_exchange_code(&self, code: &ExchangeCode) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query(
                "INSERT INTO oauth_exchange_code \
                 (code_hash, user_id, provider, code_challenge, created_at, expires_at, used_at) \
                 VALUES (?, ?, ?, ?, ?, ?, NULL)",
            )
            .bind(&code.code_hash.0)
            .bind(code.user_id.to_string())
            .bind(&code.provider)
            .bind(&code.code_challenge)
            .bind(to_millis(code.created_at))
            .bind(to_millis(code.expires_at))
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn take_exchange_code(
        &self,
        code: &TokenHash,
        now: DateTime<Utc>,
    ) -> Result<Option<ExchangeCode>, StoreError> {
        let now = to_millis(now);
        let select =
            format!("SELECT {EXCHANGE_COLUMNS} FROM oauth_exchange_code WHERE code_hash = ?");
        write_tx!(self, |tx| {
            let taken = sqlx::query(
                "UPDATE oauth_exchange_code SET used_at = ? \
                 WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?",
            )
            .bind(now)
            .bind(&code.0)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if taken.rows_affected() == 0 {
                None
            } else {
                let row: ExchangeRow = sqlx::query_as(&select)
                    .bind(&code.0)
                    .fetch_one(&mut *tx)
                    .await?;
                Some(ExchangeCode::try_from(row).map_err(TxError::Store)?)
            }
        })
    }

    async fn prune_exchange_codes(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let before = to_millis(before);
        let done = retry(|| {
            sqlx::query("DELETE FROM oauth_exchange_code WHERE expires_at < ?")
                .bind(before)
                .execute(&self.pool)
        })
        .await?;
        Ok(done.rows_affected())
    }
}
