//! The store contract against MySQL / MariaDB (each test on a fresh database
//! of the server `WARDEN_TEST_MYSQL_URL` names), plus MySQL-specific checks.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_core::StoreError;
use warden_core::model::{OutboxEvent, StoredSigningKey, UserStatus};
use warden_core::ports::NewUser;
use warden_core::ports::prelude::*;

use super::MySqlStore;
use crate::contract;
use crate::options::StoreOptions;
use crate::testing::{self, ServerKind};

const KEK: [u8; 32] = [0x42; 32];

fn options() -> StoreOptions {
    StoreOptions {
        max_connections: 8,
        ..StoreOptions::default()
    }
}

async fn connect(url: &str, kek: [u8; 32]) -> MySqlStore {
    MySqlStore::connect(url, kek, &options())
        .await
        .expect("connect")
}

async fn open(url: &str, kek: [u8; 32]) -> MySqlStore {
    let store = connect(url, kek).await;
    store.migrate().await.expect("migrate");
    store
}

/// A fresh database on the configured MySql server; see
/// [`testing::in_fresh_database`].
async fn with_database<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    testing::in_fresh_database(ServerKind::MySql, test).await;
}

async fn with_store<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        test(Arc::new(store.clone())).await;
        store.close().await;
    })
    .await;
}

async fn with_two<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>, Arc<dyn Store>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_database(|url| async move {
        let writer = open(&url, KEK).await;
        let reader = open(&url, [0x24; 32]).await;
        test(Arc::new(writer.clone()), Arc::new(reader.clone())).await;
        writer.close().await;
        reader.close().await;
    })
    .await;
}

async fn with_legacy<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>, contract::ForgetEmailSkeletons) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_database(|url| async move {
        let store = open(&url, KEK).await;
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
        test(Arc::new(store.clone()), forget).await;
        store.close().await;
    })
    .await;
}

contract::contract_tests!(with_store, with_two, with_legacy);

async fn with_raw_mail<F, Fut>(test: F)
where
    F: FnOnce(Arc<dyn Store>, contract::RawMailValues) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    with_database(|url| async move {
        let store = open(&url, KEK).await;
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
        test(Arc::new(store.clone()), raw).await;
        store.close().await;
    })
    .await;
}

contract::mail_contract_tests!(with_store, with_raw_mail);

#[tokio::test]
async fn migrate_is_idempotent_and_data_survives_a_reconnect() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        store.migrate().await.expect("migrate twice");
        store.ping().await.expect("ping");
        store
            .append_outbox(&[OutboxEvent::new(
                "test.event",
                serde_json::json!({}),
                contract::base_time(),
            )])
            .await
            .expect("append");
        store.close().await;

        let reopened = open(&url, KEK).await;
        assert_eq!(reopened.list_outbox(0, 10).await.expect("list").len(), 1);
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(reopened.pool())
            .await
            .expect("count");
        assert_eq!(applied, super::newest_embedded_version());
        reopened.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_on_an_empty_database_both_succeed() {
    with_database(|url| async move {
        let a = connect(&url, KEK).await;
        let b = connect(&url, KEK).await;
        let (ra, rb) = tokio::join!(a.migrate(), b.migrate());
        ra.expect("first migrate");
        rb.expect("second migrate");
        let (applied, succeeded): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*), CAST(COALESCE(SUM(success), 0) AS SIGNED) FROM _sqlx_migrations",
        )
        .fetch_one(a.pool())
        .await
        .expect("count");
        let newest = super::newest_embedded_version();
        assert_eq!((applied, succeeded), (newest, newest));
        a.append_outbox(&[OutboxEvent::new(
            "test.event",
            serde_json::json!({}),
            contract::base_time(),
        )])
        .await
        .expect("usable");
        a.close().await;
        b.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        sqlx::query(
            "INSERT INTO _sqlx_migrations \
             (version, description, success, checksum, execution_time) \
             VALUES (99990101000000, 'from the future', TRUE, X'00', 0)",
        )
        .execute(store.pool())
        .await
        .expect("insert");
        let err = store.migrate().await.expect_err("newer schema");
        match err {
            StoreError::Unexpected(msg) => {
                assert!(msg.contains("version 99990101000000"), "{msg}");
                assert!(
                    msg.contains(&format!(
                        "only knows up to {};",
                        super::newest_embedded_version()
                    )),
                    "{msg}"
                );
                assert!(msg.contains("upgrade warden"), "{msg}");
            }
            other => panic!("expected Unexpected, got {other:?}"),
        }
        store.close().await;
    })
    .await;
}

fn key(kid: &str, der: &[u8]) -> StoredSigningKey {
    StoredSigningKey {
        kid: kid.into(),
        algorithm: "EdDSA".into(),
        private_der: zeroize::Zeroizing::new(der.to_vec()),
        created_at: contract::base_time(),
        retired_at: None,
    }
}

#[tokio::test]
async fn kids_differing_only_by_case_are_distinct() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        store
            .create_signing_key(&key("abcDEF-_1", &[1; 32]))
            .await
            .expect("lower-upper");
        store
            .create_signing_key(&key("ABCdef-_1", &[2; 32]))
            .await
            .expect("upper-lower: a different kid");
        let keys = store.list_signing_keys().await.expect("list");
        let mut kids: Vec<(String, Vec<u8>)> = keys
            .iter()
            .map(|k| (k.kid.clone(), k.private_der.to_vec()))
            .collect();
        kids.sort();
        assert_eq!(
            kids,
            [
                ("ABCdef-_1".to_owned(), vec![2; 32]),
                ("abcDEF-_1".to_owned(), vec![1; 32]),
            ]
        );
        store
            .retire_signing_keys("abcDEF-_1", contract::base_time())
            .await
            .expect("retire");
        let retired: Vec<(String, bool)> = store
            .list_signing_keys()
            .await
            .expect("list")
            .into_iter()
            .map(|k| (k.kid, k.retired_at.is_some()))
            .collect();
        assert!(retired.contains(&("ABCdef-_1".to_owned(), true)));
        assert!(retired.contains(&("abcDEF-_1".to_owned(), false)));
        store.delete_signing_key("ABCDEF-_1").await.expect("delete");
        assert_eq!(store.list_signing_keys().await.expect("list").len(), 2);
        store.delete_signing_key("ABCdef-_1").await.expect("delete");
        let left: Vec<String> = store
            .list_signing_keys()
            .await
            .expect("list")
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(left, ["abcDEF-_1"]);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_quickly() {
    let options = StoreOptions {
        acquire_timeout: Duration::from_millis(500),
        ..StoreOptions::default()
    };
    let started = Instant::now();
    let err = MySqlStore::connect("mysql://root@127.0.0.1:1/test", KEK, &options)
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_bad_url_is_an_error() {
    let err = MySqlStore::connect("mysql://root@127.0.0.1:notaport/test", KEK, &options())
        .await
        .expect_err("bad url");
    assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        store.close().await;
        let err = store.ping().await.expect_err("closed");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn connection_settings_are_applied() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        let mut conn = store.pool().acquire().await.expect("acquire");
        let (mode, version): (String, String) =
            sqlx::query_as("SELECT CAST(@@SESSION.sql_mode AS CHAR), CAST(VERSION() AS CHAR)")
                .fetch_one(&mut *conn)
                .await
                .expect("sql_mode");
        for flag in ["STRICT_ALL_TABLES", "NO_ZERO_DATE", "NO_BACKSLASH_ESCAPES"] {
            assert!(mode.contains(flag), "{mode}");
        }
        let isolation: String = sqlx::query_scalar(if version.contains("MariaDB") {
            "SELECT CAST(@@SESSION.tx_isolation AS CHAR)"
        } else {
            "SELECT CAST(@@SESSION.transaction_isolation AS CHAR)"
        })
        .fetch_one(&mut *conn)
        .await
        .expect("isolation");
        assert_eq!(isolation, "READ-COMMITTED");
        if version.contains("MariaDB") {
            let limit: f64 =
                sqlx::query_scalar("SELECT CAST(@@SESSION.max_statement_time AS DOUBLE)")
                    .fetch_one(&mut *conn)
                    .await
                    .expect("max_statement_time");
            assert!((limit - 5.0).abs() < 1e-9, "{limit}");
        } else {
            let limit: i64 =
                sqlx::query_scalar("SELECT CAST(@@SESSION.max_execution_time AS SIGNED)")
                    .fetch_one(&mut *conn)
                    .await
                    .expect("max_execution_time");
            assert_eq!(limit, 5000);
        }
        drop(conn);
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn unchanged_updates_are_not_not_found() {
    // rows_affected() must count matched rows (CLIENT_FOUND_ROWS), or setting
    // a value to what it already is would look like a missing user.
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        let now = contract::base_time();
        let new = NewUser {
            user: warden_core::model::User {
                id: warden_core::UserId::new(),
                email: warden_core::Email::parse("same@example.com").expect("email"),
                username: None,
                roles: vec![warden_core::model::Role::user()],
                status: UserStatus::Active,
                created_at: now,
                email_verified: false,
                has_password: true,
            },
            password_hash: "$argon2id$same".into(),
            verification: None,
            mail: Vec::new(),
            identity: None,
        };
        store.create_user(&new, &[]).await.expect("create");
        let id = new.user.id;
        store
            .update_password_hash(id, "$argon2id$same")
            .await
            .expect("same hash");
        store
            .update_user_status(id, UserStatus::Active, None, &[])
            .await
            .expect("same status");
        store
            .update_user_roles(id, &new.user.roles, &[])
            .await
            .expect("same roles");
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn private_keys_are_not_stored_in_plaintext() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        let der = b"-----very secret pkcs8 der bytes-----".to_vec();
        store
            .create_signing_key(&key("k1", &der))
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
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn corrupt_rows_are_errors_not_panics() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        sqlx::query(
            "INSERT INTO user_account \
             (user_id, email, username, password_hash, roles, status, created_at) \
             VALUES ('0190a0a0-0000-7000-8000-000000000001', 'x@example.com', NULL, 'h', \
                     '[\"Not A Role\"]', 'active', 0)",
        )
        .execute(store.pool())
        .await
        .expect("insert");
        let err = store
            .list_users(None, None, 10)
            .await
            .expect_err("bad roles");
        assert!(matches!(err, StoreError::Unexpected(_)), "{err:?}");
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn timestamps_are_stored_as_unix_milliseconds() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        let at = chrono::DateTime::from_timestamp_millis(1_700_000_000_123).expect("time");
        store
            .append_outbox(&[OutboxEvent::new("t", serde_json::json!(1), at)])
            .await
            .expect("append");
        let stored: i64 = sqlx::query_scalar("SELECT at FROM outbox")
            .fetch_one(store.pool())
            .await
            .expect("at");
        assert_eq!(stored, 1_700_000_000_123);
        store.close().await;
    })
    .await;
}

/// Migration 0014 fills the trigram table for the accounts that were there
/// before it; deleting an account takes its rows along.
#[tokio::test]
async fn the_user_search_index_covers_old_accounts() {
    with_database(|url| async move {
        let store = connect(&url, KEK).await;
        crate::testing::migrations_before(&super::MIGRATOR, 14)
            .run(store.pool())
            .await
            .expect("migrations 1-13");
        sqlx::query(
            "INSERT INTO user_account \
             (user_id, email, username, password_hash, roles, status, created_at) \
             VALUES ('0190a0a0-0000-7000-8000-000000000001', 'old.timer@example.com', \
                     'Ada Old', 'h', '[]', 'active', 0)",
        )
        .execute(store.pool())
        .await
        .expect("insert");
        store.migrate().await.expect("migrate");
        for term in ["timer@EXA", "ada old", "a o"] {
            let found = store
                .list_users(Some(term), None, 10)
                .await
                .expect("search");
            assert_eq!(found.len(), 1, "{term}");
        }
        let id = store.list_users(None, None, 1).await.expect("list")[0].id;
        let revocation = warden_core::model::Revocation {
            kind: warden_core::model::RevocationKind::User,
            id: id.as_uuid(),
            not_before: None,
            until: chrono::Utc::now(),
        };
        store
            .delete_user(id, &revocation, &[])
            .await
            .expect("delete");
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_search_gram")
            .fetch_one(store.pool())
            .await
            .expect("count");
        assert_eq!(left, 0);
        store.close().await;
    })
    .await;
}
