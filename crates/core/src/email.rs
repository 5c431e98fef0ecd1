//! E-mail addresses, parsed once at the boundary.
//!
//! An address is the identity people see, so two addresses that render the
//! same must not name two accounts (front-door.md section 3,
//! docs/decisions/0015-email-identity.md):
//!
//! - compatibility forms and case are folded (NFKC, full case folding), so
//!   `ａlice@`, `ALICE@` and `ﬀ` ligatures are the plain address;
//! - any non-ASCII character must be allowed in identifiers by UTS #39 (no
//!   control, format or bidi characters such as U+200B or U+202E, no private
//!   use or unassigned code points);
//! - the domain goes through UTS #46, so `bücher.example` and
//!   `xn--bcher-kva.example` are the same domain;
//! - [`Email::skeleton`] is the UTS #39 confusable skeleton, which the store
//!   keeps unique, so `аlice@` (Cyrillic а) or `alıce@` cannot shadow `alice@`.

use std::fmt;

use sha2::{Digest, Sha256};
use unicode_normalization::UnicodeNormalization;
use unicode_security::GeneralSecurityProfile;

use crate::error::FieldError;

/// Longest address accepted (RFC 5321: 254 octets in a path).
pub const MAX_EMAIL_LEN: usize = 254;

/// A syntactically valid e-mail address in canonical form: NFKC, case
/// folded, the domain mapped by UTS #46 (kept in its Unicode form; see
/// [`Email::domain_ascii`]).
///
/// Comparison is by this canonical form, so `Alice@Example.COM` and
/// `alice@example.com` are the same account.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// NFKC, then full case folding, then NFKC again (case folding can undo
/// normalisation): the `toNFKC_Casefold` of UAX #31 without its removal of
/// default-ignorable characters, which are refused instead of dropped.
fn fold(raw: &str) -> String {
    let nfkc: String = raw.nfkc().collect();
    caseless::default_case_fold_str(&nfkc).nfkc().collect()
}

/// A character no address of ours may contain: ASCII controls and spaces,
/// and any non-ASCII character UTS #39 does not allow in identifiers (which
/// covers every control, format, bidi, private-use and unassigned code point).
fn is_refused_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_control() || c == ' '
    } else {
        !c.identifier_allowed()
    }
}

impl Email {
    /// Parses and canonicalises an address.
    pub fn parse(raw: &str) -> Result<Email, FieldError> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(FieldError::new("email", "must not be empty"));
        }
        // Refuse before folding too: UTS #46 would silently drop some
        // invisible characters (U+200B, U+00AD) from the domain.
        if raw
            .chars()
            .any(|c| is_refused_char(c) && !is_folded_away(c))
        {
            return Err(FieldError::new(
                "email",
                "contains an invisible, control or direction-changing character",
            ));
        }
        let folded = fold(raw);
        if folded.chars().any(is_refused_char) {
            return Err(FieldError::new(
                "email",
                "contains an invisible, control or direction-changing character",
            ));
        }
        if folded.len() > MAX_EMAIL_LEN {
            return Err(FieldError::new("email", "is longer than 254 bytes"));
        }
        let Some((local, domain)) = folded.rsplit_once('@') else {
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
        let invalid = || FieldError::new("email", "is not a valid e-mail address");
        if !valid_local {
            return Err(invalid());
        }
        let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| invalid())?;
        let labels: Vec<&str> = ascii.split('.').collect();
        let valid_domain = labels.len() >= 2
            && ascii.len() <= 253
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if !valid_domain {
            return Err(invalid());
        }
        let (unicode, result) = idna::domain_to_unicode(&ascii);
        if result.is_err() || unicode.chars().any(is_refused_char) {
            return Err(invalid());
        }
        let canonical = format!("{local}@{unicode}");
        if canonical.len() > MAX_EMAIL_LEN {
            return Err(FieldError::new("email", "is longer than 254 bytes"));
        }
        Ok(Email(canonical))
    }

    /// An address as a store kept it. Addresses written before the current
    /// rules may not parse any more; they stay readable (and can still sign
    /// in) rather than making their account unreachable.
    pub fn from_stored(stored: &str) -> Result<Email, FieldError> {
        Email::parse(stored).or_else(|e| {
            if stored.contains('@') && !stored.trim().is_empty() {
                Ok(Email(stored.to_owned()))
            } else {
                Err(e)
            }
        })
    }

    /// The canonical form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UTS #39 confusable skeleton of the canonical address, hashed
    /// (SHA-256, hex) to a fixed width for a unique index: two addresses with
    /// the same skeleton render alike, so only one account may hold it.
    pub fn skeleton(&self) -> String {
        let skeleton: String = unicode_security::skeleton(&self.0).collect();
        hex::encode(Sha256::digest(fold(&skeleton).as_bytes()))
    }

    /// The domain in its ASCII (A-label) form, for protocols that need it.
    pub fn domain_ascii(&self) -> String {
        let domain = self.0.rsplit_once('@').map_or("", |(_, d)| d);
        idna::domain_to_ascii(domain).unwrap_or_else(|_| domain.to_owned())
    }

    /// The part before the `@`, used as context for the password-strength check.
    pub fn local_part(&self) -> &str {
        self.0
            .rsplit_once('@')
            .map_or(self.0.as_str(), |(local, _)| local)
    }
}

/// Characters NFKC maps to allowed ones (fullwidth forms, ligatures): not
/// refused before folding, only after.
fn is_folded_away(c: char) -> bool {
    let folded = fold(c.encode_utf8(&mut [0; 4]));
    !folded.is_empty() && !folded.chars().any(is_refused_char)
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

    /// Each address an attack run used to open a second account that
    /// renders as `alice@example.com`: refused outright, or folded into the
    /// same address, or given the same confusable skeleton.
    #[test]
    fn look_alikes_of_an_address_are_refused_or_share_its_skeleton() {
        let alice = Email::parse("alice@example.com").unwrap();
        for raw in [
            "al\u{200b}ice@example.com",
            "\u{202e}alice@example.com",
            "alice\u{202e}@example.com",
            "ali\u{00ad}ce@example.com",
            "alice@exa\u{200b}mple.com",
            "al\u{e000}ice@example.com",
            "al\u{0378}ice@example.com",
            "al\u{7}ice@example.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} accepted");
        }
        for raw in [
            "\u{430}lice@example.com",
            "\u{ff41}lice@example.com",
            "al\u{131}ce@example.com",
            "ALICE@EXAMPLE.COM",
            "alice@\u{ff45}xample.com",
            "alice@ex\u{430}mple.com",
        ] {
            let email = Email::parse(raw).unwrap();
            assert_eq!(email.skeleton(), alice.skeleton(), "{raw:?}");
        }
        assert_ne!(
            Email::parse("bob@example.com").unwrap().skeleton(),
            alice.skeleton()
        );
    }

    #[test]
    fn compatibility_forms_and_case_are_folded() {
        let jeff = Email::parse("je\u{fb00}@example.com").unwrap();
        assert_eq!(jeff.as_str(), "jeff@example.com");
        assert_eq!(
            Email::parse("\u{ff41}lice@example.com").unwrap().as_str(),
            "alice@example.com"
        );
        assert_eq!(
            Email::parse("stra\u{df}e@example.com").unwrap().as_str(),
            "strasse@example.com"
        );
    }

    #[test]
    fn the_domain_is_compared_by_its_uts46_form() {
        let unicode = Email::parse("anna@B\u{fc}cher.example").unwrap();
        let ascii = Email::parse("anna@xn--bcher-kva.example").unwrap();
        assert_eq!(unicode, ascii);
        assert_eq!(unicode.as_str(), "anna@b\u{fc}cher.example");
        assert_eq!(unicode.domain_ascii(), "xn--bcher-kva.example");
        assert!(Email::parse("anna@xn--55555555555555555555.example").is_err());
    }
}
