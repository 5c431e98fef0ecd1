//! `impl SessionStore for PgStore`: sessions, their refresh tokens and session tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;
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
use crate::postgres::{PgStore, insert_events, insert_revocation, retry};
use crate::retry::TxError;
use crate::rows::{
    SESSION_COLUMNS, SESSION_TOKEN_SELECT, SessionRow, SessionTokenRow, parse_uuid, to_millis,
};

/// Rotation's fast path: `$1` now, `$2` the old token's hash, `$3` the new
/// one's, `$4` its creation time. Data-modifying CTEs run exactly once, in
/// one snapshot, whether or not the outer query reads them.
static ROTATE_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let returning = SESSION_COLUMNS
        .split(", ")
        .map(|column| format!("session.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH consumed AS ( \
           UPDATE refresh_token SET used_at = $1, successor_hash = $3 \
           WHERE token_hash = $2 AND used_at IS NULL RETURNING session_id \
         ), successor AS ( \
           INSERT INTO refresh_token (token_hash, session_id, created_at) \
           SELECT $3, session_id, $4 FROM consumed \
         ) \
         UPDATE session SET last_used_at = $1 FROM consumed \
         WHERE session.session_id = consumed.session_id RETURNING {returning}"
    )
});

#[async_trait]
impl SessionStore for PgStore {
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
        pg_tx!(self, |tx| {
            let sql = format!(
                "INSERT INTO session ({SESSION_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
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
                "INSERT INTO refresh_token (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
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
        let sql = format!("SELECT {SESSION_COLUMNS} FROM session WHERE session_id = $1");
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
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
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
             (SELECT session_id FROM refresh_token WHERE token_hash = $1)"
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
        // The common case in one autocommitted statement (one round trip
        // instead of five): consume the token if unused, chain its successor
        // and touch the session. The conditional UPDATE decides: of
        // concurrent callers exactly one sees the row change (the others wait
        // for its row lock, then find `used_at` set and get no row back).
        let rotated = retry(|| {
            sqlx::query_as::<_, SessionRow>(&ROTATE_SQL)
                .bind(now_ms)
                .bind(&old.0)
                .bind(&new.token_hash.0)
                .bind(to_millis(new.created_at))
                .fetch_optional(&self.pool)
        })
        .await?;
        if let Some(row) = rotated {
            return Ok(RotateOutcome::Rotated {
                session: Session::try_from(row)?,
            });
        }
        // Unknown, already used or a retry: decide in a transaction.
        pg_tx!(self, |tx| {
            let consumed: Option<String> = sqlx::query_scalar(
                "UPDATE refresh_token SET used_at = $1, successor_hash = $2 \
                 WHERE token_hash = $3 AND used_at IS NULL RETURNING session_id",
            )
            .bind(now_ms)
            .bind(&new.token_hash.0)
            .bind(&old.0)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(session_id) = consumed {
                let session = chain_successor(&mut tx, new, &session_id, now_ms).await?;
                RotateOutcome::Rotated { session }
            } else {
                // (No early return in here: it would skip the commit.) The
                // row lock serialises concurrent retries of one token.
                let existing: Option<(String, Option<i64>, Option<String>, Option<i64>)> =
                    sqlx::query_as(
                        "SELECT session_id, used_at, successor_hash, retried_at \
                         FROM refresh_token WHERE token_hash = $1 FOR UPDATE",
                    )
                    .bind(&old.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                match existing {
                    None => RotateOutcome::NotFound,
                    Some((raw_id, used_at, successor, retried_at)) => {
                        // A retry within the grace window voids the unused
                        // successor (conditionally: a racing use of it wins
                        // or loses as a whole) and chains the new token in
                        // its place; anything else is reuse.
                        let retryable = retry_allowed(on_reuse, used_at, retried_at);
                        let voided = match successor {
                            Some(successor) if retryable => {
                                sqlx::query(
                                    "UPDATE refresh_token SET used_at = $1 \
                                     WHERE token_hash = $2 AND used_at IS NULL",
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
                                "UPDATE refresh_token SET retried_at = $1, successor_hash = $2 \
                                 WHERE token_hash = $3",
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
                                "UPDATE session SET revoked_at = $1 \
                                 WHERE session_id = $2 AND revoked_at IS NULL",
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
                }
            }
        })
    }

    async fn set_session_amr(&self, id: SessionId, amr: &str) -> Result<bool, StoreError> {
        let id = id.to_string();
        let done = retry(|| {
            sqlx::query("UPDATE session SET amr = $1 WHERE session_id = $2 AND revoked_at IS NULL")
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
        pg_tx!(self, |tx| {
            let done = sqlx::query(
                "UPDATE session SET revoked_at = $1 WHERE session_id = $2 AND revoked_at IS NULL",
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
                "SELECT COUNT(*) FROM session WHERE revoked_at IS NULL AND expires_at > $1",
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
        pg_tx!(self, |tx| {
            if let Some(change) = password {
                let done =
                    sqlx::query("UPDATE user_account SET password_hash = $1, has_password = TRUE WHERE user_id = $2")
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
                 VALUES ($1, $2, $3, $4)",
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
        let sql = format!("{SESSION_TOKEN_SELECT} WHERE t.token_hash = $1");
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
            sqlx::query("DELETE FROM session_token WHERE expires_at < $1")
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
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    new: &RefreshRecord,
    session_id: &str,
    now_ms: i64,
) -> Result<Session, TxError> {
    sqlx::query(
        "INSERT INTO refresh_token (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
    )
    .bind(&new.token_hash.0)
    .bind(session_id)
    .bind(to_millis(new.created_at))
    .execute(&mut **tx)
    .await?;
    let sql = format!(
        "UPDATE session SET last_used_at = $1 WHERE session_id = $2 RETURNING {SESSION_COLUMNS}"
    );
    let row = sqlx::query_as::<_, SessionRow>(&sql)
        .bind(now_ms)
        .bind(session_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Session::try_from(row)?)
}

/// Revokes every live session of `user_id` but `keep` inside the caller's
/// transaction, with a revocation entry and an event each: password
/// changes, and password resets completed by a link.
pub(super) async fn revoke_live_sessions(
    conn: &mut PgConnection,
    user_id: &str,
    keep: Option<&str>,
    now_ms: i64,
    until: DateTime<Utc>,
    event_for: SessionEventFn<'_>,
) -> Result<Vec<SessionId>, TxError> {
    let revoked: Vec<String> = sqlx::query_scalar(
        "UPDATE session SET revoked_at = $1 \
             WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $1 \
               AND ($3::text IS NULL OR session_id <> $3) \
             RETURNING session_id",
    )
    .bind(now_ms)
    .bind(user_id)
    .bind(keep)
    .fetch_all(&mut *conn)
    .await?;
    record_revocations(conn, revoked, until, event_for).await
}

/// Gives each session just revoked (`revoked`, their stored ids) its
/// revocation entry valid until `until` and the event `event_for` builds,
/// inside the caller's transaction; returns their ids, sorted.
pub(super) async fn record_revocations(
    conn: &mut PgConnection,
    mut revoked: Vec<String>,
    until: DateTime<Utc>,
    event_for: SessionEventFn<'_>,
) -> Result<Vec<SessionId>, TxError> {
    revoked.sort();
    let mut ids = Vec::with_capacity(revoked.len());
    for raw in &revoked {
        let id = SessionId::from_uuid(parse_uuid(raw)?);
        let revocation = Revocation {
            kind: RevocationKind::Session,
            id: id.as_uuid(),
            not_before: None,
            until,
        };
        insert_revocation(&mut *conn, &revocation).await?;
        ids.push(id);
    }
    // Events last: appending takes the outbox lock until commit.
    let events: Vec<OutboxEvent> = ids.iter().map(|id| event_for(*id)).collect();
    insert_events(&mut *conn, &events).await?;
    Ok(ids)
}
