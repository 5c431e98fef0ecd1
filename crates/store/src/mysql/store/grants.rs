//! `impl GrantStore for MySqlStore`: what Warden as an OAuth provider
//! grants (authorization codes, consents, and the sessions of a client).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use warden_core::clients::ClientId;
use warden_core::model::TokenHash;
use warden_core::ports::{GrantStore, OwnedSessionEventFn};
use warden_core::provider::{AuthorizationCode, Consent, Redemption};
use warden_core::{SessionId, StoreError, UserId};

use super::sessions::revoke_locked;
use crate::mysql::{MySqlStore, retry};
use crate::rows::{
    AUTHORIZATION_CODE_COLUMNS, AuthorizationCodeRow, CONSENT_COLUMNS, ConsentRow, Text,
    lost_redemption, session_owners, to_millis,
};

#[async_trait]
impl GrantStore for MySqlStore {
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
        let select = format!(
            "SELECT {AUTHORIZATION_CODE_COLUMNS} FROM oauth_authorization_code \
             WHERE code_hash = ?"
        );
        let issued = issued.to_string();
        write_tx!(self, |tx| {
            // The conditional update is the decision: of any number of
            // concurrent exchanges exactly one sees the row change (the
            // others wait for its row lock, then find `used_at` set).
            // Expiry is the caller's check, so an expired code is used up too.
            let redeemed = sqlx::query(
                "UPDATE oauth_authorization_code SET used_at = ?, issued_session_id = ? \
                 WHERE code_hash = ? AND used_at IS NULL",
            )
            .bind(to_millis(now))
            .bind(&issued)
            .bind(&code.0)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            // No UPDATE ... RETURNING in MySQL: read the code back inside
            // the transaction. The loser's read is a locking one, which sees
            // the latest committed row whatever the isolation level.
            if redeemed {
                let row: AuthorizationCodeRow = sqlx::query_as(&select)
                    .bind(&code.0)
                    .fetch_one(&mut *tx)
                    .await?;
                Redemption::Redeemed(AuthorizationCode::try_from(row)?)
            } else {
                let first: Option<Option<Text>> = sqlx::query_scalar(
                    "SELECT issued_session_id FROM oauth_authorization_code \
                     WHERE code_hash = ? FOR UPDATE",
                )
                .bind(&code.0)
                .fetch_optional(&mut *tx)
                .await?;
                lost_redemption(first)?
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
                 ON DUPLICATE KEY UPDATE scope = VALUES(scope), granted_at = VALUES(granted_at)",
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
            // Lock the live sessions first, then revoke exactly those, as
            // `revoke_live_sessions` does.
            let rows: Vec<(Text, Text)> = sqlx::query_as(
                "SELECT session_id, user_id FROM session \
                 WHERE client_id = ? AND revoked_at IS NULL AND expires_at > ? \
                 ORDER BY session_id FOR UPDATE",
            )
            .bind(client.as_str())
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await?;
            let owners = session_owners(&rows)?;
            let event_for = |session: SessionId| event_for(session, owners[&session]);
            let revoked: Vec<Text> = rows.into_iter().map(|(session, _)| session).collect();
            revoke_locked(&mut tx, &revoked, now_ms, until, &event_for).await?
        })
    }
}
