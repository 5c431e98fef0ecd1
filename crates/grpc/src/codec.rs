//! The protobuf codec of every generated service and client: prost, with
//! encode and decode buffers sized for Warden's messages.
//!
//! tonic allocates a fresh buffer for each call's request and response,
//! 8 KiB by default. Warden's messages are a few hundred bytes (a JWT is the
//! largest common field), and an 8 KiB block misses the allocator's
//! per-thread cache on every call; 1 KiB hits it. Larger messages (a page of
//! `ListUsers`) still fit: the buffer grows as needed.

use std::marker::PhantomData;

use tonic::codec::{BufferSettings, Codec};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

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
    type Decoder = ProstDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(settings())
    }

    fn decoder(&mut self) -> Self::Decoder {
        ProstCodec::<T, U>::raw_decoder(settings())
    }
}
