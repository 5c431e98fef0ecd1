//! `[webauthn]`: where passkeys are bound and used (front-door contract,
//! section 5).

use serde::{Deserialize, Serialize};

/// `[webauthn]`. Unset values follow `public_url` (see
/// [`super::Config::webauthn`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebauthnSection {
    /// The relying party id: the domain passkeys are bound to, the host of
    /// `public_url` or a parent domain of it (`example.com` for pages at
    /// `auth.example.com` lets `app.example.com` use them too). A passkey
    /// works only under the id it was registered for: changing it later
    /// strands every registered passkey.
    pub rp_id: Option<String>,
    /// The name authenticators show; default `[ui] product_name`.
    pub rp_name: Option<String>,
    /// Origins whose pages run the ceremonies; default the origin of
    /// `public_url`.
    pub origins: Vec<String>,
}
