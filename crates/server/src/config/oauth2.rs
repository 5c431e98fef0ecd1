//! `[oauth2]`: Warden as an OAuth 2.0 / OpenID Connect provider
//! (front-door contract, section 7). The clients themselves are data
//! (`warden client add`, `/v1/admin/clients`), not configuration.

use serde::{Deserialize, Serialize};

/// `[oauth2]`. Plain values, read as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuth2Section {
    /// Whether every authorization request must carry a PKCE S256
    /// challenge, confidential clients' too (OAuth 2.0 Security BCP).
    /// Public clients need one whatever this says.
    pub require_pkce: bool,
}

impl Default for OAuth2Section {
    fn default() -> Self {
        Self { require_pkce: true }
    }
}
