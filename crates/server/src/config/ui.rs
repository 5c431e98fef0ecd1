//! `[ui]`: the hosted pages' (and mail's) branding: product name, logo,
//! accent colour, and a directory of templates that replace the built-in
//! ones. Values are checked by `warden_pages::Branding`, so a colour or
//! URL can never inject CSS or markup.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use warden_pages::{AccentColor, Branding};

/// `[ui]`, parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UiSection {
    /// The branding the pages are built with.
    pub branding: Branding,
}

/// `[ui]` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawUi {
    product_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    logo_url: Option<String>,
    accent_color: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    templates_dir: Option<PathBuf>,
}

impl Default for RawUi {
    fn default() -> Self {
        (&UiSection::default()).into()
    }
}

impl From<&UiSection> for RawUi {
    fn from(ui: &UiSection) -> Self {
        Self {
            product_name: ui.branding.product_name.clone(),
            logo_url: ui.branding.logo_url.clone(),
            accent_color: ui.branding.accent_color.css(),
            templates_dir: ui.branding.templates_dir.clone(),
        }
    }
}

impl TryFrom<RawUi> for UiSection {
    type Error = anyhow::Error;

    fn try_from(raw: RawUi) -> anyhow::Result<Self> {
        let logo_url = raw
            .logo_url
            .as_deref()
            .filter(|url| !url.trim().is_empty())
            .map(Branding::parse_logo_url)
            .transpose()?;
        if let Some(dir) = &raw.templates_dir
            && !dir.is_dir()
        {
            anyhow::bail!("ui.templates_dir {} is not a directory", dir.display());
        }
        Ok(Self {
            branding: Branding {
                product_name: Branding::parse_product_name(&raw.product_name)?,
                logo_url,
                accent_color: AccentColor::parse(&raw.accent_color)?,
                templates_dir: raw.templates_dir,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::test_env as env;
    use crate::config::{Config, Overrides};

    #[test]
    fn branding_comes_from_the_environment_and_bad_values_are_refused() {
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_UI_PRODUCT_NAME", "Acme"),
                ("WARDEN_UI_ACCENT_COLOR", "#0A7"),
                ("WARDEN_UI_LOGO_URL", "https://cdn.example.com/logo.svg"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        let branding = &config.ui.branding;
        assert_eq!(branding.product_name, "Acme");
        assert_eq!(branding.accent_color.css(), "#00aa77");
        assert_eq!(
            branding.logo_url.as_deref(),
            Some("https://cdn.example.com/logo.svg")
        );
        for (k, v) in [
            ("WARDEN_UI_ACCENT_COLOR", "red; } body { display:none"),
            ("WARDEN_UI_LOGO_URL", "javascript:alert(1)"),
            ("WARDEN_UI_PRODUCT_NAME", ""),
            ("WARDEN_UI_TEMPLATES_DIR", "/does/not/exist"),
        ] {
            assert!(
                Config::load(None, &env(&[(k, v)]), &Overrides::default()).is_err(),
                "{k}={v}"
            );
        }
    }
}
