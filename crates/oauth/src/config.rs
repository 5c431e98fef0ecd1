//! A provider's configuration, its defaults per kind and its static check
//! (`warden config check` runs it without any network call).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::Deserialize;

use crate::Secret;

/// Which provider this is, which decides the quirks applied to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Google (OIDC; `hd` is the Workspace domain).
    Google,
    /// GitHub (plain OAuth 2.0; the profile comes from its REST API).
    Github,
    /// Microsoft Entra ID / personal accounts (OIDC, multi-tenant issuer).
    Microsoft,
    /// Sign in with Apple (OIDC, JWT client secret, `form_post`).
    Apple,
    /// GitLab.com or self-hosted GitLab (plain OIDC).
    Gitlab,
    /// Any OpenID Connect provider, found by discovery.
    Oidc,
}

impl ProviderKind {
    /// The configuration spelling: `google`, `github`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Github => "github",
            Self::Microsoft => "microsoft",
            Self::Apple => "apple",
            Self::Gitlab => "gitlab",
            Self::Oidc => "oidc",
        }
    }

    /// Whether sign-in ends with an ID token (every kind but GitHub).
    pub fn is_oidc(self) -> bool {
        self != Self::Github
    }

    /// The issuer used when none is configured; `None` for `oidc`.
    fn default_issuer(self) -> Option<&'static str> {
        match self {
            Self::Google => Some("https://accounts.google.com"),
            Self::Github => Some("https://github.com"),
            Self::Apple => Some("https://appleid.apple.com"),
            Self::Gitlab => Some("https://gitlab.com"),
            // Built from the tenant, see `ProviderConfig::issuer`.
            Self::Microsoft | Self::Oidc => None,
        }
    }

    fn default_scopes(self) -> &'static [&'static str] {
        match self {
            Self::Github => &["read:user", "user:email"],
            Self::Apple => &["openid", "email", "name"],
            _ => &["openid", "email", "profile"],
        }
    }

    /// Whether the kind only works as a confidential client. Apple's secret
    /// is its key; `gitlab` and `oidc` may be public clients with PKCE.
    fn needs_client_secret(self) -> bool {
        matches!(self, Self::Google | Self::Github | Self::Microsoft)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProviderKind {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "google" => Self::Google,
            "github" => Self::Github,
            "microsoft" => Self::Microsoft,
            "apple" => Self::Apple,
            "gitlab" => Self::Gitlab,
            "oidc" => Self::Oidc,
            _ => return Err(ConfigError::UnknownKind(s.chars().take(32).collect())),
        })
    }
}

/// When to use PKCE (RFC 7636, S256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PkceMode {
    /// When discovery lists `S256` in `code_challenge_methods_supported`
    /// (GitHub: always, it supports S256).
    #[default]
    Auto,
    /// Always, whatever discovery says.
    Always,
    /// Never: for a provider that rejects the parameters.
    Never,
}

/// Sign in with Apple's signing key, from which each request's client secret
/// (an ES256 JWT) is made.
#[derive(Debug, Clone)]
pub struct AppleKey {
    /// The Apple developer team id (the JWT's `iss`).
    pub team_id: String,
    /// The key's id in the developer account (the JWT's `kid`).
    pub key_id: String,
    /// The `.p8` file's contents: a PKCS#8 PEM P-256 private key.
    pub private_key_pem: Secret,
}

/// One `[[oauth.provider]]`.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// The path segment (`/v1/oauth/{id}/start`); unique; a slug.
    pub id: String,
    /// Which provider's rules apply.
    pub kind: ProviderKind,
    /// The button's text.
    pub label: String,
    /// Our client id at the provider.
    pub client_id: String,
    /// Our client secret (not for Apple, whose secret is made from `apple`).
    pub client_secret: Option<Secret>,
    /// Required for `oidc`; overrides the default issuer of every other kind
    /// (self-hosted GitLab; tests pointing a kind at a local server). For
    /// GitHub it is the base of the authorize and token URLs.
    pub issuer: Option<String>,
    /// `None`: the kind's defaults.
    pub scopes: Option<Vec<String>>,
    /// When to use PKCE.
    pub pkce: PkceMode,
    /// Microsoft only: `common` (default), `organizations`, `consumers` or
    /// a tenant id.
    pub tenant: Option<String>,
    /// Apple only: the key that signs the client secret.
    pub apple: Option<AppleKey>,
    /// GitHub only: overrides `https://api.github.com` (tests).
    pub api_base: Option<String>,
}

impl ProviderConfig {
    /// Checks what can be checked without the network: the id is a
    /// path-safe slug, each field is allowed for the kind, secrets are
    /// present where the kind needs them, the Apple key is a usable ES256
    /// key, URLs are https (or http on a loopback address).
    pub fn check(&self) -> Result<(), ConfigError> {
        if !is_slug(&self.id, |b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return Err(ConfigError::InvalidId(self.id.chars().take(64).collect()));
        }
        let id = &self.id;
        for (field, value) in [("label", &self.label), ("client_id", &self.client_id)] {
            if value.trim().is_empty() {
                return Err(ConfigError::Missing {
                    id: id.clone(),
                    field,
                });
            }
        }
        self.check_kind_fields()?;
        self.check_secret()?;
        if self.kind == ProviderKind::Oidc && self.issuer.is_none() {
            return Err(ConfigError::Missing {
                id: id.clone(),
                field: "issuer",
            });
        }
        for (field, url) in [("issuer", &self.issuer), ("api_base", &self.api_base)] {
            if let Some(url) = url {
                check_url(id, field, url)?;
            }
        }
        self.check_scopes()
    }

    fn check_kind_fields(&self) -> Result<(), ConfigError> {
        let misplaced = [
            ("tenant", self.tenant.is_some(), ProviderKind::Microsoft),
            ("apple", self.apple.is_some(), ProviderKind::Apple),
            ("api_base", self.api_base.is_some(), ProviderKind::Github),
        ];
        for (field, is_set, only_for) in misplaced {
            if is_set && self.kind != only_for {
                return Err(ConfigError::NotForKind {
                    id: self.id.clone(),
                    field,
                    kind: self.kind,
                });
            }
        }
        if let Some(tenant) = &self.tenant {
            let tenant_char = |b: u8| b.is_ascii_alphanumeric() || b == b'.';
            if !is_slug(tenant, tenant_char) {
                return Err(ConfigError::Invalid {
                    id: self.id.clone(),
                    field: "tenant",
                });
            }
        }
        Ok(())
    }

    fn check_secret(&self) -> Result<(), ConfigError> {
        let id = &self.id;
        let has_secret = self
            .client_secret
            .as_ref()
            .is_some_and(|s| !s.expose().is_empty());
        if self.kind == ProviderKind::Apple {
            if self.client_secret.is_some() {
                return Err(ConfigError::NotForKind {
                    id: id.clone(),
                    field: "client_secret",
                    kind: self.kind,
                });
            }
            let key = self.apple.as_ref().ok_or_else(|| ConfigError::Missing {
                id: id.clone(),
                field: "apple",
            })?;
            for (field, value) in [("team_id", &key.team_id), ("key_id", &key.key_id)] {
                if value.trim().is_empty() {
                    return Err(ConfigError::Missing {
                        id: id.clone(),
                        field,
                    });
                }
            }
            // Signing once proves the PEM is a P-256 key, not just PEM.
            crate::apple::client_secret(key, &self.client_id, chrono::DateTime::UNIX_EPOCH)
                .map_err(|_| ConfigError::Invalid {
                    id: id.clone(),
                    field: "apple.private_key",
                })?;
        } else if !has_secret && (self.kind.needs_client_secret() || self.pkce == PkceMode::Never) {
            return Err(ConfigError::Missing {
                id: id.clone(),
                field: "client_secret",
            });
        }
        Ok(())
    }

    fn check_scopes(&self) -> Result<(), ConfigError> {
        let Some(scopes) = &self.scopes else {
            return Ok(());
        };
        let is_token = |s: &String| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
        let has_openid = scopes.iter().any(|s| s == "openid");
        if scopes.is_empty() || !scopes.iter().all(is_token) || (self.kind.is_oidc() && !has_openid)
        {
            return Err(ConfigError::Invalid {
                id: self.id.clone(),
                field: "scopes",
            });
        }
        Ok(())
    }

    /// The issuer: configured, or the kind's default (Microsoft's from the
    /// tenant). `None` only for an `oidc` provider without one, which
    /// [`check`](Self::check) refuses.
    pub(crate) fn issuer(&self) -> Option<String> {
        let configured = self.issuer.as_deref().or(self.kind.default_issuer());
        let issuer = match (configured, self.kind) {
            (Some(issuer), _) => issuer.to_owned(),
            (None, ProviderKind::Microsoft) => format!(
                "https://login.microsoftonline.com/{}/v2.0",
                self.tenant.as_deref().unwrap_or("common")
            ),
            (None, _) => return None,
        };
        // Discovery and the `iss` comparison both want it without the slash.
        Some(issuer.trim_end_matches('/').to_owned())
    }

    /// The scopes requested, space-separated.
    pub(crate) fn scope(&self) -> String {
        match &self.scopes {
            Some(scopes) => scopes.join(" "),
            None => self.kind.default_scopes().join(" "),
        }
    }
}

/// A slug: 1 to 64 allowed bytes, `-` and `_` inside, starting and ending
/// with an allowed one.
fn is_slug(value: &str, allowed: impl Fn(u8) -> bool) -> bool {
    let bytes = value.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    bytes.len() <= 64
        && allowed(first)
        && allowed(last)
        && bytes.iter().all(|&b| allowed(b) || b == b'-' || b == b'_')
}

/// https, or http to a loopback address (tests, a local IdP); never a query
/// or fragment, which the endpoint paths are appended after.
pub(crate) fn is_allowed_url(url: &str) -> bool {
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return false;
    };
    let is_loopback = match parsed.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    };
    let scheme_ok = parsed.scheme() == "https" || (parsed.scheme() == "http" && is_loopback);
    scheme_ok
        && parsed.host_str().is_some()
        && parsed.query().is_none()
        && parsed.fragment().is_none()
}

fn check_url(id: &str, field: &'static str, url: &str) -> Result<(), ConfigError> {
    if is_allowed_url(url) {
        Ok(())
    } else {
        Err(ConfigError::InsecureUrl {
            id: id.to_owned(),
            field,
            url: url.to_owned(),
        })
    }
}

/// A provider configuration that cannot work; each names the provider and
/// the field, never a secret's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The id is not a slug (`a-z`, `0-9`, `-`, `_`; at most 64).
    #[error("oauth provider id {0:?} is not a slug (a-z, 0-9, '-', '_'; at most 64 characters)")]
    InvalidId(String),
    /// The kind is not one we know.
    #[error("unknown oauth provider kind {0:?} (google, github, microsoft, apple, gitlab, oidc)")]
    UnknownKind(String),
    /// A field the kind needs is absent or empty.
    #[error("oauth provider {id}: {field} is required")]
    Missing {
        /// The provider id.
        id: String,
        /// The field.
        field: &'static str,
    },
    /// A field is set that this kind does not use.
    #[error("oauth provider {id}: {field} does not apply to kind {kind}")]
    NotForKind {
        /// The provider id.
        id: String,
        /// The field.
        field: &'static str,
        /// The provider's kind.
        kind: ProviderKind,
    },
    /// A field's value is unusable.
    #[error("oauth provider {id}: {field} is invalid")]
    Invalid {
        /// The provider id.
        id: String,
        /// The field.
        field: &'static str,
    },
    /// A URL is not https (http only to a loopback address), or has a query.
    #[error(
        "oauth provider {id}: {field} {url:?} must be an https URL (http only on loopback) without query or fragment"
    )]
    InsecureUrl {
        /// The provider id.
        id: String,
        /// The field.
        field: &'static str,
        /// The URL as configured.
        url: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn google() -> ProviderConfig {
        ProviderConfig {
            id: "google".into(),
            kind: ProviderKind::Google,
            label: "Google".into(),
            client_id: "id".into(),
            client_secret: Some(Secret::new("secret")),
            issuer: None,
            scopes: None,
            pkce: PkceMode::Auto,
            tenant: None,
            apple: None,
            api_base: None,
        }
    }

    fn apple(pem: &str) -> ProviderConfig {
        ProviderConfig {
            id: "apple".into(),
            kind: ProviderKind::Apple,
            client_secret: None,
            apple: Some(AppleKey {
                team_id: "TEAM".into(),
                key_id: "KEY".into(),
                private_key_pem: Secret::new(pem),
            }),
            ..google()
        }
    }

    fn field_of(error: ConfigError) -> &'static str {
        match error {
            ConfigError::Missing { field, .. }
            | ConfigError::NotForKind { field, .. }
            | ConfigError::Invalid { field, .. }
            | ConfigError::InsecureUrl { field, .. } => field,
            ConfigError::InvalidId(_) => "id",
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_complete_configuration_passes() {
        assert_eq!(google().check(), Ok(()));
        let loopback = ProviderConfig {
            issuer: Some("http://127.0.0.1:8080".into()),
            ..google()
        };
        assert_eq!(loopback.check(), Ok(()));
    }

    #[test]
    fn the_id_must_be_a_path_safe_slug() {
        for id in ["", "Google", "a/b", "..", "-x", "a b", &"x".repeat(65)] {
            let config = ProviderConfig {
                id: id.to_owned(),
                ..google()
            };
            assert_eq!(config.check().map_err(field_of), Err("id"), "{id:?}");
        }
        let config = ProviderConfig {
            id: "corp-sso_2".into(),
            ..google()
        };
        assert_eq!(config.check(), Ok(()));
    }

    #[test]
    fn oidc_needs_an_issuer_and_issuers_need_https() {
        let oidc = ProviderConfig {
            kind: ProviderKind::Oidc,
            ..google()
        };
        assert_eq!(oidc.check().map_err(field_of), Err("issuer"));
        for url in [
            "http://idp.example",
            "ftp://idp.example",
            "https://idp.example?x=1",
            "not a url",
        ] {
            let config = ProviderConfig {
                issuer: Some(url.into()),
                ..oidc.clone()
            };
            assert_eq!(config.check().map_err(field_of), Err("issuer"), "{url}");
        }
    }

    #[test]
    fn secrets_are_required_where_the_kind_needs_them() {
        let no_secret = ProviderConfig {
            client_secret: None,
            ..google()
        };
        assert_eq!(no_secret.check().map_err(field_of), Err("client_secret"));
        let public_gitlab = ProviderConfig {
            kind: ProviderKind::Gitlab,
            ..no_secret.clone()
        };
        assert_eq!(public_gitlab.check(), Ok(()), "a public client with PKCE");
        let unprotected = ProviderConfig {
            pkce: PkceMode::Never,
            ..public_gitlab
        };
        assert_eq!(unprotected.check().map_err(field_of), Err("client_secret"));
    }

    #[test]
    fn fields_of_other_kinds_are_refused() {
        let tenant = ProviderConfig {
            tenant: Some("common".into()),
            ..google()
        };
        assert_eq!(tenant.check().map_err(field_of), Err("tenant"));
        let api = ProviderConfig {
            api_base: Some("https://api.example".into()),
            ..google()
        };
        assert_eq!(api.check().map_err(field_of), Err("api_base"));
        let microsoft = ProviderConfig {
            kind: ProviderKind::Microsoft,
            tenant: Some("a/b".into()),
            ..google()
        };
        assert_eq!(microsoft.check().map_err(field_of), Err("tenant"));
    }

    #[test]
    fn apple_needs_a_usable_es256_key() {
        use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
        let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_eq!(apple(&pem).check(), Ok(()));
        let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            apple(garbage).check().map_err(field_of),
            Err("apple.private_key")
        );
        let no_key = ProviderConfig {
            apple: None,
            ..apple(&pem)
        };
        assert_eq!(no_key.check().map_err(field_of), Err("apple"));
        let with_secret = ProviderConfig {
            client_secret: Some(Secret::new("s")),
            ..apple(&pem)
        };
        assert_eq!(with_secret.check().map_err(field_of), Err("client_secret"));
    }

    #[test]
    fn oidc_scopes_must_include_openid() {
        let config = ProviderConfig {
            scopes: Some(vec!["email".into()]),
            ..google()
        };
        assert_eq!(config.check().map_err(field_of), Err("scopes"));
    }

    #[test]
    fn kinds_parse_from_their_configuration_names() {
        for kind in ["google", "github", "microsoft", "apple", "gitlab", "oidc"] {
            assert_eq!(
                kind.parse::<ProviderKind>().map(ProviderKind::as_str),
                Ok(kind)
            );
        }
        assert!("facebook".parse::<ProviderKind>().is_err());
        let parsed: PkceMode = serde_json::from_str("\"always\"").unwrap();
        assert_eq!(parsed, PkceMode::Always);
    }

    #[test]
    fn errors_never_show_a_secret() {
        let secret = "super-secret-value";
        let config = ProviderConfig {
            client_secret: Some(Secret::new(secret)),
            ..google()
        };
        assert!(!format!("{config:?}").contains(secret));
    }
}
