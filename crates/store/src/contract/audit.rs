//! The audit log ([`AuditStore`](warden_core::ports::AuditStore)).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use warden_core::model::AuditEntry;
use warden_core::ports::Store;
use warden_core::{AuditId, StoreError, UserId};

use super::base_time;

fn audit(
    actor: Option<UserId>,
    target: Option<UserId>,
    action: &str,
    at: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry {
        id: AuditId::new(),
        at,
        actor,
        action: action.to_owned(),
        target,
        ip: Some("198.51.100.7".into()),
        user_agent: Some("curl/8".into()),
        outcome: "success".into(),
        detail: Some(format!("{action} detail")),
    }
}

/// Entries newest first, paged with the `before` cursor, filtered by actor or target.
pub async fn audit_pages_newest_first(store: Arc<dyn Store>) {
    let now = base_time();
    let alice = UserId::new();
    let bob = UserId::new();
    let mut entries = vec![
        audit(Some(alice), Some(alice), "signin", now),
        audit(None, None, "signin", now),
        audit(Some(bob), Some(alice), "ban", now),
        audit(Some(bob), Some(bob), "signin", now),
        audit(Some(alice), None, "signout", now),
    ];
    entries[1].outcome = "failure".into();
    entries[1].ip = None;
    entries[1].user_agent = None;
    entries[1].detail = None;
    for entry in &entries {
        store.append_audit(entry).await.expect("append");
    }
    let newest_first: Vec<AuditEntry> = entries.iter().rev().cloned().collect();

    assert_eq!(
        store.list_audit(None, None, 100).await.expect("list"),
        newest_first
    );
    let page1 = store.list_audit(None, None, 2).await.expect("page 1");
    assert_eq!(page1, newest_first[..2]);
    let page2 = store
        .list_audit(None, Some(page1[1].id), 2)
        .await
        .expect("page 2");
    assert_eq!(page2, newest_first[2..4]);
    let page3 = store
        .list_audit(None, Some(page2[1].id), 2)
        .await
        .expect("page 3");
    assert_eq!(page3, newest_first[4..]);

    let about_alice = store
        .list_audit(Some(alice), None, 100)
        .await
        .expect("alice");
    assert_eq!(
        about_alice,
        [entries[4].clone(), entries[2].clone(), entries[0].clone()]
    );
    let about_alice = store
        .list_audit(Some(alice), Some(entries[4].id), 1)
        .await
        .expect("alice page");
    assert_eq!(about_alice, [entries[2].clone()]);
    let about_bob = store.list_audit(Some(bob), None, 100).await.expect("bob");
    assert_eq!(about_bob, [entries[3].clone(), entries[2].clone()]);
    assert!(
        store
            .list_audit(Some(UserId::new()), None, 100)
            .await
            .expect("none")
            .is_empty()
    );

    let err = store
        .append_audit(&entries[0])
        .await
        .expect_err("duplicate id");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
}
