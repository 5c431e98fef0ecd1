//! The OAuth clients of Warden as a provider
//! ([`ClientStore`](warden_core::ports::ClientStore)).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use warden_core::StoreError;
use warden_core::clients::{
    Algorithm, ClientId, ClientKind, ClientSecret, ClientSettings, GrantType, OAuthClient,
    service_revocation,
};
use warden_core::ports::Store;

use super::{base_time, event, outbox_names};

fn settings(name: &str) -> ClientSettings {
    ClientSettings {
        name: name.into(),
        redirect_uris: vec![
            "https://app.example.com/callback?a=1,2".into(),
            "http://127.0.0.1:51000/cb".into(),
        ],
        post_logout_redirect_uris: vec!["https://app.example.com/bye".into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: vec!["openid".into(), "email".into(), "tickets:read".into()],
        first_party: false,
        id_token_alg: Algorithm::RS256,
    }
}

/// A client of `kind` under `id` (when given), registered at `at`, with
/// its secret.
pub(super) fn client(
    kind: ClientKind,
    id: Option<&str>,
    name: &str,
    at: DateTime<Utc>,
) -> (OAuthClient, Option<ClientSecret>) {
    let (mut client, secret) =
        OAuthClient::register(kind, settings(name), at).expect("valid client");
    if let Some(id) = id {
        client.id = ClientId::parse(id).expect("valid client id");
    }
    (client, secret)
}

fn assert_same(found: &OAuthClient, expected: &OAuthClient) {
    assert_eq!(found.id, expected.id);
    assert_eq!(found.name, expected.name);
    assert_eq!(found.kind, expected.kind);
    assert_eq!(found.redirect_uris, expected.redirect_uris);
    assert_eq!(
        found.post_logout_redirect_uris,
        expected.post_logout_redirect_uris
    );
    assert_eq!(found.grant_types, expected.grant_types);
    assert_eq!(found.scopes, expected.scopes);
    assert_eq!(found.first_party, expected.first_party);
    assert_eq!(found.id_token_alg, expected.id_token_alg);
    assert_eq!(
        found.secret_hash.as_ref().map(|h| h.as_str().to_owned()),
        expected.secret_hash.as_ref().map(|h| h.as_str().to_owned())
    );
    assert_eq!(found.created_at, expected.created_at);
    assert_eq!(found.updated_at, expected.updated_at);
    assert_eq!(found.secret_rotated_at, expected.secret_rotated_at);
}

async fn count_events(store: &dyn Store, name: &str) -> usize {
    outbox_names(store)
        .await
        .iter()
        .filter(|n| n.as_str() == name)
        .count()
}

/// Clients round-trip every field, with their creation event; they list in
/// byte order of their (case-sensitive) ids, a page at a time.
pub async fn clients_create_find_and_list_in_pages(store: Arc<dyn Store>) {
    let now = base_time();
    let (web, secret) = client(ClientKind::Confidential, None, "Tickets", now);
    store
        .create_client(&web, &[event("client.created", now)])
        .await
        .expect("create");
    assert_eq!(count_events(&*store, "client.created").await, 1);
    let found = store
        .find_client(&web.id)
        .await
        .expect("find")
        .expect("found");
    assert_same(&found, &web);
    assert!(found.verify_secret(secret.expect("secret").expose()));

    let (spa, _) = client(ClientKind::Public, Some("client-a"), "SPA", now);
    let (cli, _) = client(ClientKind::Public, Some("client-A"), "CLI", now);
    let (svc, _) = client(ClientKind::Confidential, Some("client-B"), "Svc", now);
    for c in [&spa, &cli, &svc] {
        store.create_client(c, &[]).await.expect("create");
    }
    let public = store
        .find_client(&spa.id)
        .await
        .expect("find")
        .expect("found");
    assert_same(&public, &spa);
    assert!(public.secret_hash.is_none());
    assert!(
        store
            .find_client(&ClientId::parse("client-b").expect("id"))
            .await
            .expect("find")
            .is_none(),
        "ids are case-sensitive"
    );

    let mut expected: Vec<String> = [&web, &spa, &cli, &svc]
        .iter()
        .map(|c| c.id.to_string())
        .collect();
    expected.sort_unstable();
    let mut listed = Vec::new();
    let mut after: Option<ClientId> = None;
    loop {
        let page = store.list_clients(after.as_ref(), 3).await.expect("list");
        assert!(page.len() <= 3);
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        listed.extend(page.iter().map(|c| c.id.to_string()));
    }
    assert_eq!(listed, expected);
    let everything = store.list_clients(None, 100).await.expect("list");
    assert_eq!(everything.len(), 4);
    let listed_web = everything.iter().find(|c| c.id == web.id).expect("listed");
    assert_same(listed_web, &web);
    assert!(
        store
            .list_clients(Some(&ClientId::parse("zzz").expect("id")), 10)
            .await
            .expect("list")
            .is_empty()
    );
}

/// A taken id is a `Conflict`, and the failed registration leaves the
/// first client and writes no event.
pub async fn clients_duplicate_id_is_a_conflict(store: Arc<dyn Store>) {
    let now = base_time();
    let (first, _) = client(ClientKind::Confidential, Some("grafana"), "Grafana", now);
    store.create_client(&first, &[]).await.expect("create");
    let (second, _) = client(ClientKind::Public, Some("grafana"), "Impostor", now);
    assert!(matches!(
        store
            .create_client(&second, &[event("client.created", now)])
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(count_events(&*store, "client.created").await, 0);
    let kept = store
        .find_client(&first.id)
        .await
        .expect("find")
        .expect("found");
    assert_same(&kept, &first);
}

/// An update stores the new settings and `updated_at` with its event, and
/// never the kind, the secret or `created_at`; an unknown client is
/// `NotFound`, without event.
pub async fn clients_update_changes_settings_only(store: Arc<dyn Store>) {
    let now = base_time();
    let (original, secret) = client(ClientKind::Confidential, None, "Tickets", now);
    store.create_client(&original, &[]).await.expect("create");

    let later = now + Duration::minutes(5);
    let mut new = original.settings();
    new.name = "Tickets (prod)".into();
    new.redirect_uris = vec!["https://tickets.example.com/cb".into()];
    new.post_logout_redirect_uris.clear();
    new.scopes = vec!["openid".into()];
    new.first_party = true;
    new.grant_types.push(GrantType::ClientCredentials);
    new.id_token_alg = Algorithm::EdDSA;
    let mut updated = original.with_settings(new, later).expect("valid");
    // Whatever the caller put there, these columns are not the update's.
    updated.kind = ClientKind::Public;
    updated.secret_hash = None;
    updated.created_at = later;
    store
        .update_client(&updated, &[event("client.updated", later)])
        .await
        .expect("update");
    assert_eq!(count_events(&*store, "client.updated").await, 1);

    let found = store
        .find_client(&original.id)
        .await
        .expect("find")
        .expect("found");
    assert_eq!(found.name, "Tickets (prod)");
    assert_eq!(found.redirect_uris, updated.redirect_uris);
    assert!(found.post_logout_redirect_uris.is_empty());
    assert_eq!(found.scopes, updated.scopes);
    assert!(found.first_party);
    assert!(found.allows_grant(GrantType::ClientCredentials));
    assert_eq!(found.id_token_alg, Algorithm::EdDSA);
    assert_eq!(found.updated_at, later);
    assert_eq!(found.kind, ClientKind::Confidential);
    assert_eq!(found.created_at, now);
    assert!(found.verify_secret(secret.expect("secret").expose()));

    // The same settings again still finds the client (MySQL counts
    // matched rows, not changed ones).
    store
        .update_client(&updated, &[])
        .await
        .expect("update without change");

    let (ghost, _) = client(ClientKind::Public, Some("ghost"), "Ghost", now);
    assert!(matches!(
        store
            .update_client(&ghost, &[event("client.updated", later)])
            .await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(count_events(&*store, "client.updated").await, 1);
    assert!(store.find_client(&ghost.id).await.expect("find").is_none());
}

/// Rotation replaces the hash (the old secret stops working at once) and
/// records when, with its event; a public or unknown client is `NotFound`,
/// without event.
pub async fn clients_rotate_secret_replaces_the_hash(store: Arc<dyn Store>) {
    let now = base_time();
    let (web, old) = client(ClientKind::Confidential, None, "Tickets", now);
    let old = old.expect("secret");
    store.create_client(&web, &[]).await.expect("create");

    let at = now + Duration::hours(1);
    let new = ClientSecret::generate();
    store
        .rotate_client_secret(
            &web.id,
            &new.hash(),
            at,
            &[event("client.secret_rotated", at)],
        )
        .await
        .expect("rotate");
    assert_eq!(count_events(&*store, "client.secret_rotated").await, 1);
    let found = store
        .find_client(&web.id)
        .await
        .expect("find")
        .expect("found");
    assert!(found.verify_secret(new.expose()));
    assert!(!found.verify_secret(old.expose()), "the old secret is gone");
    assert_eq!(
        found.secret_hash.as_ref().map(|h| h.as_str().to_owned()),
        Some(new.hash().as_str().to_owned())
    );
    assert_eq!(found.secret_rotated_at, Some(at));
    assert_eq!(found.updated_at, now, "rotation is not a settings change");

    let (spa, _) = client(ClientKind::Public, None, "SPA", now);
    store.create_client(&spa, &[]).await.expect("create");
    let unknown = ClientId::generate();
    for id in [&spa.id, &unknown] {
        assert!(matches!(
            store
                .rotate_client_secret(id, &new.hash(), at, &[event("client.secret_rotated", at)])
                .await,
            Err(StoreError::NotFound)
        ));
    }
    assert_eq!(count_events(&*store, "client.secret_rotated").await, 1);
    let public = store
        .find_client(&spa.id)
        .await
        .expect("find")
        .expect("found");
    assert!(public.secret_hash.is_none() && public.secret_rotated_at.is_none());
}

/// Deleting says whether the client existed, and writes its revocation
/// (of the service tokens it holds) and event only when it did.
pub async fn clients_delete_reports_whether_it_existed(store: Arc<dyn Store>) {
    let now = base_time();
    let (web, _) = client(ClientKind::Confidential, None, "Tickets", now);
    let (spa, _) = client(ClientKind::Public, None, "SPA", now);
    store.create_client(&web, &[]).await.expect("create");
    store.create_client(&spa, &[]).await.expect("create");

    let revocation = service_revocation(&web.id, now, now + Duration::minutes(15));
    assert!(
        store
            .delete_client(&web.id, &revocation, &[event("client.deleted", now)])
            .await
            .expect("delete")
    );
    assert_eq!(count_events(&*store, "client.deleted").await, 1);
    assert_eq!(
        store
            .list_active_revocations(now)
            .await
            .expect("revocations"),
        std::slice::from_ref(&revocation)
    );
    assert!(store.find_client(&web.id).await.expect("find").is_none());
    assert!(
        !store
            .delete_client(&web.id, &revocation, &[event("client.deleted", now)])
            .await
            .expect("delete again")
    );
    assert_eq!(count_events(&*store, "client.deleted").await, 1);
    assert_eq!(
        store
            .list_active_revocations(now)
            .await
            .expect("revocations")
            .len(),
        1,
        "nothing deleted, nothing revoked"
    );
    let left = store.list_clients(None, 10).await.expect("list");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, spa.id);
    // The id is free again.
    store.create_client(&web, &[]).await.expect("re-create");
}
