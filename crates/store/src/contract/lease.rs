//! The leases of the outbox relay and the mail worker: one rule, checked
//! once for both.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use warden_core::ports::Store;

use super::base_time;

/// Which of the store's leases a check exercises.
#[derive(Debug, Clone, Copy)]
pub(super) enum Lease {
    /// The outbox relay's.
    Relay,
    /// The mail worker's.
    Mail,
}

impl Lease {
    async fn acquire(
        self,
        store: &dyn Store,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> bool {
        match self {
            Lease::Relay => store.acquire_relay_lease(holder, now, until).await,
            Lease::Mail => store.acquire_mail_lease(holder, now, until).await,
        }
        .expect("acquire")
    }

    async fn release(self, store: &dyn Store, holder: &str) {
        match self {
            Lease::Relay => store.release_relay_lease(holder).await,
            Lease::Mail => store.release_mail_lease(holder).await,
        }
        .expect("release");
    }
}

/// Of many instances asking for the lease at once exactly one gets it; it
/// renews it, others get it only after it expires or is released.
/// Returns when the check last took the lease (it holds it for 10 s more).
pub(super) async fn lease_has_one_holder(store: Arc<dyn Store>, lease: Lease) -> DateTime<Utc> {
    let now = base_time();
    let until = now + Duration::seconds(10);
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let holder = format!("instance-{i}");
                let got = lease.acquire(&*store, &holder, now, until).await;
                (holder, got)
            })
        })
        .collect();
    let mut holders = Vec::new();
    for task in tasks {
        let (holder, got) = task.await.expect("task");
        if got {
            holders.push(holder);
        }
    }
    assert_eq!(holders.len(), 1, "{holders:?}");
    let holder = holders.remove(0);
    let other = if holder == "instance-0" {
        "instance-1"
    } else {
        "instance-0"
    };

    // The holder renews; others are refused until it expires.
    let later = now + Duration::seconds(5);
    assert!(
        lease
            .acquire(&*store, &holder, later, later + Duration::seconds(10))
            .await
    );
    assert!(
        !lease
            .acquire(
                &*store,
                other,
                now + Duration::seconds(12),
                now + Duration::seconds(22)
            )
            .await
    );
    let expired = now + Duration::seconds(15);
    assert!(
        lease
            .acquire(&*store, other, expired, expired + Duration::seconds(10))
            .await
    );
    assert!(
        !lease
            .acquire(&*store, &holder, expired, expired + Duration::seconds(10))
            .await
    );
    // Releasing by a non-holder does nothing; by the holder frees it at once.
    lease.release(&*store, &holder).await;
    assert!(
        !lease
            .acquire(&*store, &holder, expired, expired + Duration::seconds(10))
            .await
    );
    lease.release(&*store, other).await;
    assert!(
        lease
            .acquire(&*store, &holder, expired, expired + Duration::seconds(10))
            .await
    );
    expired
}
