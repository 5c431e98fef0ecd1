//! `impl Store for SqliteStore`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use warden_core::model::{
    AuditEntry, LockoutPolicy, OutboxEvent, RefreshRecord, Revocation, RevocationKind, Role,
    RotateOutcome, Session, SessionTokenOwner, SessionTokenRecord, StoredSigningKey, ThrottleState,
    TokenHash, User, UserCredentials, UserStatus,
};
use warden_core::ports::{NewUser, ReuseRevocation, SessionEventFn, Store};
use warden_core::{AuditId, Email, SessionId, StoreError, UserId};

use super::{SqliteStore, insert_events, insert_revocation, retry};
use crate::grace::retry_allowed;
use crate::retry::TxError;
use crate::rows::{
    AUDIT_COLUMNS, AuditRow, CredentialsRow, OutboxRow, RevocationRow, SESSION_COLUMNS,
    SESSION_TOKEN_SELECT, SessionRow, SessionTokenRow, SigningKeyRow, Text, USER_COLUMNS, UserRow,
    escape_like, parse_uuid, roles_to_json, to_millis,
};

/// Converts fetched rows into domain records.
fn convert<R, T>(rows: Vec<R>) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        retry(|| sqlx::query("SELECT 1").execute(&self.pool)).await?;
        Ok(())
    }

    // ----- users -----

    async fn create_user(&self, new: &NewUser, events: &[OutboxEvent]) -> Result<(), StoreError> {
        let user = &new.user;
        let roles = roles_to_json(&user.roles)?;
        write_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO user_account \
                 (user_id, email, username, password_hash, roles, status, created_at, email_skeleton) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(user.id.to_string())
            .bind(user.email.as_str())
            .bind(user.username.as_deref())
            .bind(&new.password_hash)
            .bind(&roles)
            .bind(user.status.as_str())
            .bind(to_millis(user.created_at))
            .bind(user.email.skeleton())
            .execute(&mut *tx)
            .await?;
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
        // E-mails are stored lower-cased; SQLite's LIKE folds ASCII case, so a
        // lower-cased pattern matches e-mails fully and usernames ASCII-insensitively.
        let pattern = query.map(|q| format!("%{}%", escape_like(&q.to_lowercase())));
        let after = after.map(|a| a.to_string());
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
            let done = sqlx::query("UPDATE user_account SET password_hash = ? WHERE user_id = ?")
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
            insert_revocation(&mut tx, revocation).await?;
            insert_events(&mut tx, events).await?;
        })
    }

    // ----- sessions and refresh tokens -----

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
            let sql =
                format!("INSERT INTO session ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
            sqlx::query(&sql)
                .bind(session.id.to_string())
                .bind(session.user_id.to_string())
                .bind(to_millis(session.created_at))
                .bind(to_millis(session.last_used_at))
                .bind(to_millis(session.expires_at))
                .bind(session.revoked_at.map(to_millis))
                .bind(session.user_agent.as_deref())
                .bind(session.ip.as_deref())
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
            // concurrent callers exactly one sees its row change.
            let consumed: Option<String> = sqlx::query_scalar(
                "UPDATE refresh_token SET used_at = ?, successor_hash = ? \
                 WHERE token_hash = ? AND used_at IS NULL RETURNING session_id",
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
                // (No early return in here: it would skip the commit.)
                let existing: Option<(String, Option<i64>, Option<String>, Option<i64>)> =
                    sqlx::query_as(
                        "SELECT session_id, used_at, successor_hash, retried_at \
                         FROM refresh_token WHERE token_hash = ?",
                    )
                    .bind(&old.0)
                    .fetch_optional(&mut *tx)
                    .await?;
                match existing {
                    None => RotateOutcome::NotFound,
                    Some((raw_id, used_at, successor, retried_at)) => {
                        // A retry within the grace window: the token was
                        // rotated recently, never retried, and its successor
                        // is still unused. Voiding the successor (a
                        // conditional update, so a racing use of it wins or
                        // loses as a whole) keeps the chain single: whoever
                        // holds the voided token next presents reuse.
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
                }
            }
        })
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

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        password_hash: Option<&str>,
        event_for: SessionEventFn<'_>,
    ) -> Result<Vec<SessionId>, StoreError> {
        let user_id = user.to_string();
        let keep = keep.map(|k| k.to_string());
        let now_ms = to_millis(now);
        write_tx!(self, |tx| {
            if let Some(phc) = password_hash {
                let done =
                    sqlx::query("UPDATE user_account SET password_hash = ? WHERE user_id = ?")
                        .bind(phc)
                        .bind(&user_id)
                        .execute(&mut *tx)
                        .await?;
                if done.rows_affected() == 0 {
                    return Err(TxError::Store(StoreError::NotFound));
                }
            }
            let mut revoked: Vec<String> = sqlx::query_scalar(
                "UPDATE session SET revoked_at = ?1 \
                 WHERE user_id = ?2 AND revoked_at IS NULL AND expires_at > ?1 \
                   AND (?3 IS NULL OR session_id <> ?3) \
                 RETURNING session_id",
            )
            .bind(now_ms)
            .bind(&user_id)
            .bind(keep.as_deref())
            .fetch_all(&mut *tx)
            .await?;
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
                insert_revocation(&mut tx, &revocation).await?;
                insert_events(&mut tx, &[event_for(id)]).await?;
                ids.push(id);
            }
            ids
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

    // ----- sign-in throttling -----

    async fn find_login_throttle(&self, key: &str) -> Result<ThrottleState, StoreError> {
        let row: Option<(i64, Option<i64>)> = retry(|| {
            sqlx::query_as(
                "SELECT failures, locked_until FROM login_throttle WHERE throttle_key = ?",
            )
            .bind(key)
            .fetch_optional(&self.pool)
        })
        .await?;
        match row {
            None => Ok(ThrottleState::default()),
            Some((failures, locked_until)) => Ok(ThrottleState {
                failures: u32::try_from(failures.max(0)).unwrap_or(u32::MAX),
                locked_until: locked_until.map(crate::rows::from_millis).transpose()?,
            }),
        }
    }

    async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        policy: &LockoutPolicy,
    ) -> Result<ThrottleState, StoreError> {
        write_tx!(self, |tx| {
            let failures: i64 = sqlx::query_scalar(
                "INSERT INTO login_throttle (throttle_key, failures) VALUES (?, 1) \
                 ON CONFLICT (throttle_key) DO UPDATE SET failures = failures + 1 \
                 RETURNING failures",
            )
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
            let failures = u32::try_from(failures.max(0)).unwrap_or(u32::MAX);
            let locked_until = policy.locked_until(failures, now);
            sqlx::query("UPDATE login_throttle SET locked_until = ? WHERE throttle_key = ?")
                .bind(locked_until.map(to_millis))
                .bind(key)
                .execute(&mut *tx)
                .await?;
            ThrottleState {
                failures,
                locked_until,
            }
        })
    }

    async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query("DELETE FROM login_throttle WHERE throttle_key = ?")
                .bind(key)
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    // ----- signing keys -----

    async fn create_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        let sealed = self.cipher.seal(&key.kid, &key.private_der)?;
        write_tx!(self, |tx| {
            insert_signing_key(&mut tx, key, &sealed).await?;
        })
    }

    async fn create_first_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError> {
        let sealed = self.cipher.seal(&key.kid, &key.private_der)?;
        // `BEGIN IMMEDIATE` already makes writers take turns.
        write_tx!(self, |tx| {
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
        write_tx!(self, |tx| {
            sqlx::query(
                "UPDATE signing_key SET retired_at = ? WHERE kid <> ? AND retired_at IS NULL",
            )
            .bind(to_millis(at))
            .bind(except)
            .execute(&mut *tx)
            .await?;
        })
    }

    async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query("DELETE FROM signing_key WHERE kid = ?")
                .bind(kid)
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    // ----- revocations -----

    async fn list_active_revocations(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<Revocation>, StoreError> {
        let rows: Vec<RevocationRow> = retry(|| {
            sqlx::query_as(
                "SELECT kind, subject_id, not_before, until FROM revocation \
                 WHERE until > ? ORDER BY revocation_id ASC",
            )
            .bind(to_millis(now))
            .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    // ----- audit -----

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO audit_entry ({AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
        retry(|| {
            sqlx::query(&sql)
                .bind(entry.id.to_string())
                .bind(to_millis(entry.at))
                .bind(entry.actor.map(|a| a.to_string()))
                .bind(&entry.action)
                .bind(entry.target.map(|t| t.to_string()))
                .bind(entry.ip.as_deref())
                .bind(entry.user_agent.as_deref())
                .bind(&entry.outcome)
                .bind(entry.detail.as_deref())
                .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn list_audit(
        &self,
        user: Option<UserId>,
        before: Option<AuditId>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_entry \
             WHERE (?1 IS NULL OR audit_id < ?1) \
               AND (?2 IS NULL OR actor = ?2 OR target = ?2) \
             ORDER BY audit_id DESC LIMIT ?3"
        );
        let before = before.map(|b| b.to_string());
        let user = user.map(|u| u.to_string());
        let rows = retry(|| {
            sqlx::query_as::<_, AuditRow>(&sql)
                .bind(before.as_deref())
                .bind(user.as_deref())
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    // ----- outbox -----

    async fn append_outbox(&self, events: &[OutboxEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        write_tx!(self, |tx| {
            insert_events(&mut tx, events).await?;
        })
    }

    async fn list_outbox(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<(i64, OutboxEvent)>, StoreError> {
        let rows: Vec<OutboxRow> = retry(|| {
            sqlx::query_as(
                "SELECT outbox_seq, event_id, name, data, at FROM outbox \
                 WHERE outbox_seq > ? ORDER BY outbox_seq ASC LIMIT ?",
            )
            .bind(after_seq)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    async fn latest_outbox_seq(&self) -> Result<i64, StoreError> {
        let seq: Option<i64> = retry(|| {
            sqlx::query_scalar("SELECT MAX(outbox_seq) FROM outbox").fetch_one(&self.pool)
        })
        .await?;
        Ok(seq.unwrap_or(0))
    }

    // ----- outbox relay -----

    async fn acquire_relay_lease(
        &self,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // One conditional update decides: it matches only when the lease is
        // ours or has expired, and the database serialises concurrent ones.
        let result = retry(|| {
            sqlx::query(
                "UPDATE relay_lease SET holder = ?, expires_at = ? \
                 WHERE lease_name = 'outbox' AND (holder = ? OR expires_at <= ?)",
            )
            .bind(holder)
            .bind(to_millis(until))
            .bind(holder)
            .bind(to_millis(now))
            .execute(&self.pool)
        })
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn release_relay_lease(&self, holder: &str) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query(
                "UPDATE relay_lease SET holder = '', expires_at = 0 \
                 WHERE lease_name = 'outbox' AND holder = ?",
            )
            .bind(holder)
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn list_unpublished_outbox(
        &self,
        limit: u32,
    ) -> Result<Vec<(i64, OutboxEvent)>, StoreError> {
        let rows: Vec<OutboxRow> = retry(|| {
            sqlx::query_as(
                "SELECT outbox_seq, event_id, name, data, at FROM outbox \
                 WHERE published_at IS NULL ORDER BY outbox_seq ASC LIMIT ?",
            )
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
        })
        .await?;
        convert(rows)
    }

    async fn mark_outbox_published(
        &self,
        up_to_seq: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        retry(|| {
            sqlx::query(
                "UPDATE outbox SET published_at = ? \
                 WHERE published_at IS NULL AND outbox_seq <= ?",
            )
            .bind(to_millis(at))
            .bind(up_to_seq)
            .execute(&self.pool)
        })
        .await?;
        Ok(())
    }

    async fn prune_outbox(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let result = retry(|| {
            sqlx::query("DELETE FROM outbox WHERE published_at IS NOT NULL AND at < ?")
                .bind(to_millis(before))
                .execute(&self.pool)
        })
        .await?;
        Ok(result.rows_affected())
    }
}

/// Stores a signing key whose private part `sealed` holds.
async fn insert_signing_key(
    conn: &mut sqlx::SqliteConnection,
    key: &StoredSigningKey,
    sealed: &crate::crypto::Sealed,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signing_key \
         (kid, algorithm, private_key_nonce, private_key_ciphertext, created_at, retired_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
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

/// Stores `new` in the family of `session_id` (whatever session id the
/// caller put in it) and touches the session; returns the session as it is now.
async fn chain_successor(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    new: &RefreshRecord,
    session_id: &str,
    now_ms: i64,
) -> Result<Session, TxError> {
    sqlx::query("INSERT INTO refresh_token (token_hash, session_id, created_at) VALUES (?, ?, ?)")
        .bind(&new.token_hash.0)
        .bind(session_id)
        .bind(to_millis(new.created_at))
        .execute(&mut **tx)
        .await?;
    let sql = format!(
        "UPDATE session SET last_used_at = ? WHERE session_id = ? RETURNING {SESSION_COLUMNS}"
    );
    let row = sqlx::query_as::<_, SessionRow>(&sql)
        .bind(now_ms)
        .bind(session_id)
        .fetch_one(&mut **tx)
        .await?;
    Ok(Session::try_from(row)?)
}
