//! What passes through to upstreams: failures (502/504), WebSocket upgrades,
//! streaming bodies and h2c clients.

use super::*;

#[tokio::test]
async fn unreachable_upstreams_are_502_and_slow_ones_504() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let s = setup_routes(spawn_app().await, "", |echo| {
        format!(
            "[[route]]\nprefix = \"/down/\"\nupstream = \"http://{closed_addr}\"\nauth = \"public\"\n\n\
             [[route]]\nprefix = \"/slow/\"\nupstream = \"{}\"\nauth = \"public\"\ntimeout = \"300ms\"\n",
            echo.url()
        )
    })
    .await;
    assert_problem(s.get("/down/x", None).await, 502, "bad_gateway").await;
    let started = Instant::now();
    assert_problem(s.get("/slow/x", None).await, 504, "gateway_timeout").await;
    assert!(started.elapsed() < Duration::from_millis(1500));
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
        metrics
            .contains(r#"warden_gateway_upstream_errors_total{route="/down/",reason="connect"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics
            .contains(r#"warden_gateway_upstream_errors_total{route="/slow/",reason="timeout"} 1"#)
    );
}

/// Each WebSocket handshake's path and X-Warden-User.
type Handshakes = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A WebSocket echo server that records its handshakes.
async fn websocket_upstream() -> (SocketAddr, Handshakes) {
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handshakes: Handshakes = Arc::default();
    let record = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                #[allow(clippy::result_large_err)] // the signature tungstenite asks for
                let callback = |request: &Request, response: Response| {
                    let user = request
                        .headers()
                        .get("x-warden-user")
                        .map(|v| v.to_str().unwrap().to_owned());
                    record
                        .lock()
                        .unwrap()
                        .push((request.uri().path().to_owned(), user));
                    Ok(response)
                };
                let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, callback).await
                else {
                    return;
                };
                while let Some(Ok(message)) = socket.next().await {
                    if message.is_text() {
                        let text = message.into_text().unwrap();
                        let reply = format!("echo: {}", text.as_str());
                        if socket.send(reply.into()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, handshakes)
}

#[tokio::test]
async fn websockets_and_streaming_bodies_pass_through() {
    let (ws, handshakes) = websocket_upstream().await;
    let s = setup_routes(spawn_app().await, "", |echo| {
        format!(
            "[[route]]\nprefix = \"/ws/\"\nupstream = \"http://{ws}\"\nwebsocket = true\n\n\
             [[route]]\nprefix = \"/stream/\"\nupstream = \"{}\"\nauth = \"public\"\ntimeout = \"500ms\"\n",
            echo.url()
        )
    })
    .await;
    let (token, user) = s.signup().await;

    // WebSocket, with the token, end to end.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let mut request = format!("ws://{}/ws/echo", s.gateway.addr)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.status(), 101);
    for i in 0..3 {
        socket.send(format!("hello {i}").into()).await.unwrap();
        let reply = socket.next().await.unwrap().unwrap();
        assert_eq!(
            reply.into_text().unwrap().as_str(),
            format!("echo: hello {i}")
        );
    }
    socket.close(None).await.unwrap();
    assert_eq!(
        handshakes.lock().unwrap().clone(),
        [(
            "/ws/echo".to_owned(),
            Some(user["id"].as_str().unwrap().to_owned())
        )]
    );
    // Without a token the upgrade is refused before reaching the upstream.
    let refused =
        tokio_tungstenite::connect_async(format!("ws://{}/ws/echo", s.gateway.addr)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401)
        }
        other => panic!("expected 401, got {other:?}"),
    }

    // A slow response streams: the first chunk arrives long before the
    // last is written, and a body longer than the route timeout is fine.
    let started = Instant::now();
    let mut response = s.get("/stream/x", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    let first = response.chunk().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert_eq!(&first[..], b"chunk 0\n");
    let mut rest = Vec::new();
    while let Some(chunk) = response.chunk().await.unwrap() {
        rest.extend_from_slice(&chunk);
    }
    assert!(String::from_utf8(rest).unwrap().ends_with("chunk 4\n"));
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert!(
        first_at < Duration::from_millis(500),
        "first chunk after {first_at:?}"
    );

    // A large request body reaches the upstream whole (64 MiB).
    const CHUNK: usize = 1 << 20;
    let response = s
        .client
        .post(s.gateway.url("/stream/upload"))
        .body(vec![7_u8; 64 * CHUNK])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["bytes"], 64 * CHUNK);

    // The request body streams too: the client holds back the end of its
    // body until the upstream has seen the beginning, which only happens if
    // the gateway forwards chunks as they come instead of buffering.
    let mut stream = tokio::net::TcpStream::connect(s.gateway.addr)
        .await
        .unwrap();
    stream
        .write_all(
            b"POST /stream/upload HTTP/1.1\r\nHost: gw.test\r\nTransfer-Encoding: chunked\r\n\
              Connection: close\r\n\r\n5\r\nfirst\r\n",
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), s.echo.upload_started.notified())
        .await
        .expect("the upstream saw the first chunk while the client was still sending");
    stream.write_all(b"6\r\nsecond\r\n0\r\n\r\n").await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"bytes\":11"), "{response}");
}

/// Clients speaking HTTP/2 without TLS (h2c, prior knowledge) get the same
/// checks; the upstream is still spoken to over HTTP/1.1.
#[tokio::test]
async fn h2c_clients_are_authenticated_like_http1_ones() {
    use http_body_util::{BodyExt as _, Full};
    let s = setup().await;
    let (token, user) = s.signup().await;
    let tcp = tokio::net::TcpStream::connect(s.gateway.addr)
        .await
        .unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let get = |token: Option<&str>| {
        let mut request =
            axum::http::Request::get(format!("http://{}/api/tickets/9", s.gateway.addr))
                .header("x-warden-user", "spoofed");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(Full::new(bytes::Bytes::new())).unwrap()
    };

    let response = sender.send_request(get(Some(&token))).await.unwrap();
    assert_eq!(response.version(), axum::http::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    let seen = s.echo.last();
    assert_eq!(seen.path, "/api/tickets/9");
    assert_eq!(seen.headers["x-warden-user"], user["id"].as_str().unwrap());

    let before = s.echo.seen().len();
    let response = sender.send_request(get(None)).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["code"], "invalid_token");
    assert_eq!(s.echo.seen().len(), before);
}
