//! The OpenID Foundation's basic OP checks that run without a browser
//! (the names in comments are the conformance suite's test modules).

use chrono::Duration;
use serde_json::Value;
use warden_testkit::{STRONG_PASSWORD, spawn_app};

use super::*;
use crate::pages::post_form;

#[tokio::test]
async fn prompt_none_answers_at_once_signed_in_or_not() {
    // oidcc-prompt-none-logged-in, oidcc-prompt-none-not-logged-in
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, true).await;
    let (_, challenge) = pkce();
    code_for(
        &app,
        &mut jar,
        &client.id,
        &challenge,
        &[("prompt", "none")],
    )
    .await;

    let mut nobody = Jar::default();
    let response = get(
        &app,
        &code_request(&client.id, &challenge, &[("prompt", "none")]),
        &mut nobody,
    )
    .await;
    assert_eq!(response.status(), 303);
    let params = callback_params(location(&response));
    assert_eq!(params["error"], "login_required");
    assert_eq!(params["state"], "st-123");

    // A third-party client without consent: consent_required, no page.
    let third = web_app(&app, &admin, false).await;
    let response = get(
        &app,
        &code_request(&third.id, &challenge, &[("prompt", "none")]),
        &mut jar,
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        callback_params(location(&response))["error"],
        "consent_required"
    );
}

#[tokio::test]
async fn prompt_login_and_max_age_send_a_signed_in_person_to_sign_in_again() {
    // oidcc-prompt-login, oidcc-max-age-1
    let app = spawn_app().await;
    let (email, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, true).await;
    let (verifier, challenge) = pkce();
    app.clock.advance(Duration::seconds(5));

    for extra in [("prompt", "login"), ("max_age", "1")] {
        let response = get(
            &app,
            &code_request(&client.id, &challenge, &[extra]),
            &mut jar,
        )
        .await;
        assert_eq!(response.status(), 303, "{extra:?}");
        let to_sign_in = location(&response).to_owned();
        assert!(to_sign_in.starts_with("/signin?rd="), "{to_sign_in}");
        assert!(to_sign_in.contains("prompt=login"), "{to_sign_in}");
        // The form shows though the person is signed in.
        let page = get(&app, &to_sign_in, &mut jar).await;
        assert_eq!(page.status(), 200);
        let rd = form_urlencoded::parse(to_sign_in.split_once('?').unwrap().1.as_bytes())
            .find(|(k, _)| k == "rd")
            .unwrap()
            .1
            .into_owned();
        assert!(rd.contains("signed_in_after="), "{rd}");
        app.clock.advance(Duration::seconds(2));
        let signed = post_form(
            &app,
            "/signin",
            &mut jar,
            &[
                ("email", &email),
                ("password", STRONG_PASSWORD),
                ("rd", &rd),
            ],
        )
        .await;
        assert_eq!(signed.status(), 303);
        assert_eq!(location(&signed), rd);
        // Back at authorize after a form: the page that moves on.
        let back = continue_target(get(&app, &rd, &mut jar).await).await;
        let code = callback_params(&back)["code"].clone();
        let tokens = exchange(&app, &client, &code, &verifier).await;
        let id = verified_id_token(&app, tokens["id_token"].as_str().unwrap(), &client.id).await;
        assert_eq!(
            id["auth_time"].as_i64().unwrap(),
            app.auth.now().timestamp(),
            "auth_time is the new sign-in"
        );
        app.clock.advance(Duration::seconds(5));
    }
}

#[tokio::test]
async fn a_code_works_once_and_a_replay_revokes_what_it_issued() {
    // oidcc-codereuse, oidcc-codereuse-30seconds
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, true).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &mut jar, &client.id, &challenge, &[]).await;
    let tokens = exchange(&app, &client, &code, &verifier).await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(app.validate(access).await.status(), 200);

    let again = token(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_oauth_error(again, 400, "invalid_grant").await;
    assert_eq!(app.validate(access).await.status(), 401, "revoked");
    let refresh = token(
        &app,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_oauth_error(refresh, 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_code_expires_after_a_minute() {
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, true).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &mut jar, &client.id, &challenge, &[]).await;
    app.clock.advance(Duration::seconds(61));
    let late = token(
        &app,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    assert_oauth_error(late, 400, "invalid_grant").await;
}

#[tokio::test]
async fn an_unregistered_or_slightly_different_redirect_uri_is_never_redirected_to() {
    // oidcc-ensure-registered-redirect-uri, oidcc-ensure-redirect-uri-in-authorization-request
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, true).await;
    let (_, challenge) = pkce();
    for uri in [
        "http://127.0.0.1:9/callback/",
        "http://127.0.0.1:9/Callback",
        "http://127.0.0.1:9/callback?x=1",
        "http://127.0.0.1:99/callback",
        "https://evil.example/callback",
        "",
    ] {
        let response = get(
            &app,
            &code_request(&client.id, &challenge, &[("redirect_uri", uri)]),
            &mut jar,
        )
        .await;
        assert_eq!(response.status(), 400, "{uri}");
        assert!(response.headers().get("location").is_none(), "{uri}");
        let html = response.text().await.unwrap();
        assert!(html.contains("address it hasn&#39;t registered"), "{html}");
    }
    // An unknown client: the same, never a redirect.
    let response = get(
        &app,
        &code_request("nosuchclient", &challenge, &[]),
        &mut jar,
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

#[tokio::test]
async fn request_errors_go_back_to_the_client_with_state() {
    // oidcc-response-type-missing, and the other checks of the request
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, true).await;
    let (_, challenge) = pkce();
    for (extra, error) in [
        (("response_type", ""), "invalid_request"),
        (("response_type", "token"), "unsupported_response_type"),
        (
            ("response_type", "code id_token"),
            "unsupported_response_type",
        ),
        (("scope", "openid admin:everything"), "invalid_scope"),
        (("code_challenge_method", "plain"), "invalid_request"),
        (("code_challenge", ""), "invalid_request"),
        (("prompt", "none login"), "invalid_request"),
        (("max_age", "-1"), "invalid_request"),
        (("request", "eyJ.x.y"), "request_not_supported"),
    ] {
        let response = get(
            &app,
            &code_request(&client.id, &challenge, &[extra]),
            &mut jar,
        )
        .await;
        assert_eq!(response.status(), 303, "{extra:?}");
        let params = callback_params(location(&response));
        assert_eq!(params["error"], error, "{extra:?}");
        assert_eq!(params["state"], "st-123");
        assert!(!params.contains_key("code"));
    }
}

#[tokio::test]
async fn the_code_flow_without_a_nonce_works_and_the_id_token_has_none() {
    // oidcc-codereuse's sibling: oidcc-ensure-request-without-nonce-succeeds-for-code-flow
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, true).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &mut jar, &client.id, &challenge, &[("nonce", "")]).await;
    let tokens = exchange(&app, &client, &code, &verifier).await;
    let id = verified_id_token(&app, tokens["id_token"].as_str().unwrap(), &client.id).await;
    assert!(id.get("nonce").is_none(), "{id}");
}

#[tokio::test]
async fn pkce_is_checked_and_public_clients_cannot_go_without_it() {
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, true).await;
    let (_, challenge) = pkce();
    let (other_verifier, _) = pkce();
    let code = code_for(&app, &mut jar, &client.id, &challenge, &[]).await;
    for verifier in [Some(other_verifier.as_str()), None] {
        let mut fields = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
        ];
        if let Some(v) = verifier {
            fields.push(("code_verifier", v));
        }
        let response = token(&app, &client, &fields).await;
        assert_oauth_error(response, 400, "invalid_grant").await;
    }

    let public = register(
        &app,
        &admin,
        serde_json::json!({
            "type": "public",
            "name": "Phone app",
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"],
            "first_party": true,
        }),
    )
    .await;
    let response = get(
        &app,
        &code_request(&public.id, "", &[("code_challenge_method", "")]),
        &mut jar,
    )
    .await;
    assert_eq!(response.status(), 303);
    let params = callback_params(location(&response));
    assert_eq!(params["error"], "invalid_request");
    // With PKCE it works, and no secret is asked.
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &mut jar, &public.id, &challenge, &[]).await;
    let tokens = exchange(&app, &public, &code, &verifier).await;
    assert!(tokens["refresh_token"].is_string());
}

#[tokio::test]
async fn the_token_endpoint_authenticates_clients_and_says_why_not() {
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, true).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &mut jar, &client.id, &challenge, &[]).await;
    let wrong = Registered {
        id: client.id.clone(),
        secret: Some("wcs_wrong".into()),
    };
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CALLBACK),
        ("code_verifier", verifier.as_str()),
    ];
    let response = token(&app, &wrong, &fields).await;
    assert!(response.headers().contains_key("www-authenticate"));
    assert_oauth_error(response, 401, "invalid_client").await;
    // No credentials for a confidential client.
    let bare = app
        .client
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", client.id.as_str()),
            ("code", code.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_oauth_error(bare, 401, "invalid_client").await;
    // A failed authentication did not spend the code: the right client
    // still exchanges it (client_secret_post this time).
    let post = app
        .client
        .post(app.url("/oauth2/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier.as_str()),
            ("client_id", client.id.as_str()),
            ("client_secret", client.secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 200);

    for (body, error) in [
        (
            "grant_type=password&username=a&password=b",
            "unsupported_grant_type",
        ),
        ("code=x", "invalid_request"),
        (
            "grant_type=authorization_code&grant_type=authorization_code",
            "invalid_request",
        ),
        ("grant_type=authorization_code", "invalid_request"),
        (
            "grant_type=authorization_code&code=woc_nope&redirect_uri=x",
            "invalid_grant",
        ),
    ] {
        let response = app
            .client
            .post(app.url("/oauth2/token"))
            .basic_auth(&client.id, client.secret.as_deref())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_oauth_error(response, 400, error).await;
    }
    let json_body = app
        .client
        .post(app.url("/oauth2/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .json(&serde_json::json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    let body: Value = assert_oauth_error(json_body, 400, "invalid_request").await;
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("urlencoded")
    );
}
