//! The outbox and its relay ([`RevocationStore`](warden_core::ports::RevocationStore)).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::Duration;
use serde_json::json;
use warden_core::model::{OutboxEvent, Role};
use warden_core::ports::Store;

use super::lease::{Lease, lease_has_one_holder};
use super::{base_time, new_user, outbox};

/// Events come back in commit order with increasing sequence numbers and intact
/// data; `after_seq` and `limit` page through them.
pub async fn outbox_in_commit_order(store: Arc<dyn Store>) {
    let now = base_time();
    assert!(outbox(&*store).await.is_empty());
    let user = new_user("vera@example.com", None, now);
    let created = OutboxEvent::new(
        "user.created",
        json!({"user_id": user.user.id.to_string(), "email": "vera@example.com", "roles": ["user"]}),
        now,
    );
    store
        .create_user(&user, std::slice::from_ref(&created))
        .await
        .expect("create");
    let failed = OutboxEvent::new("user.sign_in_failed", json!({"ip": "203.0.113.9"}), now);
    let failed2 = OutboxEvent::new(
        "user.sign_in_failed",
        json!(null),
        now + Duration::seconds(1),
    );
    store
        .append_outbox(&[failed.clone(), failed2.clone()])
        .await
        .expect("append");
    store.append_outbox(&[]).await.expect("append nothing");
    let roles = OutboxEvent::new(
        "user.roles_changed",
        json!({"user_id": user.user.id.to_string(), "roles": ["admin", "user"], "nested": {"a": [1, 2.5, true]}}),
        now + Duration::seconds(2),
    );
    store
        .update_user_roles(
            user.user.id,
            &[Role::admin(), Role::user()],
            std::slice::from_ref(&roles),
        )
        .await
        .expect("roles");

    let all = outbox(&*store).await;
    let events: Vec<OutboxEvent> = all.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(events, [created, failed, failed2, roles]);
    let seqs: Vec<i64> = all.iter().map(|(seq, _)| *seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(seqs[0] > 0);

    let page = store.list_outbox(seqs[0], 2).await.expect("page");
    assert_eq!(page, all[1..3]);
    let page = store.list_outbox(seqs[2], 2).await.expect("page");
    assert_eq!(page, all[3..]);
    assert!(store.list_outbox(seqs[3], 2).await.expect("end").is_empty());

    // Concurrent writers: every committed event appears exactly once, in sequence.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let e = OutboxEvent::new("test.concurrent", json!({ "i": i }), now);
                store
                    .append_outbox(std::slice::from_ref(&e))
                    .await
                    .map(|()| e.id)
            })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        ids.insert(task.await.expect("task").expect("append"));
    }
    let after = store.list_outbox(seqs[3], 100).await.expect("after");
    assert_eq!(after.len(), 10);
    assert!(after.windows(2).all(|w| w[0].0 < w[1].0));
    let listed: HashSet<_> = after.iter().map(|(_, e)| e.id).collect();
    assert_eq!(listed, ids);
}

/// The relay sees unpublished events in order, marks a prefix published,
/// and pruning removes only published events older than the cut-off.
pub async fn outbox_relay_publishes_a_prefix_and_prunes_only_published(store: Arc<dyn Store>) {
    let now = base_time();
    assert_eq!(store.latest_outbox_seq().await.expect("latest"), 0);
    assert!(
        store
            .list_unpublished_outbox(10)
            .await
            .expect("unpublished")
            .is_empty()
    );
    let events: Vec<OutboxEvent> = (0..5)
        .map(|i| OutboxEvent::new("test.relay", json!({ "i": i }), now + Duration::seconds(i)))
        .collect();
    store.append_outbox(&events).await.expect("append");
    let latest = store.latest_outbox_seq().await.expect("latest");
    let unpublished = store.list_unpublished_outbox(3).await.expect("unpublished");
    let got: Vec<OutboxEvent> = unpublished.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(got, events[..3]);
    assert_eq!(
        unpublished.last().map(|(seq, _)| *seq).map(|s| s < latest),
        Some(true)
    );

    store
        .mark_outbox_published(unpublished[1].0, now)
        .await
        .expect("mark");
    let rest = store.list_unpublished_outbox(10).await.expect("rest");
    let got: Vec<OutboxEvent> = rest.iter().map(|(_, e)| e.clone()).collect();
    assert_eq!(got, events[2..], "the first two are published");
    // Marking again, or an older prefix, changes nothing.
    store
        .mark_outbox_published(unpublished[0].0, now + Duration::seconds(9))
        .await
        .expect("mark again");
    assert_eq!(
        store.list_unpublished_outbox(10).await.expect("same").len(),
        3
    );
    // Published events stay readable for the revocation feed.
    assert_eq!(store.list_outbox(0, 10).await.expect("all").len(), 5);

    // Pruning: only published events older than the cut-off go; the third
    // event is old enough but unpublished, so it stays.
    let pruned = store
        .prune_outbox(now + Duration::seconds(3))
        .await
        .expect("prune");
    assert_eq!(pruned, 2);
    let left: Vec<OutboxEvent> = store
        .list_outbox(0, 10)
        .await
        .expect("left")
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    assert_eq!(left, events[2..]);
    assert_eq!(
        store
            .prune_outbox(now + Duration::days(1))
            .await
            .expect("prune"),
        0
    );
    // The sequence keeps growing after pruning, so cursors stay valid.
    store
        .append_outbox(&[OutboxEvent::new("test.relay", json!({}), now)])
        .await
        .expect("append");
    assert!(store.latest_outbox_seq().await.expect("latest") > latest);
}

/// Of many instances asking for the lease at once exactly one gets it; it
/// renews it, others get it only after it expires or is released.
pub async fn outbox_relay_lease_has_one_holder_under_concurrency(store: Arc<dyn Store>) {
    lease_has_one_holder(store, Lease::Relay).await;
}

/// A bus that records what it was given and fails while told to.
#[derive(Default)]
struct RecordingBus {
    published: std::sync::Mutex<Vec<OutboxEvent>>,
    failing: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl warden_core::relay::EventPublisher for RecordingBus {
    fn name(&self) -> &'static str {
        "recording"
    }
    async fn publish(
        &self,
        events: &[OutboxEvent],
    ) -> Result<(), warden_core::relay::PublishError> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(warden_core::relay::PublishError("down".into()));
        }
        self.published
            .lock()
            .expect("lock")
            .extend_from_slice(events);
        Ok(())
    }
}

fn relay(
    store: &Arc<dyn Store>,
    bus: &Arc<RecordingBus>,
    clock: &warden_core::ports::FakeClock,
    holder: &str,
) -> warden_core::relay::OutboxRelay {
    let mut settings = warden_core::relay::RelaySettings::new(holder);
    settings.batch_size = 3;
    warden_core::relay::OutboxRelay::new(
        store.clone(),
        bus.clone(),
        Arc::new(clock.clone()),
        settings,
    )
}

/// The relay publishes every event once, in commit order, across batches;
/// a failed publish marks nothing and the same events go out next time.
pub async fn outbox_relay_publishes_in_order_and_retries_after_a_failure(store: Arc<dyn Store>) {
    use warden_core::relay::Step;
    let clock = warden_core::ports::FakeClock::new(base_time());
    let bus = Arc::new(RecordingBus::default());
    let relay = relay(&store, &bus, &clock, "a");
    assert_eq!(relay.step().await.expect("step"), Step::Idle);
    let events: Vec<OutboxEvent> = (0..7)
        .map(|i| OutboxEvent::new("test.relay", json!({ "i": i }), base_time()))
        .collect();
    store.append_outbox(&events[..4]).await.expect("append");
    store.append_outbox(&events[4..]).await.expect("append");

    bus.failing.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(relay.step().await.is_err());
    assert!(relay.stats().is_bus_failing());
    assert_eq!(relay.stats().failures(), 1);
    assert_eq!(
        store.list_unpublished_outbox(10).await.expect("left").len(),
        7
    );

    bus.failing
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(relay.step().await.expect("step"), Step::Published(3));
    assert_eq!(relay.step().await.expect("step"), Step::Published(3));
    assert_eq!(relay.step().await.expect("step"), Step::Published(1));
    assert_eq!(relay.step().await.expect("step"), Step::Idle);
    assert_eq!(*bus.published.lock().expect("lock"), events);
    assert_eq!(relay.stats().published(), 7);
    assert!(!relay.stats().is_bus_failing());
    assert!(
        store
            .list_unpublished_outbox(10)
            .await
            .expect("none")
            .is_empty()
    );
}

/// With two relays on one database only the lease holder publishes; when
/// it stops (releasing the lease) the other takes over at once, and after a
/// holder vanishes without releasing, once its lease expired.
pub async fn outbox_relay_only_the_lease_holder_publishes(store: Arc<dyn Store>) {
    use warden_core::relay::Step;
    let clock = warden_core::ports::FakeClock::new(base_time());
    let (bus_a, bus_b) = (
        Arc::new(RecordingBus::default()),
        Arc::new(RecordingBus::default()),
    );
    let a = relay(&store, &bus_a, &clock, "a");
    let b = relay(&store, &bus_b, &clock, "b");
    store
        .append_outbox(&[OutboxEvent::new("test.relay", json!({}), base_time())])
        .await
        .expect("append");
    assert_eq!(a.step().await.expect("a"), Step::Published(1));
    assert_eq!(b.step().await.expect("b"), Step::NotLeader);
    assert!(a.stats().is_leader() && !b.stats().is_leader());

    // A stops gracefully: B takes over at once.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(a.run(async {
        let _ = stopped.await;
    }));
    stop.send(()).expect("stop");
    run.await.expect("stopped");
    store
        .append_outbox(&[OutboxEvent::new("test.relay", json!({"n": 2}), base_time())])
        .await
        .expect("append");
    assert_eq!(b.step().await.expect("b"), Step::Published(1));

    // B vanishes without releasing: C waits until B's lease expired.
    let bus_c = Arc::new(RecordingBus::default());
    let c = relay(&store, &bus_c, &clock, "c");
    assert_eq!(c.step().await.expect("c"), Step::NotLeader);
    clock.advance(Duration::seconds(11));
    store
        .append_outbox(&[OutboxEvent::new("test.relay", json!({"n": 3}), base_time())])
        .await
        .expect("append");
    assert_eq!(c.step().await.expect("c"), Step::Published(1));
    assert_eq!(bus_a.published.lock().expect("lock").len(), 1);
    assert_eq!(bus_b.published.lock().expect("lock").len(), 1);
    assert_eq!(bus_c.published.lock().expect("lock").len(), 1);
}
