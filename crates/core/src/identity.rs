//! Identities at OAuth2 / OpenID Connect providers (social sign-in) and the
//! rules that decide what a provider's word may do to Warden's accounts
//! (front-door contract, section 4). The flow itself (redirects, ID-token
//! checks) lives in the adapters; this module only decides.

use chrono::{DateTime, Duration, Utc};

use crate::email::Email;
use crate::ids::{IdentityId, UserId};
use crate::model::{TokenHash, User, UserStatus};
use crate::opaque::OpaqueToken;

/// Prefix of the codes a social sign-in hands an SPA or a mobile app.
pub const EXCHANGE_PREFIX: &str = "wxc_";

/// How long an exchange code lives: the app trades it straight away.
pub const EXCHANGE_LIFETIME: Duration = Duration::seconds(60);

/// Who an identity is at its provider: the only key an identity is found
/// by. Never the e-mail: addresses change hands, subjects do not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdentityKey {
    /// The provider's configured id (`google`, the path segment).
    pub provider: String,
    /// The issuer the provider asserted (Microsoft: the user's tenant).
    pub issuer: String,
    /// The subject at that issuer (Microsoft: `oid`).
    pub subject: String,
}

/// An identity linked to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Identifier.
    pub id: IdentityId,
    /// The account it signs in to.
    pub user_id: UserId,
    /// Who it is at the provider.
    pub key: IdentityKey,
    /// The address the provider last asserted, for display only.
    pub email: Option<String>,
    /// When it was linked.
    pub created_at: DateTime<Utc>,
    /// When it last signed in (or was linked).
    pub last_used_at: DateTime<Utc>,
}

impl Identity {
    /// A fresh identity for `user`, linked at `now`.
    pub fn new(
        user_id: UserId,
        key: IdentityKey,
        email: Option<String>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id: IdentityId::new(),
            user_id,
            key,
            email,
            created_at: now,
            last_used_at: now,
        }
    }
}

/// What a provider said about the person who just signed in there, after
/// the adapter verified it (ID-token signature, issuer, audience, nonce).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// Who they are there.
    pub key: IdentityKey,
    /// Their address, if the provider gave one.
    pub email: Option<Email>,
    /// Whether the provider says it verified that address.
    pub email_verified: bool,
}

impl Assertion {
    /// The address, only when the provider verified it: nothing else may
    /// create or find an account.
    pub fn verified_email(&self) -> Option<&Email> {
        self.email.as_ref().filter(|_| self.email_verified)
    }
}

/// What the browser asked for when it went to the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    /// Sign in (or sign up).
    SignIn,
    /// Attach the identity to the signed-in account.
    Link(UserId),
}

/// The settings the linking rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkingPolicy {
    /// `[oauth] auto_link_verified_email`: link an unknown identity to the
    /// account with its (verified) address.
    pub auto_link_verified_email: bool,
    /// The provider's `allow_sign_up` and `[signup] enabled` together.
    pub sign_up_allowed: bool,
}

/// What the facts the store holds say about an assertion.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The identity with the assertion's key, if one is linked, and its account.
    pub linked: Option<(&'a Identity, &'a User)>,
    /// The account whose address is the assertion's verified address (or a
    /// look-alike of it), if any.
    pub by_email: Option<&'a User>,
}

/// What to do with an assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A known identity: sign its account in.
    SignIn(UserId),
    /// Link the identity to this account, then sign it in (automatic
    /// linking by verified address, or `intent=link`).
    LinkAndSignIn(UserId),
    /// Create an account (`email_verified: true`, no password) with the
    /// identity, and sign it in.
    SignUp(Email),
    /// Refuse, with the contract's error code.
    Refuse(Refusal),
}

/// Why an assertion signs nobody in; each is a contract error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No provider-verified address for an unknown identity: nothing created.
    EmailNotVerifiedByProvider,
    /// An account has the address but it is not verified (or automatic
    /// linking is off): sign in with the password, then link.
    AccountExists,
    /// New accounts may not be made this way.
    SignUpDisabled,
    /// The account is banned.
    AccountBanned,
    /// `intent=link`, but the identity belongs to another account.
    IdentityTaken,
}

impl Refusal {
    /// The contract's error code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::EmailNotVerifiedByProvider => "email_not_verified_by_provider",
            Refusal::AccountExists => "account_exists",
            Refusal::SignUpDisabled => "sign_up_disabled",
            Refusal::AccountBanned => "account_banned",
            Refusal::IdentityTaken => "identity_taken",
        }
    }

    /// What the person is told.
    pub fn detail(self) -> &'static str {
        match self {
            Refusal::EmailNotVerifiedByProvider => {
                "the provider did not confirm an e-mail address for this account"
            }
            Refusal::AccountExists => {
                "an account with this e-mail already exists; sign in with its password (or \
                 reset it), then link the provider from the account page"
            }
            Refusal::SignUpDisabled => {
                "sign-up is closed here; ask an administrator for an account"
            }
            Refusal::AccountBanned => "this account has been banned",
            Refusal::IdentityTaken => "this provider account is linked to another account",
        }
    }
}

/// The linking rules of section 4, in order. The pre-account-takeover
/// attacks die here: an address nobody proved they read never links, and
/// an address the provider did not verify never creates or finds an
/// account.
pub fn decide(
    assertion: &Assertion,
    intent: Intent,
    facts: Facts<'_>,
    policy: LinkingPolicy,
) -> Decision {
    if let Intent::Link(me) = intent {
        return match facts.linked {
            Some((_, owner)) if owner.id != me => Decision::Refuse(Refusal::IdentityTaken),
            // Linked to me already: nothing to add, sign-in refreshes it.
            Some(_) => Decision::SignIn(me),
            None => Decision::LinkAndSignIn(me),
        };
    }
    if let Some((_, owner)) = facts.linked {
        if owner.status == UserStatus::Banned {
            return Decision::Refuse(Refusal::AccountBanned);
        }
        return Decision::SignIn(owner.id);
    }
    let Some(email) = assertion.verified_email() else {
        return Decision::Refuse(Refusal::EmailNotVerifiedByProvider);
    };
    match facts.by_email {
        Some(account) if account.status == UserStatus::Banned => {
            Decision::Refuse(Refusal::AccountBanned)
        }
        Some(account) if account.email_verified && policy.auto_link_verified_email => {
            Decision::LinkAndSignIn(account.id)
        }
        Some(_) => Decision::Refuse(Refusal::AccountExists),
        None if policy.sign_up_allowed => Decision::SignUp(email.clone()),
        None => Decision::Refuse(Refusal::SignUpDisabled),
    }
}

/// What a provider needs to send a browser to it.
#[derive(Debug, Clone, Copy)]
pub struct AuthorizationRequest<'a> {
    /// Warden's callback URL for the provider.
    pub redirect_uri: &'a str,
    /// The flow's `state`.
    pub state: &'a str,
    /// The flow's `nonce` (OpenID Connect providers put it in the ID token).
    pub nonce: &'a str,
    /// The PKCE S256 challenge, when the provider takes PKCE.
    pub pkce_challenge: Option<&'a str>,
}

/// What came back to the callback, with what the flow kept.
#[derive(Debug, Clone, Copy)]
pub struct ProviderCallback<'a> {
    /// The authorization code.
    pub code: &'a str,
    /// The callback URL the code was issued for.
    pub redirect_uri: &'a str,
    /// The nonce the ID token must carry.
    pub nonce: &'a str,
    /// The PKCE verifier, when the flow used PKCE.
    pub pkce_verifier: Option<&'a str>,
}

/// A provider failed (unreachable, refused the code, or sent an ID token
/// that does not verify). The detail is for the log; the person sees
/// `provider_error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderFailure(pub String);

/// A `wxc_` code as stored: its hash and what trading it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeCode {
    /// SHA-256 of the code.
    pub code_hash: TokenHash,
    /// The account it signs in.
    pub user_id: UserId,
    /// The provider the sign-in went through (for the audit entry).
    pub provider: String,
    /// The app's PKCE S256 challenge: only its verifier trades the code.
    pub code_challenge: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// After this it is refused.
    pub expires_at: DateTime<Utc>,
}

impl ExchangeCode {
    /// A fresh code for `user`, bound to `code_challenge`: the code to hand
    /// the app and the record to store.
    pub fn issue(
        user_id: UserId,
        provider: &str,
        code_challenge: &str,
        now: DateTime<Utc>,
    ) -> (OpaqueToken, ExchangeCode) {
        let code = OpaqueToken::generate(EXCHANGE_PREFIX);
        let record = ExchangeCode {
            code_hash: code.hash(),
            user_id,
            provider: provider.to_owned(),
            code_challenge: code_challenge.to_owned(),
            created_at: now,
            expires_at: now + EXCHANGE_LIFETIME,
        };
        (code, record)
    }

    /// Whether `verifier` is the one the challenge was made from (RFC 7636
    /// S256), compared in constant time.
    pub fn verifier_matches(&self, verifier: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        if !is_pkce_verifier(verifier) {
            return false;
        }
        pkce_challenge(verifier)
            .as_bytes()
            .ct_eq(self.code_challenge.as_bytes())
            .into()
    }
}

/// The S256 challenge of a PKCE `verifier` (RFC 7636 section 4.2).
pub fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::{Digest as _, Sha256};
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 section 4.1: 43 to 128 unreserved characters.
pub fn is_pkce_verifier(raw: &str) -> bool {
    (43..=128).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// An S256 challenge: base64url of 32 bytes, 43 characters.
pub fn is_pkce_challenge(raw: &str) -> bool {
    raw.len() == 43
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap()
    }

    fn user(email: &str, verified: bool, status: UserStatus) -> User {
        User {
            id: UserId::new(),
            email: Email::parse(email).unwrap(),
            username: None,
            roles: Vec::new(),
            status,
            created_at: now(),
            email_verified: verified,
            has_password: true,
        }
    }

    fn key() -> IdentityKey {
        IdentityKey {
            provider: "google".into(),
            issuer: "https://accounts.google.com".into(),
            subject: "1234567890".into(),
        }
    }

    fn assertion(email: &str, verified: bool) -> Assertion {
        Assertion {
            key: key(),
            email: Some(Email::parse(email).unwrap()),
            email_verified: verified,
        }
    }

    const OPEN: LinkingPolicy = LinkingPolicy {
        auto_link_verified_email: true,
        sign_up_allowed: true,
    };

    fn none() -> Facts<'static> {
        Facts {
            linked: None,
            by_email: None,
        }
    }

    #[test]
    fn a_known_identity_signs_its_account_in_whatever_the_address_says() {
        let owner = user("ada@example.com", false, UserStatus::Active);
        let identity = Identity::new(owner.id, key(), None, now());
        let facts = Facts {
            linked: Some((&identity, &owner)),
            by_email: None,
        };
        // Even an unverified assertion: the key, not the address, decides.
        let decision = decide(
            &assertion("other@example.com", false),
            Intent::SignIn,
            facts,
            OPEN,
        );
        assert_eq!(decision, Decision::SignIn(owner.id));
    }

    #[test]
    fn a_banned_account_is_refused_by_identity_and_by_address() {
        let owner = user("ada@example.com", true, UserStatus::Banned);
        let identity = Identity::new(owner.id, key(), None, now());
        let linked = Facts {
            linked: Some((&identity, &owner)),
            by_email: None,
        };
        let a = assertion("ada@example.com", true);
        assert_eq!(
            decide(&a, Intent::SignIn, linked, OPEN),
            Decision::Refuse(Refusal::AccountBanned)
        );
        let by_email = Facts {
            linked: None,
            by_email: Some(&owner),
        };
        assert_eq!(
            decide(&a, Intent::SignIn, by_email, OPEN),
            Decision::Refuse(Refusal::AccountBanned)
        );
    }

    #[test]
    fn an_unknown_identity_with_a_verified_new_address_signs_up() {
        let a = assertion("new@example.com", true);
        assert_eq!(
            decide(&a, Intent::SignIn, none(), OPEN),
            Decision::SignUp(Email::parse("new@example.com").unwrap())
        );
        let closed = LinkingPolicy {
            sign_up_allowed: false,
            ..OPEN
        };
        assert_eq!(
            decide(&a, Intent::SignIn, none(), closed),
            Decision::Refuse(Refusal::SignUpDisabled)
        );
    }

    #[test]
    fn an_address_the_provider_did_not_verify_creates_and_finds_nothing() {
        let victim = user("victim@example.com", true, UserStatus::Active);
        let facts = Facts {
            linked: None,
            by_email: Some(&victim),
        };
        let unverified = assertion("victim@example.com", false);
        assert_eq!(
            decide(&unverified, Intent::SignIn, facts, OPEN),
            Decision::Refuse(Refusal::EmailNotVerifiedByProvider)
        );
        let no_address = Assertion {
            key: key(),
            email: None,
            email_verified: true,
        };
        assert_eq!(
            decide(&no_address, Intent::SignIn, none(), OPEN),
            Decision::Refuse(Refusal::EmailNotVerifiedByProvider)
        );
    }

    #[test]
    fn a_verified_address_links_only_to_a_verified_account() {
        let a = assertion("ada@example.com", true);
        let verified = user("ada@example.com", true, UserStatus::Active);
        let facts = Facts {
            linked: None,
            by_email: Some(&verified),
        };
        assert_eq!(
            decide(&a, Intent::SignIn, facts, OPEN),
            Decision::LinkAndSignIn(verified.id)
        );
        // Pre-account takeover: an attacker registered the victim's address
        // with a password and never verified it. The victim's provider
        // sign-in must not hand the attacker's account the victim's identity.
        let squatted = user("ada@example.com", false, UserStatus::Active);
        let facts = Facts {
            linked: None,
            by_email: Some(&squatted),
        };
        assert_eq!(
            decide(&a, Intent::SignIn, facts, OPEN),
            Decision::Refuse(Refusal::AccountExists)
        );
        let manual = LinkingPolicy {
            auto_link_verified_email: false,
            ..OPEN
        };
        let facts = Facts {
            linked: None,
            by_email: Some(&verified),
        };
        assert_eq!(
            decide(&a, Intent::SignIn, facts, manual),
            Decision::Refuse(Refusal::AccountExists)
        );
    }

    #[test]
    fn linking_attaches_to_the_signed_in_account_unless_another_owns_it() {
        let me = user("me@example.com", true, UserStatus::Active);
        let other = user("other@example.com", true, UserStatus::Active);
        // The provider's address does not matter when linking explicitly:
        // the person proved both sides by signing in to each.
        let a = assertion("whatever@example.com", false);
        assert_eq!(
            decide(&a, Intent::Link(me.id), none(), OPEN),
            Decision::LinkAndSignIn(me.id)
        );
        let theirs = Identity::new(other.id, key(), None, now());
        let facts = Facts {
            linked: Some((&theirs, &other)),
            by_email: None,
        };
        assert_eq!(
            decide(&a, Intent::Link(me.id), facts, OPEN),
            Decision::Refuse(Refusal::IdentityTaken)
        );
        let mine = Identity::new(me.id, key(), None, now());
        let facts = Facts {
            linked: Some((&mine, &me)),
            by_email: None,
        };
        assert_eq!(
            decide(&a, Intent::Link(me.id), facts, OPEN),
            Decision::SignIn(me.id)
        );
    }

    #[test]
    fn exchange_codes_trade_only_for_their_verifier() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(is_pkce_challenge(challenge));
        assert_eq!(pkce_challenge(verifier), challenge);
        let (code, record) = ExchangeCode::issue(UserId::new(), "google", challenge, now());
        assert!(code.expose().starts_with(EXCHANGE_PREFIX));
        assert_eq!(record.code_hash, code.hash());
        assert_eq!(record.expires_at - record.created_at, EXCHANGE_LIFETIME);
        assert!(record.verifier_matches(verifier));
        assert!(!record.verifier_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj"));
        assert!(!record.verifier_matches("short"));
        assert!(!is_pkce_challenge("not a challenge"));
    }
}
