//! One suite, run against every backend.

use std::future::Future;

use chrono::{Duration, Utc};
use tickets::Store;
use tickets::domain::{Body, Change, PageRequest, Status, Ticket, Title};
use uuid::Uuid;
use warden_store::testing::{ServerKind, TestDatabase};

fn ticket(owner: Uuid, title: &str) -> Ticket {
    Ticket::new(
        owner,
        Title::parse(title).unwrap(),
        Body::parse("details").unwrap(),
        // Whole milliseconds: what the store keeps.
        chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis()).unwrap(),
    )
}

async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tickets.db").display());
    // Migrating twice is harmless: every start migrates.
    Store::connect(&url).await.unwrap().close().await;
    test(Store::connect(&url).await.unwrap()).await;
}

async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(database) = TestDatabase::create(ServerKind::Postgres).await else {
        return;
    };
    let store = Store::connect(&database.url).await.unwrap();
    let outcome = tokio::spawn(test(store)).await;
    database.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn a_ticket_is_stored_found_and_updated(store: Store) {
    let owner = Uuid::now_v7();
    let mut created = ticket(owner, "Printer on fire");
    store.create_ticket(&created).await.unwrap();
    assert_eq!(
        store.find_ticket(created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(store.find_ticket(Uuid::now_v7()).await.unwrap(), None);

    let later = created.updated_at + Duration::seconds(5);
    created.apply(
        Change::new(
            Some(Title::parse("Printer out").unwrap()),
            None,
            Some(Status::Closed),
        )
        .unwrap(),
        later,
    );
    assert!(store.update_ticket(&created).await.unwrap());
    let found = store.find_ticket(created.id).await.unwrap().unwrap();
    assert_eq!(found, created);
    assert_eq!(found.status, Status::Closed);
    assert_eq!(found.body.as_str(), "details", "untouched fields stay");

    let missing = ticket(owner, "never stored");
    assert!(!store.update_ticket(&missing).await.unwrap());
}

async fn listings_page_newest_first_per_owner_or_all(store: Store) {
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let mut anns = Vec::new();
    for i in 0..5 {
        let t = ticket(ann, &format!("ann {i}"));
        store.create_ticket(&t).await.unwrap();
        anns.push(t.id);
        store
            .create_ticket(&ticket(bob, &format!("bob {i}")))
            .await
            .unwrap();
    }
    anns.reverse();

    let first = store
        .list_tickets(Some(ann), PageRequest::new(Some(2), None).unwrap())
        .await
        .unwrap();
    let ids: Vec<Uuid> = first.tickets.iter().map(|t| t.id).collect();
    assert_eq!(ids, anns[..2]);
    assert_eq!(first.next_cursor, Some(anns[1]));
    let second = store
        .list_tickets(
            Some(ann),
            PageRequest::new(Some(2), first.next_cursor).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        second.tickets.iter().map(|t| t.id).collect::<Vec<_>>(),
        anns[2..4]
    );
    let last = store
        .list_tickets(
            Some(ann),
            PageRequest::new(Some(2), second.next_cursor).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        last.tickets.iter().map(|t| t.id).collect::<Vec<_>>(),
        anns[4..]
    );
    assert_eq!(last.next_cursor, None, "the last page says so");

    let everyone = store
        .list_tickets(None, PageRequest::new(Some(100), None).unwrap())
        .await
        .unwrap();
    assert_eq!(everyone.tickets.len(), 10);
    assert_eq!(everyone.next_cursor, None);
    assert!(
        everyone.tickets.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
}

async fn deleting_a_users_tickets_leaves_everyone_elses(store: Store) {
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    for i in 0..3 {
        store
            .create_ticket(&ticket(ann, &format!("ann {i}")))
            .await
            .unwrap();
    }
    let bobs = ticket(bob, "bob");
    store.create_ticket(&bobs).await.unwrap();
    assert_eq!(store.delete_user(ann).await.unwrap(), 3);
    assert_eq!(store.delete_user(ann).await.unwrap(), 0, "idempotent");
    let left = store
        .list_tickets(None, PageRequest::new(None, None).unwrap())
        .await
        .unwrap();
    assert_eq!(left.tickets, vec![bobs]);
    store.ping().await.unwrap();
}

async fn replicated_users_name_the_owners_of_tickets(store: Store) {
    let (ann, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let anns = ticket(ann, "Ann's");
    store.create_ticket(&anns).await.unwrap();
    let unknown = store.find_ticket(anns.id).await.unwrap().unwrap();
    assert_eq!(unknown.owner_email, None, "before user.created arrived");

    store.remember_user(ann, "ann@old.example").await.unwrap();
    store.remember_user(ann, "ann@example.com").await.unwrap();
    store.remember_user(bob, "bob@example.com").await.unwrap();
    let known = store.find_ticket(anns.id).await.unwrap().unwrap();
    assert_eq!(
        known.owner_email.as_deref(),
        Some("ann@example.com"),
        "the latest"
    );
    let listed = store
        .list_tickets(None, PageRequest::new(None, None).unwrap())
        .await
        .unwrap();
    assert_eq!(listed.tickets, vec![known]);

    // Deleting Ann forgets her: a ticket she might get again shows no one.
    store.delete_user(ann).await.unwrap();
    store.create_ticket(&anns).await.unwrap();
    let forgotten = store.find_ticket(anns.id).await.unwrap().unwrap();
    assert_eq!(forgotten.owner_email, None);
}

macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                super::on_sqlite(super::$name).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                super::on_postgres(super::$name).await;
            })*
        }
    };
}

on_every_backend!(
    a_ticket_is_stored_found_and_updated,
    listings_page_newest_first_per_owner_or_all,
    deleting_a_users_tickets_leaves_everyone_elses,
    replicated_users_name_the_owners_of_tickets,
);

#[tokio::test]
async fn an_unknown_database_url_is_refused() {
    let err = Store::connect("mysql://root@127.0.0.1/tickets")
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("sqlite:// or postgres://"),
        "{err}"
    );
}
