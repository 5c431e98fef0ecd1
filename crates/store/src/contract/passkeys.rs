//! Passkeys and the states of WebAuthn ceremonies
//! ([`PasskeyStore`](warden_core::ports::PasskeyStore)).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use warden_core::mail::{MailKind, QueuedMail};
use warden_core::model::{Revocation, RevocationKind, User};
use warden_core::passkeys::{PasskeyRemoval, StoredPasskey, WebauthnChallenge};
use warden_core::ports::{Store, Unlinked};
use warden_core::{PasskeyId, StoreError};

use super::{base_time, create_user, event, new_user, outbox_names};

fn passkey(user: &User, name: &str, at: DateTime<Utc>) -> StoredPasskey {
    StoredPasskey {
        id: PasskeyId::new(),
        user_id: user.id,
        credential_id: format!("cred-{}", uuid::Uuid::now_v7().simple()),
        name: name.into(),
        credential: format!(r#"{{"cred":{{"counter":0,"name":"{name}"}}}}"#),
        synced: name.contains("synced"),
        created_at: at,
        last_used_at: None,
    }
}

fn notice(user: &User, at: DateTime<Utc>) -> QueuedMail {
    QueuedMail::new(MailKind::MfaChanged, user.email.as_str(), at).for_user(user.id)
}

/// An account with no password and no identity (its passkeys are its only
/// way in).
async fn passwordless_user(store: &dyn Store, email: &str, at: DateTime<Utc>) -> User {
    let mut new = new_user(email, None, at);
    new.user.has_password = false;
    new.password_hash = String::new();
    store
        .create_user(&new, &[])
        .await
        .expect("create password-less user");
    new.user
}

fn hashes(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("{i:02}{}", uuid::Uuid::now_v7().simple()))
        .collect()
}

/// Passkeys are listed oldest first, found by credential id, unique by it
/// across accounts, touched on use; the first comes with its recovery
/// codes, events and notice in one transaction.
pub async fn passkeys_register_list_find_and_touch(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada@example.com", now).await;
    let bob = create_user(&*store, "bob@example.com", now).await;
    let phone = passkey(&ada, "Phone synced", now);
    store
        .insert_passkey(
            &phone,
            &hashes(10),
            &[event("user.mfa_changed", now)],
            &[notice(&ada, now)],
        )
        .await
        .expect("insert");
    assert_eq!(store.count_recovery_codes(ada.id).await.expect("count"), 10);
    assert!(
        outbox_names(&*store)
            .await
            .contains(&"user.mfa_changed".to_owned())
    );
    let key = passkey(&ada, "Key", now + Duration::seconds(1));
    store
        .insert_passkey(&key, &[], &[], &[])
        .await
        .expect("insert second");
    assert_eq!(
        store.count_recovery_codes(ada.id).await.expect("count"),
        10,
        "a later passkey keeps the codes"
    );

    let listed = store.list_passkeys(ada.id).await.expect("list");
    assert_eq!(
        listed.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(),
        ["Phone synced", "Key"]
    );
    assert!(listed[0].synced && !listed[1].synced);
    assert_eq!(listed[0].credential, phone.credential);
    assert_eq!(listed[0].created_at, now);
    assert!(store.list_passkeys(bob.id).await.expect("list").is_empty());

    let found = store
        .find_passkey(&key.credential_id)
        .await
        .expect("find")
        .expect("found");
    assert_eq!((found.id, found.user_id), (key.id, ada.id));
    assert!(store.find_passkey("nope").await.expect("find").is_none());

    // One credential, one account: not Bob's as well, not Ada's twice.
    let mut stolen = passkey(&bob, "Stolen", now);
    stolen.credential_id = key.credential_id.clone();
    assert!(matches!(
        store.insert_passkey(&stolen, &[], &[], &[]).await,
        Err(StoreError::Conflict)
    ));
    assert!(store.list_passkeys(bob.id).await.expect("list").is_empty());

    let used_at = now + Duration::minutes(3);
    store
        .touch_passkey(key.id, r#"{"cred":{"counter":7}}"#, used_at)
        .await
        .expect("touch");
    let touched = store
        .find_passkey(&key.credential_id)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(touched.credential, r#"{"cred":{"counter":7}}"#);
    assert_eq!(touched.last_used_at, Some(used_at));

    // The account's deletion takes its passkeys.
    let revocation = Revocation {
        kind: RevocationKind::User,
        id: ada.id.as_uuid(),
        not_before: Some(now),
        until: now + Duration::minutes(15),
    };
    store
        .delete_user(ada.id, &revocation, &[])
        .await
        .expect("delete user");
    assert!(
        store
            .find_passkey(&key.credential_id)
            .await
            .expect("find")
            .is_none()
    );
}

/// A passkey is never removed when it is the account's last way to sign
/// in; the last second factor takes the recovery codes with it; an
/// identity may go when a passkey is left; an admin's reset removes them all.
pub async fn passkeys_delete_keeps_the_last_credential(store: Arc<dyn Store>) {
    let now = base_time();
    let eve = passwordless_user(&*store, "eve@example.com", now).await;
    let only = passkey(&eve, "Only", now);
    store
        .insert_passkey(&only, &hashes(10), &[], &[])
        .await
        .expect("insert");
    let removed = |user: &User, id| {
        let store = store.clone();
        let user = user.clone();
        async move {
            store
                .delete_passkey(
                    user.id,
                    id,
                    &[event("user.mfa_changed", now)],
                    &[notice(&user, now)],
                )
                .await
                .expect("delete passkey")
        }
    };
    let before = outbox_names(&*store).await.len();
    assert_eq!(removed(&eve, only.id).await, PasskeyRemoval::LastCredential);
    assert_eq!(outbox_names(&*store).await.len(), before, "nothing written");
    assert_eq!(store.list_passkeys(eve.id).await.expect("list").len(), 1);

    let second = passkey(&eve, "Second", now);
    store
        .insert_passkey(&second, &[], &[], &[])
        .await
        .expect("insert");
    let fred = create_user(&*store, "fred@example.com", now).await;
    assert_eq!(removed(&fred, only.id).await, PasskeyRemoval::NotFound);
    assert_eq!(
        removed(&eve, PasskeyId::new()).await,
        PasskeyRemoval::NotFound
    );
    assert_eq!(removed(&eve, only.id).await, PasskeyRemoval::Removed);
    assert_eq!(outbox_names(&*store).await.len(), before + 1);
    assert_eq!(
        store.count_recovery_codes(eve.id).await.expect("count"),
        10,
        "a passkey is left: the codes stay"
    );
    assert_eq!(
        removed(&eve, second.id).await,
        PasskeyRemoval::LastCredential
    );

    // With a password, the last passkey may go, and the codes go with it.
    let freds = passkey(&fred, "Fred's", now);
    store
        .insert_passkey(&freds, &hashes(10), &[], &[])
        .await
        .expect("insert");
    assert_eq!(removed(&fred, freds.id).await, PasskeyRemoval::Removed);
    assert_eq!(store.count_recovery_codes(fred.id).await.expect("count"), 0);

    // A confirmed authenticator app keeps the codes when the last passkey
    // goes; removing the app keeps them while a passkey is left.
    let gus = create_user(&*store, "gus@example.com", now).await;
    store
        .put_pending_totp(gus.id, b"12345678901234567890", now)
        .await
        .expect("pending");
    let pending = store
        .find_totp(gus.id)
        .await
        .expect("find")
        .expect("pending");
    store
        .confirm_totp(gus.id, &pending.id, 1, &hashes(10), now, &[], &[])
        .await
        .expect("confirm");
    let gus_key = passkey(&gus, "Gus", now);
    store
        .insert_passkey(&gus_key, &[], &[], &[])
        .await
        .expect("insert");
    store
        .delete_second_factors(gus.id, &[], &[])
        .await
        .expect("remove app");
    assert_eq!(store.count_recovery_codes(gus.id).await.expect("count"), 10);
    assert_eq!(removed(&gus, gus_key.id).await, PasskeyRemoval::Removed);
    assert_eq!(store.count_recovery_codes(gus.id).await.expect("count"), 0);

    // An admin's reset.
    let extra = passkey(&fred, "Extra", now);
    store
        .insert_passkey(&extra, &[], &[], &[])
        .await
        .expect("insert");
    assert_eq!(store.delete_passkeys(fred.id).await.expect("reset"), 1);
    assert!(store.list_passkeys(fred.id).await.expect("list").is_empty());
}

/// A password-less account with a passkey may drop its only identity.
pub async fn passkeys_count_as_a_credential_when_unlinking(store: Arc<dyn Store>) {
    let now = base_time();
    let mut new = new_user("ivy@example.com", None, now);
    new.user.has_password = false;
    new.password_hash = String::new();
    let identity = warden_core::identity::Identity::new(
        new.user.id,
        warden_core::identity::IdentityKey {
            provider: "google".into(),
            issuer: "https://google.example.com".into(),
            subject: "ivy".into(),
        },
        None,
        now,
    );
    new.identity = Some(identity.clone());
    store.create_user(&new, &[]).await.expect("create");
    let ivy = new.user;
    assert_eq!(
        store
            .unlink_identity(ivy.id, identity.id, &[])
            .await
            .expect("unlink"),
        Unlinked::LastCredential
    );
    store
        .insert_passkey(&passkey(&ivy, "Ivy", now), &[], &[], &[])
        .await
        .expect("insert");
    assert_eq!(
        store
            .unlink_identity(ivy.id, identity.id, &[])
            .await
            .expect("unlink"),
        Unlinked::Unlinked
    );
}

/// A ceremony's state is taken once (of concurrent takers, one gets it),
/// replaced under the same key, refused once expired, and pruned.
pub async fn webauthn_challenges_are_taken_once_and_expire(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada@example.com", now).await;
    let state = |s: &str| WebauthnChallenge {
        user_id: Some(ada.id),
        state: s.into(),
    };
    let key = format!("register:{}", ada.id);
    store
        .put_webauthn_challenge(&key, &state("first"), now + Duration::minutes(5))
        .await
        .expect("put");
    store
        .put_webauthn_challenge(&key, &state("second"), now + Duration::minutes(5))
        .await
        .expect("replace");
    let taken = store
        .take_webauthn_challenge(&key, now)
        .await
        .expect("take")
        .expect("there");
    assert_eq!(
        (taken.user_id, taken.state.as_str()),
        (Some(ada.id), "second")
    );
    assert!(
        store
            .take_webauthn_challenge(&key, now)
            .await
            .expect("take")
            .is_none()
    );

    let anonymous = "signin:abc";
    store
        .put_webauthn_challenge(
            anonymous,
            &WebauthnChallenge {
                user_id: None,
                state: "{}".into(),
            },
            now + Duration::minutes(5),
        )
        .await
        .expect("put");
    let takers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.take_webauthn_challenge(anonymous, now).await })
        })
        .collect();
    let mut got = 0;
    for taker in takers {
        if let Some(taken) = taker.await.expect("join").expect("take") {
            assert_eq!(taken.user_id, None);
            got += 1;
        }
    }
    assert_eq!(got, 1, "exactly one concurrent taker gets the state");

    store
        .put_webauthn_challenge("late", &state("x"), now)
        .await
        .expect("put");
    assert!(
        store
            .take_webauthn_challenge("late", now)
            .await
            .expect("take")
            .is_none(),
        "expired"
    );
    store
        .put_webauthn_challenge("old", &state("x"), now - Duration::minutes(1))
        .await
        .expect("put");
    store
        .put_webauthn_challenge("live", &state("x"), now + Duration::minutes(1))
        .await
        .expect("put");
    assert_eq!(
        store.prune_webauthn_challenges(now).await.expect("prune"),
        1
    );
    assert!(
        store
            .take_webauthn_challenge("live", now)
            .await
            .expect("take")
            .is_some()
    );
}
