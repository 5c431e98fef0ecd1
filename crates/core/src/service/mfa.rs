//! Second factors: enrolling and removing an authenticator app (TOTP),
//! recovery codes, and the second step of a sign-in.

use chrono::{DateTime, Duration, Utc};

use super::{AuthService, IssuedTokens, Principal, RequestContext};
use crate::audit::Audit;
use crate::error::CoreError;
use crate::mail::QueuedMail;
use crate::mfa::{
    RecoveryCode, TotpSecret, generate_recovery_codes, normalize_recovery_code, otpauth_uri,
    parse_totp_code, qr_svg, recovery_code_hash, verify_totp,
};
use crate::model::{
    AuthMethod, MfaChallenge, TokenHash, TotpFactor, TotpSecretId, User, UserStatus,
};
use crate::opaque::OpaqueToken;
use crate::ports::CodeUse;

/// Prefix of the token of a sign-in waiting for its second factor.
pub const MFA_TOKEN_PREFIX: &str = "wmf_";
/// How long the second step may take.
pub const MFA_TOKEN_TTL: Duration = Duration::minutes(5);
/// Wrong codes that void an `mfa_token`.
pub const MFA_MAX_FAILURES: u32 = 5;
/// How recent a sign-in stands in for the current password.
pub const REAUTH_WINDOW: Duration = Duration::minutes(5);

/// A TOTP secret waiting for its first code.
#[derive(Debug, Clone)]
pub struct TotpEnrolment {
    /// The secret in base32, for typing into an app.
    pub secret: String,
    /// The `otpauth://` URI the QR code holds.
    pub otpauth_uri: String,
    /// The QR code, as SVG.
    pub qr_svg: String,
}

/// The second factor a caller offers.
#[derive(Debug, Clone, Copy)]
pub enum SecondFactor<'a> {
    /// A code from the authenticator app.
    Totp(&'a str),
    /// One of the recovery codes.
    RecoveryCode(&'a str),
    /// A passkey's answer to the options made for the `mfa_token`.
    Passkey(&'a serde_json::Value),
}

/// What an account has of second factors (the `mfa` of the `user` object).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MfaStatus {
    /// A confirmed authenticator app.
    pub totp: bool,
    /// Registered passkeys.
    pub passkeys: u32,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
}

impl MfaStatus {
    /// Whether the account has any second factor.
    pub fn enabled(&self) -> bool {
        self.totp || self.passkeys > 0
    }

    /// The `methods` of an `mfa_required` refusal.
    pub fn methods(&self) -> Vec<&'static str> {
        let mut methods = Vec::new();
        if self.totp {
            methods.push("totp");
        }
        if self.passkeys > 0 {
            methods.push("webauthn");
        }
        if self.recovery_codes_left > 0 {
            methods.push("recovery_code");
        }
        methods
    }
}

impl AuthService {
    /// What second factors the caller's account has.
    pub async fn mfa_status(&self, user: &User) -> Result<MfaStatus, CoreError> {
        self.users.second_factors(user).await
    }

    /// What the account behind a live `mfa_token` has of second factors
    /// (what the second step's page offers).
    pub async fn mfa_status_of_token(&self, mfa_token: &str) -> Result<MfaStatus, CoreError> {
        let token =
            OpaqueToken::parse(mfa_token, MFA_TOKEN_PREFIX).ok_or(CoreError::MfaTokenInvalid)?;
        let (_, user) = self.live_challenge(&token.hash()).await?;
        self.mfa_status(&user).await
    }

    /// The caller's session now has `method` too: a factor enrolled in it
    /// was just proved (the app's first code, a passkey's ceremony), so the
    /// next refresh carries two factors without signing in again.
    /// `auth_time` stays: enrolling is not signing in.
    pub(super) async fn add_session_method(
        &self,
        who: &Principal,
        method: AuthMethod,
    ) -> Result<(), CoreError> {
        let mut methods = who.authentication.methods().to_vec();
        methods.push(method);
        let upgraded = crate::model::Authentication::new(&methods, who.authentication.at);
        if upgraded.is_multi_factor() && !who.authentication.is_multi_factor() {
            self.store
                .set_session_amr(who.session_id, &upgraded.stored())
                .await?;
        }
        Ok(())
    }

    /// The sign-in waiting for its second step under `hash`, and its
    /// account, while the token is unspent, unexpired and not voided.
    async fn live_challenge(&self, hash: &TokenHash) -> Result<(MfaChallenge, User), CoreError> {
        let challenge = self
            .store
            .find_mfa_challenge(hash, self.clock.now(), MFA_MAX_FAILURES)
            .await?
            .ok_or(CoreError::MfaTokenInvalid)?;
        let user = self
            .store
            .find_user_by_id(challenge.user_id)
            .await?
            .ok_or(CoreError::MfaTokenInvalid)?;
        Ok((challenge, user))
    }

    /// The authenticator app waiting for its first code, if one is: what
    /// a page shows again after a wrong code.
    pub async fn pending_totp(&self, who: &Principal) -> Result<Option<TotpEnrolment>, CoreError> {
        let user = self.me(who).await?;
        match self.pending_secret(&user).await? {
            Some((secret, _)) => Ok(Some(self.enrolment(&secret, &user)?)),
            None => Ok(None),
        }
    }

    /// The secret of the account's authenticator app waiting for its first
    /// code, if one is, and which stored secret it is.
    async fn pending_secret(
        &self,
        user: &User,
    ) -> Result<Option<(TotpSecret, TotpSecretId)>, CoreError> {
        self.store
            .find_totp(user.id)
            .await?
            .filter(|t| t.confirmed_at.is_none())
            .map(|t| Ok((secret_of(&t)?, t.id)))
            .transpose()
    }

    fn enrolment(&self, secret: &TotpSecret, user: &User) -> Result<TotpEnrolment, CoreError> {
        let uri = otpauth_uri(secret, &self.settings.totp_issuer, user.email.as_str());
        let qr_svg = qr_svg(&uri).ok_or_else(|| {
            CoreError::Unexpected("the otpauth URI does not fit a QR code".into())
        })?;
        Ok(TotpEnrolment {
            secret: secret.base32(),
            qr_svg,
            otpauth_uri: uri,
        })
    }

    /// Whether a sensitive change by `who` needs the current password now
    /// (their sign-in is older than [`REAUTH_WINDOW`]).
    pub fn needs_reauthentication(&self, who: &Principal) -> bool {
        !is_recent(who.authentication.at, self.clock.now())
    }

    /// Starts enrolling an authenticator app: a new secret, pending until
    /// [`AuthService::confirm_totp`]. Needs a recent sign-in or the
    /// current password.
    pub async fn start_totp(
        &self,
        who: &Principal,
        current_password: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<TotpEnrolment, CoreError> {
        self.reauthenticate(who, current_password, "mfa_enrol", ctx)
            .await?;
        let user = self.me(who).await?;
        if self
            .store
            .find_totp(user.id)
            .await?
            .is_some_and(|t| t.confirmed_at.is_some())
        {
            return Err(CoreError::MfaAlreadyEnabled);
        }
        let secret = TotpSecret::generate();
        let now = self.clock.now();
        self.store
            .put_pending_totp(user.id, secret.as_bytes(), now)
            .await
            .map_err(|e| match e {
                crate::error::StoreError::Conflict => CoreError::MfaAlreadyEnabled,
                e => e.into(),
            })?;
        self.enrolment(&secret, &user)
    }

    /// Confirms the pending authenticator app with its first code; returns
    /// the ten recovery codes, which are shown this once.
    pub async fn confirm_totp(
        &self,
        who: &Principal,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<String>, CoreError> {
        let user = self.me(who).await?;
        let code = parse_totp_code(code).ok_or_else(|| invalid_code(false))?;
        let (secret, secret_id) = self
            .pending_secret(&user)
            .await?
            .ok_or(CoreError::NotFound("pending authenticator app"))?;
        let now = self.clock.now();
        self.reserve_guess(&user, ctx).await?;
        let Some(step) = verify_totp(&secret, &code, now.timestamp(), None) else {
            self.record(
                Audit::failure("mfa_enrol")
                    .actor(user.id)
                    .target(user.id)
                    .detail("wrong_code"),
                ctx,
            )
            .await;
            return Err(invalid_code(false));
        };
        let codes = generate_recovery_codes();
        let salt = user.id.to_string();
        let hashes: Vec<String> = codes.iter().map(|c| c.hash(&salt)).collect();
        let (events, mail) = self.mfa_change(&user, "totp_enabled", now);
        // Bound to the secret the code was checked against: an enrolment
        // restarted meanwhile stored another, which this code cannot confirm.
        self.store
            .confirm_totp(user.id, &secret_id, step, &hashes, now, &events, &mail)
            .await
            .map_err(|e| match e {
                crate::error::StoreError::NotFound => {
                    CoreError::NotFound("pending authenticator app")
                }
                e => e.into(),
            })?;
        self.store.clear_login_failures(user.email.as_str()).await?;
        self.add_session_method(who, AuthMethod::Otp).await?;
        self.record(
            Audit::success("mfa_enrol")
                .actor(user.id)
                .target(user.id)
                .detail("totp"),
            ctx,
        )
        .await;
        Ok(codes.iter().map(RecoveryCode::display).collect())
    }

    /// Removes the authenticator app and the recovery codes, given a code
    /// of either and a recent sign-in or the current password.
    pub async fn remove_totp(
        &self,
        who: &Principal,
        factor: SecondFactor<'_>,
        current_password: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.reauthenticate(who, current_password, "mfa_remove", ctx)
            .await?;
        let user = self.me(who).await?;
        if !self.mfa_status(&user).await?.totp {
            return Err(CoreError::NotFound("authenticator app"));
        }
        self.reserve_guess(&user, ctx).await?;
        if !self.spend_factor(&user, factor).await? {
            self.record(
                Audit::failure("mfa_remove")
                    .actor(user.id)
                    .target(user.id)
                    .detail("wrong_code"),
                ctx,
            )
            .await;
            return Err(invalid_code(false));
        }
        let now = self.clock.now();
        let (events, mail) = self.mfa_change(&user, "totp_disabled", now);
        self.store
            .delete_second_factors(user.id, &events, &mail)
            .await?;
        self.store.clear_login_failures(user.email.as_str()).await?;
        self.record(
            Audit::success("mfa_remove")
                .actor(user.id)
                .target(user.id)
                .detail("totp"),
            ctx,
        )
        .await;
        Ok(())
    }

    /// A new set of recovery codes (the old set is void), given a code
    /// from the authenticator app.
    pub async fn regenerate_recovery_codes(
        &self,
        who: &Principal,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<String>, CoreError> {
        let user = self.me(who).await?;
        if !self.mfa_status(&user).await?.totp {
            return Err(CoreError::NotFound("authenticator app"));
        }
        self.reserve_guess(&user, ctx).await?;
        if !self.spend_factor(&user, SecondFactor::Totp(code)).await? {
            return Err(invalid_code(false));
        }
        self.store.clear_login_failures(user.email.as_str()).await?;
        let now = self.clock.now();
        let codes = generate_recovery_codes();
        let salt = user.id.to_string();
        let hashes: Vec<String> = codes.iter().map(|c| c.hash(&salt)).collect();
        self.store
            .replace_recovery_codes(user.id, &hashes, now)
            .await?;
        let (events, mail) = self.mfa_change(&user, "recovery_codes_regenerated", now);
        self.store.append_outbox(&events).await?;
        self.store.enqueue_mail(&mail).await?;
        self.record(
            Audit::success("mfa_recovery_codes")
                .actor(user.id)
                .target(user.id),
            ctx,
        )
        .await;
        Ok(codes.iter().map(RecoveryCode::display).collect())
    }

    /// An admin (already authorised) removes every second factor of
    /// `user_id` (a lost phone) and ends their sessions; the owner is told
    /// by mail.
    pub async fn admin_reset_mfa(
        &self,
        admin: crate::ids::UserId,
        user_id: crate::ids::UserId,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let revoked = self.users.reset_mfa(admin.into(), user_id, ctx).await?;
        self.deny(&revoked);
        Ok(())
    }

    /// After a right first factor: the account's second factors, if it has
    /// any, as the `mfa_required` refusal carrying a new `mfa_token`.
    pub(super) async fn second_step(
        &self,
        user: &User,
        first_factor: AuthMethod,
        ctx: &RequestContext,
    ) -> Result<Option<CoreError>, CoreError> {
        let status = self.mfa_status(user).await?;
        if !status.enabled() {
            return Ok(None);
        }
        let now = self.clock.now();
        let token = OpaqueToken::generate(MFA_TOKEN_PREFIX);
        self.store
            .create_mfa_challenge(&MfaChallenge {
                token_hash: token.hash(),
                user_id: user.id,
                first_factor: vec![first_factor],
                created_at: now,
                expires_at: now + MFA_TOKEN_TTL,
                failures: 0,
            })
            .await?;
        self.record(
            Audit::success("signin")
                .actor(user.id)
                .target(user.id)
                .detail("mfa_required"),
            ctx,
        )
        .await;
        Ok(Some(CoreError::MfaRequired {
            mfa_token: token.expose().to_owned(),
            methods: status.methods(),
        }))
    }

    /// The second step of a sign-in: the `mfa_token` of the first and a
    /// code. Wrong codes count toward the account's lockout, and five void
    /// the token.
    pub async fn sign_in_mfa(
        &self,
        mfa_token: &str,
        factor: SecondFactor<'_>,
        ctx: &RequestContext,
    ) -> Result<IssuedTokens, CoreError> {
        let token =
            OpaqueToken::parse(mfa_token, MFA_TOKEN_PREFIX).ok_or(CoreError::MfaTokenInvalid)?;
        let now = self.clock.now();
        let ip = ctx.ip.as_deref().unwrap_or("unknown");
        if let Some(retry_after_secs) = self.ip_limit.check(ip, now) {
            return Err(CoreError::TooManyAttempts { retry_after_secs });
        }
        let hash = token.hash();
        let (challenge, user) = self.live_challenge(&hash).await?;
        self.check_code_throttle(&user, ctx).await?;
        if user.status == UserStatus::Banned {
            return Err(CoreError::AccountBanned);
        }
        // Every attempt takes one of the token's five before its code is
        // checked, so concurrent guesses cannot outrun the limit.
        let attempts = self.store.record_mfa_failure(&hash).await?;
        if attempts > MFA_MAX_FAILURES {
            return Err(CoreError::MfaTokenInvalid);
        }
        let proved = match factor {
            SecondFactor::Passkey(answer) => self.spend_passkey(&user, &hash, answer).await?,
            _ => self
                .spend_factor(&user, factor)
                .await?
                .then_some(AuthMethod::Otp),
        };
        let Some(second) = proved else {
            self.count_wrong_code(&user, ctx).await?;
            self.record(
                Audit::failure("signin_mfa")
                    .actor(user.id)
                    .target(user.id)
                    .detail(if attempts >= MFA_MAX_FAILURES {
                        "wrong_code_token_void"
                    } else {
                        "wrong_code"
                    }),
                ctx,
            )
            .await;
            return Err(invalid_code(true));
        };
        // Spent after the code, so a code tried on a token a concurrent
        // request just used is not a free guess.
        // This attempt's own count is in `failures` already: one more.
        if !self
            .store
            .take_mfa_challenge(&hash, now, MFA_MAX_FAILURES + 1)
            .await?
        {
            return Err(CoreError::MfaTokenInvalid);
        }
        self.store.clear_login_failures(user.email.as_str()).await?;
        let mut methods = challenge.first_factor.clone();
        // An app code and a recovery code are both one-time codes (`otp`);
        // a passkey is a key (`hwk` or `swk`).
        methods.push(second);
        let tokens = self.open_session(&user, &methods, ctx).await?;
        self.record(
            Audit::success("signin")
                .actor(user.id)
                .target(user.id)
                .detail(match factor {
                    SecondFactor::Totp(_) => "totp",
                    SecondFactor::RecoveryCode(_) => "recovery_code",
                    SecondFactor::Passkey(_) => "passkey",
                }),
            ctx,
        )
        .await;
        Ok(tokens)
    }

    /// Refuses while the account or the client is locked out: codes are
    /// guessed against the same lockout as passwords, wherever they are
    /// typed.
    pub(super) async fn check_code_throttle(
        &self,
        user: &User,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let now = self.clock.now();
        let ip = ctx.ip.as_deref().unwrap_or("unknown");
        if let Some(retry_after_secs) = self.ip_limit.check(ip, now) {
            return Err(CoreError::TooManyAttempts { retry_after_secs });
        }
        let throttle = self.store.find_login_throttle(user.email.as_str()).await?;
        match throttle.locked_until.filter(|until| *until > now) {
            Some(until) => Err(CoreError::TooManyAttempts {
                retry_after_secs: (until - now).num_seconds().max(1) as u64,
            }),
            None => Ok(()),
        }
    }

    /// Takes a guess before a code is checked: the attempt is counted
    /// toward the account's lockout and the client's first, and refused if
    /// that locks the account. Concurrent guesses each take their own, so
    /// a burst cannot outrun the lockout; a right code clears the count
    /// again (`clear_login_failures`).
    async fn reserve_guess(&self, user: &User, ctx: &RequestContext) -> Result<(), CoreError> {
        self.check_code_throttle(user, ctx).await?;
        self.count_wrong_code(user, ctx).await?;
        self.check_code_throttle(user, ctx).await
    }

    /// Counts a wrong code toward the account's lockout and the client's.
    pub(super) async fn count_wrong_code(
        &self,
        user: &User,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let now = self.clock.now();
        self.ip_limit
            .record_failure(ctx.ip.as_deref().unwrap_or("unknown"), now);
        self.store
            .record_login_failure(user.email.as_str(), now, &self.settings.lockout)
            .await?;
        Ok(())
    }

    /// Checks and spends a code: a TOTP step is good once, a recovery code
    /// once. `false` for a wrong, spent or malformed code.
    async fn spend_factor(&self, user: &User, factor: SecondFactor<'_>) -> Result<bool, CoreError> {
        let now = self.clock.now();
        match factor {
            SecondFactor::Totp(raw) => {
                let Some(code) = parse_totp_code(raw) else {
                    return Ok(false);
                };
                let Some(stored) = self
                    .store
                    .find_totp(user.id)
                    .await?
                    .filter(|t| t.confirmed_at.is_some())
                else {
                    return Ok(false);
                };
                let secret = secret_of(&stored)?;
                let Some(step) = verify_totp(&secret, &code, now.timestamp(), stored.last_step)
                else {
                    return Ok(false);
                };
                Ok(self.store.use_totp_step(user.id, step).await? == CodeUse::Accepted)
            }
            SecondFactor::RecoveryCode(raw) => {
                let Some(code) = normalize_recovery_code(raw) else {
                    return Ok(false);
                };
                let used = self
                    .store
                    .use_recovery_code(
                        user.id,
                        &recovery_code_hash(&user.id.to_string(), &code),
                        now,
                    )
                    .await?;
                Ok(used == Some(CodeUse::Accepted))
            }
            // A passkey answers a ceremony of the second step only.
            SecondFactor::Passkey(_) => Ok(false),
        }
    }

    /// A sensitive change (a factor, the address, deleting the account):
    /// the caller gives the current password now, or signed in within
    /// [`REAUTH_WINDOW`].
    pub(super) async fn reauthenticate(
        &self,
        who: &Principal,
        current_password: Option<&str>,
        action: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        // A password given is checked even within the window: a wrong one
        // is refused, never ignored.
        match current_password.filter(|p| !p.is_empty()) {
            Some(password) => self
                .check_current_password(who, password, action, ctx)
                .await
                .map(|_| ()),
            None if is_recent(who.authentication.at, self.clock.now()) => Ok(()),
            None => Err(CoreError::ReauthenticationRequired),
        }
    }

    /// Moving the address or deleting the account: an account with a
    /// password gives it (the contract's `current_password`), one without
    /// (social sign-in) signs in within [`REAUTH_WINDOW`].
    pub(super) async fn confirm_owner(
        &self,
        who: &Principal,
        current_password: Option<&str>,
        action: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let user = self.me(who).await?;
        match current_password.filter(|p| !p.is_empty()) {
            None if user.has_password => Err(CoreError::ReauthenticationRequired),
            given => self.reauthenticate(who, given, action, ctx).await,
        }
    }

    /// The `user.mfa_changed` event and the `mfa_changed` notice.
    pub(super) fn mfa_change(
        &self,
        user: &User,
        change: &'static str,
        now: DateTime<Utc>,
    ) -> (Vec<crate::model::OutboxEvent>, Vec<QueuedMail>) {
        super::user_admin::mfa_changed(user, change, now)
    }
}

/// A stored secret as the TOTP functions take it.
fn secret_of(factor: &TotpFactor) -> Result<TotpSecret, CoreError> {
    TotpSecret::from_bytes(factor.secret.to_vec())
        .ok_or_else(|| CoreError::Unexpected("stored TOTP secret has a bad length".into()))
}

fn is_recent(auth_time: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    auth_time <= now && now - auth_time <= REAUTH_WINDOW
}

fn invalid_code(during_sign_in: bool) -> CoreError {
    CoreError::InvalidMfaCode { during_sign_in }
}

/// What the notice says happened.
pub(super) fn change_words(change: &str) -> &'static str {
    match change {
        "totp_enabled" => "an authenticator app was added",
        "totp_disabled" => "the authenticator app was removed",
        "recovery_codes_regenerated" => "new recovery codes were made; the old ones no longer work",
        "reset_by_admin" => "an administrator removed every second factor",
        "passkey_added" => "a passkey was added",
        "passkey_removed" => "a passkey was removed",
        _ => "a second factor changed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sign_in_is_recent_for_five_minutes() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        assert!(is_recent(now, now));
        assert!(is_recent(now - Duration::minutes(5), now));
        assert!(!is_recent(
            now - Duration::minutes(5) - Duration::seconds(1),
            now
        ));
        assert!(
            !is_recent(now + Duration::seconds(1), now),
            "future auth_time"
        );
    }
}
