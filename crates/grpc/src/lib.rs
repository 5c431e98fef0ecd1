//! Warden's gRPC API (package `warden.v1`): the `AuthService` and
//! `AdminService` tonic services over the same use cases as HTTP, the
//! standard `grpc.health.v1.Health` (following readiness) and server
//! reflection, and the generated client other Rust services use.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use warden_grpc::pb::auth_service_client::AuthServiceClient;
//! use warden_grpc::pb::ValidateRequest;
//!
//! let mut client = AuthServiceClient::connect("http://127.0.0.1:50051").await?;
//! let identity = client
//!     .validate(ValidateRequest { token: "eyJ...".into() })
//!     .await?
//!     .into_inner();
//! println!("user {} in session {}", identity.sub, identity.sid);
//! # Ok(()) }
//! ```
//!
//! Errors: every failure is a `tonic::Status` whose message starts with the
//! contract's stable code (`"invalid_credentials: ..."`); the code is also in
//! the `warden-code` trailer, and [`error_code`] reads it back.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod admin;
mod auth;
pub mod codec;
mod convert;
mod error;
mod ext_authz;
mod health;
mod observe;
mod server;

/// The generated messages, clients (`auth_service_client`,
/// `admin_service_client`) and servers of `warden.v1`.
#[allow(
    missing_docs,
    clippy::all,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/warden.v1.rs"));
}

/// The subset of Envoy's `ext_authz` API Warden serves (proto/envoy/, same
/// packages and field numbers as Envoy's): messages, the `Authorization`
/// client and server.
#[allow(
    missing_docs,
    clippy::all,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
pub mod pb_envoy {
    /// `envoy.*`.
    pub mod envoy {
        /// `envoy.config.*`.
        pub mod config {
            /// `envoy.config.core.*`.
            pub mod core {
                /// `envoy.config.core.v3`.
                pub mod v3 {
                    include!(concat!(env!("OUT_DIR"), "/envoy.config.core.v3.rs"));
                }
            }
        }
        /// `envoy.type.*`.
        pub mod r#type {
            /// `envoy.type.v3`.
            pub mod v3 {
                include!(concat!(env!("OUT_DIR"), "/envoy.r#type.v3.rs"));
            }
        }
        /// `envoy.service.*`.
        pub mod service {
            /// `envoy.service.auth.*`.
            pub mod auth {
                /// `envoy.service.auth.v3`.
                pub mod v3 {
                    include!(concat!(env!("OUT_DIR"), "/envoy.service.auth.v3.rs"));
                }
            }
        }
    }
    /// `google.*`.
    pub mod google {
        /// `google.rpc`.
        pub mod rpc {
            include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
        }
    }
}

/// The encoded `FileDescriptorSet` of the Envoy `ext_authz` subset.
pub const ENVOY_FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/envoy_ext_authz_descriptor.bin"));

/// The encoded `FileDescriptorSet` of `proto/warden/v1/*.proto` (with
/// source info), as served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/warden_v1_descriptor.bin"));

pub use admin::AdminApi;
pub use auth::AuthApi;
pub use error::{CODE_TRAILER, GrpcError, error_code};
pub use ext_authz::ExtAuthzApi;
pub use health::ReadinessHealth;
pub use observe::CallObserver;
pub use server::{GrpcConfig, serve};
