//! The store contract: conformance tests every adapter of
//! [`Store`](warden_core::ports::Store) must pass (SQLite, PostgreSQL and
//! MySQL/MariaDB run them all through [`contract_tests!`]). Each function takes a freshly migrated, empty store and
//! panics on a violation. Run the concurrency checks on a multi-threaded
//! runtime, for example:
//!
//! ```ignore
//! #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
//! async fn refresh_rotation_is_single_use_under_concurrency() {
//!     let (_db, store) = fresh_store().await;
//!     warden_store::contract::refresh_rotation_is_single_use_under_concurrency(store).await;
//! }
//! ```
//!
//! Every function is listed in [`ALL`] by name so adapters can check they run them all.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use warden_core::model::{
    AuditEntry, LockoutPolicy, OutboxEvent, RefreshRecord, Revocation, RevocationKind, Role,
    RotateOutcome, Session, SessionTokenRecord, StoredSigningKey, ThrottleState, TokenHash, User,
    UserStatus,
};
use warden_core::ports::{NewUser, ReuseRevocation, Store};
use warden_core::{AuditId, Email, SessionId, StoreError, UserId};

/// The names of every contract function, for adapters to check coverage.
pub const ALL: &[&str] = &[
    "users_create_and_find",
    "users_unique_email_under_concurrency",
    "users_list_pages_and_filters",
    "users_status_roles_and_password",
    "users_delete_cascades",
    "sessions_create_find_list",
    "refresh_rotation",
    "refresh_rotation_is_single_use_under_concurrency",
    "refresh_retry_within_the_grace_window",
    "refresh_retry_within_the_grace_window_under_concurrency",
    "revoke_session_is_idempotent",
    "revoke_user_sessions_keeps_one_and_replaces_hash",
    "login_throttle_counts_and_clears",
    "login_throttle_counts_exactly_under_concurrency",
    "signing_keys_round_trip_retire_delete",
    "signing_keys_first_is_created_once_under_concurrency",
    "signing_keys_need_the_right_encryption_key",
    "revocations_active_filter",
    "audit_pages_newest_first",
    "outbox_in_commit_order",
    // session tokens (tokens.access = "session")
    "session_tokens_follow_their_session_and_user",
    "outbox_relay_publishes_a_prefix_and_prunes_only_published",
    "outbox_relay_lease_has_one_holder_under_concurrency",
    "outbox_relay_publishes_in_order_and_retries_after_a_failure",
    "outbox_relay_only_the_lease_holder_publishes",
    // e-mail skeletons (migration 0004)
    "legacy_emails_get_skeletons_at_start",
];

/// Generates one test per contract function for an adapter. `$with_store`
/// names an async function taking a closure `FnOnce(Arc<dyn Store>) -> Fut`
/// that hands it a fresh, migrated store and cleans up afterwards (whether
/// the test passed or not); `$with_two` does the same with two stores over one
/// database that use different key-encryption keys; `$with_legacy` hands a
/// store and a [`ForgetEmailSkeletons`] that turns its accounts into ones
/// written before migration 0004.
#[cfg(test)]
macro_rules! contract_tests {
    ($with_store:ident, $with_two:ident, $with_legacy:ident) => {
        $crate::contract::contract_tests!(
            @each $with_store;
            users_create_and_find,
            users_unique_email_under_concurrency,
            users_list_pages_and_filters,
            users_status_roles_and_password,
            users_delete_cascades,
            sessions_create_find_list,
            refresh_rotation,
            refresh_rotation_is_single_use_under_concurrency,
            refresh_retry_within_the_grace_window,
            refresh_retry_within_the_grace_window_under_concurrency,
            revoke_session_is_idempotent,
            revoke_user_sessions_keeps_one_and_replaces_hash,
            login_throttle_counts_and_clears,
            login_throttle_counts_exactly_under_concurrency,
            signing_keys_round_trip_retire_delete,
            signing_keys_first_is_created_once_under_concurrency,
            revocations_active_filter,
            audit_pages_newest_first,
            outbox_in_commit_order,
            session_tokens_follow_their_session_and_user,
            outbox_relay_publishes_a_prefix_and_prunes_only_published,
            outbox_relay_lease_has_one_holder_under_concurrency,
            outbox_relay_publishes_in_order_and_retries_after_a_failure,
            outbox_relay_only_the_lease_holder_publishes,
        );

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn signing_keys_need_the_right_encryption_key() {
            $with_two($crate::contract::signing_keys_need_the_right_encryption_key).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn legacy_emails_get_skeletons_at_start() {
            $with_legacy($crate::contract::legacy_emails_get_skeletons_at_start).await;
        }
    };
    (@each $with_store:ident; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                $with_store($crate::contract::$name).await;
            }
        )*

        #[test]
        fn every_contract_function_runs() {
            let mut ran: Vec<&str> = vec![$(stringify!($name)),*];
            ran.push("signing_keys_need_the_right_encryption_key");
            ran.push("legacy_emails_get_skeletons_at_start");
            ran.sort_unstable();
            let mut all = $crate::contract::ALL.to_vec();
            all.sort_unstable();
            assert_eq!(ran, all);
        }
    };
}
#[cfg(test)]
pub(crate) use contract_tests;

// ----- fixtures -----

/// A time with millisecond precision (what every adapter stores).
pub fn base_time() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap_or_default()
}

fn new_user(email: &str, username: Option<&str>, at: DateTime<Utc>) -> NewUser {
    NewUser {
        user: User {
            id: UserId::new(),
            email: Email::parse(email).expect("valid e-mail"),
            username: username.map(str::to_owned),
            roles: vec![Role::user()],
            status: UserStatus::Active,
            created_at: at,
        },
        password_hash: format!("$argon2id$v=19$m=19456,t=2,p=1$salt${email}"),
    }
}

fn event(name: &str, at: DateTime<Utc>) -> OutboxEvent {
    OutboxEvent::new(name, json!({"name": name, "n": 1}), at)
}

fn token(label: &str) -> TokenHash {
    TokenHash(format!("{label}-{}", uuid::Uuid::now_v7().simple()))
}

fn session(
    user: UserId,
    created_at: DateTime<Utc>,
    lifetime: Duration,
) -> (Session, RefreshRecord) {
    let id = SessionId::new();
    let session = Session {
        id,
        user_id: user,
        created_at,
        last_used_at: created_at,
        expires_at: created_at + lifetime,
        revoked_at: None,
        user_agent: Some("contract-test/1.0".into()),
        ip: Some("192.0.2.1".into()),
    };
    let refresh = RefreshRecord {
        token_hash: token("rt"),
        session_id: id,
        created_at,
    };
    (session, refresh)
}

fn session_revocation(id: SessionId, until: DateTime<Utc>) -> Revocation {
    Revocation {
        kind: RevocationKind::Session,
        id: id.as_uuid(),
        not_before: None,
        until,
    }
}

async fn create_user(store: &dyn Store, email: &str, at: DateTime<Utc>) -> User {
    let new = new_user(email, None, at);
    store.create_user(&new, &[]).await.expect("create user");
    new.user
}

async fn create_session(
    store: &dyn Store,
    user: UserId,
    at: DateTime<Utc>,
    lifetime: Duration,
) -> (Session, RefreshRecord) {
    let (session, refresh) = session(user, at, lifetime);
    store
        .create_session(&session, &refresh, &[])
        .await
        .expect("create session");
    (session, refresh)
}

async fn outbox(store: &dyn Store) -> Vec<(i64, OutboxEvent)> {
    store.list_outbox(0, 10_000).await.expect("list outbox")
}

async fn outbox_names(store: &dyn Store) -> Vec<String> {
    outbox(store)
        .await
        .into_iter()
        .map(|(_, e)| e.name)
        .collect()
}

// ----- users -----

/// Create, find by id / e-mail, duplicate e-mail is `Conflict` and writes nothing.
pub async fn users_create_and_find(store: Arc<dyn Store>) {
    let now = base_time();
    let mut new = new_user("alice@example.com", Some("Alice"), now);
    new.user.roles = vec![Role::admin(), Role::user()];
    store
        .create_user(&new, &[event("user.created", now)])
        .await
        .expect("create");

    let found = store.find_user_by_id(new.user.id).await.expect("find");
    assert_eq!(found.as_ref(), Some(&new.user));
    let creds = store
        .find_credentials_by_email(&new.user.email)
        .await
        .expect("by email")
        .expect("present");
    assert_eq!(creds.user, new.user);
    assert_eq!(creds.password_hash, new.password_hash);
    let creds = store
        .find_credentials_by_id(new.user.id)
        .await
        .expect("by id")
        .expect("present");
    assert_eq!(creds.password_hash, new.password_hash);

    assert_eq!(
        store.find_user_by_id(UserId::new()).await.expect("find"),
        None
    );
    let other = Email::parse("bob@example.com").expect("email");
    assert!(
        store
            .find_credentials_by_email(&other)
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        store
            .find_credentials_by_id(UserId::new())
            .await
            .expect("find")
            .is_none()
    );

    // Same canonical e-mail, different id: conflict, and its event is not written.
    let dup = new_user("alice@example.com", None, now);
    let err = store
        .create_user(&dup, &[event("user.created", now)])
        .await
        .expect_err("duplicate e-mail");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert!(
        store
            .find_user_by_id(dup.user.id)
            .await
            .expect("find")
            .is_none()
    );
    assert_eq!(outbox_names(&*store).await, ["user.created"]);
}

/// 20 concurrent sign-ups with one e-mail: exactly one succeeds, the rest are `Conflict`.
pub async fn users_unique_email_under_concurrency(store: Arc<dyn Store>) {
    let now = base_time();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let new = new_user("race@example.com", None, now);
                store.create_user(&new, &[event("user.created", now)]).await
            })
        })
        .collect();
    let (mut ok, mut conflict) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => ok += 1,
            Err(StoreError::Conflict) => conflict += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!((ok, conflict), (1, 19));
    assert_eq!(outbox(&*store).await.len(), 1);
}

/// Paging by id, `after` cursor, limit, and the case-insensitive substring
/// query with LIKE wildcards matched literally.
pub async fn users_list_pages_and_filters(store: Arc<dyn Store>) {
    let now = base_time();
    let specs = [
        ("carol@example.com", Some("Carol")),
        ("dave@example.org", None),
        ("erin@example.com", Some("100%_Erin")),
        ("frank@example.com", Some("1000 frank")),
        ("grace@sub.example.com", Some("Grace_Hopper")),
    ];
    let mut users = Vec::new();
    for (email, username) in specs {
        let new = new_user(email, username, now);
        store.create_user(&new, &[]).await.expect("create");
        users.push(new.user);
    }
    users.sort_by_key(|u| u.id);

    let all = store.list_users(None, None, 100).await.expect("list");
    assert_eq!(all, users);

    let page1 = store.list_users(None, None, 2).await.expect("page 1");
    assert_eq!(page1, users[..2]);
    let page2 = store
        .list_users(None, Some(page1[1].id), 2)
        .await
        .expect("page 2");
    assert_eq!(page2, users[2..4]);
    let page3 = store
        .list_users(None, Some(page2[1].id), 2)
        .await
        .expect("page 3");
    assert_eq!(page3, users[4..]);
    let past_end = store
        .list_users(None, Some(users[4].id), 2)
        .await
        .expect("past end");
    assert!(past_end.is_empty());

    let emails = |list: Vec<User>| -> Vec<String> {
        let mut v: Vec<String> = list.into_iter().map(|u| u.email.to_string()).collect();
        v.sort();
        v
    };
    // Case-insensitive, on e-mail and on username.
    let found = store
        .list_users(Some("EXAMPLE.ORG"), None, 100)
        .await
        .expect("q");
    assert_eq!(emails(found), ["dave@example.org"]);
    let found = store.list_users(Some("carol"), None, 100).await.expect("q");
    assert_eq!(emails(found), ["carol@example.com"]);
    let found = store
        .list_users(Some("hopper"), None, 100)
        .await
        .expect("q");
    assert_eq!(emails(found), ["grace@sub.example.com"]);
    // Wildcards are literal: "0%" only matches a username containing "0%".
    let found = store.list_users(Some("0%"), None, 100).await.expect("q");
    assert_eq!(emails(found), ["erin@example.com"]);
    let found = store.list_users(Some("%"), None, 100).await.expect("q");
    assert_eq!(emails(found), ["erin@example.com"]);
    let found = store.list_users(Some("_"), None, 100).await.expect("q");
    assert_eq!(emails(found), ["erin@example.com", "grace@sub.example.com"]);
    let found = store
        .list_users(Some("nobody"), None, 100)
        .await
        .expect("q");
    assert!(found.is_empty());
    // Query and cursor combine.
    let matching: Vec<User> = users
        .iter()
        .filter(|u| u.email.as_str().ends_with("example.com"))
        .cloned()
        .collect();
    let first = store
        .list_users(Some("example.com"), None, 1)
        .await
        .expect("q");
    assert_eq!(first, matching[..1]);
    let rest = store
        .list_users(Some("example.com"), Some(first[0].id), 100)
        .await
        .expect("q");
    assert_eq!(rest, matching[1..]);
}

/// Status, roles and password-hash updates; `NotFound` for unknown users; the
/// revocation and events are written with the change.
pub async fn users_status_roles_and_password(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "henry@example.com", now).await;
    let until = now + Duration::minutes(15);
    let ban = Revocation {
        kind: RevocationKind::User,
        id: user.id.as_uuid(),
        not_before: Some(now),
        until,
    };
    store
        .update_user_status(
            user.id,
            UserStatus::Banned,
            Some(&ban),
            &[event("user.banned", now)],
        )
        .await
        .expect("ban");
    let found = store
        .find_user_by_id(user.id)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(found.status, UserStatus::Banned);
    assert_eq!(
        store
            .list_active_revocations(now)
            .await
            .expect("revocations"),
        std::slice::from_ref(&ban)
    );

    store
        .update_user_status(
            user.id,
            UserStatus::Active,
            None,
            &[event("user.unbanned", now)],
        )
        .await
        .expect("unban");
    let found = store
        .find_user_by_id(user.id)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(found.status, UserStatus::Active);

    let roles = vec![
        Role::admin(),
        Role::parse("billing-reader").expect("role"),
        Role::user(),
    ];
    store
        .update_user_roles(user.id, &roles, &[event("user.roles_changed", now)])
        .await
        .expect("roles");
    let found = store
        .find_user_by_id(user.id)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(found.roles, roles);
    store
        .update_user_roles(user.id, &[], &[])
        .await
        .expect("no roles");
    let found = store
        .find_user_by_id(user.id)
        .await
        .expect("find")
        .expect("present");
    assert!(found.roles.is_empty());

    store
        .update_password_hash(user.id, "$argon2id$new")
        .await
        .expect("rehash");
    let creds = store
        .find_credentials_by_id(user.id)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(creds.password_hash, "$argon2id$new");

    assert_eq!(
        outbox_names(&*store).await,
        ["user.banned", "user.unbanned", "user.roles_changed"]
    );

    let ghost = UserId::new();
    let ghost_ban = Revocation {
        id: ghost.as_uuid(),
        ..ban
    };
    let err = store
        .update_user_status(
            ghost,
            UserStatus::Banned,
            Some(&ghost_ban),
            &[event("x", now)],
        )
        .await
        .expect_err("unknown user");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = store
        .update_user_roles(ghost, &[Role::user()], &[event("x", now)])
        .await
        .expect_err("unknown user");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let err = store
        .update_password_hash(ghost, "$argon2id$x")
        .await
        .expect_err("unknown user");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    // Nothing of the failed calls was written, and the unban dropped the
    // user-wide entry of the ban.
    assert_eq!(outbox(&*store).await.len(), 3);
    assert_eq!(
        store
            .list_active_revocations(now)
            .await
            .expect("revocations")
            .len(),
        0
    );
}

/// Deleting a user removes their sessions and refresh tokens and writes the
/// revocation and events; deleting again is `NotFound`.
pub async fn users_delete_cascades(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "ivan@example.com", now).await;
    let other = create_user(&*store, "judy@example.com", now).await;
    let (s1, r1) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let (s2, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let (s3, r3) = create_session(&*store, other.id, now, Duration::days(30)).await;

    let revocation = Revocation {
        kind: RevocationKind::User,
        id: user.id.as_uuid(),
        not_before: Some(now),
        until: now + Duration::minutes(15),
    };
    store
        .delete_user(user.id, &revocation, &[event("user.deleted", now)])
        .await
        .expect("delete");
    assert!(
        store
            .find_user_by_id(user.id)
            .await
            .expect("find")
            .is_none()
    );
    assert!(store.find_session(s1.id).await.expect("find").is_none());
    assert!(store.find_session(s2.id).await.expect("find").is_none());
    assert!(
        store
            .find_session_by_refresh(&r1.token_hash)
            .await
            .expect("find")
            .map(|s| s.id)
            .is_none()
    );
    assert!(
        store
            .list_sessions(user.id, now)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        store.list_active_revocations(now).await.expect("rev"),
        std::slice::from_ref(&revocation)
    );
    assert_eq!(outbox_names(&*store).await, ["user.deleted"]);

    // The other user is untouched.
    assert!(
        store
            .find_user_by_id(other.id)
            .await
            .expect("find")
            .is_some()
    );
    assert_eq!(
        store.find_session(s3.id).await.expect("find"),
        Some(s3.clone())
    );
    assert_eq!(
        store
            .find_session_by_refresh(&r3.token_hash)
            .await
            .expect("find")
            .map(|s| s.id),
        Some(s3.id)
    );

    let err = store
        .delete_user(user.id, &revocation, &[event("user.deleted", now)])
        .await
        .expect_err("already deleted");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(outbox(&*store).await.len(), 1);
}

// ----- sessions and refresh tokens -----

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
            Some("$argon2id$changed"),
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
            Some("$argon2id$x"),
            &make_event,
        )
        .await
        .expect_err("unknown user");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
}

// ----- sign-in throttling -----

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

// ----- signing keys -----

fn signing_key(kid: &str, created_at: DateTime<Utc>, der: &[u8]) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.to_owned(),
        algorithm: "EdDSA".into(),
        private_der: zeroize::Zeroizing::new(der.to_vec()),
        created_at,
        retired_at: None,
    }
}

/// Eight instances offer a first key at once: exactly one is taken, and no
/// later offer is.
pub async fn signing_keys_first_is_created_once_under_concurrency(store: Arc<dyn Store>) {
    let now = base_time();
    let offers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = signing_key(&format!("first-{i}"), now, &[i as u8; 48]);
                let taken = store.create_first_signing_key(&key).await.expect("offer");
                (key.kid, taken)
            })
        })
        .collect();
    let mut taken = Vec::new();
    for offer in offers {
        let (kid, won) = offer.await.expect("task");
        if won {
            taken.push(kid);
        }
    }
    assert_eq!(taken.len(), 1, "{taken:?}");
    let keys = store.list_signing_keys().await.expect("list");
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].kid, taken[0]);
    let late = signing_key("late", now, &[9; 48]);
    assert!(
        !store
            .create_first_signing_key(&late)
            .await
            .expect("late offer")
    );
    assert_eq!(store.list_signing_keys().await.expect("list").len(), 1);
}

/// Keys round-trip (private bytes equal after decryption), oldest first;
/// retire marks all others once; delete removes.
pub async fn signing_keys_round_trip_retire_delete(store: Arc<dyn Store>) {
    let now = base_time();
    assert!(store.list_signing_keys().await.expect("list").is_empty());
    let old = signing_key("k-old", now - Duration::days(2), &[1, 2, 3, 4, 0, 255]);
    let mid = signing_key("k-mid", now - Duration::days(1), &[9; 48]);
    let mut new = signing_key("k-new", now, &[7; 1200]);
    new.algorithm = "RS256".into();
    // Inserted out of order; listed oldest first.
    for key in [&new, &old, &mid] {
        store.create_signing_key(key).await.expect("create");
    }
    let listed = store.list_signing_keys().await.expect("list");
    let kids: Vec<&str> = listed.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["k-old", "k-mid", "k-new"]);
    for (got, want) in listed.iter().zip([&old, &mid, &new]) {
        assert_eq!(got.private_der.as_slice(), want.private_der.as_slice());
        assert_eq!(got.algorithm, want.algorithm);
        assert_eq!(got.created_at, want.created_at);
        assert_eq!(got.retired_at, None);
    }

    let err = store
        .create_signing_key(&signing_key("k-new", now, &[0]))
        .await
        .expect_err("duplicate kid");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");

    // Rotation: everything but the newest key retires; retired keys keep
    // their first retirement time.
    let first_retire = now - Duration::hours(12);
    store
        .retire_signing_keys("k-new", first_retire)
        .await
        .expect("retire");
    let newer = signing_key("k-newer", now + Duration::seconds(1), &[3; 32]);
    store.create_signing_key(&newer).await.expect("create");
    store
        .retire_signing_keys("k-newer", now)
        .await
        .expect("retire");
    let retired: Vec<(String, Option<DateTime<Utc>>)> = store
        .list_signing_keys()
        .await
        .expect("list")
        .into_iter()
        .map(|k| (k.kid.clone(), k.retired_at))
        .collect();
    let expected: Vec<(String, Option<DateTime<Utc>>)> = [
        ("k-old", Some(first_retire)),
        ("k-mid", Some(first_retire)),
        ("k-new", Some(now)),
        ("k-newer", None),
    ]
    .into_iter()
    .map(|(kid, at)| (kid.to_owned(), at))
    .collect();
    assert_eq!(retired, expected);

    store.delete_signing_key("k-old").await.expect("delete");
    let kids: Vec<String> = store
        .list_signing_keys()
        .await
        .expect("list")
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, ["k-mid", "k-new", "k-newer"]);
    // Deleting an absent key is not an error (idempotent cleanup).
    store
        .delete_signing_key("k-old")
        .await
        .expect("delete again");
}

/// A store opened with another key-encryption key cannot read the keys: an
/// `Unexpected` error naming the problem, never garbage key bytes.
/// `writer` and `reader` share one database but use different keys.
pub async fn signing_keys_need_the_right_encryption_key(
    writer: Arc<dyn Store>,
    reader: Arc<dyn Store>,
) {
    let now = base_time();
    writer
        .create_signing_key(&signing_key("k1", now, &[5; 64]))
        .await
        .expect("create");
    assert_eq!(writer.list_signing_keys().await.expect("list").len(), 1);
    match reader.list_signing_keys().await {
        Err(StoreError::Unexpected(msg)) => {
            assert!(msg.contains("cannot be decrypted"), "{msg}");
            assert!(msg.contains("WARDEN_KEYS_ENCRYPTION_KEY"), "{msg}");
        }
        other => panic!("expected a decryption error, got {other:?}"),
    }
}

// ----- revocations -----

/// Only revocations whose `until` is after `now` are listed, with their fields intact.
pub async fn revocations_active_filter(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "uma@example.com", now).await;
    let (s1, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let (s2, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let past = session_revocation(s1.id, now - Duration::seconds(1));
    let at_now = session_revocation(s2.id, now);
    store
        .revoke_session(s1.id, now, &past, &[])
        .await
        .expect("revoke");
    store
        .revoke_session(s2.id, now, &at_now, &[])
        .await
        .expect("revoke");
    let ban = Revocation {
        kind: RevocationKind::User,
        id: user.id.as_uuid(),
        not_before: Some(now - Duration::milliseconds(1)),
        until: now + Duration::minutes(15),
    };
    store
        .update_user_status(user.id, UserStatus::Banned, Some(&ban), &[])
        .await
        .expect("ban");

    assert_eq!(
        store.list_active_revocations(now).await.expect("active"),
        std::slice::from_ref(&ban)
    );
    let earlier = now - Duration::minutes(1);
    assert_eq!(
        store
            .list_active_revocations(earlier)
            .await
            .expect("active"),
        [past, at_now, ban.clone()]
    );
    assert!(
        store
            .list_active_revocations(ban.until)
            .await
            .expect("active")
            .is_empty()
    );
}

// ----- audit -----

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

// ----- outbox -----

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

// ----- session tokens (tokens.access = "session") -----

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

// ----- outbox relay -----

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
    let now = base_time();
    let until = now + Duration::seconds(10);
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let holder = format!("instance-{i}");
                let got = store
                    .acquire_relay_lease(&holder, now, until)
                    .await
                    .expect("acquire");
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
        store
            .acquire_relay_lease(&holder, later, later + Duration::seconds(10))
            .await
            .expect("renew")
    );
    assert!(
        !store
            .acquire_relay_lease(
                other,
                now + Duration::seconds(12),
                now + Duration::seconds(22)
            )
            .await
            .expect("refused: renewed until +15 s")
    );
    let expired = now + Duration::seconds(15);
    assert!(
        store
            .acquire_relay_lease(other, expired, expired + Duration::seconds(10))
            .await
            .expect("take over")
    );
    assert!(
        !store
            .acquire_relay_lease(&holder, expired, expired + Duration::seconds(10))
            .await
            .expect("the old holder lost it")
    );
    // Releasing by a non-holder does nothing; by the holder frees it at once.
    store.release_relay_lease(&holder).await.expect("release");
    assert!(
        !store
            .acquire_relay_lease(&holder, expired, expired + Duration::seconds(10))
            .await
            .expect("still taken")
    );
    store.release_relay_lease(other).await.expect("release");
    assert!(
        store
            .acquire_relay_lease(&holder, expired, expired + Duration::seconds(10))
            .await
            .expect("free again")
    );
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

/// Sets every account's `email_skeleton` to NULL, as migration 0004 leaves
/// the accounts that existed before it (raw SQL: no port method does this).
pub type ForgetEmailSkeletons =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// Accounts written before migration 0004 have no skeleton; the start-up
/// backfill computes them, after which a look-alike of one is `Conflict`.
/// Look-alikes that already both exist keep working: the older account gets
/// the skeleton, the other is counted and left without one.
pub async fn legacy_emails_get_skeletons_at_start(
    store: Arc<dyn Store>,
    forget: ForgetEmailSkeletons,
) {
    use warden_core::service::{SkeletonBackfill, backfill_email_skeletons};
    let now = base_time();
    let alice = new_user("alice@example.com", None, now);
    store.create_user(&alice, &[]).await.expect("alice");
    let bob = new_user("bob@example.com", None, now);
    store.create_user(&bob, &[]).await.expect("bob");
    // A look-alike that slipped in before the rule existed.
    forget().await;
    let shadow = new_user("\u{430}lice@example.com", None, now);
    store
        .create_user(&shadow, &[])
        .await
        .expect("legacy look-alike");
    forget().await;
    // Before the backfill nothing stops another look-alike ...
    let done = backfill_email_skeletons(&*store).await.expect("backfill");
    assert_eq!(
        done,
        SkeletonBackfill {
            filled: 2,
            collisions: 1
        }
    );
    // ... after it, one is a conflict, and nothing was written for it.
    let fullwidth = new_user("\u{ff41}lice@example.com", None, now);
    let err = store
        .create_user(&fullwidth, &[event("user.created", now)])
        .await
        .expect_err("look-alike of a legacy account");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert!(outbox(&*store).await.is_empty());
    // Every legacy account still reads and signs in by its address.
    for user in [&alice, &bob, &shadow] {
        let found = store
            .find_credentials_by_email(&user.user.email)
            .await
            .expect("find")
            .expect("present");
        assert_eq!(found.user.id, user.user.id);
    }
    // A second start has nothing left to fill.
    let again = backfill_email_skeletons(&*store).await.expect("backfill");
    assert_eq!(again.filled, 0);
    // A new, different address is fine.
    let carol = new_user("carol@example.com", None, now);
    store.create_user(&carol, &[]).await.expect("carol");
}
