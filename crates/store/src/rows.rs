//! Row types shared by every SQL adapter and their conversion to domain
//! records. The schemas agree on column names and representations (ids as
//! text, timestamps as Unix milliseconds, key material as bytes), so one set
//! of rows serves SQLite, PostgreSQL and MySQL.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use warden_core::clients::{
    ClientId, ClientKind, ClientSecretHash, GrantType, OAuthClient, RedirectUri, Scope,
};
use warden_core::identity::{ExchangeCode, Identity, IdentityKey};
use warden_core::links::{LinkPurpose, LinkRecord, SendState};
use warden_core::model::TokenHash;
use warden_core::model::{
    Actor, AuditEntry, AuthMethod, Authentication, MfaChallenge, OutboxEvent, Revocation,
    RevocationKind, Role, Session, SessionTokenOwner, StoredSigningKey, TotpFactor, TotpSecretId,
    User, UserCredentials, UserStatus,
};
use warden_core::passkeys::{StoredPasskey, WebauthnChallenge};
use warden_core::provider::{AuthorizationCode, Consent, Redemption};
use warden_core::{AuditId, Email, EventId, IdentityId, PasskeyId, SessionId, StoreError, UserId};

/// A text column.
///
/// Plain `String` would do for SQLite and PostgreSQL, but every text column of
/// the MySQL schema has a `_bin` collation (ids and kids are case-sensitive),
/// and MySQL flags such columns `BINARY` in result metadata, which sqlx's
/// `String` decoder refuses as `VARBINARY`. On MySQL this type reads the
/// bytes and insists they are UTF-8 instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text(String);

impl Text {
    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Text> for String {
    fn from(text: Text) -> Self {
        text.0
    }
}

/// `Text` is a `String` on databases that label text columns faithfully.
macro_rules! text_as_string {
    ($db:ty) => {
        impl sqlx::Type<$db> for Text {
            fn type_info() -> <$db as sqlx::Database>::TypeInfo {
                <String as sqlx::Type<$db>>::type_info()
            }

            fn compatible(ty: &<$db as sqlx::Database>::TypeInfo) -> bool {
                <String as sqlx::Type<$db>>::compatible(ty)
            }
        }

        impl<'q> sqlx::Encode<'q, $db> for Text {
            fn encode_by_ref(
                &self,
                buf: &mut <$db as sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <String as sqlx::Encode<'q, $db>>::encode_by_ref(&self.0, buf)
            }
        }

        impl<'r> sqlx::Decode<'r, $db> for Text {
            fn decode(
                value: <$db as sqlx::Database>::ValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                <String as sqlx::Decode<'r, $db>>::decode(value).map(Text)
            }
        }
    };
}

text_as_string!(sqlx::Sqlite);
text_as_string!(sqlx::Postgres);

impl sqlx::Type<sqlx::MySql> for Text {
    fn type_info() -> sqlx::mysql::MySqlTypeInfo {
        <str as sqlx::Type<sqlx::MySql>>::type_info()
    }

    fn compatible(ty: &sqlx::mysql::MySqlTypeInfo) -> bool {
        <[u8] as sqlx::Type<sqlx::MySql>>::compatible(ty)
    }
}

impl<'q> sqlx::Encode<'q, sqlx::MySql> for Text {
    fn encode_by_ref(
        &self,
        buf: &mut Vec<u8>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<sqlx::MySql>>::encode(self.0.as_str(), buf)
    }
}

impl<'r> sqlx::Decode<'r, sqlx::MySql> for Text {
    fn decode(value: sqlx::mysql::MySqlValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let bytes = <&[u8] as sqlx::Decode<sqlx::MySql>>::decode(value)?;
        Ok(Text(std::str::from_utf8(bytes)?.to_owned()))
    }
}

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

/// Revoked sessions' owners, from `(session_id, user_id)` rows: what a
/// revocation across users needs to name each session's owner in its event.
pub(crate) fn session_owners<T: std::ops::Deref<Target = str>>(
    rows: &[(T, T)],
) -> Result<std::collections::HashMap<SessionId, UserId>, StoreError> {
    rows.iter()
        .map(|(session, user)| {
            Ok((
                SessionId::from_uuid(parse_uuid(session)?),
                UserId::from_uuid(parse_uuid(user)?),
            ))
        })
        .collect()
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
pub(crate) const USER_COLUMNS: &str =
    "user_id, email, username, roles, status, created_at, email_verified, has_password";

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    user_id: Text,
    email: Text,
    username: Option<Text>,
    roles: Text,
    status: Text,
    created_at: i64,
    email_verified: bool,
    has_password: bool,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(row: UserRow) -> Result<Self, Self::Error> {
        Ok(User {
            id: UserId::from_uuid(parse_uuid(&row.user_id)?),
            email: Email::from_stored(&row.email).map_err(|_| {
                StoreError::Unexpected(format!("stored e-mail of user {} is invalid", row.user_id))
            })?,
            username: row.username.map(String::from),
            roles: roles_from_json(&row.roles)?,
            status: UserStatus::parse(&row.status).ok_or_else(|| {
                StoreError::Unexpected(format!("stored status {:?} is unknown", row.status))
            })?,
            created_at: from_millis(row.created_at)?,
            email_verified: row.email_verified,
            has_password: row.has_password,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CredentialsRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: Text,
}

impl TryFrom<CredentialsRow> for UserCredentials {
    type Error = StoreError;
    fn try_from(row: CredentialsRow) -> Result<Self, Self::Error> {
        Ok(UserCredentials {
            user: row.user.try_into()?,
            password_hash: row.password_hash.into_string(),
        })
    }
}

/// The columns of `session`.
pub(crate) const SESSION_COLUMNS: &str = "session_id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip, amr, \
     auth_time, client_id, scope";

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    session_id: Text,
    user_id: Text,
    created_at: i64,
    last_used_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    user_agent: Option<Text>,
    ip: Option<Text>,
    amr: Text,
    auth_time: Option<i64>,
    client_id: Option<Text>,
    scope: Option<Text>,
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
            user_agent: row.user_agent.map(String::from),
            ip: row.ip.map(String::from),
            authentication: authentication(&row.amr, row.auth_time, row.created_at)?,
            client_id: row.client_id.as_deref().map(parse_client_id).transpose()?,
            scope: row.scope.map(String::from),
        })
    }
}

/// A session token with its session's and user's state; every adapter
/// appends `WHERE t.token_hash = <placeholder>`.
pub(crate) const SESSION_TOKEN_SELECT: &str = "SELECT t.session_id, s.user_id, u.roles, \
     u.status, s.revoked_at, s.expires_at AS session_expires_at, t.created_at AS issued_at, \
     t.expires_at, s.amr, s.auth_time, s.created_at AS session_created_at FROM session_token t \
     JOIN session s ON s.session_id = t.session_id \
     JOIN user_account u ON u.user_id = s.user_id";

#[derive(sqlx::FromRow)]
pub(crate) struct SessionTokenRow {
    session_id: Text,
    user_id: Text,
    roles: Text,
    status: Text,
    revoked_at: Option<i64>,
    session_expires_at: i64,
    issued_at: i64,
    expires_at: i64,
    amr: Text,
    auth_time: Option<i64>,
    session_created_at: i64,
}

impl TryFrom<SessionTokenRow> for SessionTokenOwner {
    type Error = StoreError;
    fn try_from(row: SessionTokenRow) -> Result<Self, Self::Error> {
        Ok(SessionTokenOwner {
            session_id: SessionId::from_uuid(parse_uuid(&row.session_id)?),
            user_id: UserId::from_uuid(parse_uuid(&row.user_id)?),
            roles: roles_from_json(&row.roles)?,
            user_status: UserStatus::parse(&row.status).ok_or_else(|| {
                StoreError::Unexpected(format!("stored status {:?} is unknown", row.status))
            })?,
            session_revoked_at: opt_from_millis(row.revoked_at)?,
            session_expires_at: from_millis(row.session_expires_at)?,
            issued_at: from_millis(row.issued_at)?,
            expires_at: from_millis(row.expires_at)?,
            authentication: authentication(&row.amr, row.auth_time, row.session_created_at)?,
        })
    }
}

/// A session's authentication; sessions from before migration 0010 have no
/// `auth_time` and began with their creation.
fn authentication(
    amr: &str,
    auth_time: Option<i64>,
    created_at: i64,
) -> Result<Authentication, StoreError> {
    Ok(Authentication::from_stored(
        amr,
        from_millis(auth_time.unwrap_or(created_at))?,
    ))
}

/// The columns of `link_token`.
pub(crate) const IDENTITY_COLUMNS: &str =
    "identity_id, user_id, provider, issuer, subject, email, created_at, last_used_at";

#[derive(sqlx::FromRow)]
pub(crate) struct IdentityRow {
    identity_id: Text,
    user_id: Text,
    provider: Text,
    issuer: Text,
    subject: Text,
    email: Option<Text>,
    created_at: i64,
    last_used_at: i64,
}

impl TryFrom<IdentityRow> for Identity {
    type Error = StoreError;
    fn try_from(row: IdentityRow) -> Result<Self, Self::Error> {
        Ok(Identity {
            id: IdentityId::from_uuid(parse_uuid(&row.identity_id)?),
            user_id: UserId::from_uuid(parse_uuid(&row.user_id)?),
            key: IdentityKey {
                provider: row.provider.into_string(),
                issuer: row.issuer.into_string(),
                subject: row.subject.into_string(),
            },
            email: row.email.map(Text::into_string),
            created_at: from_millis(row.created_at)?,
            last_used_at: from_millis(row.last_used_at)?,
        })
    }
}

pub(crate) const EXCHANGE_COLUMNS: &str =
    "code_hash, user_id, provider, code_challenge, created_at, expires_at";

#[derive(sqlx::FromRow)]
pub(crate) struct ExchangeRow {
    code_hash: Text,
    user_id: Text,
    provider: Text,
    code_challenge: Text,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<ExchangeRow> for ExchangeCode {
    type Error = StoreError;
    fn try_from(row: ExchangeRow) -> Result<Self, Self::Error> {
        Ok(ExchangeCode {
            code_hash: TokenHash(row.code_hash.into_string()),
            user_id: UserId::from_uuid(parse_uuid(&row.user_id)?),
            provider: row.provider.into_string(),
            code_challenge: row.code_challenge.into_string(),
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
        })
    }
}

pub(crate) const LINK_COLUMNS: &str =
    "token_hash, purpose, user_id, email, created_at, expires_at, used_at";

#[derive(sqlx::FromRow)]
pub(crate) struct LinkRow {
    token_hash: Text,
    purpose: Text,
    user_id: Text,
    email: Text,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl TryFrom<LinkRow> for LinkRecord {
    type Error = StoreError;
    fn try_from(row: LinkRow) -> Result<Self, Self::Error> {
        Ok(LinkRecord {
            token_hash: TokenHash(row.token_hash.into_string()),
            purpose: LinkPurpose::parse(&row.purpose).ok_or_else(|| {
                StoreError::Unexpected(format!("stored link purpose {:?} is unknown", row.purpose))
            })?,
            user_id: UserId::from_uuid(parse_uuid(&row.user_id)?),
            email: Email::from_stored(&row.email)
                .map_err(|_| StoreError::Unexpected("stored link e-mail is invalid".to_owned()))?,
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            used_at: opt_from_millis(row.used_at)?,
        })
    }
}

/// The account update a link completion makes. `placeholder(n)` writes
/// the n-th (1-based) parameter, bound in this order: new e-mail and its
/// skeleton, password hash, user id, expected e-mail. Only an active
/// account is changed; every completion marks the address verified (the
/// link was read there).
pub(crate) fn link_user_update(
    completion: &warden_core::ports::LinkCompletion<'_>,
    placeholder: impl Fn(usize) -> String,
) -> String {
    let mut n = 0;
    let mut next = || {
        n += 1;
        placeholder(n)
    };
    let mut sql = String::from("UPDATE user_account SET email_verified = TRUE");
    if completion.new_email.is_some() {
        sql.push_str(&format!(
            ", email = {}, email_skeleton = {}",
            next(),
            next()
        ));
    }
    if completion.password_hash.is_some() {
        sql.push_str(&format!(
            ", password_hash = {}, has_password = TRUE",
            next()
        ));
    }
    sql.push_str(&format!(
        " WHERE user_id = {} AND status = 'active'",
        next()
    ));
    if completion.expected_email.is_some() {
        sql.push_str(&format!(" AND email = {}", next()));
    }
    sql
}

/// A send throttle's stored state back as the domain's.
pub(crate) fn send_state(
    (last_at, window_start, window_count): (i64, i64, i64),
) -> Result<SendState, StoreError> {
    Ok(SendState {
        last_at: from_millis(last_at)?,
        window_start: from_millis(window_start)?,
        window_count: u32::try_from(window_count.max(0)).unwrap_or(u32::MAX),
    })
}

#[derive(sqlx::FromRow)]
pub(crate) struct RevocationRow {
    kind: Text,
    subject_id: Text,
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
/// A value an audit query binds.
pub(crate) enum Bind {
    Text(String),
    Int(i64),
}

/// The SQL of [`AuditStore::list_audit`](warden_core::ports::AuditStore)
/// and its values in bind order, with `placeholder(n)` the backend's n-th
/// parameter (`$1`, `?1`, `?`). Only the conditions in use are in the SQL,
/// so the planner sees each query plainly.
pub(crate) fn audit_list_query(
    filter: &warden_core::ports::AuditFilter,
    before: Option<AuditId>,
    limit: u32,
    placeholder: fn(usize) -> String,
) -> (String, Vec<Bind>) {
    let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_entry WHERE 1 = 1");
    let mut binds = Vec::new();
    let mut add = |condition: &str, value: Bind, sql: &mut String| {
        binds.push(value);
        *sql = format!(
            "{sql} {}",
            condition.replace('#', &placeholder(binds.len()))
        );
    };
    if let Some(before) = before {
        add("AND audit_id < #", Bind::Text(before.to_string()), &mut sql);
    }
    if let Some(user) = filter.user {
        add("AND (actor = #", Bind::Text(user.to_string()), &mut sql);
        add("OR target = #)", Bind::Text(user.to_string()), &mut sql);
    }
    if let Some(action) = &filter.action {
        add("AND action = #", Bind::Text(action.clone()), &mut sql);
    }
    if let Some(ok) = filter.success {
        let outcome = if ok { "success" } else { "failure" };
        add("AND outcome = #", Bind::Text(outcome.to_owned()), &mut sql);
    }
    if let Some(from) = filter.from {
        add("AND at >= #", Bind::Int(to_millis(from)), &mut sql);
    }
    if let Some(to) = filter.to {
        add("AND at < #", Bind::Int(to_millis(to)), &mut sql);
    }
    add(
        "ORDER BY audit_id DESC LIMIT #",
        Bind::Int(i64::from(limit)),
        &mut sql,
    );
    (sql, binds)
}

/// The SQL of [`AuditStore::audit_tally`](warden_core::ports::AuditStore)
/// for `actions` actions: `hour` is the backend's integer division of `at`
/// by an hour, the first parameter `since`, the rest the actions.
pub(crate) fn audit_tally_query(
    actions: usize,
    hour: &str,
    placeholder: fn(usize) -> String,
) -> String {
    let list: Vec<String> = (2..actions + 2).map(placeholder).collect();
    format!(
        "SELECT {hour} AS hour, action, outcome, COUNT(*) FROM audit_entry \
         WHERE at >= {} AND action IN ({}) GROUP BY {hour}, action, outcome",
        placeholder(1),
        list.join(", ")
    )
}

/// Rows of [`audit_tally_query`] as tallies.
pub(crate) fn audit_tallies(
    rows: Vec<(i64, Text, Text, i64)>,
) -> Vec<warden_core::ports::AuditTally> {
    rows.into_iter()
        .map(
            |(hour, action, outcome, count)| warden_core::ports::AuditTally {
                hour,
                action: action.into_string(),
                success: &*outcome == "success",
                count: u64::try_from(count).unwrap_or(0),
            },
        )
        .collect()
}

pub(crate) const AUDIT_COLUMNS: &str =
    "audit_id, at, actor, action, target, ip, user_agent, outcome, detail";

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    audit_id: Text,
    at: i64,
    actor: Option<Text>,
    action: Text,
    target: Option<Text>,
    ip: Option<Text>,
    user_agent: Option<Text>,
    outcome: Text,
    detail: Option<Text>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(row: AuditRow) -> Result<Self, Self::Error> {
        let user = |raw: Option<Text>| -> Result<Option<UserId>, StoreError> {
            raw.map(|raw| parse_uuid(&raw).map(UserId::from_uuid))
                .transpose()
        };
        Ok(AuditEntry {
            id: AuditId::from_uuid(parse_uuid(&row.audit_id)?),
            at: from_millis(row.at)?,
            actor: row
                .actor
                .map(|raw| {
                    raw.parse::<Actor>().map_err(|_| {
                        StoreError::Unexpected(format!(
                            "stored actor {:?} is neither a user id nor `cli`",
                            &*raw
                        ))
                    })
                })
                .transpose()?,
            action: row.action.into_string(),
            target: user(row.target)?,
            ip: row.ip.map(String::from),
            user_agent: row.user_agent.map(String::from),
            outcome: row.outcome.into_string(),
            detail: row.detail.map(String::from),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OutboxRow {
    outbox_seq: i64,
    event_id: Text,
    name: Text,
    data: Text,
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
                name: row.name.into_string(),
                data,
                at: from_millis(row.at)?,
            },
        ))
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SigningKeyRow {
    kid: Text,
    algorithm: Text,
    private_key_nonce: Vec<u8>,
    private_key_ciphertext: Vec<u8>,
    created_at: i64,
    retired_at: Option<i64>,
}

impl SigningKeyRow {
    /// Decrypts the private key; a wrong key-encryption key is an error.
    pub(crate) fn open(
        self,
        cipher: &crate::crypto::KeyCipher,
    ) -> Result<StoredSigningKey, StoreError> {
        let sealed = crate::crypto::Sealed {
            nonce: self.private_key_nonce,
            ciphertext: self.private_key_ciphertext,
        };
        Ok(StoredSigningKey {
            private_der: cipher.open(&self.kid, &sealed)?,
            retired_at: opt_from_millis(self.retired_at)?,
            created_at: from_millis(self.created_at)?,
            kid: self.kid.into_string(),
            algorithm: self.algorithm.into_string(),
        })
    }
}

/// The columns of `user_totp` that [`TotpRow`] reads.
pub(crate) const TOTP_COLUMNS: &str =
    "secret_nonce, secret_ciphertext, created_at, confirmed_at, last_step";

/// A row of `user_totp`.
#[derive(sqlx::FromRow)]
pub(crate) struct TotpRow {
    secret_nonce: Vec<u8>,
    secret_ciphertext: Vec<u8>,
    created_at: i64,
    confirmed_at: Option<i64>,
    last_step: Option<i64>,
}

impl TotpRow {
    /// Decrypts the secret of `user`'s factor; a wrong key-encryption key,
    /// or a secret sealed for another account, is an error.
    pub(crate) fn open(
        self,
        cipher: &crate::crypto::KeyCipher,
        user: UserId,
    ) -> Result<TotpFactor, StoreError> {
        let sealed = crate::crypto::Sealed {
            nonce: self.secret_nonce,
            ciphertext: self.secret_ciphertext,
        };
        Ok(TotpFactor {
            secret: cipher.open_totp(user, &sealed)?,
            // A fresh nonce seals every secret stored.
            id: TotpSecretId::new(sealed.nonce),
            created_at: from_millis(self.created_at)?,
            confirmed_at: opt_from_millis(self.confirmed_at)?,
            last_step: self.last_step,
        })
    }
}

/// A first factor's methods as `mfa_challenge.amr` keeps them: comma-separated.
pub(crate) fn methods_to_stored(methods: &[AuthMethod]) -> String {
    methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// The columns of `mfa_challenge` that [`MfaChallengeRow`] reads.
pub(crate) const MFA_CHALLENGE_COLUMNS: &str =
    "token_hash, user_id, amr, created_at, expires_at, failures";

/// A row of `mfa_challenge`.
#[derive(sqlx::FromRow)]
pub(crate) struct MfaChallengeRow {
    token_hash: Text,
    user_id: Text,
    amr: Text,
    created_at: i64,
    expires_at: i64,
    failures: i32,
}

impl TryFrom<MfaChallengeRow> for MfaChallenge {
    type Error = StoreError;
    fn try_from(row: MfaChallengeRow) -> Result<Self, Self::Error> {
        Ok(MfaChallenge {
            token_hash: TokenHash(row.token_hash.into_string()),
            user_id: UserId::from_uuid(parse_uuid(&row.user_id)?),
            first_factor: row.amr.split(',').filter_map(AuthMethod::parse).collect(),
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
            failures: failures_from_stored(row.failures),
        })
    }
}

/// A stored failure count (never negative) as the domain counts it.
pub(crate) fn failures_from_stored(failures: i32) -> u32 {
    u32::try_from(failures).unwrap_or(0)
}

/// A failure limit as bound against the `INTEGER` `failures` column.
pub(crate) fn failures_to_stored(failures: u32) -> i32 {
    i32::try_from(failures).unwrap_or(i32::MAX)
}

/// The shortest search term a trigram index can answer: shorter terms
/// are matched by a scan (they match most accounts, so a page fills fast).
pub(crate) const TRIGRAM: usize = 3;

/// Up to this many matches a user search reads the matches from the trigram
/// index and orders them; past it the term is common, and walking the
/// accounts in id order fills a page of 50 sooner than ordering every match.
/// Counting stops here, so the check itself stays cheap.
pub(crate) const SEARCH_FEW: i64 = 500;

/// The escape character of `LIKE` patterns: `!`, not the backslash, so the
/// SQL text means the same with or without `NO_BACKSLASH_ESCAPES`.
pub(crate) const LIKE_ESCAPE: char = '!';

/// Escapes `%`, `_` and the escape character itself for `LIKE ... ESCAPE '!'`.
pub(crate) fn escape_like(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len() + 2);
    for c in raw.chars() {
        if matches!(c, '%' | '_') || c == LIKE_ESCAPE {
            escaped.push(LIKE_ESCAPE);
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
        assert_eq!(escape_like("50%_off!\\"), "50!%!_off!!\\");
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

/// A queued message's values as stored: JSON, sealed under the
/// key-encryption key and bound to the message id.
pub(crate) fn seal_mail_values(
    cipher: &crate::crypto::KeyCipher,
    mail: &warden_core::mail::QueuedMail,
) -> Result<crate::crypto::Sealed, StoreError> {
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec(&mail.values)
            .map_err(|err| StoreError::Unexpected(format!("mail values: {err}")))?,
    );
    cipher.seal_mail_values(&mail.id.to_string(), &json)
}

/// A row of `mail_queue` as the worker reads it (only rows still waiting,
/// so the values are present).
#[derive(sqlx::FromRow)]
pub(crate) struct MailRow {
    mail_id: Text,
    kind: Text,
    recipient: Text,
    user_id: Option<Text>,
    values_nonce: Option<Vec<u8>>,
    values_ciphertext: Option<Vec<u8>>,
    created_at: i64,
    attempts: i64,
}

impl MailRow {
    /// The columns, in the order the struct reads them.
    pub(crate) const COLUMNS: &'static str = "mail_id, kind, recipient, user_id, values_nonce, \
         values_ciphertext, created_at, attempts";

    /// Decrypts the values; a wrong key-encryption key is an error.
    pub(crate) fn open(
        self,
        cipher: &crate::crypto::KeyCipher,
    ) -> Result<warden_core::mail::DueMail, StoreError> {
        use warden_core::mail::{DueMail, MailKind, QueuedMail};
        let id = self.mail_id.into_string();
        let values = match (self.values_nonce, self.values_ciphertext) {
            (Some(nonce), Some(ciphertext)) => {
                let json =
                    cipher.open_mail_values(&id, &crate::crypto::Sealed { nonce, ciphertext })?;
                serde_json::from_slice(&json).map_err(|_| {
                    StoreError::Unexpected(format!("queued mail {id} has malformed values"))
                })?
            }
            _ => {
                return Err(StoreError::Unexpected(format!(
                    "queued mail {id} has no values"
                )));
            }
        };
        let kind: MailKind = self
            .kind
            .parse()
            .map_err(|err| StoreError::Unexpected(format!("queued mail {id}: {err}")))?;
        Ok(DueMail {
            mail: QueuedMail {
                id: warden_core::MailId::from_uuid(parse_uuid(&id)?),
                kind,
                to: self.recipient.into_string(),
                user: self
                    .user_id
                    .map(|raw| parse_uuid(&raw).map(UserId::from_uuid))
                    .transpose()?,
                values,
                created_at: from_millis(self.created_at)?,
            },
            attempts: u32::try_from(self.attempts).unwrap_or(u32::MAX),
        })
    }
}

/// Longest `last_error` kept for a queued message: a reason, not a transcript.
const MAX_MAIL_ERROR_LEN: usize = 500;

/// The stored reason of a mail failure, cut to [`MAX_MAIL_ERROR_LEN`] bytes.
pub(crate) fn clip_mail_error(error: &str) -> &str {
    if error.len() <= MAX_MAIL_ERROR_LEN {
        return error;
    }
    let mut end = MAX_MAIL_ERROR_LEN;
    while !error.is_char_boundary(end) {
        end -= 1;
    }
    &error[..end]
}

pub(crate) const PASSKEY_COLUMNS: &str =
    "passkey_id, user_id, credential_id, name, credential, synced, created_at, last_used_at";

#[derive(sqlx::FromRow)]
pub(crate) struct PasskeyRow {
    passkey_id: Text,
    user_id: Text,
    credential_id: Text,
    name: Text,
    credential: Text,
    synced: bool,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl TryFrom<PasskeyRow> for StoredPasskey {
    type Error = StoreError;
    fn try_from(row: PasskeyRow) -> Result<Self, Self::Error> {
        Ok(StoredPasskey {
            id: PasskeyId::from_uuid(parse_uuid(&row.passkey_id)?),
            user_id: UserId::from_uuid(parse_uuid(&row.user_id)?),
            credential_id: row.credential_id.into_string(),
            name: row.name.into_string(),
            credential: row.credential.into_string(),
            synced: row.synced,
            created_at: from_millis(row.created_at)?,
            last_used_at: row.last_used_at.map(from_millis).transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct WebauthnChallengeRow {
    user_id: Option<Text>,
    state: Text,
    expires_at: i64,
}

/// The columns a take returns (`DELETE ... RETURNING`).
pub(crate) const WEBAUTHN_CHALLENGE_COLUMNS: &str = "user_id, state, expires_at";

/// The state a take deleted, if it had not expired by `now`.
pub(crate) fn live_challenge(
    row: Option<WebauthnChallengeRow>,
    now: DateTime<Utc>,
) -> Result<Option<WebauthnChallenge>, StoreError> {
    row.filter(|row| row.expires_at > to_millis(now))
        .map(WebauthnChallenge::try_from)
        .transpose()
}

impl TryFrom<WebauthnChallengeRow> for WebauthnChallenge {
    type Error = StoreError;
    fn try_from(row: WebauthnChallengeRow) -> Result<Self, Self::Error> {
        Ok(WebauthnChallenge {
            user_id: row
                .user_id
                .map(|id| parse_uuid(&id).map(UserId::from_uuid))
                .transpose()?,
            state: row.state.into_string(),
        })
    }
}

/// The columns of `oauth_client` that [`ClientRow`] reads.
pub(crate) const CLIENT_COLUMNS: &str = "client_id, name, kind, redirect_uris, \
     post_logout_redirect_uris, grant_types, scopes, first_party, id_token_alg, secret_hash, \
     created_at, updated_at, secret_rotated_at";

/// A row of `oauth_client`.
#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
    client_id: Text,
    name: Text,
    kind: Text,
    redirect_uris: Text,
    post_logout_redirect_uris: Text,
    grant_types: Text,
    scopes: Text,
    first_party: bool,
    id_token_alg: Text,
    secret_hash: Option<Text>,
    created_at: i64,
    updated_at: i64,
    secret_rotated_at: Option<i64>,
}

/// A client's lists as `oauth_client` keeps them: JSON arrays of strings.
pub(crate) struct ClientLists {
    pub(crate) redirect_uris: String,
    pub(crate) post_logout_redirect_uris: String,
    pub(crate) grant_types: String,
    pub(crate) scopes: String,
}

impl ClientLists {
    pub(crate) fn of(client: &OAuthClient) -> Result<Self, StoreError> {
        Ok(Self {
            redirect_uris: strings_to_json(client.redirect_uris.iter().map(RedirectUri::as_str))?,
            post_logout_redirect_uris: strings_to_json(
                client
                    .post_logout_redirect_uris
                    .iter()
                    .map(RedirectUri::as_str),
            )?,
            grant_types: strings_to_json(client.grant_types.iter().map(GrantType::as_str))?,
            scopes: strings_to_json(client.scopes.iter().map(Scope::as_str))?,
        })
    }
}

fn strings_to_json<'a>(items: impl Iterator<Item = &'a str>) -> Result<String, StoreError> {
    serde_json::to_string(&items.collect::<Vec<_>>())
        .map_err(|err| StoreError::Unexpected(format!("client list: {err}")))
}

/// A stored JSON array of strings, each parsed by `parse`.
fn list_from_json<T, E>(
    column: &str,
    raw: &str,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Vec<T>, StoreError> {
    let items: Vec<String> = serde_json::from_str(raw).map_err(|err| {
        StoreError::Unexpected(format!(
            "stored {column} is not a JSON array of strings: {err}"
        ))
    })?;
    items
        .iter()
        .map(|item| {
            parse(item)
                .map_err(|_| StoreError::Unexpected(format!("stored {column} {item:?} is invalid")))
        })
        .collect()
}

impl TryFrom<ClientRow> for OAuthClient {
    type Error = StoreError;
    fn try_from(row: ClientRow) -> Result<Self, Self::Error> {
        let invalid = |column: &str| {
            StoreError::Unexpected(format!(
                "stored {column} of client {:?} is invalid",
                row.client_id.0
            ))
        };
        Ok(OAuthClient {
            id: ClientId::parse(&row.client_id).ok_or_else(|| invalid("client_id"))?,
            name: row.name.to_string(),
            kind: ClientKind::parse(&row.kind).ok_or_else(|| invalid("kind"))?,
            redirect_uris: list_from_json("redirect_uris", &row.redirect_uris, RedirectUri::parse)?,
            post_logout_redirect_uris: list_from_json(
                "post_logout_redirect_uris",
                &row.post_logout_redirect_uris,
                RedirectUri::parse,
            )?,
            grant_types: list_from_json("grant_types", &row.grant_types, |g| {
                GrantType::parse(g).ok_or(())
            })?,
            scopes: list_from_json("scopes", &row.scopes, Scope::parse)?,
            first_party: row.first_party,
            id_token_alg: row
                .id_token_alg
                .parse()
                .map_err(|_| invalid("id_token_alg"))?,
            secret_hash: row
                .secret_hash
                .as_deref()
                .map(|hash| {
                    ClientSecretHash::from_stored(hash).ok_or_else(|| invalid("secret_hash"))
                })
                .transpose()?,
            created_at: from_millis(row.created_at)?,
            updated_at: from_millis(row.updated_at)?,
            secret_rotated_at: opt_from_millis(row.secret_rotated_at)?,
        })
    }
}

/// A stored client id back as a `ClientId`.
fn parse_client_id(raw: &str) -> Result<ClientId, StoreError> {
    ClientId::parse(raw)
        .ok_or_else(|| StoreError::Unexpected(format!("stored client id {raw:?} is invalid")))
}

/// The columns of `oauth_authorization_code` that [`AuthorizationCodeRow`]
/// reads, in the order every adapter inserts them.
pub(crate) const AUTHORIZATION_CODE_COLUMNS: &str = "code_hash, client_id, user_id, \
     browser_session_id, redirect_uri, scope, nonce, code_challenge, amr, auth_time, created_at, \
     expires_at";

/// A row of `oauth_authorization_code`.
#[derive(sqlx::FromRow)]
pub(crate) struct AuthorizationCodeRow {
    code_hash: Text,
    client_id: Text,
    user_id: Text,
    browser_session_id: Text,
    redirect_uri: Text,
    scope: Text,
    nonce: Option<Text>,
    code_challenge: Option<Text>,
    amr: Text,
    auth_time: i64,
    created_at: i64,
    expires_at: i64,
}

impl TryFrom<AuthorizationCodeRow> for AuthorizationCode {
    type Error = StoreError;
    fn try_from(row: AuthorizationCodeRow) -> Result<Self, Self::Error> {
        Ok(AuthorizationCode {
            code_hash: TokenHash(row.code_hash.into_string()),
            client_id: parse_client_id(&row.client_id)?,
            user_id: UserId::from_uuid(parse_uuid(&row.user_id)?),
            browser_session: SessionId::from_uuid(parse_uuid(&row.browser_session_id)?),
            redirect_uri: row.redirect_uri.into_string(),
            scope: row.scope.into_string(),
            nonce: row.nonce.map(Text::into_string),
            code_challenge: row.code_challenge.map(Text::into_string),
            authentication: Authentication::from_stored(&row.amr, from_millis(row.auth_time)?),
            created_at: from_millis(row.created_at)?,
            expires_at: from_millis(row.expires_at)?,
        })
    }
}

/// What a redemption that lost (its conditional update matched no row)
/// found on reading the code back: no code, or the session the first
/// exchange opened.
pub(crate) fn lost_redemption(issued: Option<Option<Text>>) -> Result<Redemption, StoreError> {
    match issued {
        None => Ok(Redemption::NotFound),
        Some(Some(issued)) => Ok(Redemption::Replayed {
            issued: SessionId::from_uuid(parse_uuid(&issued)?),
        }),
        // The update sets used_at and issued_session_id together.
        Some(None) => Err(StoreError::Unexpected(
            "a used authorization code names no session".into(),
        )),
    }
}

/// The columns of `oauth_consent`.
pub(crate) const CONSENT_COLUMNS: &str = "user_id, client_id, scope, granted_at";

/// A row of `oauth_consent`.
#[derive(sqlx::FromRow)]
pub(crate) struct ConsentRow {
    user_id: Text,
    client_id: Text,
    scope: Text,
    granted_at: i64,
}

impl TryFrom<ConsentRow> for Consent {
    type Error = StoreError;
    fn try_from(row: ConsentRow) -> Result<Self, Self::Error> {
        Ok(Consent {
            user_id: UserId::from_uuid(parse_uuid(&row.user_id)?),
            client_id: parse_client_id(&row.client_id)?,
            scope: row.scope.into_string(),
            granted_at: from_millis(row.granted_at)?,
        })
    }
}
