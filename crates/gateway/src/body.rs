//! The one body type responses use: the upstream's stream or our own bytes.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, combinators::BoxBody};

/// A streaming response body.
pub type Body = BoxBody<Bytes, hyper::Error>;

/// A body of known bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}
