//! Black-box tests of the gRPC API: every test starts its own Warden (HTTP
//! and gRPC on port 0, own data dir, fake clock) through `warden-testkit`
//! and talks to it with the generated client over a real socket.

mod admin;
mod auth;
mod ext_authz;
mod health;
mod proto_lint;

use tonic::{Code, Request, Status};
use warden_grpc::error_code;

/// `request` with `authorization: Bearer <token>`.
pub fn with_bearer<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("metadata value"),
    );
    request
}

/// Asserts a Warden status: gRPC `code` and the contract's stable code, in
/// the trailer and as the message prefix.
#[track_caller]
pub fn assert_status(status: &Status, code: Code, stable: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(error_code(status), Some(stable), "{status:?}");
    assert!(
        status.message().starts_with(&format!("{stable}: ")),
        "{status:?}"
    );
}

/// Asserts that `result` failed with `code` and `stable`.
#[track_caller]
pub fn assert_err<T: std::fmt::Debug>(result: Result<T, Status>, code: Code, stable: &str) {
    match result {
        Ok(value) => panic!("expected {stable}, got {value:?}"),
        Err(status) => assert_status(&status, code, stable),
    }
}
