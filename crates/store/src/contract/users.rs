//! Users and their accounts ([`UserStore`](warden_core::ports::UserStore)), and the e-mail skeleton backfill.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Duration;
use warden_core::model::{Revocation, RevocationKind, Role, User, UserStatus};
use warden_core::ports::Store;
use warden_core::{Email, StoreError, UserId};

use super::{base_time, create_session, create_user, event, new_user, outbox, outbox_names};

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
        ("ivan@example.net", Some("Ivan \"The\" O'Neil")),
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
        .list_users(None, Some(users[5].id), 2)
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

    // Quotes are literal too (SQLite's index reads the term as a phrase).
    let found = store
        .list_users(Some("\"the\" o'n"), None, 100)
        .await
        .expect("q");
    assert_eq!(emails(found), ["ivan@example.net"]);
    let found = store.list_users(Some("\""), None, 100).await.expect("q");
    assert_eq!(emails(found), ["ivan@example.net"]);
    // A substring inside a word, across the @ and over the whole address.
    let found = store
        .list_users(Some("rol@exa"), None, 100)
        .await
        .expect("q");
    assert_eq!(emails(found), ["carol@example.com"]);
    let found = store
        .list_users(Some("GRACE@SUB.EXAMPLE.COM"), None, 100)
        .await
        .expect("q");
    assert_eq!(emails(found), ["grace@sub.example.com"]);
    let found = store
        .list_users(Some("carol@example.com."), None, 100)
        .await
        .expect("q");
    assert!(found.is_empty());

    // A deleted account is no longer found; the others still are.
    let ivan = users
        .iter()
        .find(|u| u.email.as_str() == "ivan@example.net")
        .expect("ivan");
    let revocation = Revocation {
        kind: RevocationKind::User,
        id: ivan.id.as_uuid(),
        not_before: Some(now),
        until: now + Duration::minutes(15),
    };
    store
        .delete_user(ivan.id, &revocation, &[])
        .await
        .expect("delete");
    let found = store
        .list_users(Some("o'neil"), None, 100)
        .await
        .expect("q");
    assert!(found.is_empty());
    let found = store
        .list_users(Some("example.net"), None, 100)
        .await
        .expect("q");
    assert!(found.is_empty());
    let found = store
        .list_users(Some("hopper"), None, 100)
        .await
        .expect("q");
    assert_eq!(emails(found), ["grace@sub.example.com"]);
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
