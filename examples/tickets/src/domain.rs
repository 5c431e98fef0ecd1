//! Tickets and the rules about them: what a valid ticket is and who may see
//! it. No HTTP, no SQL: both edges translate to and from these types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest title, in characters.
pub const TITLE_MAX: usize = 200;
/// Longest body, in characters.
pub const BODY_MAX: usize = 10_000;

/// A request field that broke a rule, named for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Invalid {
    /// The JSON field.
    pub field: &'static str,
    /// Why, for humans.
    pub reason: String,
}

impl Invalid {
    /// `field` broke a rule.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// A ticket title: trimmed, 1 to [`TITLE_MAX`] characters, one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    /// Checks and normalises a title.
    pub fn parse(raw: &str) -> Result<Title, Invalid> {
        let title = raw.trim();
        if title.is_empty() {
            return Err(Invalid::new("title", "must not be empty"));
        }
        if title.chars().count() > TITLE_MAX {
            return Err(Invalid::new(
                "title",
                format!("must be at most {TITLE_MAX} characters"),
            ));
        }
        if title.chars().any(char::is_control) {
            return Err(Invalid::new(
                "title",
                "must be one line without control characters",
            ));
        }
        Ok(Title(title.to_owned()))
    }

    /// The title.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A ticket body: free text up to [`BODY_MAX`] characters (may be empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Body(String);

impl Body {
    /// Checks a body; line breaks and tabs are fine, other control
    /// characters are not (they are never typed, only smuggled).
    pub fn parse(raw: &str) -> Result<Body, Invalid> {
        if raw.chars().count() > BODY_MAX {
            return Err(Invalid::new(
                "body",
                format!("must be at most {BODY_MAX} characters"),
            ));
        }
        if raw
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(Invalid::new("body", "must not contain control characters"));
        }
        Ok(Body(raw.to_owned()))
    }

    /// The body.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// New, nobody on it.
    Open,
    /// Someone is on it.
    InProgress,
    /// Done or dropped.
    Closed,
}

impl Status {
    /// The stored and JSON spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::InProgress => "in_progress",
            Status::Closed => "closed",
        }
    }

    /// The inverse of [`Status::as_str`].
    pub fn parse(raw: &str) -> Option<Status> {
        [Status::Open, Status::InProgress, Status::Closed]
            .into_iter()
            .find(|s| s.as_str() == raw)
    }
}

/// A stored ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// UUIDv7, so ids sort by creation time (the list's order and cursor).
    pub id: Uuid,
    /// The Warden user id (`sub`) of whoever created it.
    pub owner_id: Uuid,
    /// The owner's e-mail as this service learnt it from `user.created`
    /// (replicated, never asked of Warden); `None` until that event arrived.
    pub owner_email: Option<String>,
    /// Title.
    pub title: Title,
    /// Body.
    pub body: Body,
    /// Status.
    pub status: Status,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Ticket {
    /// A new open ticket of `owner`.
    pub fn new(owner_id: Uuid, title: Title, body: Body, now: DateTime<Utc>) -> Ticket {
        Ticket {
            id: Uuid::now_v7(),
            owner_id,
            owner_email: None,
            title,
            body,
            status: Status::Open,
            created_at: now,
            updated_at: now,
        }
    }

    /// Applies `change`; the caller stores the result.
    pub fn apply(&mut self, change: Change, now: DateTime<Utc>) {
        if let Some(title) = change.title {
            self.title = title;
        }
        if let Some(body) = change.body {
            self.body = body;
        }
        if let Some(status) = change.status {
            self.status = status;
        }
        self.updated_at = now;
    }
}

/// An update: only the fields given change; at least one must be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    title: Option<Title>,
    body: Option<Body>,
    status: Option<Status>,
}

impl Change {
    /// A change of at least one field.
    pub fn new(
        title: Option<Title>,
        body: Option<Body>,
        status: Option<Status>,
    ) -> Result<Change, Invalid> {
        if title.is_none() && body.is_none() && status.is_none() {
            return Err(Invalid::new(
                "body",
                "give at least one of title, body, status",
            ));
        }
        Ok(Change {
            title,
            body,
            status,
        })
    }
}

/// Who is asking, as far as tickets are concerned: a user sees their own
/// tickets, an admin sees everyone's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    /// The Warden user id.
    pub user_id: Uuid,
    /// Whether they may see and change every ticket.
    pub is_admin: bool,
}

impl Viewer {
    /// Whether this viewer may see (and so change) `ticket`. Everyone else
    /// is told it does not exist, so ids of other users' tickets leak nothing.
    pub fn can_see(&self, ticket: &Ticket) -> bool {
        self.is_admin || ticket.owner_id == self.user_id
    }

    /// Whose tickets a listing covers: `None` for all.
    pub fn owner_filter(&self) -> Option<Uuid> {
        (!self.is_admin).then_some(self.user_id)
    }
}

/// One page of a listing: at most `limit` tickets, newest first, after the
/// ticket id `after` (the previous page's last).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Page size.
    pub limit: u32,
    /// Cursor: the last id of the previous page.
    pub after: Option<Uuid>,
}

/// Default page size.
pub const PAGE_DEFAULT: u32 = 20;
/// Largest page size.
pub const PAGE_MAX: u32 = 100;

impl PageRequest {
    /// Checks the page size (1 to [`PAGE_MAX`], default [`PAGE_DEFAULT`]).
    pub fn new(limit: Option<u32>, after: Option<Uuid>) -> Result<PageRequest, Invalid> {
        let limit = limit.unwrap_or(PAGE_DEFAULT);
        if !(1..=PAGE_MAX).contains(&limit) {
            return Err(Invalid::new(
                "limit",
                format!("must be between 1 and {PAGE_MAX}"),
            ));
        }
        Ok(PageRequest { limit, after })
    }
}

/// A page of tickets and the cursor of the next one (`None` on the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The tickets, newest first.
    pub tickets: Vec<Ticket>,
    /// Pass as `cursor` to get the next page.
    pub next_cursor: Option<Uuid>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_bounded_and_single_line() {
        assert_eq!(
            Title::parse("  Printer on fire ").unwrap().as_str(),
            "Printer on fire"
        );
        assert_eq!(Title::parse("   ").unwrap_err().field, "title");
        assert!(
            Title::parse(&"é".repeat(TITLE_MAX)).is_ok(),
            "counts characters, not bytes"
        );
        assert!(Title::parse(&"x".repeat(TITLE_MAX + 1)).is_err());
        assert!(Title::parse("two\nlines").is_err());
    }

    #[test]
    fn bodies_allow_line_breaks_but_not_other_control_characters() {
        assert!(Body::parse("").is_ok());
        assert!(Body::parse("line one\n\tline two\r\n").is_ok());
        assert!(Body::parse("bell\u{7}").is_err());
        assert!(Body::parse(&"x".repeat(BODY_MAX + 1)).is_err());
    }

    #[test]
    fn a_change_needs_a_field() {
        assert!(Change::new(None, None, None).is_err());
        assert!(Change::new(None, None, Some(Status::Closed)).is_ok());
    }

    #[test]
    fn statuses_round_trip() {
        for status in [Status::Open, Status::InProgress, Status::Closed] {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("done"), None);
    }

    #[test]
    fn only_the_owner_or_an_admin_sees_a_ticket() {
        let (owner, other) = (Uuid::now_v7(), Uuid::now_v7());
        let ticket = Ticket::new(
            owner,
            Title::parse("t").unwrap(),
            Body::default(),
            Utc::now(),
        );
        let viewer = |user_id, is_admin| Viewer { user_id, is_admin };
        assert!(viewer(owner, false).can_see(&ticket));
        assert!(!viewer(other, false).can_see(&ticket));
        assert!(viewer(other, true).can_see(&ticket));
        assert_eq!(viewer(other, true).owner_filter(), None);
        assert_eq!(viewer(other, false).owner_filter(), Some(other));
    }

    #[test]
    fn page_sizes_are_bounded() {
        assert_eq!(PageRequest::new(None, None).unwrap().limit, PAGE_DEFAULT);
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(Some(PAGE_MAX + 1), None).is_err());
    }
}
