//! `[ui]`: branding shown to people. Only `product_name` lives here for
//! now (mail subjects and bodies); the hosted pages add their keys.

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// `[ui]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiSection {
    /// The name people see in mail and on pages.
    pub product_name: String,
}

impl Default for UiSection {
    fn default() -> Self {
        Self {
            product_name: "Warden".into(),
        }
    }
}

impl UiSection {
    /// One line of 1-64 printable characters: it goes into mail subjects
    /// and `From` names, where a newline would start a header.
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        let name = &self.product_name;
        if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control)
        {
            bail!("ui.product_name must be 1-64 characters on one line");
        }
        Ok(())
    }
}
