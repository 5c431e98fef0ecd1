//! The hosted pages over HTTP (no browser): security headers, the CSRF
//! token, cookie-mode sign-in, `rd`, bad form posts, session keeping, the
//! hashed assets and CORS. `browser.rs` drives the same pages in chromium.

mod admin;
mod lifecycle;
mod mfa;

use std::collections::BTreeMap;

use reqwest::Response;
use reqwest::header::{HeaderMap, HeaderValue};
use warden_testkit::{ALLOWED_ORIGIN, STRONG_PASSWORD, TestApp, spawn_app, unique_email};

/// The browser's cookies, kept by hand: the test client has no cookie
/// store (and every cookie here is `Secure` on a plain-HTTP test server).
#[derive(Debug, Default, Clone)]
pub(crate) struct Jar(BTreeMap<String, String>);

impl Jar {
    pub(crate) fn take(&mut self, response: &Response) {
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let expired = text.contains("Max-Age=0");
            if expired || value.is_empty() {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    /// Takes every cookie of `other` (another sign-in in this browser).
    pub(crate) fn take_all(&mut self, other: &Jar) {
        self.0
            .extend(other.0.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    pub(crate) fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

pub(crate) async fn get(app: &TestApp, path: &str, jar: &mut Jar) -> Response {
    let response = app
        .client
        .get(app.url(path))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    jar.take(&response);
    response
}

/// A form post as the page's own browser makes it: `Origin: null` (the
/// pages send `Referrer-Policy: no-referrer`) vouched for by
/// `Sec-Fetch-Site: same-origin`.
pub(crate) async fn post_form(
    app: &TestApp,
    path: &str,
    jar: &mut Jar,
    fields: &[(&str, &str)],
) -> Response {
    let mut with_token: Vec<(&str, &str)> = fields.to_vec();
    let token = jar.get("warden_csrf").unwrap_or("").to_owned();
    if !fields.iter().any(|(k, _)| *k == "csrf_token") {
        with_token.push(("csrf_token", &token));
    }
    let response = app
        .client
        .post(app.url(path))
        .header("cookie", jar.header())
        .header("origin", "null")
        .header("sec-fetch-site", "same-origin")
        .form(&with_token)
        .send()
        .await
        .unwrap();
    jar.take(&response);
    response
}

pub(crate) fn location(response: &Response) -> &str {
    response.headers()["location"].to_str().unwrap()
}

/// A browser that has loaded the sign-in page (and so holds its token).
pub(crate) async fn visitor(app: &TestApp) -> Jar {
    let mut jar = Jar::default();
    let page = get(app, "/signin", &mut jar).await;
    assert_eq!(page.status(), 200);
    assert!(jar.get("warden_csrf").is_some());
    jar
}

/// A signed-up account, signed in through the page.
pub(crate) async fn signed_in(app: &TestApp) -> (String, Jar) {
    let email = unique_email();
    assert_eq!(app.signup(&email, STRONG_PASSWORD).await.status(), 201);
    let mut jar = visitor(app).await;
    let response = post_form(
        app,
        "/signin",
        &mut jar,
        &[("email", &email), ("password", STRONG_PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/account");
    (email, jar)
}

fn assert_page_headers(headers: &HeaderMap) {
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'self'; script-src 'self'; style-src 'self';"),
        "{csp}"
    );
    assert!(
        csp.contains("frame-ancestors 'none'; form-action 'self'"),
        "{csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn every_page_carries_the_security_headers_and_its_form_the_csrf_token() {
    let app = spawn_app().await;
    let mut jar = Jar::default();
    for path in ["/signin", "/signup"] {
        let page = get(&app, path, &mut jar).await;
        assert_eq!(page.status(), 200, "{path}");
        assert_page_headers(page.headers());
        let html = page.text().await.unwrap();
        let token = jar.get("warden_csrf").unwrap();
        assert!(
            html.contains(&format!(r#"name="csrf_token" value="{token}""#)),
            "{path}: {html}"
        );
    }
    let (_, mut jar) = signed_in(&app).await;
    let account = get(&app, "/account", &mut jar).await;
    assert_eq!(account.status(), 200);
    assert_page_headers(account.headers());
}

#[tokio::test]
async fn signing_in_sets_the_cookie_mode_cookies_and_returns_to_rd() {
    let app = spawn_app().await;
    let email = unique_email();
    app.signup(&email, STRONG_PASSWORD).await;
    let mut jar = visitor(&app).await;
    let before = jar.get("warden_csrf").unwrap().to_owned();
    let rd = format!("{ALLOWED_ORIGIN}/tickets?open=1");
    let response = post_form(
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
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), rd);
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let access = cookies
        .iter()
        .find(|c| c.starts_with("__Host-warden_at="))
        .unwrap();
    assert!(
        access.contains("HttpOnly") && access.contains("Secure") && access.contains("SameSite=Lax")
    );
    let refresh = cookies
        .iter()
        .find(|c| c.starts_with("__Secure-warden_rt="))
        .unwrap();
    assert!(refresh.contains("Path=/v1/token") && refresh.contains("SameSite=Strict"));
    assert_ne!(
        jar.get("warden_csrf").unwrap(),
        before,
        "signing in replaces the token"
    );
    let me = app
        .client
        .get(app.url("/v1/me"))
        .header("cookie", jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn a_form_without_its_token_or_from_another_site_changes_nothing() {
    let app = spawn_app().await;
    let email = unique_email();
    app.signup(&email, STRONG_PASSWORD).await;
    let fields = [("email", email.as_str()), ("password", STRONG_PASSWORD)];

    let mut jar = visitor(&app).await;
    let no_token = post_form(
        &app,
        "/signin",
        &mut jar,
        &[
            ("csrf_token", "forged-token-value-1234"),
            fields[0],
            fields[1],
        ],
    )
    .await;
    assert_eq!(no_token.status(), 403);
    assert!(jar.get("__Host-warden_at").is_none());
    let html = no_token.text().await.unwrap();
    assert!(html.contains("This form has expired"), "{html}");

    for (origin, site) in [
        ("https://evil.example", "cross-site"),
        ("https://evil.example", "same-origin"),
        ("null", "same-site"),
    ] {
        let mut jar = visitor(&app).await;
        let token = jar.get("warden_csrf").unwrap().to_owned();
        let response = app
            .client
            .post(app.url("/signin"))
            .header("cookie", jar.header())
            .header("origin", origin)
            .header("sec-fetch-site", site)
            .form(&[fields[0], fields[1], ("csrf_token", &token)])
            .send()
            .await
            .unwrap();
        jar.take(&response);
        assert_eq!(response.status(), 403, "{origin} {site}");
        assert!(jar.get("__Host-warden_at").is_none(), "{origin} {site}");
    }

    // The allowed origin, as a browser without the null-origin quirk sends it.
    let jar = visitor(&app).await;
    let token = jar.get("warden_csrf").unwrap().to_owned();
    let response = app
        .client
        .post(app.url("/signin"))
        .header("cookie", jar.header())
        .header("origin", ALLOWED_ORIGIN)
        .form(&[fields[0], fields[1], ("csrf_token", &token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
}

#[tokio::test]
async fn rd_values_that_leave_for_another_site_are_dropped() {
    let app = spawn_app().await;
    let email = unique_email();
    app.signup(&email, STRONG_PASSWORD).await;
    for rd in [
        "//evil.com",
        "https://evil.com",
        "javascript:alert(1)",
        "%2F%2Fevil.com",
        "/\\evil.com",
        "/\t/evil.com",
        "https://app.warden.test@evil.com/",
        "http://app.warden.test/",
    ] {
        let mut jar = visitor(&app).await;
        let page = get(&app, &format!("/signin?rd={}", urlencode(rd)), &mut jar).await;
        let html = page.text().await.unwrap();
        assert!(!html.contains(r#"name="rd""#), "{rd} reached the form");
        let response = post_form(
            &app,
            "/signin",
            &mut jar,
            &[("email", &email), ("password", STRONG_PASSWORD), ("rd", rd)],
        )
        .await;
        assert_eq!(response.status(), 303, "{rd}");
        assert_eq!(location(&response), "/account", "{rd}");
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn oversize_and_malformed_posts_get_the_page_back_with_the_error_at_the_field() {
    let app = spawn_app().await;
    let mut jar = visitor(&app).await;
    let huge = "x".repeat(70 * 1024);
    let response = post_form(
        &app,
        "/signin",
        &mut jar,
        &[("email", "a@example.com"), ("password", &huge)],
    )
    .await;
    assert_eq!(response.status(), 413);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"id="password-error""#) && html.contains("This is too long"),
        "{html}"
    );

    let long = "x".repeat(5000);
    let response = post_form(
        &app,
        "/signin",
        &mut jar,
        &[("email", "a@example.com"), ("password", &long)],
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains(r#"id="password-error""#)
    );

    let response = post_form(
        &app,
        "/signup",
        &mut jar,
        &[("email", "not-an-address"), ("password", STRONG_PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"id="email-error""#) && html.contains(r##"href="#email""##),
        "{html}"
    );

    let response = post_form(&app, "/signin", &mut jar, &[]).await;
    assert_eq!(response.status(), 400);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"id="email-error""#) && html.contains(r#"id="password-error""#));

    for (content_type, body) in [
        ("application/json", b"{\"email\":\"a\"}".to_vec()),
        (
            "application/x-www-form-urlencoded",
            b"email=%ff%fe%&password=\xff\xfe".to_vec(),
        ),
        ("multipart/form-data; boundary=x", b"--x--".to_vec()),
    ] {
        let response = app
            .client
            .post(app.url("/signin"))
            .header("cookie", jar.header())
            .header("sec-fetch-site", "same-origin")
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert!((400..500).contains(&status), "{content_type}: {status}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("There is a problem")
        );
    }

    let (_, mut jar) = signed_in(&app).await;
    let response = post_form(
        &app,
        "/account/password",
        &mut jar,
        &[
            ("current_password", "wrong but long enough"),
            ("new_password", "weak"),
        ],
    )
    .await;
    assert!(response.status().is_client_error());
    let html = response.text().await.unwrap();
    assert!(
        html.contains(r#"id="new_password-error""#)
            || html.contains(r#"id="current_password-error""#),
        "{html}"
    );
}

#[tokio::test]
async fn the_account_page_needs_a_session_and_signs_out_when_it_is_revoked() {
    let app = spawn_app().await;
    let mut nobody = Jar::default();
    let response = get(&app, "/account", &mut nobody).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/signin?rd=%2Faccount");

    let (email, mut jar) = signed_in(&app).await;
    let account = get(&app, "/account", &mut jar).await;
    assert_eq!(account.status(), 200);
    assert!(account.text().await.unwrap().contains(&email));

    // Revoked elsewhere (the API, another device): the next page load
    // finds the access cookie revoked, the resume hop finds the session
    // gone, and the browser ends on the sign-in page without cookies.
    let access = jar.get("__Host-warden_at").unwrap().to_owned();
    let signout = app
        .client
        .post(app.url("/v1/signout"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(signout.status(), 204);
    let response = get(&app, "/account", &mut jar).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/v1/token/resume?rd=%2Faccount");
    let response = get(&app, "/v1/token/resume?rd=%2Faccount", &mut jar).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/signin?rd=%2Faccount");
    assert!(jar.get("__Host-warden_at").is_none() && jar.get("__Secure-warden_rt").is_none());
}

#[tokio::test]
async fn a_lapsed_access_cookie_is_renewed_for_the_sessions_lifetime() {
    let app = spawn_app().await;
    let (email, mut jar) = signed_in(&app).await;
    let old_refresh = jar.get("__Secure-warden_rt").unwrap().to_owned();
    // The browser dropped the 15-minute access cookie; the session lives on.
    app.clock.advance(chrono::Duration::minutes(20));
    jar.0.remove("__Host-warden_at");
    let response = get(&app, "/account", &mut jar).await;
    assert_eq!(location(&response), "/v1/token/resume?rd=%2Faccount");
    let response = get(&app, "/v1/token/resume?rd=%2Faccount", &mut jar).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/account");
    assert_ne!(
        jar.get("__Secure-warden_rt").unwrap(),
        old_refresh,
        "rotated"
    );
    let account = get(&app, "/account", &mut jar).await;
    assert_eq!(account.status(), 200);
    assert!(account.text().await.unwrap().contains(&email));
    // An rd elsewhere is dropped here too: back to the account page.
    let response = get(&app, "/v1/token/resume?rd=https%3A%2F%2Fevil.com", &mut jar).await;
    assert_eq!(location(&response), "/account");
}

#[tokio::test]
async fn revoking_a_session_and_changing_the_password_work_from_the_page() {
    let app = spawn_app().await;
    let (email, mut jar) = signed_in(&app).await;
    let other = app.sign_in_ok(&email, STRONG_PASSWORD).await;
    let page = get(&app, "/account", &mut jar).await.text().await.unwrap();
    let action = format!("/account/sessions/{}/revoke", other.session_id);
    assert!(page.contains(&action), "{page}");
    let response = post_form(&app, &action, &mut jar, &[]).await;
    assert_eq!(location(&response), "/account?notice=session_revoked");
    assert_eq!(app.validate(&other.access).await.status(), 401);

    let response = post_form(&app, "/account/sessions/not-an-id/revoke", &mut jar, &[]).await;
    assert_eq!(response.status(), 404);

    let new_password = "an entirely new passphrase 77";
    let response = post_form(
        &app,
        "/account/password",
        &mut jar,
        &[
            ("current_password", STRONG_PASSWORD),
            ("new_password", new_password),
        ],
    )
    .await;
    assert_eq!(location(&response), "/account?notice=password_changed");
    assert_eq!(app.signin(&email, new_password).await.status(), 200);
    let page = get(&app, "/account?notice=password_changed", &mut jar)
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Your password has been changed"));

    let response = post_form(&app, "/signout", &mut jar, &[]).await;
    assert_eq!(location(&response), "/signin?notice=signed_out");
    assert!(jar.get("__Host-warden_at").is_none());
}

#[tokio::test]
async fn assets_have_hashed_names_a_year_long_cache_and_a_small_page_weight() {
    let app = spawn_app().await;
    let mut jar = Jar::default();
    let html = get(&app, "/signin", &mut jar).await.text().await.unwrap();
    let mut weight = html.len();
    let assets: Vec<&str> = html
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert_eq!(assets.len(), 3, "{assets:?}");
    for path in assets {
        let response = get(&app, path, &mut jar).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        weight += response.bytes().await.unwrap().len();
    }
    assert!(weight < 30 * 1024, "{weight} bytes");
    assert_eq!(
        get(&app, "/assets/warden.css", &mut jar).await.status(),
        404
    );
}

#[tokio::test]
async fn cors_answers_the_allowed_origins_with_credentials_and_nobody_else() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/v1/signin"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, x-csrf-token",
            )
            .send()
    };
    let allowed = preflight(ALLOWED_ORIGIN).await.unwrap();
    assert!(allowed.status().is_success());
    let headers = allowed.headers();
    assert_eq!(headers["access-control-allow-origin"], ALLOWED_ORIGIN);
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let allowed_headers = headers["access-control-allow-headers"].to_str().unwrap();
    assert!(allowed_headers.contains("x-csrf-token") && allowed_headers.contains("content-type"));

    let refused = preflight("https://evil.example").await.unwrap();
    let cors: Vec<_> = refused
        .headers()
        .keys()
        .filter(|k| k.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{cors:?}");

    let me = app
        .client
        .get(app.url("/v1/me"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        me.headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-"))
    );
    let me = app
        .client
        .get(app.url("/v1/me"))
        .header("origin", HeaderValue::from_static(ALLOWED_ORIGIN))
        .send()
        .await
        .unwrap();
    assert_eq!(me.headers()["access-control-allow-origin"], ALLOWED_ORIGIN);
}
