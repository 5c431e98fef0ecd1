//! Static assets under `/assets/`: the stylesheet, the theme (the accent
//! colour, generated at start so the CSP can forbid inline styles) and the
//! optional script. Each is named by a hash of its content, computed at
//! start, so it can be cached for a year: a new build or a new accent
//! colour is a new name.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest as _, Sha256};

use crate::branding::AccentColor;

const STYLESHEET: &str = include_str!("../assets/warden.css");
const SCRIPT: &str = include_str!("../assets/warden.js");
const ADMIN_STYLESHEET: &str = include_str!("../assets/admin.css");

/// Long-lived and shared: the name changes whenever the content does.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// One asset, held in memory.
#[derive(Debug, Clone)]
struct Asset {
    body: Bytes,
    content_type: &'static str,
}

/// The assets and their hashed paths.
#[derive(Debug)]
pub struct Assets {
    by_name: HashMap<String, Asset>,
    /// Path of the stylesheet (`/assets/warden.<hash>.css`).
    pub css: String,
    /// Path of the theme stylesheet.
    pub theme: String,
    /// Path of the script.
    pub js: String,
    /// `<base>/assets/admin.<hash>.css`: the admin console's own styles.
    pub admin: String,
    /// Bytes of the admin stylesheet, which only the console loads.
    admin_bytes: usize,
}

impl Assets {
    /// Builds the assets for this accent colour; `base` is the path the
    /// pages are served under (the issuer's path).
    pub fn build(accent: AccentColor, base: &str) -> Self {
        let mut by_name = HashMap::new();
        let mut add = |stem: &str, ext: &str, body: Bytes, content_type: &'static str| {
            let name = hashed_name(stem, ext, &body);
            let path = format!("{base}/assets/{name}");
            by_name.insert(name, Asset { body, content_type });
            path
        };
        let css_type = "text/css; charset=utf-8";
        let css = add(
            "warden",
            "css",
            Bytes::from_static(STYLESHEET.as_bytes()),
            css_type,
        );
        let theme = add("theme", "css", Bytes::from(theme_css(accent)), css_type);
        let js = add(
            "warden",
            "js",
            Bytes::from_static(SCRIPT.as_bytes()),
            "text/javascript; charset=utf-8",
        );
        let admin = add(
            "admin",
            "css",
            Bytes::from_static(ADMIN_STYLESHEET.as_bytes()),
            css_type,
        );
        Self {
            by_name,
            css,
            theme,
            js,
            admin,
            admin_bytes: ADMIN_STYLESHEET.len(),
        }
    }

    /// The response for `/assets/{name}`: the asset with a year-long
    /// immutable cache, or 404.
    pub fn respond(&self, name: &str) -> Response {
        match self.by_name.get(name) {
            Some(asset) => (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(asset.content_type),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE)),
                    (
                        header::X_CONTENT_TYPE_OPTIONS,
                        HeaderValue::from_static("nosniff"),
                    ),
                ],
                asset.body.clone(),
            )
                .into_response(),
            None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
        }
    }

    /// Bytes a page loads besides its HTML (for the page-weight check).
    pub fn total_bytes(&self) -> usize {
        self.by_name.values().map(|a| a.body.len()).sum()
    }

    /// Bytes of what the public pages load (all but the console's styles).
    pub fn page_bytes(&self) -> usize {
        self.total_bytes() - self.admin_bytes
    }
}

/// `stem.<first 10 hex of SHA-256>.ext`.
fn hashed_name(stem: &str, ext: &str, body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("{stem}.{}.{ext}", &hex::encode(digest)[..10])
}

/// The accent colour as custom properties. The dark-mode link colour is
/// mixed towards white so it stays readable on the dark background.
fn theme_css(accent: AccentColor) -> String {
    let color = accent.css();
    let text = accent.contrast_text();
    format!(
        ":root{{--accent:{color};--on-accent:{text};--link:{color}}}\n\
         @media (prefers-color-scheme:dark){{:root{{--link:color-mix(in srgb,{color} 45%,#fff)}}}}\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_content_and_are_served_immutable() {
        let assets = Assets::build(AccentColor::default(), "");
        assert!(assets.css.starts_with("/assets/warden.") && assets.css.ends_with(".css"));
        let name = assets.css.trim_start_matches("/assets/");
        let response = assets.respond(name);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CACHE_CONTROL], IMMUTABLE);
        assert_eq!(assets.respond("warden.css").status(), StatusCode::NOT_FOUND);

        let other = Assets::build(AccentColor::parse("#0a7").unwrap(), "/auth");
        assert_ne!(other.theme, format!("/auth{}", assets.theme));
        assert_eq!(other.css, format!("/auth{}", assets.css));
    }
}
