//! Browser (cookie) mode: cookie attributes, CSRF on cookie-authenticated
//! state changes, login CSRF, rotation through the refresh cookie, sign-out
//! and session fixation (security checklist D36-D40).

use std::collections::HashMap;

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};
use warden_testkit::{
    ALLOWED_ORIGIN, STRONG_PASSWORD, TestApp, assert_problem, spawn_app, unique_email,
};

const AT: &str = "__Host-warden_at";
const RT: &str = "__Secure-warden_rt";
const CSRF: &str = "warden_csrf";
const EVIL_ORIGIN: &str = "https://evil.example";

/// One `Set-Cookie` header, parsed.
#[derive(Debug, Clone)]
struct SetCookie {
    value: String,
    /// Attribute names lower-cased, with their values.
    attributes: HashMap<String, String>,
    raw: String,
}

impl SetCookie {
    fn has(&self, attribute: &str) -> bool {
        self.attributes
            .contains_key(&attribute.to_ascii_lowercase())
    }

    fn get(&self, attribute: &str) -> Option<&str> {
        self.attributes
            .get(&attribute.to_ascii_lowercase())
            .map(String::as_str)
    }
}

fn set_cookies(response: &Response) -> HashMap<String, SetCookie> {
    let mut out = HashMap::new();
    for header in response.headers().get_all("set-cookie") {
        let raw = header.to_str().expect("ASCII Set-Cookie").to_owned();
        let mut parts = raw.split(';').map(str::trim);
        let (name, value) = parts
            .next()
            .and_then(|p| p.split_once('='))
            .expect("name=value");
        let attributes = parts
            .map(|a| match a.split_once('=') {
                Some((k, v)) => (k.trim().to_ascii_lowercase(), v.trim().to_owned()),
                None => (a.to_ascii_lowercase(), String::new()),
            })
            .collect();
        let previous = out.insert(
            name.to_owned(),
            SetCookie {
                value: value.to_owned(),
                attributes,
                raw: raw.clone(),
            },
        );
        assert!(previous.is_none(), "cookie {name} set twice");
    }
    out
}

/// The cookies a browser holds after a cookie-mode response.
#[derive(Debug, Clone)]
struct Browser {
    access: String,
    refresh: String,
    csrf: String,
}

impl Browser {
    fn from_response(response: &Response) -> Browser {
        let cookies = set_cookies(response);
        let value = |name: &str| {
            cookies
                .get(name)
                .unwrap_or_else(|| panic!("{name} not set: {cookies:?}"))
                .value
                .clone()
        };
        Browser {
            access: value(AT),
            refresh: value(RT),
            csrf: value(CSRF),
        }
    }

    /// What a browser sends to paths under `/` (no refresh cookie).
    fn cookie_header(&self) -> String {
        format!("{AT}={}; {CSRF}={}", self.access, self.csrf)
    }

    /// What a browser sends to `/v1/token/...`.
    fn refresh_cookie_header(&self) -> String {
        format!(
            "{AT}={}; {RT}={}; {CSRF}={}",
            self.access, self.refresh, self.csrf
        )
    }
}

fn request(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    app.client.request(method, app.url(path))
}

/// A same-origin, cookie-authenticated state change as the real page makes it.
fn same_origin_post(app: &TestApp, path: &str, browser: &Browser) -> RequestBuilder {
    request(app, Method::POST, path)
        .header("cookie", browser.cookie_header())
        .header("x-csrf-token", &browser.csrf)
        .header("origin", ALLOWED_ORIGIN)
        .header("sec-fetch-site", "same-origin")
}

async fn cookie_signup(app: &TestApp) -> (Browser, String, Value) {
    let email = unique_email();
    let response = request(app, Method::POST, "/v1/signup?cookie=true")
        .header("origin", ALLOWED_ORIGIN)
        .json(&json!({"email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let browser = Browser::from_response(&response);
    let body: Value = response.json().await.unwrap();
    (browser, email, body)
}

async fn cookie_signin(app: &TestApp, email: &str) -> Response {
    request(app, Method::POST, "/v1/signin?cookie=true")
        .header("origin", ALLOWED_ORIGIN)
        .json(&json!({"email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap()
}

async fn me_with_cookie(app: &TestApp, access: &str) -> Response {
    request(app, Method::GET, "/v1/me")
        .header("cookie", format!("{AT}={access}"))
        .send()
        .await
        .unwrap()
}

fn assert_session_cookies(cookies: &HashMap<String, SetCookie>) {
    let at = &cookies[AT];
    assert!(at.has("HttpOnly"), "{}", at.raw);
    assert!(at.has("Secure"), "{}", at.raw);
    assert_eq!(at.get("SameSite"), Some("Lax"), "{}", at.raw);
    assert_eq!(at.get("Path"), Some("/"), "{}", at.raw);
    assert!(
        !at.has("Domain"),
        "__Host- cookies carry no Domain: {}",
        at.raw
    );
    assert!(
        at.value.split('.').count() == 3,
        "the access cookie holds the JWT"
    );

    let rt = &cookies[RT];
    assert!(rt.has("HttpOnly"), "{}", rt.raw);
    assert!(rt.has("Secure"), "{}", rt.raw);
    assert_eq!(rt.get("SameSite"), Some("Strict"), "{}", rt.raw);
    assert_eq!(rt.get("Path"), Some("/v1/token"), "{}", rt.raw);
    assert!(rt.value.starts_with("wrt_"), "{}", rt.raw);

    let csrf = &cookies[CSRF];
    assert!(!csrf.has("HttpOnly"), "the page must be able to read it");
    assert!(csrf.has("Secure"), "{}", csrf.raw);
    assert!(csrf.value.len() >= 22, "CSRF token too short: {}", csrf.raw);

    for cookie in cookies.values() {
        let name_and_value = cookie.raw.split(';').next().unwrap();
        assert!(name_and_value.len() <= 4096, "cookie over 4096 bytes");
    }
}

// ----- attributes (D38) -----

#[tokio::test]
async fn a_cookie_mode_signup_sets_three_hardened_cookies_and_no_tokens_in_the_body() {
    let app = spawn_app().await;
    let email = unique_email();
    let response = request(&app, Method::POST, "/v1/signup?cookie=true")
        .header("origin", ALLOWED_ORIGIN)
        .json(&json!({"email": email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let cookies = set_cookies(&response);
    assert_session_cookies(&cookies);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], email);
    let tokens = &body["tokens"];
    assert!(tokens.get("access_token").is_none(), "{body}");
    assert!(tokens.get("refresh_token").is_none(), "{body}");
    assert!(tokens["session_id"].is_string());
    let text = body.to_string();
    assert!(!text.contains(&cookies[AT].value) && !text.contains(&cookies[RT].value));
}

#[tokio::test]
async fn a_cookie_mode_signin_sets_the_same_hardened_cookies() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let response = cookie_signin(&app, &user.email).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(&response);
    assert_session_cookies(&cookies);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("access_token").is_none(), "{body}");
    assert!(body.get("refresh_token").is_none(), "{body}");
    assert_eq!(body["token_type"], "Bearer");
    // Without ?cookie=true nothing is set.
    let response = app.signin(&user.email, STRONG_PASSWORD).await;
    assert!(response.headers().get("set-cookie").is_none());
}

#[tokio::test]
async fn the_access_cookie_alone_authenticates_reads() {
    let app = spawn_app().await;
    let (browser, email, _) = cookie_signup(&app).await;
    let response = me_with_cookie(&app, &browser.access).await;
    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["email"], email);
    for path in ["/v1/sessions", "/v1/verify"] {
        let response = request(&app, Method::GET, path)
            .header("cookie", format!("{AT}={}", browser.access))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // The refresh and CSRF cookies are not access credentials.
    let response = request(&app, Method::GET, "/v1/me")
        .header(
            "cookie",
            format!("{RT}={}; {CSRF}={}", browser.refresh, browser.csrf),
        )
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "invalid_token").await;
}

// ----- CSRF on cookie-authenticated state changes (D40) -----

/// Cookie-authenticated state-changing requests the tests try.
fn state_changes() -> Vec<(&'static str, Option<Value>)> {
    vec![
        ("/v1/signout", None),
        ("/v1/signout/all", None),
        (
            "/v1/password",
            Some(
                json!({"current_password": STRONG_PASSWORD, "new_password": "another fine passphrase 7?"}),
            ),
        ),
    ]
}

async fn assert_still_signed_in(app: &TestApp, browser: &Browser) {
    let response = me_with_cookie(app, &browser.access).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the session must survive"
    );
}

#[tokio::test]
async fn a_cookie_authenticated_change_without_a_matching_csrf_token_is_refused() {
    let app = spawn_app().await;
    let (browser, email, _) = cookie_signup(&app).await;
    for (path, body) in state_changes() {
        let with_body = |r: RequestBuilder| match &body {
            Some(b) => r.json(b),
            None => r,
        };
        // No header.
        let r = request(&app, Method::POST, path)
            .header("cookie", browser.cookie_header())
            .header("origin", ALLOWED_ORIGIN);
        assert_problem(with_body(r).send().await.unwrap(), 403, "csrf_failed").await;
        // Wrong header.
        let r = request(&app, Method::POST, path)
            .header("cookie", browser.cookie_header())
            .header("origin", ALLOWED_ORIGIN)
            .header("x-csrf-token", "not-the-token");
        assert_problem(with_body(r).send().await.unwrap(), 403, "csrf_failed").await;
        // A header without the cookie to compare with.
        let r = request(&app, Method::POST, path)
            .header("cookie", format!("{AT}={}", browser.access))
            .header("origin", ALLOWED_ORIGIN)
            .header("x-csrf-token", &browser.csrf);
        assert_problem(with_body(r).send().await.unwrap(), 403, "csrf_failed").await;
        // An attacker who can plant a cookie of their own choosing (empty).
        let r = request(&app, Method::POST, path)
            .header("cookie", format!("{AT}={}; {CSRF}=", browser.access))
            .header("origin", ALLOWED_ORIGIN)
            .header("x-csrf-token", "");
        assert_problem(with_body(r).send().await.unwrap(), 403, "csrf_failed").await;
        // A prefix of the real token.
        let r = request(&app, Method::POST, path)
            .header("cookie", browser.cookie_header())
            .header("origin", ALLOWED_ORIGIN)
            .header("x-csrf-token", &browser.csrf[..browser.csrf.len() - 1]);
        assert_problem(with_body(r).send().await.unwrap(), 403, "csrf_failed").await;
    }
    assert_still_signed_in(&app, &browser).await;
    // The password did not change.
    assert_eq!(
        app.signin(&email, STRONG_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_cookie_authenticated_change_from_a_foreign_or_missing_origin_is_refused() {
    let app = spawn_app().await;
    let (browser, email, _) = cookie_signup(&app).await;
    for (path, body) in state_changes() {
        let with_body = |r: RequestBuilder| match &body {
            Some(b) => r.json(b),
            None => r,
        };
        let base = || {
            request(&app, Method::POST, path)
                .header("cookie", browser.cookie_header())
                .header("x-csrf-token", &browser.csrf)
        };
        for origin in [
            EVIL_ORIGIN,
            "null",
            "https://app.warden.test.evil.example",
            "http://app.warden.test",
            "https://APP.warden.test:443x",
        ] {
            let response = with_body(base().header("origin", origin))
                .send()
                .await
                .unwrap();
            assert_problem(response, 403, "csrf_failed").await;
        }
        // No Origin at all.
        let response = with_body(base()).send().await.unwrap();
        assert_problem(response, 403, "csrf_failed").await;
        // The browser says it is cross-site, whatever the Origin claims.
        let response = with_body(
            base()
                .header("origin", ALLOWED_ORIGIN)
                .header("sec-fetch-site", "cross-site"),
        )
        .send()
        .await
        .unwrap();
        assert_problem(response, 403, "csrf_failed").await;
    }
    assert_still_signed_in(&app, &browser).await;
    assert_eq!(
        app.signin(&email, STRONG_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_non_json_body_on_a_json_endpoint_is_refused_with_415() {
    let app = spawn_app().await;
    let (browser, email, _) = cookie_signup(&app).await;
    let body =
        json!({"current_password": STRONG_PASSWORD, "new_password": "another fine passphrase 7?"})
            .to_string();
    for content_type in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        // Everything else about the request is right: only the type is wrong.
        let response = same_origin_post(&app, "/v1/password", &browser)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_problem(response, 415, "unsupported_media_type").await;
        // Without the CSRF header it is refused as well (403 or 415).
        let response = request(&app, Method::POST, "/v1/password")
            .header("cookie", browser.cookie_header())
            .header("origin", EVIL_ORIGIN)
            .header("content-type", content_type)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert!(
            [403, 415].contains(&response.status().as_u16()),
            "{}",
            response.status()
        );
    }
    assert_eq!(
        app.signin(&email, STRONG_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_matching_csrf_token_from_the_allowed_origin_lets_the_change_through() {
    let app = spawn_app().await;
    let (browser, email, _) = cookie_signup(&app).await;
    let new_password = "another fine passphrase 7?";
    let response = same_origin_post(&app, "/v1/password", &browser)
        .json(&json!({"current_password": STRONG_PASSWORD, "new_password": new_password}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        app.signin(&email, new_password).await.status(),
        StatusCode::OK
    );
    // The session that changed the password is kept.
    assert_eq!(
        me_with_cookie(&app, &browser.access).await.status(),
        StatusCode::OK
    );
    let response = same_origin_post(&app, "/v1/signout", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn state_changing_endpoints_refuse_get() {
    let app = spawn_app().await;
    let (browser, _, _) = cookie_signup(&app).await;
    for path in [
        "/v1/signout",
        "/v1/signout/all",
        "/v1/password",
        "/v1/token/refresh",
    ] {
        let response = request(&app, Method::GET, path)
            .header("cookie", browser.refresh_cookie_header())
            .send()
            .await
            .unwrap();
        assert_problem(response, 405, "method_not_allowed").await;
    }
    assert_still_signed_in(&app, &browser).await;
}

// ----- refresh through the cookie -----

async fn cookie_refresh(app: &TestApp, browser: &Browser) -> Response {
    request(app, Method::POST, "/v1/token/refresh")
        .header("cookie", browser.refresh_cookie_header())
        .header("x-csrf-token", &browser.csrf)
        .header("origin", ALLOWED_ORIGIN)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn refreshing_through_the_refresh_cookie_rotates_every_cookie() {
    let app = spawn_app().await;
    let (first, _, _) = cookie_signup(&app).await;
    // One second later, so the new access token differs in iat too.
    app.clock.advance(chrono::Duration::seconds(1));
    let response = cookie_refresh(&app, &first).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(&response);
    assert_session_cookies(&cookies);
    let second = Browser::from_response(&response);
    let body: Value = response.json().await.unwrap();
    assert!(body.get("access_token").is_none() && body.get("refresh_token").is_none());
    assert_ne!(second.access, first.access);
    assert_ne!(second.refresh, first.refresh);
    assert_ne!(second.csrf, first.csrf);
    assert_eq!(
        me_with_cookie(&app, &second.access).await.status(),
        StatusCode::OK
    );
    // The old refresh cookie is spent: presenting it again is reuse.
    let response = cookie_refresh(&app, &first).await;
    assert_problem(response, 401, "refresh_token_reused").await;
    // ... and reuse revoked the session the new cookies belong to.
    let response = cookie_refresh(&app, &second).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = me_with_cookie(&app, &second.access).await;
    assert_problem(response, 401, "token_revoked").await;
}

#[tokio::test]
async fn refreshing_through_the_cookie_needs_the_csrf_token_and_an_allowed_origin() {
    let app = spawn_app().await;
    let (browser, _, _) = cookie_signup(&app).await;
    let attempts = [
        request(&app, Method::POST, "/v1/token/refresh")
            .header("cookie", browser.refresh_cookie_header())
            .header("origin", ALLOWED_ORIGIN),
        request(&app, Method::POST, "/v1/token/refresh")
            .header("cookie", browser.refresh_cookie_header())
            .header("x-csrf-token", &browser.csrf)
            .header("origin", EVIL_ORIGIN),
        request(&app, Method::POST, "/v1/token/refresh")
            .header("cookie", browser.refresh_cookie_header())
            .header("x-csrf-token", &browser.csrf),
        request(&app, Method::POST, "/v1/token/refresh")
            .header("cookie", browser.refresh_cookie_header())
            .header("x-csrf-token", &browser.csrf)
            .header("origin", ALLOWED_ORIGIN)
            .header("sec-fetch-site", "cross-site"),
    ];
    for attempt in attempts {
        let response = attempt.send().await.unwrap();
        assert!(response.headers().get("set-cookie").is_none());
        assert_problem(response, 403, "csrf_failed").await;
    }
    // None of that spent the refresh token.
    assert_eq!(
        cookie_refresh(&app, &browser).await.status(),
        StatusCode::OK
    );
}

// ----- sign-out (D36) -----

#[tokio::test]
async fn signing_out_clears_the_cookies_and_revokes_the_session() {
    let app = spawn_app().await;
    let (browser, _, _) = cookie_signup(&app).await;
    // Validated once first, so the token sits in the verified-token cache.
    assert_eq!(
        me_with_cookie(&app, &browser.access).await.status(),
        StatusCode::OK
    );
    let response = same_origin_post(&app, "/v1/signout", &browser)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cookies = set_cookies(&response);
    for (name, path) in [(AT, "/"), (RT, "/v1/token"), (CSRF, "/")] {
        let cookie = cookies
            .get(name)
            .unwrap_or_else(|| panic!("{name} not cleared: {cookies:?}"));
        assert_eq!(cookie.get("Max-Age"), Some("0"), "{}", cookie.raw);
        assert!(cookie.value.is_empty(), "{}", cookie.raw);
        // A browser only replaces a cookie with the same name and path, and
        // refuses __Host-/__Secure- cookies without Secure.
        assert_eq!(cookie.get("Path"), Some(path), "{}", cookie.raw);
        assert!(cookie.has("Secure"), "{}", cookie.raw);
        assert!(!cookie.has("Domain"), "{}", cookie.raw);
    }
    let response = me_with_cookie(&app, &browser.access).await;
    assert_problem(response, 401, "token_revoked").await;
    let response = request(&app, Method::GET, "/v1/verify")
        .header("cookie", format!("{AT}={}", browser.access))
        .send()
        .await
        .unwrap();
    assert_problem(response, 401, "token_revoked").await;
    let response = cookie_refresh(&app, &browser).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get("set-cookie").is_none());
}

// ----- login CSRF (D40) -----

#[tokio::test]
async fn a_cookie_mode_signin_or_signup_from_a_foreign_origin_is_refused() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    for (origin, fetch_site) in [
        (Some(EVIL_ORIGIN), None),
        (Some("null"), None),
        (Some(ALLOWED_ORIGIN), Some("cross-site")),
        (None, Some("cross-site")),
    ] {
        for (path, body) in [
            (
                "/v1/signin?cookie=true",
                json!({"email": user.email, "password": STRONG_PASSWORD}),
            ),
            (
                "/v1/signup?cookie=true",
                json!({"email": unique_email(), "password": STRONG_PASSWORD}),
            ),
        ] {
            let mut r = request(&app, Method::POST, path).json(&body);
            if let Some(origin) = origin {
                r = r.header("origin", origin);
            }
            if let Some(site) = fetch_site {
                r = r.header("sec-fetch-site", site);
            }
            let response = r.send().await.unwrap();
            assert!(
                response.headers().get("set-cookie").is_none(),
                "{path} from {origin:?} set cookies"
            );
            assert_problem(response, 403, "csrf_failed").await;
        }
    }
}

// ----- fixation (D37) -----

#[tokio::test]
async fn a_session_cookie_planted_before_signin_is_replaced_and_worthless() {
    let app = spawn_app().await;
    let user = app.new_user().await;
    let planted = "eyJhbGciOiJFZERTQSIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ4In0.AAAA";
    let planted_csrf = "attacker-chosen-csrf-value";
    let response = request(&app, Method::POST, "/v1/signin?cookie=true")
        .header("origin", ALLOWED_ORIGIN)
        .header(
            "cookie",
            format!("{AT}={planted}; {RT}=wrt_planted; {CSRF}={planted_csrf}"),
        )
        .json(&json!({"email": user.email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let cookies = set_cookies(&response);
    assert_ne!(cookies[AT].value, planted);
    assert_ne!(cookies[RT].value, "wrt_planted");
    assert_ne!(cookies[CSRF].value, planted_csrf);
    let response = me_with_cookie(&app, planted).await;
    assert_problem(response, 401, "invalid_token").await;
    let response = me_with_cookie(&app, &cookies[AT].value).await;
    assert_eq!(response.status(), StatusCode::OK);

    // An attacker's own valid session planted in the victim's browser is
    // replaced by the victim's sign-in too.
    let attacker = app.new_user().await;
    let response = request(&app, Method::POST, "/v1/signin?cookie=true")
        .header("origin", ALLOWED_ORIGIN)
        .header("cookie", format!("{AT}={}", attacker.access))
        .json(&json!({"email": user.email, "password": STRONG_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookies = set_cookies(&response);
    assert_ne!(cookies[AT].value, attacker.access);
    let me: Value = me_with_cookie(&app, &cookies[AT].value)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], user.email);
}

#[tokio::test]
async fn a_browser_idle_past_the_access_token_lifetime_can_still_sign_out() {
    let app = spawn_app().await;
    let (browser, _, _) = cookie_signup(&app).await;
    app.clock
        .advance(chrono::Duration::minutes(15) + chrono::Duration::seconds(61));
    // The browser has dropped the access cookie (Max-Age passed); the refresh
    // cookie only goes to /v1/token, so it signs out at /v1/token/revoke.
    let without_csrf = request(&app, Method::POST, "/v1/token/revoke")
        .header("cookie", browser.refresh_cookie_header())
        .header("origin", ALLOWED_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_problem(without_csrf, 403, "csrf_failed").await;
    let response = request(&app, Method::POST, "/v1/token/revoke")
        .header("cookie", browser.refresh_cookie_header())
        .header("x-csrf-token", &browser.csrf)
        .header("origin", ALLOWED_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::NO_CONTENT,
        "sign-out refused"
    );
    let cookies = set_cookies(&response);
    assert_eq!(cookies.get(RT).and_then(|c| c.get("Max-Age")), Some("0"));
    let response = cookie_refresh(&app, &browser).await;
    assert_eq!(
        response.status(),
        StatusCode::UNAUTHORIZED,
        "the session outlived the sign-out"
    );
}

#[tokio::test]
async fn other_cookie_authenticated_changes_need_the_csrf_token_too() {
    let app = spawn_app().await;
    let (browser, email, body) = cookie_signup(&app).await;
    let session_id = body["tokens"]["session_id"].as_str().unwrap().to_owned();
    // Revoking a session by DELETE.
    let response = request(&app, Method::DELETE, &format!("/v1/sessions/{session_id}"))
        .header("cookie", browser.cookie_header())
        .header("origin", EVIL_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "csrf_failed").await;
    let response = request(&app, Method::DELETE, &format!("/v1/sessions/{session_id}"))
        .header("cookie", browser.cookie_header())
        .header("origin", ALLOWED_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_problem(response, 403, "csrf_failed").await;
    assert_still_signed_in(&app, &browser).await;

    // An admin signed in through the browser cannot be made to ban someone.
    let admin = app.new_admin().await;
    let response = cookie_signin(&app, &admin.email).await;
    assert_eq!(response.status(), StatusCode::OK);
    let admin_browser = Browser::from_response(&response);
    let victim = app.new_user().await;
    let response = request(
        &app,
        Method::POST,
        &format!("/v1/admin/users/{}/ban", victim.user_id),
    )
    .header("cookie", admin_browser.cookie_header())
    .header("origin", EVIL_ORIGIN)
    .json(&json!({"reason": "csrf"}))
    .send()
    .await
    .unwrap();
    assert_problem(response, 403, "csrf_failed").await;
    let response = request(
        &app,
        Method::PUT,
        &format!("/v1/admin/users/{}/roles", victim.user_id),
    )
    .header("cookie", admin_browser.cookie_header())
    .header("origin", ALLOWED_ORIGIN)
    .json(&json!({"roles": ["admin"]}))
    .send()
    .await
    .unwrap();
    assert_problem(response, 403, "csrf_failed").await;
    assert_eq!(app.validate(&victim.access).await.status(), StatusCode::OK);
    // Reads by cookie need no CSRF token.
    let response = request(&app, Method::GET, "/v1/admin/users")
        .header("cookie", format!("{AT}={}", admin_browser.access))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // With the token and the right origin the admin can act.
    let response = request(
        &app,
        Method::PUT,
        &format!("/v1/admin/users/{}/roles", victim.user_id),
    )
    .header("cookie", admin_browser.cookie_header())
    .header("x-csrf-token", &admin_browser.csrf)
    .header("origin", ALLOWED_ORIGIN)
    .json(&json!({"roles": ["user", "billing"]}))
    .send()
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let _ = email;
}
