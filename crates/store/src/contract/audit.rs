//! The audit log ([`AuditStore`](warden_core::ports::AuditStore)).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use warden_core::model::{Actor, AuditEntry};
use warden_core::ports::{AuditFilter, Store};
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
        actor: actor.map(Actor::User),
        action: action.to_owned(),
        target,
        ip: Some("198.51.100.7".into()),
        user_agent: Some("curl/8".into()),
        outcome: "success".into(),
        detail: Some(format!("{action} detail")),
    }
}

fn about(user: UserId) -> AuditFilter {
    AuditFilter {
        user: Some(user),
        ..AuditFilter::default()
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
        store
            .list_audit(&AuditFilter::default(), None, 100)
            .await
            .expect("list"),
        newest_first
    );
    let page1 = store
        .list_audit(&AuditFilter::default(), None, 2)
        .await
        .expect("page 1");
    assert_eq!(page1, newest_first[..2]);
    let page2 = store
        .list_audit(&AuditFilter::default(), Some(page1[1].id), 2)
        .await
        .expect("page 2");
    assert_eq!(page2, newest_first[2..4]);
    let page3 = store
        .list_audit(&AuditFilter::default(), Some(page2[1].id), 2)
        .await
        .expect("page 3");
    assert_eq!(page3, newest_first[4..]);

    let about_alice = store
        .list_audit(&about(alice), None, 100)
        .await
        .expect("alice");
    assert_eq!(
        about_alice,
        [entries[4].clone(), entries[2].clone(), entries[0].clone()]
    );
    let about_alice = store
        .list_audit(&about(alice), Some(entries[4].id), 1)
        .await
        .expect("alice page");
    assert_eq!(about_alice, [entries[2].clone()]);
    let about_bob = store.list_audit(&about(bob), None, 100).await.expect("bob");
    assert_eq!(about_bob, [entries[3].clone(), entries[2].clone()]);
    assert!(
        store
            .list_audit(&about(UserId::new()), None, 100)
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

/// The filters of the console's audit page (action, outcome, time range,
/// together and with paging), an actor that is the CLI, and the hourly
/// tally of the overview's chart.
pub async fn audit_filters_and_tallies(store: Arc<dyn Store>) {
    let now = base_time();
    let hour = chrono::Duration::hours(1);
    let alice = UserId::new();
    let mut entries = vec![
        audit(Some(alice), Some(alice), "signin", now - hour * 3),
        audit(None, Some(alice), "signin", now - hour * 2),
        audit(None, Some(alice), "signin", now - hour * 2),
        audit(Some(alice), Some(alice), "signin", now - hour),
        audit(None, Some(alice), "ban", now),
    ];
    entries[1].outcome = "failure".into();
    entries[2].outcome = "failure".into();
    entries[4].actor = Some(Actor::Cli);
    for entry in &entries {
        store.append_audit(entry).await.expect("append");
    }
    let list = |filter: AuditFilter| {
        let store = store.clone();
        async move { store.list_audit(&filter, None, 100).await.expect("list") }
    };
    let signins = list(AuditFilter {
        action: Some("signin".into()),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(signins.len(), 4);
    let failures = list(AuditFilter {
        action: Some("signin".into()),
        success: Some(false),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(failures, [entries[2].clone(), entries[1].clone()]);
    let successes = list(AuditFilter {
        success: Some(true),
        from: Some(now - hour * 2),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(successes, [entries[4].clone(), entries[3].clone()]);
    let window = list(AuditFilter {
        user: Some(alice),
        from: Some(now - hour * 3),
        to: Some(now - hour),
        ..AuditFilter::default()
    })
    .await;
    assert_eq!(
        window,
        [entries[2].clone(), entries[1].clone(), entries[0].clone()],
        "from is inclusive, to exclusive"
    );
    let by_cli = list(AuditFilter::default()).await;
    assert_eq!(by_cli[0].actor, Some(Actor::Cli), "read back as the CLI");
    let page = store
        .list_audit(
            &AuditFilter {
                action: Some("signin".into()),
                ..AuditFilter::default()
            },
            Some(entries[3].id),
            1,
        )
        .await
        .expect("page");
    assert_eq!(page, [entries[2].clone()]);
    assert!(
        list(AuditFilter {
            action: Some("delete".into()),
            ..AuditFilter::default()
        })
        .await
        .is_empty()
    );

    let mut tally = store
        .audit_tally(now - hour * 2, &["signin", "signup"])
        .await
        .expect("tally");
    tally.sort_by_key(|t| (t.hour, t.success));
    let hour_of = |at: DateTime<Utc>| at.timestamp().div_euclid(3600);
    assert_eq!(
        tally
            .iter()
            .map(|t| (t.hour, t.action.as_str(), t.success, t.count))
            .collect::<Vec<_>>(),
        [
            (hour_of(now - hour * 2), "signin", false, 2),
            (hour_of(now - hour), "signin", true, 1),
        ]
    );
    assert!(store.audit_tally(now, &[]).await.expect("none").is_empty());
}

/// The overview's figures: accounts, live sessions, locked-out addresses.
pub async fn console_counts(store: Arc<dyn Store>) {
    use warden_core::model::LockoutPolicy;
    let now = base_time();
    let day = chrono::Duration::days(1);
    assert_eq!(store.count_users().await.expect("users"), 0);
    assert_eq!(store.count_live_sessions(now).await.expect("sessions"), 0);
    assert_eq!(store.count_locked(now).await.expect("locked"), 0);
    let alice = super::create_user(&*store, "alice@example.com", now).await;
    let bob = super::create_user(&*store, "bob@example.com", now).await;
    let (live, _) = super::create_session(&*store, alice.id, now, day).await;
    super::create_session(&*store, bob.id, now, day).await;
    // Expired a minute ago.
    super::create_session(
        &*store,
        bob.id,
        now - day,
        day - chrono::Duration::minutes(1),
    )
    .await;
    let (revoked, _) = super::create_session(&*store, bob.id, now, day).await;
    store
        .revoke_session(
            revoked.id,
            now,
            &super::session_revocation(revoked.id, now + day),
            &[],
        )
        .await
        .expect("revoke");
    assert_eq!(store.count_users().await.expect("users"), 2);
    assert_eq!(store.count_live_sessions(now).await.expect("sessions"), 2);
    assert_eq!(
        store
            .count_live_sessions(live.expires_at)
            .await
            .expect("later"),
        0,
        "expired at expires_at"
    );
    let policy = LockoutPolicy::default();
    for _ in 0..policy.threshold + 1 {
        store
            .record_login_failure("alice@example.com", now, &policy)
            .await
            .expect("fail");
    }
    store
        .record_login_failure("bob@example.com", now, &policy)
        .await
        .expect("one failure");
    assert_eq!(store.count_locked(now).await.expect("locked"), 1);
    assert_eq!(
        store
            .count_locked(now + chrono::Duration::hours(1))
            .await
            .expect("later"),
        0,
        "a lock ends"
    );
}
