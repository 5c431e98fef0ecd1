//! Mail the domain asks to send: which kind, to whom, with which values.
//! Nothing here renders or delivers; the queue keeps what to send, and the
//! mail worker renders it at delivery time so that template overrides and
//! `[ui]` branding apply to mail already queued.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::ids::{MailId, UserId};

/// The kinds of mail Warden sends (front-door contract, section 2). The
/// string forms are the `kind` label of `warden_mail_sent_total`, the
/// template file names and the stored column value: a fixed set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MailKind {
    /// A link that proves the person reads the address.
    VerifyEmail,
    /// A link to choose a new password.
    PasswordReset,
    /// A link, to the new address, that completes an e-mail change.
    EmailChange,
    /// Notice to the old address that the e-mail was changed.
    EmailChanged,
    /// Notice that the password was changed or reset.
    PasswordChanged,
    /// Notice that a second factor was added or removed.
    MfaChanged,
    /// Notice that a social identity was linked.
    IdentityLinked,
}

impl MailKind {
    /// Every kind, for metrics pre-registration and template checks.
    pub const ALL: [MailKind; 7] = [
        MailKind::VerifyEmail,
        MailKind::PasswordReset,
        MailKind::EmailChange,
        MailKind::EmailChanged,
        MailKind::PasswordChanged,
        MailKind::MfaChanged,
        MailKind::IdentityLinked,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            MailKind::VerifyEmail => "verify_email",
            MailKind::PasswordReset => "password_reset",
            MailKind::EmailChange => "email_change",
            MailKind::EmailChanged => "email_changed",
            MailKind::PasswordChanged => "password_changed",
            MailKind::MfaChanged => "mfa_changed",
            MailKind::IdentityLinked => "identity_linked",
        }
    }

    /// Whether the message carries a secret link, so the queue must encrypt
    /// its values at rest and forget them once delivered.
    pub fn carries_link(self) -> bool {
        matches!(
            self,
            MailKind::VerifyEmail | MailKind::PasswordReset | MailKind::EmailChange
        )
    }
}

impl fmt::Display for MailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown mail kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown mail kind `{0}`")]
pub struct UnknownMailKind(pub String);

impl FromStr for MailKind {
    type Err = UnknownMailKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MailKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownMailKind(s.to_owned()))
    }
}

/// A message waiting to be sent. `values` are the template's inputs (for
/// example `link`, `new_email`); they may hold a secret link, so adapters
/// encrypt them at rest and drop them once the message is delivered or
/// given up. `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct QueuedMail {
    /// Identifier (UUIDv7: queue order is creation order).
    pub id: MailId,
    /// What kind of message.
    pub kind: MailKind,
    /// Recipient address.
    pub to: String,
    /// The account it concerns, if any. Deleting the account does not
    /// delete its queued mail (no foreign key): a notice still goes out.
    pub user: Option<UserId>,
    /// Template inputs.
    pub values: BTreeMap<String, String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

impl QueuedMail {
    /// A message of `kind` to `to`, queued at `now`.
    pub fn new(kind: MailKind, to: impl Into<String>, now: DateTime<Utc>) -> Self {
        Self {
            id: MailId::new(),
            kind,
            to: to.into(),
            user: None,
            values: BTreeMap::new(),
            created_at: now,
        }
    }

    /// About the account `user`.
    pub fn for_user(mut self, user: UserId) -> Self {
        self.user = Some(user);
        self
    }

    /// With one template input.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Self {
        self.values.insert(key.to_owned(), value.into());
        self
    }
}

impl fmt::Debug for QueuedMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueuedMail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("user", &self.user)
            .field("values", &"[redacted]")
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// A queued message handed to the worker, with its delivery history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueMail {
    /// The message.
    pub mail: QueuedMail,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// When the worker tries again after `attempts` failed attempts, and when
/// it gives up: exponential back-off from 30 s, capped at one hour, for at
/// most three days (an SMTP outage over a weekend delays mail, it does not
/// lose it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failure.
    pub first: chrono::Duration,
    /// Longest delay between two attempts.
    pub max: chrono::Duration,
    /// Give up when the message is older than this.
    pub give_up_after: chrono::Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            first: chrono::Duration::seconds(30),
            max: chrono::Duration::hours(1),
            give_up_after: chrono::Duration::days(3),
        }
    }
}

/// What the worker does after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAttempt {
    /// Try again at this time.
    At(DateTime<Utc>),
    /// Stop: the message is too old, or the failure is permanent.
    GiveUp,
}

impl RetryPolicy {
    /// The next step for a message queued at `created_at` that has now
    /// failed `attempts` times (counting this one), at `now`.
    pub fn after_failure(
        &self,
        created_at: DateTime<Utc>,
        attempts: u32,
        now: DateTime<Utc>,
    ) -> NextAttempt {
        if now - created_at >= self.give_up_after {
            return NextAttempt::GiveUp;
        }
        let exponent = attempts.saturating_sub(1).min(16);
        let delay = self
            .first
            .checked_mul(1_i32 << exponent)
            .unwrap_or(self.max)
            .min(self.max);
        NextAttempt::At(now + delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in MailKind::ALL {
            assert_eq!(kind.as_str().parse::<MailKind>(), Ok(kind));
        }
        assert!("newsletter".parse::<MailKind>().is_err());
    }

    #[test]
    fn back_off_doubles_up_to_the_cap_then_gives_up() {
        let policy = RetryPolicy::default();
        let t0 = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        assert_eq!(
            policy.after_failure(t0, 1, t0),
            NextAttempt::At(t0 + chrono::Duration::seconds(30))
        );
        assert_eq!(
            policy.after_failure(t0, 3, t0),
            NextAttempt::At(t0 + chrono::Duration::seconds(120))
        );
        assert_eq!(
            policy.after_failure(t0, 40, t0),
            NextAttempt::At(t0 + chrono::Duration::hours(1))
        );
        let late = t0 + chrono::Duration::days(3);
        assert_eq!(policy.after_failure(t0, 5, late), NextAttempt::GiveUp);
    }

    #[test]
    fn debug_hides_the_values() {
        let now = Utc::now();
        let mail = QueuedMail::new(MailKind::PasswordReset, "a@example.com", now)
            .with("link", "https://x/reset-password?token=wml_secret");
        assert!(!format!("{mail:?}").contains("wml_secret"));
    }
}
