//! The revocation feed: what this instance follows from the shared outbox,
//! and the pages verifiers elsewhere poll (`GET /v1/revocations`).

use chrono::{DateTime, Utc};
use warden_token::revocation::RevocationPage;

use super::AuthService;
use crate::error::{CoreError, FieldError};
use crate::events::DomainEvent;
use crate::model::Revocation;

/// Outbox events read per revocation-feed page.
const FEED_PAGE: u32 = 500;

impl AuthService {
    /// Applies the revocations other instances committed since the last
    /// call, read from the shared outbox through the same feed verifiers
    /// use. Called every second, it bounds how long another instance's
    /// sign-out takes to reach this one when no bus is configured (and
    /// catches up whatever a bus outage held back). Returns how many entries
    /// it applied.
    ///
    /// Unbans are applied in their place among the revocations (decision
    /// 16): the feed replays a ban committed before the cursor moved past
    /// it, and the unban that follows must lift it again.
    pub async fn follow_revocations(&self) -> Result<usize, CoreError> {
        let mut cursor = self.feed_cursor.lock().await;
        let mut applied = 0;
        loop {
            let page = self.feed_page(cursor.as_deref()).await?;
            for item in &page.items {
                match item {
                    FeedItem::Revocation(entry) => self.denylist.insert(entry),
                    FeedItem::Unban { data, at } => {
                        self.denylist.apply_unban(data, *at);
                    }
                }
            }
            applied += page.items.len();
            *cursor = Some(page.cursor);
            if !page.has_more {
                return Ok(applied);
            }
        }
    }

    /// A page of the revocation feed. Without `since`: every revocation in
    /// force, with a cursor taken *before* reading them (so whatever commits
    /// meanwhile comes again on the next page; entries are idempotent). With
    /// `since`: the revocations committed after it, read from the outbox in
    /// commit order. A cursor the store has never handed out (a reset
    /// database) gets a full snapshot again.
    pub async fn revocations_since(
        &self,
        since: Option<&str>,
    ) -> Result<RevocationPage, CoreError> {
        let page = self.feed_page(since).await?;
        Ok(RevocationPage {
            cursor: page.cursor,
            entries: page
                .items
                .into_iter()
                .filter_map(|item| match item {
                    FeedItem::Revocation(entry) => Some(entry),
                    FeedItem::Unban { .. } => None,
                })
                .collect(),
            has_more: page.has_more,
        })
    }

    /// The feed with the unbans in their place (see
    /// [`AuthService::revocations_since`] for the paging rules).
    async fn feed_page(&self, since: Option<&str>) -> Result<FeedPage, CoreError> {
        let now = self.clock.now();
        let after = since
            .map(|c| {
                c.parse::<i64>()
                    .ok()
                    .filter(|seq| *seq >= 0)
                    .ok_or_else(|| FieldError::new("since", "is not a valid cursor"))
            })
            .transpose()?;
        let latest = self.store.latest_outbox_seq().await?;
        let Some(after) = after.filter(|after| *after <= latest) else {
            // An unban deletes the ban's row: the snapshot has nothing to lift.
            let entries = self.store.list_active_revocations(now).await?;
            return Ok(FeedPage {
                cursor: latest.to_string(),
                items: entries.into_iter().map(FeedItem::Revocation).collect(),
                has_more: false,
            });
        };
        let events = self.store.list_outbox(after, FEED_PAGE).await?;
        let cursor = events.last().map_or(after, |(seq, _)| *seq);
        let items = events
            .iter()
            .filter_map(|(_, event)| {
                if event.name == DomainEvent::USER_UNBANNED {
                    return Some(FeedItem::Unban {
                        data: event.data.clone(),
                        at: event.at,
                    });
                }
                Revocation::from_event(&event.name, &event.data)
                    .filter(|revocation| revocation.until > now)
                    .map(FeedItem::Revocation)
            })
            .collect();
        Ok(FeedPage {
            cursor: cursor.to_string(),
            items,
            has_more: events.len() == FEED_PAGE as usize,
        })
    }
}

/// A page of the revocation feed as this instance follows it.
struct FeedPage {
    cursor: String,
    items: Vec<FeedItem>,
    has_more: bool,
}

/// A revocation, or an unban that lifts an earlier one.
enum FeedItem {
    Revocation(Revocation),
    Unban {
        data: serde_json::Value,
        at: DateTime<Utc>,
    },
}
