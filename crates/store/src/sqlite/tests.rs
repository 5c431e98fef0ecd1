//! The store contract against SQLite, plus SQLite-specific checks.

use std::future::Future;
use std::sync::Arc;

use tempfile::TempDir;
use warden_core::StoreError;
use warden_core::ports::prelude::*;

use super::SqliteStore;
use crate::contract;

const KEK: [u8; 32] = [0x42; 32];

fn url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.path().join("warden.db").display())
}

async fn open(dir: &TempDir, kek: [u8; 32]) -> SqliteStore {
    let store = SqliteStore::connect(&url(dir), kek).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
}

/// A fresh, migrated store in its own temporary directory.
async fn fresh() -> (TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir, KEK).await;
    (dir, Arc::new(store))
}

async fn with_store<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let (_dir, store) = fresh().await;
    test(store).await;
}

async fn with_two<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>, Arc<dyn Store>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let writer = open(&dir, KEK).await;
    let reader = open(&dir, [0x24; 32]).await;
    test(Arc::new(writer), Arc::new(reader)).await;
}

async fn with_legacy<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>, contract::ForgetEmailSkeletons) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir, KEK).await;
    let pool = store.pool().clone();
    let forget: contract::ForgetEmailSkeletons = Box::new(
        move || -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
            let pool = pool.clone();
            Box::pin(async move {
                sqlx::query("UPDATE user_account SET email_skeleton = NULL")
                    .execute(&pool)
                    .await
                    .expect("forget skeletons");
            })
        },
    );
    test(Arc::new(store), forget).await;
}

contract::contract_tests!(with_store, with_two, with_legacy);

async fn with_raw_mail<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>, contract::RawMailValues) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir, KEK).await;
    let pool = store.pool().clone();
    let raw: contract::RawMailValues = Box::new(move |id| {
        let pool = pool.clone();
        Box::pin(async move {
            let (nonce, ciphertext): (Option<Vec<u8>>, Option<Vec<u8>>) = sqlx::query_as(
                "SELECT values_nonce, values_ciphertext FROM mail_queue WHERE mail_id = ?",
            )
            .bind(id.to_string())
            .fetch_one(&pool)
            .await
            .expect("raw mail values");
            nonce.zip(ciphertext).map(|(n, c)| [n, c].concat())
        })
    });
    test(Arc::new(store), raw).await;
}

contract::mail_contract_tests!(with_store, with_raw_mail);

#[tokio::test]
async fn migrate_is_idempotent_and_data_survives_a_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir, KEK).await;
    store.migrate().await.expect("migrate twice");
    store.ping().await.expect("ping");
    store
        .append_outbox(&[warden_core::model::OutboxEvent::new(
            "test.event",
            serde_json::json!({}),
            contract::base_time(),
        )])
        .await
        .expect("append");
    store.close().await;

    let reopened = open(&dir, KEK).await;
    assert_eq!(reopened.list_outbox(0, 10).await.expect("list").len(), 1);
}

#[tokio::test]
async fn connection_settings_are_applied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir, KEK).await;
    let mut conn = store.pool().acquire().await.expect("acquire");
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *conn)
        .await
        .expect("journal_mode");
    assert_eq!(mode.to_lowercase(), "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *conn)
        .await
        .expect("foreign_keys");
    assert_eq!(fk, 1);
    let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut *conn)
        .await
        .expect("busy_timeout");
    assert_eq!(timeout, 5000);
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *conn)
        .await
        .expect("synchronous");
    assert_eq!(synchronous, 1, "NORMAL");
}

#[tokio::test]
async fn private_keys_are_not_stored_in_plaintext() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir, KEK).await;
    let der = b"-----very secret pkcs8 der bytes-----".to_vec();
    store
        .create_signing_key(&warden_core::model::StoredSigningKey {
            kid: "k1".into(),
            algorithm: "EdDSA".into(),
            private_der: zeroize::Zeroizing::new(der.clone()),
            created_at: contract::base_time(),
            retired_at: None,
        })
        .await
        .expect("create");
    let (nonce, ciphertext): (Vec<u8>, Vec<u8>) = sqlx::query_as(
        "SELECT private_key_nonce, private_key_ciphertext FROM signing_key WHERE kid = 'k1'",
    )
    .fetch_one(store.pool())
    .await
    .expect("row");
    assert_eq!(nonce.len(), crate::crypto::NONCE_LEN);
    assert_eq!(ciphertext.len(), der.len() + 16);
    assert!(
        !ciphertext
            .windows(8)
            .any(|w| der.windows(8).any(|d| d == w))
    );

    // A ciphertext moved to another kid does not decrypt.
    sqlx::query("UPDATE signing_key SET kid = 'k2' WHERE kid = 'k1'")
        .execute(store.pool())
        .await
        .expect("tamper");
    let err = store
        .list_signing_keys()
        .await
        .expect_err("moved ciphertext");
    assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
}

#[tokio::test]
async fn corrupt_rows_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir, KEK).await;
    sqlx::query(
        "INSERT INTO user_account (user_id, email, username, password_hash, roles, status, created_at) \
         VALUES ('0190a0a0-0000-7000-8000-000000000001', 'x@example.com', NULL, 'h', '[\"Not A Role\"]', 'active', 0)",
    )
    .execute(store.pool())
    .await
    .expect("insert");
    let err = store
        .list_users(None, None, 10)
        .await
        .expect_err("bad roles");
    assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
    sqlx::query("UPDATE user_account SET roles = 'nonsense'")
        .execute(store.pool())
        .await
        .expect("update");
    let err = store
        .list_users(None, None, 10)
        .await
        .expect_err("bad roles");
    assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir, KEK).await;
    store.close().await;
    let err = store.ping().await.expect_err("closed");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_bad_url_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no/such/dir/warden.db");
    let err = SqliteStore::connect(&format!("sqlite://{}", missing.display()), KEK)
        .await
        .expect_err("missing directory");
    assert!(
        matches!(err, StoreError::Unavailable(_) | StoreError::Unexpected(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn timestamps_are_stored_as_unix_milliseconds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir, KEK).await;
    let at = chrono::DateTime::from_timestamp_millis(1_700_000_000_123).expect("time");
    store
        .append_outbox(&[warden_core::model::OutboxEvent::new(
            "t",
            serde_json::json!(1),
            at,
        )])
        .await
        .expect("append");
    let stored: i64 = sqlx::query_scalar("SELECT at FROM outbox")
        .fetch_one(store.pool())
        .await
        .expect("at");
    assert_eq!(stored, 1_700_000_000_123);
}

/// Migration 0014 indexes the accounts that were there before it, and the
/// triggers keep the index right when an account's index row did not get
/// the account's rowid (taken by then).
#[tokio::test]
async fn the_user_search_index_covers_old_accounts_and_drifted_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::connect(&url(&dir), KEK)
        .await
        .expect("connect");
    crate::testing::migrations_before(&super::MIGRATOR, 14)
        .run(store.pool())
        .await
        .expect("migrations 1-13");
    sqlx::query(
        "INSERT INTO user_account (user_id, email, username, password_hash, roles, status, created_at) \
         VALUES ('0190a0a0-0000-7000-8000-000000000001', 'old.timer@example.com', 'Ada Old', 'h', '[]', 'active', 0)",
    )
    .execute(store.pool())
    .await
    .expect("insert");
    store.migrate().await.expect("migrate");
    let found = store
        .list_users(Some("timer@EXA"), None, 10)
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].email.as_str(), "old.timer@example.com");

    // Rowid 2 is taken in the index, so the next account's row gets another.
    sqlx::query("INSERT INTO user_search (rowid, user_id, email) VALUES (2, 'not-an-account', 'ghost@example.com')")
        .execute(store.pool())
        .await
        .expect("occupy");
    sqlx::query(
        "INSERT INTO user_account (rowid, user_id, email, username, password_hash, roles, status, created_at) \
         VALUES (2, '0190a0a0-0000-7000-8000-000000000002', 'drift@example.com', NULL, 'h', '[]', 'active', 0)",
    )
    .execute(store.pool())
    .await
    .expect("insert");
    let found = store
        .list_users(Some("drift@"), None, 10)
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
    sqlx::query("DELETE FROM user_account WHERE user_id = '0190a0a0-0000-7000-8000-000000000002'")
        .execute(store.pool())
        .await
        .expect("delete");
    let left: Vec<String> = sqlx::query_scalar("SELECT user_id FROM user_search ORDER BY user_id")
        .fetch_all(store.pool())
        .await
        .expect("index");
    assert_eq!(
        left,
        ["0190a0a0-0000-7000-8000-000000000001", "not-an-account"]
    );
    // Nor does a row naming no account make a search fail or find anything.
    assert!(
        store
            .list_users(Some("ghost"), None, 10)
            .await
            .expect("search")
            .is_empty()
    );
}
