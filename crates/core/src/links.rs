//! Link tokens (front-door contract, section 3): the `wml_` secrets mailed
//! to prove a person reads an address (e-mail verification and change) or
//! to let them choose a new password. Opaque, 256 random bits, stored only
//! as a SHA-256 hash, single use, with a lifetime per purpose; and the
//! rules for how often a link may be mailed to one address.

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use crate::email::Email;
use crate::ids::UserId;
use crate::mail::{MailKind, QueuedMail};
use crate::model::TokenHash;
use crate::opaque::{LINK_PREFIX, OpaqueToken};

/// What a link does when it is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkPurpose {
    /// Marks the address it was sent to as verified.
    VerifyEmail,
    /// Lets its holder choose a new password.
    PasswordReset,
    /// Moves the account to the address it was sent to.
    EmailChange,
}

impl LinkPurpose {
    /// Every purpose.
    pub const ALL: [LinkPurpose; 3] = [
        LinkPurpose::VerifyEmail,
        LinkPurpose::PasswordReset,
        LinkPurpose::EmailChange,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            LinkPurpose::VerifyEmail => "verify_email",
            LinkPurpose::PasswordReset => "password_reset",
            LinkPurpose::EmailChange => "email_change",
        }
    }

    /// Parses the stored name.
    pub fn parse(raw: &str) -> Option<LinkPurpose> {
        LinkPurpose::ALL.into_iter().find(|p| p.as_str() == raw)
    }

    /// Whether a new link of this purpose voids the user's older unused
    /// ones. A reset link does (contract: only the newest may be used); so
    /// does an e-mail change link, since the newest request names the
    /// address the person wants now. Verification links do not: each proves
    /// the same thing, and a re-sent mail must not break the first one a
    /// person is about to click.
    pub fn voids_older(self) -> bool {
        matches!(self, LinkPurpose::PasswordReset | LinkPurpose::EmailChange)
    }
}

impl fmt::Display for LinkPurpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long each kind of link stays usable (`[links]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkLifetimes {
    /// E-mail verification (default 24 h).
    pub verify_email: Duration,
    /// Password reset (default 1 h).
    pub password_reset: Duration,
    /// E-mail change (default 24 h).
    pub email_change: Duration,
}

impl Default for LinkLifetimes {
    fn default() -> Self {
        Self {
            verify_email: Duration::hours(24),
            password_reset: Duration::hours(1),
            email_change: Duration::hours(24),
        }
    }
}

impl LinkLifetimes {
    /// The lifetime of a link of `purpose`.
    pub fn of(&self, purpose: LinkPurpose) -> Duration {
        match purpose {
            LinkPurpose::VerifyEmail => self.verify_email,
            LinkPurpose::PasswordReset => self.password_reset,
            LinkPurpose::EmailChange => self.email_change,
        }
    }
}

/// What an unused link would do, for the page it opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkPreview {
    /// What following it does.
    pub purpose: LinkPurpose,
    /// The address it was mailed to (its holder reads that mailbox).
    pub email: Email,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// A link as stored: the token's hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    /// SHA-256 of the `wml_` token.
    pub token_hash: TokenHash,
    /// What it does.
    pub purpose: LinkPurpose,
    /// The account it belongs to.
    pub user_id: UserId,
    /// The address it was mailed to: the account's address for verification
    /// and reset, the new address for a change.
    pub email: Email,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// After this it is refused.
    pub expires_at: DateTime<Utc>,
    /// When it was used or voided.
    pub used_at: Option<DateTime<Utc>>,
}

impl LinkRecord {
    /// A fresh link of `purpose` for `user`, mailed to `email` at `now`:
    /// the token to put in the mail and the record to store.
    pub fn issue(
        purpose: LinkPurpose,
        user_id: UserId,
        email: Email,
        now: DateTime<Utc>,
        lifetimes: &LinkLifetimes,
    ) -> (OpaqueToken, LinkRecord) {
        let token = OpaqueToken::generate(LINK_PREFIX);
        let record = LinkRecord {
            token_hash: token.hash(),
            purpose,
            user_id,
            email,
            created_at: now,
            expires_at: now + lifetimes.of(purpose),
            used_at: None,
        };
        (token, record)
    }

    /// Whether it may still be followed at `now`: unused and unexpired.
    pub fn is_usable(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }
}

/// How often a link may be mailed for one key (an address, or an account
/// and purpose): at most one per `min_interval`, and `per_hour` in any
/// hour-long window. Counted whether or not an account exists, so a 429
/// says nothing about the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimit {
    /// Shortest time between two mails (default 60 s).
    pub min_interval: Duration,
    /// Mails per hour-long window (default 5; 0: no hourly cap).
    pub per_hour: u32,
}

impl Default for SendLimit {
    fn default() -> Self {
        Self {
            min_interval: Duration::seconds(60),
            per_hour: 5,
        }
    }
}

/// What the store remembers per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendState {
    /// The last mail allowed.
    pub last_at: DateTime<Utc>,
    /// Start of the current hour-long window.
    pub window_start: DateTime<Utc>,
    /// Mails allowed in that window.
    pub window_count: u32,
}

impl SendLimit {
    /// The decision at `now` for a key whose state is `state` (`None`: never
    /// sent): the state to store when allowed, or the seconds to wait.
    pub fn decide(&self, state: Option<SendState>, now: DateTime<Utc>) -> Result<SendState, u64> {
        let Some(state) = state else {
            return Ok(SendState {
                last_at: now,
                window_start: now,
                window_count: 1,
            });
        };
        let next_by_interval = state.last_at + self.min_interval;
        let window_end = state.window_start + Duration::hours(1);
        let window_over = now >= window_end;
        let mut wait_until = None;
        if now < next_by_interval {
            wait_until = Some(next_by_interval);
        }
        if !window_over && self.per_hour > 0 && state.window_count >= self.per_hour {
            wait_until = Some(wait_until.map_or(window_end, |w: DateTime<Utc>| w.max(window_end)));
        }
        if let Some(until) = wait_until {
            let millis = (until - now).num_milliseconds().max(1);
            return Err(((millis + 999) / 1000) as u64);
        }
        Ok(if window_over {
            SendState {
                last_at: now,
                window_start: now,
                window_count: 1,
            }
        } else {
            SendState {
                last_at: now,
                window_start: state.window_start,
                window_count: state.window_count + 1,
            }
        })
    }
}

/// Makes links and the mail that carries them. Links point at the hosted
/// pages under `public_url`: `/verify-email?token=` (verification and
/// e-mail change, both completed by `POST /v1/email/verify`) and
/// `/reset-password?token=`. Opening the page never consumes the link; its
/// button does.
#[derive(Debug, Clone)]
pub struct LinkMailer {
    /// Base URL of the pages, without a trailing slash.
    pub public_url: String,
    /// Lifetimes per purpose.
    pub lifetimes: LinkLifetimes,
}

/// The template input holding the link.
pub const LINK_VALUE: &str = "link";
/// The template input holding the account's new address (e-mail change
/// link and the `email_changed` notice).
pub const NEW_EMAIL_VALUE: &str = "new_email";
/// The template input saying how long the link works ("1 hour").
pub const EXPIRES_IN_VALUE: &str = "expires_in";

/// A lifetime in words for a mail: whole days, hours or minutes, the
/// largest unit that divides it, so "24 hours" reads "1 day".
pub fn lifetime_in_words(lifetime: Duration) -> String {
    let minutes = lifetime.num_minutes().max(1);
    let (n, unit) = if minutes % (24 * 60) == 0 {
        (minutes / (24 * 60), "day")
    } else if minutes % 60 == 0 {
        (minutes / 60, "hour")
    } else {
        (minutes, "minute")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

impl LinkMailer {
    /// A link of `purpose` for `user`, mailed to `to` at `now`: the record
    /// to store and the mail that carries it.
    pub fn link(
        &self,
        purpose: LinkPurpose,
        user: UserId,
        to: &Email,
        now: DateTime<Utc>,
    ) -> (LinkRecord, QueuedMail) {
        let (token, record) = LinkRecord::issue(purpose, user, to.clone(), now, &self.lifetimes);
        let (kind, page) = match purpose {
            LinkPurpose::VerifyEmail => (MailKind::VerifyEmail, "verify-email"),
            LinkPurpose::EmailChange => (MailKind::EmailChange, "verify-email"),
            LinkPurpose::PasswordReset => (MailKind::PasswordReset, "reset-password"),
        };
        let url = format!("{}/{page}?token={}", self.public_url, token.expose());
        let mut mail = QueuedMail::new(kind, to.as_str(), now)
            .for_user(user)
            .with(LINK_VALUE, url)
            .with(
                EXPIRES_IN_VALUE,
                lifetime_in_words(self.lifetimes.of(purpose)),
            );
        if purpose == LinkPurpose::EmailChange {
            mail = mail.with(NEW_EMAIL_VALUE, to.as_str());
        }
        (record, mail)
    }
}

/// Whether a send was allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    /// Allowed: the link and mail (if any) are stored.
    Sent,
    /// Too soon: nothing was written; retry after this many seconds.
    Throttled {
        /// Seconds to wait.
        retry_after_secs: u64,
    },
}

/// The throttle a send passes through: its key and its limit.
#[derive(Debug, Clone, Copy)]
pub struct SendThrottle<'a> {
    /// A fixed-width key (see [`throttle_key`]).
    pub key: &'a str,
    /// The limit.
    pub limit: SendLimit,
    /// The time of the request.
    pub now: DateTime<Utc>,
}

/// The stored key of a send throttle: a hash, so no address is stored in
/// clear and every key has the same width.
pub fn throttle_key(scope: &str, subject: &str) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(Sha256::digest(format!("{scope}:{subject}").as_bytes()))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::ports::{Clock as _, FakeClock};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 3, 0, 0).unwrap()
    }

    #[test]
    fn lifetimes_read_in_the_largest_whole_unit() {
        assert_eq!(lifetime_in_words(Duration::hours(1)), "1 hour");
        assert_eq!(lifetime_in_words(Duration::hours(24)), "1 day");
        assert_eq!(lifetime_in_words(Duration::hours(48)), "2 days");
        assert_eq!(lifetime_in_words(Duration::minutes(90)), "90 minutes");
        assert_eq!(lifetime_in_words(Duration::hours(3)), "3 hours");
        assert_eq!(lifetime_in_words(Duration::seconds(5)), "1 minute");
    }

    #[test]
    fn link_mail_says_how_long_the_link_works() {
        let mailer = LinkMailer {
            public_url: "https://id.example.com".into(),
            lifetimes: LinkLifetimes::default(),
        };
        let to = Email::parse("ada@example.com").unwrap();
        let (_, reset) = mailer.link(LinkPurpose::PasswordReset, UserId::new(), &to, t0());
        assert_eq!(reset.values[EXPIRES_IN_VALUE], "1 hour");
        let (_, verify) = mailer.link(LinkPurpose::VerifyEmail, UserId::new(), &to, t0());
        assert_eq!(verify.values[EXPIRES_IN_VALUE], "1 day");
    }

    fn link(purpose: LinkPurpose, clock: &FakeClock) -> LinkRecord {
        let email = Email::parse("ada@example.com").unwrap();
        LinkRecord::issue(
            purpose,
            UserId::new(),
            email,
            clock.now(),
            &LinkLifetimes::default(),
        )
        .1
    }

    #[test]
    fn links_live_24_hours_for_e_mail_and_one_hour_for_a_reset() {
        let clock = FakeClock::new(t0());
        let verify = link(LinkPurpose::VerifyEmail, &clock);
        let reset = link(LinkPurpose::PasswordReset, &clock);
        let change = link(LinkPurpose::EmailChange, &clock);
        clock.advance(Duration::minutes(59));
        assert!(reset.is_usable(clock.now()));
        clock.advance(Duration::minutes(1));
        assert!(!reset.is_usable(clock.now()), "a reset link ends after 1 h");
        assert!(verify.is_usable(clock.now()) && change.is_usable(clock.now()));
        clock.advance(Duration::hours(23) - Duration::milliseconds(1));
        assert!(verify.is_usable(clock.now()) && change.is_usable(clock.now()));
        clock.advance(Duration::milliseconds(1));
        assert!(
            !verify.is_usable(clock.now()),
            "verification ends after 24 h"
        );
        assert!(
            !change.is_usable(clock.now()),
            "a change link ends after 24 h"
        );
    }

    #[test]
    fn configured_lifetimes_apply() {
        let clock = FakeClock::new(t0());
        let lifetimes = LinkLifetimes {
            password_reset: Duration::minutes(10),
            ..LinkLifetimes::default()
        };
        let (_, reset) = LinkRecord::issue(
            LinkPurpose::PasswordReset,
            UserId::new(),
            Email::parse("a@example.com").unwrap(),
            clock.now(),
            &lifetimes,
        );
        assert_eq!(reset.expires_at, t0() + Duration::minutes(10));
    }

    #[test]
    fn a_used_link_is_never_usable_again() {
        let clock = FakeClock::new(t0());
        let mut verify = link(LinkPurpose::VerifyEmail, &clock);
        verify.used_at = Some(clock.now());
        assert!(!verify.is_usable(clock.now()));
    }

    #[test]
    fn tokens_are_wml_prefixed_256_bit_secrets_stored_only_hashed() {
        let clock = FakeClock::new(t0());
        let (token, record) = LinkRecord::issue(
            LinkPurpose::VerifyEmail,
            UserId::new(),
            Email::parse("a@example.com").unwrap(),
            clock.now(),
            &LinkLifetimes::default(),
        );
        assert!(token.expose().starts_with("wml_"));
        assert_eq!(token.expose().len(), 4 + 43);
        assert_eq!(record.token_hash, token.hash());
        assert!(!record.token_hash.0.contains(&token.expose()[4..]));
        assert!(!format!("{record:?}").contains(token.expose()));
    }

    #[test]
    fn reset_and_change_links_void_older_ones_verification_links_do_not() {
        assert!(LinkPurpose::PasswordReset.voids_older());
        assert!(LinkPurpose::EmailChange.voids_older());
        assert!(!LinkPurpose::VerifyEmail.voids_older());
        for purpose in LinkPurpose::ALL {
            assert_eq!(LinkPurpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(LinkPurpose::parse("magic_link"), None);
    }

    #[test]
    fn mailed_links_point_at_the_hosted_pages_and_carry_the_token() {
        let mailer = LinkMailer {
            public_url: "https://id.example.com".into(),
            lifetimes: LinkLifetimes::default(),
        };
        let to = Email::parse("ada@example.com").unwrap();
        let user = UserId::new();
        for (purpose, kind, page) in [
            (
                LinkPurpose::VerifyEmail,
                MailKind::VerifyEmail,
                "verify-email",
            ),
            (
                LinkPurpose::EmailChange,
                MailKind::EmailChange,
                "verify-email",
            ),
            (
                LinkPurpose::PasswordReset,
                MailKind::PasswordReset,
                "reset-password",
            ),
        ] {
            let (record, mail) = mailer.link(purpose, user, &to, t0());
            assert_eq!(mail.kind, kind);
            assert_eq!(mail.to, "ada@example.com");
            assert_eq!(mail.user, Some(user));
            let url = &mail.values[LINK_VALUE];
            let prefix = format!("https://id.example.com/{page}?token=wml_");
            assert!(url.starts_with(&prefix), "{url}");
            let token = OpaqueToken::parse(&url[prefix.len() - 4..], LINK_PREFIX).unwrap();
            assert_eq!(token.hash(), record.token_hash);
            assert_eq!(record.purpose, purpose);
        }
    }

    #[test]
    fn one_mail_per_minute_and_five_per_hour() {
        let limit = SendLimit::default();
        let clock = FakeClock::new(t0());
        let mut state = limit.decide(None, clock.now()).unwrap();
        assert_eq!(state.window_count, 1);
        clock.advance(Duration::seconds(30));
        assert_eq!(limit.decide(Some(state), clock.now()), Err(30));
        clock.advance(Duration::seconds(30));
        for n in 2..=5 {
            state = limit.decide(Some(state), clock.now()).unwrap();
            assert_eq!(state.window_count, n);
            clock.advance(Duration::seconds(60));
        }
        // Five in the window (t0 .. t0+4 min); now t0+5 min: wait for the
        // window to end at t0+60 min.
        assert_eq!(
            limit.decide(Some(state), clock.now()),
            Err(55 * 60),
            "the sixth mail in an hour waits for the window to end"
        );
        clock.advance(Duration::minutes(55));
        let fresh = limit.decide(Some(state), clock.now()).unwrap();
        assert_eq!(fresh.window_count, 1);
        assert_eq!(fresh.window_start, clock.now());
    }

    #[test]
    fn throttle_keys_hide_the_address_and_separate_scopes() {
        let a = throttle_key("forgot", "ada@example.com");
        assert_eq!(a.len(), 64);
        assert!(!a.contains("ada"));
        assert_ne!(a, throttle_key("verify", "ada@example.com"));
    }
}
