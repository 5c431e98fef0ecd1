//! `impl UserStore for SqliteStore`: users and their accounts.

use async_trait::async_trait;
use warden_core::model::{OutboxEvent, Revocation, Role, User, UserCredentials, UserStatus};
use warden_core::ports::{NewUser, UserStore};
use warden_core::{Email, StoreError, UserId};

use super::convert;
use super::identities::insert_identity;
use super::links::insert_link;
use super::mail::queue_in;
use crate::retry::TxError;
use crate::rows::{
    CredentialsRow, SEARCH_FEW, TRIGRAM, Text, USER_COLUMNS, UserRow, escape_like, parse_uuid,
    roles_to_json, to_millis,
};
use crate::sqlite::{SqliteStore, insert_events, insert_revocation, retry};

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(&self, new: &NewUser, events: &[OutboxEvent]) -> Result<(), StoreError> {
        let user = &new.user;
        let roles = roles_to_json(&user.roles)?;
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO user_account \
                 (user_id, email, username, password_hash, roles, status, created_at, email_skeleton, \
                  email_verified, has_password) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(user.id.to_string())
            .bind(user.email.as_str())
            .bind(user.username.as_deref())
            .bind(&new.password_hash)
            .bind(&roles)
            .bind(user.status.as_str())
            .bind(to_millis(user.created_at))
            .bind(user.email.skeleton())
            .bind(user.email_verified)
            .bind(user.has_password)
            .execute(&mut *tx)
            .await?;
            if let Some(link) = &new.verification {
                insert_link(&mut tx, link).await?;
            }
            if let Some(identity) = &new.identity {
                insert_identity(&mut tx, identity).await?;
            }
            queue_in(&mut tx, &self.cipher, &new.mail).await?;
            insert_events(&mut tx, events).await?;
        })
    }

    async fn find_user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM user_account WHERE user_id = ?");
        let id = id.to_string();
        let row = retry(|| {
            sqlx::query_as::<_, UserRow>(&sql)
                .bind(&id)
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(User::try_from).transpose()
    }

    async fn find_credentials_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<UserCredentials>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM user_account WHERE email = ?");
        let row = retry(|| {
            sqlx::query_as::<_, CredentialsRow>(&sql)
                .bind(email.as_str())
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(UserCredentials::try_from).transpose()
    }

    async fn find_credentials_by_id(
        &self,
        id: UserId,
    ) -> Result<Option<UserCredentials>, StoreError> {
        let sql =
            format!("SELECT {USER_COLUMNS}, password_hash FROM user_account WHERE user_id = ?");
        let id = id.to_string();
        let row = retry(|| {
            sqlx::query_as::<_, CredentialsRow>(&sql)
                .bind(&id)
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(UserCredentials::try_from).transpose()
    }

    async fn list_users(
        &self,
        query: Option<&str>,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<User>, StoreError> {
        let after = after.map(|a| a.to_string());
        // A term the trigram index can answer (3+ characters) that few
        // accounts match: take the matches from the index, then order them.
        // A term most accounts match is cheaper the other way round: walk
        // the accounts in id order until a page is full (see SEARCH_FEW).
        if let Some(term) = query.filter(|q| q.chars().count() >= TRIGRAM) {
            let phrase = format!("\"{}\"", term.replace('"', "\"\""));
            let matches: i64 = retry(|| {
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM (SELECT 1 FROM user_search \
                     WHERE user_search MATCH ?1 LIMIT ?2)",
                )
                .bind(&phrase)
                .bind(SEARCH_FEW)
                .fetch_one(&self.pool)
            })
            .await?;
            if matches < SEARCH_FEW {
                let sql = format!(
                    "SELECT {USER_COLUMNS} FROM user_account \
                     WHERE user_id IN (SELECT user_id FROM user_search WHERE user_search MATCH ?1) \
                       AND (?2 IS NULL OR user_id > ?2) \
                     ORDER BY user_id ASC LIMIT ?3"
                );
                let rows = retry(|| {
                    sqlx::query_as::<_, UserRow>(&sql)
                        .bind(&phrase)
                        .bind(after.as_deref())
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                })
                .await?;
                return convert(rows);
            }
        }
        // E-mails are stored lower-cased; SQLite's LIKE folds ASCII case, so a
        // lower-cased pattern matches e-mails fully and usernames ASCII-insensitively.
        let pattern = query.map(|q| format!("%{}%", escape_like(&q.to_lowercase())));
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM user_account \
             WHERE (?1 IS NULL OR user_id > ?1) \
               AND (?2 IS NULL OR email LIKE ?2 ESCAPE '!' OR username LIKE ?2 ESCAPE '!') \
             ORDER BY user_id ASC LIMIT ?3"
        );
        let rows = retry(|| {
            sqlx::query_as::<_, UserRow>(&sql)
                .bind(after.as_deref())
                .bind(pattern.as_deref())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    async fn count_users(&self) -> Result<u64, StoreError> {
        let count: i64 =
            retry(|| sqlx::query_scalar("SELECT COUNT(*) FROM user_account").fetch_one(&self.pool))
                .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn find_users_without_email_skeleton(
        &self,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<(UserId, String)>, StoreError> {
        let after = after.map_or_else(String::new, |id| id.to_string());
        let rows: Vec<(Text, Text)> = retry(|| {
            sqlx::query_as(
                "SELECT user_id, email FROM user_account \
                 WHERE email_skeleton IS NULL AND user_id > ? ORDER BY user_id LIMIT ?",
            )
            .bind(&after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
        })
        .await?;
        rows.into_iter()
            .map(|(id, email)| Ok((UserId::from_uuid(parse_uuid(&id)?), email.into_string())))
            .collect()
    }

    async fn update_email_skeleton(&self, id: UserId, skeleton: &str) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            let done = sqlx::query("UPDATE user_account SET email_skeleton = ? WHERE user_id = ?")
                .bind(skeleton)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
        })
    }

    async fn update_password_hash(&self, id: UserId, phc: &str) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE user_account SET password_hash = ?, has_password = TRUE WHERE user_id = ?",
            )
            .bind(phc)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
        })
    }

    async fn update_user_status(
        &self,
        id: UserId,
        status: UserStatus,
        revocation: Option<&Revocation>,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            let done = sqlx::query("UPDATE user_account SET status = ? WHERE user_id = ?")
                .bind(status.as_str())
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
            if status == UserStatus::Active {
                // The ban revoked every session one by one, and those entries
                // stay; the user-wide entry would only refuse new sign-ins.
                sqlx::query("DELETE FROM revocation WHERE kind = 'user' AND subject_id = ?")
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(revocation) = revocation {
                insert_revocation(&mut tx, revocation).await?;
            }
            insert_events(&mut tx, events).await?;
        })
    }

    async fn update_user_roles(
        &self,
        id: UserId,
        roles: &[Role],
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        let roles = roles_to_json(roles)?;
        write_tx!(self, |tx| {
            let done = sqlx::query("UPDATE user_account SET roles = ? WHERE user_id = ?")
                .bind(&roles)
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
            insert_events(&mut tx, events).await?;
        })
    }

    async fn delete_user(
        &self,
        id: UserId,
        revocation: &Revocation,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        write_tx!(self, |tx| {
            // Sessions and their refresh tokens go with the user (ON DELETE CASCADE).
            let done = sqlx::query("DELETE FROM user_account WHERE user_id = ?")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(TxError::Store(StoreError::NotFound));
            }
            // Links have no foreign key (migration 0008: placeholder links
            // of unknown addresses name no account), so they go here.
            sqlx::query("DELETE FROM link_token WHERE user_id = ?")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            insert_revocation(&mut tx, revocation).await?;
            insert_events(&mut tx, events).await?;
        })
    }
}
