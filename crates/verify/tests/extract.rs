//! The axum extractors and the tower layer, through a real server on
//! loopback and a real HTTP client; the layer also in front of a real tonic
//! server, called by a real gRPC client.

use axum::Router;
use axum::routing::get;
use warden_token::revocation::{Revocation, RevocationKind};
use warden_token::{AccessClaims, Algorithm, Audience, JwkSet, SigningKey};
use warden_verify::{
    Principal, RequireMfa, RequireRole, RevocationFeed, RoleName, Verifier, VerifyLayer,
};

struct Admin;
impl RoleName for Admin {
    const NAME: &'static str = "admin";
}

async fn whoami(principal: Principal) -> String {
    principal.user_id.to_string()
}

async fn admin(RequireRole(principal, ..): RequireRole<Admin>) -> String {
    format!("admin {}", principal.user_id)
}

async fn from_layer(axum::Extension(principal): axum::Extension<Principal>) -> String {
    principal.session_id.to_string()
}

fn token(key: &SigningKey, roles: &[&str]) -> (String, AccessClaims) {
    let now = chrono::Utc::now().timestamp();
    let claims = AccessClaims {
        iss: "https://auth.example".into(),
        sub: uuid::Uuid::now_v7().to_string(),
        aud: Audience::One("warden".into()),
        exp: now + 900,
        iat: now,
        nbf: now,
        jti: "j".into(),
        sid: uuid::Uuid::now_v7().to_string(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        amr: vec!["pwd".into()],
        acr: "aal1".into(),
        auth_time: now,
        client_id: None,
        scope: None,
    };
    (key.sign(&claims).unwrap(), claims)
}

async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

async fn verifier(key: &SigningKey) -> Verifier {
    Verifier::builder()
        .issuer("https://auth.example")
        .jwks(JwkSet {
            keys: vec![key.public_jwk()],
        })
        .revocations(RevocationFeed::disabled())
        .build()
        .await
        .unwrap()
}

#[tokio::test]
async fn extractors_answer_401_403_or_let_the_handler_run() {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let verifier = verifier(&key).await;
    let base = serve(
        Router::new()
            .route("/whoami", get(whoami))
            .route("/admin", get(admin))
            .with_state(verifier.clone()),
    )
    .await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (user_token, user) = token(&key, &["user"]);
    let (admin_token, _) = token(&key, &["user", "admin"]);

    let ok = client
        .get(format!("{base}/whoami"))
        .bearer_auth(&user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), user.sub);

    let missing = client.get(format!("{base}/whoami")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(
        missing.headers()["content-type"],
        "application/problem+json"
    );
    // RFC 6750: no credential, no error code.
    assert_eq!(
        missing.headers()["www-authenticate"],
        "Bearer realm=\"warden\""
    );
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["code"], "invalid_token");

    let forged = client
        .get(format!("{base}/whoami"))
        .bearer_auth(format!("{user_token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(
        forged.headers()["www-authenticate"],
        "Bearer realm=\"warden\", error=\"invalid_token\""
    );
    let basic = client
        .get(format!("{base}/whoami"))
        .header("authorization", format!("Basic {user_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401, "only the Bearer scheme");

    let forbidden = client
        .get(format!("{base}/admin"))
        .bearer_auth(&user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    let body: serde_json::Value = forbidden.json().await.unwrap();
    assert_eq!(body["code"], "forbidden");
    let allowed = client
        .get(format!("{base}/admin"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);

    // Revoked: 401 token_revoked, at once.
    verifier.deny_list().insert(&Revocation {
        kind: RevocationKind::Session,
        id: user.sid.parse().unwrap(),
        not_before: None,
        until: chrono::Utc::now() + chrono::Duration::minutes(16),
    });
    let revoked = client
        .get(format!("{base}/whoami"))
        .bearer_auth(&user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 401);
    let body: serde_json::Value = revoked.json().await.unwrap();
    assert_eq!(body["code"], "token_revoked");
}

#[tokio::test]
async fn the_layer_guards_every_route_and_speaks_grpc_to_grpc_clients() {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let verifier = verifier(&key).await;
    let base = serve(
        Router::new()
            .route("/session", get(from_layer))
            .layer(VerifyLayer::new(verifier.clone()).require_any_role(["user"])),
    )
    .await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (user_token, user) = token(&key, &["user"]);
    let (no_role_token, _) = token(&key, &[]);

    let ok = client
        .get(format!("{base}/session"))
        .bearer_auth(&user_token)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.text().await.unwrap(),
        user.sid,
        "the principal reaches the handler"
    );

    let missing = client.get(format!("{base}/session")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["x-warden-error"], "invalid_token");
    let no_role = client
        .get(format!("{base}/session"))
        .bearer_auth(&no_role_token)
        .send()
        .await
        .unwrap();
    assert_eq!(no_role.status(), 403);

    // A gRPC client gets HTTP 200 with grpc-status 16 (UNAUTHENTICATED) or
    // 7 (PERMISSION_DENIED), as tonic clients expect.
    let grpc = client
        .get(format!("{base}/session"))
        .header("content-type", "application/grpc")
        .send()
        .await
        .unwrap();
    assert_eq!(grpc.status(), 200);
    assert_eq!(grpc.headers()["grpc-status"], "16");
    let grpc = client
        .get(format!("{base}/session"))
        .header("content-type", "application/grpc+proto")
        .bearer_auth(&no_role_token)
        .send()
        .await
        .unwrap();
    assert_eq!(grpc.headers()["grpc-status"], "7");

    // Expiry at the layer: a token past exp plus leeway.
    let now = chrono::Utc::now().timestamp();
    let expired = key
        .sign(&AccessClaims {
            iss: "https://auth.example".into(),
            sub: uuid::Uuid::now_v7().to_string(),
            aud: Audience::One("warden".into()),
            exp: now - 61,
            iat: now - 1000,
            nbf: now - 1000,
            jti: "j".into(),
            sid: uuid::Uuid::now_v7().to_string(),
            roles: vec!["user".into()],
            amr: vec!["pwd".into()],
            acr: "aal1".into(),
            auth_time: now - 1000,
            client_id: None,
            scope: None,
        })
        .unwrap();
    let response = client
        .get(format!("{base}/session"))
        .bearer_auth(&expired)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["x-warden-error"], "token_expired");
}

/// Status, body and the contract's headers of a response, for comparing the
/// layer's refusal with the extractor's.
async fn refusal(response: reqwest::Response) -> (u16, String, [Option<String>; 3]) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let headers = [
        header("content-type"),
        header("cache-control"),
        header("www-authenticate"),
    ];
    (
        response.status().as_u16(),
        response.text().await.unwrap(),
        headers,
    )
}

#[tokio::test]
async fn the_layer_refuses_with_the_extractors_problem_json() {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let verifier = verifier(&key).await;
    let by_extractor = serve(
        Router::new()
            .route("/admin", get(admin))
            .with_state(verifier.clone()),
    )
    .await;
    let by_layer = serve(
        Router::new()
            .route("/admin", get(from_layer))
            .layer(VerifyLayer::new(verifier.clone()).require_any_role(["admin"])),
    )
    .await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (user_token, _) = token(&key, &["user"]);
    let (revoked_token, revoked) = token(&key, &["admin"]);
    verifier.deny_list().insert(&Revocation {
        kind: RevocationKind::Session,
        id: revoked.sid.parse().unwrap(),
        not_before: None,
        until: chrono::Utc::now() + chrono::Duration::minutes(16),
    });
    let cases: [(&str, Option<String>); 4] = [
        ("no token", None),
        ("forged", Some(format!("{user_token}x"))),
        ("no role", Some(user_token.clone())),
        ("revoked", Some(revoked_token)),
    ];
    for (case, bearer) in cases {
        let get = |base: &str| {
            let request = client.get(format!("{base}/admin"));
            match &bearer {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        };
        let from_layer = get(&by_layer).send().await.unwrap();
        assert!(
            from_layer.headers().get("x-warden-error").is_some(),
            "{case}: the layer also names the code in a header"
        );
        let (status, body, headers) = refusal(from_layer).await;
        let expected = refusal(get(&by_extractor).send().await.unwrap()).await;
        assert_eq!(
            (status, &body, &headers),
            (expected.0, &expected.1, &expected.2),
            "{case}"
        );
        assert!(matches!(status, 401 | 403), "{case}: {status}");
        assert_eq!(
            headers[0].as_deref(),
            Some("application/problem+json"),
            "{case}"
        );
        assert_eq!(headers[1].as_deref(), Some("no-store"), "{case}");
        assert_eq!(
            headers[2].is_some(),
            status == 401,
            "{case}: challenge on 401 only"
        );
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            body["type"],
            format!(
                "https://warden.dev/errors/{}",
                body["code"].as_str().unwrap()
            ),
            "{case}"
        );
        assert!(
            body["title"].is_string() && body["detail"].is_string(),
            "{case}"
        );
    }
}

/// Calls `grpc.health.v1.Health/Check` on `endpoint` with `token`.
async fn grpc_check(endpoint: &str, token: Option<&str>) -> Result<i32, tonic::Status> {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut request = tonic::Request::new(HealthCheckRequest::default());
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    Ok(HealthClient::new(channel)
        .check(request)
        .await?
        .into_inner()
        .status)
}

#[tokio::test]
async fn the_layer_guards_a_tonic_server_with_grpc_statuses() {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let verifier = verifier(&key).await;
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .layer(VerifyLayer::new(verifier).require_any_role(["admin"]))
            .add_service(health)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    let (admin_token, _) = token(&key, &["admin"]);
    let (user_token, _) = token(&key, &["user"]);

    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    assert_eq!(
        grpc_check(&endpoint, Some(&admin_token)).await.unwrap(),
        serving
    );

    let missing = grpc_check(&endpoint, None).await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::Unauthenticated);
    assert_eq!(missing.message(), "invalid_token");
    let forged = grpc_check(&endpoint, Some(&format!("{admin_token}x")))
        .await
        .unwrap_err();
    assert_eq!(forged.code(), tonic::Code::Unauthenticated);
    let no_role = grpc_check(&endpoint, Some(&user_token)).await.unwrap_err();
    assert_eq!(no_role.code(), tonic::Code::PermissionDenied);
    assert_eq!(no_role.message(), "forbidden");
}

async fn payments(RequireMfa(principal): RequireMfa) -> String {
    format!("pay {}", principal.acr)
}

#[tokio::test]
async fn require_mfa_answers_one_factor_with_the_rfc_9470_challenge() {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let base = serve(
        Router::new()
            .route("/payments", get(payments))
            .with_state(verifier(&key).await),
    )
    .await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let (one_factor, claims) = token(&key, &["user"]);
    let response = client
        .get(format!("{base}/payments"))
        .bearer_auth(&one_factor)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_user_authentication\"")
            && challenge.contains("acr_values=\"aal2\""),
        "{challenge}"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "insufficient_user_authentication");

    // `aal2` alone, or `mfa` alone, is not enough: both must say so.
    for (amr, acr) in [
        (vec!["pwd", "otp"], "aal2"),
        (vec!["pwd", "otp", "mfa"], "aal1"),
    ] {
        let token = key
            .sign(&AccessClaims {
                amr: amr.iter().map(|m| (*m).to_owned()).collect(),
                acr: acr.into(),
                ..claims.clone()
            })
            .unwrap();
        let response = client
            .get(format!("{base}/payments"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{amr:?} {acr}");
    }
    let two_factors = key
        .sign(&AccessClaims {
            amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
            acr: "aal2".into(),
            ..claims
        })
        .unwrap();
    let response = client
        .get(format!("{base}/payments"))
        .bearer_auth(&two_factors)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "pay aal2");
}

struct Billing;
impl warden_verify::ScopeName for Billing {
    const NAME: &'static str = "billing";
}

async fn bill(
    warden_verify::RequireScope(caller, ..): warden_verify::RequireScope<Billing>,
) -> String {
    match caller {
        warden_verify::AnyPrincipal::Service(service) => format!("service {}", service.client_id),
        warden_verify::AnyPrincipal::User(user) => format!("user {}", user.user_id),
    }
}

/// A service's own token (client credentials: `sub` = `client_id`, no
/// `sid`), granted `scopes`.
fn service_token(key: &SigningKey, client: &str, scopes: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    key.sign(&AccessClaims {
        iss: "https://auth.example".into(),
        sub: client.into(),
        aud: Audience::One("warden".into()),
        exp: now + 900,
        iat: now,
        nbf: now,
        jti: "j".into(),
        sid: String::new(),
        roles: Vec::new(),
        amr: Vec::new(),
        acr: String::new(),
        auth_time: 0,
        client_id: Some(client.into()),
        scope: Some(scopes.into()),
    })
    .unwrap()
}

#[tokio::test]
async fn services_pass_require_scope_and_never_principal() {
    let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let verifier = verifier(&key).await;
    let base = serve(
        Router::new()
            .route("/whoami", get(whoami))
            .route("/bill", get(bill))
            .with_state(verifier.clone()),
    )
    .await;
    let layered = serve(
        Router::new()
            .route(
                "/any",
                get(
                    |principal: axum::Extension<warden_verify::AnyPrincipal>| async move {
                        principal.scopes().join(" ")
                    },
                ),
            )
            .layer(VerifyLayer::new(verifier.clone()).require_any_scope(["billing"])),
    )
    .await;
    let users_only = serve(
        Router::new()
            .route("/x", get(|| async { "ok" }))
            .layer(VerifyLayer::new(verifier.clone())),
    )
    .await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let get = |url: String, token: String| {
        let client = client.clone();
        async move {
            let response = client.get(url).bearer_auth(token).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let billing = service_token(&key, "billing-svc", "reports billing");
    let reports = service_token(&key, "billing-svc", "reports");

    assert_eq!(
        get(format!("{base}/bill"), billing.clone()).await,
        (200, "service billing-svc".to_owned())
    );
    let (status, body) = get(format!("{base}/bill"), reports.clone()).await;
    assert_eq!(status, 403);
    assert!(body.contains("insufficient_scope"), "{body}");
    let (status, body) = get(format!("{base}/whoami"), billing.clone()).await;
    assert_eq!(status, 403, "a service is not a user");
    assert!(body.contains("user_required"), "{body}");
    let (user_token, _) = token(&key, &["user"]);
    let (status, _) = get(format!("{base}/bill"), user_token.clone()).await;
    assert_eq!(status, 403, "a first-party sign-in has no scopes");

    assert_eq!(
        get(format!("{layered}/any"), billing.clone()).await,
        (200, "reports billing".to_owned())
    );
    assert_eq!(get(format!("{layered}/any"), reports.clone()).await.0, 403);
    // A layer without scopes stays for users, as before services had tokens.
    assert_eq!(get(format!("{users_only}/x"), billing.clone()).await.0, 403);
    assert_eq!(get(format!("{users_only}/x"), user_token).await.0, 200);

    // Deleting the client revokes its tokens under the derived key.
    assert!(matches!(
        verifier.verify_any(&billing).await,
        Ok(warden_verify::AnyPrincipal::Service(_))
    ));
    verifier.deny_list().insert(&Revocation {
        kind: RevocationKind::User,
        id: warden_token::revocation::service_subject("billing-svc"),
        not_before: Some(chrono::Utc::now() + chrono::Duration::seconds(1)),
        until: chrono::Utc::now() + chrono::Duration::minutes(16),
    });
    let (status, body) = get(format!("{base}/bill"), billing).await;
    assert_eq!(status, 401);
    assert!(body.contains("token_revoked"), "{body}");
}
