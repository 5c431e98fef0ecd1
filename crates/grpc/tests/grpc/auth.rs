//! `warden.v1.AuthService`: every RPC's happy path and error codes, and
//! that gRPC shares HTTP's throttling, audit log and events.

use serde_json::Value;
use tonic::{Code, Request};
use warden_grpc::pb;
use warden_testkit::{MailKind, STRONG_PASSWORD, spawn_app, unique_email};

use crate::{assert_err, assert_status, with_bearer};

fn sign_up_request(email: &str) -> pb::SignUpRequest {
    pb::SignUpRequest {
        email: email.to_owned(),
        password: STRONG_PASSWORD.to_owned(),
        username: Some("Alice".into()),
    }
}

#[tokio::test]
async fn sign_up_returns_the_user_and_a_pair_that_validates() {
    let app = spawn_app().await;
    let mut client = app.auth_client().await;
    let email = unique_email();
    let response = client
        .sign_up(sign_up_request(&email.to_uppercase()))
        .await
        .unwrap()
        .into_inner();
    let user = response.user.unwrap();
    let tokens = response.tokens.unwrap();
    assert_eq!(user.email, email, "stored lower-cased");
    assert_eq!(user.username.as_deref(), Some("Alice"));
    assert_eq!(user.roles, vec!["user"]);
    assert_eq!(user.status, "active");
    assert!(chrono::DateTime::parse_from_rfc3339(&user.created_at).is_ok());
    assert!(!user.email_verified, "no link followed yet");
    assert!(user.has_password);
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 900);
    assert!(tokens.refresh_token.starts_with("wrt_"));

    let identity = client
        .validate(pb::ValidateRequest {
            token: tokens.access_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(identity.active);
    assert_eq!(identity.sub, user.id);
    assert_eq!(identity.sid, tokens.session_id);
    assert_eq!(identity.roles, vec!["user"]);
    assert_eq!(identity.token_type, "access_token");
    assert_eq!(identity.exp - identity.iat, 900);

    // The same account over HTTP: one service behind both transports.
    assert_eq!(app.validate(&tokens.access_token).await.status(), 200);
    assert_eq!(app.signin(&email, STRONG_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn sign_up_refuses_bad_input_weak_passwords_and_taken_emails() {
    let app = spawn_app().await;
    let mut client = app.auth_client().await;
    let bad_email = client
        .sign_up(pb::SignUpRequest {
            email: "not-an-email".into(),
            ..sign_up_request("")
        })
        .await;
    assert_err(bad_email, Code::InvalidArgument, "invalid_request");
    let weak = client
        .sign_up(pb::SignUpRequest {
            password: "password".into(),
            ..sign_up_request(&unique_email())
        })
        .await;
    assert_err(weak, Code::InvalidArgument, "weak_password");
    let email = unique_email();
    client.sign_up(sign_up_request(&email)).await.unwrap();
    let taken = client.sign_up(sign_up_request(&email)).await;
    assert_err(taken, Code::AlreadyExists, "email_taken");
}

#[tokio::test]
async fn a_message_over_64_kib_is_refused_before_it_is_parsed() {
    let app = spawn_app().await;
    let mut client = app.auth_client().await;
    let huge = client
        .sign_up(pb::SignUpRequest {
            password: "x".repeat(100 * 1024),
            ..sign_up_request(&unique_email())
        })
        .await
        .unwrap_err();
    assert_eq!(huge.code(), Code::OutOfRange, "{huge:?}");
}

#[tokio::test]
async fn sign_in_opens_a_session_and_refuses_wrong_credentials_alike() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut client = app.auth_client().await;
    let tokens = client
        .sign_in(pb::SignInRequest {
            email: user.email.clone(),
            password: STRONG_PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_ne!(tokens.session_id, user.session_id);
    assert_eq!(app.validate(&tokens.access_token).await.status(), 200);

    let wrong = client
        .sign_in(pb::SignInRequest {
            email: user.email.clone(),
            password: "wrong horse battery staple".into(),
        })
        .await
        .unwrap_err();
    let unknown = client
        .sign_in(pb::SignInRequest {
            email: unique_email(),
            password: STRONG_PASSWORD.into(),
        })
        .await
        .unwrap_err();
    assert_status(&wrong, Code::Unauthenticated, "invalid_credentials");
    assert_status(&unknown, Code::Unauthenticated, "invalid_credentials");
    assert_eq!(wrong.message(), unknown.message());
    let bad_input = client
        .sign_in(pb::SignInRequest {
            email: String::new(),
            password: STRONG_PASSWORD.into(),
        })
        .await;
    assert_err(bad_input, Code::InvalidArgument, "invalid_request");
}

#[tokio::test]
async fn sign_in_shares_the_per_account_lockout_with_http() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    // Four failures over HTTP and one over gRPC reach the threshold of five.
    for _ in 0..4 {
        assert_eq!(
            app.signin(&user.email, "wrong horse battery")
                .await
                .status(),
            401
        );
    }
    let mut client = app.auth_client().await;
    let wrong = pb::SignInRequest {
        email: user.email.clone(),
        password: "wrong horse battery".into(),
    };
    assert_err(
        client.sign_in(wrong.clone()).await,
        Code::Unauthenticated,
        "invalid_credentials",
    );
    let throttled = client
        .sign_in(pb::SignInRequest {
            password: STRONG_PASSWORD.into(),
            ..wrong
        })
        .await
        .unwrap_err();
    assert_status(&throttled, Code::ResourceExhausted, "too_many_attempts");
    let retry_after: u64 = throttled
        .metadata()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    // And HTTP sees the same lock.
    assert_eq!(app.signin(&user.email, STRONG_PASSWORD).await.status(), 429);
}

#[tokio::test]
async fn sign_in_of_a_banned_account_is_permission_denied() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let user = app.new_user().await;
    let banned = app
        .call(
            reqwest::Method::POST,
            &format!("/v1/admin/users/{}/ban", user.user_id),
            Some(&admin.access),
            None,
        )
        .await;
    assert_eq!(banned.status(), 200);
    let mut client = app.auth_client().await;
    let refused = client
        .sign_in(pb::SignInRequest {
            email: user.email.clone(),
            password: STRONG_PASSWORD.into(),
        })
        .await;
    assert_err(refused, Code::PermissionDenied, "account_banned");
}

#[tokio::test]
async fn grpc_calls_write_the_same_audit_entries_and_events_as_http() {
    let app = spawn_app().await;
    let admin = app.new_admin().await;
    let mut client = app.auth_client().await;
    let email = unique_email();
    let signed_up = client
        .sign_up(sign_up_request(&email))
        .await
        .unwrap()
        .into_inner();
    let user_id = signed_up.user.unwrap().id;
    let failed = client
        .sign_in(pb::SignInRequest {
            email: email.clone(),
            password: "wrong horse battery".into(),
        })
        .await;
    assert!(failed.is_err());

    let audit: Value = app
        .get_auth(&format!("/v1/admin/audit?user={user_id}"), &admin.access)
        .await
        .json()
        .await
        .unwrap();
    let entries = audit["entries"].as_array().unwrap();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(actions, vec![("signin", "failure"), ("signup", "success")]);
    for entry in entries {
        assert_eq!(entry["ip"], "127.0.0.1", "the gRPC peer is recorded");
        assert!(
            entry["user_agent"].as_str().unwrap().contains("tonic"),
            "{entry}"
        );
    }
    let events = app.outbox_names().await;
    for name in ["user.created", "user.signed_in", "user.sign_in_failed"] {
        assert!(events.iter().any(|e| e == name), "{name} in {events:?}");
    }
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_revokes_the_session() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut client = app.auth_client().await;
    let refresh = |token: &str| pb::RefreshRequest {
        refresh_token: token.to_owned(),
    };
    let next = client
        .refresh(refresh(&user.refresh))
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    assert_eq!(next.session_id, user.session_id);
    assert_ne!(next.refresh_token, user.refresh);
    assert_eq!(app.validate(&next.access_token).await.status(), 200);

    let reused = client.refresh(refresh(&user.refresh)).await;
    assert_err(reused, Code::Unauthenticated, "refresh_token_reused");
    let after_reuse = client.refresh(refresh(&next.refresh_token)).await;
    assert_err(after_reuse, Code::Unauthenticated, "session_revoked");
    let revoked = client
        .validate(pb::ValidateRequest {
            token: next.access_token,
        })
        .await;
    assert_err(revoked, Code::Unauthenticated, "token_revoked");

    let garbage = client.refresh(refresh("wrt_nope")).await;
    assert_err(garbage, Code::Unauthenticated, "invalid_refresh_token");
}

#[tokio::test]
async fn sign_out_ends_the_bearer_session_or_the_refresh_tokens() {
    let app = spawn_app().await;
    let mut client = app.auth_client().await;

    let user = app.new_user().await;
    client
        .sign_out(with_bearer(pb::SignOutRequest::default(), &user.access))
        .await
        .unwrap();
    let revoked = client
        .validate(pb::ValidateRequest {
            token: user.access.clone(),
        })
        .await;
    assert_err(revoked, Code::Unauthenticated, "token_revoked");
    let again = client
        .sign_out(with_bearer(pb::SignOutRequest::default(), &user.access))
        .await;
    assert_err(again, Code::Unauthenticated, "token_revoked");

    let other = app.new_user().await;
    client
        .sign_out(pb::SignOutRequest {
            refresh_token: Some(other.refresh.clone()),
        })
        .await
        .unwrap();
    assert_eq!(app.refresh(&other.refresh).await.status(), 401);
    assert_eq!(app.validate(&other.access).await.status(), 401);

    let nothing = client.sign_out(pb::SignOutRequest::default()).await;
    assert_err(nothing, Code::Unauthenticated, "invalid_token");
    let unknown = client
        .sign_out(pb::SignOutRequest {
            refresh_token: Some("wrt_unknown".into()),
        })
        .await;
    assert_err(unknown, Code::Unauthenticated, "invalid_refresh_token");
    let mut malformed = Request::new(pb::SignOutRequest::default());
    malformed
        .metadata_mut()
        .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    assert_err(
        client.sign_out(malformed).await,
        Code::Unauthenticated,
        "invalid_token",
    );
}

#[tokio::test]
async fn validate_takes_the_token_from_the_message_or_the_metadata() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut client = app.auth_client().await;
    let from_metadata = client
        .validate(with_bearer(pb::ValidateRequest::default(), &user.access))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(from_metadata.sub, user.user_id);

    let none = client.validate(pb::ValidateRequest::default()).await;
    assert_err(none, Code::Unauthenticated, "invalid_token");
    let forged = format!("{}x", user.access);
    assert_err(
        client.validate(pb::ValidateRequest { token: forged }).await,
        Code::Unauthenticated,
        "invalid_token",
    );
    let too_long = "a".repeat(10_000);
    assert_err(
        client
            .validate(pb::ValidateRequest { token: too_long })
            .await,
        Code::Unauthenticated,
        "invalid_token",
    );
    app.clock.advance(chrono::Duration::seconds(900 + 31));
    let expired = client
        .validate(pb::ValidateRequest {
            token: user.access.clone(),
        })
        .await;
    assert_err(expired, Code::Unauthenticated, "token_expired");
}

async fn get_me(
    client: &mut pb::auth_service_client::AuthServiceClient<tonic::transport::Channel>,
    access: &str,
) -> pb::User {
    client
        .get_user(with_bearer(pb::GetUserRequest {}, access))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap()
}

#[tokio::test]
async fn get_user_returns_the_callers_account() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let mut client = app.auth_client().await;
    let me = get_me(&mut client, &user.access).await;
    assert_eq!(me.id, user.user_id);
    assert_eq!(me.email, user.email);
    assert_eq!(me.username, None);
    assert!(!me.email_verified);
    assert!(me.has_password);

    // Following the mailed link shows over gRPC at once.
    let token = app.mailed_token(MailKind::VerifyEmail, &user.email).await;
    let verified = app
        .post("/v1/email/verify", serde_json::json!({"token": token}))
        .await;
    assert_eq!(verified.status(), 200);
    let me = get_me(&mut client, &user.access).await;
    assert!(me.email_verified);
    assert!(me.has_password);

    assert_err(
        client.get_user(pb::GetUserRequest {}).await,
        Code::Unauthenticated,
        "invalid_token",
    );
    assert_err(
        client
            .get_user(with_bearer(pb::GetUserRequest {}, "not.a.jwt"))
            .await,
        Code::Unauthenticated,
        "invalid_token",
    );
}

#[tokio::test]
async fn sign_in_of_an_account_with_a_second_factor_continues_at_sign_in_mfa() {
    use warden_core::mfa::{TotpSecret, totp_code_at};
    use warden_core::ports::Clock as _;

    let app = spawn_app().await;
    let user = app.new_user().await;
    let started: Value = app
        .call(
            reqwest::Method::POST,
            "/v1/mfa/totp",
            Some(&user.access),
            Some(serde_json::json!({})),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let step = || app.clock.now().timestamp() / 30;
    let confirmed = app
        .call(
            reqwest::Method::POST,
            "/v1/mfa/totp/confirm",
            Some(&user.access),
            Some(serde_json::json!({"code": totp_code_at(&secret, step())})),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    app.clock.advance(chrono::Duration::seconds(30));

    let mut client = app.auth_client().await;
    let first = client
        .sign_in(pb::SignInRequest {
            email: user.email.clone(),
            password: STRONG_PASSWORD.into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(first.tokens.is_none(), "no tokens before the second factor");
    let challenge = first.mfa.expect("the second step");
    assert!(challenge.mfa_token.starts_with("wmf_"));
    assert_eq!(challenge.methods, ["totp", "recovery_code"]);

    let second = |totp_code: Option<String>, recovery_code: Option<String>| pb::SignInMfaRequest {
        mfa_token: challenge.mfa_token.clone(),
        totp_code,
        recovery_code,
    };
    assert_err(
        client.sign_in_mfa(second(None, None)).await,
        Code::InvalidArgument,
        "invalid_request",
    );
    assert_err(
        client
            .sign_in_mfa(second(Some("000000".into()), None))
            .await,
        Code::Unauthenticated,
        "invalid_mfa_code",
    );
    let tokens = client
        .sign_in_mfa(second(Some(totp_code_at(&secret, step())), None))
        .await
        .unwrap()
        .into_inner()
        .tokens
        .unwrap();
    let identity = client
        .validate(pb::ValidateRequest {
            token: tokens.access_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(identity.acr, "aal2");
    assert_eq!(identity.amr, ["pwd", "otp", "mfa"]);
    assert_eq!(identity.auth_time, app.clock.now().timestamp());
    assert_err(
        client
            .sign_in_mfa(second(Some(totp_code_at(&secret, step() + 1)), None))
            .await,
        Code::Unauthenticated,
        "mfa_token_invalid",
    );
}
