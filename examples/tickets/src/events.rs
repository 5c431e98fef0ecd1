//! Warden's events, as this service uses them: when a user is deleted, so
//! are their tickets. The service never asks Warden whether a user still
//! exists; it keeps the data it needs and the bus keeps it current.
//!
//! Delivery is at-least-once (NATS replays what its stream retains after a
//! restart), so handling is idempotent: deleting the tickets of a user who
//! has none does nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;
use warden_events::{BusNames, CloudEvent, Subscription, SubscriptionStatus};

use crate::store::Store;

/// What an event asks of this service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The user is gone: delete their tickets.
    DeleteTicketsOf(Uuid),
}

/// The action `event` asks for, if it is one this service cares about and
/// it comes from `issuer` (events of another Warden sharing the broker are
/// none of our business).
pub fn action_of(event: &CloudEvent, issuer: &str) -> Option<Action> {
    if event.source.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return None;
    }
    match event.name()? {
        "user.deleted" => {
            let user_id = event.data.get("user_id")?.as_str()?;
            Uuid::parse_str(user_id).ok().map(Action::DeleteTicketsOf)
        }
        _ => None,
    }
}

/// A running consumer: the broker subscription and the task applying its
/// actions to the store. Dropping it stops both.
#[derive(Debug)]
pub struct Consumer {
    subscription: Subscription,
    worker: tokio::task::JoinHandle<()>,
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.worker.abort();
    }
}

impl Consumer {
    /// Subscribes to the bus at `url` and applies every action to `store`.
    pub fn start(
        url: &str,
        names: BusNames,
        issuer: &str,
        store: Arc<Store>,
    ) -> Result<Consumer, warden_events::BusError> {
        // The subscription's sink is synchronous; the store is not. A
        // channel between them keeps the broker reader from ever blocking.
        let (sender, receiver) = mpsc::unbounded_channel();
        let issuer = issuer.to_owned();
        let subscription = warden_events::subscribe(
            url,
            names,
            Arc::new(move |event: CloudEvent| {
                if let Some(action) = action_of(&event, &issuer) {
                    let _ = sender.send(action);
                }
            }),
        )?;
        let worker = tokio::spawn(apply_all(receiver, store));
        Ok(Consumer {
            subscription,
            worker,
        })
    }

    /// Whether the subscription is connected.
    pub fn status(&self) -> Arc<SubscriptionStatus> {
        self.subscription.status()
    }
}

async fn apply_all(mut actions: mpsc::UnboundedReceiver<Action>, store: Arc<Store>) {
    while let Some(action) = actions.recv().await {
        let Action::DeleteTicketsOf(user_id) = action;
        // The event is already consumed: retry until the store takes it,
        // rather than lose a deletion to a database blip.
        let mut backoff = Duration::from_millis(100);
        loop {
            match store.delete_tickets_of(user_id).await {
                Ok(deleted) => {
                    tracing::info!(%user_id, deleted, "user deleted: removed their tickets");
                    break;
                }
                Err(e) => {
                    tracing::warn!(%user_id, error = %e, "could not delete a deleted user's tickets; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(source: &str, name: &str, data: serde_json::Value) -> CloudEvent {
        CloudEvent::new("e-1", source, name, chrono::Utc::now(), data)
    }

    #[test]
    fn a_deleted_user_of_our_issuer_deletes_their_tickets() {
        let id = Uuid::now_v7();
        let deleted = event("https://auth.test", "user.deleted", json!({"user_id": id}));
        assert_eq!(
            action_of(&deleted, "https://auth.test/"),
            Some(Action::DeleteTicketsOf(id))
        );
    }

    #[test]
    fn other_events_other_issuers_and_bad_data_are_ignored() {
        let id = Uuid::now_v7();
        let cases = [
            event("https://auth.test", "user.banned", json!({"user_id": id})),
            event("https://other.test", "user.deleted", json!({"user_id": id})),
            event("https://auth.test", "user.deleted", json!({"user_id": "x"})),
            event("https://auth.test", "user.deleted", json!({})),
        ];
        for case in cases {
            assert_eq!(action_of(&case, "https://auth.test"), None, "{case:?}");
        }
    }
}
