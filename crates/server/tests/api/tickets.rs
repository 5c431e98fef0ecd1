//! The tickets example (examples/tickets) against a real `warden serve`
//! child process: tokens Warden issued, verified by the service alone; and a
//! user deleted on Warden losing their tickets through the `user.deleted`
//! event over NATS and over RabbitMQ.

use std::time::{Duration, Instant};

use clap::Parser as _;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use warden_events::BusNames;
use warden_testkit::{ISSUER, unique_email};

use warden_testkit::bus::{broker, delete_exchange, delete_stream, unique_names};
use warden_testkit::process::{
    Instance, add_user, is_backend_pass, new_user, random_kek, ready, signin, spawn,
};

const FEED_TOKEN: &str = "tickets-feed-token-0123456789";

struct Demo {
    warden: Instance,
    tickets: String,
    client: Client,
    kek: String,
    database_url: String,
    _stop: oneshot::Sender<()>,
    dir: tempfile::TempDir,
}

/// Warden (SQLite in a temp dir, on `bus` if given) and the tickets
/// service in this process on a loopback port, consuming the same bus.
async fn demo(bus: Option<(&str, &BusNames)>) -> Option<Demo> {
    if is_backend_pass() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let warden_dir = dir.path().join("warden");
    let database_url = format!("sqlite://{}/warden.db", dir.path().display());
    let kek = random_kek();
    let mut env: Vec<(&str, &str)> = vec![("WARDEN_REVOCATIONS_TOKEN", FEED_TOKEN)];
    if let Some((url, names)) = bus {
        env.extend([
            ("WARDEN_EVENTS_URL", url),
            (
                "WARDEN_EVENTS_SUBJECT_PREFIX",
                names.subject_prefix.as_str(),
            ),
            ("WARDEN_EVENTS_STREAM", names.stream.as_str()),
            ("WARDEN_EVENTS_EXCHANGE", names.exchange.as_str()),
        ]);
    }
    let warden = ready(spawn(&database_url, &kek, &warden_dir, &env));
    let client = Client::builder().no_proxy().build().unwrap();
    // The first event creates the JetStream stream the service reads.
    new_user(&client, &warden.base).await;

    let mut config = tickets::Config::parse_from(["tickets"]);
    config.issuer = ISSUER.to_owned();
    config.warden_url = Some(warden.base.clone());
    config.database_url = format!("sqlite://{}/tickets.db", dir.path().display());
    config.revocations_token = Some(FEED_TOKEN.to_owned());
    if let Some((url, names)) = bus {
        config.events_url = Some(url.to_owned());
        config.events_subject_prefix = names.subject_prefix.clone();
        config.events_stream = names.stream.clone();
        config.events_exchange = names.exchange.clone();
    }
    let service = tickets::Service::build(&config).await.expect("tickets");
    if bus.is_some() {
        let started = Instant::now();
        while !service.is_consuming_events() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the tickets service subscribes"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tickets = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(service.serve(listener, async {
        let _ = stopped.await;
    }));
    Some(Demo {
        warden,
        tickets,
        client,
        kek,
        database_url,
        _stop: stop,
        dir,
    })
}

impl Demo {
    /// A user made with `warden user add --role <role>`, signed in.
    async fn user_with_role(&self, role: &str) -> String {
        let email = unique_email();
        add_user(
            &self.database_url,
            &self.kek,
            &self.dir.path().join("warden"),
            &email,
            role,
        );
        signin(&self.client, &self.warden.base, &email).await
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.tickets));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn create(&self, token: &str, title: &str) -> Value {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/tickets",
                Some(token),
                Some(json!({"title": title})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    async fn list(&self, token: &str) -> Vec<Value> {
        let (status, body) = self
            .call(
                reqwest::Method::GET,
                "/api/tickets?limit=100",
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["tickets"].as_array().unwrap().clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tickets_service_trusts_warden_tokens_and_roles_alone() {
    let Some(d) = demo(None).await else { return };
    let (ann, ann_id) = new_user(&d.client, &d.warden.base).await;
    let (bob, _) = new_user(&d.client, &d.warden.base).await;
    let admin = d.user_with_role("admin").await;
    let auditor = d.user_with_role("auditor").await;

    // The owner creates, reads, updates and lists.
    let ticket = d.create(&ann, "Printer on fire").await;
    assert_eq!(ticket["owner_id"], ann_id.as_str(), "the token's sub");
    let path = format!("/api/tickets/{}", ticket["id"].as_str().unwrap());
    let (status, read) = d.call(reqwest::Method::GET, &path, Some(&ann), None).await;
    assert_eq!((status, &read), (StatusCode::OK, &ticket));
    let (status, updated) = d
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(&ann),
            Some(json!({"status": "closed"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(updated["status"], "closed");
    assert_eq!(d.list(&ann).await, vec![updated.clone()]);

    // Another user: it does not exist.
    let bobs = d.create(&bob, "Bob's").await;
    for method in [reqwest::Method::GET, reqwest::Method::PATCH] {
        let (status, body) = d
            .call(
                method,
                &path,
                Some(&bob),
                Some(json!({"title": "mine now"})),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["code"], "not_found");
    }
    assert_eq!(d.list(&bob).await, vec![bobs.clone()]);

    // The admin (role `admin` only) sees and changes everyone's.
    assert_eq!(d.list(&admin).await, vec![bobs, updated]);
    let (status, _) = d
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({"status": "open"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    // No token, a bad token: 401; a role without tickets: 403.
    for token in [None, Some("not-a-token")] {
        let (status, body) = d
            .call(reqwest::Method::GET, "/api/tickets", token, None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "invalid_token");
    }
    let (status, body) = d
        .call(reqwest::Method::GET, "/api/tickets", Some(&auditor), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], "forbidden");

    // Bad input: 400 naming the field.
    let (status, body) = d
        .call(
            reqwest::Method::POST,
            "/api/tickets",
            Some(&ann),
            Some(json!({"title": ""})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "invalid_request");
    assert_eq!(body["field"], "title");
}

async fn deleting_a_user_on_warden_deletes_their_tickets(url: &str, names: &BusNames) {
    let Some(d) = demo(Some((url, names))).await else {
        return;
    };
    let (ann, ann_id) = new_user(&d.client, &d.warden.base).await;
    let (bob, _) = new_user(&d.client, &d.warden.base).await;
    let admin = d.user_with_role("admin").await;
    for title in ["one", "two", "three"] {
        d.create(&ann, title).await;
    }
    d.create(&bob, "Bob's").await;
    // user.created has reached the service too: it names every owner.
    let started = Instant::now();
    let all = loop {
        let all = d.list(&admin).await;
        if all.iter().all(|t| t["owner_email"].is_string()) {
            break all;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "owners unknown: {all:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(all.len(), 4);
    let bobs = all[0].clone();
    assert_eq!(bobs["title"], "Bob's");

    let response = d
        .client
        .delete(format!("{}/v1/admin/users/{ann_id}", d.warden.base))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let started = Instant::now();
    loop {
        let left = d.list(&admin).await;
        if left.len() == 1 {
            assert_eq!(left, vec![bobs.clone()], "only Ann's went");
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "Ann's tickets are still there: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "user deleted on Warden -> tickets deleted after {:?}",
        started.elapsed()
    );
    // And her token, still unexpired, no longer opens the service.
    let (status, body) = d
        .call(reqwest::Method::GET, "/api/tickets", Some(&ann), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_nats_a_user_deleted_on_warden_loses_their_tickets() {
    let Some(url) = broker("WARDEN_TEST_NATS_URL") else {
        return;
    };
    let names = unique_names();
    deleting_a_user_on_warden_deletes_their_tickets(&url, &names).await;
    delete_stream(&url, &names).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_rabbitmq_a_user_deleted_on_warden_loses_their_tickets() {
    let Some(url) = broker("WARDEN_TEST_AMQP_URL") else {
        return;
    };
    let names = unique_names();
    deleting_a_user_on_warden_deletes_their_tickets(&url, &names).await;
    delete_exchange(&url, &names).await;
}
