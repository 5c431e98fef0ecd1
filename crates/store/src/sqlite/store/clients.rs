//! `impl ClientStore for SqliteStore`: the OAuth clients of Warden as a
//! provider.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use warden_core::StoreError;
use warden_core::clients::{ClientId, ClientSecretHash, OAuthClient};
use warden_core::model::{OutboxEvent, Revocation};
use warden_core::ports::ClientStore;

use super::convert;
use crate::retry::TxError;
use crate::rows::{CLIENT_COLUMNS, ClientLists, ClientRow, to_millis};
use crate::sqlite::{SqliteStore, insert_events, insert_revocation, retry};

#[async_trait]
impl ClientStore for SqliteStore {
    async fn create_client(
        &self,
        client: &OAuthClient,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        let lists = ClientLists::of(client)?;
        write_tx!(self, |tx| {
            // A taken id fails the primary key: `Conflict`.
            sqlx::query(
                "INSERT INTO oauth_client (client_id, name, kind, redirect_uris, \
                 post_logout_redirect_uris, grant_types, scopes, first_party, id_token_alg, \
                 secret_hash, created_at, updated_at, secret_rotated_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(client.id.as_str())
            .bind(&client.name)
            .bind(client.kind.as_str())
            .bind(&lists.redirect_uris)
            .bind(&lists.post_logout_redirect_uris)
            .bind(&lists.grant_types)
            .bind(&lists.scopes)
            .bind(client.first_party)
            .bind(client.id_token_alg.as_str())
            .bind(client.secret_hash.as_ref().map(ClientSecretHash::as_str))
            .bind(to_millis(client.created_at))
            .bind(to_millis(client.updated_at))
            .bind(client.secret_rotated_at.map(to_millis))
            .execute(&mut *tx)
            .await?;
            insert_events(&mut tx, events).await?;
        })
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<OAuthClient>, StoreError> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM oauth_client WHERE client_id = ?");
        let row = retry(|| {
            sqlx::query_as::<_, ClientRow>(&sql)
                .bind(id.as_str())
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(OAuthClient::try_from).transpose()
    }

    async fn list_clients(
        &self,
        after: Option<&ClientId>,
        limit: u32,
    ) -> Result<Vec<OAuthClient>, StoreError> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_client WHERE client_id > ? \
             ORDER BY client_id LIMIT ?"
        );
        let after = after.map_or("", ClientId::as_str);
        let rows = retry(|| {
            sqlx::query_as::<_, ClientRow>(&sql)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    async fn update_client(
        &self,
        client: &OAuthClient,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        let lists = ClientLists::of(client)?;
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE oauth_client SET name = ?, redirect_uris = ?, \
                 post_logout_redirect_uris = ?, grant_types = ?, scopes = ?, first_party = ?, \
                 id_token_alg = ?, updated_at = ? WHERE client_id = ?",
            )
            .bind(&client.name)
            .bind(&lists.redirect_uris)
            .bind(&lists.post_logout_redirect_uris)
            .bind(&lists.grant_types)
            .bind(&lists.scopes)
            .bind(client.first_party)
            .bind(client.id_token_alg.as_str())
            .bind(to_millis(client.updated_at))
            .bind(client.id.as_str())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
            insert_events(&mut tx, events).await?;
        })
    }

    async fn rotate_client_secret(
        &self,
        id: &ClientId,
        hash: &ClientSecretHash,
        at: DateTime<Utc>,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE oauth_client SET secret_hash = ?, secret_rotated_at = ? \
                 WHERE client_id = ? AND kind = 'confidential'",
            )
            .bind(hash.as_str())
            .bind(to_millis(at))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
            insert_events(&mut tx, events).await?;
        })
    }

    async fn delete_client(
        &self,
        id: &ClientId,
        revocation: &Revocation,
        events: &[OutboxEvent],
    ) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            let done = sqlx::query("DELETE FROM oauth_client WHERE client_id = ?")
                .bind(id.as_str())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            insert_revocation(&mut tx, revocation).await?;
            insert_events(&mut tx, events).await?;
            true
        })
    }
}
