//! Another Rust service using Warden over gRPC with the generated client:
//! sign up (or in), check the access token as a resource server would, and
//! read the account. Start `warden serve`, then:
//!
//! ```sh
//! cargo run -p warden-grpc --example client -- http://127.0.0.1:50051 alice@example.com
//! ```

use tonic::Request;
use warden_grpc::pb::auth_service_client::AuthServiceClient;
use warden_grpc::pb::{GetUserRequest, SignInRequest, SignUpRequest, ValidateRequest};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let endpoint = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:50051".into());
    let email = args.next().unwrap_or_else(|| "alice@example.com".into());
    let password = "correct horse battery staple 9!".to_owned();
    let mut auth = AuthServiceClient::connect(endpoint).await?;

    let signed_up = auth
        .sign_up(SignUpRequest {
            email: email.clone(),
            password: password.clone(),
            username: None,
        })
        .await;
    let tokens = match signed_up {
        Ok(response) => response.into_inner().tokens,
        // Already registered: the stable code says so; sign in instead.
        Err(status) if warden_grpc::error_code(&status) == Some("email_taken") => {
            auth.sign_in(SignInRequest { email, password })
                .await?
                .into_inner()
                .tokens
        }
        Err(status) => return Err(status.into()),
    }
    .ok_or("no tokens in the response")?;

    let identity = auth
        .validate(ValidateRequest {
            token: tokens.access_token.clone(),
        })
        .await?
        .into_inner();
    println!(
        "token of user {} (session {}), roles {:?}, expires at {}",
        identity.sub, identity.sid, identity.roles, identity.exp
    );

    let mut request = Request::new(GetUserRequest {});
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", tokens.access_token).parse()?,
    );
    let user = auth.get_user(request).await?.into_inner().user;
    println!("account: {user:?}");
    Ok(())
}
