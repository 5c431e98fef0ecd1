//! Second factors: TOTP (RFC 6238), single-use recovery codes, and the QR
//! code that carries a TOTP secret to an authenticator app.
//!
//! Pure functions of bytes and a clock reading: where the secret, the last
//! accepted time step and the recovery-code hashes are kept is the service's
//! business, so the replay rule is expressed through `last_used_step`.

use std::fmt;
use std::fmt::Write as _;

use hmac::digest::Key;
use hmac::{Hmac, Mac as _};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use qrcode::{Color, QrCode};
use rand::RngCore as _;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConditionallySelectable as _, ConstantTimeEq as _};
use zeroize::{Zeroize as _, Zeroizing};

/// Digits in a TOTP code. Six is what every authenticator app shows by
/// default; other values are silently ignored by some apps.
pub const TOTP_DIGITS: usize = 6;
/// TOTP time step in seconds (RFC 6238 default, and the only one Google
/// Authenticator honours).
pub const TOTP_PERIOD: i64 = 30;
/// Steps accepted either side of the current one, to absorb phone clock
/// drift and the seconds it takes to type the code.
pub const TOTP_SKEW_STEPS: i64 = 1;
/// Number of recovery codes handed out at enrolment.
pub const RECOVERY_CODES: usize = 10;

// RFC 4226 recommends 160 bits, the SHA-1 output size.
const TOTP_SECRET_LEN: usize = 20;
// RFC 4226 sets 128 bits as the floor; above one HMAC block the key would be
// hashed first, which buys nothing and breaks the zero-padding in `hotp`.
const TOTP_SECRET_MIN: usize = 16;
const HMAC_SHA1_BLOCK: usize = 64;
const TOTP_MODULUS: u32 = 1_000_000; // 10^TOTP_DIGITS

// 80 bits: far beyond online guessing, and beyond offline brute force of the
// stored salted hash (see `recovery_code_hash`).
const RECOVERY_CODE_BYTES: usize = 10;
const RECOVERY_CODE_CHARS: usize = 16; // 80 bits / 5 bits per character
const RECOVERY_GROUP: usize = 4;
// Generous bound so hostile input is rejected before any allocation grows.
const MAX_RAW_CODE_LEN: usize = 64;

const RFC4648_BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
// Crockford's alphabet drops i, l, o and u, so codes read aloud or copied from
// paper cannot be misread; lowercase because it is easier to type on phones.
const CROCKFORD_BASE32: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

// RFC 3986 unreserved characters stay literal; everything else, notably ':'
// (the issuer/account separator in the label), ' ', '+', '&' and '@', is
// escaped so authenticator apps cannot split the label or query wrongly.
pub(crate) const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

const QR_QUIET_ZONE: usize = 4; // modules, the minimum ISO/IEC 18004 requires
const QR_LABEL: &str = "QR code for your authenticator app";

type HmacSha1 = Hmac<Sha1>;

/// A TOTP shared secret. Zeroized on drop; `Debug` is redacted.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// A fresh 160-bit secret from the OS CSPRNG.
    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new(vec![0_u8; TOTP_SECRET_LEN]);
        rand::rngs::OsRng.fill_bytes(bytes.as_mut_slice());
        Self(bytes)
    }

    /// Rebuilds a stored secret; `None` unless it is 16..=64 bytes, so a
    /// truncated or corrupted column cannot silently weaken the factor.
    pub fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        // Wrapped first so a rejected secret is still wiped on drop.
        let bytes = Zeroizing::new(bytes);
        (TOTP_SECRET_MIN..=HMAC_SHA1_BLOCK)
            .contains(&bytes.len())
            .then(|| Self(bytes))
    }

    /// The raw key, for the store (which should encrypt it at rest).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// RFC 4648 base32 without padding: the form authenticator apps accept
    /// for manual entry and in `otpauth://` URIs.
    pub fn base32(&self) -> String {
        base32(&self.0, RFC4648_BASE32)
    }

    /// The secret from its base32 form (what an app's user, or a test,
    /// holds): case and spaces ignored, padding allowed.
    pub fn from_base32(text: &str) -> Option<Self> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
        let (mut buffer, mut bits) = (0_u32, 0_u32);
        for c in text
            .bytes()
            .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        {
            let value = RFC4648_BASE32
                .iter()
                .position(|a| *a == c.to_ascii_uppercase())?;
            buffer = (buffer << 5) | value as u32;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                bytes.push((buffer >> bits) as u8);
                buffer &= (1 << bits) - 1;
            }
        }
        Self::from_bytes(std::mem::take(&mut *bytes))
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

/// The `otpauth://totp/…` key URI (Google Authenticator key URI format) that
/// enrols `secret` in an app, labelled `issuer:account`. The issuer is also
/// sent as a parameter because apps disagree on which of the two they show.
pub fn otpauth_uri(secret: &TotpSecret, issuer: &str, account: &str) -> String {
    let issuer = utf8_percent_encode(issuer, URI_COMPONENT).to_string();
    let account = utf8_percent_encode(account, URI_COMPONENT);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}\
         &algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_PERIOD}",
        secret = secret.base32(),
    )
}

/// Normalizes a typed TOTP code: surrounding whitespace and the spaces or
/// hyphens some apps display inside the code are dropped. `None` unless
/// exactly six ASCII digits remain.
pub fn parse_totp_code(raw: &str) -> Option<String> {
    if raw.len() > MAX_RAW_CODE_LEN {
        return None;
    }
    let code: String = raw
        .trim()
        .chars()
        .filter(|c| *c != ' ' && *c != '-')
        .collect();
    (code.len() == TOTP_DIGITS && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// The code for time step `step` (Unix time / 30), zero-padded to six digits.
/// Steps before the epoch have no code `verify_totp` accepts.
pub fn totp_code_at(secret: &TotpSecret, step: i64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step.cast_unsigned()),
        width = TOTP_DIGITS
    )
}

/// Checks `code` (as returned by [`parse_totp_code`]) at `now_unix` and
/// returns the time step it matched, which the caller must store as the new
/// `last_used_step`.
///
/// Accepts the current step and one either side, but only steps later than
/// `last_used_step`: a code works once (RFC 6238 §5.2), and after a later
/// code has been used an earlier, still-in-window one is refused too, so an
/// observed code cannot be replayed in the remaining seconds of its window.
pub fn verify_totp(
    secret: &TotpSecret,
    code: &str,
    now_unix: i64,
    last_used_step: Option<i64>,
) -> Option<i64> {
    let code = code.as_bytes();
    if code.len() != TOTP_DIGITS || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let current = now_unix.div_euclid(TOTP_PERIOD);
    let mut found = Choice::from(0);
    let mut matched_step = 0_i64;
    // Every candidate is computed and compared whatever the outcome, so the
    // time taken says nothing about which step, if any, was close. The
    // eligibility test may branch: the clock and the stored step are not
    // secret.
    for offset in -TOTP_SKEW_STEPS..=TOTP_SKEW_STEPS {
        let Some(step) = current.checked_add(offset) else {
            continue;
        };
        let eligible = step >= 0 && last_used_step.is_none_or(|last| step > last);
        let expected = code_digits(hotp(secret, step.cast_unsigned()));
        let hit = expected.as_slice().ct_eq(code) & Choice::from(u8::from(eligible));
        // Ascending order: should two steps share a code, the latest wins, so
        // storing it burns every step the code could stand for.
        matched_step = i64::conditional_select(&matched_step, &step, hit);
        found |= hit;
    }
    bool::from(found).then_some(matched_step)
}

/// HOTP (RFC 4226) value of `counter`, already reduced to six digits.
fn hotp(secret: &TotpSecret, counter: u64) -> u32 {
    // HMAC pads keys shorter than a block with zeros (RFC 2104 §2); doing it
    // here gives the fixed-size key that makes construction infallible.
    // `TotpSecret` never exceeds one block, so this is exactly HMAC-SHA1.
    let mut key = Key::<HmacSha1>::default();
    let len = secret.0.len().min(key.len());
    key[..len].copy_from_slice(&secret.0[..len]);
    let mut mac = HmacSha1::new(&key);
    key[..].zeroize();
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    // Dynamic truncation (RFC 4226 §5.3): offset <= 15, so bytes 15..=18 at
    // most, inside the 20-byte digest.
    let offset = usize::from(digest[19] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % TOTP_MODULUS
}

fn code_digits(mut value: u32) -> [u8; TOTP_DIGITS] {
    let mut digits = [b'0'; TOTP_DIGITS];
    for digit in digits.iter_mut().rev() {
        // `value % 10` < 10, so the narrowing is lossless.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
    digits
}

/// Renders `data` (an `otpauth://` URI) as a self-contained SVG QR code,
/// drawn here so the secret never reaches a third-party QR service.
///
/// Black modules on an explicit white background with a four-module quiet
/// zone, so it scans even when a dark theme would make the page behind it
/// dark. Only a `viewBox` is set: the page's CSS decides the size. `None` if
/// `data` exceeds QR capacity (about 2.3 KB at this error-correction level).
pub fn qr_svg(data: &str) -> Option<String> {
    let code = QrCode::new(data.as_bytes()).ok()?;
    let width = code.width();
    let size = width + 2 * QR_QUIET_ZONE;
    let colors = code.into_colors();
    // One path of horizontal runs keeps a typical otpauth code to a few KB.
    let mut path = String::with_capacity(colors.len() * 4);
    for (y, row) in colors.chunks(width).enumerate() {
        let mut x = 0;
        for run in row.chunk_by(|a, b| a == b) {
            if run.first() == Some(&Color::Dark) {
                // Writing to a String cannot fail.
                let _ = write!(
                    path,
                    "M{} {}h{}v1h-{}z",
                    x + QR_QUIET_ZONE,
                    y + QR_QUIET_ZONE,
                    run.len(),
                    run.len()
                );
            }
            x += run.len();
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         role=\"img\" aria-label=\"{QR_LABEL}\" shape-rendering=\"crispEdges\">\
         <title>{QR_LABEL}</title>\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/>\
         <path fill=\"#000\" d=\"{path}\"/></svg>"
    ))
}

/// A single-use recovery code, kept in normalized form (16 lowercase
/// Crockford base32 characters). Zeroized on drop; `Debug` is redacted.
pub struct RecoveryCode(Zeroizing<String>);

impl RecoveryCode {
    /// The form shown to the user once: four groups of four, e.g.
    /// `k3m9-x7qd-2hfa-p0zr`.
    pub fn display(&self) -> String {
        let mut out = String::with_capacity(RECOVERY_CODE_CHARS + 3);
        for (i, c) in self.0.chars().enumerate() {
            if i > 0 && i % RECOVERY_GROUP == 0 {
                out.push('-');
            }
            out.push(c);
        }
        out
    }

    /// The form the store keeps for the account `salt` names, see
    /// [`recovery_code_hash`].
    pub fn hash(&self, salt: &str) -> String {
        recovery_code_hash(salt, &self.0)
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

/// [`RECOVERY_CODES`] fresh codes of 80 bits each from the OS CSPRNG.
pub fn generate_recovery_codes() -> Vec<RecoveryCode> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut bytes = Zeroizing::new([0_u8; RECOVERY_CODE_BYTES]);
            rand::rngs::OsRng.fill_bytes(bytes.as_mut());
            RecoveryCode(Zeroizing::new(base32(bytes.as_ref(), CROCKFORD_BASE32)))
        })
        .collect()
}

/// Normalizes a typed recovery code: case-insensitive, whitespace and
/// hyphens ignored, and Crockford's confusables read as intended (`i`/`l` as
/// `1`, `o` as `0`). `None` unless 16 alphabet characters remain.
pub fn normalize_recovery_code(raw: &str) -> Option<String> {
    if raw.len() > MAX_RAW_CODE_LEN {
        return None;
    }
    let mut out = String::with_capacity(RECOVERY_CODE_CHARS);
    for c in raw.chars() {
        let c = match c.to_ascii_lowercase() {
            c if c.is_whitespace() || c == '-' => continue,
            'i' | 'l' => '1',
            'o' => '0',
            c if u8::try_from(c).is_ok_and(|b| CROCKFORD_BASE32.contains(&b)) => c,
            _ => return None,
        };
        out.push(c);
    }
    (out.len() == RECOVERY_CODE_CHARS).then_some(out)
}

/// Lowercase hex SHA-256 of the account's `salt` (its id) and a normalized
/// recovery code, the only form stored.
///
/// No slow hash, on purpose: that exists to protect guessable, human-chosen
/// secrets. A code has 80 random bits, and the per-account salt stops one
/// search from covering every account's codes at once, so a leaked table
/// costs 2^80 SHA-256 evaluations per account; a fast deterministic hash
/// lets the store look a code up by equality.
pub fn recovery_code_hash(salt: &str, normalized: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"warden-recovery-code\0");
    hasher.update(salt.as_bytes());
    hasher.update(b"\0");
    hasher.update(normalized.as_bytes());
    hex::encode(hasher.finalize())
}

/// Finds which of the user's stored recovery-code hashes `raw` matches, so
/// the caller can consume exactly that one. `None` for malformed input or no
/// match.
pub fn match_recovery_code<S: AsRef<str>>(
    salt: &str,
    raw: &str,
    stored_hashes: &[S],
) -> Option<usize> {
    let normalized = Zeroizing::new(normalize_recovery_code(raw)?);
    let hash = recovery_code_hash(salt, &normalized);
    // The attacker does not control the hash bytes, so timing would reveal
    // little; comparing every entry in constant time costs nothing, though.
    let mut found = None;
    for (index, stored) in stored_hashes.iter().enumerate() {
        let equal = bool::from(stored.as_ref().as_bytes().ct_eq(hash.as_bytes()));
        if equal && found.is_none() {
            found = Some(index);
        }
    }
    found
}

/// Base32 without padding over `alphabet`; a final partial group is padded
/// with zero bits, as RFC 4648 specifies.
fn base32(bytes: &[u8], alphabet: &[u8; 32]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(alphabet[((buffer >> bits) & 0x1f) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(
            alphabet[((buffer << (5 - bits)) & 0x1f) as usize],
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: &str = "0190e0c4-0000-7000-8000-000000000001";

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_bytes(b"12345678901234567890".to_vec()).unwrap()
    }

    #[test]
    fn rfc6238_sha1_vectors_truncated_to_six_digits() {
        let secret = rfc_secret();
        for (time, code) in [
            (59_i64, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            let step = time / TOTP_PERIOD;
            assert_eq!(totp_code_at(&secret, step), code, "time {time}");
            assert_eq!(verify_totp(&secret, code, time, None), Some(step));
        }
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        let secret = rfc_secret();
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(totp_code_at(&secret, counter as i64), *code);
        }
    }

    #[test]
    fn zero_padded_key_equals_hmac_for_every_accepted_length() {
        for len in [16, 20, 32, 63, 64] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x5a).collect();
            let secret = TotpSecret::from_bytes(bytes.clone()).unwrap();
            let mut mac = HmacSha1::new_from_slice(&bytes).unwrap();
            mac.update(&7_u64.to_be_bytes());
            let digest = mac.finalize().into_bytes();
            let offset = usize::from(digest[19] & 0x0f);
            let binary = u32::from_be_bytes(digest[offset..offset + 4].try_into().unwrap());
            assert_eq!(hotp(&secret, 7), (binary & 0x7fff_ffff) % TOTP_MODULUS);
        }
    }

    #[test]
    fn secret_lengths_and_encoding() {
        assert!(TotpSecret::from_bytes(vec![0; 15]).is_none());
        assert!(TotpSecret::from_bytes(vec![0; 16]).is_some());
        assert!(TotpSecret::from_bytes(vec![0; 64]).is_some());
        assert!(TotpSecret::from_bytes(vec![0; 65]).is_none());
        assert_eq!(rfc_secret().base32(), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        let a = TotpSecret::generate();
        let b = TotpSecret::generate();
        assert_eq!(a.as_bytes().len(), 20);
        assert_ne!(a.as_bytes(), b.as_bytes());
        assert_eq!(a.base32().len(), 32);
    }

    #[test]
    fn a_secret_survives_its_base32_form() {
        let secret = TotpSecret::generate();
        let back = TotpSecret::from_base32(&secret.base32().to_lowercase()).unwrap();
        assert_eq!(back.as_bytes(), secret.as_bytes());
        assert!(TotpSecret::from_base32("not base32!").is_none());
        assert!(TotpSecret::from_base32("AAAA").is_none(), "too short a key");
    }

    #[test]
    fn base32_rfc4648_vectors() {
        for (input, output) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(input.as_bytes(), RFC4648_BASE32), output);
        }
    }

    #[test]
    fn debug_is_redacted() {
        let secret = rfc_secret();
        let shown = format!("{secret:?}");
        assert!(!shown.contains("GEZDG") && !shown.contains("49") && !shown.contains("1234"));
        let code = &generate_recovery_codes()[0];
        let shown = format!("{code:?}");
        assert!(!shown.contains(&code.display()) && !shown.contains(code.0.as_str()));
    }

    #[test]
    fn skew_of_one_step_is_accepted_two_is_not() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_015;
        let step = now / TOTP_PERIOD;
        for accepted in [step - 1, step, step + 1] {
            let code = totp_code_at(&secret, accepted);
            assert_eq!(verify_totp(&secret, &code, now, None), Some(accepted));
        }
        for refused in [step - 2, step + 2] {
            let code = totp_code_at(&secret, refused);
            let near: Vec<String> = (step - 1..=step + 1)
                .map(|s| totp_code_at(&secret, s))
                .collect();
            if !near.contains(&code) {
                assert_eq!(verify_totp(&secret, &code, now, None), None);
            }
        }
    }

    #[test]
    fn a_code_is_accepted_once_and_older_steps_are_refused() {
        let secret = rfc_secret();
        let now = 1_111_111_111;
        let step = now / TOTP_PERIOD;
        let code = totp_code_at(&secret, step);
        let used = verify_totp(&secret, &code, now, None).unwrap();
        assert_eq!(used, step);
        assert_eq!(verify_totp(&secret, &code, now, Some(used)), None);
        assert_eq!(verify_totp(&secret, &code, now + 20, Some(used)), None);
        let previous = totp_code_at(&secret, step - 1);
        assert_eq!(verify_totp(&secret, &previous, now, Some(used)), None);
        let next = totp_code_at(&secret, step + 1);
        assert_eq!(verify_totp(&secret, &next, now, Some(used)), Some(step + 1));
        assert_eq!(verify_totp(&secret, &code, now, Some(step - 1)), Some(step));
    }

    #[test]
    fn wrong_and_malformed_codes_are_refused() {
        let secret = rfc_secret();
        let now = 1_234_567_890;
        let near: Vec<String> = (-1..=1)
            .map(|o| totp_code_at(&secret, now / TOTP_PERIOD + o))
            .collect();
        let wrong = (0..TOTP_MODULUS)
            .map(|n| format!("{n:06}"))
            .find(|c| !near.contains(c))
            .unwrap();
        assert_eq!(verify_totp(&secret, &wrong, now, None), None);
        for bad in [
            "",
            "12345",
            "1234567",
            "00592a",
            " 005924",
            "005 924",
            "٠٠٥٩٢٤",
        ] {
            assert_eq!(verify_totp(&secret, bad, now, None), None, "{bad:?}");
        }
        assert_eq!(verify_totp(&secret, "005924", -1, None), None);
        assert_eq!(verify_totp(&secret, "005924", i64::MAX, None), None);
    }

    #[test]
    fn typed_totp_codes_are_normalized() {
        assert_eq!(parse_totp_code(" 123 456\n").as_deref(), Some("123456"));
        assert_eq!(parse_totp_code("123-456").as_deref(), Some("123456"));
        assert_eq!(parse_totp_code("005924").as_deref(), Some("005924"));
        for bad in ["12345", "1234567", "12a456", "", "１２３４５６", "123_456"] {
            assert_eq!(parse_totp_code(bad), None, "{bad:?}");
        }
        assert_eq!(parse_totp_code(&"1".repeat(100_000)), None);
    }

    #[test]
    fn otpauth_uri_encodes_label_and_parameters() {
        let uri = otpauth_uri(&rfc_secret(), "Acme Corp: Staging", "alice+mfa@example.com");
        assert_eq!(
            uri,
            "otpauth://totp/Acme%20Corp%3A%20Staging:alice%2Bmfa%40example.com\
             ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Corp%3A%20Staging\
             &algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn qr_svg_is_compact_and_accessible() {
        let uri = otpauth_uri(&TotpSecret::generate(), "Warden", "alice@example.com");
        let svg = qr_svg(&uri).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
        assert!(svg.contains("role=\"img\""));
        assert!(svg.contains("<title>QR code for your authenticator app</title>"));
        assert!(svg.contains("aria-label=\"QR code for your authenticator app\""));
        assert!(svg.contains("viewBox=\"0 0 "));
        assert!(svg.len() < 30_000, "{} bytes", svg.len());
        assert_eq!(qr_svg(&"x".repeat(10_000)), None);
    }

    #[test]
    fn qr_svg_draws_exactly_the_dark_modules() {
        let uri = otpauth_uri(&rfc_secret(), "Warden", "alice@example.com");
        let svg = qr_svg(&uri).unwrap();
        let code = QrCode::new(uri.as_bytes()).unwrap();
        let width = code.width();
        let size = width + 2 * QR_QUIET_ZONE;
        assert!(svg.contains(&format!("viewBox=\"0 0 {size} {size}\"")));
        let path = svg
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let mut drawn = vec![false; size * size];
        for rect in path.split('M').filter(|r| !r.is_empty()) {
            let (origin, rest) = rect.split_once('h').unwrap();
            let (x, y) = origin.split_once(' ').unwrap();
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            let run: usize = rest.split_once('v').unwrap().0.parse().unwrap();
            for dx in 0..run {
                assert!(!drawn[y * size + x + dx], "overlap at {x},{y}");
                drawn[y * size + x + dx] = true;
            }
        }
        for y in 0..size {
            for x in 0..size {
                let inside = (QR_QUIET_ZONE..QR_QUIET_ZONE + width).contains(&x)
                    && (QR_QUIET_ZONE..QR_QUIET_ZONE + width).contains(&y);
                let dark = inside && code[(x - QR_QUIET_ZONE, y - QR_QUIET_ZONE)] == Color::Dark;
                assert_eq!(drawn[y * size + x], dark, "module {x},{y}");
            }
        }
    }

    #[test]
    fn recovery_codes_are_distinct_and_well_formed() {
        let codes = generate_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut hashes: Vec<String> = codes.iter().map(|c| c.hash(SALT)).collect();
        hashes.sort();
        hashes.dedup();
        assert_eq!(hashes.len(), RECOVERY_CODES);
        for code in &codes {
            let shown = code.display();
            assert_eq!(shown.len(), 19);
            let groups: Vec<&str> = shown.split('-').collect();
            assert_eq!(groups.len(), 4);
            assert!(groups.iter().all(|g| g.len() == 4));
            assert!(
                shown
                    .bytes()
                    .all(|b| b == b'-' || CROCKFORD_BASE32.contains(&b))
            );
        }
    }

    #[test]
    fn recovery_code_round_trips_through_display() {
        let codes = generate_recovery_codes();
        let stored: Vec<String> = codes.iter().map(|c| c.hash(SALT)).collect();
        for (index, code) in codes.iter().enumerate() {
            let normalized = normalize_recovery_code(&code.display()).unwrap();
            assert_eq!(recovery_code_hash(SALT, &normalized), code.hash(SALT));
            assert_ne!(code.hash(SALT), code.hash("another account"));
            let hash = recovery_code_hash(SALT, &normalized);
            assert_eq!(hash.len(), 64);
            assert!(
                hash.bytes()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
            );
            let typed = code.display().to_uppercase().replace('-', " ");
            assert_eq!(match_recovery_code(SALT, &typed, &stored), Some(index));
        }
        let other = generate_recovery_codes();
        assert_eq!(
            match_recovery_code(SALT, &other[0].display(), &stored),
            None
        );
    }

    #[test]
    fn confusables_map_and_garbage_is_refused() {
        assert_eq!(
            normalize_recovery_code("K3M9-X7QD-2HFA-P0ZR").as_deref(),
            Some("k3m9x7qd2hfap0zr")
        );
        assert_eq!(
            normalize_recovery_code(" iLo0 lIOo-abcd efgh ").as_deref(),
            Some("11001100abcdefgh")
        );
        for bad in [
            "",
            "k3m9-x7qd-2hfa-p0z",
            "k3m9-x7qd-2hfa-p0zrr",
            "k3m9-x7qd-2hfa-p0zu",
            "k3m9_x7qd_2hfa_p0zr",
            "k3m9-x7qd-2hfa-p0zé",
            "k3m9-x7qd-2hfa-p0z!",
        ] {
            assert_eq!(normalize_recovery_code(bad), None, "{bad:?}");
        }
        assert_eq!(normalize_recovery_code(&"-".repeat(1_000)), None);
    }
}
