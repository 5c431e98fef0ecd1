//! A service that trusts only Warden's access tokens, verified locally.
//!
//! Run Warden (`cargo run --release -- serve`), then:
//!
//! ```sh
//! WARDEN_ISSUER=http://127.0.0.1:8080 cargo run -p warden-verify --example protect
//! TOKEN=$(curl -s localhost:8080/v1/signup -H 'content-type: application/json' \
//!   -d '{"email":"ann@example.com","password":"correct horse battery staple 9!"}' | jq -r .tokens.access_token)
//! curl -s localhost:3000/whoami -H "authorization: Bearer $TOKEN"
//! ```

use axum::Router;
use axum::routing::get;
use warden_verify::{Principal, RequireRole, RevocationFeed, RoleName, Verifier};

struct Admin;
impl RoleName for Admin {
    const NAME: &'static str = "admin";
}

async fn whoami(principal: Principal) -> String {
    format!(
        "user {} in session {}\n",
        principal.user_id, principal.session_id
    )
}

async fn admin_only(RequireRole(admin, ..): RequireRole<Admin>) -> String {
    format!("hello, admin {}\n", admin.user_id)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let issuer =
        std::env::var("WARDEN_ISSUER").unwrap_or_else(|_| "http://127.0.0.1:8080".to_owned());
    let verifier = Verifier::builder()
        .issuer(issuer)
        .audience("warden")
        .revocations(
            RevocationFeed::default()
                .service_token(std::env::var("WARDEN_REVOCATIONS_TOKEN").unwrap_or_default()),
        )
        .build()
        .await?;
    let app = Router::new()
        .route("/whoami", get(whoami))
        .route("/admin", get(admin_only))
        .with_state(verifier);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
