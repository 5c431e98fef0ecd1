//! The authorization-code flow end to end: first and third-party clients,
//! consent, tokens, ID token, userinfo, refresh, logout, discovery.

use reqwest::StatusCode;
use serde_json::Value;
use warden_testkit::spawn_app;

use super::*;
use crate::pages::post_form;

#[tokio::test]
async fn a_first_party_app_gets_tokens_an_id_token_and_userinfo() {
    let app = spawn_app().await;
    let (email, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, true).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &mut jar, &client.id, &challenge, &[]).await;
    assert!(code.starts_with("woc_"), "{code}");

    let tokens = exchange(&app, &client, &code, &verifier).await;
    assert_eq!(tokens["scope"], "email openid");
    let access = tokens["access_token"].as_str().unwrap();
    assert!(
        tokens["refresh_token"]
            .as_str()
            .unwrap()
            .starts_with("wrt_")
    );
    let id = verified_id_token(&app, tokens["id_token"].as_str().unwrap(), &client.id).await;
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["email"], email.as_str());
    assert_eq!(id["email_verified"], false);
    assert_eq!(id["at_hash"], at_hash_rs256(access).as_str());
    assert_eq!(id["acr"], "aal1");
    assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    assert!(id["auth_time"].as_i64().unwrap() > 0);
    assert!(id["sid"].is_string());
    let header = jsonwebtoken::decode_header(tokens["id_token"].as_str().unwrap()).unwrap();
    assert_eq!(
        header.alg,
        jsonwebtoken::Algorithm::RS256,
        "the client's default"
    );

    // The access token is a Warden token like any other, scoped.
    let validated: Value = app.validate(access).await.json().await.unwrap();
    assert_eq!(validated["active"], true, "{validated}");

    for post in [false, true] {
        let request = if post {
            app.client
                .post(app.url("/oauth2/userinfo"))
                .form(&[("access_token", access)])
        } else {
            app.client
                .get(app.url("/oauth2/userinfo"))
                .bearer_auth(access)
        };
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let info: Value = response.json().await.unwrap();
        assert_eq!(info["sub"], id["sub"]);
        assert_eq!(info["email"], email.as_str());
        assert_eq!(info["email_verified"], false);
    }
}

#[tokio::test]
async fn userinfo_refuses_what_is_not_an_openid_token() {
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    // A Warden token of the person's own: no client, no openid.
    let own = app.new_user().await;
    let response = app
        .client
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(&own.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("insufficient_scope")
    );
    let client = web_app(&app, &admin, true).await;
    let (verifier, challenge) = pkce();
    let code = code_for(
        &app,
        &mut jar,
        &client.id,
        &challenge,
        &[("scope", "email")],
    )
    .await;
    let tokens = exchange(&app, &client, &code, &verifier).await;
    assert!(tokens.get("id_token").is_none(), "no openid, no ID token");
    let response = app
        .client
        .get(app.url("/oauth2/userinfo"))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    for bad in [None, Some("not-a-token")] {
        let mut request = app.client.get(app.url("/oauth2/userinfo"));
        if let Some(token) = bad {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("www-authenticate"));
    }
}

#[tokio::test]
async fn a_third_party_app_asks_for_consent_once_and_a_refusal_goes_back_as_access_denied() {
    let app = spawn_app().await;
    let (email, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, false).await;
    let (verifier, challenge) = pkce();
    let ask = code_request(&client.id, &challenge, &[]);

    let page = get(&app, &ask, &mut jar).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Allow Tickets to use your Warden account?"),
        "{html}"
    );
    assert!(html.contains("See your email address"), "{html}");
    assert!(html.contains(&email), "the page says who is signed in");

    // A form without the CSRF token changes nothing.
    let forged = app
        .client
        .post(app.url("/oauth2/authorize"))
        .header("cookie", jar.header())
        .form(&[
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", CALLBACK),
            ("scope", "openid email"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("decision", "allow"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let fields = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", CALLBACK),
        ("scope", "openid email"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let mut deny = fields.to_vec();
    deny.push(("decision", "deny"));
    let denied = continue_target(post_form(&app, "/oauth2/authorize", &mut jar, &deny).await).await;
    let params = callback_params(&denied);
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "st-123");

    let mut allow = fields.to_vec();
    allow.push(("decision", "allow"));
    let allowed =
        continue_target(post_form(&app, "/oauth2/authorize", &mut jar, &allow).await).await;
    let code = callback_params(&allowed)["code"].clone();
    exchange(&app, &client, &code, &verifier).await;

    // Remembered: the same scopes (or fewer) go straight back.
    code_for(
        &app,
        &mut jar,
        &client.id,
        &challenge,
        &[("scope", "openid")],
    )
    .await;
    // More scopes, or prompt=consent, ask again.
    let more = get(
        &app,
        &code_request(&client.id, &challenge, &[("scope", "openid email profile")]),
        &mut jar,
    )
    .await;
    assert_eq!(more.status(), 200);
    let again = get(
        &app,
        &code_request(&client.id, &challenge, &[("prompt", "consent")]),
        &mut jar,
    )
    .await;
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn refresh_rotates_on_the_clients_session_family_and_reuse_revokes_it() {
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, true).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &mut jar, &client.id, &challenge, &[]).await;
    let first = exchange(&app, &client, &code, &verifier).await;
    let refresh = first["refresh_token"].as_str().unwrap();

    // A client's refresh token is no /v1 refresh token.
    let v1 = app.refresh(refresh).await;
    assert_eq!(v1.status(), 401);

    let response = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    let second: Value = response.json().await.unwrap();
    assert!(second["access_token"].is_string(), "{second}");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert!(second["id_token"].is_string());

    // Another client cannot use it.
    let other = web_app(&app, &admin, true).await;
    let stolen = token(
        &app,
        &other,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_oauth_error(stolen, 400, "invalid_grant").await;

    // The first token again: reuse, and the family is gone.
    let reused = token(
        &app,
        &client,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_oauth_error(reused, 400, "invalid_grant").await;
    let after = token(
        &app,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", second["refresh_token"].as_str().unwrap()),
        ],
    )
    .await;
    assert_oauth_error(after, 400, "invalid_grant").await;
    let validated = app.validate(second["access_token"].as_str().unwrap()).await;
    assert_eq!(validated.status(), 401);
}

#[tokio::test]
async fn discovery_lists_what_exists() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = app.config.issuer();
    assert_eq!(doc["issuer"], issuer.as_str());
    for (key, path) in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
        ("introspection_endpoint", "/oauth2/introspect"),
        ("revocation_endpoint", "/oauth2/revoke"),
        ("end_session_endpoint", "/oauth2/logout"),
        ("jwks_uri", "/.well-known/jwks.json"),
    ] {
        let url = doc[key].as_str().unwrap();
        assert_eq!(url, format!("{}{path}", issuer.trim_end_matches('/')));
        // Every advertised endpoint answers (never 404).
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_ne!(response.status(), 404, "{key}");
    }
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert!(
        doc["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&"RS256".into())
    );
}

#[tokio::test]
async fn logout_with_a_hint_signs_out_and_returns_to_the_registered_uri_only() {
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, true).await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &mut jar, &client.id, &challenge, &[]).await;
    let tokens = exchange(&app, &client, &code, &verifier).await;
    let hint = tokens["id_token"].as_str().unwrap();

    let path = |uri: &str| {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("id_token_hint", hint);
        query.append_pair("post_logout_redirect_uri", uri);
        query.append_pair("state", "bye-1");
        format!("/oauth2/logout?{}", query.finish())
    };
    // Not registered: refused, nobody signed out.
    let refused = get(&app, &path("http://127.0.0.1:9/elsewhere"), &mut jar).await;
    assert_eq!(refused.status(), 400);
    assert!(refused.headers().get("location").is_none());
    assert_eq!(get(&app, "/account", &mut jar).await.status(), 200);
    // A forged hint: refused too.
    let forged = get(
        &app,
        &format!("/oauth2/logout?id_token_hint={}x", &hint[..hint.len() - 1]),
        &mut jar,
    )
    .await;
    assert_eq!(forged.status(), 400);

    let done = get(&app, &path("http://127.0.0.1:9/bye"), &mut jar).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "http://127.0.0.1:9/bye?state=bye-1");
    let account = get(&app, "/account", &mut jar).await;
    assert_eq!(account.status(), 303, "signed out");

    // Without a hint a signed-in person is asked first.
    let (_, mut other) = crate::pages::signed_in(&app).await;
    let ask = get(&app, "/oauth2/logout", &mut other).await;
    assert_eq!(ask.status(), 200);
    assert_eq!(get(&app, "/account", &mut other).await.status(), 200);
    let confirmed = post_form(&app, "/oauth2/logout", &mut other, &[]).await;
    assert_eq!(confirmed.status(), 303);
    assert_eq!(get(&app, "/account", &mut other).await.status(), 303);
}

#[tokio::test]
async fn forms_and_endpoints_refuse_what_they_must() {
    let app = spawn_app().await;
    let (_, mut jar, admin) = person_and_admin(&app).await;
    let client = web_app(&app, &admin, false).await;
    let (_, challenge) = pkce();

    // The consent form from a browser that is not signed in: sign in first.
    let mut nobody = Jar::default();
    let fields = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", CALLBACK),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("decision", "allow"),
    ];
    let response = post_form(&app, "/oauth2/authorize", &mut nobody, &fields).await;
    assert_eq!(response.status(), 303);
    assert!(
        location(&response).starts_with("/signin"),
        "{}",
        location(&response)
    );

    // The logout confirmation without its token: asked again, still signed in.
    let ask = get(&app, "/oauth2/logout", &mut jar).await;
    assert_eq!(ask.status(), 200);
    let forged = post_form(
        &app,
        "/oauth2/logout",
        &mut jar,
        &[("csrf_token", "forged")],
    )
    .await;
    assert_eq!(forged.status(), 200);
    assert_eq!(get(&app, "/account", &mut jar).await.status(), 200);

    // Userinfo: the token once, not twice.
    let own = app.new_user().await;
    let both = app
        .client
        .post(app.url("/oauth2/userinfo"))
        .bearer_auth(&own.access)
        .form(&[("access_token", own.access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), 400);

    // Introspection needs a client that holds a secret.
    let public = register(
        &app,
        &admin,
        serde_json::json!({
            "type": "public", "name": "Phone app", "redirect_uris": [CALLBACK],
        }),
    )
    .await;
    let response = app
        .client
        .post(app.url("/oauth2/introspect"))
        .form(&[
            ("client_id", public.id.as_str()),
            ("token", own.access.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_oauth_error(response, 401, "invalid_client").await;
}
