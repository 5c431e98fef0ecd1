//! Row types of the SQLite schema and their conversion to domain records.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use warden_core::model::{
    AuditEntry, OutboxEvent, Revocation, RevocationKind, Role, Session, User, UserCredentials,
    UserStatus,
};
use warden_core::{AuditId, Email, EventId, SessionId, StoreError, UserId};

/// A timestamp as stored: Unix milliseconds.
pub(crate) fn to_millis(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// A stored timestamp back as a `DateTime`.
pub(crate) fn from_millis(millis: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| StoreError::Unexpected(format!("stored timestamp {millis} is out of range")))
}

fn opt_from_millis(millis: Option<i64>) -> Result<Option<DateTime<Utc>>, StoreError> {
    millis.map(from_millis).transpose()
}

/// A stored UUID string back as a `Uuid`.
pub(crate) fn parse_uuid(raw: &str) -> Result<Uuid, StoreError> {
    Uuid::try_parse(raw)
        .map_err(|_| StoreError::Unexpected(format!("stored id {raw:?} is not a UUID")))
}

/// The stored form of roles: a JSON array of strings.
pub(crate) fn roles_to_json(roles: &[Role]) -> Result<String, StoreError> {
    let names: Vec<&str> = roles.iter().map(Role::as_str).collect();
    serde_json::to_string(&names).map_err(|err| StoreError::Unexpected(format!("roles: {err}")))
}

fn roles_from_json(raw: &str) -> Result<Vec<Role>, StoreError> {
    let names: Vec<String> = serde_json::from_str(raw).map_err(|err| {
        StoreError::Unexpected(format!(
            "stored roles are not a JSON array of strings: {err}"
        ))
    })?;
    names
        .iter()
        .map(|name| {
            Role::parse(name).map_err(|_| {
                StoreError::Unexpected(format!("stored role {name:?} is not a valid role"))
            })
        })
        .collect()
}

/// The stored name of a revocation kind.
pub(crate) fn revocation_kind_str(kind: RevocationKind) -> &'static str {
    match kind {
        RevocationKind::Session => "session",
        RevocationKind::User => "user",
    }
}

fn revocation_kind_parse(raw: &str) -> Result<RevocationKind, StoreError> {
    match raw {
        "session" => Ok(RevocationKind::Session),
        "user" => Ok(RevocationKind::User),
        other => Err(StoreError::Unexpected(format!(
            "stored revocation kind {other:?} is unknown"
        ))),
    }
}

/// The columns of `user_account` every caller may see.
pub(crate) const USER_COLUMNS: &str = "user_id, email, username, roles, status, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    user_id: String,
    email: String,
    username: Option<String>,
    roles: String,
    status: String,
    created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, Self::Error> {
        Ok(User {
            id: UserId::from_uuid(parse_uuid(&row.user_id)?),
            email: Email::parse(&row.email).map_err(|_| {
                StoreError::Unexpected(format!("stored e-mail of user {} is invalid", row.user_id))
            })?,
            username: row.username,
            roles: roles_from_json(&row.roles)?,
            status: UserStatus::parse(&row.status).ok_or_else(|| {
                StoreError::Unexpected(format!("stored status {:?} is unknown", row.status))
            })?,
            created_at: from_millis(row.created_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

impl TryFrom<CredentialsRow> for UserCredentials {
    type Error = StoreError;
    fn try_from(row: CredentialsRow) -> Result<Self, Self::Error> {
        Ok(UserCredentials {
            user: row.user.try_into()?,
            password_hash: row.password_hash,
        })
    }
}

/// The columns of `session`.
pub(crate) const SESSION_COLUMNS: &str =
    "session_id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip";

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    session_id: String,
    user_id: String,
    created_at: i64,
    last_used_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    user_agent: Option<String>,
    ip: Option<String>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(row: SessionRow) -> Result<Self, Self::Error> {
        Ok(Session {
            id: SessionId::from_uuid(parse_uuid(&row.session_id)?),
            user_id: UserId::from_uuid(parse_uuid(&row.user_id)?),
            created_at: from_millis(row.created_at)?,
            last_used_at: from_millis(row.last_used_at)?,
            expires_at: from_millis(row.expires_at)?,
            revoked_at: opt_from_millis(row.revoked_at)?,
            user_agent: row.user_agent,
            ip: row.ip,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RevocationRow {
    kind: String,
    subject_id: String,
    not_before: Option<i64>,
    until: i64,
}

impl TryFrom<RevocationRow> for Revocation {
    type Error = StoreError;
    fn try_from(row: RevocationRow) -> Result<Self, Self::Error> {
        Ok(Revocation {
            kind: revocation_kind_parse(&row.kind)?,
            id: parse_uuid(&row.subject_id)?,
            not_before: opt_from_millis(row.not_before)?,
            until: from_millis(row.until)?,
        })
    }
}

/// The columns of `audit_entry`.
pub(crate) const AUDIT_COLUMNS: &str =
    "audit_id, at, actor, action, target, ip, user_agent, outcome, detail";

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    audit_id: String,
    at: i64,
    actor: Option<String>,
    action: String,
    target: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    outcome: String,
    detail: Option<String>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(row: AuditRow) -> Result<Self, Self::Error> {
        let user = |raw: Option<String>| -> Result<Option<UserId>, StoreError> {
            raw.map(|raw| parse_uuid(&raw).map(UserId::from_uuid))
                .transpose()
        };
        Ok(AuditEntry {
            id: AuditId::from_uuid(parse_uuid(&row.audit_id)?),
            at: from_millis(row.at)?,
            actor: user(row.actor)?,
            action: row.action,
            target: user(row.target)?,
            ip: row.ip,
            user_agent: row.user_agent,
            outcome: row.outcome,
            detail: row.detail,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OutboxRow {
    outbox_seq: i64,
    event_id: String,
    name: String,
    data: String,
    at: i64,
}

impl TryFrom<OutboxRow> for (i64, OutboxEvent) {
    type Error = StoreError;
    fn try_from(row: OutboxRow) -> Result<Self, Self::Error> {
        let data = serde_json::from_str(&row.data).map_err(|err| {
            StoreError::Unexpected(format!(
                "stored data of event {} is not JSON: {err}",
                row.event_id
            ))
        })?;
        Ok((
            row.outbox_seq,
            OutboxEvent {
                id: EventId::from_uuid(parse_uuid(&row.event_id)?),
                name: row.name,
                data,
                at: from_millis(row.at)?,
            },
        ))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SigningKeyRow {
    pub(crate) kid: String,
    pub(crate) algorithm: String,
    pub(crate) private_key_nonce: Vec<u8>,
    pub(crate) private_key_ciphertext: Vec<u8>,
    pub(crate) created_at: i64,
    pub(crate) retired_at: Option<i64>,
}

impl SigningKeyRow {
    pub(crate) fn retired_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        opt_from_millis(self.retired_at)
    }
}

/// Escapes `%`, `_` and the escape character itself for `LIKE ... ESCAPE '\'`.
pub(crate) fn escape_like(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len() + 2);
    for c in raw.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like("50%_off\\"), "50\\%\\_off\\\\");
        assert_eq!(escape_like("plain"), "plain");
    }

    #[test]
    fn roles_round_trip_and_bad_rows_are_errors() {
        let roles = vec![Role::admin(), Role::user()];
        assert_eq!(
            roles_from_json(&roles_to_json(&roles).unwrap()).unwrap(),
            roles
        );
        assert!(matches!(
            roles_from_json("[\"Admin\"]"),
            Err(StoreError::Unexpected(_))
        ));
        assert!(matches!(
            roles_from_json("not json"),
            Err(StoreError::Unexpected(_))
        ));
    }

    #[test]
    fn timestamps_are_milliseconds() {
        let at = DateTime::from_timestamp_millis(1_700_000_000_123).unwrap();
        assert_eq!(to_millis(at), 1_700_000_000_123);
        assert_eq!(from_millis(to_millis(at)).unwrap(), at);
    }
}
