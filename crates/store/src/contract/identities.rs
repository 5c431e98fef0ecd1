//! Identities at OAuth2/OIDC providers and the exchange codes of social
//! sign-in ([`IdentityStore`](warden_core::ports::IdentityStore)).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use warden_core::identity::{ExchangeCode, Identity, IdentityKey};
use warden_core::model::{Revocation, RevocationKind, User};
use warden_core::ports::{Store, Unlinked};
use warden_core::{IdentityId, StoreError};

use super::{base_time, create_user, event, new_user, outbox_names};

fn key(provider: &str, subject: &str) -> IdentityKey {
    IdentityKey {
        provider: provider.into(),
        issuer: format!("https://{provider}.example.com"),
        subject: subject.into(),
    }
}

async fn link(store: &dyn Store, user: &User, key: IdentityKey, at: DateTime<Utc>) -> Identity {
    let identity = Identity::new(user.id, key, Some(user.email.as_str().to_owned()), at);
    store
        .link_identity(&identity, &[event("user.identity_linked", at)])
        .await
        .expect("link");
    identity
}

/// An account made by social sign-in: no password.
async fn social_user(store: &dyn Store, email: &str, key: IdentityKey, at: DateTime<Utc>) -> User {
    let mut new = new_user(email, None, at);
    new.user.has_password = false;
    new.user.email_verified = true;
    new.password_hash = String::new();
    new.identity = Some(Identity::new(new.user.id, key, Some(email.into()), at));
    store
        .create_user(&new, &[])
        .await
        .expect("create social user");
    new.user
}

/// Identities are found by (provider, issuer, subject) only, listed oldest
/// first, linked once, touched on sign-in; a user's `has_password` follows
/// the account.
pub async fn identities_link_find_list_and_touch(store: Arc<dyn Store>) {
    let now = base_time();
    let ada = create_user(&*store, "ada@example.com", now).await;
    let bob = create_user(&*store, "bob@example.com", now).await;
    let google = link(&*store, &ada, key("google", "111"), now).await;
    let github = link(
        &*store,
        &ada,
        key("github", "222"),
        now + Duration::seconds(1),
    )
    .await;
    assert_eq!(
        outbox_names(&*store).await,
        ["user.identity_linked", "user.identity_linked"]
    );

    let (found, owner) = store
        .find_identity(&key("google", "111"))
        .await
        .expect("find")
        .expect("linked");
    assert_eq!(found, google);
    assert_eq!(owner.id, ada.id);
    assert!(owner.has_password);
    // Another issuer or subject is another identity.
    let mut other_issuer = key("google", "111");
    other_issuer.issuer = "https://evil.example.com".into();
    assert!(
        store
            .find_identity(&other_issuer)
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        store
            .find_identity(&key("google", "112"))
            .await
            .expect("find")
            .is_none()
    );
    // Subjects compare exactly (case matters at every provider).
    assert!(
        store
            .find_identity(&key("Google", "111"))
            .await
            .expect("find")
            .is_none()
    );

    let listed = store.list_identities(ada.id).await.expect("list");
    assert_eq!(listed, [google.clone(), github]);
    assert!(
        store
            .list_identities(bob.id)
            .await
            .expect("list")
            .is_empty()
    );

    // A key is linked once, to one account.
    let again = Identity::new(bob.id, key("google", "111"), None, now);
    let err = store
        .link_identity(&again, &[event("x", now)])
        .await
        .expect_err("linked twice");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    let nobody = Identity::new(warden_core::UserId::new(), key("gitlab", "333"), None, now);
    let err = store
        .link_identity(&nobody, &[event("x", now)])
        .await
        .expect_err("no account");
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(
        outbox_names(&*store).await.len(),
        2,
        "refused links wrote events"
    );

    let later = now + Duration::minutes(5);
    store
        .touch_identity(google.id, Some("ada@new.example.com"), later)
        .await
        .expect("touch");
    store
        .touch_identity(google.id, None, later)
        .await
        .expect("touch without e-mail");
    let (touched, _) = store
        .find_identity(&key("google", "111"))
        .await
        .expect("find")
        .expect("linked");
    assert_eq!(touched.last_used_at, later);
    assert_eq!(touched.created_at, now);
    assert_eq!(touched.email.as_deref(), Some("ada@new.example.com"));
}

/// An account made by social sign-in is stored with its identity in one
/// transaction, without a password; a taken identity leaves no account
/// behind; deleting the account takes its identities and codes.
pub async fn identities_sign_up_atomically_and_go_with_the_account(store: Arc<dyn Store>) {
    let now = base_time();
    let cleo = social_user(&*store, "cleo@example.com", key("google", "c1"), now).await;
    let (identity, owner) = store
        .find_identity(&key("google", "c1"))
        .await
        .expect("find")
        .expect("linked");
    assert_eq!(owner.id, cleo.id);
    assert!(!owner.has_password);
    assert!(owner.email_verified);
    assert!(
        !store
            .find_user_by_id(cleo.id)
            .await
            .expect("find")
            .expect("user")
            .has_password
    );

    // The same identity for a second sign-up: nothing is created.
    let mut dup = new_user("dup@example.com", None, now);
    dup.identity = Some(Identity::new(dup.user.id, key("google", "c1"), None, now));
    let err = store
        .create_user(&dup, &[])
        .await
        .expect_err("identity taken");
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    assert!(
        store
            .find_user_by_id(dup.user.id)
            .await
            .expect("find")
            .is_none()
    );

    // Setting a password gives the account one.
    store
        .update_password_hash(cleo.id, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
        .await
        .expect("set password");
    assert!(
        store
            .find_user_by_id(cleo.id)
            .await
            .expect("find")
            .expect("user")
            .has_password
    );

    let (_, code) = ExchangeCode::issue(cleo.id, "google", &"A".repeat(43), now);
    store.create_exchange_code(&code).await.expect("code");
    let revocation = Revocation {
        kind: RevocationKind::User,
        id: cleo.id.as_uuid(),
        not_before: Some(now),
        until: now + Duration::minutes(15),
    };
    store
        .delete_user(cleo.id, &revocation, &[event("user.deleted", now)])
        .await
        .expect("delete");
    assert!(
        store
            .find_identity(&identity.key)
            .await
            .expect("find")
            .is_none()
    );
    assert!(
        store
            .list_identities(cleo.id)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        store
            .take_exchange_code(&code.code_hash, now)
            .await
            .expect("take")
            .is_none()
    );
    // The identity is free again.
    let dora = create_user(&*store, "dora@example.com", now).await;
    link(&*store, &dora, key("google", "c1"), now).await;
}

/// Unlinking refuses the last way into an account without a password,
/// only touches the account's own identities, and writes its events only
/// when it unlinks.
pub async fn identities_unlink_keeps_the_last_credential(store: Arc<dyn Store>) {
    let now = base_time();
    let eve = social_user(&*store, "eve@example.com", key("google", "e1"), now).await;
    let github = link(&*store, &eve, key("github", "e2"), now).await;
    let (google, _) = store
        .find_identity(&key("google", "e1"))
        .await
        .expect("find")
        .expect("linked");
    let fred = create_user(&*store, "fred@example.com", now).await;
    let freds = link(&*store, &fred, key("google", "f1"), now).await;
    let before = outbox_names(&*store).await.len();

    let unlink = |user, id| {
        let store = store.clone();
        async move {
            store
                .unlink_identity(user, id, &[event("user.identity_unlinked", now)])
                .await
                .expect("unlink")
        }
    };
    assert_eq!(unlink(eve.id, freds.id).await, Unlinked::NotFound);
    assert_eq!(unlink(eve.id, IdentityId::new()).await, Unlinked::NotFound);
    assert_eq!(unlink(eve.id, github.id).await, Unlinked::Unlinked);
    assert_eq!(unlink(eve.id, google.id).await, Unlinked::LastCredential);
    assert_eq!(store.list_identities(eve.id).await.expect("list"), [google]);
    // An account with a password may drop its only identity.
    assert_eq!(unlink(fred.id, freds.id).await, Unlinked::Unlinked);
    assert!(
        store
            .list_identities(fred.id)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(unlink(fred.id, freds.id).await, Unlinked::NotFound);
    assert_eq!(outbox_names(&*store).await.len(), before + 2);
}

/// Two unlinks of a password-less account's last two identities at once:
/// one goes, one stays.
pub async fn identities_unlink_keeps_one_under_concurrency(store: Arc<dyn Store>) {
    let now = base_time();
    let gus = social_user(&*store, "gus@example.com", key("google", "g1"), now).await;
    let second = link(&*store, &gus, key("github", "g2"), now).await;
    let first = store.list_identities(gus.id).await.expect("list")[0].clone();
    let tasks: Vec<_> = [first.id, second.id]
        .into_iter()
        .map(|id| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .unlink_identity(gus.id, id, &[event("user.identity_unlinked", now)])
                    .await
                    .expect("unlink")
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task"));
    }
    outcomes.sort_by_key(|o| *o == Unlinked::LastCredential);
    assert_eq!(outcomes, [Unlinked::Unlinked, Unlinked::LastCredential]);
    assert_eq!(store.list_identities(gus.id).await.expect("list").len(), 1);
}

/// An exchange code is taken once, by one of any number of concurrent
/// takers, never after it expired, and pruned once expired.
pub async fn exchange_codes_are_single_use_and_expire(store: Arc<dyn Store>) {
    let now = base_time();
    let hal = create_user(&*store, "hal@example.com", now).await;
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let (_, code) = ExchangeCode::issue(hal.id, "google", challenge, now);
    store.create_exchange_code(&code).await.expect("create");

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let hash = code.code_hash.clone();
            tokio::spawn(async move { store.take_exchange_code(&hash, now).await.expect("take") })
        })
        .collect();
    let mut taken = Vec::new();
    for task in tasks {
        taken.extend(task.await.expect("task"));
    }
    assert_eq!(taken, std::slice::from_ref(&code));

    let (_, stale) = ExchangeCode::issue(hal.id, "github", challenge, now);
    store.create_exchange_code(&stale).await.expect("create");
    assert!(
        store
            .take_exchange_code(&stale.code_hash, stale.expires_at)
            .await
            .expect("take")
            .is_none(),
        "an expired code was taken"
    );
    let (_, fresh) = ExchangeCode::issue(hal.id, "gitlab", challenge, now + Duration::minutes(5));
    store.create_exchange_code(&fresh).await.expect("create");
    let pruned = store
        .prune_exchange_codes(now + Duration::minutes(2))
        .await
        .expect("prune");
    assert_eq!(pruned, 2);
    let still = store
        .take_exchange_code(&fresh.code_hash, now + Duration::minutes(5))
        .await
        .expect("take");
    assert_eq!(still, Some(fresh));
}
