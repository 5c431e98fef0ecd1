//! `impl SessionStore for MySqlStore`: sessions, their refresh tokens and session tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::MySqlConnection;
use warden_core::clients::ClientId;
use warden_core::links::LinkPurpose;
use warden_core::model::{
    OutboxEvent, RefreshRecord, Revocation, RevocationKind, RotateOutcome, Session,
    SessionTokenOwner, SessionTokenRecord, TokenHash,
};
use warden_core::ports::{PasswordChange, ReuseRevocation, SessionEventFn, SessionStore};
use warden_core::{SessionId, StoreError, UserId};

use super::convert;
use super::links::void_links;
use super::mail::queue_in;
use crate::grace::retry_allowed;
use crate::mysql::{MySqlStore, insert_events, insert_revocation, retry};
use crate::retry::TxError;
use crate::rows::{
    SESSION_COLUMNS, SESSION_TOKEN_SELECT, SessionRow, SessionTokenRow, Text, parse_uuid, to_millis,
};

#[async_trait]
impl SessionStore for MySqlStore {
    async fn create_session(
        &self,
        session: &Session,
        refresh: &RefreshRecord,
        events: &[OutboxEvent],
    ) -> Result<(), StoreError> {
        if refresh.session_id != session.id {
            return Err(StoreError::Unexpected(
                "the first refresh token must belong to the new session".into(),
            ));
        }
        write_tx!(self, |tx| {
            let sql = format!(
                "INSERT INTO session ({SESSION_COLUMNS}) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            );
            sqlx::query(&sql)
                .bind(session.id.to_string())
                .bind(session.user_id.to_string())
                .bind(to_millis(session.created_at))
                .bind(to_millis(session.last_used_at))
                .bind(to_millis(session.expires_at))
                .bind(session.revoked_at.map(to_millis))
                .bind(session.user_agent.as_deref())
                .bind(session.ip.as_deref())
                .bind(session.authentication.stored())
                .bind(to_millis(session.authentication.at))
                .bind(session.client_id.as_ref().map(ClientId::as_str))
                .bind(session.scope.as_deref())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO refresh_token (token_hash, session_id, created_at) VALUES (?, ?, ?)",
            )
            .bind(&refresh.token_hash.0)
            .bind(refresh.session_id.to_string())
            .bind(to_millis(refresh.created_at))
            .execute(&mut *tx)
            .await?;
            insert_events(&mut tx, events).await?;
        })
    }

    async fn find_session(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM session WHERE session_id = ?");
        let id = id.to_string();
        let row = retry(|| {
            sqlx::query_as::<_, SessionRow>(&sql)
                .bind(&id)
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(Session::try_from).transpose()
    }

    async fn list_sessions(
        &self,
        user: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM session \
             WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? \
             ORDER BY created_at DESC, session_id DESC"
        );
        let user = user.to_string();
        let rows = retry(|| {
            sqlx::query_as::<_, SessionRow>(&sql)
                .bind(&user)
                .bind(to_millis(now))
                .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    async fn find_session_by_refresh(
        &self,
        token: &TokenHash,
    ) -> Result<Option<Session>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM session WHERE session_id = \
             (SELECT session_id FROM refresh_token WHERE token_hash = ?)"
        );
        let row = retry(|| {
            sqlx::query_as::<_, SessionRow>(&sql)
                .bind(&token.0)
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(Session::try_from).transpose()
    }

    async fn rotate_refresh_token(
        &self,
        old: &TokenHash,
        new: &RefreshRecord,
        now: DateTime<Utc>,
        on_reuse: &ReuseRevocation<'_>,
    ) -> Result<RotateOutcome, StoreError> {
        let now_ms = to_millis(now);
        write_tx!(self, |tx| {
            // The conditional update is the decision: of any number of
            // concurrent callers exactly one sees its row change (the others
            // wait for its row lock, then find `used_at` set).
            let consumed = sqlx::query(
                "UPDATE refresh_token SET used_at = ?, successor_hash = ? \
                 WHERE token_hash = ? AND used_at IS NULL",
            )
            .bind(now_ms)
            .bind(&new.token_hash.0)
            .bind(&old.0)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            // No UPDATE ... RETURNING in MySQL: read the family inside the
            // transaction, locked so that concurrent retries of one token
            // take turns (the row is ours or already used; it never moves).
            let existing: Option<(Text, Option<i64>, Option<Text>, Option<i64>)> = sqlx::query_as(
                "SELECT session_id, used_at, successor_hash, retried_at \
                     FROM refresh_token WHERE token_hash = ? FOR UPDATE",
            )
            .bind(&old.0)
            .fetch_optional(&mut *tx)
            .await?;
            match (consumed, existing) {
                (true, Some((session_id, ..))) => {
                    let session = chain_successor(&mut tx, new, &session_id, now_ms).await?;
                    RotateOutcome::Rotated { session }
                }
                (true, None) => {
                    return Err(TxError::Store(StoreError::Unexpected(
                        "a consumed refresh token vanished inside its transaction".into(),
                    )));
                }
                (false, Some((raw_id, used_at, successor, retried_at))) => {
                    // A retry within the grace window voids the unused
                    // successor (conditionally: a racing use of it wins or
                    // loses as a whole) and chains the new token in its
                    // place; anything else is reuse.
                    let retryable = retry_allowed(on_reuse, used_at, retried_at);
                    let voided = match successor {
                        Some(successor) if retryable => {
                            sqlx::query(
                                "UPDATE refresh_token SET used_at = ? \
                                 WHERE token_hash = ? AND used_at IS NULL",
                            )
                            .bind(now_ms)
                            .bind(&successor)
                            .execute(&mut *tx)
                            .await?
                            .rows_affected()
                                == 1
                        }
                        _ => false,
                    };
                    if voided {
                        sqlx::query(
                            "UPDATE refresh_token SET retried_at = ?, successor_hash = ? \
                             WHERE token_hash = ?",
                        )
                        .bind(now_ms)
                        .bind(&new.token_hash.0)
                        .bind(&old.0)
                        .execute(&mut *tx)
                        .await?;
                        let session = chain_successor(&mut tx, new, &raw_id, now_ms).await?;
                        RotateOutcome::Retried { session }
                    } else {
                        let session_id = SessionId::from_uuid(parse_uuid(&raw_id)?);
                        // Reuse: the whole family dies with this transaction.
                        let revoked = sqlx::query(
                            "UPDATE session SET revoked_at = ? \
                             WHERE session_id = ? AND revoked_at IS NULL",
                        )
                        .bind(now_ms)
                        .bind(&raw_id)
                        .execute(&mut *tx)
                        .await?;
                        if revoked.rows_affected() == 1 {
                            let revocation = Revocation {
                                kind: RevocationKind::Session,
                                id: session_id.as_uuid(),
                                not_before: None,
                                until: on_reuse.until,
                            };
                            insert_revocation(&mut tx, &revocation).await?;
                            insert_events(&mut tx, &[(on_reuse.event_for)(session_id)]).await?;
                        }
                        RotateOutcome::Reused { session_id }
                    }
                }
                (false, None) => RotateOutcome::NotFound,
            }
        })
    }

    async fn set_session_amr(&self, id: SessionId, amr: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        let done = retry(|| {
            sqlx::query("UPDATE session SET amr = ? WHERE session_id = ? AND revoked_at IS NULL")
                .bind(amr)
                .bind(&id)
                .execute(&self.pool)
        })
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn revoke_session(
        &self,
        id: SessionId,
        now: DateTime<Utc>,
        revocation: &Revocation,
        events: &[OutboxEvent],
    ) -> Result<bool, StoreError> {
        write_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE session SET revoked_at = ? WHERE session_id = ? AND revoked_at IS NULL",
            )
            .bind(to_millis(now))
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
            let revoked = done.rows_affected() == 1;
            if revoked {
                insert_revocation(&mut tx, revocation).await?;
                insert_events(&mut tx, events).await?;
            }
            revoked
        })
    }

    async fn count_live_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let count: i64 = retry(|| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM session WHERE revoked_at IS NULL AND expires_at > ?",
            )
            .bind(to_millis(now))
            .fetch_one(&self.pool)
        })
        .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        password: Option<&PasswordChange<'_>>,
        event_for: SessionEventFn<'_>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let user_id = user.to_string();
        let keep = keep.map(|k| k.to_string());
        let now_ms = to_millis(now);
        write_tx!(self, |tx| {
            if let Some(change) = password {
                let done =
                    sqlx::query("UPDATE user_account SET password_hash = ?, has_password = TRUE WHERE user_id = ?")
                        .bind(change.hash)
                        .bind(&user_id)
                        .execute(&mut *tx)
                        .await?;
                if done.rows_affected() == 0 {
                    return Err(TxError::Store(StoreError::NotFound));
                }
                // A password change voids every reset link (contract,
                // section 3): one mailed before it must not undo it.
                void_links(
                    &mut tx,
                    &user_id,
                    &[LinkPurpose::PasswordReset],
                    to_millis(now),
                )
                .await?;
                queue_in(&mut tx, &self.cipher, change.mail).await?;
            }
            revoke_live_sessions(&mut tx, &user_id, keep.as_deref(), now_ms, until, event_for)
                .await?
        })
    }

    // ----- session tokens -----

    async fn create_session_token(&self, token: &SessionTokenRecord) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query(
                "INSERT INTO session_token (token_hash, session_id, created_at, expires_at) \
                 VALUES (?, ?, ?, ?)",
            )
            .bind(&token.token_hash.0)
            .bind(token.session_id.to_string())
            .bind(to_millis(token.created_at))
            .bind(to_millis(token.expires_at))
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn find_session_token(
        &self,
        token: &TokenHash,
    ) -> Result<Option<SessionTokenOwner>, StoreError> {
        let sql = format!("{SESSION_TOKEN_SELECT} WHERE t.token_hash = ?");
        let row = retry(|| {
            sqlx::query_as::<_, SessionTokenRow>(&sql)
                .bind(&token.0)
                .fetch_optional(&self.pool)
        })
        .await?;
        row.map(SessionTokenOwner::try_from).transpose()
    }

    async fn delete_expired_session_tokens(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = retry(|| {
            sqlx::query("DELETE FROM session_token WHERE expires_at < ?")
                .bind(to_millis(now))
                .execute(&self.pool)
        })
        .await?;
        Ok(done.rows_affected())
    }
}

/// Stores `new` in the family of `session_id` (whatever session id the
/// caller put in it) and touches the session; returns the session as it is now.
async fn chain_successor(
    tx: &mut sqlx::Transaction<'_, sqlx::MySql>,
    new: &RefreshRecord,
    session_id: &str,
    now_ms: i64,
) -> Result<Session, TxError> {
    // Lock the session row before inserting the new token (whose foreign
    // key check takes a shared lock on it).
    sqlx::query("UPDATE session SET last_used_at = ? WHERE session_id = ?")
        .bind(now_ms)
        .bind(session_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("INSERT INTO refresh_token (token_hash, session_id, created_at) VALUES (?, ?, ?)")
        .bind(&new.token_hash.0)
        .bind(session_id)
        .bind(to_millis(new.created_at))
        .execute(&mut **tx)
        .await?;
    let sql = format!("SELECT {SESSION_COLUMNS} FROM session WHERE session_id = ?");
    let row = sqlx::query_as::<_, SessionRow>(&sql)
        .bind(session_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Session::try_from(row)?)
}

/// Revokes every live session of `user_id` but `keep` inside the caller's
/// transaction, with a revocation entry and an event each: password
/// changes, and password resets completed by a link.
pub(super) async fn revoke_live_sessions(
    conn: &mut MySqlConnection,
    user_id: &str,
    keep: Option<&str>,
    now_ms: i64,
    until: DateTime<Utc>,
    event_for: SessionEventFn<'_>,
) -> Result<Vec<SessionId>, TxError> {
    // Lock the live sessions first, then revoke exactly those: a
    // session created meanwhile is neither revoked nor announced.
    let mut select = String::from(
        "SELECT session_id FROM session \
             WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
    );
    if keep.is_some() {
        select.push_str(" AND session_id <> ?");
    }
    select.push_str(" ORDER BY session_id FOR UPDATE");
    let mut q = sqlx::query_scalar::<_, Text>(&select)
        .bind(user_id)
        .bind(now_ms);
    if let Some(keep) = &keep {
        q = q.bind(keep);
    }
    let revoked: Vec<Text> = q.fetch_all(&mut *conn).await?;
    revoke_locked(conn, &revoked, now_ms, until, event_for).await
}

/// Revokes the sessions the caller's transaction selected and locked
/// (`revoked`, sorted), each with its revocation entry valid until `until`
/// and the event `event_for` builds; returns their ids.
pub(super) async fn revoke_locked(
    conn: &mut MySqlConnection,
    revoked: &[Text],
    now_ms: i64,
    until: DateTime<Utc>,
    event_for: SessionEventFn<'_>,
) -> Result<Vec<SessionId>, TxError> {
    if !revoked.is_empty() {
        let placeholders = vec!["?"; revoked.len()].join(", ");
        let update =
            format!("UPDATE session SET revoked_at = ? WHERE session_id IN ({placeholders})");
        let mut q = sqlx::query(&update).bind(now_ms);
        for raw in revoked {
            q = q.bind(raw);
        }
        q.execute(&mut *conn).await?;
    }
    let mut ids = Vec::with_capacity(revoked.len());
    let mut events = Vec::with_capacity(revoked.len());
    for raw in revoked {
        let id = SessionId::from_uuid(parse_uuid(raw)?);
        let revocation = Revocation {
            kind: RevocationKind::Session,
            id: id.as_uuid(),
            not_before: None,
            until,
        };
        insert_revocation(&mut *conn, &revocation).await?;
        events.push(event_for(id));
        ids.push(id);
    }
    insert_events(&mut *conn, &events).await?;
    Ok(ids)
}
