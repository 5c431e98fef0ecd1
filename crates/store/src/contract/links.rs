//! Mailed link tokens and their send throttles
//! ([`LinkStore`](warden_core::ports::LinkStore)), and the voiding of reset
//! links by a password change.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use warden_core::links::{
    LinkLifetimes, LinkMailer, LinkPurpose, LinkRecord, SendLimit, SendOutcome, SendThrottle,
    throttle_key,
};
use warden_core::mail::{MailKind, QueuedMail};
use warden_core::model::{LockoutPolicy, TokenHash, User};
use warden_core::ports::{LinkCompletion, PasswordChange, SessionRevocations, Store};
use warden_core::{Email, SessionId, StoreError};

use super::{base_time, create_session, create_user, event, outbox_names, session_revocation};

fn mailer() -> LinkMailer {
    LinkMailer {
        public_url: "https://id.example.com".into(),
        lifetimes: LinkLifetimes::default(),
    }
}

fn throttle(key: &str, now: DateTime<Utc>) -> SendThrottle<'_> {
    SendThrottle {
        key,
        limit: SendLimit::default(),
        now,
    }
}

/// Stores a link of `purpose` for `user` (mailed to `to`) with its mail,
/// under a throttle key of its own.
async fn issue(
    store: &dyn Store,
    purpose: LinkPurpose,
    user: &User,
    to: &Email,
    now: DateTime<Utc>,
) -> LinkRecord {
    let (link, mail) = mailer().link(purpose, user.id, to, now);
    let key = throttle_key("contract", &uuid::Uuid::now_v7().to_string());
    let outcome = store
        .request_link(&throttle(&key, now), Some(&link), &[mail])
        .await
        .expect("request link");
    assert_eq!(outcome, SendOutcome::Sent);
    link
}

fn verify<'a>(user: &User, email: &'a Email) -> LinkCompletion<'a> {
    LinkCompletion {
        purpose: LinkPurpose::VerifyEmail,
        user: user.id,
        expected_email: Some(email),
        new_email: None,
        password_hash: None,
        void: &[LinkPurpose::VerifyEmail],
        revoke_sessions: None,
        clear_throttle: None,
        events: &[],
        mail: &[],
    }
}

async fn used_at(store: &dyn Store, token: &TokenHash) -> Option<DateTime<Utc>> {
    store
        .find_link(token)
        .await
        .expect("find link")
        .expect("link present")
        .used_at
}

async fn queued_kinds(store: &dyn Store, now: DateTime<Utc>) -> Vec<(MailKind, String)> {
    store
        .list_due_mail(now + Duration::days(1), 1_000)
        .await
        .expect("due mail")
        .into_iter()
        .map(|due| (due.mail.kind, due.mail.to))
        .collect()
}

/// A link is stored with its mail and found by hash; following it verifies
/// the address once; a used, expired, other user's or other purpose's link
/// is `NotFound` and changes nothing.
pub async fn links_are_single_use_and_checked_on_completion(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada@example.com", now).await;
    let bob = create_user(&*store, "bob@example.com", now).await;
    let link = issue(&*store, LinkPurpose::VerifyEmail, &ada, &ada.email, now).await;
    let found = store
        .find_link(&link.token_hash)
        .await
        .expect("find")
        .expect("present");
    assert_eq!(found, link);
    assert_eq!(
        queued_kinds(&*store, now).await,
        [(MailKind::VerifyEmail, "ada@example.com".to_owned())]
    );
    assert!(
        store
            .find_link(&TokenHash("0".repeat(64)))
            .await
            .expect("find")
            .is_none()
    );

    // Another user's id, another purpose: not consumed.
    let mut wrong_user = verify(&bob, &ada.email);
    wrong_user.expected_email = None;
    let err = store
        .complete_link(&link.token_hash, now, &wrong_user)
        .await
        .expect_err("other user");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let mut wrong_purpose = verify(&ada, &ada.email);
    wrong_purpose.purpose = LinkPurpose::PasswordReset;
    let err = store
        .complete_link(&link.token_hash, now, &wrong_purpose)
        .await
        .expect_err("other purpose");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(used_at(&*store, &link.token_hash).await, None);
    assert!(
        !store
            .find_user_by_id(ada.id)
            .await
            .expect("find")
            .expect("ada")
            .email_verified
    );

    let revoked = store
        .complete_link(&link.token_hash, now, &verify(&ada, &ada.email))
        .await
        .expect("complete");
    assert!(revoked.is_empty());
    let ada_now = store
        .find_user_by_id(ada.id)
        .await
        .expect("find")
        .expect("ada");
    assert!(ada_now.email_verified);
    assert_eq!(used_at(&*store, &link.token_hash).await, Some(now));
    let err = store
        .complete_link(&link.token_hash, now, &verify(&ada, &ada.email))
        .await
        .expect_err("second use");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");

    // Expired: refused at and after `expires_at`.
    let old = issue(&*store, LinkPurpose::VerifyEmail, &bob, &bob.email, now).await;
    let err = store
        .complete_link(&old.token_hash, old.expires_at, &verify(&bob, &bob.email))
        .await
        .expect_err("expired");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    // The account moved to another address: a link mailed to the old one
    // is refused.
    let moved = Email::parse("robert@example.com").expect("email");
    let err = store
        .complete_link(&old.token_hash, now, &verify(&bob, &moved))
        .await
        .expect_err("address moved");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(used_at(&*store, &old.token_hash).await, None);
    assert!(
        !store
            .find_user_by_id(bob.id)
            .await
            .expect("find")
            .expect("bob")
            .email_verified
    );
}

/// 20 concurrent completions of one link: exactly one succeeds.
pub async fn link_completion_is_single_use_under_concurrency(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "race-link@example.com", now).await;
    let link = issue(&*store, LinkPurpose::EmailChange, &ada, &ada.email, now).await;
    let tasks: Vec<_> = (0..20)
        .map(|n| {
            let store = store.clone();
            let ada = ada.clone();
            let token = link.token_hash.clone();
            tokio::spawn(async move {
                let new_email = Email::parse(&format!("race-{n}@example.org")).expect("email");
                let event = event("user.email_changed", now);
                let completion = LinkCompletion {
                    purpose: LinkPurpose::EmailChange,
                    user: ada.id,
                    expected_email: None,
                    new_email: Some(&new_email),
                    password_hash: None,
                    void: &LinkPurpose::ALL,
                    revoke_sessions: None,
                    clear_throttle: None,
                    events: std::slice::from_ref(&event),
                    mail: &[],
                };
                store.complete_link(&token, now, &completion).await
            })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => ok += 1,
            Err(StoreError::NotFound) => refused += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!((ok, refused), (1, 19));
    assert_eq!(outbox_names(&*store).await, ["user.email_changed"]);
    let ada_now = store
        .find_user_by_id(ada.id)
        .await
        .expect("find")
        .expect("ada");
    assert!(ada_now.email.as_str().starts_with("race-"));
    assert!(ada_now.email_verified);
}

/// A reset completes in one transaction: new hash, every live session
/// revoked (entry and event each), other reset links void, lockout cleared,
/// the notice queued, the events written. A completion that fails (the new
/// address is taken, even as a look-alike) writes nothing at all.
pub async fn link_completion_applies_its_change_mail_and_events_atomically(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada.reset@example.com", now).await;
    let (s1, _) = create_session(&*store, ada.id, now, Duration::days(30)).await;
    let (s2, _) = create_session(&*store, ada.id, now, Duration::days(30)).await;
    store
        .record_login_failure(ada.email.as_str(), now, &LockoutPolicy::default())
        .await
        .expect("failure");
    let older = issue(&*store, LinkPurpose::PasswordReset, &ada, &ada.email, now).await;
    let link = issue(&*store, LinkPurpose::PasswordReset, &ada, &ada.email, now).await;
    assert_eq!(
        used_at(&*store, &older.token_hash).await,
        Some(now),
        "a new reset link voids the older one"
    );
    let until = now + Duration::minutes(16);
    let event_for = |id: SessionId| event(&format!("session.revoked.{id}"), now);
    let notice = QueuedMail::new(MailKind::PasswordChanged, ada.email.as_str(), now);
    let tokens_revoked = event("user.tokens_revoked", now);
    let completion = LinkCompletion {
        purpose: LinkPurpose::PasswordReset,
        user: ada.id,
        expected_email: Some(&ada.email),
        new_email: None,
        password_hash: Some("$argon2id$new"),
        void: &[LinkPurpose::PasswordReset],
        revoke_sessions: Some(SessionRevocations {
            until,
            event_for: &event_for,
        }),
        clear_throttle: Some(ada.email.as_str()),
        events: std::slice::from_ref(&tokens_revoked),
        mail: std::slice::from_ref(&notice),
    };
    let mut revoked = store
        .complete_link(&link.token_hash, now, &completion)
        .await
        .expect("reset");
    revoked.sort();
    let mut expected = vec![s1.id, s2.id];
    expected.sort();
    assert_eq!(revoked, expected);
    let creds = store
        .find_credentials_by_id(ada.id)
        .await
        .expect("find")
        .expect("ada");
    assert_eq!(creds.password_hash, "$argon2id$new");
    assert!(creds.user.email_verified);
    assert!(
        store
            .list_sessions(ada.id, now)
            .await
            .expect("list")
            .is_empty()
    );
    let active = store
        .list_active_revocations(now)
        .await
        .expect("revocations");
    for id in &expected {
        assert!(active.contains(&session_revocation(*id, until)));
    }
    let throttle = store
        .find_login_throttle(ada.email.as_str())
        .await
        .expect("throttle");
    assert_eq!(throttle.failures, 0);
    let names = outbox_names(&*store).await;
    assert_eq!(names.len(), 3);
    assert_eq!(
        names.last().map(String::as_str),
        Some("user.tokens_revoked")
    );
    let kinds = queued_kinds(&*store, now).await;
    assert!(kinds.contains(&(MailKind::PasswordChanged, ada.email.as_str().to_owned())));

    // A change to a taken address (here a look-alike of bob's) fails whole.
    let bob = create_user(&*store, "bob.atomic@example.com", now).await;
    let change = issue(&*store, LinkPurpose::EmailChange, &ada, &ada.email, now).await;
    let look_alike = Email::parse("b\u{43e}b.atomic@example.com").expect("email");
    assert_ne!(look_alike, bob.email);
    let event = event("user.email_changed", now);
    let notice = QueuedMail::new(MailKind::EmailChanged, ada.email.as_str(), now);
    let completion = LinkCompletion {
        purpose: LinkPurpose::EmailChange,
        user: ada.id,
        expected_email: None,
        new_email: Some(&look_alike),
        password_hash: None,
        void: &LinkPurpose::ALL,
        revoke_sessions: None,
        clear_throttle: None,
        events: std::slice::from_ref(&event),
        mail: std::slice::from_ref(&notice),
    };
    let mail_before = queued_kinds(&*store, now).await.len();
    let err = store
        .complete_link(&change.token_hash, now, &completion)
        .await
        .expect_err("taken");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert_eq!(used_at(&*store, &change.token_hash).await, None);
    assert_eq!(outbox_names(&*store).await.len(), 3);
    assert_eq!(queued_kinds(&*store, now).await.len(), mail_before);
    let ada_now = store
        .find_user_by_id(ada.id)
        .await
        .expect("find")
        .expect("ada");
    assert_eq!(ada_now.email, ada.email);
}

/// A password change (`revoke_user_sessions` with a new password) voids
/// every unused reset link and queues its notice with the change; one
/// without (sign-out everywhere) does neither, and one for an unknown
/// account queues nothing.
pub async fn password_change_voids_reset_links_and_queues_its_notice(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada.change@example.com", now).await;
    let reset = issue(&*store, LinkPurpose::PasswordReset, &ada, &ada.email, now).await;
    let verify = issue(&*store, LinkPurpose::VerifyEmail, &ada, &ada.email, now).await;
    let mailed = queued_kinds(&*store, now).await.len();
    let until = now + Duration::minutes(16);
    let event_for = |_| event("session.revoked", now);
    store
        .revoke_user_sessions(ada.id, None, now, until, None, &event_for)
        .await
        .expect("sign out everywhere");
    assert_eq!(used_at(&*store, &reset.token_hash).await, None);
    assert_eq!(queued_kinds(&*store, now).await.len(), mailed);

    let later = now + Duration::seconds(1);
    let notice =
        QueuedMail::new(MailKind::PasswordChanged, ada.email.as_str(), later).for_user(ada.id);
    let change = PasswordChange {
        hash: "$argon2id$x",
        mail: std::slice::from_ref(&notice),
    };
    store
        .revoke_user_sessions(ada.id, None, later, until, Some(&change), &event_for)
        .await
        .expect("password change");
    assert_eq!(used_at(&*store, &reset.token_hash).await, Some(later));
    assert_eq!(used_at(&*store, &verify.token_hash).await, None);
    let queued = queued_kinds(&*store, later).await;
    assert_eq!(queued.len(), mailed + 1);
    assert_eq!(
        queued
            .iter()
            .filter(|(kind, _)| *kind == MailKind::PasswordChanged)
            .collect::<Vec<_>>(),
        [&(MailKind::PasswordChanged, ada.email.as_str().to_owned())]
    );

    // No such account: NotFound, and the notice is rolled back with it.
    let ghost = QueuedMail::new(MailKind::PasswordChanged, "ghost@example.com", later);
    let err = store
        .revoke_user_sessions(
            warden_core::UserId::new(),
            None,
            later,
            until,
            Some(&PasswordChange {
                hash: "$argon2id$y",
                mail: std::slice::from_ref(&ghost),
            }),
            &event_for,
        )
        .await
        .expect_err("unknown user");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(queued_kinds(&*store, later).await.len(), mailed + 1);
}

/// One key's send slots: the second request within a minute is throttled
/// and writes nothing (no link, no mail); 10 concurrent first requests get
/// exactly one slot. Throttles count with or without a link.
pub async fn send_throttle_allows_one_per_interval_under_concurrency(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada.throttle@example.com", now).await;
    let key = throttle_key("password_reset", ada.email.as_str());
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = store.clone();
            let ada = ada.clone();
            let key = key.clone();
            tokio::spawn(async move {
                let (link, mail) =
                    mailer().link(LinkPurpose::PasswordReset, ada.id, &ada.email, now);
                store
                    .request_link(&throttle(&key, now), Some(&link), &[mail])
                    .await
                    .map(|outcome| (outcome, link))
            })
        })
        .collect();
    let mut sent = Vec::new();
    for task in tasks {
        match task.await.expect("task").expect("request") {
            (SendOutcome::Sent, link) => sent.push(link),
            (SendOutcome::Throttled { retry_after_secs }, link) => {
                assert!((1..=60).contains(&retry_after_secs));
                assert!(
                    store
                        .find_link(&link.token_hash)
                        .await
                        .expect("find")
                        .is_none()
                );
            }
        }
    }
    assert_eq!(sent.len(), 1);
    assert_eq!(queued_kinds(&*store, now).await.len(), 1);

    // A link whose account does not exist (an unknown address) is stored
    // as a placeholder but not mailed, is never completed, and its key is
    // counted alike.
    let nobody = User {
        id: warden_core::UserId::new(),
        ..ada.clone()
    };
    let nobody_email = Email::parse("nobody@example.com").expect("email");
    let (ghost, ghost_mail) =
        mailer().link(LinkPurpose::PasswordReset, nobody.id, &nobody_email, now);
    let ghost_key = throttle_key("password_reset", nobody_email.as_str());
    let outcome = store
        .request_link(&throttle(&ghost_key, now), Some(&ghost), &[ghost_mail])
        .await
        .expect("unknown address");
    assert_eq!(outcome, SendOutcome::Sent);
    assert!(
        store
            .find_link(&ghost.token_hash)
            .await
            .expect("find")
            .is_some(),
        "stored like a real link, so both paths write alike"
    );
    assert_eq!(
        queued_kinds(&*store, now).await.len(),
        1,
        "nothing mailed to a stranger"
    );
    let hash = "$argon2id$placeholder";
    let reset = LinkCompletion {
        purpose: LinkPurpose::PasswordReset,
        user: nobody.id,
        expected_email: Some(&nobody_email),
        new_email: None,
        password_hash: Some(hash),
        void: &[LinkPurpose::PasswordReset],
        revoke_sessions: None,
        clear_throttle: None,
        events: &[],
        mail: &[],
    };
    let err = store
        .complete_link(&ghost.token_hash, now, &reset)
        .await
        .expect_err("a placeholder completes nothing");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(used_at(&*store, &ghost.token_hash).await, None);
    let outcome = store
        .request_link(&throttle(&ghost_key, now), Some(&ghost), &[])
        .await
        .expect("again");
    assert!(matches!(outcome, SendOutcome::Throttled { .. }));

    // Without a link at all the key is counted alike.
    let stranger = throttle_key("password_reset", "stranger@example.com");
    let first = store
        .request_link(&throttle(&stranger, now), None, &[])
        .await
        .expect("first");
    assert_eq!(first, SendOutcome::Sent);
    let again = store
        .request_link(&throttle(&stranger, now + Duration::seconds(59)), None, &[])
        .await
        .expect("again");
    assert_eq!(
        again,
        SendOutcome::Throttled {
            retry_after_secs: 1
        }
    );
    let later = store
        .request_link(&throttle(&stranger, now + Duration::seconds(60)), None, &[])
        .await
        .expect("later");
    assert_eq!(later, SendOutcome::Sent);
}

/// An address is in use when an account holds it or a look-alike of it.
pub async fn email_in_use_matches_addresses_and_look_alikes(store: Arc<dyn Store>) {
    let now = base_time();
    create_user(&*store, "alice.inuse@example.com", now).await;
    for (raw, taken) in [
        ("alice.inuse@example.com", true),
        ("ALICE.inuse@Example.com", true),
        ("\u{430}lice.inuse@example.com", true),
        ("alice.other@example.com", false),
    ] {
        let email = Email::parse(raw).expect("email");
        assert_eq!(
            store.email_in_use(&email).await.expect("query"),
            taken,
            "{raw}"
        );
    }
}

/// Pruning deletes expired links and idle throttles, keeps the rest, and a
/// deleted account takes its links with it.
pub async fn prune_links_drops_expired_links_and_idle_throttles(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada.prune@example.com", now).await;
    let reset = issue(&*store, LinkPurpose::PasswordReset, &ada, &ada.email, now).await;
    let verify = issue(&*store, LinkPurpose::VerifyEmail, &ada, &ada.email, now).await;
    let pruned = store
        .prune_links(now + Duration::hours(2))
        .await
        .expect("prune");
    // The reset link (1 h) and both throttle rows (last used at `now`).
    assert_eq!(pruned, 3);
    assert!(
        store
            .find_link(&reset.token_hash)
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        store
            .find_link(&verify.token_hash)
            .await
            .expect("find")
            .is_some()
    );
    let revocation = warden_core::model::Revocation {
        kind: warden_core::model::RevocationKind::User,
        id: ada.id.as_uuid(),
        not_before: Some(now),
        until: now + Duration::minutes(16),
    };
    store
        .delete_user(ada.id, &revocation, &[])
        .await
        .expect("delete");
    assert!(
        store
            .find_link(&verify.token_hash)
            .await
            .expect("find")
            .is_none()
    );
}
