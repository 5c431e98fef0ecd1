//! Signing keys ([`KeyStore`](warden_core::ports::KeyStore)).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use warden_core::StoreError;
use warden_core::model::StoredSigningKey;
use warden_core::ports::Store;

use super::base_time;

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
