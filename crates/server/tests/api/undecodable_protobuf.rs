//! Bytes that are not the protobuf message a gRPC method expects are the
//! caller's mistake: INVALID_ARGUMENT with the `warden-code` trailer
//! `invalid_request`, on every Warden service, never INTERNAL (which reads as
//! Warden's fault, pages operators, and invites retries). ext_authz answers
//! with the same error status, which Envoy turns into a denial.

use bytes::{Buf as _, BufMut as _, Bytes};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use warden_testkit::spawn_app;

/// Sends and receives message bodies as they are, so a test can put any
/// bytes in a correctly framed gRPC request.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

/// Field 1, length-delimited, announcing 127 bytes and carrying two; then a
/// field with wire type 7, which does not exist.
const NOT_PROTOBUF: [&[u8]; 3] = [
    b"\x0a\x7fab",
    b"\x0f\x01",
    b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
];

const METHODS: [&str; 8] = [
    "/warden.v1.AuthService/SignUp",
    "/warden.v1.AuthService/SignIn",
    "/warden.v1.AuthService/Refresh",
    "/warden.v1.AuthService/Validate",
    "/warden.v1.AdminService/BanUser",
    "/warden.v1.AdminService/ListUsers",
    "/envoy.service.auth.v3.Authorization/Check",
    "/warden.v1.AuthService/GetUser",
];

#[tokio::test]
async fn undecodable_protobuf_is_invalid_argument_on_every_service() {
    let app = spawn_app().await;
    let mut grpc = tonic::client::Grpc::new(app.grpc_channel().await);
    for method in METHODS {
        for body in NOT_PROTOBUF {
            grpc.ready().await.unwrap();
            let status = grpc
                .unary(
                    tonic::Request::new(Bytes::from_static(body)),
                    PathAndQuery::from_static(method),
                    RawCodec,
                )
                .await
                .expect_err("undecodable request accepted");
            assert_eq!(
                status.code(),
                Code::InvalidArgument,
                "{method} {body:?}: {status:?}"
            );
            assert_eq!(
                status
                    .metadata()
                    .get("warden-code")
                    .and_then(|v| v.to_str().ok()),
                Some("invalid_request"),
                "{method}: {status:?}"
            );
            assert!(
                status.message().starts_with("invalid_request: "),
                "{status:?}"
            );
        }
    }
    // A well-formed empty message still reaches the service (and the
    // ext_authz check denies it as it always did).
    grpc.ready().await.unwrap();
    let check = grpc
        .unary(
            tonic::Request::new(Bytes::new()),
            PathAndQuery::from_static("/envoy.service.auth.v3.Authorization/Check"),
            RawCodec,
        )
        .await;
    assert!(check.is_ok(), "{check:?}");
}
