//! `impl GrantStore for SqliteStore`: what Warden as an OAuth provider
//! grants (authorization codes, consents, and the sessions of a client).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use warden_core::clients::ClientId;
use warden_core::model::TokenHash;
use warden_core::ports::{GrantStore, OwnedSessionEventFn};
use warden_core::provider::{AuthorizationCode, Consent, Redemption};
use warden_core::{SessionId, StoreError, UserId};

use super::sessions::record_revocations;
use crate::rows::{
    AUTHORIZATION_CODE_COLUMNS, AuthorizationCodeRow, CONSENT_COLUMNS, ConsentRow, Text,
    lost_redemption, session_owners, to_millis,
};
use crate::sqlite::{SqliteStore, retry};

#[async_trait]
impl GrantStore for SqliteStore {
    async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO oauth_authorization_code ({AUTHORIZATION_CODE_COLUMNS}) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        );
        retry(|| {
            sqlx::query(&sql)
                .bind(&code.code_hash.0)
                .bind(code.client_id.as_str())
                .bind(code.user_id.to_string())
                .bind(code.browser_session.to_string())
                .bind(&code.redirect_uri)
                .bind(&code.scope)
                .bind(code.nonce.as_deref())
                .bind(code.code_challenge.as_deref())
                .bind(code.authentication.stored())
                .bind(to_millis(code.authentication.at))
                .bind(to_millis(code.created_at))
                .bind(to_millis(code.expires_at))
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn redeem_authorization_code(
        &self,
        code: &TokenHash,
        issued: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Redemption, StoreError> {
        let redeem = format!(
            "UPDATE oauth_authorization_code SET used_at = ?, issued_session_id = ? \
             WHERE code_hash = ? AND used_at IS NULL RETURNING {AUTHORIZATION_CODE_COLUMNS}"
        );
        let issued = issued.to_string();
        write_tx!(self, |tx| {
            // The conditional update is the decision: of any number of
            // concurrent exchanges exactly one sees the row change. Expiry
            // is the caller's check, so an expired code is used up too.
            let redeemed: Option<AuthorizationCodeRow> = sqlx::query_as(&redeem)
                .bind(to_millis(now))
                .bind(&issued)
                .bind(&code.0)
                .fetch_optional(&mut *tx)
                .await?;
            match redeemed {
                Some(row) => Redemption::Redeemed(AuthorizationCode::try_from(row)?),
                None => {
                    let first: Option<Option<Text>> = sqlx::query_scalar(
                        "SELECT issued_session_id FROM oauth_authorization_code \
                         WHERE code_hash = ?",
                    )
                    .bind(&code.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                    lost_redemption(first)?
                }
            }
        })
    }

    async fn delete_expired_authorization_codes(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let before = to_millis(before);
        let done = retry(|| {
            sqlx::query("DELETE FROM oauth_authorization_code WHERE expires_at < ?")
                .bind(before)
                .execute(&self.pool)
        })
        .await?;
        Ok(done.rows_affected())
    }

    async fn find_consent(
        &self,
        user: UserId,
        client: &ClientId,
    ) -> Result<Option<Consent>, StoreError> {
        let sql = format!(
            "SELECT {CONSENT_COLUMNS} FROM oauth_consent WHERE user_id = ? AND client_id = ?"
        );
        let user = user.to_string();
        let row = retry(|| {
            sqlx::query_as::<_, ConsentRow>(&sql)
                .bind(&user)
                .bind(client.as_str())
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(Consent::try_from).transpose()
    }

    async fn save_consent(&self, consent: &Consent) -> Result<(), StoreError> {
        let user = consent.user_id.to_string();
        retry(|| {
            sqlx::query(
                "INSERT INTO oauth_consent (user_id, client_id, scope, granted_at) \
                 VALUES (?, ?, ?, ?) \
                 ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, \
                 granted_at = excluded.granted_at",
            )
            .bind(&user)
            .bind(consent.client_id.as_str())
            .bind(&consent.scope)
            .bind(to_millis(consent.granted_at))
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn revoke_client_sessions(
        &self,
        client: &ClientId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        event_for: OwnedSessionEventFn<'_>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let now_ms = to_millis(now);
        write_tx!(self, |tx| {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "UPDATE session SET revoked_at = ?1 \
                 WHERE client_id = ?2 AND revoked_at IS NULL AND expires_at > ?1 \
                 RETURNING session_id, user_id",
            )
            .bind(now_ms)
            .bind(client.as_str())
            .fetch_all(&mut *tx)
            .await?;
            let owners = session_owners(&rows)?;
            let event_for = |session: SessionId| event_for(session, owners[&session]);
            let revoked = rows.into_iter().map(|(session, _)| session).collect();
            record_revocations(&mut tx, revoked, until, &event_for).await?
        })
    }
}
