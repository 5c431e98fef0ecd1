//! `[signup]` and `[links]`: who may create an account, whether sign-in
//! needs a verified address, and how long mailed links live (front-door
//! contract, section 3).

use std::time::Duration;

use anyhow::bail;
use serde::{Deserialize, Serialize};

use super::positive;

/// `[signup]`. Plain values, read as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SignupSection {
    /// Whether anyone may sign up (`POST /v1/signup`, gRPC `SignUp`); when
    /// false only admins and the CLI create accounts (403 `signup_disabled`).
    pub enabled: bool,
    /// Whether a sign-in needs a verified address: a right password on an
    /// unverified account answers 403 `email_not_verified` and re-sends
    /// the link (at most one a minute).
    pub require_verified_email: bool,
}

impl Default for SignupSection {
    fn default() -> Self {
        Self {
            enabled: true,
            require_verified_email: false,
        }
    }
}

/// `[links]`: lifetimes of mailed links, and how often a client may ask
/// for a password reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinksSection {
    /// E-mail verification (default 24 h).
    pub verify_email: Duration,
    /// Password reset (default 1 h).
    pub password_reset: Duration,
    /// E-mail change (default 24 h).
    pub email_change: Duration,
    /// `POST /v1/password/forgot` requests per client IP per minute
    /// (default 20; 0: no limit). Each address has its own limit too.
    pub forgot_per_ip_per_minute: u32,
}

impl Default for LinksSection {
    fn default() -> Self {
        Self {
            verify_email: Duration::from_secs(24 * 3600),
            password_reset: Duration::from_secs(3600),
            email_change: Duration::from_secs(24 * 3600),
            forgot_per_ip_per_minute: 20,
        }
    }
}

/// `[links]` as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLinks {
    verify_email_secs: u64,
    password_reset_secs: u64,
    email_change_secs: u64,
    forgot_per_ip_per_minute: u32,
}

impl Default for RawLinks {
    fn default() -> Self {
        (&LinksSection::default()).into()
    }
}

impl From<&LinksSection> for RawLinks {
    fn from(links: &LinksSection) -> Self {
        Self {
            verify_email_secs: links.verify_email.as_secs(),
            password_reset_secs: links.password_reset.as_secs(),
            email_change_secs: links.email_change.as_secs(),
            forgot_per_ip_per_minute: links.forgot_per_ip_per_minute,
        }
    }
}

/// A link may live at most a week: a mailbox read later than that may no
/// longer be the person's.
const MAX_LINK_SECS: u64 = 7 * 24 * 3600;

impl TryFrom<RawLinks> for LinksSection {
    type Error = anyhow::Error;

    fn try_from(raw: RawLinks) -> anyhow::Result<Self> {
        for (name, secs) in [
            ("links.verify_email_secs", raw.verify_email_secs),
            ("links.password_reset_secs", raw.password_reset_secs),
            ("links.email_change_secs", raw.email_change_secs),
        ] {
            positive(name, secs)?;
            if secs > MAX_LINK_SECS {
                bail!("{name} must be at most {MAX_LINK_SECS} (a week)");
            }
        }
        Ok(Self {
            verify_email: Duration::from_secs(raw.verify_email_secs),
            password_reset: Duration::from_secs(raw.password_reset_secs),
            email_change: Duration::from_secs(raw.email_change_secs),
            forgot_per_ip_per_minute: raw.forgot_per_ip_per_minute,
        })
    }
}

/// A `public_url`: an absolute `http(s)` URL, kept without a trailing slash.
pub(super) fn parse_public_url(raw: Option<String>) -> anyhow::Result<Option<String>> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let trimmed = raw.trim().trim_end_matches('/');
    let valid = (trimmed.starts_with("https://") || trimmed.starts_with("http://"))
        && !trimmed.contains(['?', '#', ' '])
        && trimmed
            .split("://")
            .nth(1)
            .is_some_and(|rest| !rest.is_empty());
    if !valid {
        bail!("public_url must be an absolute http:// or https:// URL without query or fragment");
    }
    Ok(Some(trimmed.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::super::test_env as env;
    use super::super::{Config, Overrides};
    use super::*;

    #[test]
    fn signup_is_open_and_links_live_a_day_or_an_hour_by_default() {
        let config = Config::load(None, &[], &Overrides::default()).unwrap();
        assert!(config.signup.enabled);
        assert!(!config.signup.require_verified_email);
        assert_eq!(config.links, LinksSection::default());
        assert_eq!(config.links.password_reset, Duration::from_secs(3600));
        assert_eq!(config.public_url(), config.issuer());
    }

    #[test]
    fn the_environment_sets_signup_links_and_the_public_url() {
        let config = Config::load(
            None,
            &env(&[
                ("WARDEN_SIGNUP_ENABLED", "false"),
                ("WARDEN_SIGNUP_REQUIRE_VERIFIED_EMAIL", "true"),
                ("WARDEN_LINKS_PASSWORD_RESET_SECS", "600"),
                ("WARDEN_PUBLIC_URL", "https://id.example.com/"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert!(!config.signup.enabled);
        assert!(config.signup.require_verified_email);
        assert_eq!(config.links.password_reset, Duration::from_secs(600));
        assert_eq!(config.public_url(), "https://id.example.com");
    }

    #[test]
    fn bad_link_lifetimes_and_public_urls_are_refused() {
        for (k, v) in [
            ("WARDEN_LINKS_VERIFY_EMAIL_SECS", "0"),
            ("WARDEN_LINKS_EMAIL_CHANGE_SECS", "99999999"),
            ("WARDEN_PUBLIC_URL", "id.example.com"),
            ("WARDEN_PUBLIC_URL", "https://id.example.com/?x=1"),
        ] {
            assert!(
                Config::load(None, &env(&[(k, v)]), &Overrides::default()).is_err(),
                "{k}={v}"
            );
        }
    }
}
