//! Each real proxy, with its committed configuration, guarding the upstream.

use super::*;

async fn guards_the_upstream(kind: Kind) {
    if is_backend_pass() {
        return;
    }
    let Some(binary) = binary(kind) else {
        return;
    };
    let setup = Setup::start().await;
    let upstream_addr = setup.upstream.addr.to_string();
    let proxy = Proxy::start(kind, &binary, &setup.warden_addr(), &upstream_addr).await;
    let (early_token, _, _) = setup.sign_in(&setup.alice).await;
    let issued = Instant::now();
    let upstream = &setup.upstream;

    // No token: 401, and the upstream never sees the request.
    let reply = proxy.refused(upstream, "/app/x", &[], "none").await;
    assert_eq!(reply.status, 401, "{kind:?}: {reply:?}");
    if kind == Kind::Haproxy {
        // The client gets Warden's own answer, not a page of the proxy's.
        assert_eq!(reply.problem_code(), "invalid_token");
        assert_eq!(
            reply.header("www-authenticate"),
            Some("Bearer realm=\"warden\"")
        );
    }

    // A browser page load without a token is sent to the sign-in page
    // (`[verify] sign_in_url`), with the way back in `rd`: the path only,
    // as the proxy's host is not an allowed origin. nginx's auth_request
    // cannot pass a redirect on and refuses instead.
    let reply = proxy
        .refused(
            upstream,
            "/app/x?tab=2",
            &[("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")],
            "page-load",
        )
        .await;
    if kind == Kind::Nginx {
        assert!(reply.status >= 400, "{reply:?}");
    } else {
        assert_eq!(reply.status, 302, "{kind:?}: {reply:?}");
        let location = reply.header("location").unwrap_or_default();
        if kind == Kind::Traefik {
            // Traefik resolves a relative Location against the forwardAuth
            // address, Warden's: with Traefik, sign_in_url must be absolute.
            let warden = format!("http://{}/sign-in?rd=", setup.warden_addr());
            assert!(location.starts_with(&warden), "{location}");
        }
        assert!(
            location.ends_with("/sign-in?rd=%2Fapp%2Fx%3Ftab%3D2"),
            "{kind:?}: {location}"
        );
        if kind != Kind::Traefik {
            assert_eq!(location, "/sign-in?rd=%2Fapp%2Fx%3Ftab%3D2", "{kind:?}");
        }
    }

    // Spoofed identity or original-request headers without a token.
    for (id, name, value) in [
        ("spoof-user", "X-Warden-User", "admin"),
        ("spoof-uri", "X-Original-URI", "/public/x"),
        ("spoof-fwd", "X-Forwarded-Uri", "/public/x"),
        ("spoof-url", "X-Original-URL", "http://app.test/public/x"),
    ] {
        let reply = proxy
            .refused(upstream, "/app/x", &[(name, value)], id)
            .await;
        assert!(reply.status >= 400, "{kind:?} {name}: {reply:?}");
        if kind == Kind::Haproxy {
            // Dropped before asking Warden, whose answer is then about the
            // missing token, not about headers that disagree (400).
            assert_eq!(reply.status, 401, "{name}: {reply:?}");
        }
    }

    // A valid token: the upstream sees the token's identity, never the
    // client's own X-Warden-* values.
    let (alice_token, alice_id, alice_sid) = setup.sign_in(&setup.alice).await;
    let auth_value = bearer(&alice_token);
    let auth = auth_value.as_str();
    let reply = proxy
        .send(
            "GET",
            "/app/x",
            &[
                ("Authorization", auth),
                ("X-Warden-User", "admin"),
                ("X-Warden-Roles", "admin"),
                ("X-Warden-Session", "forged"),
                ("X-Warden-Acr", "aal2"),
                ("X-Warden-Amr", "pwd,otp,mfa"),
            ],
        )
        .await;
    assert_eq!(reply.status, 200, "{kind:?}: {reply:?}");
    let seen = reply.report();
    assert_eq!(
        seen["headers"]["x-warden-user"],
        json!([alice_id]),
        "{kind:?}"
    );
    assert_eq!(seen["headers"]["x-warden-session"], json!([alice_sid]));
    assert_eq!(seen["headers"]["x-warden-roles"], json!(["user"]));
    // A one-factor token: the client's claim of a second factor is gone.
    assert_eq!(seen["headers"]["x-warden-acr"], json!(["aal1"]), "{kind:?}");
    assert_eq!(seen["headers"]["x-warden-amr"], json!(["pwd"]), "{kind:?}");

    // A public path: no token needed, and no identity, whatever the client sent.
    let reply = proxy
        .send(
            "GET",
            "/public/page",
            &[
                ("X-Warden-User", "admin"),
                ("X-Warden-Roles", "admin"),
                ("X-Warden-Acr", "aal2"),
            ],
        )
        .await;
    assert_eq!(reply.status, 200, "{kind:?}: {reply:?}");
    let headers = reply.report()["headers"].clone();
    for name in [
        "x-warden-user",
        "x-warden-session",
        "x-warden-roles",
        "x-warden-acr",
        "x-warden-amr",
    ] {
        assert!(headers.get(name).is_none(), "{kind:?}: {name} in {headers}");
    }

    // The admin rule, for every spelling of the path.
    let (admin_token, admin_id, _) = setup.sign_in(&setup.admin).await;
    let reply = proxy
        .send(
            "GET",
            "/admin/users",
            &[("Authorization", bearer(&admin_token).as_str())],
        )
        .await;
    assert_eq!(reply.status, 200, "{kind:?}: {reply:?}");
    assert_eq!(
        reply.report()["headers"]["x-warden-user"],
        json!([admin_id])
    );
    for (n, trick) in ADMIN_TRICKS.iter().enumerate() {
        let id = format!("trick-{n}");
        let reply = proxy
            .refused(upstream, trick, &[("Authorization", auth)], &id)
            .await;
        assert!(
            (400..500).contains(&reply.status) || reply.status == 500,
            "{kind:?} let {trick} through: {reply:?}"
        );
    }

    // The role-checking location of nginx and HAProxy
    // (`/v1/verify?role=reports`).
    if matches!(kind, Kind::Nginx | Kind::Haproxy) {
        let reply = proxy
            .refused(
                upstream,
                "/reports/q3",
                &[("Authorization", auth)],
                "reports",
            )
            .await;
        assert_eq!(reply.status, 403, "{kind:?}: {reply:?}");
        let (reporter_token, reporter_id, _) = setup.sign_in(&setup.reporter).await;
        let reply = proxy
            .send(
                "GET",
                "/reports/q3",
                &[("Authorization", bearer(&reporter_token).as_str())],
            )
            .await;
        assert_eq!(reply.status, 200, "{kind:?}: {reply:?}");
        assert_eq!(
            reply.report()["headers"]["x-warden-user"],
            json!([reporter_id])
        );
    }
    // Both choose that check by path before Warden normalises it: every
    // spelling an application may read as /reports/ must still demand the
    // role (nginx's location once let /REPORTS/ and /reports;x/ through).
    if matches!(kind, Kind::Nginx | Kind::Haproxy) {
        for (n, spelling) in [
            "//reports/q3",
            "/%72eports/q3",
            "/REPORTS/q3",
            "/public/../reports/q3",
            "/reports;x/q3",
            "/reports",
        ]
        .iter()
        .enumerate()
        {
            let id = format!("reports-{n}");
            let reply = proxy
                .refused(upstream, spelling, &[("Authorization", auth)], &id)
                .await;
            assert_eq!(reply.status, 403, "{kind:?} {spelling}: {reply:?}");
            if kind == Kind::Haproxy {
                assert_eq!(reply.problem_code(), "forbidden", "{spelling}");
            }
        }
    }

    // Forged tokens.
    // A changed signature character (not the last, whose low bits are
    // padding).
    let at = alice_token.len() - 5;
    let swapped = if &alice_token[at..=at] == "A" {
        "B"
    } else {
        "A"
    };
    let forged = format!("{}{swapped}{}", &alice_token[..at], &alice_token[at + 1..]);
    for token in [
        forged.as_str(),
        "wst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "x.y.z",
    ] {
        let reply = proxy
            .send(
                "GET",
                "/app/x",
                &[("Authorization", bearer(token).as_str())],
            )
            .await;
        assert_eq!(reply.status, 401, "{kind:?} {token}: {reply:?}");
    }

    // Signed out: the token stops working at once.
    let signout = setup
        .client
        .post(format!("{}/v1/signout", setup.warden.base))
        .bearer_auth(&alice_token)
        .send()
        .await
        .expect("signout");
    assert_eq!(signout.status(), 204);
    let reply = proxy
        .send("GET", "/app/x", &[("Authorization", auth)])
        .await;
    assert_eq!(reply.status, 401, "{kind:?} after sign-out: {reply:?}");

    // Expired.
    let early_value = bearer(&early_token);
    let early = early_value.as_str();
    let expiry = Duration::from_secs(ACCESS_TTL_SECS + 1);
    tokio::time::sleep(expiry.saturating_sub(issued.elapsed())).await;
    let reply = proxy
        .send("GET", "/app/x", &[("Authorization", early)])
        .await;
    assert_eq!(reply.status, 401, "{kind:?} expired: {reply:?}");
    if kind == Kind::Haproxy {
        assert_eq!(reply.problem_code(), "token_expired");
    }

    // Warden gone: the proxy fails closed.
    let (token, _, _) = setup.sign_in(&setup.admin).await;
    drop(setup.warden);
    let reply = proxy
        .refused(
            &setup.upstream,
            "/app/x",
            &[("Authorization", bearer(&token).as_str())],
            "warden-down",
        )
        .await;
    assert!(reply.status >= 500, "{kind:?} without Warden: {reply:?}");
}

#[tokio::test]
async fn nginx_auth_request_with_the_committed_config_guards_the_upstream() {
    guards_the_upstream(Kind::Nginx).await;
}

#[tokio::test]
async fn caddy_forward_auth_with_the_committed_config_guards_the_upstream() {
    guards_the_upstream(Kind::Caddy).await;
}

#[tokio::test]
async fn traefik_forward_auth_with_the_committed_config_guards_the_upstream() {
    guards_the_upstream(Kind::Traefik).await;
}

#[tokio::test]
async fn haproxy_lua_forward_auth_with_the_committed_config_guards_the_upstream() {
    guards_the_upstream(Kind::Haproxy).await;
}
