//! Refresh-token rotation, reuse and the retry grace window ([`SessionStore`](warden_core::ports::SessionStore)).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use warden_core::SessionId;
use warden_core::model::{OutboxEvent, RefreshRecord, RotateOutcome, Session};
use warden_core::ports::{ReuseRevocation, Store};

use super::{base_time, create_session, create_user, outbox, outbox_names, token};

fn reuse_event(session: SessionId) -> OutboxEvent {
    OutboxEvent::new(
        "session.revoked",
        serde_json::json!({"session_id": session}),
        base_time(),
    )
}

/// What the contract tests ask a store to do on reuse.
pub fn reuse_policy() -> ReuseRevocation<'static> {
    ReuseRevocation {
        until: base_time() + Duration::days(1),
        event_for: &reuse_event,
        retry_since: None,
    }
}

/// Rotate once (`Rotated`, `last_used_at` = now), reuse (`Reused`, which revokes
/// the session with its revocation and event in one transaction), unknown (`NotFound`).
pub async fn refresh_rotation(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "mia@example.com", now).await;
    let (session, first) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let later = now + Duration::minutes(10);
    let second = RefreshRecord {
        token_hash: token("rt2"),
        session_id: session.id,
        created_at: later,
    };
    match store
        .rotate_refresh_token(&first.token_hash, &second, later, &reuse_policy())
        .await
        .expect("rotate")
    {
        RotateOutcome::Rotated { session: rotated } => {
            assert_eq!(rotated.id, session.id);
            assert_eq!(rotated.last_used_at, later);
            assert_eq!(rotated.created_at, session.created_at);
            assert_eq!(rotated.expires_at, session.expires_at);
        }
        other => panic!("expected Rotated, got {other:?}"),
    }
    let stored = store
        .find_session(session.id)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(stored.last_used_at, later);
    assert_eq!(
        store
            .find_session_by_refresh(&second.token_hash)
            .await
            .expect("find")
            .map(|s| s.id),
        Some(session.id)
    );
    // The used token still maps to its session (for reuse detection).
    assert_eq!(
        store
            .find_session_by_refresh(&first.token_hash)
            .await
            .expect("find")
            .map(|s| s.id),
        Some(session.id)
    );

    let third = RefreshRecord {
        token_hash: token("rt3"),
        session_id: session.id,
        created_at: later,
    };
    match store
        .rotate_refresh_token(&first.token_hash, &third, later, &reuse_policy())
        .await
        .expect("reuse")
    {
        RotateOutcome::Reused { session_id } => assert_eq!(session_id, session.id),
        other => panic!("expected Reused, got {other:?}"),
    }
    let revoked = store
        .find_session(session.id)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(revoked.revoked_at, Some(later), "reuse revokes the session");
    let revocations = store
        .list_active_revocations(later)
        .await
        .expect("revocations");
    assert!(revocations.iter().any(|r| r.id == session.id.as_uuid()));
    let outbox = store.list_outbox(0, 100).await.expect("outbox");
    assert!(outbox.iter().any(
        |(_, e)| e.name == "session.revoked" && e.data["session_id"] == session.id.to_string()
    ));
    // A reuse stores nothing.
    assert!(
        store
            .find_session_by_refresh(&third.token_hash)
            .await
            .expect("find")
            .map(|s| s.id)
            .is_none()
    );

    match store
        .rotate_refresh_token(&token("unknown"), &third, later, &reuse_policy())
        .await
        .expect("unknown")
    {
        RotateOutcome::NotFound => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(
        store
            .find_session_by_refresh(&third.token_hash)
            .await
            .expect("find")
            .map(|s| s.id)
            .is_none()
    );

    // The rotated-in token rotates in turn.
    let even_later = later + Duration::minutes(10);
    match store
        .rotate_refresh_token(&second.token_hash, &third, even_later, &reuse_policy())
        .await
        .expect("rotate again")
    {
        RotateOutcome::Rotated { session: rotated } => assert_eq!(rotated.last_used_at, even_later),
        other => panic!("expected Rotated, got {other:?}"),
    }
}

/// 50 concurrent rotations of one token: exactly one `Rotated`, the rest `Reused`,
/// and only the winner's new token is stored.
pub async fn refresh_rotation_is_single_use_under_concurrency(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "nina@example.com", now).await;
    let (session, first) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            let old = first.token_hash.clone();
            tokio::spawn(async move {
                let new = RefreshRecord {
                    token_hash: token(&format!("race{i}")),
                    session_id: session.id,
                    created_at: now,
                };
                let outcome = store
                    .rotate_refresh_token(&old, &new, now, &reuse_policy())
                    .await;
                (new.token_hash, outcome)
            })
        })
        .collect();
    let mut rotated = Vec::new();
    let mut reused = 0;
    let mut losers = Vec::new();
    for task in tasks {
        let (hash, outcome) = task.await.expect("task");
        match outcome.expect("rotate") {
            RotateOutcome::Rotated { session: s } => {
                assert_eq!(s.id, session.id);
                rotated.push(hash);
            }
            RotateOutcome::Reused { session_id } => {
                assert_eq!(session_id, session.id);
                reused += 1;
                losers.push(hash);
            }
            RotateOutcome::NotFound => panic!("the token exists"),
            RotateOutcome::Retried { .. } => panic!("no grace window was asked for"),
        }
    }
    assert_eq!((rotated.len(), reused), (1, 49));
    assert_eq!(
        store
            .find_session_by_refresh(&rotated[0])
            .await
            .expect("find")
            .map(|s| s.id),
        Some(session.id)
    );
    for hash in losers {
        assert!(
            store
                .find_session_by_refresh(&hash)
                .await
                .expect("find")
                .map(|s| s.id)
                .is_none()
        );
    }
}

/// The reuse policy with a grace window that opened at `since`.
fn grace_policy(since: DateTime<Utc>) -> ReuseRevocation<'static> {
    ReuseRevocation {
        retry_since: Some(since),
        ..reuse_policy()
    }
}

fn next_record(label: &str, session: SessionId, at: DateTime<Utc>) -> RefreshRecord {
    RefreshRecord {
        token_hash: token(label),
        session_id: session,
        created_at: at,
    }
}

/// Short name for a rotation outcome, for assertions.
fn outcome_name(outcome: &RotateOutcome) -> &'static str {
    match outcome {
        RotateOutcome::NotFound => "not found",
        RotateOutcome::Reused { .. } => "reused",
        RotateOutcome::Rotated { .. } => "rotated",
        RotateOutcome::Retried { .. } => "retried",
    }
}

/// One session rotated once at `rotated_at` (first -> second); returns the
/// session and both records.
async fn rotated_once(
    store: &dyn Store,
    email: &str,
    rotated_at: DateTime<Utc>,
) -> (Session, RefreshRecord, RefreshRecord) {
    let user = create_user(store, email, base_time()).await;
    let (session, first) = create_session(store, user.id, base_time(), Duration::days(30)).await;
    let second = next_record("rt2", session.id, rotated_at);
    let outcome = store
        .rotate_refresh_token(&first.token_hash, &second, rotated_at, &reuse_policy())
        .await
        .expect("rotate");
    assert_eq!(outcome_name(&outcome), "rotated");
    (session, first, second)
}

async fn is_revoked(store: &dyn Store, id: SessionId) -> bool {
    store
        .find_session(id)
        .await
        .expect("find")
        .expect("session")
        .revoked_at
        .is_some()
}

/// The grace window (`sessions.refresh_reuse_grace_secs`, decision 0018): a
/// token that was just rotated may come back once; the retry voids its unused
/// successor and chains the new token instead. Outside the window, a second
/// retry, a retry after the successor was used, and the voided successor
/// itself are all reuse and revoke the family.
pub async fn refresh_retry_within_the_grace_window(store: Arc<dyn Store>) {
    let rotated_at = base_time() + Duration::minutes(10);
    let retry_at = rotated_at + Duration::seconds(5);
    let window = grace_policy(retry_at - Duration::seconds(10));

    // Retried once: the new token works, the voided one is reuse.
    let (session, first, second) = rotated_once(&*store, "gil@example.com", rotated_at).await;
    let third = next_record("rt3", session.id, retry_at);
    let outcome = store
        .rotate_refresh_token(&first.token_hash, &third, retry_at, &window)
        .await
        .expect("retry");
    match &outcome {
        RotateOutcome::Retried { session: s } => {
            assert_eq!(s.id, session.id);
            assert_eq!(s.last_used_at, retry_at);
            assert!(s.revoked_at.is_none());
        }
        other => panic!("expected a retry, got {}", outcome_name(other)),
    }
    assert!(!is_revoked(&*store, session.id).await);
    assert_eq!(
        store
            .find_session_by_refresh(&third.token_hash)
            .await
            .expect("find")
            .map(|s| s.id),
        Some(session.id)
    );
    assert!(
        outbox(&*store).await.is_empty(),
        "a retry announces nothing"
    );
    // The chain goes on from the retry's token.
    let later = retry_at + Duration::seconds(1);
    let fourth = next_record("rt4", session.id, later);
    let outcome = store
        .rotate_refresh_token(&third.token_hash, &fourth, later, &window)
        .await
        .expect("rotate the retry's token");
    assert_eq!(outcome_name(&outcome), "rotated");
    // The voided successor is reuse, even inside the window.
    let outcome = store
        .rotate_refresh_token(
            &second.token_hash,
            &next_record("x", session.id, later),
            later,
            &window,
        )
        .await
        .expect("voided");
    assert_eq!(outcome_name(&outcome), "reused");
    assert!(is_revoked(&*store, session.id).await);
    assert_eq!(outbox_names(&*store).await, ["session.revoked"]);

    // A second retry of the same token is reuse.
    let (session, first, _) = rotated_once(&*store, "hal@example.com", rotated_at).await;
    for (label, expected) in [("a", "retried"), ("b", "reused")] {
        let outcome = store
            .rotate_refresh_token(
                &first.token_hash,
                &next_record(label, session.id, retry_at),
                retry_at,
                &window,
            )
            .await
            .expect("retry");
        assert_eq!(outcome_name(&outcome), expected, "retry {label}");
    }
    assert!(is_revoked(&*store, session.id).await);

    // Outside the window: reuse.
    let (session, first, _) = rotated_once(&*store, "ida@example.com", rotated_at).await;
    let outcome = store
        .rotate_refresh_token(
            &first.token_hash,
            &next_record("late", session.id, retry_at),
            retry_at,
            &grace_policy(rotated_at + Duration::milliseconds(1)),
        )
        .await
        .expect("late retry");
    assert_eq!(outcome_name(&outcome), "reused");
    assert!(is_revoked(&*store, session.id).await);

    // The successor was used already: the old token is two steps back, reuse.
    let (session, first, second) = rotated_once(&*store, "jon@example.com", rotated_at).await;
    let outcome = store
        .rotate_refresh_token(
            &second.token_hash,
            &next_record("rt3", session.id, retry_at),
            retry_at,
            &window,
        )
        .await
        .expect("rotate the successor");
    assert_eq!(outcome_name(&outcome), "rotated");
    let outcome = store
        .rotate_refresh_token(
            &first.token_hash,
            &next_record("old", session.id, retry_at),
            retry_at,
            &window,
        )
        .await
        .expect("old token");
    assert_eq!(outcome_name(&outcome), "reused");
    assert!(is_revoked(&*store, session.id).await);

    // Without a window (the default) the first retry is reuse.
    let (session, first, _) = rotated_once(&*store, "kai@example.com", rotated_at).await;
    let outcome = store
        .rotate_refresh_token(
            &first.token_hash,
            &next_record("d", session.id, retry_at),
            retry_at,
            &reuse_policy(),
        )
        .await
        .expect("retry without a window");
    assert_eq!(outcome_name(&outcome), "reused");
    assert!(is_revoked(&*store, session.id).await);
}

/// 20 concurrent retries of one just-rotated token inside the window: exactly
/// one is a retry, the rest are reuse (which then revokes the family), and
/// a concurrent use of the successor never leaves two live chains.
pub async fn refresh_retry_within_the_grace_window_under_concurrency(store: Arc<dyn Store>) {
    let rotated_at = base_time() + Duration::minutes(10);
    let retry_at = rotated_at + Duration::seconds(5);
    let since = retry_at - Duration::seconds(10);
    let (session, first, second) = rotated_once(&*store, "lea@example.com", rotated_at).await;
    let mut tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            let old = first.token_hash.clone();
            tokio::spawn(async move {
                let new = next_record(&format!("retry{i}"), session.id, retry_at);
                let outcome = store
                    .rotate_refresh_token(&old, &new, retry_at, &grace_policy(since))
                    .await
                    .expect("retry");
                outcome_name(&outcome)
            })
        })
        .collect();
    // The owner's successor is used at the same time.
    {
        let store = store.clone();
        let old = second.token_hash.clone();
        tasks.push(tokio::spawn(async move {
            let new = next_record("owner", session.id, retry_at);
            let outcome = store
                .rotate_refresh_token(&old, &new, retry_at, &grace_policy(since))
                .await
                .expect("owner");
            match outcome_name(&outcome) {
                "rotated" => "owner rotated",
                other => other,
            }
        }));
    }
    let mut names = Vec::new();
    for task in tasks {
        names.push(task.await.expect("task"));
    }
    let count = |name: &str| names.iter().filter(|n| **n == name).count();
    // Either the owner's rotation or one retry got in first; the other one
    // then meets a used token and everything after it is reuse.
    assert_eq!(
        count("retried") + count("owner rotated"),
        1,
        "exactly one live successor: {names:?}"
    );
    assert_eq!(count("reused"), 20, "{names:?}");
    assert!(is_revoked(&*store, session.id).await);
}
