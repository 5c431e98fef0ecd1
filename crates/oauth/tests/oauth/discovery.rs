use warden_oauth::{OAuthError, Provider, ProviderKind};

use crate::config;
use crate::op::Op;

#[tokio::test]
async fn unreachable_discovery_names_the_provider_and_the_url() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = Provider::discover(config(ProviderKind::Oidc, &issuer), reqwest::Client::new())
        .await
        .unwrap_err();
    assert!(
        matches!(error, OAuthError::ProviderError { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("provider test"), "{text}");
    assert!(
        text.contains(&format!("{issuer}/.well-known/openid-configuration")),
        "{text}"
    );
}

#[tokio::test]
async fn a_document_for_another_issuer_is_refused() {
    let op = Op::start().await;
    op.set_document_issuer("https://evil.example");
    let error = Provider::discover(
        config(ProviderKind::Gitlab, &op.base),
        reqwest::Client::new(),
    )
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("evil.example") && text.contains(&op.base),
        "{text}"
    );
}

#[tokio::test]
async fn an_invalid_configuration_is_refused_before_any_request() {
    let mut invalid = config(ProviderKind::Oidc, "http://idp.example");
    invalid.id = "Not A Slug".into();
    let error = Provider::discover(invalid, reqwest::Client::new())
        .await
        .unwrap_err();
    assert!(matches!(error, OAuthError::Config(_)), "{error:?}");
}
