//! Sign in with Apple's client secret: an ES256 JWT we sign with the
//! developer key, instead of a shared secret.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use crate::AppleKey;

/// The audience Apple requires in the client secret.
const AUDIENCE: &str = "https://appleid.apple.com";

/// Apple allows up to 180 days; one exchange needs seconds, and a short life
/// makes a leaked secret (a log, a proxy) worthless quickly.
const LIFETIME_SECS: i64 = 300;

#[derive(Serialize)]
struct ClientSecretClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'static str,
    iat: i64,
    exp: i64,
}

/// The client secret for one token request, made at `now`.
pub(crate) fn client_secret(
    key: &AppleKey,
    client_id: &str,
    now: DateTime<Utc>,
) -> Result<String, jsonwebtoken::errors::Error> {
    let encoding_key = EncodingKey::from_ec_pem(key.private_key_pem.expose().as_bytes())?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(key.key_id.clone());
    // Apple's examples carry no `typ`; leave the header minimal.
    header.typ = None;
    let iat = now.timestamp();
    let claims = ClientSecretClaims {
        iss: &key.team_id,
        sub: client_id,
        aud: AUDIENCE,
        iat,
        exp: iat + LIFETIME_SECS,
    };
    jsonwebtoken::encode(&header, &claims, &encoding_key)
}
