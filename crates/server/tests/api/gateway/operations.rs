//! Running the gateway: SIGHUP reload without dropped connections, the admin
//! listener (health, readiness, metrics) and `gateway check`.

use super::*;

/// One request on an open keep-alive connection; the status and body.
async fn keep_alive_get(
    stream: &mut tokio::io::BufStream<tokio::net::TcpStream>,
    path: &str,
    token: &str,
) -> (u16, String) {
    stream
        .write_all(
            format!(
                "GET {path} HTTP/1.1\r\nHost: gw.test\r\nAuthorization: Bearer {token}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    stream.flush().await.unwrap();
    let mut status_line = String::new();
    stream.read_line(&mut status_line).await.unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    stream.read_exact(&mut body).await.unwrap();
    (status, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn sighup_reloads_routes_without_dropping_connections() {
    let s = setup().await;
    let (token, _) = s.signup().await;
    let mut kept = tokio::io::BufStream::new(
        tokio::net::TcpStream::connect(s.gateway.addr)
            .await
            .unwrap(),
    );
    assert_eq!(
        keep_alive_get(&mut kept, "/api/tickets/1", &token).await.0,
        200
    );
    assert_eq!(
        s.get("/new/x", Some(&token)).await.status(),
        StatusCode::NOT_FOUND
    );

    // An invalid file is refused and the old routes keep serving.
    let original = std::fs::read_to_string(&s.gateway.config).unwrap();
    std::fs::write(&s.gateway.config, format!("{original}\nbogus_key = 1\n")).unwrap();
    s.gateway.reload();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        keep_alive_get(&mut kept, "/api/tickets/2", &token).await.0,
        200
    );

    let extra = format!(
        "\n[[route]]\nprefix = \"/new/\"\nupstream = \"{}\"\n",
        s.echo.url()
    );
    std::fs::write(&s.gateway.config, format!("{original}{extra}")).unwrap();
    s.gateway.reload();
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.get("/new/x", Some(&token)).await.status() != StatusCode::OK {
        assert!(Instant::now() < deadline, "the new route never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(s.echo.last().path, "/new/x");
    // The connection opened before both reloads still works, on new routes too.
    assert_eq!(
        keep_alive_get(&mut kept, "/api/tickets/3", &token).await.0,
        200
    );
    let (status, body) = keep_alive_get(&mut kept, "/new/y", &token).await;
    assert_eq!(status, 200, "{body}");
    let metrics = s
        .client
        .get(format!("{}/metrics", s.gateway.admin))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(r#"warden_gateway_config_reloads_total{outcome="invalid"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"warden_gateway_config_reloads_total{outcome="ok"} 1"#));
}

#[tokio::test]
async fn health_readiness_and_metrics_on_the_admin_listener() {
    let s = setup().await;
    let (token, _) = s.signup().await;
    s.get("/api/tickets/", Some(&token)).await;
    s.get("/api/tickets/", None).await;
    s.get("/nowhere", None).await;
    let admin = |path: &str| s.client.get(format!("{}{path}", s.gateway.admin)).send();
    assert_eq!(admin("/healthz").await.unwrap().status(), StatusCode::OK);
    let ready: Value = admin("/readyz").await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    let metrics = admin("/metrics").await.unwrap().text().await.unwrap();
    for line in [
        r#"warden_gateway_requests_total{route="/api/tickets/",class="2xx"} 1"#,
        r#"warden_gateway_requests_total{route="/api/tickets/",class="4xx"} 1"#,
        r#"warden_gateway_requests_total{route="none",class="4xx"} 1"#,
        r#"warden_gateway_auth_failures_total{route="/api/tickets/",reason="invalid_token"} 1"#,
        r#"warden_gateway_request_duration_seconds_count{route="/api/tickets/"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} missing in\n{metrics}");
    }
    assert!(!metrics.contains(&token));
    // The proxy listener does not serve them: they are ordinary paths there.
    assert_problem(s.get("/metrics", None).await, 404, "not_found").await;

    // A gateway that cannot reach Warden is alive but not ready, and says why.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let config = std::fs::read_to_string(&s.gateway.config).unwrap().replace(
        &format!("endpoint = \"http://{}\"", s.warden.addr),
        &format!("endpoint = \"http://{closed_addr}\""),
    );
    let lonely = Gateway::spawn(&config);
    assert_eq!(
        s.client
            .get(format!("{}/healthz", lonely.admin))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let response = s
        .client
        .get(format!("{}/readyz", lonely.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"]["jwks"], "not loaded");
    assert_eq!(body["checks"]["revocations"], "stale");
    // Tokens cannot be checked: 503, never a pass.
    assert_problem(
        s.client
            .get(format!("{}/api/tickets/", lonely.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        503,
        "keys_unavailable",
    )
    .await;
}

#[test]
fn gateway_check_refuses_bad_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    let check = |text: &str| {
        std::fs::write(&path, text).unwrap();
        let output = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["gateway", "--check", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let good = "listen = \"127.0.0.1:8000\"\nissuer = \"http://127.0.0.1:8080\"\n\n[[route]]\nprefix = \"/a/\"\nupstream = \"http://127.0.0.1:4001\"\n";
    let (ok, stderr) = check(good);
    assert!(ok, "{stderr}");
    let (ok, stderr) = check(&format!("{good}rolez = [\"x\"]\n"));
    assert!(!ok);
    assert!(stderr.contains("rolez"), "{stderr}");
    let (ok, stderr) = check(&format!(
        "{good}\n[[route]]\nprefix = \"/a\"\nupstream = \"http://127.0.0.1:4002\"\n"
    ));
    assert!(!ok);
    assert!(stderr.contains("duplicate"), "{stderr}");
    // The shipped examples are accepted.
    for example in [
        "../../deploy/gateway/gateway.toml",
        "../../deploy/compose/gateway.toml",
        "../../deploy/k8s/components/gateway/gateway.toml",
    ] {
        let text =
            std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(example))
                .unwrap();
        let (ok, stderr) = check(&text);
        assert!(ok, "{example}: {stderr}");
    }
}
