//! The protobuf codec of every generated service and client: prost, with
//! encode and decode buffers sized for Warden's messages.
//!
//! tonic allocates a fresh buffer for each call's request and response,
//! 8 KiB by default. Warden's messages are a few hundred bytes (a JWT is the
//! largest common field), and an 8 KiB block misses the allocator's
//! per-thread cache on every call; 1 KiB hits it. Larger messages (a page of
//! `ListUsers`) still fit: the buffer grows as needed.
//!
//! Bytes that do not decode as the expected message are the sender's fault:
//! prost's codec answers INTERNAL, this one INVALID_ARGUMENT with the
//! `warden-code` trailer `invalid_request`, like every other malformed input
//! (docs/api.md "gRPC").

use std::marker::PhantomData;

use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

use crate::error::GrpcError;

/// Initial encode and decode buffer per call.
const BUFFER_BYTES: usize = 1024;
/// tonic's default: how much a streaming encoder buffers before yielding.
const YIELD_THRESHOLD: usize = 32 * 1024;

/// [`ProstCodec`] with [`BUFFER_BYTES`] buffers (named in `build.rs`).
#[derive(Debug)]
pub struct WardenCodec<T, U>(PhantomData<fn() -> (T, U)>);

impl<T, U> Default for WardenCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

fn settings() -> BufferSettings {
    BufferSettings::new(BUFFER_BYTES, YIELD_THRESHOLD)
}

impl<T, U> Codec for WardenCodec<T, U>
where
    T: prost::Message + Send + 'static,
    U: prost::Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = WardenDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        WardenDecoder(ProstCodec::<T, U>::raw_decoder(settings()))
    }
}

/// [`ProstDecoder`] whose decode failures are INVALID_ARGUMENT
/// `invalid_request` instead of INTERNAL.
#[derive(Debug)]
pub struct WardenDecoder<U>(ProstDecoder<U>);

impl<U> Decoder for WardenDecoder<U>
where
    U: prost::Message + Default,
{
    type Item = U;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(src).map_err(|_| {
            Status::from(GrpcError::invalid_request(
                "the message is not valid protobuf for this method",
            ))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
