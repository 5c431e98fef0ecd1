//! Request and response bodies of the public contract (`shared/design/api.md`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use warden_core::model::{AuditEntry, Session, User};
use warden_core::{IssuedTokens, SessionView};

/// `POST /v1/signup`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// E-mail address.
    pub email: String,
    /// 8-256 characters, not guessable.
    pub password: String,
    /// Optional display name.
    pub username: Option<String>,
}

/// `POST /v1/signin`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigninRequest {
    /// E-mail address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// `POST /v1/signin/mfa`: the second step, with one of the codes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigninMfaRequest {
    /// The `wmf_` token of the `mfa_required` answer.
    pub mfa_token: String,
    /// A 6-digit code from the authenticator app.
    pub totp_code: Option<String>,
    /// One of the recovery codes.
    pub recovery_code: Option<String>,
    /// A passkey's answer (`PublicKeyCredential` as JSON) to the options of
    /// `POST /v1/webauthn/signin/options` with this `mfa_token`.
    #[schema(value_type = Option<Object>)]
    pub webauthn: Option<serde_json::Value>,
}

/// `POST /v1/mfa/totp`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpStartRequest {
    /// Needed unless the caller signed in within the last 5 minutes.
    pub current_password: Option<String>,
}

/// `200` of `POST /v1/mfa/totp`: the pending secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpStartResponse {
    /// The secret in base32, for typing into the app.
    pub secret: String,
    /// The `otpauth://` URI (what the QR code holds).
    pub otpauth_uri: String,
    /// The QR code as an SVG document.
    pub qr_svg: String,
}

/// `POST /v1/mfa/totp/confirm` and `POST /v1/mfa/recovery-codes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaCodeRequest {
    /// A 6-digit code from the authenticator app.
    pub code: String,
}

/// `DELETE /v1/mfa/totp`: a code of either kind.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpRemoveRequest {
    /// A 6-digit code from the authenticator app.
    pub code: Option<String>,
    /// Or one of the recovery codes.
    pub recovery_code: Option<String>,
    /// Needed unless the caller signed in within the last 5 minutes.
    pub current_password: Option<String>,
}

/// The recovery codes, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodesBody {
    /// Ten single-use codes; store them somewhere safe.
    pub recovery_codes: Vec<String>,
}

/// `POST /v1/token/refresh` and `POST /v1/signout` (both optional in cookie mode).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The `wrt_` refresh token.
    pub refresh_token: Option<String>,
}

/// `POST /v1/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordRequest {
    /// The password in use.
    pub current_password: String,
    /// The new password.
    pub new_password: String,
}

/// `POST /v1/email/verify`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    /// The `wml_` token of the mailed link.
    pub token: String,
}

/// `POST /v1/password/forgot`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    /// The account's e-mail address.
    pub email: String,
}

/// `POST /v1/password/reset`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The `wml_` token of the mailed link.
    pub token: String,
    /// The new password.
    pub new_password: String,
}

/// `POST /v1/email/change`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeRequest {
    /// The address to move to; a link is mailed there.
    pub new_email: String,
    /// The password in use; may be left out within 5 minutes of signing
    /// in (else 401 `reauthentication_required`).
    pub current_password: Option<String>,
}

/// `DELETE /v1/me`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMeRequest {
    /// The password in use; may be left out within 5 minutes of signing
    /// in (else 401 `reauthentication_required`), which is how an account
    /// without a password (social sign-in) confirms.
    pub current_password: Option<String>,
}

/// `202` of the endpoints that queue a mail: the same body whatever
/// happened behind it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedBody {
    /// What happens next.
    pub detail: &'static str,
}

/// `POST /v1/validate` with the token in the body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// The access token.
    pub token: Option<String>,
}

/// `POST /v1/admin/users/{id}/ban`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    /// Why (kept in the audit log).
    pub reason: Option<String>,
}

/// `PUT /v1/admin/users/{id}/roles`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolesRequest {
    /// The complete new set of roles.
    pub roles: Vec<String>,
}

/// `?cookie=true` on signup, signin and refresh.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CookieMode {
    /// Put the tokens in cookies instead of the body.
    #[serde(default)]
    pub cookie: bool,
}

/// `tokens`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokensBody {
    /// The access JWT (absent in cookie mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The `wrt_` refresh token (absent in cookie mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The session id.
    pub session_id: String,
}

impl TokensBody {
    /// The body for a pair; secrets left out when they went into cookies.
    pub fn new(tokens: &IssuedTokens, in_cookies: bool) -> Self {
        Self {
            access_token: (!in_cookies).then(|| tokens.access_token.clone()),
            token_type: "Bearer",
            expires_in: tokens.expires_in,
            refresh_token: (!in_cookies).then(|| tokens.refresh_token.expose().to_owned()),
            session_id: tokens.session_id.to_string(),
        }
    }
}

/// `user`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    /// UUIDv7.
    pub id: String,
    /// Canonical e-mail.
    pub email: String,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// `active` or `banned`.
    pub status: &'static str,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Whether the person proved they read `email` (a mailed link was
    /// followed).
    pub email_verified: bool,
    /// Whether the account can sign in with a password.
    pub has_password: bool,
    /// Its second factors (on `/v1/me` and an admin's view of a user).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa: Option<MfaBody>,
}

/// The second factors an account has.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaBody {
    /// An authenticator app is set up.
    pub totp: bool,
    /// Passkeys registered.
    pub passkeys: u32,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
}

impl From<warden_core::MfaStatus> for MfaBody {
    fn from(status: warden_core::MfaStatus) -> Self {
        Self {
            totp: status.totp,
            passkeys: status.passkeys,
            recovery_codes_left: status.recovery_codes_left,
        }
    }
}

impl From<&User> for UserBody {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.as_str().to_owned(),
            username: user.username.clone(),
            roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            status: user.status.as_str(),
            created_at: user.created_at,
            email_verified: user.email_verified,
            has_password: user.has_password,
            mfa: None,
        }
    }
}

/// `201` of signup.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignupResponse {
    /// The new account.
    pub user: UserBody,
    /// Its first token pair; absent when `[signup] require_verified_email`
    /// holds (the account signs in once its address is verified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<TokensBody>,
}

/// One session in `GET /v1/sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionBody {
    /// Session id.
    pub id: String,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Last sign-in or refresh.
    pub last_used_at: DateTime<Utc>,
    /// Absolute end.
    pub expires_at: DateTime<Utc>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
    /// IP at sign-in.
    pub ip: Option<String>,
    /// Whether this is the caller's session.
    pub current: bool,
}

impl SessionBody {
    /// From a session and whether it is the caller's.
    pub fn new(session: &Session, current: bool) -> Self {
        Self {
            id: session.id.to_string(),
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            expires_at: session.expires_at,
            user_agent: session.user_agent.clone(),
            ip: session.ip.clone(),
            current,
        }
    }
}

impl From<&SessionView> for SessionBody {
    fn from(view: &SessionView) -> Self {
        Self::new(&view.session, view.is_current)
    }
}

/// `GET /v1/sessions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsBody {
    /// Live sessions, newest first.
    pub sessions: Vec<SessionBody>,
}

/// `200` of `POST /v1/validate`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ValidateResponse {
    /// Always true (inactive tokens get a 401).
    pub active: bool,
    /// `user`, or `service` for a service's own token (client credentials).
    #[schema(example = "user")]
    pub kind: &'static str,
    /// The user id; a service's client id.
    pub sub: String,
    /// The session id (users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Roles (none for a service).
    pub roles: Vec<String>,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// `access_token` (a JWT) or `session_token` (an opaque `wst_` token).
    pub token_type: &'static str,
    /// How the user authenticated (RFC 8176: `pwd`, `otp`, `hwk`, `swk`,
    /// `user`, `fed`, `mfa`); empty for a service.
    pub amr: Vec<&'static str>,
    /// `aal1` (one factor) or `aal2` (two) (users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<&'static str>,
    /// When the user authenticated, Unix seconds (users only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// The OAuth client the token was issued to (a service's own id, or
    /// the app a user signed in to through Warden as a provider).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The scopes granted to that client, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// `GET /v1/admin/users`.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersPage {
    /// This page.
    pub users: Vec<UserBody>,
    /// Cursor of the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// `GET /v1/admin/users/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserBody {
    /// The user.
    #[serde(flatten)]
    pub user: UserBody,
    /// Their live sessions.
    pub sessions: Vec<SessionBody>,
}

/// Query of `GET /v1/admin/users`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsersQuery {
    /// 1-100, default 50.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Substring of e-mail or username.
    pub q: Option<String>,
}

/// Query of `GET /v1/admin/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries where this user is actor or target.
    pub user: Option<String>,
    /// 1-100, default 50.
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryBody {
    /// Entry id.
    pub id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Acting user id, or `cli` for an operator's `warden user ...`.
    pub actor: Option<String>,
    /// Action, for example `signin`.
    pub action: String,
    /// Target user id.
    pub target: Option<String>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// `success` or `failure`.
    pub outcome: String,
    /// Reason or note.
    pub detail: Option<String>,
}

impl From<&AuditEntry> for AuditEntryBody {
    fn from(e: &AuditEntry) -> Self {
        Self {
            id: e.id.to_string(),
            at: e.at,
            actor: e.actor.map(|a| a.to_string()),
            action: e.action.clone(),
            target: e.target.map(|t| t.to_string()),
            ip: e.ip.clone(),
            user_agent: e.user_agent.clone(),
            outcome: e.outcome.clone(),
            detail: e.detail.clone(),
        }
    }
}

/// `GET /v1/admin/audit`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Entries, newest first.
    pub entries: Vec<AuditEntryBody>,
    /// Cursor of the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Query of `GET /v1/verify`.
#[derive(Debug, Deserialize, IntoParams)]
pub struct VerifyQuery {
    /// Require this role (403 otherwise).
    pub role: Option<String>,
}

/// Query of `GET /v1/revocations`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RevocationsQuery {
    /// The `cursor` of the previous page; omit for every revocation in force.
    pub since: Option<String>,
}

/// One revocation of the feed (documentation schema of
/// `warden_token::revocation::Revocation`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RevocationEntryBody {
    /// `session` or `user`.
    pub kind: String,
    /// The session or user id.
    pub id: String,
    /// User entries: tokens issued before this are revoked.
    pub not_before: Option<String>,
    /// After this no token the entry matches is still valid.
    pub until: String,
}

/// A page of the revocation feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevocationPageBody {
    /// Pass as `since` for what comes next.
    pub cursor: String,
    /// Revocations in force.
    pub entries: Vec<RevocationEntryBody>,
    /// More entries wait after `cursor`: fetch again at once.
    pub has_more: bool,
}
