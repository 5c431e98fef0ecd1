//! `[mfa]`: who must have a second factor (front-door contract, section 5).

use serde::{Deserialize, Serialize};

/// `[mfa]`. Plain values, read as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MfaSection {
    /// Holders of any of these roles must set up a second factor: until
    /// they have one, every call but `/v1/me`, `/v1/mfa/*`,
    /// `/v1/webauthn/register*` and sign-out answers 403
    /// `mfa_enrollment_required`.
    pub required_for_roles: Vec<String>,
}
