//! Authentication at the gateway: the identity upstreams are handed, refusals,
//! the sign-in redirect for page loads, path tricks (checklist 46-47) and the
//! CSRF check of cookie mode.

use super::*;

#[tokio::test]
async fn signs_up_through_auth_and_hands_upstreams_a_trusted_identity() {
    let s = setup().await;
    let (token, user) = s.signup().await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let response = s
        .client
        .get(s.gateway.url("/api/tickets/42?sort=new"))
        .bearer_auth(&token)
        .header("X-Warden-User", "admin")
        .header("x-warden-roles", "admin")
        .header("X-WARDEN-SESSION", "forged")
        .header("traceparent", traceparent)
        .header("tracestate", "vendor=1")
        .header("connection", "x-client-hop")
        .header("x-client-hop", "1")
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("x-upstream-hop").is_none());
    let seen = s.echo.last();
    assert_eq!(seen.path, "/api/tickets/42?sort=new");
    assert_eq!(seen.headers["x-warden-user"], user["id"].as_str().unwrap());
    assert_eq!(seen.headers["x-warden-roles"], "user");
    assert_ne!(seen.headers["x-warden-session"], "forged");
    assert_eq!(seen.headers["traceparent"], traceparent);
    assert_eq!(seen.headers["tracestate"], "vendor=1");
    assert!(!seen.headers.contains_key("x-client-hop"));
    assert_eq!(seen.headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(seen.headers["x-forwarded-proto"], "http");
    assert_eq!(seen.headers["authorization"], format!("Bearer {token}"));
    assert_eq!(seen.headers["host"], s.echo.addr.to_string());

    // Without trace context the gateway starts one.
    s.get("/api/tickets/", Some(&token)).await;
    let generated = s.echo.last().headers["traceparent"].clone();
    let parts: Vec<&str> = generated.split('-').collect();
    assert_eq!((parts.len(), parts[0], parts[1].len()), (4, "00", 32));

    // Public routes: spoofed identity never passes; a valid token adds one.
    let response = s
        .client
        .get(s.gateway.url("/public/x"))
        .header("X-Warden-User", "admin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!s.echo.last().headers.contains_key("x-warden-user"));
    s.get("/public/x", Some(&token)).await;
    assert_eq!(
        s.echo.last().headers["x-warden-user"],
        user["id"].as_str().unwrap()
    );
    s.get("/public/x", Some("not-a-token")).await;
    assert!(!s.echo.last().headers.contains_key("x-warden-user"));

    // Warden behind /auth/ sees the bearer too.
    let me: Value = s
        .get("/auth/v1/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], user["id"]);
}

#[tokio::test]
async fn refuses_missing_invalid_and_underprivileged_tokens() {
    let s = setup().await;
    let (token, _) = s.signup().await;
    let before = s.echo.seen().len();

    let response = s
        .client
        .get(s.gateway.url("/api/tickets/"))
        .header("X-Warden-User", "admin")
        .send()
        .await
        .unwrap();
    // RFC 6750: no credential, no error code; a refused token, invalid_token.
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer realm=\"warden\""
    );
    assert_problem(response, 401, "invalid_token").await;
    let garbage = s.get("/api/tickets/", Some("garbage")).await;
    assert_eq!(
        garbage.headers()["www-authenticate"],
        "Bearer realm=\"warden\", error=\"invalid_token\""
    );
    assert_problem(garbage, 401, "invalid_token").await;
    assert_problem(s.get("/admin/users", Some(&token)).await, 403, "forbidden").await;
    assert_problem(s.get("/nowhere", Some(&token)).await, 404, "not_found").await;
    assert_eq!(
        s.echo.seen().len(),
        before,
        "nothing refused reached the upstream"
    );

    let admin = s.warden.new_admin().await;
    assert_eq!(
        s.get("/admin/users", Some(&admin.access)).await.status(),
        StatusCode::OK
    );
}

/// With `sign_in_url`, a browser loading a page without a valid token is
/// sent to the sign-in page with the address to come back to; API calls,
/// unsafe methods and missing roles keep their problem+json answer.
#[tokio::test]
async fn page_loads_without_a_valid_token_go_to_the_sign_in_page() {
    let s = setup_with("sign_in_url = \"https://auth.warden.test/sign-in\"", "").await;
    let (token, _) = s.signup().await;
    let before = s.echo.seen().len();
    // A browser asks for HTML.
    let browser = |method: reqwest::Method, path: &str| {
        s.client
            .request(method, s.gateway.url(path))
            .header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
    };
    let page_load = |token: Option<&str>, host: Option<&str>| {
        let mut request = browser(reqwest::Method::GET, "/api/tickets/7?tab=open");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(host) = host {
            request = request
                .header("host", host)
                .header("x-forwarded-proto", "https");
        }
        request.send()
    };
    let location = |response: &reqwest::Response| {
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(response.headers()["cache-control"], "no-store");
        response.headers()["location"].to_str().unwrap().to_owned()
    };

    // No token, or a bad one: back to the path after signing in.
    let path_only = "https://auth.warden.test/sign-in?rd=%2Fapi%2Ftickets%2F7%3Ftab%3Dopen";
    assert_eq!(location(&page_load(None, None).await.unwrap()), path_only);
    assert_eq!(
        location(&page_load(Some("garbage"), None).await.unwrap()),
        path_only
    );
    // The full URL only for an allowed origin; another Host gets the path.
    let allowed_host = ALLOWED_ORIGIN.trim_start_matches("https://");
    assert_eq!(
        location(&page_load(None, Some(allowed_host)).await.unwrap()),
        format!(
            "https://auth.warden.test/sign-in?rd=https%3A%2F%2F{}%2Fapi%2Ftickets%2F7%3Ftab%3Dopen",
            allowed_host
        )
    );
    assert_eq!(
        location(&page_load(None, Some("evil.example")).await.unwrap()),
        path_only
    );

    // An API call and a form post keep the 401; a missing role stays 403.
    assert_problem(s.get("/api/tickets/7", None).await, 401, "invalid_token").await;
    let post = browser(reqwest::Method::POST, "/api/tickets/")
        .send()
        .await
        .unwrap();
    assert_problem(post, 401, "invalid_token").await;
    let admin_page = browser(reqwest::Method::GET, "/admin/users")
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_problem(admin_page, 403, "forbidden").await;
    assert_eq!(
        s.echo.seen().len(),
        before,
        "nothing refused reached the upstream"
    );

    // A valid token and public routes pass as before.
    assert_eq!(
        page_load(Some(&token), None).await.unwrap().status(),
        StatusCode::OK
    );
    let public = browser(reqwest::Method::GET, "/public/x")
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::OK);
}

#[tokio::test]
async fn path_tricks_never_reach_a_role_only_route() {
    let s = setup().await;
    let (token, _) = s.signup().await;
    let tricks = [
        "/admin/x",
        "/%61dmin/x",
        "/%41DMIN/x",
        "//admin/x",
        "/admin/../admin/x",
        "/./admin/x",
        "/admin;x",
        "/admin;x/y",
        "/ADMIN/x",
        "/Admin/x",
        "/public/../admin/x",
        "/public/..%2fadmin/x",
        "/public/..%2Fadmin/x",
        "/public/%2e%2e/admin/x",
        "/public/..%5cadmin/x",
        "/admin%00/x",
        "/admin%2fx",
    ];
    for trick in tricks {
        let status = raw_status(s.gateway.addr, trick, &token).await;
        assert!(
            matches!(status, 400 | 403 | 404),
            "{trick} answered {status}"
        );
        assert!(
            !s.echo
                .seen()
                .iter()
                .any(|seen| seen.path.to_ascii_lowercase().contains("admin")),
            "{trick} reached the upstream: {:?}",
            s.echo.seen()
        );
    }
    assert_eq!(
        raw_status(s.gateway.addr, "/public/..%2fadmin/x", &token).await,
        400
    );

    // An admin gets through, and the upstream sees the normalised path.
    let admin = s.warden.new_admin().await;
    assert_eq!(
        raw_status(s.gateway.addr, "/%61dmin//./x", &admin.access).await,
        200
    );
    assert_eq!(s.echo.last().path, "/admin/x");
}

#[tokio::test]
async fn cookie_mode_needs_the_csrf_token_for_state_changes() {
    let s = setup().await;
    let response = s
        .client
        .post(s.gateway.url("/auth/v1/signup?cookie=true"))
        .header("origin", ALLOWED_ORIGIN)
        .json(&json!({ "email": unique_email(), "password": STRONG_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let mut cookies = HashMap::new();
    for header in response.headers().get_all("set-cookie") {
        let pair = header.to_str().unwrap().split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        cookies.insert(name.to_owned(), value.to_owned());
    }
    let cookie = format!(
        "__Host-warden_at={}; warden_csrf={}",
        cookies["__Host-warden_at"], cookies["warden_csrf"]
    );
    let send = |method: reqwest::Method, csrf: Option<&str>, origin: &str| {
        let mut request = s
            .client
            .request(method, s.gateway.url("/api/tickets/"))
            .header("cookie", &cookie)
            .header("origin", origin);
        if let Some(csrf) = csrf {
            request = request.header("x-csrf-token", csrf);
        }
        request.send()
    };
    assert_eq!(
        send(reqwest::Method::GET, None, ALLOWED_ORIGIN)
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let before = s.echo.seen().len();
    for method in [reqwest::Method::POST, reqwest::Method::DELETE] {
        assert_problem(
            send(method.clone(), None, ALLOWED_ORIGIN).await.unwrap(),
            403,
            "csrf_failed",
        )
        .await;
        assert_problem(
            send(method.clone(), Some("wrong"), ALLOWED_ORIGIN)
                .await
                .unwrap(),
            403,
            "csrf_failed",
        )
        .await;
        assert_problem(
            send(
                method,
                Some(&cookies["warden_csrf"]),
                "https://evil.example",
            )
            .await
            .unwrap(),
            403,
            "csrf_failed",
        )
        .await;
    }
    assert_eq!(s.echo.seen().len(), before);
    let response = send(
        reqwest::Method::POST,
        Some(&cookies["warden_csrf"]),
        ALLOWED_ORIGIN,
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(s.echo.last().headers.contains_key("x-warden-user"));
}

#[tokio::test]
async fn an_mfa_route_lets_only_two_factor_tokens_through() {
    let s = setup_routes(spawn_app().await, "", |echo| {
        format!(
            "\n[[route]]\nprefix = \"/payments/\"\nupstream = \"{}\"\nmfa = true\n",
            echo.url()
        )
    })
    .await;
    let enrolled = crate::mfa::enrolled(&s.warden).await;
    let one_factor = s
        .client
        .get(s.gateway.url("/payments/send"))
        .bearer_auth(&enrolled.user.access)
        .send()
        .await
        .unwrap();
    assert_eq!(one_factor.status(), StatusCode::UNAUTHORIZED);
    let challenge = one_factor.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_user_authentication\"")
            && challenge.contains("acr_values=\"aal2\""),
        "{challenge}"
    );
    let body: Value = one_factor.json().await.unwrap();
    assert_eq!(body["code"], "insufficient_user_authentication");

    let tokens = crate::mfa::two_factor_tokens(&s.warden, &enrolled).await;
    let response = s
        .client
        .get(s.gateway.url("/payments/send"))
        .bearer_auth(&tokens.access)
        .header("x-warden-acr", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let seen = s.echo.last();
    assert_eq!(seen.headers["x-warden-acr"], "aal2");
    assert_eq!(seen.headers["x-warden-amr"], "pwd,otp,mfa");
    // Other routes take one factor and say so.
    s.get("/api/tickets/1", Some(&enrolled.user.access)).await;
    assert_eq!(s.echo.last().headers["x-warden-acr"], "aal1");
}
