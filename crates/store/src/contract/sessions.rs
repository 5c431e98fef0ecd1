//! Sessions, their revocation and session tokens ([`SessionStore`](warden_core::ports::SessionStore)).

use std::sync::Arc;

use chrono::Duration;
use serde_json::json;
use warden_core::model::{
    AuthMethod, Authentication, OutboxEvent, RevocationKind, Role, SessionTokenRecord, UserStatus,
};
use warden_core::ports::{PasswordChange, Store};
use warden_core::{SessionId, StoreError, UserId};

use super::{
    base_time, create_session, create_user, event, outbox, outbox_names, session,
    session_revocation, token,
};

/// Create and find sessions; the live list excludes revoked and expired ones, newest first.
pub async fn sessions_create_find_list(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "kate@example.com", now - Duration::days(40)).await;
    let other = create_user(&*store, "leo@example.com", now).await;

    let (old, _) = create_session(
        &*store,
        user.id,
        now - Duration::days(3),
        Duration::days(30),
    )
    .await;
    let (expired, _) = create_session(
        &*store,
        user.id,
        now - Duration::days(35),
        Duration::days(30),
    )
    .await;
    let (revoked, _) = create_session(
        &*store,
        user.id,
        now - Duration::days(2),
        Duration::days(30),
    )
    .await;
    let (newest, newest_rt) = create_session(
        &*store,
        user.id,
        now - Duration::hours(1),
        Duration::days(30),
    )
    .await;
    let (just_expiring, _) = create_session(
        &*store,
        user.id,
        now - Duration::days(30),
        Duration::days(30),
    )
    .await;
    create_session(&*store, other.id, now, Duration::days(30)).await;

    let (with_event, with_event_rt) = session(user.id, now - Duration::days(1), Duration::days(30));
    store
        .create_session(&with_event, &with_event_rt, &[event("user.signed_in", now)])
        .await
        .expect("create with event");
    assert_eq!(outbox_names(&*store).await, ["user.signed_in"]);

    assert_eq!(
        store.find_session(newest.id).await.expect("find"),
        Some(newest.clone())
    );
    assert_eq!(
        store.find_session(expired.id).await.expect("find"),
        Some(expired.clone())
    );
    assert!(
        store
            .find_session(SessionId::new())
            .await
            .expect("find")
            .is_none()
    );
    assert_eq!(
        store
            .find_session_by_refresh(&newest_rt.token_hash)
            .await
            .expect("by refresh")
            .map(|s| s.id),
        Some(newest.id)
    );
    assert!(
        store
            .find_session_by_refresh(&token("nope"))
            .await
            .expect("by refresh")
            .is_none()
    );

    let revoked_now = store
        .revoke_session(
            revoked.id,
            now,
            &session_revocation(revoked.id, now + Duration::minutes(15)),
            &[],
        )
        .await
        .expect("revoke");
    assert!(revoked_now);

    // expires_at == now is no longer live.
    let _ = just_expiring;
    let live = store.list_sessions(user.id, now).await.expect("list");
    let ids: Vec<SessionId> = live.iter().map(|s| s.id).collect();
    assert_eq!(ids, [newest.id, with_event.id, old.id]);
    assert_eq!(live[0], newest);

    // A session with a duplicate refresh hash is rejected as a whole.
    let (dup, mut dup_rt) = session(user.id, now, Duration::days(30));
    dup_rt.token_hash = newest_rt.token_hash.clone();
    let err = store
        .create_session(&dup, &dup_rt, &[event("user.signed_in", now)])
        .await
        .expect_err("duplicate refresh hash");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert!(store.find_session(dup.id).await.expect("find").is_none());
    assert_eq!(outbox(&*store).await.len(), 1);
}

/// `revoke_session` revokes once: the second call returns false and writes nothing.
pub async fn revoke_session_is_idempotent(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "oscar@example.com", now).await;
    let (session, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let until = now + Duration::minutes(15);
    let revocation = session_revocation(session.id, until);
    let later = now + Duration::seconds(5);

    let first = store
        .revoke_session(
            session.id,
            later,
            &revocation,
            &[event("session.revoked", later)],
        )
        .await
        .expect("revoke");
    assert!(first);
    let second = store
        .revoke_session(
            session.id,
            later + Duration::seconds(1),
            &revocation,
            &[event("session.revoked", later)],
        )
        .await
        .expect("revoke again");
    assert!(!second);
    let unknown = store
        .revoke_session(
            SessionId::new(),
            later,
            &revocation,
            &[event("session.revoked", later)],
        )
        .await
        .expect("revoke unknown");
    assert!(!unknown);

    let stored = store
        .find_session(session.id)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(stored.revoked_at, Some(later));
    assert!(
        store
            .list_sessions(user.id, now)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store.list_active_revocations(now).await.expect("rev"),
        [revocation]
    );
    assert_eq!(outbox_names(&*store).await, ["session.revoked"]);
}

/// `revoke_user_sessions` revokes every live session but `keep`, replaces the
/// hash in the same transaction, and writes one revocation and event per session.
pub async fn revoke_user_sessions_keeps_one_and_replaces_hash(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "pat@example.com", now - Duration::days(60)).await;
    let other = create_user(&*store, "quinn@example.com", now).await;
    let (keep, _) = create_session(
        &*store,
        user.id,
        now - Duration::hours(3),
        Duration::days(30),
    )
    .await;
    let (a, _) = create_session(
        &*store,
        user.id,
        now - Duration::hours(2),
        Duration::days(30),
    )
    .await;
    let (b, _) = create_session(
        &*store,
        user.id,
        now - Duration::hours(1),
        Duration::days(30),
    )
    .await;
    let (expired, _) = create_session(
        &*store,
        user.id,
        now - Duration::days(40),
        Duration::days(30),
    )
    .await;
    let (already, _) = create_session(
        &*store,
        user.id,
        now - Duration::hours(4),
        Duration::days(30),
    )
    .await;
    let (others, _) = create_session(&*store, other.id, now, Duration::days(30)).await;
    let until = now + Duration::minutes(15);
    assert!(
        store
            .revoke_session(
                already.id,
                now - Duration::hours(1),
                &session_revocation(already.id, until),
                &[]
            )
            .await
            .expect("revoke")
    );

    let make_event = move |sid: SessionId| {
        OutboxEvent::new(
            "session.revoked",
            json!({"session_id": sid.to_string(), "until": until.to_rfc3339()}),
            now,
        )
    };
    let mut revoked = store
        .revoke_user_sessions(
            user.id,
            Some(keep.id),
            now,
            until,
            Some(&PasswordChange {
                hash: "$argon2id$changed",
                mail: &[],
            }),
            &make_event,
        )
        .await
        .expect("revoke all");
    revoked.sort();
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(revoked, expected);

    let creds = store
        .find_credentials_by_id(user.id)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(creds.password_hash, "$argon2id$changed");
    let live: Vec<SessionId> = store
        .list_sessions(user.id, now)
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(live, [keep.id]);
    for id in [a.id, b.id] {
        let s = store
            .find_session(id)
            .await
            .expect("find")
            .expect("present");
        assert_eq!(s.revoked_at, Some(now));
    }
    // Expired and previously revoked sessions are left as they were.
    let s = store
        .find_session(expired.id)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(s.revoked_at, None);
    let s = store
        .find_session(already.id)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(s.revoked_at, Some(now - Duration::hours(1)));
    assert_eq!(
        store.list_sessions(other.id, now).await.expect("list")[0],
        others
    );

    let active = store.list_active_revocations(now).await.expect("rev");
    let mut revoked_subjects: Vec<uuid::Uuid> = active
        .iter()
        .filter(|r| {
            r.kind == RevocationKind::Session && r.until == until && r.id != already.id.as_uuid()
        })
        .map(|r| r.id)
        .collect();
    revoked_subjects.sort();
    let mut expected_subjects = vec![a.id.as_uuid(), b.id.as_uuid()];
    expected_subjects.sort();
    assert_eq!(revoked_subjects, expected_subjects);
    let events = outbox(&*store).await;
    let mut event_sessions: Vec<String> = events
        .iter()
        .map(|(_, e)| e.data["session_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    event_sessions.sort();
    let mut expected_sessions = vec![a.id.to_string(), b.id.to_string()];
    expected_sessions.sort();
    assert_eq!(event_sessions, expected_sessions);

    // Without keep or hash: everything live goes, the hash stays.
    let rest = store
        .revoke_user_sessions(user.id, None, now, until, None, &make_event)
        .await
        .expect("revoke rest");
    assert_eq!(rest, [keep.id]);
    let creds = store
        .find_credentials_by_id(user.id)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(creds.password_hash, "$argon2id$changed");
    let none = store
        .revoke_user_sessions(user.id, None, now, until, None, &make_event)
        .await
        .expect("nothing left");
    assert!(none.is_empty());
    assert_eq!(outbox(&*store).await.len(), 3);

    // A hash for an unknown user is NotFound and changes nothing.
    let err = store
        .revoke_user_sessions(
            UserId::new(),
            None,
            now,
            until,
            Some(&PasswordChange {
                hash: "$argon2id$x",
                mail: &[],
            }),
            &make_event,
        )
        .await
        .expect_err("unknown user");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

/// A session token is found with its session's and user's current state in
/// one lookup, reflects revocation, bans and role changes at once, dies with
/// its session, and is pruned after it expires.
pub async fn session_tokens_follow_their_session_and_user(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "session-token@example.com", now).await;
    let (session, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let record = |label: &str, lifetime: Duration| SessionTokenRecord {
        token_hash: token(label),
        session_id: session.id,
        created_at: now,
        expires_at: now + lifetime,
    };
    let live = record("wst", Duration::minutes(15));
    let short = record("wst-short", Duration::seconds(1));
    store
        .create_session_token(&live)
        .await
        .expect("create token");
    store
        .create_session_token(&short)
        .await
        .expect("create token");

    let found = store
        .find_session_token(&live.token_hash)
        .await
        .expect("find")
        .expect("the token exists");
    assert_eq!(found.session_id, session.id);
    assert_eq!(found.user_id, user.id);
    assert_eq!(found.roles, vec![Role::user()]);
    assert_eq!(found.user_status, UserStatus::Active);
    assert_eq!(found.session_revoked_at, None);
    assert_eq!(found.session_expires_at, session.expires_at);
    assert_eq!(found.issued_at, now);
    assert_eq!(found.expires_at, live.expires_at);
    assert!(
        store
            .find_session_token(&token("unknown"))
            .await
            .expect("find")
            .is_none()
    );

    // Roles and status are read live, not copied at issue.
    store
        .update_user_roles(user.id, &[Role::admin(), Role::user()], &[])
        .await
        .expect("roles");
    let found = store
        .find_session_token(&live.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.roles, vec![Role::admin(), Role::user()]);
    store
        .update_user_status(user.id, UserStatus::Banned, None, &[])
        .await
        .expect("ban");
    let found = store
        .find_session_token(&live.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user_status, UserStatus::Banned);

    // Revoking the session shows on its tokens at once.
    let revoked_at = now + Duration::seconds(5);
    store
        .revoke_session(
            session.id,
            revoked_at,
            &session_revocation(session.id, revoked_at + Duration::minutes(16)),
            &[],
        )
        .await
        .expect("revoke");
    let found = store
        .find_session_token(&live.token_hash)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.session_revoked_at, Some(revoked_at));

    // Pruning takes exactly the expired ones.
    let pruned = store
        .delete_expired_session_tokens(now + Duration::minutes(1))
        .await
        .expect("prune");
    assert_eq!(pruned, 1);
    assert!(
        store
            .find_session_token(&short.token_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .find_session_token(&live.token_hash)
            .await
            .unwrap()
            .is_some()
    );

    // A token for a session that does not exist is refused.
    let orphan = SessionTokenRecord {
        session_id: SessionId::new(),
        ..record("wst-orphan", Duration::minutes(15))
    };
    assert!(store.create_session_token(&orphan).await.is_err());

    // Deleting the user takes the session and its tokens with it.
    store
        .delete_user(
            user.id,
            &session_revocation(session.id, now + Duration::minutes(16)),
            &[],
        )
        .await
        .expect("delete user");
    assert!(
        store
            .find_session_token(&live.token_hash)
            .await
            .unwrap()
            .is_none()
    );
}

/// A session keeps how its holder authenticated and when: the `amr` values
/// (with `mfa` for two factors) and `auth_time` read back from the session
/// and through its session tokens.
pub async fn sessions_keep_their_authentication(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "mia@example.com", now).await;
    let (mut two_factor, refresh) = session(user.id, now, Duration::days(30));
    let auth_time = now - Duration::seconds(90);
    two_factor.authentication = Authentication::new(&[AuthMethod::Pwd, AuthMethod::Otp], auth_time);
    store
        .create_session(&two_factor, &refresh, &[])
        .await
        .expect("create session");

    let found = store
        .find_session(two_factor.id)
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(found, two_factor);
    assert_eq!(found.authentication.amr(), ["pwd", "otp", "mfa"]);
    assert_eq!(found.authentication.at, auth_time);
    assert!(found.authentication.is_multi_factor());
    let by_refresh = store
        .find_session_by_refresh(&refresh.token_hash)
        .await
        .expect("by refresh")
        .expect("stored");
    assert_eq!(by_refresh.authentication, two_factor.authentication);

    let record = SessionTokenRecord {
        token_hash: token("wst-mfa"),
        session_id: two_factor.id,
        created_at: now,
        expires_at: now + Duration::minutes(15),
    };
    store
        .create_session_token(&record)
        .await
        .expect("create token");
    let owner = store
        .find_session_token(&record.token_hash)
        .await
        .expect("find token")
        .expect("stored");
    assert_eq!(owner.authentication, two_factor.authentication);
    assert_eq!(owner.authentication.amr(), ["pwd", "otp", "mfa"]);
    assert_eq!(owner.authentication.at, auth_time);

    // One factor reads back as one factor.
    let (single, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let found = store
        .find_session(single.id)
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(found.authentication.amr(), ["pwd"]);
    assert_eq!(found.authentication.at, now);
    assert!(!found.authentication.is_multi_factor());

    // A factor enrolled in a session is added to it; `auth_time` stays,
    // and a revoked session is not changed.
    assert!(
        store
            .set_session_amr(single.id, "pwd,otp,mfa")
            .await
            .expect("set amr")
    );
    let found = store
        .find_session(single.id)
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(found.authentication.amr(), ["pwd", "otp", "mfa"]);
    assert_eq!(found.authentication.at, now);
    let revocation = session_revocation(two_factor.id, now + Duration::minutes(15));
    store
        .revoke_session(two_factor.id, now, &revocation, &[])
        .await
        .expect("revoke");
    assert!(
        !store
            .set_session_amr(two_factor.id, "pwd")
            .await
            .expect("set amr")
    );
    assert!(
        !store
            .set_session_amr(warden_core::SessionId::new(), "pwd")
            .await
            .expect("set amr")
    );
}
