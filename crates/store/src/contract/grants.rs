//! What Warden as an OAuth provider grants
//! ([`GrantStore`](warden_core::ports::GrantStore)): single-use
//! authorization codes, consents, and the sessions opened for a client.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use warden_core::clients::{ClientKind, OAuthClient, service_revocation};
use warden_core::model::{
    AuthMethod, Authentication, OutboxEvent, RefreshRecord, RevocationKind, RotateOutcome, Session,
    SessionTokenRecord,
};
use warden_core::ports::Store;
use warden_core::provider::{AuthorizationCode, Consent, Redemption};
use warden_core::{SessionId, UserId};

use super::clients::client;
use super::refresh::reuse_policy;
use super::{
    base_time, create_session, create_user, event, outbox, session, session_revocation, token,
};

async fn create_client(store: &dyn Store, name: &str, at: DateTime<Utc>) -> OAuthClient {
    let (client, _) = client(ClientKind::Confidential, None, name, at);
    store
        .create_client(&client, &[])
        .await
        .expect("create client");
    client
}

/// A code `client` issued to `user` at `at`, from the browser session
/// `browser`, with a nonce, a PKCE challenge and two factors.
fn code(
    client: &OAuthClient,
    user: UserId,
    browser: SessionId,
    at: DateTime<Utc>,
) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: token("woc"),
        client_id: client.id.clone(),
        user_id: user,
        browser_session: browser,
        redirect_uri: "https://app.example.com/callback?a=1,2".into(),
        scope: "openid email tickets:read".into(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        authentication: Authentication::new(
            &[AuthMethod::Pwd, AuthMethod::Otp],
            at - Duration::seconds(30),
        ),
        created_at: at,
        expires_at: at + Duration::seconds(60),
    }
}

/// A session opened for `client` by the code grant, with its first
/// refresh token.
fn client_session(
    user: UserId,
    client: &OAuthClient,
    scope: &str,
    at: DateTime<Utc>,
    lifetime: Duration,
) -> (Session, RefreshRecord) {
    let (mut session, refresh) = session(user, at, lifetime);
    session.client_id = Some(client.id.clone());
    session.scope = Some(scope.into());
    (session, refresh)
}

fn revoked_event(session: SessionId, user: UserId) -> OutboxEvent {
    OutboxEvent::new(
        "session.revoked",
        json!({"session_id": session.to_string(), "user_id": user.to_string()}),
        base_time(),
    )
}

async fn redeem(store: &dyn Store, code: &AuthorizationCode, issued: SessionId) -> Redemption {
    store
        .redeem_authorization_code(&code.code_hash, issued, base_time())
        .await
        .expect("redeem")
}

/// A code round-trips every field and is redeemed once: the first
/// exchange gets it, every later one is a replay naming the first one's
/// session; an unknown code is `NotFound`. Expiry is the caller's check:
/// an expired code is redeemed (and used up) like any other.
pub async fn authorization_codes_are_redeemed_once_and_replays_name_the_first_session(
    store: Arc<dyn Store>,
) {
    let now = base_time();
    let user = create_user(&*store, "ada@example.com", now).await;
    let (browser, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let app = create_client(&*store, "Tickets", now).await;

    let full = code(&app, user.id, browser.id, now);
    store
        .create_authorization_code(&full)
        .await
        .expect("create code");
    assert!(
        store.create_authorization_code(&full).await.is_err(),
        "a code hash is stored once"
    );
    let first = SessionId::new();
    match redeem(&*store, &full, first).await {
        Redemption::Redeemed(found) => {
            assert_eq!(found, full);
            assert_eq!(found.authentication.amr(), ["pwd", "otp", "mfa"]);
        }
        other => panic!("expected Redeemed, got {other:?}"),
    }
    for _ in 0..2 {
        assert_eq!(
            redeem(&*store, &full, SessionId::new()).await,
            Redemption::Replayed { issued: first }
        );
    }

    // The optional fields stay absent.
    let bare = AuthorizationCode {
        code_hash: token("woc-bare"),
        nonce: None,
        code_challenge: None,
        authentication: Authentication::new(&[AuthMethod::Pwd], now),
        ..code(&app, user.id, browser.id, now)
    };
    store
        .create_authorization_code(&bare)
        .await
        .expect("create");
    assert_eq!(
        redeem(&*store, &bare, SessionId::new()).await,
        Redemption::Redeemed(bare.clone())
    );

    let expired = AuthorizationCode {
        code_hash: token("woc-expired"),
        created_at: now - Duration::minutes(5),
        expires_at: now - Duration::minutes(4),
        ..code(&app, user.id, browser.id, now)
    };
    store
        .create_authorization_code(&expired)
        .await
        .expect("create");
    let late = SessionId::new();
    assert_eq!(
        redeem(&*store, &expired, late).await,
        Redemption::Redeemed(expired.clone())
    );
    assert_eq!(
        redeem(&*store, &expired, SessionId::new()).await,
        Redemption::Replayed { issued: late }
    );

    assert_eq!(
        store
            .redeem_authorization_code(&token("woc-unknown"), SessionId::new(), now)
            .await
            .expect("redeem"),
        Redemption::NotFound
    );

    // A code names a registered client and an existing user.
    let (stranger, _) = client(ClientKind::Public, None, "Unregistered", now);
    let orphan = AuthorizationCode {
        code_hash: token("woc-orphan"),
        ..code(&stranger, user.id, browser.id, now)
    };
    assert!(store.create_authorization_code(&orphan).await.is_err());
    let orphan = AuthorizationCode {
        code_hash: token("woc-orphan"),
        ..code(&app, UserId::new(), browser.id, now)
    };
    assert!(store.create_authorization_code(&orphan).await.is_err());
}

/// Of eight concurrent exchanges of one code exactly one redeems it;
/// the other seven are replays naming the winner's session.
pub async fn authorization_code_redemption_is_single_use_under_concurrency(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "grace@example.com", now).await;
    let (browser, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let app = create_client(&*store, "Tickets", now).await;
    let raced = code(&app, user.id, browser.id, now);
    store
        .create_authorization_code(&raced)
        .await
        .expect("create code");

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let hash = raced.code_hash.clone();
            tokio::spawn(async move {
                let issued = SessionId::new();
                let outcome = store.redeem_authorization_code(&hash, issued, now).await;
                (issued, outcome)
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut replays = Vec::new();
    for task in tasks {
        let (issued, outcome) = task.await.expect("task");
        match outcome.expect("redeem") {
            Redemption::Redeemed(found) => {
                assert_eq!(found, raced);
                winners.push(issued);
            }
            Redemption::Replayed { issued } => replays.push(issued),
            Redemption::NotFound => panic!("the code exists"),
        }
    }
    assert_eq!((winners.len(), replays.len()), (1, 7));
    assert!(replays.iter().all(|issued| *issued == winners[0]));
    assert_eq!(
        redeem(&*store, &raced, SessionId::new()).await,
        Redemption::Replayed { issued: winners[0] }
    );
}

/// Deleting expired codes takes exactly those that expired before the
/// given time, used or not, and says how many.
pub async fn expired_authorization_codes_are_deleted(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "hedy@example.com", now).await;
    let (browser, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let app = create_client(&*store, "Tickets", now).await;
    let expiring_at = |label: &str, expires_at: DateTime<Utc>| AuthorizationCode {
        code_hash: token(label),
        created_at: expires_at - Duration::seconds(60),
        expires_at,
        ..code(&app, user.id, browser.id, now)
    };
    let old_used = expiring_at("woc-old-used", now - Duration::hours(2));
    let old_unused = expiring_at("woc-old-unused", now - Duration::minutes(90));
    let at_cutoff = expiring_at("woc-at-cutoff", now - Duration::hours(1));
    let recent = expiring_at("woc-recent", now - Duration::minutes(10));
    let live = expiring_at("woc-live", now + Duration::seconds(60));
    for c in [&old_used, &old_unused, &at_cutoff, &recent, &live] {
        store.create_authorization_code(c).await.expect("create");
    }
    let issued = SessionId::new();
    assert!(matches!(
        redeem(&*store, &old_used, issued).await,
        Redemption::Redeemed(_)
    ));

    let deleted = store
        .delete_expired_authorization_codes(now - Duration::hours(1))
        .await
        .expect("delete");
    assert_eq!(deleted, 2);
    for gone in [&old_used, &old_unused] {
        assert_eq!(
            redeem(&*store, gone, SessionId::new()).await,
            Redemption::NotFound
        );
    }
    for kept in [&at_cutoff, &recent, &live] {
        assert!(matches!(
            redeem(&*store, kept, SessionId::new()).await,
            Redemption::Redeemed(_)
        ));
    }
    assert_eq!(
        store
            .delete_expired_authorization_codes(now - Duration::hours(1))
            .await
            .expect("delete again"),
        0
    );
}

/// A consent is saved, found by user and client, replaced by the next
/// one for the same pair, and refused for a client that is not
/// registered.
pub async fn consents_are_saved_replaced_and_found(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "joan@example.com", now).await;
    let other = create_user(&*store, "kay@example.com", now).await;
    let app = create_client(&*store, "Tickets", now).await;
    let wiki = create_client(&*store, "Wiki", now).await;
    assert!(
        store
            .find_consent(user.id, &app.id)
            .await
            .expect("find")
            .is_none()
    );

    let first = Consent {
        user_id: user.id,
        client_id: app.id.clone(),
        scope: "email openid".into(),
        granted_at: now,
    };
    store.save_consent(&first).await.expect("save");
    assert_eq!(
        store.find_consent(user.id, &app.id).await.expect("find"),
        Some(first.clone())
    );
    let elsewhere = Consent {
        client_id: wiki.id.clone(),
        scope: "openid".into(),
        ..first.clone()
    };
    store.save_consent(&elsewhere).await.expect("save");

    let wider = Consent {
        scope: "email openid profile tickets:read".into(),
        granted_at: now + Duration::days(3),
        ..first.clone()
    };
    store.save_consent(&wider).await.expect("replace");
    assert_eq!(
        store.find_consent(user.id, &app.id).await.expect("find"),
        Some(wider)
    );
    assert_eq!(
        store.find_consent(user.id, &wiki.id).await.expect("find"),
        Some(elsewhere)
    );
    assert!(
        store
            .find_consent(other.id, &app.id)
            .await
            .expect("find")
            .is_none()
    );

    let (stranger, _) = client(ClientKind::Public, None, "Unregistered", now);
    let refused = Consent {
        client_id: stranger.id.clone(),
        ..first.clone()
    };
    assert!(store.save_consent(&refused).await.is_err());
    assert!(
        store
            .find_consent(user.id, &stranger.id)
            .await
            .expect("find")
            .is_none()
    );
}

/// Codes and consents go with their client and with their user; sessions
/// opened for a client outlive it (until revoked).
pub async fn grants_go_with_their_client_and_user(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "lin@example.com", now).await;
    let leaving = create_user(&*store, "max@example.com", now).await;
    let (browser, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let (leaving_browser, _) = create_session(&*store, leaving.id, now, Duration::days(30)).await;
    let app = create_client(&*store, "Tickets", now).await;
    let wiki = create_client(&*store, "Wiki", now).await;

    let app_code = code(&app, user.id, browser.id, now);
    let wiki_code = code(&wiki, user.id, browser.id, now);
    let leaving_code = code(&wiki, leaving.id, leaving_browser.id, now);
    for c in [&app_code, &wiki_code, &leaving_code] {
        store.create_authorization_code(c).await.expect("create");
    }
    for (who, client) in [(user.id, &app), (user.id, &wiki), (leaving.id, &wiki)] {
        let consent = Consent {
            user_id: who,
            client_id: client.id.clone(),
            scope: "openid".into(),
            granted_at: now,
        };
        store.save_consent(&consent).await.expect("save");
    }
    let (opened, refresh) = client_session(user.id, &app, "openid", now, Duration::days(30));
    store
        .create_session(&opened, &refresh, &[])
        .await
        .expect("create session");

    let revocation = service_revocation(&app.id, base_time(), base_time() + Duration::minutes(15));
    assert!(
        store
            .delete_client(&app.id, &revocation, &[])
            .await
            .expect("delete")
    );
    assert_eq!(
        redeem(&*store, &app_code, SessionId::new()).await,
        Redemption::NotFound
    );
    assert!(
        store
            .find_consent(user.id, &app.id)
            .await
            .expect("find")
            .is_none()
    );
    assert_eq!(
        store.find_session(opened.id).await.expect("find"),
        Some(opened),
        "a client's sessions stay until revoked"
    );

    store
        .delete_user(
            leaving.id,
            &session_revocation(leaving_browser.id, now + Duration::minutes(15)),
            &[],
        )
        .await
        .expect("delete user");
    assert_eq!(
        redeem(&*store, &leaving_code, SessionId::new()).await,
        Redemption::NotFound
    );
    assert!(
        store
            .find_consent(leaving.id, &wiki.id)
            .await
            .expect("find")
            .is_none()
    );

    // What belongs to neither stays.
    assert!(
        store
            .find_consent(user.id, &wiki.id)
            .await
            .expect("find")
            .is_some()
    );
    assert!(matches!(
        redeem(&*store, &wiki_code, SessionId::new()).await,
        Redemption::Redeemed(_)
    ));
}

/// A session opened for a client keeps its client and scope through every
/// read: by id, in the live list, by refresh token, after a rotation and
/// after a retry within the grace window; a `/v1` session has neither.
pub async fn client_sessions_keep_their_client_and_scope(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "nell@example.com", now).await;
    let app = create_client(&*store, "Tickets", now).await;
    let scope = "openid email offline_access";
    let (opened, first) = client_session(
        user.id,
        &app,
        scope,
        now - Duration::minutes(5),
        Duration::days(30),
    );
    store
        .create_session(&opened, &first, &[])
        .await
        .expect("create session");
    let (own, own_refresh) = create_session(&*store, user.id, now, Duration::days(30)).await;

    let found = store
        .find_session(opened.id)
        .await
        .expect("find")
        .expect("stored");
    assert_eq!(found, opened);
    assert_eq!(found.client_id.as_ref(), Some(&app.id));
    assert_eq!(found.scope.as_deref(), Some(scope));
    let live = store.list_sessions(user.id, now).await.expect("list");
    assert_eq!(live, [own.clone(), opened.clone()]);
    assert_eq!(
        store
            .find_session_by_refresh(&first.token_hash)
            .await
            .expect("by refresh"),
        Some(opened.clone())
    );
    let mine = store
        .find_session_by_refresh(&own_refresh.token_hash)
        .await
        .expect("by refresh")
        .expect("stored");
    assert_eq!((mine.client_id, mine.scope), (None, None));

    let second = RefreshRecord {
        token_hash: token("rt-client-2"),
        session_id: opened.id,
        created_at: now,
    };
    match store
        .rotate_refresh_token(&first.token_hash, &second, now, &reuse_policy())
        .await
        .expect("rotate")
    {
        RotateOutcome::Rotated { session } => {
            assert_eq!(session.client_id.as_ref(), Some(&app.id));
            assert_eq!(session.scope.as_deref(), Some(scope));
        }
        other => panic!("expected Rotated, got {other:?}"),
    }
    let retry = RefreshRecord {
        token_hash: token("rt-client-retry"),
        session_id: opened.id,
        created_at: now,
    };
    let mut grace = reuse_policy();
    grace.retry_since = Some(now - Duration::seconds(10));
    match store
        .rotate_refresh_token(&first.token_hash, &retry, now, &grace)
        .await
        .expect("retry")
    {
        RotateOutcome::Retried { session } => {
            assert_eq!(session.client_id.as_ref(), Some(&app.id));
            assert_eq!(session.scope.as_deref(), Some(scope));
        }
        other => panic!("expected Retried, got {other:?}"),
    }

    // Session tokens of a client's session work as any other's.
    let record = SessionTokenRecord {
        token_hash: token("wst-client"),
        session_id: opened.id,
        created_at: now,
        expires_at: now + Duration::minutes(15),
    };
    store
        .create_session_token(&record)
        .await
        .expect("create token");
    let owner = store
        .find_session_token(&record.token_hash)
        .await
        .expect("find token")
        .expect("stored");
    assert_eq!(owner.session_id, opened.id);
}

/// `revoke_client_sessions` revokes the client's live sessions only (not
/// its expired or already revoked ones, another client's, or a `/v1`
/// session of the same user), each with its revocation and event in one
/// transaction, even after the client was deleted; a second call finds
/// nothing left.
pub async fn revoke_client_sessions_revokes_only_that_clients_live_sessions(store: Arc<dyn Store>) {
    let now = base_time();
    let user = create_user(&*store, "olga@example.com", now - Duration::days(60)).await;
    let other = create_user(&*store, "pia@example.com", now).await;
    let app = create_client(&*store, "Tickets", now - Duration::days(60)).await;
    let wiki = create_client(&*store, "Wiki", now).await;
    let open = |who: UserId, client: &OAuthClient, at: DateTime<Utc>| {
        client_session(who, client, "openid", at, Duration::days(30))
    };
    let sessions = [
        open(user.id, &app, now - Duration::hours(2)),
        open(other.id, &app, now - Duration::hours(1)),
        open(user.id, &app, now - Duration::days(40)),
        open(user.id, &app, now - Duration::hours(3)),
        open(user.id, &wiki, now - Duration::hours(1)),
    ];
    for (s, r) in &sessions {
        store.create_session(s, r, &[]).await.expect("create");
    }
    let [(a, _), (b, _), (expired, _), (already, _), (elsewhere, _)] = sessions;
    let (own, _) = create_session(&*store, user.id, now, Duration::days(30)).await;
    let earlier = now - Duration::minutes(30);
    assert!(
        store
            .revoke_session(
                already.id,
                earlier,
                &session_revocation(already.id, now + Duration::minutes(15)),
                &[],
            )
            .await
            .expect("revoke")
    );
    store
        .delete_client(
            &app.id,
            &service_revocation(&app.id, now, now + Duration::minutes(15)),
            &[event("client.deleted", now)],
        )
        .await
        .expect("delete client");

    let until = now + Duration::minutes(15);
    let revoked = store
        .revoke_client_sessions(&app.id, now, until, &revoked_event)
        .await
        .expect("revoke client sessions");
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(revoked, expected);

    for id in [a.id, b.id] {
        let s = store.find_session(id).await.expect("find").expect("stored");
        assert_eq!(s.revoked_at, Some(now));
    }
    let untouched = [
        (expired.id, None),
        (already.id, Some(earlier)),
        (elsewhere.id, None),
        (own.id, None),
    ];
    for (id, revoked_at) in untouched {
        let s = store.find_session(id).await.expect("find").expect("stored");
        assert_eq!(s.revoked_at, revoked_at);
    }

    let mut subjects: Vec<uuid::Uuid> = store
        .list_active_revocations(now)
        .await
        .expect("revocations")
        .iter()
        .filter(|r| r.kind == RevocationKind::Session && r.until == until)
        .filter(|r| r.id != already.id.as_uuid())
        .map(|r| r.id)
        .collect();
    subjects.sort();
    assert_eq!(subjects, [expected[0].as_uuid(), expected[1].as_uuid()]);
    let mut announced: Vec<(String, String)> = outbox(&*store)
        .await
        .iter()
        .filter(|(_, e)| e.name == "session.revoked")
        .map(|(_, e)| {
            let field = |name: &str| e.data[name].as_str().unwrap_or_default().to_owned();
            (field("session_id"), field("user_id"))
        })
        .collect();
    announced.sort();
    // Each event names its own session's owner.
    let mut owners = vec![
        (a.id.to_string(), user.id.to_string()),
        (b.id.to_string(), other.id.to_string()),
    ];
    owners.sort();
    assert_eq!(announced, owners);

    let again = store
        .revoke_client_sessions(&app.id, now, until, &revoked_event)
        .await
        .expect("revoke again");
    assert!(again.is_empty());
    assert_eq!(outbox(&*store).await.len(), 3);
}
