//! What the sign-in, sign-up and account pages show of social sign-in:
//! a button per provider, and the message for a flow that came back with
//! `?error=`.

use serde::Serialize;

use super::Errors;
use crate::PageState;
use crate::catalogue::Catalogue;
use crate::form::Form;

/// One "Continue with ..." button: a plain link, so it works without
/// JavaScript.
#[derive(Debug, Clone, Serialize)]
pub struct ProviderButton {
    /// The provider's id.
    pub id: String,
    /// Its label.
    pub label: String,
    /// The start of its flow.
    pub href: String,
}

/// The codes a flow may come back with (the contract's), each with a message.
const CODES: &[&str] = &[
    "state_mismatch",
    "provider_error",
    "email_not_verified_by_provider",
    "account_exists",
    "sign_up_disabled",
    "account_banned",
    "identity_taken",
    "mfa_required",
    "server_error",
];

/// The field id the social error is shown at (the buttons' section).
pub const FIELD: &str = "social";

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A button per provider, each starting a flow of `intent` that ends at
/// `redirect_to`.
pub fn buttons(state: &PageState, intent: &str, redirect_to: &str) -> Vec<ProviderButton> {
    let base = &state.pages.base;
    state
        .app
        .config
        .social
        .providers
        .iter()
        .map(|p| ProviderButton {
            id: p.id().to_owned(),
            label: p.label().to_owned(),
            href: format!(
                "{base}/v1/oauth/{}/start?intent={intent}&redirect_to={}",
                encode(p.id()),
                encode(redirect_to)
            ),
        })
        .collect()
}

/// The error a flow came back with, as the page's error at [`FIELD`]; an
/// unknown code shows nothing (the URL is anyone's to write).
pub fn flow_error(query: &Form, catalogue: &Catalogue) -> Option<Errors> {
    let code = query.get("error")?;
    CODES
        .contains(&code)
        .then(|| Errors::one(FIELD, catalogue.text(&format!("social_errors.{code}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_the_api_redirects_with_has_a_message() {
        for code in warden_http::metrics::SOCIAL_OUTCOMES {
            assert!(*code == "success" || CODES.contains(code), "{code}");
        }
    }
}
