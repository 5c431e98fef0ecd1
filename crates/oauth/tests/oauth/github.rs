use chrono::Utc;
use serde_json::json;
use warden_oauth::{AuthorizationRequest, ProviderKind};

use crate::op::{Op, REDIRECT_URI};
use crate::{config, discover, sign_in};

async fn github(emails: serde_json::Value) -> (Op, warden_oauth::Provider) {
    let op = Op::start().await;
    op.set_github(
        json!({"id": 583231, "login": "octocat", "name": null}),
        emails,
    );
    let mut config = config(ProviderKind::Github, &op.base);
    config.api_base = Some(op.base.clone());
    (op.clone(), discover(config).await)
}

#[tokio::test]
async fn github_signs_in_with_the_verified_primary_address() {
    let (op, provider) = github(json!([
        {"email": "old@example.com", "primary": false, "verified": true, "visibility": null},
        {"email": "octo@example.com", "primary": true, "verified": true, "visibility": "public"},
    ]))
    .await;
    assert!(provider.uses_pkce());
    let url = provider.authorization_url(&AuthorizationRequest {
        redirect_uri: REDIRECT_URI,
        state: "st",
        nonce: "n",
        pkce_challenge: Some("ch"),
    });
    assert!(
        url.starts_with(&format!("{}/login/oauth/authorize?", op.base)),
        "{url}"
    );
    assert!(
        url.contains("scope=read%3Auser+user%3Aemail") && !url.contains("nonce"),
        "{url}"
    );

    let profile = sign_in(&provider, &op, None, Utc::now()).await.unwrap();
    assert_eq!(profile.issuer, "https://github.com");
    assert_eq!(profile.subject, "583231");
    assert_eq!(profile.email.as_deref(), Some("octo@example.com"));
    assert!(profile.email_verified);
    assert_eq!(profile.name.as_deref(), Some("octocat"));
}

#[tokio::test]
async fn an_unverified_primary_address_gives_no_email() {
    let (op, provider) = github(json!([
        {"email": "octo@example.com", "primary": true, "verified": false, "visibility": "public"},
        {"email": "other@example.com", "primary": false, "verified": true, "visibility": null},
    ]))
    .await;
    let profile = sign_in(&provider, &op, None, Utc::now()).await.unwrap();
    assert_eq!(profile.email, None);
    assert!(!profile.email_verified);
    assert_eq!(profile.subject, "583231");
}
