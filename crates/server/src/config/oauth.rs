//! `[oauth]` and `[[oauth.provider]]`: social sign-in (front-door
//! contract, section 4). Each provider block is checked here, statically
//! (kinds, ids, issuers, secrets, Apple's key); that its discovery answers
//! is checked when `serve` starts.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use warden_oauth::{AppleKey, PkceMode, ProviderConfig, ProviderKind};

use super::Secret;

/// `[oauth]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthSection {
    /// Link an unknown identity to the account whose verified address the
    /// provider asserts (verified by the provider too).
    pub auto_link_verified_email: bool,
    /// The providers, in the order the pages show them.
    pub provider: Vec<ProviderSection>,
}

impl Default for OAuthSection {
    fn default() -> Self {
        Self {
            auto_link_verified_email: true,
            provider: Vec::new(),
        }
    }
}

/// One `[[oauth.provider]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderSection {
    /// The path segment and the `provider` of its identities; unique.
    pub id: String,
    /// `google`, `github`, `microsoft`, `apple`, `gitlab` or `oidc`.
    pub kind: String,
    /// The button's text; default the kind's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The client id registered at the provider.
    pub client_id: String,
    /// The client secret (or `client_secret_file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// A file holding the client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_file: Option<PathBuf>,
    /// The issuer (`oidc`, self-hosted `gitlab`; an override for the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Scopes; default per kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// `auto` (when discovery lists S256), `always` or `never`.
    #[serde(default = "pkce_auto")]
    pub pkce: String,
    /// Whether a person without an account gets one through it.
    #[serde(default = "yes")]
    pub allow_sign_up: bool,
    /// Microsoft: `common`, `organizations`, `consumers` or a tenant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Apple: the team id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// Apple: the key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
    /// Apple: the `.p8` private key (PEM) the client secret is signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_file: Option<PathBuf>,
    /// GitHub: the API's base URL (GitHub Enterprise; tests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    /// Apple's key, read from `private_key_file`.
    #[serde(skip)]
    pub private_key: Option<Secret>,
}

fn pkce_auto() -> String {
    "auto".to_owned()
}

fn yes() -> bool {
    true
}

impl OAuthSection {
    /// Reads `client_secret_file` and `private_key_file` of every provider.
    pub(super) fn read_secret_files(&mut self) -> anyhow::Result<()> {
        for provider in &mut self.provider {
            let read = |path: &PathBuf, key: &str| {
                std::fs::read_to_string(path).with_context(|| {
                    format!(
                        "reading oauth.provider `{}` {key} {}",
                        provider.id,
                        path.display()
                    )
                })
            };
            if let Some(path) = &provider.client_secret_file {
                let text = read(path, "client_secret_file")?;
                provider.client_secret = Some(Secret::new(text.trim()));
            }
            if let Some(path) = &provider.private_key_file {
                provider.private_key = Some(Secret::new(read(path, "private_key_file")?));
            }
        }
        Ok(())
    }

    /// Every provider block, checked; ids unique.
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        let mut seen = std::collections::BTreeSet::new();
        for provider in &self.provider {
            if !seen.insert(provider.id.as_str()) {
                bail!("oauth.provider: the id `{}` is used twice", provider.id);
            }
            let config = provider.to_config()?;
            config
                .check()
                .map_err(|e| anyhow::anyhow!("oauth.provider `{}`: {e}", provider.id))?;
        }
        Ok(())
    }
}

impl ProviderSection {
    /// The client's configuration.
    pub fn to_config(&self) -> anyhow::Result<ProviderConfig> {
        let kind: ProviderKind = self.kind.parse().map_err(|_| {
            anyhow::anyhow!(
                "oauth.provider `{}`: kind must be google, github, microsoft, apple, gitlab or oidc",
                self.id
            )
        })?;
        let pkce = match self.pkce.as_str() {
            "auto" => PkceMode::Auto,
            "always" => PkceMode::Always,
            "never" => PkceMode::Never,
            _ => bail!(
                "oauth.provider `{}`: pkce must be auto, always or never",
                self.id
            ),
        };
        let apple = match (&self.team_id, &self.key_id, &self.private_key) {
            (Some(team_id), Some(key_id), Some(pem)) => Some(AppleKey {
                team_id: team_id.clone(),
                key_id: key_id.clone(),
                private_key_pem: warden_oauth::Secret::new(pem.expose()),
            }),
            _ => None,
        };
        Ok(ProviderConfig {
            id: self.id.clone(),
            kind,
            label: self
                .label
                .clone()
                .unwrap_or_else(|| default_label(kind).to_owned()),
            client_id: self.client_id.clone(),
            client_secret: self
                .client_secret
                .as_ref()
                .map(|s| warden_oauth::Secret::new(s.expose())),
            issuer: self.issuer.clone(),
            scopes: self.scopes.clone(),
            pkce,
            tenant: self.tenant.clone(),
            apple,
            api_base: self.api_base.clone(),
        })
    }
}

/// The button's text when `label` is not set.
fn default_label(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::Google => "Google",
        ProviderKind::Github => "GitHub",
        ProviderKind::Microsoft => "Microsoft",
        ProviderKind::Apple => "Apple",
        ProviderKind::Gitlab => "GitLab",
        ProviderKind::Oidc => "Single sign-on",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn google() -> ProviderSection {
        ProviderSection {
            id: "google".into(),
            kind: "google".into(),
            label: None,
            client_id: "client".into(),
            client_secret: Some(Secret::new("s3cret-value")),
            client_secret_file: None,
            issuer: None,
            scopes: None,
            pkce: pkce_auto(),
            allow_sign_up: true,
            tenant: None,
            team_id: None,
            key_id: None,
            private_key_file: None,
            api_base: None,
            private_key: None,
        }
    }

    #[test]
    fn a_google_block_becomes_a_client_configuration() {
        let config = google().to_config().unwrap();
        assert_eq!(config.kind, ProviderKind::Google);
        assert_eq!(config.label, "Google");
        assert_eq!(
            config.client_secret.as_ref().map(|s| s.expose()),
            Some("s3cret-value")
        );
        let section = OAuthSection {
            provider: vec![google()],
            ..OAuthSection::default()
        };
        section.validate().unwrap();
    }

    #[test]
    fn bad_blocks_are_refused_by_name() {
        let twice = OAuthSection {
            provider: vec![google(), google()],
            ..OAuthSection::default()
        };
        assert!(
            twice
                .validate()
                .unwrap_err()
                .to_string()
                .contains("used twice")
        );
        let mut odd = google();
        odd.kind = "myspace".into();
        assert!(
            odd.to_config()
                .unwrap_err()
                .to_string()
                .contains("kind must be")
        );
        let mut pkce = google();
        pkce.pkce = "sometimes".into();
        assert!(pkce.to_config().unwrap_err().to_string().contains("pkce"));
        let mut oidc = google();
        oidc.kind = "oidc".into();
        let section = OAuthSection {
            provider: vec![oidc],
            ..OAuthSection::default()
        };
        let err = section.validate().unwrap_err().to_string();
        assert!(err.contains("oauth.provider `google`"), "{err}");
    }

    #[test]
    fn the_secret_file_is_read_and_never_shown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("google");
        std::fs::write(&path, "from-file-secret\n").unwrap();
        let mut section = OAuthSection {
            provider: vec![ProviderSection {
                client_secret: None,
                client_secret_file: Some(path),
                ..google()
            }],
            ..OAuthSection::default()
        };
        section.read_secret_files().unwrap();
        assert_eq!(
            section.provider[0]
                .client_secret
                .as_ref()
                .map(Secret::expose),
            Some("from-file-secret")
        );
        assert!(!format!("{section:?}").contains("from-file-secret"));
        let shown = toml::to_string(&section).unwrap();
        assert!(!shown.contains("from-file-secret"), "{shown}");
    }
}
