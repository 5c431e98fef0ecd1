use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::json;
use warden_oauth::{AppleKey, AuthorizationRequest, ProviderKind, Secret};

use crate::keys::{self, TestKey};
use crate::op::{CLIENT_ID, Op, REDIRECT_URI};
use crate::{claims, config, discover, sign_in};

#[tokio::test]
async fn apple_gets_an_es256_client_secret_and_a_form_post_callback() {
    let op = Op::start().await;
    op.accept_any_client_secret();
    let id_token_key = TestKey::rsa(0, "apple-1");
    op.set_jwks(keys::jwks(&[&id_token_key]));
    let (developer_key, pem) = TestKey::ec("KEY123");
    let mut config = config(ProviderKind::Apple, &op.base);
    config.client_secret = None;
    config.apple = Some(AppleKey {
        team_id: "TEAM42".into(),
        key_id: "KEY123".into(),
        private_key_pem: Secret::new(pem),
    });
    let provider = discover(config).await;

    assert!(provider.uses_form_post());
    let url = provider.authorization_url(&AuthorizationRequest {
        redirect_uri: REDIRECT_URI,
        state: "st",
        nonce: "n",
        pkce_challenge: None,
    });
    assert!(
        url.contains("response_mode=form_post") && url.contains("scope=openid+email+name"),
        "{url}"
    );

    let now = Utc::now();
    let mut c = claims(&op, now);
    c["email_verified"] = json!("true");
    let profile = sign_in(&provider, &op, Some(id_token_key.sign(&c)), now)
        .await
        .unwrap();
    assert!(profile.email_verified, "Apple's \"true\" string counts");

    let secret = op
        .received_client_secret()
        .expect("a client secret was sent");
    let header = jsonwebtoken::decode_header(&secret).unwrap();
    assert_eq!(
        (header.alg, header.kid.as_deref()),
        (Algorithm::ES256, Some("KEY123"))
    );
    let public = developer_key.jwk();
    let decoding = DecodingKey::from_ec_components(
        public["x"].as_str().unwrap(),
        public["y"].as_str().unwrap(),
    )
    .unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["https://appleid.apple.com"]);
    validation.set_issuer(&["TEAM42"]);
    let secret_claims = jsonwebtoken::decode::<serde_json::Value>(&secret, &decoding, &validation)
        .unwrap()
        .claims;
    assert_eq!(secret_claims["sub"], CLIENT_ID);
    let lifetime = secret_claims["exp"].as_i64().unwrap() - secret_claims["iat"].as_i64().unwrap();
    assert!(lifetime > 0 && lifetime <= 300, "{lifetime}");
}
