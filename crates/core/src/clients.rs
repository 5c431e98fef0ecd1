//! The OAuth 2.0 / OpenID Connect clients Warden serves as a provider
//! (front-door contract, section 7): who may ask for tokens, from where,
//! with which grants and scopes, and how a confidential client proves
//! itself (its `wcs_` secret).
//!
//! ```
//! use chrono::Utc;
//! use warden_core::clients::{ClientKind, ClientSettings, GrantType, OAuthClient};
//!
//! let settings = ClientSettings {
//!     name: "Tickets".into(),
//!     redirect_uris: vec!["https://tickets.example.com/callback".into()],
//!     grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
//!     scopes: vec!["openid".into(), "email".into()],
//!     ..ClientSettings::default()
//! };
//! let (client, secret) = OAuthClient::register(ClientKind::Confidential, settings, Utc::now())?;
//! let secret = secret.expect("a confidential client gets a secret");
//! assert!(client.verify_secret(secret.expose()));
//! assert!(!client.verify_secret("wcs_not-it"));
//! # Ok::<(), warden_core::FieldError>(())
//! ```

use std::fmt;

use chrono::{DateTime, Utc};
use rand::Rng as _;
use rand::distributions::Alphanumeric;
use subtle::ConstantTimeEq as _;
use url::{Host, Url};

use crate::error::FieldError;
use crate::model::{Revocation, RevocationKind};
use crate::opaque::OpaqueToken;

/// The JWS algorithms an ID token may be signed with, re-exported so
/// adapters need not depend on warden-token for it.
pub use warden_token::Algorithm;

/// Prefix of client secrets, so secret scanners can spot them.
pub const CLIENT_SECRET_PREFIX: &str = "wcs_";
/// Characters of a generated client id.
pub const CLIENT_ID_CHARS: usize = 22;
/// The longest client id [`ClientId::parse`] accepts.
pub const MAX_CLIENT_ID_CHARS: usize = 64;
/// The longest name a client may have.
pub const MAX_NAME_CHARS: usize = 100;
/// The most redirect URIs (and, separately, post-logout redirect URIs) a
/// client may register.
pub const MAX_REDIRECT_URIS: usize = 20;
/// The longest redirect URI, in bytes (all ASCII).
pub const MAX_REDIRECT_URI_LEN: usize = 2000;
/// The most scopes a client may be allowed.
pub const MAX_SCOPES: usize = 50;
/// The longest scope.
pub const MAX_SCOPE_CHARS: usize = 64;

/// A client's `client_id`: public, not a secret.
///
/// Generated ids are 22 random base62 characters (about 131 bits) from the
/// OS CSPRNG, without a prefix and without a UUID's hyphens:
/// - the id is typed into other systems' configuration, sent in URLs
///   (`/oauth2/authorize?client_id=...`) and forms, and put in HTTP Basic
///   credentials (`client_secret_basic`, where a `:` would split it), so it
///   holds only characters that need no escaping anywhere and selects with
///   one double click;
/// - it is random rather than time-ordered (UUIDv7) because it is shown to
///   anyone: it should not tell when a client was registered or how many
///   there are, and it cannot be guessed to probe for clients;
/// - no `wcs_`-like prefix: prefixes exist so secret scanners flag leaked
///   secrets, and a client id leaking is harmless; a prefix would make
///   scanners cry wolf over every public client configuration.
///
/// [`ClientId::parse`] is wider than what [`ClientId::generate`] makes (up
/// to 64 of `A-Z a-z 0-9 . _ -`), so a fixed, readable id (`grafana`) can be
/// registered from configuration later without changing the schema.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    /// A fresh random id.
    pub fn generate() -> Self {
        let id: String = rand::rngs::OsRng
            .sample_iter(&Alphanumeric)
            .take(CLIENT_ID_CHARS)
            .map(char::from)
            .collect();
        Self(id)
    }

    /// A presented or stored id, if it has a shape Warden accepts, so
    /// garbage never reaches the store.
    pub fn parse(raw: &str) -> Option<Self> {
        let well_formed = !raw.is_empty()
            && raw.len() <= MAX_CLIENT_ID_CHARS
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        well_formed.then(|| Self(raw.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The deny-list entry that ends every token `client` obtained for itself
/// (client credentials) before `now`: a user-wide entry under the
/// service's key ([`warden_token::revocation::service_subject`]), as the
/// `client.deleted` event carries it to every verifier.
pub fn service_revocation(
    client: &ClientId,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Revocation {
    // Rounded up to the next second, as a user's: `iat` has second
    // precision, and every token issued up to now must match.
    let not_before = DateTime::from_timestamp(now.timestamp() + 1, 0).unwrap_or(now);
    Revocation {
        kind: RevocationKind::User,
        id: warden_token::revocation::service_subject(client.as_str()),
        not_before: Some(not_before),
        until,
    }
}

/// Whether a client can keep a secret (RFC 6749 section 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// A browser or native app: no secret, PKCE instead.
    Public,
    /// A server-side app holding a `wcs_` secret.
    Confidential,
}

impl ClientKind {
    /// The stored and displayed name (`public`, `confidential`).
    pub fn as_str(&self) -> &'static str {
        match self {
            ClientKind::Public => "public",
            ClientKind::Confidential => "confidential",
        }
    }

    /// The kind named `raw`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "public" => Some(ClientKind::Public),
            "confidential" => Some(ClientKind::Confidential),
            _ => None,
        }
    }
}

/// A grant a client may use at `/oauth2/token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    /// `authorization_code`: a user signs in at `/oauth2/authorize`.
    AuthorizationCode,
    /// `refresh_token`: rotation of tokens the code flow issued.
    RefreshToken,
    /// `client_credentials`: the client acts for itself (a service account).
    ClientCredentials,
}

impl GrantType {
    /// The RFC 6749 name.
    pub fn as_str(&self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    /// The grant named `raw`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "authorization_code" => Some(GrantType::AuthorizationCode),
            "refresh_token" => Some(GrantType::RefreshToken),
            "client_credentials" => Some(GrantType::ClientCredentials),
            _ => None,
        }
    }
}

/// A registered redirect URI (or post-logout redirect URI), kept exactly as
/// registered: `/oauth2/authorize` compares the one a request names with
/// these by simple string comparison (RFC 6749 section 3.1.2.3, OAuth 2.1),
/// never after normalising.
///
/// Absolute; `https`, or `http` on a loopback host (`127.0.0.0/8`, `[::1]`,
/// `localhost`: native apps, RFC 8252 section 7.3); no fragment (RFC 6749
/// section 3.1.2) and no user info. Only the characters RFC 3986 allows:
/// the URL parser quietly drops tabs, newlines and surrounding spaces and
/// percent-encodes the rest, so a URI holding them would be checked as one
/// string and matched as another.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Checks `raw`; the error says what is wrong, without echoing it.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() || raw.len() > MAX_REDIRECT_URI_LEN {
            return Err("must be between 1 and 2000 characters");
        }
        if !raw.bytes().all(is_uri_char) {
            return Err("may hold only the characters of RFC 3986 (percent-encode the rest)");
        }
        if raw.contains('#') {
            return Err("must not have a fragment");
        }
        let url = Url::parse(raw).map_err(|_| "must be an absolute URL")?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry user info");
        }
        match url.scheme() {
            "https" if url.host().is_some() => Ok(Self(raw.to_owned())),
            "http" if url.host().as_ref().is_some_and(is_loopback) => Ok(Self(raw.to_owned())),
            "http" => Err("must use https unless the host is a loopback address"),
            _ => Err("must use https (or http on a loopback address)"),
        }
    }

    /// The URI as registered.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// RFC 3986's characters: unreserved, reserved and `%`. Nothing that needs
/// escaping in HTML or JSON (quotes, angle brackets, backslashes), no
/// space or control character.
fn is_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=%".contains(&b)
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// A scope a client may ask for: 1 to 64 of `A-Z a-z 0-9 . _ - : /`, a
/// subset of RFC 6749's scope-token (section 3.3) that holds the standard
/// scopes (`openid`, `offline_access`) and custom ones such as
/// `tickets:read` or `https://api.example.com/read`, and never needs quoting
/// in a header, a form or a log line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope(String);

impl Scope {
    /// Checks `raw`.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if raw.is_empty() || raw.len() > MAX_SCOPE_CHARS {
            return Err("must be between 1 and 64 characters");
        }
        let allowed = raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':' | b'/'));
        if !allowed {
            return Err("may hold only letters, digits and . _ - : /");
        }
        Ok(Self(raw.to_owned()))
    }

    /// The scope as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client secret: `wcs_` and 256 random bits, base64url. Shown once, at
/// registration or rotation; only its [`ClientSecretHash`] is stored.
/// Zeroized on drop; `Debug` is redacted.
pub struct ClientSecret(OpaqueToken);

impl ClientSecret {
    /// A fresh secret from the OS CSPRNG.
    pub fn generate() -> Self {
        Self(OpaqueToken::generate(CLIENT_SECRET_PREFIX))
    }

    /// A presented secret, if it has the shape Warden issues.
    pub fn parse(raw: &str) -> Option<Self> {
        OpaqueToken::parse(raw, CLIENT_SECRET_PREFIX).map(Self)
    }

    /// The secret text, to hand to the client's operator once.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The form the store keeps.
    pub fn hash(&self) -> ClientSecretHash {
        // Hex SHA-256 of the whole text, as for every opaque token.
        ClientSecretHash(self.0.hash().0)
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// The stored form of a client secret: lowercase hex SHA-256 of its text.
///
/// No slow hash (argon2id), on purpose: that exists to protect guessable,
/// human-chosen secrets. A client secret has 256 random bits, so a leaked
/// table costs 2^255 SHA-256 evaluations per secret on average, and no
/// salt is needed either (precomputation over 2^256 inputs is as hopeless,
/// and no two secrets coincide). A fast hash keeps checking a secret at
/// microseconds: `client_credentials`, introspection and revocation
/// authenticate the client on every call, and argon2id there would put the
/// hashing pool's cost (and a way to exhaust it) on every machine-to-machine
/// request. The same reasoning as `mfa::recovery_code_hash` and the opaque
/// tokens.
#[derive(Clone)]
pub struct ClientSecretHash(String);

impl ClientSecretHash {
    /// A hash read back from the store, if it is 64 lowercase hex digits.
    pub fn from_stored(raw: &str) -> Option<Self> {
        let well_formed =
            raw.len() == 64 && raw.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        well_formed.then(|| Self(raw.to_owned()))
    }

    /// The stored text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is the secret this hash was made from, compared
    /// in constant time.
    pub fn matches(&self, presented: &str) -> bool {
        // The shape is public (prefix and length); rejecting garbage early
        // reveals nothing about the secret.
        let Some(secret) = ClientSecret::parse(presented) else {
            return false;
        };
        bool::from(secret.hash().0.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

impl fmt::Debug for ClientSecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecretHash(..)")
    }
}

/// What an administrator sets on a client, unchecked: the input of
/// [`OAuthClient::register`] and [`OAuthClient::with_settings`], and what
/// [`OAuthClient::settings`] gives back for editing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientSettings {
    /// Shown on the consent page and in the admin console.
    pub name: String,
    /// Where `/oauth2/authorize` may send the browser back to.
    pub redirect_uris: Vec<String>,
    /// Where `/oauth2/logout` may send the browser back to.
    pub post_logout_redirect_uris: Vec<String>,
    /// The grants it may use.
    pub grant_types: Vec<GrantType>,
    /// The scopes it may ask for.
    pub scopes: Vec<String>,
    /// Operated by whoever runs Warden: no consent page.
    pub first_party: bool,
    /// How its ID tokens are signed (RS256 unless it asks otherwise: OIDC
    /// Core section 15.1 makes RS256 the one every client supports).
    pub id_token_alg: Algorithm,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            name: String::new(),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: Vec::new(),
            first_party: false,
            id_token_alg: Algorithm::RS256,
        }
    }
}

/// A registered client. Built checked by [`OAuthClient::register`] and
/// [`OAuthClient::with_settings`] (or read back from the store); its lists
/// hold no duplicates and keep the order they were given in.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    /// The `client_id`.
    pub id: ClientId,
    /// Shown on the consent page and in the admin console.
    pub name: String,
    /// Public or confidential; fixed for the client's life (a secret cannot
    /// be added to or taken from a client whose users already trust it as
    /// one or the other).
    pub kind: ClientKind,
    /// Where `/oauth2/authorize` may send the browser back to.
    pub redirect_uris: Vec<RedirectUri>,
    /// Where `/oauth2/logout` may send the browser back to.
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// The grants it may use.
    pub grant_types: Vec<GrantType>,
    /// The scopes it may ask for.
    pub scopes: Vec<Scope>,
    /// Operated by whoever runs Warden: no consent page.
    pub first_party: bool,
    /// How its ID tokens are signed.
    pub id_token_alg: Algorithm,
    /// The hash of its secret: `Some` exactly for confidential clients.
    pub secret_hash: Option<ClientSecretHash>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// When its settings last changed (registration included).
    pub updated_at: DateTime<Utc>,
    /// When its secret was last replaced; `None` until the first rotation.
    pub secret_rotated_at: Option<DateTime<Utc>>,
}

/// The checked form of [`ClientSettings`].
struct Checked {
    name: String,
    redirect_uris: Vec<RedirectUri>,
    post_logout_redirect_uris: Vec<RedirectUri>,
    grant_types: Vec<GrantType>,
    scopes: Vec<Scope>,
}

impl OAuthClient {
    /// Registers a new client under a fresh id; a confidential one gets a
    /// fresh secret, returned here and nowhere else.
    /// Whether `settings` would be accepted for a client of `kind` (what
    /// [`OAuthClient::register`] and [`OAuthClient::with_settings`] check),
    /// for a form that confirms before it saves.
    pub fn check_settings(kind: ClientKind, settings: &ClientSettings) -> Result<(), FieldError> {
        check(kind, settings).map(drop)
    }

    pub fn register(
        kind: ClientKind,
        settings: ClientSettings,
        now: DateTime<Utc>,
    ) -> Result<(OAuthClient, Option<ClientSecret>), FieldError> {
        let checked = check(kind, &settings)?;
        let secret = (kind == ClientKind::Confidential).then(ClientSecret::generate);
        let client = OAuthClient {
            id: ClientId::generate(),
            name: checked.name,
            kind,
            redirect_uris: checked.redirect_uris,
            post_logout_redirect_uris: checked.post_logout_redirect_uris,
            grant_types: checked.grant_types,
            scopes: checked.scopes,
            first_party: settings.first_party,
            id_token_alg: settings.id_token_alg,
            secret_hash: secret.as_ref().map(ClientSecret::hash),
            created_at: now,
            updated_at: now,
            secret_rotated_at: None,
        };
        Ok((client, secret))
    }

    /// The client with `settings` in place of its own, checked as at
    /// registration; id, kind and secret stay.
    pub fn with_settings(
        &self,
        settings: ClientSettings,
        now: DateTime<Utc>,
    ) -> Result<OAuthClient, FieldError> {
        let checked = check(self.kind, &settings)?;
        Ok(OAuthClient {
            name: checked.name,
            redirect_uris: checked.redirect_uris,
            post_logout_redirect_uris: checked.post_logout_redirect_uris,
            grant_types: checked.grant_types,
            scopes: checked.scopes,
            first_party: settings.first_party,
            id_token_alg: settings.id_token_alg,
            updated_at: now,
            ..self.clone()
        })
    }

    /// The settings as an administrator edits them.
    pub fn settings(&self) -> ClientSettings {
        ClientSettings {
            name: self.name.clone(),
            redirect_uris: strings(&self.redirect_uris, RedirectUri::as_str),
            post_logout_redirect_uris: strings(
                &self.post_logout_redirect_uris,
                RedirectUri::as_str,
            ),
            grant_types: self.grant_types.clone(),
            scopes: strings(&self.scopes, Scope::as_str),
            first_party: self.first_party,
            id_token_alg: self.id_token_alg,
        }
    }

    /// Whether the client may use `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// Whether `presented` is this client's secret (constant-time); always
    /// `false` for a public client.
    pub fn verify_secret(&self, presented: &str) -> bool {
        self.secret_hash
            .as_ref()
            .is_some_and(|hash| hash.matches(presented))
    }
}

fn strings<T>(items: &[T], as_str: fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|item| as_str(item).to_owned()).collect()
}

/// Keeps the first of each repeated item, in order.
fn dedup<T: PartialEq>(items: Vec<T>) -> Vec<T> {
    let mut kept = Vec::with_capacity(items.len());
    for item in items {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    kept
}

fn check(kind: ClientKind, settings: &ClientSettings) -> Result<Checked, FieldError> {
    let name = settings.name.trim();
    if name.is_empty() {
        return Err(FieldError::new("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new("name", "must be at most 100 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new("name", "must not hold control characters"));
    }
    let redirect_uris = uris("redirect_uris", &settings.redirect_uris)?;
    let post_logout_redirect_uris = uris(
        "post_logout_redirect_uris",
        &settings.post_logout_redirect_uris,
    )?;
    let grant_types = dedup(settings.grant_types.clone());
    if grant_types.is_empty() {
        return Err(FieldError::new(
            "grant_types",
            "must name at least one grant",
        ));
    }
    let has = |grant| grant_types.contains(&grant);
    if has(GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(FieldError::new(
            "redirect_uris",
            "must name at least one URI for the authorization_code grant",
        ));
    }
    if has(GrantType::RefreshToken) && !has(GrantType::AuthorizationCode) {
        // Refresh tokens come only from the code flow: a client-credentials
        // token has none (front-door contract, section 7).
        return Err(FieldError::new(
            "grant_types",
            "refresh_token needs authorization_code",
        ));
    }
    if has(GrantType::ClientCredentials) && kind == ClientKind::Public {
        return Err(FieldError::new(
            "grant_types",
            "client_credentials needs a confidential client",
        ));
    }
    if settings.scopes.len() > MAX_SCOPES {
        return Err(FieldError::new("scopes", "must be at most 50"));
    }
    let scopes = settings
        .scopes
        .iter()
        .map(|raw| Scope::parse(raw).map_err(|why| FieldError::new("scopes", why)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Checked {
        name: name.to_owned(),
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        scopes: dedup(scopes),
    })
}

fn uris(field: &'static str, raw: &[String]) -> Result<Vec<RedirectUri>, FieldError> {
    if raw.len() > MAX_REDIRECT_URIS {
        return Err(FieldError::new(field, "must be at most 20"));
    }
    let parsed = raw
        .iter()
        .map(|uri| RedirectUri::parse(uri).map_err(|why| FieldError::new(field, why)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(dedup(parsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web_app() -> ClientSettings {
        ClientSettings {
            name: "Tickets".into(),
            redirect_uris: vec!["https://tickets.example.com/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: vec!["openid".into(), "tickets:read".into()],
            ..ClientSettings::default()
        }
    }

    fn refused(kind: ClientKind, settings: ClientSettings) -> FieldError {
        OAuthClient::register(kind, settings, Utc::now()).unwrap_err()
    }

    #[test]
    fn generated_ids_are_22_base62_characters_and_parse() {
        let a = ClientId::generate();
        let b = ClientId::generate();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), CLIENT_ID_CHARS);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(ClientId::parse(a.as_str()), Some(a));
        assert!(ClientId::parse("grafana").is_some());
        for bad in ["", "a:b", "a b", "ä", &"x".repeat(65)] {
            assert!(ClientId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn redirect_uris_are_https_or_loopback_http_without_fragment() {
        for good in [
            "https://app.example.com/callback",
            "https://app.example.com:8443/cb?tenant=a",
            "http://127.0.0.1:51000/cb",
            "http://127.1.2.3/cb",
            "http://[::1]:8080/cb",
            "http://localhost:3000/cb",
        ] {
            assert!(RedirectUri::parse(good).is_ok(), "{good}");
            assert_eq!(RedirectUri::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "/callback",
            "app.example.com/cb",
            "http://app.example.com/cb",
            "http://localhost.example.com/cb",
            "http://10.0.0.1/cb",
            "https://app.example.com/cb#frag",
            "https://app.example.com/cb#",
            "https://user:pw@app.example.com/cb",
            "https://app.example.com/c b",
            "https://app.example.com/cb\n",
            " https://app.example.com/cb",
            "https://app.example.com/caf\u{e9}",
            "https://app.example.com/\"><script>",
            "https://app.example.com/a\\b",
            "javascript:alert(1)",
            "com.example.app:/cb",
            "ftp://app.example.com/cb",
        ] {
            assert!(RedirectUri::parse(bad).is_err(), "{bad:?}");
        }
        let long = format!("https://app.example.com/{}", "a".repeat(2000));
        assert!(RedirectUri::parse(&long).is_err());
    }

    #[test]
    fn scopes_come_from_a_small_charset() {
        for good in [
            "openid",
            "offline_access",
            "tickets:read",
            "https://api.example.com/read",
        ] {
            assert!(Scope::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a\"b", "a\\b", "r\u{e9}ad", &"s".repeat(65)] {
            assert!(Scope::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_confidential_client_gets_a_secret_only_its_hash_is_kept() {
        let (client, secret) =
            OAuthClient::register(ClientKind::Confidential, web_app(), Utc::now()).unwrap();
        let secret = secret.unwrap();
        assert!(secret.expose().starts_with("wcs_"));
        assert_eq!(secret.expose().len(), 4 + 43);
        let hash = client.secret_hash.as_ref().unwrap();
        assert_ne!(hash.as_str(), secret.expose());
        assert!(!hash.as_str().contains(&secret.expose()[4..]));
        assert_eq!(hash.as_str().len(), 64);
        assert!(ClientSecretHash::from_stored(hash.as_str()).is_some());
        assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
        assert_eq!(client.id.as_str().len(), CLIENT_ID_CHARS);
        assert_eq!(client.id_token_alg, Algorithm::RS256);
        assert_eq!(client.created_at, client.updated_at);
        assert!(client.secret_rotated_at.is_none());
    }

    #[test]
    fn only_the_right_secret_verifies() {
        let (client, secret) =
            OAuthClient::register(ClientKind::Confidential, web_app(), Utc::now()).unwrap();
        let secret = secret.unwrap();
        assert!(client.verify_secret(secret.expose()));
        let other = ClientSecret::generate();
        assert!(!client.verify_secret(other.expose()));
        // One character off, or the right body without its prefix.
        let mut tampered = secret.expose().to_owned();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(!client.verify_secret(&tampered));
        assert!(!client.verify_secret(&secret.expose()[4..]));
        assert!(!client.verify_secret(""));
        assert!(!client.verify_secret(client.secret_hash.as_ref().unwrap().as_str()));
    }

    #[test]
    fn stored_hashes_must_be_lowercase_hex_sha256() {
        assert!(ClientSecretHash::from_stored(&"a".repeat(64)).is_some());
        assert!(ClientSecretHash::from_stored(&"A".repeat(64)).is_none());
        assert!(ClientSecretHash::from_stored(&"a".repeat(63)).is_none());
        assert!(ClientSecretHash::from_stored("").is_none());
    }

    #[test]
    fn a_public_client_has_no_secret_and_no_client_credentials() {
        let (client, secret) =
            OAuthClient::register(ClientKind::Public, web_app(), Utc::now()).unwrap();
        assert!(secret.is_none());
        assert!(client.secret_hash.is_none());
        assert!(!client.verify_secret(ClientSecret::generate().expose()));

        let mut service = web_app();
        service.grant_types = vec![GrantType::ClientCredentials];
        let err = refused(ClientKind::Public, service.clone());
        assert_eq!(err.field, "grant_types");
        let (client, _) =
            OAuthClient::register(ClientKind::Confidential, service, Utc::now()).unwrap();
        assert!(client.allows_grant(GrantType::ClientCredentials));
        assert!(!client.allows_grant(GrantType::AuthorizationCode));
    }

    #[test]
    fn grants_must_fit_together() {
        let mut none = web_app();
        none.grant_types.clear();
        assert_eq!(refused(ClientKind::Confidential, none).field, "grant_types");

        let mut refresh_alone = web_app();
        refresh_alone.grant_types = vec![GrantType::RefreshToken, GrantType::ClientCredentials];
        assert_eq!(
            refused(ClientKind::Confidential, refresh_alone).field,
            "grant_types"
        );

        let mut nowhere_to_return = web_app();
        nowhere_to_return.redirect_uris.clear();
        assert_eq!(
            refused(ClientKind::Public, nowhere_to_return).field,
            "redirect_uris"
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        let mut padded = web_app();
        padded.name = "  Tickets  ".into();
        let (client, _) = OAuthClient::register(ClientKind::Public, padded, Utc::now()).unwrap();
        assert_eq!(client.name, "Tickets");
        for bad in ["", "   ", "Tick\nets", &"n".repeat(101)] {
            let mut settings = web_app();
            settings.name = bad.into();
            assert_eq!(
                refused(ClientKind::Public, settings).field,
                "name",
                "{bad:?}"
            );
        }
        let mut longest = web_app();
        longest.name = "\u{e9}".repeat(100);
        assert!(OAuthClient::register(ClientKind::Public, longest, Utc::now()).is_ok());
    }

    #[test]
    fn lists_are_checked_bounded_and_deduplicated() {
        let mut settings = web_app();
        settings
            .redirect_uris
            .push("https://tickets.example.com/cb".into());
        settings.scopes.push("openid".into());
        settings.grant_types.push(GrantType::AuthorizationCode);
        settings.post_logout_redirect_uris = vec!["https://tickets.example.com/bye".into()];
        let (client, _) = OAuthClient::register(ClientKind::Public, settings, Utc::now()).unwrap();
        assert_eq!(client.redirect_uris.len(), 1);
        assert_eq!(client.post_logout_redirect_uris.len(), 1);
        assert_eq!(
            client.scopes.iter().map(Scope::as_str).collect::<Vec<_>>(),
            ["openid", "tickets:read"]
        );
        assert_eq!(
            client.grant_types,
            [GrantType::AuthorizationCode, GrantType::RefreshToken]
        );

        let mut bad_logout = web_app();
        bad_logout.post_logout_redirect_uris = vec!["http://example.com/bye".into()];
        assert_eq!(
            refused(ClientKind::Public, bad_logout).field,
            "post_logout_redirect_uris"
        );
        let mut bad_scope = web_app();
        bad_scope.scopes.push("read write".into());
        assert_eq!(refused(ClientKind::Public, bad_scope).field, "scopes");
        let mut too_many = web_app();
        too_many.redirect_uris = (0..21)
            .map(|i| format!("https://tickets.example.com/cb{i}"))
            .collect();
        assert_eq!(refused(ClientKind::Public, too_many).field, "redirect_uris");
        let mut too_many = web_app();
        too_many.scopes = (0..51).map(|i| format!("s{i}")).collect();
        assert_eq!(refused(ClientKind::Public, too_many).field, "scopes");
    }

    #[test]
    fn new_settings_are_checked_and_keep_id_kind_and_secret() {
        let created = Utc::now();
        let (client, secret) =
            OAuthClient::register(ClientKind::Confidential, web_app(), created).unwrap();
        let later = created + chrono::Duration::minutes(5);
        let mut settings = client.settings();
        assert_eq!(settings.name, "Tickets");
        settings.name = "Tickets v2".into();
        settings.first_party = true;
        settings.id_token_alg = Algorithm::EdDSA;
        settings.grant_types.push(GrantType::ClientCredentials);
        let updated = client.with_settings(settings, later).unwrap();
        assert_eq!(updated.id, client.id);
        assert_eq!(updated.kind, ClientKind::Confidential);
        assert_eq!(updated.name, "Tickets v2");
        assert!(updated.first_party);
        assert_eq!(updated.id_token_alg, Algorithm::EdDSA);
        assert_eq!((updated.created_at, updated.updated_at), (created, later));
        assert!(updated.verify_secret(secret.unwrap().expose()));

        let mut broken = client.settings();
        broken.redirect_uris = vec!["http://example.com/cb".into()];
        assert_eq!(
            client.with_settings(broken, later).unwrap_err().field,
            "redirect_uris"
        );
    }

    #[test]
    fn kinds_and_grants_round_trip_their_names() {
        for kind in [ClientKind::Public, ClientKind::Confidential] {
            assert_eq!(ClientKind::parse(kind.as_str()), Some(kind));
        }
        for grant in [
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ] {
            assert_eq!(GrantType::parse(grant.as_str()), Some(grant));
        }
        assert_eq!(GrantType::parse("password"), None);
        assert_eq!(GrantType::parse("implicit"), None);
        assert_eq!(ClientKind::parse("Public"), None);
    }
}
