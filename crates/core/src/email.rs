//! E-mail addresses, parsed once at the boundary.

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::error::FieldError;

/// Longest address accepted (RFC 5321: 254 octets in a path).
pub const MAX_EMAIL_LEN: usize = 254;

/// A syntactically valid, lower-cased, NFC-normalised e-mail address.
///
/// Comparison is by this canonical form, so `Alice@Example.COM` and
/// `alice@example.com` are the same account.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses and canonicalises an address.
    pub fn parse(raw: &str) -> Result<Email, FieldError> {
        let canonical: String = raw.trim().nfc().collect::<String>().to_lowercase();
        if canonical.is_empty() {
            return Err(FieldError::new("email", "must not be empty"));
        }
        if canonical.len() > MAX_EMAIL_LEN {
            return Err(FieldError::new("email", "is longer than 254 bytes"));
        }
        let Some((local, domain)) = canonical.rsplit_once('@') else {
            return Err(FieldError::new("email", "must contain '@'"));
        };
        let valid_local = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"\"(),:;<>@[\\]".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let valid_domain = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if !valid_local || !valid_domain {
            return Err(FieldError::new("email", "is not a valid e-mail address"));
        }
        Ok(Email(canonical))
    }

    /// The canonical form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before the `@`, used as context for the password-strength check.
    pub fn local_part(&self) -> &str {
        self.0
            .rsplit_once('@')
            .map_or(self.0.as_str(), |(local, _)| local)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonicalises_case_and_unicode_form() {
        let a = Email::parse("  Älice@Example.COM ").unwrap();
        let b = Email::parse("A\u{308}lice@example.com").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "älice@example.com");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for raw in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a b@example.com",
            "a@exa mple.com",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@example..com",
            "a<b>@example.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn rejects_overlong_addresses() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
        let local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&local).is_err());
    }
}
