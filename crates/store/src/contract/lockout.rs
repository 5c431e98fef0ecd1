//! Sign-in throttling ([`LockoutStore`](warden_core::ports::LockoutStore)).

use std::collections::HashSet;
use std::sync::Arc;

use warden_core::model::{LockoutPolicy, ThrottleState};
use warden_core::ports::Store;

use super::base_time;

/// Failures count up and lock per the policy; clearing resets.
pub async fn login_throttle_counts_and_clears(store: Arc<dyn Store>) {
    let now = base_time();
    let policy = LockoutPolicy::default();
    let key = "sam@example.com";
    assert_eq!(
        store.find_login_throttle(key).await.expect("find"),
        ThrottleState::default()
    );
    for n in 1..=6_u32 {
        let state = store
            .record_login_failure(key, now, &policy)
            .await
            .expect("record");
        assert_eq!(state.failures, n);
        assert_eq!(state.locked_until, policy.locked_until(n, now));
        assert_eq!(store.find_login_throttle(key).await.expect("find"), state);
    }
    assert!(
        store
            .find_login_throttle(key)
            .await
            .expect("find")
            .locked_until
            .is_some()
    );
    // Other keys are independent.
    assert_eq!(
        store
            .find_login_throttle("other@example.com")
            .await
            .expect("find"),
        ThrottleState::default()
    );
    store.clear_login_failures(key).await.expect("clear");
    assert_eq!(
        store.find_login_throttle(key).await.expect("find"),
        ThrottleState::default()
    );
    store.clear_login_failures(key).await.expect("clear absent");
    let state = store
        .record_login_failure(key, now, &policy)
        .await
        .expect("record");
    assert_eq!(
        state,
        ThrottleState {
            failures: 1,
            locked_until: None
        }
    );
}

/// 30 concurrent failures count exactly 30 and set the lock.
pub async fn login_throttle_counts_exactly_under_concurrency(store: Arc<dyn Store>) {
    let now = base_time();
    let policy = LockoutPolicy::default();
    let key = "tom@example.com";
    let tasks: Vec<_> = (0..30)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.record_login_failure(key, now, &policy).await })
        })
        .collect();
    let mut seen = HashSet::new();
    for task in tasks {
        let state = task.await.expect("task").expect("record");
        assert_eq!(state.locked_until, policy.locked_until(state.failures, now));
        assert!(
            seen.insert(state.failures),
            "two callers saw {} failures",
            state.failures
        );
    }
    assert_eq!(seen, (1..=30).collect::<HashSet<u32>>());
    let state = store.find_login_throttle(key).await.expect("find");
    assert_eq!(state.failures, 30);
    assert_eq!(state.locked_until, policy.locked_until(30, now));
    assert!(state.locked_until.is_some());
}
