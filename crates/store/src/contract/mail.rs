//! The mail queue and the mail worker's lease ([`MailStore`](warden_core::ports::MailStore)).
//!
//! These run through their own [`mail_contract_tests!`] (listed in [`MAIL`]),
//! because one of them reads the raw column to prove the values are
//! encrypted at rest, which needs SQL no port method offers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::Duration;
use warden_core::mail::{MailKind, QueuedMail};
use warden_core::ports::Store;
use warden_core::{MailId, UserId};

use super::base_time;
use super::lease::{Lease, lease_has_one_holder};

/// The names of every mail contract function, for adapters to check coverage.
pub const MAIL: &[&str] = &[
    "mail_lease_has_one_holder_under_concurrency",
    "mail_is_due_oldest_first_and_retries_later",
    "mail_sent_or_given_up_leaves_the_queue",
    "mail_prune_removes_only_finished_mail",
    "mail_values_are_encrypted_at_rest_and_erased_after_delivery",
];

/// Reads a queued message's raw stored values (nonce followed by
/// ciphertext, as the database holds them), `None` when they are NULL.
pub type RawMailValues =
    Box<dyn Fn(MailId) -> Pin<Box<dyn Future<Output = Option<Vec<u8>>> + Send>> + Send + Sync>;

/// Generates one test per mail contract function for an adapter.
/// `$with_store` is as for [`contract_tests!`](super::contract_tests);
/// `$with_raw` hands a fresh store and a [`RawMailValues`] reading its
/// database.
#[cfg(test)]
macro_rules! mail_contract_tests {
    ($with_store:ident, $with_raw:ident) => {
        $crate::contract::mail_contract_tests!(
            @each $with_store;
            mail_lease_has_one_holder_under_concurrency,
            mail_is_due_oldest_first_and_retries_later,
            mail_sent_or_given_up_leaves_the_queue,
            mail_prune_removes_only_finished_mail,
        );

        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn mail_values_are_encrypted_at_rest_and_erased_after_delivery() {
            $with_raw($crate::contract::mail_values_are_encrypted_at_rest_and_erased_after_delivery)
                .await;
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
        fn every_mail_contract_function_runs() {
            let mut ran: Vec<&str> = vec![$(stringify!($name)),*];
            ran.push("mail_values_are_encrypted_at_rest_and_erased_after_delivery");
            ran.sort_unstable();
            let mut all = $crate::contract::MAIL.to_vec();
            all.sort_unstable();
            assert_eq!(ran, all);
        }
    };
}
#[cfg(test)]
pub(crate) use mail_contract_tests;

const LINK: &str = "https://auth.example.com/reset-password?token=wml_s3cr3t-contract-link";

fn reset_mail(to: &str, at: chrono::DateTime<chrono::Utc>) -> QueuedMail {
    QueuedMail::new(MailKind::PasswordReset, to, at)
        .for_user(UserId::new())
        .with("link", LINK)
}

/// The mail lease follows the relay lease's rule (one holder under
/// concurrency, renewal, take-over after expiry, release) and is a
/// different lease: holding one does not hold the other.
pub async fn mail_lease_has_one_holder_under_concurrency(store: Arc<dyn Store>) {
    let taken = lease_has_one_holder(store.clone(), Lease::Mail).await;
    // The check leaves the mail lease held; the relay lease is free.
    let now = taken + Duration::seconds(1);
    let until = now + Duration::seconds(10);
    assert!(
        !store
            .acquire_mail_lease("relay-instance", now, until)
            .await
            .expect("mail")
    );
    assert!(
        store
            .acquire_relay_lease("relay-instance", now, until)
            .await
            .expect("relay")
    );
    assert!(
        !store
            .acquire_relay_lease("instance-0", now, until)
            .await
            .expect("relay")
    );
}

/// Due mail comes back oldest first with kind, recipient, user and values
/// intact; a failed attempt moves it out of the way until its next attempt
/// and counts the failures.
pub async fn mail_is_due_oldest_first_and_retries_later(store: Arc<dyn Store>) {
    let now = base_time();
    assert!(
        store
            .list_due_mail(now, 10)
            .await
            .expect("empty")
            .is_empty()
    );
    assert_eq!(store.mail_queue_depth().await.expect("depth"), 0);

    let second = reset_mail("bob@example.com", now + Duration::seconds(1));
    let first = QueuedMail::new(MailKind::EmailChanged, "älice@example.com", now)
        .with("new_email", "alice@new.example.com");
    let third = reset_mail("carol@example.com", now + Duration::seconds(2));
    // Inserted out of order: order is by creation time, not insertion.
    store
        .enqueue_mail(&[second.clone(), first.clone()])
        .await
        .expect("enqueue");
    store
        .enqueue_mail(std::slice::from_ref(&third))
        .await
        .expect("enqueue");
    store.enqueue_mail(&[]).await.expect("enqueue nothing");
    assert_eq!(store.mail_queue_depth().await.expect("depth"), 3);

    // Not due before it was queued.
    let early = store
        .list_due_mail(now + Duration::milliseconds(1500), 10)
        .await
        .expect("due");
    let mails: Vec<&QueuedMail> = early.iter().map(|d| &d.mail).collect();
    assert_eq!(mails, [&first, &second]);
    assert!(early.iter().all(|d| d.attempts == 0));

    let at = now + Duration::seconds(3);
    let due = store.list_due_mail(at, 10).await.expect("due");
    let mails: Vec<&QueuedMail> = due.iter().map(|d| &d.mail).collect();
    assert_eq!(mails, [&first, &second, &third]);
    let limited = store.list_due_mail(at, 2).await.expect("limited");
    assert_eq!(limited.len(), 2);

    // The first fails: it waits until its next attempt, the others do not.
    let retry_at = at + Duration::seconds(30);
    store
        .mark_mail_retry(first.id, 1, retry_at, "connection refused")
        .await
        .expect("retry");
    let due = store.list_due_mail(at, 10).await.expect("due");
    let ids: Vec<MailId> = due.iter().map(|d| d.mail.id).collect();
    assert_eq!(ids, [second.id, third.id]);
    assert_eq!(store.mail_queue_depth().await.expect("depth"), 3);

    let due = store.list_due_mail(retry_at, 10).await.expect("due again");
    assert_eq!(due[0].mail, first);
    assert_eq!(due[0].attempts, 1);
    store
        .mark_mail_retry(
            first.id,
            2,
            retry_at + Duration::seconds(60),
            &"x".repeat(5000),
        )
        .await
        .expect("a long reason is kept short, not refused");
    let due = store
        .list_due_mail(retry_at + Duration::seconds(60), 10)
        .await
        .expect("due");
    assert_eq!(due[0].attempts, 2);
}

/// A sent or given-up message is never due again and leaves the depth;
/// marking it again, or the other way, changes nothing.
pub async fn mail_sent_or_given_up_leaves_the_queue(store: Arc<dyn Store>) {
    let now = base_time();
    let sent = reset_mail("a@example.com", now);
    let refused = reset_mail("b@example.com", now);
    let waiting = reset_mail("c@example.com", now);
    store
        .enqueue_mail(&[sent.clone(), refused.clone(), waiting.clone()])
        .await
        .expect("enqueue");

    store
        .mark_mail_sent(sent.id, now + Duration::seconds(1))
        .await
        .expect("sent");
    store
        .mark_mail_failed(refused.id, now + Duration::seconds(1), "550 no such user")
        .await
        .expect("failed");
    assert_eq!(store.mail_queue_depth().await.expect("depth"), 1);
    let later = now + Duration::days(1);
    let due = store.list_due_mail(later, 10).await.expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].mail, waiting);

    // A late retry of a finished message does not bring it back.
    store
        .mark_mail_retry(sent.id, 1, now, "late")
        .await
        .expect("retry");
    store
        .mark_mail_retry(refused.id, 1, now, "late")
        .await
        .expect("retry");
    store
        .mark_mail_sent(refused.id, now)
        .await
        .expect("sent after failed");
    assert_eq!(store.list_due_mail(later, 10).await.expect("due").len(), 1);
    assert_eq!(store.mail_queue_depth().await.expect("depth"), 1);
    // The pruning clock counts from when it was finished: it is still there
    // (prune of everything finished before `now` removes nothing).
    assert_eq!(store.prune_mail(now).await.expect("prune"), 0);
}

/// Pruning deletes sent and given-up mail finished before the cut-off and
/// never a message still waiting, however old.
pub async fn mail_prune_removes_only_finished_mail(store: Arc<dyn Store>) {
    let now = base_time();
    let old_sent = reset_mail("a@example.com", now);
    let old_failed = reset_mail("b@example.com", now);
    let new_sent = reset_mail("c@example.com", now);
    let old_waiting = reset_mail("d@example.com", now - Duration::days(30));
    store
        .enqueue_mail(&[
            old_sent.clone(),
            old_failed.clone(),
            new_sent.clone(),
            old_waiting.clone(),
        ])
        .await
        .expect("enqueue");
    store.mark_mail_sent(old_sent.id, now).await.expect("sent");
    store
        .mark_mail_failed(old_failed.id, now, "given up")
        .await
        .expect("failed");
    store
        .mark_mail_sent(new_sent.id, now + Duration::days(8))
        .await
        .expect("sent");

    let pruned = store
        .prune_mail(now + Duration::days(7))
        .await
        .expect("prune");
    assert_eq!(pruned, 2);
    assert_eq!(
        store
            .prune_mail(now + Duration::days(7))
            .await
            .expect("again"),
        0
    );
    let due = store
        .list_due_mail(now + Duration::days(9), 10)
        .await
        .expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].mail, old_waiting);
    assert_eq!(
        store
            .prune_mail(now + Duration::days(9))
            .await
            .expect("new"),
        1
    );
    assert_eq!(store.mail_queue_depth().await.expect("depth"), 1);
}

/// The stored values do not contain the link (they are sealed under the
/// key-encryption key), and once the message is sent or given up they are
/// gone from the database.
pub async fn mail_values_are_encrypted_at_rest_and_erased_after_delivery(
    store: Arc<dyn Store>,
    raw: RawMailValues,
) {
    let now = base_time();
    let sent = reset_mail("a@example.com", now);
    let failed = reset_mail("b@example.com", now);
    store
        .enqueue_mail(&[sent.clone(), failed.clone()])
        .await
        .expect("enqueue");
    for id in [sent.id, failed.id] {
        let stored = raw(id).await.expect("values are stored while waiting");
        assert!(stored.len() > LINK.len(), "nonce, ciphertext and tag");
        let needle = b"wml_s3cr3t";
        assert!(
            !stored.windows(needle.len()).any(|w| w == needle),
            "the link is stored in the clear"
        );
    }
    // Every message gets its own nonce: equal values, different bytes.
    assert_ne!(raw(sent.id).await, raw(failed.id).await);

    store.mark_mail_sent(sent.id, now).await.expect("sent");
    store
        .mark_mail_failed(failed.id, now, "550 refused")
        .await
        .expect("failed");
    assert_eq!(raw(sent.id).await, None, "erased once sent");
    assert_eq!(raw(failed.id).await, None, "erased once given up");
}
