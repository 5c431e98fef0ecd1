//! Second factors: TOTP secrets, recovery codes and the challenges of
//! sign-ins waiting for their second factor
//! ([`MfaStore`](warden_core::ports::MfaStore)).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use warden_core::mail::{MailKind, QueuedMail};
use warden_core::model::{
    AuthMethod, MfaChallenge, Revocation, RevocationKind, TotpFactor, TotpSecretId, User,
};
use warden_core::ports::{CodeUse, Store};
use warden_core::{StoreError, UserId};

use super::{base_time, create_user, event, outbox, outbox_names, token};

/// `n` recovery-code hashes, distinct across calls (at most 64 characters,
/// as a SHA-256 in hex).
fn code_hashes(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{i:02}{}", uuid::Uuid::now_v7().simple()))
        .collect()
}

fn notice(user: &User, at: DateTime<Utc>) -> QueuedMail {
    QueuedMail::new(MailKind::MfaChanged, user.email.as_str(), at).for_user(user.id)
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

/// The TOTP factor stored for `user` now (its `id` is what confirming
/// binds to).
async fn stored_totp(store: &dyn Store, user: UserId) -> TotpFactor {
    store.find_totp(user).await.expect("find").expect("stored")
}

/// Gives `user` a confirmed TOTP secret (accepted for `step`) and `codes`.
pub(super) async fn enroll(
    store: &dyn Store,
    user: &User,
    step: i64,
    codes: &[String],
    at: DateTime<Utc>,
) {
    store
        .put_pending_totp(user.id, b"12345678901234567890", at)
        .await
        .expect("put pending");
    let secret = stored_totp(store, user.id).await.id;
    store
        .confirm_totp(user.id, &secret, step, codes, at, &[], &[])
        .await
        .expect("confirm");
}

fn challenge(user: UserId, now: DateTime<Utc>, first_factor: AuthMethod) -> MfaChallenge {
    MfaChallenge {
        token_hash: token("wmf"),
        user_id: user,
        first_factor: vec![first_factor],
        created_at: now,
        expires_at: now + Duration::minutes(5),
        failures: 0,
    }
}

fn assert_same_challenge(found: &MfaChallenge, expected: &MfaChallenge, failures: u32) {
    assert_eq!(found.token_hash, expected.token_hash);
    assert_eq!(found.user_id, expected.user_id);
    assert_eq!(found.first_factor, expected.first_factor);
    assert_eq!(found.created_at, expected.created_at);
    assert_eq!(found.expires_at, expected.expires_at);
    assert_eq!(found.failures, failures);
}

/// A TOTP secret is stored pending (replaceable), confirmed once with its
/// recovery codes, events and mail, then kept: a confirmed secret is not
/// replaced by a new pending one. Secrets round-trip per account.
pub async fn totp_pending_confirm_and_replace(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada@example.com", now).await;
    let bob = create_user(&*store, "bob@example.com", now).await;
    assert!(store.find_totp(ada.id).await.expect("find").is_none());

    // Nothing pending: confirming is `NotFound` and writes nothing.
    let err = store
        .confirm_totp(
            ada.id,
            &TotpSecretId::new(vec![0; 12]),
            1,
            &code_hashes(10),
            now,
            &[event("user.mfa_enabled", now)],
            &[notice(&ada, now)],
        )
        .await
        .expect_err("nothing pending");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert!(outbox(&*store).await.is_empty());
    assert!(queued_kinds(&*store, now).await.is_empty());
    assert_eq!(store.count_recovery_codes(ada.id).await.expect("count"), 0);

    store
        .put_pending_totp(ada.id, b"first secret", now)
        .await
        .expect("put pending");
    let pending = store
        .find_totp(ada.id)
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(pending.secret.as_slice(), b"first secret");
    assert_eq!(pending.created_at, now);
    assert_eq!(pending.confirmed_at, None);
    assert_eq!(pending.last_step, None);

    // A pending secret is replaced by a new one.
    let later = now + Duration::seconds(1);
    store
        .put_pending_totp(ada.id, b"second secret", later)
        .await
        .expect("replace pending");
    let pending = store
        .find_totp(ada.id)
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(pending.secret.as_slice(), b"second secret");
    assert_eq!(pending.created_at, later);
    assert_eq!(pending.confirmed_at, None);

    // Another account's secret is its own.
    store
        .put_pending_totp(bob.id, b"bob's secret", now)
        .await
        .expect("put pending");

    let confirmed_at = now + Duration::seconds(2);
    store
        .confirm_totp(
            ada.id,
            &pending.id,
            1_000,
            &code_hashes(10),
            confirmed_at,
            &[event("user.mfa_enabled", confirmed_at)],
            &[notice(&ada, confirmed_at)],
        )
        .await
        .expect("confirm");
    let factor = store
        .find_totp(ada.id)
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(factor.secret.as_slice(), b"second secret");
    assert_eq!(factor.created_at, later);
    assert_eq!(factor.confirmed_at, Some(confirmed_at));
    assert_eq!(factor.last_step, Some(1_000));
    assert_eq!(store.count_recovery_codes(ada.id).await.expect("count"), 10);
    assert_eq!(outbox_names(&*store).await, ["user.mfa_enabled"]);
    assert_eq!(
        queued_kinds(&*store, now).await,
        [(MailKind::MfaChanged, ada.email.as_str().to_owned())]
    );

    // A confirmed secret stays; confirming again is `NotFound`.
    let err = store
        .put_pending_totp(ada.id, b"third secret", now + Duration::seconds(3))
        .await
        .expect_err("confirmed secret replaced");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    let err = store
        .confirm_totp(ada.id, &pending.id, 1_001, &code_hashes(10), now, &[], &[])
        .await
        .expect_err("confirmed twice");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let factor = store
        .find_totp(ada.id)
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(factor.secret.as_slice(), b"second secret");
    assert_eq!(factor.confirmed_at, Some(confirmed_at));
    assert_eq!(factor.last_step, Some(1_000));
    assert_eq!(store.count_recovery_codes(ada.id).await.expect("count"), 10);
    assert_eq!(outbox(&*store).await.len(), 1);

    let bobs = store
        .find_totp(bob.id)
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(bobs.secret.as_slice(), b"bob's secret");
    assert_eq!(bobs.confirmed_at, None);
    assert_eq!(store.count_recovery_codes(bob.id).await.expect("count"), 0);

    // No account, no secret.
    assert!(
        store
            .put_pending_totp(UserId::new(), b"orphan", now)
            .await
            .is_err()
    );
}

/// Confirming is bound to the secret the code was checked against: once
/// the enrolment restarted (a new pending secret, even in the same
/// millisecond), a confirmation naming the old secret is `NotFound` and
/// changes nothing; the new one still confirms with its own identity.
pub async fn totp_confirm_is_bound_to_the_secret_it_checked(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada@example.com", now).await;
    store
        .put_pending_totp(ada.id, b"first secret", now)
        .await
        .expect("put pending");
    let checked = stored_totp(&*store, ada.id).await.id;
    // A restart between the read and the confirmation, at the same instant.
    store
        .put_pending_totp(ada.id, b"second secret", now)
        .await
        .expect("restart");
    let current = stored_totp(&*store, ada.id).await.id;
    assert_ne!(checked, current, "two stored secrets share an identity");

    let err = store
        .confirm_totp(
            ada.id,
            &checked,
            1_000,
            &code_hashes(10),
            now,
            &[event("user.mfa_enabled", now)],
            &[notice(&ada, now)],
        )
        .await
        .expect_err("a stale secret confirmed");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    let factor = stored_totp(&*store, ada.id).await;
    assert_eq!(factor.secret.as_slice(), b"second secret");
    assert_eq!(factor.confirmed_at, None);
    assert_eq!(factor.last_step, None);
    assert_eq!(store.count_recovery_codes(ada.id).await.expect("count"), 0);
    assert!(outbox(&*store).await.is_empty());
    assert!(queued_kinds(&*store, now).await.is_empty());

    store
        .confirm_totp(ada.id, &current, 1_000, &code_hashes(10), now, &[], &[])
        .await
        .expect("confirm the current secret");
    let factor = stored_totp(&*store, ada.id).await;
    assert_eq!(factor.secret.as_slice(), b"second secret");
    assert_eq!(factor.confirmed_at, Some(now));
    assert_eq!(factor.last_step, Some(1_000));
}

/// A TOTP step is accepted once: never again, never an older one, and of
/// concurrent callers with one step exactly one wins. A pending secret
/// accepts nothing.
pub async fn totp_steps_are_single_use_under_concurrency(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada@example.com", now).await;
    assert_eq!(
        store.use_totp_step(ada.id, 5).await.expect("use"),
        CodeUse::Spent,
        "an account without TOTP accepted a code"
    );
    store
        .put_pending_totp(ada.id, b"12345678901234567890", now)
        .await
        .expect("put pending");
    assert_eq!(
        store.use_totp_step(ada.id, 5).await.expect("use"),
        CodeUse::Spent,
        "a pending secret accepted a code"
    );
    let secret = stored_totp(&*store, ada.id).await.id;
    store
        .confirm_totp(ada.id, &secret, 100, &code_hashes(10), now, &[], &[])
        .await
        .expect("confirm");

    // The confirming code's step is spent.
    assert_eq!(
        store.use_totp_step(ada.id, 100).await.expect("use"),
        CodeUse::Spent
    );
    assert_eq!(
        store.use_totp_step(ada.id, 101).await.expect("use"),
        CodeUse::Accepted
    );
    assert_eq!(
        store.use_totp_step(ada.id, 101).await.expect("use"),
        CodeUse::Spent
    );
    assert_eq!(
        store.use_totp_step(ada.id, 99).await.expect("use"),
        CodeUse::Spent
    );
    assert_eq!(
        store.use_totp_step(ada.id, 103).await.expect("use"),
        CodeUse::Accepted
    );
    assert_eq!(
        store.use_totp_step(ada.id, 102).await.expect("use"),
        CodeUse::Spent
    );
    let factor = store
        .find_totp(ada.id)
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(factor.last_step, Some(103));

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.use_totp_step(ada.id, 200).await.expect("use") })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        if task.await.expect("task") == CodeUse::Accepted {
            accepted += 1;
        }
    }
    assert_eq!(accepted, 1, "one step accepted {accepted} times");
    let factor = store
        .find_totp(ada.id)
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(factor.last_step, Some(200));
}

/// Recovery codes are spent once each, are the account's own, and a new set
/// voids the old one; of concurrent uses of one code exactly one wins.
pub async fn recovery_codes_are_single_use_and_replaced_as_a_set(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada@example.com", now).await;
    let bob = create_user(&*store, "bob@example.com", now).await;
    let codes = code_hashes(10);
    enroll(&*store, &ada, 1, &codes, now).await;
    let bobs = code_hashes(10);
    enroll(&*store, &bob, 1, &bobs, now).await;
    assert_eq!(store.count_recovery_codes(ada.id).await.expect("count"), 10);

    let at = now + Duration::minutes(1);
    assert_eq!(
        store
            .use_recovery_code(ada.id, &codes[0], at)
            .await
            .expect("use"),
        Some(CodeUse::Accepted)
    );
    assert_eq!(
        store
            .use_recovery_code(ada.id, &codes[0], at)
            .await
            .expect("use"),
        Some(CodeUse::Spent)
    );
    assert_eq!(store.count_recovery_codes(ada.id).await.expect("count"), 9);
    assert_eq!(
        store
            .use_recovery_code(ada.id, "0000-unknown", at)
            .await
            .expect("use"),
        None
    );
    // Another account's code is no code of this one.
    assert_eq!(
        store
            .use_recovery_code(ada.id, &bobs[0], at)
            .await
            .expect("use"),
        None
    );
    assert_eq!(store.count_recovery_codes(bob.id).await.expect("count"), 10);

    // A new set voids the old one, spent codes and unspent alike.
    let fresh = code_hashes(5);
    store
        .replace_recovery_codes(ada.id, &fresh, at)
        .await
        .expect("replace");
    assert_eq!(store.count_recovery_codes(ada.id).await.expect("count"), 5);
    for old in &codes[..2] {
        assert_eq!(
            store.use_recovery_code(ada.id, old, at).await.expect("use"),
            None
        );
    }
    assert_eq!(
        store
            .use_recovery_code(ada.id, &fresh[0], at)
            .await
            .expect("use"),
        Some(CodeUse::Accepted)
    );
    assert_eq!(store.count_recovery_codes(ada.id).await.expect("count"), 4);

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let code = fresh[1].clone();
            tokio::spawn(async move {
                store
                    .use_recovery_code(ada.id, &code, at)
                    .await
                    .expect("use")
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task"));
    }
    let accepted = outcomes
        .iter()
        .filter(|o| **o == Some(CodeUse::Accepted))
        .count();
    assert_eq!(accepted, 1, "one code accepted {accepted} times");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, Some(CodeUse::Accepted | CodeUse::Spent))),
        "{outcomes:?}"
    );
    assert_eq!(store.count_recovery_codes(ada.id).await.expect("count"), 3);
    assert_eq!(store.count_recovery_codes(bob.id).await.expect("count"), 10);

    // No account, no codes.
    assert!(
        store
            .replace_recovery_codes(UserId::new(), &code_hashes(2), at)
            .await
            .is_err()
    );
}

/// A challenge is found while unused, unexpired and under the failure
/// limit; failures count up one by one; it is taken once, by one of any
/// number of concurrent takers; pruning removes expired ones only.
pub async fn mfa_challenges_count_failures_and_are_taken_once(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada@example.com", now).await;
    let max = 5;

    let first = challenge(ada.id, now, AuthMethod::Pwd);
    store.create_mfa_challenge(&first).await.expect("create");
    let found = store
        .find_mfa_challenge(&first.token_hash, now, max)
        .await
        .expect("find")
        .expect("live");
    assert_same_challenge(&found, &first, 0);
    assert!(
        store
            .find_mfa_challenge(&token("wmf-unknown"), now, max)
            .await
            .expect("find")
            .is_none()
    );

    for expected in 1..max {
        assert_eq!(
            store
                .record_mfa_failure(&first.token_hash)
                .await
                .expect("count"),
            expected
        );
    }
    let found = store
        .find_mfa_challenge(&first.token_hash, now, max)
        .await
        .expect("find")
        .expect("still live");
    assert_same_challenge(&found, &first, max - 1);
    assert_eq!(
        store
            .record_mfa_failure(&first.token_hash)
            .await
            .expect("count"),
        max
    );
    assert!(
        store
            .find_mfa_challenge(&first.token_hash, now, max)
            .await
            .expect("find")
            .is_none(),
        "found at the failure limit"
    );
    assert!(
        !store
            .take_mfa_challenge(&first.token_hash, now, max)
            .await
            .expect("take"),
        "taken at the failure limit"
    );
    assert!(
        store
            .record_mfa_failure(&token("wmf-unknown"))
            .await
            .is_err()
    );

    // Taken once; then it is gone for find too.
    let social = challenge(ada.id, now, AuthMethod::Fed);
    store.create_mfa_challenge(&social).await.expect("create");
    let found = store
        .find_mfa_challenge(&social.token_hash, now, max)
        .await
        .expect("find")
        .expect("live");
    assert_same_challenge(&found, &social, 0);
    assert!(
        store
            .take_mfa_challenge(&social.token_hash, now, max)
            .await
            .expect("take")
    );
    assert!(
        !store
            .take_mfa_challenge(&social.token_hash, now, max)
            .await
            .expect("take")
    );
    assert!(
        store
            .find_mfa_challenge(&social.token_hash, now, max)
            .await
            .expect("find")
            .is_none()
    );

    let raced = challenge(ada.id, now, AuthMethod::Pwd);
    store.create_mfa_challenge(&raced).await.expect("create");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let hash = raced.token_hash.clone();
            tokio::spawn(async move {
                store
                    .take_mfa_challenge(&hash, now, max)
                    .await
                    .expect("take")
            })
        })
        .collect();
    let mut taken = 0;
    for task in tasks {
        if task.await.expect("task") {
            taken += 1;
        }
    }
    assert_eq!(taken, 1, "one challenge taken {taken} times");

    // At `expires_at` it is void.
    let expiring = challenge(ada.id, now, AuthMethod::Pwd);
    store.create_mfa_challenge(&expiring).await.expect("create");
    let just_before = expiring.expires_at - Duration::milliseconds(1);
    assert!(
        store
            .find_mfa_challenge(&expiring.token_hash, just_before, max)
            .await
            .expect("find")
            .is_some()
    );
    assert!(
        store
            .find_mfa_challenge(&expiring.token_hash, expiring.expires_at, max)
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        !store
            .take_mfa_challenge(&expiring.token_hash, expiring.expires_at, max)
            .await
            .expect("take")
    );

    // Pruning removes what expired before the cut-off, used or not.
    let stale = challenge(ada.id, now - Duration::minutes(10), AuthMethod::Pwd);
    store.create_mfa_challenge(&stale).await.expect("create");
    assert_eq!(
        store.prune_mfa_challenges(now).await.expect("prune"),
        1,
        "pruned more than the expired challenge"
    );
    assert!(
        store
            .find_mfa_challenge(&expiring.token_hash, now, max)
            .await
            .expect("find")
            .is_some(),
        "a live challenge was pruned"
    );
    assert_eq!(
        store
            .prune_mfa_challenges(now + Duration::minutes(10))
            .await
            .expect("prune"),
        4
    );
}

/// Removing the second factors takes the TOTP secret, the recovery codes
/// and pending challenges, with events and mail, and says whether there
/// was any; deleting the account takes them all too.
pub async fn second_factors_are_deleted_with_events_and_the_account(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada@example.com", now).await;
    let codes = code_hashes(10);
    enroll(&*store, &ada, 1, &codes, now).await;
    let pending = challenge(ada.id, now, AuthMethod::Pwd);
    store.create_mfa_challenge(&pending).await.expect("create");

    let removed = store
        .delete_second_factors(
            ada.id,
            &[event("user.mfa_disabled", now)],
            &[notice(&ada, now)],
        )
        .await
        .expect("delete");
    assert!(removed);
    assert!(store.find_totp(ada.id).await.expect("find").is_none());
    assert_eq!(store.count_recovery_codes(ada.id).await.expect("count"), 0);
    assert_eq!(
        store
            .use_recovery_code(ada.id, &codes[0], now)
            .await
            .expect("use"),
        None
    );
    assert!(
        store
            .find_mfa_challenge(&pending.token_hash, now, 5)
            .await
            .expect("find")
            .is_none(),
        "a sign-in can still finish with a removed factor"
    );
    assert_eq!(outbox_names(&*store).await, ["user.mfa_disabled"]);
    assert_eq!(
        queued_kinds(&*store, now).await,
        [(MailKind::MfaChanged, ada.email.as_str().to_owned())]
    );

    // Nothing left: false, and nothing written.
    let removed = store
        .delete_second_factors(
            ada.id,
            &[event("user.mfa_disabled", now)],
            &[notice(&ada, now)],
        )
        .await
        .expect("delete");
    assert!(!removed);
    assert_eq!(outbox(&*store).await.len(), 1);
    assert_eq!(queued_kinds(&*store, now).await.len(), 1);

    // A pending secret is a second factor to remove too.
    store
        .put_pending_totp(ada.id, b"12345678901234567890", now)
        .await
        .expect("put pending");
    assert!(
        store
            .delete_second_factors(ada.id, &[], &[])
            .await
            .expect("delete")
    );
    assert!(store.find_totp(ada.id).await.expect("find").is_none());

    // Deleting the account takes its factors and challenges with it.
    let bob = create_user(&*store, "bob@example.com", now).await;
    let bobs = code_hashes(10);
    enroll(&*store, &bob, 1, &bobs, now).await;
    let bobs_challenge = challenge(bob.id, now, AuthMethod::Pwd);
    store
        .create_mfa_challenge(&bobs_challenge)
        .await
        .expect("create");
    let revocation = Revocation {
        kind: RevocationKind::User,
        id: bob.id.as_uuid(),
        not_before: Some(now),
        until: now + Duration::minutes(15),
    };
    store
        .delete_user(bob.id, &revocation, &[])
        .await
        .expect("delete user");
    assert!(store.find_totp(bob.id).await.expect("find").is_none());
    assert_eq!(store.count_recovery_codes(bob.id).await.expect("count"), 0);
    assert_eq!(
        store
            .use_recovery_code(bob.id, &bobs[0], now)
            .await
            .expect("use"),
        None
    );
    assert!(
        store
            .find_mfa_challenge(&bobs_challenge.token_hash, now, 5)
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        !store
            .delete_second_factors(bob.id, &[], &[])
            .await
            .expect("delete")
    );
}
