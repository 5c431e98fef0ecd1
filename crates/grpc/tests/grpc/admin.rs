//! `warden.v1.AdminService`: authorization first, then each RPC's happy
//! path and error codes.

use tonic::Code;
use warden_grpc::pb;
use warden_testkit::{STRONG_PASSWORD, spawn_app};

use crate::{assert_err, with_bearer};

#[tokio::test]
async fn admin_calls_need_a_token_of_a_current_admin() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut admin_client = app.admin_client().await;
    let list = pb::ListUsersRequest::default();
    assert_err(
        admin_client.list_users(list.clone()).await,
        Code::Unauthenticated,
        "invalid_token",
    );
    assert_err(
        admin_client
            .list_users(with_bearer(list.clone(), &user.access))
            .await,
        Code::PermissionDenied,
        "forbidden",
    );
    let ban = pb::BanUserRequest {
        user_id: user.user_id.clone(),
        reason: None,
    };
    assert_err(
        admin_client.ban_user(with_bearer(ban, &user.access)).await,
        Code::PermissionDenied,
        "forbidden",
    );
}

#[tokio::test]
async fn ban_revokes_live_tokens_and_unban_lets_the_user_sign_in_again() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    let mut client = app.admin_client().await;
    let banned = client
        .ban_user(with_bearer(
            pb::BanUserRequest {
                user_id: user.user_id.clone(),
                reason: Some("spam".into()),
            },
            &admin.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(banned.status, "banned");
    let mut auth = app.auth_client().await;
    assert_err(
        auth.validate(pb::ValidateRequest {
            token: user.access.clone(),
        })
        .await,
        Code::Unauthenticated,
        "token_revoked",
    );
    let events = app.outbox_names().await;
    assert!(events.iter().any(|e| e == "user.banned"), "{events:?}");

    let unbanned = client
        .unban_user(with_bearer(
            pb::UnbanUserRequest {
                user_id: user.user_id.clone(),
            },
            &admin.access,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(unbanned.status, "active");
    assert_eq!(app.signin(&user.email, STRONG_PASSWORD).await.status(), 200);
    // Old sessions stay revoked.
    assert_eq!(app.validate(&user.access).await.status(), 401);
}

#[tokio::test]
async fn ban_and_unban_refuse_unknown_users_and_self_bans() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let mut client = app.admin_client().await;
    let ban = |id: &str| {
        with_bearer(
            pb::BanUserRequest {
                user_id: id.to_owned(),
                reason: None,
            },
            &admin.access,
        )
    };
    assert_err(
        client.ban_user(ban(&admin.user_id)).await,
        Code::InvalidArgument,
        "invalid_request",
    );
    let unknown = warden_core::UserId::new().to_string();
    assert_err(
        client.ban_user(ban(&unknown)).await,
        Code::NotFound,
        "not_found",
    );
    assert_err(
        client.ban_user(ban("nope")).await,
        Code::NotFound,
        "not_found",
    );
    let too_long_reason = with_bearer(
        pb::BanUserRequest {
            user_id: app.new_user().await.user_id,
            reason: Some("x".repeat(501)),
        },
        &admin.access,
    );
    assert_err(
        client.ban_user(too_long_reason).await,
        Code::InvalidArgument,
        "invalid_request",
    );
    let unban = with_bearer(pb::UnbanUserRequest { user_id: unknown }, &admin.access);
    assert_err(client.unban_user(unban).await, Code::NotFound, "not_found");
    // The admin was not banned by any of that.
    assert_eq!(app.validate(&admin.access).await.status(), 200);
}

#[tokio::test]
async fn set_roles_replaces_roles_and_refuses_bad_ones() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    let mut client = app.admin_client().await;
    let set = |id: &str, roles: &[&str]| {
        with_bearer(
            pb::SetRolesRequest {
                user_id: id.to_owned(),
                roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            },
            &admin.access,
        )
    };
    let updated = client
        .set_roles(set(&user.user_id, &["user", "billing", "billing"]))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(updated.roles, vec!["billing", "user"]);
    // Tokens carry the new roles from the next refresh.
    let refreshed = app.refresh(&user.refresh).await;
    let body: serde_json::Value = refreshed.json().await.unwrap();
    let identity: serde_json::Value = app
        .validate(body["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(identity["roles"], serde_json::json!(["billing", "user"]));

    assert_err(
        client.set_roles(set(&user.user_id, &["Not A Role"])).await,
        Code::InvalidArgument,
        "invalid_request",
    );
    let unknown = warden_core::UserId::new().to_string();
    assert_err(
        client.set_roles(set(&unknown, &["user"])).await,
        Code::NotFound,
        "not_found",
    );
}

#[tokio::test]
async fn list_users_pages_and_filters() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let first = app.new_user().await;
    let second = app.new_user().await;
    let mut client = app.admin_client().await;
    let list = |limit: Option<u32>, cursor: Option<String>, q: Option<String>| {
        with_bearer(pb::ListUsersRequest { limit, cursor, q }, &admin.access)
    };
    let page = client
        .list_users(list(Some(2), None, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.users.len(), 2);
    assert_eq!(page.users[0].id, admin.user_id);
    assert_eq!(page.users[1].id, first.user_id);
    let rest = client
        .list_users(list(Some(2), page.next_cursor, None))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.users.len(), 1);
    assert_eq!(rest.users[0].id, second.user_id);
    assert_eq!(rest.next_cursor, None);

    let filtered = client
        .list_users(list(None, None, Some(second.email.clone())))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(filtered.users.len(), 1);
    assert_eq!(filtered.users[0].email, second.email);

    assert_err(
        client.list_users(list(Some(0), None, None)).await,
        Code::InvalidArgument,
        "invalid_request",
    );
    assert_err(
        client
            .list_users(list(None, Some("not-a-cursor".into()), None))
            .await,
        Code::InvalidArgument,
        "invalid_request",
    );
}
