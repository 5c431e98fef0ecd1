//! Passkeys (WebAuthn): the records Warden keeps and the relying party
//! that runs the ceremonies, on webauthn-rs.
//!
//! Every passkey Warden registers is a discoverable credential with user
//! verification required: it signs in without a password or an address
//! (`hwk`/`swk` + `user`, two factors in one gesture), and it is a second
//! factor after a password.

use chrono::{DateTime, Utc};
use serde_json::Value;
use webauthn_rs::prelude::{
    CreationChallengeResponse, CredentialID, DiscoverableAuthentication, Passkey,
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url, Webauthn, WebauthnBuilder,
};

use crate::ids::{PasskeyId, UserId};
use crate::model::AuthMethod;

/// How long a ceremony may take between its options and its answer.
pub const CEREMONY_TTL: chrono::Duration = chrono::Duration::minutes(5);
/// The longest name a passkey may have.
pub const MAX_NAME_CHARS: usize = 64;

/// A passkey as stored.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    /// Warden's id (what `/v1/me/passkeys` lists and deletes by).
    pub id: PasskeyId,
    /// The account it signs in to.
    pub user_id: UserId,
    /// The authenticator's credential id, base64url.
    pub credential_id: String,
    /// The holder's name for it.
    pub name: String,
    /// webauthn-rs's `Passkey` (public key, counter, flags) as JSON.
    pub credential: String,
    /// Backup-eligible: a synced passkey (`swk`) rather than one bound to
    /// a device (`hwk`).
    pub synced: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When it last signed in.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl StoredPasskey {
    /// The `amr` value of a sign-in with this passkey.
    pub fn method(&self) -> AuthMethod {
        if self.synced {
            AuthMethod::Swk
        } else {
            AuthMethod::Hwk
        }
    }
}

/// The server's half of a ceremony in flight.
#[derive(Debug, Clone)]
pub struct WebauthnChallenge {
    /// The account it is for, when known at the start.
    pub user_id: Option<UserId>,
    /// webauthn-rs's state, as JSON.
    pub state: String,
}

/// How removing a passkey ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyRemoval {
    /// It is gone.
    Removed,
    /// No such passkey on this account.
    NotFound,
    /// It is the account's last way to sign in (no password, no identity,
    /// no other passkey): kept.
    LastCredential,
}

/// Where the ceremonies happen: `[webauthn]`.
#[derive(Debug, Clone)]
pub struct WebauthnSettings {
    /// The relying party id: the domain passkeys are bound to.
    pub rp_id: String,
    /// The name authenticators show.
    pub rp_name: String,
    /// The origins the pages that run the ceremonies are served from.
    pub origins: Vec<String>,
}

impl WebauthnSettings {
    /// The defaults for pages served at `public_url`: its host is the
    /// relying party and its origin the one origin. WebAuthn takes no IP
    /// address as relying party, so a loopback address (the zero-config
    /// `http://127.0.0.1:8080`) becomes `localhost` on the same port, which
    /// browsers treat as secure too.
    pub fn for_public_url(public_url: &str, rp_name: &str) -> Self {
        let parsed = Url::parse(public_url).ok();
        let host = parsed.as_ref().and_then(|u| u.host_str());
        let is_ip = host.is_some_and(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::IpAddr>()
                .is_ok()
        });
        let (rp_id, origin) = match (&parsed, host) {
            (Some(url), Some(domain)) if !is_ip => {
                (domain.to_owned(), url.origin().ascii_serialization())
            }
            (Some(url), Some(_)) => {
                let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
                (
                    "localhost".to_owned(),
                    format!("{}://localhost{port}", url.scheme()),
                )
            }
            _ => ("localhost".to_owned(), "http://localhost".to_owned()),
        };
        Self {
            rp_id,
            rp_name: rp_name.to_owned(),
            origins: vec![origin],
        }
    }
}

/// Why a ceremony failed; never shown in detail to the caller.
#[derive(Debug, thiserror::Error)]
pub enum CeremonyError {
    /// The browser's answer is not a WebAuthn credential.
    #[error("not a WebAuthn credential: {0}")]
    Malformed(String),
    /// webauthn-rs refused it (origin, challenge, signature, flags).
    #[error("refused: {0}")]
    Refused(String),
}

/// The relying party.
pub struct RelyingParty {
    webauthn: Webauthn,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").finish_non_exhaustive()
    }
}

impl RelyingParty {
    /// A relying party for `settings`; an error names what is wrong.
    pub fn new(settings: &WebauthnSettings) -> Result<Self, String> {
        let mut origins = settings.origins.iter().map(|raw| {
            Url::parse(raw).map_err(|e| format!("webauthn origin {raw:?} is not a URL: {e}"))
        });
        let first = origins
            .next()
            .ok_or_else(|| "webauthn needs at least one origin".to_owned())??;
        let mut builder = WebauthnBuilder::new(&settings.rp_id, &first)
            .map_err(|e| format!("webauthn rp_id {:?}: {e}", settings.rp_id))?
            .rp_name(&settings.rp_name);
        for origin in origins {
            builder = builder.append_allowed_origin(&origin?);
        }
        let webauthn = builder
            .build()
            .map_err(|e| format!("webauthn settings: {e}"))?;
        Ok(Self { webauthn })
    }

    /// Options for registering a passkey for `user`, and the state to keep.
    /// The credential must be discoverable (a passkey signs in without an
    /// address); `existing` are excluded so one authenticator registers
    /// once.
    pub fn start_registration(
        &self,
        user: UserId,
        name: &str,
        existing: &[StoredPasskey],
    ) -> Result<(Value, String), CeremonyError> {
        let exclude: Vec<CredentialID> = existing
            .iter()
            .filter_map(|p| decode_credential_id(&p.credential_id))
            .collect();
        let (options, state): (CreationChallengeResponse, PasskeyRegistration) = self
            .webauthn
            .start_passkey_registration(
                user.as_uuid(),
                name,
                name,
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(|e| CeremonyError::Refused(e.to_string()))?;
        // webauthn-rs asks for a server-side credential; a passkey must be
        // discoverable. The state does not depend on it, so the options are
        // changed on their way out (the crate exports no setter).
        let mut options = to_value(&options)?;
        if let Some(selection) = options
            .pointer_mut("/publicKey/authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            selection.insert("residentKey".into(), "required".into());
            selection.insert("requireResidentKey".into(), true.into());
        }
        Ok((options, to_json(&state)?))
    }

    /// Checks the browser's answer to [`RelyingParty::start_registration`].
    pub fn finish_registration(
        &self,
        credential: &Value,
        state: &str,
    ) -> Result<VerifiedRegistration, CeremonyError> {
        let credential: RegisterPublicKeyCredential = from_value(credential)?;
        let state: PasskeyRegistration = from_json(state)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&credential, &state)
            .map_err(|e| CeremonyError::Refused(e.to_string()))?;
        Ok(VerifiedRegistration {
            credential_id: encode_credential_id(passkey.cred_id()),
            synced: passkey_is_synced(&passkey),
            credential: to_json(&passkey)?,
        })
    }

    /// Options for a sign-in with any passkey of this site (the browser
    /// offers the ones it has), and the state to keep.
    pub fn start_discoverable(&self) -> Result<(Value, String), CeremonyError> {
        let (options, state): (RequestChallengeResponse, DiscoverableAuthentication) = self
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| CeremonyError::Refused(e.to_string()))?;
        // A button starts this ceremony: the browser's own dialog, not the
        // autofill ("conditional") one webauthn-rs asks for.
        let mut options = to_value(&options)?;
        if let Some(object) = options.as_object_mut() {
            object.remove("mediation");
        }
        Ok((options, to_json(&state)?))
    }

    /// Who a discoverable answer claims to be: the account's id (the user
    /// handle) and the credential id, both still to be checked.
    pub fn identify(&self, credential: &Value) -> Result<(UserId, String), CeremonyError> {
        let answer: PublicKeyCredential = from_value(credential)?;
        let (uuid, id) = self
            .webauthn
            .identify_discoverable_authentication(&answer)
            .map_err(|e| CeremonyError::Malformed(e.to_string()))?;
        Ok((UserId::from_uuid(uuid), encode_credential_id(id)))
    }

    /// Checks a discoverable answer against the passkey it named; returns
    /// the passkey's new state (its counter moved).
    pub fn finish_discoverable(
        &self,
        credential: &Value,
        state: &str,
        stored: &StoredPasskey,
    ) -> Result<String, CeremonyError> {
        let answer: PublicKeyCredential = from_value(credential)?;
        let state: DiscoverableAuthentication = from_json(state)?;
        let mut passkey: Passkey = from_json(&stored.credential)?;
        let result = self
            .webauthn
            .finish_discoverable_authentication_v2(&answer, state, &passkey)
            .map_err(|e| CeremonyError::Refused(e.to_string()))?;
        if !result.user_verified() {
            return Err(CeremonyError::Refused("user not verified".into()));
        }
        passkey.update_credential(&result);
        to_json(&passkey)
    }

    /// Options for proving one of `passkeys` (the second step of a
    /// sign-in), and the state to keep.
    pub fn start_second_factor(
        &self,
        passkeys: &[StoredPasskey],
    ) -> Result<(Value, String), CeremonyError> {
        let creds: Vec<Passkey> = passkeys
            .iter()
            .map(|p| from_json(&p.credential))
            .collect::<Result<_, _>>()?;
        let (options, state): (RequestChallengeResponse, PasskeyAuthentication) = self
            .webauthn
            .start_passkey_authentication(&creds)
            .map_err(|e| CeremonyError::Refused(e.to_string()))?;
        Ok((to_value(&options)?, to_json(&state)?))
    }

    /// Checks an answer to [`RelyingParty::start_second_factor`]; returns
    /// the credential id used and the passkey's new state.
    pub fn finish_second_factor(
        &self,
        credential: &Value,
        state: &str,
        passkeys: &[StoredPasskey],
    ) -> Result<(String, String), CeremonyError> {
        let answer: PublicKeyCredential = from_value(credential)?;
        let state: PasskeyAuthentication = from_json(state)?;
        let result = self
            .webauthn
            .finish_passkey_authentication(&answer, &state)
            .map_err(|e| CeremonyError::Refused(e.to_string()))?;
        let used = encode_credential_id(result.cred_id());
        let stored = passkeys
            .iter()
            .find(|p| p.credential_id == used)
            .ok_or_else(|| CeremonyError::Refused("credential not on the account".into()))?;
        let mut passkey: Passkey = from_json(&stored.credential)?;
        passkey.update_credential(&result);
        Ok((used, to_json(&passkey)?))
    }
}

/// What a finished registration hands the store.
#[derive(Debug, Clone)]
pub struct VerifiedRegistration {
    /// The authenticator's credential id, base64url.
    pub credential_id: String,
    /// Backup-eligible (synced).
    pub synced: bool,
    /// webauthn-rs's `Passkey` as JSON.
    pub credential: String,
}

/// A passkey's name as the holder typed it: trimmed, control characters
/// out, at most [`MAX_NAME_CHARS`]; `None` when nothing is left.
pub fn clean_name(raw: &str) -> Option<String> {
    let name: String = raw
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let name = name.trim().to_owned();
    (!name.is_empty()).then_some(name)
}

fn passkey_is_synced(passkey: &Passkey) -> bool {
    // webauthn-rs keeps the backup-eligible flag on the credential; its
    // JSON is the stable way to read it without the crate's internals.
    serde_json::to_value(passkey)
        .ok()
        .and_then(|v| v.pointer("/cred/backup_eligible").and_then(Value::as_bool))
        .unwrap_or(false)
}

fn encode_credential_id(id: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

fn decode_credential_id(id: &str) -> Option<CredentialID> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(id)
        .ok()
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, CeremonyError> {
    serde_json::to_string(value).map_err(|e| CeremonyError::Refused(e.to_string()))
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, CeremonyError> {
    serde_json::to_value(value).map_err(|e| CeremonyError::Refused(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, CeremonyError> {
    serde_json::from_str(raw).map_err(|e| CeremonyError::Refused(format!("stored state: {e}")))
}

fn from_value<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, CeremonyError> {
    T::deserialize(value).map_err(|e| CeremonyError::Malformed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> WebauthnSettings {
        WebauthnSettings {
            rp_id: "localhost".into(),
            rp_name: "Warden".into(),
            origins: vec!["http://localhost:8080".into()],
        }
    }

    #[test]
    fn registration_asks_for_a_discoverable_credential_with_user_verification() {
        let rp = RelyingParty::new(&settings()).unwrap();
        let user = UserId::new();
        let (options, state) = rp.start_registration(user, "ada@example.com", &[]).unwrap();
        let selection = &options["publicKey"]["authenticatorSelection"];
        assert_eq!(selection["residentKey"], "required");
        assert_eq!(selection["requireResidentKey"], true);
        assert_eq!(selection["userVerification"], "required");
        assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
        assert!(!state.is_empty());
    }

    #[test]
    fn a_discoverable_sign_in_names_no_credential_and_uses_the_dialog() {
        let rp = RelyingParty::new(&settings()).unwrap();
        let (options, _) = rp.start_discoverable().unwrap();
        assert!(options.get("mediation").is_none_or(Value::is_null));
        let allowed = &options["publicKey"]["allowCredentials"];
        assert!(allowed.is_null() || allowed.as_array().is_some_and(Vec::is_empty));
        assert_eq!(options["publicKey"]["userVerification"], "required");
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let rp = RelyingParty::new(&settings()).unwrap();
        let err = rp.identify(&serde_json::json!({"id": 1})).unwrap_err();
        assert!(matches!(err, CeremonyError::Malformed(_)));
        let (_, state) = rp.start_registration(UserId::new(), "a", &[]).unwrap();
        let err = rp
            .finish_registration(&serde_json::json!("nope"), &state)
            .unwrap_err();
        assert!(matches!(err, CeremonyError::Malformed(_)));
    }

    #[test]
    fn bad_settings_say_what_is_wrong() {
        let mut bad = settings();
        bad.origins = vec!["not a url".into()];
        assert!(RelyingParty::new(&bad).unwrap_err().contains("origin"));
        bad.origins.clear();
        assert!(RelyingParty::new(&bad).is_err());
        let mut other = settings();
        other.origins = vec!["https://evil.example".into()];
        assert!(RelyingParty::new(&other).is_err(), "origin outside rp_id");
    }

    #[test]
    fn defaults_follow_the_public_url() {
        let s = WebauthnSettings::for_public_url("https://auth.example.com/base", "Acme");
        assert_eq!(s.rp_id, "auth.example.com");
        assert_eq!(s.origins, ["https://auth.example.com"]);
        assert_eq!(s.rp_name, "Acme");
        let s = WebauthnSettings::for_public_url("http://127.0.0.1:8080", "Warden");
        assert_eq!(s.rp_id, "localhost");
        assert_eq!(s.origins, ["http://localhost:8080"]);
        RelyingParty::new(&s).unwrap();
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(clean_name("  Phone \n"), Some("Phone".into()));
        assert_eq!(clean_name("   "), None);
        assert_eq!(clean_name(&"x".repeat(200)).unwrap().chars().count(), 64);
    }
}
