//! Warden's events, as this service uses them: `user.created` replicates
//! the user's e-mail (shown as a ticket's `owner_email`), `user.deleted`
//! deletes their tickets and forgets them. The service never asks Warden
//! about a user; it keeps the data it needs and the bus keeps it current.
//!
//! Delivery is at-least-once (NATS replays what its stream retains after a
//! restart), so handling is idempotent: remembering a user twice or
//! deleting one who has no tickets changes nothing.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use uuid::Uuid;
use warden_events::{BusNames, CloudEvent, Subscription, SubscriptionStatus};

use crate::store::Store;

/// What an event asks of this service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A new user: remember their e-mail.
    RememberUser(Uuid, String),
    /// The user is gone: delete their tickets and forget them.
    DeleteUser(Uuid),
}

/// The action `event` asks for, if it is one this service cares about and
/// it comes from `issuer` (events of another Warden sharing the broker are
/// none of our business).
pub fn action_of(event: &CloudEvent, issuer: &str) -> Option<Action> {
    if event.source.trim_end_matches('/') != issuer.trim_end_matches('/') {
        return None;
    }
    let user_id = Uuid::parse_str(event.data.get("user_id")?.as_str()?).ok()?;
    match event.name()? {
        "user.created" => {
            let email = event.data.get("email")?.as_str()?;
            Some(Action::RememberUser(user_id, email.to_owned()))
        }
        "user.deleted" => Some(Action::DeleteUser(user_id)),
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
        // The event is already consumed: retry until the store takes it,
        // rather than lose a deletion to a database blip.
        let mut backoff = Duration::from_millis(100);
        while let Err(e) = apply(&action, &store).await {
            tracing::warn!(?action, error = %e, "could not apply an event; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(10));
        }
    }
}

async fn apply(action: &Action, store: &Store) -> Result<(), crate::store::StoreError> {
    match action {
        Action::RememberUser(user_id, email) => store.remember_user(*user_id, email).await,
        Action::DeleteUser(user_id) => {
            let deleted = store.delete_user(*user_id).await?;
            tracing::info!(%user_id, deleted, "user deleted: removed their tickets");
            Ok(())
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
    fn users_of_our_issuer_are_remembered_and_forgotten() {
        let id = Uuid::now_v7();
        let created = event(
            "https://auth.test",
            "user.created",
            json!({"user_id": id, "email": "ann@example.com", "roles": ["user"]}),
        );
        assert_eq!(
            action_of(&created, "https://auth.test"),
            Some(Action::RememberUser(id, "ann@example.com".into()))
        );
        let deleted = event("https://auth.test", "user.deleted", json!({"user_id": id}));
        assert_eq!(
            action_of(&deleted, "https://auth.test/"),
            Some(Action::DeleteUser(id))
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
            event("https://auth.test", "user.created", json!({"user_id": id})),
        ];
        for case in cases {
            assert_eq!(action_of(&case, "https://auth.test"), None, "{case:?}");
        }
    }
}
