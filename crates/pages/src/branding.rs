//! `[ui]`: what the pages and mail show of the product: its name, logo and
//! accent colour, and where overriding templates live. Checked once here,
//! so a colour or URL can never inject CSS or markup.

use std::path::PathBuf;

/// The product's look, as configured in `[ui]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Branding {
    /// Shown in titles and headings (`[ui] product_name`).
    pub product_name: String,
    /// An `http(s)` URL or a path to an image shown above the forms.
    pub logo_url: Option<String>,
    /// Buttons, links and focus rings.
    pub accent_color: AccentColor,
    /// A directory whose `<name>.html` files replace the built-in templates.
    pub templates_dir: Option<PathBuf>,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            product_name: "Warden".into(),
            logo_url: None,
            accent_color: AccentColor::default(),
            templates_dir: None,
        }
    }
}

/// Why a `[ui]` value was refused; the message names the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BrandingError(String);

impl Branding {
    /// Checks a product name: 1 to 64 characters, no control characters.
    pub fn parse_product_name(name: &str) -> Result<String, BrandingError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return Err(BrandingError(
                "ui.product_name must be 1 to 64 characters without control characters".into(),
            ));
        }
        Ok(name.to_owned())
    }

    /// Checks a logo URL: `https://`/`http://` or a path on this host, with
    /// no quotes, spaces or control characters.
    pub fn parse_logo_url(url: &str) -> Result<String, BrandingError> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        let shape_ok = lower.starts_with("https://")
            || lower.starts_with("http://")
            || (url.starts_with('/') && !url.starts_with("//"));
        let chars_ok = !url.chars().any(|c| {
            c.is_control() || c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '\\')
        });
        if !(shape_ok && chars_ok) || url.len() > 2048 {
            return Err(BrandingError(
                "ui.logo_url must be an http(s) URL or a path starting with '/', without spaces or quotes".into(),
            ));
        }
        Ok(url.to_owned())
    }

    /// The logo's origin, which the page's CSP must allow for images.
    pub fn logo_origin(&self) -> Option<String> {
        let url = self.logo_url.as_deref()?;
        let (scheme, rest) = url.split_once("://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        Some(format!(
            "{}://{}",
            scheme.to_ascii_lowercase(),
            &rest[..end]
        ))
    }
}

/// A CSS colour `#rgb` or `#rrggbb`: nothing else reaches the stylesheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccentColor([u8; 3]);

impl Default for AccentColor {
    fn default() -> Self {
        // Indigo 600: 6.3:1 against white, for text on buttons and links.
        Self([0x4f, 0x46, 0xe5])
    }
}

impl AccentColor {
    /// Parses `#rgb` or `#rrggbb` (any case).
    pub fn parse(text: &str) -> Result<Self, BrandingError> {
        let refuse = || {
            BrandingError("ui.accent_color must be a colour like \"#4f46e5\" or \"#45e\"".into())
        };
        let hex = text.trim().strip_prefix('#').ok_or_else(refuse)?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(refuse());
        }
        let digit = |i: usize| u8::from_str_radix(&hex[i..=i], 16).map_err(|_| refuse());
        let pair = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| refuse());
        match hex.len() {
            3 => Ok(Self([digit(0)? * 17, digit(1)? * 17, digit(2)? * 17])),
            6 => Ok(Self([pair(0)?, pair(2)?, pair(4)?])),
            _ => Err(refuse()),
        }
    }

    /// `#rrggbb`.
    pub fn css(&self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0[0], self.0[1], self.0[2])
    }

    /// WCAG relative luminance.
    fn luminance(&self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.039_28 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(self.0[0]) + 0.7152 * channel(self.0[1]) + 0.0722 * channel(self.0[2])
    }

    /// The text colour to put on the accent: white or near-black, whichever
    /// contrasts more, so any configured accent keeps buttons readable.
    pub fn contrast_text(&self) -> &'static str {
        let l = self.luminance();
        let against_white = 1.05 / (l + 0.05);
        let against_black = (l + 0.05) / 0.05;
        if against_white >= against_black {
            "#ffffff"
        } else {
            "#111318"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accent_colours_are_hex_only() {
        assert_eq!(AccentColor::parse("#4F46E5").unwrap().css(), "#4f46e5");
        assert_eq!(AccentColor::parse("#45e").unwrap().css(), "#4455ee");
        for bad in [
            "red",
            "#12345",
            "#1234567",
            "4f46e5",
            "#4f46e5;} body{",
            "#ggg",
            "",
        ] {
            assert!(AccentColor::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_on_the_accent_stays_readable() {
        assert_eq!(
            AccentColor::parse("#4f46e5").unwrap().contrast_text(),
            "#ffffff"
        );
        assert_eq!(
            AccentColor::parse("#fde047").unwrap().contrast_text(),
            "#111318"
        );
    }

    #[test]
    fn logos_are_urls_or_paths_and_their_origin_is_known() {
        assert!(Branding::parse_logo_url("https://cdn.example.com/logo.svg").is_ok());
        assert!(Branding::parse_logo_url("/static/logo.png").is_ok());
        for bad in [
            "javascript:alert(1)",
            "//evil.example/x.png",
            "/a b.png",
            "/x\".png",
            "data:image/png;base64,AA",
        ] {
            assert!(Branding::parse_logo_url(bad).is_err(), "{bad}");
        }
        let branding = Branding {
            logo_url: Some("https://CDN.example.com:8443/logo.svg?v=1".into()),
            ..Branding::default()
        };
        assert_eq!(
            branding.logo_origin().as_deref(),
            Some("https://CDN.example.com:8443")
        );
        assert_eq!(Branding::default().logo_origin(), None);
    }

    #[test]
    fn product_names_are_bounded() {
        assert_eq!(Branding::parse_product_name(" Acme ").unwrap(), "Acme");
        assert!(Branding::parse_product_name("").is_err());
        assert!(Branding::parse_product_name(&"x".repeat(65)).is_err());
        assert!(Branding::parse_product_name("a\nb").is_err());
    }
}
