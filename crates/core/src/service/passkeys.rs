//! Passkeys: registering and removing them, signing in with one (no
//! password, no address), and proving one at the second step of a sign-in.

use serde_json::Value;

use super::{AuthService, IssuedTokens, Principal, RequestContext};
use crate::audit::Audit;
use crate::error::CoreError;
use crate::ids::PasskeyId;
use crate::mfa::RecoveryCode;
use crate::mfa::generate_recovery_codes;
use crate::model::{Actor, AuthMethod, TokenHash, User, UserStatus};
use crate::opaque::OpaqueToken;
use crate::passkeys::{
    CEREMONY_TTL, CeremonyError, PasskeyRemoval, StoredPasskey, WebauthnChallenge, clean_name,
};

/// Password-less ceremonies one client IP may start per minute: each keeps
/// a state in the store for five minutes, so an unauthenticated caller
/// must not make them without bound.
pub const CEREMONIES_PER_IP_PER_MINUTE: u32 = 120;

/// Prefix of a password-less sign-in's `challenge_id`.
pub const PASSKEY_CHALLENGE_PREFIX: &str = "wpc_";

/// A new passkey, and the recovery codes made with it when it is the
/// account's first second factor (shown this once).
#[derive(Debug, Clone)]
pub struct RegisteredPasskey {
    /// The passkey as listed.
    pub passkey: StoredPasskey,
    /// Ten recovery codes, when this passkey made them.
    pub recovery_codes: Option<Vec<String>>,
}

/// Options for a passkey ceremony the browser runs.
#[derive(Debug, Clone)]
pub struct PasskeyOptions {
    /// What `navigator.credentials.get()` takes (`publicKey`, ...).
    pub options: Value,
    /// The id to send back with the answer: a password-less sign-in has
    /// one; the second step answers with its `mfa_token` instead.
    pub challenge_id: Option<String>,
}

/// Where a ceremony's state is kept: one registration per account at a
/// time, a password-less sign-in by its `challenge_id`, a second step by
/// its `mfa_token`.
fn registration_key(user: &User) -> String {
    format!("register:{}", user.id)
}

fn sign_in_key(hash: &TokenHash) -> String {
    format!("signin:{}", hash.0)
}

fn second_step_key(hash: &TokenHash) -> String {
    format!("mfa:{}", hash.0)
}

impl AuthService {
    /// The caller's passkeys, oldest first.
    pub async fn passkeys(&self, who: &Principal) -> Result<Vec<StoredPasskey>, CoreError> {
        Ok(self.store.list_passkeys(who.user_id).await?)
    }

    /// Starts registering a passkey: the options for
    /// `navigator.credentials.create()`. Needs a recent sign-in or the
    /// current password, like every new factor.
    pub async fn passkey_registration_options(
        &self,
        who: &Principal,
        current_password: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<Value, CoreError> {
        self.reauthenticate(who, current_password, "passkey_register", ctx)
            .await?;
        let user = self.me(who).await?;
        let existing = self.store.list_passkeys(user.id).await?;
        let (options, state) = self
            .relying_party
            .start_registration(user.id, user.email.as_str(), &existing)
            .map_err(unexpected)?;
        self.store
            .put_webauthn_challenge(
                &registration_key(&user),
                &WebauthnChallenge {
                    user_id: Some(user.id),
                    state,
                },
                self.clock.now() + CEREMONY_TTL,
            )
            .await?;
        Ok(options)
    }

    /// Finishes a registration with the browser's answer. The first
    /// second factor of an account comes with ten recovery codes.
    pub async fn register_passkey(
        &self,
        who: &Principal,
        credential: &Value,
        name: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<RegisteredPasskey, CoreError> {
        let user = self.me(who).await?;
        let now = self.clock.now();
        let challenge = self
            .store
            .take_webauthn_challenge(&registration_key(&user), now)
            .await?
            .ok_or(CoreError::InvalidCredential)?;
        let registered = match self
            .relying_party
            .finish_registration(credential, &challenge.state)
        {
            Ok(registered) => registered,
            Err(e) => {
                tracing::info!(error = %e, "passkey registration refused");
                self.record(
                    Audit::failure("passkey_register")
                        .actor(user.id)
                        .target(user.id)
                        .detail(ceremony_detail(&e)),
                    ctx,
                )
                .await;
                return Err(CoreError::InvalidCredential);
            }
        };
        let existing = self.store.list_passkeys(user.id).await?;
        let status = self.mfa_status(&user).await?;
        let name = name
            .and_then(clean_name)
            .unwrap_or_else(|| default_name(&existing));
        let passkey = StoredPasskey {
            id: PasskeyId::new(),
            user_id: user.id,
            credential_id: registered.credential_id,
            name,
            credential: registered.credential,
            synced: registered.synced,
            created_at: now,
            last_used_at: None,
        };
        // Codes come with the first factor, so losing the passkey does not
        // lock the account's owner out; later factors keep the set.
        let codes = (!status.enabled()).then(generate_recovery_codes);
        let salt = user.id.to_string();
        let hashes: Vec<String> = codes
            .iter()
            .flatten()
            .map(|c: &RecoveryCode| c.hash(&salt))
            .collect();
        let (events, mail) = self.mfa_change(&user, "passkey_added", now);
        self.store
            .insert_passkey(&passkey, &hashes, &events, &mail)
            .await
            .map_err(|e| match e {
                crate::error::StoreError::Conflict => CoreError::InvalidCredential,
                e => e.into(),
            })?;
        self.add_session_method(who, passkey.method()).await?;
        self.record(
            Audit::success("passkey_register")
                .actor(user.id)
                .target(user.id)
                .detail(if passkey.synced { "synced" } else { "device" }),
            ctx,
        )
        .await;
        Ok(RegisteredPasskey {
            passkey,
            recovery_codes: codes.map(|codes| codes.iter().map(RecoveryCode::display).collect()),
        })
    }

    /// Removes one of the caller's passkeys, given a recent sign-in or the
    /// current password; never the account's last way to sign in.
    pub async fn delete_passkey(
        &self,
        who: &Principal,
        id: PasskeyId,
        current_password: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.reauthenticate(who, current_password, "passkey_remove", ctx)
            .await?;
        let user = self.me(who).await?;
        let now = self.clock.now();
        let (events, mail) = self.mfa_change(&user, "passkey_removed", now);
        match self
            .store
            .delete_passkey(user.id, id, &events, &mail)
            .await?
        {
            PasskeyRemoval::Removed => {
                self.record(
                    Audit::success("passkey_remove")
                        .actor(user.id)
                        .target(user.id),
                    ctx,
                )
                .await;
                Ok(())
            }
            PasskeyRemoval::NotFound => Err(CoreError::NotFound("passkey")),
            PasskeyRemoval::LastCredential => Err(CoreError::LastCredential),
        }
    }

    /// Options for a sign-in with a passkey. Without an `mfa_token`: a
    /// password-less sign-in, any passkey of this site (Warden never lists
    /// an account's passkeys to a caller it does not know, which would
    /// tell who has an account), with a `challenge_id`. With one: the
    /// second step, the account's own passkeys.
    pub async fn passkey_sign_in_options(
        &self,
        mfa_token: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<PasskeyOptions, CoreError> {
        let now = self.clock.now();
        match mfa_token {
            None => {
                let ip = ctx.ip.as_deref().unwrap_or("unknown");
                if let Some(retry_after_secs) = self.ceremony_ip_limit.check(ip, now) {
                    return Err(CoreError::TooManyRequests { retry_after_secs });
                }
                self.ceremony_ip_limit.record_failure(ip, now);
                let (options, state) = self
                    .relying_party
                    .start_discoverable()
                    .map_err(unexpected)?;
                let id = OpaqueToken::generate(PASSKEY_CHALLENGE_PREFIX);
                self.store
                    .put_webauthn_challenge(
                        &sign_in_key(&id.hash()),
                        &WebauthnChallenge {
                            user_id: None,
                            state,
                        },
                        now + CEREMONY_TTL,
                    )
                    .await?;
                Ok(PasskeyOptions {
                    options,
                    challenge_id: Some(id.expose().to_owned()),
                })
            }
            Some(raw) => {
                let token = OpaqueToken::parse(raw, super::MFA_TOKEN_PREFIX)
                    .ok_or(CoreError::MfaTokenInvalid)?;
                let hash = token.hash();
                let challenge = self
                    .store
                    .find_mfa_challenge(&hash, now, super::MFA_MAX_FAILURES)
                    .await?
                    .ok_or(CoreError::MfaTokenInvalid)?;
                let passkeys = self.store.list_passkeys(challenge.user_id).await?;
                if passkeys.is_empty() {
                    return Err(CoreError::NotFound("passkey"));
                }
                let (options, state) = self
                    .relying_party
                    .start_second_factor(&passkeys)
                    .map_err(unexpected)?;
                self.store
                    .put_webauthn_challenge(
                        &second_step_key(&hash),
                        &WebauthnChallenge {
                            user_id: Some(challenge.user_id),
                            state,
                        },
                        now + CEREMONY_TTL,
                    )
                    .await?;
                Ok(PasskeyOptions {
                    options,
                    challenge_id: None,
                })
            }
        }
    }

    /// A password-less sign-in: the answer to the options of
    /// `challenge_id`. The passkey verified its holder (user verification
    /// is required), so the session has two factors (`aal2`). Every
    /// failure is the same `invalid_credentials` and counts toward the
    /// client's limit.
    pub async fn sign_in_with_passkey(
        &self,
        challenge_id: &str,
        credential: &Value,
        ctx: &RequestContext,
    ) -> Result<IssuedTokens, CoreError> {
        let now = self.clock.now();
        let ip = ctx.ip.as_deref().unwrap_or("unknown");
        if let Some(retry_after_secs) = self.ip_limit.check(ip, now) {
            return Err(CoreError::TooManyAttempts { retry_after_secs });
        }
        let (user, passkey, state) = match self.passkey_answer(challenge_id, credential).await? {
            Ok(found) => found,
            Err(reason) => return Err(self.refuse_passkey(None, reason, ctx).await),
        };
        let credential_now = match self
            .relying_party
            .finish_discoverable(credential, &state, &passkey)
        {
            Ok(updated) => updated,
            Err(e) => {
                tracing::info!(error = %e, "passkey sign-in refused");
                return Err(self
                    .refuse_passkey(Some(&user), ceremony_detail(&e), ctx)
                    .await);
            }
        };
        self.store
            .touch_passkey(passkey.id, &credential_now, now)
            .await?;
        if user.status == UserStatus::Banned {
            self.record(
                Audit::failure("signin")
                    .actor(user.id)
                    .target(user.id)
                    .detail("banned"),
                ctx,
            )
            .await;
            return Err(CoreError::AccountBanned);
        }
        if self.settings.require_verified_email && !user.email_verified {
            return Err(CoreError::EmailNotVerified);
        }
        let tokens = self
            .open_session(&user, &[passkey.method(), AuthMethod::User], ctx)
            .await?;
        self.record(
            Audit::success("signin")
                .actor(user.id)
                .target(user.id)
                .detail("passkey"),
            ctx,
        )
        .await;
        Ok(tokens)
    }

    /// The account, passkey and ceremony state an answer names, or why
    /// not (for the audit log).
    async fn passkey_answer(
        &self,
        challenge_id: &str,
        credential: &Value,
    ) -> Result<Result<(User, StoredPasskey, String), &'static str>, CoreError> {
        let Some(id) = OpaqueToken::parse(challenge_id, PASSKEY_CHALLENGE_PREFIX) else {
            return Ok(Err("malformed_challenge"));
        };
        // Taken before anything else is checked: one answer per ceremony.
        let Some(challenge) = self
            .store
            .take_webauthn_challenge(&sign_in_key(&id.hash()), self.clock.now())
            .await?
        else {
            return Ok(Err("unknown_challenge"));
        };
        let Ok((handle, credential_id)) = self.relying_party.identify(credential) else {
            return Ok(Err("malformed_credential"));
        };
        let Some(passkey) = self.store.find_passkey(&credential_id).await? else {
            return Ok(Err("unknown_credential"));
        };
        // The user handle the authenticator signed must be the account the
        // credential is registered to.
        if passkey.user_id != handle {
            return Ok(Err("wrong_user_handle"));
        }
        let Some(user) = self.store.find_user_by_id(passkey.user_id).await? else {
            return Ok(Err("unknown_credential"));
        };
        Ok(Ok((user, passkey, challenge.state)))
    }

    async fn refuse_passkey(
        &self,
        user: Option<&User>,
        reason: &'static str,
        ctx: &RequestContext,
    ) -> CoreError {
        let now = self.clock.now();
        self.ip_limit
            .record_failure(ctx.ip.as_deref().unwrap_or("unknown"), now);
        let id = user.map(|u| u.id);
        self.record(
            Audit::failure("signin")
                .actor(id.map(Actor::User))
                .target(id)
                .detail(reason),
            ctx,
        )
        .await;
        CoreError::InvalidCredentials
    }

    /// The second step with a passkey: the answer to the options made for
    /// this `mfa_token`. `Some(method)` when it proves one of the account's
    /// passkeys.
    pub(super) async fn spend_passkey(
        &self,
        user: &User,
        mfa_token: &TokenHash,
        credential: &Value,
    ) -> Result<Option<AuthMethod>, CoreError> {
        let now = self.clock.now();
        let Some(challenge) = self
            .store
            .take_webauthn_challenge(&second_step_key(mfa_token), now)
            .await?
        else {
            return Ok(None);
        };
        if challenge.user_id != Some(user.id) {
            return Ok(None);
        }
        let passkeys = self.store.list_passkeys(user.id).await?;
        let (used, updated) =
            match self
                .relying_party
                .finish_second_factor(credential, &challenge.state, &passkeys)
            {
                Ok(done) => done,
                Err(e) => {
                    tracing::info!(error = %e, "passkey second step refused");
                    return Ok(None);
                }
            };
        let Some(passkey) = passkeys.iter().find(|p| p.credential_id == used) else {
            return Ok(None);
        };
        self.store.touch_passkey(passkey.id, &updated, now).await?;
        Ok(Some(passkey.method()))
    }
}

/// "Passkey", "Passkey 2", ...: a name the list can tell apart.
fn default_name(existing: &[StoredPasskey]) -> String {
    let taken = |name: &str| existing.iter().any(|p| p.name == name);
    if !taken("Passkey") {
        return "Passkey".into();
    }
    (2..)
        .map(|n| format!("Passkey {n}"))
        .find(|name| !taken(name))
        .unwrap_or_else(|| "Passkey".into())
}

fn ceremony_detail(e: &CeremonyError) -> &'static str {
    match e {
        CeremonyError::Malformed(_) => "malformed_credential",
        CeremonyError::Refused(_) => "refused_credential",
    }
}

fn unexpected(e: CeremonyError) -> CoreError {
    CoreError::Unexpected(format!("webauthn: {e}"))
}
