//! Social sign-in wiring: each `[[oauth.provider]]` discovered at start and
//! put behind the domain's [`SocialProvider`] port, and the flow cookie's
//! key derived from the key-encryption key.

use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use warden_core::Email;
use warden_core::identity::{
    Assertion, AuthorizationRequest, IdentityKey, ProviderCallback, ProviderFailure,
};
use warden_core::ports::SocialProvider;
use warden_oauth::{Callback, Provider};

use crate::config::Config;

/// A provider of `warden-oauth` as the domain sees it.
pub struct OAuthProvider {
    inner: Provider,
    kind: &'static str,
    allow_sign_up: bool,
}

#[async_trait]
impl SocialProvider for OAuthProvider {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn label(&self) -> &str {
        self.inner.label()
    }

    fn kind(&self) -> &str {
        self.kind
    }

    fn allow_sign_up(&self) -> bool {
        self.allow_sign_up
    }

    fn uses_pkce(&self) -> bool {
        self.inner.uses_pkce()
    }

    fn uses_form_post(&self) -> bool {
        self.inner.uses_form_post()
    }

    fn authorization_url(&self, request: &AuthorizationRequest<'_>) -> String {
        self.inner
            .authorization_url(&warden_oauth::AuthorizationRequest {
                redirect_uri: request.redirect_uri,
                state: request.state,
                nonce: request.nonce,
                pkce_challenge: request.pkce_challenge,
            })
    }

    async fn finish(&self, callback: &ProviderCallback<'_>) -> Result<Assertion, ProviderFailure> {
        let profile = self
            .inner
            .finish(&Callback {
                code: callback.code,
                redirect_uri: callback.redirect_uri,
                nonce: callback.nonce,
                pkce_verifier: callback.pkce_verifier,
                now: chrono::Utc::now(),
            })
            .await
            .map_err(|e| ProviderFailure(e.to_string()))?;
        // An address Warden cannot use is as good as none: it can neither
        // find nor create an account.
        let email = profile.email.as_deref().and_then(|e| Email::parse(e).ok());
        Ok(Assertion {
            key: IdentityKey {
                provider: self.inner.id().to_owned(),
                issuer: profile.issuer,
                subject: profile.subject,
            },
            email_verified: profile.email_verified && email.is_some(),
            email,
        })
    }
}

/// The configured providers, each discovered now: a provider whose
/// discovery does not answer stops the start with its URL named.
pub async fn providers(config: &Config) -> anyhow::Result<Vec<Arc<dyn SocialProvider>>> {
    let http = reqwest::Client::builder()
        .user_agent(concat!("warden/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .context("building the OAuth HTTP client")?;
    let mut providers: Vec<Arc<dyn SocialProvider>> = Vec::new();
    for section in &config.oauth.provider {
        let client = section.to_config()?;
        let kind = kind_name(client.kind);
        let inner = Provider::discover(client, http.clone())
            .await
            .with_context(|| format!("oauth.provider `{}`", section.id))?;
        tracing::info!(provider = %section.id, kind, "social sign-in provider ready");
        providers.push(Arc::new(OAuthProvider {
            inner,
            kind,
            allow_sign_up: section.allow_sign_up,
        }));
    }
    Ok(providers)
}

fn kind_name(kind: warden_oauth::ProviderKind) -> &'static str {
    use warden_oauth::ProviderKind;
    match kind {
        ProviderKind::Google => "google",
        ProviderKind::Github => "github",
        ProviderKind::Microsoft => "microsoft",
        ProviderKind::Apple => "apple",
        ProviderKind::Gitlab => "gitlab",
        ProviderKind::Oidc => "oidc",
    }
}

/// The flow cookie's key: a one-way function of the key-encryption key
/// (every instance has the same one) under its own label, so it is no
/// other key Warden uses.
pub fn flow_key(kek: &[u8; 32]) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    let mut hasher = Sha256::new();
    hasher.update(b"warden/oauth-flow-cookie/v1\0");
    hasher.update(kek);
    hasher.finalize().into()
}
