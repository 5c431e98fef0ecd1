//! Social sign-in against a local OpenID provider (warden-testkit's
//! `oidc`), through the real routes: the flow cookie and `state`, sign-up,
//! sign-in, the linking rules and the pre-account-takeover cases, forged ID
//! tokens, key rotation, `form_post`, the app code exchange, and linked
//! identities. The browser journey against a real provider is `browser.rs`.

use reqwest::Response;
use serde_json::{Value, json};
use warden::config::ProviderSection;
use warden_core::mail::MailKind;
use warden_testkit::oidc::{CLIENT_ID, CLIENT_SECRET, OidcProvider, Person};
use warden_testkit::{STRONG_PASSWORD, TestApp, spawn_app_with, unique_email};

use crate::pages::{Jar, get, location, post_form};

const FLOW: &str = "__Host-warden_oauth";

async fn app_with(op: &OidcProvider, tweak: impl FnOnce(&mut warden::config::Config)) -> TestApp {
    let provider: ProviderSection = serde_json::from_value(json!({
        "id": "op", "kind": "oidc", "label": "Test OP", "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "issuer": op.issuer,
    }))
    .unwrap();
    spawn_app_with(|config| {
        config.oauth.provider = vec![provider];
        tweak(config);
    })
    .await
}

/// The path and query of a URL on Warden's public address.
fn on_warden(url: &str) -> &str {
    let rest = url.strip_prefix(warden_testkit::ISSUER).unwrap_or(url);
    assert!(rest.starts_with('/'), "{url}");
    rest
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Starts a flow (`query` after `/v1/oauth/op/start?`) and goes through the
/// provider, which signs in whoever it was told to: the provider's redirect
/// back, not yet followed.
async fn to_provider_and_back(
    app: &TestApp,
    op: &OidcProvider,
    query: &str,
    jar: &mut Jar,
) -> String {
    let start = get(app, &format!("/v1/oauth/op/start?{query}"), jar).await;
    assert_eq!(start.status(), 302, "{}", start.text().await.unwrap());
    let authorize = location(&start).to_owned();
    assert!(authorize.starts_with(&op.issuer), "{authorize}");
    assert!(jar.get(FLOW).is_some(), "no flow cookie");
    let back = app.client.get(&authorize).send().await.unwrap();
    assert_eq!(back.status(), 302);
    location(&back).to_owned()
}

/// A whole sign-in at the provider as `person`: the callback's answer.
async fn sign_in(
    app: &TestApp,
    op: &OidcProvider,
    person: &Person,
    query: &str,
    jar: &mut Jar,
) -> Response {
    op.sign_in_as(person.clone());
    let back = to_provider_and_back(app, op, query, jar).await;
    get(app, on_warden(&back), jar).await
}

async fn me(app: &TestApp, jar: &Jar) -> Value {
    let response = app
        .client
        .get(app.url("/v1/me"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn identities(app: &TestApp, jar: &Jar) -> Vec<Value> {
    let response = app
        .client
        .get(app.url("/v1/me/identities"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["identities"].as_array().unwrap().clone()
}

/// An account with a password whose address is verified (by its link).
async fn verified_account(app: &TestApp) -> String {
    let email = unique_email();
    assert_eq!(app.signup(&email, STRONG_PASSWORD).await.status(), 201);
    let token = app.mailed_token(MailKind::VerifyEmail, &email).await;
    let verified = app.post("/v1/email/verify", json!({"token": token})).await;
    assert_eq!(verified.status(), 200);
    email
}

#[tokio::test]
async fn a_new_person_signs_up_through_the_provider_and_comes_back_signed_in() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    let providers: Value = app
        .client
        .get(app.url("/v1/oauth/providers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        providers,
        json!({"providers": [{"id": "op", "label": "Test OP", "kind": "oidc"}]})
    );

    let email = unique_email();
    let person = Person::verified(&email);
    let mut jar = Jar::default();
    let done = sign_in(&app, &op, &person, "redirect_to=%2Faccount", &mut jar).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/account");
    assert!(jar.get(FLOW).is_none(), "the flow cookie outlived the flow");
    let user = me(&app, &jar).await;
    assert_eq!(user["email"], email);
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["has_password"], false);
    let linked = identities(&app, &jar).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0]["provider"], "op");
    let names = app.outbox_names().await;
    assert!(names.contains(&"user.created".to_owned()), "{names:?}");
    assert!(
        names.contains(&"user.identity_linked".to_owned()),
        "{names:?}"
    );

    // No password works for it, not even an empty one.
    assert_eq!(app.signin(&email, STRONG_PASSWORD).await.status(), 401);

    // The same person again, in another browser: the same account.
    let mut other = Jar::default();
    let again = sign_in(&app, &op, &person, "", &mut other).await;
    assert_eq!(again.status(), 303);
    assert_eq!(location(&again), "/");
    assert_eq!(me(&app, &other).await["id"], user["id"]);
    assert_eq!(identities(&app, &other).await.len(), 1);
}

#[tokio::test]
async fn the_flow_is_bound_to_its_browser_and_its_state_and_cannot_be_replayed() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    let person = Person::verified(&unique_email());

    // A callback without the flow cookie (another browser).
    op.sign_in_as(person.clone());
    let mut jar = Jar::default();
    let back = to_provider_and_back(&app, &op, "redirect_to=%2Fdone", &mut jar).await;
    let mut stranger = Jar::default();
    let refused = get(&app, on_warden(&back), &mut stranger).await;
    assert_eq!(refused.status(), 303);
    assert_eq!(location(&refused), "/signin?error=state_mismatch");

    // The right browser, a forged state.
    let code = query_param(&back, "code").unwrap();
    let forged = format!("/v1/oauth/op/callback?code={code}&state=forged");
    let refused = get(&app, &forged, &mut jar.clone()).await;
    assert_eq!(location(&refused), "/done?error=state_mismatch");

    // The right browser and state: signed in; the same callback again finds
    // no flow and never reaches the provider.
    let done = get(&app, on_warden(&back), &mut jar).await;
    assert_eq!(location(&done), "/done");
    let exchanges = op.token_requests();
    let replay = get(&app, on_warden(&back), &mut jar).await;
    assert_eq!(location(&replay), "/signin?error=state_mismatch");
    assert_eq!(op.token_requests(), exchanges);

    // The provider said no.
    let mut jar = Jar::default();
    let start = get(&app, "/v1/oauth/op/start?redirect_to=%2Fdone", &mut jar).await;
    let state = query_param(location(&start), "state").unwrap();
    let denied = get(
        &app,
        &format!("/v1/oauth/op/callback?error=access_denied&state={state}"),
        &mut jar,
    )
    .await;
    assert_eq!(location(&denied), "/done?error=provider_error");
}

#[tokio::test]
async fn start_refuses_other_origins_unknown_providers_and_bad_challenges() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    let mut jar = Jar::default();
    for (query, status, code) in [
        (
            "redirect_to=https%3A%2F%2Fevil.example%2F",
            400,
            "invalid_redirect",
        ),
        ("redirect_to=%2F%2Fevil.example%2F", 400, "invalid_redirect"),
        ("intent=steal", 400, "invalid_request"),
        ("code_challenge=short", 400, "invalid_request"),
        ("code_challenge_method=plain", 400, "invalid_request"),
        ("intent=link", 401, "invalid_token"),
    ] {
        let response = get(&app, &format!("/v1/oauth/op/start?{query}"), &mut jar).await;
        assert_eq!(response.status(), status, "{query}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], code, "{query}");
        assert!(jar.get(FLOW).is_none(), "{query} started a flow");
    }
    let allowed = get(
        &app,
        "/v1/oauth/op/start?redirect_to=https%3A%2F%2Fapp.warden.test%2Fhome",
        &mut jar,
    )
    .await;
    assert_eq!(allowed.status(), 302);
    let unknown = get(&app, "/v1/oauth/nope/start", &mut Jar::default()).await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn an_unverified_account_with_the_address_is_never_taken_over() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    // The attacker registers the victim's address with a password and
    // never verifies it.
    let victim = unique_email();
    assert_eq!(app.signup(&victim, STRONG_PASSWORD).await.status(), 201);
    let mut jar = Jar::default();
    let refused = sign_in(
        &app,
        &op,
        &Person::verified(&victim),
        "redirect_to=%2Fsignin",
        &mut jar,
    )
    .await;
    assert_eq!(location(&refused), "/signin?error=account_exists");
    assert!(jar.get("warden_access").is_none());
    let squatter = app.sign_in_ok(&victim, STRONG_PASSWORD).await;
    let listed = app.get_auth("/v1/me/identities", &squatter.access).await;
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed["identities"], json!([]));

    // A provider asserting an address it did not verify, equal to a
    // verified account's: nothing linked, nothing created.
    let owner = verified_account(&app).await;
    let unverified = Person {
        email_verified: false,
        ..Person::verified(&owner)
    };
    let refused = sign_in(
        &app,
        &op,
        &unverified,
        "redirect_to=%2Fsignin",
        &mut Jar::default(),
    )
    .await;
    assert_eq!(
        location(&refused),
        "/signin?error=email_not_verified_by_provider"
    );
    let owner_tokens = app.sign_in_ok(&owner, STRONG_PASSWORD).await;
    let listed: Value = app
        .get_auth("/v1/me/identities", &owner_tokens.access)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["identities"], json!([]));

    // The same provider-verified: linked to the verified account.
    let mut jar = Jar::default();
    let linked = sign_in(&app, &op, &Person::verified(&owner), "", &mut jar).await;
    assert_eq!(location(&linked), "/");
    assert_eq!(me(&app, &jar).await["email"], owner);
    assert_eq!(identities(&app, &jar).await.len(), 1);
}

#[tokio::test]
async fn with_sign_up_closed_a_new_person_is_refused() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |config| config.signup.enabled = false).await;
    let refused = sign_in(
        &app,
        &op,
        &Person::verified(&unique_email()),
        "",
        &mut Jar::default(),
    )
    .await;
    assert_eq!(location(&refused), "/?error=sign_up_disabled");
}

#[tokio::test]
async fn forged_id_tokens_sign_nobody_in() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    type Tamper = fn(&mut Value);
    let tampers: [(&str, Tamper); 4] = [
        ("aud", |c| c["aud"] = json!("another-client")),
        ("iss", |c| c["iss"] = json!("https://evil.example")),
        ("nonce", |c| c["nonce"] = json!("replayed-nonce")),
        ("exp", |c| {
            c["exp"] = json!(c["iat"].as_i64().unwrap() - 3600)
        }),
    ];
    for (what, tamper) in tampers {
        op.tamper_next(tamper);
        let email = unique_email();
        let mut jar = Jar::default();
        let refused = sign_in(&app, &op, &Person::verified(&email), "", &mut jar).await;
        assert_eq!(location(&refused), "/?error=provider_error", "{what}");
        assert!(jar.get("warden_access").is_none(), "{what}");
        assert_eq!(app.signin(&email, STRONG_PASSWORD).await.status(), 401);
    }
}

#[tokio::test]
async fn provider_keys_are_fetched_once_per_rotation_not_per_sign_in() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    let person = Person::verified(&unique_email());
    for _ in 0..3 {
        let signed_in = sign_in(&app, &op, &person, "", &mut Jar::default()).await;
        assert_eq!(location(&signed_in), "/");
    }
    assert_eq!(op.jwks_requests(), 1, "the keys were fetched per sign-in");
    op.rotate_keys("k2");
    let mut jar = Jar::default();
    let second = sign_in(&app, &op, &person, "", &mut jar).await;
    assert_eq!(location(&second), "/");
    assert_eq!(me(&app, &jar).await["email_verified"], true);
    let again = sign_in(&app, &op, &person, "", &mut Jar::default()).await;
    assert_eq!(location(&again), "/");
    assert_eq!(op.jwks_requests(), 2, "once per rotation");
}

#[tokio::test]
async fn a_form_post_callback_is_sent_on_to_the_get_with_its_parameters() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    let response = app
        .client
        .post(app.url("/v1/oauth/op/callback"))
        .form(&[("code", "c o+d"), ("state", "s"), ("user", "{\"name\":{}}")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        "/v1/oauth/op/callback?code=c+o%2Bd&state=s"
    );
}

#[tokio::test]
async fn an_app_trades_its_code_once_and_only_with_its_verifier() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    // RFC 7636 appendix B.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let query = format!(
        "redirect_to=https%3A%2F%2Fapp.warden.test%2Fcb&code_challenge={challenge}&code_challenge_method=S256"
    );
    let person = Person::verified(&unique_email());
    let exchange = |code: String, verifier: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/v1/oauth/exchange",
                json!({"code": code, "code_verifier": verifier}),
            )
            .await
        }
    };

    let mut jar = Jar::default();
    let done = sign_in(&app, &op, &person, &query, &mut jar).await;
    let to = location(&done).to_owned();
    assert!(
        to.starts_with("https://app.warden.test/cb?code=wxc_"),
        "{to}"
    );
    assert!(
        jar.get("warden_access").is_none(),
        "an app flow set cookies"
    );
    let code = query_param(&to, "code").unwrap();
    let wrong = exchange(code.clone(), "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXj").await;
    assert_eq!(wrong.status(), 400);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["code"],
        "invalid_grant"
    );
    // A wrong verifier spends the code.
    assert_eq!(exchange(code, verifier).await.status(), 400);

    let done = sign_in(&app, &op, &person, &query, &mut Jar::default()).await;
    let code = query_param(location(&done), "code").unwrap();
    let tokens = exchange(code.clone(), verifier).await;
    assert_eq!(tokens.status(), 200);
    let tokens: Value = tokens.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let user: Value = app.get_auth("/v1/me", access).await.json().await.unwrap();
    assert_eq!(user["has_password"], false);
    assert_eq!(exchange(code, verifier).await.status(), 400);
    assert_eq!(
        exchange("wxc_nonsense".into(), verifier).await.status(),
        400
    );
}

#[tokio::test]
async fn linking_and_unlinking_keep_one_way_in() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    // An account with a password links the provider from a signed-in browser.
    let (_, mut jar) = crate::pages::signed_in(&app).await;
    let person = Person::verified(&unique_email());
    let linked = sign_in(
        &app,
        &op,
        &person,
        "intent=link&redirect_to=%2Faccount",
        &mut jar,
    )
    .await;
    assert_eq!(location(&linked), "/account");
    let listed = identities(&app, &jar).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["email"], person.email.clone().unwrap());

    // Another account cannot link the same identity.
    let (_, mut other) = crate::pages::signed_in(&app).await;
    let taken = sign_in(
        &app,
        &op,
        &person,
        "intent=link&redirect_to=%2Faccount",
        &mut other,
    )
    .await;
    assert_eq!(location(&taken), "/account?error=identity_taken");

    // With a password, the identity may go.
    let id = listed[0]["id"].as_str().unwrap();
    let csrf = jar.get("warden_csrf").unwrap().to_owned();
    let unlink = |jar: &Jar, id: &str| {
        app.client
            .delete(app.url(&format!("/v1/me/identities/{id}")))
            .header("cookie", jar.header())
            .header("x-csrf-token", csrf.clone())
            .header("origin", warden_testkit::ALLOWED_ORIGIN)
            .send()
    };
    assert_eq!(unlink(&jar, id).await.unwrap().status(), 204);
    assert!(identities(&app, &jar).await.is_empty());
    assert_eq!(unlink(&jar, id).await.unwrap().status(), 404);

    // An account made by the provider keeps its only identity.
    let mut social = Jar::default();
    sign_in(
        &app,
        &op,
        &Person::verified(&unique_email()),
        "",
        &mut social,
    )
    .await;
    let only = identities(&app, &social).await;
    let csrf = social.get("warden_csrf").unwrap().to_owned();
    let last = app
        .client
        .delete(app.url(&format!(
            "/v1/me/identities/{}",
            only[0]["id"].as_str().unwrap()
        )))
        .header("cookie", social.header())
        .header("x-csrf-token", csrf)
        .header("origin", warden_testkit::ALLOWED_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(last.status(), 409);
    assert_eq!(
        last.json::<Value>().await.unwrap()["code"],
        "last_credential"
    );
    assert_eq!(identities(&app, &social).await.len(), 1);
}

#[tokio::test]
async fn the_pages_offer_the_provider_and_say_why_a_flow_failed() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    let mut jar = Jar::default();
    let page = get(&app, "/signin?rd=%2Faccount", &mut jar).await;
    let html = page.text().await.unwrap();
    assert!(html.contains("Continue with Test OP"), "{html}");
    assert!(
        html.contains(
            "/v1/oauth/op/start?intent=signin&amp;redirect_to=%2Fsignin%3Frd%3D%252Faccount"
        ),
        "{html}"
    );
    let page = get(&app, "/signin?error=account_exists", &mut jar).await;
    let html = page.text().await.unwrap();
    assert!(
        html.contains("already exists") && html.contains(r##"href="#social""##),
        "{html}"
    );
    let page = get(&app, "/signin?error=%3Cscript%3E", &mut jar).await;
    assert!(!page.text().await.unwrap().contains("role=\"alert\""));
}

#[tokio::test]
async fn a_link_must_be_finished_by_the_session_that_asked_for_it() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    let (_, mut jar) = crate::pages::signed_in(&app).await;
    op.sign_in_as(Person::verified(&unique_email()));
    let back =
        to_provider_and_back(&app, &op, "intent=link&redirect_to=%2Faccount", &mut jar).await;
    // Another account signs in in the same browser before the provider
    // answers: the flow was asked for by the first one.
    let (_, other) = crate::pages::signed_in(&app).await;
    let mut switched = jar.clone();
    switched.take_all(&other);
    let refused = get(&app, on_warden(&back), &mut switched).await;
    assert_eq!(location(&refused), "/account?error=state_mismatch");
    assert!(identities(&app, &other).await.is_empty());
    assert!(identities(&app, &jar).await.is_empty());

    let malformed = app
        .client
        .delete(app.url("/v1/me/identities/not-a-uuid"))
        .header("cookie", jar.header())
        .header("x-csrf-token", jar.get("warden_csrf").unwrap().to_owned())
        .header("origin", warden_testkit::ALLOWED_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
}

#[tokio::test]
async fn the_account_page_disconnects_a_provider_but_not_the_last_way_in() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    let mut jar = Jar::default();
    sign_in(&app, &op, &Person::verified(&unique_email()), "", &mut jar).await;
    let only = identities(&app, &jar).await;
    let id = only[0]["id"].as_str().unwrap();
    get(&app, "/account", &mut jar).await;
    let refused = post_form(
        &app,
        &format!("/account/identities/{id}/unlink"),
        &mut jar,
        &[],
    )
    .await;
    assert_eq!(refused.status(), 409);
    let html = refused.text().await.unwrap();
    assert!(html.contains("only way to sign in"), "{html}");
    assert_eq!(identities(&app, &jar).await.len(), 1);
    let unknown = post_form(&app, "/account/identities/not-a-uuid/unlink", &mut jar, &[]).await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_social_sign_in_says_fed_and_an_account_with_an_app_is_asked_for_its_code() {
    use warden_core::mfa::{TotpSecret, totp_code_at};
    use warden_core::ports::Clock as _;

    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    let person = Person::verified(&unique_email());
    let mut jar = Jar::default();
    let done = sign_in(&app, &op, &person, "redirect_to=%2Faccount", &mut jar).await;
    assert_eq!(location(&done), "/account");
    let access = jar.get("__Host-warden_at").unwrap().to_owned();
    let claims: Value = app.validate(&access).await.json().await.unwrap();
    assert_eq!(claims["amr"], json!(["fed"]));
    assert_eq!(claims["acr"], "aal1");

    // The account adds an app (a fresh sign-in: no password needed, and it
    // has none).
    let step = || app.clock.now().timestamp() / 30;
    let started: Value = app
        .call(
            reqwest::Method::POST,
            "/v1/mfa/totp",
            Some(&access),
            Some(json!({})),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = TotpSecret::from_base32(started["secret"].as_str().unwrap()).unwrap();
    let confirmed = app
        .call(
            reqwest::Method::POST,
            "/v1/mfa/totp/confirm",
            Some(&access),
            Some(json!({"code": totp_code_at(&secret, step())})),
        )
        .await;
    assert_eq!(confirmed.status(), 200);
    app.clock.advance(chrono::Duration::seconds(30));

    // The browser flow comes back without a session, for the code step.
    let mut browser = Jar::default();
    let back = sign_in(&app, &op, &person, "redirect_to=%2Fsignin", &mut browser).await;
    assert_eq!(back.status(), 303);
    assert_eq!(location(&back), "/signin?error=mfa_required");
    assert!(browser.get("__Host-warden_at").is_none(), "no session yet");
    assert!(
        browser
            .get("__Host-warden_mfa")
            .is_some_and(|t| t.starts_with("wmf_"))
    );
    let page = get(&app, "/signin?error=mfa_required", &mut browser).await;
    assert_eq!(location(&page), "/signin/mfa");
    get(&app, "/signin/mfa", &mut browser).await;
    let code = totp_code_at(&secret, step());
    let done = post_form(&app, "/signin/mfa", &mut browser, &[("totp_code", &code)]).await;
    assert_eq!(location(&done), "/account");
    let access = browser.get("__Host-warden_at").unwrap().to_owned();
    let claims: Value = app.validate(&access).await.json().await.unwrap();
    assert_eq!(claims["amr"], json!(["otp", "fed", "mfa"]));
    assert_eq!(claims["acr"], "aal2");

    // An app's code exchange gets the API's second step instead of tokens.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let query = "redirect_to=https%3A%2F%2Fapp.warden.test%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256";
    let done = sign_in(&app, &op, &person, query, &mut Jar::default()).await;
    let code = query_param(location(&done), "code").unwrap();
    let refused = app
        .post(
            "/v1/oauth/exchange",
            json!({"code": code, "code_verifier": verifier}),
        )
        .await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "mfa_required");
    assert!(body["mfa_token"].as_str().unwrap().starts_with("wmf_"));
}

#[tokio::test]
async fn an_account_without_a_password_deletes_itself_with_a_recent_sign_in() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    let person = Person::verified(&unique_email());
    let mut jar = Jar::default();
    sign_in(&app, &op, &person, "redirect_to=%2Faccount", &mut jar).await;
    let access = jar.get("__Host-warden_at").unwrap().to_owned();
    app.clock.advance(chrono::Duration::minutes(6));
    let stale = app
        .call(
            reqwest::Method::DELETE,
            "/v1/me",
            Some(&access),
            Some(json!({})),
        )
        .await;
    assert_eq!(stale.status(), 401);
    assert_eq!(
        stale.json::<Value>().await.unwrap()["code"],
        "reauthentication_required"
    );
    // Signing in again (at the provider) is how it confirms.
    let mut fresh = Jar::default();
    sign_in(&app, &op, &person, "redirect_to=%2Faccount", &mut fresh).await;
    let access = fresh.get("__Host-warden_at").unwrap().to_owned();
    let deleted = app
        .call(
            reqwest::Method::DELETE,
            "/v1/me",
            Some(&access),
            Some(json!({})),
        )
        .await;
    assert_eq!(deleted.status(), 204);
}

#[tokio::test]
async fn the_account_page_deletes_an_account_without_a_password_by_typed_confirmation() {
    let op = OidcProvider::start().await;
    let app = app_with(&op, |_| {}).await;
    let address = unique_email();
    let person = Person::verified(&address);
    let mut jar = Jar::default();
    sign_in(&app, &op, &person, "redirect_to=%2Faccount", &mut jar).await;
    let page = get(&app, "/account", &mut jar).await.text().await.unwrap();
    assert!(
        page.contains(r#"id="delete_confirm""#),
        "the card asks to type DELETE"
    );
    assert!(
        !page.contains(r#"id="delete_password""#),
        "no password field without a password"
    );

    let typo = post_form(
        &app,
        "/account/delete",
        &mut jar,
        &[("delete_confirm", "delete")],
    )
    .await;
    assert_eq!(typo.status(), 400);
    assert!(
        typo.text()
            .await
            .unwrap()
            .contains(r#"id="delete_confirm-error""#)
    );
    assert_eq!(me(&app, &jar).await["email"], address.as_str());

    // An old sign-in shows how to confirm instead of the form.
    app.clock.advance(chrono::Duration::minutes(6));
    let page = get(&app, "/account", &mut jar).await.text().await.unwrap();
    assert!(!page.contains(r#"id="delete_confirm""#));
    assert!(page.contains("sign in again"), "{page}");
    let stale = post_form(
        &app,
        "/account/delete",
        &mut jar,
        &[("delete_confirm", "DELETE")],
    )
    .await;
    assert_eq!(stale.status(), 401);

    let mut fresh = Jar::default();
    sign_in(&app, &op, &person, "redirect_to=%2Faccount", &mut fresh).await;
    get(&app, "/account", &mut fresh).await;
    let done = post_form(
        &app,
        "/account/delete",
        &mut fresh,
        &[("delete_confirm", "DELETE")],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/signin?notice=account_deleted");
}
