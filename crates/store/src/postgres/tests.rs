//! The store contract against PostgreSQL, plus PostgreSQL-specific checks.
//! Each test runs in its own fresh database (`WARDEN_TEST_POSTGRES_URL`).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Duration as ChronoDuration;
use serde_json::json;
use warden_core::StoreError;
use warden_core::model::{OutboxEvent, RefreshRecord, RotateOutcome, StoredSigningKey};
use warden_core::ports::prelude::*;

use super::{PgStore, insert_events, newest_migration};
use crate::contract;
use crate::options::StoreOptions;
use crate::testing::{self, ServerKind};

const KEK: [u8; 32] = [0x42; 32];

async fn connect(url: &str, kek: [u8; 32]) -> PgStore {
    PgStore::connect(url, kek, &StoreOptions::default())
        .await
        .expect("connect")
}

async fn open(url: &str, kek: [u8; 32]) -> PgStore {
    let store = connect(url, kek).await;
    store.migrate().await.expect("migrate");
    store
}

/// A fresh database on the configured Postgres server; see
/// [`testing::in_fresh_database`].
async fn with_database<F, Fut>(test: F)
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    testing::in_fresh_database(ServerKind::Postgres, test).await;
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
                    "SELECT values_nonce, values_ciphertext FROM mail_queue WHERE mail_id = $1",
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

async fn applied_migrations(store: &PgStore) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(store.pool())
        .await
        .expect("count migrations")
}

#[tokio::test]
async fn migrate_is_idempotent_and_data_survives_a_reconnect() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        store.migrate().await.expect("migrate twice");
        store.ping().await.expect("ping");
        assert_eq!(applied_migrations(&store).await, newest_migration());
        store
            .append_outbox(&[OutboxEvent::new(
                "test.event",
                json!({}),
                contract::base_time(),
            )])
            .await
            .expect("append");
        store.close().await;

        let reopened = open(&url, KEK).await;
        assert_eq!(reopened.list_outbox(0, 10).await.expect("list").len(), 1);
        assert_eq!(applied_migrations(&reopened).await, newest_migration());
        reopened.close().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_migrations_on_an_empty_database_both_succeed() {
    with_database(|url| async move {
        let mut stores = Vec::new();
        for _ in 0..4 {
            stores.push(connect(&url, KEK).await);
        }
        let tasks: Vec<_> = stores
            .iter()
            .cloned()
            .map(|store| tokio::spawn(async move { store.migrate().await }))
            .collect();
        for task in tasks {
            task.await.expect("task").expect("concurrent migrate");
        }
        let store = &stores[0];
        assert_eq!(applied_migrations(store).await, newest_migration());
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY table_name",
        )
        .fetch_all(store.pool())
        .await
        .expect("tables");
        assert_eq!(
            tables,
            [
                "_sqlx_migrations",
                "audit_entry",
                "link_token",
                "login_throttle",
                "mail_queue",
                "mfa_challenge",
                "oauth_authorization_code",
                "oauth_client",
                "oauth_consent",
                "oauth_exchange_code",
                "outbox",
                "refresh_token",
                "relay_lease",
                "revocation",
                "send_throttle",
                "session",
                "session_token",
                "signing_key",
                "user_account",
                "user_identity",
                "user_passkey",
                "user_recovery_code",
                "user_totp",
                "webauthn_challenge",
            ]
        );
        // The schema works.
        store
            .append_outbox(&[OutboxEvent::new("t", json!(1), contract::base_time())])
            .await
            .expect("append");
        for store in &stores {
            store.close().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        let future_version: i64 = 20_991_231_000_000;
        sqlx::query(
            "INSERT INTO _sqlx_migrations \
             (version, description, success, checksum, execution_time) \
             VALUES ($1, 'from the future', TRUE, '\\x00'::bytea, 0)",
        )
        .bind(future_version)
        .execute(store.pool())
        .await
        .expect("fake a newer migration");
        let err = store.migrate().await.expect_err("newer schema");
        let ours = newest_migration();
        match err {
            StoreError::Unexpected(msg) => {
                assert_eq!(
                    msg,
                    format!(
                        "the database schema is at version {future_version} but this warden \
                         binary only knows up to {ours}; upgrade warden"
                    )
                );
            }
            other => panic!("expected Unexpected, got {other:?}"),
        }
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn the_statement_timeout_is_applied() {
    with_database(|url| async move {
        let options = StoreOptions {
            statement_timeout: Some(Duration::from_millis(200)),
            ..StoreOptions::default()
        };
        let store = PgStore::connect(&url, KEK, &options)
            .await
            .expect("connect");
        // Migrations run without the timeout (they may wait for another
        // instance's lock).
        store.migrate().await.expect("migrate");
        let shown: String = sqlx::query_scalar("SHOW statement_timeout")
            .fetch_one(store.pool())
            .await
            .expect("show");
        assert_eq!(shown, "200ms");
        let started = Instant::now();
        let err = sqlx::query("SELECT pg_sleep(3)")
            .execute(store.pool())
            .await
            .expect_err("cancelled by statement_timeout");
        assert!(started.elapsed() < Duration::from_secs(2), "{err}");
        let mapped = super::error::map_pg(err);
        assert!(matches!(mapped, StoreError::Unavailable(_)), "{mapped:?}");
        // The migration connection's setting did not leak into the pool.
        for _ in 0..3 {
            let shown: String = sqlx::query_scalar("SHOW statement_timeout")
                .fetch_one(store.pool())
                .await
                .expect("show");
            assert_eq!(shown, "200ms");
        }
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
    let err = PgStore::connect("postgres://postgres@127.0.0.1:1/test", KEK, &options)
        .await
        .expect_err("nothing listens on port 1");
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_bad_url_is_an_error() {
    let err = PgStore::connect("postgres://[::1", KEK, &StoreOptions::default())
        .await
        .expect_err("bad URL");
    assert!(
        matches!(err, StoreError::Unexpected(_) | StoreError::Unavailable(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_closed_store_is_unavailable() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        store.close().await;
        let err = store.ping().await.expect_err("closed");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let err = store
            .append_outbox(&[OutboxEvent::new("t", json!(1), contract::base_time())])
            .await
            .expect_err("closed");
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
    })
    .await;
}

/// A writer that took its sequence number first commits first: a second
/// writer waits for the first one's commit before it gets its number.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outbox_sequence_numbers_follow_commit_order() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        let now = contract::base_time();
        let first = OutboxEvent::new("test.first", json!(1), now);
        let second = OutboxEvent::new("test.second", json!(2), now);

        let mut tx = store.pool().begin().await.expect("begin");
        insert_events(&mut tx, std::slice::from_ref(&first))
            .await
            .expect("insert first");
        let writer = {
            let store = store.clone();
            let second = second.clone();
            tokio::spawn(async move { store.append_outbox(&[second]).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !writer.is_finished(),
            "the second writer must wait for the first one's commit"
        );
        // Nothing is visible yet: no reader can see the second before the first.
        assert!(store.list_outbox(0, 10).await.expect("list").is_empty());
        tx.commit().await.expect("commit first");
        writer.await.expect("task").expect("append second");

        let listed: Vec<OutboxEvent> = store
            .list_outbox(0, 10)
            .await
            .expect("list")
            .into_iter()
            .map(|(_, e)| e)
            .collect();
        assert_eq!(listed, [first, second]);
        store.close().await;
    })
    .await;
}

/// A reader polling while many writers append never skips an event.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_polling_reader_sees_every_event_once() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        let now = contract::base_time();
        let writers: Vec<_> = (0..8)
            .map(|w| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut ids = Vec::new();
                    for i in 0..40 {
                        let e = OutboxEvent::new("test.poll", json!({"w": w, "i": i}), now);
                        store
                            .append_outbox(std::slice::from_ref(&e))
                            .await
                            .expect("append");
                        ids.push(e.id);
                    }
                    ids
                })
            })
            .collect();
        let mut seen = Vec::new();
        let mut last = 0;
        loop {
            let done = writers.iter().all(|w| w.is_finished());
            let page = store.list_outbox(last, 1000).await.expect("poll");
            for (seq, event) in &page {
                assert!(*seq > last);
                last = *seq;
                seen.push(event.id);
            }
            if done && page.is_empty() {
                break;
            }
        }
        let mut written = Vec::new();
        for w in writers {
            written.extend(w.await.expect("writer"));
        }
        assert_eq!(seen.len(), written.len(), "the reader skipped events");
        let mut seen_sorted = seen.clone();
        seen_sorted.sort();
        written.sort();
        assert_eq!(seen_sorted, written);
        store.close().await;
    })
    .await;
}

/// A deadlock in which the store's transaction is the victim is retried and
/// the caller never sees it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deadlock_is_retried() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        let now = contract::base_time();
        let user = warden_core::ports::NewUser {
            user: warden_core::model::User {
                id: warden_core::UserId::new(),
                email: warden_core::Email::parse("dl@example.com").expect("email"),
                username: None,
                roles: vec![],
                status: warden_core::model::UserStatus::Active,
                created_at: now,
                email_verified: false,
                has_password: true,
            },
            password_hash: "h".into(),
            verification: None,
            mail: Vec::new(),
            identity: None,
        };
        store.create_user(&user, &[]).await.expect("user");
        let session = warden_core::model::Session {
            id: warden_core::SessionId::new(),
            user_id: user.user.id,
            created_at: now,
            last_used_at: now,
            expires_at: now + ChronoDuration::days(1),
            revoked_at: None,
            user_agent: None,
            ip: None,
            authentication: warden_core::model::Authentication::new(
                &[warden_core::model::AuthMethod::Pwd],
                now,
            ),
            client_id: None,
            scope: None,
        };
        let first = RefreshRecord {
            token_hash: warden_core::model::TokenHash("dl-first".into()),
            session_id: session.id,
            created_at: now,
        };
        store
            .create_session(&session, &first, &[])
            .await
            .expect("session");

        // The other transaction locks the session row and will not detect
        // the deadlock itself for a long time, so the store is the victim.
        let mut other = store.pool().begin().await.expect("begin");
        sqlx::query("SET LOCAL deadlock_timeout = '20s'")
            .execute(&mut *other)
            .await
            .expect("deadlock_timeout (needs a superuser)");
        sqlx::query("UPDATE session SET ip = ip WHERE session_id = $1")
            .bind(session.id.to_string())
            .execute(&mut *other)
            .await
            .expect("lock session");

        // The store locks the refresh token, then waits for the session row.
        let rotation = {
            let store = store.clone();
            let old = first.token_hash.clone();
            tokio::spawn(async move {
                let new = RefreshRecord {
                    token_hash: warden_core::model::TokenHash("dl-second".into()),
                    session_id: session.id,
                    created_at: now,
                };
                store
                    .rotate_refresh_token(&old, &new, now, &contract::reuse_policy())
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Now the other transaction waits for the refresh token: a cycle.
        // After deadlock_timeout (1s) the store's transaction is cancelled.
        let started = Instant::now();
        sqlx::query("UPDATE refresh_token SET created_at = created_at WHERE token_hash = $1")
            .bind(&first.token_hash.0)
            .execute(&mut *other)
            .await
            .expect("the other transaction proceeds once the store's is rolled back");
        let waited = started.elapsed();
        // It waited for the deadlock check (deadlock_timeout, 1 s by default).
        assert!(
            waited >= Duration::from_millis(500) && waited < Duration::from_secs(10),
            "{waited:?}"
        );
        other.commit().await.expect("commit other");

        match rotation
            .await
            .expect("task")
            .expect("rotation succeeds after retry")
        {
            RotateOutcome::Rotated { session: s } => assert_eq!(s.id, session.id),
            other => panic!("expected Rotated, got {other:?}"),
        }
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
            .create_signing_key(&StoredSigningKey {
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
        store.close().await;
    })
    .await;
}

#[tokio::test]
async fn list_users_folds_non_ascii_case_and_orders_ids_bytewise() {
    with_database(|url| async move {
        let store = open(&url, KEK).await;
        let now = contract::base_time();
        let new = warden_core::ports::NewUser {
            user: warden_core::model::User {
                id: warden_core::UserId::new(),
                email: warden_core::Email::parse("zoe@example.com").expect("email"),
                username: Some("Zoë Ärger".into()),
                roles: vec![],
                status: warden_core::model::UserStatus::Active,
                created_at: now,
                email_verified: false,
                has_password: true,
            },
            password_hash: "h".into(),
            verification: None,
            mail: Vec::new(),
            identity: None,
        };
        store.create_user(&new, &[]).await.expect("create");
        let found = store
            .list_users(Some("ZOË"), None, 10)
            .await
            .expect("query");
        assert_eq!(found.len(), 1, "ASCII case folds everywhere");
        // Beyond ASCII, folding follows the database's LC_CTYPE.
        let unicode_ctype: bool = sqlx::query_scalar("SELECT lower('Ä') = 'ä'")
            .fetch_one(store.pool())
            .await
            .expect("ctype");
        if unicode_ctype {
            let found = store
                .list_users(Some("ZOË ä"), None, 10)
                .await
                .expect("query");
            assert_eq!(found.len(), 1);
        }
        let collation: Option<String> = sqlx::query_scalar(
            "SELECT collation_name::text FROM information_schema.columns \
             WHERE table_name = 'user_account' AND column_name = 'user_id'",
        )
        .fetch_one(store.pool())
        .await
        .expect("collation");
        assert_eq!(collation.as_deref(), Some("C"));
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
            .append_outbox(&[OutboxEvent::new("t", json!(1), at)])
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
